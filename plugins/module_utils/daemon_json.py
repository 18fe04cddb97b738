# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Docker's daemon.json: load, merge, render, compare, validate and write it.

Plain functions on plain data; no Ansible imports, standard library only. The
``nsguard.docker.daemon_config`` module is a thin wrapper around them, and it is the one
place where the engine, userns_remap and rootless roles change a daemon.json.

* :func:`parse` / :func:`load` read a file into an ``OrderedDict`` (key order kept; an
  empty file is ``{}``), or raise :class:`DaemonJsonError` naming the file and the
  position of the parse error.
* :func:`merge` sets, replaces and removes top-level keys. Nested objects are replaced
  wholesale unless ``merge_nested`` is true. Existing keys keep their place, new keys
  are appended: the rendered diff is as small as it can be.
* :func:`render` is JSON with an indent of 2 and a trailing newline.
* :func:`semantic_equal` compares parsed documents the way dockerd reads them: key order
  and formatting do not matter, JSON types do (``true`` is not ``1``, ``3`` is not
  ``3.0``: dockerd decodes into typed Go fields and rejects a float for an integer).
* :func:`validate` runs ``dockerd --validate --config-file FILE`` on a candidate.
* :func:`flag_conflicts` finds keys that the service's command line already sets as a
  flag (``hosts`` beside ``-H fd://``): dockerd refuses to start with both, and
  ``--validate`` only sees the file.
* Reads and writes go through :mod:`fileops` (no link another user planted is followed).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import copy
import json
import numbers
import os
import re
import shlex
import tempfile

from ansible_collections.nsguard.docker.plugins.module_utils import fileops

DEFAULT_PATH = '/etc/docker/daemon.json'
DEFAULT_MODE = 0o644
#: Where dockerd is looked for when it is not on PATH (Docker CE: /usr/bin; Debian's
#: docker.io: /usr/sbin; static binaries and rootless installs: /usr/local/bin).
DOCKERD_DIRS = ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin']

try:
    _STRING_TYPES = (str, unicode)  # noqa: F821  pylint: disable=undefined-variable
except NameError:
    _STRING_TYPES = (str,)


class DaemonJsonError(Exception):
    """A daemon.json could not be read, parsed, validated or written."""


def _pairs_hook(pairs):
    # Duplicate keys: the last one wins, as with Go's encoding/json (what dockerd uses).
    result = collections.OrderedDict()
    for key, value in pairs:
        if key in result:
            del result[key]
        result[key] = value
    return result


def parse(text, path=DEFAULT_PATH):
    """Parse daemon.json text (str or bytes) into an OrderedDict.

    An empty or whitespace-only document is ``{}``, as dockerd treats it. Anything but
    a JSON object raises :class:`DaemonJsonError`.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode('utf-8')
        except UnicodeDecodeError as exc:
            raise DaemonJsonError(
                '%s is not valid UTF-8 (byte %d): %s' % (path, exc.start, exc.reason))
    if not text.strip():
        return collections.OrderedDict()
    try:
        data = json.loads(text, object_pairs_hook=_pairs_hook)
    except ValueError as exc:
        lineno = getattr(exc, 'lineno', None)
        if lineno is not None:
            where = 'line %d column %d (char %d)' % (exc.lineno, exc.colno, exc.pos)
            reason = exc.msg
        else:  # pragma: no cover - Python 2 has no JSONDecodeError
            where, reason = 'unknown position', str(exc)
        raise DaemonJsonError('%s is not valid JSON: %s at %s' % (path, reason, where))
    if not isinstance(data, dict):
        raise DaemonJsonError(
            '%s must hold a JSON object ({...}) at the top level, not %s'
            % (path, json_type(data)))
    return data


def read(path, follow=True):
    """Text of ``path``, or None if it does not exist (read as :func:`fileops.read_file`
    does: no symbolic link that another user could have planted is followed)."""
    return decode(fileops.read_bytes(path, follow), path)


def decode(raw, path=DEFAULT_PATH):
    """Text of the bytes ``raw`` of ``path`` (None stays None)."""
    if raw is None:
        return None
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise DaemonJsonError(
            '%s is not valid UTF-8 (byte %d): %s' % (path, exc.start, exc.reason))


def load(path, follow=True):
    """``(data, text)`` of ``path``; ``({}, None)`` if the file does not exist."""
    try:
        text = read(path, follow)
    except fileops.FileOpsError as exc:
        raise DaemonJsonError(str(exc))
    return load_text(text, path)


def load_text(text, path=DEFAULT_PATH):
    """``(data, text)`` of the text of ``path``; ``({}, None)`` for None (no file)."""
    if text is None:
        return collections.OrderedDict(), None
    return parse(text, path), text


def json_type(value):
    """JSON type name of a parsed value."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, numbers.Number):
        return 'number'
    if isinstance(value, _STRING_TYPES):
        return 'string'
    if isinstance(value, dict):
        return 'object'
    if isinstance(value, (list, tuple)):
        return 'array'
    return type(value).__name__


def _merge_value(old, new, merge_nested):
    if merge_nested and isinstance(old, dict) and isinstance(new, dict):
        merged = collections.OrderedDict(
            (key, copy.deepcopy(value)) for key, value in old.items())
        for key, value in new.items():
            if key in merged:
                merged[key] = _merge_value(merged[key], value, merge_nested)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    return copy.deepcopy(new)


def merge(current, settings=None, remove=None, merge_nested=False):
    """New document: ``current`` with ``settings`` set and the ``remove`` keys dropped.

    ``current`` is not modified. Keys present in ``current`` keep their position; new
    keys are appended in the order of ``settings``. A key may not be both set and
    removed.
    """
    settings = settings or {}
    remove = list(remove or [])
    both = sorted(set(settings) & set(remove))
    if both:
        raise DaemonJsonError(
            'keys both set and removed: %s' % ', '.join(both))
    result = collections.OrderedDict(
        (key, copy.deepcopy(value)) for key, value in current.items()
        if key not in remove)
    for key, value in settings.items():
        if not isinstance(key, _STRING_TYPES):
            raise DaemonJsonError('daemon.json keys must be strings, got %r' % (key,))
        if key in result:
            result[key] = _merge_value(result[key], value, merge_nested)
        else:
            result[key] = copy.deepcopy(value)
    return result


def render(data):
    """JSON text: indent 2, key order as given, non-ASCII kept, trailing newline."""
    try:
        return json.dumps(data, indent=2, separators=(',', ': '), ensure_ascii=False,
                          allow_nan=False) + '\n'
    except (TypeError, ValueError) as exc:
        raise DaemonJsonError('settings cannot be written as JSON: %s' % exc)


def semantic_equal(left, right):
    """True if two parsed documents mean the same to dockerd.

    Object key order is ignored; array order is not. Types are compared strictly:
    booleans are not numbers, integers are not floats.
    """
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, numbers.Number) or isinstance(right, numbers.Number):
        if not (isinstance(left, numbers.Number) and isinstance(right, numbers.Number)):
            return False
        if isinstance(left, float) != isinstance(right, float):
            return False
        return left == right
    if isinstance(left, dict) or isinstance(right, dict):
        if not (isinstance(left, dict) and isinstance(right, dict)):
            return False
        if set(left) != set(right):
            return False
        return all(semantic_equal(left[key], right[key]) for key in left)
    if isinstance(left, (list, tuple)) or isinstance(right, (list, tuple)):
        if not (isinstance(left, (list, tuple)) and isinstance(right, (list, tuple))):
            return False
        if len(left) != len(right):
            return False
        return all(semantic_equal(a, b) for a, b in zip(left, right))
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, _STRING_TYPES) and isinstance(right, _STRING_TYPES):
        return left == right
    return left == right


def changed_keys(before, after):
    """Sorted top-level keys that were added, removed or changed."""
    keys = set(before) | set(after)
    return sorted(
        key for key in keys
        if key not in before or key not in after
        or not semantic_equal(before[key], after[key]))


def rollback_path(path):
    """Where the previous file is kept until the daemon started with the new one."""
    return path + '.nsguard-rollback'


def validate_command(dockerd, config_file):
    """argv that asks dockerd whether it accepts ``config_file``."""
    return [dockerd, '--validate', '--config-file', config_file]


def validate(run, dockerd, text, tmpdir=None):
    """Run dockerd's own validation on ``text``.

    ``run`` is called with an argv list and returns ``(rc, stdout, stderr)``, like
    ``AnsibleModule.run_command``. The candidate goes to a private temporary file (in
    ``tmpdir``), which is removed again; validation has no other side effects.
    Returns ``(ok, rc, stdout, stderr, argv)``.
    """
    fd, candidate = tempfile.mkstemp(prefix='daemon-json-', suffix='.json', dir=tmpdir)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(text.encode('utf-8'))
        argv = validate_command(dockerd, candidate)
        rc, out, err = run(argv)
    finally:
        try:
            os.unlink(candidate)
        except OSError:
            pass
    return rc == 0, rc, out, err, argv


def validate_unsupported(stderr):
    """True if dockerd's error says it has no --validate flag (Docker older than 23.0)."""
    text = (stderr or '').lower()
    return 'unknown flag' in text and 'validate' in text


#: daemon.json keys whose dockerd flag has another name (dockerd's "named options").
#: Any other key conflicts with the flag of the same name.
KEY_FLAGS = {
    'hosts': 'host',
    'labels': 'label',
    'insecure-registries': 'insecure-registry',
    'registry-mirrors': 'registry-mirror',
    'exec-opts': 'exec-opt',
    'log-opts': 'log-opt',
    'storage-opts': 'storage-opt',
    'default-ulimits': 'default-ulimit',
    'authorization-plugins': 'authorization-plugin',
    'dns-opts': 'dns-opt',
    'node-generic-resources': 'node-generic-resource',
    'default-address-pools': 'default-address-pool',
    'cdi-spec-dirs': 'cdi-spec-dir',
}
#: Keys dockerd merges with their flags instead of refusing both (its skipDuplicates):
#: runtimes from the file and --add-runtime are both used.
MERGED_WITH_FLAGS = frozenset(['runtimes'])
#: Object-valued keys dockerd keeps whole when it compares the file with its flags (its
#: flatOptions). Any other object is flattened one level first, so proxies.http-proxy
#: conflicts with --http-proxy.
FLAT_OPTIONS = frozenset(['cluster-store-opts', 'log-opts', 'runtimes', 'default-ulimits',
                          'features', 'builder', 'default-network-opts'])
#: dockerd's one-letter flags.
SHORT_FLAGS = {'H': 'host', 'D': 'debug', 'l': 'log-level', 'G': 'group', 'b': 'bridge',
               'p': 'pidfile', 's': 'storage-driver', 'g': 'graph'}
_ARGV_RE = re.compile(r'argv\[\]=(.*?) ;')


def exec_start_argvs(show_text):
    """The command lines of ``systemctl show --property ExecStart`` output.

    systemd prints each as ``{ path=... ; argv[]=ARGS ; ignore_errors=no ; ... }``.
    """
    argvs = []
    for line in (show_text or '').splitlines():
        if not line.startswith('ExecStart='):
            continue
        for match in _ARGV_RE.finditer(line):
            try:
                argvs.append(shlex.split(match.group(1)))
            except ValueError:
                argvs.append(match.group(1).split())
    return argvs


def command_line_flags(argv):
    """``{flag name: token}`` for the flags on a dockerd command line (argv[0] is dockerd).

    Values are not needed: only which flags are set. ``-Hfd://`` and ``--host=fd://`` and
    ``-H fd://`` all give ``host``.
    """
    flags = {}
    for token in argv[1:]:
        if token.startswith('--') and len(token) > 2:
            flags.setdefault(token[2:].split('=', 1)[0], token)
        elif token.startswith('-') and len(token) > 1 and token[1] in SHORT_FLAGS:
            flags.setdefault(SHORT_FLAGS[token[1]], token)
    return flags


def flag_conflicts(config, argvs):
    """Sorted ``(key, flag token)`` pairs: keys of ``config`` that a command line sets too.

    As dockerd does, an object value (other than FLAT_OPTIONS) stands for its own keys:
    a nested key is named ``parent.key``.
    """
    keys = []
    for key, value in config.items():
        if isinstance(value, dict) and key not in FLAT_OPTIONS:
            keys.extend(('%s.%s' % (key, sub), sub) for sub in value)
        elif key not in MERGED_WITH_FLAGS:
            keys.append((key, key))
    found = {}
    for argv in argvs:
        flags = command_line_flags(argv)
        for name, key in keys:
            flag = KEY_FLAGS.get(key, key)
            if flag in flags and name not in found:
                found[name] = flags[flag]
    return sorted(found.items())
