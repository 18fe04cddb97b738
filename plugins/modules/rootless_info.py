#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: rootless_info
short_description: Inspect a host for the rootless role and decide what the role has to do
version_added: 0.1.0
description:
  - The first task of the M(nsguard.docker.rootless) role, in one module run and read-only.
  - Checks that the host is a platform the collection supports, the same way and with the
    same one message as M(nsguard.docker.platform_check) (C(nsguard.docker.rootless
    supports ...)); on any other host it fails before reading anything else.
  - "Reads what the role decides on (RV(facts)): the kernel's user namespace knobs, dpkg's
    state of the prerequisite packages (from C(/var/lib/dpkg/status)), C(docker.service)
    and C(docker.socket) and each user's manager as systemd sees them (one C(systemctl
    show)), the role's sysctl.d, profile.d and AppArmor files, the members of the
    C(docker) group, and for each user the account, linger, the setup tool's unit, whether
    a daemon answers as rootless on the user's socket, the default docker context and the
    role's block in C(~/.profile) and the role's drop-in of the user's C(docker.service)."
  - Tries whether O(rootlesskit) can create a user namespace, as the first user to have
    rootless Docker (C(rootlesskit true) run as that user, with only C(HOME), C(USER),
    C(XDG_RUNTIME_DIR) and C(PATH) set); not before that user's runtime directory exists.
  - "Returns the role's decisions (RV(plan)), made from those facts and the options,
    which are the role's variables without C(rootless_): the users to set up, keep
    lingering or take rootless Docker from, missing packages, unknown users, whether the
    rootlesskit path can be named by a profile, whether a baseline disabled user
    namespaces, whether the sysctl.d and profile.d files are right, the AppArmor profile's
    name, the network driver and whether the host has it, the rootful units to mask, and
    per user the steps still to do."
  - Never changes anything; runs in check mode like in a normal run. Needs root (it reads
    users' files and runs the check as another user).
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
  - nsguard.docker.attributes.info_module
options:
  users:
    description:
      - The users who get (or lose) rootless Docker, as the role's C(rootless_users).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Login name.
        type: str
        required: true
      state:
        description:
          - V(present) or V(absent). Not set means V(present); such users come first in
            RV(plan.present).
        type: str
        choices: [present, absent]
      subid_count:
        description: Size of the user's subordinate ranges (passed through to RV(plan.present)).
        type: int
        default: 65536
      subid_start:
        description: Start of the user's subordinate ranges (passed through to RV(plan.present)).
        type: int
      daemon_config:
        description: Options for the user's C(daemon.json) (passed through; a user with them is in RV(plan.configured)).
        type: dict
      linger:
        description: Whether the user lingers; with V(state=absent), V(false) puts the user in RV(plan.unlinger).
        type: bool
        default: true
      purge:
        description: With V(state=absent), whether the user's data is to be deleted (RV(plan.purge)).
        type: bool
        default: false
  packages:
    description: Prerequisite packages.
    type: list
    elements: str
    default: [uidmap, dbus-user-session, slirp4netns, iptables, acl]
  install_extras:
    description: Whether O(extras_package) is wanted too.
    type: bool
    default: false
  extras_package:
    description: Docker's rootless extras package.
    type: str
    default: docker-ce-rootless-extras
  rootlesskit:
    description:
      - The rootlesskit the users' daemons will run; checked, named by the AppArmor profile.
      - Taken as given (no C(~) or variable expansion), as the profile names it.
    type: str
    default: /usr/bin/rootlesskit
  enable_userns:
    description: Whether the role may re-enable user namespaces a hardening baseline disabled.
    type: bool
    default: false
  max_user_namespaces:
    description: Minimum for C(user.max_user_namespaces) (a larger value of the kernel is kept unless O(enable_userns)).
    type: int
    default: 28633
  ping_group_range:
    description: C(net.ipv4.ping_group_range) for the sysctl.d file; empty leaves it out.
    type: str
    default: ''
  unprivileged_port_start:
    description:
      - C(net.ipv4.ip_unprivileged_port_start) for the sysctl.d file, written as given; unset leaves it out.
      - A value outside 0 to 65535 fails the module before anything is read, naming the range.
    type: int
  network_driver:
    description:
      - The network driver of the users' daemons, set by a drop-in of each user's C(docker.service)
        (C(~/.config/systemd/user/docker.service.d/nsguard-network.conf)) giving C(dockerd-rootless.sh)
        C(DOCKERD_ROOTLESS_ROOTLESSKIT_NET), and for V(pasta) C(DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=implicit).
      - Unset leaves C(dockerd-rootless.sh) its own choice, and plans the removal of the role's drop-in.
      - V(pasta) adds C(passt) to RV(plan.wanted_packages) when O(packages) lacks it.
    type: str
    choices: [slirp4netns, pasta]
  apparmor_disable_restriction:
    description: Whether the sysctl.d file turns C(kernel.apparmor_restrict_unprivileged_userns) off.
    type: bool
    default: false
  docker_host:
    description: Where the role sets DOCKER_HOST for login shells.
    type: str
    choices: [profile_d, shell_profile, none]
    default: profile_d
  default_context:
    description: Whether the C(rootless) docker context is to be the users' default.
    type: bool
    default: true
  rootful_daemon:
    description: V(masked) when C(docker.service) and C(docker.socket) are to be stopped and masked.
    type: str
    choices: [keep, masked]
    default: keep
  remove_from_docker_group:
    description: Users to take out of the C(docker) group.
    type: list
    elements: str
    default: []
  sysctl_path:
    description: The role's sysctl.d file.
    type: path
    default: /etc/sysctl.d/99-nsguard-rootless.conf
  profile_d_path:
    description: The role's profile.d file.
    type: path
    default: /etc/profile.d/nsguard-rootless-docker.sh
  delegate_controllers:
    description:
      - The cgroup v2 controllers every user's systemd manager (C(user@.service)) is to hand to
        the user, through the drop-in O(delegate_path); a rootless daemon needs them for
        C(docker run --cpus), C(--cpuset-cpus), C(--blkio-weight), C(--memory) and
        C(--pids-limit). An empty list plans no drop-in (the distribution's delegation stays).
    type: list
    elements: str
    choices: [cpu, cpuset, io, memory, pids]
    default: [cpu, cpuset, io, memory, pids]
  delegate_path:
    description: The role's drop-in of C(user@.service).
    type: path
    default: /etc/systemd/system/user@.service.d/nsguard-rootless-delegate.conf
  profile_d_content:
    description:
      - The text of the role's profile.d file (the default is the role's).
    type: str
    default: |
      # Managed by nsguard.docker.rootless: a user with a rootless daemon talks to it.
      if [ -z "${DOCKER_HOST:-}" ] && [ -S "/run/user/$(id -u)/docker.sock" ]; then
        export DOCKER_HOST="unix:///run/user/$(id -u)/docker.sock"
      fi
notes:
  - Starts at most two programs, C(systemctl show) and C(rootlesskit true); the rest is read
    from files and the users' sockets.
  - Files in a user's home are read as root without following a link (a link there, or a
    FIFO, reads as absent), at most 1 MiB of each.
seealso:
  - module: nsguard.docker.platform_check
  - module: nsguard.docker.rootless_setup
'''

EXAMPLES = r'''
- name: Inspect the host for the rootless role
  nsguard.docker.rootless_info:
    users:
      - name: alice
      - name: bob
        state: absent
    rootful_daemon: masked
  register: rootless_info

- name: Say which users still need the setup tool
  ansible.builtin.debug:
    msg: "{{ rootless_info.plan.users | dict2items | selectattr('value.setup') | map(attribute='key') | list }}"

- name: Fail when AppArmor keeps rootlesskit from creating a user namespace
  ansible.builtin.assert:
    that: rootless_info.plan.userns.ok or not rootless_info.plan.userns.tried
    fail_msg: "{{ rootless_info.facts.userns.stderr | default('') }}"
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
  description: Why the host is not supported, or which option no host can take (O(unprivileged_port_start)); empty on success.
  returned: always
  type: list
  elements: str
facts:
  description: What was read on the host.
  returned: success
  type: dict
  contains:
    knobs:
      description:
        - C(user.max_user_namespaces), C(kernel.unprivileged_userns_clone) and
          C(kernel.apparmor_restrict_unprivileged_userns) as the kernel has them (strings);
          a knob the kernel does not have is left out.
      type: dict
      sample: {user.max_user_namespaces: '28633', kernel.apparmor_restrict_unprivileged_userns: '1'}
    packages:
      description:
        - By name, for each wanted package, C(installed) (its files are on disk),
          C(version), C(selection) and C(state) (dpkg's, or C(not-installed)).
      type: dict
      sample: {uidmap: {installed: true, version: '1:4.13+dfsg1-4ubuntu3', selection: install, state: installed}}
    units:
      description:
        - C(LoadState), C(ActiveState) and C(UnitFileState) of C(docker.service) and
          C(docker.socket); C(unknown) when systemctl could not say, C(UnitFileState) C(none)
          without a unit file.
      type: dict
    files:
      description:
        - By path, the sysctl.d file, the profile.d file and the AppArmor profile - C(exists),
          C(content) (null unless a regular file), and when it exists C(regular) (a regular
          file, not a link), C(mode) (octal string), C(uid) and C(gid).
      type: dict
    docker_group:
      description: Members of the C(docker) group in C(/etc/group); empty without that group.
      type: list
      elements: str
    binaries:
      description: By path, whether the binary of O(network_driver) is an executable file; empty without a driver.
      type: dict
      sample: {/usr/bin/slirp4netns: true}
    users:
      description:
        - By name, for each of O(users), C(exists), and for an account C(uid), C(gid),
          C(home), C(linger) (its linger flag file exists), C(manager) (C(user@<uid>.service)
          is active), C(unit_file) (the setup tool's user unit exists), C(installed) (its
          enablement link exists), C(answering) (a daemon answers C(GET /info) on
          C(/run/user/<uid>/docker.sock)), C(rootless) (it reports C(name=rootless)),
          C(context) (C(currentContext) of C(~/.docker/config.json), or null) and C(profile)
          (the lines of the role's block in C(~/.profile), or null without one) and
          C(network_dropin) (the role's drop-in of the user's C(docker.service) - C(exists),
          C(content), and when it exists C(regular), C(mode), C(uid) and C(gid)).
        - A symbolic link or another non-regular file in the home reads as absent (the drop-in
          as existing but not regular).
      type: dict
      sample: {alice: {exists: true, uid: 1001, gid: 1001, home: /home/alice, linger: true, manager: true, unit_file: true,
                       installed: true, answering: true, rootless: true, context: rootless, profile: null}}
    userns:
      description:
        - C(rc) and C(stderr) (its last 2000 characters) of O(rootlesskit) C(true) run as the
          first of RV(plan.present); null when that was not tried (no such file, no such
          user, no C(/run/user/<uid>) yet, or nobody to have rootless Docker).
      type: dict
      sample: {rc: 1, stderr: '[rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: permission denied'}
    errors:
      description: Host files that exist but could not be read (C(path), C(operation), C(kind), C(error)).
      type: list
      elements: dict
plan:
  description: The role's decisions.
  returned: success
  type: dict
  contains:
    present:
      description:
        - The users to have rootless Docker, as the role loops over them - those of O(users)
          without C(state) first, then those with V(present), each item with the keys that
          were set and C(state).
      type: list
      elements: dict
      sample: [{name: alice, state: present, subid_count: 65536, linger: true, purge: false}]
    absent:
      description: The users to lose rootless Docker (V(state=absent)).
      type: list
      elements: dict
    lingering:
      description: The users of RV(plan.present) whose C(linger) is not false.
      type: list
      elements: dict
    configured:
      description: The users of RV(plan.present) with a non-empty C(daemon_config).
      type: list
      elements: dict
    unlinger:
      description: The users of RV(plan.absent) with C(linger) false.
      type: list
      elements: dict
    purge:
      description: The users of RV(plan.absent) with C(purge) true.
      type: list
      elements: dict
    unknown_users:
      description: The names of O(users) that are no account on the host.
      type: list
      elements: str
    wanted_packages:
      description: O(packages), and O(extras_package) with O(install_extras).
      type: list
      elements: str
    missing_packages:
      description: The wanted packages dpkg has no files of.
      type: list
      elements: str
    install_packages:
      description: RV(plan.missing_packages) when anybody is to have rootless Docker, else empty.
      type: list
      elements: str
    rootlesskit_safe:
      description:
        - Whether an AppArmor profile can name O(rootlesskit) exactly - an absolute path
          without pattern characters (V(*), V(?), V([), V(]), V({), V(}), V(^)), quotes,
          backslashes or control characters.
      type: bool
    userns_disabled:
      description:
        - Whether a hardening baseline disabled user namespaces
          (C(user.max_user_namespaces) 0 or C(kernel.unprivileged_userns_clone) 0) and
          O(enable_userns) does not allow re-enabling them.
      type: bool
    apparmor_restricts:
      description: Whether C(kernel.apparmor_restrict_unprivileged_userns) is 1.
      type: bool
    apparmor_profile:
      description:
        - C(name) and C(path) (under C(/etc/apparmor.d)) of the role's profile for
          O(rootlesskit) - the path with V(/) as V(.) and every character but letters,
          digits, V(.), V(_) and V(-) as V(_), after C(nsguard-rootlesskit).
      type: dict
      sample: {name: nsguard-rootlesskit.usr.bin.rootlesskit, path: /etc/apparmor.d/nsguard-rootlesskit.usr.bin.rootlesskit}
    userns:
      description: The user namespace check.
      type: dict
      contains:
        user:
          description: The user it runs as, the first of RV(plan.present); null without one.
          type: str
        uid:
          description: That user's uid; null when unknown.
          type: int
        tried:
          description: Whether the module could try it (RV(facts.userns) is not null).
          type: bool
        ok:
          description: Whether it was tried and O(rootlesskit) created a user namespace.
          type: bool
        check:
          description: Whether the role has to check again, and maybe install a profile (somebody is to have rootless Docker, and not C(ok)).
          type: bool
    sysctl:
      description: The role's sysctl.d file.
      type: dict
      contains:
        path:
          description: O(sysctl_path).
          type: str
        content:
          description:
            - The text it is to have - from O(max_user_namespaces) (or the kernel's larger
              value), O(enable_userns), O(ping_group_range), O(unprivileged_port_start) and
              O(apparmor_disable_restriction).
          type: str
        ok:
          description: Whether it is a regular file, root:root, 0644, with that text.
          type: bool
        write:
          description: Not C(ok).
          type: bool
    profile_d:
      description: The role's profile.d file.
      type: dict
      contains:
        path:
          description: O(profile_d_path).
          type: str
        ok:
          description: Whether it is a regular file, root:root, 0644, with the text O(profile_d_content).
          type: bool
        write:
          description: O(docker_host=profile_d), somebody is to have rootless Docker, and not C(ok).
          type: bool
    delegate:
      description: The role's drop-in of C(user@.service) delegating cgroup controllers.
      type: dict
      contains:
        path:
          description: O(delegate_path).
          type: str
        content:
          description: The text it is to have (C([Service]) and C(Delegate=) O(delegate_controllers)); null when that list is empty.
          type: str
        ok:
          description: Whether it is a regular file, root:root, 0644, with that text (true when none is wanted).
          type: bool
        write:
          description: Somebody is to have rootless Docker and not C(ok). The users' managers must restart for it to apply.
          type: bool
    network:
      description: The network driver of the users' daemons (O(network_driver)).
      type: dict
      contains:
        driver:
          description: O(network_driver); null when unset.
          type: str
        binary:
          description: The driver's binary (C(/usr/bin/slirp4netns), C(/usr/bin/pasta)); null without a driver.
          type: str
        package:
          description: The package that has it (C(slirp4netns), C(passt)); null without a driver.
          type: str
        binary_present:
          description: Whether that binary is an executable file on the host.
          type: bool
        available:
          description:
            - Whether the role can use the driver - its binary is there or its package is in
              RV(plan.wanted_packages); true without a driver. The role fails, changing nothing, when not.
          type: bool
        dropin:
          description: The drop-in's path below each user's home.
          type: str
        content:
          description: The text the drop-in is to have; null without a driver.
          type: str
    units:
      description:
        - By unit (C(docker.socket), C(docker.service)), C(mask) - to be stopped and masked
          (O(rootful_daemon=masked), and it is not masked or not inactive or failed).
      type: dict
      sample: {docker.socket: {mask: false}, docker.service: {mask: true}}
    remove_from_docker_group:
      description: The users of O(remove_from_docker_group) who are members of the C(docker) group.
      type: list
      elements: str
    users:
      description:
        - By name, for each of O(users), C(exists), C(uid), C(home), C(profile_block) (the
          line the role's block in C(~/.profile) is to hold), and what is still to do -
          C(enable_linger) (no linger flag file), C(start_manager) (its manager is not
          active), C(setup) (the setup tool's unit is not enabled), C(wait) (enabled, but no
          daemon answers as rootless), C(set_context) (O(default_context) and the default
          context is not C(rootless)), C(write_profile) (O(docker_host=shell_profile) and the
          block differs), C(uninstall) (the setup tool's unit file exists) and
          C(disable_linger) (the linger flag file exists), C(network_write) (a driver is
          chosen and the user's drop-in is not a regular file of the user, 0644, with
          RV(plan.network.content)). All false for an unknown user.
      type: dict
      sample: {alice: {exists: true, uid: 1001, home: /home/alice, profile_block: 'export DOCKER_HOST=unix:///run/user/1001/docker.sock',
                       enable_linger: false, start_manager: false, setup: true, wait: false, set_context: true,
                       write_profile: false, uninstall: false, disable_linger: true, network_write: false}}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsguard.docker.plugins.module_utils import (
    _platform,
    _rootless_inspect,
    _rootless_plan,
)

ROLE = 'rootless'


def argument_spec():
    return dict(
        users=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            state=dict(type='str', choices=['present', 'absent']),
            subid_count=dict(type='int', default=65536),
            subid_start=dict(type='int'),
            daemon_config=dict(type='dict'),
            linger=dict(type='bool', default=True),
            purge=dict(type='bool', default=False),
        )),
        packages=dict(type='list', elements='str',
                      default=['uidmap', 'dbus-user-session', 'slirp4netns', 'iptables', 'acl']),
        install_extras=dict(type='bool', default=False),
        extras_package=dict(type='str', default='docker-ce-rootless-extras'),
        rootlesskit=dict(type='str', default='/usr/bin/rootlesskit'),
        enable_userns=dict(type='bool', default=False),
        max_user_namespaces=dict(type='int', default=28633),
        ping_group_range=dict(type='str', default=''),
        unprivileged_port_start=dict(type='int'),
        network_driver=dict(type='str', choices=['slirp4netns', 'pasta']),
        apparmor_disable_restriction=dict(type='bool', default=False),
        docker_host=dict(type='str', choices=['profile_d', 'shell_profile', 'none'], default='profile_d'),
        default_context=dict(type='bool', default=True),
        rootful_daemon=dict(type='str', choices=['keep', 'masked'], default='keep'),
        remove_from_docker_group=dict(type='list', elements='str', default=[]),
        sysctl_path=dict(type='path', default=_rootless_plan.SYSCTL_PATH),
        profile_d_path=dict(type='path', default=_rootless_plan.PROFILE_D_PATH),
        profile_d_content=dict(type='str', default=_rootless_plan.PROFILE_D_CONTENT),
        delegate_controllers=dict(type='list', elements='str', choices=list(_rootless_plan.DELEGATE_CONTROLLERS),
                                  default=list(_rootless_plan.DELEGATE_CONTROLLERS)),
        delegate_path=dict(type='path', default=_rootless_plan.DELEGATE_PATH),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)

    supported = _platform.default_supported()
    platform = _platform.gather_facts()
    problems = _platform.evaluate(platform, supported)
    if problems:
        module.fail_json(msg=_platform.format_message(platform, problems, supported, ROLE),
                         changed=False, platform=platform, problems=problems)

    params = module.params
    problems = _rootless_plan.param_problems(params)
    if problems:
        module.fail_json(msg=' '.join(problems) + ' Nothing was changed.', changed=False,
                         platform=platform, problems=problems)
    present = _rootless_plan.present_users(params['users'])
    driver = _rootless_plan.NETWORK_DRIVERS.get(params['network_driver'] or '')

    def run(argv):
        return module.run_command(argv, environ_update={'LC_ALL': 'C'})

    def which(name):
        return module.get_bin_path(name)

    facts = _rootless_inspect.inspect(
        _rootless_inspect.host_fs(), run, which,
        users=[user['name'] for user in params['users']],
        packages=_rootless_plan.wanted_packages(params),
        files=[params['sysctl_path'], params['profile_d_path'], params['delegate_path'],
               _rootless_plan.apparmor_profile(params['rootlesskit'])['path']],
        rootlesskit=params['rootlesskit'],
        userns_as=present[0]['name'] if present else None,
        binaries=[driver['binary']] if driver else [],
    )
    plan = _rootless_plan.plan(params, facts)
    module.exit_json(changed=False, platform=platform, problems=[], facts=facts, plan=plan)


if __name__ == '__main__':
    main()
