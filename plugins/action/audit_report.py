# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nsguard.docker.audit_report: the fleet report, written on the controller.

An action plugin (documented in plugins/modules/audit_report.py) so that the per-host
results are read where they already are, in the hosts' variables, one host at a time: no
fleet-sized template and no fleet-sized module argument. The work is done by
module_utils/fleet_report.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.nsguard.docker.plugins.module_utils import fileops, fleet_report
from ansible_collections.nsguard.docker.plugins.module_utils._findings import FAIL_ON_CHOICES

ARGUMENT_SPEC = dict(
    dest=dict(type='path', required=True),
    hosts=dict(type='dict'),
    host_names=dict(type='list', elements='str'),
    namespace_mode_var=dict(type='str', default='audit_namespace_mode'),
    socket_exposure_var=dict(type='str', default='audit_socket_exposure'),
    title=dict(type='str', default=fleet_report.DEFAULT_TITLE),
    mode=dict(type='str', default='0640'),
    fail_on=dict(type='str', default='none', choices=list(FAIL_ON_CHOICES)),
    previous=dict(type='path'),
)


def registered_results(hostvars, names, variables):
    """(host, {'namespace_mode': result, 'socket_exposure': result}) for each host in
    ``names``, read from ``hostvars`` as the report consumes them.

    ``variables`` maps each module to the variable its result was registered in. A
    registered result is used as it is stored (templating 10 KB of module output per host
    would find nothing to expand); a variable that is not a dict, such as one set to a
    template, is templated in its host's context like ``hostvars[host][var]``.
    """
    for name in names:
        raw = hostvars.raw_get(name)
        results = {}
        for module, variable in variables.items():
            value = raw.get(variable) if isinstance(raw, Mapping) else None
            if value is not None and not isinstance(value, Mapping):
                value = hostvars[name][variable]
            results[module] = value
        yield name, results


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(ARGUMENT_SPEC, mutually_exclusive=[('hosts', 'host_names')])
        try:
            mode = fleet_report.parse_mode(args['mode'])
        except ValueError:
            raise AnsibleActionFail('mode must be an octal string such as 0640, got %r' % args['mode']) from None
        dest = os.path.abspath(args['dest'])

        if args['hosts'] is not None:
            host_results = args['hosts']
        else:
            names = args['host_names']
            if names is None:
                names = task_vars.get('ansible_play_hosts_all') or []
            host_results = registered_results(
                task_vars['hostvars'], list(dict.fromkeys(names)),
                {'namespace_mode': args['namespace_mode_var'], 'socket_exposure': args['socket_exposure_var']})

        try:
            # in check mode the same plan, with nothing written
            plan = fleet_report.plan_report(dest, host_results, title=args['title'], fail_on=args['fail_on'],
                                            mode=mode, write=not self._task.check_mode,
                                            previous_path=args['previous'])
        except (fileops.FileOpsError, OSError) as exc:
            raise AnsibleActionFail('cannot write the report to %s: %s' % (dest, exc)) from exc

        changes = plan.fleet.get('changes')
        result.update(changed=bool(plan.changed_files), dest=dest, paths=plan.paths,
                      changed_files=plan.changed_files, summary=plan.fleet['summary'],
                      changes=changes['summary'] if changes else None)
        return result
