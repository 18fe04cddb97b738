# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Docker daemon discovery: running dockerd processes and Docker sockets merged into
daemons, with the sockets each serves and the daemon.json each reads.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.nsguard.docker.plugins.module_utils._hostfs import _kind_of
from ansible_collections.nsguard.docker.plugins.module_utils._proc_parsers import (
    parse_docker_host,
    parse_etc_passwd,
)
from ansible_collections.nsguard.docker.plugins.module_utils._processes import (
    describe_process,
    namespaces_of,
    scan_processes,
)


ROOTFUL_SOCKETS = ('/var/run/docker.sock', '/run/docker.sock')


def canonical_socket_path(path):
    """/var/run/x and /run/x are the same file on every supported distribution."""
    if path == '/var/run':
        return '/run'
    if path.startswith('/var/run/'):
        return '/run/' + path[len('/var/run/'):]
    return path


def rootless_socket_paths(fs):
    """/run/user/<uid>/docker.sock that exist -> [(uid, host path)]."""
    found = []
    for entry in fs.listdir('/run/user', missing_ok=True) or ():
        if not entry.isdigit():
            continue
        path = '/run/user/%s/docker.sock' % entry
        if fs.exists(path):
            found.append((int(entry), path))
    return sorted(found)


#: Docker Desktop for Linux: its engine runs in a VM, reached through this socket in the
#: user's home, served by the user's com.docker.backend (no socket activation).
DESKTOP_SOCKET = '.docker/desktop/docker.sock'
#: Daemon kinds whose sockets belong to one user, not to root.
USER_KINDS = ('rootless', 'desktop')


def desktop_socket_paths(fs, users):
    """<home>/.docker/desktop/docker.sock of the users of /etc/passwd that exist ->
    [(uid, host path)]."""
    found = []
    for user in users:
        home = user.get('home') or ''
        if home.startswith('/') and home.rstrip('/'):
            path = home.rstrip('/') + '/' + DESKTOP_SOCKET
            if fs.exists(path):
                found.append((user['uid'], path))
    return sorted(found)


def is_rootless_process(proc, init_ns):
    """Process evidence alone: own user namespace, or not running as root."""
    user_ns = proc['ns'].get('user')
    if user_ns and init_ns.get('user') and user_ns != init_ns['user']:
        return True
    if proc.get('euid') not in (None, 0):
        return True
    return bool(proc['args'].get('rootless'))


def mount_prefix(proc, init_ns):
    """'/proc/<pid>/root' for a rootful dockerd in another mount namespace (docker in
    docker): its paths are only reachable through it. '' otherwise; a rootless daemon's
    own mount namespace shares /run/user and the home directories with the host."""
    if is_rootless_process(proc, init_ns):
        return ''
    mnt, init_mnt = proc['ns'].get('mnt'), init_ns.get('mnt')
    if mnt and init_mnt and mnt != init_mnt:
        return '/proc/%d/root' % proc['pid']
    return ''


def config_hosts(config):
    """daemon.json 'hosts' (a string or a list) as a list of strings."""
    hosts = config.get('hosts') if isinstance(config, dict) else None
    if isinstance(hosts, str):
        hosts = [hosts]
    return [h for h in hosts if isinstance(h, str)] if isinstance(hosts, list) else []


def process_socket_paths(proc, init_ns, json_hosts=None):
    """Unix sockets a dockerd process serves, as host paths.

    -H unix://... paths (or, without -H, the daemon.json 'hosts') are taken as they are;
    fd:// (systemd socket activation) is the docker.socket unit's /run/docker.sock; with
    no hosts at all dockerd uses /var/run/docker.sock, or $XDG_RUNTIME_DIR/docker.sock
    (/run/user/<uid>) rootless. A rootful daemon in another mount namespace has its
    sockets in that namespace: those are reached through /proc/<pid>/root.
    """
    rootless = is_rootless_process(proc, init_ns)
    hosts = list(proc['args'].get('hosts') or []) or list(json_hosts or [])
    paths = []
    for parsed in (parse_docker_host(h) for h in hosts):
        if parsed['scheme'] == 'unix':
            paths.append(parsed['path'])
        elif parsed['scheme'] == 'fd':
            paths.append('/run/docker.sock')
    if not hosts:
        if rootless and proc.get('euid') not in (None, 0):
            paths.append('/run/user/%d/docker.sock' % proc['euid'])
        elif not rootless:
            paths.append('/var/run/docker.sock')
    prefix = mount_prefix(proc, init_ns)
    seen = []
    for path in paths:
        path = prefix + canonical_socket_path(path)
        if path not in seen:
            seen.append(path)
    return seen


def config_unix_sockets(config):
    """unix:// sockets listed in a daemon.json 'hosts', canonical."""
    paths = []
    for value in config_hosts(config):
        parsed = parse_docker_host(value)
        if parsed['scheme'] == 'unix':
            path = canonical_socket_path(parsed['path'])
            if path not in paths:
                paths.append(path)
    return paths


def load_daemon_json(fs, path):
    """(dict or None, error or None) for a daemon.json; missing file -> ({}, None)."""
    import json
    data, exc = fs.try_read(path)
    if exc is not None:
        if _kind_of(exc) == 'missing':
            return {}, None
        fs.record(path, exc)
        return None, '%s: %s' % (path, getattr(exc, 'strerror', None) or exc)
    try:
        parsed = json.loads(data.decode('utf-8', 'replace') or '{}')
    except ValueError as exc:
        fs.errors.append({'path': path, 'operation': 'parse', 'kind': 'malformed', 'error': str(exc)})
        return None, '%s: malformed JSON: %s' % (path, exc)
    if not isinstance(parsed, dict):
        fs.errors.append({'path': path, 'operation': 'parse', 'kind': 'malformed',
                          'error': 'top level is not an object'})
        return None, '%s: top level is not an object' % path
    return parsed, None


def passwd_home(users, uid):
    for user in users:
        if user['uid'] == uid:
            return user['home']
    return None


def daemon_config_path(proc, rootless, users, prefix=''):
    """Which daemon.json a daemon reads: --config-file, else the default for its kind."""
    explicit = proc['args'].get('config_file') if proc else None
    if explicit:
        return prefix + explicit
    if prefix:
        return prefix + '/etc/docker/daemon.json'
    if rootless:
        uid = proc.get('euid') if proc else None
        home = passwd_home(users, uid) if uid is not None else None
        return os.path.join(home, '.config/docker/daemon.json') if home else None
    return '/etc/docker/daemon.json'


def discover_daemons(fs, with_fds=False):
    """Running dockerd processes and Docker sockets, merged into daemons.

    Returns (daemons, context) where each daemon is {'key', 'kind', 'pid', 'process',
    'sockets', 'uid', 'mount_prefix', 'config', 'config_path', 'config_error'} (config is
    its parsed daemon.json, {} when absent, None when unreadable or malformed) and context
    holds init namespaces, users and scan stats. Sockets with no running dockerd behind
    them are daemons too (pid None, "idle"): the audit modules do not connect to them
    unless connect_idle_sockets is set, since with systemd socket activation a connection
    starts docker.service; they report them as daemon-not-running instead. Docker Desktop's
    sockets (kind ``desktop``, key ``desktop:<uid>``) have no dockerd on this host either:
    its engine runs in a VM, and asking it starts nothing (``awaits_process``).
    """
    pids, stats = scan_processes(fs)
    # PID 1's namespaces are only needed to judge a dockerd process: not read without one
    init_ns = namespaces_of(fs, 1) if pids else dict((k, None) for k in ('user', 'mnt', 'pid', 'net'))
    users = parse_etc_passwd(fs.read_text('/etc/passwd', missing_ok=True))
    daemons = []
    claimed = {}
    for pid in pids:
        proc = describe_process(fs, pid, with_fds=with_fds)
        if proc['vanished'] and not proc['cmdline']:
            stats['vanished'] += 1
            continue
        rootless = is_rootless_process(proc, init_ns)
        prefix = mount_prefix(proc, init_ns)
        config_path = daemon_config_path(proc, rootless, users, prefix)
        config, config_error = load_daemon_json(fs, config_path) if config_path else ({}, None)
        sockets = process_socket_paths(proc, init_ns, config_hosts(config))
        if rootless:
            key = 'rootless:%s' % (proc['euid'] if proc['euid'] is not None else 'pid%d' % pid)
        else:
            key = 'pid:%d' % pid if prefix else 'rootful'
        if any(d['key'] == key for d in daemons):
            key = '%s:pid%d' % (key, pid)
        daemon = {'key': key, 'kind': 'rootless' if rootless else 'rootful', 'pid': pid,
                  'process': proc, 'sockets': sockets, 'uid': proc['euid'],
                  'mount_prefix': prefix, 'config': config, 'config_path': config_path,
                  'config_error': config_error}
        for path in sockets:
            claimed.setdefault(path, daemon)
        daemons.append(daemon)
    # sockets present on disk but served by no dockerd we could see; Docker Desktop's
    # engine never is: it runs in a VM
    candidates = [(None, p, 'rootful') for p in ROOTFUL_SOCKETS] + [
        (uid, p, 'rootless') for uid, p in rootless_socket_paths(fs)] + [
        (uid, p, 'desktop') for uid, p in desktop_socket_paths(fs, users)]
    for uid, path, kind in candidates:
        canon = canonical_socket_path(path)
        if canon in claimed or not fs.exists(path):
            continue
        key = 'rootful' if kind == 'rootful' else '%s:%d' % (kind, uid)
        daemon = {'key': key, 'kind': kind, 'pid': None, 'process': None, 'sockets': [canon],
                  'uid': 0 if uid is None else uid}
        if any(d['key'] == daemon['key'] for d in daemons):
            daemon['key'] += ':' + canon
        daemon['mount_prefix'] = ''
        if kind == 'desktop':
            # the engine's daemon.json as Docker Desktop's settings write it
            home = passwd_home(users, uid)
            daemon['config_path'] = os.path.join(home, '.docker/daemon.json') if home else None
        else:
            daemon['config_path'] = daemon_config_path({'euid': uid, 'args': {}}, uid is not None, users)
        daemon['config'], daemon['config_error'] = (
            load_daemon_json(fs, daemon['config_path']) if daemon['config_path'] else ({}, None))
        claimed[canon] = daemon
        daemons.append(daemon)
    stats['dockerd_pids'] = pids
    context = {'init_ns': init_ns, 'users': users, 'stats': stats}
    return daemons, context


def awaits_process(daemon):
    """True when a daemon without a dockerd process on this host is idle: its socket may be
    held by systemd socket activation, which a connection would use to start dockerd.
    Docker Desktop's engine runs in its VM, behind the user's backend: it is asked."""
    return daemon.get('pid') is None and daemon['kind'] != 'desktop'


def user_name(users, uid):
    for user in users:
        if user['uid'] == uid:
            return user['name']
    return None
