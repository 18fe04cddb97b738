#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: rootless_setup
short_description: Install rootless Docker for the calling user with dockerd-rootless-setuptool.sh, waiting as long as the host needs
version_added: 0.1.0
description:
  - Runs C(dockerd-rootless-setuptool.sh install) as the user the module runs as (use
    C(become_user)), and returns when that user's C(docker.service) user unit is enabled and
    its socket C($XDG_RUNTIME_DIR/docker.sock) answers C(GET /info) with C(name=rootless)
    among its security options. The tool's exit code alone is never trusted.
  - The tool gives the daemon 3 seconds to answer, then exits 1, leaving the unit running
    but not enabled and no CLI context. On a slow host the module then waits up to
    O(wait_timeout) seconds for the daemon to answer and runs the tool once more, which
    finds the daemon up and finishes (enables the unit, creates the C(rootless) context).
    A tool that fails before it wrote the unit, or a unit that systemd gave up on, fails at
    once with the tool's output, the unit's status and the user's journal of the unit.
  - "An interrupted install is recognised before the tool runs: a unit file without its
    enablement link is resumed; a unit file cut off while it was written (no C(ExecStart=)
    or no C([Install])) is removed so that the tool writes it again; a unit that reached
    systemd's start limit is reset."
  - Nothing is run when the unit is installed, enabled and the daemon answers as rootless.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports whether the tool would run, and runs nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Nothing is run when the user's unit is installed and enabled and its daemon answers
        as rootless.
options:
  setuptool:
    description:
      - Path of C(dockerd-rootless-setuptool.sh). It finds C(docker) and
        C(dockerd-rootless.sh) in its own directory.
    type: path
    default: /usr/bin/dockerd-rootless-setuptool.sh
  skip_iptables:
    description:
      - Pass C(--skip-iptables) to the tool.
    type: bool
    default: false
  force:
    description:
      - Pass C(--force) to the tool (it then ignores a running rootful daemon).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for the daemon to answer as rootless after the tool gave up, and
        again after the tool finished.
    type: int
    default: 120
notes:
  - Must run as the user, not as root, with C(XDG_RUNTIME_DIR) and
    C(DBUS_SESSION_BUS_ADDRESS) of that user's running systemd instance in the environment
    (C(loginctl enable-linger) and C(user@UID.service) started first). When
    C(XDG_RUNTIME_DIR) is unset, C(/run/user/UID) is used.
seealso:
  - name: Rootless mode
    description: Docker's documentation of rootless mode.
    link: https://docs.docker.com/engine/security/rootless/
'''

EXAMPLES = r'''
- name: Install rootless Docker for alice
  nsguard.docker.rootless_setup:
    wait_timeout: 300
  become: true
  become_user: alice
  environment:
    XDG_RUNTIME_DIR: /run/user/1001
    DBUS_SESSION_BUS_ADDRESS: unix:path=/run/user/1001/bus
'''

RETURN = r'''
socket:
  description: The user's daemon socket.
  returned: always
  type: str
  sample: /run/user/1001/docker.sock
unit_file:
  description: >-
    What the user unit file was before the tool ran: V(absent), V(complete), or V(partial)
    (cut off; removed before the tool ran).
  returned: always
  type: str
  sample: absent
resumed:
  description: True when a unit file was there without its enablement link (an interrupted install).
  returned: always
  type: bool
attempts:
  description: Each run of the tool, in order (at most two).
  returned: always
  type: list
  elements: dict
  contains:
    argv:
      description: The command line.
      type: list
      elements: str
    rc:
      description: Exit code.
      type: int
    stdout:
      description: Standard output.
      type: str
    stderr:
      description: Standard error.
      type: str
wait:
  description: The wait for the daemon; null when the tool did not run.
  returned: always
  type: dict
  contains:
    answered:
      description: Whether the daemon answered as rootless.
      type: bool
    seconds:
      description: Seconds waited.
      type: float
    security_options:
      description: SecurityOptions of the last answer.
      type: list
      elements: str
    last_error:
      description: Why the last poll did not count, or null.
      type: str
    unit_failed:
      description: True when systemd gave up on the unit (start limit).
      type: bool
security_options:
  description: SecurityOptions of C(GET /info) on the user's socket.
  returned: success
  type: list
  elements: str
  sample: ["name=seccomp,profile=builtin", "name=rootless", "name=cgroupns"]
journal:
  description: The last lines of the user's journal of C(docker.service); null unless the module failed.
  returned: always
  type: str
unit_status:
  description: C(systemctl --user status docker.service); set when the module failed.
  returned: failure
  type: str
'''

import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nsguard.docker.plugins.module_utils import _rootless_setup


def main():
    module = AnsibleModule(
        argument_spec=dict(
            setuptool=dict(type='path', default='/usr/bin/dockerd-rootless-setuptool.sh'),
            skip_iptables=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
            wait_timeout=dict(type='int', default=120),
        ),
        supports_check_mode=True,
    )
    params = module.params
    uid = os.getuid()
    if uid == 0:
        module.fail_json(msg='rootless_setup must run as the user who gets rootless Docker '
                             '(become_user), not as root; nothing was run')
    if params['wait_timeout'] < 0:
        module.fail_json(msg='wait_timeout must be 0 or more, not %d' % params['wait_timeout'])
    runtime_dir = os.environ.get('XDG_RUNTIME_DIR') or '/run/user/%d' % uid
    home = pwd.getpwuid(uid).pw_dir
    tool = [params['setuptool'], 'install']
    tool += ['--skip-iptables'] if params['skip_iptables'] else []
    tool += ['--force'] if params['force'] else []
    if not module.check_mode and not os.access(params['setuptool'], os.X_OK):
        module.fail_json(msg='%s is not an executable file; nothing was run' % params['setuptool'])

    def run(argv):
        return module.run_command(argv, environ_update={'XDG_RUNTIME_DIR': runtime_dir})

    host = _rootless_setup.Host(run, home, runtime_dir)
    result = _rootless_setup.install(host, tool, params['wait_timeout'], check_mode=module.check_mode)
    if result.pop('failed'):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
