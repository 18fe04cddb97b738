# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_hostfs.py: path mapping and safe readers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.nsguard.docker.plugins.module_utils import _hostfs


def test_hostfs_maps_paths_below_roots():
    fs = _hostfs.HostFS('/p', '/e', '/r')
    assert fs.path('/proc/1/comm') == '/p/1/comm'
    assert fs.path('/proc') == '/p'
    assert fs.path('/etc/docker/daemon.json') == '/e/docker/daemon.json'
    assert fs.path('/var/run/docker.sock') == '/r/docker.sock'
    assert fs.path('/run/user/1000/docker.sock') == '/r/user/1000/docker.sock'
    assert fs.path('/processed') == '/processed'
    assert fs.path('/home/alice/.config/docker/daemon.json') == '/home/alice/.config/docker/daemon.json'
    default = _hostfs.HostFS()
    assert default.path('/proc/1/comm') == '/proc/1/comm'
    assert default.path('/var/run/docker.sock') == '/run/docker.sock'


def test_hostfs_records_failures_without_raising(host):
    host.write('/etc/group', 'docker:x:999:\n')
    host.fail('/etc/group', PermissionError(13, 'Permission denied'))
    fs = host.fs()
    assert fs.read_text('/etc/group') is None
    assert fs.read_text('/etc/missing', missing_ok=True) is None
    assert fs.read_text('/etc/also-missing') is None
    assert fs.readlink('/proc/77/ns/user') is None
    assert fs.listdir('/proc/77/fd') is None
    assert fs.stat('/run/nothing', missing_ok=True) is None
    kinds = dict((e['path'], e['kind']) for e in fs.errors)
    assert kinds == {'/etc/group': 'permission', '/etc/also-missing': 'missing',
                     '/proc/77/ns/user': 'vanished', '/proc/77/fd': 'vanished'}
    # the same failure is recorded once
    fs.read_text('/etc/group')
    assert len(fs.errors) == 4


class _SysctlFile(object):
    """A /proc/sys file as the kernel serves it: a read(2) of 4 MiB or more fails with
    ENOMEM (its handler allocates the count), smaller reads get the value."""

    def __init__(self, text):
        self.data, self.reads = text.encode(), []

    def read(self, count):
        self.reads.append(count)
        if count >= 4 * 1024 * 1024:
            raise OSError(12, 'Cannot allocate memory')
        chunk, self.data = self.data[:count], self.data[count:]
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_hostfs_reads_proc_sys_in_chunks_the_kernel_accepts():
    files = {}

    class SysctlFS(_hostfs.HostFS):
        def _open(self, real_path):
            files[real_path] = _SysctlFile('63432\n' if 'max_user' in real_path else 'x' * 150000)
            return files[real_path]
    fs = SysctlFS()
    assert fs.read_text('/proc/sys/user/max_user_namespaces') == '63432\n'
    assert fs.errors == []
    assert max(files['/proc/sys/user/max_user_namespaces'].reads) == _hostfs.HostFS.CHUNK
    # a longer file comes whole, in chunks; a limit stops it
    assert len(fs.read_bytes('/proc/1/mountinfo')) == 150000
    assert len(fs.read_bytes('/proc/1/mountinfo', limit=70000)) == 70000
    assert files['/proc/1/mountinfo'].reads == [_hostfs.HostFS.CHUNK, 70000 - _hostfs.HostFS.CHUNK]
