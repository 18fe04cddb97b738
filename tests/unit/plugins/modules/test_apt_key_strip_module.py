# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/modules/apt_key_strip.py: main() with patched arguments on keyrings
below a temporary directory, made of the gpg-made keys in tests/unit/fixtures/engine/keys
(a shared binary keyring is their concatenation, as apt-key add left /etc/apt/trusted.gpg).
The packet logic's own cases are in tests/unit/plugins/module_utils/test_openpgp.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest
import yaml

from ansible_collections.nsguard.docker.plugins.module_utils import fileops
from ansible_collections.nsguard.docker.plugins.modules import apt_key_strip

from engine_helpers import DOCKER_FPR, OTHER_FPR, key_bytes
from module_args import patch_module_args
from module_helpers import check_options

SHARED = key_bytes('docker-and-other.gpg')  # DOCKER, then OTHER (gpg exports in creation order)
SPACED = ' '.join(DOCKER_FPR[i:i + 4] for i in range(0, 40, 4))


@pytest.fixture
def apt(tmp_path):
    directory = tmp_path / 'apt'
    directory.mkdir()
    (tmp_path / 'ansible-tmp').mkdir()
    return directory


def keyring(directory, name, data, mode=0o644):
    path = directory / name
    path.write_bytes(data)
    path.chmod(mode)
    return str(path)


def snapshot(*paths):
    out = []
    for path in paths:
        if not os.path.lexists(path):
            out.append(None)
            continue
        st_ = os.lstat(path)
        data = open(path, 'rb').read() if stat.S_ISREG(st_.st_mode) else None
        out.append((data, stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid, st_.st_ino))
    return out


def run(apt, capsys, paths, fingerprint=SPACED, check_mode=False, diff=False):
    args = dict(paths=paths, fingerprint=fingerprint, _ansible_check_mode=check_mode, _ansible_diff=diff,
                _ansible_remote_tmp=str(apt.parent / 'ansible-tmp'), _ansible_keep_remote_files=False)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            apt_key_strip.main()
    result = json.loads(capsys.readouterr().out)
    result['_rc'] = caught.value.code
    return result


# ---------------------------------------------------------------------------- documentation

def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(apt_key_strip.DOCUMENTATION)
    assert doc['module'] == 'apt_key_strip'
    assert doc['extends_documentation_fragment'] == ['nsguard.docker.attributes']
    assert set(doc['attributes']) == {'check_mode', 'diff_mode', 'idempotent'}
    assert all(doc['attributes'][name]['support'] == 'full' for name in doc['attributes'])
    spec = apt_key_strip.argument_spec()
    check_options(doc['options'], spec)
    assert spec['fingerprint']['no_log'] is False
    examples = yaml.safe_load(apt_key_strip.EXAMPLES)
    assert all(set(task) - {'name', 'when'} == {'nsguard.docker.apt_key_strip'} for task in examples)


def test_every_returned_key_is_documented(apt, capsys):
    documented = yaml.safe_load(apt_key_strip.RETURN)
    result = run(apt, capsys, [keyring(apt, 'trusted.gpg', SHARED)])
    assert set(result) - {'_rc', 'changed', 'invocation'} == set(documented)
    assert set(result['keyrings'][0]) == set(documented['keyrings']['contains'])


# ---------------------------------------------------------------------------- runs

def test_strips_the_key_keeps_the_others_byte_for_byte_and_is_idempotent(apt, capsys):
    path = keyring(apt, 'trusted.gpg', SHARED)
    result = run(apt, capsys, [path])
    assert result['_rc'] == 0, result.get('msg')
    assert result['changed'] is True and 'diff' not in result
    assert result['keyrings'] == [{'path': path, 'changed': True, 'fingerprints_before': [DOCKER_FPR, OTHER_FPR],
                                   'fingerprints_after': [OTHER_FPR]}]
    with open(path, 'rb') as handle:
        assert handle.read() == key_bytes('other.gpg')
    assert [n for n in os.listdir(str(apt)) if n != 'trusted.gpg'] == []  # no temporary file left
    before = snapshot(path)
    for check_mode in (False, True):
        result = run(apt, capsys, [path], check_mode=check_mode, diff=True)
        assert result['_rc'] == 0 and result['changed'] is False and 'diff' not in result
        assert result['keyrings'][0] == {'path': path, 'changed': False, 'fingerprints_before': [OTHER_FPR],
                                         'fingerprints_after': [OTHER_FPR]}
    assert snapshot(path) == before


def test_docker_key_last_and_several_keyrings(apt, capsys):
    first = keyring(apt, 'trusted.gpg', key_bytes('other.gpg') + key_bytes('docker.gpg'))
    second = keyring(apt, 'second.gpg', SHARED)
    other = keyring(apt, 'other.gpg', key_bytes('other.gpg'))
    before = snapshot(other)
    result = run(apt, capsys, [first, other, second, first])
    assert result['_rc'] == 0 and result['changed'] is True
    assert [(k['path'], k['changed']) for k in result['keyrings']] == [(first, True), (other, False), (second, True)]
    for path in (first, second):
        with open(path, 'rb') as handle:
            assert handle.read() == key_bytes('other.gpg')
    assert snapshot(other) == before  # not rewritten: same inode, bytes and attributes


def test_keeps_mode_and_owner(apt, capsys):
    path = keyring(apt, 'trusted.gpg', SHARED, mode=0o640)
    ids = (os.geteuid(), os.getegid())
    if os.geteuid() == 0:
        ids = (1234, 5678)
        os.chown(path, *ids)
    inode = os.stat(path).st_ino
    result = run(apt, capsys, [path])
    assert result['_rc'] == 0 and result['changed'] is True
    st_ = os.stat(path)
    assert (stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid) == (0o640,) + ids
    assert st_.st_ino != inode  # replaced by a rename, not rewritten in place


def test_check_mode_writes_nothing_and_diff_shows_fingerprints(apt, capsys):
    path = keyring(apt, 'trusted.gpg', SHARED)
    before = snapshot(path)
    result = run(apt, capsys, [path], check_mode=True, diff=True)
    assert result['_rc'] == 0 and result['changed'] is True
    assert result['keyrings'][0]['fingerprints_after'] == [OTHER_FPR]
    assert result['diff'] == {'before': '%s\n%s\n' % (DOCKER_FPR, OTHER_FPR), 'after': '%s\n' % OTHER_FPR,
                              'before_header': '%s (primary keys)' % path,
                              'after_header': '%s (primary keys)' % path}
    assert snapshot(path) == before
    assert os.listdir(str(apt)) == ['trusted.gpg']


def test_diff_of_several_keyrings_is_a_list(apt, capsys):
    first = keyring(apt, 'a.gpg', SHARED)
    second = keyring(apt, 'b.gpg', key_bytes('other.gpg') + key_bytes('docker.gpg'))
    unchanged = keyring(apt, 'c.gpg', key_bytes('other.gpg'))
    result = run(apt, capsys, [first, unchanged, second], diff=True)
    assert result['_rc'] == 0
    assert [d['before_header'] for d in result['diff']] == ['%s (primary keys)' % p for p in (first, second)]
    assert result['diff'][1]['before'] == '%s\n%s\n' % (OTHER_FPR, DOCKER_FPR)


def test_keyrings_without_the_key_are_left_alone(apt, capsys):
    empty = keyring(apt, 'trusted.gpg', b'')
    other = keyring(apt, 'other.gpg', key_bytes('other.gpg'))
    missing = str(apt / 'missing.gpg')
    before = snapshot(empty, other, missing)
    result = run(apt, capsys, [empty, other, missing], diff=True)
    assert result['_rc'] == 0 and result['changed'] is False and 'diff' not in result
    assert result['keyrings'] == [
        {'path': empty, 'changed': False, 'fingerprints_before': [], 'fingerprints_after': []},
        {'path': other, 'changed': False, 'fingerprints_before': [OTHER_FPR], 'fingerprints_after': [OTHER_FPR]},
        {'path': missing, 'changed': False, 'fingerprints_before': [], 'fingerprints_after': []}]
    assert snapshot(empty, other, missing) == before


def test_no_paths_changes_nothing(apt, capsys):
    result = run(apt, capsys, [])
    assert result['_rc'] == 0 and result['changed'] is False and result['keyrings'] == []


def test_a_root_only_link_is_followed_and_stays_a_link(apt, capsys):
    target = keyring(apt, 'real.gpg', SHARED, mode=0o600)
    link = str(apt / 'trusted.gpg')
    os.symlink('real.gpg', link)
    result = run(apt, capsys, [link, target])
    assert result['_rc'] == 0 and result['changed'] is True
    assert os.path.islink(link)
    with open(target, 'rb') as handle:
        assert handle.read() == key_bytes('other.gpg')
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


# ---------------------------------------------------------------------------- refusals

@pytest.mark.parametrize('name, data, error', [
    ('trusted.gpg', key_bytes('docker-and-other.asc'),
     'is ASCII-armored: only binary keyrings are rewritten (remove the key by hand)'),
    ('trusted.gpg', key_bytes('docker.gpg'),
     'holds no key but %s: it would be left without any key (delete the file instead)' % DOCKER_FPR),
    ('trusted.gpg', SHARED[:-9], 'cannot be read as an OpenPGP keyring (truncated packet'),
    ('trusted.gpg', b'KBXf' + b'\0' * 28, 'cannot be read as an OpenPGP keyring (not an OpenPGP packet at offset 0)'),
])
def test_refusals_change_no_keyring(apt, capsys, name, data, error):
    # the good keyring comes first: nothing is written before every keyring was checked
    good = keyring(apt, 'good.gpg', SHARED)
    bad = keyring(apt, name, data)
    before = snapshot(good, bad)
    for check_mode in (False, True):
        result = run(apt, capsys, [good, bad], check_mode=check_mode)
        assert result['_rc'] == 1 and result['failed'] is True and result['changed'] is False
        assert result['msg'].startswith('%s %s' % (bad, error)), result['msg']
        assert result['msg'].endswith('. Nothing was changed.')
    assert snapshot(good, bad) == before


def test_a_directory_is_refused(apt, capsys):
    good = keyring(apt, 'good.gpg', SHARED)
    before = snapshot(good)
    result = run(apt, capsys, [good, str(apt)])
    assert result['_rc'] == 1 and 'is a directory, not a file' in result['msg']
    assert result['msg'].endswith('Nothing was changed.')
    assert snapshot(good) == before


def test_a_link_another_user_could_have_planted_is_refused(apt, capsys, tmp_path):
    target = keyring(apt, 'real.gpg', SHARED)
    shared_dir = tmp_path / 'world-writable'
    shared_dir.mkdir()
    shared_dir.chmod(0o1777)
    link = str(shared_dir / 'trusted.gpg')
    os.symlink(target, link)
    before = snapshot(target)
    result = run(apt, capsys, [link])
    assert result['_rc'] == 1 and result['changed'] is False
    assert 'is a symbolic link' in result['msg'] and 'every user' in result['msg']
    assert result['msg'].endswith('. Nothing was changed.') and 'nothing was changed' not in result['msg']
    assert snapshot(target) == before


@pytest.mark.parametrize('fingerprint', ['', 'C67DEF21', DOCKER_FPR + '00', 'Z' * 40])
def test_a_bad_fingerprint_is_refused(apt, capsys, fingerprint):
    path = keyring(apt, 'trusted.gpg', SHARED)
    result = run(apt, capsys, [path], fingerprint=fingerprint)
    assert result['_rc'] == 1 and 'is not a fingerprint (40 hexadecimal digits' in result['msg']
    assert snapshot(path)[0][0] == SHARED


def test_a_relative_path_is_refused(apt, capsys):
    result = run(apt, capsys, ['etc/apt/trusted.gpg'])
    assert result['_rc'] == 1
    assert result['msg'] == 'etc/apt/trusted.gpg is not an absolute path. Nothing was changed.'


def test_a_failed_write_says_what_was_already_rewritten(apt, capsys, monkeypatch):
    first = keyring(apt, 'a.gpg', SHARED)
    second = keyring(apt, 'b.gpg', SHARED)
    real_write = fileops.atomic_write

    def write(path, data, **kwargs):
        if path == second:
            raise fileops.FileOpsError('cannot write %s: No space left on device' % path)
        return real_write(path, data, **kwargs)

    monkeypatch.setattr(fileops, 'atomic_write', write)
    result = run(apt, capsys, [first, second])
    assert result['_rc'] == 1 and result['changed'] is True
    assert result['msg'].endswith('No space left on device. Already rewritten: %s.' % first)
    assert [k['changed'] for k in result['keyrings']] == [True, True]
    with open(second, 'rb') as handle:
        assert handle.read() == SHARED
