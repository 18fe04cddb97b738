#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: daemon_restart
short_description: Restart a Docker daemon, and undo a daemon.json change it does not start with
version_added: 0.1.0
description:
  - Restarts a systemd service of a Docker daemon (C(docker.service)) after its
    configuration file changed, and checks that it is active afterwards.
  - When it does not come up, the change is undone before the task fails. The copy of the
    previous file that M(nsguard.docker.daemon_config) kept with C(rollback_copy=true) is
    renamed back over O(config_path) (or a file that O(created) is removed), the failed
    state of the service and of its socket unit is reset (the failed starts may have
    reached the start limit), and the service is started again with the previous file.
  - The task then fails with the daemon's own error, the line of its journal since the
    restart that says why it stopped (for example C(the following directives are specified
    both as a flag and in the configuration file)), and returns that journal.
  - After a successful restart the copy of the previous file is removed.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports the restart as a change and runs nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run restarts the service. The roles run it from a handler, only after the
        configuration changed.
options:
  name:
    description:
      - The systemd service to restart.
    type: str
    default: docker.service
  config_path:
    description:
      - The daemon configuration file whose change is undone when the restart fails (the
        RV(nsguard.docker.daemon_config#module:real_path) when it followed a link).
      - Without it, a failed restart fails the task with the daemon's error and nothing is
        undone.
    type: path
  rollback_file:
    description:
      - The copy of the previous configuration
        (RV(nsguard.docker.daemon_config#module:rollback_file)), in the directory of
        O(config_path). Renamed back when the restart fails; removed when it succeeds.
    type: path
  created:
    description:
      - O(config_path) did not exist before the change
        (RV(nsguard.docker.daemon_config#module:created)); a failed restart removes it.
      - Ignored when O(rollback_file) is set.
    type: bool
    default: false
  restart:
    description:
      - V(false) restarts nothing (the daemon is meant to stay stopped) and only removes
        O(rollback_file).
    type: bool
    default: true
  journal_lines:
    description:
      - Lines of the service's journal since the restart that are returned on failure.
    type: int
    default: 30
notes:
  - Requires systemd.
seealso:
  - module: nsguard.docker.daemon_config
'''

EXAMPLES = r'''
- name: Merge settings into daemon.json and keep the previous file for a rollback
  nsguard.docker.daemon_config:
    settings:
      storage-driver: overlay2
    service: docker.service
    rollback_copy: true
  register: daemon_json
  notify: Restart docker

# handlers:
- name: Restart docker
  nsguard.docker.daemon_restart:
    name: docker.service
    config_path: "{{ daemon_json.real_path | default(daemon_json.path) }}"
    rollback_file: "{{ daemon_json.rollback_file | default(omit) }}"
    created: "{{ daemon_json.created | default(false) }}"
'''

RETURN = r'''
restarted:
  description: Whether the service was restarted and came up with the new configuration.
  returned: always
  type: bool
  sample: true
rolled_back:
  description: Whether the change was undone because the service did not come up with it.
  returned: always
  type: bool
  sample: false
active_state:
  description: The service's C(ActiveState) at the end.
  returned: unless in check mode
  type: str
  sample: active
journal:
  description: The service's journal since the restart, when it did not come up.
  returned: always
  type: list
  elements: str
  sample: ["failed to start daemon: error initializing graphdriver: prerequisites for driver not satisfied (wrong filesystem?)"]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.nsguard.docker.plugins.module_utils import _daemon_restart


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', default='docker.service'),
            config_path=dict(type='path'),
            rollback_file=dict(type='path'),
            created=dict(type='bool', default=False),
            restart=dict(type='bool', default=True),
            journal_lines=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    empty = dict(restarted=False, rolled_back=False, journal=[])
    if not params['restart']:
        if not module.check_mode:
            _daemon_restart.discard_copy(params['rollback_file'])
        module.exit_json(changed=False, **empty)
    if module.check_mode:
        module.exit_json(changed=True, **empty)

    env = {'LANG': 'C', 'LC_ALL': 'C', 'SYSTEMD_PAGER': ''}

    def run(argv):
        return module.run_command(argv, environ_update=env)

    try:
        result = _daemon_restart.restart(
            run, params['name'], config_path=params['config_path'],
            rollback_file=params['rollback_file'], created=params['created'],
            journal_lines=params['journal_lines'],
            systemctl=module.get_bin_path('systemctl', required=True),
            journalctl=module.get_bin_path('journalctl', required=True))
    except (OSError, ValueError) as exc:
        module.fail_json(msg='%s: the change could not be undone: %s' % (
            params['name'], to_native(exc)), changed=True, **empty)
    if result.msg:
        module.fail_json(msg=result.msg, changed=True, **result.as_dict())
    module.exit_json(changed=True, **result.as_dict())


if __name__ == '__main__':
    main()
