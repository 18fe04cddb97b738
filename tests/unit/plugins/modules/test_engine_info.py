# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/modules/engine_info.py: main() with patched arguments on copies of the
host trees of tests/unit/fixtures/engine, the platform from tests/unit/fixtures/platform,
systemctl and dpkg faked (engine_helpers.FakeCommands)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import re

import pytest
import yaml

from ansible_collections.nsguard.docker.plugins.module_utils import _engine_inspect, _engine_plan
from ansible_collections.nsguard.docker.plugins.modules import engine_info, platform_check
from ansible_collections.nsguard.docker.tests.unit.conftest import FIXTURES

from audit_helpers import run_module
from module_helpers import (check_documented, documented_keys, fake_commands,
                            fake_supported_platform, tree_checksums, use_os_release)
from engine_helpers import DOCKER_FPR, MIRROR, VERSION, FakeCommands, TreeFS, host_tree, key_bytes, remove, write

PIN = '/etc/apt/preferences.d/docker-engine'
SOURCE = '/etc/apt/sources.list.d/docker.sources'
KEY = '/etc/apt/keyrings/docker.asc'
CONVERGED = dict(repo_url=MIRROR, repo_key_fingerprint=DOCKER_FPR, version=VERSION, hold=True)


class Fake(object):
    """The host: a copy of a fixture tree, Ubuntu 24.04 on x86_64 with systemd."""

    def __init__(self, tmp_path, monkeypatch, tree='converged'):
        self.root = host_tree(tmp_path, tree)
        self.owners = {}
        self.commands = FakeCommands()
        fake_supported_platform(tmp_path, monkeypatch)
        monkeypatch.setattr(_engine_inspect, 'host_fs', lambda: TreeFS(self.root, self.owners))
        monkeypatch.setattr(_engine_inspect, 'DPKG_STATUS', os.path.join(self.root, 'var/lib/dpkg/status'))
        fake_commands(monkeypatch, self.commands)
        self.monkeypatch = monkeypatch

    def os_release(self, name):
        use_os_release(self.monkeypatch, name)

    def checksums(self):
        return tree_checksums(self.root)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    return Fake(tmp_path, monkeypatch)


def run(capsys, check_mode=False, **args):
    return run_module(engine_info, args, capsys, check_mode=check_mode)


# ---------------------------------------------------------------------------- documentation

def test_documentation():
    doc = yaml.safe_load(engine_info.DOCUMENTATION)
    assert doc['module'] == 'engine_info'
    assert doc['extends_documentation_fragment'] == ['nsguard.docker.attributes',
                                                     'nsguard.docker.attributes.info_module']
    spec = engine_info.argument_spec()
    options = doc['options']
    assert set(options) == set(spec)
    for name, option in options.items():
        assert option.get('description'), name
        assert option['type'] == spec[name]['type'], name
        assert option.get('default') == spec[name].get('default'), name
        assert option.get('choices') == spec[name].get('choices'), name
        assert option.get('elements') == spec[name].get('elements'), name
    suboptions = options['install']['suboptions']
    assert set(suboptions) == set(_engine_plan.CHOICES) == set(spec['install']['options'])
    for name, option in suboptions.items():
        assert (option['type'], option['default']) == ('bool', True) and option['description'], name
    assert options['repo_key_fingerprint']['default'] == _engine_plan.DEFAULT_FINGERPRINT
    assert options['repo_key_path']['default'] == _engine_plan.DEFAULT_KEY_PATH
    returned = yaml.safe_load(engine_info.RETURN)
    assert set(returned) == {'platform', 'problems', 'facts', 'plan'}
    for name, value in returned.items():
        assert value['description'] and value['type'] and value['returned'], name
    assert yaml.safe_load(engine_info.EXAMPLES)[0]['nsguard.docker.engine_info']['version'] == VERSION


def test_every_returned_key_is_documented(fake, capsys):
    result = run(capsys, **CONVERGED)
    documented = documented_keys(yaml.safe_load(engine_info.RETURN))
    for key in ('facts', 'plan'):
        check_documented(result[key], documented[key], key)
    # and every documented key is returned
    for key in ('facts', 'plan'):
        assert set(documented[key]) == set(result[key]), key


# ---------------------------------------------------------------------------- platform

def test_unsupported_host_fails_with_platform_checks_message(fake, capsys):
    fake.os_release('arch')
    result = run(capsys, **CONVERGED)
    assert result['_rc'] == 1 and result['failed'] is True and result['changed'] is False
    expected = run_module(platform_check, {'role': 'engine'}, capsys)
    assert expected['_rc'] == 1
    assert result['msg'] == expected['msg']
    assert result['msg'].startswith('This host is Arch Linux (ID=arch, VERSION_ID unset)')
    assert 'nsguard.docker.engine supports Ubuntu 22.04, 24.04' in result['msg']
    assert result['msg'].endswith('Nothing was changed.')
    assert result['problems'] == ['distribution arch is not supported']
    assert result['platform'] == expected['platform']
    assert 'facts' not in result and 'plan' not in result
    assert fake.commands.calls == []  # nothing else was looked at


@pytest.mark.parametrize('name, codename', [('ubuntu-22.04', 'jammy'), ('debian-12', 'bookworm'),
                                            ('debian-13', 'trixie')])
def test_supported_releases(fake, capsys, name, codename):
    fake.os_release(name)
    result = run(capsys, repo_key_fingerprint=DOCKER_FPR)
    assert result['_rc'] == 0, result.get('msg')
    assert result['facts']['os']['codename'] == codename
    assert result['plan']['repo']['suite'] == codename


# ---------------------------------------------------------------------------- converged host

@pytest.mark.parametrize('check_mode', [False, True])
def test_converged_host(fake, capsys, check_mode):
    before = fake.checksums()
    result = run(capsys, check_mode=check_mode, **CONVERGED)
    assert result['_rc'] == 0, result.get('msg')
    assert result['changed'] is False and result['problems'] == []
    assert result['platform']['distribution'] == 'ubuntu'
    facts, plan = result['facts'], result['plan']
    assert facts['os'] == {'id': 'ubuntu', 'codename': 'noble', 'deb_arch': 'amd64'}
    assert 'python' not in facts  # the role's helper scripts that needed it are gone
    assert facts['keyrings'][KEY]['fingerprints'] == [DOCKER_FPR]
    assert facts['packages']['docker-ce']['version'] == VERSION
    assert set(facts['files']) == {PIN, SOURCE, KEY, '/run/docker.sock'}
    assert facts['docker_key_in_shared_keyring'] is False
    assert plan['key']['ok'] and plan['source']['ok'] and plan['pin']['ok'] and plan['packages']['present']
    assert not plan['source']['write'] and not plan['pin']['write'] and not plan['pin']['remove']
    assert plan['conflicting_to_remove'] == plan['prerequisites_to_install'] == plan['hold']['change'] == []
    assert not any(u['mask'] or u['unmask'] or u['drifted'] for u in plan['units'].values())
    assert fake.checksums() == before  # read-only
    assert [os.path.basename(c[0]) for c in fake.commands.calls] == ['systemctl', 'dpkg']


def test_install_choices_default_to_true(fake, capsys):
    result = run(capsys, install={'buildx': False}, **CONVERGED)
    assert 'docker-buildx-plugin' not in result['plan']['packages']['all']
    assert 'docker-compose-plugin' in result['plan']['packages']['all']


def test_bad_option_value(fake, capsys):
    result = run(capsys, rootful='sometimes', **CONVERGED)
    assert result['_rc'] == 1 and 'rootful' in result['msg']


# ---------------------------------------------------------------------------- drift

def test_pin_group_drift(fake, capsys):
    # text, mode and owner right, the group not (0.1.0 skipped the pin then)
    fake.owners[PIN] = (0, 1000)
    plan = run(capsys, **CONVERGED)['plan']
    assert plan['pin']['write'] and not plan['pin']['ok']
    assert plan['key']['ok'] and plan['source']['ok'] and plan['packages']['present']


def test_key_with_wrong_fingerprint(fake, capsys):
    options = dict(CONVERGED)
    options['repo_key_fingerprint'] = '0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567'
    plan = run(capsys, **options)['plan']
    assert not plan['key']['ok'] and plan['key']['expected'] == '0123456789ABCDEF0123456789ABCDEF01234567'
    assert plan['key']['fingerprints'] == [DOCKER_FPR]


def test_source_text_differing(fake, capsys):
    with open(os.path.join(fake.root, SOURCE.lstrip('/'))) as handle:
        text = handle.read()
    write(fake.root, SOURCE, text.replace('Suites: noble', 'Suites: jammy'))
    plan = run(capsys, **CONVERGED)['plan']
    assert plan['source']['write'] and 'Suites: jammy' in plan['source']['text']
    assert plan['source']['mode'] == '0644'


def test_first_run_on_a_bare_host(fake, capsys):
    for path in (PIN, SOURCE, KEY):
        remove(fake.root, path)
    write(fake.root, '/var/lib/dpkg/status', 'Package: ca-certificates\nStatus: install ok installed\nVersion: 1\n')
    fake.commands.units = {}
    result = run(capsys, check_mode=True, **CONVERGED)
    plan = result['plan']
    assert not plan['key']['ok'] and not plan['key']['exists']
    assert plan['source']['write'] and plan['source']['text'] is None
    assert plan['pin']['write']
    assert plan['prerequisites_to_install'] == []
    assert not plan['packages']['present']
    assert plan['hold']['not_installed'] == plan['hold']['change'] == plan['packages']['pinned']
    assert not any(u['loaded'] for u in plan['units'].values())
    assert result['facts']['units']['docker.service']['UnitFileState'] == 'none'


def test_leftovers_and_shared_keyring(tmp_path, monkeypatch, capsys):
    fake = Fake(tmp_path, monkeypatch, 'legacy')
    result = run(capsys, **CONVERGED)
    facts = result['facts']
    assert facts['docker_key_in_shared_keyring'] is True
    assert facts['legacy']['shared'] == ['/etc/apt/trusted.gpg', '/etc/apt/trusted.gpg.d/shared.asc']
    assert result['plan']['legacy']['strip'] == ['/etc/apt/trusted.gpg']
    assert '/etc/apt/trusted.gpg.d/docker.gpg' in result['plan']['legacy']['remove']
    # reported, not stripped: rewriting the shared keyring is the role's
    with open(os.path.join(fake.root, 'etc/apt/trusted.gpg'), 'rb') as handle:
        assert handle.read() == key_bytes('docker-and-other.gpg')
    distro = run(capsys, **dict(CONVERGED, source='distro'))
    assert distro['facts']['docker_key_in_shared_keyring'] is True
    assert distro['plan']['legacy']['strip'] == []


# ---------------------------------------------------------------------------- the role's reads

ROLE = os.path.join(FIXTURES, '..', '..', '..', 'roles', 'engine')
_REFERENCE = re.compile(r"_engine_info((?:\.[A-Za-z_][A-Za-z0-9_]*|\['[^']+'\]|\[item\])+)")
_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']+)'\]|\[(item)\]")


def role_references():
    """Every ``_engine_info...`` path the engine role's YAML reads."""
    found = set()
    for path in glob.glob(os.path.join(ROLE, '*', '*.yml')):
        with open(path) as handle:
            found.update(m.group(1) for m in _REFERENCE.finditer(handle.read()))
    return sorted(found)


def test_the_role_reads_the_plan():
    references = role_references()
    assert '.plan.key.ok' in references and '.plan.units[item].mask' in references
    assert ".plan.units['docker.service'].loaded" in references


@pytest.mark.parametrize('source', ['docker', 'distro'])
def test_everything_the_role_reads_is_returned(fake, capsys, source):
    # a renamed key of the plan fails here, not half way through a role run
    result = run(capsys, **dict(CONVERGED, source=source))
    with open(os.path.join(ROLE, 'vars', 'main.yml')) as handle:
        units = yaml.safe_load(handle)['_engine_units']
    for reference in role_references():
        values = [result]
        for attribute, key, item in _PART.findall(reference):
            if item:
                values = [value[unit] for value in values for unit in units]
                continue
            for value in values:
                assert isinstance(value, dict) and (attribute or key) in value, '_engine_info' + reference
            values = [value[attribute or key] for value in values]


# ---------------------------------------------------------------------------- baselines

def test_forwarding_off_for_good_is_a_baseline_problem(fake, capsys):
    result = run(capsys, **CONVERGED)
    assert result['_rc'] == 0 and result['plan']['baselines'] == []
    assert result['facts']['sysctl'] == {'persistent': {}, 'live': {}}
    write(fake.root, '/etc/sysctl.d/60-hardening.conf', 'net.ipv4.ip_forward = 0\nuser.max_user_namespaces = 0\n')
    result = run(capsys, **CONVERGED)
    assert result['_rc'] == 0 and result['changed'] is False
    assert result['facts']['sysctl']['persistent']['net.ipv4.ip_forward'] == {
        'value': '0', 'path': '/etc/sysctl.d/60-hardening.conf', 'line': 1}
    assert [p['id'] for p in result['plan']['baselines']] == ['ip-forward-off-persistent']
    assert [p['id'] for p in run(capsys, userns_remap=True, **CONVERGED)['plan']['baselines']] == [
        'ip-forward-off-persistent', 'userns-off']
    assert run(capsys, allow_ip_forward_off=True, **CONVERGED)['plan']['baselines'] == []
    assert run(capsys, rootful='masked', **CONVERGED)['plan']['baselines'] == []
