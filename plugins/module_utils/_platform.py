# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host a role supports: distribution, release, architecture, init and Python.

Plain functions on plain data; no Ansible imports, standard library only, so the same
code runs in the platform_check module and in the unit tests.

:func:`gather_facts` reads the host (os-release, ``uname``, ``/run/systemd/system``,
``/proc/1/comm``, the running interpreter), :func:`evaluate` compares the facts with a
table of what is supported (:data:`SUPPORTED`, the one place that says it) and returns
the problems, :func:`format_message` turns facts and problems into ONE message.
Every path is a parameter, so the units point them at fixture trees.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import errno
import io
import os
import re
import sys

#: os-release locations, in the order systemd reads them (the second only when the first
#: does not exist).
OS_RELEASE_PATHS = ('/etc/os-release', '/usr/lib/os-release')
RUN_ROOT = '/run'
PROC_ROOT = '/proc'

#: What the roles of this collection support. ``distributions`` maps an os-release ID to
#: its supported VERSION_IDs (compared as strings); ``architectures`` are normalised
#: machine names (see :func:`normalise_architecture`).
SUPPORTED = {
    'distributions': {
        'ubuntu': ['22.04', '24.04'],
        'debian': ['12', '13'],
    },
    'architectures': ['x86_64', 'aarch64'],
    'init': 'systemd',
    'min_python': '3.8',
}

#: How distribution IDs are written in messages.
DISPLAY_NAMES = {'ubuntu': 'Ubuntu', 'debian': 'Debian'}

#: uname machine (and Debian architecture) names -> (normalised name, Debian name).
_ARCHITECTURES = {
    'x86_64': ('x86_64', 'amd64'),
    'amd64': ('x86_64', 'amd64'),
    'aarch64': ('aarch64', 'arm64'),
    'arm64': ('aarch64', 'arm64'),
    'armv7l': ('armv7l', 'armhf'),
    'armhf': ('armv7l', 'armhf'),
    'armv6l': ('armv6l', 'armel'),
    'armel': ('armv6l', 'armel'),
    'i386': ('i686', 'i386'),
    'i486': ('i686', 'i386'),
    'i586': ('i686', 'i386'),
    'i686': ('i686', 'i386'),
    'ppc64le': ('ppc64le', 'ppc64el'),
    'ppc64el': ('ppc64le', 'ppc64el'),
    's390x': ('s390x', 's390x'),
    'riscv64': ('riscv64', 'riscv64'),
}

#: The os-release fields the facts carry.
OS_RELEASE_KEYS = ('ID', 'VERSION_ID', 'VERSION_CODENAME', 'PRETTY_NAME', 'ID_LIKE')

_KEY = re.compile(r'\A[A-Za-z_][A-Za-z0-9_]*\Z')
_VERSION = re.compile(r'\A[0-9]+(?:\.[0-9]+)*\Z')
_LEADING_VERSION = re.compile(r'\A[0-9]+(?:\.[0-9]+)*')

try:
    _STRING_TYPES = (str, unicode)  # noqa: F821  pylint: disable=undefined-variable
except NameError:  # Python 3
    _STRING_TYPES = (str,)

_NEWLINE = '\n\r'
_WHITESPACE = ' \t\n\r'
#: Characters a backslash escapes inside double quotes (shell rules, as systemd applies them).
_SHELL_NEED_ESCAPE = '"\\`$'


class PlatformError(ValueError):
    """A table of supported platforms that cannot be used (bad version, bad type)."""


# ---------------------------------------------------------------------------------------
# os-release

def parse_os_release(text):
    """Parse os-release text into a dict, the way systemd's env-file parser does.

    ``KEY=value`` assignments; whitespace around the key and before the value is ignored.
    Unquoted values end at the line end (trailing whitespace dropped) and a backslash
    takes the next character literally. In single quotes everything is literal. In double
    quotes a backslash escapes a double quote, a backslash, a backtick, a dollar sign and
    a newline, and is kept before any other character. After a closing quote, blanks are
    skipped and whatever follows is joined to the value (``'a'"b"c`` is ``abc``); a quote
    inside an unquoted value is literal. Lines whose first non-blank character is ``#``
    or ``;`` are comments (up to the end of their line); blank lines, lines without ``=``
    and keys that are not shell variable names are ignored. A later assignment of a key
    wins. Nothing is expanded.
    """
    if text.startswith(u'\ufeff'):
        text = text[1:]
    fields = {}
    state = 'pre_key'
    key = []
    value = []
    trailing = None  # index in value where trailing unquoted whitespace starts

    def push():
        name = ''.join(key).rstrip(_WHITESPACE)
        if _KEY.match(name):
            fields[name] = ''.join(value[:trailing] if trailing is not None else value)

    for char in text:
        if state == 'pre_key':
            if char in '#;':
                state = 'comment'
            elif char not in _WHITESPACE:
                state = 'key'
                key = [char]
                value = []
                trailing = None
        elif state == 'key':
            if char in _NEWLINE:
                state = 'pre_key'
            elif char == '=':
                state = 'pre_value'
            else:
                key.append(char)
        elif state == 'pre_value':
            if char in _NEWLINE:
                push()
                state = 'pre_key'
            elif char == "'":
                state = 'single'
            elif char == '"':
                state = 'double'
            elif char == '\\':
                state = 'value_escape'
            elif char not in _WHITESPACE:
                state = 'value'
                value.append(char)
        elif state == 'value':
            if char in _NEWLINE:
                push()
                state = 'pre_key'
            elif char == '\\':
                trailing = None
                state = 'value_escape'
            else:
                if char not in _WHITESPACE:
                    trailing = None
                elif trailing is None:
                    trailing = len(value)
                value.append(char)
        elif state == 'value_escape':
            state = 'value'
            if char not in _NEWLINE:
                value.append(char)
        elif state == 'single':
            if char == "'":
                state = 'pre_value'
            else:
                value.append(char)
        elif state == 'double':
            if char == '"':
                state = 'pre_value'
            elif char == '\\':
                state = 'double_escape'
            else:
                value.append(char)
        elif state == 'double_escape':
            state = 'double'
            if char in _SHELL_NEED_ESCAPE:
                value.append(char)
            elif char != '\n':
                value.append('\\')
                value.append(char)
        elif state == 'comment':
            if char in _NEWLINE:
                state = 'pre_key'
    if state not in ('pre_key', 'key', 'comment'):
        # End of text inside a value: an unterminated quote keeps what it has, as systemd does.
        push()
    return fields


def read_os_release(paths=OS_RELEASE_PATHS):
    """Read the first os-release file of ``paths`` that exists.

    Returns ``(path, fields, error)``: the file read (None when none was), its parsed
    fields (:func:`parse_os_release`, empty when none) and why it could not be read
    (None, or a short phrase). Only a missing file falls back to the next path; a file
    that exists but cannot be read is an error, as for systemd.
    """
    for path in paths:
        try:
            with io.open(path, 'r', encoding='utf-8', errors='replace', newline='') as handle:
                return path, parse_os_release(handle.read()), None
        except (IOError, OSError) as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                continue
            return path, {}, 'cannot read %s: %s' % (path, exc.strerror or exc)
    return None, {}, 'no os-release file (%s)' % ', '.join(paths)


# ---------------------------------------------------------------------------------------
# architecture, init, Python

def normalise_architecture(name):
    """``(normalised, debian)`` names of a uname machine or Debian architecture name."""
    name = (name or '').strip().lower()
    return _ARCHITECTURES.get(name, (name, name))


def _uname_machine():
    return os.uname()[4]


def architecture_facts(machine=None):
    """``{'machine', 'architecture', 'deb_architecture'}`` of ``machine`` (default: uname)."""
    if machine is None:
        machine = _uname_machine()
    arch, deb = normalise_architecture(machine)
    return {'machine': machine, 'architecture': arch, 'deb_architecture': deb}


def _read_first_line(path):
    try:
        with io.open(path, 'r', encoding='utf-8', errors='replace') as handle:
            return handle.readline().strip() or None
    except (IOError, OSError):
        return None


def init_facts(run_root=RUN_ROOT, proc_root=PROC_ROOT):
    """``{'init', 'systemd_booted', 'pid1_comm'}``.

    ``systemd_booted`` is sd_booted()'s test: ``<run_root>/systemd/system`` is a
    directory. ``pid1_comm`` is ``<proc_root>/1/comm`` (None when unreadable). ``init`` is
    ``systemd`` when booted with systemd, else PID 1's name, else ``unknown``.
    """
    booted = os.path.isdir(os.path.join(run_root, 'systemd', 'system'))
    comm = _read_first_line(os.path.join(proc_root, '1', 'comm'))
    init = 'systemd' if booted else (comm or 'unknown')
    return {'init': init, 'systemd_booted': booted, 'pid1_comm': comm}


def _interpreter_version():
    return sys.version_info


def python_version(version_info=None):
    """``'3.11.7'`` for ``version_info`` (default: the running interpreter)."""
    if version_info is None:
        version_info = _interpreter_version()
    return '.'.join(str(part) for part in tuple(version_info)[:3])


def parse_version(text):
    """``'3.8'`` -> ``(3, 8)``; :class:`PlatformError` for anything else."""
    text = str(text).strip()
    if not _VERSION.match(text):
        raise PlatformError('%r is not a version like 3.8' % (text,))
    return tuple(int(part) for part in text.split('.'))


def gather_facts(os_release_paths=None, run_root=None, proc_root=None, machine=None,
                 version_info=None):
    """Everything :func:`evaluate` needs about this host, as one flat dict.

    Keys: ``distribution`` (os-release ID, lower case, '' when unset), ``version``
    (VERSION_ID), ``codename`` (VERSION_CODENAME, else UBUNTU_CODENAME), ``pretty_name``,
    ``id_like`` (list), ``os_release_path``, ``os_release_error``, ``machine``,
    ``architecture``, ``deb_architecture``, ``init``, ``systemd_booted``, ``pid1_comm``
    and ``python``. A parameter left None means this host (the module defaults).
    """
    path, fields, error = read_os_release(OS_RELEASE_PATHS if os_release_paths is None
                                          else tuple(os_release_paths))
    facts = {
        'distribution': fields.get('ID', '').strip().lower(),
        'version': fields.get('VERSION_ID', '').strip(),
        'codename': (fields.get('VERSION_CODENAME') or fields.get('UBUNTU_CODENAME') or '').strip(),
        'pretty_name': fields.get('PRETTY_NAME', '').strip(),
        'id_like': fields.get('ID_LIKE', '').lower().split(),
        'os_release_path': path,
        'os_release_error': error,
        'python': python_version(version_info),
    }
    facts.update(architecture_facts(machine))
    facts.update(init_facts(RUN_ROOT if run_root is None else run_root,
                            PROC_ROOT if proc_root is None else proc_root))
    return facts


# ---------------------------------------------------------------------------------------
# the table of what is supported

def default_supported():
    """A fresh copy of :data:`SUPPORTED`."""
    return copy.deepcopy(SUPPORTED)


def _version_string(dist, value):
    if isinstance(value, bool) or isinstance(value, float):
        # YAML reads 22.10 as the float 22.1: refuse to guess.
        raise PlatformError('distributions.%s: %r is not a string; quote release versions '
                            "(for example '22.04')" % (dist, value))
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, _STRING_TYPES):
        raise PlatformError('distributions.%s: %r is not a release version' % (dist, value))
    value = value.strip()
    if not value:
        raise PlatformError('distributions.%s: empty release version' % dist)
    return value


def normalise_supported(distributions=None, architectures=None, min_python=None,
                        init=None):
    """The table :func:`evaluate` uses, from the given parts and :data:`SUPPORTED`.

    ``distributions``: os-release ID -> list of VERSION_IDs (a single version is taken
    as a list of one; IDs are lower-cased). ``architectures``: machine or Debian names,
    normalised. ``min_python``: ``'3.8'``. None takes the default. Raises
    :class:`PlatformError` for a value that cannot be used.
    """
    table = default_supported()
    if distributions is not None:
        if not isinstance(distributions, dict) or not distributions:
            raise PlatformError('distributions must be a non-empty mapping of os-release ID '
                                'to a list of VERSION_IDs')
        dists = {}
        for dist, versions in distributions.items():
            name = str(dist).strip().lower()
            if not name:
                raise PlatformError('distributions: empty distribution ID')
            if versions is None:
                versions = []
            elif not isinstance(versions, (list, tuple)):
                versions = [versions]
            dists[name] = [_version_string(name, v) for v in versions]
        table['distributions'] = dists
    if architectures is not None:
        if isinstance(architectures, _STRING_TYPES) or not architectures:
            raise PlatformError('architectures must be a non-empty list')
        archs = []
        for arch in architectures:
            name = normalise_architecture(str(arch))[0]
            if not name:
                raise PlatformError('architectures: empty architecture name')
            if name not in archs:
                archs.append(name)
        table['architectures'] = archs
    if min_python is not None:
        parse_version(min_python)
        table['min_python'] = str(min_python).strip()
    if init is not None:
        table['init'] = init
    return table


# ---------------------------------------------------------------------------------------
# evaluation and the message

def _display(dist):
    return DISPLAY_NAMES.get(dist, dist)


def _debian_like(facts):
    return facts.get('distribution') == 'debian' or 'debian' in (facts.get('id_like') or [])


def evaluate(facts, supported=None):
    """The problems of ``facts`` (:func:`gather_facts`) against ``supported``.

    Returns a list of short human phrases, empty when the host is supported. ``supported``
    defaults to :data:`SUPPORTED`.
    """
    if supported is None:
        supported = SUPPORTED
    problems = []
    dists = supported.get('distributions') or {}
    dist = facts.get('distribution') or ''
    version = facts.get('version') or ''
    if facts.get('os_release_error'):
        problems.append(facts['os_release_error'])
    elif not dist:
        problems.append('no ID in %s' % facts.get('os_release_path'))
    elif dist not in dists:
        problem = 'distribution %s is not supported' % dist
        like = [d for d in (facts.get('id_like') or []) if d in dists]
        if like:
            problem += ' (ID_LIKE=%s: derivatives are not supported)' % ' '.join(facts['id_like'])
        problems.append(problem)
    elif not version:
        if _debian_like(facts):
            problems.append('no VERSION_ID (testing or unstable?)')
        else:
            problems.append('no VERSION_ID')
    elif version not in dists[dist]:
        problems.append('%s %s is not a supported release' % (_display(dist), version))

    archs = supported.get('architectures') or []
    arch = facts.get('architecture') or ''
    if archs and arch not in archs:
        deb = facts.get('deb_architecture')
        shown = arch or 'unknown'
        if deb and deb != arch:
            shown = '%s (%s)' % (shown, deb)
        problems.append('architecture %s is not supported' % shown)

    init = supported.get('init')
    if init == 'systemd':
        if not facts.get('systemd_booted'):
            problems.append('not booted with systemd (/run/systemd/system is not a directory)')
    elif init and facts.get('init') != init:
        problems.append('init is not %s' % init)

    min_python = supported.get('min_python')
    if min_python:
        match = _LEADING_VERSION.match(facts.get('python') or '')
        have = tuple(int(p) for p in match.group(0).split('.')) if match else ()
        if have < parse_version(min_python):
            problems.append('Python %s is older than %s'
                            % (facts.get('python') or 'unknown', min_python))
    return problems


def _join_or(items):
    items = list(items)
    if len(items) <= 1:
        return ''.join(items)
    return '%s or %s' % (', '.join(items[:-1]), items[-1])


def _version_key(version):
    return [(0, int(p), '') if p.isdigit() else (1, 0, p) for p in re.split(r'[.\-~+]', version)]


def describe_supported(supported=None):
    """``Ubuntu 22.04, 24.04; Debian 12, 13 on x86_64 or aarch64 with systemd and Python >= 3.8``."""
    if supported is None:
        supported = SUPPORTED
    parts = []
    for dist, versions in (supported.get('distributions') or {}).items():
        if versions:
            parts.append('%s %s' % (_display(dist), ', '.join(sorted(versions, key=_version_key))))
        else:
            parts.append('%s (no release)' % _display(dist))
    text = '; '.join(parts) or 'no distribution'
    if supported.get('architectures'):
        text += ' on %s' % _join_or(supported['architectures'])
    if supported.get('init'):
        text += ' with %s' % supported['init']
        if supported.get('min_python'):
            text += ' and Python >= %s' % supported['min_python']
    elif supported.get('min_python'):
        text += ' with Python >= %s' % supported['min_python']
    return text


def describe_host(facts):
    """``Debian GNU/Linux 12 (bookworm) (ID=debian, VERSION_ID=12), x86_64, init systemd, Python 3.11.2``."""
    if facts.get('os_release_path') is None:
        pretty = 'unknown (no os-release)'
    else:
        pretty = facts.get('pretty_name') or facts.get('distribution') or 'unknown'
    ident = 'ID=%s' % facts['distribution'] if facts.get('distribution') else 'ID unset'
    version = ('VERSION_ID=%s' % facts['version']) if facts.get('version') else 'VERSION_ID unset'
    return '%s (%s, %s), %s, init %s, Python %s' % (
        pretty, ident, version, facts.get('architecture') or facts.get('machine') or 'unknown',
        facts.get('init') or 'unknown', facts.get('python') or 'unknown')


def format_message(facts, problems, supported=None, role=None):
    """The ONE message for an unsupported host.

    ``This host is <host>: <problems>. Supported: <table>. Nothing was changed.``; with
    ``role`` the second sentence is ``nsguard.docker.<role> supports <table>.``
    """
    if role:
        role = str(role).strip()
        if '.' not in role:
            role = 'nsguard.docker.' + role
        who = '%s supports' % role
    else:
        who = 'Supported:'
    return 'This host is %s: %s. %s %s. Nothing was changed.' % (
        describe_host(facts), '; '.join(problems), who, describe_supported(supported))
