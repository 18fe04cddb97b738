# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/procfs.py: parsers, safe readers, daemon discovery."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.nsguard.docker.plugins.module_utils import procfs

from audit_helpers import fakehost


# ------------------------------------------------------------------------- parsers

def test_parse_cmdline_bytes_text_and_empty():
    assert procfs.parse_cmdline(b'/usr/bin/dockerd\0-H\0fd://\0') == ['/usr/bin/dockerd', '-H', 'fd://']
    assert procfs.parse_cmdline('dockerd\0--tls') == ['dockerd', '--tls']
    assert procfs.parse_cmdline(b'') == []
    assert procfs.parse_cmdline(None) == []


def test_parse_status_ids():
    text = 'Name:\tdockerd\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1001\t1000\t1000\nUid: broken\n'
    ids = procfs.parse_status_ids('Name:\tdockerd\nUid:\t0\t1000\t0\t0\nGid:\t5\t6\t7\t8\n')
    assert ids == {'uid': [0, 1000, 0, 0], 'gid': [5, 6, 7, 8]}
    assert procfs.parse_status_ids(text)['gid'][1] == 1001
    assert procfs.parse_status_ids('') == {}


def test_parse_id_map_and_lookup_rootless_nested_map():
    text = '         0       1000          1\n         1     100000      65536\nbad line\n'
    ranges = procfs.parse_id_map(text)
    assert ranges == [{'inside': 0, 'outside': 1000, 'count': 1},
                      {'inside': 1, 'outside': 100000, 'count': 65536}]
    assert procfs.map_id(ranges, 0) == 1000
    # container uid 1000 is subordinate start + 999
    assert procfs.map_id(ranges, 1000) == 100999
    assert procfs.map_id(ranges, 65536) == 165535
    assert procfs.map_id(ranges, 65537) is None
    assert not procfs.is_identity_map(ranges)
    assert procfs.is_identity_map(procfs.parse_id_map(fakehost.IDENTITY_MAP))


@given(st.lists(st.tuples(st.integers(0, 2 ** 31), st.integers(0, 2 ** 31), st.integers(1, 2 ** 20)),
                max_size=5), st.integers(0, 2 ** 32))
def test_map_id_matches_brute_force(rows, probe):
    text = '\n'.join('%d %d %d' % row for row in rows)
    ranges = procfs.parse_id_map(text)
    expected = None
    for inside, outside, count in rows:
        if inside <= probe < inside + count:
            expected = outside + probe - inside
            break
    assert procfs.map_id(ranges, probe) == expected


def test_namespace_and_socket_links():
    assert procfs.parse_ns_link('user:[4026531837]') == 4026531837
    assert procfs.parse_ns_link('socket:[1]') == 1
    assert procfs.parse_ns_link('/dev/null') is None
    assert procfs.parse_ns_link(None) is None
    assert procfs.parse_socket_link('socket:[5001]') == 5001
    assert procfs.parse_socket_link('pipe:[5001]') is None
    assert procfs.parse_socket_link('anon_inode:[eventpoll]') is None


def test_decode_hex_address_little_and_big_endian():
    assert procfs.decode_hex_address('0100007F', 'little') == '127.0.0.1'
    assert procfs.decode_hex_address('7F000001', 'big') == '127.0.0.1'
    assert procfs.decode_hex_address('00000000', 'little') == '0.0.0.0'
    assert procfs.decode_hex_address('0A00020F', 'little') == '15.2.0.10'
    assert procfs.decode_hex_address('00000000000000000000000001000000', 'little') == '::1'
    assert procfs.decode_hex_address('0000000000000000FFFF00000100007F', 'little') == '::ffff:127.0.0.1'
    assert procfs.decode_hex_address('B80D0120000000000000000001000000', 'little') == '2001:db8::1'
    with pytest.raises(ValueError):
        procfs.decode_hex_address('0100', 'little')


def _kernel_hex(address):
    """How a little-endian kernel prints an address: each 32-bit word in host order."""
    packed = ipaddress.ip_address(address).packed
    words = struct.unpack('!%dI' % (len(packed) // 4), packed)
    return ''.join('%08X' % struct.unpack('<I', struct.pack('!I', w))[0] for w in words)


@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
def test_decode_hex_address_round_trip(address):
    decoded = procfs.decode_hex_address(_kernel_hex(str(address)), 'little')
    assert ipaddress.ip_address(decoded) == address


def test_parse_net_tcp_ipv4_fixture():
    entries = procfs.parse_net_tcp(fakehost.fixture_text('proc', 'net_tcp'), 'little')
    assert len(entries) == 4  # the garbage line is skipped
    first = entries[0]
    assert (first['local_address'], first['local_port'], first['state'], first['state_name'],
            first['inode'], first['family']) == ('0.0.0.0', 2375, '0A', 'LISTEN', 5001, 'ipv4')
    assert (entries[1]['local_address'], entries[1]['local_port']) == ('127.0.0.1', 2376)
    established = entries[3]
    assert established['state_name'] == 'ESTABLISHED'
    assert (established['remote_address'], established['remote_port']) == ('10.2.0.1', 0xD431)
    assert [e['inode'] for e in entries if e['state'] == '0A'] == [5001, 5002, 999]


def test_parse_net_tcp_ipv6_fixture():
    entries = procfs.parse_net_tcp(fakehost.fixture_text('proc', 'net_tcp6'), 'little')
    assert [(e['local_address'], e['local_port'], e['family']) for e in entries] == [
        ('::', 2377, 'ipv6'), ('::1', 9323, 'ipv6'), ('::ffff:127.0.0.1', 8080, 'ipv6'),
        ('2001:db8::1', 80, 'ipv6')]
    assert entries[2]['uid'] == 1000
    assert entries[3]['state_name'] == 'ESTABLISHED'
    assert procfs.parse_net_tcp('') == []
    assert procfs.parse_net_tcp('header only\n') == []


@pytest.mark.parametrize('address,expected', [
    ('127.0.0.1', True), ('127.9.9.9', True), ('::1', True), ('[::1]', True),
    ('::ffff:127.0.0.1', True), ('localhost', True), ('0.0.0.0', False), ('::', False),
    ('10.0.0.5', False), ('docker.example', False), (None, False)])
def test_is_loopback(address, expected):
    assert procfs.is_loopback(address) is expected


@pytest.mark.parametrize('value,tls,expected', [
    ('tcp://0.0.0.0:2375', False, {'scheme': 'tcp', 'host': '0.0.0.0', 'port': 2375}),
    ('tcp://:2375', False, {'scheme': 'tcp', 'host': '127.0.0.1', 'port': 2375}),
    ('tcp://10.0.0.1', False, {'scheme': 'tcp', 'host': '10.0.0.1', 'port': 2375}),
    ('tcp://10.0.0.1', True, {'scheme': 'tcp', 'host': '10.0.0.1', 'port': 2376}),
    ('tcp://[::1]:2376', False, {'scheme': 'tcp', 'host': '::1', 'port': 2376}),
    ('tcp://[::]:2375/path', False, {'scheme': 'tcp', 'host': '::', 'port': 2375}),
    ('0.0.0.0:4243', False, {'scheme': 'tcp', 'host': '0.0.0.0', 'port': 4243}),
    ('unix:///run/custom.sock', False, {'scheme': 'unix', 'path': '/run/custom.sock'}),
    ('unix://', False, {'scheme': 'unix', 'path': '/var/run/docker.sock'}),
    ('', False, {'scheme': 'unix', 'path': '/var/run/docker.sock'}),
    ('fd://', False, {'scheme': 'fd', 'path': ''}),
])
def test_parse_docker_host(value, tls, expected):
    parsed = procfs.parse_docker_host(value, tls=tls)
    for key, want in expected.items():
        assert parsed[key] == want, (key, parsed)


def test_parse_dockerd_args_all_spellings():
    argv = ['/usr/bin/dockerd', '-H', 'fd://', '-Htcp://0.0.0.0:2375', '-H=unix:///tmp/a.sock',
            '--host', 'tcp://10.0.0.1:2376', '--host=unix:///run/b.sock', '--tlsverify',
            '--tls=false', '--tlscacert=/etc/docker/ca.pem', '--userns-remap', 'default',
            '--config-file=/etc/docker/alt.json', '--containerd=/run/containerd/containerd.sock',
            '--data-root', '/srv/docker', '--metrics-addr=127.0.0.1:9323', 'positional']
    args = procfs.parse_dockerd_args(argv)
    assert args['hosts'] == ['fd://', 'tcp://0.0.0.0:2375', 'unix:///tmp/a.sock', 'tcp://10.0.0.1:2376',
                             'unix:///run/b.sock']
    assert args['tlsverify'] is True
    assert args['tls'] is False
    assert args['tlscacert'] == '/etc/docker/ca.pem'
    assert args['userns_remap'] == 'default'
    assert args['config_file'] == '/etc/docker/alt.json'
    assert args['data_root'] == '/srv/docker'
    assert args['metrics_addr'] == '127.0.0.1:9323'
    bare = procfs.parse_dockerd_args(['dockerd'])
    assert bare['hosts'] == [] and bare['tlsverify'] is None and bare['userns_remap'] is None
    assert procfs.parse_dockerd_args([])['hosts'] == []
    assert procfs.parse_dockerd_args(['dockerd', '--rootless'])['rootless'] is True
    # a value flag at the end without a value is ignored, not a crash
    assert procfs.parse_dockerd_args(['dockerd', '--userns-remap'])['userns_remap'] is None


def test_parse_etc_group_and_passwd():
    groups = procfs.parse_etc_group(fakehost.fixture_text('etc', 'group') + 'bad\n+nis::0:\nx:x:notanumber:\n')
    docker = [g for g in groups if g['name'] == 'docker'][0]
    assert docker == {'name': 'docker', 'gid': 999, 'members': ['alice', 'ci', 'root', 'ghost']}
    assert not any(g['name'] in ('bad', '+nis', 'x') for g in groups)
    users = procfs.parse_etc_passwd(fakehost.fixture_text('etc', 'passwd') + 'short:x:1\n')
    assert [u['name'] for u in users if u['uid'] == 0] == ['root', 'toor']
    assert procfs.user_name(users, 1003) == 'deploy'
    assert procfs.user_name(users, 4242) is None
    assert procfs.passwd_home(users, 1000) == '/home/alice'


# -------------------------------------------------------------------- findings helpers

def test_severity_helpers_and_gate():
    findings = [procfs.make_finding('a', 'low', None, 's', 'm'),
                procfs.make_finding('b', 'critical', '2.7', 's', 'm'),
                procfs.make_finding('c', 'high', None, 's', 'm', {'x': 1})]
    assert procfs.max_severity(findings) == 'critical'
    assert procfs.max_severity([]) is None
    assert procfs.count_by_severity(findings) == {'info': 0, 'low': 1, 'medium': 0, 'high': 1, 'critical': 1}
    assert [f['id'] for f in procfs.sort_findings(findings)] == ['b', 'c', 'a']
    assert procfs.gate(findings, 'none') == []
    assert [f['id'] for f in procfs.gate(findings, 'high')] == ['b', 'c']
    assert [f['id'] for f in procfs.gate(findings, 'info')] == ['a', 'b', 'c']
    assert procfs.gate([findings[0]], 'medium') == []
    message = procfs.gate_message('x', procfs.gate(findings, 'high'), 'high')
    assert '2 finding(s) at or above high' in message and '1 critical' in message
    with pytest.raises(ValueError):
        procfs.make_finding('a', 'severe', None, 's', 'm')


# -------------------------------------------------------------------- HostFS

def test_hostfs_maps_paths_below_roots():
    fs = procfs.HostFS('/p', '/e', '/r')
    assert fs.path('/proc/1/comm') == '/p/1/comm'
    assert fs.path('/proc') == '/p'
    assert fs.path('/etc/docker/daemon.json') == '/e/docker/daemon.json'
    assert fs.path('/var/run/docker.sock') == '/r/docker.sock'
    assert fs.path('/run/user/1000/docker.sock') == '/r/user/1000/docker.sock'
    assert fs.path('/processed') == '/processed'
    assert fs.path('/home/alice/.config/docker/daemon.json') == '/home/alice/.config/docker/daemon.json'
    default = procfs.HostFS()
    assert default.path('/proc/1/comm') == '/proc/1/comm'
    assert default.path('/var/run/docker.sock') == '/run/docker.sock'


def test_hostfs_records_failures_without_raising(host):
    host.write('/etc/group', 'docker:x:999:\n')
    host.fail('/etc/group', PermissionError(13, 'Permission denied'))
    fs = host.fs()
    assert fs.read_text('/etc/group') is None
    assert fs.read_text('/etc/missing', missing_ok=True) is None
    assert fs.read_text('/etc/also-missing') is None
    assert fs.readlink('/proc/77/ns/user') is None
    assert fs.listdir('/proc/77/fd') is None
    assert fs.stat('/run/nothing', missing_ok=True) is None
    kinds = dict((e['path'], e['kind']) for e in fs.errors)
    assert kinds == {'/etc/group': 'permission', '/etc/also-missing': 'missing',
                     '/proc/77/ns/user': 'vanished', '/proc/77/fd': 'vanished'}
    # the same failure is recorded once
    fs.read_text('/etc/group')
    assert len(fs.errors) == 4


def test_scan_tolerates_vanishing_and_unreadable_processes(host):
    host.add_process(100, 'dockerd', ['/usr/bin/dockerd'])
    host.add_process(101, 'bash', ['bash'])
    os.makedirs(host.real('/proc/102'))            # exited between listdir and read
    host.add_process(103, 'dockerd', ['dockerd'])
    host.fail('/proc/103/comm', ProcessLookupError(3, 'No such process'))
    host.add_process(104, 'secret', ['secret'])
    host.fail('/proc/104/comm', PermissionError(13, 'Permission denied'))
    os.makedirs(host.real('/proc/sys'), exist_ok=True)
    pids, stats = procfs.scan_processes(host.fs())
    assert pids == [100]
    assert stats == {'pids_scanned': 6, 'vanished': 2, 'unreadable': 1}


def test_scan_reports_unlistable_proc(host):
    host.fail('/proc', PermissionError(13, 'Permission denied'), 'listdir')
    fs = host.fs()
    pids, stats = procfs.scan_processes(fs)
    assert pids == [] and stats['proc_unreadable'] is True
    assert fs.errors[0]['path'] == '/proc' and fs.errors[0]['kind'] == 'permission'


def test_describe_process_of_a_process_that_vanishes_mid_read(host):
    host.add_process(200, 'dockerd', ['/usr/bin/dockerd', '-H', 'fd://'])
    host.fail('/proc/200/status', FileNotFoundError(2, 'No such file or directory'))
    host.fail('/proc/200/uid_map', ProcessLookupError(3, 'No such process'))
    fs = host.fs()
    proc = procfs.describe_process(fs, 200, with_fds=True)
    assert proc['cmdline'] == ['/usr/bin/dockerd', '-H', 'fd://']
    assert proc['euid'] is None and proc['uid_map'] is None
    assert proc['vanished'] is True
    assert proc['socket_inodes'] == []
    assert set(e['kind'] for e in fs.errors) == set(['vanished'])


def test_socket_inodes_reads_fd_links(host):
    host.add_process(300, 'dockerd', ['dockerd'], fds=[5001, 5003, 5001])
    assert procfs.socket_inodes(host.fs(), 300) == [5001, 5003]


def test_kernel_userns_state(host):
    host.sysctl('user.max_user_namespaces', 63432)
    host.sysctl('kernel.apparmor_restrict_unprivileged_userns', 1)
    state = procfs.kernel_userns_state(host.fs())
    assert state == {'max_user_namespaces': 63432, 'unprivileged_userns_clone': None,
                     'apparmor_restrict_unprivileged_userns': 1}
    host.sysctl('kernel.unprivileged_userns_clone', 'garbage')
    assert procfs.kernel_userns_state(host.fs())['unprivileged_userns_clone'] is None
    host.fail('/proc/sys/user/max_user_namespaces', PermissionError(13, 'Permission denied'))
    fs = host.fs()
    assert procfs.kernel_userns_state(fs)['max_user_namespaces'] is None
    assert fs.errors[0]['kind'] == 'permission'


def test_load_daemon_json_missing_valid_malformed_and_not_object(host):
    fs = host.fs()
    assert procfs.load_daemon_json(fs, '/etc/docker/daemon.json') == ({}, None)
    host.etc_file('docker/daemon.json', 'daemon_userns.json')
    assert procfs.load_daemon_json(fs, '/etc/docker/daemon.json')[0]['userns-remap'] == 'default'
    host.etc_file('docker/daemon.json', 'daemon_malformed.json')
    config, error = procfs.load_daemon_json(fs, '/etc/docker/daemon.json')
    assert config is None and 'malformed JSON' in error
    host.etc_file('docker/daemon.json', text='["not", "an", "object"]')
    config, error = procfs.load_daemon_json(fs, '/etc/docker/daemon.json')
    assert config is None and 'not an object' in error
    host.etc_file('docker/daemon.json', 'daemon_userns.json')
    host.fail('/etc/docker/daemon.json', PermissionError(13, 'Permission denied'))
    config, error = procfs.load_daemon_json(fs, '/etc/docker/daemon.json')
    assert config is None and 'Permission denied' in error
    assert [e['kind'] for e in fs.errors] == ['malformed', 'malformed', 'permission']


# -------------------------------------------------------------------- discovery

def test_discover_rootful_rootless_and_socket_only_daemons(host):
    host.standard_etc()
    host.add_process(500, 'dockerd', ['/usr/bin/dockerd', '-H', 'fd://', '--containerd=/run/containerd.sock'])
    host.add_process(600, 'dockerd', ['dockerd'], euid=1000, user_ns='user:[4026532500]',
                     mnt_ns='mnt:[4026532501]', uid_map='0 1000 1\n1 165536 65536\n')
    host.dead_socket('/run/docker.sock')
    host.dead_socket('/run/user/1000/docker.sock')
    host.dead_socket('/run/user/1001/docker.sock')   # bob: socket left, no process
    os.makedirs(host.real('/run/user/notanumber'))
    daemons, context = procfs.discover_daemons(host.fs())
    by_key = dict((d['key'], d) for d in daemons)
    assert sorted(by_key) == ['rootful', 'rootless:1000', 'rootless:1001']
    assert by_key['rootful']['pid'] == 500 and by_key['rootful']['sockets'] == ['/run/docker.sock']
    assert by_key['rootless:1000']['pid'] == 600
    assert by_key['rootless:1000']['sockets'] == ['/run/user/1000/docker.sock']
    assert by_key['rootless:1001']['pid'] is None and by_key['rootless:1001']['kind'] == 'rootless'
    assert context['stats']['dockerd_pids'] == [500, 600]
    assert context['init_ns']['user'] == fakehost.INIT_USER_NS


def test_discover_rootless_by_namespace_even_with_euid_zero_view(host):
    # euid 0 as seen from the host cannot happen for rootless, but a namespace alone decides
    host.add_process(700, 'dockerd', ['dockerd'], euid=0, user_ns='user:[4026532999]')
    daemons, _context = procfs.discover_daemons(host.fs())
    assert daemons[0]['kind'] == 'rootless'


def test_discover_docker_in_docker_uses_proc_root_path(host):
    host.add_process(800, 'dockerd', ['dockerd', '--host=unix:///var/run/docker.sock'],
                     mnt_ns='mnt:[4026533000]')
    daemons, _context = procfs.discover_daemons(host.fs())
    assert daemons[0]['key'] == 'pid:800'
    assert daemons[0]['sockets'] == ['/proc/800/root/run/docker.sock']


def test_discover_nothing_without_docker(host):
    fs = host.fs()
    daemons, context = procfs.discover_daemons(fs)
    assert daemons == []
    assert context['stats']['dockerd_pids'] == []
    assert fs.errors == []


def test_daemon_config_path():
    users = procfs.parse_etc_passwd(fakehost.fixture_text('etc', 'passwd'))
    proc = {'euid': 1000, 'args': procfs.parse_dockerd_args(['dockerd'])}
    assert procfs.daemon_config_path(proc, False, users) == '/etc/docker/daemon.json'
    assert procfs.daemon_config_path(proc, True, users) == '/home/alice/.config/docker/daemon.json'
    explicit = {'euid': 0, 'args': procfs.parse_dockerd_args(['dockerd', '--config-file', '/srv/d.json'])}
    assert procfs.daemon_config_path(explicit, False, users) == '/srv/d.json'
    assert procfs.daemon_config_path({'euid': 4242, 'args': {}}, True, users) is None


def test_discover_takes_sockets_from_daemon_json_when_cmdline_has_none(host):
    host.etc_file('docker/daemon.json', text='{"hosts": ["unix:///var/run/custom.sock", "tcp://127.0.0.1:2375"]}')
    host.add_process(500, 'dockerd', ['dockerd'])
    host.dead_socket('/run/docker.sock')      # stale default socket: not this daemon's
    daemons, _context = procfs.discover_daemons(host.fs())
    by_key = dict((d['key'], d) for d in daemons)
    assert by_key['rootful']['sockets'] == ['/run/custom.sock']
    assert by_key['rootful']['config_path'] == '/etc/docker/daemon.json'
    assert by_key['rootful:/run/docker.sock']['pid'] is None
    # a -H on the command line wins over daemon.json
    host.add_process(500, 'dockerd', ['dockerd', '-H', 'fd://'])
    daemons, _context = procfs.discover_daemons(host.fs())
    assert [d['sockets'] for d in daemons] == [['/run/docker.sock']]


def test_discover_docker_in_docker_reads_its_own_daemon_json(host):
    host.add_process(800, 'dockerd', ['dockerd'], mnt_ns='mnt:[4026533000]')
    host.write('/proc/800/root/etc/docker/daemon.json', '{"userns-remap": "default"}')
    host.etc_file('docker/daemon.json', text='{"hosts": ["unix:///run/host-only.sock"]}')
    daemons, _context = procfs.discover_daemons(host.fs())
    assert daemons[0]['config_path'] == '/proc/800/root/etc/docker/daemon.json'
    assert daemons[0]['config'] == {'userns-remap': 'default'}
    assert daemons[0]['sockets'] == ['/proc/800/root/run/docker.sock']


def test_discover_socket_only_daemons_load_their_config(host):
    host.standard_etc()
    host.dead_socket('/run/docker.sock')
    host.dead_socket('/run/user/1000/docker.sock')
    host.etc_file('docker/daemon.json', 'daemon_malformed.json')
    daemons, _context = procfs.discover_daemons(host.fs())
    by_key = dict((d['key'], d) for d in daemons)
    assert by_key['rootful']['config'] is None and 'malformed' in by_key['rootful']['config_error']
    assert by_key['rootless:1000']['config_path'] == '/home/alice/.config/docker/daemon.json'
