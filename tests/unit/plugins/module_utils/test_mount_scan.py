# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/mount_scan.py: mountinfo parsing, path arithmetic and
matching with fixture text; the stats go to real files (sockets, hard links) in a fake
host tree, where /proc/<pid>/root/<mount point> is a directory holding what is mounted."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.nsguard.docker.plugins.module_utils import mount_scan as ms

from audit_helpers import fakehost

CID = 'c0ffee' + '1' * 58
ROOTLESS_CID = 'beef' + '2' * 60
HOST_MOUNTS = ms.parse_mountinfo(fakehost.fixture_text('proc', 'mountinfo_host'))
CONTAINER_TEXT = fakehost.fixture_text('proc', 'mountinfo_container')


def _inode(path):
    st_ = os.stat(path)
    return (st_.st_dev, st_.st_ino)


# ------------------------------------------------------------------------- parsing

def test_parse_mountinfo_fields_escapes_and_malformed_lines():
    assert len(HOST_MOUNTS) == 11       # the broken line is skipped
    run = [m for m in HOST_MOUNTS if m['mount_point'] == '/run'][0]
    assert (run['device'], run['root'], run['fstype'], run['options'][0]) == ('0:24', '/', 'tmpfs', 'rw')
    mounts = ms.parse_mountinfo(CONTAINER_TEXT.replace('<ID>', CID))
    spaced = [m for m in mounts if m['root'] == '/my dir'][0]
    assert spaced['mount_point'] == '/my dir'
    hidden = [m for m in mounts if m['mount_point'] == '/h'][0]
    assert (hidden['device'], hidden['root'], hidden['options'][0]) == ('0:24', '/nsguard-hidden', 'ro')
    deleted = ms.parse_mountinfo('90 80 0:24 /old.sock//deleted /s rw - tmpfs tmpfs rw\n')[0]
    assert (deleted['root'], deleted['deleted']) == ('/old.sock', True)
    assert ms.parse_mountinfo('x y 0:1 / / rw - ext4 a rw\n1 2 nodev / / rw - ext4 a rw\n') == []
    assert len(ms.parse_mountinfo(CONTAINER_TEXT, limit=3)) == 3


def test_parse_container_id_from_cgroup():
    assert ms.parse_container_id('0::/system.slice/docker-%s.scope\n' % CID) == CID
    assert ms.parse_container_id('12:pids:/docker/%s\n0::/docker/%s\n' % (CID, CID)) == CID
    # docker in docker: the innermost container
    assert ms.parse_container_id('0::/system.slice/docker-%s.scope/docker/%s\n' % (CID, ROOTLESS_CID)) \
        == ROOTLESS_CID
    rootless = '0::/user.slice/user-1000.slice/user@1000.service/user.slice/docker-%s.scope\n' % ROOTLESS_CID
    assert ms.parse_container_id(rootless) == ROOTLESS_CID and ms.cgroup_user(rootless) == 1000
    for other in ('0::/system.slice/systemd-resolved.service\n', '0::/machine.slice/libpod-%s.scope\n' % CID,
                  '0::/system.slice/docker-compose@web.service\n', '0::/docker/%s\n' % CID[:40], ''):
        assert ms.parse_container_id(other) is None, other
    assert ms.cgroup_user('0::/system.slice/docker-%s.scope' % CID) is None


def test_path_arithmetic_over_host_mounts():
    assert ms.below('/run/docker.sock', '/run') == '/docker.sock'
    assert ms.below('/run', '/run') == '' and ms.below('/running', '/run') is None
    assert ms.below('/docker.sock', '/') == '/docker.sock' and ms.below('/', '/') == ''
    mount, rest = ms.host_mount_of('/run/user/1000/docker.sock', HOST_MOUNTS)
    assert (mount['device'], rest) == ('0:52', '/docker.sock')
    mount, rest = ms.host_mount_of('/run/docker.sock', HOST_MOUNTS)
    assert (mount['device'], rest) == ('0:24', '/docker.sock')
    assert ms.host_path_of('0:24', '/x', HOST_MOUNTS) == '/run/x'
    assert ms.host_path_of('0:24', '/', HOST_MOUNTS) == '/run'
    assert ms.host_path_of('252:0', '/srv/data', HOST_MOUNTS) == '/srv/data'
    assert ms.host_path_of('0:99', '/x', HOST_MOUNTS) is None
    stacked = ms.parse_mountinfo('1 0 8:1 / / rw - ext4 a rw\n2 1 0:24 / /run rw - tmpfs t rw\n'
                                 '3 1 0:30 / /run rw - tmpfs t rw\n')
    assert ms.host_mount_of('/run/docker.sock', stacked)[0]['device'] == '0:30'   # the top one


def test_socket_locations_skip_sockets_of_other_mount_namespaces():
    sockets = [{'path': '/var/run/docker.sock', 'inode': (1, 2)},
               {'path': '/run/user/1000/docker.sock', 'inode': (3, 4)},
               {'path': '/proc/777/root/run/docker.sock', 'inode': (5, 6)}]
    assert ms.socket_locations(sockets, HOST_MOUNTS) == [
        {'path': '/run/docker.sock', 'inode': (1, 2), 'device': '0:24', 'fs_path': '/docker.sock'},
        {'path': '/run/user/1000/docker.sock', 'inode': (3, 4), 'device': '0:52', 'fs_path': '/docker.sock'}]


# ------------------------------------------------------------------------- matching

def _exposed_container(host, pid=4242):
    """The host's sockets, their other names, and a container whose mounts (the fixture
    mountinfo) show them in every way: through /proc/<pid>/root each mount point is a
    hard link (a bind mount of a socket is the same inode) or a directory."""
    host.dead_socket('/run/docker.sock')
    host.dead_socket('/run/user/1000/docker.sock', uid=1000, gid=1000, mode=0o600)
    host.link('/run/docker.sock', '/run/x')
    host.link('/run/docker.sock', '/run/nsguard-hidden/y')
    host.write('/run/plain/file', 'not a socket')
    root = host.add_container(pid, CID, CONTAINER_TEXT)
    for name in ('run/docker.sock', 'hostrun/docker.sock'):
        os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
        os.link(host.real('/run/docker.sock'), os.path.join(root, name))
    os.link(host.real('/run/x'), os.path.join(root, 'run/api.sock'))
    os.makedirs(os.path.join(root, 'h'))
    os.link(host.real('/run/nsguard-hidden/y'), os.path.join(root, 'h/y'))
    os.makedirs(os.path.join(root, 'hostrun/user/1000'))
    os.link(host.real('/run/user/1000/docker.sock'), os.path.join(root, 'hostrun/user/1000/docker.sock'))
    os.makedirs(os.path.join(root, 'hostrun/lock'))
    os.makedirs(os.path.join(root, 'p'))
    with open(os.path.join(root, 'p/file'), 'w') as handle:
        handle.write('x')
    for name in ('my dir', 'data', 'proc', 'dev/shm', 'etc'):
        os.makedirs(os.path.join(root, name))
    for name in ('proc/kcore', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf'):
        open(os.path.join(root, name), 'w').close()
    sockets = [{'path': '/run/docker.sock', 'inode': _inode(host.real('/run/docker.sock'))},
               {'path': '/run/user/1000/docker.sock', 'inode': _inode(host.real('/run/user/1000/docker.sock'))}]
    return root, sockets


def _match(host, sockets, pid=4242, limit=ms.DIR_ENTRY_LIMIT, text=CONTAINER_TEXT):
    locations = ms.socket_locations(sockets, HOST_MOUNTS)
    inodes = dict((s['inode'], s['path']) for s in sockets)
    return ms.match_namespace(host.fs(), pid, ms.parse_mountinfo(text.replace('<ID>', CID)), locations,
                              inodes, HOST_MOUNTS, limit)


def test_match_namespace_finds_socket_hard_link_directory_and_parent(host):
    _root, sockets = _exposed_container(host)
    hits, truncated = _match(host, sockets)
    assert truncated == []
    assert [(h['destination'], h['match'], h['socket'], h['source'], h['read_write']) for h in hits] == [
        ('/run/docker.sock', 'inode_via_proc', '/run/docker.sock', '/run/docker.sock', True),
        ('/run/api.sock', 'inode_via_proc', '/run/docker.sock', '/run/x', True),   # a hard link
        ('/h', 'hard_link_in_directory_via_proc', '/run/docker.sock', '/run/nsguard-hidden', False),
        ('/hostrun', 'parent_directory_via_proc', '/run/docker.sock', '/run', True),
        ('/hostrun/user/1000', 'parent_directory_via_proc', '/run/user/1000/docker.sock', '/run/user/1000', True)]
    assert hits[2]['path_in_container'] == '/h/y' and hits[3]['path_in_container'] == '/hostrun/docker.sock'


def test_parent_directory_is_confirmed_by_stat_not_assumed(host):
    root, sockets = _exposed_container(host)
    # Something else at the socket's place in the container (a mount on top, a new file):
    # the directory covers the path, but the socket is not what is there.
    os.unlink(os.path.join(root, 'hostrun/docker.sock'))
    open(os.path.join(root, 'hostrun/docker.sock'), 'w').close()
    hits, _cut = _match(host, sockets)
    assert '/hostrun' not in [h['destination'] for h in hits]
    # A socket of the same name but another inode is no Docker socket either.
    os.unlink(os.path.join(root, 'run/docker.sock'))
    host.dead_socket('/proc/4242/root/run/docker.sock')
    hits, _cut = _match(host, sockets)
    assert '/run/docker.sock' not in [h['destination'] for h in hits]


def test_directory_listing_is_bounded_and_says_so(host):
    root, sockets = _exposed_container(host)
    for number in range(6):
        host.dead_socket('/proc/4242/root/h/other%d' % number)
    hits, truncated = _match(host, sockets, limit=3)
    assert truncated and truncated[0]['directory'] == '/h' and truncated[0]['source'] == '/run/nsguard-hidden'
    hits, truncated = _match(host, sockets, limit=100)
    assert truncated == [] and '/h' in [h['destination'] for h in hits]


def test_pseudo_file_systems_and_other_devices_are_not_listed(host):
    _root, sockets = _exposed_container(host)
    host.fail('/proc/4242/root/data', PermissionError(13, 'Permission denied'), 'listdir')
    host.fail('/proc/4242/root/proc', PermissionError(13, 'Permission denied'), 'stat')
    fs = host.fs()
    locations = ms.socket_locations(sockets, HOST_MOUNTS)
    ms.match_namespace(fs, 4242, ms.parse_mountinfo(CONTAINER_TEXT), locations,
                       dict((s['inode'], s['path']) for s in sockets), HOST_MOUNTS)
    # /data is on the root file system (no Docker socket there): never listed; /proc is proc.
    assert fs.errors == []


# ------------------------------------------------------------------------- the scan

def test_mount_namespaces_one_entry_per_namespace(host):
    host.add_process(2, 'kthreadd', [])
    host.add_process(3, 'kworker/0:0', [])             # kernel threads: PID 1's namespace
    host.add_process(100, 'systemd-journal', ['systemd-journald'])
    host.add_process(4242, 'sleep', ['sleep'], mnt_ns='mnt:[4026532700]')
    host.add_process(4250, 'sh', ['sh'], mnt_ns='mnt:[4026532700]')   # docker exec
    host.add_process(5000, 'nginx', ['nginx'], mnt_ns='mnt:[4026532800]')
    host.add_process(6000, 'secret', ['secret'], mnt_ns='mnt:[4026532900]')
    host.fail('/proc/6000/ns/mnt', PermissionError(13, 'Permission denied'))
    namespaces, stats = ms.mount_namespaces(host.fs(), fakehost.INIT_MNT_NS)
    assert namespaces == {'mnt:[4026532700]': [4242, 4250], 'mnt:[4026532800]': [5000]}
    assert (stats['pids_scanned'], stats['unreadable'], stats['truncated']) == (6, 1, 0)
    namespaces, stats = ms.mount_namespaces(host.fs(), fakehost.INIT_MNT_NS, limit=1)
    assert list(namespaces) == ['mnt:[4026532700]'] and stats['truncated'] == 1


def test_container_ids_one_per_container_namespace_and_nothing_recorded(host):
    host.add_process(100, 'systemd-journal', ['systemd-journald'])
    host.add_container(4242, CID, CONTAINER_TEXT)
    host.add_process(4250, 'sh', ['sh'], mnt_ns='mnt:[4026532300]')   # a service sandbox
    host.add_container(7000, ROOTLESS_CID, CONTAINER_TEXT, mnt_ns='mnt:[4026532710]',
                       cgroup='0::/user.slice/user-1000.slice/user@1000.service/docker-%s.scope\n' % ROOTLESS_CID)
    host.add_container(7100, 'e' * 64, CONTAINER_TEXT, mnt_ns='mnt:[4026532720]')
    host.fail('/proc/7100/cgroup', PermissionError(13, 'Permission denied'))
    fs = host.fs()
    assert ms.container_ids(fs) == sorted([CID, ROOTLESS_CID])
    assert fs.errors == []  # only candidates: a daemon's own count decides
    host.fail('/proc/1/ns/mnt', PermissionError(13, 'Permission denied'))
    assert ms.container_ids(host.fs()) is None


def test_scan_reports_containers_only_and_attributes_them(host):
    host.write('/proc/1/mountinfo', fakehost.fixture_text('proc', 'mountinfo_host'))
    _root, sockets = _exposed_container(host)
    # A systemd service sandbox sees the host's /run too: that is no exposure.
    sandbox = host.add_container(300, 'unused', '26 28 0:24 / /run rw - tmpfs tmpfs rw\n',
                                 mnt_ns='mnt:[4026532300]', cgroup='0::/system.slice/systemd-resolved.service\n')
    os.link(host.real('/run/docker.sock'), os.path.join(sandbox, 'docker.sock'))
    # A rootless container (alice's daemon shares its user namespace) mounting her socket.
    rootless_root = host.add_container(
        7000, ROOTLESS_CID, '800 700 0:52 /docker.sock /var/run/docker.sock rw - tmpfs tmpfs rw\n',
        mnt_ns='mnt:[4026532710]', user_ns=fakehost.ROOTLESS_NS,
        cgroup='0::/user.slice/user-1000.slice/user@1000.service/user.slice/docker-%s.scope\n' % ROOTLESS_CID)
    os.makedirs(os.path.join(rootless_root, 'var/run'))
    os.link(host.real('/run/user/1000/docker.sock'), os.path.join(rootless_root, 'var/run/docker.sock'))
    daemons = [{'key': 'rootful', 'kind': 'rootful', 'uid': 0, 'mount_prefix': '', 'process': None},
               {'key': 'rootless:1000', 'kind': 'rootless', 'uid': 1000, 'mount_prefix': '',
                'process': {'ns': {'user': fakehost.ROOTLESS_NS}}}]
    hits, stats = ms.scan(host.fs(), sockets, daemons)
    assert stats['ran'] and stats['complete'] and stats['reason'] is None
    assert (stats['namespaces'], stats['containers'], stats['other_namespaces']) == (3, 2, 1)
    assert sorted(set((h['daemon'], h['container_id'], h['pid'], h['process']) for h in hits)) == [
        ('rootful', CID[:12], 4242, 'sleep'), ('rootless:1000', ROOTLESS_CID[:12], 7000, 'sleep')]
    assert len([h for h in hits if h['container_id'] == CID[:12]]) == 5
    assert [h['full_id'] for h in hits if h['daemon'] == 'rootless:1000'] == [ROOTLESS_CID]


def test_scan_says_why_it_did_not_run_or_was_incomplete(host):
    host.dead_socket('/run/docker.sock')
    sockets = [{'path': '/run/docker.sock', 'inode': _inode(host.real('/run/docker.sock'))}]
    hits, stats = ms.scan(host.fs(), sockets, [])
    assert hits == [] and not stats['ran'] and 'mountinfo' in stats['reason']
    hits, stats = ms.scan(host.fs(), [], [])
    assert stats['complete'] and stats['reason'] == 'no Docker socket found'
    host.write('/proc/1/mountinfo', fakehost.fixture_text('proc', 'mountinfo_host'))
    host.add_container(4242, CID, CONTAINER_TEXT)
    host.fail('/proc/4242/mountinfo', PermissionError(13, 'Permission denied'))
    fs = host.fs()
    hits, stats = ms.scan(fs, sockets, [])
    assert stats['ran'] and not stats['complete'] and 'not readable' in stats['reason']
    assert [(e['path'], e['kind']) for e in fs.errors] == [('/proc/4242/mountinfo', 'permission')]


def test_container_details_from_the_data_root(host):
    data_root = os.path.join(host.root, 'docker')
    os.makedirs(os.path.join(data_root, 'containers', CID))
    with open(os.path.join(data_root, 'containers', CID, 'config.v2.json'), 'w') as handle:
        handle.write('{"Name": "/sockmount", "Config": {"Image": "alpine:3.20"}}')
    assert ms.container_details(host.fs(), data_root, CID) == ('sockmount', 'alpine:3.20')
    assert ms.container_details(host.fs(), data_root, ROOTLESS_CID) == (None, None)
    users = [{'name': 'alice', 'uid': 1000, 'gid': 1000, 'home': '/home/alice', 'shell': '/bin/sh'}]
    assert ms.data_root({'kind': 'rootful', 'config': {}}, users) == '/var/lib/docker'
    assert ms.data_root({'kind': 'rootful', 'config': {'data-root': '/srv/docker'}}, users) == '/srv/docker'
    assert ms.data_root({'kind': 'rootless', 'uid': 1000, 'config': None}, users) == \
        '/home/alice/.local/share/docker'
