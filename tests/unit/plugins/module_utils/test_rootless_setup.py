# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_rootless_setup.py with a fake host and a fake clock.

The fake host plays the setup tool as Docker 20.10's behaves: it writes the unit, starts
it, and exits 1 when the daemon does not answer 3 s later; the daemon answers a given
number of seconds after its start.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.nsguard.docker.plugins.module_utils import _rootless_setup as rs

UNIT_TEXT = '[Unit]\n[Service]\nExecStart=/usr/bin/dockerd-rootless.sh\nType=simple\n\n[Install]\nWantedBy=default.target\n'
TOOL = ['/usr/bin/dockerd-rootless-setuptool.sh', 'install']
ROOTLESS = ['name=seccomp,profile=builtin', 'name=rootless']


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeHost(object):
    """unit_text, enabled, started_at (None: daemon not running), answer_after seconds."""

    socket = '/run/user/1001/docker.sock'

    def __init__(self, clock, answer_after=1.0, unit_text=None, enabled=False, failed=False,
                 writes_unit=True, options=None):
        self.clock = clock
        self.answer_after = answer_after
        self.unit_text = unit_text
        self.is_enabled = enabled
        self.failed = failed
        self.writes_unit = writes_unit
        self.options = ROOTLESS if options is None else options
        self.started_at = None
        self.commands = []
        self.removed = False

    # Host interface
    def run(self, argv):
        self.commands.append(list(argv))
        rc, out = 0, ''
        if argv == TOOL:
            rc, out = self._tool()
        elif argv[:3] == ['systemctl', '--user', 'is-failed']:
            rc = 0 if self.failed else 1
        elif argv[:3] == ['systemctl', '--user', 'reset-failed']:
            self.failed = False
        elif argv[0] == 'journalctl':
            out = 'dockerd-rootless.sh[1]: the journal'
        return {'argv': list(argv), 'rc': rc, 'stdout': out, 'stderr': ''}

    def read_unit_file(self):
        return self.unit_text

    def remove_unit_file(self):
        self.unit_text = None
        self.removed = True

    def unit_failed(self):
        return rs.Host.unit_failed(self)

    def enabled(self):
        return self.is_enabled

    def answers_as_rootless(self):
        if self.started_at is None or self.clock() - self.started_at < self.answer_after:
            return False, None, 'connection refused'
        return 'name=rootless' in self.options, self.options, None

    # The setup tool, as 20.10's: start, sleep 3, docker version, enable.
    def _tool(self):
        if not self.writes_unit:
            return 1, '[ERROR] Missing system requirements.'
        if self.unit_text is None:
            self.unit_text = UNIT_TEXT
        if self.failed:
            return 1, 'Failed to start docker.service'
        if self.started_at is None:
            self.started_at = self.clock()
            self.clock.sleep(3)
        if not self.answers_as_rootless()[0]:
            return 1, 'Cannot connect to the Docker daemon'
        self.is_enabled = True
        return 0, 'Installed docker.service successfully.'


def run_install(host, clock, timeout=120, check_mode=False):
    return rs.install(host, TOOL, timeout, check_mode=check_mode, clock=clock, sleep=clock.sleep)


def tool_runs(host):
    return [c for c in host.commands if c == TOOL]


def test_unit_file_state():
    assert rs.unit_file_state(None) == 'absent'
    assert rs.unit_file_state(UNIT_TEXT) == 'complete'
    assert rs.unit_file_state('[Unit]\n[Service]\nExecStart=/usr/bin/dockerd-rootless.sh\nType=sim') == 'partial'
    assert rs.unit_file_state('') == 'partial'


def test_fast_daemon_needs_one_run_and_no_wait():
    clock = Clock()
    host = FakeHost(clock, answer_after=1.0)
    result = run_install(host, clock)
    assert not result['failed'] and result['changed']
    assert len(tool_runs(host)) == 1 and len(result['attempts']) == 1
    assert result['wait']['answered'] and result['wait']['seconds'] == 0
    assert result['security_options'] == ROOTLESS
    assert result['unit_file'] == 'absent' and not result['resumed']


def test_slow_daemon_is_waited_for_then_the_tool_finishes():
    """The lab's flake: the daemon answers 45 s after its start, the tool gives it 3 s."""
    clock = Clock()
    host = FakeHost(clock, answer_after=45.0)
    result = run_install(host, clock)
    assert not result['failed'], result['msg']
    assert [a['rc'] for a in result['attempts']] == [1, 0]
    assert result['wait']['answered'] and 40 <= result['wait']['seconds'] <= 44
    assert host.is_enabled
    assert 'after waiting' in result['msg']


def test_three_blind_retries_five_seconds_apart_would_have_failed():
    """What the role did before: the tool three times, 5 s apart, never sees the daemon."""
    clock = Clock()
    host = FakeHost(clock, answer_after=45.0)
    rcs = []
    for _attempt in range(3):
        rcs.append(host.run(TOOL)['rc'])
        clock.sleep(5)
    assert rcs == [1, 1, 1] and not host.is_enabled


def test_daemon_too_slow_for_the_timeout_fails_with_the_journal():
    clock = Clock()
    host = FakeHost(clock, answer_after=500.0)
    result = run_install(host, clock, timeout=60)
    assert result['failed']
    assert 'did not answer within 60s' in result['msg']
    assert 'the journal' in result['msg'] and result['journal']
    assert len(tool_runs(host)) == 1
    assert 60 <= result['wait']['seconds'] <= 63


def test_a_unit_that_failed_for_good_stops_the_wait_early():
    clock = Clock()
    host = FakeHost(clock, answer_after=500.0)
    host.run(TOOL)  # first run: unit written and started
    host.commands = []
    host.failed = True

    def never_answers():
        return False, None, 'connection refused'
    host.answers_as_rootless = never_answers
    result = rs.wait_for_daemon(host, 120, clock=clock, sleep=clock.sleep)
    assert result['unit_failed'] and not result['answered'] and result['seconds'] == 0


def test_tool_failing_before_it_wrote_the_unit_fails_at_once():
    clock = Clock()
    host = FakeHost(clock, writes_unit=False)
    result = run_install(host, clock)
    assert result['failed'] and 'before it wrote the user unit' in result['msg']
    assert 'Missing system requirements' in result['msg']
    assert result['wait'] is None and clock() == 0


def test_interrupted_install_is_resumed():
    """A kill in the middle: unit written and running, never enabled."""
    clock = Clock()
    host = FakeHost(clock, answer_after=1.0, unit_text=UNIT_TEXT)
    host.started_at = -10.0
    result = run_install(host, clock)
    assert not result['failed'] and result['resumed'] and result['unit_file'] == 'complete'
    assert host.is_enabled and len(tool_runs(host)) == 1


def test_cut_off_unit_file_is_removed_and_written_again():
    clock = Clock()
    host = FakeHost(clock, unit_text='[Unit]\nDescription=Docker Application Container Engine (Rootless)\n[Serv')
    result = run_install(host, clock)
    assert not result['failed'] and host.removed and result['unit_file'] == 'partial'
    assert ['systemctl', '--user', 'daemon-reload'] in host.commands
    assert host.unit_text == UNIT_TEXT


def test_unit_at_its_start_limit_is_reset_before_the_tool():
    clock = Clock()
    host = FakeHost(clock, unit_text=UNIT_TEXT, failed=True)
    result = run_install(host, clock)
    assert not result['failed'], result['msg']
    reset = host.commands.index(['systemctl', '--user', 'reset-failed', 'docker.service'])
    assert reset < host.commands.index(TOOL)


def test_installed_and_answering_runs_nothing():
    clock = Clock()
    host = FakeHost(clock, unit_text=UNIT_TEXT, enabled=True)
    host.started_at = -10.0
    result = run_install(host, clock)
    assert not result['changed'] and not result['failed'] and host.commands == []
    assert result['security_options'] == ROOTLESS


def test_check_mode_runs_nothing():
    clock = Clock()
    host = FakeHost(clock)
    result = run_install(host, clock, check_mode=True)
    assert result['changed'] and not result['failed'] and host.commands == []


def test_tool_exit_zero_without_enabling_is_a_failure():
    """The tool's "systemd not detected" fallback exits 0 and installs nothing."""
    clock = Clock()
    host = FakeHost(clock)

    def fallback():
        host.commands.append(TOOL)
        return 0, '[INFO] systemd not detected, dockerd-rootless.sh needs to be started manually'
    host._tool = fallback
    result = run_install(host, clock)
    assert result['failed'] and 'not enabled' in result['msg']


def test_a_daemon_that_is_not_rootless_is_not_accepted():
    clock = Clock()
    host = FakeHost(clock, options=['name=seccomp,profile=builtin'])
    result = run_install(host, clock, timeout=10)
    assert result['failed']
    assert 'not as rootless' in result['msg']
