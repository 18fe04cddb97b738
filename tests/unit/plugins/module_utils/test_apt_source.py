# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_apt_source.py: run() on files below a temporary
directory, the gpg-made keys of tests/unit/fixtures/engine/keys served by a fake
downloader, apt-get faked (it records what it saw and answers as told).

The files are wanted as the user running the units (root in CI), so every case but the
ones that chown to another user runs without root too."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import pwd
import stat

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _apt_source, _apt_sources, fileops

from engine_helpers import DOCKER_FPR, ENGINE, MIRROR, OTHER_FPR, key_bytes

OWNER = (os.geteuid(), os.getegid())
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason='needs root to chown to another user')
KEY_URL = MIRROR + '/gpg'
APT_OK = (0, 'Get:1 %s noble InRelease [48.8 kB]\nReading package lists...\n' % MIRROR, '')
GPG_ERROR = ('W: GPG error: %s noble InRelease: The following signatures couldn\'t be verified '
             'because the public key is not available: NO_PUBKEY 8D81803C0EBFCD88' % MIRROR)
APT_GPG_ERROR = (100, 'Get:1 %s noble InRelease [48.8 kB]\nErr:1 %s noble InRelease\n' % (MIRROR, MIRROR),
                 GPG_ERROR + '\nE: The repository \'%s noble InRelease\' is not signed.\n' % MIRROR)


def fixture_source(name):
    with open(os.path.join(ENGINE, 'sources', name), 'rb') as handle:
        return handle.read()


def snapshot(path):
    """``(bytes, mode, uid, gid, inode)`` of ``path``, or None."""
    try:
        st_ = os.lstat(path)
    except OSError:
        return None
    with open(path, 'rb') as handle:
        return handle.read(), stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid, st_.st_ino


class Host(object):
    """A host below ``tmp_path``: etc/apt/sources.list.d (made) and etc/apt/keyrings (not
    made: the module makes it), a downloader serving ``served`` and apt answering ``apt``."""

    def __init__(self, tmp_path):
        self.root = str(tmp_path)
        self.sources_d = os.path.join(self.root, 'etc', 'apt', 'sources.list.d')
        os.makedirs(self.sources_d)
        self.source = os.path.join(self.sources_d, 'docker.sources')
        self.keyrings = os.path.join(self.root, 'etc', 'apt', 'keyrings')
        self.key = os.path.join(self.keyrings, 'docker.asc')
        self.served = key_bytes('docker.asc')
        self.apt = APT_OK
        self.fetches = []
        self.apt_calls = []

    def fetch(self, url, validate_certs, timeout):
        self.fetches.append((url, validate_certs, timeout))
        if isinstance(self.served, Exception):
            raise self.served
        return self.served

    def run_apt(self, argv):
        # what apt would have read
        self.apt_calls.append((list(argv), snapshot(self.source), snapshot(self.key)))
        return self.apt

    def params(self, **changes):
        params = dict(path=self.source, name='docker', types=['deb'], uris=[MIRROR], suites=['noble'],
                      components=['stable'], architectures=['amd64'], key_path=self.key,
                      key_url=KEY_URL, key_file=None, key_fingerprint=DOCKER_FPR,
                      validate_certs=True, timeout=30, update_lists=True)
        params.update(changes)
        return params

    def run(self, check_mode=False, **changes):
        return _apt_source.run(self.params(**changes), self.fetch, self.run_apt, check_mode=check_mode,
                               apt_get='/usr/bin/apt-get', owner=OWNER)

    def fails(self, check_mode=False, **changes):
        with pytest.raises(_apt_source.AptSourceError) as caught:
            self.run(check_mode=check_mode, **changes)
        return caught.value

    def write(self, path, data, mode=0o644):
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, 'wb') as handle:
            handle.write(data)
        os.chmod(path, mode)

    def converge(self, source=None, key='docker.asc'):
        """The files the module (or the role's 0.1.0) leaves."""
        self.write(self.key, key_bytes(key))
        self.write(self.source, source if source is not None else expected_text())

    def files(self):
        return snapshot(self.source), snapshot(self.key)


def expected_text(name='docker', suite='noble', key='/KEY'):
    return ('X-Repolib-Name: %s\nTypes: deb\nURIs: %s\nSuites: %s\nComponents: stable\n'
            'Architectures: amd64\nSigned-By: %s\nEnabled: yes\n' % (name, MIRROR, suite, key)).encode()


@pytest.fixture
def host(tmp_path):
    return Host(tmp_path)


def text_for(host, **kw):
    return expected_text(key=host.key, **kw)


# ---------------------------------------------------------------------------- a fresh host

def test_fresh_host(host):
    result = host.run()
    assert result['changed'] is True
    assert result['key'] == {'path': host.key, 'fingerprints': [DOCKER_FPR], 'changed': True, 'fetched': True}
    assert result['source'] == {'path': host.source, 'changed': True, 'text': text_for(host).decode()}
    assert result['source_new'] is True and result['lists_updated'] is True
    assert result['apt_stdout'] == APT_OK[1].splitlines() and result['apt_stderr'] == []
    assert host.fetches == [(KEY_URL, True, 30)]
    source, key = host.files()
    assert source[:4] == (text_for(host), 0o644) + OWNER
    assert key[:4] == (key_bytes('docker.asc'), 0o644) + OWNER  # the bytes as fetched
    keyrings = os.stat(host.keyrings)
    assert stat.S_IMODE(keyrings.st_mode) == 0o755 and (keyrings.st_uid, keyrings.st_gid) == OWNER
    # apt ran once, for this source alone, with both files in place
    assert len(host.apt_calls) == 1
    argv, seen_source, seen_key = host.apt_calls[0]
    assert argv == ['/usr/bin/apt-get', '-q', 'update', '-o', 'Dir::Etc::SourceList=' + host.source,
                    '-o', 'Dir::Etc::SourceParts=-', '-o', 'APT::Get::List-Cleanup=false']
    assert seen_source == source and seen_key == key


def test_rendered_source_is_what_deb822_repository_of_ansible_core_2_16_writes(host):
    fields = _apt_source.wanted_fields(_apt_source.check_options(host.params(key_path='/etc/apt/keyrings/docker.asc')))
    assert _apt_sources.render_source(fields).encode() == fixture_source('docker-2.16.sources')


def test_no_name_no_architectures_and_several_values(host):
    result = host.run(name=None, architectures=[], uris=[MIRROR, 'http://mirror.example.invalid/docker'],
                      suites=['noble', 'noble-test'], components=['stable', 'test'], types=['deb', 'deb-src'])
    assert result['source']['text'] == (
        'Types: deb deb-src\nURIs: %s http://mirror.example.invalid/docker\nSuites: noble noble-test\n'
        'Components: stable test\nSigned-By: %s\nEnabled: yes\n' % (MIRROR, host.key))


def test_flat_repository_has_no_components(host):
    result = host.run(suites=['./'], components=[], architectures=[])
    assert 'Components' not in result['source']['text']
    assert 'Suites: ./\n' in result['source']['text']


def test_fingerprint_with_blanks_and_lower_case(host):
    spaced = ' '.join(DOCKER_FPR[i:i + 4] for i in range(0, 40, 4)).lower()
    assert host.run(key_fingerprint=spaced)['key']['fingerprints'] == [DOCKER_FPR]


def test_binary_key_as_gpg(host):
    host.served = key_bytes('docker.gpg')
    key = os.path.join(host.keyrings, 'docker.gpg')
    result = host.run(key_path=key)
    assert result['key']['fingerprints'] == [DOCKER_FPR]
    assert snapshot(key)[0] == key_bytes('docker.gpg')
    assert 'Signed-By: %s\n' % key in result['source']['text']


def test_key_file_instead_of_a_download(host, tmp_path):
    staged = str(tmp_path / 'staged.asc')
    host.write(staged, key_bytes('docker.asc'), 0o600)
    result = host.run(key_url=None, key_file=staged)
    assert result['key']['fetched'] is True and host.fetches == []
    assert snapshot(host.key)[:2] == (key_bytes('docker.asc'), 0o644)
    assert snapshot(staged)[:2] == (key_bytes('docker.asc'), 0o600)  # left where it is


# ---------------------------------------------------------------------------- converged

@pytest.mark.parametrize('check_mode', [False, True])
def test_converged_host_makes_no_request(host, check_mode):
    host.run()
    host.fetches, host.apt_calls = [], []
    before = host.files()
    result = host.run(check_mode=check_mode)
    assert result['changed'] is False
    assert result['key'] == {'path': host.key, 'fingerprints': [DOCKER_FPR], 'changed': False, 'fetched': False}
    assert result['source']['changed'] is False and result['source_new'] is False
    assert result['lists_updated'] is False and 'apt_stdout' not in result
    assert result['diff'] == []
    assert host.fetches == [] and host.apt_calls == []
    assert host.files() == before  # not even rewritten with the same bytes (same inode)


@pytest.mark.parametrize('name', ['docker-2.16.sources', 'docker-2.19.sources'])
def test_source_written_by_deb822_repository_is_left_alone(host, name):
    """The role's 0.1.0 wrote the source with ansible.builtin.deb822_repository: task
    order on ansible-core 2.16, sorted on 2.17 and later."""
    # the fixtures name /etc/apt/keyrings/docker.asc
    fields = _apt_source.wanted_fields(_apt_source.check_options(host.params(key_path='/etc/apt/keyrings/docker.asc')))
    assert _apt_sources.source_matches(fixture_source(name).decode(), fields)
    text = fixture_source(name).replace(b'/etc/apt/keyrings/docker.asc', host.key.encode())
    host.converge(source=text)
    before = host.files()
    result = host.run()
    assert result['changed'] is False and result['source']['text'] == text.decode()
    assert host.files() == before


def test_value_over_several_lines_is_rewritten_clean(host):
    host.converge(source=text_for(host).replace(b'Components: stable', b'Components: stable\n test'))
    result = host.run(components=['stable', 'test'])
    assert result['source']['changed'] is True
    assert b'Components: stable test\n' in snapshot(host.source)[0]


# ---------------------------------------------------------------------------- drift

def test_key_mode_drift_is_fixed_without_a_download(host):
    host.converge(source=text_for(host))
    os.chmod(host.key, 0o600)
    inode = snapshot(host.key)[4]
    result = host.run()
    assert result['changed'] is True
    assert result['key'] == {'path': host.key, 'fingerprints': [DOCKER_FPR], 'changed': True, 'fetched': False}
    assert result['source']['changed'] is False
    assert host.fetches == []
    assert snapshot(host.key)[1:] == (0o644,) + OWNER + (inode,)
    assert result['diff'] == [{'before': {'mode': '0600', 'owner': OWNER[0], 'group': OWNER[1]},
                               'after': {'mode': '0644', 'owner': OWNER[0], 'group': OWNER[1]},
                               'before_header': host.key, 'after_header': host.key}]
    assert len(host.apt_calls) == 1  # apt may read a key now it could not before


@pytest.mark.parametrize('key', ['other.gpg', 'docker-and-other.asc', 'docker.gpg'])
def test_key_content_drift_is_fetched_and_rewritten(host, key):
    """Another key, Docker's among others, or Docker's binary key in a .asc file (which apt
    reads as armored)."""
    host.converge(source=text_for(host), key=key)
    result = host.run()
    assert result['key']['changed'] is True and result['key']['fetched'] is True
    assert result['source']['changed'] is False
    assert snapshot(host.key)[:2] == (key_bytes('docker.asc'), 0o644)
    assert len(host.fetches) == 1 and len(host.apt_calls) == 1


@pytest.mark.parametrize('drift', [
    (b'Suites: noble', b'Suites: jammy'),
    (b'Architectures: amd64\n', b'Architectures: arm64\n'),
    (b'Enabled: yes\n', b''),
    (b'Enabled: yes\n', b'Enabled: yes\nTrusted: yes\n'),
    (b'X-Repolib-Name: docker\n', b'# a comment\nX-Repolib-Name: docker\n'),
    (b'Enabled: yes\n', b'Enabled: yes\n\nTypes: deb\nURIs: http://other.example.invalid\nSuites: x\nComponents: y\n'),
    (b'Signed-By: ', b'Signed-By: /etc/apt/keyrings/other.asc\n#'),
])
def test_source_field_drift_is_rewritten(host, drift):
    host.converge(source=text_for(host).replace(drift[0], drift[1]))
    old = host.files()[0][0]
    result = host.run()
    assert result['changed'] is True and result['source']['changed'] is True
    assert result['key']['changed'] is False and host.fetches == []
    assert host.files()[0][:2] == (text_for(host), 0o644)
    assert result['diff'] == [{'before': old.decode(), 'after': text_for(host).decode(),
                               'before_header': host.source, 'after_header': host.source}]
    assert result['source_new'] is False and len(host.apt_calls) == 1


def test_source_mode_drift_is_fixed(host):
    host.converge(source=text_for(host))
    os.chmod(host.source, 0o600)
    inode = snapshot(host.source)[4]
    result = host.run()
    assert result['changed'] is True and result['source']['changed'] is True
    assert snapshot(host.source) == (text_for(host), 0o644) + OWNER + (inode,)
    assert result['diff'][0]['before'] == {'mode': '0600', 'owner': OWNER[0], 'group': OWNER[1]}


@ROOT_ONLY
def test_owner_drift_of_both_files_is_fixed(host):
    host.converge(source=text_for(host))
    nobody = pwd.getpwnam('nobody')
    os.chown(host.source, nobody.pw_uid, nobody.pw_gid)
    os.chown(host.key, 0, nobody.pw_gid)
    result = host.run()
    assert result['key']['changed'] and result['source']['changed'] and host.fetches == []
    assert snapshot(host.source)[1:4] == (0o644, 0, 0) and snapshot(host.key)[1:4] == (0o644, 0, 0)


# ---------------------------------------------------------------------------- a wrong key

@pytest.mark.parametrize('served, found', [
    ('other.gpg', 'fingerprint ' + OTHER_FPR),
    ('docker-and-other.asc', 'fingerprints %s, %s' % (DOCKER_FPR, OTHER_FPR)),
    (b'<html>Not found</html>', 'fingerprint none (not an OpenPGP packet at offset 0)'),
    (b'', 'fingerprint none (no public key in file)'),
])
@pytest.mark.parametrize('check_mode', [False, True])
def test_wrong_key_writes_nothing(host, served, found, check_mode):
    host.served = key_bytes(served) if isinstance(served, str) else served
    error = host.fails(check_mode=check_mode)
    assert error.msg == ('The repository key from %s has %s, expected %s (key_fingerprint): it must hold '
                         'exactly that one primary key. The key was not installed and no apt source was '
                         'written. Nothing was changed.' % (KEY_URL, found, DOCKER_FPR))
    assert error.result['changed'] is False and error.result['key']['fetched'] is True
    assert host.files() == (None, None) and not os.path.exists(host.keyrings)
    assert host.apt_calls == []


def test_wrong_key_leaves_the_previous_files_alone(host):
    host.converge(source=text_for(host, suite='jammy'), key='other.gpg')
    before = host.files()
    host.served = key_bytes('other.gpg')
    assert 'expected %s' % DOCKER_FPR in host.fails().msg
    assert host.files() == before


def test_armored_key_for_a_gpg_name_is_refused(host):
    error = host.fails(key_path=os.path.join(host.keyrings, 'docker.gpg'))
    assert 'is armored, but apt reads %s as binary: name key_path *.asc' % os.path.join(host.keyrings, 'docker.gpg') in error.msg
    assert host.files() == (None, None)


def test_download_failure(host):
    host.served = _apt_source.KeyFetchError('HTTP 404: Not Found')
    error = host.fails()
    assert error.msg == ('Cannot download the repository key from %s: HTTP 404: Not Found. The key was not '
                         'installed and no apt source was written. Nothing was changed.' % KEY_URL)
    assert host.files() == (None, None)


def test_missing_key_file(host, tmp_path):
    error = host.fails(key_url=None, key_file=str(tmp_path / 'nowhere.asc'))
    assert 'nowhere.asc (key_file) does not exist' in error.msg and host.files() == (None, None)


def test_oversized_key(host):
    host.served = b'\x99' * (_apt_source.MAX_KEY_SIZE + 1)
    assert 'larger than' in host.fails().msg and host.files() == (None, None)


# ---------------------------------------------------------------------------- check mode and diff

def test_check_mode_writes_nothing_and_reports(host):
    result = host.run(check_mode=True)
    assert result['changed'] is True and result['source_new'] is True
    assert result['key'] == {'path': host.key, 'fingerprints': [DOCKER_FPR], 'changed': True, 'fetched': True}
    assert result['source'] == {'path': host.source, 'changed': True, 'text': text_for(host).decode()}
    assert result['lists_updated'] is False
    assert host.files() == (None, None) and not os.path.exists(host.keyrings)
    assert len(host.fetches) == 1 and host.apt_calls == []


def test_check_mode_with_drift_writes_nothing(host):
    host.converge(source=text_for(host, suite='jammy'), key='other.gpg')
    os.chmod(host.source, 0o600)
    before = host.files()
    result = host.run(check_mode=True)
    assert result['changed'] and result['key']['changed'] and result['source']['changed']
    assert result['source_new'] is False
    assert host.files() == before and host.apt_calls == []


def test_diff_of_a_fresh_host(host):
    diffs = host.run(check_mode=True)['diff']
    assert diffs == [
        {'before': '',
         'after': 'fingerprints: %s\nformat: armored\nmode: 0644\nowner: %d\ngroup: %d\n' % ((DOCKER_FPR,) + OWNER),
         'before_header': host.key, 'after_header': '%s (key %s)' % (host.key, DOCKER_FPR)},
        {'before': '', 'after': text_for(host).decode(), 'before_header': host.source,
         'after_header': host.source},
    ]


def test_diff_of_a_replaced_key_shows_fingerprints_not_bytes(host):
    host.converge(source=text_for(host), key='docker-and-other.gpg')
    os.chmod(host.key, 0o640)
    diff = host.run(check_mode=True)['diff']
    assert len(diff) == 1
    assert diff[0]['before_header'] == '%s (key %s, %s)' % (host.key, DOCKER_FPR, OTHER_FPR)
    assert diff[0]['before'] == 'fingerprints: %s, %s\nformat: binary\nmode: 0640\nowner: %d\ngroup: %d\n' % (
        (DOCKER_FPR, OTHER_FPR) + OWNER)
    assert diff[0]['after_header'] == '%s (key %s)' % (host.key, DOCKER_FPR)


# ---------------------------------------------------------------------------- apt rejects

@pytest.mark.parametrize('answer', [
    APT_GPG_ERROR,
    (0, 'Err:1 %s noble InRelease\n  404  Not Found\n' % MIRROR, ''),
    (0, '', GPG_ERROR + '\n'),
    (0, '', 'W: Failed to fetch %s/dists/noble/InRelease  404  Not Found\n' % MIRROR),
    (100, '', 'E: Malformed entry 1 in sources file %s (Component)\n' % '/x'),
])
def test_apt_rejects_a_new_source_both_files_removed(host, answer):
    host.apt = answer
    error = host.fails()
    assert len(host.apt_calls) == 1 and host.apt_calls[0][1] is not None  # apt saw the new files
    assert host.files() == (None, None)
    errors = [line.strip() for line in (answer[1] + answer[2]).splitlines()
              if line.startswith(('E:', 'Err:', 'W: GPG', 'W: Failed'))]
    assert errors and error.msg.startswith('apt rejected the source %s (%s noble): %s. '
                                           % (host.source, MIRROR, ' '.join(errors).rstrip('.')))
    assert '..' not in error.msg
    assert error.msg.endswith('%s was removed (there was none before); %s was removed (there was none '
                              'before), so apt works as before (the previous source and key).'
                              % (host.source, host.key))
    assert error.result['changed'] is False and error.result['lists_updated'] is False
    assert error.result['restored'] == [host.key, host.source]
    assert error.result['apt_stderr'] == answer[2].splitlines()


def test_apt_rejects_previous_files_put_back_byte_for_byte(host):
    host.converge(source=text_for(host, suite='jammy'), key='other.gpg')
    os.chmod(host.source, 0o640)
    before = host.files()
    host.apt = APT_GPG_ERROR
    error = host.fails()
    after = host.files()
    assert [s[:4] for s in after] == [s[:4] for s in before]  # bytes, mode, owner
    assert host.apt_calls[0][1][0] == text_for(host) and host.apt_calls[0][2][0] == key_bytes('docker.asc')
    assert '%s was put back as it was; %s was put back as it was, so apt works as before' % (
        host.source, host.key) in error.msg
    assert GPG_ERROR in error.msg and "E: The repository '%s noble InRelease' is not signed." % MIRROR in error.msg


def test_apt_rejects_only_the_changed_file_is_put_back(host):
    host.converge(source=text_for(host, suite='jammy'))
    key_before = snapshot(host.key)
    host.apt = APT_GPG_ERROR
    error = host.fails()
    assert error.result['restored'] == [host.source]
    assert snapshot(host.source)[0] == text_for(host, suite='jammy')
    assert snapshot(host.key) == key_before  # untouched, same inode


def test_apt_rejects_a_mode_fix_put_back(host):
    host.converge(source=text_for(host))
    os.chmod(host.key, 0o600)
    host.apt = (100, '', 'E: Some index files failed to download.\n')
    host.fails()
    assert snapshot(host.key)[1] == 0o600


def test_apt_exit_code_without_error_lines(host):
    host.apt = (1, 'something odd\n', '')
    error = host.fails()
    assert 'apt-get update exited with 1: something odd.' in error.msg
    assert host.files() == (None, None)


def test_apt_warning_that_is_no_rejection(host):
    host.apt = (0, '', 'W: Target Packages (stable/binary-amd64/Packages) is configured multiple times\n')
    assert host.run()['lists_updated'] is True


def test_update_lists_false_runs_no_apt(host):
    result = host.run(update_lists=False)
    assert result['changed'] is True and result['lists_updated'] is False
    assert host.apt_calls == [] and 'apt_stdout' not in result
    assert host.files()[0] is not None


def test_write_failure_puts_back_what_was_written(host, monkeypatch):
    """The key is written, the source cannot be: the key is removed again."""
    real_write = fileops.atomic_write

    def failing(path, data, **kw):
        if path.endswith('.sources'):
            raise fileops.FileOpsError('cannot write %s: No space left on device' % path)
        return real_write(path, data, **kw)

    monkeypatch.setattr(fileops, 'atomic_write', failing)
    error = host.fails()
    assert error.msg == ('Cannot write the repository key or source: cannot write %s: No space left on '
                         'device. %s was removed (there was none before). Nothing was changed.'
                         % (host.source, host.key))
    assert host.files() == (None, None) and host.apt_calls == []


# ---------------------------------------------------------------------------- links

def test_link_in_a_root_only_directory_is_followed(host, tmp_path):
    target = str(tmp_path / 'srv' / 'docker.sources')
    host.write(target, b'Types: deb\n')
    os.symlink(target, host.source)
    host.run()
    assert os.path.islink(host.source) and snapshot(target)[0] == text_for(host)


@ROOT_ONLY
def test_link_planted_by_another_user_is_refused(host, tmp_path):
    nobody = pwd.getpwnam('nobody')
    os.makedirs(host.keyrings)
    os.chown(host.keyrings, nobody.pw_uid, nobody.pw_gid)
    victim = str(tmp_path / 'shadow')
    host.write(victim, b'root:*:1::::::\n', 0o640)
    os.symlink(victim, host.key)
    os.lchown(host.key, nobody.pw_uid, nobody.pw_gid)
    error = host.fails()
    assert 'is a symbolic link' in error.msg and 'nothing was changed' in error.msg.lower()
    assert snapshot(victim)[:2] == (b'root:*:1::::::\n', 0o640)
    assert host.files()[0] is None and host.fetches == []


def test_source_that_is_a_directory_fails_before_any_change(host):
    os.makedirs(host.source)
    error = host.fails()
    assert 'is a directory' in error.msg and error.msg.endswith('Nothing was changed.')
    assert not os.path.exists(host.keyrings) and host.fetches == []


# ---------------------------------------------------------------------------- bad options

@pytest.mark.parametrize('changes, says', [
    ({'uris': []}, 'uris is empty'),
    ({'suites': []}, 'suites is empty'),
    ({'types': []}, 'types is empty'),
    ({'uris': ['']}, 'uris: "" not a URI'),
    ({'uris': ['https://a.example.invalid/x y']}, 'not a URI of one word'),
    ({'uris': ['download.docker.com/linux']}, 'not a URI'),
    ({'suites': ['no ble']}, 'suites: "no ble" not one word'),
    ({'suites': ['']}, 'suites: "" not one word'),
    ({'components': ['stable', '']}, 'components: "" not one word'),
    ({'components': []}, 'components is empty'),
    ({'suites': ['./'], 'components': ['stable']}, 'components must be empty'),
    ({'architectures': ['AMD 64']}, 'not a Debian architecture name'),
    ({'types': ['rpm']}, 'not one of deb, deb-src'),
    ({'name': ''}, 'name "" is empty'),
    ({'name': ' docker'}, 'blanks at either end'),
    ({'name': 'doc\nker'}, 'line break'),
    ({'key_url': None}, 'one of key_url or key_file is required'),
    ({'key_file': '/root/key.asc'}, 'key_url and key_file are mutually exclusive'),
    ({'key_url': '', 'key_file': '/root/key.asc'}, 'may not be empty'),
    ({'key_url': None, 'key_file': 'key.asc'}, 'key_file "key.asc" is not an absolute path'),
    ({'key_url': 'not a url'}, 'not a URL'),
    ({'key_fingerprint': 'C67D EF21'}, 'is not a fingerprint'),
    ({'key_fingerprint': DOCKER_FPR[:-1] + 'G'}, 'is not a fingerprint'),
    ({'key_path': 'docker.asc'}, 'key_path "docker.asc" is not an absolute path'),
    ({'key_path': '/etc/apt/keyrings/docker key.asc'}, 'without blanks'),
    ({'key_path': '/etc/apt/keyrings/docker.key'}, '*.asc (armored) or *.gpg'),
    ({'path': 'docker.sources'}, 'is not an absolute path'),
    ({'path': '/etc/apt/sources.list.d/docker.list'}, 'named <letters, digits, _ - .>.sources'),
    ({'path': '/etc/apt/sources.list.d/docker ce.sources'}, '.sources'),
    ({'timeout': 0}, 'timeout must be a positive'),
])
def test_bad_options_fail_before_anything(host, changes, says):
    host.converge(source=text_for(host, suite='jammy'), key='other.gpg')
    before = host.files()
    error = host.fails(**changes)
    assert says in error.msg
    assert error.msg.startswith('Bad options for the apt source ') and error.msg.endswith('Nothing was changed.')
    assert error.result['changed'] is False and 'key' in error.result and 'source' in error.result
    assert host.files() == before and host.fetches == [] and host.apt_calls == []


def test_every_bad_option_is_named_at_once(host):
    msg = host.fails(uris=[], suites=['a b'], key_url=None).msg
    assert 'uris is empty' in msg and 'suites: "a b"' in msg and 'key_url or key_file' in msg


def test_apt_errors():
    assert _apt_source.apt_errors(APT_GPG_ERROR[1], APT_GPG_ERROR[2]) == [
        'Err:1 %s noble InRelease' % MIRROR, GPG_ERROR,
        "E: The repository '%s noble InRelease' is not signed." % MIRROR]
    assert _apt_source.apt_errors('Hit:1 x\nReading package lists...', 'W: Target x is configured multiple times') == []
    assert _apt_source.apt_errors(None, None) == []
