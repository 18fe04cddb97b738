# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Subordinate ID ranges: /etc/subuid and /etc/subgid, the way shadow-utils reads them.

Plain functions on plain data; no Ansible imports, standard library only, so the same
code runs in modules, in other module_utils and in the unit tests.

A file is a list of :class:`Line` objects. Entry lines (``owner:start:count``) carry
``owner``, ``start`` and ``count``; comment lines (``#`` in column one) and blank
lines carry only their text. Every line keeps its exact text and line ending, so
:func:`render` gives back the input byte for byte for every line that was not replaced.

A range ``start:count`` covers the ids ``start`` .. ``start + count - 1``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import re

#: Defaults of shadow-utils when login.defs does not set the keys.
DEFAULT_SUB_MIN = 100000
DEFAULT_SUB_MAX = 600100000
DEFAULT_SUB_COUNT = 65536

#: A smaller range cannot hold the 65536 ids that container images routinely use.
MIN_SAFE_COUNT = 65536

#: Highest id a range may contain: 2**32 - 1 is (uid_t)-1, the "no id" value.
MAX_ID = 4294967294

DATABASES = ('subuid', 'subgid')

_LOGIN_DEFS_KEYS = {
    'subuid': ('SUB_UID_MIN', 'SUB_UID_MAX', 'SUB_UID_COUNT'),
    'subgid': ('SUB_GID_MIN', 'SUB_GID_MAX', 'SUB_GID_COUNT'),
}

_DECIMAL = re.compile(r'\A(?:0|[1-9][0-9]*)\Z')
_DIGITS = re.compile(r'\A[0-9]+\Z')

PresentResult = collections.namedtuple('PresentResult', 'entries changed start count')
AbsentResult = collections.namedtuple('AbsentResult', 'entries changed')


class SubidError(Exception):
    """A request that cannot be carried out (overlap, no room, bad value)."""


class SubidParseError(SubidError):
    """A line of a file that is not ``owner:start:count``, a comment or blank."""

    def __init__(self, path, lineno, line, reason):
        self.path = path
        self.lineno = lineno
        self.line = line
        self.reason = reason
        super(SubidParseError, self).__init__(
            "%s:%d: malformed line %r: %s; expected 'owner:start:count' with non-negative "
            "decimal integers (nothing was changed; fix the line by hand)" % (path, lineno, line, reason))


class Line(object):
    """One line of a subuid/subgid file.

    ``text`` is the line without its line ending, ``eol`` is ``'\\n'`` or ``''`` (last
    line without newline), ``lineno`` the 1-based line number in the parsed text (None
    for lines made by this module). ``owner``/``start``/``count`` are None unless the
    line is an entry.
    """

    __slots__ = ('text', 'eol', 'lineno', 'owner', 'start', 'count')

    def __init__(self, text, eol='\n', lineno=None, owner=None, start=None, count=None):
        self.text = text
        self.eol = eol
        self.lineno = lineno
        self.owner = owner
        self.start = start
        self.count = count

    @classmethod
    def entry(cls, owner, start, count):
        """A new entry line ``owner:start:count``."""
        return cls('%s:%d:%d' % (owner, start, count), '\n', None, owner, start, count)

    @property
    def is_entry(self):
        return self.owner is not None

    @property
    def end(self):
        """First id after the range (exclusive end)."""
        return self.start + self.count

    def __eq__(self, other):
        if not isinstance(other, Line):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __repr__(self):
        return 'Line(%r, eol=%r, lineno=%r)' % (self.text, self.eol, self.lineno)


# ---------------------------------------------------------------------------------------
# parsing and rendering

def _split_lines(text):
    """Yield (lineno, text, eol) splitting on '\\n' only (a '\\r' stays in the text)."""
    pieces = text.split('\n')
    last = len(pieces) - 1
    for idx, piece in enumerate(pieces):
        if idx == last:
            if piece:
                yield idx + 1, piece, ''
        else:
            yield idx + 1, piece, '\n'


def _malformed_reason(line):
    if '\r' in line:
        return 'carriage return in line (CRLF line endings?)'
    fields = line.split(':')
    if len(fields) != 3:
        return 'has %d field(s), not 3' % len(fields)
    owner, start, count = fields
    if not owner:
        return 'empty owner'
    if owner != owner.strip() or any(c.isspace() for c in owner):
        return 'white space in owner'
    for label, value in (('start', start), ('count', count)):
        if not value:
            return 'empty %s' % label
        if not _DIGITS.match(value):
            return '%s %r is not a non-negative decimal integer' % (label, value)
        if len(value) > 1 and value[0] == '0':
            return ('%s %r has a leading zero (ambiguous: some shadow-utils versions read it '
                    'as octal)' % (label, value))
    return None


def parse(text, path='<subid>'):
    """Parse the text of a subuid/subgid file into a list of :class:`Line`.

    Blank (white space only) lines and lines whose first character is ``#`` are kept
    verbatim and ignored. Any other line must be exactly ``owner:start:count``;
    otherwise :class:`SubidParseError` names ``path`` and the line number.
    """
    lines = []
    for lineno, piece, eol in _split_lines(text):
        if not piece.strip() and '\r' not in piece or piece.startswith('#'):
            lines.append(Line(piece, eol, lineno))
            continue
        reason = _malformed_reason(piece)
        if reason is not None:
            raise SubidParseError(path, lineno, piece, reason)
        owner, start, count = piece.split(':')
        lines.append(Line(piece, eol, lineno, owner, int(start), int(count)))
    return lines


def render(entries):
    """Text of a file from its lines; untouched lines come out byte-identical.

    A line that had no line ending (last line of a file without final newline) gets
    one only if another line now follows it.
    """
    out = []
    last = len(entries) - 1
    for idx, line in enumerate(entries):
        out.append(line.text)
        out.append(line.eol if line.eol or idx == last else '\n')
    return ''.join(out)


# ---------------------------------------------------------------------------------------
# login.defs

def _login_defs_items(text):
    items = {}
    for lineno, piece, dummy in _split_lines(text):
        stripped = piece.strip()
        if not stripped or stripped.startswith('#'):
            continue
        fields = stripped.split(None, 1)
        value = fields[1].strip() if len(fields) > 1 else ''
        if len(value) > 1 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        items[fields[0]] = (value, lineno)
    return items


def parse_login_defs(text):
    """Return ``{KEY: value}`` (strings) of a login.defs text; later settings win, as in
    shadow-utils."""
    return dict((key, item[0]) for key, item in _login_defs_items(text).items())


def login_defs_limits(text=None, path='<login.defs>'):
    """SUB_UID_*/SUB_GID_* settings of a login.defs text (None: file absent).

    Returns ``{'subuid': {'min': .., 'max': .., 'count': ..}, 'subgid': {...}}`` with
    the shadow-utils defaults 100000 / 600100000 / 65536 for unset keys. A value that
    is not a non-negative decimal integer, or a MIN above its MAX, raises
    :class:`SubidError` naming the file and line.
    """
    items = _login_defs_items(text or '')
    defaults = (DEFAULT_SUB_MIN, DEFAULT_SUB_MAX, DEFAULT_SUB_COUNT)
    result = {}
    for database, keys in _LOGIN_DEFS_KEYS.items():
        limits = {}
        for key, name, default in zip(keys, ('min', 'max', 'count'), defaults):
            if key not in items:
                limits[name] = default
                continue
            value, lineno = items[key]
            if not _DECIMAL.match(value):
                raise SubidError('%s:%d: %s %r is not a non-negative decimal integer'
                                 % (path, lineno, key, value))
            limits[name] = int(value)
        if limits['min'] > limits['max']:
            raise SubidError('%s: %s (%d) is greater than %s (%d)'
                             % (path, keys[0], limits['min'], keys[1], limits['max']))
        result[database] = limits
    return result


# ---------------------------------------------------------------------------------------
# ownership and overlaps

def owns(line, user, uid=None):
    """True if ``line`` is an entry of ``user`` (by name, or by numeric ``uid``)."""
    if not line.is_entry:
        return False
    return line.owner == user or (uid is not None and line.owner == str(uid))


def user_entries(entries, user, uid=None):
    """The entries of ``user`` (by name or numeric uid), in file order."""
    return [line for line in entries if owns(line, user, uid)]


def foreign_entries(entries, user, uid=None):
    """The entries of everybody but ``user``, in file order."""
    return [line for line in entries if line.is_entry and not owns(line, user, uid)]


def ranges_overlap(start_a, count_a, start_b, count_b):
    """True if ``[start_a, start_a+count_a)`` and ``[start_b, start_b+count_b)`` intersect."""
    if count_a <= 0 or count_b <= 0:
        return False
    return start_a < start_b + count_b and start_b < start_a + count_a


def _describe(line):
    where = ' (line %d)' % line.lineno if line.lineno else ''
    return "%s's range %d-%d%s" % (line.owner, line.start, line.end - 1, where)


def find_overlaps(entries, resolve_owner=None):
    """Overlapping ranges that belong to different principals.

    ``entries``: lines as returned by :func:`parse` (non-entries are skipped).
    ``resolve_owner``: callable mapping an owner string to a principal key (for
    example a user name and its numeric uid to the same uid); default: the owner
    string itself. Ranges of the same principal may overlap each other freely.

    Returns a list of dicts, ordered by the start of the earlier range::

        {'a': {'owner', 'principal', 'start', 'count', 'line'},   # starts first
         'b': {...},
         'start': first shared id, 'count': number of shared ids}

    ``line`` is the 1-based line number (None for lines not read from a file).
    """
    if resolve_owner is None:
        def resolve_owner(owner):
            return owner
    items = []
    for idx, line in enumerate(entries):
        if line.is_entry and line.count > 0:
            items.append((line.start, idx, line, resolve_owner(line.owner)))
    items.sort(key=lambda item: (item[0], item[1]))

    def as_dict(line, principal):
        return {'owner': line.owner, 'principal': principal, 'start': line.start,
                'count': line.count, 'line': line.lineno}

    result = []
    active = []
    for start, dummy, line, principal in items:
        active = [item for item in active if item[2].end > start]
        for other in active:
            if other[3] != principal:
                shared_end = min(other[2].end, line.end)
                result.append({'a': as_dict(other[2], other[3]), 'b': as_dict(line, principal),
                               'start': start, 'count': shared_end - start})
        active.append((start, dummy, line, principal))
    return result


# ---------------------------------------------------------------------------------------
# requests

def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate_request(count, start=None, allow_small_count=False):
    """Check a requested range before any file is read; raise :class:`SubidError`."""
    if not _is_int(count) or count < 1:
        raise SubidError('count must be an integer >= 1, got %r' % (count,))
    if count < MIN_SAFE_COUNT and not allow_small_count:
        raise SubidError('count %d is below %d: container images routinely use uids and gids up '
                         'to 65535, which would then not map; set allow_small_count to really '
                         'want this' % (count, MIN_SAFE_COUNT))
    if count - 1 > MAX_ID:
        raise SubidError('count %d exceeds the id space (highest usable id is %d)' % (count, MAX_ID))
    if start is not None:
        if not _is_int(start) or start < 0:
            raise SubidError('start must be a non-negative integer, got %r' % (start,))
        if start + count - 1 > MAX_ID:
            raise SubidError('range %d-%d (start %d, count %d) goes past %d, the highest usable id '
                             '(4294967295 is (uid_t)-1)' % (start, start + count - 1, start, count, MAX_ID))


def find_free_start(foreign, count, min_id=DEFAULT_SUB_MIN, max_id=DEFAULT_SUB_MAX):
    """Lowest ``start >= min_id`` such that ``[start, start+count)`` overlaps none of the
    ``foreign`` entries and ``start + count - 1 <= max_id`` (max_id is inclusive, as
    SUB_UID_MAX in shadow-utils). Raise :class:`SubidError` when there is no room."""
    top = min(max_id, MAX_ID)
    ranges = sorted((line.start, line.end) for line in foreign
                    if line.is_entry and line.count > 0 and line.end > min_id)
    low = min_id
    for first, end in ranges:
        if first - low >= count:
            break
        if end > low:
            low = end
    if low + count - 1 <= top:
        return low
    raise SubidError('no free range of %d ids between %d and %d (SUB_*_MIN/SUB_*_MAX); the '
                     'other owners take the rest' % (count, min_id, top))


def ensure_present(entries, user, uid, count, start=None, min_id=DEFAULT_SUB_MIN,
                   max_id=DEFAULT_SUB_MAX, allow_small_count=False):
    """Make sure ``user`` has a range of at least ``count`` ids that overlaps nobody else's.

    ``entries``: parsed lines; ``uid``: the user's numeric uid, or None (then only lines
    owned by the name are the user's). If one of the user's entries already has
    ``count >= count`` (and the same ``start`` when one is given) and none of the user's
    entries overlaps a foreign range, nothing changes. Otherwise all of the user's lines
    are replaced by one ``user:start:count`` line at the place of the first of them (or
    appended). Without ``start`` the range keeps the start of one of the user's
    entries if the larger range still fits there within [min_id, max_id], else it is
    the lowest free one within [min_id, max_id].

    Foreign lines, comments and blank lines are never changed or moved.
    Returns ``PresentResult(entries, changed, start, count)``.
    """
    validate_request(count, start, allow_small_count)
    own = user_entries(entries, user, uid)
    foreign = foreign_entries(entries, user, uid)

    def clashes(first, size):
        return [line for line in foreign if ranges_overlap(first, size, line.start, line.count)]

    if not any(clashes(line.start, line.count) for line in own):
        for line in own:
            if line.count >= count and (start is None or line.start == start) \
                    and line.end - 1 <= MAX_ID:
                return PresentResult(list(entries), False, line.start, line.count)

    if start is not None:
        clash = clashes(start, count)
        if clash:
            raise SubidError('requested range %d-%d for %s overlaps %s' % (
                start, start + count - 1, user, ', '.join(_describe(line) for line in clash)))
        new_start = start
    else:
        new_start = None
        top = min(max_id, MAX_ID)
        for line in own:
            if line.start >= min_id and line.start + count - 1 <= top \
                    and not clashes(line.start, count):
                new_start = line.start
                break
        if new_start is None:
            new_start = find_free_start(foreign, count, min_id, max_id)

    new_line = Line.entry(user, new_start, count)
    result = []
    placed = False
    for line in entries:
        if owns(line, user, uid):
            if not placed:
                result.append(new_line)
                placed = True
            continue
        result.append(line)
    if not placed:
        result.append(new_line)
    return PresentResult(result, render(result) != render(entries), new_start, count)


def ensure_absent(entries, user, uid=None):
    """Remove every line of ``user`` (by name or numeric uid).

    Returns ``AbsentResult(entries, changed)``."""
    result = [line for line in entries if not owns(line, user, uid)]
    return AbsentResult(result, len(result) != len(entries))
