# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units for plugins/module_utils/_daemon_restart.py with a fake systemd.

The fake daemon starts only when its daemon.json has no "storage-driver": "btrfs", as
dockerd on an ext4 host: so a rollback is proved by the file it finds, not by a script.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _daemon_restart as dr

GOOD = b'{\n    "log-level": "warn"\n}\n'
BAD = b'{\n  "log-level": "warn",\n  "storage-driver": "btrfs"\n}\n'
CAUSE = ('failed to start daemon: error initializing graphdriver: prerequisites for driver '
         'not satisfied (wrong filesystem?)')


class FakeSystemd(object):
    def __init__(self, config, starts=None, failed_rc=1, journal_rc=0):
        self.config = config
        self.calls = []
        self.state = 'active'
        self.starts = starts  # None: decided by the file; else a list of outcomes
        self.failed_rc = failed_rc  # what `systemctl restart` exits with when it fails
        self.journal_rc = journal_rc

    def _starts(self):
        if self.starts is not None:
            return self.starts.pop(0)
        try:
            data = json.loads(self.config.read_text() or '{}')
        except (OSError, ValueError):
            return False
        return data.get('storage-driver') != 'btrfs'

    def __call__(self, argv):
        self.calls.append(argv)
        if argv[:2] == ['systemctl', 'restart']:
            ok = self._starts()
            self.state = 'active' if ok else 'failed'
            return (0, '', '') if ok else (self.failed_rc, '', 'Job for docker.service failed.')
        if argv[:2] == ['systemctl', 'show']:
            assert argv[2:5] == ['--property', 'ActiveState', '--value'] and len(argv) == 6, argv
            return 0, self.state + '\n', ''
        if argv[:2] == ['systemctl', 'reset-failed']:
            return 0, '', ''
        if argv[0] == 'journalctl':
            if self.journal_rc:
                return self.journal_rc, '', 'No journal files were found.'
            return 0, ('time="x" level=info msg="Starting up"\n%s\n\n'
                       'Failed to start docker.service - Docker Application Container Engine.\n'
                       % CAUSE), ''
        raise AssertionError(argv)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def files(tmp_path):
    config = tmp_path / 'daemon.json'
    copy = tmp_path / 'daemon.json.nsguard-rollback'
    return config, copy


def test_success_removes_the_copy_and_keeps_the_file(files):
    config, copy = files
    config.write_bytes(GOOD)
    copy.write_bytes(b'{}')
    fake = FakeSystemd(config)
    result = dr.restart(fake, 'docker.service', str(config), str(copy))
    assert result.msg is None and result.restarted and not result.rolled_back
    assert not copy.exists()
    assert config.read_bytes() == GOOD
    assert result.active_state == 'active'
    assert not any(c[0] == 'journalctl' for c in fake.calls)


def test_failure_puts_the_previous_file_back_byte_for_byte(files):
    config, copy = files
    copy.write_bytes(GOOD)
    before = digest(copy)
    config.write_bytes(BAD)
    fake = FakeSystemd(config)
    result = dr.restart(fake, 'docker.service', str(config), str(copy), clock=lambda: 1700000000.5)
    assert result.rolled_back and not result.restarted
    assert digest(config) == before and not copy.exists()
    assert ['systemctl', 'reset-failed', 'docker.service', 'docker.socket'] in fake.calls
    assert [c for c in fake.calls if c[:2] == ['systemctl', 'restart']] == [
        ['systemctl', 'restart', 'docker.service']] * 2
    (journal_call,) = [c for c in fake.calls if c[0] == 'journalctl']
    assert journal_call[journal_call.index('--since') + 1] == '@1699999999'
    assert result.active_state == 'active'
    assert CAUSE in result.msg and 'running again' in result.msg
    assert 'the change was undone: the previous %s is back' % config in result.msg
    assert CAUSE in result.journal
    assert '' not in result.journal  # blank lines of the journal are dropped


def test_failure_of_a_new_file_removes_it(files):
    config, copy = files
    config.write_bytes(BAD)
    result = dr.restart(FakeSystemd(config), 'docker.service', str(config), None, created=True)
    assert result.rolled_back and not config.exists()
    assert 'did not exist before' in result.msg


@pytest.mark.parametrize('config_path, created', [(None, False), ('daemon.json', False)])
def test_failure_with_nothing_to_undo(files, config_path, created):
    config, copy = files
    config.write_bytes(BAD)
    fake = FakeSystemd(config)
    result = dr.restart(fake, 'docker.service', config_path and str(config), None, created=created)
    assert not result.rolled_back
    assert result.msg.startswith('docker.service did not restart (failed)')
    assert CAUSE in result.msg
    assert config.read_bytes() == BAD
    assert not any(c[:2] == ['systemctl', 'reset-failed'] for c in fake.calls)


def test_second_start_failing_too_is_said(files):
    config, copy = files
    copy.write_bytes(GOOD)
    config.write_bytes(BAD)
    fake = FakeSystemd(config, starts=[False, False])
    result = dr.restart(fake, 'docker', str(config), str(copy))
    assert result.rolled_back and result.active_state == 'failed'
    assert 'did not start again either' in result.msg
    assert config.read_bytes() == GOOD
    assert ['systemctl', 'reset-failed', 'docker', 'docker.socket'] in fake.calls


def test_rollback_file_elsewhere_is_refused(tmp_path, files):
    config, copy = files
    config.write_bytes(BAD)
    other = tmp_path / 'elsewhere'
    other.mkdir()
    (other / 'copy').write_bytes(GOOD)
    result = dr.restart(FakeSystemd(config), 'docker.service', str(config), str(other / 'copy'))
    assert not result.rolled_back
    assert 'could not be undone' in result.msg and 'not in the directory' in result.msg
    assert CAUSE in result.msg and CAUSE in result.journal
    assert config.read_bytes() == BAD


def test_rollback_copy_gone_keeps_the_daemons_words(files):
    config, copy = files
    config.write_bytes(BAD)  # the copy was removed behind the module's back
    fake = FakeSystemd(config)
    result = dr.restart(fake, 'docker.service', str(config), str(copy))
    assert not result.rolled_back and result.active_state == 'failed'
    assert 'could not be undone' in result.msg and str(copy) in result.msg
    assert CAUSE in result.msg and CAUSE in result.journal
    assert config.read_bytes() == BAD
    assert not any(c[:2] == ['systemctl', 'reset-failed'] for c in fake.calls)


def test_cause_prefers_the_last_error_line():
    journal = ['level=error msg="first"', CAUSE, 'docker.service: Main process exited, code=exited',
               'Failed to start docker.service - Docker Application Container Engine.']
    assert dr.cause(journal, 'fallback') == CAUSE
    assert dr.cause(['just a line', 'last line'], 'fallback') == 'last line'
    assert dr.cause([], 'fallback') == 'fallback'


def test_socket_unit():
    assert dr.socket_unit('docker.service') == 'docker.socket'
    assert dr.socket_unit('docker') == 'docker.socket'


def test_discard_copy_tolerates_a_missing_file(files):
    config, copy = files
    dr.discard_copy(str(copy))
    dr.discard_copy(None)
    copy.write_bytes(GOOD)
    dr.discard_copy(str(copy))
    assert not copy.exists()


def test_restart_exit_zero_but_not_active_is_a_failure(files):
    """systemctl restart may return 0 and the unit still not be up: ActiveState decides."""
    config, copy = files
    copy.write_bytes(GOOD)
    config.write_bytes(BAD)
    fake = FakeSystemd(config, failed_rc=0)
    result = dr.restart(fake, 'docker.service', str(config), str(copy))
    assert not result.restarted and result.rolled_back
    assert result.active_state == 'active'
    assert config.read_bytes() == GOOD and not copy.exists()


def test_no_journal_falls_back_to_what_systemctl_said(files):
    config, copy = files
    config.write_bytes(BAD)
    fake = FakeSystemd(config, journal_rc=1)
    result = dr.restart(fake, 'docker.service', None, None)
    assert result.journal == []
    assert result.msg == ('docker.service did not restart (failed). The daemon said: '
                          'Job for docker.service failed.')


def test_cause_takes_a_level_error_line_over_later_noise():
    journal = ['time="t" level=info msg="Starting up"',
               'time="t" level=error msg="unable to load plugin"',
               'docker.service: Main process exited, code=exited, status=1/FAILURE',
               'docker.service: Failed with result \'exit-code\'.',
               'Failed to start docker.service - Docker Application Container Engine.']
    assert dr.cause(journal, 'fallback') == 'time="t" level=error msg="unable to load plugin"'
