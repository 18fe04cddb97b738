#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: socket_exposure
short_description: Report who can reach a Docker daemon on a host
version_added: 0.1.0
description:
  - Reaching a rootful Docker daemon is root on the host. This module reports every way to
    reach one, and each rootless daemon, with findings mapped to the CIS Docker Benchmark.
  - "Unix sockets: C(/var/run/docker.sock), C(/run/docker.sock), C(-H unix://...) and
    C(--host) paths of running dockerd processes, C(hosts) in daemon.json, rootless
    sockets C(/run/user/*/docker.sock) and Docker Desktop's C(~/.docker/desktop/docker.sock)
    (judged as its user's socket, like a rootless one; its containers' bind sources are
    paths of Docker Desktop's VM, matched by path against the VM's own socket); for each its owner, group and mode and who can
    connect: root, the owner, members of its group when group-writable (C(/etc/group)
    members plus users whose primary group it is) and everyone when world-writable."
  - "TCP endpoints: from daemon.json C(hosts), dockerd's command line (C(-H tcp://...),
    C(--host=tcp://...)) and the LISTEN sockets held by dockerd (C(/proc/<pid>/net/tcp) and
    C(tcp6), matched to C(/proc/<pid>/fd) socket inodes), each with its TLS state:
    C(--tlsverify) or C(tlsverify=true) verifies clients, plain C(--tls) does not."
  - The owner and mode of the C(docker.service) and C(docker.socket) unit files (and
    drop-ins) in C(/etc/systemd/system), C(/usr/lib/systemd/system) and C(/lib/systemd/system).
  - Running containers that bind-mount a Docker socket, or a directory that holds one, from
    the Engine API (C(GET /containers/<id>/json) of the containers C(/proc) shows when
    C(GET /info) counts no others, else C(GET /containers/json); over the unix socket, 10
    second timeout, one retry)
    and from C(/proc), which needs no API. A mount source matches by path, and by the device
    and inode of the Docker sockets found (rootful and rootless), so another name of a socket
    (a hard link such as C(/run/x)) and a directory holding one are found too.
  - "The C(/proc) scan: one process per mount namespace other than PID 1's whose
    C(/proc/<pid>/cgroup) names a Docker container (C(docker-<id>.scope), C(/docker/<id>));
    each of its mount points (C(/proc/<pid>/mountinfo)) is stat'ed through
    C(/proc/<pid>/root). A socket with the device and inode of a Docker socket, a directory
    whose file system and root hold one (confirmed by a stat through it), or a directory of
    the same file system with a hard link of one among its first 4096 entries is a socket
    mount. It works while the Engine API does not answer or is not asked."
  - A daemon whose Engine API does not answer (after one retry) gives an C(audit-incomplete)
    finding (high, as what the skipped check finds) that names the skipped check and says
    whether the C(/proc) scan covered socket mounts in its place; RV(complete) is then false
    and RV(skipped_checks) lists what was not checked.
  - A socket that no running dockerd serves is not connected to (with socket activation,
    C(docker.socket), connecting would start C(docker.service)); it is reported as
    C(daemon-not-running) (info) unless O(connect_idle_sockets=true).
  - Read-only; only C(/etc/group) and C(/etc/passwd) are read for group membership, so
    members that come only from NSS (LDAP, sssd) are not seen.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
  - nsguard.docker.attributes.info_module
  - nsguard.docker.attributes.actiongroup_audit
  - nsguard.docker.audit
options:
  allow_users:
    description:
      - Users allowed to reach the rootful Docker socket through its group; they get no
        C(docker-group-member) finding.
    type: list
    elements: str
    default: []
  allow_groups:
    description:
      - Members of these groups are allowed to reach the rootful Docker socket through its
        group; they get no C(docker-group-member) finding.
    type: list
    elements: str
    default: []
  query_api:
    description:
      - Ask each daemon for its running containers to find socket mounts.
      - When V(false), socket mounts come from the C(/proc) scan only; RV(complete) is false
        and RV(skipped_checks) says the Engine API was not asked (no finding, that is the
        operator's choice).
    type: bool
    default: true
  unit_dirs:
    description:
      - Directories searched for C(docker.service), C(docker.socket) and their C(.d) drop-ins.
    type: list
    elements: path
    default: [/etc/systemd/system, /usr/lib/systemd/system, /lib/systemd/system]
notes:
  - Run with C(become=true) to read C(/proc/<pid>/fd) of root daemons.
  - "Findings (CIS Docker Benchmark v1.6 ids): C(socket-world-writable) (critical, rootless
    high; 3.16), C(socket-permissions) (high, 3.16, looser than 0660), C(socket-ownership)
    (high, 3.15, not root:docker or root:root), C(rootless-socket-shared) (medium),
    C(docker-group-member) (high, 1.1.2, per non-root user unless allowed), C(tcp-no-tls)
    (critical, high on loopback; 2.7), C(tcp-tls-no-verify) (high, medium on loopback; 2.7),
    C(dockerd-listener-unknown) (medium), C(dockerd-listener-info) (info, swarm and metrics),
    C(unit-file-ownership) (medium; 3.1 docker.service, 3.3 docker.socket),
    C(unit-file-permissions) (medium when group/other writable, else low; 3.2, 3.4),
    C(container-mounts-socket) (high, 5.31, also for a hard link of a socket or a directory
    holding one), C(daemon-not-running) (info, a socket no dockerd serves, not connected to),
    C(audit-incomplete) (high when a daemon's Engine API did not answer or a directory
    listing was cut off, naming the skipped check; low when some paths could not be read)."
seealso:
  - module: nsguard.docker.namespace_mode
  - module: nsguard.docker.audit_report
'''

EXAMPLES = r'''
- name: Report who can reach Docker
  nsguard.docker.socket_exposure:
  become: true
  register: exposure

- name: Fail on critical exposure, allowing the CI user
  nsguard.docker.socket_exposure:
    allow_users: [ci]
    allow_groups: [dockeradmins]
    fail_on: critical
  become: true
'''

RETURN = r'''
sockets:
  description: Docker unix sockets found (one entry per file, also when reached by two paths).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Host path of the socket.
      type: str
      sample: /run/docker.sock
    kind:
      description: C(rootful), C(rootless) or C(desktop).
      type: str
    daemon:
      description: Id of the daemon serving it (as in M(nsguard.docker.namespace_mode)).
      type: str
    is_socket:
      description: False when the path exists but is not a socket.
      type: bool
    owner:
      description: Owner name (null when not in passwd); C(uid) holds the number.
      type: str
    group:
      description: Group name (null when not in group); C(gid) holds the number.
      type: str
    mode:
      description: Permission bits in octal.
      type: str
      sample: '0660'
    reach:
      description: Who can connect, C(root), C(owner), C(group), C(group_members)
        (C(name), C(uid), C(via) = C(member) or C(primary)), C(everyone) and all C(users).
      type: dict
tcp_endpoints:
  description: TCP endpoints of dockerd, configured or observed listening.
  returned: always
  type: list
  elements: dict
  contains:
    daemon:
      description: Daemon id.
      type: str
    address:
      description: Configured or listening address.
      type: str
    port:
      description: TCP port.
      type: int
    role:
      description: C(api) (configured), C(swarm), C(metrics) or C(unknown).
      type: str
    sources:
      description: Where it was seen, C(cmdline), C(daemon.json), C(listen).
      type: list
      elements: str
    listening:
      description: Whether dockerd holds a LISTEN socket on that port.
      type: bool
    listen_addresses:
      description: Addresses dockerd listens on for that port.
      type: list
      elements: str
    loopback:
      description: True when every address is a loopback address.
      type: bool
    tls:
      description: TLS enabled.
      type: bool
    tlsverify:
      description: Client certificates verified.
      type: bool
    tlscacert:
      description: CA used to verify clients.
      type: str
    netns:
      description: C(host) when dockerd is in the host's network namespace, C(daemon) when in its own.
      type: str
unit_files:
  description: docker.service, docker.socket and drop-ins found, with C(unit), C(path),
    C(regular_file), C(is_symlink), C(uid), C(gid), C(owner), C(group), C(mode).
  returned: always
  type: list
  elements: dict
socket_mounts:
  description:
    - Running containers that mount a Docker socket, one entry per container and mount point.
    - C(match) says how it was found. From the Engine API's Mounts, C(socket) (the source is a
      Docker socket path), C(hard_link) (another name of one, the same device and inode),
      C(name) (ends in docker.sock), C(parent_directory) (a directory above one) or
      C(hard_link_in_directory) (a directory with a hard link of one). From the C(/proc)
      scan, C(inode_via_proc), C(parent_directory_via_proc) or C(hard_link_in_directory_via_proc).
  returned: always
  type: list
  elements: dict
  contains:
    daemon:
      description: Id of the daemon the container belongs to.
      type: str
    container_id:
      description: First 12 hex digits of the container id.
      type: str
    name:
      description: Container name (from the Engine API, else from dockerd's C(config.v2.json)); null when unknown.
      type: str
    image:
      description: Image of the container; null when unknown.
      type: str
    source:
      description: Host path mounted (for the C(/proc) scan, where the mounted file system
        shows it on the host).
      type: str
    destination:
      description: Mount point in the container.
      type: str
    read_write:
      description: Whether the mount is writable.
      type: bool
    match:
      description: How the mount was matched (see above).
      type: str
    found_by:
      description: C(engine_api), C(proc) or both; a mount both find is reported once.
      type: list
      elements: str
    pid:
      description: A process of the container (the C(/proc) scan); null when only the API saw it.
      type: int
    process:
      description: Command name of that process.
      type: str
complete:
  description: False when a check could not be made (see RV(skipped_checks)) or some paths
    could not be read.
  returned: always
  type: bool
skipped_checks:
  description: What could not be checked.
  returned: always
  type: list
  elements: dict
  contains:
    daemon:
      description: Daemon id; null for the host as a whole.
      type: str
    check:
      description: The finding id the check produces (C(container-mounts-socket)), or C(unreadable paths).
      type: str
    reason:
      description: Why it was skipped.
      type: str
    kind:
      description: C(unanswered) (the Engine API did not answer), C(not_asked) (O(query_api=false)),
        C(truncated) (a listing was cut off) or C(unreadable) (permission denied).
      type: str
    severity:
      description: The severity of what the skipped check finds.
      type: str
    covered_by_proc_scan:
      description: Whether the C(/proc) scan looked for socket mounts in its place.
      type: bool
mount_scan:
  description: The C(/proc) scan, C(ran), C(complete), C(reason) (why it did not run or is
    incomplete), C(pids_scanned), C(namespaces), C(containers), C(other_namespaces) (not a
    Docker container, not looked at), C(unreadable), C(vanished), C(truncated) and
    C(directories_truncated).
  returned: always
  type: dict
daemons:
  description: Daemons found (C(id), C(kind), C(pid), C(sockets)) and C(containers_listed_by),
    how the Engine API gave their running containers (C(inspect), C(list), or null when it
    was not asked or did not answer; as in M(nsguard.docker.namespace_mode)).
  returned: always
  type: list
  elements: dict
findings:
  description: Problems found, most severe first; each with C(id), C(severity), C(cis)
    (null where no CIS recommendation applies), C(subject), C(message), C(evidence).
  returned: always
  type: list
  elements: dict
summary:
  description: C(sockets), C(tcp_endpoints), C(counts) (per severity), C(max_severity),
    C(max_severity_rank) (-1 none, 0 info .. 4 critical) and a one-line C(text).
  returned: always
  type: dict
errors:
  description: Paths that could not be read (C(path), C(operation), C(kind), C(error)).
  returned: always
  type: list
  elements: dict
scan:
  description: Statistics of the single /proc scan.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsguard.docker.plugins.module_utils import _audit_module
from ansible_collections.nsguard.docker.plugins.module_utils.socket_audit import UNIT_DIRS, run_audit


def main():
    module = AnsibleModule(
        argument_spec=_audit_module.audit_argument_spec(
            allow_users=dict(type='list', elements='str', default=[]),
            allow_groups=dict(type='list', elements='str', default=[]),
            unit_dirs=dict(type='list', elements='path', default=list(UNIT_DIRS)),
        ),
        supports_check_mode=True,
    )
    params = module.params
    fs = _audit_module.module_host_fs(module)
    result = run_audit(fs, allow_users=params['allow_users'], allow_groups=params['allow_groups'],
                       unit_dirs=params['unit_dirs'], query_api=params['query_api'],
                       timeout=params['api_timeout'],
                       connect_idle_sockets=params['connect_idle_sockets'])
    _audit_module.exit_audit(module, 'socket_exposure', result)


if __name__ == '__main__':
    main()
