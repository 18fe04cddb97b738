# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the rootless role needs to know about a host, read in one go and read-only.

Standard library only, no Ansible imports. :func:`inspect` returns the facts the
decisions of :mod:`._rootless_plan` are made from:

``knobs``
    ``user.max_user_namespaces``, ``kernel.unprivileged_userns_clone`` and
    ``kernel.apparmor_restrict_unprivileged_userns``, where the kernel has them.
``packages``
    dpkg's state of each package (:func:`._dpkg.parse_status` of the status file; no
    ``dpkg-query`` is started).
``units``
    ``LoadState``, ``ActiveState`` and ``UnitFileState`` of ``docker.service`` and
    ``docker.socket`` (one ``systemctl show``, which also gives each user's manager,
    ``user@<uid>.service``).
``files``
    By path, the small files the role writes: ``exists``, ``regular`` (not a link: a
    write would replace it), ``mode``, ``uid``, ``gid`` and ``content``.
``docker_group``
    Members of the ``docker`` group (``/etc/group``).
``users``
    For each user: ``exists``, ``uid``, ``gid``, ``home``; ``linger`` (the linger flag
    file); ``manager`` (``user@<uid>.service`` active); ``unit_file`` (the setup tool's
    user unit) and ``installed`` (its enablement link); ``answering`` (a daemon answers
    ``GET /info`` on ``/run/user/<uid>/docker.sock``) and ``rootless`` (it reports
    ``name=rootless``); ``context`` (``currentContext`` of ``~/.docker/config.json``) and
    ``profile`` (the nsguard block of ``~/.profile``, or None); ``network_dropin`` (the
    role's drop-in of the user's docker.service, as :func:`user_file_facts`). Files in a home are read
    as root without following a link (:func:`.fileops.read_file`): a link or another
    non-regular file there reads as absent (the role then writes it as the user, who gets
    the kernel's answer).
``binaries``
    By path, whether the network drivers' binaries asked about are executable files.
``userns``
    Whether the rootlesskit can create a user namespace as the given user (``rc`` and
    ``stderr`` of ``rootlesskit true`` run as that user), or None when that cannot be
    tried yet (no such file, no such user, or no ``/run/user/<uid>`` before linger).
``errors``
    Files that exist but could not be read (from the :class:`~._hostfs.HostFS`).

Host files are read through a :class:`~._hostfs.HostFS` (``/proc``, ``/etc`` and ``/run``
below roots the units move); ``systemctl`` through ``run(argv) -> (rc, stdout, stderr)``
and ``which(name) -> path``, as ``AnsibleModule.run_command`` and ``get_bin_path`` give
them; accounts through ``getpwnam``; ``rootlesskit true`` through :func:`spawn_as`.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import posixpath
import pwd
import stat
import subprocess

from ansible_collections.nsguard.docker.plugins.module_utils import (
    _dpkg, _proc_parsers, _rootless_plan, _sysctl_d, _systemd, fileops)
from ansible_collections.nsguard.docker.plugins.module_utils._hostfs import HostFS
from ansible_collections.nsguard.docker.plugins.module_utils._rootless_setup import ENABLEMENT_LINK, UNIT_FILE
from ansible_collections.nsguard.docker.plugins.module_utils.engine_api import EngineAPIError, UnixHTTPClient

#: Where host paths are read (the units point these at fixture trees).
PROC_ROOT = '/proc'
ETC_ROOT = '/etc'
RUN_ROOT = '/run'
DPKG_STATUS = _dpkg.STATUS_PATH
LINGER_DIR = '/var/lib/systemd/linger'
RUNTIME_DIR = '/run/user'
GROUP_FILE = '/etc/group'
DOCKER_GROUP = 'docker'

#: The user-namespace settings rootless Docker depends on.
KNOBS = (_sysctl_d.MAX_USER_NAMESPACES, _sysctl_d.UNPRIVILEGED_USERNS_CLONE, _sysctl_d.APPARMOR_RESTRICT_USERNS)
#: The rootful units the role may mask.
UNITS = ('docker.service', 'docker.socket')
PROFILE_BEGIN = '# BEGIN nsguard.docker.rootless'
PROFILE_END = '# END nsguard.docker.rootless'
#: Seconds a user's daemon has to answer GET /info.
INFO_TIMEOUT = 5.0
#: Seconds ``rootlesskit true`` may take.
USERNS_TIMEOUT = 60
#: Bytes read at most of a file in a user's home.
USER_FILE_LIMIT = 1 << 20
USER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
#: Where the binaries of :func:`binary_facts` are looked for (the units point it at a tree).
BIN_ROOT = '/'
#: The role's drop-in of a user's docker.service, below the home.
NETWORK_DROPIN = _rootless_plan.NETWORK_DROPIN


def host_fs():
    """A :class:`HostFS` reading ``/proc``, ``/etc`` and ``/run`` below the module's roots."""
    return HostFS(proc_root=PROC_ROOT, etc_root=ETC_ROOT, run_root=RUN_ROOT)


# ---------------------------------------------------------------------------------------
# host-wide facts

def knobs(fs):
    """``{knob: value}`` of the :data:`KNOBS` the kernel has (stripped text)."""
    return _sysctl_d.live(fs, KNOBS)


def package_states(fs, names):
    """:func:`._dpkg.parse_status` of :data:`DPKG_STATUS` for ``names``."""
    return _dpkg.read_status(fs, names, DPKG_STATUS)


def file_facts(fs, path):
    """What the role compares before it skips writing one of its own files: whether the
    path is a regular file (not followed if a link, which the write would replace), its
    mode, owner, group and text; ``{'exists': False, 'content': None}`` without one."""
    st_ = fs.stat(path, missing_ok=True, follow=False)
    if st_ is None:
        return {'exists': False, 'content': None}
    regular = stat.S_ISREG(st_.st_mode)
    return {'exists': True, 'regular': regular, 'mode': '%04o' % stat.S_IMODE(st_.st_mode),
            'uid': st_.st_uid, 'gid': st_.st_gid,
            'content': fs.read_text(path, missing_ok=True) if regular else None}


def group_members(fs, name=DOCKER_GROUP):
    """Members of group ``name`` listed in :data:`GROUP_FILE`; [] without that group."""
    for group in _proc_parsers.parse_etc_group(fs.read_text(GROUP_FILE, missing_ok=True)):
        if group['name'] == name:
            return group['members']
    return []


def manager_unit(uid):
    return 'user@%d.service' % uid


# ---------------------------------------------------------------------------------------
# users

def read_user_text(path, limit=USER_FILE_LIMIT):
    """Text of a regular file in a user's home, or None.

    Read as root, so no link is followed that the user could have planted (one to make
    root read /etc/shadow, say): :func:`.fileops.read_file` refuses a link at the file
    itself and in a directory the user can change, and opens no FIFO; at most ``limit``
    bytes.
    """
    try:
        data = fileops.read_file(path, follow=False, limit=limit).data
    except (fileops.FileOpsError, OSError):
        return None
    return None if data is None else data.decode('utf-8', 'replace')


def user_file_facts(path, limit=USER_FILE_LIMIT):
    """What the role compares before it skips writing a file in a user's home: ``exists``,
    ``regular``, ``mode``, ``uid``, ``gid`` and ``content``, read as root the way
    :func:`read_user_text` reads (no link followed). A link, a FIFO or a file that cannot
    be read safely reads as existing but not regular (the role then writes it as the user);
    ``{'exists': False, 'content': None}`` without one."""
    try:
        state = fileops.read_file(path, follow=False, limit=limit)
    except (fileops.FileOpsError, OSError):
        return {'exists': True, 'regular': False, 'mode': None, 'uid': None, 'gid': None, 'content': None}
    if state.data is None:
        return {'exists': False, 'content': None}
    st_ = state.stat
    return {'exists': True, 'regular': True, 'mode': '%04o' % stat.S_IMODE(st_.st_mode),
            'uid': st_.st_uid, 'gid': st_.st_gid, 'content': state.data.decode('utf-8', 'replace')}


def binary_facts(paths):
    """By path (below :data:`BIN_ROOT`), whether it is an executable regular file."""
    out = {}
    for path in paths:
        real = os.path.join(BIN_ROOT, path.lstrip('/'))
        out[path] = os.path.isfile(real) and os.access(real, os.X_OK)
    return out


def profile_block(text):
    """The lines between the role's markers in ~/.profile, or None without a block."""
    if text is None:
        return None
    lines = text.splitlines()
    try:
        begin = lines.index(PROFILE_BEGIN)
        end = lines.index(PROFILE_END, begin)
    except ValueError:
        return None
    return '\n'.join(lines[begin + 1:end])


def current_context(text):
    """``currentContext`` of the text of a docker CLI config.json, or None."""
    try:
        return json.loads(text or '{}').get('currentContext')
    except (ValueError, AttributeError):
        return None


def engine_info(socket_path, timeout=INFO_TIMEOUT):
    """GET /info from a Docker socket; None when nothing answers with a JSON object."""
    try:
        info = UnixHTTPClient(socket_path, timeout=timeout).get_json('/info')
    except (EngineAPIError, OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def runtime_dir(uid):
    """``/run/user/<uid>`` (a host path)."""
    return posixpath.join(RUNTIME_DIR, str(uid))


def getpwnam(name):
    """The account ``name`` (:func:`pwd.getpwnam`: local files, LDAP, whatever NSS says)."""
    return pwd.getpwnam(name)


def user_facts(fs, name, managers=None, lookup=None, info=None):
    """The facts of account ``name`` (see the module's docstring); ``{'exists': False}``
    when there is none. ``managers`` maps a uid to its manager's ``ActiveState``;
    ``lookup`` and ``info`` default to :func:`getpwnam` and :func:`engine_info`."""
    lookup = lookup or getpwnam
    info = info or engine_info
    try:
        pw = lookup(name)
    except KeyError:
        return {'exists': False}
    home = pw.pw_dir
    answer = info(fs.path(posixpath.join(runtime_dir(pw.pw_uid), 'docker.sock')))
    security = (answer or {}).get('SecurityOptions') or []
    return {
        'exists': True,
        'uid': pw.pw_uid,
        'gid': pw.pw_gid,
        'home': home,
        'linger': fs.exists(posixpath.join(LINGER_DIR, name)),
        'manager': (managers or {}).get(pw.pw_uid) == 'active',
        'unit_file': fs.exists(posixpath.join(home, UNIT_FILE)),
        'installed': fs.stat(posixpath.join(home, ENABLEMENT_LINK), missing_ok=True, follow=False) is not None,
        'answering': answer is not None,
        'rootless': any('name=rootless' in str(opt) for opt in security),
        'context': current_context(read_user_text(posixpath.join(home, '.docker', 'config.json'))),
        'profile': profile_block(read_user_text(posixpath.join(home, '.profile'))),
        'network_dropin': user_file_facts(posixpath.join(home, NETWORK_DROPIN)),
    }


# ---------------------------------------------------------------------------------------
# user namespaces

def _drop_to(pw):
    def preexec():
        os.setgroups(os.getgrouplist(pw.pw_name, pw.pw_gid))
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return preexec


def spawn_as(pw, argv, env, timeout):
    """Run ``argv`` as account ``pw`` (its groups, gid and uid) with only ``env``, in /;
    ``(rc, stderr)``, rc 1 with the error when it could not be run."""
    try:
        proc = subprocess.run(argv, env=env, cwd='/', preexec_fn=_drop_to(pw),  # pylint: disable=subprocess-popen-preexec-fn
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return 1, str(exc)
    return proc.returncode, proc.stderr


def userns_check(fs, rootlesskit, user, lookup=None, spawn=None, timeout=USERNS_TIMEOUT):
    """Can ``rootlesskit`` create a user namespace as ``user``? ``{'rc', 'stderr'}`` of
    ``rootlesskit true`` as that user, or None when it cannot be tried yet: no such
    account, no executable at that path, or no runtime directory (before linger).
    ``lookup`` and ``spawn`` default to :func:`getpwnam` and :func:`spawn_as`."""
    lookup = lookup or getpwnam
    spawn = spawn or spawn_as
    try:
        pw = lookup(user)
    except KeyError:
        return None
    runtime = runtime_dir(pw.pw_uid)
    if not os.access(rootlesskit, os.X_OK) or not os.path.isdir(fs.path(runtime)):
        return None
    env = {'HOME': pw.pw_dir, 'USER': user, 'XDG_RUNTIME_DIR': runtime, 'PATH': USER_PATH}
    rc, err = spawn(pw, [rootlesskit, 'true'], env, timeout)
    return {'rc': rc, 'stderr': (err or '').strip()[-2000:]}


# ---------------------------------------------------------------------------------------
# all of it

def inspect(fs, run, which, users, packages, files, rootlesskit=None, userns_as=None,
            lookup=None, info=None, spawn=None, binaries=()):
    """Every fact the rootless role decides on, as one dict (see the module's docstring).

    ``users``, ``packages``, ``files`` and ``binaries`` are the names and paths to look at; the user
    namespace check runs when both ``rootlesskit`` and ``userns_as`` are given. Starts at
    most two programs: ``systemctl show`` once and ``rootlesskit true`` once. ``lookup``,
    ``info`` and ``spawn`` default to :func:`getpwnam`, :func:`engine_info` and
    :func:`spawn_as` (looked up when called, so the units can replace them).
    """
    lookup = lookup or getpwnam
    uids = {}
    for name in users:
        try:
            uids[lookup(name).pw_uid] = None
        except KeyError:
            continue
    managers = sorted(set(manager_unit(uid) for uid in uids))
    units = _systemd.unit_states(run, which, list(UNITS) + managers)
    active = dict((uid, units[manager_unit(uid)]['ActiveState']) for uid in uids)
    return {
        'knobs': knobs(fs),
        'packages': package_states(fs, packages),
        'units': dict((unit, units[unit]) for unit in UNITS),
        'files': dict((path, file_facts(fs, path)) for path in files),
        'docker_group': group_members(fs),
        'binaries': binary_facts(binaries),
        'users': dict((name, user_facts(fs, name, active, lookup, info)) for name in users),
        'userns': (userns_check(fs, rootlesskit, userns_as, lookup, spawn)
                   if rootlesskit and userns_as else None),
        'errors': fs.errors,
    }
