# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""File helpers: safe reads, atomic writes and shadow-utils locks.

Standard library only, no Ansible imports. The one atomic writer of the collection.

* :func:`open_dir` reaches a directory one component at a time (``openat`` with
  ``O_NOFOLLOW``) and follows a symbolic link only where only root or the caller could
  have made it, so a user who controls a directory on the way (a home directory,
  ``~/.config``, ``/run/user/UID``) cannot redirect a write made as root.
* :func:`read_bytes`, :func:`atomic_write`, :func:`set_attributes` and :func:`remove`
  work relative to that open directory: a temporary file made with ``O_EXCL`` in the
  same directory, fsync, mode and owner set on the descriptor, ``rename`` over the name,
  so readers such as newuidmap or dockerd see either the old or the new file, never half
  of one.
* :class:`PwdLock` is ``lckpwdf(3)``: an exclusive ``fcntl`` lock on /etc/.pwd.lock.
* :class:`CommonioLock` is the per-file lock of shadow-utils' commonio layer (what
  useradd, usermod and friends take on /etc/subuid): the pid written to ``<file>.<pid>``
  and hard-linked to ``<file>.lock``.
* :func:`shadow_locks` takes both kinds, in the order shadow-utils does, and releases
  them on the way out whatever happens.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import collections
import contextlib
import errno
import fcntl
import os
import stat
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


class UnsafePathError(FileOpsError):
    """A path leads through a symbolic link, or to a file, that someone other than root
    and the caller could have planted; nothing was read or written through it."""


class MissingDirectory(FileOpsError):
    """A directory on the way does not exist; ``trusted`` tells whether the deepest one
    that does can be changed only by root or the caller."""

    def __init__(self, msg, trusted):
        super(MissingDirectory, self).__init__(msg)
        self.trusted = trusted


#: Symbolic links followed in one path at most (the kernel's own limit is 40).
MAX_LINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)


def _trusted(st_):
    """True if only root or the caller can change the entries of directory ``st_``."""
    return st_.st_uid in (0, os.geteuid()) and not st_.st_mode & 0o022


def _who_can_write(st_):
    owner = 'uid %d' % st_.st_uid
    try:
        import pwd  # pylint: disable=import-outside-toplevel
        owner = pwd.getpwuid(st_.st_uid).pw_name
    except (ImportError, KeyError):
        pass
    if st_.st_mode & 0o002:
        return 'every user'
    if st_.st_mode & 0o020:
        return '%s and group %d' % (owner, st_.st_gid)
    return owner


def _refuse_link(link, dir_st, why=None):
    raise UnsafePathError(
        '%s is a symbolic link%s; refusing to follow it as uid %d, since %s can change it '
        '(run the task as that user, or remove the link); nothing was changed'
        % (link, why or '', os.geteuid(), _who_can_write(dir_st)))


class SafeDir(object):
    """An open directory reached without following a link that an untrusted user
    could have planted: ``fd`` (use it with ``dir_fd=``), ``path`` (its real path, no
    links in it), ``trusted`` (only root or the caller can change its entries) and
    ``created`` (directories made on the way). Close it (or use ``with``)."""

    def __init__(self, fd, path, st_, created):
        self.fd = fd
        self.path = path
        self.st = st_
        self.trusted = _trusted(st_)
        self.created = created

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def open_dir(path, create=False, mode=0o755, uid=-1, gid=-1):
    """Open directory ``path`` (absolute) one component at a time with ``O_NOFOLLOW``.

    A symbolic link on the way is followed only when it lies in a directory that only
    root or the caller can change; any other link raises :class:`UnsafePathError`
    naming it. Because every step holds the directory it came from, a link swapped in
    after the check cannot redirect later steps. With ``create``, missing directories
    are made with ``mode`` and given ``uid``/``gid`` (-1: unchanged). Returns a
    :class:`SafeDir`.
    """
    if not os.path.isabs(path):
        raise FileOpsError('%s is not an absolute path' % path)
    pending = [c for c in path.split('/') if c and c != '.']
    fd = os.open('/', _DIR_FLAGS)
    real, links, created = '/', 0, []
    try:
        while pending:
            name = pending.pop(0)
            if name == '..':
                # The parent of the directory held, as the kernel resolves "..".
                next_fd = os.open('..', _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd, real = next_fd, os.path.dirname(real)
                continue
            here = os.path.join(real, name)
            try:
                next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOENT and create:
                    try:
                        os.mkdir(name, mode, dir_fd=fd)
                        next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                        os.fchmod(next_fd, mode)
                        if uid != -1 or gid != -1:
                            os.fchown(next_fd, uid, gid)
                    except OSError as exc2:
                        raise FileOpsError('cannot create directory %s: %s'
                                           % (here, exc2.strerror or exc2))
                    created.append(here)
                elif exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    st_ = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    if not stat.S_ISLNK(st_.st_mode):
                        raise FileOpsError('%s is not a directory' % here)
                    dir_st = os.fstat(fd)
                    if not _trusted(dir_st):
                        _refuse_link(here, dir_st, ' in a directory that is not only root\'s')
                    links += 1
                    if links > MAX_LINKS:
                        raise FileOpsError('too many levels of symbolic links in %s' % path)
                    target = os.readlink(name, dir_fd=fd)
                    pending = [c for c in target.split('/') if c and c != '.'] + pending
                    if target.startswith('/'):
                        os.close(fd)
                        fd, real = os.open('/', _DIR_FLAGS), '/'
                    continue
                elif exc.errno == errno.ENOENT:
                    raise MissingDirectory('directory %s does not exist' % here,
                                           _trusted(os.fstat(fd)))
                else:
                    raise FileOpsError('cannot open directory %s: %s' % (here, exc.strerror or exc))
            os.close(fd)
            fd, real = next_fd, here
        return SafeDir(fd, real, os.fstat(fd), created)
    except BaseException:
        os.close(fd)
        raise


def _locate(path, follow, create_dirs=False, dir_mode=0o755, uid=-1, gid=-1):
    """``(SafeDir, name, lstat or None)`` of ``path``'s last component.

    A symbolic link there is followed (by the rules of :func:`open_dir`) only with
    ``follow`` and only when its directory is trusted; else :class:`UnsafePathError`.
    """
    for _hop in range(MAX_LINKS + 1):
        directory, name = os.path.split(path)
        if name in ('', '.', '..'):
            raise FileOpsError('%s names no file' % path)
        parent = open_dir(directory, create_dirs, dir_mode, uid, gid)
        try:
            st_ = os.stat(name, dir_fd=parent.fd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                parent.close()
                raise FileOpsError('cannot stat %s: %s' % (path, exc.strerror or exc))
            return parent, name, None
        if not stat.S_ISLNK(st_.st_mode):
            return parent, name, st_
        link = os.path.join(parent.path, name)
        if not parent.trusted:
            parent.close()
            _refuse_link(link, parent.st, ' in a directory that is not only root\'s')
        if not follow:
            parent.close()
            raise UnsafePathError('%s is a symbolic link; refusing to write through it '
                                  '(follow=false); nothing was changed' % link)
        target = os.readlink(name, dir_fd=parent.fd)
        parent.close()
        path = os.path.join(os.path.dirname(link), target)
    raise FileOpsError('too many levels of symbolic links in %s' % path)


def _not_regular(shown, st_):
    if stat.S_ISDIR(st_.st_mode):
        return '%s is a directory, not a file' % shown
    return '%s is not a regular file' % shown


def _open_regular(parent, name, shown):
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=parent.fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError('%s became a symbolic link while it was read; nothing '
                                  'was changed' % shown)
        raise FileOpsError('cannot open %s: %s' % (shown, exc.strerror or exc))
    st_ = os.fstat(fd)
    if not stat.S_ISREG(st_.st_mode):
        os.close(fd)
        raise FileOpsError(_not_regular(shown, st_))
    return fd, st_


FileState = collections.namedtuple('FileState', 'data stat real dir_trusted')


def read_file(path, follow=True, limit=None):
    """:class:`FileState` of ``path``: its bytes (None if it does not exist), its
    ``os.stat_result`` (None), its real path and whether its directory is trusted.

    Reached as :func:`open_dir` does; a symbolic link as the last component is followed
    only with ``follow`` and only in a trusted directory. Only a regular file is read
    (a FIFO planted there cannot make the caller hang), and with ``limit`` no more than
    that many bytes of it (a huge file another user made cannot fill the caller's memory).
    """
    try:
        parent, name, st_ = _locate(path, follow)
    except MissingDirectory as exc:
        return FileState(None, None, path, exc.trusted)
    with parent:
        real = os.path.join(parent.path, name)
        if st_ is None:
            return FileState(None, None, real, parent.trusted)
        fd, st_ = _open_regular(parent, name, real)
        try:
            chunks = []
            left = limit
            while left is None or left > 0:
                chunk = os.read(fd, 1 << 16 if left is None else min(1 << 16, left))
                if not chunk:
                    break
                chunks.append(chunk)
                if left is not None:
                    left -= len(chunk)
            return FileState(b''.join(chunks), st_, real, parent.trusted)
        finally:
            os.close(fd)


def read_bytes(path, follow=True):
    """Content of ``path`` as bytes, or None if it does not exist (see :func:`read_file`)."""
    return read_file(path, follow).data


def _fsync_fd(fd):
    try:
        os.fsync(fd)
    except OSError:
        pass


def atomic_write(path, data, mode=None, uid=None, gid=None, default_mode=0o644, follow=True,
                 create_dirs=False, dir_mode=0o755):
    """Replace the content of ``path`` with ``data`` (bytes) atomically and safely.

    The directory is reached as :func:`open_dir` does, so no link that another user
    could have planted is followed; a link as the last component is followed only with
    ``follow`` (and only in a trusted directory). The new content goes to a temporary
    file made with ``O_EXCL`` in that directory, is fsync'ed, gets ``mode``/``uid``/
    ``gid`` (None: those of the file it replaces, or ``default_mode`` and the caller's
    ids for a new file) and is renamed over the name, all relative to the open
    directory. Missing directories are made with ``create_dirs`` (``dir_mode``, owned by
    ``uid``/``gid``). Returns the real path written.
    """
    own_uid = -1 if uid is None else uid
    own_gid = -1 if gid is None else gid
    parent, name, old = _locate(path, follow, create_dirs, dir_mode, own_uid, own_gid)
    with parent:
        real = os.path.join(parent.path, name)
        if old is not None and not stat.S_ISREG(old.st_mode):
            raise FileOpsError(_not_regular(real, old))
        if mode is None:
            mode = stat.S_IMODE(old.st_mode) if old is not None else default_mode
        if old is not None:
            uid = old.st_uid if uid is None else uid
            gid = old.st_gid if gid is None else gid
        tmp = fd = None
        for dummy in range(100):
            tmp = '.%s.%s.tmp' % (name, binascii.hexlify(os.urandom(6)).decode('ascii'))
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                             dir_fd=parent.fd)
                break
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise FileOpsError('cannot create a temporary file in %s: %s'
                                       % (parent.path, exc.strerror or exc))
        if fd is None:
            raise FileOpsError('cannot create a temporary file in %s' % parent.path)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
                made = os.fstat(fd)
                want_uid = -1 if uid is None or uid == made.st_uid else uid
                want_gid = -1 if gid is None or gid == made.st_gid else gid
                if want_uid != -1 or want_gid != -1:
                    os.fchown(fd, want_uid, want_gid)
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
            os.rename(tmp, name, src_dir_fd=parent.fd, dst_dir_fd=parent.fd)
        except BaseException as exc:
            try:
                os.unlink(tmp, dir_fd=parent.fd)
            except OSError:
                pass
            if isinstance(exc, (IOError, OSError)):
                raise FileOpsError('cannot write %s: %s' % (real, exc.strerror or exc))
            raise
        _fsync_fd(parent.fd)
        return real


def set_attributes(path, mode=None, uid=None, gid=None, follow=True):
    """Give the existing regular file ``path`` ``mode``/``uid``/``gid`` (None: keep),
    through a descriptor opened as :func:`read_bytes` does.

    Returns ``(before, after)``, each ``(mode, uid, gid)``. A file with more than one
    hard link in a directory that someone else can change is refused: the link could
    be to any file of the system (without fs.protected_hardlinks).
    """
    parent, name, st_ = _locate(path, follow)
    with parent:
        real = os.path.join(parent.path, name)
        if st_ is None:
            raise FileOpsError('%s does not exist' % real)
        fd, st_ = _open_regular(parent, name, real)
        try:
            before = (stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid)
            after = (before[0] if mode is None else mode, before[1] if uid is None else uid,
                     before[2] if gid is None else gid)
            if after != before and st_.st_nlink > 1 and not parent.trusted:
                raise UnsafePathError(
                    '%s has %d hard links in a directory that %s can change; refusing to '
                    'change its owner or mode as uid %d; nothing was changed'
                    % (real, st_.st_nlink, _who_can_write(parent.st), os.geteuid()))
            if after[1:] != before[1:]:
                os.fchown(fd, after[1], after[2])
            if after[0] != stat.S_IMODE(os.fstat(fd).st_mode):
                os.fchmod(fd, after[0])
            return before, after
        finally:
            os.close(fd)


def remove(path):
    """Remove the name ``path`` (a file, or a symbolic link itself: never what it points
    to), reached as :func:`open_dir` does. Returns True if it was removed, False if there
    was nothing to remove. A directory is refused."""
    directory, name = os.path.split(path)
    if name in ('', '.', '..'):
        raise FileOpsError('%s names no file' % path)
    try:
        parent = open_dir(directory)
    except MissingDirectory:
        return False
    with parent:
        real = os.path.join(parent.path, name)
        try:
            st_ = os.stat(name, dir_fd=parent.fd, follow_symlinks=False)
            if stat.S_ISDIR(st_.st_mode):
                raise FileOpsError('%s is a directory, not a file' % real)
            os.unlink(name, dir_fd=parent.fd)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise FileOpsError('cannot remove %s: %s' % (real, exc.strerror or exc))
        _fsync_fd(parent.fd)
        return True


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
