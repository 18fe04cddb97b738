# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/modules/audit_report.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import jsonschema
import pytest
import yaml

from ansible_collections.nsguard.docker.plugins.module_utils import namespace_audit, socket_audit
from ansible_collections.nsguard.docker.plugins.modules import audit_report

from audit_helpers import fakehost, run_module

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


@pytest.fixture(scope='module')
def hosts():
    results = {}
    for name, builder in (('web1', fakehost.build_web_host), ('db1', fakehost.build_db_host)):
        host = fakehost.FakeHost()
        try:
            builder(host)
            results[name] = json.loads(json.dumps({
                'namespace_mode': dict(namespace_audit.run_audit(host.fs()), changed=False),
                'socket_exposure': dict(socket_audit.run_audit(host.fs(), unit_dirs=[]), changed=False)}))
        finally:
            host.close()
    results['gone'] = {}
    return results


def test_documentation_is_complete():
    doc = yaml.safe_load(audit_report.DOCUMENTATION)
    for name, option in doc['options'].items():
        assert option.get('type') and option.get('description'), name
        assert 'default' in option or option.get('required'), name
    assert yaml.safe_load(audit_report.RETURN)['paths']['contains']


def test_check_mode_writes_nothing(hosts, tmp_path, capsys):
    dest = tmp_path / 'report'
    result = run_module(audit_report, {'hosts': hosts, 'dest': str(dest)}, capsys, check_mode=True)
    assert result['_rc'] == 0 and result['changed'] is True
    assert len(result['changed_files']) == 3
    assert not dest.exists()


def test_writes_three_files_then_is_idempotent(hosts, tmp_path, capsys):
    dest = tmp_path / 'report'
    first = run_module(audit_report, {'hosts': hosts, 'dest': str(dest)}, capsys)
    assert first['_rc'] == 0 and first['changed'] is True
    assert sorted(os.listdir(str(dest))) == ['fleet.html', 'fleet.json', 'fleet.md']
    assert first['paths']['html'] == str(dest / 'fleet.html')
    for name in ('fleet.html', 'fleet.json', 'fleet.md'):
        assert stat.S_IMODE(os.stat(str(dest / name)).st_mode) == 0o640
    with open(os.path.join(REPO, 'docs', 'audit-report.schema.json')) as handle:
        jsonschema.Draft202012Validator(json.load(handle)).validate(json.loads((dest / 'fleet.json').read_text()))
    assert first['summary']['hosts'] == 3
    before = dict((n, (dest / n).read_text()) for n in os.listdir(str(dest)))

    again = run_module(audit_report, {'hosts': hosts, 'dest': str(dest)}, capsys)
    assert again['changed'] is False and again['changed_files'] == []
    assert dict((n, (dest / n).read_text()) for n in os.listdir(str(dest))) == before

    check = run_module(audit_report, {'hosts': hosts, 'dest': str(dest)}, capsys, check_mode=True)
    assert check['changed'] is False


def test_changed_content_rewrites_and_check_mode_predicts(hosts, tmp_path, capsys):
    dest = tmp_path / 'report'
    run_module(audit_report, {'hosts': hosts, 'dest': str(dest)}, capsys)
    fewer = dict((k, v) for k, v in hosts.items() if k != 'db1')
    predicted = run_module(audit_report, {'hosts': fewer, 'dest': str(dest)}, capsys, check_mode=True)
    assert predicted['changed'] is True and len(predicted['changed_files']) == 3
    assert 'db1' in (dest / 'fleet.md').read_text()
    written = run_module(audit_report, {'hosts': fewer, 'dest': str(dest)}, capsys)
    assert written['changed'] is True and 'db1' not in (dest / 'fleet.md').read_text()
    assert not [n for n in os.listdir(str(dest)) if n.endswith('.tmp')]


def test_mode_option_and_mode_drift(hosts, tmp_path, capsys):
    dest = tmp_path / 'report'
    run_module(audit_report, {'hosts': hosts, 'dest': str(dest), 'mode': '0644'}, capsys)
    assert stat.S_IMODE(os.stat(str(dest / 'fleet.json')).st_mode) == 0o644
    os.chmod(str(dest / 'fleet.md'), 0o600)
    result = run_module(audit_report, {'hosts': hosts, 'dest': str(dest), 'mode': '0644'}, capsys)
    assert result['changed_files'] == [str(dest / 'fleet.md')]
    bad = run_module(audit_report, {'hosts': hosts, 'dest': str(dest), 'mode': 'rw-r--r--'}, capsys)
    assert bad['_rc'] == 1 and 'octal' in bad['msg']


def test_unwritable_destination_fails_cleanly(hosts, tmp_path, capsys):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    result = run_module(audit_report, {'hosts': hosts, 'dest': str(blocker / 'report')}, capsys)
    assert result['_rc'] == 1 and 'cannot write the report' in result['msg']
