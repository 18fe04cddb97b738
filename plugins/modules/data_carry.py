#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: data_carry
short_description: Carry a rootful Docker daemon's images and named volumes over to a userns-remap or rootless daemon
version_added: 0.1.0
description:
  - With O(state=staged), saves images of the rootful daemon (before it is remapped or
    stopped) into one tarball in O(stage_dir), through its Engine API
    (C(GET /images/get)), and the carry plan beside it (C(carry.json)), which
    M(nsguard.docker.brownfield_info) returns again until O(state=absent) removes it, so
    a run that stopped half-way carries on the next time.
  - With O(state=carried), loads the staged images into a new daemon (C(POST /images/load))
    when it lacks any of them, and creates each named volume of O(volumes) there and copies
    the old volume's files into it, their owners shifted into the new daemon's id map (a
    file of container uid 1000 becomes the new map's host id of container uid 1000). A
    volume the new daemon already has is left alone.
  - The new daemon's id map is read from the rootless daemon's own process (the peer of its
    socket, C(/proc/<pid>/uid_map)), or, for userns-remap, built from the remap account's
    subordinate ranges in C(/etc/subuid) and C(/etc/subgid) as dockerd builds it.
  - The copy never follows a link (a link in the volume is copied as a link) and writes
    through directories opened without following links, so a rootless user cannot redirect
    root's writes. Fifos, device nodes and sockets are not copied and are returned in
    RV(volumes). Files whose owner has no place in the new map stop the task before the
    volume is created.
  - The old data root is never changed. O(state=absent) removes the stage directory.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports what would be saved, loaded and copied; a new daemon that does not answer
        yet (it is created by the same play) is reported as needing everything.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  state:
    description:
      - V(staged) saves images, V(carried) fills a new daemon, V(absent) removes O(stage_dir).
    type: str
    choices: [staged, carried, absent]
    required: true
  stage_dir:
    description:
      - Where the image tarball (C(images.tar)) and the carry plan (C(carry.json)) are kept,
        and the marks of volumes copied completely. Made mode 0700, root's.
    type: path
    default: /var/lib/nsguard-carry
  source_socket:
    description:
      - The rootful daemon's socket, for O(state=staged).
    type: path
    default: /run/docker.sock
  images:
    description:
      - For O(state=staged), the references to save (tags, or ids of untagged images).
    type: list
    elements: str
    default: []
  image_ids:
    description:
      - For O(state=staged), the ids of those images, recorded in the carry plan. The new daemon
        is filled when it lacks any of O(images) (an image store of another kind gives an image
        another id).
    type: list
    elements: str
    default: []
  targets:
    description:
      - For O(state=staged), the new daemons, recorded in the carry plan
        (RV(nsguard.docker.brownfield_info#module:plan.carry.targets)).
    type: list
    elements: dict
    default: []
  target_mode:
    description:
      - For O(state=carried), the kind of the new daemon.
    type: str
    choices: [userns-remap, rootless]
  target_user:
    description:
      - For O(state=carried), the remap account (V(userns-remap)) or the user whose rootless
        daemon it is.
    type: str
  target_group:
    description:
      - For V(userns-remap), the group whose subordinate gid ranges dockerd maps to.
        Defaults to O(target_user).
    type: str
  target_socket:
    description:
      - The new daemon's socket. Defaults to C(/run/docker.sock) for V(userns-remap) and
        C(/run/user/<uid>/docker.sock) for V(rootless).
    type: path
  volumes:
    description:
      - For O(state=carried), named volumes to create in the new daemon and fill; for
        O(state=staged), recorded in the carry plan.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The volume's name.
        type: str
        required: true
      source:
        description: The old volume's mount point (its C(_data) directory).
        type: path
        required: true
  timeout:
    description:
      - Seconds for one Engine API request (saving or loading all images is one request).
    type: float
    default: 1800
seealso:
  - module: nsguard.docker.brownfield_info
'''

EXAMPLES = r'''
- name: Save the rootful daemon's images (and the carry plan) before userns-remap hides them
  nsguard.docker.data_carry:
    state: staged
    images: "{{ brownfield.plan.carry.images }}"
    image_ids: "{{ brownfield.plan.carry.image_ids }}"
    volumes: "{{ brownfield.plan.carry.volumes }}"
    targets: "{{ brownfield.plan.carry.targets }}"

- name: Load them into the remapped daemon, and carry the named volumes over
  nsguard.docker.data_carry:
    state: carried
    target_mode: userns-remap
    target_user: dockremap
    volumes: "{{ brownfield.plan.carry.volumes }}"
'''

RETURN = r'''
stage_file:
  description: The image tarball.
  returned: always
  type: str
  sample: /var/lib/nsguard-carry/images.tar
stage_bytes:
  description: Its size (V(0) when there is none).
  returned: always
  type: int
  sample: 4457472
images_loaded:
  description:
    - References (tags, or ids of untagged images) of the images the new daemon lacked and that
      were loaded (would be, in check mode).
  returned: when O(state=carried)
  type: list
  elements: str
  sample: ["nsguard/busybox:test"]
target_socket:
  description: The new daemon's socket.
  returned: when O(state=carried)
  type: str
  sample: /run/user/1000/docker.sock
id_map:
  description: The new daemon's maps, C(uid) and C(gid), as C([inside, outside, count]) triples.
  returned: when O(state=carried) and volumes were copied
  type: dict
  sample: {uid: [[0, 1000, 1], [1, 100000, 65536]], gid: [[0, 1000, 1], [1, 100000, 65536]]}
volumes:
  description:
    - Per volume, C(name), C(result) (V(created), V(kept) as the new daemon had it), and for a
      created one C(mountpoint), C(entries), C(bytes) and C(skipped) (names not copied).
  returned: when O(state=carried)
  type: list
  elements: dict
  sample: [{name: webdata, result: created, mountpoint: /var/lib/docker/100000.100000/volumes/webdata/_data,
            entries: 3, bytes: 12, skipped: []}]
'''

import json
import os
import pwd
import shutil
import socket
import struct

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsguard.docker.plugins.module_utils import _brownfield, fileops, subid
from ansible_collections.nsguard.docker.plugins.module_utils.engine_api import (
    EngineAPIError,
    UnixHTTPClient,
)
from urllib.parse import quote

MANIFEST = _brownfield.STAGE_MANIFEST
SUBUID_PATH = '/etc/subuid'
SUBGID_PATH = '/etc/subgid'
PROC_ROOT = '/proc'
TARBALL = 'images.tar'
#: The label of a volume this module created; a volume with it but without its mark in
#: the stage directory was not filled completely.
LABEL = 'io.nsguard.carried-from'


class CarryError(Exception):
    pass


def _stage_bytes(stage_dir):
    try:
        return os.stat(os.path.join(stage_dir, TARBALL)).st_size
    except OSError:
        return 0


def stage(params, check_mode, client):
    """Save the images and the carry plan; unchanged when both are there already."""
    stage_dir = params['stage_dir']
    wanted = {'images': sorted(params['images']), 'image_ids': sorted(params['image_ids']),
              'volumes': params['volumes'], 'targets': params['targets']}
    manifest = _brownfield.read_stage_manifest(stage_dir)
    if manifest == wanted and (_stage_bytes(stage_dir) > 0 or not wanted['images']):
        return False
    if check_mode:
        return True
    with fileops.open_dir(stage_dir, create=True, mode=0o700) as safe:
        os.fchmod(safe.fd, 0o700)
        if wanted['images']:
            _save_images(client, safe, wanted['images'])
    fileops.atomic_write(os.path.join(stage_dir, MANIFEST), json.dumps(wanted, indent=1).encode(), mode=0o600)
    return True


def _save_images(client, safe, refs):
    """GET /images/get of ``refs`` into TARBALL in the open stage directory ``safe``."""
    tmp = '.%s.%d' % (TARBALL, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600, dir_fd=safe.fd)
    try:
        with os.fdopen(fd, 'wb') as out:
            query = '&'.join('names=%s' % quote(ref, safe='') for ref in refs)
            client.download('/images/get?%s' % query, out.write)
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, TARBALL, src_dir_fd=safe.fd, dst_dir_fd=safe.fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=safe.fd)
        except OSError:
            pass
        raise


def _peer_pid(socket_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(10)
        sock.connect(socket_path)
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize('3i'))
        return struct.unpack('3i', creds)[0]
    finally:
        sock.close()


def _read(path):
    with open(path) as handle:
        return handle.read()


def id_maps(params, target_socket):
    """(uid map, gid map) of the new daemon's containers."""
    if params['target_mode'] == 'rootless':
        pid = _peer_pid(target_socket)
        return (_brownfield.parse_id_map(_read('%s/%d/uid_map' % (PROC_ROOT, pid))),
                _brownfield.parse_id_map(_read('%s/%d/gid_map' % (PROC_ROOT, pid))))
    user = pwd.getpwnam(params['target_user'])
    group = params['target_group'] or params['target_user']
    maps = []
    for path, name, own in ((SUBUID_PATH, params['target_user'], user.pw_uid),
                            (SUBGID_PATH, group, None)):
        entries = subid.parse(_read(path), path)
        ranges = [(e.start, e.count) for e in subid.user_entries(entries, name, own) if e.count]
        if not ranges:
            raise CarryError('%s has no range of %s: dockerd cannot remap to it' % (path, name))
        maps.append(_brownfield.remap_id_map(ranges))
    return maps[0], maps[1]


def _mark_path(stage_dir, target_socket, name):
    return os.path.join(stage_dir, 'volumes', quote(target_socket, safe=''), quote(name, safe=''))


def _has_mark(path):
    try:
        return fileops.read_bytes(path) is not None
    except (fileops.FileOpsError, OSError):
        return False


def carry_volume(client, params, target_socket, volume, maps, check_mode):
    name = volume['name']
    quoted = quote(name, safe='')
    mark = _mark_path(params['stage_dir'], target_socket, name)
    try:
        existing = client.get_json('/volumes/%s' % quoted)
    except EngineAPIError as exc:
        if exc.status != 404:
            raise
        existing = None
    if existing is not None:
        if (existing.get('Labels') or {}).get(LABEL) and not _has_mark(mark):
            raise CarryError('volume %s of %s was created by an earlier carry that did not finish: '
                             'remove it there (docker volume rm %s) and run again'
                             % (name, target_socket, name))
        return {'name': name, 'result': 'kept'}
    entries, size, bad_uids, bad_gids = _brownfield.scan_tree(volume['source'], maps[0], maps[1])
    if bad_uids or bad_gids:
        raise CarryError('volume %s holds files of uids %s / gids %s, which the new daemon does not map: '
                         'nothing was created' % (name, bad_uids or '-', bad_gids or '-'))
    if check_mode:
        return {'name': name, 'result': 'created', 'entries': entries, 'bytes': size,
                'mountpoint': None, 'skipped': []}
    created = client.post_json('/volumes/create', {'Name': name, 'Labels': {LABEL: volume['source']}})
    mountpoint = created['Mountpoint']
    with fileops.open_dir(mountpoint) as dest:
        if not _brownfield.is_empty_dir(dest.fd):
            raise CarryError('the new volume %s at %s is not empty' % (name, dest.path))
        copied = _brownfield.copy_tree(volume['source'], dest.fd, maps[0], maps[1])
    fileops.atomic_write(mark, (volume['source'] + '\n').encode(), mode=0o600, create_dirs=True, dir_mode=0o700)
    return dict(copied, name=name, result='created', mountpoint=mountpoint)


def _references(images):
    """Every id and tag of GET /images/json's images."""
    found = set()
    for image in images or []:
        found.add(image.get('Id'))
        found.update(image.get('RepoTags') or [])
    return found


def carry(params, check_mode, client_factory=UnixHTTPClient):
    result = {'images_loaded': [], 'volumes': []}
    target_socket = params['target_socket']
    if not target_socket:
        if params['target_mode'] == 'rootless':
            target_socket = '/run/user/%d/docker.sock' % pwd.getpwnam(params['target_user']).pw_uid
        else:
            target_socket = '/run/docker.sock'
    result['target_socket'] = target_socket
    client = client_factory(target_socket, timeout=params['timeout'])
    manifest = _brownfield.read_stage_manifest(params['stage_dir']) or {}
    # by reference (tag, or id of an untagged image): an image store of another kind
    # (graph drivers or containerd's) gives the same image another id
    wanted = manifest.get('images') or []
    everything = {'images_loaded': list(wanted),
                  'volumes': [{'name': v['name'], 'result': 'created'} for v in params['volumes']]}
    try:
        mode = _brownfield.daemon_mode(client.get_json('/info'))
    except EngineAPIError:
        if not check_mode:
            raise
        mode = None  # the daemon is made by this play: in check mode it does not exist yet
    if mode != params['target_mode']:
        if check_mode:
            # or the play changes its mode first, which check mode did not
            result.update(everything)
            return bool(wanted or params['volumes']), result
        raise CarryError('the daemon at %s runs in %s mode, not %s: nothing was carried'
                         % (target_socket, mode, params['target_mode']))
    present = _references(client.get_json('/images/json?all=1'))
    missing = [i for i in wanted if i not in present]
    if missing:
        result['images_loaded'] = missing
        if not check_mode:
            tarball = os.path.join(params['stage_dir'], TARBALL)
            with open(tarball, 'rb') as handle:
                client.upload('/images/load?quiet=1', handle, os.fstat(handle.fileno()).st_size)
            present = _references(client.get_json('/images/json?all=1'))
            still = [i for i in missing if i not in present]
            if still:
                raise CarryError('%s did not load images %s from %s' % (target_socket, still, tarball))
    changed = bool(missing)
    if params['volumes']:
        maps = id_maps(params, target_socket)
        result['id_map'] = {'uid': [list(t) for t in maps[0]], 'gid': [list(t) for t in maps[1]]}
        for volume in params['volumes']:
            outcome = carry_volume(client, params, target_socket, volume, maps, check_mode)
            changed = changed or outcome['result'] == 'created'
            result['volumes'].append(outcome)
    return changed, result


def argument_spec():
    return dict(
        state=dict(type='str', required=True, choices=['staged', 'carried', 'absent']),
        stage_dir=dict(type='path', default='/var/lib/nsguard-carry'),
        source_socket=dict(type='path', default='/run/docker.sock'),
        images=dict(type='list', elements='str', default=[]),
        image_ids=dict(type='list', elements='str', default=[]),
        targets=dict(type='list', elements='dict', default=[]),
        target_mode=dict(type='str', choices=['userns-remap', 'rootless']),
        target_user=dict(type='str'),
        target_group=dict(type='str'),
        target_socket=dict(type='path'),
        volumes=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            source=dict(type='path', required=True),
        )),
        timeout=dict(type='float', default=1800.0),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_if=[('state', 'carried', ('target_mode', 'target_user'))],
        supports_check_mode=True,
    )
    params = module.params
    stage_file = os.path.join(params['stage_dir'], TARBALL)
    try:
        if params['state'] == 'absent':
            changed = os.path.lexists(params['stage_dir'])
            if changed and not module.check_mode:
                shutil.rmtree(params['stage_dir'])
            module.exit_json(changed=changed, stage_file=stage_file, stage_bytes=0)
        if params['state'] == 'staged':
            changed = stage(params, module.check_mode,
                            UnixHTTPClient(params['source_socket'], timeout=params['timeout']))
            module.exit_json(changed=changed, stage_file=stage_file, stage_bytes=_stage_bytes(params['stage_dir']))
        changed, result = carry(params, module.check_mode)
        module.exit_json(changed=changed, stage_file=stage_file, stage_bytes=_stage_bytes(params['stage_dir']),
                         **result)
    except KeyError as exc:
        module.fail_json(msg='no such account: %s' % exc)
    except (CarryError, EngineAPIError, fileops.FileOpsError, subid.SubidParseError, OSError) as exc:
        module.fail_json(msg='%s' % exc)


if __name__ == '__main__':
    main()
