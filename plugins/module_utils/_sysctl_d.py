# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kernel settings a host keeps across reboots (sysctl.d), and the hardening baselines
among them that break Docker.

Standard library only, no Ansible imports. Files are read through a
:class:`~._hostfs.HostFS` (``listdir``, ``read_text``, ``readlink``; the units point its
roots at a fixture tree).

:func:`effective` reads the settings the way systemd-sysctl applies them at boot: the
``*.conf`` files of :data:`SYSCTL_DIRS`, a file name in an earlier directory hiding the
same name in a later one, all of them in the lexical order of their names, the last
assignment of a key winning; ``/etc/sysctl.conf`` after them (as ``sysctl --system`` reads
it), or at the place of a ``*.conf`` link to it (Debian's and Ubuntu's
``/etc/sysctl.d/99-sysctl.conf``). :func:`baseline_problems` names the settings that
break a rootful daemon or userns-remap, with the fix.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import posixpath

SYSCTL_CONF = '/etc/sysctl.conf'
#: systemd-sysctl's directories, the first one winning for a file name.
SYSCTL_DIRS = ('/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d')
IP_FORWARD = 'net.ipv4.ip_forward'
MAX_USER_NAMESPACES = 'user.max_user_namespaces'
UNPRIVILEGED_USERNS_CLONE = 'kernel.unprivileged_userns_clone'
APPARMOR_RESTRICT_USERNS = 'kernel.apparmor_restrict_unprivileged_userns'
#: The /proc/sys file of each setting the collection reads as the kernel has it now.
PROC_SYS = {
    IP_FORWARD: '/proc/sys/net/ipv4/ip_forward',
    MAX_USER_NAMESPACES: '/proc/sys/user/max_user_namespaces',
    UNPRIVILEGED_USERNS_CLONE: '/proc/sys/kernel/unprivileged_userns_clone',
    APPARMOR_RESTRICT_USERNS: '/proc/sys/kernel/apparmor_restrict_unprivileged_userns',
}
#: The settings the baselines are about.
BASELINE_KEYS = (IP_FORWARD, MAX_USER_NAMESPACES)
#: Bytes read of a /proc/sys file: a sysctl refuses a read larger than the kernel will
#: allocate (ENOMEM for HostFS's default 4 MiB); a value is a line.
KNOB_READ_LIMIT = 4096
#: Bytes read of a sysctl.d file at most.
FILE_READ_LIMIT = 1 << 20
#: Where a fix is written: sorts after every usual file, so it wins.
FIX_FILE = '/etc/sysctl.d/99-zz-nsguard-docker.conf'


def normalize_key(key):
    """A key as sysctl.d(5) reads it: without a leading ``-`` (ignore errors); a key whose
    first separator is ``/`` has its ``/`` and ``.`` swapped (``net/ipv4/ip_forward`` is
    ``net.ipv4.ip_forward``)."""
    key = key.strip()
    if key.startswith('-'):
        key = key[1:].strip()
    for char in key:
        if char == '/':
            return key.translate({ord('/'): '.', ord('.'): '/'})
        if char == '.':
            break
    return key


def parse(text):
    """``[(key, value, lineno)]`` of a sysctl.d text: ``key = value`` lines, comments
    (``#`` or ``;``) and blank lines skipped, a line without ``=`` skipped, keys normalized
    (:func:`normalize_key`), values stripped."""
    out = []
    for lineno, line in enumerate((text or '').splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in '#;' or '=' not in stripped:
            continue
        key, value = stripped.split('=', 1)
        key = normalize_key(key)
        if key:
            out.append((key, value.strip(), lineno))
    return out


def ordered_files(listings):
    """The paths systemd-sysctl reads, in order, from ``listings`` (``[(directory, names)]``
    in :data:`SYSCTL_DIRS` order): ``*.conf`` names only, a name taken from the first
    directory that has it, sorted by name."""
    chosen = {}
    for directory, names in listings:
        for name in names or ():
            if name.endswith('.conf') and name not in chosen:
                chosen[name] = posixpath.join(directory, name)
    return [chosen[name] for name in sorted(chosen)]


def _is_sysctl_conf(fs, path, conf):
    target = fs.readlink(path, missing_ok=True, report=False)
    if not target:
        return False
    return posixpath.normpath(posixpath.join(posixpath.dirname(path), target)) == conf


def effective(fs, keys=None, dirs=SYSCTL_DIRS, conf=SYSCTL_CONF):
    """``{key: {'value', 'path', 'line'}}``: the value each key is set to at boot, and the
    file and line that set it (see the module's docstring); only ``keys`` when given. A
    key no file sets is left out."""
    listings = [(directory, fs.listdir(directory, missing_ok=True)) for directory in dirs]
    paths = ordered_files(listings)
    if not any(_is_sysctl_conf(fs, path, conf) for path in paths):
        paths.append(conf)
    out = {}
    for path in paths:
        text = fs.read_text(path, missing_ok=True, limit=FILE_READ_LIMIT)
        for key, value, lineno in parse(text):
            if keys is None or key in keys:
                out[key] = {'value': value, 'path': path, 'line': lineno}
    return out


def live(fs, keys=BASELINE_KEYS):
    """``{key: value}`` (stripped text) of the settings in ``keys`` (of :data:`PROC_SYS`)
    the kernel has, as it has them now; a file the kernel lacks is left out."""
    out = {}
    for key in keys:
        value = fs.read_text(PROC_SYS[key], missing_ok=True, limit=KNOB_READ_LIMIT)
        if value is not None:
            out[key] = value.strip()
    return out


def facts(fs, keys=BASELINE_KEYS):
    """``{'persistent': effective(...), 'live': live(...)}`` for ``keys``."""
    return {'persistent': effective(fs, keys), 'live': live(fs, keys)}


def _as_int(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _where(entry):
    return '%s line %d' % (entry['path'], entry['line'])


def baseline_problems(found, rootful=False, userns_remap=False, allow_ip_forward_off=False):
    """The settings in ``found`` (:func:`facts`) that break what runs, each a dict with
    ``id``, ``setting``, ``value``, ``source`` (where it is set, None for the live value),
    ``fix`` and ``message``; [] when none.

    ``ip-forward-off-persistent`` (``rootful``, unless ``allow_ip_forward_off``): a file
    sets ``net.ipv4.ip_forward = 0`` for good. dockerd turns forwarding on when it starts,
    but every later ``sysctl --system`` (a package's postinst, a restart of
    systemd-sysctl) turns it off again under the running containers. The live value
    alone is no problem: a fresh host has 0 until dockerd starts.

    ``userns-off`` (``userns_remap``): ``user.max_user_namespaces`` is 0 now or set to 0
    for good; dockerd cannot create the remapped user namespace, so no container starts.
    """
    problems = []
    persistent = found.get('persistent') or {}
    current = found.get('live') or {}
    forward = persistent.get(IP_FORWARD)
    if rootful and not allow_ip_forward_off and forward and _as_int(forward['value']) == 0:
        problems.append({
            'id': 'ip-forward-off-persistent', 'setting': IP_FORWARD, 'value': forward['value'],
            'source': _where(forward),
            'fix': 'net.ipv4.ip_forward = 1 in %s (or remove the line in %s)' % (FIX_FILE, forward['path']),
            'message': (
                '%s sets net.ipv4.ip_forward = %s: a rootful Docker daemon needs IPv4 forwarding for its '
                'containers\' networks; dockerd turns it on when it starts, but every later sysctl --system '
                '(a package upgrade, systemd-sysctl) turns it off again under the running containers. Fix: '
                'remove that line, or set net.ipv4.ip_forward = 1 in a file that sorts after it, such as %s.'
                % (_where(forward), forward['value'], FIX_FILE)),
        })
    if userns_remap:
        namespaces = persistent.get(MAX_USER_NAMESPACES)
        now = current.get(MAX_USER_NAMESPACES)
        off_for_good = namespaces is not None and _as_int(namespaces['value']) == 0
        if off_for_good or _as_int(now) == 0:
            source = _where(namespaces) if off_for_good else None
            problems.append({
                'id': 'userns-off', 'setting': MAX_USER_NAMESPACES,
                'value': namespaces['value'] if off_for_good else now, 'source': source,
                'fix': 'user.max_user_namespaces = 28633 in %s%s' % (
                    FIX_FILE, ' (or remove the line in %s)' % namespaces['path'] if off_for_good else ''),
                'message': (
                    'user.max_user_namespaces is 0 (%s): userns-remap needs user namespaces, dockerd cannot '
                    'create the remapped one and no container starts. Fix: set user.max_user_namespaces = '
                    '28633 (the kernel\'s usual value) in %s%s, and apply it (sysctl --system).'
                    % (source or 'now, in the kernel', FIX_FILE,
                       ' and remove the line in %s' % namespaces['path'] if off_for_good else '')),
            })
    return problems
