# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Moving a busy rootful Docker host to userns-remap or rootless (private).

What the rootful daemon holds (:func:`inventory`, from its Engine API answers), what a
hardening would hide or stop (:func:`plan`), the id maps a new daemon applies
(:func:`remap_id_map`, :func:`parse_id_map`), and a copy of a named volume's tree with
its owners shifted into that map (:func:`scan_tree`, :func:`copy_tree`). The copy is made
through directory file descriptors opened with ``O_NOFOLLOW``: a link a container left in
its volume is copied as a link, never followed, and a rootless user cannot redirect
root's writes into their daemon's volume with a link swapped in during the copy.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import re
import stat

from ansible_collections.nsguard.docker.plugins.module_utils import fileops

#: dockerd's data root under userns-remap: ``<root>/<uid>.<gid>`` of the remapped root.
REMAP_DIR = re.compile(r'^\d+\.\d+$')
TARGETS = ('userns-remap', 'rootless')
#: The carry plan data_carry saves in its stage directory (state=staged).
STAGE_MANIFEST = 'carry.json'
#: What the rootful daemon is after a hardening that makes users' daemons rootless.
ROOTFUL_AFTER = ('keep', 'masked')

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
PIECE = 1024 * 1024


def daemon_mode(info):
    """``default``, ``userns-remap`` or ``rootless`` from GET /info's SecurityOptions."""
    options = ' '.join(info.get('SecurityOptions') or [])
    if 'name=rootless' in options:
        return 'rootless'
    if 'name=userns' in options:
        return 'userns-remap'
    return 'default'


def inventory(info, containers, images, volumes):
    """The daemon's containers, images and named volumes, from GET /info,
    /containers/json?all=1, /images/json and /volumes."""
    listed_volumes = (volumes or {}).get('Volumes') or []
    return {
        'mode': daemon_mode(info),
        'data_root': info.get('DockerRootDir') or '/var/lib/docker',
        'server_version': info.get('ServerVersion'),
        'containers': [{
            'id': (c.get('Id') or '')[:12],
            'name': ((c.get('Names') or ['?'])[0]).lstrip('/'),
            'image': c.get('Image'),
            'state': c.get('State'),
            'volumes': sorted(m.get('Name') for m in c.get('Mounts') or []
                              if m.get('Type') == 'volume' and m.get('Name')),
        } for c in containers or []],
        'images': [{
            'id': i.get('Id'),
            'tags': sorted(t for t in i.get('RepoTags') or [] if t != '<none>:<none>'),
            'size': i.get('Size') or 0,
        } for i in images or []],
        'volumes': sorted(({
            'name': v.get('Name'),
            'driver': v.get('Driver'),
            'mountpoint': v.get('Mountpoint'),
        } for v in listed_volumes), key=lambda v: v['name'] or ''),
    }


def read_stage_manifest(stage_dir):
    """The carry plan data_carry saved in ``stage_dir`` (state=staged), or None."""
    try:
        data = fileops.read_bytes(os.path.join(stage_dir, STAGE_MANIFEST))
        return json.loads(data.decode('utf-8')) if data is not None else None
    except (fileops.FileOpsError, OSError, ValueError):
        return None


def resumed_carry(manifest):
    """The carry of an earlier run that saved its plan (data_carry state=staged) and did
    not finish (the stage directory is removed at the end), or None."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get('targets'), list):
        return None
    carry = dict((key, manifest.get(key) or []) for key in ('images', 'image_ids', 'volumes', 'targets'))
    carry['resumed'] = True
    return carry


def image_refs(images):
    """What to save: every tag (so tags come back with the images), and the id of an
    image without one."""
    refs = []
    for image in images:
        refs.extend(image['tags'] or [image['id']])
    return refs


def plan(inv, targets, rootful_after='keep', carry_images=False, carry_volumes=False,
         rootless_users=(), stage_manifest=None):
    """What hardening to ``targets`` would hide or stop of ``inv`` (None: no rootful
    daemon runs), and what to carry over.

    userns-remap moves a default daemon's data root to ``<root>/<uid>.<gid>``: all its
    containers, images and volumes disappear from its listings (they stay on disk).
    Rootless users get daemons of their own: the rootful daemon's contents reach them only
    if carried; with the rootful daemon masked its running containers stop. A carry an
    earlier run saved (``stage_manifest``) and did not finish is carried again.
    """
    resumed = resumed_carry(stage_manifest)
    empty = {'hides': False, 'reasons': [], 'running': [], 'old_data_root': None, 'go_back': [],
             'carry': {'images': [], 'image_ids': [], 'volumes': [], 'targets': [], 'resumed': False}}
    if inv is None:
        return dict(empty, carry=resumed or empty['carry'])
    result = dict(empty)
    reasons, go_back = [], []
    running = [c['name'] for c in inv['containers'] if c['state'] in ('running', 'paused', 'restarting')]
    remap = 'userns-remap' in targets and inv['mode'] == 'default'
    stops = 'rootless' in targets and rootful_after != 'keep' and inv['mode'] != 'rootless'
    contents = bool(inv['containers'] or inv['images'] or inv['volumes'])
    if remap and contents:
        reasons.append(
            'userns-remap moves the data root from %s to %s/<uid>.<gid> of the remapped root: '
            'the daemon will no longer list its %d containers, %d images and %d volumes, and '
            'stops %d running containers (the data stays on disk)'
            % (inv['data_root'], inv['data_root'], len(inv['containers']), len(inv['images']),
               len(inv['volumes']), len(running)))
        go_back.append('remove "userns-remap" from /etc/docker/daemon.json (or run the userns_remap '
                       'role with userns_remap_state=absent) and restart docker: %s is used again '
                       'as it was' % inv['data_root'])
    if stops and (running or contents):
        reasons.append(
            'the rootful daemon is %s for rootless Docker: its %d running containers stop, and its '
            'images and volumes stay in %s, which no user daemon sees'
            % ('stopped and masked', len(running),
               inv['data_root']))
        go_back.append('systemctl unmask docker.service docker.socket && systemctl start '
                       'docker.service: the rootful daemon starts again with %s' % inv['data_root'])
    result.update(hides=bool(reasons), reasons=reasons, running=running, go_back=go_back,
                  old_data_root=inv['data_root'] if reasons else None)
    targets_to_fill = []
    if remap:
        targets_to_fill.append({'mode': 'userns-remap'})
    if 'rootless' in targets and inv['mode'] != 'rootless':
        targets_to_fill.extend({'mode': 'rootless', 'user': u} for u in rootless_users)
    # carried only in the move that hides them: afterwards the new daemons are the host's
    if targets_to_fill and reasons:
        result['carry'] = {
            'images': image_refs(inv['images']) if carry_images else [],
            'image_ids': sorted(i['id'] for i in inv['images']) if carry_images else [],
            'volumes': [{'name': v['name'], 'source': v['mountpoint']}
                        for v in inv['volumes'] if v['driver'] == 'local'] if carry_volumes else [],
            'targets': targets_to_fill,
            'resumed': False,
        }
    if resumed:
        result['carry'] = resumed
    return result


# ---------------------------------------------------------------------------
# id maps

def parse_id_map(text):
    """/proc/<pid>/uid_map (or gid_map) -> [(inside, outside, count)]."""
    result = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and all(f.isdigit() for f in fields):
            result.append(tuple(int(f) for f in fields))
    return result


def remap_id_map(ranges):
    """dockerd's map under userns-remap from the remap account's subordinate ranges
    [(start, count)]: sorted by start, container ids counted on from 0 across them."""
    result, inside = [], 0
    for start, count in sorted(ranges):
        result.append((inside, start, count))
        inside += count
    return result


def map_id(id_map, value):
    """The host id of container id ``value`` under ``id_map``, or None if unmapped."""
    for inside, outside, count in id_map:
        if inside <= value < inside + count:
            return outside + value - inside
    return None


# ---------------------------------------------------------------------------
# the tree of a volume

def _entries(dir_fd):
    return sorted(os.listdir(dir_fd))


def scan_tree(path, uid_map, gid_map):
    """Walk ``path`` without following links -> (entries, bytes, unmapped uids, unmapped gids)."""
    unmapped_uids, unmapped_gids = set(), set()
    counts = {'entries': 0, 'bytes': 0}

    def note(st_):
        counts['entries'] += 1
        if stat.S_ISREG(st_.st_mode):
            counts['bytes'] += st_.st_size
        if map_id(uid_map, st_.st_uid) is None:
            unmapped_uids.add(st_.st_uid)
        if map_id(gid_map, st_.st_gid) is None:
            unmapped_gids.add(st_.st_gid)

    def walk(fd):
        for name in _entries(fd):
            st_ = os.stat(name, dir_fd=fd, follow_symlinks=False)
            note(st_)
            if stat.S_ISDIR(st_.st_mode):
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                try:
                    walk(child)
                finally:
                    os.close(child)

    fd = os.open(path, _DIR_FLAGS)
    try:
        note(os.fstat(fd))
        walk(fd)
    finally:
        os.close(fd)
    return counts['entries'], counts['bytes'], sorted(unmapped_uids), sorted(unmapped_gids)


def _owner(st_, uid_map, gid_map):
    return map_id(uid_map, st_.st_uid), map_id(gid_map, st_.st_gid)


def _copy_file(src_dir, dst_dir, name, st_, owner):
    src = os.open(name, _READ_FLAGS, dir_fd=src_dir)
    try:
        dst = os.open(name, _NEW_FLAGS, 0o600, dir_fd=dst_dir)
        try:
            while True:
                piece = os.read(src, PIECE)
                if not piece:
                    break
                view = memoryview(piece)
                while view:
                    view = view[os.write(dst, view):]
            os.fchown(dst, owner[0], owner[1])
            os.fchmod(dst, stat.S_IMODE(st_.st_mode))
            os.utime(dst, ns=(st_.st_atime_ns, st_.st_mtime_ns))
        finally:
            os.close(dst)
    finally:
        os.close(src)


def copy_tree(src_path, dst_fd, uid_map, gid_map):
    """Copy the tree below ``src_path`` into the open directory ``dst_fd`` (an empty
    volume directory), owners mapped by ``uid_map``/``gid_map``; the top directory takes
    the source's owner and mode. Regular files, directories and links are copied (a link
    as a link); fifos, device nodes and sockets are skipped and returned. A hard link
    becomes a file of its own. Existing names in the destination are
    never overwritten (``O_EXCL``). Returns {'entries', 'bytes', 'skipped'}."""
    result = {'entries': 0, 'bytes': 0, 'skipped': []}

    def place(src_fd, dst_dir, name, st_, shown):
        owner = _owner(st_, uid_map, gid_map)
        mode = st_.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=dst_dir)
            child_dst = os.open(name, _DIR_FLAGS, dir_fd=dst_dir)
            child_src = os.open(name, _DIR_FLAGS, dir_fd=src_fd)
            try:
                walk(child_src, child_dst, shown)
                os.fchown(child_dst, owner[0], owner[1])
                os.fchmod(child_dst, stat.S_IMODE(mode))
                os.utime(child_dst, ns=(st_.st_atime_ns, st_.st_mtime_ns))
            finally:
                os.close(child_src)
                os.close(child_dst)
        elif stat.S_ISREG(mode):
            _copy_file(src_fd, dst_dir, name, st_, owner)
            result['bytes'] += st_.st_size
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=src_fd), name, dir_fd=dst_dir)
            os.chown(name, owner[0], owner[1], dir_fd=dst_dir, follow_symlinks=False)
        else:
            result['skipped'].append(shown)
            return
        result['entries'] += 1

    def walk(src_fd, dst_dir, prefix):
        for name in _entries(src_fd):
            st_ = os.stat(name, dir_fd=src_fd, follow_symlinks=False)
            place(src_fd, dst_dir, name, st_, os.path.join(prefix, name))

    src_top = os.open(src_path, _DIR_FLAGS)
    try:
        top = os.fstat(src_top)
        walk(src_top, dst_fd, '')
        owner = _owner(top, uid_map, gid_map)
        os.fchown(dst_fd, owner[0], owner[1])
        os.fchmod(dst_fd, stat.S_IMODE(top.st_mode))
    finally:
        os.close(src_top)
    return result


def is_empty_dir(fd):
    return not os.listdir(fd)


def disk_usage(path, skip=REMAP_DIR):
    """Bytes allocated below ``path`` (hard links counted once), without the top-level
    entries whose names match ``skip`` (the data roots of userns-remap). None if ``path``
    does not exist."""
    seen = set()
    total = 0
    try:
        top = os.lstat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
    stack = [(path, True)]
    total += top.st_blocks * 512
    while stack:
        current, is_top = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            if is_top and skip is not None and skip.match(entry.name):
                continue
            try:
                st_ = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st_.st_nlink > 1:
                key = (st_.st_dev, st_.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += st_.st_blocks * 512
            if stat.S_ISDIR(st_.st_mode):
                stack.append((entry.path, False))
    return total
