#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The documentation of the action plugin plugins/action/audit_report.py, which does all the
# work on the controller; there is no module code to run on a host.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: audit_report
short_description: Write the fleet report of the Docker namespace and socket audit
version_added: 0.1.0
description:
  - Takes the per-host results of M(nsguard.docker.namespace_mode) and
    M(nsguard.docker.socket_exposure) and writes into O(dest) C(fleet.json) (following
    C(docs/audit-report.schema.json)), C(fleet.md), C(fleet.html), C(fleet.sarif) (SARIF
    2.1.0, one result per finding) and C(fleet.junit.xml) (a testsuite per host).
  - An action plugin, run on the controller only, that reads each host's registered
    results from its host variables (O(namespace_mode_var), O(socket_exposure_var)), one
    host at a time, so time and memory grow linearly with the number of hosts. Run it once
    (C(run_once=true)); C(delegate_to=localhost) is customary but not needed.
  - When O(dest) already holds a C(fleet.json), the new report lists per host the findings
    (by id and subject) that are new and those that are resolved since it (C(changes)).
  - C(fleet.html) is one self-contained page (no external assets) that embeds the data as
    JSON and draws it with a small inline script one page of rows at a time (findings by id
    with host counts, filters by severity, host name, status and finding, the host table
    sortable by clicking a header, one host's details on demand).
  - Files are written atomically (temporary file in O(dest), then renamed) and only when their
    content or mode differs; the report keeps its previous C(generated_at) (and changes) when
    nothing else changed, so re-running over unchanged results reports C(changed=false).
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - Writes nothing; reports whether files would change.
  diff_mode:
    support: none
    details:
      - The paths of the files that change are returned in RV(changed_files).
  idempotent:
    support: full
    details:
      - Over unchanged results the report keeps its previous C(generated_at) and writes
        nothing.
  action:
    support: full
    details:
      - Everything happens on the controller; no module runs on a host.
  async:
    support: none
  bypass_host_loop:
    support: none
    details:
      - Use C(run_once=true).
options:
  host_names:
    description:
      - Inventory names of the hosts to report on, whose results are read from their host
        variables.
      - Default is C(ansible_play_hosts_all), every host of the play, including those that
        failed or were unreachable (they are reported C(failed) or C(missing)).
      - Mutually exclusive with O(hosts).
    type: list
    elements: str
  namespace_mode_var:
    description:
      - The variable each host registered the result of M(nsguard.docker.namespace_mode) in.
      - A host without it is reported with that module C(missing).
    type: str
    default: audit_namespace_mode
  socket_exposure_var:
    description:
      - The variable each host registered the result of M(nsguard.docker.socket_exposure) in.
    type: str
    default: audit_socket_exposure
  hosts:
    description:
      - Per-host results given explicitly instead of read from host variables, hostname ->
        dict with keys C(namespace_mode) and C(socket_exposure), each the registered result of
        that module. A missing or failed result marks the host C(missing) or C(failed) in the
        report rather than failing this task.
      - For a handful of hosts or results from elsewhere; for a fleet, leave it out and let
        the plugin read the host variables (building this dict in a template grows with the
        square of the number of hosts).
      - Mutually exclusive with O(host_names).
    type: dict
  dest:
    description:
      - Directory on the controller to write the report files to; created (mode 0755) when
        missing. A relative path is relative to the directory C(ansible-playbook) runs in.
    type: path
    required: true
  title:
    description:
      - Title of the report.
    type: str
    default: Docker user namespace and socket exposure audit
  fail_on:
    description:
      - In C(fleet.junit.xml), the testcase of a host and finding id fails when one of its
        findings is at or above this severity; with V(none) no finding fails a testcase.
      - A host whose status is C(failed) or C(missing) is an error there, C(partial) a
        failure, whatever this is.
      - This task itself does not fail on findings; the audit playbook asserts on them after
        the report is written.
    type: str
    choices: [none, info, low, medium, high, critical]
    default: none
  mode:
    description:
      - Permission bits of the report files, octal string. The report tells who can become
        root on which host, so it is not world-readable by default.
    type: str
    default: '0640'
  previous:
    description:
      - A fleet.json (on the controller) whose findings the report compares with in its
        changes section, for example the report written before a hardening. The files in
        O(dest) are rewritten unless only the time they were generated would differ.
      - By default the fleet.json already in O(dest), if any. Then a re-run whose findings
        did not change keeps the report, and its changes, as they are.
    type: path
notes:
  - The SARIF log names each finding's place as C(host://<host>/<subject>) (both
    percent-encoded) and as a logical location C(<host>/<subject>); its rule id is the CIS
    Docker Benchmark recommendation where there is one (for example C(2.9)), else the finding
    id. Severity maps to the SARIF level (critical and high C(error), medium C(warning), low
    and info C(note)).
seealso:
  - module: nsguard.docker.namespace_mode
  - module: nsguard.docker.socket_exposure
'''

EXAMPLES = r'''
- name: Audit the daemons
  nsguard.docker.namespace_mode:
  register: audit_namespace_mode

- name: Audit who can reach them
  nsguard.docker.socket_exposure:
  register: audit_socket_exposure

- name: Write the fleet report on the controller
  nsguard.docker.audit_report:
    dest: "{{ playbook_dir }}/audit-report"
    namespace_mode_var: audit_namespace_mode
    socket_exposure_var: audit_socket_exposure
    fail_on: high
  run_once: true
  delegate_to: localhost
  become: false

- name: A report of two hosts from results given explicitly
  nsguard.docker.audit_report:
    dest: /srv/reports/docker
    hosts:
      web1:
        namespace_mode: "{{ hostvars['web1'].audit_namespace_mode }}"
        socket_exposure: "{{ hostvars['web1'].audit_socket_exposure }}"
      web2:
        namespace_mode: "{{ hostvars['web2'].audit_namespace_mode }}"
        socket_exposure: "{{ hostvars['web2'].audit_socket_exposure }}"
  run_once: true
  delegate_to: localhost
  become: false
'''

RETURN = r'''
dest:
  description: Directory of the report (absolute).
  returned: always
  type: str
paths:
  description: Paths of the report files.
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
    sarif:
      description: fleet.sarif.
      type: str
    junit:
      description: fleet.junit.xml.
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
changes:
  description:
    - The C(summary) of the changes since the previous report (C(new), C(resolved),
      C(hosts_added), C(hosts_removed), C(hosts_changed)); the findings themselves are in the
      report files.
    - V(null) when O(dest) held no previous C(fleet.json).
  returned: always
  type: dict
  sample: {"new": 2, "resolved": 1, "hosts_added": 0, "hosts_removed": 0, "hosts_changed": 2}
'''
