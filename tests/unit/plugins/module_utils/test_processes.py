# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_processes.py: the /proc scan and process inspection."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.nsguard.docker.plugins.module_utils import _processes


def test_scan_tolerates_vanishing_and_unreadable_processes(host):
    host.add_process(100, 'dockerd', ['/usr/bin/dockerd'])
    host.add_process(101, 'bash', ['bash'])
    os.makedirs(host.real('/proc/102'))            # exited between listdir and read
    host.add_process(103, 'dockerd', ['dockerd'])
    host.fail('/proc/103/comm', ProcessLookupError(3, 'No such process'))
    host.add_process(104, 'secret', ['secret'])
    host.fail('/proc/104/comm', PermissionError(13, 'Permission denied'))
    os.makedirs(host.real('/proc/sys'), exist_ok=True)
    pids, stats = _processes.scan_processes(host.fs())
    assert pids == [100]
    assert stats == {'pids_scanned': 6, 'vanished': 2, 'unreadable': 1}


def test_scan_reports_unlistable_proc(host):
    host.fail('/proc', PermissionError(13, 'Permission denied'), 'listdir')
    fs = host.fs()
    pids, stats = _processes.scan_processes(fs)
    assert pids == [] and stats['proc_unreadable'] is True
    assert fs.errors[0]['path'] == '/proc' and fs.errors[0]['kind'] == 'permission'


def test_describe_process_of_a_process_that_vanishes_mid_read(host):
    host.add_process(200, 'dockerd', ['/usr/bin/dockerd', '-H', 'fd://'])
    host.fail('/proc/200/status', FileNotFoundError(2, 'No such file or directory'))
    host.fail('/proc/200/uid_map', ProcessLookupError(3, 'No such process'))
    fs = host.fs()
    proc = _processes.describe_process(fs, 200, with_fds=True)
    assert proc['cmdline'] == ['/usr/bin/dockerd', '-H', 'fd://']
    assert proc['euid'] is None and proc['uid_map'] is None
    assert proc['vanished'] is True
    assert proc['socket_inodes'] == []
    assert set(e['kind'] for e in fs.errors) == set(['vanished'])


def test_socket_inodes_reads_fd_links(host):
    host.add_process(300, 'dockerd', ['dockerd'], fds=[5001, 5003, 5001])
    assert _processes.socket_inodes(host.fs(), 300) == [5001, 5003]


def test_kernel_userns_state(host):
    host.sysctl('user.max_user_namespaces', 63432)
    host.sysctl('kernel.apparmor_restrict_unprivileged_userns', 1)
    state = _processes.kernel_userns_state(host.fs())
    assert state == {'max_user_namespaces': 63432, 'unprivileged_userns_clone': None,
                     'apparmor_restrict_unprivileged_userns': 1, 'ip_forward': None}
    host.sysctl('kernel.unprivileged_userns_clone', 'garbage')
    assert _processes.kernel_userns_state(host.fs())['unprivileged_userns_clone'] is None
    host.fail('/proc/sys/user/max_user_namespaces', PermissionError(13, 'Permission denied'))
    fs = host.fs()
    assert _processes.kernel_userns_state(fs)['max_user_namespaces'] is None
    assert fs.errors[0]['kind'] == 'permission'
