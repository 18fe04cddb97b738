#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: platform_check
short_description: Fail early, with one message, on a host the collection's roles do not support
version_added: 0.1.0
description:
  - Checks that the host is a platform the roles of this collection support, so that an
    unsupported host fails at the first task of a role instead of half way through it (a key
    download, apt, an apt source with an empty suite), and nothing is changed.
  - "What is checked: the distribution and release (C(ID) and C(VERSION_ID) of
    C(/etc/os-release), or of C(/usr/lib/os-release) when the first does not exist, parsed
    with shell quoting like systemd does), the architecture (C(uname -m); C(amd64)/C(x86_64)
    and C(arm64)/C(aarch64) are the same), the init system (systemd when
    C(/run/systemd/system) is a directory, the test of sd_booted(3); PID 1's name from
    C(/proc/1/comm) is reported too) and the version of the Python running the module."
  - "Any other host fails with ONE message that names what was found and what is supported,
    for example: This host is Arch Linux (ID=arch, VERSION_ID unset), x86_64, init systemd,
    Python 3.12.3: distribution arch is not supported. Supported: Ubuntu 22.04, 24.04; Debian
    12, 13 on x86_64 or aarch64 with systemd and Python >= 3.8. Nothing was changed."
  - Debian testing or unstable (an os-release without C(VERSION_ID)) is not supported, and
    neither are derivatives (another C(ID) whose C(ID_LIKE) names a supported distribution).
  - With O(baselines), also reads the kernel settings a hardening baseline may have set against what the role is
    to run (C(net.ipv4.ip_forward) and C(user.max_user_namespaces), in the sysctl.d files and live) and returns
    the ones that break it in RV(baselines.problems), each naming its fix; the role decides whether to fail.
  - Read-only, never changed. Needs no privileges and no gathered facts.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
  - nsguard.docker.attributes.info_module
options:
  distributions:
    description:
      - Supported distributions, each an os-release C(ID) with the list of its supported
        C(VERSION_ID) values, compared as strings.
      - Quote the versions in YAML (V('22.04'), not V(22.04)); numbers that are not whole
        are refused, since YAML reads V(22.10) as V(22.1).
    type: dict
    default:
      ubuntu: ['22.04', '24.04']
      debian: ['12', '13']
  architectures:
    description:
      - Supported architectures, as C(uname -m) or Debian names (V(x86_64) or V(amd64),
        V(aarch64) or V(arm64)).
    type: list
    elements: str
    default: [x86_64, aarch64]
  min_python:
    description:
      - Oldest version of the Python running the module that is supported.
    type: str
    default: '3.8'
  os_release_path:
    description:
      - The os-release file to read.
      - When not set, C(/etc/os-release), or C(/usr/lib/os-release) when the first does not
        exist.
    type: path
  role:
    description:
      - The role asking, named in the message (C(nsguard.docker.<role> supports ...)). A
        name without a dot is taken as a role of this collection.
    type: str
  baselines:
    description:
      - What is to run, for RV(baselines) - V(rootful) (a rootful daemon, refused with a sysctl file setting
        C(net.ipv4.ip_forward=0) for good), V(userns_remap) (refused with C(user.max_user_namespaces=0), now or
        for good). Empty reads none of it.
    type: list
    elements: str
    choices: [rootful, userns_remap]
    default: []
  allow_ip_forward_off:
    description: With V(rootful) in O(baselines), report no problem for C(net.ipv4.ip_forward=0) set for good.
    type: bool
    default: false
notes:
  - systemd is always required; there is no option for another init system.
seealso:
  - name: os-release(5)
    description: The format of /etc/os-release.
    link: https://www.freedesktop.org/software/systemd/man/latest/os-release.html
'''

EXAMPLES = r'''
- name: Check that this host is a platform the role supports
  nsguard.docker.platform_check:
    role: engine

- name: Accept only Ubuntu 24.04 on x86_64
  nsguard.docker.platform_check:
    distributions:
      ubuntu: ['24.04']
    architectures: [x86_64]

- name: Read the platform without failing on it
  nsguard.docker.platform_check:
  register: platform_result
  failed_when: false

- name: Show what was found
  ansible.builtin.debug:
    msg: "{{ platform_result.platform.pretty_name }} on {{ platform_result.platform.deb_architecture }}"
'''

RETURN = r'''
platform:
  description: What was found on the host, returned on success and on failure.
  returned: always
  type: dict
  contains:
    distribution:
      description: os-release C(ID), lower case; empty when unset.
      type: str
      sample: ubuntu
    version:
      description: os-release C(VERSION_ID); empty when unset (Debian testing and unstable).
      type: str
      sample: '24.04'
    codename:
      description: os-release C(VERSION_CODENAME) (else C(UBUNTU_CODENAME)); empty when unset.
      type: str
      sample: noble
    pretty_name:
      description: os-release C(PRETTY_NAME).
      type: str
      sample: Ubuntu 24.04.1 LTS
    id_like:
      description: os-release C(ID_LIKE), split on blanks.
      type: list
      elements: str
      sample: [debian]
    os_release_path:
      description: The os-release file read; null when none could be.
      type: str
      sample: /etc/os-release
    os_release_error:
      description: Why no os-release could be read; null when one was.
      type: str
    machine:
      description: C(uname -m) as the kernel reports it.
      type: str
      sample: x86_64
    architecture:
      description: The machine name normalised (V(amd64) becomes V(x86_64), V(arm64) V(aarch64)).
      type: str
      sample: x86_64
    deb_architecture:
      description: The Debian name of the architecture.
      type: str
      sample: amd64
    init:
      description: V(systemd) when the host was booted with systemd, else PID 1's name, else V(unknown).
      type: str
      sample: systemd
    systemd_booted:
      description: Whether C(/run/systemd/system) is a directory.
      type: bool
    pid1_comm:
      description: C(/proc/1/comm); null when unreadable.
      type: str
      sample: systemd
    python:
      description: Version of the Python running the module.
      type: str
      sample: 3.12.3
baselines:
  description: The kernel settings read for O(baselines), and the problems among them.
  returned: when O(baselines) is not empty and the platform is supported
  type: dict
  contains:
    sysctl:
      description:
        - C(persistent) - by key, C(value), C(path) and C(line) of the assignment that wins at boot (the C(*.conf)
          files of C(/etc/sysctl.d), C(/run/sysctl.d), C(/usr/local/lib/sysctl.d), C(/usr/lib/sysctl.d) in
          systemd-sysctl's order, then C(/etc/sysctl.conf)); C(live) - by key, the kernel's value now.
      type: dict
      sample: {persistent: {net.ipv4.ip_forward: {value: '0', path: /etc/sysctl.d/60-hardening.conf, line: 3}},
               live: {net.ipv4.ip_forward: '1', user.max_user_namespaces: '63399'}}
    problems:
      description:
        - Each with C(id) (C(ip-forward-off-persistent), C(userns-off)), C(setting), C(value), C(source) (file and
          line, null for a live value), C(fix) and C(message) naming the fix.
      type: list
      elements: dict
problems:
  description: Why the host is not supported, one short phrase each; empty on success.
  returned: always
  type: list
  elements: str
  sample: ['distribution arch is not supported']
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsguard.docker.plugins.module_utils import _platform, _sysctl_d
from ansible_collections.nsguard.docker.plugins.module_utils._hostfs import HostFS


def host_fs():
    """The host's files, for the sysctl settings (the units point it at a tree)."""
    return HostFS()


def main():
    defaults = _platform.default_supported()
    module = AnsibleModule(
        argument_spec=dict(
            distributions=dict(type='dict', default=defaults['distributions']),
            architectures=dict(type='list', elements='str', default=defaults['architectures']),
            min_python=dict(type='str', default=defaults['min_python']),
            os_release_path=dict(type='path'),
            role=dict(type='str'),
            baselines=dict(type='list', elements='str', choices=['rootful', 'userns_remap'], default=[]),
            allow_ip_forward_off=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        supported = _platform.normalise_supported(
            distributions=params['distributions'],
            architectures=params['architectures'],
            min_python=params['min_python'],
        )
    except _platform.PlatformError as exc:
        module.fail_json(msg='nsguard.docker.platform_check: %s. Nothing was changed.' % exc,
                         changed=False)

    paths = (params['os_release_path'],) if params['os_release_path'] else None
    facts = _platform.gather_facts(os_release_paths=paths)
    problems = _platform.evaluate(facts, supported)
    if problems:
        module.fail_json(msg=_platform.format_message(facts, problems, supported, params['role']),
                         changed=False, platform=facts, problems=problems)
    result = dict(changed=False, platform=facts, problems=[])
    if params['baselines']:
        sysctl = _sysctl_d.facts(host_fs())
        result['baselines'] = {'sysctl': sysctl, 'problems': _sysctl_d.baseline_problems(
            sysctl, rootful='rootful' in params['baselines'], userns_remap='userns_remap' in params['baselines'],
            allow_ip_forward_off=params['allow_ip_forward_off'])}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
