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
container-mounts-socket     high                5.31    a running container bind-mounts a Docker
                                                        socket or a directory holding one
daemon-unreachable          low                 -       socket mounts of that daemon not audited
audit-incomplete            low                 -       permission denied on some paths
==========================  ==================  ======  ==========================================
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import stat

from ansible_collections.nsguard.docker.plugins.module_utils import procfs
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
        'owner': procfs.user_name(users, st.st_uid),
        'group': group_name(groups, st.st_gid),
        'mode': procfs.mode_string(st.st_mode),
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
        rootless = sock['kind'] == 'rootless'
        if mode & stat.S_IWOTH:
            findings.append(procfs.make_finding(
                'socket-world-writable', 'high' if rootless else 'critical', '3.16', subject,
                'Docker socket is world-writable (%s): every local user can %s.'
                % (sock['mode'], 'act as %s' % (sock['owner'] or sock['uid']) if rootless
                   else 'become root'), evidence))
        if rootless:
            owner_uid = sock.get('daemon_uid')
            if owner_uid is not None and sock['uid'] != owner_uid:
                findings.append(procfs.make_finding(
                    'socket-ownership', 'high', '3.15', subject,
                    'Rootless Docker socket is owned by uid %d, not by its daemon user %d.'
                    % (sock['uid'], owner_uid), evidence))
            others = [m['name'] for m in sock['reach']['group_members']
                      if m['uid'] != sock['uid'] and m['uid'] != 0]
            if mode & stat.S_IWGRP and others:
                evidence = dict(evidence, members=others)
                findings.append(procfs.make_finding(
                    'rootless-socket-shared', 'medium', None, subject,
                    'Rootless Docker socket is group-writable and group %s has other members '
                    '(%s): they can act as %s.' % (sock['group'] or sock['gid'], ', '.join(others),
                                                   sock['owner'] or sock['uid']), evidence))
            continue
        if not mode & stat.S_IWOTH and mode & ~0o660:
            findings.append(procfs.make_finding(
                'socket-permissions', 'high', '3.16', subject,
                'Docker socket mode %s is looser than 0660.' % sock['mode'], evidence))
        if sock['uid'] != 0 or (sock['gid'] != 0 and sock['group'] != 'docker'):
            findings.append(procfs.make_finding(
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
        findings.append(procfs.make_finding(
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
        parsed = procfs.parse_docker_host(value, tls=tls['tls'])
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
        entry['loopback'] = all(procfs.is_loopback(a) for a in addresses)
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
            findings.append(procfs.make_finding(
                'dockerd-listener-info', 'info', None, subject,
                'dockerd listens on %s port %d (%s).' % (
                    where, ep['port'], SWARM_PORTS.get(ep['port'], 'metrics endpoint')), evidence))
            continue
        if ep['role'] == 'unknown':
            findings.append(procfs.make_finding(
                'dockerd-listener-unknown', 'medium', None, subject,
                'dockerd listens on %s port %d that is no configured API endpoint; '
                'check it is not an unauthenticated API.' % (where, ep['port']), evidence))
            continue
        if not ep['tls']:
            findings.append(procfs.make_finding(
                'tcp-no-tls', 'high' if ep['loopback'] else 'critical', '2.7', subject,
                'Docker API on TCP %s without TLS: anyone who can connect is root on the host.'
                % where, evidence))
        elif not ep['tlsverify']:
            findings.append(procfs.make_finding(
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
                    'owner': procfs.user_name(users, st.st_uid),
                    'group': group_name(groups, st.st_gid),
                    'mode': procfs.mode_string(st.st_mode),
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
            findings.append(procfs.make_finding(
                'unit-file-ownership', 'medium', own_cis, subject,
                '%s is owned by %s:%s, expected root:root.' % (
                    unit['path'], unit['owner'] or unit['uid'], unit['group'] or unit['gid']),
                evidence))
        if unit['mode_bits'] & 0o022:
            findings.append(procfs.make_finding(
                'unit-file-permissions', 'medium', perm_cis, subject,
                '%s is writable by group or others (%s): they can change how dockerd starts.'
                % (unit['path'], unit['mode']), evidence))
        elif unit['mode_bits'] & ~0o644:
            findings.append(procfs.make_finding(
                'unit-file-permissions', 'low', perm_cis, subject,
                '%s mode %s is looser than 0644.' % (unit['path'], unit['mode']), evidence))
    return findings


# --------------------------------------------------------------------------------------
# Containers mounting a socket
# --------------------------------------------------------------------------------------


def _norm(path):
    path = procfs.canonical_socket_path(path or '')
    return path.rstrip('/') or '/'


def socket_mounts(daemon_id, containers, socket_paths):
    """Bind mounts of running containers that expose a Docker socket.

    A mount matches when its Source is a known Docker socket, ends in docker.sock, or
    is a directory that holds a known socket (e.g. /run or /var/run).
    """
    known = [_norm(p) for p in socket_paths]
    hits = []
    for container in containers:
        for mount in container.get('Mounts') or []:
            source = mount.get('Source') or ''
            if not source:
                continue
            norm = _norm(source)
            reason = None
            if norm in known:
                reason = 'socket'
            elif norm.endswith('docker.sock'):
                reason = 'name'
            else:
                prefix = norm if norm.endswith('/') else norm + '/'
                if any(k.startswith(prefix) for k in known):
                    reason = 'parent_directory'
            if reason is None:
                continue
            names = container.get('Names') or ['']
            hits.append({'daemon': daemon_id, 'container_id': (container.get('Id') or '')[:12],
                         'name': names[0].lstrip('/'), 'image': container.get('Image'),
                         'source': source, 'destination': mount.get('Destination'),
                         'read_write': mount.get('RW'), 'match': reason})
    return hits


def mount_findings(mounts):
    findings = []
    for hit in mounts:
        findings.append(procfs.make_finding(
            'container-mounts-socket', 'high', '5.31',
            'container:%s/%s' % (hit['daemon'], hit['name'] or hit['container_id']),
            'Container %s mounts %s at %s (%s): whoever controls the container controls the '
            'Docker daemon%s.' % (hit['name'] or hit['container_id'], hit['source'],
                                  hit['destination'], hit['match'].replace('_', ' '),
                                  '' if hit['daemon'].startswith('rootless') else ' and the host'),
            hit))
    return findings


def summarize(sockets, endpoints, findings):
    counts = procfs.count_by_severity(findings)
    worst = procfs.max_severity(findings)
    text = '%d socket(s), %d TCP endpoint(s); findings: %s' % (
        len(sockets), len(endpoints),
        ', '.join('%d %s' % (counts[s], s) for s in reversed(procfs.SEVERITIES) if counts[s]) or 'none')
    return {'sockets': len(sockets), 'tcp_endpoints': len(endpoints), 'counts': counts,
            'max_severity': worst,
            'max_severity_rank': procfs.severity_rank(worst) if worst else -1, 'text': text}


# --------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------


def _public_socket(sock):
    return dict((k, v) for k, v in sock.items() if k not in ('mode_bits', 'inode'))


def run_audit(fs, allow_users=(), allow_groups=(), unit_dirs=UNIT_DIRS, query_api=True,
              timeout=DEFAULT_TIMEOUT, query=query_daemon):
    """Audit the host behind ``fs`` (a procfs.HostFS). Returns the module result body."""
    daemons, context = procfs.discover_daemons(fs, with_fds=True)
    users = context['users']
    groups = procfs.parse_etc_group(fs.read_text('/etc/group', missing_ok=True))

    sockets, seen_inodes = [], {}
    endpoints, mounts, findings = [], [], []
    net_cache = {}
    audited = sorted(daemons, key=lambda d: d['key'])
    if not any(d['kind'] == 'rootful' for d in daemons) and fs.exists('/etc/docker/daemon.json'):
        # Docker installed but not running: its configuration still says what it will expose.
        config, error = procfs.load_daemon_json(fs, '/etc/docker/daemon.json')
        audited.append({'key': 'rootful', 'kind': 'rootful', 'pid': None, 'process': None,
                        'sockets': [], 'uid': 0, 'config_only': True, 'mount_prefix': '',
                        'config': config, 'config_path': '/etc/docker/daemon.json',
                        'config_error': error})
    for daemon in audited:
        proc = daemon.get('process')
        rootless = daemon['kind'] == 'rootless'
        config = daemon['config'] if isinstance(daemon['config'], dict) else {}
        args = proc['args'] if proc else {}

        # unix sockets: from the process and daemon.json hosts
        paths = list(daemon['sockets'])
        paths += [daemon['mount_prefix'] + p for p in procfs.config_unix_sockets(config)
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
                    entries += procfs.parse_net_tcp(
                        fs.read_text('/proc/%d/net/%s' % (proc['pid'], name), missing_ok=True))
                net_cache[cache_key] = entries
            listeners = dockerd_listeners(net_cache[cache_key], proc.get('socket_inodes'))
        init_net = context['init_ns'].get('net')
        where = None if not netns or not init_net else ('host' if netns == init_net else 'daemon')
        endpoints.extend(merge_endpoints(daemon['key'], configured, listeners, tls, args, config, where))

        # containers bind-mounting a socket
        if query_api and daemon['sockets']:
            api = None
            for path in [p for p in daemon['sockets'] if fs.exists(p)] or daemon['sockets'][:1]:
                api = query(fs.path(path), timeout=timeout, containers=True, inspect=False, info=False)
                if api.get('reachable'):
                    break
            if api.get('reachable') and api.get('error') is None:
                daemon['_containers'] = api.get('containers') or []
            else:
                findings.append(procfs.make_finding(
                    'daemon-unreachable', 'low', None, 'daemon:%s' % daemon['key'],
                    'The Engine API did not answer (%s): containers mounting a Docker socket '
                    'were not checked for this daemon.' % api.get('error'),
                    {'sockets': daemon['sockets'], 'pid': daemon.get('pid'), 'error': api.get('error')}))

    all_socket_paths = [s['path'] for s in sockets] + [
        p for d in daemons for p in d['sockets']] + list(procfs.ROOTFUL_SOCKETS)
    for daemon in sorted(daemons, key=lambda d: d['key']):
        mounts.extend(socket_mounts(daemon['key'], daemon.get('_containers') or [], all_socket_paths))

    units = unit_files(fs, unit_dirs, groups, users)
    findings.extend(socket_findings(sockets, groups, users, allow_users, allow_groups))
    findings.extend(tcp_findings(endpoints))
    findings.extend(unit_findings(units))
    findings.extend(mount_findings(mounts))
    findings.extend(procfs.incomplete_finding(fs.errors, 'socket_exposure'))
    findings = procfs.sort_findings(findings)
    return {
        'sockets': [_public_socket(s) for s in sockets],
        'tcp_endpoints': endpoints,
        'unit_files': [dict((k, v) for k, v in u.items() if k != 'mode_bits') for u in units],
        'socket_mounts': mounts,
        'daemons': [{'id': d['key'], 'kind': d['kind'], 'pid': d.get('pid'), 'sockets': d['sockets']}
                    for d in sorted(daemons, key=lambda d: d['key'])],
        'findings': findings,
        'summary': summarize(sockets, endpoints, findings),
        'errors': list(fs.errors),
        'scan': context['stats'],
    }
