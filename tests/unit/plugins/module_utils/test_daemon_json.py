# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units for plugins/module_utils/daemon_json.py (load, merge, render, compare, write)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from ansible_collections.nsguard.docker.plugins.module_utils import daemon_json as dj
from ansible_collections.nsguard.docker.tests.unit.conftest import FIXTURES

FIX = os.path.join(FIXTURES, 'daemon_json')


def fixture(name):
    return os.path.join(FIX, name)


def fixture_text(name):
    with open(fixture(name)) as handle:
        return handle.read()


# --- parse / load ---------------------------------------------------------------------

def test_load_keeps_key_order():
    data, text = dj.load(fixture('basic.json'))
    assert list(data) == ['log-driver', 'log-opts', 'storage-driver']
    assert list(data['log-opts']) == ['max-size', 'max-file']
    assert text == fixture_text('basic.json')


def test_load_missing_file_is_empty_and_absent(tmp_path):
    data, text = dj.load(str(tmp_path / 'nope.json'))
    assert data == {}
    assert text is None


@pytest.mark.parametrize('name', ['empty.json', 'whitespace.json'])
def test_empty_file_is_empty_object(name):
    data, text = dj.load(fixture(name))
    assert data == {}
    assert text is not None


def test_trailing_comma_names_file_and_position():
    with pytest.raises(dj.DaemonJsonError) as err:
        dj.load(fixture('trailing_comma.json'))
    msg = str(err.value)
    assert fixture('trailing_comma.json') in msg
    assert 'not valid JSON' in msg
    assert 'line 4 column 1' in msg


def test_bad_literal_position():
    with pytest.raises(dj.DaemonJsonError) as err:
        dj.parse(fixture_text('bad_literal.json'), '/etc/docker/daemon.json')
    assert '/etc/docker/daemon.json is not valid JSON' in str(err.value)
    assert 'line 2 column 12' in str(err.value)


def test_top_level_must_be_object():
    with pytest.raises(dj.DaemonJsonError) as err:
        dj.load(fixture('toplevel_array.json'))
    assert 'JSON object' in str(err.value)
    assert 'not array' in str(err.value)


@pytest.mark.parametrize('text,kind', [('"x"', 'string'), ('3', 'number'),
                                       ('null', 'null'), ('true', 'boolean')])
def test_scalar_top_level_rejected(text, kind):
    with pytest.raises(dj.DaemonJsonError) as err:
        dj.parse(text, 'f.json')
    assert 'not %s' % kind in str(err.value)


def test_duplicate_keys_last_wins_like_go():
    data = dj.parse(fixture_text('duplicate_keys.json'))
    assert data == {'debug': False}


def test_parse_bytes_and_bad_utf8():
    assert dj.parse(b'{"a": 1}') == {'a': 1}
    with pytest.raises(dj.DaemonJsonError) as err:
        dj.parse(b'{"a": "\xff"}', 'x.json')
    assert 'not valid UTF-8' in str(err.value)


def test_read_directory_is_error(tmp_path):
    with pytest.raises(dj.DaemonJsonError) as err:
        dj.load(str(tmp_path))
    assert 'is a directory' in str(err.value)


def test_types_fixture_round_trip():
    data, _text = dj.load(fixture('types.json'))
    assert data['comment'] == u'caf\u00e9 \u2603'
    again = dj.parse(dj.render(data))
    assert dj.semantic_equal(data, again)
    assert list(again) == list(data)


# --- merge ----------------------------------------------------------------------------

def test_merge_keeps_unmanaged_keys_and_order_appends_new():
    current, _unused = dj.load(fixture('basic.json'))
    result = dj.merge(current, {'live-restore': True, 'log-driver': 'journald'})
    assert list(result) == ['log-driver', 'log-opts', 'storage-driver', 'live-restore']
    assert result['log-driver'] == 'journald'
    assert result['storage-driver'] == 'overlay2'
    # input untouched
    assert current['log-driver'] == 'json-file'
    assert 'live-restore' not in current


def test_merge_replaces_nested_wholesale_by_default():
    current, _unused = dj.load(fixture('basic.json'))
    result = dj.merge(current, {'log-opts': {'max-size': '50m'}})
    assert result['log-opts'] == {'max-size': '50m'}


def test_merge_nested_recursive():
    current, _unused = dj.load(fixture('types.json'))
    result = dj.merge(current, {'features': {'buildkit': False, 'cdi': True},
                                'default-ulimits': {'nofile': {'Soft': 4096}}},
                      merge_nested=True)
    assert list(result['features']) == ['buildkit', 'containerd-snapshotter', 'cdi']
    assert result['features'] == {'buildkit': False, 'containerd-snapshotter': False,
                                  'cdi': True}
    assert result['default-ulimits']['nofile'] == {'Name': 'nofile', 'Hard': 65536,
                                                   'Soft': 4096}


def test_merge_nested_replaces_non_dict():
    result = dj.merge({'dns': ['a']}, {'dns': {'x': 1}}, merge_nested=True)
    assert result == {'dns': {'x': 1}}
    result = dj.merge({'features': {'a': 1}}, {'features': ['x']}, merge_nested=True)
    assert result == {'features': ['x']}


def test_merge_nested_result_is_independent_copy():
    current = {'features': {'a': {'b': 1}}}
    result = dj.merge(current, {'features': {'c': 2}}, merge_nested=True)
    result['features']['a']['b'] = 99
    assert current['features']['a']['b'] == 1


def test_remove_keys_and_missing_ignored():
    current, _unused = dj.load(fixture('types.json'))
    result = dj.merge(current, remove=['userns-remap', 'not-there'])
    assert 'userns-remap' not in result
    assert len(result) == len(current) - 1


def test_set_and_remove_same_key_is_error():
    with pytest.raises(dj.DaemonJsonError) as err:
        dj.merge({}, {'debug': True}, remove=['debug'])
    assert 'debug' in str(err.value)


def test_values_any_json_type():
    result = dj.merge({}, {'a': None, 'b': [1, 'x', {'y': False}], 'c': 1.5, 'd': 'é'})
    assert json.loads(dj.render(result)) == {'a': None, 'b': [1, 'x', {'y': False}],
                                             'c': 1.5, 'd': 'é'}


# --- render ---------------------------------------------------------------------------

def test_render_format():
    text = dj.render(dj.merge({}, {'b': 1, 'a': {'x': [1, 2]}}))
    assert text == '{\n  "b": 1,\n  "a": {\n    "x": [\n      1,\n      2\n    ]\n  }\n}\n'


def test_render_basic_fixture_unchanged():
    data, text = dj.load(fixture('basic.json'))
    assert dj.render(data) == text


def test_render_keeps_non_ascii():
    assert dj.render({'comment': u'caf\u00e9'}) == u'{\n  "comment": "caf\u00e9"\n}\n'


def test_render_rejects_nan_and_objects():
    with pytest.raises(dj.DaemonJsonError):
        dj.render({'x': float('nan')})
    with pytest.raises(dj.DaemonJsonError):
        dj.render({'x': object()})


# --- semantic_equal -------------------------------------------------------------------

def test_reformatted_fixture_is_semantically_equal():
    basic, _unused = dj.load(fixture('basic.json'))
    other, _unused = dj.load(fixture('basic_reformatted.json'))
    assert dj.semantic_equal(basic, other)
    assert list(basic) != list(other)


@pytest.mark.parametrize('left,right,equal', [
    (True, 1, False),
    (False, 0, False),
    (1, 1.0, False),
    (3, 3, True),
    (2.5, 2.5, True),
    (None, None, True),
    (None, '', False),
    ('1', 1, False),
    ([1, 2], [2, 1], False),
    ([1, 2], (1, 2), True),
    ({'a': 1, 'b': 2}, {'b': 2, 'a': 1}, True),
    ({'a': 1}, {'a': 1, 'b': None}, False),
    ({'a': [True]}, {'a': [1]}, False),
    ({}, [], False),
    ('x', ['x'], False),
])
def test_semantic_equal_cases(left, right, equal):
    assert dj.semantic_equal(left, right) is equal
    first, second = right, left
    assert dj.semantic_equal(first, second) is equal


def test_changed_keys():
    before = {'a': 1, 'b': True, 'c': 'x'}
    after = {'a': 1.0, 'b': True, 'd': None}
    assert dj.changed_keys(before, after) == ['a', 'c', 'd']


# --- property tests -------------------------------------------------------------------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 40, 2 ** 40),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=6), children, max_size=3)),
    max_leaves=8)
_docs = st.dictionaries(st.text(min_size=1, max_size=10), _values, max_size=6)


@hsettings(max_examples=150, deadline=None)
@given(current=_docs, wanted=_docs, nested=st.booleans())
def test_property_merge_render_parse_idempotent(current, wanted, nested):
    once = dj.merge(current, wanted, merge_nested=nested)
    # what was written reads back as the same document
    assert dj.semantic_equal(dj.parse(dj.render(once)), once)
    # applying the same settings again changes nothing
    twice = dj.merge(once, wanted, merge_nested=nested)
    assert dj.semantic_equal(once, twice)
    assert dj.render(once) == dj.render(twice)
    # every wanted key is present, every other key untouched
    for key in wanted:
        assert key in once
        if not nested:
            assert dj.semantic_equal(once[key], wanted[key])
    for key in current:
        if key not in wanted:
            assert dj.semantic_equal(once[key], current[key])
    # existing keys keep their relative order, new ones come after
    assert list(once)[:len(current)] == list(current)


@hsettings(max_examples=100, deadline=None)
@given(doc=_docs, remove=st.lists(st.text(min_size=1, max_size=10), max_size=4))
def test_property_remove(doc, remove):
    result = dj.merge(doc, remove=remove)
    assert not set(result) & set(remove)
    assert [k for k in doc if k not in remove] == list(result)


# --- validate -------------------------------------------------------------------------

def _fake_dockerd(tmp_path):
    script = tmp_path / 'dockerd'
    with open(fixture('fake_dockerd.py')) as handle:
        body = handle.read()
    script.write_text('#!%s\n%s' % (sys.executable, body))
    script.chmod(0o755)
    return str(script)


def _run(argv):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    out, err = proc.communicate()
    return proc.returncode, out, err


def test_validate_accepts_and_cleans_up(tmp_path):
    dockerd = _fake_dockerd(tmp_path)
    work = tmp_path / 'work'
    work.mkdir()
    ok, rc, _out, err, argv = dj.validate(_run, dockerd, dj.render({'debug': True}),
                                          tmpdir=str(work))
    assert ok and rc == 0
    assert 'configuration OK' in err
    assert argv[:3] == [dockerd, '--validate', '--config-file']
    assert os.listdir(str(work)) == []


def test_validate_rejects_with_dockerd_message(tmp_path):
    dockerd = _fake_dockerd(tmp_path)
    ok, rc, _out, err, _argv = dj.validate(_run, dockerd, dj.render({'bogus': 1}),
                                           tmpdir=str(tmp_path))
    assert not ok and rc == 1
    assert "don't match any configuration option: bogus" in err


def test_validate_unsupported_detection():
    assert dj.validate_unsupported('unknown flag: --validate\nSee dockerd --help')
    assert not dj.validate_unsupported('configuration OK')
    assert not dj.validate_unsupported(None)


SHOW_DOCKER = (
    'LoadState=loaded\n'
    'ExecStart={ path=/usr/bin/dockerd ; argv[]=/usr/bin/dockerd -H fd:// '
    '--containerd=/run/containerd/containerd.sock ; ignore_errors=no ; start_time=[n/a] ; '
    'stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n')


def test_exec_start_argvs_of_systemctl_show():
    assert dj.exec_start_argvs(SHOW_DOCKER) == [
        ['/usr/bin/dockerd', '-H', 'fd://', '--containerd=/run/containerd/containerd.sock']]
    two = ('ExecStart={ path=/a ; argv[]=/a --data-root /srv/d ; ignore_errors=no }'
           '{ path=/b ; argv[]=/b -D ; ignore_errors=no }')
    assert dj.exec_start_argvs(two) == [['/a', '--data-root', '/srv/d'], ['/b', '-D']]
    assert dj.exec_start_argvs('LoadState=not-found\nExecStart=\n') == []
    assert dj.exec_start_argvs('LoadState=loaded\n') == []
    assert dj.exec_start_argvs(None) == []


def test_exec_start_argvs_one_line_per_command():
    # systemctl show prints each ExecStart= command of a unit on its own line.
    lines = ('LoadState=loaded\n'
             'ExecStart={ path=/usr/bin/true ; argv[]=/usr/bin/true ; ignore_errors=yes ; '
             'start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n'
             + SHOW_DOCKER.split('\n')[1] + '\n'
             'ExecStartPre={ path=/bin/x ; argv[]=/bin/x -H y ; ignore_errors=no }\n')
    assert dj.exec_start_argvs(lines) == [
        ['/usr/bin/true'],
        ['/usr/bin/dockerd', '-H', 'fd://', '--containerd=/run/containerd/containerd.sock']]


def test_command_line_flags_long_short_and_joined():
    flags = dj.command_line_flags(
        ['dockerd', '-H', 'fd://', '-Hunix:///x', '--host=tcp://1', '--data-root', '/x', '-D',
         'value-only', '--label=a=b'])
    assert flags == {'host': '-H', 'data-root': '--data-root', 'debug': '-D', 'label': '--label=a=b'}
    assert dj.command_line_flags(['dockerd']) == {}
    for argv in (['dockerd', '-H', 'fd://'], ['dockerd', '-Hfd://'], ['dockerd', '--host=x']):
        assert list(dj.command_line_flags(argv)) == ['host'], argv
    assert dj.command_line_flags(['dockerd', '--data-root', '/x']) == {'data-root': '--data-root'}
    assert dj.command_line_flags(['dockerd', '-D']) == {'debug': '-D'}
    # argv[0] is the binary, never a flag; unknown one-letter flags are not guessed at
    assert dj.command_line_flags(['-H', '-x', '-']) == {}


def test_flag_conflicts_by_key_and_named_option():
    argvs = [['/usr/bin/dockerd', '-H', 'fd://', '--label', 'x', '--data-root=/srv']]
    config = {'hosts': ['unix:///var/run/docker.sock'], 'labels': ['a'], 'data-root': '/d',
              'log-driver': 'json-file'}
    assert dj.flag_conflicts(config, argvs) == [
        ('data-root', '--data-root=/srv'), ('hosts', '-H'), ('labels', '--label')]
    assert dj.flag_conflicts({'log-driver': 'json-file'}, argvs) == []
    assert dj.flag_conflicts({'hosts': []}, []) == []


def test_rollback_path():
    assert dj.rollback_path('/etc/docker/daemon.json') == '/etc/docker/daemon.json.nsguard-rollback'


def test_runtimes_merge_with_add_runtime_and_are_no_conflict():
    argvs = [['dockerd', '--add-runtime', 'crun=/usr/bin/crun']]
    assert dj.flag_conflicts({'runtimes': {'runsc': {'path': '/usr/bin/runsc'}}}, argvs) == []


def test_nested_keys_conflict_with_their_flag_as_dockerd_flattens_them():
    argvs = [['dockerd', '-H', 'fd://', '--http-proxy', 'http://proxy:3128', '--log-opt', 'max-size=1m']]
    config = {'proxies': {'http-proxy': 'http://other:3128', 'no-proxy': 'localhost'},
              'log-opts': {'max-size': '10m'}}
    # proxies is flattened (http-proxy conflicts); log-opts is kept whole, as a key of its
    # own, and conflicts by its named option --log-opt
    assert dj.flag_conflicts(config, argvs) == [
        ('log-opts', '--log-opt'), ('proxies.http-proxy', '--http-proxy')]
    assert dj.flag_conflicts({'proxies': {'no-proxy': 'x'}}, argvs) == []
