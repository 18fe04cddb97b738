# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The options every audit module takes (module_utils._audit_module.audit_argument_spec).
    DOCUMENTATION = r'''
options:
  connect_idle_sockets:
    description:
      - Also connect to a Docker socket that no running dockerd process serves.
      - V(false) (the default) leaves such a socket alone and reports it as
        C(daemon-not-running) (info). With systemd socket activation (C(docker.socket)
        active, C(docker.service) stopped) a connection starts C(docker.service), and the
        audit is read-only. The findings for that daemon then come from files, units and
        C(/proc); M(nsguard.docker.socket_exposure) still finds containers that mount a
        Docker socket through its C(/proc) scan.
      - V(true) asks it like any other daemon, which may start it.
      - A daemon with a running dockerd process is asked either way.
    type: bool
    default: false
  api_timeout:
    description:
      - Timeout in seconds for each Engine API request (connect, send and read).
      - A request of C(GET /info) or C(GET /containers/json) that got no answer at all (timed
        out, connection refused or reset) is tried once more, once per daemon; an HTTP error
        is an answer and is not retried. A daemon that still does not answer gives an
        C(audit-incomplete) finding naming the checks that were skipped, as severe as what
        they find.
      - The default suits a loaded or emulated host, where dockerd can take seconds to list
        its containers.
    type: float
    default: 10.0
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
