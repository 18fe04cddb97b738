# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Safe reads of host paths below configurable roots (:class:`HostFS`).

Standard library only and tolerant of a live /proc: a process may exit between listing
/proc and reading /proc/<pid>/comm (FileNotFoundError, ProcessLookupError), and some
files are unreadable without privileges (PermissionError). Readers never raise for
those; they record what went wrong in ``HostFS.errors`` and return None, so the audit
reports the gap instead of guessing or crashing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import re


_VANISHED = (FileNotFoundError, ProcessLookupError)
_PID_PATH = re.compile(r'^/proc/\d+(/|$)')


def _kind_of(exc):
    if isinstance(exc, PermissionError):
        return 'permission'
    if isinstance(exc, _VANISHED):
        return 'missing'
    if isinstance(exc, OSError) and exc.errno == errno.ESRCH:
        return 'missing'
    return 'error'


class HostFS(object):
    """Reads host paths below configurable roots and records every failure.

    Paths are always given as they are on the host (``/proc/1/comm``, ``/etc/group``,
    ``/var/run/docker.sock``); ``path()`` maps them below proc_root, etc_root,
    run_root and usr_root, which is how the units and containerised runs point the audit at a
    prepared tree. Other absolute paths are used as they are.
    """

    MAX_READ = 4 * 1024 * 1024
    #: Bytes asked of the kernel per read(2): /proc/sys refuses a count of 4 MiB or more
    #: (ENOMEM: its handler allocates the count), so whole-file reads go in chunks.
    CHUNK = 64 * 1024

    def __init__(self, proc_root='/proc', etc_root='/etc', run_root='/run', usr_root='/usr'):
        self.proc_root = proc_root.rstrip('/') or '/'
        self.etc_root = etc_root.rstrip('/') or '/'
        self.run_root = run_root.rstrip('/') or '/'
        self.usr_root = usr_root.rstrip('/') or '/'
        self.errors = []
        self._seen_errors = set()

    # -- mapping -------------------------------------------------------------------
    def path(self, host_path):
        for prefix, root in (('/proc', self.proc_root), ('/etc', self.etc_root),
                             ('/var/run', self.run_root), ('/run', self.run_root), ('/usr', self.usr_root)):
            if host_path == prefix or host_path.startswith(prefix + '/'):
                return root + host_path[len(prefix):] if root != '/' else host_path[len(prefix):] or '/'
        return host_path

    # -- error bookkeeping ----------------------------------------------------------
    def record(self, host_path, exc, what='read'):
        kind = _kind_of(exc)
        if kind == 'missing' and _PID_PATH.match(host_path):
            kind = 'vanished'
        key = (host_path, what, kind)
        if key in self._seen_errors:
            return kind
        self._seen_errors.add(key)
        reason = getattr(exc, 'strerror', None) or str(exc) or exc.__class__.__name__
        self.errors.append({'path': host_path, 'operation': what, 'kind': kind, 'error': reason})
        return kind

    # -- seams the units replace ----------------------------------------------------
    def _open(self, real_path):
        return open(real_path, 'rb')

    def _readlink(self, real_path):
        return os.readlink(real_path)

    def _listdir(self, real_path):
        return os.listdir(real_path)

    def _stat(self, real_path, follow=True):
        return os.stat(real_path) if follow else os.lstat(real_path)

    def _scandir(self, real_path):
        return os.scandir(real_path)

    # -- readers ---------------------------------------------------------------------
    def try_read(self, host_path, limit=None):
        """(bytes, None) or (None, exception); never records."""
        left = limit or self.MAX_READ
        chunks = []
        try:
            with self._open(self.path(host_path)) as handle:
                while left > 0:
                    chunk = handle.read(min(left, self.CHUNK))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    left -= len(chunk)
        except (OSError, ValueError) as exc:
            return None, exc
        return b''.join(chunks), None

    def read_bytes(self, host_path, missing_ok=False, limit=None):
        data, exc = self.try_read(host_path, limit)
        if exc is not None:
            if not (missing_ok and _kind_of(exc) == 'missing'):
                self.record(host_path, exc)
            return None
        return data

    def read_text(self, host_path, missing_ok=False, limit=None):
        data = self.read_bytes(host_path, missing_ok=missing_ok, limit=limit)
        if data is None:
            return None
        return data.decode('utf-8', 'replace')

    def readlink(self, host_path, missing_ok=False, report=True):
        try:
            return self._readlink(self.path(host_path))
        except (OSError, ValueError) as exc:
            if report and not (missing_ok and _kind_of(exc) == 'missing'):
                self.record(host_path, exc, 'readlink')
            return None

    def listdir(self, host_path, missing_ok=False):
        try:
            return self._listdir(self.path(host_path))
        except (OSError, ValueError) as exc:
            if not (missing_ok and _kind_of(exc) == 'missing'):
                self.record(host_path, exc, 'listdir')
            return None

    def stat(self, host_path, missing_ok=False, follow=True):
        try:
            return self._stat(self.path(host_path), follow)
        except (OSError, ValueError) as exc:
            if not (missing_ok and _kind_of(exc) == 'missing'):
                self.record(host_path, exc, 'stat')
            return None

    def exists(self, host_path):
        return self.stat(host_path, missing_ok=True) is not None

    def try_readlink(self, host_path):
        """(target, None) or (None, exception); never records (for scans over many pids)."""
        try:
            return self._readlink(self.path(host_path)), None
        except (OSError, ValueError) as exc:
            return None, exc

    def special_entries(self, host_path, limit):
        """Entries of a directory that may be sockets (neither directories, regular files
        nor symlinks by their d_type), looking at no more than ``limit`` entries.

        Returns (names, truncated): ``truncated`` is True when the directory has more
        entries than ``limit``; names is None when it cannot be listed (recorded, except
        when missing). The listing is streamed, so a huge directory costs ``limit`` entries.
        """
        names = []
        seen = 0
        try:
            with self._scandir(self.path(host_path)) as entries:
                for entry in entries:
                    if seen >= limit:
                        return names, True
                    seen += 1
                    try:
                        if entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False) \
                                or entry.is_symlink():
                            continue
                    except OSError:
                        pass
                    names.append(entry.name)
        except (OSError, ValueError) as exc:
            if _kind_of(exc) != 'missing':
                self.record(host_path, exc, 'listdir')
            return None, False
        return names, False
