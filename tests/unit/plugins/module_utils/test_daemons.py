# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_daemons.py: daemon.json loading and daemon discovery."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.nsguard.docker.plugins.module_utils import _daemons, _proc_parsers

from audit_helpers import fakehost


def test_load_daemon_json_missing_valid_malformed_and_not_object(host):
    fs = host.fs()
    assert _daemons.load_daemon_json(fs, '/etc/docker/daemon.json') == ({}, None)
    host.etc_file('docker/daemon.json', 'daemon_userns.json')
    assert _daemons.load_daemon_json(fs, '/etc/docker/daemon.json')[0]['userns-remap'] == 'default'
    host.etc_file('docker/daemon.json', 'daemon_malformed.json')
    config, error = _daemons.load_daemon_json(fs, '/etc/docker/daemon.json')
    assert config is None and 'malformed JSON' in error
    host.etc_file('docker/daemon.json', text='["not", "an", "object"]')
    config, error = _daemons.load_daemon_json(fs, '/etc/docker/daemon.json')
    assert config is None and 'not an object' in error
    host.etc_file('docker/daemon.json', 'daemon_userns.json')
    host.fail('/etc/docker/daemon.json', PermissionError(13, 'Permission denied'))
    config, error = _daemons.load_daemon_json(fs, '/etc/docker/daemon.json')
    assert config is None and 'Permission denied' in error
    assert [e['kind'] for e in fs.errors] == ['malformed', 'malformed', 'permission']


def test_canonical_socket_path_names_var_run_as_run():
    assert _daemons.canonical_socket_path('/var/run/docker.sock') == '/run/docker.sock'
    assert _daemons.canonical_socket_path('/var/run') == '/run'
    assert _daemons.canonical_socket_path('/var/runner/x') == '/var/runner/x'
    assert _daemons.canonical_socket_path('/run/docker.sock') == '/run/docker.sock'


def test_user_name_and_passwd_home():
    users = _proc_parsers.parse_etc_passwd(fakehost.fixture_text('etc', 'passwd') + 'short:x:1\n')
    assert _daemons.user_name(users, 1003) == 'deploy'
    assert _daemons.user_name(users, 4242) is None
    assert _daemons.passwd_home(users, 1000) == '/home/alice'


def test_discover_rootful_rootless_and_socket_only_daemons(host):
    host.standard_etc()
    host.add_process(500, 'dockerd', ['/usr/bin/dockerd', '-H', 'fd://', '--containerd=/run/containerd.sock'])
    host.add_process(600, 'dockerd', ['dockerd'], euid=1000, user_ns='user:[4026532500]',
                     mnt_ns='mnt:[4026532501]', uid_map='0 1000 1\n1 165536 65536\n')
    host.dead_socket('/run/docker.sock')
    host.dead_socket('/run/user/1000/docker.sock')
    host.dead_socket('/run/user/1001/docker.sock')   # bob: socket left, no process
    os.makedirs(host.real('/run/user/notanumber'))
    daemons, context = _daemons.discover_daemons(host.fs())
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
    daemons, _context = _daemons.discover_daemons(host.fs())
    assert daemons[0]['kind'] == 'rootless'


def test_discover_docker_in_docker_uses_proc_root_path(host):
    host.add_process(800, 'dockerd', ['dockerd', '--host=unix:///var/run/docker.sock'],
                     mnt_ns='mnt:[4026533000]')
    daemons, _context = _daemons.discover_daemons(host.fs())
    assert daemons[0]['key'] == 'pid:800'
    assert daemons[0]['sockets'] == ['/proc/800/root/run/docker.sock']


def test_discover_nothing_without_docker(host):
    fs = host.fs()
    daemons, context = _daemons.discover_daemons(fs)
    assert daemons == []
    assert context['stats']['dockerd_pids'] == []
    assert fs.errors == []


def test_daemon_config_path():
    users = _proc_parsers.parse_etc_passwd(fakehost.fixture_text('etc', 'passwd'))
    proc = {'euid': 1000, 'args': _proc_parsers.parse_dockerd_args(['dockerd'])}
    assert _daemons.daemon_config_path(proc, False, users) == '/etc/docker/daemon.json'
    assert _daemons.daemon_config_path(proc, True, users) == '/home/alice/.config/docker/daemon.json'
    explicit = {'euid': 0, 'args': _proc_parsers.parse_dockerd_args(['dockerd', '--config-file', '/srv/d.json'])}
    assert _daemons.daemon_config_path(explicit, False, users) == '/srv/d.json'
    assert _daemons.daemon_config_path({'euid': 4242, 'args': {}}, True, users) is None


def test_discover_takes_sockets_from_daemon_json_when_cmdline_has_none(host):
    host.etc_file('docker/daemon.json', text='{"hosts": ["unix:///var/run/custom.sock", "tcp://127.0.0.1:2375"]}')
    host.add_process(500, 'dockerd', ['dockerd'])
    host.dead_socket('/run/docker.sock')      # stale default socket: not this daemon's
    daemons, _context = _daemons.discover_daemons(host.fs())
    by_key = dict((d['key'], d) for d in daemons)
    assert by_key['rootful']['sockets'] == ['/run/custom.sock']
    assert by_key['rootful']['config_path'] == '/etc/docker/daemon.json'
    assert by_key['rootful:/run/docker.sock']['pid'] is None
    # a -H on the command line wins over daemon.json
    host.add_process(500, 'dockerd', ['dockerd', '-H', 'fd://'])
    daemons, _context = _daemons.discover_daemons(host.fs())
    assert [d['sockets'] for d in daemons] == [['/run/docker.sock']]


def test_discover_docker_in_docker_reads_its_own_daemon_json(host):
    host.add_process(800, 'dockerd', ['dockerd'], mnt_ns='mnt:[4026533000]')
    host.write('/proc/800/root/etc/docker/daemon.json', '{"userns-remap": "default"}')
    host.etc_file('docker/daemon.json', text='{"hosts": ["unix:///run/host-only.sock"]}')
    daemons, _context = _daemons.discover_daemons(host.fs())
    assert daemons[0]['config_path'] == '/proc/800/root/etc/docker/daemon.json'
    assert daemons[0]['config'] == {'userns-remap': 'default'}
    assert daemons[0]['sockets'] == ['/proc/800/root/run/docker.sock']


def test_discover_socket_only_daemons_load_their_config(host):
    host.standard_etc()
    host.dead_socket('/run/docker.sock')
    host.dead_socket('/run/user/1000/docker.sock')
    host.etc_file('docker/daemon.json', 'daemon_malformed.json')
    daemons, _context = _daemons.discover_daemons(host.fs())
    by_key = dict((d['key'], d) for d in daemons)
    assert by_key['rootful']['config'] is None and 'malformed' in by_key['rootful']['config_error']
    assert by_key['rootless:1000']['config_path'] == '/home/alice/.config/docker/daemon.json'


def test_docker_desktop_sockets_in_homes(host):
    fakehost.build_desktop_host(host)
    daemons, _context = _daemons.discover_daemons(host.fs())
    (desktop,) = [d for d in daemons if d['kind'] == 'desktop']
    assert desktop['key'] == 'desktop:%d' % fakehost.DESKTOP_UID and desktop['pid'] is None
    assert desktop['sockets'] == [os.path.join(fakehost.desktop_home(host), '.docker', 'desktop', 'docker.sock')]
    assert desktop['config_path'] == os.path.join(fakehost.desktop_home(host), '.docker/daemon.json')
    assert _daemons.awaits_process(desktop) is False
    assert _daemons.desktop_socket_paths(host.fs(), [{'uid': 7, 'home': '/'}, {'uid': 8, 'home': ''}]) == []
