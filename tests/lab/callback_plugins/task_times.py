# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lab-only callback: the wall time of every task, to find what makes a scenario slow.

Enabled by tests/lab/lab.py for the molecule stages it runs. Appends one JSON line per
playbook run to $NSGUARD_TASK_TIMES (nothing when unset): the stage's tasks in order
with their seconds, slowest first in `top`.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ansible_core_version

DOCUMENTATION = r'''
name: task_times
type: aggregate
short_description: Record each task's wall time to a JSON lines file (nsguard lab)
description:
  - Writes one line per playbook run to the file named by E(NSGUARD_TASK_TIMES).
requirements:
  - enabled in callbacks_enabled
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'task_times'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._tasks = []
        self._current = None
        self._started = time.time()
        self._playbook = None

    def _close(self):
        if self._current is not None:
            name, t0 = self._current
            self._tasks.append([name, round(time.time() - t0, 2)])
            self._current = None

    def v2_playbook_on_start(self, playbook):
        self._playbook = os.path.basename(playbook._file_name)

    def _open(self, task, prefix=''):
        self._close()
        self._current = (prefix + task.get_name(), time.time())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._open(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._open(task, 'handler: ')

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get('NSGUARD_TASK_TIMES')
        if not path:
            return
        record = {'playbook': self._playbook, 'stage': os.environ.get('NSGUARD_STAGE', ''),
                  'ansible_core': ansible_core_version,
                  'seconds': round(time.time() - self._started, 1), 'tasks': self._tasks,
                  'top': sorted(self._tasks, key=lambda t: -t[1])[:8]}
        with open(path, 'a') as f:
            f.write(json.dumps(record) + '\n')
