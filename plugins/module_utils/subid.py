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

#: Names a user that does not exist (yet) may have: a conservative subset of what
#: useradd accepts, that no shadow-utils version reads as a number.
LOGIN_NAME = re.compile(r'\A[A-Za-z_][A-Za-z0-9._-]*\$?\Z')
LOGIN_NAME_MAX = 32

#: ``moved``: the user's lines that were replaced when the new range does not contain
#: every id of them (the user's ids were moved); empty otherwise.
#: ``source``: ``'file'``, or ``'getsubids'`` when the range that satisfied the request is
#: one only getsubids reported (an NSS subid provider's; nothing is written for it).
PresentResult = collections.namedtuple('PresentResult', 'entries changed start count moved source')
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
    first, size = int(start), int(count)
    if first > MAX_ID:
        return ('start %s is past %d, the highest usable id (4294967295 is (uid_t)-1)'
                % (start, MAX_ID))
    if size > MAX_ID + 1:
        return 'count %s is larger than the id space (%d ids)' % (count, MAX_ID + 1)
    if size and first + size - 1 > MAX_ID:
        return ('range %d-%d goes past 4294967294, the highest usable id (4294967295 is '
                '(uid_t)-1)' % (first, first + size - 1))
    return None


def parse(text, path='<subid>'):
    """Parse the text of a subuid/subgid file into a list of :class:`Line`.

    Blank (white space only) lines and lines whose first character is ``#`` are kept
    verbatim and ignored. Any other line must be exactly ``owner:start:count`` with
    ``start <= MAX_ID``, ``count <= MAX_ID + 1`` and, unless ``count`` is 0, the last
    id ``start + count - 1 <= MAX_ID``; otherwise :class:`SubidParseError` names
    ``path`` and the line number.
    """
    lines, malformed = scan(text)
    if malformed:
        raise SubidParseError(path, *malformed[0])
    return lines


def scan(text):
    """Read every line of a subuid/subgid text without raising, by the rules of :func:`parse`.

    Returns (lines, malformed): the :class:`Line` of each well-formed, blank or comment line,
    and ``(lineno, text, reason)`` for each other line. :func:`parse` refuses a file with any
    malformed line before changing it; the audit reports them and reads the rest.
    """
    lines, malformed = [], []
    for lineno, piece, eol in _split_lines(text):
        if not piece.strip() and '\r' not in piece or piece.startswith('#'):
            lines.append(Line(piece, eol, lineno))
            continue
        reason = _malformed_reason(piece)
        if reason is not None:
            malformed.append((lineno, piece, reason))
            continue
        owner, start, count = piece.split(':')
        lines.append(Line(piece, eol, lineno, owner, int(start), int(count)))
    return lines, malformed


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
# user names

def owner_field_problem(name):
    """Why ``name`` cannot be the owner field of a line (None if it can)."""
    if not name:
        return 'name must not be empty'
    if ':' in name or name.startswith('#') or any(c.isspace() for c in name):
        return ('name %r cannot be an owner field of subuid/subgid (no ":", white space or '
                'leading "#")' % name)
    return None


def _refuse(name, rule, why):
    return SubidError('name %r refused (%s): %s; nothing was changed' % (name, rule, why))


def _lookup(function, key):
    try:
        return function(key)
    except (KeyError, OverflowError, ValueError, TypeError):
        return None


def resolve_user(name, getpwnam, getpwuid, allow_unknown_user=False):
    """The owner name and uid that ``name`` stands for: ``(user, uid)``.

    ``getpwnam``/``getpwuid``: lookups like those of :mod:`pwd` (objects with ``pw_name``
    and ``pw_uid``; KeyError when there is no such account). ``uid`` is None for a user
    that does not exist (only with ``allow_unknown_user``). Raise :class:`SubidError`
    naming the rule that refuses ``name``:

    - never an empty name, ``:``, white space or a leading ``#`` (not an owner field);
    - a name made only of digits is read by shadow-utils as a uid: refused with
      ``allow_unknown_user``; otherwise it must be the canonical decimal uid of an
      existing account (``getpwuid``), whose name is then ``user``, and no other account
      may have that name;
    - an existing account (``getpwnam``) is accepted as it is;
    - an unknown name needs ``allow_unknown_user`` and must match :data:`LOGIN_NAME`
      and be at most :data:`LOGIN_NAME_MAX` characters.
    """
    problem = owner_field_problem(name)
    if problem:
        raise _refuse(name, 'owner field', problem)
    if _DIGITS.match(name):
        if allow_unknown_user:
            raise _refuse(name, 'numeric name', 'it is made only of digits, and shadow-utils reads '
                          'a numeric owner field as a uid, so the range would belong to whichever '
                          'account has uid %s (0 is root), never to a user named %r; with '
                          'allow_unknown_user=true a numeric name is always refused (give the '
                          'account name, or a numeric uid of an existing account with '
                          'allow_unknown_user=false)' % (name, name))
        if not _DECIMAL.match(name):
            raise _refuse(name, 'numeric name', 'it is made only of digits but has a leading zero, '
                          'which shadow-utils does not match against any uid')
        uid = int(name)
        same_name = _lookup(getpwnam, name)
        if same_name is not None and same_name.pw_uid != uid:
            raise _refuse(name, 'numeric name', 'ambiguous: account %r has uid %d, but '
                          'shadow-utils also reads %r as uid %s' % (name, same_name.pw_uid, name, name))
        account = _lookup(getpwuid, uid)
        if account is None:
            raise _refuse(name, 'numeric name', 'it is made only of digits, which shadow-utils '
                          'reads as a uid, and no account has uid %s' % name)
        problem = owner_field_problem(account.pw_name) if account.pw_name else 'empty name'
        if problem or _DIGITS.match(account.pw_name) and account.pw_name != name:
            raise _refuse(name, 'numeric name', 'ambiguous: uid %s is account %r, whose name '
                          'cannot stand for it in subuid/subgid' % (name, account.pw_name))
        return account.pw_name, uid
    account = _lookup(getpwnam, name)
    if account is not None:
        return name, account.pw_uid
    if not allow_unknown_user:
        raise SubidError('user %r does not exist in the passwd database; set allow_unknown_user=true '
                         'to manage lines owned by this name anyway; nothing was changed' % name)
    if len(name) > LOGIN_NAME_MAX:
        raise _refuse(name, 'login name', 'the user does not exist and the name is longer than '
                      '%d characters' % LOGIN_NAME_MAX)
    if not LOGIN_NAME.match(name):
        raise _refuse(name, 'login name', 'the user does not exist and the name is not a '
                      'conservative login name (a letter or "_", then letters, digits, ".", "_" '
                      'or "-", optionally a final "$")')
    return name, None


# ---------------------------------------------------------------------------------------
# getsubids

#: A line of shadow's ``getsubids [-g] OWNER``: ``<index>: <owner> <start> <count>``.
_GETSUBIDS_LINE = re.compile(r'\A\s*[0-9]+:\s+(\S+)\s+([0-9]+)\s+([0-9]+)\s*\Z')
#: Where an external range is described (:func:`_describe`).
GETSUBIDS = 'getsubids'


def parse_getsubids(text):
    """The ranges in the output of ``getsubids [-g] OWNER`` (shadow-utils, which asks the
    NSS subid provider: /etc/subuid, or sssd and the like), as entry :class:`Line` objects
    (``lineno`` None, ``text`` marking them as getsubids'). Lines that are not
    ``<index>: <owner> <start> <count>`` (an error, "No ranges") are skipped, and so are
    ranges past :data:`MAX_ID`."""
    out = []
    for piece in (text or '').splitlines():
        match = _GETSUBIDS_LINE.match(piece)
        if not match:
            continue
        owner, start, count = match.group(1), int(match.group(2)), int(match.group(3))
        if count > MAX_ID + 1 or start > MAX_ID or (count and start + count - 1 > MAX_ID):
            continue
        out.append(Line('%s %s:%d:%d' % (GETSUBIDS, owner, start, count), '\n', None, owner, start, count))
    return out


def external_ranges(entries, reported, resolve_owner=None):
    """The ranges of ``reported`` (:func:`parse_getsubids`) that no line of ``entries``
    holds: a reported range is the file's when a line of the same principal
    (``resolve_owner`` of both owners, default the owner strings) has the same start and
    count. So a getsubids that reads the same file adds nothing; one that asks sssd adds
    the ranges only sssd knows. Duplicates are reported once, in their first order."""
    if resolve_owner is None:
        def resolve_owner(owner):
            return owner
    held = set((resolve_owner(line.owner), line.start, line.count) for line in entries if line.is_entry)
    out, seen = [], set()
    for line in reported:
        key = (resolve_owner(line.owner), line.start, line.count)
        if key in held or key in seen:
            continue
        seen.add(key)
        out.append(line)
    return out


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


#: Owner of the pseudo-entries that stand for the ids of accounts (ensure_present).
ACCOUNT_OWNER = '\0account'


def account_entries(ids, own_id=None):
    """One-id pseudo-entries for the ids of existing accounts (as NSS lists them: local,
    LDAP, sssd), which a new range must not contain: a container id mapped onto one would
    own that account's files. ``own_id`` (the user's own) is left out."""
    return [Line.entry(ACCOUNT_OWNER, number, 1) for number in sorted(set(ids)) if number != own_id]


def ids_in_range(ids, start, count):
    """The ids of ``ids`` in ``[start, start + count)``, sorted."""
    return sorted(number for number in set(ids) if start <= number < start + count)


def _describe(line):
    if line.owner == ACCOUNT_OWNER:
        return 'the id %d of an existing account' % line.start
    if line.lineno is None and line.text.startswith(GETSUBIDS + ' '):
        return "%s's range %d-%d (reported by getsubids, not in the file)" % (line.owner, line.start, line.end - 1)
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


def _contains(start, count, line):
    """True if the range ``start:count`` contains every id of ``line``."""
    return start <= line.start and line.end <= start + count


def _shared(mine, theirs):
    first = max(mine.start, theirs.start)
    last = min(mine.end, theirs.end) - 1
    return '%d ids %d-%d' % (last - first + 1, first, last)


def is_own_id_line(line, user, uid, own_id):
    """True for the user's single-id line of the user's own id (``alice:1000:1``): what
    gives a remapped container's root the user's own uid when dockerd's userns-remap names
    a login user (seed 002)."""
    return own_id is not None and owns(line, user, uid) and line.start == own_id and line.count == 1


def _with_own_id_line(entries, user, uid, own_id, range_line):
    """``entries`` with the user's own-id line right before ``range_line`` (and no other)."""
    result = []
    for line in entries:
        if is_own_id_line(line, user, uid, own_id):
            continue
        if line is range_line:
            result.append(Line.entry(user, own_id, 1))
        result.append(line)
    return result


def ensure_present(entries, user, uid, count, start=None, min_id=DEFAULT_SUB_MIN,
                   max_id=DEFAULT_SUB_MAX, allow_small_count=False, allow_move=False,
                   own_id=None, map_own_id=False, account_ids=(), external=()):
    """Make sure ``user`` has a range of at least ``count`` ids that overlaps nobody else's.

    ``entries``: parsed lines; ``uid``: the user's numeric uid, or None (then only lines
    owned by the name are the user's). If one of the user's entries already has
    ``count >= count`` (and the same ``start`` when one is given) and none of the user's
    entries overlaps a foreign range, nothing changes. Otherwise all of the user's lines
    are replaced by one ``user:start:count`` line at the place of the first of them (or
    appended). Without ``start`` the range keeps the start of one of the user's
    entries if the larger range still fits there within [min_id, max_id], else it is
    the lowest free one within [min_id, max_id].

    A *move* is a change whose new range does not contain every id of the user's
    existing (non-empty) ranges: the user gives up ids that files of the user's
    containers may own. Without ``start`` a move raises :class:`SubidError` unless
    ``allow_move``; in particular a user's range that overlaps another owner's fails,
    naming both ranges and the shared ids. An explicit ``start`` is a deliberate move
    and is carried out. Growing a range at its start is not a move.

    ``own_id`` is the user's own id in this file (the uid in subuid, the primary gid in
    subgid), or None. The user's single-id line of it (``alice:1000:1``) is the user's and
    is no range: it is kept, right before the range line, and never counts as a move.
    ``map_own_id`` makes sure it is there, so that dockerd's userns-remap to this user maps
    container root to the user's own id and container ids from 1 to the range. dockerd
    sorts a user's ranges by their first id, so the own id must be below the range; a
    foreign range holding it, or a range below it, raises :class:`SubidError`.

    ``account_ids`` are the ids of existing accounts in this file's kind (uids for subuid,
    gids for subgid): a range the module chooses contains none of them, and an explicit
    ``start`` whose range would is refused. A range the user already has is not moved for
    them (the caller warns).

    ``external`` are ranges getsubids reported that the file does not hold
    (:func:`external_ranges`). Other owners' count as taken, like their lines. When the
    user has no range in the file, a range of the user's there that is at least ``count``
    long (and starts at ``start`` when given) satisfies the request: nothing is written and
    ``source`` is ``'getsubids'``; one that does not, or ``map_own_id`` (which needs the
    range in the file), raises :class:`SubidError`: the range is defined elsewhere (sssd, say)
    and a second one here would not replace it.

    Foreign lines, comments and blank lines are never changed or moved.
    Returns ``PresentResult(entries, changed, start, count, moved)``; ``moved`` is the
    list of the user's lines before the change when it was a move, else empty.
    """
    validate_request(count, start, allow_small_count)
    if map_own_id and own_id is None:
        raise SubidError('map_own_id needs the account of %s: its own id is not known' % user)
    own_line = [line for line in entries if is_own_id_line(line, user, uid, own_id)]
    keep_own = map_own_id or bool(own_line)
    own = [line for line in user_entries(entries, user, uid) if not is_own_id_line(line, user, uid, own_id)]
    foreign = foreign_entries(entries, user, uid) + [line for line in external if not owns(line, user, uid)]
    accounts = account_entries(account_ids, own_id)
    theirs_elsewhere = [line for line in external if owns(line, user, uid) and line.count]
    if theirs_elsewhere and not own:
        return _external_present(entries, user, count, start, map_own_id, theirs_elsewhere)

    def clashes(first, size):
        return [line for line in foreign if ranges_overlap(first, size, line.start, line.count)]

    def clashes_new(first, size):
        """What a range the module places would overlap: other owners' and accounts' ids."""
        return clashes(first, size) + [line for line in accounts if first <= line.start < first + size]

    if keep_own and clashes(own_id, 1):
        raise SubidError('%s\'s own id %d is in %s: it cannot also map %s\'s container root; nothing was '
                         'changed' % (user, own_id, ', '.join(_describe(line) for line in clashes(own_id, 1)), user))

    def finish(result, changed_range, range_line, moved):
        if keep_own:
            if map_own_id and range_line.start <= own_id:
                raise SubidError(
                    '%s\'s range %d-%d starts at or below %s\'s own id %d: dockerd sorts a user\'s ranges by '
                    'their first id, so container root would not be %d; give a start above it' % (
                        user, range_line.start, range_line.end - 1, user, own_id, own_id))
            result = _with_own_id_line(result, user, uid, own_id, range_line)
        return PresentResult(result, changed_range or render(result) != render(entries), range_line.start,
                             range_line.count, moved, 'file')

    conflicts = [(mine, theirs) for mine in own for theirs in clashes(mine.start, mine.count)]
    if not conflicts:
        for line in own:
            if line.count >= count and (start is None or line.start == start) \
                    and line.end - 1 <= MAX_ID:
                return finish(list(entries), False, line, [])

    if start is not None:
        clash = clashes_new(start, count)
        if clash:
            raise SubidError('requested range %d-%d for %s overlaps %s' % (
                start, start + count - 1, user, ', '.join(_describe(line) for line in clash)))
        new_start = start
    else:
        if conflicts and not allow_move:
            raise SubidError(
                '%s; moving %s\'s range would leave every file %s\'s containers own under ids '
                'that nobody maps, and the other owner would keep the shared ids: sort this out '
                'by hand, or set allow_move=true to give %s a new free range; nothing was changed'
                % ('; '.join('%s overlaps %s in %s' % (_describe(mine), _describe(theirs),
                                                       _shared(mine, theirs))
                             for mine, theirs in conflicts), user, user, user))
        # keep a start of the user's; best one whose larger range holds all the user's ids
        top = min(max_id, MAX_ID)
        candidates = [line.start for line in own
                      if line.start >= min_id and line.start + count - 1 <= top
                      and not clashes_new(line.start, count)]
        keeping = [first for first in candidates
                   if all(_contains(first, count, line) for line in own if line.count)]
        new_start = (keeping or candidates or [None])[0]
        if new_start is None:
            new_start = find_free_start(foreign + accounts, count, min_id, max_id)

    moved = []
    if any(line.count and not _contains(new_start, count, line) for line in own):
        moved = list(own)
    if moved and start is None and not allow_move:
        raise SubidError(
            '%s needs %d ids, and the new range %d-%d would move %s (%s): %s; moving would leave '
            'every file %s\'s containers own under ids that nobody maps: set allow_move=true to '
            'move, or start to choose the place; nothing was changed'
            % (user, count, new_start, new_start + count - 1, user,
               ', '.join(_describe(line) for line in own if line.count),
               '; '.join(_why_not_in_place(line, count, min_id, max_id, clashes_new) for line in own
                         if line.count and not _contains(new_start, count, line)), user))

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
    return finish(result, render(result) != render(entries), new_line, moved)


def _external_present(entries, user, count, start, map_own_id, theirs):
    """The request of a user whose only ranges getsubids reported (see :func:`ensure_present`)."""
    described = ', '.join('%d-%d' % (line.start, line.end - 1) for line in theirs)
    if map_own_id:
        raise SubidError('%s\'s range %s is reported by getsubids (an NSS subid provider such as sssd), not by '
                         'this file: map_own_id needs the range in the file; define the own id where the range is '
                         'defined; nothing was changed' % (user, described))
    for line in theirs:
        if line.count >= count and (start is None or line.start == start):
            return PresentResult(list(entries), False, line.start, line.count, [], GETSUBIDS)
    raise SubidError('%s\'s range %s is reported by getsubids (an NSS subid provider such as sssd), not by this '
                     'file, and is not %d ids%s: change it where it is defined (a second range here would not '
                     'replace it); nothing was changed'
                     % (user, described, count, '' if start is None else ' from %d' % start))


def _why_not_in_place(line, count, min_id, max_id, clashes):
    """Why ``line``'s range cannot simply grow to ``count`` ids at its start."""
    top = min(max_id, MAX_ID)
    if line.start < min_id:
        return 'start %d is below SUB_*_MIN (%d)' % (line.start, min_id)
    if line.start + count - 1 > top:
        return '%d-%d would go past SUB_*_MAX (%d)' % (line.start, line.start + count - 1, top)
    clash = clashes(line.start, count)
    if clash:
        return '%d-%d would overlap %s' % (line.start, line.start + count - 1,
                                           ', '.join(_describe(other) for other in clash))
    return ('%d-%d would be dropped: all of the user\'s lines become one'
            % (line.start, line.end - 1))


def ensure_absent(entries, user, uid=None):
    """Remove every line of ``user`` (by name or numeric uid).

    Returns ``AbsentResult(entries, changed)``."""
    result = [line for line in entries if not owns(line, user, uid)]
    return AbsentResult(result, len(result) != len(entries))
