# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_proc_parsers.py: the pure parsers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.nsguard.docker.plugins.module_utils import _proc_parsers

from audit_helpers import fakehost


def test_parse_cmdline_bytes_text_and_empty():
    assert _proc_parsers.parse_cmdline(b'/usr/bin/dockerd\0-H\0fd://\0') == ['/usr/bin/dockerd', '-H', 'fd://']
    assert _proc_parsers.parse_cmdline('dockerd\0--tls') == ['dockerd', '--tls']
    assert _proc_parsers.parse_cmdline(b'') == []
    assert _proc_parsers.parse_cmdline(None) == []


def test_parse_status_ids():
    text = 'Name:\tdockerd\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1001\t1000\t1000\nUid: broken\n'
    ids = _proc_parsers.parse_status_ids('Name:\tdockerd\nUid:\t0\t1000\t0\t0\nGid:\t5\t6\t7\t8\n')
    assert ids == {'uid': [0, 1000, 0, 0], 'gid': [5, 6, 7, 8]}
    assert _proc_parsers.parse_status_ids(text)['gid'][1] == 1001
    assert _proc_parsers.parse_status_ids('') == {}


def test_parse_id_map_and_lookup_rootless_nested_map():
    text = '         0       1000          1\n         1     100000      65536\nbad line\n'
    ranges = _proc_parsers.parse_id_map(text)
    assert ranges == [{'inside': 0, 'outside': 1000, 'count': 1},
                      {'inside': 1, 'outside': 100000, 'count': 65536}]
    assert _proc_parsers.map_id(ranges, 0) == 1000
    # container uid 1000 is subordinate start + 999
    assert _proc_parsers.map_id(ranges, 1000) == 100999
    assert _proc_parsers.map_id(ranges, 65536) == 165535
    assert _proc_parsers.map_id(ranges, 65537) is None
    # and back: host 100999 is uid 1000 in the container, host 99999 is not mapped
    assert _proc_parsers.unmap_id(ranges, 1000) == 0
    assert _proc_parsers.unmap_id(ranges, 100999) == 1000
    assert _proc_parsers.unmap_id(ranges, 99999) is None
    assert not _proc_parsers.is_identity_map(ranges)
    assert _proc_parsers.is_identity_map(_proc_parsers.parse_id_map(fakehost.IDENTITY_MAP))


# Up to five (inside, outside, count) rows of an id map, and an id to look up.
ID_MAP_ROWS = st.lists(st.tuples(st.integers(0, 2 ** 31), st.integers(0, 2 ** 31), st.integers(1, 2 ** 20)),
                       max_size=5)
ANY_ID = st.integers(0, 2 ** 32)


def _first_row_match(rows, probe, source, target):
    """Brute force: ``probe`` moved from column ``source`` to ``target`` by the first row
    holding it, or None."""
    for row in rows:
        if row[source] <= probe < row[source] + row[2]:
            return row[target] + probe - row[source]
    return None


@given(ID_MAP_ROWS, ANY_ID)
def test_map_id_matches_brute_force(rows, probe):
    ranges = _proc_parsers.parse_id_map('\n'.join('%d %d %d' % row for row in rows))
    assert _proc_parsers.map_id(ranges, probe) == _first_row_match(rows, probe, 0, 1)


@given(ID_MAP_ROWS, ANY_ID)
def test_unmap_id_matches_brute_force(rows, probe):
    ranges = _proc_parsers.parse_id_map('\n'.join('%d %d %d' % row for row in rows))
    assert _proc_parsers.unmap_id(ranges, probe) == _first_row_match(rows, probe, 1, 0)


def test_namespace_and_socket_links():
    assert _proc_parsers.parse_ns_link('user:[4026531837]') == 4026531837
    assert _proc_parsers.parse_ns_link('socket:[1]') == 1
    assert _proc_parsers.parse_ns_link('/dev/null') is None
    assert _proc_parsers.parse_ns_link(None) is None
    assert _proc_parsers.parse_socket_link('socket:[5001]') == 5001
    assert _proc_parsers.parse_socket_link('pipe:[5001]') is None
    assert _proc_parsers.parse_socket_link('anon_inode:[eventpoll]') is None


def test_decode_hex_address_little_and_big_endian():
    assert _proc_parsers.decode_hex_address('0100007F', 'little') == '127.0.0.1'
    assert _proc_parsers.decode_hex_address('7F000001', 'big') == '127.0.0.1'
    assert _proc_parsers.decode_hex_address('00000000', 'little') == '0.0.0.0'
    assert _proc_parsers.decode_hex_address('0A00020F', 'little') == '15.2.0.10'
    assert _proc_parsers.decode_hex_address('00000000000000000000000001000000', 'little') == '::1'
    assert _proc_parsers.decode_hex_address('0000000000000000FFFF00000100007F', 'little') == '::ffff:127.0.0.1'
    assert _proc_parsers.decode_hex_address('B80D0120000000000000000001000000', 'little') == '2001:db8::1'
    with pytest.raises(ValueError):
        _proc_parsers.decode_hex_address('0100', 'little')


def _kernel_hex(address):
    """How a little-endian kernel prints an address: each 32-bit word in host order."""
    packed = ipaddress.ip_address(address).packed
    words = struct.unpack('!%dI' % (len(packed) // 4), packed)
    return ''.join('%08X' % struct.unpack('<I', struct.pack('!I', w))[0] for w in words)


@given(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)))
def test_decode_hex_address_round_trip(address):
    decoded = _proc_parsers.decode_hex_address(_kernel_hex(str(address)), 'little')
    assert ipaddress.ip_address(decoded) == address


def test_parse_net_tcp_ipv4_fixture():
    entries = _proc_parsers.parse_net_tcp(fakehost.fixture_text('proc', 'net_tcp'), 'little')
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
    entries = _proc_parsers.parse_net_tcp(fakehost.fixture_text('proc', 'net_tcp6'), 'little')
    assert [(e['local_address'], e['local_port'], e['family']) for e in entries] == [
        ('::', 2377, 'ipv6'), ('::1', 9323, 'ipv6'), ('::ffff:127.0.0.1', 8080, 'ipv6'),
        ('2001:db8::1', 80, 'ipv6')]
    assert entries[2]['uid'] == 1000
    assert entries[3]['state_name'] == 'ESTABLISHED'
    assert _proc_parsers.parse_net_tcp('') == []
    assert _proc_parsers.parse_net_tcp('header only\n') == []


@pytest.mark.parametrize('address,expected', [
    ('127.0.0.1', True), ('127.9.9.9', True), ('::1', True), ('[::1]', True),
    ('::ffff:127.0.0.1', True), ('localhost', True), ('0.0.0.0', False), ('::', False),
    ('10.0.0.5', False), ('docker.example', False), (None, False)])
def test_is_loopback(address, expected):
    assert _proc_parsers.is_loopback(address) is expected


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
    parsed = _proc_parsers.parse_docker_host(value, tls=tls)
    for key, want in expected.items():
        assert parsed[key] == want, (key, parsed)


def test_parse_dockerd_args_all_spellings():
    argv = ['/usr/bin/dockerd', '-H', 'fd://', '-Htcp://0.0.0.0:2375', '-H=unix:///tmp/a.sock',
            '--host', 'tcp://10.0.0.1:2376', '--host=unix:///run/b.sock', '--tlsverify',
            '--tls=false', '--tlscacert=/etc/docker/ca.pem', '--userns-remap', 'default',
            '--config-file=/etc/docker/alt.json', '--containerd=/run/containerd/containerd.sock',
            '--data-root', '/srv/docker', '--metrics-addr=127.0.0.1:9323', 'positional']
    args = _proc_parsers.parse_dockerd_args(argv)
    assert args['hosts'] == ['fd://', 'tcp://0.0.0.0:2375', 'unix:///tmp/a.sock', 'tcp://10.0.0.1:2376',
                             'unix:///run/b.sock']
    assert args['tlsverify'] is True
    assert args['tls'] is False
    assert args['tlscacert'] == '/etc/docker/ca.pem'
    assert args['userns_remap'] == 'default'
    assert args['config_file'] == '/etc/docker/alt.json'
    assert args['data_root'] == '/srv/docker'
    assert args['metrics_addr'] == '127.0.0.1:9323'
    bare = _proc_parsers.parse_dockerd_args(['dockerd'])
    assert bare['hosts'] == [] and bare['tlsverify'] is None and bare['userns_remap'] is None
    assert _proc_parsers.parse_dockerd_args([])['hosts'] == []
    assert _proc_parsers.parse_dockerd_args(['dockerd', '--rootless'])['rootless'] is True
    # a value flag at the end without a value is ignored, not a crash
    assert _proc_parsers.parse_dockerd_args(['dockerd', '--userns-remap'])['userns_remap'] is None


def test_parse_etc_group_and_passwd():
    groups = _proc_parsers.parse_etc_group(fakehost.fixture_text('etc', 'group') + 'bad\n+nis::0:\nx:x:notanumber:\n')
    docker = [g for g in groups if g['name'] == 'docker'][0]
    assert docker == {'name': 'docker', 'gid': 999, 'members': ['alice', 'ci', 'root', 'ghost']}
    assert not any(g['name'] in ('bad', '+nis', 'x') for g in groups)
    users = _proc_parsers.parse_etc_passwd(fakehost.fixture_text('etc', 'passwd') + 'short:x:1\n')
    assert [u['name'] for u in users if u['uid'] == 0] == ['root', 'toor']
