# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Module tests for nsguard.docker.daemon_config: main() with patched arguments.

Validation runs against a fake dockerd (tests/unit/fixtures/daemon_json/fake_dockerd.py
copied into a temporary directory) that accepts known keys and rejects others.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import sys

import pytest
from ansible.module_utils.common import warnings as module_warnings

from ansible_collections.nsguard.docker.plugins.modules import daemon_config
from ansible_collections.nsguard.docker.tests.unit.conftest import FIXTURES

from module_args import patch_module_args

FIX = os.path.join(FIXTURES, 'daemon_json')


def fixture_text(name):
    with open(os.path.join(FIX, name)) as handle:
        return handle.read()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Temporary layout: etc/ for the config, bin/dockerd (fake), a validation log."""
    etc = tmp_path / 'etc' / 'docker'
    etc.mkdir(parents=True)
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    dockerd = bindir / 'dockerd'
    dockerd.write_text('#!%s\n%s' % (sys.executable, fixture_text('fake_dockerd.py')))
    dockerd.chmod(0o755)
    log = tmp_path / 'validate.log'
    monkeypatch.setenv('FAKE_DOCKERD_LOG', str(log))
    remote_tmp = tmp_path / 'ansible-tmp'
    remote_tmp.mkdir()

    class Env(object):
        path = etc / 'daemon.json'
        root = tmp_path

        def __init__(self):
            self.dockerd = str(dockerd)
            self.log = log
            self.remote_tmp = str(remote_tmp)

        def validations(self):
            if not self.log.exists():
                return []
            return [json.loads(line) for line in self.log.read_text().splitlines()]

    return Env()


def run(env, capsys, check_mode=False, diff=True, **args):
    args.setdefault('path', str(env.path))
    if 'dockerd_path' not in args and args.get('validate', True):
        args['dockerd_path'] = env.dockerd
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = diff
    args['_ansible_remote_tmp'] = env.remote_tmp
    args['_ansible_keep_remote_files'] = False
    # Warnings are collected per process, not per module run: start each run without
    # those of the runs before it (a list before ansible-core 2.19, a dict since).
    module_warnings._global_warnings.clear()
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            daemon_config.main()
    out = capsys.readouterr().out
    result = json.loads(out)
    result['_rc'] = exc.value.code
    return result


def test_creates_new_file(env, capsys):
    result = run(env, capsys, settings={'log-driver': 'json-file', 'live-restore': True})
    assert result['changed'] is True
    assert result['_rc'] == 0
    assert env.path.read_text() == '{\n  "log-driver": "json-file",\n  "live-restore": true\n}\n'
    assert stat.S_IMODE(env.path.stat().st_mode) == 0o644
    assert result['previous'] == {}
    assert result['config'] == {'log-driver': 'json-file', 'live-restore': True}
    assert result['diff']['before'] == ''
    assert result['validated_with'] == env.dockerd
    assert result['validated'] is True
    # validation ran on a candidate file, not on the target
    (seen,) = env.validations()
    assert seen['path'] != str(env.path)
    assert json.loads(seen['content']) == result['config']


def test_unmanaged_keys_kept_order_preserved_new_appended(env, capsys):
    env.path.write_text(fixture_text('basic.json'))
    result = run(env, capsys, settings={'debug': True, 'log-driver': 'journald'})
    assert result['changed'] is True
    data = json.loads(env.path.read_text())
    assert list(data) == ['log-driver', 'log-opts', 'storage-driver', 'debug']
    assert data['log-opts'] == {'max-size': '10m', 'max-file': '3'}
    assert result['changed_keys'] == ['debug', 'log-driver']
    assert result['previous']['log-driver'] == 'json-file'


def test_second_run_is_idempotent(env, capsys):
    env.path.write_text(fixture_text('basic.json'))
    run(env, capsys, settings={'debug': True})
    before = env.path.read_bytes()
    mtime = env.path.stat().st_mtime_ns
    result = run(env, capsys, settings={'debug': True})
    assert result['changed'] is False
    assert 'diff' not in result
    assert env.path.read_bytes() == before
    assert env.path.stat().st_mtime_ns == mtime
    assert len(env.validations()) == 1  # no validation when nothing is written


def test_formatting_differences_are_not_a_change(env, capsys):
    original = fixture_text('basic_reformatted.json')
    env.path.write_text(original)
    result = run(env, capsys, settings={'log-driver': 'json-file',
                                        'log-opts': {'max-size': '10m', 'max-file': '3'}})
    assert result['changed'] is False
    assert env.path.read_text() == original


def test_type_change_is_a_change(env, capsys):
    env.path.write_text('{"debug": 1, "max-concurrent-downloads": 3.0}\n')
    result = run(env, capsys, settings={'debug': True, 'max-concurrent-downloads': 3})
    assert result['changed'] is True
    assert env.path.read_text() == '{\n  "debug": true,\n  "max-concurrent-downloads": 3\n}\n'


@pytest.mark.parametrize('name,where', [('trailing_comma.json', 'line 4 column 1'),
                                        ('bad_literal.json', 'line 2 column 12'),
                                        ('toplevel_array.json', 'JSON object')])
def test_invalid_existing_file_fails_unchanged(env, capsys, name, where):
    original = fixture_text(name)
    env.path.write_text(original)
    result = run(env, capsys, settings={'debug': True})
    assert result['failed'] is True
    assert result['_rc'] == 1
    assert str(env.path) in result['msg']
    assert where in result['msg']
    assert 'left unchanged' in result['msg']
    assert env.path.read_text() == original
    assert env.validations() == []


def test_empty_file_counts_as_empty_object(env, capsys):
    env.path.write_text('')
    result = run(env, capsys, settings={'debug': True})
    assert result['changed'] is True
    assert result['previous'] == {}
    assert json.loads(env.path.read_text()) == {'debug': True}


def test_empty_file_and_nothing_to_set_is_left_alone(env, capsys):
    env.path.write_text('\n')
    result = run(env, capsys, settings={})
    assert result['changed'] is False
    assert env.path.read_text() == '\n'


def test_absent_file_and_nothing_to_set_creates_nothing(env, capsys):
    result = run(env, capsys, remove=['userns-remap'])
    assert result['changed'] is False
    assert not env.path.exists()
    assert result['config'] == {}


def test_check_mode_reports_and_writes_nothing(env, capsys):
    original = fixture_text('basic.json')
    env.path.write_text(original)
    result = run(env, capsys, check_mode=True, settings={'debug': True})
    assert result['changed'] is True
    assert result['diff']['before'] == original
    assert json.loads(result['diff']['after'])['debug'] is True
    assert env.path.read_text() == original
    assert len(env.validations()) == 1  # still validated (no side effects)
    assert sorted(os.listdir(str(env.path.parent))) == ['daemon.json']


def test_check_mode_new_file_in_missing_dir(env, capsys):
    target = env.root / 'home' / '.config' / 'docker' / 'daemon.json'
    result = run(env, capsys, check_mode=True, path=str(target), settings={'debug': True})
    assert result['changed'] is True
    assert not (env.root / 'home').exists()


def test_validation_rejects_and_file_unchanged(env, capsys):
    original = fixture_text('basic.json')
    env.path.write_text(original)
    result = run(env, capsys, settings={'bogus-key': 'x'})
    assert result['failed'] is True
    assert "don't match any configuration option: bogus-key" in result['msg']
    assert "don't match any configuration option: bogus-key" in result['stderr']
    assert 'not changed' in result['msg']
    assert env.path.read_text() == original
    assert sorted(os.listdir(str(env.path.parent))) == ['daemon.json']


def test_validation_rejects_in_check_mode_too(env, capsys):
    result = run(env, capsys, check_mode=True, settings={'max-concurrent-downloads': 'x'})
    assert result['failed'] is True
    assert 'cannot unmarshal' in result['msg']


def test_missing_dockerd_fails_clearly(env, capsys):
    result = run(env, capsys, dockerd_path=str(env.root / 'nowhere' / 'dockerd'),
                 settings={'debug': True})
    assert result['failed'] is True
    assert 'was not found' in result['msg']
    assert 'validate=false' in result['msg']
    assert not env.path.exists()


def test_missing_dockerd_on_path_fails(env, capsys, monkeypatch):
    monkeypatch.setattr(daemon_config.daemon_json, 'DOCKERD_DIRS', [str(env.root / 'x')])
    monkeypatch.setenv('PATH', str(env.root / 'empty'))
    result = run(env, capsys, dockerd_path=None, settings={'debug': True})
    assert result['failed'] is True
    assert 'dockerd on PATH' in result['msg']


def test_missing_dockerd_in_check_mode_warns(env, capsys):
    result = run(env, capsys, check_mode=True,
                 dockerd_path=str(env.root / 'nowhere' / 'dockerd'),
                 settings={'debug': True})
    assert result['changed'] is True
    # ansible-core 2.19 returns warnings as structured objects, older ones as strings
    assert 'not validated' in json.dumps(result.get('warnings', []))


def test_dockerd_found_on_path(env, capsys, monkeypatch):
    monkeypatch.setenv('PATH', os.path.dirname(env.dockerd) + os.pathsep + os.environ['PATH'])
    result = run(env, capsys, dockerd_path=None, settings={'debug': True})
    assert result['validated_with'] == env.dockerd


def test_validate_false_needs_no_dockerd(env, capsys):
    result = run(env, capsys, validate=False, dockerd_path=str(env.root / 'none'),
                 settings={'anything-goes': 1})
    assert result['changed'] is True
    assert json.loads(env.path.read_text()) == {'anything-goes': 1}
    assert 'validated_with' not in result
    assert result['validated'] is False


def old_dockerd(env):
    """A dockerd as Docker 20.10 (Debian 12's docker.io) answers --validate."""
    old = env.root / 'bin' / 'dockerd-20'
    old.write_text('#!/bin/sh\necho "unknown flag: --validate" >&2\n'
                   'echo "See \'dockerd --help\'." >&2\nexit 1\n')
    old.chmod(0o755)
    return str(old)


def warnings_text(result):
    # ansible-core 2.19 returns warnings as structured objects, older ones as strings
    return json.dumps(result.get('warnings', []))


def test_old_dockerd_without_validate_flag(env, capsys):
    env.path.write_text('{"log-level": "warn"}\n')
    result = run(env, capsys, dockerd_path=old_dockerd(env), settings={'debug': True})
    assert result['failed'] is True
    assert 'does not support --validate' in result['msg']
    assert 'validate=false' in result['msg']
    assert 'validate_unsupported=warn' in result['msg']
    assert 'was not changed' in result['msg']
    assert result['validated'] is False
    assert env.path.read_text() == '{"log-level": "warn"}\n'
    assert sorted(os.listdir(str(env.path.parent))) == ['daemon.json']


def test_old_dockerd_fail_given_explicitly_fails_too(env, capsys):
    result = run(env, capsys, dockerd_path=old_dockerd(env), validate_unsupported='fail',
                 settings={'debug': True})
    assert result['failed'] is True
    assert 'does not support --validate' in result['msg']
    assert not env.path.exists()


def test_old_dockerd_warn_writes_unvalidated(env, capsys):
    env.path.write_text('{"log-level": "warn"}\n')
    dockerd = old_dockerd(env)
    result = run(env, capsys, dockerd_path=dockerd, validate_unsupported='warn',
                 settings={'userns-remap': 'dockremap:dockremap'}, rollback_copy=True)
    assert result['_rc'] == 0, result.get('msg')
    assert result['changed'] is True
    assert result['validated'] is False
    assert 'validated_with' not in result
    assert json.loads(env.path.read_text()) == {'log-level': 'warn',
                                                'userns-remap': 'dockremap:dockremap'}
    assert result['rollback_file'] == str(env.path) + '.nsguard-rollback'
    warnings = warnings_text(result)
    assert dockerd in warnings
    assert 'Docker 23.0 or later' in warnings
    assert 'was written without validation' in warnings
    # nothing to write the second time: no validation attempt, no warning
    result = run(env, capsys, dockerd_path=dockerd, validate_unsupported='warn',
                 settings={'userns-remap': 'dockremap:dockremap'})
    assert result['changed'] is False and result['validated'] is False
    assert 'validat' not in warnings_text(result)


def test_old_dockerd_warn_in_check_mode_reports_and_writes_nothing(env, capsys):
    original = '{"log-level": "warn"}\n'
    env.path.write_text(original)
    dockerd = old_dockerd(env)
    result = run(env, capsys, check_mode=True, dockerd_path=dockerd,
                 validate_unsupported='warn', settings={'debug': True})
    assert result['_rc'] == 0, result.get('msg')
    assert result['changed'] is True
    assert result['validated'] is False
    assert json.loads(result['diff']['after']) == {'log-level': 'warn', 'debug': True}
    assert env.path.read_text() == original
    warnings = warnings_text(result)
    assert dockerd in warnings and 'would be written without validation' in warnings
    assert sorted(os.listdir(str(env.path.parent))) == ['daemon.json']


@pytest.mark.parametrize('check_mode', [False, True])
def test_warn_with_a_dockerd_that_rejects_still_fails(env, capsys, check_mode):
    original = fixture_text('basic.json')
    env.path.write_text(original)
    result = run(env, capsys, check_mode=check_mode, validate_unsupported='warn',
                 settings={'bogus-key': 'x'})
    assert result['failed'] is True
    assert "don't match any configuration option: bogus-key" in result['msg']
    assert 'not changed' in result['msg']
    assert result['validated'] is False
    assert 'written without validation' not in warnings_text(result)
    assert env.path.read_text() == original
    assert sorted(os.listdir(str(env.path.parent))) == ['daemon.json']
    assert len(env.validations()) == 1


def test_warn_with_a_dockerd_that_accepts_validates(env, capsys):
    result = run(env, capsys, validate_unsupported='warn', settings={'debug': True})
    assert result['validated'] is True
    assert result['validated_with'] == env.dockerd
    assert 'validation' not in warnings_text(result)
    assert json.loads(env.path.read_text()) == {'debug': True}


OLD_STDERR = "unknown flag: --validate\nSee 'dockerd --help'.\n"
REJECTED = ("unable to configure the Docker daemon with file /tmp/x.json: the following "
            "directives don't match any configuration option: validate\n")


@pytest.mark.parametrize('ok,stderr,choice,verdict', [
    (True, 'configuration OK\n', 'fail', 'accepted'),
    (True, 'configuration OK\n', 'warn', 'accepted'),
    (False, OLD_STDERR, 'fail', 'unsupported'),
    (False, OLD_STDERR, 'warn', 'unvalidated'),
    (False, REJECTED, 'fail', 'rejected'),
    (False, REJECTED, 'warn', 'rejected'),
    (False, '', 'warn', 'rejected'),
    (False, None, 'warn', 'rejected'),
])
def test_validation_verdict(ok, stderr, choice, verdict):
    assert daemon_config.validation_verdict(ok, stderr, choice) == verdict


def test_unvalidated_warning_wording():
    text = daemon_config.unvalidated_warning('/usr/sbin/dockerd', '/etc/docker/daemon.json',
                                             False)
    assert text.startswith('/usr/sbin/dockerd does not support --validate')
    assert 'Docker 23.0 or later' in text
    assert '/etc/docker/daemon.json was written without validation' in text
    text = daemon_config.unvalidated_warning('/usr/sbin/dockerd', '/etc/docker/daemon.json',
                                             True)
    assert '/etc/docker/daemon.json would be written without validation' in text


def test_remove_keys(env, capsys):
    env.path.write_text(fixture_text('types.json'))
    result = run(env, capsys, remove=['userns-remap', 'absent-key'])
    assert result['changed'] is True
    assert result['changed_keys'] == ['userns-remap']
    data = json.loads(env.path.read_text())
    assert 'userns-remap' not in data
    assert data['comment'] == u'caf\u00e9 \u2603'
    result = run(env, capsys, remove=['userns-remap'])
    assert result['changed'] is False


def test_set_and_remove_same_key_fails(env, capsys):
    result = run(env, capsys, settings={'debug': True}, remove=['debug'])
    assert result['failed'] is True
    assert 'both set and removed' in result['msg']


def test_merge_nested(env, capsys):
    env.path.write_text(fixture_text('types.json'))
    result = run(env, capsys, settings={'features': {'cdi': True}}, merge_nested=True)
    assert result['changed'] is True
    assert result['config']['features'] == {'buildkit': True, 'containerd-snapshotter': False,
                                            'cdi': True}
    result = run(env, capsys, settings={'features': {'cdi': True}})
    assert result['config']['features'] == {'cdi': True}


def test_existing_mode_kept(env, capsys):
    env.path.write_text('{}\n')
    env.path.chmod(0o600)
    run(env, capsys, settings={'debug': True})
    assert stat.S_IMODE(env.path.stat().st_mode) == 0o600


def test_explicit_mode_applied_to_existing_file(env, capsys):
    env.path.write_text('{"debug": true}\n')
    env.path.chmod(0o600)
    result = run(env, capsys, settings={'debug': True}, mode='0640')
    assert result['changed'] is True
    assert stat.S_IMODE(env.path.stat().st_mode) == 0o640
    result = run(env, capsys, settings={'debug': True}, mode='0640')
    assert result['changed'] is False


def test_explicit_mode_for_new_file(env, capsys):
    run(env, capsys, settings={'debug': True}, mode='0600')
    assert stat.S_IMODE(env.path.stat().st_mode) == 0o600


def test_symbolic_mode_for_new_file(env, capsys):
    result = run(env, capsys, settings={'debug': True}, mode='u=rw,g=r,o=')
    assert result['changed'] is True
    assert stat.S_IMODE(env.path.stat().st_mode) == 0o640


def test_backup(env, capsys):
    original = fixture_text('basic.json')
    env.path.write_text(original)
    result = run(env, capsys, settings={'debug': True}, backup=True)
    backup = result['backup_file']
    assert os.path.dirname(backup) == str(env.path.parent)
    with open(backup) as handle:
        assert handle.read() == original


def test_create_dirs(env, capsys):
    target = env.root / 'home' / 'alice' / '.config' / 'docker' / 'daemon.json'
    result = run(env, capsys, path=str(target), create_dirs=False, settings={'debug': True})
    assert result['failed'] is True
    assert 'create_dirs=false' in result['msg']
    result = run(env, capsys, path=str(target), settings={'debug': True})
    assert result['changed'] is True
    assert json.loads(target.read_text()) == {'debug': True}
    assert stat.S_IMODE(target.parent.stat().st_mode) & 0o755 == 0o755


def test_symlink_refused_by_default_followed_when_asked_in_a_trusted_directory(env, capsys):
    real = env.root / 'real-daemon.json'
    real.write_text('{"debug": false}\n')
    env.path.symlink_to(real)
    result = run(env, capsys, settings={'debug': True})
    assert result['failed'] is True
    assert str(env.path) in result['msg'] and 'follow=false' in result['msg']
    assert real.read_text() == '{"debug": false}\n'
    result = run(env, capsys, settings={'debug': True}, follow=True)
    assert result['changed'] is True
    assert result['real_path'] == str(real)
    assert env.path.is_symlink()
    assert json.loads(real.read_text()) == {'debug': True}


def _fingerprint(path):
    st_ = os.stat(str(path))
    return path.read_bytes(), st_.st_uid, st_.st_gid, stat.S_IMODE(st_.st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason='the 0.1.0 hole needs root and another user')
@pytest.mark.parametrize('follow', [False, True])
@pytest.mark.parametrize('where', ['file', 'dangling', 'directory'])
def test_user_planted_links_never_redirect_root(env, capsys, where, follow):
    """0.1.0: root merged a user's ~/.config/docker/daemon.json that linked to a root-owned
    file, and chowned it to the user (or created a file at a dangling link's target)."""
    import grp
    import pwd
    nobody = pwd.getpwnam('nobody')
    protected = env.root / 'etc' / 'docker' / 'daemon.json'
    protected.write_text('{"live-restore": true}\n')
    before = _fingerprint(protected)
    profile_d = env.root / 'etc' / 'profile.d'
    profile_d.mkdir()
    home = env.root / 'home' / 'mallory'
    (home / '.config').mkdir(parents=True)
    for directory in (home, home / '.config'):
        os.chown(str(directory), nobody.pw_uid, nobody.pw_gid)
    target = home / '.config' / 'docker' / 'daemon.json'
    if where == 'file':
        target.parent.mkdir()
        os.chown(str(target.parent), nobody.pw_uid, nobody.pw_gid)
        target.symlink_to(protected)
    elif where == 'dangling':
        target.parent.mkdir()
        os.chown(str(target.parent), nobody.pw_uid, nobody.pw_gid)
        target.symlink_to(profile_d / 'evil.sh')
    else:
        target.parent.symlink_to(protected.parent)
    group = grp.getgrgid(nobody.pw_gid).gr_name
    for check_mode in (True, False):
        extra = {'follow': True} if follow else {}  # the default, as 0.1.0 was called
        result = run(env, capsys, check_mode=check_mode, path=str(target), validate=False,
                     owner='nobody', group=group, settings={'userns-remap': 'mallory'},
                     **extra)
        assert result['failed'] is True, result
        assert 'symbolic link' in result['msg'] and 'nothing was changed' in result['msg']
    assert _fingerprint(protected) == before
    assert os.listdir(str(profile_d)) == []


def test_owner_and_mode_of_unchanged_content_set_through_the_descriptor(env, capsys):
    env.path.write_text('{"debug": true}\n')
    env.path.chmod(0o644)
    result = run(env, capsys, check_mode=True, settings={'debug': True}, mode='0600')
    assert result['changed'] is True
    assert result['diff']['before'] == {'mode': '0644'}
    assert result['diff']['after'] == {'mode': '0600'}
    assert stat.S_IMODE(env.path.stat().st_mode) == 0o644
    result = run(env, capsys, settings={'debug': True}, mode='0600')
    assert result['changed'] is True
    assert stat.S_IMODE(env.path.stat().st_mode) == 0o600


def test_unknown_owner_fails_and_changes_nothing(env, capsys):
    result = run(env, capsys, settings={'debug': True}, owner='no-such-user-nsguard')
    assert result['failed'] is True
    assert 'no-such-user-nsguard' in result['msg']
    assert not env.path.exists()


def test_path_attributes_refused_in_a_directory_others_can_change(env, capsys):
    os.chmod(str(env.path.parent), 0o777)
    result = run(env, capsys, settings={'debug': True}, attributes='+i')
    assert result['failed'] is True
    assert 'attributes' in result['msg'] and 'another user' in result['msg']
    assert not env.path.exists()


def test_directory_at_path_fails(env, capsys):
    env.path.mkdir()
    result = run(env, capsys, settings={'debug': True})
    assert result['failed'] is True
    assert 'is a directory' in result['msg']


def test_no_diff_when_diff_mode_off(env, capsys):
    result = run(env, capsys, diff=False, settings={'debug': True})
    assert result['changed'] is True
    assert 'diff' not in result


def test_no_temporary_files_left(env, capsys):
    env.path.write_text(fixture_text('basic.json'))
    run(env, capsys, settings={'debug': True})
    run(env, capsys, settings={'bogus': True})
    assert sorted(os.listdir(str(env.path.parent))) == ['daemon.json']


def test_module_documentation_parses():
    import yaml
    doc = yaml.safe_load(daemon_config.DOCUMENTATION)
    assert doc['module'] == 'daemon_config'
    assert set(doc['options']) == {'path', 'settings', 'remove', 'merge_nested', 'validate',
                                   'validate_unsupported', 'dockerd_path', 'mode', 'owner',
                                   'group', 'follow', 'backup', 'create_dirs', 'service',
                                   'rollback_copy'}
    assert 'ansible.builtin.files' in doc['extends_documentation_fragment']
    option = doc['options']['validate_unsupported']
    assert (option['type'], option['default'], option['choices']) == ('str', 'fail',
                                                                      ['fail', 'warn'])
    examples = yaml.safe_load(daemon_config.EXAMPLES)
    assert any(task['nsguard.docker.daemon_config'].get('validate_unsupported') == 'warn'
               for task in examples)
    returned = yaml.safe_load(daemon_config.RETURN)
    assert returned['validated']['type'] == 'bool'


@pytest.mark.skipif(os.geteuid() != 0, reason='chown to another user needs root')
def test_created_dirs_and_file_belong_to_owner(env, capsys):
    import pwd
    nobody = pwd.getpwnam('nobody')
    home = env.root / 'home'
    home.mkdir()
    target = home / '.docker' / 'config.json'
    result = run(env, capsys, path=str(target), validate=False, owner='nobody',
                 group=str(nobody.pw_gid), mode='0600', settings={'currentContext': 'rootless'})
    assert result['changed'] is True
    assert target.parent.stat().st_uid == nobody.pw_uid
    assert target.stat().st_uid == nobody.pw_uid
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert home.stat().st_uid == 0


SHOW_EXECSTART = ('ExecStart={ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd -H fd:// '
                  '--containerd=/run/containerd/containerd.sock ; ignore_errors=no ; pid=0 }')


@pytest.fixture
def systemd(env, tmp_path, monkeypatch):
    from ansible_collections.nsguard.docker.tests.unit.plugins.modules.test_daemon_restart_module import (
        install_fake_systemd,
    )
    state, calls = install_fake_systemd(tmp_path, monkeypatch, env.path)
    (state / 'execstart').write_text(SHOW_EXECSTART)
    return state


def test_service_flag_conflict_fails_before_writing(env, systemd, capsys):
    env.path.write_text(fixture_text('basic.json'))
    before = env.path.read_bytes()
    result = run(env, capsys, settings={'hosts': ['unix:///var/run/docker.sock']},
                 service='docker.service')
    assert result['failed'] is True and result['_rc'] == 1
    assert 'hosts' in result['msg'] and '-H' in result['msg'] and 'docker.service' in result['msg']
    assert 'was not changed' in result['msg']
    assert result['conflicts'] == {'hosts': '-H'}
    assert env.path.read_bytes() == before
    assert env.validations() == []


def test_service_conflict_already_in_the_file_warns(env, systemd, capsys):
    env.path.write_text('{"containerd": "/run/containerd/containerd.sock"}\n')
    result = run(env, capsys, settings={'debug': True}, service='docker.service', validate=False)
    assert result['_rc'] == 0, result.get('msg')
    assert result['changed'] is True
    warnings = [str(w) for w in result.get('warnings', [])]
    assert any('containerd' in w and 'docker.service' in w for w in warnings), result
    assert result['conflicts'] == {'containerd': '--containerd=/run/containerd/containerd.sock'}
    assert json.loads(env.path.read_text())['debug'] is True
    calls = [json.loads(line) for line in (systemd / 'calls').read_text().splitlines()]
    assert calls == [['systemctl', 'show', '--property', 'LoadState,ExecStart', 'docker.service']]


def test_nested_key_conflicting_with_a_flag_fails_before_writing(env, systemd, capsys):
    (systemd / 'execstart').write_text(
        'ExecStart={ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd -H fd:// '
        '--http-proxy=http://proxy:3128 ; ignore_errors=no ; pid=0 }')
    env.path.write_text(fixture_text('basic.json'))
    before = env.path.read_bytes()
    result = run(env, capsys, settings={'proxies': {'http-proxy': 'http://other:3128'}},
                 service='docker.service', validate=False)
    assert result['failed'] is True, result
    assert 'proxies.http-proxy' in result['msg'] and '--http-proxy' in result['msg']
    assert result['conflicts'] == {'proxies.http-proxy': '--http-proxy=http://proxy:3128'}
    assert env.path.read_bytes() == before


def test_service_not_installed_is_not_checked(env, systemd, capsys):
    (systemd / 'loadstate').write_text('not-found')
    result = run(env, capsys, settings={'hosts': ['unix:///var/run/docker.sock']},
                 service='docker.service', validate=False)
    assert result['_rc'] == 0 and result['changed'] is True
    assert 'conflicts' not in result


def test_rollback_copy_keeps_the_previous_bytes(env, capsys):
    original = '{ "log-level" : "warn" }\n'
    env.path.write_text(original)
    env.path.chmod(0o640)
    result = run(env, capsys, settings={'debug': True}, rollback_copy=True)
    copy = env.path.parent / 'daemon.json.nsguard-rollback'
    assert result['rollback_file'] == str(copy)
    assert result['created'] is False
    assert copy.read_bytes() == original.encode('utf-8')
    assert stat.S_IMODE(copy.stat().st_mode) == 0o640
    assert json.loads(env.path.read_text()) == {'log-level': 'warn', 'debug': True}


def test_rollback_copy_of_a_new_file_and_in_check_mode(env, capsys):
    copy = env.path.parent / 'daemon.json.nsguard-rollback'
    result = run(env, capsys, settings={'debug': True}, rollback_copy=True)
    assert result['created'] is True and 'rollback_file' not in result and not copy.exists()
    result = run(env, capsys, check_mode=True, settings={'debug': False}, rollback_copy=True)
    assert result['changed'] is True and 'rollback_file' not in result and not copy.exists()


def test_rollback_copy_not_made_when_nothing_changes(env, capsys):
    env.path.write_text('{"debug": true}\n')
    result = run(env, capsys, settings={'debug': True}, rollback_copy=True)
    assert result['changed'] is False
    assert 'rollback_file' not in result and 'created' not in result
    assert not (env.path.parent / 'daemon.json.nsguard-rollback').exists()


def test_rollback_copy_in_check_mode_of_an_existing_file(env, capsys):
    env.path.write_text('{"debug": true}\n')
    before = env.path.read_bytes()
    result = run(env, capsys, check_mode=True, settings={'debug': False}, rollback_copy=True)
    assert result['changed'] is True and result['created'] is False
    assert 'rollback_file' not in result
    assert not (env.path.parent / 'daemon.json.nsguard-rollback').exists()
    assert env.path.read_bytes() == before
