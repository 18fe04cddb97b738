# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""apt's sources and keyrings: Docker's entries and the keyrings that trust Docker's key.

Standard library only, no Ansible imports. Parses both formats of apt's source files
(one-line ``.list`` and deb822 ``.sources``), tells which entries are Docker's
repository (Docker's host, or one of the URLs the caller names, such as a mirror), finds
the leftovers of older ways to add the repository (:func:`scan_legacy`), says whether
a deb822 source already holds exactly the wanted fields (:func:`source_matches`) and
writes the text of one (:func:`render_source`).

Files are read through a :class:`~._hostfs.HostFS`, so paths are host paths (``/etc/apt``)
and the units point ``etc_root`` at a fixture tree.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import posixpath
import re

from ansible_collections.nsguard.docker.plugins.module_utils import _openpgp

APT_DIR = '/etc/apt'
#: Hosts of Docker's own repository: any entry naming them is Docker's.
DOCKER_HOSTS = ('download.docker.com',)

_URL = re.compile(r'^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/]*)(.*)$')
_URL_HOST = re.compile(r'^[a-z+]+://(?:[^@/]*@)?([^/:]+)')
_ONE_LINE = re.compile(r'^\s*(deb|deb-src)\s+(\[([^\]]*)\]\s+)?(\S+)')
_SIGNED_BY = re.compile(r'signed-by=(\S+)')

# What apt accepts in a source's fields (the engine role's checks too): a URI with a
# scheme, one word, a Debian architecture name.
REPO_URL = re.compile(r'^[a-z0-9+.-]+:[^\s]+$')
ONE_WORD = re.compile(r'^[^\s]+$')
ARCH = re.compile(r'^[a-z0-9-]+$')

#: The fields of a source as ansible.builtin.deb822_repository names them (lower case:
#: as written), in the order :func:`render_source` writes them (ansible-core 2.16's).
SOURCE_FIELDS = (
    ('x-repolib-name', 'X-Repolib-Name'),
    ('types', 'Types'),
    ('uris', 'URIs'),
    ('suites', 'Suites'),
    ('components', 'Components'),
    ('architectures', 'Architectures'),
    ('signed-by', 'Signed-By'),
    ('enabled', 'Enabled'),
)


# ---------------------------------------------------------------------------------------
# URLs

def norm_url(url):
    """``url`` without trailing slashes, scheme and host in lower case."""
    url = url.strip().rstrip('/')
    match = _URL.match(url)
    if not match:
        return url
    return '%s://%s%s' % (match.group(1).lower(), match.group(2).lower(), match.group(3))


def is_docker_uri(uri, repo_urls=()):
    """Whether ``uri`` is one of ``repo_urls`` (normalised) or on Docker's host."""
    uri = norm_url(uri)
    for repo in repo_urls:
        if uri == norm_url(repo):
            return True
    match = _URL_HOST.match(uri)
    return bool(match and match.group(1) in DOCKER_HOSTS)


# ---------------------------------------------------------------------------------------
# parsers

def parse_one_line(text):
    """``[(uri, signed_by)]`` of the active entries of a one-line-style sources file.

    ``signed_by`` is the ``signed-by=`` option, or None.
    """
    entries = []
    for line in text.splitlines():
        match = _ONE_LINE.match(line)
        if not match:
            continue
        options = match.group(3) or ''
        signed = _SIGNED_BY.search(options)
        entries.append((match.group(4), signed.group(1) if signed else None))
    return entries


def parse_deb822(text):
    """The stanzas of a deb822 file: a list of ``{field (lower case): value}``.

    Lines starting with ``#`` are comments; a line starting with a blank continues the
    previous field (joined with a newline, stripped). Stanzas are separated by blank
    lines; a stanza of comments only is no stanza.
    """
    stanzas = []
    for chunk in re.split(r'\n\s*\n', text):
        fields = {}
        key = None
        for line in chunk.splitlines():
            if line.startswith('#'):
                continue
            if line[:1] in (' ', '\t') and key:
                fields[key] += '\n' + line.strip()
                continue
            if ':' in line:
                key, value = line.split(':', 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if fields:
            stanzas.append(fields)
    return stanzas


def deb822_has_comments(text):
    return any(line.startswith('#') for line in text.splitlines())


def _stanza_entry(fields):
    """``(uris, signed_by)`` of a stanza; ``signed_by`` only when it is a path."""
    signed = fields.get('signed-by', '').strip()
    return fields.get('uris', '').split(), (signed if signed.startswith('/') else None)


# ---------------------------------------------------------------------------------------
# Docker's repository as a deb822 source

def source_fields(name, types, uris, suites, components, architectures, signed_by):
    """The fields of an enabled deb822 source, as ``ansible.builtin.deb822_repository``
    writes them: lower-case names, lists joined by a blank, ``Enabled: yes``.

    ``name`` is the ``X-Repolib-Name``; a field whose value is None is left out (a
    ``name`` not given, no ``Architectures``, no ``Components`` for a flat repository).
    """
    values = (('x-repolib-name', name), ('types', types), ('uris', uris), ('suites', suites),
              ('components', components), ('architectures', architectures),
              ('signed-by', signed_by), ('enabled', 'yes'))
    fields = {}
    for key, value in values:
        if value is None:
            continue
        fields[key] = ' '.join(value) if isinstance(value, (list, tuple)) else value
    return fields


def wanted_source_fields(name, uri, suite, components, architecture, signed_by):
    """The fields ``ansible.builtin.deb822_repository`` writes for the role's source
    (``types: [deb]``, ``enabled: true``), lower-case names, values as it formats them."""
    return source_fields(name, ['deb'], [uri], [suite], components, [architecture], signed_by)


def source_matches(text, wanted):
    """Whether deb822 ``text`` is one stanza of exactly the ``wanted`` fields.

    Field order does not matter (ansible-core 2.16 writes them in the task's order, 2.17
    and later sorted), anything else does: another field, another value, a second stanza,
    a comment, a value over several lines (ansible.builtin.deb822_repository would rewrite
    any of those, and so does nsguard.docker.apt_source).
    """
    if text is None or deb822_has_comments(text):
        return False
    stanzas = parse_deb822(text)
    return len(stanzas) == 1 and stanzas[0] == wanted


def render_source(fields):
    """The deb822 text of one stanza of ``fields`` (as :func:`source_fields` makes them):
    one ``Name: value`` line each, in the order of :data:`SOURCE_FIELDS` (any other field
    after those, sorted), ending in a newline. With the role's fields it is byte for byte
    what ``ansible.builtin.deb822_repository`` of ansible-core 2.16 writes."""
    names = dict(SOURCE_FIELDS)
    order = [key for key, _name in SOURCE_FIELDS if key in fields]
    order += sorted(key for key in fields if key not in names)
    return ''.join('%s: %s\n' % (names.get(key, key), fields[key]) for key in order)


# ---------------------------------------------------------------------------------------
# keyrings

def read_keyring(fs, path):
    """``{'exists', 'fingerprints', 'armored', 'error'}`` of the key file at host ``path``."""
    data, exc = fs.try_read(path)
    if exc is not None:
        if isinstance(exc, (IOError, OSError)) and fs.stat(path, missing_ok=True) is None:
            return {'exists': False, 'fingerprints': [], 'armored': None, 'error': None}
        reason = getattr(exc, 'strerror', None) or str(exc)
        return {'exists': True, 'fingerprints': [], 'armored': None, 'error': reason}
    info = _openpgp.keyring_info(data)
    info['exists'] = True
    return info


# ---------------------------------------------------------------------------------------
# leftovers of older set-ups

def _listing(fs, directory, suffix):
    names = fs.listdir(directory, missing_ok=True) or []
    return sorted(posixpath.join(directory, n) for n in names
                  if n.endswith(suffix) and not n.startswith('.'))


def empty_legacy():
    return {'remove': [], 'comment': [], 'manual': [], 'strip': [], 'shared': []}


def scan_legacy(fs, repo_urls, own_source, own_key, fpr, apt_dir=APT_DIR):
    """Leftovers of older ways to add Docker's repository.

    They would make apt see the repository twice with different ``Signed-By`` values, or
    trust Docker's key (``fpr``) for every source. Returns lists of host paths:

    remove   files to delete: sources holding only Docker entries, keyrings holding only
             Docker's key (global ones and those a Docker entry names in Signed-By)
    comment  one-line-style source files that also hold other entries (and
             ``sources.list``): the Docker lines are to be commented out
    manual   deb822 files mixing Docker and other entries, and armored global keyrings
             holding Docker's key among others (left to the operator)
    strip    binary global keyrings holding Docker's key among others (``apt-key add``)
    shared   every global keyring holding Docker's key among other keys (strip and the
             armored ones in manual)

    ``own_source`` and ``own_key`` (the role's own files) are never leftovers.
    """
    result = empty_legacy()
    if not fpr:
        return result
    referenced = set()
    own_source = posixpath.normpath(own_source) if own_source else None
    own_key = posixpath.normpath(own_key) if own_key else None
    sources_d = posixpath.join(apt_dir, 'sources.list.d')
    candidates = [posixpath.join(apt_dir, 'sources.list')]
    candidates += _listing(fs, sources_d, '.list') + _listing(fs, sources_d, '.sources')
    for path in candidates:
        if own_source and posixpath.normpath(path) == own_source:
            continue
        text = fs.read_text(path, missing_ok=True)
        if text is None:
            continue
        if path.endswith('.sources'):
            entries = [_stanza_entry(s) for s in parse_deb822(text) if 'uris' in s or 'types' in s]
            docker = [e for e in entries if e[0] and all(is_docker_uri(u, repo_urls) for u in e[0])]
            partial = [e for e in entries if any(is_docker_uri(u, repo_urls) for u in e[0])
                       and e not in docker]
            if not docker and not partial:
                continue
            referenced.update(e[1] for e in docker + partial if e[1])
            if len(docker) == len(entries) and not partial:
                result['remove'].append(path)
            else:
                result['manual'].append(path)
        else:
            entries = parse_one_line(text)
            docker = [e for e in entries if is_docker_uri(e[0], repo_urls)]
            if not docker:
                continue
            referenced.update(e[1] for e in docker if e[1] and e[1].startswith('/'))
            if len(docker) == len(entries) and not path.endswith('/sources.list'):
                result['remove'].append(path)
            else:
                result['comment'].append(path)
    trusted_d = posixpath.join(apt_dir, 'trusted.gpg.d')
    keyrings = [posixpath.join(apt_dir, 'trusted.gpg')]
    keyrings += _listing(fs, trusted_d, '.gpg') + _listing(fs, trusted_d, '.asc')
    global_rings = set(keyrings)
    keyrings += sorted(referenced - global_rings)
    for path in keyrings:
        if own_key and posixpath.normpath(path) == own_key:
            continue
        info = read_keyring(fs, path)
        if not info['exists'] or info['error'] or fpr not in info['fingerprints']:
            continue
        if all(f == fpr for f in info['fingerprints']):
            result['remove'].append(path)
        elif path in global_rings:
            result['shared'].append(path)
            (result['strip'] if not info.get('armored') else result['manual']).append(path)
    return result
