# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""File helpers for the account databases in /etc: atomic writes and shadow-utils locks.

Standard library only, no Ansible imports.

* :func:`atomic_write` replaces a file through a temporary file in the same directory
  (fsync, mode and owner of the old file kept, ``os.replace``), so readers such as
  newuidmap see either the old or the new file, never half of one.
* :class:`PwdLock` is ``lckpwdf(3)``: an exclusive ``fcntl`` lock on /etc/.pwd.lock.
* :class:`CommonioLock` is the per-file lock of shadow-utils' commonio layer (what
  useradd, usermod and friends take on /etc/subuid): the pid written to ``<file>.<pid>``
  and hard-linked to ``<file>.lock``.
* :func:`shadow_locks` takes both kinds, in the order shadow-utils does, and releases
  them on the way out whatever happens.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
import time

PWD_LOCK_PATH = '/etc/.pwd.lock'
#: lckpwdf(3) gives up after 15 seconds; so do we, for each lock.
LOCK_TIMEOUT = 15.0
LOCK_INTERVAL = 0.1

try:
    _monotonic = time.monotonic
except AttributeError:  # pragma: no cover - Python 2
    _monotonic = time.time


class FileOpsError(Exception):
    """A file could not be read, written or locked."""


class LockTimeout(FileOpsError):
    """A lock was still held by another process when the wait ran out."""


def read_bytes(path):
    """Content of ``path`` as bytes, or None if it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise FileOpsError('cannot read %s: %s' % (path, exc.strerror or exc))


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, data, default_mode=0o644, default_owner=(0, 0)):
    """Replace the content of ``path`` with ``data`` (bytes) atomically.

    The new content goes to a temporary file in the same directory, is fsync'ed, gets
    the mode and owner of the existing file (``default_mode`` and ``default_owner`` —
    root:root unless the caller is not root — when the file is new) and is renamed
    over ``path`` with ``os.replace``. A symlink at ``path`` is followed: its target is
    replaced, the link stays.
    """
    real = os.path.realpath(path)
    directory = os.path.dirname(real) or '.'
    try:
        old = os.stat(real)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise FileOpsError('cannot stat %s: %s' % (path, exc.strerror or exc))
        old = None
    if old is not None:
        mode, uid, gid = stat.S_IMODE(old.st_mode), old.st_uid, old.st_gid
    else:
        mode = default_mode
        uid, gid = default_owner if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    try:
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(real), suffix='.tmp',
                                   dir=directory)
    except OSError as exc:
        raise FileOpsError('cannot create a temporary file in %s: %s'
                           % (directory, exc.strerror or exc))
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            current = os.fstat(handle.fileno())
            if (current.st_uid, current.st_gid) != (uid, gid):
                os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, real)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, (IOError, OSError)):
            raise FileOpsError('cannot write %s: %s' % (path, exc.strerror or exc))
        raise
    _fsync_dir(directory)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        if exc.errno == errno.EPERM:
            return True
        raise
    return True


class PwdLock(object):
    """``lckpwdf(3)``: exclusive whole-file ``fcntl`` lock on /etc/.pwd.lock.

    Waits at most ``timeout`` seconds, then raises :class:`LockTimeout`.
    """

    def __init__(self, path=PWD_LOCK_PATH, timeout=LOCK_TIMEOUT, interval=LOCK_INTERVAL):
        self.path = path
        self.timeout = timeout
        self.interval = interval
        self._fd = None

    def acquire(self):
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            raise FileOpsError('cannot open %s: %s' % (self.path, exc.strerror or exc))
        deadline = _monotonic() + self.timeout
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return self
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EACCES, errno.EAGAIN):
                    os.close(fd)
                    raise FileOpsError('cannot lock %s: %s' % (self.path, exc.strerror or exc))
            if _monotonic() >= deadline:
                os.close(fd)
                raise LockTimeout('%s is still locked after %g s: another process (useradd, '
                                  'usermod, passwd, vipw, ...) is changing the account '
                                  'databases; nothing was changed, try again'
                                  % (self.path, self.timeout))
            time.sleep(self.interval)

    def release(self):
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


class CommonioLock(object):
    """The per-file lock of shadow-utils' commonio: ``<path>.lock``, made by writing our
    pid into ``<path>.<pid>`` and ``link()``-ing it to ``<path>.lock``. A lock whose
    pid no longer exists is stale: it is removed and the link tried again. Waits at
    most ``timeout`` seconds for a live holder, then raises :class:`LockTimeout`.
    """

    def __init__(self, path, timeout=LOCK_TIMEOUT, interval=LOCK_INTERVAL):
        self.path = path
        self.lock_path = path + '.lock'
        self.timeout = timeout
        self.interval = interval
        self.held = False
        self._pid = None

    def _holder(self):
        """Pid in the lock file: int, None if the file vanished, or the raw text."""
        try:
            with open(self.lock_path, 'rb') as handle:
                raw = handle.read(64)
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise FileOpsError('cannot read %s: %s' % (self.lock_path, exc.strerror or exc))
        text = raw.decode('ascii', 'replace').strip()
        if text.isdigit() and int(text) > 0:
            return int(text)
        return text

    def _link(self, tmp):
        try:
            os.link(tmp, self.lock_path)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return False
            raise FileOpsError('cannot create %s: %s' % (self.lock_path, exc.strerror or exc))
        if os.stat(tmp).st_nlink != 2:
            raise FileOpsError('cannot lock %s: link count of %s is not 2 (file system without '
                               'hard links?)' % (self.path, tmp))
        return True

    def _try_once(self):
        """One attempt; returns None on success, else a description of the holder."""
        pid = os.getpid()
        tmp = '%s.%d' % (self.path, pid)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, str(pid).encode('ascii'))
            finally:
                os.close(fd)
        except OSError as exc:
            raise FileOpsError('cannot create %s: %s' % (tmp, exc.strerror or exc))
        try:
            if self._link(tmp):
                self._pid = pid
                return None
            holder = self._holder()
            if holder is None:          # released meanwhile
                return 'a lock that was just released'
            if not isinstance(holder, int):
                return 'a lock file without a valid PID (%r)' % holder
            if holder != pid and _pid_alive(holder):
                return 'PID %d' % holder
            if holder == pid:
                return 'this very process (PID %d)' % pid
            # stale: its process is gone
            try:
                os.unlink(self.lock_path)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise FileOpsError('cannot remove stale lock %s: %s'
                                       % (self.lock_path, exc.strerror or exc))
            if self._link(tmp):
                self._pid = pid
                return None
            return 'another process that took the stale lock first'
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass

    def acquire(self):
        deadline = _monotonic() + self.timeout
        while True:
            holder = self._try_once()
            if holder is None:
                self.held = True
                return self
            if _monotonic() >= deadline:
                raise LockTimeout('%s is still locked by %s after %g s (%s); nothing was changed. '
                                  'If no useradd/usermod is running, remove the lock file by hand'
                                  % (self.path, holder, self.timeout, self.lock_path))
            time.sleep(self.interval)

    def release(self):
        if not self.held:
            return
        self.held = False
        if self._holder() == self._pid:
            try:
                os.unlink(self.lock_path)
            except OSError:
                pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


@contextlib.contextmanager
def shadow_locks(paths, pwd_lock_path=PWD_LOCK_PATH, timeout=LOCK_TIMEOUT,
                 interval=LOCK_INTERVAL):
    """Hold lckpwdf's /etc/.pwd.lock, then the commonio lock of each of ``paths``;
    release all of them, last taken first, when the block ends in any way."""
    taken = []
    finished = False
    try:
        lock = PwdLock(pwd_lock_path, timeout, interval)
        lock.acquire()
        taken.append(lock)
        for path in paths:
            lock = CommonioLock(path, timeout, interval)
            lock.acquire()
            taken.append(lock)
        yield taken
        finished = True
    finally:
        errors = []
        for lock in reversed(taken):
            try:
                lock.release()
            except Exception as exc:  # pylint: disable=broad-except
                errors.append(exc)
        if errors and finished:  # never mask an exception already on its way
            raise FileOpsError('cannot release lock: %s' % errors[0])
