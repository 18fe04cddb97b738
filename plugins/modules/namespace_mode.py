#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: namespace_mode
short_description: Report the user namespace mode of every Docker daemon on a host
version_added: 0.1.0
description:
  - Finds every Docker daemon on the host, the rootful one and each user's rootless one, from
    running C(dockerd) processes (C(/proc/*/comm), C(/proc/<pid>/cmdline)) and from the sockets
    C(/var/run/docker.sock), C(/run/docker.sock) and C(/run/user/*/docker.sock), not only from
    configuration.
  - For each daemon reports its mode, C(default) (containers share the host user namespace,
    container root is host root), C(userns-remap) or C(rootless), with the evidence used.
  - "Evidence: the daemon's user namespace compared with PID 1's, its C(uid_map) and effective
    uid; C(userns-remap) from daemon.json (C(/etc/docker/daemon.json), C(--config-file), or
    C(~/.config/docker/daemon.json) for rootless daemons) and from C(--userns-remap); and
    C(SecurityOptions), C(DockerRootDir) and C(ServerVersion) from the Engine API C(GET /info),
    asked over the unix socket with a 10 second timeout and one retry (no Docker SDK needed)."
  - "Decision rules, in order: 1. C(rootless) when the daemon is in a user namespace other
    than PID 1's, or its effective uid is not 0, or SecurityOptions contain C(name=rootless).
    2. C(userns-remap) when SecurityOptions contain C(name=userns), or userns-remap is
    configured and the daemon answers with a DockerRootDir ending in C(/<uid>.<gid>).
    3. C(default) otherwise. A daemon that cannot be reached is reported C(reachable=false)
    with the error, and its mode comes from process evidence only (C(mode_source=process));
    userns-remap then counts from the command line or daemon.json with C(mode_verified=false).
    A socket that nobody answers on and no process serves is mode C(unknown)."
  - "Docker Desktop for Linux (its socket C(~/.docker/desktop/docker.sock), the
    C(desktop-linux) context) is its own mode, C(desktop-vm): its engine runs in a VM, so
    container root is the VM's root, not this host's, and host files shared with the VM are
    reached as the desktop user. Its socket is asked (the user's Docker Desktop backend
    serves it; no socket activation), verified when C(GET /info) names Docker Desktop. Its
    containers' processes are the VM's: this host's C(/proc) is not read for them, so their
    verdicts rest on the Engine API alone, their bind sources are the VM's paths, and a
    C(desktop-vm-engine) (info) finding says what cannot be seen from the host."
  - For each running container (C(GET /containers/<id>/json) of each container whose processes
    C(/proc) shows, when they are all that C(GET /info) counts; else listed by
    C(GET /containers/json) first) reports
    whether it shares the host user namespace (C(UsernsMode=host) or the same user namespace
    inode as PID 1), its C(uid_map) as seen from the host (for a rootless daemon this gives
    host ids directly) and whether container root maps to host uid 0.
  - "For each running container also answers whether its root is real: its user namespace
    (the host's or not, and its C(uid_map)), its effective, permitted, bounding and ambient
    capabilities decoded to names and whether they act on the host, privileged, the
    namespaces it shares with PID 1 (pid, net, ipc, uts, cgroup, user, mnt), sensitive host
    mounts (C(/), C(/etc), C(/proc), C(/sys), C(/dev), C(/run), any Docker or containerd
    socket, also found by the socket's device and inode through C(/proc/<pid>/root), as
    hard links and directories holding one) and whether they are writable, seccomp,
    AppArmor profile, no_new_privs and devices. Read from the host's C(/proc/<pid>)
    (C(status), C(ns/*), C(uid_map), C(mountinfo), C(attr/current)), which wins, and the
    Engine API's inspect; each fact names its source."
  - "From these one verdict per container (C(verdict) in RV(daemons[].containers)):
    C(host-root), C(can-become-host-root), C(root-only-in-its-user-namespace) or
    C(unprivileged), with the reasons (docs/audit-report.md, Container verdicts)."
  - Also reports the kernel's user namespace switches (C(user.max_user_namespaces),
    C(kernel.unprivileged_userns_clone), C(kernel.apparmor_restrict_unprivileged_userns) where
    present) and C(net.ipv4.ip_forward), naming the setting that fixes a hardening baseline
    that breaks user namespaces or a rootful daemon's networks, and overlaps of subordinate ID ranges between principals in C(/etc/subuid) and
    C(/etc/subgid) (numeric owners and names of the same uid are one principal).
  - Read-only. Processes that exit while being read and unreadable files are tolerated and
    listed in RV(errors). A host without Docker gives RV(daemons=[]).
  - A socket that no running dockerd serves is not connected to (connecting to a socket
    held by systemd socket activation, C(docker.socket), would start C(docker.service)); it
    is reported as C(daemon-not-running) (info) unless O(connect_idle_sockets=true).
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
  - nsguard.docker.attributes.info_module
  - nsguard.docker.attributes.actiongroup_audit
  - nsguard.docker.audit
options:
  query_api:
    description:
      - Ask each daemon's Engine API over its unix socket.
      - When V(false), daemons are reported C(reachable=false) and modes come from process
        evidence only; RV(complete) is false and RV(skipped_checks) says the Engine API was
        not asked (no finding, that is the operator's choice).
    type: bool
    default: true
notes:
  - "Run with C(become=true): C(/proc/<pid>) of root daemons, the root-owned sockets and
    rootless users' sockets are not readable otherwise; the result then carries an
    C(audit-incomplete) finding."
  - "Findings: C(userns-default-mode) (high, CIS 2.9) a rootful daemon in default mode;
    C(container-root-is-host-root) (high, CIS 5.30) a container of a remapped or rootless
    daemon whose root is host uid 0; per container, rated by whether its capabilities act on
    the host (the first severity) or only in its own user namespace (the second):
    C(container-privileged) (CIS 5.4, critical/low), C(container-added-capabilities) (5.3,
    high or medium/low or info), C(container-seccomp-unconfined) (5.21, high/low),
    C(container-apparmor-unconfined) (5.1, medium/info), C(container-no-new-privileges-off)
    (5.25, medium or low/info), C(container-devices) (5.17, critical or high/low),
    C(container-host-namespace) (pid 5.15 and net 5.9 high/low, ipc 5.16 medium/info, uts
    5.20 low/info, cgroup and mnt), C(container-sensitive-mount) (5.5, critical or high/low
    for writable host trees; a mount that matters only as a Docker socket is
    socket_exposure's C(container-mounts-socket), CIS 5.31); C(subid-overlap) (high) two principals share host IDs;
    C(subid-malformed) (low); C(daemon-not-running) (info, a socket no dockerd serves, not
    connected to); C(kernel-userns-disabled), C(apparmor-userns-restricted) and C(desktop-vm-engine) (info);
    C(kernel-ip-forward-off) (medium, C(net.ipv4.ip_forward=0) while a rootful daemon runs);
    C(audit-incomplete) (high when a daemon's Engine API did not answer after one retry, or
    containers were not inspected, naming the checks that were skipped, as severe as what they
    find; low when some paths could not be read)."
seealso:
  - module: nsguard.docker.socket_exposure
  - module: nsguard.docker.audit_report
'''

EXAMPLES = r'''
- name: Report how Docker daemons isolate containers from host root
  nsguard.docker.namespace_mode:
  become: true
  register: ns_audit

- name: Fail when a daemon runs containers as host root
  nsguard.docker.namespace_mode:
    fail_on: high
  become: true

- name: Audit from process and file evidence only, without asking the daemons
  nsguard.docker.namespace_mode:
    query_api: false
  become: true
'''

RETURN = r'''
daemons:
  description: One entry per Docker daemon found, sorted by RV(daemons[].id). Empty without Docker.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: C(rootful), C(rootless:<uid>), C(desktop:<uid>) for Docker Desktop, or C(pid:<pid>) for a daemon
        in another mount namespace.
      type: str
      sample: rootless:1000
    kind:
      description: C(rootful), C(rootless) or C(desktop), from process evidence or the socket location.
      type: str
    pid:
      description: PID of the dockerd process, null when only a socket was found.
      type: int
    uid:
      description: Effective uid of the daemon as seen from the host.
      type: int
    user:
      description: Name of that uid in passwd.
      type: str
    sockets:
      description: Unix sockets the daemon serves (host paths).
      type: list
      elements: str
    reachable:
      description: Whether the Engine API answered C(GET /info).
      type: bool
    error:
      description: Why the Engine API could not be used; null when it answered.
      type: str
    idle:
      description: True for a socket no running dockerd serves that was not connected to
        (O(connect_idle_sockets=false)); it has a C(daemon-not-running) finding.
      type: bool
    queried:
      description: Whether the Engine API was asked (false with O(query_api=false) or when idle).
      type: bool
    api_attempts:
      description: Requests made to the Engine API for C(GET /info) and C(GET /containers/json),
        retries included.
      type: int
    containers_listed_by:
      description:
        - How the daemon's running containers were found. C(inspect) when the containers
          whose processes C(/proc) shows, inspected one by one, are all that C(GET /info)
          counts as running or paused; C(list) when they are not, and C(GET /containers/json)
          (which looks up every container's image, slow on a busy or emulated host) listed
          them. Null when the daemon was not asked or did not answer.
      type: str
      sample: inspect
    mode:
      description: C(default), C(userns-remap), C(rootless), C(desktop-vm) or C(unknown).
      type: str
      sample: userns-remap
    mode_basis:
      description: Evidence that decided the mode (C(user_namespace), C(euid), C(cmdline),
        C(security_options), C(daemon_json), C(docker_root_dir)).
      type: list
      elements: str
    mode_source:
      description: C(engine_api+process), C(engine_api), C(process) or C(none).
      type: str
    mode_verified:
      description: False when the mode rests on configuration the running daemon did not confirm.
      type: bool
    server_version:
      description: ServerVersion from C(GET /info).
      type: str
    docker_root_dir:
      description: DockerRootDir from C(GET /info).
      type: str
    security_options:
      description: SecurityOptions from C(GET /info); null when unreachable.
      type: list
      elements: str
    userns_remap:
      description: C(flag) (from C(--userns-remap)), C(config) (from daemon.json), C(config_file),
        C(config_error) (unreadable or malformed daemon.json).
      type: dict
    process:
      description: C(pid), C(cmdline), C(euid), C(user_namespace), C(init_user_namespace),
        C(in_init_user_namespace), C(uid_map) of the dockerd process; null without one.
      type: dict
    containers:
      description:
        - Running containers with C(id), C(name), C(image), C(pid), C(user), C(userns_mode),
          C(user_namespace), C(shares_host_userns) (+ C(_basis)), C(uid_map), C(root_host_uid),
          C(root_is_host_root) (+ C(_basis)).
        - C(verdict) (C(host-root), C(can-become-host-root), C(root-only-in-its-user-namespace),
          C(unprivileged)) and C(verdict_reasons), each reason naming its source.
        - "C(privilege): the evidence, with C(acts_on_host), C(user_namespace), C(uid_map),
          C(root_host_uid), C(host_euid), C(euid), C(runs_as_root), C(host_root_process),
          C(namespaces) (kind to shared with PID 1), C(host_namespaces), C(privileged),
          C(capabilities) (effective), C(permitted_capabilities), C(bounding_capabilities),
          C(ambient_capabilities), C(added_capabilities), C(dropped_capabilities),
          C(host_root_capabilities), C(reachable_host_root_capabilities), C(seccomp),
          C(seccomp_filters), C(apparmor_profile), C(no_new_privileges), C(sensitive_mounts)
          (C(source), C(host_path), C(destination), C(writable), C(socket), C(socket_kind),
          C(host_write), C(cis), C(found_by), C(submounts)), C(devices), C(sources) (fact to
          C(proc), C(mountinfo), C(engine_api), C(inode) or C(daemon_mode)) and
          C(disagreements) (where the Engine API and /proc differ; /proc is kept)."
        - C(directories_truncated) when a mounted directory had too many entries to look
          through for a hard link of a Docker socket.
      type: list
      elements: dict
    containers_truncated:
      description: Containers not inspected because the time budget ran out.
      type: int
    container_errors:
      description: Containers whose inspection failed, with the error.
      type: list
      elements: dict
    container_pids_in_host_pidns:
      description: False when the daemon's PID namespace differs, so container PIDs were not read from /proc.
      type: bool
init_user_namespace:
  description: PID 1's user namespace link, null when unreadable.
  returned: always
  type: str
  sample: 'user:[4026531837]'
kernel:
  description: User namespace sysctls; null where the file does not exist on this kernel.
  returned: always
  type: dict
  contains:
    max_user_namespaces:
      description: user.max_user_namespaces.
      type: int
    unprivileged_userns_clone:
      description: kernel.unprivileged_userns_clone (Debian kernels).
      type: int
    apparmor_restrict_unprivileged_userns:
      description: kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10 and later).
      type: int
subordinate_ids:
  description: C(subuid) and C(subgid), each with C(present), C(entries) (C(owner), C(start),
    C(count), C(line)), C(invalid) lines (C(line), C(text), C(reason), by the rules the
    M(nsguard.docker.subid) module edits the files by) and C(overlaps) between principals (C(owners),
    C(principals), C(lines), C(start), C(end), C(count)).
  returned: always
  type: dict
complete:
  description: False when a check could not be made (see RV(skipped_checks)) or some paths
    could not be read.
  returned: always
  type: bool
skipped_checks:
  description: What could not be checked, per daemon.
  returned: always
  type: list
  elements: dict
  contains:
    daemon:
      description: Daemon id; null for the host as a whole.
      type: str
    check:
      description: C(container-root-is-host-root), C(mode-verification) (C(GET /info) confirming
        a mode that rests on configuration) or C(unreadable paths).
      type: str
    reason:
      description: Why it was skipped.
      type: str
    kind:
      description: C(unanswered) (the Engine API did not answer, or gave no container listing),
        C(truncated) (containers not inspected), C(not_asked) (O(query_api=false)) or
        C(unreadable) (permission denied).
      type: str
    severity:
      description: The severity of what the skipped check finds.
      type: str
findings:
  description: Problems found, most severe first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Finding identifier (see notes).
      type: str
    severity:
      description: C(critical), C(high), C(medium), C(low) or C(info).
      type: str
    cis:
      description: CIS Docker Benchmark recommendation, null where none applies.
      type: str
    subject:
      description: What the finding is about, for example C(daemon:rootful).
      type: str
    message:
      description: Human readable explanation.
      type: str
    evidence:
      description: The facts behind the finding.
      type: dict
summary:
  description: C(daemons), C(modes) (count per mode), C(counts) (per severity), C(max_severity),
    C(max_severity_rank) (-1 none, 0 info .. 4 critical) and a one-line C(text).
  returned: always
  type: dict
errors:
  description: Paths that could not be read (C(path), C(operation), C(kind) = C(permission),
    C(missing), C(vanished), C(malformed) or C(error), and C(error)).
  returned: always
  type: list
  elements: dict
scan:
  description: C(pids_scanned), C(vanished), C(unreadable) and C(dockerd_pids) of the single /proc scan.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsguard.docker.plugins.module_utils import _audit_module
from ansible_collections.nsguard.docker.plugins.module_utils.namespace_audit import run_audit


def main():
    module = AnsibleModule(
        argument_spec=_audit_module.audit_argument_spec(),
        supports_check_mode=True,
    )
    params = module.params
    fs = _audit_module.module_host_fs(module)
    result = run_audit(fs, query_api=params['query_api'], timeout=params['api_timeout'],
                       connect_idle_sockets=params['connect_idle_sockets'])
    _audit_module.exit_audit(module, 'namespace_mode', result)


if __name__ == '__main__':
    main()
