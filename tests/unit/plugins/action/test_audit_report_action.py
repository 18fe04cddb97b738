# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/action/audit_report.py (documented by plugins/modules/audit_report.py).

The plugin runs against a real inventory, variable manager and HostVars, with the module
results set as registered variables are (non-persistent facts); the last test runs the
benchmark's copy of the audit play through ansible-playbook on a few local hosts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat
import subprocess
import sys

from unittest import mock

import jsonschema
import pytest
import yaml

try:
    from ansible.module_utils import _internal as module_context
except ImportError:  # ansible-core < 2.19 does not mark the controller process
    import types
    module_context = types.SimpleNamespace(is_controller=False)

_WAS_CONTROLLER = module_context.is_controller

# pylint: disable=wrong-import-position
from ansible.errors import AnsibleActionFail
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.template import Templar

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19: every string is a template
    def trust_as_template(value):
        return value
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.nsguard.docker.plugins.action import audit_report as action
from ansible_collections.nsguard.docker.plugins.module_utils import namespace_audit, socket_audit
from ansible_collections.nsguard.docker.plugins.modules import audit_report as documentation

from audit_helpers import fakehost


def _unmark_controller():
    """Importing ansible's controller code marks the whole process as the controller, and
    module_utils then sends a module's warnings to the display instead of its result, which
    the module units beside these check: the mark is on only while these tests run."""
    setattr(module_context, 'is_controller', _WAS_CONTROLLER)


_unmark_controller()


@pytest.fixture(autouse=True)
def controller_process(monkeypatch):
    monkeypatch.setattr(module_context, 'is_controller', True)


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
FILES = ['fleet.html', 'fleet.json', 'fleet.junit.xml', 'fleet.md', 'fleet.sarif']


def _recorded(builder):
    host = fakehost.FakeHost()
    try:
        builder(host)
        return json.loads(json.dumps({
            'namespace_mode': dict(namespace_audit.run_audit(host.fs()), changed=False),
            'socket_exposure': dict(socket_audit.run_audit(host.fs(), unit_dirs=[host.units]), changed=False)}))
    finally:
        host.close()


@pytest.fixture(scope='module')
def recorded():
    return {'web1': _recorded(fakehost.build_web_host), 'db1': _recorded(fakehost.build_db_host)}


@pytest.fixture
def play(tmp_path, recorded):
    """An inventory of web1, db1 and gone (unreachable: nothing registered), web1 and db1
    with both results registered as audit_namespace_mode / audit_socket_exposure."""
    inventory_file = tmp_path / 'hosts.ini'
    inventory_file.write_text('web1\ndb1\ngone\n')
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(inventory_file)])
    variables = VariableManager(loader=loader, inventory=inventory)
    for name, results in recorded.items():
        variables.set_nonpersistent_facts(name, {
            'audit_namespace_mode': results['namespace_mode'],
            'audit_socket_exposure': results['socket_exposure']})
    hostvars = HostVars(inventory=inventory, variable_manager=variables, loader=loader)
    return {'loader': loader, 'inventory': inventory, 'variables': variables, 'hostvars': hostvars,
            'task_vars': {'hostvars': hostvars, 'ansible_play_hosts_all': ['web1', 'db1', 'gone']}}


def _run(play, args, check_mode=False, task_vars=None):
    task = mock.MagicMock()
    task.args = args
    task.check_mode = check_mode
    task.async_val = 0
    task.action = 'nsguard.docker.audit_report'
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    plugin = action.ActionModule(task=task, connection=connection, play_context=PlayContext(),
                                 loader=play['loader'], templar=Templar(loader=play['loader']), shared_loader_obj=None)
    return plugin.run(task_vars=play['task_vars'] if task_vars is None else task_vars)


def _fleet(dest):
    return json.loads((dest / 'fleet.json').read_text())


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(documentation.DOCUMENTATION)
    assert sorted(doc['options']) == sorted(action.ARGUMENT_SPEC)
    for name, spec in action.ARGUMENT_SPEC.items():
        option = doc['options'][name]
        assert option['type'] == spec['type'] and option.get('description'), name
        assert option.get('default') == spec.get('default'), name
        assert option.get('required', False) == spec.get('required', False), name
        assert option.get('choices') == spec.get('choices'), name
        assert option.get('elements') == spec.get('elements'), name
    assert sorted(yaml.safe_load(documentation.RETURN)['paths']['contains']) == \
        ['html', 'json', 'junit', 'markdown', 'sarif']
    yaml.safe_load(documentation.EXAMPLES)


def test_module_file_is_documentation_only():
    # ansible-test's action-plugin-docs and validate-modules accept a docs-only module
    # (assignments and __future__ imports) beside an action plugin of the same name
    import ast
    with open(documentation.__file__) as handle:
        tree = ast.parse(handle.read())
    assert all(isinstance(node, ast.Assign) or (isinstance(node, ast.ImportFrom) and node.module == '__future__')
               for node in tree.body)


def test_reads_registered_results_of_the_play_hosts(play, tmp_path):
    dest = tmp_path / 'report'
    result = _run(play, {'dest': str(dest)})
    assert result['changed'] is True and sorted(os.listdir(str(dest))) == FILES
    assert result['changed_files'] == [str(dest / n) for n in
                                       ('fleet.json', 'fleet.md', 'fleet.html', 'fleet.sarif', 'fleet.junit.xml')]
    assert result['paths'] == {'json': str(dest / 'fleet.json'), 'markdown': str(dest / 'fleet.md'),
                               'html': str(dest / 'fleet.html'), 'sarif': str(dest / 'fleet.sarif'),
                               'junit': str(dest / 'fleet.junit.xml')}
    for name in FILES:
        assert stat.S_IMODE(os.stat(str(dest / name)).st_mode) == 0o640, name
    fleet = _fleet(dest)
    with open(os.path.join(REPO, 'docs', 'audit-report.schema.json')) as handle:
        jsonschema.Draft202012Validator(json.load(handle)).validate(fleet)
    status = dict((h['name'], h['status']) for h in fleet['hosts'])
    assert status == {'db1': 'ok', 'gone': 'missing', 'web1': 'ok'}
    assert result['summary'] == fleet['summary'] and result['changes'] is None
    web = [h for h in fleet['hosts'] if h['name'] == 'web1'][0]
    assert any(f['id'] == 'userns-default-mode' for f in web['findings'])


def test_rerun_is_unchanged_and_check_mode_writes_nothing(play, tmp_path):
    dest = tmp_path / 'report'
    predicted = _run(play, {'dest': str(dest)}, check_mode=True)
    assert predicted['changed'] is True and len(predicted['changed_files']) == 5
    assert not dest.exists()
    _run(play, {'dest': str(dest)})
    before = dict((n, (dest / n).read_bytes()) for n in FILES)
    again = _run(play, {'dest': str(dest)})
    assert again['changed'] is False and again['changed_files'] == []
    # the report is the first one again: nothing before it to compare with
    assert again['changes'] is None and 'changes' not in _fleet(dest)
    assert dict((n, (dest / n).read_bytes()) for n in FILES) == before
    assert _run(play, {'dest': str(dest)}, check_mode=True)['changed'] is False


def test_a_changed_result_is_listed_as_changes_and_check_mode_predicts_it(play, tmp_path, recorded):
    dest = tmp_path / 'report'
    _run(play, {'dest': str(dest)})
    fixed = json.loads(json.dumps(recorded['web1']['socket_exposure']))
    fixed['findings'] = [f for f in fixed['findings'] if f['id'] != 'docker-group-member']
    play['variables'].set_nonpersistent_facts('web1', {'audit_socket_exposure': fixed})
    predicted = _run(play, {'dest': str(dest)}, check_mode=True)
    assert predicted['changed'] is True and predicted['changes']['resolved'] > 0
    assert 'changes' not in _fleet(dest)
    written = _run(play, {'dest': str(dest)})
    assert written['changes'] == predicted['changes']
    changes = _fleet(dest)['changes']
    assert [h['name'] for h in changes['hosts']] == ['web1']
    assert set(c['id'] for c in changes['hosts'][0]['resolved']) == set(['docker-group-member'])
    assert changes['hosts'][0]['new'] == []


def test_host_names_and_variable_names(play, tmp_path, recorded):
    play['variables'].set_nonpersistent_facts('db1', {
        'other_ns': recorded['web1']['namespace_mode']})
    dest = tmp_path / 'report'
    _run(play, {'dest': str(dest), 'host_names': ['db1', 'db1'], 'namespace_mode_var': 'other_ns'})
    (host,) = _fleet(dest)['hosts']
    assert host['name'] == 'db1'
    assert sorted(d['mode'] for d in host['daemons']) == ['default', 'rootless']  # web1's namespace_mode


def test_a_variable_set_to_a_template_is_templated_in_its_host_context(play, tmp_path, recorded):
    # set_fact or vars can hold a template rather than a registered result
    play['variables'].set_nonpersistent_facts('db1', {
        'recorded_ns': recorded['web1']['namespace_mode'],
        'audit_namespace_mode': trust_as_template('{{ recorded_ns }}')})
    dest = tmp_path / 'report'
    _run(play, {'dest': str(dest), 'host_names': ['db1']})
    (entry,) = _fleet(dest)['hosts']
    assert entry['modules']['namespace_mode'] == 'ok'
    assert sorted(d['mode'] for d in entry['daemons']) == ['default', 'rootless']


def test_explicit_hosts_dict_still_works(play, tmp_path, recorded):
    dest = tmp_path / 'report'
    result = _run(play, {'dest': str(dest), 'hosts': {'only': recorded['db1']}}, task_vars={})
    assert result['changed'] is True
    assert [h['name'] for h in _fleet(dest)['hosts']] == ['only']
    with pytest.raises(AnsibleActionFail, match='mutually exclusive'):
        _run(play, {'dest': str(dest), 'hosts': {}, 'host_names': ['web1']})


def test_options_are_checked(play, tmp_path):
    with pytest.raises(AnsibleActionFail, match='octal'):
        _run(play, {'dest': str(tmp_path), 'mode': 'rw-r--r--'})
    with pytest.raises(AnsibleActionFail, match='fail_on'):
        _run(play, {'dest': str(tmp_path), 'fail_on': 'severe'})
    with pytest.raises(AnsibleActionFail, match='dest'):
        _run(play, {})


def test_mode_option_and_mode_drift(play, tmp_path):
    dest = tmp_path / 'report'
    _run(play, {'dest': str(dest), 'mode': '0644'})
    assert stat.S_IMODE(os.stat(str(dest / 'fleet.json')).st_mode) == 0o644
    os.chmod(str(dest / 'fleet.md'), 0o600)
    result = _run(play, {'dest': str(dest), 'mode': '0644'})
    assert result['changed_files'] == [str(dest / 'fleet.md')]
    assert stat.S_IMODE(os.stat(str(dest / 'fleet.md')).st_mode) == 0o644


def test_unwritable_destination_fails_cleanly(play, tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(AnsibleActionFail, match='cannot write the report'):
        _run(play, {'dest': str(blocker / 'report')})


def test_audit_play_through_ansible_playbook(tmp_path, recorded):
    """The benchmark's copy of the audit play (recorded results instead of the two modules)
    on three local hosts: the report is written, a re-run leaves it alone, and the final
    assert still fails the hosts at or above audit_fail_on after the report is written."""
    results = tmp_path / 'results.json'
    results.write_text(json.dumps({'bench_results': [recorded['web1'], recorded['db1']]}))
    inventory = tmp_path / 'hosts.ini'
    inventory.write_text('h0 bench_variant=0\nh1 bench_variant=1\nh2 bench_variant=1\n\n[all:vars]\n'
                         'ansible_connection=local\nansible_python_interpreter=%s\n' % sys.executable)
    dest = tmp_path / 'report'
    farm = action.__file__.rsplit(os.sep + 'ansible_collections' + os.sep, 1)[0]  # where units import it from
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=farm, ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'),
               ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='False')
    playbook = os.path.join(REPO, 'tests', 'integration', 'report_benchmark', 'play.yml')
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inventory), playbook,
               '-e', 'bench_results_file=%s' % results, '-e', 'bench_report_dir=%s' % dest]

    def play_it(*extra):
        return subprocess.run(command + list(extra), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=300, check=False)

    first = play_it()
    assert first.returncode == 0, first.stdout[-3000:]
    fleet = _fleet(dest)
    assert [h['name'] for h in fleet['hosts']] == ['h0', 'h1', 'h2']
    assert all(h['status'] == 'ok' for h in fleet['hosts'])
    before = dict((n, (dest / n).read_bytes()) for n in FILES)
    # web1's results (h0) hold high findings, db1's (h1, h2) too: fail_on high fails all
    gated = play_it('-e', 'audit_fail_on=high')
    assert gated.returncode == 2, gated.stdout[-3000:]
    assert 'findings at or above high' in gated.stdout
    junit = (dest / 'fleet.junit.xml').read_text()
    assert 'failures="0"' not in junit.split('\n', 2)[1]
    assert dict((n, (dest / n).read_bytes()) for n in FILES if n != 'fleet.junit.xml') == \
        dict((n, v) for n, v in before.items() if n != 'fleet.junit.xml')
    again = play_it()
    assert again.returncode == 0
    assert (dest / 'fleet.json').read_bytes() == before['fleet.json']
    assert (dest / 'fleet.junit.xml').read_bytes() == before['fleet.junit.xml']
