# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module-level units of plugins/modules/subid.py: main() against files in a temp dir."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import grp
import pwd
import shutil
import stat
import subprocess
import sys

import pytest

from ansible.module_utils import basic
from ansible_collections.nsguard.docker.plugins.modules import subid as subid_module

from module_args import patch_module_args

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'subid')

USERS = {'alice': 1000, 'dave': 1001, 'bob': 1002, 'carol': 1003, 'erin': 1004}
ACCOUNTS_EXTRA = {}


class FakePw(object):
    def __init__(self, name, uid):
        self.pw_name = name
        self.pw_uid = uid
        self.pw_gid = uid + 500 if uid else 0  # a primary gid that is not the uid: subgid takes it


def fake_getpwnam(name):
    if name in USERS:
        return FakePw(name, USERS[name])
    raise KeyError('getpwnam(): name not found: %r' % name)


def fake_getpwuid(uid):
    for name, value in list(USERS.items()) + [('root', 0)]:
        if value == uid:
            return FakePw(name, value)
    raise KeyError('getpwuid(): uid not found: %r' % (uid,))


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Temp subuid/subgid/login.defs, the lck lock in tmp, a fake passwd database."""
    subuid = tmp_path / 'subuid'
    subgid = tmp_path / 'subgid'
    shutil.copy(os.path.join(FIX, 'mixed.subuid'), str(subuid))
    shutil.copy(os.path.join(FIX, 'gaps.subuid'), str(subgid))
    os.chmod(str(subuid), 0o644)
    os.chmod(str(subgid), 0o640)
    monkeypatch.setattr(subid_module, 'PWD_LOCK_PATH', str(tmp_path / '.pwd.lock'))
    monkeypatch.setattr(subid_module, 'LOCK_TIMEOUT', 0.5)
    monkeypatch.setattr(pwd, 'getpwnam', fake_getpwnam)
    monkeypatch.setattr(pwd, 'getpwuid', fake_getpwuid)
    # NSS's enumeration: the fake accounts (and ACCOUNTS_EXTRA, an LDAP one per test)
    monkeypatch.setattr(pwd, 'getpwall', lambda: [fake_getpwuid(uid) for uid in sorted(USERS.values())]
                        + [FakePw(name, uid) for name, uid in ACCOUNTS_EXTRA.items()])
    monkeypatch.setattr(grp, 'getgrall', lambda: [])
    ACCOUNTS_EXTRA.clear()

    class Env(object):
        dir = tmp_path
        lock = str(tmp_path / '.pwd.lock')

        @staticmethod
        def args(**kwargs):
            base = dict(subuid_path=str(subuid), subgid_path=str(subgid),
                        login_defs_path=str(tmp_path / 'login.defs'),
                        getsubids_path=str(tmp_path / 'no-getsubids'))
            base.update(kwargs)
            return base

        @staticmethod
        def read(name):
            return (tmp_path / name).read_bytes()

        @staticmethod
        def listing():
            return sorted(os.listdir(str(tmp_path)))

    Env.subuid = subuid
    Env.subgid = subgid
    return Env


def run(args, capsys):
    """Run main() with ``args``; return (rc, result dict)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            subid_module.main()
    out = capsys.readouterr().out
    return info.value.code, json.loads(out)


def snapshot(env):
    """Content of both files and the directory listing (the lckpwdf file aside: it
    stays, as on a real system)."""
    return ({name: env.read(name) for name in ('subuid', 'subgid')},
            [name for name in env.listing() if name != '.pwd.lock'])


TRY_PWD_LOCK = r'''
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError:
    sys.exit(1)
'''


def test_check_mode_writes_nothing_and_diffs(env, capsys):
    before = snapshot(env)
    mtimes = [os.stat(str(env.subuid)).st_mtime_ns, os.stat(str(env.subgid)).st_mtime_ns]
    rc, res = run(env.args(name='erin', _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert rc == 0, res
    assert res['changed'] is True
    assert snapshot(env) == before
    assert [os.stat(str(env.subuid)).st_mtime_ns, os.stat(str(env.subgid)).st_mtime_ns] == mtimes
    assert not os.path.exists(env.lock)      # no lock taken in check mode
    mixed = env.read('subuid').decode()
    gaps = env.read('subgid').decode()
    assert res['subuid'] == {'start': 362144, 'count': 65536}
    assert res['subgid'] == {'start': 300010, 'count': 65536}
    assert res['diff'] == [
        {'before': mixed, 'after': mixed + 'erin:362144:65536\n',
         'before_header': str(env.subuid), 'after_header': str(env.subuid)},
        {'before': gaps, 'after': gaps + 'erin:300010:65536\n',
         'before_header': str(env.subgid), 'after_header': str(env.subgid)},
    ]


def test_real_run_writes_keeps_mode_and_releases_locks(env, capsys):
    mixed = env.read('subuid').decode()
    gaps = env.read('subgid').decode()
    rc, res = run(env.args(name='erin'), capsys)
    assert rc == 0, res
    assert res['changed'] is True
    assert 'diff' not in res
    assert env.read('subuid').decode() == mixed + 'erin:362144:65536\n'
    assert env.read('subgid').decode() == gaps + 'erin:300010:65536\n'
    assert stat.S_IMODE(os.stat(str(env.subuid)).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(str(env.subgid)).st_mode) == 0o640
    # only the lckpwdf file remains (as on a real system), and nobody holds it
    assert env.listing() == ['.pwd.lock', 'subgid', 'subuid']
    assert subprocess.call([sys.executable, '-c', TRY_PWD_LOCK, env.lock]) == 0

    # second run: nothing changes
    before = snapshot(env)
    rc, res = run(env.args(name='erin', _ansible_diff=True), capsys)
    assert rc == 0 and res['changed'] is False
    assert snapshot(env) == before
    assert res['subuid'] == {'start': 362144, 'count': 65536}
    assert all(d['before'] == d['after'] for d in res['diff'])


def test_unknown_user_fails(env, capsys):
    before = snapshot(env)
    rc, res = run(env.args(name='mallory'), capsys)
    assert rc == 1
    assert res['failed'] is True
    assert 'does not exist' in res['msg'] and 'allow_unknown_user' in res['msg']
    assert snapshot(env) == before


def test_unknown_user_allowed_uses_name_lines_only(env, capsys):
    env.subuid.write_bytes(b'mallory:100000:10\n1005:150000:65536\n')
    # mallory's 10 ids cannot grow in place: that is a move, refused without allow_move
    rc, res = run(env.args(name='mallory', allow_unknown_user=True, databases=['subuid']), capsys)
    assert rc == 1 and 'allow_move' in res['msg'], res
    assert env.read('subuid') == b'mallory:100000:10\n1005:150000:65536\n'
    rc, res = run(env.args(name='mallory', allow_unknown_user=True, databases=['subuid'],
                           allow_move=True), capsys)
    assert rc == 0, res
    assert env.read('subuid') == b'mallory:215536:65536\n1005:150000:65536\n'
    assert res['subgid'] is None


def test_numeric_uid_line_is_the_users(env, capsys):
    before = snapshot(env)
    rc, res = run(env.args(name='dave', databases=['subuid']), capsys)
    assert rc == 0 and res['changed'] is False
    assert res['subuid'] == {'start': 231072, 'count': 65536}
    assert snapshot(env) == before


def test_malformed_fails_and_writes_nothing(env, capsys):
    shutil.copy(os.path.join(FIX, 'malformed.subuid'), str(env.subgid))
    before = snapshot(env)
    rc, res = run(env.args(name='erin'), capsys)
    assert rc == 1
    assert '%s:4' % env.subgid in res['msg']
    assert snapshot(env) == before        # subuid (fine, first) was not written either
    assert res['changed'] is False


def test_small_count_refused_then_allowed(env, capsys):
    before = snapshot(env)
    rc, res = run(env.args(name='erin', count=1000), capsys)
    assert rc == 1 and 'allow_small_count' in res['msg']
    assert snapshot(env) == before
    rc, res = run(env.args(name='erin', count=1000, allow_small_count=True), capsys)
    assert rc == 0 and res['subuid']['count'] == 1000


def test_overflow_refused(env, capsys):
    before = snapshot(env)
    rc, res = run(env.args(name='erin', start=4294967295 - 65535), capsys)
    assert rc == 1 and '4294967294' in res['msg']
    assert snapshot(env) == before


def test_explicit_start_overlap_refused(env, capsys):
    before = snapshot(env)
    rc, res = run(env.args(name='erin', start=200000, databases=['subuid']), capsys)
    assert rc == 1
    assert "bob's range 165536-231071" in res['msg']
    assert str(env.subuid) in res['msg']
    assert snapshot(env) == before
    assert env.listing() == ['.pwd.lock', 'subgid', 'subuid']   # locks released after failure


def test_absent(env, capsys):
    mixed = env.read('subuid').decode()
    rc, res = run(env.args(name='dave', state='absent'), capsys)
    assert rc == 0 and res['changed'] is True
    assert env.read('subuid').decode() == mixed.replace('1001:231072:65536\n', '')
    assert res['subuid'] is None and res['subgid'] is None
    rc, res = run(env.args(name='dave', state='absent'), capsys)
    assert rc == 0 and res['changed'] is False


def test_login_defs_respected(env, capsys):
    shutil.copy(os.path.join(FIX, 'login.defs'), str(env.dir / 'login.defs'))
    rc, res = run(env.args(name='erin', _ansible_check_mode=True), capsys)
    assert rc == 0
    assert res['subuid'] == {'start': 362144, 'count': 65536}   # SUB_UID_MIN 200000
    assert res['subgid'] == {'start': 300010, 'count': 65536}   # SUB_GID_MIN 300000


def test_bad_login_defs_fails(env, capsys):
    shutil.copy(os.path.join(FIX, 'bad-login.defs'), str(env.dir / 'login.defs'))
    before = snapshot(env)
    rc, res = run(env.args(name='erin'), capsys)
    assert rc == 1 and 'login.defs:2' in res['msg']
    assert snapshot(env) == before


def test_backup(env, capsys):
    mixed = env.read('subuid')
    rc, res = run(env.args(name='erin', backup=True, databases=['subuid']), capsys)
    assert rc == 0
    backup = res['backup_files']['subuid']
    assert res['backup_file'] == backup
    assert os.path.dirname(backup) == str(env.dir)
    with open(backup, 'rb') as handle:
        assert handle.read() == mixed


def test_new_file_created(env, capsys):
    os.unlink(str(env.subgid))
    rc, res = run(env.args(name='alice', _ansible_diff=True), capsys)
    assert rc == 0 and res['changed'] is True
    assert env.read('subgid') == b'alice:100000:65536\n'
    assert stat.S_IMODE(os.stat(str(env.subgid)).st_mode) == 0o644
    assert res['diff'][1]['before'] == ''
    assert res['subuid'] == {'start': 100000, 'count': 65536}   # existing line kept


def test_lock_held_elsewhere_fails_cleanly(env, capsys):
    with open(str(env.subuid) + '.lock', 'w') as handle:
        handle.write(str(os.getppid()))
    before = snapshot(env)
    rc, res = run(env.args(name='erin'), capsys)
    assert rc == 1 and 'still locked' in res['msg']
    assert snapshot(env) == before
    assert subprocess.call([sys.executable, '-c', TRY_PWD_LOCK, env.lock]) == 0


def test_same_path_twice_refused(env, capsys):
    rc, res = run(env.args(name='erin', subgid_path=str(env.subuid)), capsys)
    assert rc == 1 and 'same file' in res['msg']


def test_foreign_overlap_is_warned_not_touched(env, capsys, monkeypatch):
    # where warnings end up depends on whether ansible thinks it runs on the controller;
    # catch them at the source
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, msg, **kw: warned.append(msg))
    env.subuid.write_bytes(b'x:100000:65536\ny:150000:65536\n')
    rc, res = run(env.args(name='erin', databases=['subuid']), capsys)
    assert rc == 0, res
    assert env.read('subuid') == b'x:100000:65536\ny:150000:65536\nerin:215536:65536\n'
    assert len(warned) == 1
    assert 'x (line 1)' in warned[0] and 'y (line 2)' in warned[0] and '15536 ids' in warned[0]


def test_bad_name_refused(env, capsys):
    rc, res = run(env.args(name='a:b', allow_unknown_user=True), capsys)
    assert rc == 1 and 'owner field' in res['msg']


# --------------------------------------------------------------------------- security fixes

@pytest.fixture
def warned(monkeypatch):
    msgs = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, msg, **kw: msgs.append(msg))
    return msgs


@pytest.mark.parametrize('name', ['0', '1000', '1005', '99999999999999999999'])
def test_numeric_name_with_allow_unknown_user_refused(env, capsys, name):
    before = snapshot(env)
    rc, res = run(env.args(name=name, allow_unknown_user=True), capsys)
    assert rc == 1
    assert 'only of digits' in res['msg'] and 'nothing was changed' in res['msg']
    assert snapshot(env) == before and res['changed'] is False


def test_numeric_name_with_allow_unknown_user_refused_for_absent(env, capsys):
    before = snapshot(env)
    rc, res = run(env.args(name='1001', state='absent', allow_unknown_user=True), capsys)
    assert rc == 1 and 'only of digits' in res['msg']
    assert snapshot(env) == before


def test_numeric_name_of_unknown_uid_refused(env, capsys):
    before = snapshot(env)
    rc, res = run(env.args(name='1005'), capsys)
    assert rc == 1 and 'no account has uid 1005' in res['msg']
    assert snapshot(env) == before


def test_numeric_name_is_the_account_with_that_uid(env, capsys):
    gaps = env.read('subgid').decode()
    before = snapshot(env)
    rc, res = run(env.args(name='1001', _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert rc == 0, res
    # dave's numeric line in subuid is his: kept; in subgid he gets a line under his name
    assert res['subuid'] == {'start': 231072, 'count': 65536}
    assert res['diff'][0]['before'] == res['diff'][0]['after']
    assert res['diff'][1]['after'] == gaps + 'dave:300010:65536\n'
    assert snapshot(env) == before


def test_root_by_number_only_without_allow_unknown_user(env, capsys):
    env.subuid.write_bytes(b'')
    rc, res = run(env.args(name='0', databases=['subuid']), capsys)
    assert rc == 0, res
    assert env.read('subuid') == b'root:100000:65536\n'


@pytest.mark.parametrize('name', ['user@corp', '-rf', 'x' * 33, '1abc'])
def test_unknown_invalid_login_name_refused(env, capsys, name):
    before = snapshot(env)
    rc, res = run(env.args(name=name, allow_unknown_user=True), capsys)
    assert rc == 1 and 'nothing was changed' in res['msg']
    assert snapshot(env) == before


def test_overlapping_range_fails_and_nothing_written(env, capsys, warned):
    # subuid (first) would get a new line for erin; subgid has erin's contested range
    env.subgid.write_bytes(b'bob:100000:65536\nerin:150000:65536\n')
    before = snapshot(env)
    rc, res = run(env.args(name='erin'), capsys)
    assert rc == 1
    assert "erin's range 150000-215535 (line 2)" in res['msg']
    assert "bob's range 100000-165535 (line 1)" in res['msg']
    assert '15536 ids 150000-165535' in res['msg']
    assert 'allow_move' in res['msg'] and str(env.subgid) in res['msg']
    assert snapshot(env) == before and res['changed'] is False


def test_allow_move_moves_warns_and_returns(env, capsys, warned):
    env.subgid.write_bytes(b'bob:100000:65536\nerin:150000:65536\n')
    rc, res = run(env.args(name='erin', allow_move=True), capsys)
    assert rc == 0, res
    assert env.read('subgid') == b'bob:100000:65536\nerin:165536:65536\n'
    assert res['moved'] == {'subgid': {'from': [{'start': 150000, 'count': 65536, 'line': 2}],
                                       'to': {'start': 165536, 'count': 65536}}}
    moves = [w for w in warned if 'moved' in w]
    assert len(moves) == 1
    assert '150000-215535' in moves[0] and '165536-231071' in moves[0] and str(env.subgid) in moves[0]
    # second run: nothing to move
    rc, res = run(env.args(name='erin', allow_move=True), capsys)
    assert rc == 0 and res['changed'] is False and res['moved'] == {}


def test_grow_that_must_move_fails_then_allowed(env, capsys, warned):
    before = snapshot(env)
    rc, res = run(env.args(name='bob', count=131072, databases=['subuid']), capsys)
    assert rc == 1 and 'allow_move' in res['msg'] and 'nothing was changed' in res['msg']
    assert snapshot(env) == before
    rc, res = run(env.args(name='bob', count=131072, databases=['subuid'], allow_move=True), capsys)
    assert rc == 0
    assert res['moved']['subuid']['from'] == [{'start': 165536, 'count': 65536, 'line': 5}]
    assert res['moved']['subuid']['to'] == {'start': 362144, 'count': 131072}


def test_grow_in_place_is_no_move(env, capsys, warned):
    env.subuid.write_bytes(b'bob:100000:65536\n')
    rc, res = run(env.args(name='bob', count=131072, databases=['subuid']), capsys)
    assert rc == 0 and res['moved'] == {} and not [w for w in warned if 'moved' in w]
    assert env.read('subuid') == b'bob:100000:131072\n'


def test_explicit_start_moves_with_warning(env, capsys, warned):
    rc, res = run(env.args(name='carol', start=900000, databases=['subuid']), capsys)
    assert rc == 0, res
    assert res['moved'] == {'subuid': {'from': [{'start': 296608, 'count': 65536, 'line': 9}],
                                       'to': {'start': 900000, 'count': 65536}}}
    assert [w for w in warned if 'moved' in w and '296608-362143' in w and '900000-965535' in w]


def test_check_mode_reports_move_and_writes_nothing(env, capsys, warned):
    env.subgid.write_bytes(b'bob:100000:65536\nerin:150000:65536\n')
    before = snapshot(env)
    rc, res = run(env.args(name='erin', allow_move=True, _ansible_check_mode=True), capsys)
    assert rc == 0 and res['changed'] is True and 'subgid' in res['moved']
    assert snapshot(env) == before


@pytest.mark.parametrize('database', ['subuid', 'subgid'])
@pytest.mark.parametrize('line', [b'bob:4294967290:65536', b'bob:99999999999999999999:1',
                                  b'bob:0:4294967296'])
def test_line_past_id_space_fails_nothing_written(env, capsys, database, line):
    path = env.subuid if database == 'subuid' else env.subgid
    path.write_bytes(path.read_bytes() + line + b'\n')
    lineno = path.read_bytes().count(b'\n')
    before = snapshot(env)
    rc, res = run(env.args(name='erin'), capsys)
    assert rc == 1
    assert '%s:%d' % (path, lineno) in res['msg'] and 'nothing was changed' in res['msg']
    assert snapshot(env) == before and res['changed'] is False


def test_map_own_id_writes_uid_and_primary_gid_lines_then_keeps_them(env, capsys):
    env.subuid.write_text('bob:100000:65536\n')
    env.subgid.write_text('bob:100000:65536\n')
    rc, res = run(env.args(name='alice', map_own_id=True), capsys)
    assert rc == 0 and res['changed'] is True, res
    assert env.read('subuid').decode() == 'bob:100000:65536\nalice:1000:1\nalice:165536:65536\n'
    # subgid: her primary group's gid (the fake passwd gives 1500)
    assert env.read('subgid').decode() == 'bob:100000:65536\nalice:1500:1\nalice:165536:65536\n'
    assert res['subuid'] == {'start': 165536, 'count': 65536}
    rc, res = run(env.args(name='alice', map_own_id=True), capsys)
    assert rc == 0 and res['changed'] is False, res
    rc, res = run(env.args(name='alice'), capsys)     # without the option the line stays hers
    assert rc == 0 and res['changed'] is False, res


def test_map_own_id_for_an_unknown_user_fails_and_writes_nothing(env, capsys):
    before = snapshot(env)
    rc, res = run(env.args(name='ghost', allow_unknown_user=True, map_own_id=True), capsys)
    assert rc == 1 and 'map_own_id needs an existing account' in res['msg']
    assert snapshot(env) == before


def test_a_new_range_leaves_out_the_ids_of_accounts_nss_lists(env, capsys, warned):
    # an LDAP account's uid where the next free range would be: the range goes past it
    env.subuid.write_text('bob:100000:65536\n')
    env.subgid.write_text('bob:100000:65536\n')
    ACCOUNTS_EXTRA['ldapuser'] = 170000
    rc, res = run(env.args(name='alice'), capsys)
    assert rc == 0, res
    assert res['subuid'] == {'start': 170001, 'count': 65536}
    # the account's primary gid (the fake passwd gives uid + 500) is a gid in use too
    assert res['subgid'] == {'start': 170501, 'count': 65536}
    # an explicit start whose range holds it is refused, nothing written
    before = snapshot(env)
    rc, res = run(env.args(name='carol', start=166000), capsys)
    assert rc == 1 and 'the id 170000 of an existing account' in res['msg'], res
    assert snapshot(env) == before


def test_an_existing_range_holding_an_accounts_id_is_kept_and_warned(env, capsys, warned):
    env.subuid.write_text('alice:100000:65536\n')
    env.subgid.write_text('alice:100000:65536\n')
    ACCOUNTS_EXTRA['ldapuser'] = 120000
    rc, res = run(env.args(name='alice'), capsys)
    assert rc == 0 and res['changed'] is False, res
    assert [w for w in warned if 'contains the uid of existing account(s): 120000' in w], warned


# ---------------------------------------------------------------------------- getsubids

FAKE_GETSUBIDS = '''#!/bin/sh
# getsubids [-g] OWNER: prints the lines of $0.d/<subuid|subgid>.<OWNER>, fails without one
db=subuid
if [ "$1" = "-g" ]; then db=subgid; shift; fi
echo "$db $1" >> "$0.calls"
[ -f "$0.d/$db.$1" ] || { echo "Error fetching ranges" >&2; exit 1; }
cat "$0.d/$db.$1"
'''


def fake_getsubids(env, ranges):
    """An executable getsubids in the temp dir answering ``ranges`` ({(db, owner): text})."""
    path = env.dir / 'getsubids'
    path.write_text(FAKE_GETSUBIDS)
    path.chmod(0o755)
    data = env.dir / 'getsubids.d'
    data.mkdir()
    for (db, owner), text in ranges.items():
        (data / ('%s.%s' % (db, owner))).write_text(text)
    return str(path)


def calls(env):
    path = env.dir / 'getsubids.calls'
    return path.read_text().splitlines() if path.exists() else []


def test_without_getsubids_nothing_is_asked(env, capsys):
    rc, res = run(env.args(name='erin'), capsys)
    assert rc == 0, res
    assert res['getsubids'] == {'path': None, 'external': {}, 'user_only_there': []}
    assert res['subuid'] == {'start': 362144, 'count': 65536}


def test_getsubids_reporting_the_files_changes_nothing(env, capsys):
    """A getsubids that reads the same files: the same ranges are no conflict with themselves."""
    files = {}
    for db, path in (('subuid', env.subuid), ('subgid', env.subgid)):
        for line in path.read_text().splitlines():
            if line and not line.startswith('#') and line.count(':') == 2:
                owner, start, count = line.split(':')
                files[(db, owner)] = files.get((db, owner), '') + '%d: %s %s %s\n' % (
                    len(files.get((db, owner), '').splitlines()), owner, start, count)
    getsubids = fake_getsubids(env, files)
    rc, res = run(env.args(name='erin', getsubids_path=getsubids), capsys)
    assert rc == 0, res
    assert res['subuid'] == {'start': 362144, 'count': 65536} and res['subgid'] == {'start': 300010, 'count': 65536}
    assert res['getsubids'] == {'path': getsubids, 'external': {'subuid': [], 'subgid': []}, 'user_only_there': []}
    # every owner of each file, and the user, asked once per file
    assert calls(env) == ['subuid alice', 'subuid bob', 'subuid 1001', 'subuid carol', 'subuid erin',
                          'subgid low', 'subgid straddle', 'subgid a', 'subgid b', 'subgid c', 'subgid d',
                          'subgid erin']


def test_a_range_only_sssd_knows_is_taken(env, capsys):
    getsubids = fake_getsubids(env, {('subuid', 'bob'): '0: bob 165536 65536\n1: bob 362144 65536\n'})
    rc, res = run(env.args(name='erin', getsubids_path=getsubids), capsys)
    assert rc == 0, res
    assert res['subuid'] == {'start': 427680, 'count': 65536}
    assert res['getsubids']['external'] == {'subuid': [{'owner': 'bob', 'start': 362144, 'count': 65536}],
                                            'subgid': []}
    assert env.read('subuid').decode().endswith('erin:427680:65536\n')


def test_a_user_whose_range_only_getsubids_knows_is_reported_not_written(env, capsys):
    getsubids = fake_getsubids(env, {('subuid', 'erin'): '0: erin 700000 65536\n',
                                     ('subgid', 'erin'): '0: erin 700000 65536\n'})
    before = snapshot(env)[0]
    rc, res = run(env.args(name='erin', getsubids_path=getsubids), capsys)
    assert rc == 0, res
    assert res['changed'] is False and snapshot(env)[0] == before
    assert res['subuid'] == {'start': 700000, 'count': 65536} == res['subgid']
    assert res['getsubids']['user_only_there'] == ['subuid', 'subgid']
    # too small there: refused, nothing written
    rc, res = run(env.args(name='erin', count=131072, getsubids_path=getsubids), capsys)
    assert rc == 1 and 'change it where it is defined' in res['msg'] and snapshot(env)[0] == before


def test_a_getsubids_that_is_not_executable_is_not_consulted(env, capsys):
    getsubids = fake_getsubids(env, {('subuid', 'erin'): '0: erin 700000 65536\n'})
    os.chmod(getsubids, 0o644)
    rc, res = run(env.args(name='erin', getsubids_path=getsubids), capsys)
    assert rc == 0 and res['getsubids']['path'] is None and calls(env) == []
    assert res['subuid'] == {'start': 362144, 'count': 65536}
