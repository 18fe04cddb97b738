# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/modules/platform_check.py: main() with patched arguments, on fixture trees.

The host is faked: os-release comes from tests/unit/fixtures/platform (O(os_release_path)
or the patched default paths), run/ and proc/ from a temporary tree, the machine and the
Python version from patched hooks of module_utils/_platform.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.nsguard.docker.plugins.module_utils import _platform
from ansible_collections.nsguard.docker.plugins.modules import platform_check
from ansible_collections.nsguard.docker.tests.unit.conftest import FIXTURES

from audit_helpers import run_module

FIX = os.path.join(FIXTURES, 'platform')

PLATFORM_KEYS = {'distribution', 'version', 'codename', 'pretty_name', 'id_like', 'architecture',
                 'deb_architecture', 'init', 'python', 'machine', 'os_release_path',
                 'os_release_error', 'systemd_booted', 'pid1_comm'}


def fixture(name):
    return os.path.join(FIX, name + '.os-release')


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A supported host: Debian 12 os-release as the default path, systemd, x86_64, Python 3.11."""

    class Fake(object):
        def __init__(self):
            self.run = tmp_path / 'run'
            self.proc = tmp_path / 'proc'
            (self.run / 'systemd' / 'system').mkdir(parents=True)
            (self.proc / '1').mkdir(parents=True)
            (self.proc / '1' / 'comm').write_text('systemd\n')
            self.machine = 'x86_64'
            self.version_info = (3, 11, 2, 'final', 0)
            self.os_release_paths = (str(tmp_path / 'missing'), fixture('debian-12'))

        def no_systemd(self, comm='dumb-init'):
            (self.run / 'systemd' / 'system').rmdir()
            (self.proc / '1' / 'comm').write_text(comm + '\n')

    host = Fake()
    monkeypatch.setattr(_platform, 'RUN_ROOT', str(host.run))
    monkeypatch.setattr(_platform, 'PROC_ROOT', str(host.proc))
    monkeypatch.setattr(_platform, 'OS_RELEASE_PATHS', host.os_release_paths)
    monkeypatch.setattr(_platform, '_uname_machine', lambda: host.machine)
    monkeypatch.setattr(_platform, '_interpreter_version', lambda: host.version_info)
    return host


def run(capsys, check_mode=False, **args):
    return run_module(platform_check, args, capsys, check_mode=check_mode)


def test_documentation():
    doc = yaml.safe_load(platform_check.DOCUMENTATION)
    assert doc['module'] == 'platform_check'
    assert doc['extends_documentation_fragment'] == ['nsguard.docker.attributes',
                                                     'nsguard.docker.attributes.info_module']
    options = doc['options']
    assert set(options) == {'distributions', 'architectures', 'min_python', 'os_release_path', 'role',
                            'baselines', 'allow_ip_forward_off'}
    # the documented defaults are the one table of module_utils/_platform.py
    assert options['distributions']['default'] == _platform.SUPPORTED['distributions']
    assert options['architectures']['default'] == _platform.SUPPORTED['architectures']
    assert options['min_python']['default'] == _platform.SUPPORTED['min_python']
    for name, option in options.items():
        assert option.get('type') and option.get('description'), name
    returned = yaml.safe_load(platform_check.RETURN)
    assert set(returned) == {'platform', 'problems', 'baselines'}
    assert set(returned['platform']['contains']) == PLATFORM_KEYS
    examples = yaml.safe_load(platform_check.EXAMPLES)
    assert examples[0]['nsguard.docker.platform_check'] == {'role': 'engine'}


@pytest.mark.parametrize('check_mode', [False, True])
def test_supported_host(fake, capsys, check_mode):
    result = run(capsys, check_mode=check_mode)
    assert result['_rc'] == 0
    assert result['changed'] is False and not result.get('failed')
    assert result['problems'] == []
    platform = result['platform']
    assert set(platform) == PLATFORM_KEYS
    assert platform['distribution'] == 'debian' and platform['version'] == '12'
    assert platform['codename'] == 'bookworm'
    assert platform['os_release_path'] == fixture('debian-12')  # fell back to the second path
    assert (platform['architecture'], platform['deb_architecture']) == ('x86_64', 'amd64')
    assert (platform['init'], platform['pid1_comm'], platform['systemd_booted']) == ('systemd', 'systemd', True)
    assert platform['python'] == '3.11.2'


@pytest.mark.parametrize('name', ['ubuntu-24.04', 'ubuntu-22.04', 'debian-12', 'debian-13'])
def test_supported_distributions(fake, capsys, name):
    fake.machine = 'aarch64'
    result = run(capsys, os_release_path=fixture(name))
    assert result['_rc'] == 0, result.get('msg')
    assert result['platform']['deb_architecture'] == 'arm64'


def test_arch_fails_with_one_message(fake, capsys):
    result = run(capsys, os_release_path=fixture('arch'), role='engine')
    assert result['_rc'] == 1 and result['failed'] is True and result['changed'] is False
    assert result['msg'] == (
        'This host is Arch Linux (ID=arch, VERSION_ID unset), x86_64, init systemd, Python 3.11.2: '
        'distribution arch is not supported. nsguard.docker.engine supports Ubuntu 22.04, 24.04; '
        'Debian 12, 13 on x86_64 or aarch64 with systemd and Python >= 3.8. Nothing was changed.')
    assert result['problems'] == ['distribution arch is not supported']
    assert result['platform']['distribution'] == 'arch'
    assert set(result['platform']) == PLATFORM_KEYS


@pytest.mark.parametrize('name, problem', [
    ('ubuntu-20.04', 'Ubuntu 20.04 is not a supported release'),
    ('debian-trixie-sid', 'no VERSION_ID (testing or unstable?)'),
    ('linuxmint-22', 'distribution linuxmint is not supported (ID_LIKE=ubuntu debian: '
                     'derivatives are not supported)'),
])
def test_unsupported_releases(fake, capsys, name, problem):
    result = run(capsys, check_mode=True, os_release_path=fixture(name))
    assert result['_rc'] == 1 and result['problems'] == [problem]
    assert ': %s. Supported: Ubuntu 22.04' % problem in result['msg']
    assert result['msg'].endswith('Nothing was changed.')


def test_missing_os_release(fake, capsys, tmp_path):
    missing = str(tmp_path / 'nope')
    result = run(capsys, os_release_path=missing)
    assert result['_rc'] == 1
    assert result['problems'] == ['no os-release file (%s)' % missing]
    assert result['platform']['os_release_path'] is None
    assert result['msg'].startswith('This host is unknown (no os-release) (ID unset, VERSION_ID unset)')


def test_everything_wrong_is_still_one_message(fake, capsys):
    fake.no_systemd('sh')
    fake.machine = 's390x'
    fake.version_info = (3, 6, 8, 'final', 0)
    result = run(capsys, os_release_path=fixture('ubuntu-20.04'), role='rootless')
    assert result['_rc'] == 1
    assert result['problems'] == [
        'Ubuntu 20.04 is not a supported release',
        'architecture s390x is not supported',
        'not booted with systemd (/run/systemd/system is not a directory)',
        'Python 3.6.8 is older than 3.8',
    ]
    assert result['msg'] == (
        'This host is Ubuntu 20.04.6 LTS (ID=ubuntu, VERSION_ID=20.04), s390x, init sh, Python 3.6.8: '
        + '; '.join(result['problems'])
        + '. nsguard.docker.rootless supports Ubuntu 22.04, 24.04; Debian 12, 13 on x86_64 or aarch64 '
        'with systemd and Python >= 3.8. Nothing was changed.')
    assert result['platform']['init'] == 'sh' and result['platform']['systemd_booted'] is False


def test_custom_table(fake, capsys):
    args = dict(distributions={'ubuntu': ['24.04']}, architectures=['amd64'], min_python='3.12')
    result = run(capsys, os_release_path=fixture('ubuntu-24.04'), **args)
    assert result['_rc'] == 1
    assert result['problems'] == ['Python 3.11.2 is older than 3.12']
    assert 'Supported: Ubuntu 24.04 on x86_64 with systemd and Python >= 3.12.' in result['msg']
    fake.version_info = (3, 12, 1)
    assert run(capsys, os_release_path=fixture('ubuntu-24.04'), **args)['_rc'] == 0
    result = run(capsys, os_release_path=fixture('debian-12'), **args)
    assert result['problems'] == ['distribution debian is not supported']


def test_integer_versions_are_accepted(fake, capsys):
    result = run(capsys, distributions={'debian': [12, 13]})
    assert result['_rc'] == 0, result.get('msg')


@pytest.mark.parametrize('args, text', [
    ({'distributions': {'ubuntu': [22.04]}}, "quote release versions"),
    ({'architectures': []}, 'architectures must be a non-empty list'),
    ({'min_python': '3.x'}, "'3.x' is not a version like 3.8"),
])
def test_bad_options(fake, capsys, args, text):
    result = run(capsys, **args)
    assert result['_rc'] == 1 and result['changed'] is False
    assert text in result['msg']
    assert result['msg'].startswith('nsguard.docker.platform_check: ')
    assert 'platform' not in result


# ---------------------------------------------------------------------------- baselines

def test_baselines_are_read_only_when_asked(fake, capsys, tmp_path, monkeypatch):
    from ansible_collections.nsguard.docker.plugins.module_utils import _hostfs
    root = tmp_path / 'host'
    (root / 'etc' / 'sysctl.d').mkdir(parents=True)
    (root / 'proc' / 'sys' / 'user').mkdir(parents=True)
    (root / 'proc' / 'sys' / 'user' / 'max_user_namespaces').write_text('0\n')
    monkeypatch.setattr(platform_check, 'host_fs', lambda: _hostfs.HostFS(
        proc_root=str(root / 'proc'), etc_root=str(root / 'etc'), run_root=str(root / 'run'),
        usr_root=str(root / 'usr')))
    result = run(capsys)
    assert result['_rc'] == 0 and 'baselines' not in result
    result = run(capsys, baselines=['rootful'])
    assert result['baselines'] == {'sysctl': {'persistent': {}, 'live': {'user.max_user_namespaces': '0'}},
                                   'problems': []}
    (root / 'etc' / 'sysctl.d' / '60-hardening.conf').write_text('net.ipv4.ip_forward = 0\n')
    result = run(capsys, baselines=['rootful', 'userns_remap'])
    assert result['_rc'] == 0 and result['changed'] is False
    assert [p['id'] for p in result['baselines']['problems']] == ['ip-forward-off-persistent', 'userns-off']
    result = run(capsys, baselines=['rootful'], allow_ip_forward_off=True)
    assert result['baselines']['problems'] == []
