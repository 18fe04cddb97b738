# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the units of this collection's modules share: a supported host for the platform
check, faked commands, a tree's checksums (to prove a run read-only), and the checks that
the documentation matches the argument spec and names every returned key. The
conftest.py next to this file puts this directory on sys.path: ``from module_helpers
import ...``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nsguard.docker.plugins.module_utils import _platform
from ansible_collections.nsguard.docker.tests.unit.conftest import FIXTURES


def os_release(name):
    """tests/unit/fixtures/platform/<name>.os-release"""
    return os.path.join(FIXTURES, 'platform', name + '.os-release')


def fake_supported_platform(tmp_path, monkeypatch):
    """The platform check sees Ubuntu 24.04 on x86_64, systemd as PID 1, Python 3.12."""
    run = tmp_path / 'platform-run'
    (run / 'systemd' / 'system').mkdir(parents=True)
    proc = tmp_path / 'platform-proc'
    (proc / '1').mkdir(parents=True)
    (proc / '1' / 'comm').write_text(u'systemd\n')
    monkeypatch.setattr(_platform, 'RUN_ROOT', str(run))
    monkeypatch.setattr(_platform, 'PROC_ROOT', str(proc))
    use_os_release(monkeypatch, 'ubuntu-24.04')
    monkeypatch.setattr(_platform, '_uname_machine', lambda: 'x86_64')
    monkeypatch.setattr(_platform, '_interpreter_version', lambda: (3, 12, 3, 'final', 0))


def use_os_release(monkeypatch, name):
    monkeypatch.setattr(_platform, 'OS_RELEASE_PATHS', (os_release(name),))


def fake_commands(monkeypatch, commands):
    """AnsibleModule.run_command and get_bin_path answered by ``commands`` (run, which)."""
    monkeypatch.setattr(AnsibleModule, 'run_command', lambda module, argv, **kw: commands.run(argv))
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', lambda module, name, *a, **kw: commands.which(name))


def tree_checksums(root):
    """{path: (sha256, mode, mtime, uid, gid)} of every file below ``root`` (links not
    followed): equal before and after a run that changed nothing."""
    sums = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            st_ = os.lstat(path)
            data = b''
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, 'rb') as handle:
                    data = handle.read()
            sums[path] = (hashlib.sha256(data).hexdigest(), st_.st_mode, st_.st_mtime, st_.st_uid, st_.st_gid)
    return sums


def documented_keys(node):
    """{key: documented keys below it} of a RETURN section (its ``contains``)."""
    return dict((name, documented_keys(value.get('contains') or {})) for name, value in node.items())


def check_documented(value, documented, where):
    """Every key of a returned dict is documented, down to where the documentation stops
    (a dict keyed by path, package, unit or user is documented as a whole)."""
    assert isinstance(value, dict), where
    for key in value:
        assert key in documented, '%s.%s is not documented' % (where, key)
        if documented[key]:
            check_documented(value[key], documented[key], '%s.%s' % (where, key))


def check_options(options, spec, where='options'):
    """DOCUMENTATION's ``options`` and the argument spec agree: the same names, each
    described, with the same type, default, choices, elements and required (suboptions
    too)."""
    assert set(options) == set(spec), where
    for name, option in options.items():
        assert option.get('description'), (where, name)
        for field in ('type', 'default', 'choices', 'elements'):
            assert option.get(field) == spec[name].get(field), (where, name, field)
        assert option.get('required', False) == spec[name].get('required', False), (where, name)
        if 'suboptions' in option or 'options' in spec[name]:
            check_options(option['suboptions'], spec[name]['options'], '%s.%s' % (where, name))
