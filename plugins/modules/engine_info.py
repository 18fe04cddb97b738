#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: engine_info
short_description: Inspect a host for the engine role and decide what the role has to do
version_added: 0.1.0
description:
  - The first task of the M(nsguard.docker.engine) role, in one module run and read-only.
  - Checks that the host is a platform the collection supports, the same way and with the
    same one message as M(nsguard.docker.platform_check) (C(nsguard.docker.engine
    supports ...)); on any other host it fails before reading anything else.
  - "Reads what the role decides on (RV(facts)): the installed repository key and the
    fingerprints of its primary keys (OpenPGP v4, v5 and v6, armored or binary; no gpg
    needed), dpkg's state of every package the role may install or remove (from
    C(/var/lib/dpkg/status)), C(docker.socket) and C(docker.service) as systemd sees
    them, the version pin, the deb822 source and C(/run/docker.sock), dpkg's
    architecture, and the leftovers of older ways to add Docker's repository: source files
    naming it (C(docker.list), C(sources.list) lines, deb822 files), keyrings holding only
    its key, and shared keyrings (C(apt-key add)) holding it among other keys."
  - "Returns the role's decisions (RV(plan)), made from those facts and the options,
    which are the role's variables without C(engine_): the effective repository
    settings and whether apt would accept them, whether the installed key, the source
    and the pin are right, which packages conflict, what apt installs, which holds and
    units to change."
  - Never changes anything; runs in check mode like in a normal run. Needs root to read
    every keyring.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
  - nsguard.docker.attributes.info_module
options:
  source:
    description:
      - V(docker) installs Docker's packages from Docker's repository (or a mirror);
        V(distro) the distribution's C(docker.io). Leftovers are acted on, the source
        and prerequisites planned, only with V(docker); with V(distro) the role's own
        source and key are to be removed.
    type: str
    choices: [docker, distro]
    default: docker
  repo_url:
    description:
      - Base URL of Docker's repository or a mirror. Empty means
        C(https://download.docker.com/linux/<os-release ID>).
    type: str
    default: ''
  repo_suite:
    description: Suite of the repository. Empty means the host's codename.
    type: str
    default: ''
  repo_components:
    description: Components of the repository.
    type: list
    elements: str
    default: [stable]
  repo_arch:
    description:
      - Debian architecture of the source. Empty means C(dpkg --print-architecture), else
        the machine's Debian name.
    type: str
    default: ''
  repo_name:
    description:
      - Name of the deb822 source C(/etc/apt/sources.list.d/<name>.sources) and of the
        version pin C(/etc/apt/preferences.d/<name>-engine).
    type: str
    default: docker
  repo_key_url:
    description: Where the role downloads the key. Empty means O(repo_url) followed by C(/gpg).
    type: str
    default: ''
  repo_key_fingerprint:
    description:
      - Fingerprint the installed key must have, spaces allowed. The key is right when it
        holds exactly this primary key. Also identifies Docker's key in other keyrings.
    type: str
    default: 9DC858229FC7DD38854AE2D88D81803C0EBFCD88
  repo_key_path:
    description: Where the verified key is installed (the source's C(Signed-By)).
    type: path
    default: /etc/apt/keyrings/docker.asc
  install:
    description: Which packages to install when O(packages) is empty.
    type: dict
    suboptions:
      docker_ce:
        description: The daemon (C(docker-ce); C(docker.io) with V(distro)).
        type: bool
        default: true
      cli:
        description: The CLI (C(docker-ce-cli); part of C(docker.io) with V(distro)).
        type: bool
        default: true
      containerd:
        description: containerd (C(containerd.io); C(containerd) with V(distro)).
        type: bool
        default: true
      buildx:
        description: The buildx plugin (C(docker-buildx-plugin); C(docker-buildx) with V(distro), none on Debian 12).
        type: bool
        default: true
      compose:
        description:
          - The compose plugin (C(docker-compose-plugin); with V(distro) C(docker-compose-v2)
            on Ubuntu, C(docker-compose) on Debian).
        type: bool
        default: true
      rootless_extras:
        description: C(docker-ce-rootless-extras) (C(rootlesskit) with V(distro)).
        type: bool
        default: true
  packages:
    description: The packages to install. Empty means the O(install) choices for O(source).
    type: list
    elements: str
    default: []
  extra_packages:
    description: More packages to install with the engine.
    type: list
    elements: str
    default: []
  version:
    description:
      - Version of O(version_packages) in apt's form, or an apt glob.
      - Empty means no version, and the pin is to be removed.
    type: str
    default: ''
  version_packages:
    description:
      - The packages O(version) applies to and the pin names.
      - Default C(docker-ce), C(docker-ce-cli), C(docker-ce-rootless-extras) (V(docker));
        C(docker.io) (V(distro)).
    type: list
    elements: str
  pin_priority:
    description: Pin-Priority of the version pin.
    type: int
    default: 1001
  hold:
    description: Whether the installed O(version_packages) are to be on dpkg hold.
    type: bool
    default: false
  remove_conflicting:
    description: Whether installed O(conflicting_packages) are to be removed.
    type: bool
    default: true
  conflicting_packages:
    description:
      - Packages that conflict with O(source).
      - Default for V(docker) C(docker.io), C(docker-doc), C(docker-compose),
        C(docker-compose-v2), C(docker-buildx), C(podman-docker), C(containerd), C(runc);
        for V(distro) Docker's packages.
    type: list
    elements: str
  prerequisite_packages:
    description: Installed before the repository is set up (V(docker) only), if missing.
    type: list
    elements: str
    default: [ca-certificates]
  rootful:
    description: Wanted state of C(docker.socket) and C(docker.service).
    type: str
    choices: [enabled, disabled, masked]
    default: enabled
  service_state:
    description: State of the rootful daemon when O(rootful=enabled).
    type: str
    choices: [started, stopped]
    default: started
  allow_ip_forward_off:
    description:
      - Plan no refusal (RV(plan.baselines)) for a sysctl.d file that sets C(net.ipv4.ip_forward=0) for good
        while O(rootful=enabled).
    type: bool
    default: false
  userns_remap:
    description:
      - Whether the rootful daemon is to run with C(userns-remap) (the role sets it when its daemon.json settings
        name one); RV(plan.baselines) then also refuses C(user.max_user_namespaces=0).
    type: bool
    default: false
notes:
  - Removing Docker's key from a shared keyring (C(strip) of RV(plan.legacy)) is not done here;
    the role does it with M(nsguard.docker.apt_key_strip).
  - The plan leaves to the role what depends on the same run, such as whether apt has
    anything to do once the source or the key was just changed.
seealso:
  - module: nsguard.docker.platform_check
  - module: nsguard.docker.apt_key_strip
  - name: sources.list(5)
    description: apt's one-line and deb822 source formats.
    link: https://manpages.debian.org/stable/apt/sources.list.5.en.html
'''

EXAMPLES = r'''
- name: Inspect the host for the engine role
  nsguard.docker.engine_info:
    repo_url: https://artifacts.example.invalid/docker-ubuntu
    version: 5:29.1.3-1~ubuntu.24.04~noble
  register: engine_info

- name: Say whether the installed key is Docker's
  ansible.builtin.debug:
    msg: "key ok: {{ engine_info.plan.key.ok }}, conflicting: {{ engine_info.plan.conflicting_to_remove }}"

- name: Fail when a shared keyring trusts Docker's key for every source
  ansible.builtin.assert:
    that: not engine_info.facts.docker_key_in_shared_keyring
    fail_msg: "Docker's key is in {{ engine_info.facts.legacy.shared | join(', ') }}"
'''

RETURN = r'''
platform:
  description:
    - What was found on the host, as M(nsguard.docker.platform_check) returns it
      (distribution, version, codename, pretty_name, id_like, os_release_path,
      os_release_error, machine, architecture, deb_architecture, init, systemd_booted,
      pid1_comm, python). Returned on failure too.
  returned: always
  type: dict
  sample: {distribution: ubuntu, version: '24.04', codename: noble, deb_architecture: amd64}
problems:
  description: Why the host is not supported; empty on success.
  returned: always
  type: list
  elements: str
facts:
  description: What was read on the host.
  returned: success
  type: dict
  contains:
    os:
      description: C(id) (os-release C(ID)), C(codename) and C(deb_arch) (C(dpkg --print-architecture), empty when dpkg could not say).
      type: dict
      sample: {id: ubuntu, codename: noble, deb_arch: amd64}
    keyrings:
      description:
        - By path (O(repo_key_path)) C(exists), C(fingerprints) (primary keys, upper-case
          hex, file order), C(armored) and C(error) (why no key could be read; null).
      type: dict
    packages:
      description:
        - By name, for every package the role may install or remove, C(installed) (its
          files are on disk), C(version), C(selection) (C(install), C(hold), ...) and
          C(state) (dpkg's, or C(not-installed)).
      type: dict
      sample: {docker-ce: {installed: true, version: '5:29.1.3-1~ubuntu.24.04~noble', selection: hold, state: installed}}
    units:
      description:
        - C(LoadState), C(ActiveState) and C(UnitFileState) of C(docker.socket) and
          C(docker.service); C(unknown) when systemctl could not say, C(UnitFileState) C(none)
          without a unit file.
      type: dict
    files:
      description:
        - By path, the version pin, the deb822 source, the repository key and
          C(/run/docker.sock) - C(exists), and when it does C(mode) (octal string), C(uid),
          C(gid), C(regular) (a regular file), C(sha1) (empty for anything but a regular
          file); the source's C(text) too.
      type: dict
    socket_path:
      description: The rootful socket looked at.
      type: str
      sample: /run/docker.sock
    legacy:
      description:
        - Leftovers of older ways to add Docker's repository, lists of paths.
        - C(remove) source files holding only Docker entries and keyrings holding only its
          key; C(comment) one-line source files (and C(sources.list)) where Docker lines are
          among others; C(manual) deb822 files mixing Docker and other entries, and armored
          shared keyrings; C(strip) binary shared keyrings holding Docker's key among others;
          C(shared) every shared keyring holding Docker's key among others.
      type: dict
      sample: {remove: [/etc/apt/sources.list.d/docker.list], comment: [], manual: [], strip: [/etc/apt/trusted.gpg], shared: [/etc/apt/trusted.gpg]}
    docker_key_in_shared_keyring:
      description: Whether a global keyring holds Docker's key among other keys (apt trusts it for every source).
      type: bool
    sysctl:
      description:
        - C(persistent) - by key, C(value), C(path) and C(line) of the assignment that wins at boot for
          C(net.ipv4.ip_forward) and C(user.max_user_namespaces) (the C(*.conf) files of C(/etc/sysctl.d),
          C(/run/sysctl.d), C(/usr/local/lib/sysctl.d), C(/usr/lib/sysctl.d) in systemd-sysctl's order, then
          C(/etc/sysctl.conf)); a key no file sets is left out.
        - C(live) - by key, the kernel's value now.
      type: dict
      sample: {persistent: {net.ipv4.ip_forward: {value: '0', path: /etc/sysctl.d/60-hardening.conf, line: 3}},
               live: {net.ipv4.ip_forward: '1', user.max_user_namespaces: '63399'}}
    errors:
      description: Files that exist but could not be read (C(path), C(operation), C(kind), C(error)).
      type: list
      elements: dict
plan:
  description: The role's decisions.
  returned: success
  type: dict
  contains:
    os:
      description: C(id), C(codename) and C(deb_arch) the decisions were made for.
      type: dict
    repo:
      description:
        - The effective C(url), C(suite), C(arch), C(components) and C(key_url), C(valid)
          (each one word, none empty, so apt would accept the source) and
          C(invalid_fields) (the deb822 fields that are not).
      type: dict
      sample: {url: https://download.docker.com/linux/ubuntu, suite: noble, arch: amd64, components: [stable], valid: true, invalid_fields: []}
    key:
      description:
        - C(path), C(exists), C(fingerprints), C(expected) (O(repo_key_fingerprint)
          normalised) and C(ok) (the key holds exactly the expected primary key, in a regular
          file, root:root, 0644; if not the role fetches, checks and installs it).
      type: dict
    source:
      description:
        - The deb822 source - C(path), C(exists), C(text) and C(mode) as they are (to put
          back a source apt rejects), C(ok) (one stanza of exactly the fields the role writes,
          a regular file, root:root, 0644) and C(write) (V(docker) and not C(ok)).
      type: dict
    pin:
      description:
        - The version pin - C(path), C(content), C(exists), C(ok) (that content, 0644,
          root:root), C(write) (a version and not C(ok)) and C(remove) (no version and the
          file exists).
      type: dict
    packages:
      description:
        - C(selected) (from O(install)), C(all) (O(packages) or C(selected), plus
          O(extra_packages)), C(pinned) (those in O(version_packages)), C(versioned)
          (C(pinned) when O(version) is set), C(apt_names) (what apt is given, the versioned
          as C(name=version)) and C(present) (all installed, the versioned at O(version),
          O(version) no glob - apt has nothing to do unless the source or key changed).
      type: dict
    installed:
      description: The inspected packages whose files are on disk.
      type: list
      elements: str
    missing_prerequisites:
      description: O(prerequisite_packages) that are not installed.
      type: list
      elements: str
    prerequisites_to_install:
      description: C(missing_prerequisites) with V(docker), else empty.
      type: list
      elements: str
    conflicting_to_remove:
      description: Installed O(conflicting_packages) when O(remove_conflicting), sorted.
      type: list
      elements: str
    legacy:
      description: C(remove), C(comment), C(manual) and C(strip) of RV(facts.legacy) with V(docker), empty lists with V(distro).
      type: dict
    own_repo_files_to_remove:
      description: With V(distro), the role's own source and key where they exist.
      type: list
      elements: str
    hold:
      description:
        - C(selection) (C(hold) or C(install)), C(change) (pinned packages whose dpkg
          selection differs) and C(not_installed) (those of C(change) dpkg has no files of).
      type: dict
    socket:
      description: C(path) and C(exists) of the rootful socket.
      type: dict
    unit_file_state:
      description: The wanted C(UnitFileState) of both units (O(rootful)).
      type: str
      sample: enabled
    active_states:
      description: The C(ActiveState) values that need no change.
      type: list
      elements: str
      sample: [active]
    restart_wanted:
      description: Whether the rootful daemon is to run (O(rootful=enabled), O(service_state=started)).
      type: bool
    baselines:
      description:
        - Hardening baselines that break what the role is to run, each with C(id), C(setting), C(value),
          C(source) (file and line, null for a live value), C(fix) and C(message) (naming the fix); the role fails
          on any, changing nothing.
        - C(ip-forward-off-persistent) - a sysctl file sets C(net.ipv4.ip_forward=0) for good while O(rootful=enabled)
          (not with O(allow_ip_forward_off)); the live value alone is no problem (0 until dockerd starts).
        - C(userns-off) - with O(userns_remap), C(user.max_user_namespaces) is 0 now or for good.
      type: list
      elements: dict
    units:
      description:
        - By unit, C(loaded) (systemd has a unit file), C(mask) (to be masked, and stopped if
          loaded), C(unmask) (masked but not wanted so) and C(drifted) (C(UnitFileState) or
          C(ActiveState) differ from the wanted ones).
      type: dict
      sample: {docker.service: {loaded: true, mask: false, unmask: false, drifted: false}}
'''


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsguard.docker.plugins.module_utils import (
    _engine_inspect,
    _engine_plan,
    _platform,
)

ROLE = 'engine'


def argument_spec():
    choice = dict(type='bool', default=True)
    return dict(
        source=dict(type='str', choices=['docker', 'distro'], default='docker'),
        repo_url=dict(type='str', default=''),
        repo_suite=dict(type='str', default=''),
        repo_components=dict(type='list', elements='str', default=['stable']),
        repo_arch=dict(type='str', default=''),
        repo_name=dict(type='str', default='docker'),
        repo_key_url=dict(type='str', default='', no_log=False),
        repo_key_fingerprint=dict(type='str', default=_engine_plan.DEFAULT_FINGERPRINT, no_log=False),
        repo_key_path=dict(type='path', default=_engine_plan.DEFAULT_KEY_PATH),
        install=dict(type='dict', apply_defaults=True, options=dict(
            (name, dict(choice)) for name in _engine_plan.CHOICES)),
        packages=dict(type='list', elements='str', default=[]),
        extra_packages=dict(type='list', elements='str', default=[]),
        version=dict(type='str', default=''),
        version_packages=dict(type='list', elements='str'),
        pin_priority=dict(type='int', default=1001),
        hold=dict(type='bool', default=False),
        remove_conflicting=dict(type='bool', default=True),
        conflicting_packages=dict(type='list', elements='str'),
        prerequisite_packages=dict(type='list', elements='str', default=['ca-certificates']),
        rootful=dict(type='str', choices=['enabled', 'disabled', 'masked'], default='enabled'),
        service_state=dict(type='str', choices=['started', 'stopped'], default='started'),
        allow_ip_forward_off=dict(type='bool', default=False),
        userns_remap=dict(type='bool', default=False),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)

    supported = _platform.default_supported()
    platform = _platform.gather_facts()
    problems = _platform.evaluate(platform, supported)
    if problems:
        module.fail_json(msg=_platform.format_message(platform, problems, supported, ROLE),
                         changed=False, platform=platform, problems=problems)

    params = _engine_plan.with_defaults(module.params)
    fs = _engine_inspect.host_fs()

    def run(argv):
        return module.run_command(argv, environ_update={'LC_ALL': 'C'})

    def which(name):
        return module.get_bin_path(name)

    facts = _engine_inspect.inspect(
        fs, run, which,
        packages=_engine_plan.inspected_packages(params),
        key_path=params['repo_key_path'],
        pin_file=_engine_plan.pin_file(params['repo_name']),
        sources_file=_engine_plan.sources_file(params['repo_name']),
        repo_urls=[params['repo_url'] or _engine_plan.DEFAULT_LEGACY_URL],
        fingerprint=params['expected_fingerprint'],
    )
    facts['os'].update(id=platform['distribution'], codename=platform['codename'])
    facts['docker_key_in_shared_keyring'] = bool(facts['legacy']['shared'])
    plan = _engine_plan.plan(params, platform, facts)
    module.exit_json(changed=False, platform=platform, problems=[], facts=facts, plan=plan)


if __name__ == '__main__':
    main()
