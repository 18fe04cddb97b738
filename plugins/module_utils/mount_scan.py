# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Containers that mount a Docker socket, seen from /proc alone (no Engine API).

The Engine API lists a container's bind mounts by the path its Source had; this scan
looks at what is mounted, so it finds other names of a socket (hard links), directories
holding one, and works while the daemon does not answer or is not asked:

1. PID 1's mountinfo says, for each known Docker socket, which file system holds it
   (``major:minor``) and its path within that file system (``fs_path``):
   ``socket_locations``.
2. One process per mount namespace other than PID 1's (``/proc/*/ns/mnt``); kernel threads
   share PID 1's, so they cost one readlink and nothing more. A namespace is looked at only
   when ``/proc/<pid>/cgroup`` names a Docker container (``docker-<64 hex>.scope`` or
   ``/docker/<64 hex>``): the sandboxes of systemd services see the host's /run too, and
   that is no exposure.
3. Each mount point of that namespace (pseudo file systems skipped) is stat'ed through
   ``/proc/<pid>/root/<mount point>`` (``match_namespace``): a socket with the (st_dev,
   st_ino) of a known Docker socket is an exposure (``inode_via_proc``); a directory whose
   device and mountinfo root cover a known socket's ``fs_path`` is one when the socket,
   stat'ed through it, is that socket (``parent_directory_via_proc``); another directory of
   the same file system as a known socket is listed (at most DIR_ENTRY_LIMIT entries) for a
   hard link of it (``hard_link_in_directory_via_proc``).

The parsers and the matching are plain functions over mountinfo text and a HostFS, so the
units drive them with fixture text and real files in a temporary directory.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import stat

from ansible_collections.nsguard.docker.plugins.module_utils import _daemons

#: File systems no Docker socket is ever mounted from; their mount points are not stat'ed.
PSEUDO_FS = frozenset((
    'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts',
    'efivarfs', 'fusectl', 'hugetlbfs', 'mqueue', 'nsfs', 'proc', 'pstore', 'rpc_pipefs',
    'securityfs', 'selinuxfs', 'sysfs', 'tracefs'))
#: Mount namespaces looked at; more are counted in 'truncated' (the scan is then incomplete).
MAX_NAMESPACES = 4096
#: Mount entries of one namespace looked at.
MAX_MOUNTS = 4096
#: Entries of a directory looked at for a hard link of a Docker socket.
DIR_ENTRY_LIMIT = 4096
#: Processes of one mount namespace tried when the first has exited meanwhile.
PIDS_PER_NAMESPACE = 3

_ESCAPE = re.compile(r'\\([0-7]{3})')
_CONTAINER_ID = re.compile(r'docker[-/]([0-9a-f]{64})(?![0-9a-f])')
_USER_SERVICE = re.compile(r'/user@(\d+)\.service(?:/|$)')


# --------------------------------------------------------------------------------------
# Pure parsers and path arithmetic
# --------------------------------------------------------------------------------------

def unescape(field):
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text, limit=None):
    """/proc/<pid>/mountinfo text -> [{'mount_id', 'parent_id', 'device', 'root',
    'mount_point', 'options', 'fstype', 'source', 'deleted'}]; malformed lines skipped.

    ``device`` is the 'major:minor' text, ``root`` the path of the mounted directory or
    file within its file system (a bind mount of /run/x on the tmpfs /run has root /x).
    """
    mounts = []
    for line in (text or '').splitlines():
        fields = line.split(' ')
        try:
            sep = fields.index('-', 6)
            mount_id, parent_id = int(fields[0]), int(fields[1])
        except (ValueError, IndexError):
            continue
        if len(fields) < sep + 3 or ':' not in fields[2]:
            continue
        root = unescape(fields[3])
        deleted = root.endswith('//deleted')
        if deleted:
            root = root[:-len('//deleted')] or '/'
        mounts.append({
            'mount_id': mount_id, 'parent_id': parent_id, 'device': fields[2], 'root': root,
            'mount_point': unescape(fields[4]), 'options': fields[5].split(','),
            'fstype': fields[sep + 1], 'source': unescape(fields[sep + 2]), 'deleted': deleted,
        })
        if limit is not None and len(mounts) >= limit:
            break
    return mounts


def parse_container_id(cgroup_text):
    """The Docker container id in /proc/<pid>/cgroup (systemd driver
    ``docker-<id>.scope``, cgroupfs driver ``/docker/<id>``); the innermost when nested."""
    found = _CONTAINER_ID.findall(cgroup_text or '')
    return found[-1] if found else None


def cgroup_user(cgroup_text):
    """The uid of ``user@<uid>.service`` in a cgroup path (rootless containers), or None."""
    match = _USER_SERVICE.search(cgroup_text or '')
    return int(match.group(1)) if match else None


def below(path, top):
    """The rest of ``path`` below directory ``top``: '' when equal, '/a/b' when below,
    None when not below."""
    top = top.rstrip('/')
    if path == top or (not top and path == '/'):
        return ''
    if path.startswith(top + '/'):
        return path[len(top):]
    return None


def join(top, rest):
    return (top.rstrip('/') + rest) or '/'


def host_mount_of(path, mounts):
    """(mount, rest) of the mount of ``mounts`` (PID 1's) that holds host path ``path``:
    the longest mount point above it, the last one when mounts are stacked."""
    best, best_rest = None, None
    for mount in mounts:
        rest = below(path, mount['mount_point'])
        if rest is None:
            continue
        if best is None or len(mount['mount_point'].rstrip('/')) >= len(best['mount_point'].rstrip('/')):
            best, best_rest = mount, rest
    return best, best_rest


def host_path_of(device, root, mounts):
    """Where directory or file ``root`` of file system ``device`` is on the host, from
    PID 1's ``mounts``; None when no host mount shows it."""
    best, best_rest = None, None
    for mount in mounts:
        if mount['device'] != device:
            continue
        rest = below(root, mount['root'])
        if rest is None:
            continue
        if best is None or len(mount['root'].rstrip('/')) > len(best['root'].rstrip('/')):
            best, best_rest = mount, rest
    return join(best['mount_point'], best_rest) if best is not None else None


def socket_locations(sockets, init_mounts):
    """Where each known Docker socket is in its file system.

    ``sockets``: [{'path': host path, 'inode': (st_dev, st_ino)}]. Returns
    [{'path', 'inode', 'device', 'fs_path'}] for those PID 1's mounts place; a socket only
    reached through /proc/<pid>/root (a daemon in another mount namespace) is matched by
    its inode alone.
    """
    locations = []
    for sock in sockets:
        path = _daemons.canonical_socket_path(sock['path'])
        if path.startswith('/proc/'):
            continue
        mount, rest = host_mount_of(path, init_mounts)
        if mount is None:
            continue
        locations.append({'path': path, 'inode': tuple(sock['inode']), 'device': mount['device'],
                          'fs_path': join(mount['root'], rest)})
    return locations


def socket_inode(st_):
    """(st_dev, st_ino) of a stat result that is a socket, else None."""
    return (st_.st_dev, st_.st_ino) if st_ is not None and stat.S_ISSOCK(st_.st_mode) else None


# --------------------------------------------------------------------------------------
# Matching one mount namespace (stats through /proc/<pid>/root)
# --------------------------------------------------------------------------------------

def match_namespace(fs, pid, mounts, locations, inodes, init_mounts=(), limit=DIR_ENTRY_LIMIT):
    """Mounts of the namespace of ``pid`` that expose a known Docker socket.

    ``mounts``: its parsed mountinfo; ``locations``: socket_locations(); ``inodes``:
    {(st_dev, st_ino): socket host path} of every known Docker socket. Returns (hits,
    truncated) where each hit is {'destination', 'source', 'socket', 'match', 'read_write'}
    and ``truncated`` lists the directories with more than ``limit`` entries.
    """
    root = '/proc/%d/root' % pid
    devices = set(loc['device'] for loc in locations)
    hits, truncated, seen = [], [], set()
    for mount in mounts:
        point = mount['mount_point']
        if mount['fstype'] in PSEUDO_FS or point in seen:
            continue
        seen.add(point)  # stacked mounts: the path shows the top one only
        where = root + '/' if point == '/' else root + point
        st_ = fs.stat(where, missing_ok=True, follow=(point == '/'))
        if st_ is None:
            continue
        hit = {'destination': point, 'read_write': mount['options'][:1] == ['rw'],
               'source': host_path_of(mount['device'], mount['root'], init_mounts)}
        known = inodes.get(socket_inode(st_))
        if known is not None:
            hit.update({'socket': known, 'match': 'inode_via_proc'})
            hits.append(hit)
            continue
        if not stat.S_ISDIR(st_.st_mode) or mount['device'] not in devices:
            continue
        for loc in locations:
            rest = below(loc['fs_path'], mount['root']) if loc['device'] == mount['device'] else None
            if not rest:
                continue  # not below this directory ('' would be the socket itself)
            inner = fs.stat(join(where, rest), missing_ok=True, follow=False)
            if socket_inode(inner) == loc['inode']:
                hit.update({'socket': loc['path'], 'match': 'parent_directory_via_proc',
                            'path_in_container': join(point, rest)})
                break
        else:
            names, cut = fs.special_entries(where, limit)
            if cut:
                truncated.append({'pid': pid, 'directory': point, 'source': hit['source']})
            for name in names or ():
                known = inodes.get(socket_inode(fs.stat(join(where, '/' + name), missing_ok=True,
                                                        follow=False)))
                if known is not None:
                    hit.update({'socket': known, 'match': 'hard_link_in_directory_via_proc',
                                'path_in_container': join(point, '/' + name)})
                    break
        if 'match' in hit:
            hits.append(hit)
    return hits, truncated


# --------------------------------------------------------------------------------------
# The scan
# --------------------------------------------------------------------------------------

def mount_namespaces(fs, init_mnt, limit=MAX_NAMESPACES):
    """{mount namespace link: [pids]} of every namespace other than ``init_mnt``, and stats.

    Returns (namespaces or None when /proc cannot be listed, stats). PID 1 and kthreadd
    are skipped; kernel threads are in PID 1's namespace and cost one readlink each.
    """
    stats = {'pids_scanned': 0, 'unreadable': 0, 'vanished': 0, 'truncated': 0}
    entries = fs.listdir('/proc')
    if entries is None:
        return None, stats
    namespaces = {}
    for pid in sorted(int(e) for e in entries if e.isdigit()):
        if pid in (1, 2):
            continue
        stats['pids_scanned'] += 1
        link, exc = fs.try_readlink('/proc/%d/ns/mnt' % pid)
        if exc is not None:
            stats['unreadable' if isinstance(exc, PermissionError) else 'vanished'] += 1
            continue
        if not link or link == init_mnt:
            continue
        if link not in namespaces:
            if len(namespaces) >= limit:
                stats['truncated'] += 1
                continue
            namespaces[link] = []
        namespaces[link].append(pid)
    return namespaces, stats


def _attribute(daemons, user_ns, cgroup_text):
    """Key of the daemon a container belongs to: the rootless daemon whose user namespace
    it shares (or whose user@<uid>.service holds it), else the rootful daemon."""
    for daemon in daemons:
        proc = daemon.get('process')
        if daemon['kind'] == 'rootless' and proc and user_ns and proc['ns'].get('user') == user_ns:
            return daemon['key']
    uid = cgroup_user(cgroup_text)
    if uid is not None:
        for daemon in daemons:
            if daemon['kind'] == 'rootless' and daemon.get('uid') == uid:
                return daemon['key']
        return 'rootless:%d' % uid
    for daemon in daemons:
        if daemon['kind'] == 'rootful' and not daemon.get('mount_prefix'):
            return daemon['key']
    return 'rootful'


def _read(fs, host_path, stats, limit=None, record=True):
    """Text of a /proc file of a process that may have exited; permission problems are
    counted and recorded (they make the scan incomplete) unless ``record`` is false, a
    vanished process is only counted."""
    data, exc = fs.try_read(host_path, limit)
    if exc is None:
        return data.decode('utf-8', 'replace')
    if isinstance(exc, PermissionError):
        stats['unreadable'] += 1
        if record:
            fs.record(host_path, exc)
    else:
        stats['vanished'] += 1
    return None


def container_processes(fs, namespaces, stats, record=True):
    """(pid, container full id, cgroup text), one per mount namespace of ``namespaces``
    (mount_namespaces()) whose process a Docker container's cgroup holds; the others are
    counted in stats['other_namespaces']."""
    for link in sorted(namespaces):
        for pid in namespaces[link][:PIDS_PER_NAMESPACE]:
            cgroup = _read(fs, '/proc/%d/cgroup' % pid, stats, 65536, record)
            if cgroup is not None:
                break
        else:
            continue
        container = parse_container_id(cgroup)
        if container is None:
            stats['other_namespaces'] += 1
            continue
        yield pid, container, cgroup


def container_ids(fs):
    """Full ids of the Docker containers whose processes /proc shows, or None when /proc
    cannot tell. Only candidates (engine_api.query_daemon): a daemon's own count says
    whether they are all of its containers. Nothing is recorded in ``fs.errors``."""
    init_mnt, _exc = fs.try_readlink('/proc/1/ns/mnt')
    if init_mnt is None:
        return None
    namespaces, stats = mount_namespaces(fs, init_mnt)
    if namespaces is None:
        return None
    stats['other_namespaces'] = 0
    return sorted(set(container for _pid, container, _cgroup
                      in container_processes(fs, namespaces, stats, record=False)))


def scan(fs, sockets, daemons, limit=MAX_NAMESPACES, entry_limit=DIR_ENTRY_LIMIT):
    """Containers mounting a known Docker socket, from /proc.

    ``sockets``: [{'path', 'inode'}] of the Docker sockets found on the host; ``daemons``
    from _daemons.discover_daemons. Returns (hits, stats): each hit has 'daemon',
    'container_id' (12 hex), 'full_id', 'pid', 'process', 'source', 'destination',
    'read_write', 'socket', 'match'; stats has 'ran', 'complete', 'reason' and counters.
    """
    stats = {'ran': False, 'complete': False, 'reason': None, 'pids_scanned': 0, 'namespaces': 0,
             'containers': 0, 'other_namespaces': 0, 'unreadable': 0, 'vanished': 0, 'truncated': 0,
             'directories_truncated': []}
    if not sockets:
        stats.update(complete=True, reason='no Docker socket found')
        return [], stats
    init_mnt, exc = fs.try_readlink('/proc/1/ns/mnt')
    init_text = fs.read_text('/proc/1/mountinfo', missing_ok=True)
    if init_mnt is None or init_text is None:
        if isinstance(exc, PermissionError):
            fs.record('/proc/1/ns/mnt', exc, 'readlink')
        stats['reason'] = 'PID 1\'s mount namespace or mountinfo could not be read'
        return [], stats
    init_mounts = parse_mountinfo(init_text)
    locations = socket_locations(sockets, init_mounts)
    inodes = {}
    for sock in sockets:
        inodes.setdefault(tuple(sock['inode']), _daemons.canonical_socket_path(sock['path']))
    namespaces, counts = mount_namespaces(fs, init_mnt, limit)
    for key in ('pids_scanned', 'unreadable', 'vanished', 'truncated'):
        stats[key] += counts[key]
    if namespaces is None:
        stats['reason'] = '/proc could not be listed'
        return [], stats
    if counts['unreadable']:
        fs.errors.append({'path': '/proc/*/ns/mnt', 'operation': 'readlink', 'kind': 'permission',
                          'error': '%d process(es) not readable' % counts['unreadable']})
    stats['ran'] = True
    stats['namespaces'] = len(namespaces)
    hits = []
    for pid, container, cgroup in container_processes(fs, namespaces, stats):
        stats['containers'] += 1
        text = _read(fs, '/proc/%d/mountinfo' % pid, stats)
        if text is None:
            continue
        user_ns, _exc = fs.try_readlink('/proc/%d/ns/user' % pid)
        comm = _read(fs, '/proc/%d/comm' % pid, stats, 256)
        found, cut = match_namespace(fs, pid, parse_mountinfo(text, MAX_MOUNTS), locations, inodes,
                                     init_mounts, entry_limit)
        for item in cut:
            item['container_id'] = container[:12]
        stats['directories_truncated'].extend(cut)
        daemon = _attribute(daemons, user_ns, cgroup)
        for hit in found:
            hit.update({'daemon': daemon, 'container_id': container[:12], 'full_id': container,
                        'pid': pid, 'process': comm.strip() if comm else None})
            hits.append(hit)
    stats['complete'] = not (stats['unreadable'] or stats['truncated'] or stats['directories_truncated'])
    if not stats['complete']:
        stats['reason'] = '; '.join(part for part in (
            '%d process(es) or file(s) not readable' % stats['unreadable'] if stats['unreadable'] else '',
            '%d mount namespace(s) over the limit of %d' % (stats['truncated'], limit) if stats['truncated'] else '',
            '%d directory(ies) with more than %d entries' % (len(stats['directories_truncated']), entry_limit)
            if stats['directories_truncated'] else '') if part)
    return hits, stats


def container_details(fs, data_root, full_id):
    """(name, image) of a container from <data-root>/containers/<id>/config.v2.json, the
    file dockerd keeps for it; (None, None) when it cannot be read. Used for containers the
    Engine API did not list (it did not answer, or was not asked)."""
    data, exc = fs.try_read('%s/containers/%s/config.v2.json' % (data_root.rstrip('/'), full_id), 1024 * 1024)
    if exc is not None:
        return None, None
    try:
        config = json.loads(data.decode('utf-8', 'replace'))
    except ValueError:
        return None, None
    if not isinstance(config, dict):
        return None, None
    name = config.get('Name')
    image = (config.get('Config') or {}).get('Image') if isinstance(config.get('Config'), dict) else None
    return (name.lstrip('/') if isinstance(name, str) else None), (image if isinstance(image, str) else None)


def data_root(daemon, users):
    """The data root of a daemon: daemon.json data-root, else /var/lib/docker (rootful) or
    ~/.local/share/docker (rootless); None when unknown."""
    config = daemon.get('config') if isinstance(daemon.get('config'), dict) else {}
    if isinstance(config.get('data-root'), str) and config['data-root'].startswith('/'):
        return (daemon.get('mount_prefix') or '') + config['data-root']
    if daemon['kind'] == 'rootful':
        return (daemon.get('mount_prefix') or '') + '/var/lib/docker'
    home = _daemons.passwd_home(users, daemon.get('uid')) if daemon.get('uid') is not None else None
    return home.rstrip('/') + '/.local/share/docker' if home else None
