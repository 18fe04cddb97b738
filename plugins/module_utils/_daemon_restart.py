# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Restart a Docker daemon's systemd service, and undo a daemon.json change it does not
start with. Private to nsguard.docker (the daemon_restart module).

``run`` is called with an argv list and returns ``(rc, stdout, stderr)``, like
``AnsibleModule.run_command``; the file system is touched only to put the previous file
back (a rename in the file's own directory) or to remove the copy.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import time

#: Lines of dockerd's journal that say why it stopped. systemd's own lines ("Failed to
#: start docker.service") come after them and say nothing about the cause.
_CAUSE_RE = re.compile(r'failed to start daemon|unable to configure|level=fatal|level=error|'
                       r'error initializing')


class RestartResult(object):
    """What happened; ``msg`` is set when the task is to fail."""

    def __init__(self):
        self.restarted = False
        self.rolled_back = False
        self.active_state = ''
        self.journal = []
        self.msg = None

    def as_dict(self):
        return dict(restarted=self.restarted, rolled_back=self.rolled_back,
                    active_state=self.active_state, journal=self.journal)


def socket_unit(service):
    """The socket unit that activates ``service`` by Docker's naming (docker.socket)."""
    base = service[:-len('.service')] if service.endswith('.service') else service
    return base + '.socket'


def active_state(run, systemctl, service):
    rc, out, err = run([systemctl, 'show', '--property', 'ActiveState', '--value', service])
    return out.strip() if rc == 0 else 'unknown'


def journal_since(run, journalctl, service, since, lines):
    """The service's journal since ``since`` (seconds since the epoch), newest last."""
    rc, out, err = run([journalctl, '--unit', service, '--since', '@%d' % int(since),
                        '--lines', str(lines), '--no-pager', '--output', 'cat'])
    return [line for line in out.splitlines() if line.strip()] if rc == 0 else []


def cause(journal, fallback):
    """The line of the journal that best says why the daemon did not start."""
    for line in reversed(journal):
        if _CAUSE_RE.search(line):
            return line.strip()
    return journal[-1].strip() if journal else fallback


def put_back(config_path, rollback_file, created):
    """Undo the change: the previous file renamed back, or the new file removed.

    Returns what was done, for the message, or None when there is nothing to undo.
    """
    if rollback_file:
        if os.path.dirname(os.path.abspath(rollback_file)) != os.path.dirname(os.path.abspath(config_path)):
            raise ValueError('rollback_file %s is not in the directory of %s'
                             % (rollback_file, config_path))
        os.rename(rollback_file, config_path)
        return 'the previous %s is back' % config_path
    if created:
        try:
            os.unlink(config_path)
        except OSError:
            pass
        return '%s, which did not exist before, was removed' % config_path
    return None


def discard_copy(rollback_file):
    if rollback_file:
        try:
            os.unlink(rollback_file)
        except OSError:
            pass


def restart(run, service, config_path=None, rollback_file=None, created=False,
            journal_lines=30, systemctl='systemctl', journalctl='journalctl', clock=time.time):
    """Restart ``service``; if it does not come up, undo the daemon.json change and start
    it again with the previous file. Returns a :class:`RestartResult`."""
    result = RestartResult()
    since = clock() - 1
    rc, out, err = run([systemctl, 'restart', service])
    result.active_state = active_state(run, systemctl, service)
    if rc == 0 and result.active_state == 'active':
        result.restarted = True
        discard_copy(rollback_file)
        return result

    result.journal = journal_since(run, journalctl, service, since, journal_lines)
    why = cause(result.journal, (err or out).strip() or 'systemctl restart exited %d' % rc)
    try:
        undone = put_back(config_path, rollback_file, created) if config_path else None
    except (OSError, ValueError) as exc:
        # Keep the journal and the daemon's words: they say what to fix by hand.
        result.msg = ('%s did not start with the new %s, and the change could not be undone '
                      '(%s). The daemon said: %s' % (service, config_path, exc, why))
        return result
    if undone is None:
        result.msg = '%s did not restart (%s). The daemon said: %s' % (
            service, result.active_state or 'state unknown', why)
        return result

    result.rolled_back = True
    # The failed starts may have hit the start limit of the service and failed its socket.
    run([systemctl, 'reset-failed', service, socket_unit(service)])
    rc, out, err = run([systemctl, 'restart', service])
    result.active_state = active_state(run, systemctl, service)
    if rc == 0 and result.active_state == 'active':
        result.msg = ('%s did not start with the new %s, so the change was undone: %s and %s '
                      'is running again as before. The daemon said: %s'
                      % (service, config_path, undone, service, why))
    else:
        result.msg = ('%s did not start with the new %s. The change was undone (%s), but %s '
                      'did not start again either (%s: %s). The daemon first said: %s'
                      % (service, config_path, undone, service, result.active_state,
                         (err or out).strip() or 'rc=%d' % rc, why))
    return result
