#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: audit_report
short_description: Write the fleet report of the Docker namespace and socket audit
version_added: 0.1.0
description:
  - Takes the per-host results of M(nsguard.docker.namespace_mode) and
    M(nsguard.docker.socket_exposure) and writes C(fleet.json) (following
    C(docs/audit-report.schema.json)), C(fleet.md) and C(fleet.html) (one self-contained page,
    no external assets, host table sortable by clicking a header) into O(dest).
  - Meant to run once on the controller (C(run_once=true), C(delegate_to=localhost)).
  - Files are written atomically (temporary file in O(dest), then renamed) and only when their
    content differs; the report keeps its previous C(generated_at) when nothing else changed,
    so re-running over unchanged results reports C(changed=false).
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
attributes:
  check_mode:
    support: full
    details:
      - Writes nothing; reports whether files would change.
  diff_mode:
    support: none
    details:
      - The paths of the files that change are returned in RV(changed_files).
options:
  hosts:
    description:
      - Per-host results, hostname -> dict with keys C(namespace_mode) and C(socket_exposure),
        each the registered result of that module. A missing or failed result marks the host
        C(missing) or C(failed) in the report rather than failing this module.
    type: dict
    required: true
  dest:
    description:
      - Directory to write the report files to; created (mode 0755) when missing.
    type: path
    required: true
  title:
    description:
      - Title of the report.
    type: str
    default: Docker user namespace and socket exposure audit
  mode:
    description:
      - Permission bits of the report files, octal string. The report tells who can become
        root on which host, so it is not world-readable by default.
    type: str
    default: '0640'
'''

EXAMPLES = r'''
- name: Write the fleet report on the controller
  nsguard.docker.audit_report:
    hosts:
      web1:
        namespace_mode: "{{ hostvars['web1'].audit_namespace_mode }}"
        socket_exposure: "{{ hostvars['web1'].audit_socket_exposure }}"
    dest: "{{ playbook_dir }}/audit-report"
  run_once: true
  delegate_to: localhost
  become: false
'''

RETURN = r'''
dest:
  description: Directory of the report.
  returned: always
  type: str
paths:
  description: Paths of the three report files.
  returned: always
  type: dict
  contains:
    json:
      description: fleet.json.
      type: str
    markdown:
      description: fleet.md.
      type: str
    html:
      description: fleet.html.
      type: str
changed_files:
  description: Files that were (or in check mode would be) written.
  returned: always
  type: list
  elements: str
summary:
  description: The C(summary) object of the fleet document (hosts, host_status, daemons,
    modes, findings per severity, max_severity).
  returned: always
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.nsguard.docker.plugins.module_utils import fleet_report


def _read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace')
    except (IOError, OSError):
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type='dict', required=True),
            dest=dict(type='path', required=True),
            title=dict(type='str', default=fleet_report.DEFAULT_TITLE),
            mode=dict(type='str', default='0640'),
        ),
        supports_check_mode=True,
    )
    dest = module.params['dest']
    try:
        mode = int(module.params['mode'], 8)
        if not 0 <= mode <= 0o7777:
            raise ValueError
    except ValueError:
        module.fail_json(msg='mode must be an octal string such as 0640, got %r' % module.params['mode'])

    fleet = fleet_report.build_fleet(module.params['hosts'], title=module.params['title'])
    json_path = os.path.join(dest, 'fleet.json')
    fleet = fleet_report.stable_timestamp(fleet, _read(json_path))
    contents = fleet_report.render_all(fleet)
    paths = {'json': json_path, 'markdown': os.path.join(dest, 'fleet.md'),
             'html': os.path.join(dest, 'fleet.html')}

    changed_files = []
    for name in fleet_report.REPORT_FILES:
        path = os.path.join(dest, name)
        current_mode = None
        try:
            current_mode = os.stat(path).st_mode & 0o7777
        except OSError:
            pass
        if _read(path) != contents[name] or current_mode != mode:
            changed_files.append(path)

    if changed_files and not module.check_mode:
        try:
            if not os.path.isdir(dest):
                os.makedirs(dest, 0o755)
            for path in changed_files:
                fleet_report.write_atomic(path, contents[os.path.basename(path)], mode)
        except (IOError, OSError) as exc:
            module.fail_json(msg='cannot write the report to %s: %s' % (dest, to_native(exc)),
                             dest=dest, paths=paths, changed_files=[], summary=fleet['summary'])

    module.exit_json(changed=bool(changed_files), dest=dest, paths=paths,
                     changed_files=changed_files, summary=fleet['summary'])


if __name__ == '__main__':
    main()
