# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/modules/namespace_mode.py: the module as Ansible runs it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import yaml

from ansible_collections.nsguard.docker.plugins.module_utils import _audit_module
from ansible_collections.nsguard.docker.plugins.modules import namespace_mode

from audit_helpers import checked_documentation, fakehost, run_module


def test_documentation_is_complete():
    doc = checked_documentation(namespace_mode, 'namespace_mode')
    assert 'nsguard.docker.attributes.info_module' in doc['extends_documentation_fragment']
    # every option of the shared argument spec is documented, with its default
    spec = _audit_module.audit_argument_spec()
    assert set(doc['options']) == set(spec)
    assert dict((k, v['default']) for k, v in doc['options'].items()) == dict((k, v['default']) for k, v in spec.items())
    returned = yaml.safe_load(namespace_mode.RETURN)
    assert set(['daemons', 'findings', 'summary', 'errors', 'kernel', 'subordinate_ids']) <= set(returned)
    assert yaml.safe_load(namespace_mode.EXAMPLES)


def test_reports_modes_and_findings(host, capsys):
    fakehost.build_web_host(host)
    result = run_module(namespace_mode, host.module_args(), capsys, check_mode=True)
    assert result['_rc'] == 0 and result['changed'] is False and not result.get('failed')
    assert sorted((d['id'], d['mode']) for d in result['daemons']) == [
        ('rootful', 'default'), ('rootless:1000', 'rootless')]
    assert 'userns-default-mode' in [f['id'] for f in result['findings']]


def test_fail_on_gates_but_stays_unchanged(host, capsys):
    fakehost.build_web_host(host)
    failed = run_module(namespace_mode, host.module_args(fail_on='high'), capsys)
    assert failed['_rc'] == 1 and failed['failed'] is True and failed['changed'] is False
    assert failed['msg'].startswith('namespace_mode: ') and 'at or above high' in failed['msg']
    assert 'userns-default-mode' in failed['msg'] and failed['daemons']
    passed = run_module(namespace_mode, host.module_args(fail_on='critical'), capsys)
    assert passed['_rc'] == 0 and not passed.get('failed')


def test_no_docker_at_all(host, capsys):
    result = run_module(namespace_mode, host.module_args(fail_on='info'), capsys)
    assert result['_rc'] == 0
    assert result['daemons'] == [] and result['findings'] == []


def test_unreachable_daemon_with_short_timeout(host, capsys):
    host.add_process(500, 'dockerd', ['dockerd'])
    host.engine('/run/docker.sock', {'/info': lambda head: None})   # accepts, never answers
    started = time.monotonic()
    result = run_module(namespace_mode, host.module_args(api_timeout=0.3), capsys)
    # 'timed out' (below) is the proof: the fake daemon holds the connection open until the
    # test ends. The bound only catches a hang, generous for a loaded machine.
    assert time.monotonic() - started < 60
    daemon = result['daemons'][0]
    assert daemon['reachable'] is False and 'timed out' in daemon['error']
    assert daemon['mode'] == 'default' and daemon['mode_source'] == 'process'


def test_bad_api_timeout(host, capsys):
    result = run_module(namespace_mode, host.module_args(api_timeout=0), capsys)
    assert result['_rc'] == 1 and 'api_timeout' in result['msg']


def test_runs_on_this_machine_quickly(capsys):
    started = time.process_time()   # CPU time: the module's own work, not the machine's load
    result = run_module(namespace_mode, {}, capsys)
    assert time.process_time() - started < 1.0
    assert result['_rc'] == 0 and result['changed'] is False
    assert isinstance(result['daemons'], list) and isinstance(result['errors'], list)


def test_a_socket_no_dockerd_serves_is_not_connected_to(host, capsys):
    # docker.socket active, docker.service stopped: a connection would start dockerd.
    engine = host.engine('/run/docker.sock', fakehost.engine_routes('default'), gid=0)
    result = run_module(namespace_mode, host.module_args(), capsys)
    assert engine.requests == []
    assert [(f['id'], f['severity']) for f in result['findings']] == [('daemon-not-running', 'info')]
    assert result['complete'] is True and result['skipped_checks'] == []
    assert result['daemons'][0]['idle'] is True and result['daemons'][0]['queried'] is False
    result = run_module(namespace_mode, host.module_args(connect_idle_sockets=True), capsys)
    assert [r.split(' ')[1] for r in engine.requests][:2] == ['/info', '/containers/json']


def test_unanswered_daemon_is_incomplete_and_fails_at_high(host, capsys):
    host.add_process(500, 'dockerd', ['/usr/bin/dockerd', '-H', 'fd://'])
    host.dead_socket('/run/docker.sock', gid=0)
    result = run_module(namespace_mode, host.module_args(api_timeout=0.2, fail_on='high'), capsys)
    assert result['_rc'] == 1 and 'audit-incomplete' in result['msg']
    assert result['complete'] is False
    assert [(e['daemon'], e['check'], e['kind']) for e in result['skipped_checks']] == [
        ('rootful', 'container-privilege', 'unanswered'), ('rootful', 'container-root-is-host-root', 'unanswered')]
    assert result['daemons'][0]['api_attempts'] == 2
