# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dockerd-rootless-setuptool.sh install for the calling user, made to fit a slow host.

The tool starts the user unit, sleeps 3 s (its unit is Type=simple up to Docker 20.10)
and exits 1 when `docker version` does not answer yet; the unit is then running but not
enabled, and no CLI context exists. Retrying the tool blindly on a slow host sees the
same 3 s. Here the tool runs once; when it fails with its unit in place, the daemon is
given ``wait_timeout`` seconds to answer as rootless, and the tool is run once more to
finish (enable the unit, create the context). Found before the tool runs:

- an interrupted install (the unit file exists, its enablement link does not): resumed;
- a unit file without ExecStart= or [Install] (a write that was cut off): removed so the
  tool writes it again;
- a unit that systemd gave up on (start limit reached): reset, so the tool can start it.

Every host action goes through a ``Host`` object, so units drive the decisions with fakes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

from ansible_collections.nsguard.docker.plugins.module_utils.engine_api import query_daemon

UNIT = 'docker.service'
UNIT_FILE = '.config/systemd/user/docker.service'
ENABLEMENT_LINK = '.config/systemd/user/default.target.wants/docker.service'
POLL_INTERVAL = 2.0
# Per request while waiting: dockerd on a loaded, emulated host answers /info slowly.
QUERY_TIMEOUT = 10.0
JOURNAL_LINES = 40


class Host(object):
    """The calling user's side of the host: commands, files, the daemon's socket."""

    def __init__(self, run_command, home, runtime_dir):
        self._run = run_command
        self.home = home
        self.runtime_dir = runtime_dir
        self.socket = os.path.join(runtime_dir, 'docker.sock')

    def run(self, argv):
        rc, out, err = self._run(argv)
        return {'argv': list(argv), 'rc': rc, 'stdout': out, 'stderr': err}

    def read_unit_file(self):
        try:
            with open(os.path.join(self.home, UNIT_FILE), 'rb') as handle:
                return handle.read(1 << 20).decode('utf-8', 'replace')
        except (IOError, OSError):
            return None

    def remove_unit_file(self):
        os.unlink(os.path.join(self.home, UNIT_FILE))

    def unit_failed(self):
        """True when systemd gave up on the unit (failed, not activating between restarts)."""
        return self.run(['systemctl', '--user', 'is-failed', '--quiet', UNIT])['rc'] == 0

    def enabled(self):
        return os.path.lexists(os.path.join(self.home, ENABLEMENT_LINK))

    def answers_as_rootless(self):
        """(answered, security_options, error) of GET /info on the user's socket."""
        if not os.path.exists(self.socket):
            return False, None, 'no socket at %s' % self.socket
        api = query_daemon(self.socket, timeout=QUERY_TIMEOUT, containers=False, info=True)
        if not api.get('reachable'):
            return False, None, api.get('error')
        options = (api.get('info') or {}).get('SecurityOptions') or []
        return 'name=rootless' in options, options, None


def unit_file_state(text):
    """absent, complete or partial: a cut-off write lacks ExecStart= or [Install]."""
    if text is None:
        return 'absent'
    lines = [line.strip() for line in text.splitlines()]
    if '[Install]' in lines and any(line.startswith('ExecStart=') for line in lines):
        return 'complete'
    return 'partial'


def wait_for_daemon(host, timeout, clock=time.monotonic, sleep=time.sleep):
    """Poll until the daemon answers as rootless, the unit failed for good, or timeout.

    Returns {'answered', 'seconds', 'security_options', 'last_error', 'unit_failed'}.
    """
    started = clock()
    state = {'answered': False, 'seconds': 0.0, 'security_options': None, 'last_error': None,
             'unit_failed': False}
    while True:
        answered, options, error = host.answers_as_rootless()
        state['security_options'] = options
        state['last_error'] = error if not answered else None
        if answered:
            state['answered'] = True
            break
        if options is not None:
            state['last_error'] = 'the daemon answers but not as rootless: %s' % options
        # Restart=always keeps the unit activating between crashes; failed is final.
        if host.unit_failed():
            state['unit_failed'] = True
            break
        if clock() - started >= timeout:
            break
        sleep(POLL_INTERVAL)
    state['seconds'] = round(clock() - started, 1)
    return state


def install(host, tool_argv, timeout, check_mode=False, clock=time.monotonic, sleep=time.sleep):
    """Run the setup tool until the user's daemon is installed, enabled and answering.

    Returns the module result body; ``failed`` with ``msg`` when it could not be done.
    """
    unit_state = unit_file_state(host.read_unit_file())
    result = {'changed': False, 'failed': False, 'msg': '', 'socket': host.socket,
              'unit_file': unit_state, 'resumed': unit_state != 'absent' and not host.enabled(),
              'attempts': [], 'wait': None, 'journal': None}
    if unit_state == 'complete' and host.enabled():
        answered, options, _error = host.answers_as_rootless()
        if answered:
            result.update(msg='rootless Docker is installed and answering', security_options=options)
            return result
    result['changed'] = True
    if check_mode:
        result['msg'] = 'dockerd-rootless-setuptool.sh install would run'
        return result

    if unit_state == 'partial':
        host.remove_unit_file()
        host.run(['systemctl', '--user', 'daemon-reload'])
    elif unit_state == 'complete' and host.unit_failed():
        host.run(['systemctl', '--user', 'reset-failed', UNIT])

    result['attempts'].append(host.run(tool_argv))
    if result['attempts'][-1]['rc'] != 0:
        if unit_file_state(host.read_unit_file()) == 'absent':
            return _failed(host, result, 'dockerd-rootless-setuptool.sh install failed before it wrote the user unit')
        result['wait'] = wait_for_daemon(host, timeout, clock=clock, sleep=sleep)
        if not result['wait']['answered']:
            return _failed(host, result, 'the rootless daemon did not answer within %ss%s (%s)' % (
                timeout, ': its unit failed' if result['wait']['unit_failed'] else '',
                result['wait']['last_error']))
        result['attempts'].append(host.run(tool_argv))
        if result['attempts'][-1]['rc'] != 0:
            return _failed(host, result, 'dockerd-rootless-setuptool.sh install failed again with the daemon answering')

    # The tool can exit 0 after falling back to "systemd not detected": check the result.
    if not host.enabled():
        return _failed(host, result, 'the setup tool exited 0 but %s is not enabled (was systemd --user reachable?)' % UNIT)
    final = wait_for_daemon(host, timeout, clock=clock, sleep=sleep)
    if result['wait'] is None:
        result['wait'] = final
    if not final['answered']:
        return _failed(host, result, 'the rootless daemon did not answer within %ss (%s)' % (timeout, final['last_error']))
    result['security_options'] = final['security_options']
    result['msg'] = 'rootless Docker installed%s' % (' after waiting %ss for the daemon' % result['wait']['seconds']
                                                     if len(result['attempts']) > 1 else '')
    return result


def _failed(host, result, msg):
    journal = host.run(['journalctl', '--user', '--unit', UNIT, '--lines', str(JOURNAL_LINES), '--no-pager'])
    status = host.run(['systemctl', '--user', '--no-pager', '--full', '--lines', '0', 'status', UNIT])
    result['journal'] = (journal['stdout'] or journal['stderr']).strip()
    result['unit_status'] = (status['stdout'] or status['stderr']).strip()
    last = result['attempts'][-1] if result['attempts'] else {'stdout': '', 'stderr': ''}
    result.update(failed=True, msg='%s. Setup tool output: %s %s Unit: %s Journal: %s' % (
        msg, last['stdout'].strip()[-2000:], last['stderr'].strip()[-2000:],
        result['unit_status'][-1000:], result['journal'][-3000:]))
    return result
