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
    C(--host) paths of running dockerd processes, C(hosts) in daemon.json and rootless
    sockets C(/run/user/*/docker.sock); for each its owner, group and mode and who can
    connect: root, the owner, members of its group when group-writable (C(/etc/group)
    members plus users whose primary group it is) and everyone when world-writable."
  - "TCP endpoints: from daemon.json C(hosts), dockerd's command line (C(-H tcp://...),
    C(--host=tcp://...)) and the LISTEN sockets held by dockerd (C(/proc/<pid>/net/tcp) and
    C(tcp6), matched to C(/proc/<pid>/fd) socket inodes), each with its TLS state:
    C(--tlsverify) or C(tlsverify=true) verifies clients, plain C(--tls) does not."
  - The owner and mode of the C(docker.service) and C(docker.socket) unit files (and
    drop-ins) in C(/etc/systemd/system), C(/usr/lib/systemd/system) and C(/lib/systemd/system).
  - Running containers that bind-mount a Docker socket, or a directory that holds one, from
    the Engine API (C(GET /containers/json), over the unix socket, 2 second timeout).
  - Read-only; only C(/etc/group) and C(/etc/passwd) are read for group membership, so
    members that come only from NSS (LDAP, sssd) are not seen.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
  - nsguard.docker.attributes.info_module
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
      - Ask each daemon for its running containers to find socket mounts. When V(false),
        socket mounts are not checked.
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
    C(container-mounts-socket) (high, 5.31), C(daemon-unreachable) (low),
    C(audit-incomplete) (low)."
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
      description: C(rootful) or C(rootless).
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
  description: Running containers that bind-mount a Docker socket, with C(daemon),
    C(container_id), C(name), C(image), C(source), C(destination), C(read_write) and C(match)
    (C(socket), C(name) or C(parent_directory)).
  returned: always
  type: list
  elements: dict
daemons:
  description: Daemons found (C(id), C(kind), C(pid), C(sockets)).
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

from ansible_collections.nsguard.docker.plugins.module_utils import procfs
from ansible_collections.nsguard.docker.plugins.module_utils.socket_audit import UNIT_DIRS, run_audit


def main():
    module = AnsibleModule(
        argument_spec=procfs.audit_argument_spec(
            allow_users=dict(type='list', elements='str', default=[]),
            allow_groups=dict(type='list', elements='str', default=[]),
            unit_dirs=dict(type='list', elements='path', default=list(UNIT_DIRS)),
        ),
        supports_check_mode=True,
    )
    params = module.params
    fs = procfs.module_host_fs(module)
    result = run_audit(fs, allow_users=params['allow_users'], allow_groups=params['allow_groups'],
                       unit_dirs=params['unit_dirs'], query_api=params['query_api'],
                       timeout=params['api_timeout'])
    procfs.exit_audit(module, 'socket_exposure', result)


if __name__ == '__main__':
    main()
