# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Is this root real? What one running container can do to its host, with the evidence.

A capability acts on what its user namespace owns. CapEff reads the same for root in a
default container and in a rootless one; which user namespace the process is in decides
whether the capabilities, and root's uid 0, are the host's. So each container is judged
from two sources, either of which may be missing: /proc (its status, namespace links,
uid_map and mountinfo, read from the host) and the Engine API's inspect. /proc is what the
kernel enforces and wins where both speak; every fact records where it came from
(``evidence['sources']``), and the daemon's mode fills in what neither says.

Verdict rules (``container_verdict``), applied in this order; the first that holds wins:

1. ``host-root``: it is host root already or holds a direct way to act as host root:
   privileged with its process at host uid 0; a capability of HOST_ROOT_CAPS effective in
   the host's user namespace (CAP_SYS_PTRACE only with the host's PID namespace); or its
   process is host uid 0 and has a rootful Docker/containerd socket (or a directory holding
   one, such as / or /run: read-only does not matter, connect() needs no write access to
   the mount), a writable mount of /, /boot, /etc, /lib, /proc, /sys, /usr (or below), or
   a raw disk or memory device with write access.
2. ``can-become-host-root``: not host root now, but a path exists: in the host's user
   namespace a capability of HOST_ROOT_CAPS is in its permitted or ambient set (it raises
   it itself), or in its bounding set while no_new_privs is off (a setuid-root or
   file-capability binary raises it); or a process that is not root (no_new_privs off) or
   whose user is not known has one of the mounts or devices of rule 1; or a rootful
   daemon's socket is mounted into a container that is not host uid 0 (a remapped or
   rootless one too): whoever connects to it is host root, and whether this container can
   is up to the socket's mode and group; or its user namespace is not known and rule 1
   would hold if it were the host's.
3. ``root-only-in-its-user-namespace``: its user namespace is not the host's (rootless, or
   userns-remap without UsernsMode=host) and it is root there, or holds capabilities of
   HOST_ROOT_CAPS, or is privileged: they act only on what that namespace owns, and a
   writable host mount gives only what the mapped uid (root_host_uid) may write.
4. ``unprivileged``: none of the above. A default daemon's plain container is here: its
   root is host uid 0 (the daemon's userns-default-mode finding says so) but holds only
   Docker's default capabilities in its own mount namespace, with nothing of the host
   mounted that leads to root.

``container_findings`` rates each flag by whether it acts on the host: the same flag is
critical or high for a container in the host's user namespace (a default daemon, or
UsernsMode=host under userns-remap, or not known) and low or info inside a remapped or
rootless user namespace; FINDINGS lists the ids, CIS Docker Benchmark ids (the numbering
of docker-bench-security that the collection's other findings use: 5.4 privileged, 5.31
socket) and severities.

Functions over parsed inputs only (status text, namespace links, uid_map text,
mount_scan.parse_mountinfo output, inspect dicts); reading them is the caller's.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import posixpath
import re

from ansible_collections.nsguard.docker.plugins.module_utils import (
    _capabilities,
    _daemons,
    _findings,
    _proc_parsers,
    mount_scan,
)

VERDICTS = ('host-root', 'can-become-host-root', 'root-only-in-its-user-namespace', 'unprivileged')
NAMESPACES = ('pid', 'net', 'ipc', 'uts', 'cgroup', 'user', 'mnt')
#: HostConfig field saying whether a namespace is the host's ('host'); mnt has none.
API_NAMESPACE_MODES = {'pid': 'PidMode', 'net': 'NetworkMode', 'ipc': 'IpcMode', 'uts': 'UTSMode',
                       'cgroup': 'CgroupnsMode', 'user': 'UsernsMode'}

#: Host paths whose mount CIS 5.5 calls sensitive (its list, with /run and /var/run, which
#: hold the Docker socket); /var/run is compared as /run.
SENSITIVE_PATHS = ('/', '/boot', '/dev', '/etc', '/lib', '/proc', '/run', '/sys', '/usr')
#: Trees a root process rewrites to run code as host root (binaries, libraries, /etc/passwd
#: and cron, the kernel's core_pattern and uevent_helper); writable mounts of them or below
#: are host writes. /dev is left out: the device cgroup still decides which nodes open.
HOST_ROOT_TREES = ('/boot', '/etc', '/lib', '/proc', '/sys', '/usr')
SOCKET_NAMES = ('docker.sock', 'containerd.sock')
#: Directories that hold a rootful Docker or containerd socket (dockerd's own containerd
#: listens in /run/docker/containerd).
ROOTFUL_SOCKET_DIRS = ('/', '/run', '/run/containerd', '/run/docker', '/run/docker/containerd')
_ROOTLESS_SOCKET = re.compile(r'^/run/user/\d+/|^/home/|/\.docker/')
_ROOTLESS_SOCKET_DIR = re.compile(r'^/run/user/\d+$')
#: Mount points Docker and runc set up in every container (and their masks below /proc and
#: /sys): not binds of the host, whatever device they show.
CONTAINER_OWN_MOUNTS = ('/', '/proc', '/sys', '/dev', '/dev/pts', '/dev/mqueue', '/dev/shm',
                        '/sys/fs/cgroup', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts')
#: Raw disks and memory: write access to one rewrites any file below its permissions.
_RAW_DEVICE = re.compile(r'^/dev/(?:sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|dm-\d|md\d|loop\d'
                         r'|mapper/|mem$|kmem$|port$)')

#: Finding id -> CIS id, severity in the host's user namespace, severity in another one.
#: Mounts, devices, capabilities and no-new-privileges pick between two severities by what
#: they give (see container_findings); the entries here are the highest.
FINDINGS = {
    'container-privileged': ('5.4', 'critical', 'low'),
    'container-added-capabilities': ('5.3', 'high', 'low'),
    'container-seccomp-unconfined': ('5.21', 'high', 'low'),
    'container-apparmor-unconfined': ('5.1', 'medium', 'info'),
    'container-no-new-privileges-off': ('5.25', 'medium', 'info'),
    'container-devices': ('5.17', 'critical', 'low'),
    'container-sensitive-mount': ('5.5', 'critical', 'high'),
}
#: container-host-namespace: namespace -> (CIS id, severity in the host's user namespace,
#: in another). The user namespace is namespace_audit's container-root-is-host-root (5.30).
HOST_NAMESPACE_FINDINGS = {
    'pid': ('5.15', 'high', 'low'),
    'net': ('5.9', 'high', 'low'),
    'ipc': ('5.16', 'medium', 'info'),
    'uts': ('5.20', 'low', 'info'),
    'cgroup': (None, 'low', 'info'),
    'mnt': (None, 'critical', 'low'),
}

# --------------------------------------------------------------------------------------
# Small parsers of inspect fields
# --------------------------------------------------------------------------------------


def security_options(values):
    """HostConfig.SecurityOpt -> {key: value}: 'seccomp=unconfined', 'seccomp:unconfined',
    'apparmor=x', 'no-new-privileges' (value 'true'), 'no-new-privileges:false', 'label=...'."""
    options = {}
    for value in values or ():
        text = str(value)
        cut = min([i for i in (text.find('='), text.find(':')) if i >= 0] or [len(text)])
        key, rest = text[:cut].strip(), text[cut + 1:].strip()
        options[key] = rest if cut < len(text) else 'true'
    return options


def user_is_root(user):
    """Config.User -> True for '' / 'root' / '0' (with any group), False for another
    number, None for another name (its uid is in the image's /etc/passwd)."""
    name = str(user or '').split(':', 1)[0].strip()
    if name in ('', 'root', '0'):
        return True
    if name.isdigit():
        return False
    return None


def normalize_host_path(path):
    """A host path as compared here: normalised, /var/run as /run."""
    if not path:
        return None
    norm = posixpath.normpath(path)
    if norm.startswith('//'):
        norm = '/' + norm.lstrip('/')
    return _daemons.canonical_socket_path(norm)


def _below(path, trees):
    return any(mount_scan.below(path, top) is not None for top in trees)


def classify_host_path(path, writable):
    """What mounting host ``path`` gives, or None when it is not sensitive.

    Returns {'host_path' (normalised), 'socket': 'rootful' | 'rootless' | None,
    'socket_kind': 'socket' | 'directory' | None, 'host_write', 'cis'}.
    """
    norm = normalize_host_path(path)
    if norm is None or not norm.startswith('/'):
        return None
    socket = kind = None
    if posixpath.basename(norm) in SOCKET_NAMES:
        socket, kind = ('rootless' if _ROOTLESS_SOCKET.search(norm) else 'rootful'), 'socket'
    elif norm in ROOTFUL_SOCKET_DIRS:
        socket, kind = 'rootful', 'directory'
    elif _ROOTLESS_SOCKET_DIR.match(norm):
        socket, kind = 'rootless', 'directory'
    host_write = bool(writable) and (norm == '/' or _below(norm, HOST_ROOT_TREES))
    if not (socket or host_write or norm in SENSITIVE_PATHS):
        return None
    cis = '5.31' if kind == 'socket' or (kind and norm not in SENSITIVE_PATHS) else '5.5'
    return {'host_path': norm, 'socket': socket, 'socket_kind': kind, 'host_write': host_write, 'cis': cis}


def _api_mounts(inspect):
    """Bind and volume mounts of an inspect result: [{'destination', 'source', 'writable'}].
    The top-level Mounts (what the daemon set up) when present, else HostConfig's Binds and
    Mounts (what was asked for)."""
    entries = []
    mounts = inspect.get('Mounts')
    if isinstance(mounts, list):
        for mount in mounts:
            if isinstance(mount, dict) and mount.get('Destination') and mount.get('Source'):
                entries.append({'destination': mount['Destination'], 'source': mount['Source'],
                                'writable': bool(mount.get('RW', True))})
        return entries
    host_config = inspect.get('HostConfig') or {}
    for bind in host_config.get('Binds') or ():
        parts = str(bind).split(':')
        if len(parts) >= 2 and parts[0].startswith('/'):
            options = parts[2].split(',') if len(parts) > 2 else []
            entries.append({'destination': parts[1], 'source': parts[0], 'writable': 'ro' not in options})
    for mount in host_config.get('Mounts') or ():
        if isinstance(mount, dict) and mount.get('Type') == 'bind' and mount.get('Source'):
            entries.append({'destination': mount.get('Target'), 'source': mount['Source'],
                            'writable': not mount.get('ReadOnly')})
    return entries


def _own_mount(destination):
    return destination in CONTAINER_OWN_MOUNTS or _below(destination, ('/proc', '/sys'))


def _socket_hit_kind(hit):
    """classify_host_path of the Docker socket a mount_scan.match_namespace hit found."""
    kind = classify_host_path(hit['socket'], False) or {}
    return kind.get('socket') or 'rootful'


def sensitive_mounts(inspect=None, mounts=None, init_mounts=None, socket_hits=None):
    """The sensitive host mounts of a container, from its inspect result and/or its parsed
    mountinfo (mount_scan.parse_mountinfo; host paths through PID 1's ``init_mounts``).

    ``socket_hits`` are mount_scan.match_namespace's hits for this container: mounts that
    are a known Docker socket by device and inode, or a directory holding one (a hard link
    or a parent directory), whatever their path says. They mark the mount at that
    destination as that socket's (``found_by`` gains ``inode``).

    Entries are matched by destination; mountinfo gives the real writability (read-only
    mounts say ``ro``) and the host path, the API the path as it was asked for. A mount
    that only mountinfo shows below another sensitive mount (the submounts a recursive bind
    of / brings) is folded into it as ``submounts``. Each: {'source', 'host_path',
    'destination', 'writable', 'socket', 'socket_kind', 'host_write', 'cis', 'found_by',
    'writable_from', 'submounts'}.
    """
    entries, by_destination = [], {}
    for api in _api_mounts(inspect or {}):
        entry = {'destination': api['destination'], 'source': api['source'], 'host_path': None,
                 'writable': api['writable'], 'writable_from': 'engine_api', 'found_by': ['engine_api']}
        by_destination[api['destination']] = entry
        entries.append(entry)
    for mount in mounts or ():
        point = mount['mount_point']
        entry = by_destination.get(point)
        if entry is None and _own_mount(point):
            continue
        host = mount_scan.host_path_of(mount['device'], mount['root'], init_mounts) if init_mounts else None
        writable = 'ro' not in mount['options']
        if entry is None:
            entry = {'destination': point, 'source': host, 'host_path': None, 'writable': writable,
                     'writable_from': 'mountinfo', 'found_by': ['mountinfo']}
            by_destination[point] = entry
            entries.append(entry)
        else:  # stacked mounts: the last line is the top one
            entry.update(writable=writable, writable_from='mountinfo')
            if host is not None:
                entry['host_path'] = host
            if 'mountinfo' not in entry['found_by']:
                entry['found_by'].append('mountinfo')
    hits = dict((hit['destination'], hit) for hit in socket_hits or ())
    for point, hit in hits.items():
        if point not in by_destination:
            entry = {'destination': point, 'source': hit.get('source'), 'host_path': hit.get('source'),
                     'writable': bool(hit.get('read_write')), 'writable_from': 'mountinfo', 'found_by': []}
            by_destination[point] = entry
            entries.append(entry)
    found = []
    for entry in sorted(entries, key=lambda e: e['destination']):
        kind = None
        for path in (entry['host_path'], entry['source']):
            kind = classify_host_path(path, entry['writable'])
            if kind is not None:
                break
        hit = hits.get(entry['destination'])
        if hit is not None:
            # The inode decides what the path could only suggest.
            host_path = (kind or {}).get('host_path') or normalize_host_path(
                entry['host_path'] or entry['source'] or hit['socket'])
            socket_kind = 'socket' if hit['match'] == 'inode_via_proc' else 'directory'
            kind = {'host_path': host_path, 'socket': _socket_hit_kind(hit), 'socket_kind': socket_kind,
                    'host_write': bool(kind and kind['host_write']),
                    'cis': '5.31' if socket_kind == 'socket' or host_path not in SENSITIVE_PATHS else '5.5'}
            entry['found_by'].append('inode')
            entry['socket_host_path'] = hit['socket']
        if kind is None:
            continue
        parent = None
        if entry['found_by'] == ['mountinfo']:
            for other in found:
                if other['destination'] != '/' and entry['destination'].startswith(other['destination'] + '/'):
                    parent = other
        if parent is not None:
            parent['submounts'].append({'host_path': kind['host_path'], 'destination': entry['destination'],
                                        'writable': entry['writable'], 'socket': kind['socket']})
            continue
        item = {'source': entry['source'] or kind['host_path'], 'destination': entry['destination'],
                'writable': entry['writable'], 'writable_from': entry['writable_from'],
                'found_by': '+'.join(entry['found_by']), 'submounts': [],
                'socket_host_path': entry.get('socket_host_path')}
        item.update(kind)
        found.append(item)
    for item in found:
        # Host / holds the socket through its /run submount; mountinfo shows whether the bind
        # brought that along (recursive, as -v does) or not.
        if item['host_path'] == '/' and 'mountinfo' in item['found_by'] and 'inode' not in item['found_by'] and \
                not [s for s in item['submounts'] if s['socket'] == 'rootful']:
            item.update(socket=None, socket_kind=None)
    return found


def _devices(host_config):
    devices = []
    for device in host_config.get('Devices') or ():
        if not isinstance(device, dict):
            continue
        path = device.get('PathOnHost') or ''
        permissions = device.get('CgroupPermissions') or 'rwm'
        devices.append({'path': path, 'container_path': device.get('PathInContainer') or path,
                        'permissions': permissions,
                        'raw_write': bool(_RAW_DEVICE.match(path)) and 'w' in permissions})
    return devices


# --------------------------------------------------------------------------------------
# Evidence
# --------------------------------------------------------------------------------------


def _api_acts_on_host(userns_mode, daemon_mode):
    """(acts_on_host, source) from UsernsMode and the daemon's mode, as namespace_audit's
    evaluate_container: UsernsMode=host under rootless is the daemon's namespace, and
    under Docker Desktop (desktop-vm) everything is its VM's."""
    if daemon_mode == 'desktop-vm':
        return False, 'daemon_mode'
    if userns_mode == 'host' and daemon_mode in ('default', 'userns-remap'):
        return True, 'engine_api'
    if daemon_mode == 'default':
        return True, 'daemon_mode'
    if daemon_mode in ('userns-remap', 'rootless'):
        return False, 'daemon_mode' if userns_mode != 'host' else 'engine_api'
    return None, None


def _api_namespace(kind, host_config, daemon_mode):
    mode = host_config.get(API_NAMESPACE_MODES[kind])
    if not mode:
        return None
    if mode != 'host' or daemon_mode == 'desktop-vm':  # Docker Desktop's 'host' is its VM
        return False
    # A rootless daemon's 'host' is its own (rootlesskit's) namespace; /proc tells whether
    # that is the host's.
    return None if daemon_mode == 'rootless' else True


def container_evidence(inspect=None, status_text=None, uid_map_text=None, namespaces=None,
                       init_namespaces=None, mounts=None, init_mounts=None, daemon_mode='unknown',
                       apparmor_label=None, socket_hits=None, server_version=None):
    """The facts of one running container from what could be read.

    ``inspect``: GET /containers/{id}/json, or None when the API did not answer;
    ``status_text``, ``uid_map_text``: its /proc/<pid>/status and uid_map read from the host
    (None when unreadable); ``namespaces``, ``init_namespaces``: {kind: link text} of its
    /proc/<pid>/ns/* and PID 1's; ``mounts``: parse_mountinfo of its mountinfo, with PID 1's
    ``init_mounts`` to name host paths; ``apparmor_label``: /proc/<pid>/attr/current text;
    ``socket_hits``: mount_scan.match_namespace's hits (Docker sockets by inode);
    ``server_version``: the daemon's ServerVersion (what "all capabilities" means).
    Returns a flat dict of facts with ``sources`` ({fact: 'proc' | 'mountinfo' |
    'engine_api' | 'engine_api+mountinfo' | 'daemon_mode' | None}) and ``disagreements``
    (the API said one thing, /proc another; /proc's is kept).
    """
    api = inspect if isinstance(inspect, dict) else None
    host_config = (api or {}).get('HostConfig') or {}
    config = (api or {}).get('Config') or {}
    namespaces = namespaces or {}
    init_namespaces = init_namespaces or {}
    status = _capabilities.parse_status_security(status_text) if status_text is not None else None
    sources, disagreements = {}, []
    ev = {'inputs': {'proc': status_text is not None or bool(namespaces), 'engine_api': api is not None,
                     'mountinfo': mounts is not None},
          'daemon_mode': daemon_mode, 'userns_mode': host_config.get('UsernsMode') or ''}

    def note(fact, proc_value, api_value):
        """Keep /proc's value when it has one, else the API's; record which and any conflict."""
        if proc_value is not None:
            if api is not None and api_value is not None and api_value != proc_value:
                disagreements.append({'fact': fact, 'proc': proc_value, 'engine_api': api_value})
            sources[fact] = 'proc'
            return proc_value
        sources[fact] = 'engine_api' if api_value is not None else None
        return api_value

    # User namespace: whether capabilities and uid 0 are the host's.
    user_link, host_user = namespaces.get('user'), init_namespaces.get('user')
    api_acts, api_basis = _api_acts_on_host(ev['userns_mode'], daemon_mode)
    if user_link and host_user:
        ev['acts_on_host'] = user_link == host_user
        sources['acts_on_host'] = 'proc'
        if api is not None and api_basis == 'engine_api' and api_acts != ev['acts_on_host']:
            disagreements.append({'fact': 'acts_on_host', 'proc': ev['acts_on_host'], 'engine_api': api_acts})
    else:
        ev['acts_on_host'], sources['acts_on_host'] = api_acts, api_basis
    ev['user_namespace'] = user_link
    uid_map = _proc_parsers.parse_id_map(uid_map_text) if uid_map_text is not None else None
    ev['uid_map'] = uid_map or None
    if uid_map:
        ev['root_host_uid'], sources['root_host_uid'] = _proc_parsers.map_id(uid_map, 0), 'proc'
    elif ev['acts_on_host']:
        ev['root_host_uid'], sources['root_host_uid'] = 0, sources['acts_on_host']
    else:
        ev['root_host_uid'], sources['root_host_uid'] = None, None

    # Who it runs as: /proc shows host ids; the uid_map turns them into the container's.
    uids = _proc_parsers.parse_status_ids(status_text).get('uid') if status_text is not None else None
    ev['host_euid'] = uids[1] if uids and len(uids) > 1 else None
    euid = None
    if ev['host_euid'] is not None:
        euid = _proc_parsers.unmap_id(uid_map, ev['host_euid']) if uid_map else (
            ev['host_euid'] if ev['acts_on_host'] else None)
    ev['euid'] = euid
    api_root = user_is_root(config.get('User')) if api is not None else None
    ev['runs_as_root'] = note('runs_as_root', euid == 0 if euid is not None else None, api_root)
    if ev['host_euid'] is not None:
        ev['host_root_process'], sources['host_root_process'] = ev['host_euid'] == 0, 'proc'
    elif ev['runs_as_root'] is False or ev['acts_on_host'] is False:
        ev['host_root_process'] = False
        sources['host_root_process'] = sources['runs_as_root' if ev['runs_as_root'] is False else 'acts_on_host']
    elif ev['runs_as_root'] and ev['root_host_uid'] is not None:
        ev['host_root_process'], sources['host_root_process'] = ev['root_host_uid'] == 0, sources['runs_as_root']
    else:
        ev['host_root_process'], sources['host_root_process'] = None, None

    # Namespaces shared with PID 1.
    ev['namespaces'] = {}
    for kind in NAMESPACES:
        link, host_link = namespaces.get(kind), init_namespaces.get(kind)
        if kind == 'user':
            ev['namespaces'][kind], sources['namespace_user'] = ev['acts_on_host'], sources['acts_on_host']
            continue
        api_value = _api_namespace(kind, host_config, daemon_mode) if kind in API_NAMESPACE_MODES else None
        ev['namespaces'][kind] = note('namespace_' + kind, (link == host_link) if link and host_link else None,
                                      api_value)
    ev['host_namespaces'] = sorted(k for k in NAMESPACES if ev['namespaces'][k])

    # Privileged, capabilities, seccomp, AppArmor, no_new_privs.
    status = status or {}
    every = _capabilities.daemon_all_caps(server_version)
    full_set = status.get('cap_bnd') is not None and every <= set(status['cap_bnd'])
    proc_privileged = (full_set and status.get('seccomp') == 'disabled') if status.get('cap_bnd') is not None \
        else None
    if api is not None:
        ev['privileged'], sources['privileged'] = bool(host_config.get('Privileged')), 'engine_api'
    else:
        ev['privileged'], sources['privileged'] = proc_privileged, 'proc' if proc_privileged is not None else None
    granted = None
    if api is not None:
        granted = _capabilities.docker_caps(ev['privileged'], host_config.get('CapAdd'), host_config.get('CapDrop'),
                                            server_version)
    api_effective = None
    if granted is not None:
        api_effective = granted if ev['runs_as_root'] else ([] if ev['runs_as_root'] is False else None)
    ev['capabilities'] = note('capabilities', status.get('cap_eff'), api_effective)
    ev['bounding_capabilities'] = note('bounding_capabilities', status.get('cap_bnd'), granted)
    ev['permitted_capabilities'] = status.get('cap_prm') if status.get('cap_prm') is not None else api_effective
    ev['ambient_capabilities'] = status.get('cap_amb')
    if api is not None:
        adds = [_capabilities.normalize_cap(c) for c in host_config.get('CapAdd') or ()]
        ev['added_capabilities'] = sorted(set(adds) - _capabilities.DOCKER_DEFAULT_CAPS)
        ev['dropped_capabilities'] = sorted(set(_capabilities.normalize_cap(c) for c in host_config.get('CapDrop') or ()))
        sources['added_capabilities'] = 'engine_api'
    elif status.get('cap_bnd') is not None:
        ev['added_capabilities'] = sorted(set(status['cap_bnd']) - _capabilities.DOCKER_DEFAULT_CAPS)
        ev['dropped_capabilities'] = sorted(_capabilities.DOCKER_DEFAULT_CAPS - set(status['cap_bnd']))
        sources['added_capabilities'] = 'proc'
    else:
        ev['added_capabilities'], ev['dropped_capabilities'], sources['added_capabilities'] = [], [], None

    options = security_options(host_config.get('SecurityOpt'))
    api_seccomp = None
    if api is not None:
        api_seccomp = 'disabled' if ev['privileged'] or options.get('seccomp') == 'unconfined' else 'filter'
    ev['seccomp'] = note('seccomp', status.get('seccomp'), api_seccomp)
    ev['seccomp_filters'] = status.get('seccomp_filters')
    api_nnp = None
    if api is not None:
        api_nnp = options.get('no-new-privileges', 'false').lower() in ('', 'true', '1')
    ev['no_new_privileges'] = note('no_new_privileges', status.get('no_new_privs'), api_nnp)
    proc_apparmor = None
    if apparmor_label is not None:  # 'docker-default (enforce)', 'unconfined'
        proc_apparmor = apparmor_label.strip().split(' (')[0].strip() or None
    api_apparmor = None
    if api is not None:
        api_apparmor = api.get('AppArmorProfile') or options.get('apparmor') or None
    ev['apparmor_profile'] = note('apparmor_profile', proc_apparmor, api_apparmor)

    host_pid = ev['namespaces']['pid'] is not False
    ev['host_root_capabilities'] = (_capabilities.host_root_caps(ev['capabilities'], host_pid)
                                    if ev['capabilities'] is not None else None)
    reachable = None
    if ev['bounding_capabilities'] is not None or ev['capabilities'] is not None:
        reachable = set(ev['capabilities'] or ()) | set(ev['permitted_capabilities'] or ()) \
            | set(ev['ambient_capabilities'] or ())
        if ev['no_new_privileges'] is not True:
            reachable |= set(ev['bounding_capabilities'] or ())
        reachable = _capabilities.host_root_caps(reachable, host_pid)
    ev['reachable_host_root_capabilities'] = reachable

    # Mounts and devices.
    ev['sensitive_mounts'] = sensitive_mounts(api, mounts, init_mounts, socket_hits)
    if daemon_mode == 'desktop-vm':
        # Docker Desktop's bind sources are paths of its VM (host files come in through its
        # file sharing, as the desktop user): its /etc is not this host's, and its Docker
        # socket is Docker Desktop's own engine, which acts as that user here.
        for mount in ev['sensitive_mounts']:
            mount.update(host_write=False, vm_path=True)
            if mount['socket'] == 'rootful':
                mount['socket'] = 'rootless'
    sources['sensitive_mounts'] = '+'.join(s for s, used in (('engine_api', api is not None),
                                                             ('mountinfo', mounts is not None),
                                                             ('inode', socket_hits is not None)) if used) or None
    if api is not None:
        ev['devices'], ev['all_devices'] = _devices(host_config), bool(ev['privileged'])
        sources['devices'] = 'engine_api'
    else:
        ev['devices'], ev['all_devices'], sources['devices'] = None, None, None
    ev['sources'] = sources
    ev['disagreements'] = disagreements
    return ev


# --------------------------------------------------------------------------------------
# Verdict
# --------------------------------------------------------------------------------------


def _from(evidence, fact):
    source = evidence['sources'].get(fact)
    return ' (%s)' % source if source else ''


def _scope(evidence, daemon_mode):
    """Where its capabilities and uid 0 act, in words."""
    acts = evidence['acts_on_host']
    if acts is True:
        if evidence.get('userns_mode') == 'host' and daemon_mode != 'default':
            return 'in the host user namespace (UsernsMode=host under a %s daemon)' % daemon_mode
        return 'in the host user namespace (%s daemon)' % daemon_mode
    if acts is False:
        uid = evidence['root_host_uid']
        root = ', its root is host uid %d' % uid if uid is not None else ''
        if daemon_mode == 'rootless':
            return "only in the rootless daemon's user namespace%s" % root
        if daemon_mode == 'desktop-vm':
            return ("only inside Docker Desktop's VM (root there is the VM's root; files shared from "
                    "this host are reached as the desktop user)")
        if daemon_mode == 'userns-remap':
            return 'only in its remapped user namespace%s' % root
        return 'only in its own user namespace%s' % root
    return 'in a user namespace that is not known (rated as the host\'s)'


def _caps_text(caps):
    if caps is None:
        return 'not known'
    if not caps:
        return 'none'
    if set(caps) == _capabilities.DOCKER_DEFAULT_CAPS:
        return "Docker's default set"
    return ', '.join(caps)


def _mount_text(mount):
    return '%s at %s (%s, %s)' % (mount['source'], mount['destination'],
                                  'writable' if mount['writable'] else 'read-only', mount['found_by'])


def _paths(evidence):
    """[(kind, text)] of the mounts and devices that lead to host root for a process at host
    uid 0: kind 'socket', 'host-write' or 'device'."""
    mounts = evidence['sensitive_mounts']
    sockets = [m for m in mounts if m['socket'] == 'rootful']
    writes = [m for m in mounts if m['host_write']]
    disks = [d for d in evidence['devices'] or () if d['raw_write']]
    found = []
    if sockets:
        found.append(('socket', 'a rootful daemon\'s socket is mounted: %s'
                      % '; '.join(_mount_text(m) for m in sockets)))
    if writes:
        found.append(('host-write', 'host files root runs or reads are writable: %s'
                      % '; '.join(_mount_text(m) for m in writes)))
    if disks:
        found.append(('device', 'raw disk or memory devices with write access: %s (engine_api)'
                      % ', '.join(d['path'] for d in disks)))
    return found


def container_verdict(evidence, daemon_mode):
    """One verdict of VERDICTS for a container_evidence() result, by the rules of the
    module docstring. Returns {'verdict', 'reasons' (each naming its evidence and source),
    'acts_on_host', 'host_root_process'}."""
    acts = evidence['acts_on_host']
    uid0 = evidence['host_root_process']
    nnp_off = evidence['no_new_privileges'] is not True
    now = evidence['host_root_capabilities'] or []
    reach = evidence['reachable_host_root_capabilities'] or []
    scope = _scope(evidence, daemon_mode)
    paths = _paths(evidence)
    sockets = [m for m in evidence['sensitive_mounts'] if m['socket'] == 'rootful']

    def result(verdict, reasons):
        return {'verdict': verdict, 'reasons': reasons, 'acts_on_host': acts, 'host_root_process': uid0}

    # 1. host-root
    reasons = []
    if acts is True:
        if evidence['privileged'] and uid0:
            reasons.append('privileged%s and host uid 0%s: every capability and device, no seccomp or '
                           'AppArmor, %s' % (_from(evidence, 'privileged'), _from(evidence, 'host_root_process'),
                                             scope))
        if now:
            reasons.append('effective capabilities %s%s act %s' % (
                ', '.join(now), _from(evidence, 'capabilities'), scope))
    if uid0:
        reasons.extend('%s; its process is host uid 0%s' % (text, _from(evidence, 'host_root_process'))
                       for _kind, text in paths)
    if reasons:
        return result('host-root', reasons)

    # 2. can-become-host-root
    if acts is True:
        held = set(evidence['permitted_capabilities'] or ()) | set(evidence['ambient_capabilities'] or ())
        if [c for c in reach if c in held]:
            reasons.append('capabilities %s are in its permitted or ambient set%s: it raises them itself, %s' % (
                ', '.join(c for c in reach if c in held), _from(evidence, 'capabilities'), scope))
        if [c for c in reach if c not in held]:
            reasons.append('capabilities %s are in its bounding set%s and no_new_privs is %s%s: a setuid-root '
                           'or file-capability binary raises them, %s' % (
                               ', '.join(c for c in reach if c not in held), _from(evidence, 'bounding_capabilities'),
                               'off' if evidence['no_new_privileges'] is False else 'not known',
                               _from(evidence, 'no_new_privileges'), scope))
        host_paths = [text for kind, text in paths if kind != 'socket']
        if uid0 is False and nnp_off and host_paths:
            reasons.extend('%s; its process is not root (host uid %s%s) but no_new_privs is off%s: becoming '
                           'root in the container makes it host root' % (
                               text, evidence['host_euid'] if evidence['host_euid'] is not None else 'not known',
                               _from(evidence, 'runs_as_root'), _from(evidence, 'no_new_privileges'))
                           for text in host_paths)
        elif uid0 is None and host_paths:
            reasons.extend('%s; its user is not known: as root it is host root' % text for text in host_paths)
    if sockets:
        uid = evidence['host_euid'] if evidence['host_euid'] is not None else (
            evidence['root_host_uid'] if evidence['runs_as_root'] else None)
        reasons.append('a rootful daemon\'s socket is mounted: %s; whoever connects is host root, and its '
                       'process (host uid %s, %s) can if the socket\'s mode or group lets it in' % (
                           '; '.join(_mount_text(m) for m in sockets),
                           uid if uid is not None else 'not known', scope))
    if acts is None and (evidence['privileged'] or reach or paths):
        what = (['privileged'] if evidence['privileged'] else []) + reach + [kind for kind, _text in paths]
        reasons.append('its user namespace is not known%s: it would be host root in the host\'s (%s)' % (
            _from(evidence, 'acts_on_host'), ', '.join(what)))
    if reasons:
        return result('can-become-host-root', reasons)

    # 3. root-only-in-its-user-namespace
    if acts is False and (evidence['runs_as_root'] is not False or now or evidence['privileged']):
        uid = evidence['root_host_uid']
        if evidence['runs_as_root'] is not False:
            reasons.append('root in its user namespace%s%s, which is not the host\'s%s: root is host uid %s' % (
                ' (not known, taken as root)' if evidence['runs_as_root'] is None else '',
                _from(evidence, 'runs_as_root'), _from(evidence, 'acts_on_host'),
                uid if uid is not None else 'not known'))
        parts = ['effective capabilities %s%s' % (', '.join(now), _from(evidence, 'capabilities'))] if now else []
        if evidence['privileged']:
            parts.append('privileged%s' % _from(evidence, 'privileged'))
        if parts:
            reasons.append('%s act %s' % (' and '.join(parts), scope))
        writes = [m for m in evidence['sensitive_mounts'] if m['writable'] and m['socket_kind'] != 'socket']
        if writes:
            reasons.append('writable host mounts give only what host uid %s may write: %s' % (
                uid if uid is not None else '(not known)', '; '.join(_mount_text(m) for m in writes)))
        rootless_sockets = [m for m in evidence['sensitive_mounts'] if m['socket'] == 'rootless']
        if rootless_sockets:
            reasons.append('the socket of a daemon that runs as one user (rootless, or Docker Desktop\'s engine) '
                           'gives what that user may do, not host root: %s'
                           % '; '.join(_mount_text(m) for m in rootless_sockets))
        return result('root-only-in-its-user-namespace', reasons)

    # 4. unprivileged
    if evidence['runs_as_root'] is False:
        reasons.append('not root (uid %s in the container%s)' % (
            evidence['euid'] if evidence['euid'] is not None else 'other than 0', _from(evidence, 'runs_as_root')))
    elif acts is True:
        reasons.append('root is host uid 0%s, %s' % (_from(evidence, 'host_root_process'), scope))
    elif acts is None:
        reasons.append('its user namespace is not known%s' % _from(evidence, 'acts_on_host'))
    reasons.append('no capability of the host-root set is effective or reachable (effective: %s%s)' % (
        _caps_text(evidence['capabilities']), _from(evidence, 'capabilities')))
    reasons.append('no socket, writable host path or disk device mounted (%s)' % (
        evidence['sources'].get('sensitive_mounts') or 'mounts not known'))
    return result('unprivileged', reasons)


# --------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------


def _rate(on_host, host_severity, other_severity):
    return host_severity if on_host else other_severity


def container_findings(name_or_subject, evidence, verdict, daemon_mode):
    """Findings of one container (ids and CIS ids of FINDINGS and HOST_NAMESPACE_FINDINGS),
    rated by where its capabilities act: a container in the host user namespace, or in one
    that is not known, gets the host severities. A privileged container's finding stands for
    its capabilities, seccomp, AppArmor and devices, which are not reported apart."""
    subject = name_or_subject if str(name_or_subject).startswith('container:') else 'container:%s' % name_or_subject
    on_host = evidence['acts_on_host'] is not False
    uid0 = evidence['host_root_process']
    scope = _scope(evidence, daemon_mode)
    findings = []

    def add(finding_id, severity, cis, message, fact, extra=None):
        details = {'verdict': verdict['verdict'], 'acts_on_host': evidence['acts_on_host'],
                   'daemon_mode': daemon_mode, 'source': evidence['sources'].get(fact)}
        details.update(extra or {})
        findings.append(_findings.make_finding(finding_id, severity, cis, subject, message, details))

    privileged = evidence['privileged']
    if privileged:
        cis, high, low = FINDINGS['container-privileged']
        add('container-privileged', _rate(on_host, high, low), cis,
            'Privileged container: every capability and device, no seccomp or AppArmor; they act %s%s.' % (
                scope, ': container root is host root' if on_host and uid0 else ''), 'privileged')
    else:
        added = evidence['added_capabilities']
        if added:
            escape = _capabilities.host_root_caps(
                _capabilities.ALL_CAPABILITIES if 'ALL' in added else added,
                evidence['namespaces'].get('pid') is not False)
            cis = FINDINGS['container-added-capabilities'][0]
            severity = _rate(on_host, 'high' if escape else 'medium', 'low' if escape else 'info')
            why = ('%s lead%s to host root when acting on the host' % (', '.join(escape), 's' if len(escape) == 1 else '')
                   if escape and on_host else '')
            add('container-added-capabilities', severity, cis,
                'Capabilities beyond Docker\'s default set: %s; they act %s%s.' % (
                    ', '.join(added), scope, ': ' + why if why else ''), 'added_capabilities',
                {'added': added, 'host_root': escape})
        if evidence['seccomp'] == 'disabled':
            cis, high, low = FINDINGS['container-seccomp-unconfined']
            add('container-seccomp-unconfined', _rate(on_host, high, low), cis,
                'No seccomp filter: every system call reaches the kernel; its capabilities act %s.' % scope,
                'seccomp')
        if evidence['apparmor_profile'] == 'unconfined':
            cis, high, low = FINDINGS['container-apparmor-unconfined']
            add('container-apparmor-unconfined', _rate(on_host, high, low), cis,
                'AppArmor unconfined: mount() and the writes docker-default denies are allowed; its '
                'capabilities act %s.' % scope, 'apparmor_profile')
        devices = evidence['devices'] or []
        if devices:
            raw = [d['path'] for d in devices if d['raw_write']]
            cis = FINDINGS['container-devices'][0]
            if raw and on_host:
                severity = 'critical' if uid0 else 'high'
            elif raw:
                severity = 'low'
            else:
                severity = _rate(on_host, 'low', 'info')
            add('container-devices', severity, cis,
                'Host devices passed in: %s%s; it acts %s.' % (
                    ', '.join(d['path'] for d in devices),
                    ' (raw disk or memory, writable: %s)' % ', '.join(raw) if raw else '', scope),
                'devices', {'devices': devices})

    for kind in NAMESPACES:
        if kind not in HOST_NAMESPACE_FINDINGS or not evidence['namespaces'].get(kind):
            continue
        cis, high, low = HOST_NAMESPACE_FINDINGS[kind]
        add('container-host-namespace', _rate(on_host, high, low), cis,
            'Shares the host\'s %s namespace; its capabilities act %s.' % (kind, scope),
            'namespace_' + kind, {'namespace': kind})

    if evidence['no_new_privileges'] is False:
        cis = FINDINGS['container-no-new-privileges-off'][0]
        reach = evidence['reachable_host_root_capabilities'] or []
        severity = _rate(on_host, 'medium' if reach else 'low', 'info')
        add('container-no-new-privileges-off', severity, cis,
            'no_new_privs is off: setuid and file-capability binaries raise privileges%s; they act %s.' % (
                ' up to %s' % ', '.join(reach) if reach and on_host else '', scope), 'no_new_privileges')

    for mount in evidence['sensitive_mounts']:
        severity, why = _mount_rating(mount, on_host, uid0, evidence, daemon_mode)
        add('container-sensitive-mount', severity, mount['cis'],
            'Host %s %s is mounted %s at %s: %s.' % (
                'socket' if mount['socket_kind'] == 'socket' else 'path', mount['source'],
                'writable' if mount['writable'] else 'read-only', mount['destination'], why),
            'sensitive_mounts', {'mount': mount})
    return findings


def _mount_rating(mount, on_host, uid0, evidence, daemon_mode):
    """(severity, why) of one sensitive mount."""
    uid = evidence['root_host_uid']
    if mount['socket'] == 'rootful':
        what = 'it is a rootful daemon\'s socket' if mount['socket_kind'] == 'socket' else \
            'it holds a rootful daemon\'s socket'
        if uid0:
            return 'critical', '%s and its process is host uid 0: host root' % what
        return 'high', ('%s, and whoever connects is host root; its process is not host uid 0 (it acts %s), '
                        'so the socket\'s mode and group decide' % (what, _scope(evidence, daemon_mode)))
    if mount['host_write']:
        if on_host and uid0:
            return 'critical', 'its process is host uid 0 and can rewrite what host root runs or reads'
        if on_host:
            return 'high', 'becoming root in the container lets it rewrite what host root runs or reads'
        return 'low', 'root is host uid %s here: it writes only what that uid may write' % (
            uid if uid is not None else '(not known)')
    if mount['socket'] == 'rootless':
        return _rate(on_host, 'medium', 'low'), 'a rootless daemon\'s socket: what that daemon\'s user may do'
    return _rate(on_host, 'medium', 'info'), ('host files readable%s' % (
        ' as host uid 0' if on_host and uid0 else ' as host uid %s' % uid if uid is not None else ''))
