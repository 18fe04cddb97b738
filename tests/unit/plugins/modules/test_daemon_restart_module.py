# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module tests for nsguard.docker.daemon_restart: main() against a fake systemctl and
journalctl (tests/unit/fixtures/systemd/fake_systemctl.py) on PATH."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys

import pytest
from audit_helpers import run_module

from ansible_collections.nsguard.docker.plugins.modules import daemon_restart
from ansible_collections.nsguard.docker.tests.unit.conftest import FIXTURES

GOOD = '{\n    "log-level": "warn"\n}\n'
BAD = '{"storage-driver": "btrfs"}\n'


def install_fake_systemd(tmp_path, monkeypatch, config):
    """bin/systemctl and bin/journalctl first on PATH; returns a reader of their calls."""
    bindir = tmp_path / 'fake-systemd-bin'
    bindir.mkdir()
    with open(os.path.join(FIXTURES, 'systemd', 'fake_systemctl.py')) as handle:
        body = handle.read()
    for name in ('systemctl', 'journalctl'):
        tool = bindir / name
        tool.write_text('#!%s\n%s' % (sys.executable, body))
        tool.chmod(0o755)
    state = tmp_path / 'fake-systemd-state'
    state.mkdir()
    (state / 'config').write_text(str(config))
    monkeypatch.setenv('FAKE_SYSTEMD_DIR', str(state))
    monkeypatch.setenv('PATH', '%s:%s' % (bindir, os.environ.get('PATH', '')))

    def calls():
        path = state / 'calls'
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return state, calls


@pytest.fixture
def host(tmp_path, monkeypatch):
    config = tmp_path / 'daemon.json'
    copy = tmp_path / 'daemon.json.nsguard-rollback'
    state, calls = install_fake_systemd(tmp_path, monkeypatch, config)
    return config, copy, calls


def run(capsys, check_mode=False, **args):
    return run_module(daemon_restart, args, capsys, check_mode=check_mode)


def test_check_mode_runs_nothing(host, capsys):
    config, copy, calls = host
    config.write_text(BAD)
    copy.write_text(GOOD)
    result = run(capsys, check_mode=True, config_path=str(config), rollback_file=str(copy))
    assert result['changed'] is True and result['_rc'] == 0
    assert calls() == []
    assert config.read_text() == BAD and copy.read_text() == GOOD


def test_restart_false_only_removes_the_copy(host, capsys):
    config, copy, calls = host
    config.write_text(GOOD)
    copy.write_text('{}')
    result = run(capsys, restart=False, config_path=str(config), rollback_file=str(copy))
    assert result['changed'] is False
    assert not copy.exists() and config.read_text() == GOOD
    assert calls() == []


def test_success(host, capsys):
    config, copy, calls = host
    config.write_text(GOOD)
    copy.write_text('{}')
    result = run(capsys, config_path=str(config), rollback_file=str(copy))
    assert result['_rc'] == 0 and result['restarted'] is True and result['rolled_back'] is False
    assert result['active_state'] == 'active'
    assert not copy.exists()
    assert [c for c in calls() if c[1] == 'restart'] == [['systemctl', 'restart', 'docker.service']]


def test_failure_is_undone_and_reported(host, capsys):
    config, copy, calls = host
    config.write_text(BAD)
    copy.write_text(GOOD)
    result = run(capsys, config_path=str(config), rollback_file=str(copy), journal_lines=5)
    assert result['failed'] is True and result['_rc'] == 1
    assert result['rolled_back'] is True and result['active_state'] == 'active'
    assert config.read_text() == GOOD and not copy.exists()
    assert 'driver not supported: btrfs' in result['msg'] and 'running again' in result['msg']
    assert any('btrfs' in line for line in result['journal'])
    journal = [c for c in calls() if c[0] == 'journalctl']
    assert journal and journal[0][journal[0].index('--lines') + 1] == '5'
    assert ['systemctl', 'reset-failed', 'docker.service', 'docker.socket'] in calls()


def test_failure_of_a_created_file_removes_it(host, capsys):
    config, copy, calls = host
    config.write_text(BAD)
    result = run(capsys, config_path=str(config), created=True)
    assert result['failed'] is True and result['rolled_back'] is True
    assert not config.exists()
    assert 'did not exist before' in result['msg']


def test_rollback_file_in_another_directory_is_not_renamed(host, tmp_path, capsys):
    config, copy, calls = host
    config.write_text(BAD)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    (elsewhere / 'daemon.json').write_text(GOOD)
    result = run(capsys, config_path=str(config), rollback_file=str(elsewhere / 'daemon.json'))
    assert result['failed'] is True and result['changed'] is True
    assert 'could not be undone' in result['msg'] and 'not in the directory' in result['msg']
    assert config.read_text() == BAD and (elsewhere / 'daemon.json').read_text() == GOOD
    assert not any(c[1] == 'reset-failed' for c in calls() if c[0] == 'systemctl')
