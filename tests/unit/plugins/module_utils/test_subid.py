# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/subid.py and plugins/module_utils/fileops.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import re
import stat
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.nsguard.docker.plugins.module_utils import fileops
from ansible_collections.nsguard.docker.plugins.module_utils.subid import (
    DEFAULT_SUB_MAX,
    DEFAULT_SUB_MIN,
    MAX_ID,
    Line,
    SubidError,
    SubidParseError,
    ensure_absent,
    ensure_present,
    find_free_start,
    find_overlaps,
    foreign_entries,
    login_defs_limits,
    parse,
    parse_login_defs,
    render,
    resolve_user,
    user_entries,
)

# tests/unit/fixtures/subid (conftest.FIXTURES + 'subid'; computed here so that the import
# mode of pytest does not matter)
FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'subid')


def fixture(name):
    with open(os.path.join(FIX, name), 'rb') as handle:
        return handle.read().decode('utf-8')


def entry_lines(entries):
    return [line for line in entries if line.is_entry]


def ranges_of(entries, user, uid=None):
    return [(line.start, line.count) for line in user_entries(entries, user, uid)]


def assert_no_foreign_overlap(entries, user, uid, start, count):
    for line in foreign_entries(entries, user, uid):
        assert not (start < line.end and line.start < start + count), (line, start, count)


# --------------------------------------------------------------------------- parse/render

class TestParseRender(object):

    @pytest.mark.parametrize('name', ['mixed.subuid', 'gaps.subuid', 'no-final-newline.subuid'])
    def test_round_trip_is_byte_identical(self, name):
        text = fixture(name)
        assert render(parse(text)) == text

    def test_comments_and_blank_lines_are_kept_and_ignored(self):
        entries = parse(fixture('mixed.subuid'))
        owners = [line.owner for line in entries if line.is_entry]
        assert owners == ['alice', 'bob', '1001', 'carol']
        others = [line for line in entries if not line.is_entry]
        assert [line.text for line in others][:3] == [
            '# /etc/subuid -- edited by hand, keep this comment',
            '#owner:start:count (no space after the hash either)',
            '']
        assert '   ' in [line.text for line in others]
        assert [line.lineno for line in entries] == list(range(1, 11))

    def test_entry_fields(self):
        entries = parse('x:5:7\n')
        assert (entries[0].owner, entries[0].start, entries[0].count, entries[0].end) == ('x', 5, 7, 12)

    def test_malformed_fixture_names_file_and_line(self):
        with pytest.raises(SubidParseError) as info:
            parse(fixture('malformed.subuid'), '/etc/subuid')
        assert info.value.lineno == 4
        assert info.value.path == '/etc/subuid'
        assert '/etc/subuid:4' in str(info.value)
        assert 'bob:165536' in str(info.value)

    @pytest.mark.parametrize('bad', [
        'alice:100000', 'alice:100000:65536:1', ':100000:65536', 'alice::65536', 'alice:1:',
        'alice:-1:65536', 'alice:1e5:65536', 'alice:100000:65536 ', ' alice:100000:65536',
        'al ice:1:65536', 'alice:0100000:65536', 'alice:100000:65536\r', 'alice:+1:65536',
        'alice:１:65536', 'just text',
    ])
    def test_malformed_lines(self, bad):
        text = '# head\n\n%s\nbob:1:2\n' % bad
        with pytest.raises(SubidParseError) as info:
            parse(text, 'f')
        assert info.value.lineno == 3
        assert str(info.value).startswith('f:3: ')

    def test_zero_values_are_fine(self):
        assert [(x.start, x.count) for x in parse('a:0:0\n')] == [(0, 0)]

    def test_empty_text(self):
        assert parse('') == []
        assert render([]) == ''

    def test_appending_after_line_without_newline(self):
        entries = parse(fixture('no-final-newline.subuid'))
        res = ensure_present(entries, 'carol', None, 65536)
        text = render(res.entries)
        assert text == fixture('no-final-newline.subuid') + '\ncarol:231072:65536\n'

    def test_last_line_replaced(self):
        entries = parse(fixture('no-final-newline.subuid'))
        res = ensure_present(entries, 'bob', None, 131072)
        assert render(res.entries).splitlines()[0] == 'alice:100000:65536'
        assert ranges_of(res.entries, 'bob') == [(165536, 131072)]


# --------------------------------------------------------------------------- login.defs

class TestLoginDefs(object):

    def test_defaults_when_missing(self):
        limits = login_defs_limits(None)
        for db in ('subuid', 'subgid'):
            assert limits[db] == {'min': 100000, 'max': 600100000, 'count': 65536}

    def test_fixture(self):
        limits = login_defs_limits(fixture('login.defs'), 'login.defs')
        assert limits['subuid'] == {'min': 200000, 'max': 1000000000, 'count': 131072}
        assert limits['subgid'] == {'min': 300000, 'max': DEFAULT_SUB_MAX, 'count': 65536}
        assert parse_login_defs(fixture('login.defs'))['UID_MIN'] == '1000'

    def test_later_setting_wins(self):
        limits = login_defs_limits('SUB_GID_MIN 5\nSUB_GID_MIN 7\n')
        assert limits['subgid']['min'] == 7

    def test_bad_value_names_line(self):
        with pytest.raises(SubidError) as info:
            login_defs_limits(fixture('bad-login.defs'), '/etc/login.defs')
        assert '/etc/login.defs:2' in str(info.value)
        assert 'SUB_UID_MAX' in str(info.value)

    def test_min_above_max(self):
        with pytest.raises(SubidError, match='SUB_GID_MIN'):
            login_defs_limits('SUB_GID_MIN 900\nSUB_GID_MAX 800\n')


# --------------------------------------------------------------------------- allocation

class TestAllocation(object):

    def test_empty_file_gets_min(self):
        res = ensure_present([], 'alice', 1000, 65536)
        assert (res.start, res.count, res.changed) == (DEFAULT_SUB_MIN, 65536, True)
        assert render(res.entries) == 'alice:100000:65536\n'

    def test_lowest_free_after_existing(self):
        entries = parse(fixture('mixed.subuid'))
        res = ensure_present(entries, 'erin', 1004, 65536)
        assert res.start == 296608 + 65536
        assert render(res.entries) == fixture('mixed.subuid') + 'erin:362144:65536\n'

    def test_gap_between_foreign_ranges(self):
        entries = parse(fixture('gaps.subuid'))
        # 166536..199999 and 265536..299999 are too small, 300010..399999 fits
        res = ensure_present(entries, 'new', None, 65536)
        assert res.start == 300010
        assert_no_foreign_overlap(res.entries, 'new', None, res.start, res.count)
        # a smaller range fits the first gap
        res = ensure_present(entries, 'new', None, 33464, allow_small_count=True)
        assert res.start == 166536
        res = ensure_present(entries, 'new', None, 33465, allow_small_count=True)
        assert res.start == 265536

    def test_ranges_below_min_are_ignored_but_straddling_counts(self):
        entries = parse('low:1000:5000\n')
        assert ensure_present(entries, 'u', None, 65536).start == DEFAULT_SUB_MIN
        entries = parse('low:0:100000\n')   # ends exactly at MIN - 1
        assert ensure_present(entries, 'u', None, 65536).start == DEFAULT_SUB_MIN
        entries = parse('low:0:100001\n')   # covers MIN
        assert ensure_present(entries, 'u', None, 65536).start == DEFAULT_SUB_MIN + 1

    def test_min_from_login_defs(self):
        entries = parse(fixture('gaps.subuid'))
        res = ensure_present(entries, 'new', None, 65536, min_id=350000, max_id=DEFAULT_SUB_MAX)
        assert res.start == 465536
        res = ensure_present(entries, 'new', None, 65536, min_id=300005)
        assert res.start == 300010

    def test_max_is_inclusive_and_respected(self):
        entries = parse(fixture('gaps.subuid'))
        # the free range after d is 465536.., a 100000-id range ends at 565535
        res = ensure_present(entries, 'new', None, 100000, max_id=565535)
        assert res.start == 465536
        with pytest.raises(SubidError, match='no free range'):
            ensure_present(entries, 'new', None, 100000, max_id=565534)

    def test_full_space(self):
        entries = parse('big:100000:600000001\n')
        with pytest.raises(SubidError, match='no free range'):
            ensure_present(entries, 'new', None, 65536)

    def test_max_above_id_space_is_clamped(self):
        entries = parse('big:0:%d\n' % (MAX_ID + 1 - 65535))
        with pytest.raises(SubidError):
            ensure_present(entries, 'new', None, 65536, max_id=2 ** 40)
        entries = parse('big:0:%d\n' % (MAX_ID + 1 - 65536))
        res = ensure_present(entries, 'new', None, 65536, max_id=2 ** 40)
        assert res.start + res.count - 1 == MAX_ID

    def test_find_free_start_directly(self):
        foreign = [Line.entry('x', 100000, 10), Line.entry('y', 100020, 10)]
        assert find_free_start(foreign, 10) == 100010
        assert find_free_start(foreign, 11) == 100030
        assert find_free_start([], 5, 7, 11) == 7
        with pytest.raises(SubidError):
            find_free_start([], 6, 7, 11)


# --------------------------------------------------------------------------- explicit start

class TestExplicitStart(object):

    def test_explicit_start_free(self):
        entries = parse(fixture('mixed.subuid'))
        res = ensure_present(entries, 'erin', None, 65536, start=1000000)
        assert (res.start, res.count, res.changed) == (1000000, 65536, True)

    def test_explicit_start_below_min_is_allowed(self):
        res = ensure_present([], 'erin', None, 65536, start=0)
        assert res.start == 0

    @pytest.mark.parametrize('start', [100000, 165535, 34465, 296608 + 65535])
    def test_overlap_refused_naming_owner(self, start):
        entries = parse(fixture('mixed.subuid'))
        with pytest.raises(SubidError) as info:
            ensure_present(entries, 'erin', 1004, 65536, start=start)
        msg = str(info.value)
        assert 'overlaps' in msg
        assert any("%s's range" % owner in msg for owner in ('alice', 'bob', 'carol'))

    def test_overlap_message_names_range_and_line(self):
        entries = parse(fixture('mixed.subuid'))
        with pytest.raises(SubidError) as info:
            ensure_present(entries, 'erin', 1004, 65536, start=170000)
        assert "bob's range 165536-231071 (line 5)" in str(info.value)

    def test_adjacent_is_not_overlap(self):
        entries = parse('a:100000:100\n')
        assert ensure_present(entries, 'b', None, 100, start=100100, allow_small_count=True).changed
        assert ensure_present(entries, 'b', None, 100, start=99900, allow_small_count=True).changed

    def test_moving_own_range_to_explicit_start(self):
        entries = parse(fixture('mixed.subuid'))
        res = ensure_present(entries, 'alice', 1000, 65536, start=2000000)
        lines = render(res.entries).split('\n')
        assert lines[3] == 'alice:2000000:65536'
        assert ranges_of(res.entries, 'alice', 1000) == [(2000000, 65536)]


# --------------------------------------------------------------------------- validation

class TestValidation(object):

    @pytest.mark.parametrize('count', [1, 1000, 65535])
    def test_small_count_refused(self, count):
        with pytest.raises(SubidError, match='allow_small_count'):
            ensure_present([], 'u', None, count)
        assert ensure_present([], 'u', None, count, allow_small_count=True).count == count

    @pytest.mark.parametrize('count', [0, -1])
    def test_count_must_be_positive(self, count):
        with pytest.raises(SubidError, match='>= 1'):
            ensure_present([], 'u', None, count, allow_small_count=True)

    def test_negative_start(self):
        with pytest.raises(SubidError, match='start'):
            ensure_present([], 'u', None, 65536, start=-1)

    def test_overflow_refused(self):
        ok = MAX_ID - 65536 + 1
        assert ensure_present([], 'u', None, 65536, start=ok).start == ok
        with pytest.raises(SubidError, match='4294967294'):
            ensure_present([], 'u', None, 65536, start=ok + 1)
        with pytest.raises(SubidError, match='4294967294'):
            ensure_present([], 'u', None, 65536, start=2 ** 32)
        with pytest.raises(SubidError):
            ensure_present([], 'u', None, 2 ** 32, start=0)

    def test_bool_is_not_a_count(self):
        with pytest.raises(SubidError):
            ensure_present([], 'u', None, True, allow_small_count=True)


# --------------------------------------------------------------------------- idempotence, growth

class TestIdempotence(object):

    def test_second_run_identical(self):
        text = fixture('mixed.subuid')
        first = ensure_present(parse(text), 'erin', 1004, 65536)
        after = render(first.entries)
        second = ensure_present(parse(after), 'erin', 1004, 65536)
        assert second.changed is False
        assert render(second.entries) == after
        assert (second.start, second.count) == (first.start, first.count)

    def test_existing_adequate_range_is_kept(self):
        text = fixture('mixed.subuid')
        res = ensure_present(parse(text), 'bob', 1002, 65536)
        assert res.changed is False
        assert render(res.entries) == text
        assert (res.start, res.count) == (165536, 65536)

    def test_larger_range_satisfies_smaller_request(self):
        res = ensure_present(parse('u:100000:200000\n'), 'u', None, 65536)
        assert (res.changed, res.start, res.count) == (False, 100000, 200000)

    def test_explicit_same_start_is_idempotent(self):
        text = fixture('mixed.subuid')
        res = ensure_present(parse(text), 'carol', None, 65536, start=296608)
        assert res.changed is False
        assert render(res.entries) == text

    def test_explicit_different_start_moves(self):
        text = fixture('mixed.subuid')
        res = ensure_present(parse(text), 'carol', None, 65536, start=900000)
        assert res.changed is True
        assert ranges_of(res.entries, 'carol') == [(900000, 65536)]

    def test_own_range_overlapping_foreign_is_reallocated(self):
        # 0.1.0 did this silently; now only with allow_move
        text = 'bob:100000:65536\nalice:150000:65536\n'
        with pytest.raises(SubidError, match='allow_move'):
            ensure_present(parse(text), 'alice', None, 65536)
        res = ensure_present(parse(text), 'alice', None, 65536, allow_move=True)
        assert res.changed
        assert render(res.entries) == 'bob:100000:65536\nalice:165536:65536\n'

    def test_grow_in_place_when_room(self):
        text = fixture('gaps.subuid')
        res = ensure_present(parse(text), 'd', None, 131072)
        assert (res.start, res.count) == (400000, 131072)
        assert render(res.entries) == text.replace('d:400000:65536', 'd:400000:131072')

    def test_grow_in_place_respects_max(self):
        text = 'u:100000:65536\n'
        res = ensure_present(parse(text), 'u', None, 65537, max_id=165536)
        assert (res.start, res.count) == (100000, 65537)
        with pytest.raises(SubidError, match='no free range'):
            ensure_present(parse(text), 'u', None, 65537, max_id=165535)

    def test_grow_in_place_respects_min(self):
        text = 'u:50000:65536\n'
        with pytest.raises(SubidError, match='below SUB_'):
            ensure_present(parse(text), 'u', None, 65537)
        res = ensure_present(parse(text), 'u', None, 65537, allow_move=True)
        assert (res.start, res.count) == (DEFAULT_SUB_MIN, 65537)

    def test_grow_moves_when_blocked(self):
        text = fixture('mixed.subuid')
        with pytest.raises(SubidError, match='allow_move'):
            ensure_present(parse(text), 'bob', 1002, 131072)
        res = ensure_present(parse(text), 'bob', 1002, 131072, allow_move=True)
        # 165536 + 131072 would run into 1001's range; lowest free is after carol
        assert (res.start, res.count) == (362144, 131072)
        assert render(res.entries) == text.replace('bob:165536:65536', 'bob:362144:131072')
        assert_no_foreign_overlap(res.entries, 'bob', 1002, res.start, res.count)

    def test_grow_can_take_lower_gap_when_own_start_is_blocked(self):
        text = 'a:100000:65536\nu:200000:65536\nb:240000:10\n'
        with pytest.raises(SubidError, match='allow_move'):
            ensure_present(parse(text), 'u', None, 65537)
        res = ensure_present(parse(text), 'u', None, 65537, allow_move=True)
        assert (res.start, res.count) == (165536, 65537)
        assert render(res.entries) == 'a:100000:65536\nu:165536:65537\nb:240000:10\n'


# --------------------------------------------------------------------------- ownership

class TestOwnership(object):

    def test_numeric_uid_line_is_the_user(self):
        text = fixture('mixed.subuid')
        res = ensure_present(parse(text), 'dave', 1001, 65536)
        assert res.changed is False
        assert (res.start, res.count) == (231072, 65536)
        assert render(res.entries) == text

    def test_numeric_line_not_the_user_without_uid(self):
        text = fixture('mixed.subuid')
        res = ensure_present(parse(text), 'dave', None, 65536)
        assert res.changed
        assert res.start == 362144
        assert '1001:231072:65536' in render(res.entries)

    def test_numeric_line_replaced_by_name_line_in_place(self):
        text = fixture('mixed.subuid')
        with pytest.raises(SubidError, match='allow_move'):
            ensure_present(parse(text), 'dave', 1001, 65537)
        res = ensure_present(parse(text), 'dave', 1001, 65537, allow_move=True)
        new = render(res.entries)
        assert '1001:' not in new
        assert new.split('\n')[6] == 'dave:%d:65537' % res.start

    def test_name_and_uid_lines_merge_into_one(self):
        text = 'x:1:1\ndave:100000:10\n# c\n1001:200000:10\nz:900000:1\n'
        with pytest.raises(SubidError, match='allow_move'):    # 200000-200009 would be dropped
            ensure_present(parse(text), 'dave', 1001, 65536)
        res = ensure_present(parse(text), 'dave', 1001, 65536, allow_move=True)
        assert render(res.entries) == 'x:1:1\ndave:100000:65536\n# c\nz:900000:1\n'

    def test_adequate_line_among_several_is_kept(self):
        text = 'dave:100000:10\n1001:200000:65536\n'
        res = ensure_present(parse(text), 'dave', 1001, 65536)
        assert res.changed is False
        assert (res.start, res.count) == (200000, 65536)

    def test_one_own_line_overlapping_forces_rewrite(self):
        text = 'dave:100000:65536\nx:500000:10\n1001:500005:10\n'
        with pytest.raises(SubidError, match='allow_move'):
            ensure_present(parse(text), 'dave', 1001, 65536)
        res = ensure_present(parse(text), 'dave', 1001, 65536, allow_move=True)
        assert res.changed
        assert render(res.entries) == 'dave:100000:65536\nx:500000:10\n'


# --------------------------------------------------------------------------- absent

class TestAbsent(object):

    def test_removes_name_and_uid_lines_only(self):
        text = fixture('mixed.subuid')
        res = ensure_absent(parse(text), 'dave', 1001)
        assert res.changed
        assert render(res.entries) == text.replace('1001:231072:65536\n', '')
        res = ensure_absent(parse(text), 'alice', 1000)
        assert render(res.entries) == text.replace('alice:100000:65536\n', '')

    def test_absent_twice(self):
        text = fixture('mixed.subuid')
        first = ensure_absent(parse(text), 'bob')
        second = ensure_absent(first.entries, 'bob')
        assert first.changed and not second.changed
        assert render(second.entries) == render(first.entries)

    def test_absent_of_missing_user(self):
        text = fixture('mixed.subuid')
        res = ensure_absent(parse(text), 'nobody', 65534)
        assert res.changed is False
        assert render(res.entries) == text

    def test_absent_without_uid_keeps_numeric(self):
        text = fixture('mixed.subuid')
        res = ensure_absent(parse(text), 'dave', None)
        assert not res.changed


# --------------------------------------------------------------------------- foreign lines

class TestForeignLines(object):

    @pytest.mark.parametrize('user,uid,count,start', [
        ('erin', 1004, 65536, None), ('alice', 1000, 200000, None), ('bob', 1002, 65536, 5000000),
        ('dave', 1001, 70000, None),
    ])
    def test_foreign_and_comment_lines_byte_identical(self, user, uid, count, start):
        text = fixture('mixed.subuid')
        before = parse(text)
        res = ensure_present(before, user, uid, count, start, allow_move=True)
        kept_before = [(x.text, x.eol) for x in before if not (x.is_entry and (x.owner in (user, str(uid))))]
        kept_after = [(x.text, x.eol) for x in res.entries if not (x.is_entry and x.owner == user)]
        assert kept_before == kept_after
        after_lines = render(res.entries).split('\n')
        for line in before:
            if not (line.is_entry and line.owner in (user, str(uid))):
                assert line.text in after_lines


# --------------------------------------------------------------------------- overlaps

class TestFindOverlaps(object):

    def test_none(self):
        assert find_overlaps(parse(fixture('mixed.subuid'))) == []

    def test_pairs(self):
        entries = parse('a:100:10\nb:105:10\nc:0:1000\n# x\na:108:1\n')
        found = find_overlaps(entries)
        pairs = sorted(tuple(sorted((o['a']['owner'], o['b']['owner']))) for o in found)
        assert pairs == [('a', 'b'), ('a', 'b'), ('a', 'c'), ('a', 'c'), ('b', 'c')]
        ab = [o for o in found if {o['a']['line'], o['b']['line']} == {1, 2}][0]
        assert (ab['start'], ab['count']) == (105, 5)
        assert ab['a']['line'] == 1 and ab['b']['line'] == 2

    def test_resolver_merges_principals(self):
        entries = parse('alice:100:10\n1000:105:10\nbob:200:10\n')
        assert len(find_overlaps(entries)) == 1
        resolve = {'alice': 1000, '1000': 1000, 'bob': 1001}.get
        assert find_overlaps(entries, resolve_owner=resolve) == []

    def test_zero_count_never_overlaps(self):
        assert find_overlaps(parse('a:100:0\nb:90:20\n')) == []

    def test_matches_brute_force(self):
        entries = parse('a:1:5\nb:3:5\nc:7:1\nd:100:1\na:4:1\nb:0:2\n')
        expected = set()
        items = entry_lines(entries)
        for i, x in enumerate(items):
            for y in items[i + 1:]:
                if x.owner != y.owner and x.start < y.end and y.start < x.end:
                    expected.add(frozenset((x.lineno, y.lineno)))
        got = set(frozenset((o['a']['line'], o['b']['line'])) for o in find_overlaps(entries))
        assert got == expected


# --------------------------------------------------------------------------- property test

USERS = ['u%d' % i for i in range(5)]
UIDS = dict((name, 2000 + i) for i, name in enumerate(USERS))
SEED = ('# seed file\n'
        'root-ish:100000:65536\n'
        '\n'
        '3000:300000:70000\n'
        'big:800000:500000\n'
        '# end\n')
FOREIGN_SEED = parse(SEED)

operation = st.one_of(
    st.tuples(st.just('present'), st.sampled_from(USERS),
              st.integers(min_value=1, max_value=300000),
              st.one_of(st.none(), st.integers(min_value=0, max_value=2000000))),
    st.tuples(st.just('absent'), st.sampled_from(USERS), st.none(), st.none()),
)


def principal(owner):
    if owner.isdigit():
        return int(owner)
    return UIDS.get(owner, owner)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(operation, max_size=25), numeric=st.lists(st.booleans(), min_size=5, max_size=5),
       max_id=st.sampled_from([DEFAULT_SUB_MAX, 1500000]), allow_move=st.booleans())
def test_property_no_overlap_and_foreign_untouched(ops, numeric, max_id, allow_move):
    entries = list(FOREIGN_SEED)
    for op, user, count, start in ops:
        uid = UIDS[user]
        owner_text = str(uid) if numeric[USERS.index(user)] else user
        before = entries
        before_text = render(before)
        try:
            if op == 'present':
                res = ensure_present(before, user, uid, count, start, DEFAULT_SUB_MIN, max_id,
                                     allow_small_count=True, allow_move=allow_move)
            else:
                res = ensure_absent(before, user, uid)
        except SubidError:
            assert render(before) == before_text
            continue
        after = res.entries

        # never overlapping ranges between different principals
        assert find_overlaps(after, principal) == []
        # every line not of this user is kept: same objects' text, same order
        assert [(x.text, x.eol) for x in before if not (x.is_entry and x.owner in (user, str(uid)))] == \
            [(x.text, x.eol) for x in after if not (x.is_entry and x.owner in (user, str(uid)))]
        if op == 'present':
            mine = [x for x in user_entries(after, user, uid) if x.count >= count]
            assert mine and any(x.start == res.start and x.count == res.count for x in mine)
            if start is not None:
                assert res.start == start
            elif res.changed:   # automatic allocation stays within [SUB_*_MIN, SUB_*_MAX]
                assert DEFAULT_SUB_MIN <= res.start and res.start + res.count - 1 <= max_id
            again = ensure_present(after, user, uid, count, start, DEFAULT_SUB_MIN, max_id,
                                   allow_small_count=True, allow_move=allow_move)
            assert again.changed is False and render(again.entries) == render(after)
        else:
            assert user_entries(after, user, uid) == []
        # occasionally re-own a line by numeric uid, as a human editing the file might
        if owner_text != user:
            after = [Line.entry(owner_text, x.start, x.count) if x.owner == user else x for x in after]
        assert render(parse(render(after))) == render(after)
        entries = parse(render(after))

    # the seed's foreign lines survive all of it, byte for byte
    final = render(entries)
    for line in FOREIGN_SEED:
        if line.is_entry:
            assert line.text + '\n' in final


# --------------------------------------------------------------------------- fileops

class TestAtomicWrite(object):

    def test_keeps_mode_and_content(self, tmp_path):
        path = tmp_path / 'subuid'
        path.write_bytes(b'old\n')
        os.chmod(str(path), 0o600)
        inode = os.stat(str(path)).st_ino
        fileops.atomic_write(str(path), b'new\n')
        assert path.read_bytes() == b'new\n'
        assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
        assert os.stat(str(path)).st_ino != inode
        assert sorted(os.listdir(str(tmp_path))) == ['subuid']

    def test_new_file_default_mode(self, tmp_path):
        path = tmp_path / 'subgid'
        fileops.atomic_write(str(path), b'x\n')
        st_ = os.stat(str(path))
        assert stat.S_IMODE(st_.st_mode) == 0o644
        if os.geteuid() == 0:
            assert (st_.st_uid, st_.st_gid) == (0, 0)

    @pytest.mark.skipif(os.geteuid() != 0, reason='needs root to chown')
    def test_keeps_owner(self, tmp_path):
        path = tmp_path / 'subuid'
        path.write_bytes(b'old\n')
        os.chown(str(path), 1234, 4321)
        fileops.atomic_write(str(path), b'new\n')
        assert (os.stat(str(path)).st_uid, os.stat(str(path)).st_gid) == (1234, 4321)

    def test_symlink_target_replaced(self, tmp_path):
        real = tmp_path / 'real'
        real.write_bytes(b'a\n')
        link = tmp_path / 'link'
        os.symlink(str(real), str(link))
        fileops.atomic_write(str(link), b'b\n')
        assert os.path.islink(str(link))
        assert real.read_bytes() == b'b\n'

    def test_missing_directory(self, tmp_path):
        with pytest.raises(fileops.FileOpsError):
            fileops.atomic_write(str(tmp_path / 'no' / 'file'), b'x')

    def test_read_bytes(self, tmp_path):
        assert fileops.read_bytes(str(tmp_path / 'none')) is None
        (tmp_path / 'f').write_bytes(b'\xff\n')
        assert fileops.read_bytes(str(tmp_path / 'f')) == b'\xff\n'


HOLD_PWD_LOCK = r'''
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
sys.stdout.write('locked\n'); sys.stdout.flush()
time.sleep(30)
'''

TRY_PWD_LOCK = r'''
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    sys.exit(1)
sys.exit(0)
'''


def pwd_lock_is_free(path):
    return subprocess.call([sys.executable, '-c', TRY_PWD_LOCK, path]) == 0


class TestLocks(object):

    def test_pwd_lock_held_and_released(self, tmp_path):
        path = str(tmp_path / '.pwd.lock')
        with fileops.PwdLock(path, timeout=1):
            assert not pwd_lock_is_free(path)
        assert pwd_lock_is_free(path)

    def test_pwd_lock_timeout(self, tmp_path):
        path = str(tmp_path / '.pwd.lock')
        holder = subprocess.Popen([sys.executable, '-c', HOLD_PWD_LOCK, path], stdout=subprocess.PIPE)
        try:
            assert holder.stdout.readline() == b'locked\n'
            with pytest.raises(fileops.LockTimeout, match='still locked'):
                fileops.PwdLock(path, timeout=0.3, interval=0.05).acquire()
        finally:
            holder.kill()
            holder.wait()
            holder.stdout.close()

    def test_commonio_lock_file(self, tmp_path):
        path = str(tmp_path / 'subuid')
        with fileops.CommonioLock(path, timeout=1):
            with open(path + '.lock') as handle:
                assert handle.read() == str(os.getpid())
            assert not os.path.exists('%s.%d' % (path, os.getpid()))
        assert os.listdir(str(tmp_path)) == []

    def test_commonio_stale_lock_is_removed(self, tmp_path):
        path = str(tmp_path / 'subuid')
        dead = subprocess.Popen([sys.executable, '-c', 'pass'])
        dead.wait()
        with open(path + '.lock', 'w') as handle:
            handle.write(str(dead.pid))
        with fileops.CommonioLock(path, timeout=1):
            with open(path + '.lock') as handle:
                assert handle.read() == str(os.getpid())
        assert not os.path.exists(path + '.lock')

    def test_commonio_live_lock_times_out(self, tmp_path):
        path = str(tmp_path / 'subuid')
        alive = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
        try:
            with open(path + '.lock', 'w') as handle:
                handle.write(str(alive.pid))
            with pytest.raises(fileops.LockTimeout, match='PID %d' % alive.pid):
                fileops.CommonioLock(path, timeout=0.3, interval=0.05).acquire()
            with open(path + '.lock') as handle:
                assert handle.read() == str(alive.pid)
            assert sorted(os.listdir(str(tmp_path))) == ['subuid.lock']
        finally:
            alive.kill()
            alive.wait()

    def test_commonio_garbage_lock_times_out(self, tmp_path):
        path = str(tmp_path / 'subuid')
        with open(path + '.lock', 'w') as handle:
            handle.write('garbage')
        with pytest.raises(fileops.LockTimeout, match='without a valid PID'):
            fileops.CommonioLock(path, timeout=0.2, interval=0.05).acquire()
        assert os.path.exists(path + '.lock')

    def test_shadow_locks_released_on_error(self, tmp_path):
        pwd_lock = str(tmp_path / '.pwd.lock')
        paths = [str(tmp_path / 'subuid'), str(tmp_path / 'subgid')]
        with pytest.raises(RuntimeError):
            with fileops.shadow_locks(paths, pwd_lock, timeout=1):
                assert os.path.exists(paths[0] + '.lock') and os.path.exists(paths[1] + '.lock')
                assert not pwd_lock_is_free(pwd_lock)
                raise RuntimeError('boom')
        assert not os.path.exists(paths[0] + '.lock')
        assert not os.path.exists(paths[1] + '.lock')
        assert pwd_lock_is_free(pwd_lock)

    def test_shadow_locks_partial_failure_releases_taken(self, tmp_path):
        pwd_lock = str(tmp_path / '.pwd.lock')
        paths = [str(tmp_path / 'subuid'), str(tmp_path / 'subgid')]
        with open(paths[1] + '.lock', 'w') as handle:
            handle.write('x')
        with pytest.raises(fileops.LockTimeout):
            with fileops.shadow_locks(paths, pwd_lock, timeout=0.2, interval=0.05):
                pass  # pragma: no cover
        assert not os.path.exists(paths[0] + '.lock')
        assert pwd_lock_is_free(pwd_lock)

    def test_pwd_lock_unwritable_dir(self, tmp_path):
        with pytest.raises(fileops.FileOpsError):
            fileops.PwdLock(str(tmp_path / 'missing' / '.pwd.lock'), timeout=0.1).acquire()


def test_errno_names_used_exist():
    # the lock code relies on these being distinct
    assert len({errno.EACCES, errno.EAGAIN, errno.ESRCH, errno.EPERM, errno.EEXIST}) == 5


# --------------------------------------------------------------------------- security: id space

class TestParseIdSpace(object):
    """Lines whose range passes MAX_ID are malformed (they were accepted and rewritten)."""

    @pytest.mark.parametrize('bad,why', [
        ('bob:4294967290:65536', 'past 4294967294'),      # start + count - 1 > MAX_ID
        ('bob:99999999999999999999:1', 'start'),          # start > MAX_ID
        ('bob:4294967295:1', 'start'),                    # start is (uid_t)-1
        ('bob:4294967295:0', 'start'),                    # start past the id space, even empty
        ('bob:0:4294967296', 'count'),                    # count > 2**32 - 1
        ('bob:0:99999999999999999999', 'count'),
        ('bob:1:4294967295', 'past 4294967294'),
        ('bob:4294967294:2', 'past 4294967294'),
    ])
    def test_rejected_with_line_number(self, bad, why):
        text = '# head\nalice:100000:65536\n%s\n' % bad
        with pytest.raises(SubidParseError) as info:
            parse(text, '/etc/subgid')
        assert info.value.lineno == 3
        assert info.value.path == '/etc/subgid'
        assert str(info.value).startswith('/etc/subgid:3: ')
        assert why in info.value.reason
        assert 'nothing was changed' in str(info.value)

    @pytest.mark.parametrize('good', [
        'bob:4294967294:1', 'bob:0:4294967295', 'bob:%d:65536' % (MAX_ID - 65535),
        'bob:4294967294:0', 'bob:0:0',
    ])
    def test_edges_accepted(self, good):
        assert parse(good + '\n')[0].is_entry

    @settings(max_examples=300, deadline=None)
    @given(start=st.one_of(st.integers(0, 2 ** 33), st.integers(MAX_ID - 70000, MAX_ID + 3),
                           st.integers(0, 10 ** 25)),
           count=st.one_of(st.integers(0, 2 ** 33), st.integers(0, 70000), st.integers(0, 10 ** 25)))
    def test_property_accepted_iff_inside_id_space(self, start, count):
        inside = start <= MAX_ID and count <= MAX_ID + 1 and (count == 0 or start + count - 1 <= MAX_ID)
        text = 'x:%d:%d\n' % (start, count)
        if inside:
            line = parse(text)[0]
            assert (line.start, line.count) == (start, count)
        else:
            with pytest.raises(SubidParseError):
                parse(text)


# --------------------------------------------------------------------------- security: names

class FakePw(object):
    def __init__(self, name, uid):
        self.pw_name = name
        self.pw_uid = uid


PASSWD = {'root': 0, 'alice': 1000, 'dave': 1001, 'sssd@corp': 1500, 'UPPER': 1600,
          '2000': 2000, '3000': 3001}


def fake_getpwnam(name):
    if name in PASSWD:
        return FakePw(name, PASSWD[name])
    raise KeyError(name)


def fake_getpwuid(uid):
    if not isinstance(uid, int) or uid < 0 or uid > 2 ** 32 - 1:
        raise OverflowError('uid out of range')
    for name, value in PASSWD.items():
        if value == uid:
            return FakePw(name, value)
    raise KeyError(uid)


def resolve(name, allow_unknown_user=False):
    return resolve_user(name, fake_getpwnam, fake_getpwuid, allow_unknown_user)


class TestResolveUser(object):

    def test_existing_name(self):
        assert resolve('alice') == ('alice', 1000)
        assert resolve('alice', True) == ('alice', 1000)

    def test_existing_name_outside_the_regex_is_accepted(self):
        assert resolve('sssd@corp') == ('sssd@corp', 1500)

    @pytest.mark.parametrize('name', ['0', '1000', '4294967294', '99999999999999999999', '007', '2000'])
    def test_numeric_name_refused_with_allow_unknown_user(self, name):
        with pytest.raises(SubidError) as info:
            resolve(name, True)
        msg = str(info.value)
        assert 'only of digits' in msg and 'uid' in msg
        assert 'allow_unknown_user' in msg and 'nothing was changed' in msg

    def test_numeric_uid_of_existing_account_is_that_account(self):
        assert resolve('0') == ('root', 0)
        assert resolve('1001') == ('dave', 1001)
        assert resolve('2000') == ('2000', 2000)    # an account whose name is its uid

    @pytest.mark.parametrize('name,rule', [
        ('1234', 'no account has uid'),
        ('99999999999999999999', 'no account has uid'),
        ('4294967295', 'no account has uid'),
        ('0001', 'leading zero'),
        ('3000', 'ambiguous'),      # account "3000" has uid 3001: shadow would read 3000 as a uid
        ('3001', 'ambiguous'),      # uid 3001 is account "3000", whose name is another uid
    ])
    def test_numeric_name_refused_without_allow_unknown_user(self, name, rule):
        with pytest.raises(SubidError) as info:
            resolve(name)
        assert rule in str(info.value)
        assert 'nothing was changed' in str(info.value)

    def test_unknown_user_needs_allow_unknown_user(self):
        with pytest.raises(SubidError) as info:
            resolve('mallory')
        assert 'does not exist' in str(info.value) and 'allow_unknown_user' in str(info.value)
        assert resolve('mallory', True) == ('mallory', None)

    @pytest.mark.parametrize('name', ['remote-user', '_svc', 'a.b', 'machine$', 'A' * 32, 'x1_-.'])
    def test_unknown_valid_login_names(self, name):
        assert resolve(name, True) == (name, None)

    @pytest.mark.parametrize('name,rule', [
        ('A' * 33, 'longer than 32'),
        ('-rf', 'login name'), ('.hidden', 'login name'), ('1abc', 'login name'),
        ('user@corp', 'login name'), ('a$b', 'login name'), ('é', 'login name'),
        ('１', 'login name'), ('a/b', 'login name'), ('$', 'login name'),
    ])
    def test_unknown_invalid_login_names_refused(self, name, rule):
        with pytest.raises(SubidError) as info:
            resolve(name, True)
        assert rule in str(info.value) and 'nothing was changed' in str(info.value)

    @pytest.mark.parametrize('allow', [True, False])
    @pytest.mark.parametrize('name', ['', 'a:b', '#x', 'a b', 'a\n', 'a\tb', 'alice\n', ' alice'])
    def test_owner_field_rules_always(self, name, allow):
        with pytest.raises(SubidError) as info:
            resolve(name, allow)
        assert 'nothing was changed' in str(info.value)

    @settings(max_examples=500, deadline=None)
    @given(name=st.one_of(st.text(max_size=40), st.from_regex(r'\A[0-9]{1,12}\Z'),
                          st.sampled_from(sorted(PASSWD)), st.from_regex(r'\A[A-Za-z_][A-Za-z0-9._-]{0,35}\$?\Z')),
           allow=st.booleans())
    def test_property_never_a_number_nobody_is(self, name, allow):
        try:
            user, uid = resolve(name, allow)
        except SubidError as exc:
            assert 'nothing was changed' in str(exc)
            return
        # what is written as owner field is a real account, or a login name no number can be
        if uid is None:
            assert allow
            assert re.match(r'\A[A-Za-z_][A-Za-z0-9._-]*\$?\Z', user) and len(user) <= 32
        else:
            assert PASSWD[user] == uid
            if name.isdigit():
                assert not allow and int(name) == uid
            else:
                assert user == name
        assert ':' not in user and '\n' not in user and not user.startswith('#')


# --------------------------------------------------------------------------- security: moves

class TestMoves(object):
    """An existing range of the user is never moved (its ids given up) without allow_move."""

    def test_overlapping_own_range_fails_naming_both(self):
        text = 'alice:100000:65536\nbob:150000:65536\n'
        with pytest.raises(SubidError) as info:
            ensure_present(parse(text), 'alice', 1000, 65536)
        msg = str(info.value)
        assert "alice's range 100000-165535 (line 1)" in msg
        assert "bob's range 150000-215535 (line 2)" in msg
        assert '15536 ids 150000-165535' in msg
        assert 'allow_move' in msg and 'nothing was changed' in msg

    def test_overlapping_own_range_moves_with_allow_move(self):
        text = 'alice:100000:65536\nbob:150000:65536\n'
        res = ensure_present(parse(text), 'alice', 1000, 65536, allow_move=True)
        assert render(res.entries) == 'alice:215536:65536\nbob:150000:65536\n'
        assert [(x.start, x.count, x.lineno) for x in res.moved] == [(100000, 65536, 1)]

    def test_overlap_with_several_foreign_names_all(self):
        text = 'x:100000:10\nu:100005:100\ny:100100:10\n'
        with pytest.raises(SubidError) as info:
            ensure_present(parse(text), 'u', None, 100, allow_small_count=True)
        msg = str(info.value)
        assert "x's range 100000-100009 (line 1)" in msg and '5 ids 100005-100009' in msg
        assert "y's range 100100-100109 (line 3)" in msg and '5 ids 100100-100104' in msg

    def test_overlap_by_numeric_uid_line(self):
        text = 'x:500000:10\n1001:500005:10\n'
        with pytest.raises(SubidError, match="1001's range 500005-500014 \\(line 2\\)"):
            ensure_present(parse(text), 'dave', 1001, 65536)

    def test_grow_blocked_fails(self):
        text = fixture('mixed.subuid')
        with pytest.raises(SubidError) as info:
            ensure_present(parse(text), 'bob', 1002, 131072)
        msg = str(info.value)
        assert "bob's range 165536-231071 (line 5)" in msg
        assert '362144' in msg            # where it would go
        assert "1001's range 231072-296607 (line 7)" in msg   # why it cannot grow in place
        assert 'allow_move' in msg and 'nothing was changed' in msg

    def test_grow_past_max_fails(self):
        with pytest.raises(SubidError, match='SUB_\\*_MAX'):
            ensure_present(parse('u:200000:65536\n'), 'u', None, 65537, max_id=265535)

    def test_grow_below_min_fails(self):
        with pytest.raises(SubidError, match='SUB_\\*_MIN'):
            ensure_present(parse('u:50000:65536\n'), 'u', None, 65537)

    def test_grow_in_place_is_not_a_move(self):
        res = ensure_present(parse('u:100000:65536\n'), 'u', None, 131072)
        assert (res.start, res.count, res.moved) == (100000, 131072, [])

    def test_merge_dropping_ids_is_a_move(self):
        text = 'dave:100000:10\n1001:200000:10\n'
        with pytest.raises(SubidError, match='200000-200009'):
            ensure_present(parse(text), 'dave', 1001, 65536)
        res = ensure_present(parse(text), 'dave', 1001, 65536, allow_move=True)
        assert render(res.entries) == 'dave:100000:65536\n'
        assert [(x.start, x.count) for x in res.moved] == [(100000, 10), (200000, 10)]

    def test_merge_covering_all_ids_is_not_a_move(self):
        text = 'dave:100000:10\n1001:100010:10\n'
        res = ensure_present(parse(text), 'dave', 1001, 65536)
        assert render(res.entries) == 'dave:100000:65536\n' and res.moved == []

    def test_zero_count_line_is_not_a_move(self):
        res = ensure_present(parse('u:900000:0\n'), 'u', None, 65536)
        assert render(res.entries) == 'u:900000:65536\n' and res.moved == []
        res = ensure_present(parse('u:900000:0\nu:100000:65536\n'), 'u', None, 131072)
        assert render(res.entries) == 'u:100000:131072\n' and res.moved == []

    def test_explicit_start_is_a_deliberate_move(self):
        text = 'alice:100000:65536\nbob:150000:65536\n'
        res = ensure_present(parse(text), 'alice', 1000, 65536, start=1000000)
        assert render(res.entries) == 'alice:1000000:65536\nbob:150000:65536\n'
        assert [(x.start, x.count) for x in res.moved] == [(100000, 65536)]

    def test_new_user_is_not_a_move(self):
        res = ensure_present(parse('bob:100000:65536\n'), 'alice', 1000, 65536)
        assert res.moved == []

    def test_unchanged_is_not_a_move(self):
        res = ensure_present(parse('alice:100000:65536\n'), 'alice', 1000, 65536)
        assert (res.changed, res.moved) == (False, [])


MOVE_OPS = st.lists(st.tuples(st.sampled_from(USERS), st.integers(1, 300000),
                              st.one_of(st.none(), st.integers(0, 2000000)), st.booleans()),
                    max_size=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=MOVE_OPS, extra=st.lists(st.tuples(st.sampled_from(USERS + ['zed']),
                                              st.integers(90000, 1500000), st.integers(0, 200000)),
                                    max_size=6))
def test_property_no_silent_move(ops, extra):
    # start from a file that may already contain overlapping ranges
    text = SEED + ''.join('%s:%d:%d\n' % item for item in extra)
    entries = parse(text)
    for user, count, start, allow_move in ops:
        uid = UIDS[user]
        before = user_entries(entries, user, uid)
        had = set()     # first and last id of each of the user's ranges
        for line in before:
            if line.count:
                had.update((line.start, line.end - 1))
        try:
            res = ensure_present(entries, user, uid, count, start, allow_small_count=True,
                                 allow_move=allow_move)
        except SubidError:
            continue
        lost = [x for x in before if res.changed and x.count and
                not (res.start <= x.start and x.end <= res.start + res.count)]
        assert [(x.start, x.count) for x in res.moved] == \
            ([(x.start, x.count) for x in before] if lost else [])
        if lost:
            assert allow_move or start is not None
        if start is None and not allow_move and res.changed:
            assert all(res.start <= i < res.start + res.count for i in had)
        entries = parse(render(res.entries))


# ------------------------------------------------------------------ the user's own id (seed 002)

def test_map_own_id_puts_the_own_id_right_before_a_new_range():
    entries = parse('vagrant:100000:65536\n')
    res = ensure_present(entries, 'alice', 1000, 65536, own_id=1000, map_own_id=True)
    assert render(res.entries) == 'vagrant:100000:65536\nalice:1000:1\nalice:165536:65536\n'
    assert (res.changed, res.start, res.count, res.moved) == (True, 165536, 65536, [])
    # a second run changes nothing
    again = ensure_present(res.entries, 'alice', 1000, 65536, own_id=1000, map_own_id=True)
    assert again.changed is False and render(again.entries) == render(res.entries)


def test_map_own_id_added_to_an_existing_range_keeps_the_range():
    entries = parse('alice:100000:65536\nbob:165536:65536\n')
    res = ensure_present(entries, 'alice', 1000, 65536, own_id=1000, map_own_id=True)
    assert render(res.entries) == 'alice:1000:1\nalice:100000:65536\nbob:165536:65536\n'
    assert res.changed and res.start == 100000 and res.moved == []


def test_an_own_id_line_is_the_users_and_no_move():
    # Without map_own_id the single-id line of the user's own uid stays the user's: growing
    # the range keeps it (before, as the only one-id line, it would have been a move).
    entries = parse('alice:1000:1\nalice:100000:65536\n')
    assert ensure_present(entries, 'alice', 1000, 65536, own_id=1000).changed is False
    grown = ensure_present(entries, 'alice', 1000, 131072, own_id=1000)
    assert render(grown.entries) == 'alice:1000:1\nalice:100000:131072\n' and grown.moved == []
    # Not her own id: a one-id line of another id is a range like any other.
    other = parse('alice:2000:1\nalice:100000:65536\n')
    with pytest.raises(SubidError, match='move'):
        ensure_present(other, 'alice', 1000, 131072, own_id=1000)
    # state=absent removes it with the rest
    assert render(ensure_absent(entries, 'alice', 1000).entries) == ''


def test_map_own_id_refusals_change_nothing():
    # another owner's range holds her uid
    with pytest.raises(SubidError, match="own id 1000 is in"):
        ensure_present(parse('legacy:0:65536\n'), 'alice', 1000, 65536, own_id=1000, map_own_id=True)
    # her range starts below her own id: dockerd sorts ranges, root would not be 200000
    with pytest.raises(SubidError, match='dockerd sorts'):
        ensure_present(parse('ldap:100000:65536\n'), 'ldap', 200000, 65536, start=100000, own_id=200000,
                       map_own_id=True)
    with pytest.raises(SubidError, match='needs the account'):
        ensure_present(parse(''), 'ghost', None, 65536, map_own_id=True)
    # the line moved to just before the range when it was elsewhere
    res = ensure_present(parse('alice:100000:65536\nbob:165536:65536\nalice:1000:1\n'), 'alice', 1000, 65536,
                         own_id=1000, map_own_id=True)
    assert render(res.entries) == 'alice:1000:1\nalice:100000:65536\nbob:165536:65536\n'


# ------------------------------------------------------------------ ids of existing accounts (NSS)

def test_a_chosen_range_contains_no_accounts_id():
    entries = parse('bob:100000:65536\n')
    res = ensure_present(entries, 'alice', 1000, 65536, account_ids=[1000, 65534, 170000])
    assert res.start == 170001            # 165536 + 65536 would hold uid 170000
    # her own uid does not count; ids below SUB_UID_MIN do not get in the way
    res = ensure_present(entries, 'alice', 170000, 65536, own_id=170000, account_ids=[170000])
    assert res.start == 165536


def test_an_explicit_start_over_an_accounts_id_is_refused_and_an_existing_range_kept():
    with pytest.raises(SubidError, match='the id 120000 of an existing account'):
        ensure_present(parse(''), 'alice', 1000, 65536, start=100000, account_ids=[120000])
    kept = ensure_present(parse('alice:100000:65536\n'), 'alice', 1000, 65536, account_ids=[120000])
    assert kept.changed is False and kept.start == 100000


def test_growing_in_place_stops_at_an_accounts_id():
    # the grown range would hold uid 170000: with allow_move it goes past it instead
    entries = parse('alice:100000:65536\n')
    with pytest.raises(SubidError, match='the id 170000 of an existing account'):
        ensure_present(entries, 'alice', 1000, 131072, account_ids=[170000])
    moved = ensure_present(entries, 'alice', 1000, 131072, account_ids=[170000], allow_move=True)
    assert moved.start == 170001 and moved.moved


# ---------------------------------------------------------------------------- getsubids

from ansible_collections.nsguard.docker.plugins.module_utils.subid import (  # noqa: E402 pylint: disable=wrong-import-position
    external_ranges,
    parse_getsubids,
)


def reported(name):
    return [(line.owner, line.start, line.count) for line in parse_getsubids(fixture(name))]


def test_getsubids_output_is_parsed():
    assert reported('getsubids-alice-files.txt') == [('alice', 100000, 65536)]
    assert reported('getsubids-dave-sssd.txt') == [('dave', 362144, 65536), ('dave', 500000, 10)]
    assert reported('getsubids-error.txt') == []
    assert parse_getsubids('') == [] and parse_getsubids(None) == []
    # other text, and ranges past the id space, are no ranges
    assert parse_getsubids('No subuid ranges for bob\n0: bob 4294967295 1\n0: bob x 1\n  3:  eve  7  8  \n') \
        and [(l.owner, l.start, l.count) for l in parse_getsubids('0: bob 4294967295 1\n  3:  eve  7  8  \n')] \
        == [('eve', 7, 8)]
    line = parse_getsubids(fixture('getsubids-alice-files.txt'))[0]
    assert line.is_entry and line.lineno is None and line.end == 165536


def test_the_files_own_ranges_are_not_external():
    entries = parse(fixture('mixed.subuid'))
    alice = parse_getsubids(fixture('getsubids-alice-files.txt'))
    assert external_ranges(entries, alice) == []
    # the numeric owner 1001 (dave) in the file holds dave's range when owners resolve to the same principal
    dave_as_file = parse_getsubids('0: dave 231072 65536\n')
    assert external_ranges(entries, dave_as_file) == dave_as_file
    uids = {'dave': 1001, '1001': 1001}
    assert external_ranges(entries, dave_as_file, lambda owner: uids.get(owner, owner)) == []
    # a range of the file reported for another owner is not the file's: it is a real overlap
    assert len(external_ranges(entries, parse_getsubids('0: mallory 100000 65536\n'))) == 1
    # duplicates once
    twice = parse_getsubids('0: dave 362144 65536\n0: dave 362144 65536\n')
    assert len(external_ranges(entries, twice)) == 1


def test_without_external_ranges_nothing_changes():
    entries = parse(fixture('mixed.subuid'))
    assert ensure_present(entries, 'erin', 1004, 65536) == ensure_present(entries, 'erin', 1004, 65536, external=())
    assert ensure_present(entries, 'erin', 1004, 65536).source == 'file'


def test_ranges_only_getsubids_knows_count_as_taken():
    entries = parse(fixture('mixed.subuid'))
    free = ensure_present(entries, 'erin', 1004, 65536)
    assert (free.start, free.count) == (362144, 65536)
    external = external_ranges(entries, parse_getsubids(fixture('getsubids-dave-sssd.txt')))
    res = ensure_present(entries, 'erin', 1004, 65536, external=external)
    assert (res.start, res.count) == (427680, 65536) and res.source == 'file'
    assert render(res.entries) == fixture('mixed.subuid') + 'erin:427680:65536\n'
    # an explicit start on sssd's range is refused, naming where it comes from
    with pytest.raises(SubidError, match=r"dave's range 362144-427679 \(reported by getsubids, not in the file\)"):
        ensure_present(entries, 'erin', 1004, 65536, start=362144, external=external)


def test_the_same_ranges_from_getsubids_and_the_file_are_no_conflict():
    entries = parse(fixture('mixed.subuid'))
    alice = external_ranges(entries, parse_getsubids(fixture('getsubids-alice-files.txt')))
    res = ensure_present(entries, 'alice', 1000, 65536, external=alice)
    assert not res.changed and (res.start, res.count) == (100000, 65536) and res.source == 'file'


def test_a_file_range_overlapping_a_range_only_getsubids_knows_is_a_conflict():
    entries = parse(fixture('mixed.subuid'))
    external = external_ranges(entries, parse_getsubids('0: mallory 120000 65536\n'))
    with pytest.raises(SubidError, match='allow_move'):
        ensure_present(entries, 'alice', 1000, 65536, external=external)


def test_a_user_whose_range_only_getsubids_knows_is_left_as_it_is():
    entries = parse(fixture('mixed.subuid'))
    external = external_ranges(entries, parse_getsubids(fixture('getsubids-dave-sssd.txt')))
    # dave (uid 1001) has a file line 1001:231072; as "davey" with no file line the sssd range satisfies
    theirs = [Line('getsubids davey:362144:65536', '\n', None, 'davey', 362144, 65536)]
    res = ensure_present(entries, 'davey', 1005, 65536, external=theirs + external)
    assert res.source == 'getsubids' and not res.changed and (res.start, res.count) == (362144, 65536)
    assert render(res.entries) == fixture('mixed.subuid')
    res = ensure_present(entries, 'davey', 1005, 65536, start=362144, external=theirs)
    assert res.source == 'getsubids'
    with pytest.raises(SubidError, match=r'not 131072 ids: change it where it is defined'):
        ensure_present(entries, 'davey', 1005, 131072, external=theirs)
    with pytest.raises(SubidError, match=r'not 65536 ids from 400000'):
        ensure_present(entries, 'davey', 1005, 65536, start=400000, external=theirs)
    with pytest.raises(SubidError, match='map_own_id needs the range in the file'):
        ensure_present(entries, 'davey', 1005, 65536, own_id=1005, map_own_id=True, external=theirs)


def test_a_user_with_a_file_range_keeps_the_file_flow():
    """The file's range is the user's; a further one getsubids knows is not a conflict."""
    entries = parse(fixture('mixed.subuid'))
    theirs = [Line('getsubids alice:900000:65536', '\n', None, 'alice', 900000, 65536)]
    res = ensure_present(entries, 'alice', 1000, 65536, external=theirs)
    assert res.source == 'file' and not res.changed and res.start == 100000
