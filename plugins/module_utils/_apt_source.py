# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An apt repository in one run: its key, its deb822 source and apt's lists of it.

The logic of ``nsguard.docker.apt_source``. Standard library only, no Ansible imports:
plain functions on plain data, and the module passes in how a key is downloaded and how
apt is run, so the units fake both. Files are read and written through :mod:`.fileops`
(no symbolic link followed that someone other than root could have planted; atomic
writes), the source is compared and rendered by :mod:`._apt_sources`, keys are read by
:mod:`._openpgp` (no gpg, no python3-debian).

:func:`run` does it all, in this order:

1. the options are checked (:func:`check_options`): a bad one fails before anything is
   read;
2. the key file and the source file are read;
3. a key that is not right (not exactly the expected primary key, or not in the format
   its name tells apt) is fetched (``key_url``) or read (``key_file``) into memory and
   its fingerprint checked, in check mode too: a wrong key fails the run before anything
   is written. A right key whose mode or owner drifted only gets them set, without a
   download;
4. the source is rendered and compared by meaning with the file
   (:func:`._apt_sources.source_matches`);
5. in check mode the run stops here and says what would change;
6. the key, then the source, are written (or only their mode and owner set);
7. when either changed, ``apt-get update`` of that source alone; when apt rejects it,
   both files are put back as they were before the run and the run fails with apt's
   error lines.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import posixpath
import re
import stat

from ansible_collections.nsguard.docker.plugins.module_utils import _apt_sources, _openpgp, fileops

#: Mode of the key and of the source; directories made for them get DIR_MODE.
FILE_MODE = 0o644
DIR_MODE = 0o755
#: Owner and group of the key, the source and a directory made for either (the units,
#: which may run as another user, set their own).
OWNER = (0, 0)
#: A repository key is a few kilobytes: a download larger than this is not one.
MAX_KEY_SIZE = 1024 * 1024
#: Download timeout (seconds) when none is given.
DEFAULT_TIMEOUT = 30
TYPES = ('deb', 'deb-src')
#: The key file names apt reads as keyrings, and whether it wants them armored.
KEY_SUFFIXES = (('.asc', True), ('.gpg', False))
#: The source file names apt reads in sources.list.d as deb822 (others it ignores).
_SOURCE_NAME = re.compile(r'^[A-Za-z0-9_.-]+\.sources$')
_FINGERPRINT = re.compile(r'^(?:[0-9A-F]{40}|[0-9A-F]{64})$')
#: Lines of ``apt-get update`` (LC_ALL=C) saying that it rejected a source.
_APT_ERROR = re.compile(r'^(?:E:|Err:|W: GPG error|W: Failed)')
NOTHING_CHANGED = 'Nothing was changed.'


class AptSourceError(Exception):
    """The run failed: ``msg`` says why, ``result`` is what the module returns with it."""

    def __init__(self, msg, result=None):
        super(AptSourceError, self).__init__(msg)
        self.msg = msg
        self.result = dict(result or {})


class KeyFetchError(Exception):
    """Raised by the fetcher given to :func:`run`: the key could not be downloaded."""


def _show(values):
    return ', '.join(json.dumps(v) for v in values)


def _ends_with_nothing_changed(msg):
    return msg.rstrip('. ').lower().endswith('nothing was changed')


def _with_nothing_changed(msg):
    msg = msg.rstrip()
    if _ends_with_nothing_changed(msg):
        return msg if msg.endswith('.') else msg + '.'
    return '%s. %s' % (msg.rstrip('.'), NOTHING_CHANGED)


def key_armored(key_path):
    """Whether apt wants the key at ``key_path`` armored (``.asc``; ``.gpg``: binary), or
    None for a name apt does not read as a keyring."""
    for suffix, armored in KEY_SUFFIXES:
        if key_path.endswith(suffix):
            return armored
    return None


# ---------------------------------------------------------------------------------------
# options

def _list(value):
    return [] if value is None else list(value)


def _words(option, values, pattern, what):
    bad = [v for v in values if not pattern.match(v or '')]
    return ['%s: %s %s' % (option, _show(bad), what)] if bad else []


def check_options(params):
    """The options of the module, checked and normalised, or :class:`AptSourceError`
    naming every bad one (before anything is read or written)."""
    problems = []
    path = params.get('path') or ''
    key_path = params.get('key_path') or ''
    if not posixpath.isabs(path):
        problems.append('path %s is not an absolute path' % json.dumps(path))
    elif not _SOURCE_NAME.match(posixpath.basename(path)):
        problems.append('path %s: apt reads a deb822 source only from a file named '
                        '<letters, digits, _ - .>.sources' % json.dumps(path))
    if not posixpath.isabs(key_path) or not _apt_sources.ONE_WORD.match(key_path) or ',' in key_path:
        problems.append('key_path %s is not an absolute path without blanks or commas (the '
                        'source\'s Signed-By)' % json.dumps(key_path))
    elif key_armored(key_path) is None:
        problems.append('key_path %s: apt reads a keyring only from a file named *.asc '
                        '(armored) or *.gpg (binary)' % json.dumps(key_path))
    elif posixpath.normpath(key_path) == posixpath.normpath(path):
        problems.append('key_path and path are the same file')

    key_url = params.get('key_url') or None
    key_file = params.get('key_file') or None
    if params.get('key_url') == '' or params.get('key_file') == '':
        problems.append('key_url and key_file may not be empty (leave the one not used out)')
    elif key_url and key_file:
        problems.append('key_url and key_file are mutually exclusive')
    elif not key_url and not key_file:
        problems.append('one of key_url or key_file is required')
    if key_url and not _apt_sources.REPO_URL.match(key_url):
        problems.append('key_url %s is not a URL of one word' % json.dumps(key_url))
    if key_file and not posixpath.isabs(key_file):
        problems.append('key_file %s is not an absolute path' % json.dumps(key_file))

    fingerprint = _openpgp.normalize_fingerprint(params.get('key_fingerprint'))
    if not _FINGERPRINT.match(fingerprint):
        problems.append('key_fingerprint %s is not a fingerprint (40 hexadecimal digits for a '
                        'v4 key, 64 for v5 and v6; blanks allowed)'
                        % json.dumps(params.get('key_fingerprint') or ''))

    name = params.get('name')
    if name is not None and (not name.strip() or name != name.strip() or '\n' in name):
        problems.append('name %s is empty, has blanks at either end or a line break (leave it '
                        'out for no X-Repolib-Name)' % json.dumps(name))

    types = _list(params.get('types'))
    uris = _list(params.get('uris'))
    suites = _list(params.get('suites'))
    components = _list(params.get('components'))
    architectures = _list(params.get('architectures'))
    for option, values in (('types', types), ('uris', uris), ('suites', suites)):
        if not values:
            problems.append('%s is empty (apt refuses a source without %s)' % (option, option.capitalize()))
    problems += _words('types', types, re.compile(r'^(?:%s)$' % '|'.join(TYPES)),
                       'not one of %s' % ', '.join(TYPES))
    problems += _words('uris', uris, _apt_sources.REPO_URL, 'not a URI of one word (scheme:...)')
    problems += _words('suites', suites, _apt_sources.ONE_WORD, 'not one word (empty, or with blanks)')
    problems += _words('components', components, _apt_sources.ONE_WORD,
                       'not one word (empty, or with blanks)')
    problems += _words('architectures', architectures, _apt_sources.ARCH,
                       'not a Debian architecture name')
    flat = [s for s in suites if s.endswith('/')]
    if flat and components:
        problems.append('components must be empty for suites that are paths ending in / (a '
                        'flat repository): %s' % _show(flat))
    elif len(flat) < len(suites) and not components:
        problems.append('components is empty (apt refuses a source without Components, '
                        'unless every suite is a path ending in /)')

    timeout = params.get('timeout')
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    if timeout <= 0:
        problems.append('timeout must be a positive number of seconds')

    if problems:
        raise AptSourceError('Bad options for the apt source %s: %s. %s'
                             % (path, '; '.join(problems), NOTHING_CHANGED))
    return {
        'path': path,
        'name': name,
        'types': types,
        'uris': uris,
        'suites': suites,
        'components': components or None,
        'architectures': architectures or None,
        'key_path': key_path,
        'key_url': key_url,
        'key_file': key_file,
        'key_fingerprint': fingerprint,
        'validate_certs': params.get('validate_certs', True) is not False,
        'timeout': timeout,
        'update_lists': params.get('update_lists', True) is not False,
    }


def wanted_fields(options):
    """The fields of the source (:func:`._apt_sources.source_fields`)."""
    return _apt_sources.source_fields(options['name'], options['types'], options['uris'],
                                      options['suites'], options['components'],
                                      options['architectures'], options['key_path'])


def update_argv(apt_get, path):
    """``apt-get update`` of the source at ``path`` alone, keeping the other lists."""
    return [apt_get, '-q', 'update',
            '-o', 'Dir::Etc::SourceList=%s' % path,
            '-o', 'Dir::Etc::SourceParts=-',
            '-o', 'APT::Get::List-Cleanup=false']


def apt_errors(out, err):
    """The lines of apt's output that say it rejected the source."""
    lines = (out or '').splitlines() + (err or '').splitlines()
    return [line.strip() for line in lines if _APT_ERROR.match(line.strip())]


# ---------------------------------------------------------------------------------------
# files

def read_state(path, what):
    """What is at ``path`` now: ``{'path', 'real', 'exists', 'data', 'mode', 'uid', 'gid'}``
    (``real``: the file a link in a root-only directory leads to)."""
    try:
        state = fileops.read_file(path, follow=True)
    except fileops.FileOpsError as exc:
        raise AptSourceError(_with_nothing_changed('cannot read the %s %s: %s' % (what, path, exc)))
    found = state.data is not None
    return {
        'path': path,
        'real': state.real,
        'exists': found,
        'data': state.data,
        'mode': stat.S_IMODE(state.stat.st_mode) if found else None,
        'uid': state.stat.st_uid if found else None,
        'gid': state.stat.st_gid if found else None,
    }


def attributes_ok(state, owner):
    return state['exists'] and (state['mode'], state['uid'], state['gid']) == (FILE_MODE,) + tuple(owner)


def _attributes(state):
    return {'mode': '%04o' % state['mode'], 'owner': state['uid'], 'group': state['gid']}


def _write(state, data, owner):
    fileops.atomic_write(state['real'], data, mode=FILE_MODE, uid=owner[0], gid=owner[1],
                         follow=True, create_dirs=True, dir_mode=DIR_MODE)


def _set_attributes(state, owner):
    fileops.set_attributes(state['real'], FILE_MODE, owner[0], owner[1], follow=True)


def restore(changes):
    """Put each file of ``changes`` (states read before the run, last changed last) back
    as it was: its bytes, mode and owner, or no file where there was none. Returns
    ``(phrases, errors)``: what was done to each, what could not be done."""
    done, errors = [], []
    for state, kind in reversed(changes):
        try:
            if not state['exists']:
                fileops.remove(state['real'])
                done.append('%s was removed (there was none before)' % state['path'])
                continue
            if kind == 'attributes':
                fileops.set_attributes(state['real'], state['mode'], state['uid'], state['gid'],
                                       follow=True)
            else:
                fileops.atomic_write(state['real'], state['data'], mode=state['mode'],
                                     uid=state['uid'], gid=state['gid'], follow=True)
            done.append('%s was put back as it was' % state['path'])
        except fileops.FileOpsError as exc:
            errors.append('%s could not be put back: %s' % (state['path'], exc))
    return done, errors


# ---------------------------------------------------------------------------------------
# the key

def get_key(options, fetch):
    """The new key's bytes and :func:`._openpgp.keyring_info`, from ``key_url`` (through
    ``fetch``) or ``key_file``, checked: exactly the expected primary key, in the format
    the name of ``key_path`` tells apt. Nothing is written."""
    expected = options['key_fingerprint']
    origin = options['key_url'] or options['key_file']
    not_written = 'The key was not installed and no apt source was written. ' + NOTHING_CHANGED
    if options['key_url']:
        try:
            data = fetch(options['key_url'], options['validate_certs'], options['timeout'])
        except KeyFetchError as exc:
            raise AptSourceError('Cannot download the repository key from %s: %s. %s'
                                 % (origin, exc, not_written))
    else:
        try:
            data = fileops.read_bytes(options['key_file'], follow=True)
        except fileops.FileOpsError as exc:
            raise AptSourceError('Cannot read the repository key %s: %s. %s' % (origin, exc, not_written))
        if data is None:
            raise AptSourceError('The repository key %s (key_file) does not exist. %s' % (origin, not_written))
    if len(data) > MAX_KEY_SIZE:
        raise AptSourceError('The repository key from %s is larger than %d bytes, so not a key. %s'
                             % (origin, MAX_KEY_SIZE, not_written))
    info = _openpgp.keyring_info(data)
    if info['error'] or info['fingerprints'] != [expected]:
        found = ', '.join(info['fingerprints']) or 'none'
        plural = 's' if len(info['fingerprints']) > 1 else ''
        raise AptSourceError(
            'The repository key from %s has fingerprint%s %s%s, expected %s (key_fingerprint): '
            'it must hold exactly that one primary key. %s'
            % (origin, plural, found, ' (%s)' % info['error'] if info['error'] else '', expected,
               not_written), {'key': {'path': options['key_path'], 'fingerprints': info['fingerprints'],
                                      'changed': False, 'fetched': True}})
    wanted = key_armored(options['key_path'])
    if info['armored'] != wanted:
        raise AptSourceError(
            'The repository key from %s is %s, but apt reads %s as %s: name key_path *.%s. %s'
            % (origin, 'armored' if info['armored'] else 'binary', options['key_path'],
               'armored' if wanted else 'binary', 'asc' if info['armored'] else 'gpg', not_written))
    return data, info


def _key_summary(exists, info, attributes):
    """What a diff shows of a key: its fingerprints and format, never its bytes."""
    if not exists:
        return ''
    lines = ['fingerprints: %s' % (', '.join(info['fingerprints']) or 'none')]
    if info.get('error'):
        lines.append('error: %s' % info['error'])
    if info.get('armored') is not None:
        lines.append('format: %s' % ('armored' if info['armored'] else 'binary'))
    lines += ['mode: %s' % attributes['mode'], 'owner: %s' % attributes['owner'],
              'group: %s' % attributes['group']]
    return '\n'.join(lines) + '\n'


def _key_header(path, info):
    return '%s (key %s)' % (path, ', '.join(info['fingerprints']) or 'none') if info else path


# ---------------------------------------------------------------------------------------
# the run

def run(params, fetch, run_apt, check_mode=False, apt_get='apt-get', owner=None):
    """Make the key and the source right, and apt's lists of the source when they changed.

    ``fetch(url, validate_certs, timeout)`` returns the key's bytes or raises
    :class:`KeyFetchError`; ``run_apt(argv)`` returns ``(rc, stdout, stderr)``. Returns
    the module's result with ``diff`` (a list); raises :class:`AptSourceError` (with the
    result so far) on failure, having put back anything it changed.
    """
    owner = tuple(OWNER if owner is None else owner)
    result = {
        'changed': False,
        'key': {'path': params.get('key_path'), 'fingerprints': [], 'changed': False, 'fetched': False},
        'source': {'path': params.get('path'), 'changed': False, 'text': None},
        'source_new': False,
        'lists_updated': False,
    }
    try:
        return _run(params, fetch, run_apt, check_mode, apt_get, owner, result)
    except AptSourceError as exc:
        failed = dict(result)
        failed.update(exc.result)
        exc.result = failed
        raise


def _run(params, fetch, run_apt, check_mode, apt_get, owner, result):
    options = check_options(params)
    path, key_path = options['path'], options['key_path']
    diffs = []

    # Read both files first: one that cannot be read fails the run before any change.
    key_state = read_state(key_path, 'repository key')
    source_state = read_state(path, 'apt source')
    result['source_new'] = not source_state['exists']

    # The key: kept, its mode and owner set, or fetched, checked and written.
    key_info = (_openpgp.keyring_info(key_state['data']) if key_state['exists']
                else {'fingerprints': [], 'armored': None, 'error': None})
    key_content_ok = (key_state['exists'] and not key_info['error']
                      and key_info['fingerprints'] == [options['key_fingerprint']]
                      and key_info['armored'] == key_armored(key_path))
    new_key = None
    key_action = None
    if not key_content_ok:
        new_key, new_info = get_key(options, fetch)
        key_action = 'write'
        result['key'].update(fingerprints=new_info['fingerprints'], changed=True, fetched=True)
        after_attributes = {'mode': '%04o' % FILE_MODE, 'owner': owner[0], 'group': owner[1]}
        diffs.append({
            'before': _key_summary(key_state['exists'], key_info,
                                   _attributes(key_state) if key_state['exists'] else None),
            'after': _key_summary(True, new_info, after_attributes),
            'before_header': _key_header(key_path, key_info if key_state['exists'] else None),
            'after_header': _key_header(key_path, new_info),
        })
    else:
        result['key']['fingerprints'] = key_info['fingerprints']
        if not attributes_ok(key_state, owner):
            key_action = 'attributes'
            result['key']['changed'] = True
            diffs.append({'before': _attributes(key_state),
                          'after': {'mode': '%04o' % FILE_MODE, 'owner': owner[0], 'group': owner[1]},
                          'before_header': key_path, 'after_header': key_path})

    # The source: kept, its mode and owner set, or written.
    fields = wanted_fields(options)
    text = _apt_sources.render_source(fields)
    old_text = (source_state['data'].decode('utf-8', 'replace')
                if source_state['exists'] else None)
    source_action = None
    if source_state['exists'] and _apt_sources.source_matches(old_text, fields):
        result['source']['text'] = old_text
        if not attributes_ok(source_state, owner):
            source_action = 'attributes'
            diffs.append({'before': _attributes(source_state),
                          'after': {'mode': '%04o' % FILE_MODE, 'owner': owner[0], 'group': owner[1]},
                          'before_header': path, 'after_header': path})
    else:
        source_action = 'write'
        result['source']['text'] = text
        diffs.append({'before': old_text or '', 'after': text,
                      'before_header': path, 'after_header': path})
    result['source']['changed'] = source_action is not None
    result['changed'] = bool(key_action or source_action)
    result['diff'] = diffs
    if check_mode or not result['changed']:
        return result

    changes = []
    try:
        if key_action == 'write':
            _write(key_state, new_key, owner)
        elif key_action == 'attributes':
            _set_attributes(key_state, owner)
        if key_action:
            changes.append((key_state, key_action))
        if source_action == 'write':
            _write(source_state, text.encode('utf-8'), owner)
        elif source_action == 'attributes':
            _set_attributes(source_state, owner)
        if source_action:
            changes.append((source_state, source_action))
    except fileops.FileOpsError as exc:
        done, errors = restore(changes)
        result['changed'] = bool(errors)
        raise AptSourceError(' '.join(['Cannot write the repository key or source: %s.' % exc]
                                      + [d + '.' for d in done] + [e + '.' for e in errors]
                                      + ([] if errors else [NOTHING_CHANGED])), result)

    if not options['update_lists']:
        return result
    rc, out, err = run_apt(update_argv(apt_get, path))
    result['apt_stdout'] = (out or '').splitlines()
    result['apt_stderr'] = (err or '').splitlines()
    errors = apt_errors(out, err)
    if rc == 0 and not errors:
        result['lists_updated'] = True
        return result

    done, failed = restore(changes)
    result['changed'] = bool(failed)
    result['restored'] = [state['path'] for state, _kind in changes]
    said = ' '.join(errors) or 'apt-get update exited with %d: %s' % (
        rc, (err or out or '').strip() or 'no output')
    msg = 'apt rejected the source %s (%s %s): %s. ' % (
        path, ' '.join(options['uris']), ' '.join(options['suites']), said.rstrip('.'))
    if failed:
        msg += '%s. %s. apt may fail on every source until that is fixed by hand.' % (
            '; '.join(done) or 'Nothing could be put back', '; '.join(failed))
    else:
        msg += '%s, so apt works as before (the previous source and key).' % '; '.join(done)
    raise AptSourceError(msg, result)
