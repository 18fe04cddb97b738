# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Who can reach a Docker daemon: unix sockets, TCP endpoints, unit files, socket mounts.

Reaching a rootful daemon's socket is root on the host, so every principal that can
connect is reported. Connecting to a unix socket needs write permission on it: the
owner (u+w), members of its group (g+w: /etc/group members plus users whose primary
group it is) and everyone (o+w). Root always can. Only /etc/group and /etc/passwd are
read: members that come from NSS (LDAP, sssd) are not seen.

Finding ids, severities and CIS Docker Benchmark ids (v1.6 numbering):

==========================  ==================  ======  ==========================================
id                          severity            cis     when
==========================  ==================  ======  ==========================================
socket-world-writable       critical (rootful)  3.16    o+w on a daemon socket
                            high (rootless)
socket-permissions          high                3.16    rootful socket mode looser than 0660
socket-ownership            high                3.15    rootful socket not owned by root, or group
                                                        neither docker nor root; rootless socket
                                                        not owned by its user
rootless-socket-shared      medium              -       rootless socket writable by a group with
                                                        other members than its user
docker-group-member         high                1.1.2   non-root user who can reach a rootful
                                                        socket through its group, per user, unless
                                                        allowed by allow_users / allow_groups
tcp-no-tls                  critical / high     2.7     TCP endpoint without TLS; high on loopback
tcp-tls-no-verify           high / medium       2.7     TLS without client verification
dockerd-listener-unknown    medium              -       dockerd listens on a TCP port that is no
                                                        configured endpoint, swarm or metrics port
dockerd-listener-info       info                -       swarm / metrics listeners of dockerd
unit-file-ownership         medium              3.1     docker.service (3.3 docker.socket) not
                                                        root:root
unit-file-permissions       medium / low        3.2     docker.service (3.4 docker.socket)
                                                        writable by group/other (medium) or else
                                                        looser than 0644 (low)
container-mounts-socket     high                5.31    a running container mounts a Docker socket
                                                        or a directory holding one; ``match`` says
                                                        how it was found (below)
audit-incomplete            high                -       a check was skipped for a daemon: its Engine
                                                        API did not answer (after one retry), or a
                                                        directory listing was cut off; names the
                                                        checks and whether the /proc scan covered
                                                        socket mounts in their place
audit-incomplete            low                 -       permission denied on some paths
daemon-not-running          info                -       a socket no dockerd serves was not connected
                                                        to (connect_idle_sockets=false): connecting
                                                        would start docker.service (socket
                                                        activation)
==========================  ==================  ======  ==========================================

``match`` of a socket mount: from the Engine API's Mounts, ``socket`` (Source is a known
Docker socket path), ``hard_link`` (Source is another name of one: same st_dev and
st_ino), ``name`` (ends in docker.sock), ``parent_directory`` (Source is a directory
above a known socket), ``hard_link_in_directory`` (a direct entry of Source, among the
first DIR_ENTRY_LIMIT, is a hard link of one); from the /proc scan (mount_scan, which
needs no API), ``inode_via_proc``, ``parent_directory_via_proc`` and
``hard_link_in_directory_via_proc``. A mount both find is reported once, with
``found_by`` [engine_api, proc]. The Docker sockets known are those of every daemon
found, rootful and rootless.

The result's ``complete`` is false and ``skipped_checks`` lists {daemon, check, reason}
when a check could not be made as designed: an Engine API that did not answer, one not
asked (query_api=false; no finding, the operator chose it), a listing cut off, paths
that could not be read.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import stat

from ansible_collections.nsguard.docker.plugins.module_utils import (
    _audit_module,
    _daemons,
    _findings,
    _proc_parsers,
    mount_scan,
)
from ansible_collections.nsguard.docker.plugins.module_utils.engine_api import (
    DEFAULT_TIMEOUT,
    query_daemon,
)

UNIT_DIRS = ('/etc/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system')
UNIT_CIS = {'docker.service': ('3.1', '3.2'), 'docker.socket': ('3.3', '3.4')}
SWARM_PORTS = {2377: 'swarm cluster management (mutual TLS)', 7946: 'swarm node gossip'}

# --------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------


def group_members(groups, users, gid):
    """Names of members of group ``gid``: explicit (/etc/group) and primary (/etc/passwd).

    Returns [{'name', 'uid' (None if not in passwd), 'via': 'member'|'primary'}].
    """
    found = {}
    for user in users:
        if user['gid'] == gid:
            found[user['name']] = {'name': user['name'], 'uid': user['uid'], 'via': 'primary'}
    by_name = dict((u['name'], u) for u in users)
    for group in groups:
        if group['gid'] != gid:
            continue
        for member in group['members']:
            if member not in found:
                uid = by_name[member]['uid'] if member in by_name else None
                found[member] = {'name': member, 'uid': uid, 'via': 'member'}
    return [found[k] for k in sorted(found)]


def user_groups(groups, users, name):
    """Group names a user belongs to (primary and supplementary)."""
    names = set()
    user = next((u for u in users if u['name'] == name), None)
    for group in groups:
        if name in group['members'] or (user is not None and group['gid'] == user['gid']):
            names.add(group['name'])
    return names


def group_name(groups, gid):
    for group in groups:
        if group['gid'] == gid:
            return group['name']
    return None


def who_can_reach(sock, groups, users):
    """Principals that can connect to a socket described by ``socket_info``."""
    mode = sock['mode_bits']
    reach = {'root': True, 'owner': None, 'group': None, 'group_members': [], 'everyone': False,
             'users': []}
    names = set(['root'])
    if mode & stat.S_IWUSR:
        reach['owner'] = sock['owner'] or str(sock['uid'])
        names.add(reach['owner'])
    if mode & stat.S_IWGRP:
        reach['group'] = sock['group'] or str(sock['gid'])
        reach['group_members'] = group_members(groups, users, sock['gid'])
        names.update(m['name'] for m in reach['group_members'])
    if mode & stat.S_IWOTH:
        reach['everyone'] = True
    reach['users'] = sorted(names)
    return reach


def socket_info(fs, path, groups, users):
    """stat() of one socket path -> dict; None when it does not exist."""
    st = fs.stat(path, missing_ok=True)
    if st is None:
        return None
    lst = fs.stat(path, missing_ok=True, follow=False)
    return {
        'path': path,
        'is_socket': stat.S_ISSOCK(st.st_mode),
        'is_symlink': bool(lst is not None and stat.S_ISLNK(lst.st_mode)),
        'uid': st.st_uid,
        'gid': st.st_gid,
        'owner': _daemons.user_name(users, st.st_uid),
        'group': group_name(groups, st.st_gid),
        'mode': _proc_parsers.mode_string(st.st_mode),
        'mode_bits': stat.S_IMODE(st.st_mode),
        'inode': (st.st_dev, st.st_ino),
    }


# --------------------------------------------------------------------------------------
# Unix socket findings
# --------------------------------------------------------------------------------------


def _allowed(name, allow_users, allow_groups, groups, users):
    if name in allow_users:
        return True
    return bool(user_groups(groups, users, name) & set(allow_groups))


def socket_findings(sockets, groups, users, allow_users=(), allow_groups=()):
    """Findings for the unix sockets (entries from ``socket_info`` plus 'kind', 'daemon',
    'daemon_uid' and 'reach')."""
    findings = []
    member_sockets = {}
    for sock in sockets:
        if not sock['is_socket']:
            continue
        subject = 'socket:%s' % sock['path']
        mode = sock['mode_bits']
        evidence = {'owner': sock['owner'], 'uid': sock['uid'], 'group': sock['group'],
                    'gid': sock['gid'], 'mode': sock['mode'], 'daemon': sock.get('daemon')}
        rootless = sock['kind'] in _daemons.USER_KINDS
        if mode & stat.S_IWOTH:
            findings.append(_findings.make_finding(
                'socket-world-writable', 'high' if rootless else 'critical', '3.16', subject,
                'Docker socket is world-writable (%s): every local user can %s.'
                % (sock['mode'], 'act as %s' % (sock['owner'] or sock['uid']) if rootless
                   else 'become root'), evidence))
        if rootless:
            owner_uid = sock.get('daemon_uid')
            if owner_uid is not None and sock['uid'] != owner_uid:
                findings.append(_findings.make_finding(
                    'socket-ownership', 'high', '3.15', subject,
                    'Rootless Docker socket is owned by uid %d, not by its daemon user %d.'
                    % (sock['uid'], owner_uid), evidence))
            others = [m['name'] for m in sock['reach']['group_members']
                      if m['uid'] != sock['uid'] and m['uid'] != 0]
            if mode & stat.S_IWGRP and others:
                evidence = dict(evidence, members=others)
                findings.append(_findings.make_finding(
                    'rootless-socket-shared', 'medium', None, subject,
                    'Rootless Docker socket is group-writable and group %s has other members '
                    '(%s): they can act as %s.' % (sock['group'] or sock['gid'], ', '.join(others),
                                                   sock['owner'] or sock['uid']), evidence))
            continue
        if not mode & stat.S_IWOTH and mode & ~0o660:
            findings.append(_findings.make_finding(
                'socket-permissions', 'high', '3.16', subject,
                'Docker socket mode %s is looser than 0660.' % sock['mode'], evidence))
        if sock['uid'] != 0 or (sock['gid'] != 0 and sock['group'] != 'docker'):
            findings.append(_findings.make_finding(
                'socket-ownership', 'high', '3.15', subject,
                'Docker socket is owned by %s:%s, expected root:docker (or root:root).'
                % (sock['owner'] or sock['uid'], sock['group'] or sock['gid']), evidence))
        if mode & stat.S_IWGRP:
            for member in sock['reach']['group_members']:
                if member['uid'] == 0 or member['name'] == 'root':
                    continue
                member_sockets.setdefault(member['name'], {'member': member, 'sockets': [],
                                                           'groups': set()})
                member_sockets[member['name']]['sockets'].append(sock['path'])
                member_sockets[member['name']]['groups'].add(sock['group'] or str(sock['gid']))
    allow_users, allow_groups = list(allow_users or ()), list(allow_groups or ())
    for name in sorted(member_sockets):
        if _allowed(name, allow_users, allow_groups, groups, users):
            continue
        entry = member_sockets[name]
        findings.append(_findings.make_finding(
            'docker-group-member', 'high', '1.1.2', 'user:%s' % name,
            'User %s can reach the rootful Docker socket through group %s: that is '
            'passwordless root on this host.' % (name, ', '.join(sorted(entry['groups']))),
            {'user': name, 'uid': entry['member']['uid'], 'via': entry['member']['via'],
             'groups': sorted(entry['groups']), 'sockets': entry['sockets']}))
    return findings


# --------------------------------------------------------------------------------------
# TCP endpoints
# --------------------------------------------------------------------------------------


def tls_state(args, config):
    """Effective TLS settings from dockerd flags and daemon.json (flags win when set)."""
    config = config if isinstance(config, dict) else {}

    def pick(key, json_key=None):
        value = args.get(key) if args else None
        return value if value is not None else config.get(json_key or key)

    verify = bool(pick('tlsverify'))
    tls = bool(pick('tls')) or verify
    return {'tls': tls, 'tlsverify': verify, 'tlscacert': pick('tlscacert'),
            'tlscert': pick('tlscert'), 'tlskey': pick('tlskey')}


def configured_tcp(args, config, tls):
    """TCP endpoints from -H/--host flags and daemon.json hosts -> list of dicts."""
    config = config if isinstance(config, dict) else {}
    sources = []
    for value in (args or {}).get('hosts') or []:
        sources.append((value, 'cmdline'))
    hosts = config.get('hosts')
    if isinstance(hosts, str):
        hosts = [hosts]
    for value in hosts or []:
        if isinstance(value, str):
            sources.append((value, 'daemon.json'))
    endpoints = []
    for value, source in sources:
        parsed = _proc_parsers.parse_docker_host(value, tls=tls['tls'])
        if parsed['scheme'] != 'tcp':
            continue
        endpoints.append({'address': parsed['host'], 'port': parsed['port'], 'raw': value,
                          'sources': [source]})
    return endpoints


def dockerd_listeners(net_entries, inodes):
    """LISTEN sockets (state 0A) among /proc/net/tcp{,6} entries held by dockerd."""
    inodes = set(inodes or ())
    seen = set()
    found = []
    for entry in net_entries:
        if entry['state'] != '0A' or entry['inode'] not in inodes:
            continue
        key = (entry['local_address'], entry['local_port'])
        if key in seen:
            continue
        seen.add(key)
        found.append({'address': entry['local_address'], 'port': entry['local_port'],
                      'family': entry['family'], 'inode': entry['inode']})
    return found


def _metrics_port(args, config):
    value = (args or {}).get('metrics_addr') or (config or {}).get('metrics-addr')
    if not value:
        return None
    try:
        return int(str(value).rsplit(':', 1)[1])
    except (IndexError, ValueError):
        return None


def merge_endpoints(daemon_id, configured, listeners, tls, args=None, config=None, netns=None):
    """Configured endpoints and observed listeners of one daemon -> endpoint list.

    A listener matches a configured endpoint on the same port. Listeners that match
    nothing are classified as swarm, metrics or unknown ('role').
    """
    endpoints = []
    by_port = {}
    for item in configured:
        key = item['port']
        if key in by_port:
            by_port[key]['sources'] = sorted(set(by_port[key]['sources'] + item['sources']))
            continue
        entry = dict(item, daemon=daemon_id, role='api', listening=False, listen_addresses=[],
                     netns=netns)
        entry.update(tls)
        by_port[key] = entry
        endpoints.append(entry)
    metrics = _metrics_port(args, config)
    for listener in listeners:
        entry = by_port.get(listener['port'])
        if entry is not None:
            entry['listening'] = True
            entry['listen_addresses'].append(listener['address'])
            continue
        role = 'swarm' if listener['port'] in SWARM_PORTS else (
            'metrics' if listener['port'] == metrics else 'unknown')
        entry = {'address': listener['address'], 'port': listener['port'], 'raw': None,
                 'sources': ['listen'], 'daemon': daemon_id, 'role': role, 'listening': True,
                 'listen_addresses': [listener['address']], 'netns': netns}
        entry.update(tls if role == 'unknown' else {'tls': None, 'tlsverify': None, 'tlscacert': None,
                                                    'tlscert': None, 'tlskey': None})
        by_port[listener['port']] = entry
        endpoints.append(entry)
    for entry in endpoints:
        if entry['listening'] and 'listen' not in entry['sources']:
            entry['sources'] = sorted(set(entry['sources'] + ['listen']))
        addresses = [entry['address']] + entry['listen_addresses']
        entry['loopback'] = all(_proc_parsers.is_loopback(a) for a in addresses)
    return endpoints


def tcp_findings(endpoints):
    findings = []
    for ep in endpoints:
        address = ep['address'] or ''
        subject = 'tcp:%s:%s' % ('[%s]' % address if ':' in address else address, ep['port'])
        evidence = dict((k, ep.get(k)) for k in ('daemon', 'raw', 'sources', 'listening',
                                                 'listen_addresses', 'loopback', 'tls',
                                                 'tlsverify', 'tlscacert', 'netns'))
        where = 'loopback' if ep['loopback'] else 'a non-loopback address'
        if ep['role'] in ('swarm', 'metrics'):
            findings.append(_findings.make_finding(
                'dockerd-listener-info', 'info', None, subject,
                'dockerd listens on %s port %d (%s).' % (
                    where, ep['port'], SWARM_PORTS.get(ep['port'], 'metrics endpoint')), evidence))
            continue
        if ep['role'] == 'unknown':
            findings.append(_findings.make_finding(
                'dockerd-listener-unknown', 'medium', None, subject,
                'dockerd listens on %s port %d that is no configured API endpoint; '
                'check it is not an unauthenticated API.' % (where, ep['port']), evidence))
            continue
        if not ep['tls']:
            findings.append(_findings.make_finding(
                'tcp-no-tls', 'high' if ep['loopback'] else 'critical', '2.7', subject,
                'Docker API on TCP %s without TLS: anyone who can connect is root on the host.'
                % where, evidence))
        elif not ep['tlsverify']:
            findings.append(_findings.make_finding(
                'tcp-tls-no-verify', 'medium' if ep['loopback'] else 'high', '2.7', subject,
                'Docker API on TCP %s uses TLS without client certificate verification '
                '(--tls without --tlsverify): any client is accepted.' % where, evidence))
    return findings


# --------------------------------------------------------------------------------------
# Unit files
# --------------------------------------------------------------------------------------


def unit_files(fs, unit_dirs, groups, users):
    """docker.service, docker.socket and their drop-ins in the systemd unit directories."""
    found = []
    seen = set()
    for directory in unit_dirs:
        for unit in ('docker.service', 'docker.socket'):
            candidates = [(unit, '%s/%s' % (directory, unit))]
            dropins = fs.listdir('%s/%s.d' % (directory, unit), missing_ok=True) or []
            candidates += [(unit, '%s/%s.d/%s' % (directory, unit, n)) for n in sorted(dropins)
                           if n.endswith('.conf')]
            for unit_name, path in candidates:
                st = fs.stat(path, missing_ok=True)
                if st is None or (st.st_dev, st.st_ino) in seen:
                    continue  # /lib is /usr/lib on merged-/usr systems: report a file once
                seen.add((st.st_dev, st.st_ino))
                lst = fs.stat(path, missing_ok=True, follow=False)
                found.append({
                    'unit': unit_name, 'path': path,
                    'regular_file': stat.S_ISREG(st.st_mode),
                    'is_symlink': bool(lst is not None and stat.S_ISLNK(lst.st_mode)),
                    'uid': st.st_uid, 'gid': st.st_gid,
                    'owner': _daemons.user_name(users, st.st_uid),
                    'group': group_name(groups, st.st_gid),
                    'mode': _proc_parsers.mode_string(st.st_mode),
                    'mode_bits': stat.S_IMODE(st.st_mode),
                })
    return found


def unit_findings(units):
    findings = []
    for unit in units:
        if not unit['regular_file']:
            continue
        own_cis, perm_cis = UNIT_CIS[unit['unit']]
        subject = 'file:%s' % unit['path']
        evidence = dict((k, unit[k]) for k in ('unit', 'owner', 'group', 'uid', 'gid', 'mode'))
        if unit['uid'] != 0 or unit['gid'] != 0:
            findings.append(_findings.make_finding(
                'unit-file-ownership', 'medium', own_cis, subject,
                '%s is owned by %s:%s, expected root:root.' % (
                    unit['path'], unit['owner'] or unit['uid'], unit['group'] or unit['gid']),
                evidence))
        if unit['mode_bits'] & 0o022:
            findings.append(_findings.make_finding(
                'unit-file-permissions', 'medium', perm_cis, subject,
                '%s is writable by group or others (%s): they can change how dockerd starts.'
                % (unit['path'], unit['mode']), evidence))
        elif unit['mode_bits'] & ~0o644:
            findings.append(_findings.make_finding(
                'unit-file-permissions', 'low', perm_cis, subject,
                '%s mode %s is looser than 0644.' % (unit['path'], unit['mode']), evidence))
    return findings


# --------------------------------------------------------------------------------------
# Containers mounting a socket
# --------------------------------------------------------------------------------------


def _norm(path):
    path = _daemons.canonical_socket_path(path or '')
    return path.rstrip('/') or '/'


#: Entries of a bind-mounted directory looked at for a hard link of a Docker socket.
DIR_ENTRY_LIMIT = mount_scan.DIR_ENTRY_LIMIT

#: Checks that need a daemon's Engine API, with the severity of what they find.
API_CHECKS = {'container-mounts-socket': 'high'}


def _mount_match(source, known, fs, inodes, truncated=None):
    """How ``source`` exposes a Docker socket, or None. ``known`` are canonical socket paths,
    ``inodes`` the (st_dev, st_ino) of the Docker sockets found on the host. A directory
    with more than DIR_ENTRY_LIMIT entries is appended to ``truncated``."""
    norm = _norm(source)
    if norm in known:
        return 'socket'
    st_ = fs.stat(source, missing_ok=True) if fs is not None else None
    if mount_scan.socket_inode(st_) in inodes:
        return 'hard_link'  # another name of the same socket
    if norm.endswith('docker.sock'):
        return 'name'
    prefix = norm if norm.endswith('/') else norm + '/'
    if any(k.startswith(prefix) for k in known):
        return 'parent_directory'
    # A hard link is on its socket's file system: other directories cannot hold one.
    if st_ is not None and stat.S_ISDIR(st_.st_mode) and st_.st_dev in set(d for d, _i in inodes):
        names, cut = fs.special_entries(source, DIR_ENTRY_LIMIT)
        if cut and truncated is not None:
            truncated.append(source)
        for entry in names or ():
            if mount_scan.socket_inode(fs.stat(prefix + entry, missing_ok=True, follow=False)) in inodes:
                return 'hard_link_in_directory'
    return None


def socket_mounts(daemon_id, containers, socket_paths, fs=None, inodes=(), truncated=None):
    """Bind mounts of running containers (the Engine API's Mounts) that expose a Docker socket.

    A mount matches when its Source is a known Docker socket, another name (hard link) of
    one (same device and inode, when ``fs`` is given), ends in docker.sock, is a directory
    that holds a known socket (e.g. /run or /var/run), or a directory of a known socket's
    file system with a hard link of one among its first DIR_ENTRY_LIMIT entries.
    Directories with more entries are appended to ``truncated`` as {'daemon',
    'container_id', 'directory'}.
    """
    known = [_norm(p) for p in socket_paths]
    inodes = set(inodes)
    hits = []
    for container in containers:
        for mount in container.get('Mounts') or []:
            source = mount.get('Source') or ''
            if not source:
                continue
            cut = []
            reason = _mount_match(source, known, fs, inodes, cut)
            if cut and truncated is not None:
                truncated.append({'daemon': daemon_id, 'container_id': (container.get('Id') or '')[:12],
                                  'directory': source})
            if reason is None:
                continue
            names = container.get('Names') or ['']
            hits.append({'daemon': daemon_id, 'container_id': (container.get('Id') or '')[:12],
                         'name': names[0].lstrip('/'), 'image': container.get('Image'),
                         'source': source, 'destination': mount.get('Destination'),
                         'read_write': mount.get('RW'), 'match': reason,
                         'found_by': ['engine_api'], 'pid': None, 'process': None})
    return hits


def _covers(outer, inner):
    return mount_scan.below(_norm(inner), _norm(outer)) is not None


def merge_mounts(api_hits, proc_hits):
    """API hits, plus /proc hits of mounts the API did not report.

    A /proc hit of the same container at the same destination (or below it: a submount
    of a recursively bind-mounted directory), or of the same host source (the container's
    path may differ where its image has symlinks, /var/run -> /run), is the same exposure:
    it adds 'proc' to the API hit's 'found_by' (and its pid) instead of a second entry. /proc hits below another
    /proc hit of the same container are folded the same way.
    """
    merged = [dict(h) for h in api_hits]
    for hit in sorted(proc_hits, key=lambda h: (h['container_id'], len(_norm(h['destination'])),
                                                h['destination'])):
        same = [m for m in merged if m['container_id'] == hit['container_id']
                and (_covers(m['destination'] or '/', hit['destination'])
                     or (hit.get('source') and _norm(m['source']) == _norm(hit['source'])))]
        if same:
            target = same[0]
            if 'proc' not in target['found_by']:
                target['found_by'] = target['found_by'] + ['proc']
            for key in ('pid', 'process'):
                if target.get(key) is None:
                    target[key] = hit.get(key)
            if _norm(target['destination'] or '/') != _norm(hit['destination']):
                target.setdefault('submounts', []).append(
                    dict((k, hit.get(k)) for k in ('destination', 'source', 'socket', 'match')))
            continue
        entry = {'daemon': hit['daemon'], 'container_id': hit['container_id'], 'name': hit.get('name'),
                 'image': hit.get('image'), 'source': hit.get('source') or hit.get('socket'),
                 'destination': hit['destination'], 'read_write': hit.get('read_write'),
                 'match': hit['match'], 'found_by': ['proc'], 'pid': hit.get('pid'),
                 'process': hit.get('process')}
        for key in ('socket', 'path_in_container'):
            if hit.get(key):
                entry[key] = hit[key]
        merged.append(entry)
    return merged


def mount_findings(mounts):
    findings = []
    for hit in mounts:
        who = hit['name'] or hit['container_id']
        findings.append(_findings.make_finding(
            'container-mounts-socket', API_CHECKS['container-mounts-socket'], '5.31',
            'container:%s/%s' % (hit['daemon'], who),
            'Container %s mounts %s at %s (%s): whoever controls the container controls the '
            'Docker daemon%s.' % (who, hit['source'], hit['destination'], hit['match'].replace('_', ' '),
                                  '' if hit['daemon'].startswith(('rootless', 'desktop')) else ' and the host'),
            hit))
    return findings


def skipped_check(daemon, check, reason, kind, covered=None):
    """An entry of the result's skipped_checks. ``kind``: unanswered (the Engine API did not
    answer), not_asked (query_api=false), truncated (a listing was cut off)."""
    entry = {'daemon': daemon, 'check': check, 'reason': reason, 'kind': kind,
             'severity': API_CHECKS.get(check, 'high')}
    if covered is not None:
        entry['covered_by_proc_scan'] = covered
    return entry


def gap_findings(skipped, daemons_by_key, scan):
    """One audit-incomplete finding per daemon whose checks were skipped for a reason other
    than the operator's choice (query_api=false), as severe as what they would have found."""
    findings = []
    grouped = {}
    for entry in skipped:
        if entry['kind'] != 'not_asked':
            grouped.setdefault(entry['daemon'], []).append(entry)
    for key in sorted(grouped, key=str):
        entries = grouped[key]
        daemon = daemons_by_key.get(key) or {}
        checks = sorted(set(e['check'] for e in entries))
        worst = _findings.max_severity([{'severity': e['severity']} for e in entries])
        covered = all(e.get('covered_by_proc_scan') for e in entries)
        if scan['ran'] and covered:
            cover = ('The /proc scan covered socket mounts in its place (%d container mount '
                     'namespace(s) looked at).' % scan['containers'])
        else:
            cover = 'The /proc scan did not cover socket mounts in its place (%s).' % (
                scan.get('reason') or 'incomplete')
        where = 'for daemon %s' % key if key else 'on this host'
        findings.append(_findings.make_finding(
            'audit-incomplete', worst, None, 'daemon:%s' % key if key else 'host',
            'Not checked %s (findings up to %s): %s; %s. %s' % (
                where, worst, ', '.join(checks), '; '.join(e['reason'] for e in entries), cover),
            {'daemon': key, 'sockets': daemon.get('sockets'), 'pid': daemon.get('pid'),
             'error': daemon.get('_api_error'), 'attempts': daemon.get('_api_attempts'),
             'skipped_checks': checks, 'covered_by_proc_scan': bool(scan['ran'] and covered),
             'reasons': [e['reason'] for e in entries]}))
    return findings


def summarize(sockets, endpoints, findings):
    counts = _findings.count_by_severity(findings)
    worst = _findings.max_severity(findings)
    text = '%d socket(s), %d TCP endpoint(s); findings: %s' % (
        len(sockets), len(endpoints),
        ', '.join('%d %s' % (counts[s], s) for s in reversed(_findings.SEVERITIES) if counts[s]) or 'none')
    return {'sockets': len(sockets), 'tcp_endpoints': len(endpoints), 'counts': counts,
            'max_severity': worst,
            'max_severity_rank': _findings.severity_rank(worst) if worst else -1, 'text': text}


# --------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------


def _public_socket(sock):
    return dict((k, v) for k, v in sock.items() if k not in ('mode_bits', 'inode'))


def run_audit(fs, allow_users=(), allow_groups=(), unit_dirs=UNIT_DIRS, query_api=True,
              timeout=DEFAULT_TIMEOUT, query=query_daemon, connect_idle_sockets=False):
    """Audit the host behind ``fs`` (a _hostfs.HostFS). Returns the module result body."""
    daemons, context = _daemons.discover_daemons(fs, with_fds=True)
    users = context['users']
    groups = _proc_parsers.parse_etc_group(fs.read_text('/etc/group', missing_ok=True))

    sockets, seen_inodes = [], {}
    endpoints, findings, skipped, idle = [], [], [], []
    net_cache = {}
    # Containers /proc shows: when there are some, GET /info and one inspection each cost
    # less than dockerd's listing, which looks up every container's image
    # (engine_api._inspect_candidates); the listing is still asked when they are not all.
    candidates = None
    if query_api and any(d.get('pid') is not None or connect_idle_sockets for d in daemons):
        candidates = mount_scan.container_ids(fs) or None
    audited = sorted(daemons, key=lambda d: d['key'])
    if not any(d['kind'] == 'rootful' for d in daemons) and fs.exists('/etc/docker/daemon.json'):
        # Docker installed but not running: its configuration still says what it will expose.
        config, error = _daemons.load_daemon_json(fs, '/etc/docker/daemon.json')
        audited.append({'key': 'rootful', 'kind': 'rootful', 'pid': None, 'process': None,
                        'sockets': [], 'uid': 0, 'config_only': True, 'mount_prefix': '',
                        'config': config, 'config_path': '/etc/docker/daemon.json',
                        'config_error': error})
    for daemon in audited:
        proc = daemon.get('process')
        rootless = daemon['kind'] in _daemons.USER_KINDS
        config = daemon['config'] if isinstance(daemon['config'], dict) else {}
        args = proc['args'] if proc else {}

        # unix sockets: from the process and daemon.json hosts
        paths = list(daemon['sockets'])
        paths += [daemon['mount_prefix'] + p for p in _daemons.config_unix_sockets(config)
                  if daemon['mount_prefix'] + p not in paths]
        for path in paths:
            info = socket_info(fs, path, groups, users)
            if info is None:
                continue
            if info['inode'] in seen_inodes:
                seen_inodes[info['inode']]['daemons'].append(daemon['key'])
                continue
            info.update({'kind': daemon['kind'], 'daemon': daemon['key'], 'daemons': [daemon['key']],
                         'daemon_uid': daemon.get('uid') if rootless else 0})
            info['reach'] = who_can_reach(info, groups, users)
            seen_inodes[info['inode']] = info
            sockets.append(info)

        # TCP endpoints
        tls = tls_state(args, config)
        configured = configured_tcp(args, config, tls)
        listeners, netns = [], None
        if proc:
            netns = proc['ns'].get('net')
            cache_key = netns or 'pid%d' % proc['pid']
            if cache_key not in net_cache:
                entries = []
                for name in ('tcp', 'tcp6'):
                    entries += _proc_parsers.parse_net_tcp(
                        fs.read_text('/proc/%d/net/%s' % (proc['pid'], name), missing_ok=True))
                net_cache[cache_key] = entries
            listeners = dockerd_listeners(net_cache[cache_key], proc.get('socket_inodes'))
        init_net = context['init_ns'].get('net')
        where = None if not netns or not init_net else ('host' if netns == init_net else 'daemon')
        endpoints.extend(merge_endpoints(daemon['key'], configured, listeners, tls, args, config, where))

        # containers bind-mounting a socket, from the Engine API
        if not daemon['sockets'] or daemon.get('config_only'):
            continue
        if not query_api:
            skipped.append(skipped_check(daemon['key'], 'container-mounts-socket',
                                         'the Engine API was not asked (query_api=false)', 'not_asked'))
        elif _daemons.awaits_process(daemon) and not connect_idle_sockets:
            # No dockerd runs: with socket activation a connection would start one.
            idle.append(daemon)
        else:
            api = None
            for path in [p for p in daemon['sockets'] if fs.exists(p)] or daemon['sockets'][:1]:
                # Docker Desktop's containers are its VM's: /proc's candidates are not theirs
                own = None if daemon['kind'] == 'desktop' else candidates
                api = query(fs.path(path), timeout=timeout, containers=True, candidates=own,
                            inspect=own is not None, info=own is not None)
                if api.get('reachable'):
                    break
            if api.get('reachable') and api.get('error') is None:
                daemon['_containers'] = api.get('containers') or []
                daemon['_listed_by'] = api.get('listed_by')
            else:
                daemon['_api_error'] = api.get('error')
                daemon['_api_attempts'] = api.get('attempts') or 0
                skipped.append(skipped_check(
                    daemon['key'], 'container-mounts-socket',
                    '%s (%s; %d attempt(s))' % (
                        'the Engine API gave no container listing' if api.get('reachable')
                        else 'the Engine API did not answer', api.get('error'), api.get('attempts') or 0),
                    'unanswered'))

    all_socket_paths = [s['path'] for s in sockets] + [
        p for d in daemons for p in d['sockets']] + list(_daemons.ROOTFUL_SOCKETS)
    inodes = set(s['inode'] for s in sockets if s['is_socket'])
    api_hits, cut = [], []
    for daemon in sorted(daemons, key=lambda d: d['key']):
        if daemon['kind'] == 'desktop':
            # Its containers' bind sources are paths of Docker Desktop's VM: matched against
            # the VM's own engine socket by path only, never stat'ed on this host.
            api_hits.extend(socket_mounts(daemon['key'], daemon.get('_containers') or [],
                                          list(_daemons.ROOTFUL_SOCKETS)))
            continue
        api_hits.extend(socket_mounts(daemon['key'], daemon.get('_containers') or [], all_socket_paths,
                                      fs=fs, inodes=inodes, truncated=cut))
    for item in cut:
        skipped.append(skipped_check(
            item['daemon'], 'container-mounts-socket',
            'directory %s mounted by container %s has more than %d entries: only the first %d '
            'were looked at for a hard link of a Docker socket' % (
                item['directory'], item['container_id'], DIR_ENTRY_LIMIT, DIR_ENTRY_LIMIT), 'truncated'))

    # containers mounting a socket, from /proc (also when the API did not answer)
    proc_hits, scan = mount_scan.scan(
        fs, [{'path': s['path'], 'inode': s['inode']} for s in sockets if s['is_socket']], daemons)
    # Where the Engine API answered, it covered socket mounts: the scan's own limits matter
    # only for daemons it did not cover.
    uncovered = bool(idle) or any(e['kind'] in ('unanswered', 'not_asked') for e in skipped)
    for item in scan['directories_truncated'] if uncovered else ():
        skipped.append(skipped_check(
            None, 'container-mounts-socket',
            'directory %s of container %s (/proc scan) has more than %d entries: only the first '
            '%d were looked at for a hard link of a Docker socket' % (
                item['directory'], item['container_id'], DIR_ENTRY_LIMIT, DIR_ENTRY_LIMIT), 'truncated'))
    if scan['truncated'] and uncovered:
        skipped.append(skipped_check(
            None, 'container-mounts-socket',
            '%d mount namespace(s) beyond the first %d were not looked at (/proc scan)' % (
                scan['truncated'], mount_scan.MAX_NAMESPACES), 'truncated'))
    for entry in skipped:
        if entry['check'] == 'container-mounts-socket' and entry['kind'] != 'truncated':
            entry['covered_by_proc_scan'] = bool(scan['complete'] and scan['ran'])
    mounts = merge_mounts(api_hits, proc_hits)
    by_key = dict((d['key'], d) for d in daemons)
    listed = {}
    for daemon in daemons:
        for item in daemon.get('_containers') or []:
            listed[(item.get('Id') or '')[:12]] = ((item.get('Names') or [''])[0].lstrip('/') or None,
                                                   item.get('Image'))
    full_ids = dict((p['container_id'], p['full_id']) for p in proc_hits)
    details = {}  # container id -> (name, image): one config.v2.json read per container
    for hit in mounts:
        container = hit['container_id']
        if hit['name'] is not None:
            continue
        if container in listed:
            hit['name'], hit['image'] = listed[container]
            continue
        if container not in details:
            # Not listed by the API (it did not answer, was not asked): dockerd's own file.
            owner = by_key.get(hit['daemon'])
            root = mount_scan.data_root(owner, users) if owner else None
            details[container] = (mount_scan.container_details(fs, root, full_ids[container])
                                  if root and container in full_ids else (None, None))
        hit['name'], hit['image'] = details[container]

    units = unit_files(fs, unit_dirs, groups, users)
    findings.extend(socket_findings(sockets, groups, users, allow_users, allow_groups))
    findings.extend(tcp_findings(endpoints))
    findings.extend(unit_findings(units))
    findings.extend(mount_findings(mounts))
    findings.extend(_audit_module.idle_finding(d['key'], d['sockets'], 'socket_exposure') for d in idle)
    findings.extend(gap_findings(skipped, by_key, scan))
    findings.extend(_findings.incomplete_finding(fs.errors, 'socket_exposure'))
    findings = _findings.sort_findings(findings)
    skipped.extend(_audit_module.unreadable_checks(fs.errors))
    return {
        'sockets': [_public_socket(s) for s in sockets],
        'tcp_endpoints': endpoints,
        'unit_files': [dict((k, v) for k, v in u.items() if k != 'mode_bits') for u in units],
        'socket_mounts': mounts,
        'daemons': [{'id': d['key'], 'kind': d['kind'], 'pid': d.get('pid'), 'sockets': d['sockets'],
                     'containers_listed_by': d.get('_listed_by')}
                    for d in sorted(daemons, key=lambda d: d['key'])],
        'findings': findings,
        'summary': summarize(sockets, endpoints, findings),
        'complete': not skipped,
        'skipped_checks': [_audit_module.public_skipped(e) for e in skipped],
        'mount_scan': scan,
        'errors': list(fs.errors),
        'scan': context['stats'],
    }
