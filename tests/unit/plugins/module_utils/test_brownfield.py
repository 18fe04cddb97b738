# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_brownfield.py: the plan of a move, id maps, the shifted
copy of a volume's tree (on real files; owners other than the caller's need root) and the
disk the old data root holds."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _brownfield

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason='giving files other owners needs root')

INFO_DEFAULT = {'DockerRootDir': '/var/lib/docker', 'ServerVersion': '26.1.3',
                'SecurityOptions': ['name=apparmor', 'name=seccomp,profile=builtin', 'name=cgroupns']}
INFO_REMAP = dict(INFO_DEFAULT, DockerRootDir='/var/lib/docker/100000.100000',
                  SecurityOptions=INFO_DEFAULT['SecurityOptions'] + ['name=userns'])
CONTAINERS = [
    {'Id': 'a' * 64, 'Names': ['/web'], 'Image': 'nsguard/busybox:test', 'State': 'running',
     'Mounts': [{'Type': 'volume', 'Name': 'webdata'}, {'Type': 'bind', 'Source': '/srv'}]},
    {'Id': 'b' * 64, 'Names': ['/old'], 'Image': 'sha256:1234', 'State': 'exited', 'Mounts': []},
]
IMAGES = [
    {'Id': 'sha256:1111', 'RepoTags': ['nsguard/busybox:test', 'nsguard/busybox:latest'], 'Size': 4000},
    {'Id': 'sha256:2222', 'RepoTags': ['<none>:<none>'], 'Size': 10},
]
VOLUMES = {'Volumes': [
    {'Name': 'webdata', 'Driver': 'local', 'Mountpoint': '/var/lib/docker/volumes/webdata/_data'},
    {'Name': 'nfsdata', 'Driver': 'nfs-plugin', 'Mountpoint': '/mnt/nfs'},
]}


def busy():
    return _brownfield.inventory(INFO_DEFAULT, CONTAINERS, IMAGES, VOLUMES)


def test_inventory_lists_what_the_daemon_holds():
    inv = busy()
    assert inv['mode'] == 'default' and inv['data_root'] == '/var/lib/docker'
    assert inv['containers'][0] == {'id': 'a' * 12, 'name': 'web', 'image': 'nsguard/busybox:test',
                                    'state': 'running', 'volumes': ['webdata']}
    assert inv['images'][1]['tags'] == []
    assert [v['name'] for v in inv['volumes']] == ['nfsdata', 'webdata']
    assert _brownfield.image_refs(inv['images']) == ['nsguard/busybox:latest', 'nsguard/busybox:test',
                                                     'sha256:2222']


@pytest.mark.parametrize('options, mode', [
    (['name=rootless', 'name=seccomp'], 'rootless'),
    (['name=userns'], 'userns-remap'),
    ([], 'default'),
    (None, 'default'),
])
def test_daemon_mode(options, mode):
    assert _brownfield.daemon_mode({'SecurityOptions': options}) == mode


def test_remap_hides_everything_and_says_how_to_go_back():
    plan = _brownfield.plan(busy(), ['userns-remap'], carry_images=True, carry_volumes=True)
    assert plan['hides'] and plan['running'] == ['web']
    assert 'userns-remap moves the data root from /var/lib/docker' in plan['reasons'][0]
    assert '2 containers, 2 images and 2 volumes' in plan['reasons'][0]
    assert plan['old_data_root'] == '/var/lib/docker'
    assert 'userns_remap_state=absent' in plan['go_back'][0]
    carry = plan['carry']
    assert carry['image_ids'] == ['sha256:1111', 'sha256:2222']
    # only local volumes: a plugin's volume is the plugin's
    assert carry['volumes'] == [{'name': 'webdata', 'source': '/var/lib/docker/volumes/webdata/_data'}]
    assert carry['targets'] == [{'mode': 'userns-remap'}] and not carry['resumed']


def test_nothing_is_carried_unless_asked():
    plan = _brownfield.plan(busy(), ['userns-remap'])
    assert plan['hides'] and plan['carry']['images'] == [] and plan['carry']['volumes'] == []


def test_rootless_with_the_rootful_daemon_masked_stops_its_containers():
    plan = _brownfield.plan(busy(), ['rootless'], 'masked', True, False, ['alice', 'bob'])
    assert plan['hides'] and 'stopped and masked' in plan['reasons'][0]
    assert 'systemctl unmask' in plan['go_back'][0]
    assert plan['carry']['targets'] == [{'mode': 'rootless', 'user': 'alice'},
                                        {'mode': 'rootless', 'user': 'bob'}]


def test_rootless_beside_a_kept_rootful_daemon_hides_nothing():
    plan = _brownfield.plan(busy(), ['rootless'], 'keep', True, True, ['alice'])
    assert not plan['hides'] and plan['reasons'] == [] and plan['carry']['targets'] == []


def test_both_carry_to_the_remapped_daemon_and_every_user():
    plan = _brownfield.plan(busy(), ['userns-remap', 'rootless'], 'keep', True, True, ['alice'])
    assert len(plan['reasons']) == 1
    assert plan['carry']['targets'] == [{'mode': 'userns-remap'}, {'mode': 'rootless', 'user': 'alice'}]


def test_a_converged_host_plans_nothing():
    remapped = _brownfield.inventory(INFO_REMAP, CONTAINERS, IMAGES, VOLUMES)
    for targets in (['userns-remap'], ['userns-remap', 'rootless']):
        plan = _brownfield.plan(remapped, targets, 'keep', True, True, ['alice'])
        assert not plan['hides'] and plan['carry']['targets'] == []
    assert _brownfield.plan(None, ['rootless'], 'masked', True, True, ['alice'])['hides'] is False


def test_an_empty_daemon_hides_nothing():
    empty = _brownfield.inventory(INFO_DEFAULT, [], [], {'Volumes': None})
    assert not _brownfield.plan(empty, ['userns-remap'], carry_images=True)['hides']


def test_an_unfinished_carry_is_resumed():
    manifest = {'images': ['x:1'], 'image_ids': ['sha256:1'], 'volumes': [{'name': 'v', 'source': '/s'}],
                'targets': [{'mode': 'userns-remap'}]}
    remapped = _brownfield.inventory(INFO_REMAP, [], [], {})
    for inv in (remapped, None):
        carry = _brownfield.plan(inv, ['userns-remap'], stage_manifest=manifest)['carry']
        assert carry['resumed'] and carry['image_ids'] == ['sha256:1'] and carry['targets'] == manifest['targets']
    assert _brownfield.resumed_carry({'images': []}) is None
    assert _brownfield.resumed_carry('junk') is None


def test_id_maps():
    assert _brownfield.parse_id_map('         0       1000          1\n         1     100000      65536\n') == [
        (0, 1000, 1), (1, 100000, 65536)]
    assert _brownfield.parse_id_map('garbage\n') == []
    # dockerd sorts the ranges by start; the own-id line of a login user comes first
    remap = _brownfield.remap_id_map([(231072, 65536), (1000, 1)])
    assert remap == [(0, 1000, 1), (1, 231072, 65536)]
    assert _brownfield.map_id(remap, 0) == 1000
    assert _brownfield.map_id(remap, 1000) == 231072 + 999
    assert _brownfield.map_id(remap, 65537) is None


def _tree(root):
    root.mkdir()
    (root / 'dir').mkdir()
    (root / 'dir' / 'file').write_bytes(b'hello')
    (root / 'top').write_bytes(b'x' * 3000)
    os.symlink('/etc/shadow', str(root / 'link'))
    os.mkfifo(str(root / 'fifo'))
    os.chmod(str(root / 'top'), 0o640)
    return root


@AS_ROOT
def test_copy_tree_shifts_owners_and_never_follows_links(tmp_path):
    src = _tree(tmp_path / 'src')
    os.chown(str(src / 'dir' / 'file'), 1000, 1000)
    os.lchown(str(src / 'link'), 1000, 1000)
    dst = tmp_path / 'dst'
    dst.mkdir()
    uid_map = gid_map = [(0, 100000, 65536)]
    entries, size, bad_u, bad_g = _brownfield.scan_tree(str(src), uid_map, gid_map)
    assert (size, bad_u, bad_g) == (3005, [], []) and entries == 6
    fd = os.open(str(dst), os.O_RDONLY | os.O_DIRECTORY)
    try:
        copied = _brownfield.copy_tree(str(src), fd, uid_map, gid_map)
    finally:
        os.close(fd)
    assert copied == {'entries': 4, 'bytes': 3005, 'skipped': ['fifo']}
    st_ = os.lstat(str(dst / 'dir' / 'file'))
    assert (st_.st_uid, st_.st_gid) == (101000, 101000)
    assert (dst / 'dir' / 'file').read_bytes() == b'hello'
    assert os.readlink(str(dst / 'link')) == '/etc/shadow'
    assert os.lstat(str(dst / 'link')).st_uid == 101000
    assert stat.S_IMODE(os.stat(str(dst / 'top')).st_mode) == 0o640
    assert os.stat(str(dst / 'top')).st_uid == 100000
    assert os.stat(str(dst)).st_uid == 100000
    assert not os.path.exists(str(dst / 'fifo'))


@AS_ROOT
def test_copy_tree_never_overwrites(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'a').write_bytes(b'new')
    dst = tmp_path / 'dst'
    dst.mkdir()
    (dst / 'a').write_bytes(b'old')
    fd = os.open(str(dst), os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError):
            _brownfield.copy_tree(str(src), fd, [(0, 0, 65536)], [(0, 0, 65536)])
    finally:
        os.close(fd)
    assert (dst / 'a').read_bytes() == b'old'


@AS_ROOT
def test_scan_names_ids_the_new_map_lacks(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'a').write_bytes(b'')
    os.chown(str(src / 'a'), 70000, 5)
    assert _brownfield.scan_tree(str(src), [(0, 100000, 65536)], [(0, 100000, 65536)])[2:] == ([70000], [])


def test_disk_usage_counts_hard_links_once_and_skips_remapped_roots(tmp_path):
    root = tmp_path / 'docker'
    (root / 'image').mkdir(parents=True)
    (root / '100000.100000').mkdir()
    (root / 'image' / 'a').write_bytes(b'x' * 100000)
    os.link(str(root / 'image' / 'a'), str(root / 'image' / 'b'))
    (root / '100000.100000' / 'big').write_bytes(b'y' * 500000)
    used = _brownfield.disk_usage(str(root))
    blocks = os.stat(str(root / 'image' / 'a')).st_blocks * 512
    assert blocks <= used < blocks + 100000
    assert _brownfield.disk_usage(str(root), skip=None) >= used + 500000
    assert _brownfield.disk_usage(str(tmp_path / 'absent')) is None
