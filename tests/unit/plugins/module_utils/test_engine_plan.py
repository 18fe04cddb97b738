# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_engine_plan.py: every decision of the engine role, made
from the facts _engine_inspect reads on a copy of a fixture tree
(tests/unit/fixtures/engine/converged or legacy) that each test drifts its own way."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil

import pytest
import yaml

from ansible_collections.nsguard.docker.plugins.module_utils import _engine_inspect, _engine_plan
from ansible_collections.nsguard.docker.plugins.modules import engine_info
from ansible_collections.nsguard.docker.tests.unit.conftest import FIXTURES

from engine_helpers import (DOCKER_FPR, ENGINE, MIRROR, VERSION, FakeCommands, TreeFS, host_tree,
                            key_bytes, remove, write)

REPO = os.path.join(FIXTURES, '..', '..', '..')
PIN = '/etc/apt/preferences.d/docker-engine'
SOURCE = '/etc/apt/sources.list.d/docker.sources'
KEY = '/etc/apt/keyrings/docker.asc'
NOBLE = {'distribution': 'ubuntu', 'codename': 'noble', 'deb_architecture': 'amd64'}
PIN_TEXT = (
    '# Managed by nsguard.docker.engine (engine_version): apt keeps these packages at this\n'
    '# version, also against unattended-upgrades. Remove engine_version to unpin.\n'
    'Package: docker-ce docker-ce-cli docker-ce-rootless-extras\n'
    'Pin: version 5:29.1.3-1~ubuntu.24.04~noble\n'
    'Pin-Priority: 1001\n')


def params(**changes):
    """The options of engine_info at their defaults, as the module passes them, with
    ``changes``; the converged tree's inputs (mirror, the fixture key, version, hold)
    unless changed."""
    spec = engine_info.argument_spec()
    values = dict((name, option.get('default')) for name, option in spec.items())
    values['install'] = dict((choice, True) for choice in _engine_plan.CHOICES)
    values.update(repo_url=MIRROR, repo_key_fingerprint=DOCKER_FPR, version=VERSION, hold=True)
    install = changes.pop('install', {})
    values.update(changes)
    values['install'].update(install)
    return _engine_plan.with_defaults(values)


class Host(object):
    """A copy of a fixture tree, and the plan for it."""

    def __init__(self, tmp_path, monkeypatch, tree='converged'):
        self.root = host_tree(tmp_path, tree)
        self.owners = {}
        self.commands = FakeCommands()
        self.platform = dict(NOBLE)
        monkeypatch.setattr(_engine_inspect, 'DPKG_STATUS', os.path.join(self.root, 'var/lib/dpkg/status'))

    def status(self, name):
        """dpkg's status file from tests/unit/fixtures/engine/<name>."""
        shutil.copy(os.path.join(ENGINE, name), os.path.join(self.root, 'var/lib/dpkg/status'))

    def facts(self, p):
        facts = _engine_inspect.inspect(
            TreeFS(self.root, self.owners), self.commands.run, self.commands.which,
            _engine_plan.inspected_packages(p), p['repo_key_path'], _engine_plan.pin_file(p['repo_name']),
            _engine_plan.sources_file(p['repo_name']), [p['repo_url'] or _engine_plan.DEFAULT_LEGACY_URL],
            p['expected_fingerprint'])
        return facts

    def plan(self, **changes):
        p = params(**changes)
        return _engine_plan.plan(p, self.platform, self.facts(p))


@pytest.fixture
def host(tmp_path, monkeypatch):
    return Host(tmp_path, monkeypatch)


@pytest.fixture
def legacy_host(tmp_path, monkeypatch):
    host = Host(tmp_path, monkeypatch, 'legacy')
    os.makedirs(os.path.join(host.root, 'var/lib/dpkg'))
    host.status('dpkg/status')
    return host


# ---------------------------------------------------------------------------- converged

def test_converged_host_has_nothing_to_do(host):
    plan = host.plan()
    assert plan['key']['ok'] and plan['key']['fingerprints'] == [DOCKER_FPR]
    assert plan['source']['ok'] and not plan['source']['write']
    assert plan['pin']['ok'] and not plan['pin']['write'] and not plan['pin']['remove']
    assert plan['pin']['content'] == PIN_TEXT
    assert plan['packages']['present']
    assert plan['conflicting_to_remove'] == []
    assert plan['prerequisites_to_install'] == []
    assert plan['legacy'] == {'remove': [], 'comment': [], 'manual': [], 'strip': []}
    assert plan['own_repo_files_to_remove'] == []
    assert plan['hold'] == {'selection': 'hold', 'change': [], 'not_installed': []}
    for unit in ('docker.socket', 'docker.service'):
        assert plan['units'][unit] == {'loaded': True, 'mask': False, 'unmask': False, 'drifted': False}
    assert plan['socket'] == {'path': '/run/docker.sock', 'exists': False}
    assert plan['repo']['valid']


# ---------------------------------------------------------------------------- version pin

@pytest.mark.parametrize('owner, mode', [
    ((0, 1000), 0o644),   # group drifted (0.1.0 skipped this)
    ((1000, 0), 0o644),   # owner drifted
    ((0, 0), 0o664),      # mode drifted
    ((0, 0), 0o600),
])
def test_pin_owner_group_mode_drift(host, owner, mode):
    host.owners[PIN] = owner
    os.chmod(os.path.join(host.root, PIN.lstrip('/')), mode)
    pin = host.plan()['pin']
    assert not pin['ok'] and pin['write'] and not pin['remove']


@pytest.mark.parametrize('changes', [
    {'pin_priority': 990},
    {'version': '5:29.0.4-1~ubuntu.24.04~noble'},
    {'version_packages': ['docker-ce']},
])
def test_pin_content_drift(host, changes):
    pin = host.plan(**changes)['pin']
    assert not pin['ok'] and pin['write']


def test_pin_text_edited_on_the_host(host):
    write(host.root, PIN, PIN_TEXT.replace('1001', '500'))
    assert host.plan()['pin']['write']


def test_pin_missing(host):
    remove(host.root, PIN)
    pin = host.plan()['pin']
    assert pin == dict(pin, exists=False, ok=False, write=True, remove=False)


def test_no_version_removes_the_pin(host):
    pin = host.plan(version='')['pin']
    assert pin['remove'] and not pin['write']
    remove(host.root, PIN)
    pin = host.plan(version='')['pin']
    assert not pin['remove'] and not pin['write']


def test_pin_content():
    assert _engine_plan.pin_content(['docker.io'], '28.2.*', 990) == PIN_TEXT.replace(
        'docker-ce docker-ce-cli docker-ce-rootless-extras', 'docker.io').replace(VERSION, '28.2.*').replace('1001', '990')


# ---------------------------------------------------------------------------- key

def test_key_with_wrong_fingerprint(host):
    key = host.plan(repo_key_fingerprint='0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567')['key']
    assert key == {'path': KEY, 'exists': True, 'fingerprints': [DOCKER_FPR],
                   'expected': '0123456789ABCDEF0123456789ABCDEF01234567', 'ok': False}


def test_key_holding_another_key_too(host):
    write(host.root, KEY, key_bytes('docker-and-other.asc'))
    assert not host.plan()['key']['ok']


def test_key_replaced_by_another(host):
    write(host.root, KEY, key_bytes('other.gpg'))
    assert not host.plan()['key']['ok']


def test_key_missing_or_not_a_key(host):
    remove(host.root, KEY)
    key = host.plan()['key']
    assert not key['ok'] and not key['exists']
    write(host.root, KEY, '<html>404 Not Found</html>')
    key = host.plan()['key']
    assert not key['ok'] and key['exists'] and key['fingerprints'] == []


def test_key_fingerprint_in_any_case_and_spacing(host):
    spaced = ' '.join(DOCKER_FPR[i:i + 4] for i in range(0, 40, 4)).lower()
    assert host.plan(repo_key_fingerprint=spaced)['key']['ok']


def test_key_in_the_format_apt_does_not_read_at_that_name(host):
    # apt reads a .asc keyring as armored and a .gpg one as binary
    write(host.root, KEY, key_bytes('docker.gpg'))
    key = host.plan()['key']
    assert key['fingerprints'] == [DOCKER_FPR] and not key['ok']


def test_binary_key_is_as_good(host):
    write(host.root, '/etc/apt/keyrings/docker.gpg', key_bytes('docker.gpg'))
    assert host.plan(repo_key_path='/etc/apt/keyrings/docker.gpg')['key']['ok']


# ---------------------------------------------------------------------------- deb822 source

def test_source_as_ansible_core_2_16_writes_it(host):
    with open(os.path.join(ENGINE, 'sources', 'docker-2.16.sources')) as handle:
        write(host.root, SOURCE, handle.read())
    assert host.plan()['source']['ok']


@pytest.mark.parametrize('edit', [
    lambda t: t.replace('Suites: noble', 'Suites: jammy'),
    lambda t: t.replace('URIs: %s' % MIRROR, 'URIs: https://download.docker.com/linux/ubuntu'),
    lambda t: t.replace('Signed-By: /etc/apt/keyrings/docker.asc', 'Signed-By: /usr/share/keyrings/docker.gpg'),
    lambda t: '# a comment\n' + t,
])
def test_source_text_differing(host, edit):
    with open(os.path.join(host.root, SOURCE.lstrip('/'))) as handle:
        text = handle.read()
    write(host.root, SOURCE, edit(text))
    source = host.plan()['source']
    assert not source['ok'] and source['write']
    assert source['text'] == edit(text)  # what is put back if apt rejects the new one


@pytest.mark.parametrize('changes', [
    {'repo_suite': 'noble-test'},
    {'repo_components': ['stable', 'test']},
    {'repo_arch': 'arm64'},
    {'repo_url': MIRROR + '-2'},
    {'repo_key_path': '/etc/apt/keyrings/docker-2.asc'},
])
def test_source_input_differing(host, changes):
    assert host.plan(**changes)['source']['write']


def test_source_arch_from_dpkg(host):
    host.commands.arch = 'arm64'
    assert host.plan()['source']['write']


def test_source_mode_drift(host):
    os.chmod(os.path.join(host.root, SOURCE.lstrip('/')), 0o600)
    source = host.plan()['source']
    assert source['write'] and source['mode'] == '0600'


@pytest.mark.parametrize('path', [SOURCE, KEY])
@pytest.mark.parametrize('owner', [(0, 1000), (1000, 0)])
def test_source_and_key_owner_drift(host, path, owner):
    # 0.1.0 compared the text (the fingerprints) only, and skipped these files
    host.owners[path] = owner
    plan = host.plan()
    assert not plan['source' if path == SOURCE else 'key']['ok']
    assert plan['key' if path == SOURCE else 'source']['ok']


def test_key_mode_drift(host):
    os.chmod(os.path.join(host.root, KEY.lstrip('/')), 0o666)
    assert not host.plan()['key']['ok']


def test_source_that_is_not_a_regular_file(host):
    remove(host.root, SOURCE)
    os.mkfifo(os.path.join(host.root, SOURCE.lstrip('/')), 0o644)
    source = host.plan()['source']
    assert not source['ok'] and source['write']


def test_source_missing(host):
    remove(host.root, SOURCE)
    source = host.plan()['source']
    assert source == dict(source, exists=False, text=None, mode=None, ok=False, write=True)


def test_source_name_deb822_repository_would_rename(host):
    # deb822_repository writes docker-repo.sources for the name "Docker_Repo"
    with open(os.path.join(host.root, SOURCE.lstrip('/'))) as handle:
        text = handle.read().replace('X-Repolib-Name: docker', 'X-Repolib-Name: Docker_Repo')
    write(host.root, '/etc/apt/sources.list.d/Docker_Repo.sources', text)
    source = host.plan(repo_name='Docker_Repo')['source']
    assert source['exists'] and source['write']


def test_distro_never_writes_the_source(host):
    remove(host.root, SOURCE)
    assert not host.plan(source='distro')['source']['write']


# ---------------------------------------------------------------------------- repository settings

def test_repository_from_the_host(host):
    repo = host.plan(repo_url='')['repo']
    assert repo == {'url': 'https://download.docker.com/linux/ubuntu', 'suite': 'noble', 'arch': 'amd64',
                    'components': ['stable'], 'key_url': 'https://download.docker.com/linux/ubuntu/gpg',
                    'valid': True, 'invalid_fields': []}


def test_repository_arch_without_dpkg_is_the_machines(host):
    host.commands.missing.add('dpkg')
    host.platform['deb_architecture'] = 'arm64'
    assert host.plan()['repo']['arch'] == 'arm64'


def test_repository_explicit(host):
    repo = host.plan(repo_suite='stable-x', repo_arch='arm64', repo_key_url='file:///srv/key.asc')['repo']
    assert (repo['url'], repo['suite'], repo['arch'], repo['key_url']) == (MIRROR, 'stable-x', 'arm64', 'file:///srv/key.asc')


@pytest.mark.parametrize('changes, platform, invalid', [
    ({}, {'codename': ''}, ['Suites']),                       # 0.1.0 wrote an empty Suites:
    ({'repo_url': 'https://x.example.invalid/a b'}, {}, ['URIs']),
    ({'repo_url': 'HTTPS://x.example.invalid/'}, {}, ['URIs']),
    ({'repo_url': 'no-scheme'}, {}, ['URIs']),
    ({'repo_arch': 'AMD64'}, {}, ['Architectures']),
    ({'repo_components': []}, {}, ['Components']),
    ({'repo_components': ['stable', 'a b']}, {}, ['Components']),
    ({'repo_url': ''}, {'distribution': '', 'codename': ''}, ['Suites']),
    ({}, {'deb_architecture': ''}, []),                        # dpkg still says amd64
])
def test_repository_invalid(host, changes, platform, invalid):
    host.platform.update(platform)
    repo = host.plan(**changes)['repo']
    assert repo['invalid_fields'] == invalid and repo['valid'] is (not invalid)


def test_repository_url_for_the_distribution(host):
    host.platform.update(distribution='Debian', codename='trixie')
    assert host.plan(repo_url='')['repo']['url'] == 'https://download.docker.com/linux/debian'


# ---------------------------------------------------------------------------- packages

ALL_DOCKER = ['docker-ce', 'docker-ce-cli', 'containerd.io', 'docker-buildx-plugin', 'docker-compose-plugin',
              'docker-ce-rootless-extras']


def test_docker_packages_and_apt_names(host):
    packages = host.plan()['packages']
    assert packages['selected'] == ALL_DOCKER and packages['all'] == ALL_DOCKER
    assert packages['pinned'] == ['docker-ce', 'docker-ce-cli', 'docker-ce-rootless-extras']
    assert packages['versioned'] == packages['pinned']
    assert packages['apt_names'] == ['containerd.io', 'docker-buildx-plugin', 'docker-compose-plugin',
                                     'docker-ce=' + VERSION, 'docker-ce-cli=' + VERSION,
                                     'docker-ce-rootless-extras=' + VERSION]


def test_choices_and_extra_packages(host):
    packages = host.plan(install={'buildx': False, 'compose': False, 'rootless_extras': False},
                         extra_packages=['pigz', 'docker-ce'], version='')['packages']
    assert packages['all'] == ['docker-ce', 'docker-ce-cli', 'containerd.io', 'pigz']
    assert packages['pinned'] == ['docker-ce', 'docker-ce-cli'] and packages['versioned'] == []
    assert packages['apt_names'] == packages['all']


def test_explicit_packages_win_over_choices(host):
    packages = host.plan(packages=['docker-ce', 'docker-ce'], install={'cli': False})['packages']
    assert packages['all'] == ['docker-ce'] and packages['apt_names'] == ['docker-ce=' + VERSION]


@pytest.mark.parametrize('distribution, codename, expected', [
    ('ubuntu', 'noble', ['docker.io', 'containerd', 'docker-buildx', 'docker-compose-v2', 'rootlesskit']),
    ('debian', 'trixie', ['docker.io', 'containerd', 'docker-buildx', 'docker-compose', 'rootlesskit']),
    ('debian', 'bookworm', ['docker.io', 'containerd', 'docker-compose', 'rootlesskit']),  # no buildx
    ('raspbian', 'trixie', ['docker.io', 'containerd', 'docker-buildx', 'docker-compose', 'rootlesskit']),
])
def test_distro_packages(host, distribution, codename, expected):
    host.platform.update(distribution=distribution, codename=codename)
    packages = host.plan(source='distro', version='')['packages']
    assert packages['all'] == expected and packages['pinned'] == ['docker.io']


@pytest.mark.parametrize('changes, edit_status', [
    ({'version': '5:29.1.*'}, None),                                  # a glob: apt decides
    ({'version': '5:29.0.4-1~ubuntu.24.04~noble'}, None),             # another version
    ({'extra_packages': ['pigz']}, None),                             # one not installed
    ({}, lambda t: t.replace('Package: docker-compose-plugin\nStatus: install ok installed',
                             'Package: docker-compose-plugin\nStatus: install ok half-configured')),
    ({}, lambda t: t.replace('Package: docker-ce-cli\nStatus: hold ok installed\nArchitecture: amd64\n'
                             'Version: 5:29.1.3-1~ubuntu.24.04~noble',
                             'Package: docker-ce-cli\nStatus: hold ok installed\nArchitecture: amd64\n'
                             'Version: 5:29.0.4-1~ubuntu.24.04~noble')),
])
def test_packages_not_present(host, changes, edit_status):
    if edit_status:
        status = os.path.join(host.root, 'var/lib/dpkg/status')
        with open(status) as handle:
            text = handle.read()
        assert edit_status(text) != text
        write(host.root, '/var/lib/dpkg/status', edit_status(text))
    assert not host.plan(**changes)['packages']['present']


def test_packages_present_without_version(host):
    assert host.plan(version='')['packages']['present']


# ---------------------------------------------------------------------------- conflicts, prerequisites

def test_conflicting_packages(legacy_host):
    # runc installed, podman-docker unpacked, docker.io only config-files
    plan = legacy_host.plan()
    assert plan['conflicting_to_remove'] == ['podman-docker', 'runc']
    assert legacy_host.plan(remove_conflicting=False)['conflicting_to_remove'] == []


def test_conflicting_packages_of_distro(host):
    assert host.plan(source='distro', version='')['conflicting_to_remove'] == [
        'containerd.io', 'docker-buildx-plugin', 'docker-ce', 'docker-ce-cli', 'docker-ce-rootless-extras',
        'docker-compose-plugin']
    assert host.plan(conflicting_packages=['docker-ce', 'not-there'])['conflicting_to_remove'] == ['docker-ce']


def test_missing_prerequisites(legacy_host):
    plan = legacy_host.plan()
    assert plan['missing_prerequisites'] == [] and plan['prerequisites_to_install'] == []
    plan = legacy_host.plan(prerequisite_packages=['ca-certificates', 'gnupg'])
    assert plan['missing_prerequisites'] == plan['prerequisites_to_install'] == ['gnupg']
    plan = legacy_host.plan(source='distro', prerequisite_packages=['gnupg'])
    assert plan['missing_prerequisites'] == ['gnupg'] and plan['prerequisites_to_install'] == []


# ---------------------------------------------------------------------------- leftovers, own files

def test_legacy_is_acted_on_only_with_docker(legacy_host):
    plan = legacy_host.plan()
    assert plan['legacy']['strip'] == ['/etc/apt/trusted.gpg']
    assert '/etc/apt/sources.list.d/docker.list' in plan['legacy']['remove']
    assert plan['legacy']['comment'] == ['/etc/apt/sources.list']
    assert '/etc/apt/sources.list.d/mixed.sources' in plan['legacy']['manual']
    assert legacy_host.plan(source='distro')['legacy'] == {'remove': [], 'comment': [], 'manual': [], 'strip': []}


def test_own_repo_files_removed_with_distro(host):
    assert host.plan(source='distro')['own_repo_files_to_remove'] == [SOURCE, KEY]
    remove(host.root, SOURCE)
    assert host.plan(source='distro')['own_repo_files_to_remove'] == [KEY]
    remove(host.root, KEY)
    assert host.plan(source='distro')['own_repo_files_to_remove'] == []


# ---------------------------------------------------------------------------- holds

def test_release_holds(host):
    hold = host.plan(hold=False)['hold']
    assert hold == {'selection': 'install', 'change': ['docker-ce', 'docker-ce-cli', 'docker-ce-rootless-extras'],
                    'not_installed': []}


def test_hold_what_is_not_held(legacy_host):
    # dpkg/status: docker-ce and docker-ce-cli held, docker-ce-rootless-extras not
    assert legacy_host.plan()['hold']['change'] == ['docker-ce-rootless-extras']


def test_hold_on_a_host_without_the_packages(host):
    write(host.root, '/var/lib/dpkg/status', '')
    hold = host.plan()['hold']
    assert hold['change'] == hold['not_installed'] == ['docker-ce', 'docker-ce-cli', 'docker-ce-rootless-extras']
    assert host.plan(hold=False)['hold']['change'] == []


# ---------------------------------------------------------------------------- units, socket

def units(socket_state, service_state):
    def entry(state):
        load, active, unit_file = state.split('/')
        return {'LoadState': load, 'ActiveState': active, 'UnitFileState': unit_file}
    return {'docker.socket': entry(socket_state), 'docker.service': entry(service_state)}


@pytest.mark.parametrize('changes, states, expected', [
    # rootful enabled and started
    ({}, ('loaded/active/enabled', 'loaded/inactive/enabled'), [(False, False, False), (False, False, True)]),
    ({}, ('loaded/active/disabled', 'loaded/active/enabled'), [(False, False, True), (False, False, False)]),
    ({}, ('masked/inactive/masked', 'masked/inactive/masked'), [(False, True, True), (False, True, True)]),
    ({}, ('not-found/inactive/none', 'not-found/inactive/none'), [(False, False, True), (False, False, True)]),
    # enabled but stopped: inactive or failed is right
    ({'service_state': 'stopped'}, ('loaded/inactive/enabled', 'loaded/failed/enabled'),
     [(False, False, False), (False, False, False)]),
    # disabled
    ({'rootful': 'disabled'}, ('loaded/active/enabled', 'loaded/inactive/disabled'),
     [(False, False, True), (False, False, False)]),
    # masked: mask what is not masked or still running
    ({'rootful': 'masked'}, ('loaded/active/enabled', 'masked/inactive/masked'),
     [(True, False, True), (False, False, False)]),
    ({'rootful': 'masked'}, ('masked/active/masked', 'masked/failed/masked'),
     [(True, False, True), (False, False, False)]),
])
def test_units(host, changes, states, expected):
    host.commands.units = units(*states)
    plan = host.plan(**changes)
    got = [(plan['units'][u]['mask'], plan['units'][u]['unmask'], plan['units'][u]['drifted'])
           for u in ('docker.socket', 'docker.service')]
    assert got == expected


@pytest.mark.parametrize('rootful, state, file_state, active, restart', [
    ('enabled', 'started', 'enabled', ['active'], True),
    ('enabled', 'stopped', 'enabled', ['inactive', 'failed'], False),
    ('disabled', 'started', 'disabled', ['inactive', 'failed'], False),
    ('masked', 'started', 'masked', ['inactive', 'failed'], False),
])
def test_wanted_unit_states(host, rootful, state, file_state, active, restart):
    plan = host.plan(rootful=rootful, service_state=state)
    assert (plan['unit_file_state'], plan['active_states'], plan['restart_wanted']) == (file_state, active, restart)


def test_units_loaded(host):
    host.commands.units = units('loaded/active/enabled', 'not-found/inactive/none')
    plan = host.plan()
    assert plan['units']['docker.socket']['loaded'] and not plan['units']['docker.service']['loaded']
    host.commands.missing.add('systemctl')
    assert not host.plan()['units']['docker.socket']['loaded']


def test_socket_exists(host):
    write(host.root, '/run/docker.sock', '')
    assert host.plan(rootful='disabled')['socket'] == {'path': '/run/docker.sock', 'exists': True}


# ---------------------------------------------------------------------------- tables

def test_defaults_per_source():
    assert params(source='distro')['version_packages'] == ['docker.io']
    assert params()['conflicting_packages'][-1] == 'runc'
    assert params(version_packages=[])['version_packages'] == []


def test_tables_agree_with_the_roles_vars():
    with open(os.path.join(REPO, 'roles', 'engine', 'vars', 'main.yml')) as handle:
        role_vars = yaml.safe_load(handle)
    assert role_vars['_engine_version_packages_default'] == _engine_plan.VERSION_PACKAGES_DEFAULT
    assert role_vars['_engine_conflicting_default'] == _engine_plan.CONFLICTING_DEFAULT
    # the texts of what the distro flavour lacks are per distribution and release of the tables
    assert set(role_vars['_engine_distro_lacks']) == set(_engine_plan.DISTRO_PACKAGE_NAMES)


def test_known_packages_cover_every_table():
    known = _engine_plan.known_packages()
    assert set(_engine_plan.DOCKER_PACKAGE_NAMES.values()) <= set(known)
    assert {'docker.io', 'docker-compose-v2', 'rootlesskit', 'runc', 'podman-docker'} <= set(known)
    assert '' not in known


def test_deb822_slug():
    assert _engine_plan.deb822_slug('docker') == 'docker'
    assert _engine_plan.deb822_slug('Docker_Repo x') == 'docker-repo-x'
