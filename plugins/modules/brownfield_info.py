#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: brownfield_info
short_description: What a move to userns-remap or rootless Docker would hide or stop on a busy host
version_added: 0.1.0
description:
  - Lists the containers, images and named volumes of the host's running rootful Docker
    daemon (its Engine API), and says what hardening it to O(targets) would hide or
    stop, so a play can stop before that unless told to go on.
  - Enabling userns-remap moves a default daemon's data root to C(<data root>/<uid>.<gid>), and
    its images, containers and volumes vanish from its listings (moby issue 21050) while
    they keep their disk (moby issue 46403). Masking the rootful daemon for
    rootless Docker stops its running containers.
  - Returns the plan of what to carry over to the new daemons (image references and
    local named volumes) for M(nsguard.docker.data_carry), how much disk the old data
    root holds, and how to go back.
  - Read-only. A rootful daemon that is not running is not started (a connection to a
    socket-activated C(docker.socket) would start it) and nothing is listed.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
  - nsguard.docker.attributes.info_module
options:
  socket:
    description:
      - The rootful daemon's Engine API socket.
    type: path
    default: /run/docker.sock
  targets:
    description:
      - What the host is being hardened to.
    type: list
    elements: str
    choices: [userns-remap, rootless]
    required: true
  rootful_after:
    description:
      - What becomes of the rootful daemon when O(targets) has V(rootless)
        (the rootless role's C(rootless_rootful_daemon)).
    type: str
    choices: [keep, masked]
    default: keep
  rootless_users:
    description:
      - Users who get rootless daemons; each is a carry target.
    type: list
    elements: str
    default: []
  carry_images:
    description:
      - Plan to carry every image over to the new daemons (RV(plan.carry)).
    type: bool
    default: false
  carry_volumes:
    description:
      - Plan to carry every local named volume over, its files' owners shifted into the
        new daemon's id map (RV(plan.carry)).
    type: bool
    default: false
  stage_dir:
    description:
      - The stage directory of M(nsguard.docker.data_carry). A carry plan saved there by a run
        that did not finish is returned again as RV(plan.carry), with C(resumed=true).
    type: path
    default: /var/lib/nsguard-carry
  disk_usage:
    description:
      - Measure the disk the old data root holds (a walk of it, without the data roots of
        userns-remap below it) when the plan hides something.
    type: bool
    default: true
  timeout:
    description:
      - Seconds for each Engine API request.
    type: float
    default: 30
seealso:
  - module: nsguard.docker.data_carry
  - module: nsguard.docker.namespace_mode
'''

EXAMPLES = r'''
- name: What hardening to userns-remap would hide
  nsguard.docker.brownfield_info:
    targets: [userns-remap]
    carry_images: true
    carry_volumes: true
  register: brownfield

- name: Stop before hiding containers, images or volumes unless told to go on
  ansible.builtin.assert:
    that: not brownfield.plan.hides or proceed | default(false)
    fail_msg: "{{ brownfield.plan.reasons | join('; ') }}"
'''

RETURN = r'''
daemon:
  description: The rootful daemon.
  returned: always
  type: dict
  contains:
    running:
      description: Whether a rootful dockerd runs on the host.
      type: bool
    socket:
      description: The socket asked.
      type: str
    mode:
      description: V(default), V(userns-remap) or V(rootless), from its C(SecurityOptions).
      type: str
    data_root:
      description: Its C(DockerRootDir).
      type: str
    server_version:
      description: Its version.
      type: str
  sample: {running: true, socket: /run/docker.sock, mode: default, data_root: /var/lib/docker, server_version: "26.1.3"}
containers:
  description: Every container (running or not), with the named volumes it mounts.
  returned: always
  type: list
  elements: dict
  sample: [{id: 3f2a9c1d0b7e, name: web, image: "nsguard/busybox:test", state: running, volumes: [webdata]}]
images:
  description: Every image, its tags and size.
  returned: always
  type: list
  elements: dict
  sample: [{id: "sha256:5e3f...", tags: ["nsguard/busybox:test"], size: 4261550}]
volumes:
  description: Every named volume.
  returned: always
  type: list
  elements: dict
  sample: [{name: webdata, driver: local, mountpoint: /var/lib/docker/volumes/webdata/_data}]
plan:
  description: What the hardening would do to them, and what to carry over.
  returned: always
  type: dict
  contains:
    hides:
      description: Whether the hardening hides or stops any container, image or volume.
      type: bool
    reasons:
      description: What it hides or stops, and why.
      type: list
      elements: str
    running:
      description: Names of the running containers that would stop.
      type: list
      elements: str
    old_data_root:
      description: The data root left behind (never deleted), when something is hidden.
      type: str
    old_data_root_bytes:
      description: Bytes allocated below it (without the data roots of userns-remap), when measured.
      type: int
    go_back:
      description: How to return to the daemon as it was.
      type: list
      elements: str
    carry:
      description:
        - C(images), the references to save (tags; the id of an untagged image);
          C(image_ids), their ids; C(volumes), local named volumes as C(name) and
          C(source) (the old mount point); C(targets), the new daemons as C(mode) and
          C(user) (rootless); C(resumed), true when it is the unfinished carry of an
          earlier run, read from O(stage_dir).
      type: dict
  sample:
    hides: true
    reasons: ["userns-remap moves the data root from /var/lib/docker to /var/lib/docker/<uid>.<gid> ..."]
    running: [web]
    old_data_root: /var/lib/docker
    old_data_root_bytes: 9150464
    go_back: ["remove \"userns-remap\" from /etc/docker/daemon.json ..."]
    carry: {images: ["nsguard/busybox:test"], image_ids: ["sha256:5e3f..."],
            volumes: [{name: webdata, source: /var/lib/docker/volumes/webdata/_data}],
            targets: [{mode: userns-remap}], resumed: false}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsguard.docker.plugins.module_utils import _brownfield
from ansible_collections.nsguard.docker.plugins.module_utils._daemons import discover_daemons
from ansible_collections.nsguard.docker.plugins.module_utils._hostfs import HostFS
from ansible_collections.nsguard.docker.plugins.module_utils.engine_api import (
    EngineAPIError,
    UnixHTTPClient,
)


def rootful_running(fs):
    """True when a rootful dockerd process runs on this host."""
    daemons, _context = discover_daemons(fs)
    return any(d['kind'] == 'rootful' and d['pid'] is not None for d in daemons)


def read_inventory(client):
    return _brownfield.inventory(
        client.get_json('/info'),
        client.get_json('/containers/json?all=1'),
        client.get_json('/images/json'),
        client.get_json('/volumes'))


def run(params, fs=None, client=None):
    """The module's result (without ``changed``)."""
    fs = fs or HostFS()
    daemon = {'running': rootful_running(fs), 'socket': params['socket'], 'mode': None,
              'data_root': None, 'server_version': None}
    inv = None
    if daemon['running']:
        inv = read_inventory(client or UnixHTTPClient(params['socket'], timeout=params['timeout']))
        daemon.update(mode=inv['mode'], data_root=inv['data_root'],
                      server_version=inv['server_version'])
    plan = _brownfield.plan(inv, params['targets'], params['rootful_after'],
                            params['carry_images'], params['carry_volumes'],
                            params['rootless_users'],
                            _brownfield.read_stage_manifest(params['stage_dir']))
    plan['old_data_root_bytes'] = None
    if plan['old_data_root'] and params['disk_usage']:
        plan['old_data_root_bytes'] = _brownfield.disk_usage(plan['old_data_root'])
    return dict(daemon=daemon, plan=plan,
                containers=inv['containers'] if inv else [],
                images=inv['images'] if inv else [],
                volumes=inv['volumes'] if inv else [])


def argument_spec():
    return dict(
        socket=dict(type='path', default='/run/docker.sock'),
        targets=dict(type='list', elements='str', required=True, choices=list(_brownfield.TARGETS)),
        rootful_after=dict(type='str', default='keep', choices=list(_brownfield.ROOTFUL_AFTER)),
        rootless_users=dict(type='list', elements='str', default=[]),
        carry_images=dict(type='bool', default=False),
        carry_volumes=dict(type='bool', default=False),
        stage_dir=dict(type='path', default='/var/lib/nsguard-carry'),
        disk_usage=dict(type='bool', default=True),
        timeout=dict(type='float', default=30.0),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
    )
    try:
        result = run(module.params)
    except EngineAPIError as exc:
        module.fail_json(msg='the rootful Docker daemon runs but its Engine API at %s did not answer: %s; '
                             'nothing was changed' % (module.params['socket'], exc))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
