# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The options every audit module takes (module_utils.procfs.audit_argument_spec).
    DOCUMENTATION = r'''
options:
  api_timeout:
    description:
      - Timeout in seconds for each Engine API request (connect, send and read).
    type: float
    default: 2.0
  fail_on:
    description:
      - Fail the task (still C(changed=false)) with a summary message when any finding is at
        or above this severity. V(none) never fails on findings.
    type: str
    default: none
    choices: [none, info, low, medium, high, critical]
  proc_root:
    description:
      - Where C(/proc) is read from. A testing aid, and for running the audit from a container
        with the host's C(/proc) mounted elsewhere.
    type: path
    default: /proc
  etc_root:
    description:
      - Where C(/etc) is read from (passwd, group, subuid, subgid, docker/daemon.json). A
        testing and container aid.
    type: path
    default: /etc
  run_root:
    description:
      - Where C(/run) (and so C(/var/run)) is read from, for the Docker sockets. A testing and
        container aid.
    type: path
    default: /run
'''
