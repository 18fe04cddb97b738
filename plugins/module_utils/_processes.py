# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Process inspection over a HostFS: the dockerd processes in /proc, what the audit
needs to know about one (argv, ids, uid map, namespaces, socket inodes) and the
kernel's user-namespace sysctls. Tolerant of processes that exit mid-scan.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.nsguard.docker.plugins.module_utils import _sysctl_d
from ansible_collections.nsguard.docker.plugins.module_utils._hostfs import _kind_of
from ansible_collections.nsguard.docker.plugins.module_utils._proc_parsers import (
    parse_cmdline,
    parse_dockerd_args,
    parse_id_map,
    parse_socket_link,
    parse_status_ids,
)


def scan_processes(fs, names=('dockerd',)):
    """One pass over /proc: PIDs whose comm is one of ``names``.

    Returns (pids, stats). Processes that exit during the scan are counted as
    'vanished', unreadable comm files as 'unreadable'; neither is an error of the audit.
    """
    stats = {'pids_scanned': 0, 'vanished': 0, 'unreadable': 0}
    entries = fs.listdir('/proc')
    if entries is None:
        stats['proc_unreadable'] = True
        return [], stats
    wanted = set(names)
    found = []
    for entry in entries:
        if not entry.isdigit():
            continue
        stats['pids_scanned'] += 1
        data, exc = fs.try_read('/proc/%s/comm' % entry, 256)
        if exc is not None:
            if _kind_of(exc) == 'permission':
                stats['unreadable'] += 1
            else:
                stats['vanished'] += 1
            continue
        if data.decode('utf-8', 'replace').strip() in wanted:
            found.append(int(entry))
    found.sort()
    return found, stats


def namespaces_of(fs, pid, kinds=('user', 'mnt', 'pid', 'net')):
    """{'user': 'user:[...]' or None, ...} for /proc/<pid>/ns/*."""
    return dict((kind, fs.readlink('/proc/%s/ns/%s' % (pid, kind))) for kind in kinds)


def describe_process(fs, pid, with_fds=False):
    """What the audit needs to know about one process; tolerant of it vanishing."""
    base = '/proc/%d' % pid
    before = len(fs.errors)
    cmdline = parse_cmdline(fs.read_bytes(base + '/cmdline'))
    ids = parse_status_ids(fs.read_text(base + '/status'))
    uid_map_text = fs.read_text(base + '/uid_map')
    proc = {
        'pid': pid,
        'cmdline': cmdline,
        'uid': ids['uid'][0] if ids.get('uid') else None,
        'euid': ids['uid'][1] if ids.get('uid') else None,
        'egid': ids['gid'][1] if ids.get('gid') else None,
        'uid_map': parse_id_map(uid_map_text) if uid_map_text is not None else None,
        'ns': namespaces_of(fs, pid),
        'args': parse_dockerd_args(cmdline),
    }
    if with_fds:
        proc['socket_inodes'] = socket_inodes(fs, pid)
    proc['vanished'] = any(e['kind'] == 'vanished' and e['path'].startswith(base + '/')
                           for e in fs.errors[before:])
    return proc


def socket_inodes(fs, pid):
    """Inodes of the sockets a process holds open (/proc/<pid>/fd -> socket:[N])."""
    inodes = set()
    fds = fs.listdir('/proc/%d/fd' % pid)
    for fd in fds or ():
        link = fs.readlink('/proc/%d/fd/%s' % (pid, fd), missing_ok=True)
        inode = parse_socket_link(link)
        if inode is not None:
            inodes.add(inode)
    return sorted(inodes)


def kernel_userns_state(fs):
    """User-namespace sysctls, and IPv4 forwarding (a rootful daemon's bridge networks need
    it); files that do not exist on this kernel are None."""
    names = (('max_user_namespaces', _sysctl_d.MAX_USER_NAMESPACES),
             ('unprivileged_userns_clone', _sysctl_d.UNPRIVILEGED_USERNS_CLONE),
             ('apparmor_restrict_unprivileged_userns', _sysctl_d.APPARMOR_RESTRICT_USERNS),
             ('ip_forward', _sysctl_d.IP_FORWARD))
    now = _sysctl_d.live(fs, [key for _name, key in names])
    state = {}
    for name, key in names:
        try:
            state[name] = int(now[key]) if key in now else None
        except ValueError:
            state[name] = None
    return state
