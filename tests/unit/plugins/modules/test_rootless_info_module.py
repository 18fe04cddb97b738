# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/modules/rootless_info.py: main() with patched arguments on copies of
tests/unit/fixtures/rootless/converged, the platform from tests/unit/fixtures/platform,
accounts, the users' daemons, systemctl and rootlesskit faked (rootless_helpers.FakeHost)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import re

import pytest
import yaml

from ansible_collections.nsguard.docker.plugins.module_utils import _rootless_plan
from ansible_collections.nsguard.docker.plugins.modules import platform_check, rootless_info
from ansible_collections.nsguard.docker.tests.unit.conftest import FIXTURES

from audit_helpers import run_module
from module_helpers import (check_documented, check_options, documented_keys, fake_commands,
                            fake_supported_platform, tree_checksums, use_os_release)
from rootless_helpers import FakeHost

SYSCTL = '/etc/sysctl.d/99-nsguard-rootless.conf'
PROFILE_D = '/etc/profile.d/nsguard-rootless-docker.sh'
ROLE = os.path.join(FIXTURES, '..', '..', '..', 'roles', 'rootless')


class Fake(FakeHost):
    """The host: a copy of the fixture tree, Ubuntu 24.04 on x86_64 with systemd."""

    def __init__(self, tmp_path, monkeypatch):
        super(Fake, self).__init__(tmp_path)
        self.patch(monkeypatch)
        fake_supported_platform(tmp_path, monkeypatch)
        fake_commands(monkeypatch, self.commands)
        self.monkeypatch = monkeypatch

    def os_release(self, name):
        use_os_release(self.monkeypatch, name)

    def checksums(self):
        return tree_checksums(self.root)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    return Fake(tmp_path, monkeypatch)


def run(capsys, fake, check_mode=False, **args):
    args.setdefault('users', [{'name': 'alice', 'daemon_config': {'log-driver': 'local'}}])
    args.setdefault('rootlesskit', fake.rootlesskit)
    args.setdefault('rootful_daemon', 'masked')
    return run_module(rootless_info, args, capsys, check_mode=check_mode)


def role_yaml(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return yaml.safe_load(handle)


# ---------------------------------------------------------------------------- documentation

def test_documentation():
    doc = yaml.safe_load(rootless_info.DOCUMENTATION)
    assert doc['module'] == 'rootless_info'
    assert doc['version_added'] == '0.1.0'
    assert doc['extends_documentation_fragment'] == ['nsguard.docker.attributes',
                                                     'nsguard.docker.attributes.info_module']
    check_options(doc['options'], rootless_info.argument_spec(), 'options')
    returned = yaml.safe_load(rootless_info.RETURN)
    assert set(returned) == {'platform', 'problems', 'facts', 'plan'}
    for name, value in returned.items():
        assert value['description'] and value['type'] and value['returned'], name
    examples = yaml.safe_load(rootless_info.EXAMPLES)
    assert examples[0]['nsguard.docker.rootless_info']['rootful_daemon'] == 'masked'


def test_the_defaults_are_the_roles():
    """The module's defaults are the role's defaults (options) and data (paths, text)."""
    defaults = role_yaml('defaults', 'main.yml')
    data = role_yaml('vars', 'main.yml')
    spec = rootless_info.argument_spec()
    for name, option in spec.items():
        if 'rootless_' + name in defaults:
            assert option.get('default') == defaults['rootless_' + name], name
    assert spec['users']['default'] == defaults['rootless_users']
    assert spec['sysctl_path']['default'] == data['_rootless_sysctl_path']
    assert spec['profile_d_path']['default'] == data['_rootless_profile_d_path']
    assert spec['profile_d_content']['default'] == data['_rootless_profile_d_content']
    assert spec['delegate_path']['default'] == data['_rootless_delegate_path']
    # and the role passes every option
    with open(os.path.join(ROLE, 'tasks', 'main.yml')) as handle:
        first = yaml.safe_load(handle)[0]
    assert first['name'] == 'Check that this host is a platform the role supports'
    assert set(first['nsguard.docker.rootless_info']) == set(spec)
    assert first['register'] == '_rootless_info'


def test_every_returned_key_is_documented(fake, capsys):
    result = run(capsys, fake)
    assert result['facts']['userns'] is not None
    documented = documented_keys(yaml.safe_load(rootless_info.RETURN))
    for key in ('facts', 'plan'):
        check_documented(result[key], documented[key], key)
        # and every documented key is returned
        assert set(documented[key]) == set(result[key]), key


# ---------------------------------------------------------------------------- platform

def test_unsupported_host_fails_with_platform_checks_message(fake, capsys):
    fake.os_release('arch')
    result = run(capsys, fake)
    assert result['_rc'] == 1 and result['failed'] is True and result['changed'] is False
    expected = run_module(platform_check, {'role': 'rootless'}, capsys)
    assert expected['_rc'] == 1
    assert result['msg'] == expected['msg']
    assert result['msg'].startswith('This host is Arch Linux (ID=arch, VERSION_ID unset)')
    assert 'nsguard.docker.rootless supports Ubuntu 22.04, 24.04' in result['msg']
    assert result['msg'].endswith('Nothing was changed.')
    assert result['problems'] == ['distribution arch is not supported']
    assert result['platform'] == expected['platform']
    assert 'facts' not in result and 'plan' not in result
    # nothing else was looked at
    assert fake.commands.calls == [] and fake.spawned == [] and fake.looked_up == []


@pytest.mark.parametrize('name', ['ubuntu-22.04', 'debian-12', 'debian-13'])
def test_supported_releases(fake, capsys, name):
    fake.os_release(name)
    result = run(capsys, fake)
    assert result['_rc'] == 0, result.get('msg')


# ---------------------------------------------------------------------------- converged host

@pytest.mark.parametrize('check_mode', [False, True])
def test_converged_host(fake, capsys, check_mode):
    before = fake.checksums()
    result = run(capsys, fake, check_mode=check_mode)
    assert result['_rc'] == 0, result.get('msg')
    assert result['changed'] is False and result['problems'] == []
    assert result['platform']['distribution'] == 'ubuntu'
    facts, plan = result['facts'], result['plan']
    assert facts['knobs'] == {'user.max_user_namespaces': '28633', 'kernel.apparmor_restrict_unprivileged_userns': '1'}
    assert set(facts['packages']) == {'uidmap', 'dbus-user-session', 'slirp4netns', 'iptables', 'acl'}
    profile = _rootless_plan.apparmor_profile(fake.rootlesskit)['path']
    assert set(facts['files']) == {SYSCTL, PROFILE_D, _rootless_plan.DELEGATE_PATH, profile}
    assert plan['delegate']['ok'] is True and plan['delegate']['write'] is False
    assert facts['files'][profile] == {'exists': False, 'content': None}
    assert facts['docker_group'] == ['mallory', 'alice']
    assert facts['users']['alice']['rootless'] and facts['userns'] == {'rc': 0, 'stderr': ''}
    assert plan['present'] == [{'name': 'alice', 'state': 'present', 'subid_count': 65536, 'linger': True,
                                'purge': False, 'daemon_config': {'log-driver': 'local'}}]
    assert plan['configured'] == plan['lingering'] == plan['present']
    assert plan['install_packages'] == plan['unknown_users'] == plan['remove_from_docker_group'] == []
    assert plan['sysctl']['ok'] and plan['profile_d']['ok']
    assert not plan['sysctl']['write'] and not plan['profile_d']['write']
    assert not any(unit['mask'] for unit in plan['units'].values())
    assert plan['userns'] == {'user': 'alice', 'uid': 1001, 'tried': True, 'ok': True, 'check': False}
    todo = plan['users']['alice']
    assert not any(todo[k] for k in ('enable_linger', 'start_manager', 'setup', 'wait', 'set_context',
                                     'write_profile'))
    assert fake.checksums() == before  # read-only
    # one systemctl, one rootlesskit true (as alice), nothing else started
    assert [os.path.basename(c[0]) for c in fake.commands.calls] == ['systemctl']
    assert [(s['user'], s['argv']) for s in fake.spawned] == [('alice', [fake.rootlesskit, 'true'])]


def test_a_first_run(fake, capsys):
    """bob: no linger, no runtime directory, nothing installed; the rootful daemon running."""
    fake.commands.units['docker.service'] = {'LoadState': 'loaded', 'ActiveState': 'active',
                                             'UnitFileState': 'enabled'}
    fake.remove('etc/sysctl.d/99-nsguard-rootless.conf')
    fake.remove('etc/profile.d/nsguard-rootless-docker.sh')
    fake.write('var/lib/dpkg/status', 'Package: acl\nStatus: install ok installed\nVersion: 1\n')
    result = run(capsys, fake, users=[{'name': 'bob', 'subid_start': 300000}],
                 remove_from_docker_group=['alice', 'bob'], docker_host='shell_profile')
    plan = result['plan']
    assert plan['present'] == [{'name': 'bob', 'state': 'present', 'subid_count': 65536, 'subid_start': 300000,
                                'linger': True, 'purge': False}]
    assert plan['configured'] == []
    assert plan['install_packages'] == ['uidmap', 'dbus-user-session', 'slirp4netns', 'iptables']
    assert plan['sysctl']['write'] and not plan['profile_d']['write']  # shell_profile
    assert plan['units'] == {'docker.socket': {'mask': False}, 'docker.service': {'mask': True}}
    assert plan['remove_from_docker_group'] == ['alice']
    assert result['facts']['userns'] is None and fake.spawned == []  # no /run/user/1002 yet
    assert plan['userns'] == {'user': 'bob', 'uid': 1002, 'tried': False, 'ok': False, 'check': True}
    todo = plan['users']['bob']
    assert [k for k in ('enable_linger', 'start_manager', 'setup', 'wait', 'set_context', 'write_profile',
                        'uninstall', 'disable_linger') if todo[k]] == [
        'enable_linger', 'start_manager', 'setup', 'set_context', 'write_profile']
    assert todo['profile_block'] == 'export DOCKER_HOST=unix:///run/user/1002/docker.sock'


def test_attributes_drift_of_the_roles_files(fake, capsys):
    # the text right, the group and the mode not (0.1.0 compared the text only)
    fake.owners[SYSCTL] = (0, 1000)
    os.chmod(fake.path(PROFILE_D), 0o666)
    plan = run(capsys, fake)['plan']
    assert plan['sysctl'] == dict(plan['sysctl'], ok=False, write=True)
    assert plan['profile_d'] == {'path': PROFILE_D, 'ok': False, 'write': True}


def test_apparmor_refuses_the_user_namespace(fake, capsys):
    fake.userns = (1, '[rootlesskit:parent] error: failed to start the child: fork/exec /proc/self/exe: '
                      'permission denied\n')
    result = run(capsys, fake)
    assert result['facts']['userns'] == {'rc': 1, 'stderr': fake.userns[1].strip()}
    assert result['plan']['userns']['check'] and result['plan']['apparmor_restricts']


def test_a_state_absent_user(fake, capsys):
    plan = run(capsys, fake, users=[{'name': 'alice', 'state': 'absent', 'linger': False, 'purge': True}])['plan']
    assert plan['present'] == [] and [u['name'] for u in plan['absent']] == ['alice']
    assert plan['unlinger'] == plan['purge'] == plan['absent']
    assert plan['users']['alice']['uninstall'] and plan['users']['alice']['disable_linger']
    assert plan['userns']['check'] is False and fake.spawned == []


def test_an_unknown_user_and_an_unsafe_rootlesskit(fake, capsys):
    plan = run(capsys, fake, users=[{'name': 'alice'}, {'name': 'eve'}], rootlesskit='/opt/*/rootlesskit')['plan']
    assert plan['unknown_users'] == ['eve'] and plan['rootlesskit_safe'] is False


def test_rootlesskit_is_taken_as_given(fake, capsys, monkeypatch):
    monkeypatch.setenv('HOME', '/root')
    plan = run(capsys, fake, rootlesskit='~/bin/rootlesskit')['plan']
    assert plan['rootlesskit_safe'] is False
    assert plan['apparmor_profile']['name'] == 'nsguard-rootlesskit_.bin.rootlesskit'


def test_bad_option_value(fake, capsys):
    result = run(capsys, fake, rootful_daemon='sometimes')
    assert result['_rc'] == 1 and 'rootful_daemon' in result['msg']
    result = run(capsys, fake, users=[{'name': 'alice', 'state': 'gone'}])
    assert result['_rc'] == 1 and 'state' in result['msg']


# ---------------------------------------------------------------------------- the role's reads

_REFERENCE = re.compile(r"_rootless_info((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[A-Za-z_.]+\])+)")
_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([A-Za-z_.]+)\]")


def role_references():
    """Every ``_rootless_info...`` path the rootless role reads (tasks, handlers, vars,
    templates); ``[item...]`` stands for any key."""
    found = set()
    for path in glob.glob(os.path.join(ROLE, '*', '*')):
        with open(path) as handle:
            found.update(m.group(1) for m in _REFERENCE.finditer(handle.read()))
    return sorted(found)


def test_the_role_reads_the_plan():
    references = role_references()
    assert '.plan.users[item.name].setup' in references and '.plan.units[item].mask' in references
    assert '.plan.apparmor_profile.name' in references and '.plan.userns.uid' in references
    assert not [r for r in references if r.startswith('.facts.files')]  # decided by the plan


@pytest.mark.parametrize('users', [[{'name': 'alice'}], [{'name': 'bob'}, {'name': 'alice', 'state': 'absent'}]])
def test_everything_the_role_reads_is_returned(fake, capsys, users):
    # a renamed key of the plan fails here, not half way through a role run
    result = run(capsys, fake, users=users)
    for reference in role_references():
        values = [result]
        for attribute, index in _PART.findall(reference):
            if attribute == 'get':  # the dict's own method: .get('knob', 'n/a')
                break
            if index:
                values = [value[key] for value in values for key in value]
                continue
            for value in values:
                assert isinstance(value, dict) and attribute in value, '_rootless_info' + reference
            values = [value[attribute] for value in values]


# ---------------------------------------------------------------------------- options, network driver

@pytest.mark.parametrize('port', [-1, 65536])
def test_a_port_out_of_range_fails_before_anything_is_read(fake, capsys, port):
    before = fake.checksums()
    result = run(capsys, fake, unprivileged_port_start=port)
    assert result['_rc'] == 1 and result['failed'] is True and result['changed'] is False
    assert 'rootless_unprivileged_port_start: %d' % port in result['msg'] and '0 to 65535' in result['msg']
    assert result['msg'].endswith('Nothing was changed.')
    assert 'plan' not in result and fake.commands.calls == [] and fake.spawned == []
    assert fake.checksums() == before


def test_a_network_driver_is_planned_per_user(fake, capsys, monkeypatch):
    from ansible_collections.nsguard.docker.plugins.module_utils import _rootless_inspect
    monkeypatch.setattr(_rootless_inspect, 'BIN_ROOT', fake.root)
    fake.write('usr/bin/slirp4netns', '#!/bin/sh\n', mode=0o755)
    result = run(capsys, fake, network_driver='slirp4netns')
    assert result['_rc'] == 0, result.get('msg')
    assert result['facts']['binaries'] == {'/usr/bin/slirp4netns': True}
    assert result['plan']['network']['available'] is True
    assert result['plan']['users']['alice']['network_write'] is True
    # the drop-in as the role writes it: the next run has nothing to do
    uid = os.stat(fake.path('home/alice')).st_uid
    fake.write('home/alice/' + _rootless_plan.NETWORK_DROPIN, result['plan']['network']['content'])
    fake.accounts['alice'] = uid
    result = run(capsys, fake, network_driver='slirp4netns')
    assert result['plan']['users']['alice']['network_write'] is False


def test_a_driver_the_host_cannot_have_is_not_available(fake, capsys, monkeypatch):
    from ansible_collections.nsguard.docker.plugins.module_utils import _rootless_inspect
    monkeypatch.setattr(_rootless_inspect, 'BIN_ROOT', fake.root)
    result = run(capsys, fake, network_driver='slirp4netns', packages=['uidmap'])
    assert result['_rc'] == 0 and result['plan']['network']['available'] is False
    result = run(capsys, fake, network_driver='pasta', packages=['uidmap'])
    assert result['plan']['network']['available'] is True and result['plan']['install_packages'] == ['passt']
