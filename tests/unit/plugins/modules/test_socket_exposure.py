# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/modules/socket_exposure.py: the module as Ansible runs it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import pytest
import yaml

from ansible_collections.nsguard.docker.plugins.modules import namespace_mode, socket_exposure

from audit_helpers import checked_documentation, fakehost, run_module


# modules read real metadata: fake owners (root:docker sockets, user-owned units) need root
needs_root = pytest.mark.skipif(not fakehost.REAL_OWNERSHIP, reason='chown needs root')


def test_documentation_is_complete():
    doc = checked_documentation(socket_exposure, 'socket_exposure')
    spec_defaults = dict((k, v['default']) for k, v in doc['options'].items())
    assert spec_defaults['unit_dirs'] == ['/etc/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system']
    assert spec_defaults['fail_on'] == 'none'
    returned = yaml.safe_load(socket_exposure.RETURN)
    assert set(['sockets', 'tcp_endpoints', 'unit_files', 'socket_mounts', 'findings', 'summary', 'complete',
                'skipped_checks', 'mount_scan']) <= set(returned)
    assert spec_defaults['connect_idle_sockets'] is False and spec_defaults['api_timeout'] == 10.0
    assert yaml.safe_load(socket_exposure.EXAMPLES)


@needs_root
def test_exposed_host(host, capsys):
    fakehost.build_exposed_host(host)
    host.unit('docker.service', uid=1000)
    args = host.module_args(unit_dirs=[host.units], allow_users=['ci'], allow_groups=['dockeradmins'])
    result = run_module(socket_exposure, args, capsys, check_mode=True)
    assert result['_rc'] == 0 and result['changed'] is False
    ids = sorted(set(f['id'] for f in result['findings']))
    assert ids == ['container-mounts-socket', 'docker-group-member', 'dockerd-listener-info',
                   'dockerd-listener-unknown', 'tcp-no-tls', 'unit-file-ownership']
    members = sorted(f['subject'] for f in result['findings'] if f['id'] == 'docker-group-member')
    assert members == ['user:alice', 'user:deploy', 'user:ghost']


@pytest.mark.parametrize('fail_on,should_fail', [
    ('none', False), ('critical', True), ('high', True), ('info', True)])
def test_fail_on_gating(host, capsys, fail_on, should_fail):
    fakehost.build_exposed_host(host)
    result = run_module(socket_exposure, host.module_args(unit_dirs=[], fail_on=fail_on), capsys)
    assert result['changed'] is False
    assert bool(result.get('failed')) is should_fail
    assert result['_rc'] == (1 if should_fail else 0)
    if should_fail:
        assert 'tcp-no-tls' in result['msg'] and 'critical' in result['msg']
        assert result['findings']     # data still returned


@needs_root
def test_fail_on_below_threshold_passes(host, capsys):
    host.standard_etc()
    host.add_process(500, 'dockerd', ['dockerd'])
    host.engine('/run/docker.sock', fakehost.engine_routes('userns'), mode=0o660, gid=0)
    host.unit('docker.service', mode=0o755)    # low
    result = run_module(socket_exposure, host.module_args(unit_dirs=[host.units], fail_on='medium',
                                                          query_api=False), capsys)
    assert result['_rc'] == 0 and [f['severity'] for f in result['findings']] == ['low']


def test_no_docker_at_all(host, capsys):
    result = run_module(socket_exposure, host.module_args(unit_dirs=[host.units], fail_on='info'), capsys)
    assert result['_rc'] == 0 and result['findings'] == [] and result['sockets'] == []


def test_both_modules_on_this_machine_under_a_second(capsys):
    # CPU time, not wall time: the modules' own work, however busy the machine is.
    started = time.process_time()
    first = run_module(namespace_mode, {}, capsys)
    second = run_module(socket_exposure, {}, capsys)
    assert time.process_time() - started < 1.0
    assert first['_rc'] == 0 and second['_rc'] == 0


def test_both_modules_on_a_busy_fake_host_under_a_second(host, capsys):
    fakehost.build_web_host(host)
    for pid in range(10000, 10400):     # a host with a few hundred other processes
        host.add_process(pid, 'worker', ['worker'])
    started = time.process_time()   # the modules' work and the fake daemon's, not the machine's load
    run_module(namespace_mode, host.module_args(), capsys)
    run_module(socket_exposure, host.module_args(unit_dirs=[host.units]), capsys)
    assert time.process_time() - started < 1.0


def test_a_socket_no_dockerd_serves_is_not_connected_to(host, capsys):
    # docker.socket active, docker.service stopped: a connection would start dockerd.
    engine = host.engine('/run/docker.sock', fakehost.engine_routes('default'), gid=0)
    result = run_module(socket_exposure, host.module_args(unit_dirs=[]), capsys)
    assert engine.requests == []
    assert 'daemon-not-running' in [f['id'] for f in result['findings']]
    assert result['complete'] is True and result['socket_mounts'] == []
    result = run_module(socket_exposure, host.module_args(unit_dirs=[], connect_idle_sockets=True), capsys)
    assert [r.split(' ')[1] for r in engine.requests] == ['/containers/json']
    assert [m['name'] for m in result['socket_mounts']] == ['ci-runner']


def test_results_say_what_was_not_checked(host, capsys):
    host.standard_etc()
    host.add_process(500, 'dockerd', ['/usr/bin/dockerd', '-H', 'fd://'])
    host.dead_socket('/run/docker.sock', gid=0)
    result = run_module(socket_exposure, host.module_args(unit_dirs=[], api_timeout=0.2), capsys)
    assert result['complete'] is False
    (gap,) = [f for f in result['findings'] if f['id'] == 'audit-incomplete']
    assert gap['severity'] == 'high' and gap['evidence']['skipped_checks'] == ['container-mounts-socket']
    assert [(e['daemon'], e['check'], e['kind']) for e in result['skipped_checks']] == [
        ('rootful', 'container-mounts-socket', 'unanswered')]
    assert 'mount_scan' in result and result['mount_scan']['ran'] is False
