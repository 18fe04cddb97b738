# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/socket_audit.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import time

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _daemons, _hostfs, _proc_parsers
from ansible_collections.nsguard.docker.plugins.module_utils import socket_audit as sa

from audit_helpers import fakehost


USERS = _proc_parsers.parse_etc_passwd(fakehost.fixture_text('etc', 'passwd'))
GROUPS = _proc_parsers.parse_etc_group(fakehost.fixture_text('etc', 'group'))
NET = (_proc_parsers.parse_net_tcp(fakehost.fixture_text('proc', 'net_tcp'), 'little')
       + _proc_parsers.parse_net_tcp(fakehost.fixture_text('proc', 'net_tcp6'), 'little'))


def _sock(path='/run/docker.sock', mode=0o660, uid=0, gid=999, kind='rootful', daemon_uid=0):
    sock = {'path': path, 'is_socket': True, 'uid': uid, 'gid': gid, 'owner': _daemons.user_name(USERS, uid),
            'group': sa.group_name(GROUPS, gid), 'mode': '%04o' % mode, 'mode_bits': mode, 'kind': kind,
            'daemon': 'rootful' if kind == 'rootful' else 'rootless:%d' % daemon_uid, 'daemon_uid': daemon_uid}
    sock['reach'] = sa.who_can_reach(sock, GROUPS, USERS)
    return sock


def found(findings):
    return sorted((f['id'], f['severity'], f['cis'], f['subject']) for f in findings)


# ------------------------------------------------------------------ principals

def test_group_members_explicit_and_primary():
    members = sa.group_members(GROUPS, USERS, 999)
    assert [(m['name'], m['uid'], m['via']) for m in members] == [
        ('alice', 1000, 'member'), ('ci', 1004, 'member'), ('deploy', 1003, 'primary'),
        ('ghost', None, 'member'), ('root', 0, 'member')]
    assert sa.group_members(GROUPS, USERS, 4242) == []
    assert sa.user_groups(GROUPS, USERS, 'ci') == set(['ci', 'docker', 'dockeradmins'])
    assert sa.user_groups(GROUPS, USERS, 'deploy') == set(['docker'])


def test_who_can_reach_by_mode():
    strict = _sock(mode=0o600)
    assert strict['reach']['users'] == ['root'] and strict['reach']['group'] is None
    group = _sock(mode=0o660)
    assert group['reach']['group'] == 'docker'
    assert group['reach']['users'] == ['alice', 'ci', 'deploy', 'ghost', 'root']
    assert group['reach']['everyone'] is False
    world = _sock(mode=0o666)
    assert world['reach']['everyone'] is True
    read_only_group = _sock(mode=0o640)
    assert read_only_group['reach']['group_members'] == []


# ------------------------------------------------------------------ unix socket findings

def test_root_docker_0660_only_group_member_findings():
    findings = sa.socket_findings([_sock()], GROUPS, USERS)
    assert found(findings) == [('docker-group-member', 'high', '1.1.2', 'user:%s' % n)
                               for n in ('alice', 'ci', 'deploy', 'ghost')]
    deploy = [f for f in findings if f['subject'] == 'user:deploy'][0]
    assert deploy['evidence']['via'] == 'primary' and deploy['evidence']['sockets'] == ['/run/docker.sock']


def test_allow_users_and_allow_groups():
    findings = sa.socket_findings([_sock()], GROUPS, USERS, allow_users=['alice', 'ghost'],
                                  allow_groups=['dockeradmins'])
    assert [f['subject'] for f in findings] == ['user:deploy']
    everyone_allowed = sa.socket_findings([_sock()], GROUPS, USERS, allow_groups=['docker'])
    assert everyone_allowed == []


def test_world_writable_rootful_socket_is_critical():
    findings = sa.socket_findings([_sock(mode=0o666)], GROUPS, USERS, allow_groups=['docker'])
    assert found(findings) == [('socket-world-writable', 'critical', '3.16', 'socket:/run/docker.sock')]


def test_looser_than_0660_and_ownership():
    assert found(sa.socket_findings([_sock(mode=0o664)], GROUPS, USERS, allow_groups=['docker'])) == [
        ('socket-permissions', 'high', '3.16', 'socket:/run/docker.sock')]
    assert found(sa.socket_findings([_sock(mode=0o600, uid=1000)], GROUPS, USERS)) == [
        ('socket-ownership', 'high', '3.15', 'socket:/run/docker.sock')]
    assert found(sa.socket_findings([_sock(mode=0o600, gid=50)], GROUPS, USERS)) == [
        ('socket-ownership', 'high', '3.15', 'socket:/run/docker.sock')]
    # root:root 0660 is stricter than root:docker: no finding
    assert sa.socket_findings([_sock(mode=0o660, gid=0)], GROUPS, USERS) == []


def test_rootless_socket_findings():
    path = '/run/user/1000/docker.sock'
    private = _sock(path, 0o600, 1000, 1000, 'rootless', 1000)
    assert sa.socket_findings([private], GROUPS, USERS) == []
    world = _sock(path, 0o666, 1000, 1000, 'rootless', 1000)
    assert found(sa.socket_findings([world], GROUPS, USERS)) == [
        ('socket-world-writable', 'high', '3.16', 'socket:' + path)]
    shared = _sock(path, 0o660, 1000, 999, 'rootless', 1000)
    assert found(sa.socket_findings([shared], GROUPS, USERS)) == [
        ('rootless-socket-shared', 'medium', None, 'socket:' + path)]
    stolen = _sock(path, 0o600, 1001, 1001, 'rootless', 1000)
    assert found(sa.socket_findings([stolen], GROUPS, USERS)) == [
        ('socket-ownership', 'high', '3.15', 'socket:' + path)]


def test_path_that_is_not_a_socket_is_skipped():
    odd = _sock(mode=0o777)
    odd['is_socket'] = False
    assert sa.socket_findings([odd], GROUPS, USERS) == []


# ------------------------------------------------------------------ TCP

def test_tls_state_from_flags_and_daemon_json():
    assert sa.tls_state({}, {}) == {'tls': False, 'tlsverify': False, 'tlscacert': None, 'tlscert': None,
                                    'tlskey': None}
    verify = sa.tls_state({}, fakehost.fixture_json('etc', 'daemon_tls.json'))
    assert verify['tls'] and verify['tlsverify'] and verify['tlscacert'] == '/etc/docker/tls/ca.pem'
    flags = _proc_parsers.parse_dockerd_args(['dockerd', '--tls'])
    assert sa.tls_state(flags, {}) == dict(sa.tls_state({}, {}), tls=True)
    assert sa.tls_state(_proc_parsers.parse_dockerd_args(['dockerd', '--tlsverify']), {})['tls'] is True
    # a flag wins over daemon.json
    assert sa.tls_state(_proc_parsers.parse_dockerd_args(['dockerd', '--tlsverify=false']),
                        {'tlsverify': True})['tlsverify'] is False


def test_configured_tcp_from_cmdline_and_daemon_json():
    args = _proc_parsers.parse_dockerd_args(['dockerd', '-H', 'fd://', '--host=tcp://10.1.2.3:2375'])
    config = fakehost.fixture_json('etc', 'daemon_tcp.json')
    endpoints = sa.configured_tcp(args, config, sa.tls_state(args, config))
    assert [(e['address'], e['port'], e['sources']) for e in endpoints] == [
        ('10.1.2.3', 2375, ['cmdline']), ('0.0.0.0', 2375, ['daemon.json'])]
    assert sa.configured_tcp({}, {'hosts': 'tcp://127.0.0.1:2375'}, sa.tls_state({}, {}))[0]['port'] == 2375
    assert sa.configured_tcp({}, {'hosts': [42, None]}, sa.tls_state({}, {})) == []


def test_dockerd_listeners_only_listen_state_and_own_inodes():
    listeners = sa.dockerd_listeners(NET, [5001, 5002, 5003, 5004, 1234, 5006])
    assert [(l['address'], l['port']) for l in listeners] == [
        ('0.0.0.0', 2375), ('127.0.0.1', 2376), ('::', 2377), ('::1', 9323)]
    assert sa.dockerd_listeners(NET, []) == []


def test_merge_endpoints_matches_ports_and_classifies_the_rest():
    args = _proc_parsers.parse_dockerd_args(['dockerd', '-H', 'tcp://0.0.0.0:2375', '--metrics-addr', '[::1]:9323'])
    tls = sa.tls_state(args, {})
    endpoints = sa.merge_endpoints('rootful', sa.configured_tcp(args, {}, tls),
                                   sa.dockerd_listeners(NET, [5001, 5002, 5003, 5004]), tls, args, {}, 'host')
    summary = [(e['address'], e['port'], e['role'], e['listening'], e['loopback'], e['sources'])
               for e in endpoints]
    assert summary == [
        ('0.0.0.0', 2375, 'api', True, False, ['cmdline', 'listen']),
        ('127.0.0.1', 2376, 'unknown', True, True, ['listen']),
        ('::', 2377, 'swarm', True, False, ['listen']),
        ('::1', 9323, 'metrics', True, True, ['listen'])]
    configured_only = sa.merge_endpoints('rootful', sa.configured_tcp(args, {}, tls), [], tls)
    assert configured_only[0]['listening'] is False and configured_only[0]['role'] == 'api'


@pytest.mark.parametrize('address,tls,verify,expected', [
    ('0.0.0.0', False, False, ('tcp-no-tls', 'critical')),
    ('127.0.0.1', False, False, ('tcp-no-tls', 'high')),
    ('10.0.0.7', True, False, ('tcp-tls-no-verify', 'high')),
    ('::1', True, False, ('tcp-tls-no-verify', 'medium')),
    ('0.0.0.0', True, True, None),
])
def test_tcp_findings(address, tls, verify, expected):
    endpoint = {'address': address, 'port': 2375, 'role': 'api', 'loopback': _proc_parsers.is_loopback(address),
                'tls': tls, 'tlsverify': verify, 'daemon': 'rootful', 'sources': ['cmdline']}
    findings = sa.tcp_findings([endpoint])
    if expected is None:
        assert findings == []
    else:
        assert [(f['id'], f['severity'], f['cis']) for f in findings] == [expected + ('2.7',)]


def test_listener_findings():
    base = {'port': 2376, 'address': '0.0.0.0', 'loopback': False, 'tls': False, 'tlsverify': False}
    unknown = sa.tcp_findings([dict(base, role='unknown')])
    assert [(f['id'], f['severity']) for f in unknown] == [('dockerd-listener-unknown', 'medium')]
    swarm = sa.tcp_findings([dict(base, role='swarm', port=2377)])
    assert [(f['id'], f['severity']) for f in swarm] == [('dockerd-listener-info', 'info')]


# ------------------------------------------------------------------ unit files

def test_unit_files_and_findings(host):
    lib = os.path.join(host.root, 'lib-systemd')
    etc = os.path.join(host.root, 'etc-systemd')
    host.unit('docker.service', lib)
    host.unit('docker.socket', lib, mode=0o664)
    host.unit('docker.service.d/override.conf', etc, uid=1000)
    host.unit('docker.service.d/notes.txt', etc, uid=1000)      # not a drop-in
    host.unit('docker.socket', etc, mode=0o755)
    os.symlink(lib, os.path.join(host.root, 'lib-link'))         # /lib -> /usr/lib
    fs = host.fs()
    units = sa.unit_files(fs, [etc, lib, os.path.join(host.root, 'lib-link'), '/nonexistent'], GROUPS, USERS)
    assert sorted(os.path.relpath(u['path'], host.root) for u in units) == [
        'etc-systemd/docker.service.d/override.conf', 'etc-systemd/docker.socket',
        'lib-systemd/docker.service', 'lib-systemd/docker.socket']
    findings = sa.unit_findings(units)
    assert sorted((f['id'], f['severity'], f['cis'], os.path.relpath(f['subject'][5:], host.root))
                  for f in findings) == [
        ('unit-file-ownership', 'medium', '3.1', 'etc-systemd/docker.service.d/override.conf'),
        ('unit-file-permissions', 'low', '3.4', 'etc-systemd/docker.socket'),
        ('unit-file-permissions', 'medium', '3.4', 'lib-systemd/docker.socket')]
    assert fs.errors == []


def test_masked_unit_is_not_judged(host):
    etc = os.path.join(host.root, 'etc-systemd')
    os.makedirs(etc)
    os.symlink('/dev/null', os.path.join(etc, 'docker.service'))
    units = sa.unit_files(host.fs(), [etc], GROUPS, USERS)
    assert units[0]['regular_file'] is False and units[0]['is_symlink'] is True
    assert sa.unit_findings(units) == []


# ------------------------------------------------------------------ socket mounts

def test_socket_mounts_exact_name_and_parent_directory():
    containers = fakehost.fixture_json('engine', 'containers_default.json') + \
        fakehost.fixture_json('engine', 'containers_userns.json') + [
            {'Id': '1' * 64, 'Names': ['/agent'], 'Mounts': [
                {'Type': 'bind', 'Source': '/srv/custom/docker.sock', 'Destination': '/d.sock', 'RW': True},
                {'Type': 'bind', 'Source': '/run/user/1000', 'Destination': '/xdg', 'RW': True},
                {'Type': 'bind', 'Source': '/srv/data', 'Destination': '/data', 'RW': True},
                {'Type': 'volume', 'Source': '', 'Destination': '/v'}]}]
    sockets = ['/run/docker.sock', '/run/user/1000/docker.sock']
    hits = sa.socket_mounts('rootful', containers, sockets)
    assert [(h['name'], h['source'], h['match']) for h in hits] == [
        ('ci-runner', '/var/run/docker.sock', 'socket'),
        ('escape', '/run', 'parent_directory'),
        ('agent', '/srv/custom/docker.sock', 'name'),
        ('agent', '/run/user/1000', 'parent_directory')]
    findings = sa.mount_findings(hits)
    assert set((f['id'], f['severity'], f['cis']) for f in findings) == set([
        ('container-mounts-socket', 'high', '5.31')])
    assert findings[0]['subject'] == 'container:rootful/ci-runner'


def test_socket_mounts_by_device_and_inode(tmp_path):
    # The 0.1.0 miss: /run/x, a hard link of /run/docker.sock, mounted into a container; and
    # a directory holding such a link. Matched by (st_dev, st_ino), not by name.
    import socket
    run = tmp_path / 'run'
    (run / 'hidden').mkdir(parents=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(run / 'docker.sock'))
    try:
        os.link(str(run / 'docker.sock'), str(run / 'x'))
        os.link(str(run / 'docker.sock'), str(run / 'hidden' / 'y'))
        (run / 'plain').mkdir()
        (run / 'plain' / 'file').write_text('not a socket')
        fs = _hostfs.HostFS(proc_root=str(tmp_path / 'proc'), etc_root=str(tmp_path / 'etc'), run_root=str(run))
        st_ = os.stat(str(run / 'docker.sock'))
        containers = [{'Id': '2' * 64, 'Names': ['/sneaky'], 'Mounts': [
            {'Type': 'bind', 'Source': '/run/x', 'Destination': '/var/run/api', 'RW': True},
            {'Type': 'bind', 'Source': '/run/hidden', 'Destination': '/h', 'RW': False},
            {'Type': 'bind', 'Source': '/run/plain', 'Destination': '/p', 'RW': False}]}]
        hits = sa.socket_mounts('rootful', containers, ['/run/docker.sock'], fs=fs,
                                inodes=[(st_.st_dev, st_.st_ino)])
        assert [(h['source'], h['match']) for h in hits] == [
            ('/run/x', 'hard_link'), ('/run/hidden', 'hard_link_in_directory')]
        # Without the inodes (the 0.1.0 way) both are missed.
        assert sa.socket_mounts('rootful', containers, ['/run/docker.sock']) == []
    finally:
        server.close()


# ------------------------------------------------------------------ run_audit on a fake host

def test_run_audit_exposed_rootful_daemon(host):
    fakehost.build_exposed_host(host)
    result = sa.run_audit(host.fs(), allow_users=['alice'], unit_dirs=[host.units])
    assert [(s['path'], s['owner'], s['group'], s['mode'], s['kind']) for s in result['sockets']] == [
        ('/run/docker.sock', 'root', 'docker', '0660', 'rootful')]
    assert 'mode_bits' not in result['sockets'][0] and 'inode' not in result['sockets'][0]
    assert [(e['address'], e['port'], e['role'], e['netns']) for e in result['tcp_endpoints']] == [
        ('0.0.0.0', 2375, 'api', 'host'), ('127.0.0.1', 2376, 'unknown', 'host'), ('::', 2377, 'swarm', 'host')]
    assert [(m['name'], m['source']) for m in result['socket_mounts']] == [('ci-runner', '/var/run/docker.sock')]
    assert found(result['findings']) == [
        ('container-mounts-socket', 'high', '5.31', 'container:rootful/ci-runner'),
        ('docker-group-member', 'high', '1.1.2', 'user:ci'),
        ('docker-group-member', 'high', '1.1.2', 'user:deploy'),
        ('docker-group-member', 'high', '1.1.2', 'user:ghost'),
        ('dockerd-listener-info', 'info', None, 'tcp:[::]:2377'),
        ('dockerd-listener-unknown', 'medium', None, 'tcp:127.0.0.1:2376'),
        ('tcp-no-tls', 'critical', '2.7', 'tcp:0.0.0.0:2375')]
    assert result['findings'][0]['severity'] == 'critical'   # most severe first
    assert result['summary']['max_severity'] == 'critical' and result['summary']['max_severity_rank'] == 4
    # Only the container listing is asked for: /info costs most and says nothing here.
    assert [r.split('\r\n')[0] for e in host.engines for r in e.requests] == ['GET /containers/json HTTP/1.1']


def test_run_audit_socket_reached_twice_is_reported_once(host):
    host.standard_etc()
    host.add_process(500, 'dockerd', ['dockerd', '-H', 'unix:///var/run/docker.sock', '-H', 'fd://'])
    host.engine('/run/docker.sock', fakehost.engine_routes('default'))
    result = sa.run_audit(host.fs(), unit_dirs=[])
    assert [s['path'] for s in result['sockets']] == ['/run/docker.sock']


def test_run_audit_tls_verified_from_daemon_json(host):
    host.standard_etc()
    host.etc_file('docker/daemon.json', 'daemon_tls.json')
    host.add_process(500, 'dockerd', ['/usr/bin/dockerd'], fds=[7001],
                     net_tcp='  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  '
                             'timeout inode\n   0: 00000000:0948 00000000:0000 0A 00000000:00000000 00:00000000 '
                             '00000000     0        0 7001 1 0000000000000000 100 0 0 10 0\n')
    host.engine('/run/docker.sock', fakehost.engine_routes('userns'), gid=0)
    result = sa.run_audit(host.fs(), unit_dirs=[])
    endpoint = result['tcp_endpoints'][0]
    assert (endpoint['port'], endpoint['tls'], endpoint['tlsverify'], endpoint['listening'],
            endpoint['sources']) == (2376, True, True, True, ['daemon.json', 'listen'])
    assert [f['id'] for f in result['findings']] == ['container-mounts-socket']   # /run into "escape"


def test_run_audit_rootless_world_writable_and_unreachable(host):
    host.standard_etc()
    host.add_process(600, 'dockerd', ['dockerd'], euid=1000, user_ns='user:[4026532500]')
    host.dead_socket('/run/user/1000/docker.sock', mode=0o666, uid=1000, gid=1000)
    result = sa.run_audit(host.fs(), unit_dirs=[])
    assert result['sockets'][0]['kind'] == 'rootless'
    assert result['sockets'][0]['reach']['everyone'] is True
    # The skipped container check is reported as severe as what it finds.
    assert found(result['findings']) == [
        ('audit-incomplete', 'high', None, 'daemon:rootless:1000'),
        ('socket-world-writable', 'high', '3.16', 'socket:/run/user/1000/docker.sock')]
    gap = [f for f in result['findings'] if f['id'] == 'audit-incomplete'][0]
    assert gap['evidence']['skipped_checks'] == ['container-mounts-socket']
    assert '2 attempt(s)' in gap['message']


def test_run_audit_stopped_docker_config_still_audited(host):
    host.standard_etc()
    host.etc_file('docker/daemon.json', 'daemon_tcp.json')
    result = sa.run_audit(host.fs(), unit_dirs=[])
    assert result['daemons'] == []
    assert [(e['address'], e['port'], e['listening']) for e in result['tcp_endpoints']] == [('0.0.0.0', 2375, False)]
    assert found(result['findings']) == [('tcp-no-tls', 'critical', '2.7', 'tcp:0.0.0.0:2375')]


def test_run_audit_without_docker_is_clean(host):
    result = sa.run_audit(host.fs(), unit_dirs=[host.units])
    assert result['sockets'] == [] and result['tcp_endpoints'] == [] and result['findings'] == []
    assert result['errors'] == [] and result['daemons'] == []


def test_run_audit_malformed_daemon_json_and_unreadable_fds(host):
    host.standard_etc()
    host.etc_file('docker/daemon.json', 'daemon_malformed.json')
    host.add_process(500, 'dockerd', ['dockerd', '-H', 'fd://'], fds=[5001])
    host.fail('/proc/500/fd', PermissionError(13, 'Permission denied'))
    host.engine('/run/docker.sock', fakehost.engine_routes('default'), mode=0o600, gid=0)
    result = sa.run_audit(host.fs(), unit_dirs=[], query_api=False)
    kinds = dict((e['path'], e['kind']) for e in result['errors'])
    assert kinds == {'/etc/docker/daemon.json': 'malformed', '/proc/500/fd': 'permission'}
    assert [f['id'] for f in result['findings']] == ['audit-incomplete']
    assert host.engines[0].requests == []


def test_socket_info_reports_non_socket(host):
    host.write('/run/docker.sock/placeholder', '')   # a directory where the socket should be
    info = sa.socket_info(host.fs(), '/run/docker.sock', GROUPS, USERS)
    assert info['is_socket'] is False and stat.S_ISDIR(os.stat(host.real('/run/docker.sock')).st_mode)


def test_run_audit_never_connects_to_a_socket_no_dockerd_serves(host):
    # docker.socket active, docker.service stopped: a connection would start dockerd.
    host.standard_etc()
    host.dead_socket('/run/docker.sock', mode=0o660, uid=0, gid=0)
    asked = []

    def query(path, **kwargs):
        asked.append(path)
        return {'reachable': False, 'error': 'refused', 'containers': []}
    result = sa.run_audit(host.fs(), unit_dirs=[], query=query)
    assert asked == []
    assert ('daemon-not-running', 'info', None, 'daemon:rootful') in found(result['findings'])
    assert 'audit-incomplete' not in [f['id'] for f in result['findings']]
    result = sa.run_audit(host.fs(), unit_dirs=[], query=query, connect_idle_sockets=True)
    assert len(asked) == 1
    assert 'audit-incomplete' in [f['id'] for f in result['findings']]


# ------------------------------------------------------------------ the /proc scan beside the API

CID = 'c0ffee' + '1' * 58
OTHER_CID = 'decade' + '3' * 58
HOST_MOUNTINFO = fakehost.fixture_text('proc', 'mountinfo_host')


def _container(host, pid, cid, mounts, mnt_ns):
    """A container process whose mount namespace has ``mounts`` [(fs root on the host's /run
    tmpfs 0:24, mount point)]; through /proc/<pid>/root each mount point is the host file
    (a hard link: the same inode, as a bind mount shows it)."""
    text = ''.join('%d 700 0:24 %s %s rw,nosuid - tmpfs tmpfs rw\n' % (800 + n, root, point)
                   for n, (root, point) in enumerate(mounts))
    proc_root = host.add_container(pid, cid, text, mnt_ns=mnt_ns)
    for root, point in mounts:
        target = os.path.join(proc_root, point.lstrip('/'))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.link(host.real('/run' + root), target)


def _rootful(host, routes=None, dead=False):
    """A rootful dockerd answering as dockerd does: GET /info counts the listed containers
    and each has its GET /containers/<id>/json; a listing that never answers makes /info
    silent too (a frozen daemon)."""
    host.standard_etc()
    host.write('/proc/1/mountinfo', HOST_MOUNTINFO)
    host.add_process(500, 'dockerd', ['/usr/bin/dockerd', '-H', 'fd://'])
    if dead:
        host.dead_socket('/run/docker.sock', gid=0)
        return
    routes = dict(routes or {'/containers/json': (200, [])})
    listing = routes['/containers/json']
    if callable(listing):
        routes.setdefault('/info', listing)
    else:
        routes.setdefault('/info', (200, {'ContainersRunning': len(listing[1]), 'ContainersPaused': 0}))
        for item in listing[1]:
            routes.setdefault('/containers/%s/json' % item['Id'], (200, {
                'Id': item['Id'], 'Name': (item.get('Names') or [''])[0], 'Config': {'Image': item.get('Image')},
                'Mounts': item.get('Mounts') or [], 'State': {'Running': True}}))
    host.engine('/run/docker.sock', routes, gid=0)


def test_run_audit_api_and_proc_scan_report_a_mount_once(host):
    _rootful(host, {'/containers/json': (200, [
        {'Id': CID, 'Names': ['/sneaky'], 'Image': 'alpine:3.20', 'Mounts': [
            {'Type': 'bind', 'Source': '/run/x', 'Destination': '/var/run/api.sock', 'RW': True}]}])})
    host.link('/run/docker.sock', '/run/x')
    _container(host, 4242, CID, [('/x', '/run/api.sock'), ('/docker.sock', '/run/docker.sock')],
               'mnt:[4026532700]')
    result = sa.run_audit(host.fs(), unit_dirs=[])
    assert [(m['destination'], m['match'], m['found_by'], m['name'], m['pid']) for m in result['socket_mounts']] == [
        ('/var/run/api.sock', 'hard_link', ['engine_api', 'proc'], 'sneaky', 4242),
        # Not in the API's Mounts, seen in the container's mount namespace: named from the listing.
        ('/run/docker.sock', 'inode_via_proc', ['proc'], 'sneaky', 4242)]
    assert found(result['findings']) == [('container-mounts-socket', 'high', '5.31', 'container:rootful/sneaky')] * 2
    assert result['complete'] is True and result['skipped_checks'] == []
    assert result['mount_scan']['ran'] and result['mount_scan']['containers'] == 1
    # the container /proc shows is inspected: dockerd's listing was not needed
    assert not [r for r in host.engines[0].requests if r.startswith('GET /containers/json ')]
    assert [d['containers_listed_by'] for d in result['daemons']] == ['inspect']


def test_run_audit_slow_api_is_incomplete_and_the_proc_scan_covers_it(host):
    # Issue (a): the Engine API timed out on a slow host while two containers had the
    # socket bind-mounted. Both are still found, and the gap is high, not a low note.
    _rootful(host, {'/containers/json': lambda head: None})     # never answers
    data_root = os.path.join(host.root, 'docker')
    host.etc_file('docker/daemon.json', text='{"data-root": "%s"}' % data_root)
    for cid, name in ((CID, 'sockmount'), (OTHER_CID, 'runner')):
        path = os.path.join(data_root, 'containers', cid)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, 'config.v2.json'), 'w') as handle:
            handle.write('{"Name": "/%s", "Config": {"Image": "alpine:3.20"}}' % name)
    _container(host, 4242, CID, [('/docker.sock', '/var/run/docker.sock')], 'mnt:[4026532700]')
    _container(host, 4343, OTHER_CID, [('/docker.sock', '/run/docker.sock')], 'mnt:[4026532701]')
    started = time.monotonic()
    result = sa.run_audit(host.fs(), unit_dirs=[], timeout=0.05)
    assert time.monotonic() - started < 60   # a hang, not a slow machine, fails this
    assert found(result['findings']) == [
        ('audit-incomplete', 'high', None, 'daemon:rootful'),
        ('container-mounts-socket', 'high', '5.31', 'container:rootful/runner'),
        ('container-mounts-socket', 'high', '5.31', 'container:rootful/sockmount')]
    gap = [f for f in result['findings'] if f['id'] == 'audit-incomplete'][0]
    assert gap['evidence']['covered_by_proc_scan'] is True and gap['evidence']['attempts'] == 2
    assert 'covered socket mounts in its place' in gap['message'] and 'timed out' in gap['message']
    assert result['complete'] is False
    assert result['skipped_checks'] == [{
        'daemon': 'rootful', 'check': 'container-mounts-socket', 'kind': 'unanswered', 'severity': 'high',
        'reason': gap['evidence']['reasons'][0], 'covered_by_proc_scan': True}]
    assert [(m['name'], m['image'], m['found_by']) for m in result['socket_mounts']] == [
        ('sockmount', 'alpine:3.20', ['proc']), ('runner', 'alpine:3.20', ['proc'])]


def test_run_audit_idle_socket_not_asked_but_mounts_still_found(host):
    # docker.service stopped, docker.socket active, a container left running (live-restore).
    host.standard_etc()
    host.write('/proc/1/mountinfo', HOST_MOUNTINFO)
    host.dead_socket('/run/docker.sock', gid=0)
    _container(host, 4242, CID, [('/docker.sock', '/run/docker.sock')], 'mnt:[4026532700]')
    asked = []

    def query(path, **kwargs):
        asked.append(path)
        raise AssertionError('the audit connected to a socket no dockerd serves')
    result = sa.run_audit(host.fs(), unit_dirs=[], query=query)
    assert asked == []
    assert found(result['findings']) == [
        ('container-mounts-socket', 'high', '5.31', 'container:rootful/%s' % CID[:12]),
        ('daemon-not-running', 'info', None, 'daemon:rootful')]
    idle = [f for f in result['findings'] if f['id'] == 'daemon-not-running'][0]
    assert 'was not asked' in idle['message'] and '/proc scan' in idle['message']
    assert result['complete'] is True


def test_run_audit_cut_off_directory_listing_is_incomplete(host, monkeypatch):
    monkeypatch.setattr(sa, 'DIR_ENTRY_LIMIT', 3)
    _rootful(host, {'/containers/json': (200, [
        {'Id': CID, 'Names': ['/crowded'], 'Mounts': [
            {'Type': 'bind', 'Source': '/run/many', 'Destination': '/many', 'RW': False}]}])})
    for number in range(5):
        host.write('/run/many/file%d' % number, '')
    result = sa.run_audit(host.fs(), unit_dirs=[])
    assert found(result['findings']) == [('audit-incomplete', 'high', None, 'daemon:rootful')]
    assert result['complete'] is False
    assert [(e['check'], e['kind']) for e in result['skipped_checks']] == [('container-mounts-socket', 'truncated')]
    assert 'more than 3 entries' in result['skipped_checks'][0]['reason']


def test_run_audit_not_asking_the_api_is_said_but_is_no_finding(host):
    _rootful(host)
    result = sa.run_audit(host.fs(), unit_dirs=[], query_api=False)
    assert [f['id'] for f in result['findings']] == []
    assert result['complete'] is False
    assert [(e['daemon'], e['check'], e['kind'], e['covered_by_proc_scan']) for e in result['skipped_checks']] == [
        ('rootful', 'container-mounts-socket', 'not_asked', True)]
    assert host.engines[0].requests == []


def test_only_directories_of_a_socket_file_system_are_listed():
    # A hard link cannot cross file systems: a volume on /var/lib is never listed, however
    # large (its size would otherwise cut the listing off and make the audit incomplete).
    class Stat(object):
        def __init__(self, dev, mode):
            self.st_dev, self.st_ino, self.st_mode = dev, 1, mode

    class FS(object):
        listed = []

        def stat(self, path, missing_ok=False, follow=True):
            return Stat(8 if path.startswith('/var/lib') else 25, stat.S_IFDIR | 0o755)

        def special_entries(self, path, limit):
            self.listed.append(path)
            return [], False
    fs = FS()
    containers = [{'Id': CID, 'Names': ['/v'], 'Mounts': [
        {'Source': '/var/lib/docker/volumes/big/_data', 'Destination': '/data'},
        {'Source': '/run/lock', 'Destination': '/lock'}]}]
    assert sa.socket_mounts('rootful', containers, ['/run/docker.sock'], fs=fs, inodes=[(25, 7)]) == []
    assert fs.listed == ['/run/lock']


def test_merge_mounts_one_entry_per_exposure():
    api = [{'daemon': 'rootful', 'container_id': CID[:12], 'name': 'sockmount', 'image': 'alpine',
            'source': '/var/run/docker.sock', 'destination': '/var/run/docker.sock', 'read_write': True,
            'match': 'socket', 'found_by': ['engine_api'], 'pid': None, 'process': None},
           {'daemon': 'rootful', 'container_id': CID[:12], 'name': 'sockmount', 'image': 'alpine',
            'source': '/run', 'destination': '/hostrun', 'read_write': True,
            'match': 'parent_directory', 'found_by': ['engine_api'], 'pid': None, 'process': None}]

    def proc(destination, source, match='inode_via_proc', cid=CID):
        return {'daemon': 'rootful', 'container_id': cid[:12], 'destination': destination, 'source': source,
                'socket': '/run/docker.sock', 'match': match, 'read_write': True, 'pid': 42, 'process': 'sh'}
    merged = sa.merge_mounts(api, [
        proc('/run/docker.sock', '/run/docker.sock'),              # /var/run -> /run in the image
        proc('/srv/run/docker.sock', '/run/docker.sock'),          # another symlink layout: same source
        proc('/hostrun', '/run', 'parent_directory_via_proc'),
        proc('/hostrun/user/1000', '/run/user/1000', 'parent_directory_via_proc'),   # an rbind submount
        proc('/run/docker.sock', '/run/docker.sock', cid=OTHER_CID)])
    assert [(m['container_id'], m['destination'], m['found_by'], m['pid']) for m in merged] == [
        (CID[:12], '/var/run/docker.sock', ['engine_api', 'proc'], 42),
        (CID[:12], '/hostrun', ['engine_api', 'proc'], 42),
        (OTHER_CID[:12], '/run/docker.sock', ['proc'], 42)]
    assert [s['destination'] for s in merged[1]['submounts']] == ['/hostrun/user/1000']


def test_docker_desktop_socket_is_the_users_and_its_containers_paths_are_the_vms(host):
    fakehost.build_desktop_host(host)
    host.dead_socket('/run/docker.sock', gid=0)   # this host's own socket, by the VM path's name
    result = sa.run_audit(host.fs(), unit_dirs=[])
    desktop = [s for s in result['sockets'] if s['daemon'] == 'desktop:%d' % fakehost.DESKTOP_UID]
    assert len(desktop) == 1 and desktop[0]['kind'] == 'desktop'
    subject = 'socket:%s' % desktop[0]['path']
    # owned by its user at 0600: no root:docker expectation, no finding
    assert not [f for f in result['findings'] if f['subject'] == subject], result['findings']
    mounts = [f for f in result['findings'] if f['id'] == 'container-mounts-socket']
    assert [(f['subject'], f['severity']) for f in mounts] == [
        ('container:desktop:%d/vmpriv' % fakehost.DESKTOP_UID, 'high')]
    assert 'and the host' not in mounts[0]['message']
    # asked without connect_idle_sockets: Docker Desktop's socket starts nothing
    assert 'daemon-not-running' not in [f['id'] for f in result['findings'] if 'desktop' in f['subject']]
