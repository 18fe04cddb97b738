# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_apt_sources.py: parsers, the deb822 source comparison
(tests/unit/fixtures/engine/sources) and the leftovers of the legacy/ host tree."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _apt_sources

from engine_helpers import DOCKER_FPR, ENGINE, MIRROR, TreeFS, host_tree, key_bytes, remove, write

OWN_SOURCE = '/etc/apt/sources.list.d/docker.sources'
OWN_KEY = '/etc/apt/keyrings/docker.asc'
WANTED = _apt_sources.wanted_source_fields('docker', MIRROR, 'noble', ['stable'], 'amd64', OWN_KEY)


def source_text(name):
    with open(os.path.join(ENGINE, 'sources', name)) as handle:
        return handle.read()


def test_norm_url_and_docker_uri():
    assert _apt_sources.norm_url(' HTTPS://Download.Docker.com/linux/ubuntu/ ') == 'https://download.docker.com/linux/ubuntu'
    assert _apt_sources.norm_url('file:/srv/repo/') == 'file:/srv/repo'
    assert _apt_sources.is_docker_uri('https://download.docker.com/linux/debian')
    assert _apt_sources.is_docker_uri('https://user@download.docker.com:443/linux/debian')
    assert not _apt_sources.is_docker_uri('https://download.docker.com.example.invalid/linux')
    # scheme and host are compared without case, the path with
    assert not _apt_sources.is_docker_uri('https://artifacts.example.invalid/DOCKER-UBUNTU', [MIRROR])
    assert _apt_sources.is_docker_uri('HTTPS://ARTIFACTS.example.invalid/docker-ubuntu/', [MIRROR])
    assert not _apt_sources.is_docker_uri('http://archive.example.invalid/ubuntu', [MIRROR])


def test_parse_one_line():
    text = ('# deb https://download.docker.com/linux/ubuntu noble stable\n'
            'deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.gpg] https://download.docker.com/linux/ubuntu noble stable\n'
            '  deb-src http://archive.example.invalid/ubuntu noble main\n'
            'not a source line\n')
    assert _apt_sources.parse_one_line(text) == [
        ('https://download.docker.com/linux/ubuntu', '/etc/apt/keyrings/docker.gpg'),
        ('http://archive.example.invalid/ubuntu', None)]


def test_parse_deb822_comments_continuations_and_stanzas():
    text = ('# comment\nTypes: deb\nURIs: http://a.example.invalid/x\n  http://b.example.invalid/y\n'
            'Signed-By: /k.gpg\n\n#only a comment\n\n \nTypes: deb-src\nuris: http://c.example.invalid\n')
    assert _apt_sources.parse_deb822(text) == [
        {'types': 'deb', 'uris': 'http://a.example.invalid/x\nhttp://b.example.invalid/y', 'signed-by': '/k.gpg'},
        {'types': 'deb-src', 'uris': 'http://c.example.invalid'}]


@pytest.mark.parametrize('name', ['docker-2.16.sources', 'docker-2.19.sources'])
def test_source_matches_in_either_field_order(name):
    # ansible-core 2.16's deb822_repository writes the task's order, 2.17 and later sorted
    assert _apt_sources.source_matches(source_text(name), WANTED)


@pytest.mark.parametrize('change', [
    lambda t: t.replace('Suites: noble', 'Suites: jammy'),            # another suite
    lambda t: t.replace('Architectures: amd64', 'Architectures: arm64'),
    lambda t: t.replace('Components: stable', 'Components: stable test'),
    lambda t: t.replace('Signed-By: /etc/apt/keyrings/docker.asc', 'Signed-By: /etc/apt/keyrings/docker.gpg'),
    lambda t: t.replace('Enabled: yes', 'Enabled: no'),
    lambda t: t.replace('Enabled: yes\n', ''),                         # a field missing
    lambda t: t + 'Trusted: yes\n',                                     # a field more
    lambda t: '# edited by hand\n' + t,                                 # a comment
    lambda t: t + '\nTypes: deb\nURIs: http://archive.example.invalid/ubuntu\n',  # a second stanza
    lambda t: t.replace('Suites: noble', 'Suites:\n noble'),           # a multi-line value
    lambda t: '',
])
def test_source_text_differing(change):
    assert not _apt_sources.source_matches(change(source_text('docker-2.19.sources')), WANTED)


def test_source_missing():
    assert not _apt_sources.source_matches(None, WANTED)


def test_wanted_source_fields_are_source_fields():
    assert WANTED == _apt_sources.source_fields('docker', ['deb'], [MIRROR], ['noble'], ['stable'], ['amd64'],
                                                OWN_KEY)
    assert WANTED == {'x-repolib-name': 'docker', 'types': 'deb', 'uris': MIRROR, 'suites': 'noble',
                      'components': 'stable', 'architectures': 'amd64', 'signed-by': OWN_KEY, 'enabled': 'yes'}


def test_source_fields_left_out_and_joined():
    assert _apt_sources.source_fields(None, ['deb', 'deb-src'], ['http://a.example.invalid', 'http://b.example.invalid'],
                                      ['./'], None, None, '/k.gpg') == {
        'types': 'deb deb-src', 'uris': 'http://a.example.invalid http://b.example.invalid', 'suites': './',
        'signed-by': '/k.gpg', 'enabled': 'yes'}


def test_render_source_is_deb822_repository_of_ansible_core_2_16_and_reads_back():
    text = _apt_sources.render_source(WANTED)
    assert text == source_text('docker-2.16.sources')
    assert _apt_sources.source_matches(text, WANTED)
    assert _apt_sources.parse_deb822(text) == [WANTED]


def test_render_source_puts_other_fields_last():
    fields = dict(WANTED, **{'x-other': '1', 'trusted': 'no'})
    assert _apt_sources.render_source(fields).endswith('Enabled: yes\ntrusted: no\nx-other: 1\n')


def test_read_keyring(tmp_path):
    root = host_tree(tmp_path, 'legacy')
    fs = TreeFS(root)
    assert _apt_sources.read_keyring(fs, OWN_KEY) == {
        'exists': True, 'fingerprints': [DOCKER_FPR], 'armored': True, 'error': None}
    assert _apt_sources.read_keyring(fs, '/etc/apt/keyrings/none.asc') == {
        'exists': False, 'fingerprints': [], 'armored': None, 'error': None}
    info = _apt_sources.read_keyring(fs, '/etc/apt/keyrings')  # a directory
    assert info['exists'] and info['fingerprints'] == [] and info['error']
    write(root, '/etc/apt/keyrings/html.asc', '<html>404</html>')
    info = _apt_sources.read_keyring(fs, '/etc/apt/keyrings/html.asc')
    assert info['exists'] and 'not an OpenPGP packet' in info['error']


def test_scan_legacy(tmp_path):
    fs = TreeFS(host_tree(tmp_path, 'legacy'))
    result = _apt_sources.scan_legacy(fs, [MIRROR], OWN_SOURCE, OWN_KEY, DOCKER_FPR)
    d = '/etc/apt/sources.list.d'
    assert result == {
        # Docker entries alone; keyrings of Docker's key alone (global, or named in Signed-By)
        'remove': [d + '/archive_uri-https_download_docker_com_linux_ubuntu-noble.list',
                   d + '/docker.list',
                   d + '/mirror-only.sources',
                   '/etc/apt/trusted.gpg.d/docker.gpg',
                   '/etc/apt/keyrings/docker.gpg'],
        'comment': ['/etc/apt/sources.list'],
        'manual': [d + '/mixed.sources', '/etc/apt/trusted.gpg.d/shared.asc'],
        'strip': ['/etc/apt/trusted.gpg'],
        'shared': ['/etc/apt/trusted.gpg', '/etc/apt/trusted.gpg.d/shared.asc'],
    }
    assert fs.errors == []


def test_scan_legacy_own_files_are_never_leftovers(tmp_path):
    root = host_tree(tmp_path, 'legacy')
    fs = TreeFS(root)
    result = _apt_sources.scan_legacy(fs, [MIRROR], OWN_SOURCE, OWN_KEY, DOCKER_FPR)
    assert OWN_SOURCE not in sum(result.values(), [])
    assert OWN_KEY not in sum(result.values(), [])
    # without naming them, the role's own source and key are leftovers like any other
    result = _apt_sources.scan_legacy(fs, [MIRROR], None, None, DOCKER_FPR)
    assert OWN_SOURCE in result['remove'] and OWN_KEY in result['remove']


def test_scan_legacy_clean_host_and_no_fingerprint(tmp_path):
    root = host_tree(tmp_path, 'converged')
    fs = TreeFS(root)
    assert _apt_sources.scan_legacy(fs, [MIRROR], OWN_SOURCE, OWN_KEY, DOCKER_FPR) == _apt_sources.empty_legacy()
    root = host_tree(tmp_path, 'legacy')
    assert _apt_sources.scan_legacy(TreeFS(root), [MIRROR], OWN_SOURCE, OWN_KEY, '') == _apt_sources.empty_legacy()


def test_scan_legacy_other_key_expected(tmp_path):
    # a mirror signed with another key: Docker's old keyrings hold no key of interest
    root = host_tree(tmp_path, 'legacy')
    result = _apt_sources.scan_legacy(TreeFS(root), [MIRROR], OWN_SOURCE, OWN_KEY, '0' * 40)
    assert result['strip'] == [] and result['shared'] == []
    assert '/etc/apt/trusted.gpg.d/docker.gpg' not in result['remove']
    assert '/etc/apt/sources.list.d/docker.list' in result['remove']


def test_scan_legacy_without_apt_dirs(tmp_path):
    root = str(tmp_path / 'bare')
    os.makedirs(os.path.join(root, 'etc'))
    fs = TreeFS(root)
    assert _apt_sources.scan_legacy(fs, [MIRROR], OWN_SOURCE, OWN_KEY, DOCKER_FPR) == _apt_sources.empty_legacy()
    assert fs.errors == []


def test_scan_legacy_global_keyring_of_docker_alone(tmp_path):
    # /etc/apt/trusted.gpg written by a single apt-key add of Docker's key
    root = host_tree(tmp_path, 'legacy')
    write(root, '/etc/apt/trusted.gpg', key_bytes('docker.gpg'))
    remove(root, '/etc/apt/trusted.gpg.d/shared.asc')
    result = _apt_sources.scan_legacy(TreeFS(root), [MIRROR], OWN_SOURCE, OWN_KEY, DOCKER_FPR)
    assert '/etc/apt/trusted.gpg' in result['remove']
    assert result['strip'] == [] and result['shared'] == []
