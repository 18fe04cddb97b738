# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units for roles/engine/files/engine_facts.py (run with the other units: pytest tests/unit).

Keys are built from raw OpenPGP packets here (the parser only needs the public key
packet to compute a fingerprint); one test compares with gpg when gpg is installed.
"""

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, '..', '..', '..', '..', 'roles', 'engine', 'files', 'engine_facts.py')
_SPEC = importlib.util.spec_from_file_location('engine_facts', SCRIPT)
ef = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ef)


def packet(tag, body, new_format=True):
    if new_format:
        assert len(body) < 192
        return bytes([0xC0 | tag, len(body)]) + body
    return bytes([0x80 | (tag << 2) | 1]) + len(body).to_bytes(2, 'big') + body


def v4_key(seed):
    # version 4, creation time, algorithm 22 (EdDSA), some key material
    return b'\x04' + seed.to_bytes(4, 'big') + b'\x16' + hashlib.sha256(bytes([seed])).digest()


def v4_fpr(body):
    return hashlib.sha1(b'\x99' + len(body).to_bytes(2, 'big') + body).hexdigest().upper()


def keyring(*seeds, old=False):
    data = b''
    for seed in seeds:
        data += packet(6, v4_key(seed), not old)
        data += packet(13, b'user %d' % seed, not old)
        data += packet(2, b'\x04sig', not old)
        data += packet(14, v4_key(seed + 100), not old)
    return data


def armor(data):
    b64 = base64.b64encode(data).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ('-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: test\n\n' + '\n'.join(lines)
            + '\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n')


DOCKER = 1
OTHER = 2


def test_fingerprints_binary_armored_old_format(tmp_path):
    (tmp_path / 'k.gpg').write_bytes(keyring(DOCKER, OTHER))
    (tmp_path / 'k.asc').write_text(armor(keyring(DOCKER)))
    (tmp_path / 'old.gpg').write_bytes(keyring(OTHER, old=True))
    both = [v4_fpr(v4_key(DOCKER)), v4_fpr(v4_key(OTHER))]
    assert ef.read_keyring(str(tmp_path / 'k.gpg'))['fingerprints'] == both
    assert ef.read_keyring(str(tmp_path / 'k.asc'))['fingerprints'] == [v4_fpr(v4_key(DOCKER))]
    assert ef.read_keyring(str(tmp_path / 'old.gpg'))['fingerprints'] == [v4_fpr(v4_key(OTHER))]


def test_bad_and_missing_keys(tmp_path):
    assert ef.read_keyring(str(tmp_path / 'none'))['exists'] is False
    (tmp_path / 'html').write_text('<html>404 not found</html>')
    info = ef.read_keyring(str(tmp_path / 'html'))
    assert info['exists'] and info['fingerprints'] == [] and 'not an OpenPGP packet' in info['error']
    (tmp_path / 'trunc').write_bytes(keyring(DOCKER)[:20])
    assert 'truncated' in ef.read_keyring(str(tmp_path / 'trunc'))['error']


@pytest.mark.skipif(not shutil.which('gpg'), reason='gpg not installed')
def test_matches_gpg(tmp_path):
    home = tmp_path / 'gnupg'
    home.mkdir(mode=0o700)
    gpg = ['gpg', '--homedir', str(home), '--batch', '--quiet', '--pinentry-mode', 'loopback',
           '--passphrase', '']
    subprocess.run(gpg + ['--quick-generate-key', 't <t@example.invalid>', 'ed25519', 'sign', '1d'],
                   check=True, stderr=subprocess.DEVNULL)
    subprocess.run(gpg + ['--armor', '--output', str(tmp_path / 'k.asc'), '--export'], check=True)
    out = subprocess.run(gpg + ['--with-colons', '--list-keys'], check=True, capture_output=True,
                         text=True).stdout
    want = [line.split(':')[9] for line in out.splitlines() if line.startswith('fpr:')][:1]
    assert ef.read_keyring(str(tmp_path / 'k.asc'))['fingerprints'] == want


def test_dpkg_status(tmp_path):
    status = tmp_path / 'status'
    status.write_text(
        'Package: docker-ce\nStatus: hold ok installed\nVersion: 5:29.0.4-1\n\n'
        'Package: runc\nStatus: install ok installed\nVersion: 1.3\n\n'
        'Package: docker.io\nStatus: deinstall ok config-files\nVersion: 29\n')
    pkgs = ef.dpkg_packages(['docker-ce', 'runc', 'docker.io', 'podman-docker'], str(status))
    assert pkgs['docker-ce'] == {'installed': True, 'version': '5:29.0.4-1', 'selection': 'hold',
                                 'state': 'installed'}
    assert pkgs['runc']['installed'] and pkgs['runc']['selection'] == 'install'
    assert not pkgs['docker.io']['installed']
    assert pkgs['podman-docker']['state'] == 'not-installed'


def _apt(tmp_path):
    apt = tmp_path / 'apt'
    for sub in ('sources.list.d', 'trusted.gpg.d', 'keyrings'):
        (apt / sub).mkdir(parents=True)
    return apt


def test_legacy_sources_and_keyrings(tmp_path):
    apt = _apt(tmp_path)
    docker = v4_fpr(v4_key(DOCKER))
    usr_keyring = tmp_path / 'docker-archive-keyring.gpg'
    usr_keyring.write_bytes(keyring(DOCKER))
    (apt / 'sources.list.d' / 'docker.list').write_text(
        '# added by hand\ndeb [arch=amd64 signed-by=%s] https://download.docker.com/linux/ubuntu noble stable\n'
        % usr_keyring)
    (apt / 'sources.list.d' / 'archive_uri-https_download_docker_com_linux_ubuntu-noble.list').write_text(
        'deb https://download.docker.com/linux/ubuntu noble stable\n'
        '# deb-src https://download.docker.com/linux/ubuntu noble stable\n')
    (apt / 'sources.list').write_text(
        'deb http://mirror.example.invalid/ubuntu noble main\n'
        'deb [ arch=amd64 ] https://download.docker.com/linux/ubuntu/ noble stable\n')
    (apt / 'sources.list.d' / 'mirror.sources').write_text(
        'Types: deb\nURIs: https://artifacts.example.invalid/docker\nSuites: noble\n'
        'Components: stable\nSigned-By: /etc/apt/keyrings/docker.asc\n\n'
        'Types: deb\nURIs: http://mirror.example.invalid/ubuntu\nSuites: noble\nComponents: main\n')
    (apt / 'sources.list.d' / 'docker.sources').write_text(
        'Types: deb\nURIs: https://artifacts.example.invalid/docker\nSuites: noble\n')
    (apt / 'sources.list.d' / 'other.list').write_text('deb http://mirror.example.invalid/x noble main\n')
    (apt / 'trusted.gpg').write_bytes(keyring(OTHER, DOCKER))
    (apt / 'trusted.gpg.d' / 'docker.gpg').write_bytes(keyring(DOCKER))
    (apt / 'trusted.gpg.d' / 'ubuntu.gpg').write_bytes(keyring(OTHER))
    own_key = apt / 'keyrings' / 'docker.asc'
    own_key.write_text(armor(keyring(DOCKER)))

    result = ef.legacy(str(apt), ['https://artifacts.example.invalid/docker'],
                       str(apt / 'sources.list.d' / 'docker.sources'), str(own_key), docker)
    d = str(apt / 'sources.list.d')
    assert sorted(result['remove']) == sorted([
        d + '/docker.list', d + '/archive_uri-https_download_docker_com_linux_ubuntu-noble.list',
        str(apt / 'trusted.gpg.d' / 'docker.gpg'), str(usr_keyring)])
    assert result['comment'] == [str(apt / 'sources.list')]
    assert result['manual'] == [d + '/mirror.sources']
    assert result['strip'] == [str(apt / 'trusted.gpg')]


def test_legacy_nothing_on_clean_host(tmp_path):
    apt = _apt(tmp_path)
    (apt / 'sources.list.d' / 'ubuntu.sources').write_text(
        'Types: deb\nURIs: http://mirror.example.invalid/ubuntu\nSuites: noble\nComponents: main\n')
    result = ef.legacy(str(apt), ['https://download.docker.com/linux/ubuntu'], None, None,
                       v4_fpr(v4_key(DOCKER)))
    assert result == {'remove': [], 'comment': [], 'manual': [], 'strip': []}


def test_strip_key_keeps_others_and_mode(tmp_path):
    ring = tmp_path / 'trusted.gpg'
    ring.write_bytes(keyring(OTHER, DOCKER))
    ring.chmod(0o640)
    assert ef.strip_key(str(ring), v4_fpr(v4_key(DOCKER))) is True
    assert ring.read_bytes() == keyring(OTHER)
    assert oct(ring.stat().st_mode & 0o777) == oct(0o640)
    assert ef.strip_key(str(ring), v4_fpr(v4_key(DOCKER))) is False


def test_main_json_and_stdin_invocation(tmp_path):
    (tmp_path / 'k.asc').write_text(armor(keyring(DOCKER)))
    (tmp_path / 'pin').write_text('Package: docker-ce\n')
    with open(SCRIPT, 'rb') as handle:
        proc = subprocess.run(
            [sys.executable, '-', '--no-legacy', '--keyring', str(tmp_path / 'k.asc'),
             '--file', str(tmp_path / 'pin'), '--file', str(tmp_path / 'nope'),
             '--package', 'surely-not-installed-pkg', '--dpkg-status', str(tmp_path / 'status')],
            stdin=handle, capture_output=True, check=True)
    out = json.loads(proc.stdout)
    assert out['keyrings'][str(tmp_path / 'k.asc')]['fingerprints'] == [v4_fpr(v4_key(DOCKER))]
    assert out['files'][str(tmp_path / 'pin')]['sha1'] == hashlib.sha1(b'Package: docker-ce\n').hexdigest()
    assert out['files'][str(tmp_path / 'nope')] == {'exists': False}
    assert out['packages']['surely-not-installed-pkg']['installed'] is False
    assert out['legacy'] == {'remove': [], 'comment': [], 'manual': [], 'strip': []}


def test_os_facts(tmp_path):
    release = tmp_path / 'os-release'
    release.write_text('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n'
                       'UBUNTU_CODENAME=noble\n')
    facts = ef.os_facts(str(release))
    assert facts['id'] == 'ubuntu' and facts['codename'] == 'noble'
    assert isinstance(facts['deb_arch'], str)
    assert ef.os_facts(str(tmp_path / 'none'))['id'] == ''


def test_file_facts_text_only_where_asked(tmp_path):
    source = tmp_path / 'docker.sources'
    source.write_bytes(b'Types: deb\nSuites: noble\n')
    pin = tmp_path / 'pin'
    pin.write_bytes(b'Package: docker-ce\n')
    missing = str(tmp_path / 'missing.sources')
    out = ef.file_facts([str(pin)], [str(source), missing])
    assert out[str(source)]['text'] == 'Types: deb\nSuites: noble\n'
    assert out[str(source)]['sha1'] == hashlib.sha1(source.read_bytes()).hexdigest()
    assert 'text' not in out[str(pin)]
    assert out[missing] == {'exists': False}
