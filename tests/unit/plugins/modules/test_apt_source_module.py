# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/modules/apt_source.py: main() with patched arguments on files below a
temporary directory. The key is fetched for real through ansible.module_utils.urls from a
file:// URL (no network), or from a faked fetch_url for HTTP answers; apt-get is faked
(AnsibleModule.run_command). The logic's own cases are in
tests/unit/plugins/module_utils/test_apt_source.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest
import yaml

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsguard.docker.plugins.module_utils import _apt_source
from ansible_collections.nsguard.docker.plugins.modules import apt_source

from engine_helpers import DOCKER_FPR, KEYS, MIRROR, OTHER_FPR, key_bytes
from module_args import patch_module_args
from module_helpers import check_options

OWNER = (os.geteuid(), os.getegid())
KEY_URL = 'file://' + os.path.join(KEYS, 'docker.asc')


class Env(object):
    """Paths below ``tmp_path``, apt-get answering ``apt``, its calls in ``apt_calls``."""

    def __init__(self, tmp_path, monkeypatch):
        self.root = tmp_path
        self.source = str(tmp_path / 'etc' / 'apt' / 'sources.list.d' / 'docker.sources')
        self.key = str(tmp_path / 'etc' / 'apt' / 'keyrings' / 'docker.asc')
        os.makedirs(os.path.dirname(self.source))
        self.remote_tmp = str(tmp_path / 'ansible-tmp')
        os.makedirs(self.remote_tmp)
        self.apt = (0, 'Hit:1 %s noble InRelease\nReading package lists...\n' % MIRROR, '')
        self.apt_calls = []
        self.apt_get = '/usr/bin/apt-get'
        monkeypatch.setattr(_apt_source, 'OWNER', OWNER)
        env = self

        def run_command(module, argv, **kw):
            env.apt_calls.append((list(argv), kw))
            return env.apt

        monkeypatch.setattr(AnsibleModule, 'run_command', run_command)
        monkeypatch.setattr(AnsibleModule, 'get_bin_path',
                            lambda module, name, *a, **kw: env.apt_get if name == 'apt-get' else None)

    def args(self, **changes):
        args = dict(path=self.source, name='docker', uris=[MIRROR], suites=['noble'], components=['stable'],
                    architectures=['amd64'], key_path=self.key, key_url=KEY_URL, key_fingerprint=DOCKER_FPR)
        args.update(changes)
        return dict((k, v) for k, v in args.items() if v is not None)

    def files(self):
        out = []
        for path in (self.source, self.key):
            if not os.path.exists(path):
                out.append(None)
                continue
            with open(path, 'rb') as handle:
                st_ = os.stat(path)
                out.append((handle.read(), stat.S_IMODE(st_.st_mode), st_.st_ino))
        return out


@pytest.fixture
def env(tmp_path, monkeypatch):
    return Env(tmp_path, monkeypatch)


def run(env, capsys, check_mode=False, diff=False, **args):
    args = env.args(**args)
    args.update(_ansible_check_mode=check_mode, _ansible_diff=diff, _ansible_remote_tmp=env.remote_tmp,
                _ansible_keep_remote_files=False)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            apt_source.main()
    result = json.loads(capsys.readouterr().out)
    result['_rc'] = caught.value.code
    return result


def no_download(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('a download was made')
    monkeypatch.setattr(apt_source, 'fetch_url', refuse)


# ---------------------------------------------------------------------------- documentation

def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(apt_source.DOCUMENTATION)
    assert doc['module'] == 'apt_source'
    assert doc['extends_documentation_fragment'] == ['nsguard.docker.attributes']
    assert set(doc['attributes']) == {'check_mode', 'diff_mode', 'idempotent'}
    assert all(doc['attributes'][name]['support'] == 'full' for name in doc['attributes'])
    spec = apt_source.argument_spec()
    check_options(doc['options'], spec)
    assert doc['options']['timeout']['default'] == _apt_source.DEFAULT_TIMEOUT
    returned = yaml.safe_load(apt_source.RETURN)
    for name, value in returned.items():
        assert value['description'] and value['type'] and value['returned'], name
    examples = yaml.safe_load(apt_source.EXAMPLES)
    assert examples[0]['nsguard.docker.apt_source']['key_fingerprint'].replace(' ', '') == \
        '9DC858229FC7DD38854AE2D88D81803C0EBFCD88'


def test_every_returned_key_is_documented(env, capsys):
    documented = yaml.safe_load(apt_source.RETURN)
    result = run(env, capsys)
    returned = set(result) - {'_rc', 'changed', 'invocation'}
    assert returned == set(documented) - {'restored'}
    for key in ('key', 'source'):
        assert set(result[key]) == set(documented[key]['contains']), key
    env.apt = (100, '', 'E: The repository is not signed.\n')
    result = run(env, capsys, suites=['jammy'])
    assert set(result) - {'_rc', 'changed', 'invocation', 'failed', 'msg'} == set(documented)


# ---------------------------------------------------------------------------- runs

def test_fresh_host_with_a_file_url(env, capsys):
    result = run(env, capsys)
    assert result['_rc'] == 0, result.get('msg')
    assert result['changed'] is True and result['lists_updated'] is True and result['source_new'] is True
    assert result['key'] == {'path': env.key, 'fingerprints': [DOCKER_FPR], 'changed': True, 'fetched': True}
    assert result['apt_stdout'] == env.apt[1].splitlines() and result['apt_stderr'] == []
    assert 'diff' not in result
    source, key = env.files()
    assert key[:2] == (key_bytes('docker.asc'), 0o644)
    assert source[:2] == (result['source']['text'].encode(), 0o644)
    assert result['source']['text'] == (
        'X-Repolib-Name: docker\nTypes: deb\nURIs: %s\nSuites: noble\nComponents: stable\n'
        'Architectures: amd64\nSigned-By: %s\nEnabled: yes\n' % (MIRROR, env.key))
    (argv, kwargs), = env.apt_calls
    assert argv == _apt_source.update_argv(env.apt_get, env.source)
    assert kwargs['environ_update']['LC_ALL'] == 'C'


def test_second_run_makes_no_request(env, capsys, monkeypatch):
    run(env, capsys)
    before = env.files()
    env.apt_calls = []
    no_download(monkeypatch)
    for check_mode in (False, True):
        result = run(env, capsys, check_mode=check_mode, diff=True)
        assert result['_rc'] == 0 and result['changed'] is False
        assert result['key']['fetched'] is False and 'diff' not in result
    assert env.files() == before and env.apt_calls == []


def test_check_mode_and_diff(env, capsys):
    result = run(env, capsys, check_mode=True, diff=True)
    assert result['_rc'] == 0 and result['changed'] is True and result['source_new'] is True
    assert env.files() == [None, None] and env.apt_calls == []
    key_diff, source_diff = result['diff']
    assert key_diff['before'] == '' and key_diff['after_header'] == '%s (key %s)' % (env.key, DOCKER_FPR)
    assert 'fingerprints: %s\n' % DOCKER_FPR in key_diff['after']
    assert source_diff == {'before': '', 'after': result['source']['text'], 'before_header': env.source,
                           'after_header': env.source}


def test_one_diff_is_not_a_list(env, capsys):
    run(env, capsys)
    os.chmod(env.source, 0o600)
    result = run(env, capsys, diff=True)
    assert result['diff'] == {'before': {'mode': '0600', 'owner': OWNER[0], 'group': OWNER[1]},
                              'after': {'mode': '0644', 'owner': OWNER[0], 'group': OWNER[1]},
                              'before_header': env.source, 'after_header': env.source}


def test_wrong_key_in_check_mode_fails_too(env, capsys):
    for check_mode in (False, True):
        result = run(env, capsys, check_mode=check_mode,
                     key_url='file://' + os.path.join(KEYS, 'other.gpg'))
        assert result['_rc'] == 1 and result['failed'] is True and result['changed'] is False
        assert 'has fingerprint %s, expected %s' % (OTHER_FPR, DOCKER_FPR) in result['msg']
        assert result['key']['fingerprints'] == [OTHER_FPR]
        assert env.files() == [None, None] and env.apt_calls == []


def test_http_answers(env, capsys, monkeypatch):
    seen = []

    class Response(object):
        def __init__(self, data):
            self.data = data
            self.closed = False

        def read(self, size=-1):
            return self.data[:size]

        def close(self):
            self.closed = True

    answers = [(None, {'status': 404, 'msg': 'HTTP Error 404: Not Found', 'url': 'x'}),
               (None, {'status': -1, 'msg': 'Request failed: <urlopen error timed out>', 'url': 'x'}),
               (Response(key_bytes('docker.asc')), {'status': 200, 'msg': 'OK (429 bytes)', 'url': 'x'})]

    def fetch_url(module, url, timeout=10, **kwargs):
        seen.append((url, timeout, module.params['validate_certs']))
        return answers.pop(0)

    monkeypatch.setattr(apt_source, 'fetch_url', fetch_url)
    url = MIRROR + '/gpg'
    result = run(env, capsys, key_url=url, timeout=7, validate_certs=False)
    assert result['_rc'] == 1
    assert result['msg'] == ('Cannot download the repository key from %s: HTTP Error 404: Not Found. The key was '
                             'not installed and no apt source was written. Nothing was changed.' % url)
    result = run(env, capsys, key_url=url)
    assert 'Request failed: <urlopen error timed out>' in result['msg'] and env.files() == [None, None]
    result = run(env, capsys, key_url=url)
    assert result['_rc'] == 0 and result['key']['fingerprints'] == [DOCKER_FPR]
    assert seen == [(url, 7, False), (url, 30, True), (url, 30, True)]


def test_key_file(env, capsys, tmp_path):
    staged = tmp_path / 'staged.asc'
    staged.write_bytes(key_bytes('docker.asc'))
    result = run(env, capsys, key_url=None, key_file=str(staged))
    assert result['_rc'] == 0 and result['key']['fetched'] is True
    assert env.files()[1][0] == key_bytes('docker.asc')


def test_apt_rejects_the_source(env, capsys):
    env.apt = (100, 'Err:1 %s noble InRelease\n' % MIRROR,
               'W: GPG error: %s noble InRelease: NO_PUBKEY 8D81803C0EBFCD88\n'
               'E: The repository \'%s noble InRelease\' is not signed.\n' % (MIRROR, MIRROR))
    result = run(env, capsys)
    assert result['_rc'] == 1 and result['failed'] is True and result['changed'] is False
    assert result['msg'].startswith('apt rejected the source %s (%s noble): Err:1 %s noble InRelease W: GPG error: '
                                    % (env.source, MIRROR, MIRROR))
    assert "E: The repository '%s noble InRelease' is not signed." % MIRROR in result['msg']
    assert result['msg'].endswith('so apt works as before (the previous source and key).')
    assert result['restored'] == [env.key, env.source]
    assert result['apt_stderr'][0].startswith('W: GPG error')
    assert env.files() == [None, None]


def test_update_lists_false(env, capsys):
    result = run(env, capsys, update_lists=False)
    assert result['_rc'] == 0 and result['changed'] is True and result['lists_updated'] is False
    assert env.apt_calls == [] and 'apt_stdout' not in result


def test_no_apt_get_fails_before_any_change(env, capsys):
    env.apt_get = None
    result = run(env, capsys)
    assert result['_rc'] == 1 and 'apt-get was not found' in result['msg'] and 'update_lists=false' in result['msg']
    assert env.files() == [None, None]
    # not needed in check mode nor without update_lists
    assert run(env, capsys, check_mode=True)['_rc'] == 0
    assert run(env, capsys, update_lists=False)['_rc'] == 0


# ---------------------------------------------------------------------------- bad input

@pytest.mark.parametrize('changes, says', [
    ({'key_file': '/root/key.asc'}, 'parameters are mutually exclusive: key_url|key_file'),
    ({'key_url': None}, 'one of the following is required: key_url, key_file'),
    ({'uris': None}, 'missing required arguments: uris'),
    ({'types': ['rpm']}, 'types'),
    ({'uris': []}, 'uris is empty'),
    ({'suites': ['no ble']}, 'suites: "no ble" not one word'),
    ({'components': ['']}, 'components: "" not one word'),
    ({'key_url': ''}, 'key_url and key_file may not be empty'),
])
def test_bad_input_fails_before_any_change(env, capsys, monkeypatch, changes, says):
    no_download(monkeypatch)
    result = run(env, capsys, **changes)
    assert result['_rc'] == 1 and result['failed'] is True
    assert says in result['msg']
    assert env.files() == [None, None] and env.apt_calls == []
