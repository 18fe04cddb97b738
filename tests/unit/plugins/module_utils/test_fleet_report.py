# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/fleet_report.py: document, schema, Markdown and HTML."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import re
import stat

from html.parser import HTMLParser

import jsonschema
import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import fleet_report as fr
from ansible_collections.nsguard.docker.plugins.module_utils import namespace_audit, socket_audit

from audit_helpers import fakehost

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
SCHEMA_PATH = os.path.join(REPO, 'docs', 'audit-report.schema.json')


def _audit(builder):
    host = fakehost.FakeHost()
    try:
        if builder is not None:
            builder(host)
        ns = namespace_audit.run_audit(host.fs())
        se = socket_audit.run_audit(host.fs(), unit_dirs=[host.units])
    finally:
        host.close()
    # registered results carry changed (and invocation); round-trip through JSON like Ansible
    ns['changed'] = se['changed'] = False
    return json.loads(json.dumps({'namespace_mode': ns, 'socket_exposure': se}))


@pytest.fixture(scope='module')
def host_results():
    results = {
        'web1.example': _audit(fakehost.build_web_host),
        'db1.example': _audit(fakehost.build_db_host),
        'edge1.example': _audit(fakehost.build_exposed_host),
        'plain.example': _audit(None),
        'down.example': {'namespace_mode': {'unreachable': True, 'msg': 'Failed to connect to the host via ssh',
                                            'changed': False}},
        'broken.example': {'namespace_mode': {'failed': True, 'msg': 'MODULE FAILURE', 'changed': False},
                           'socket_exposure': {}},
    }
    gated = copy.deepcopy(results['edge1.example'])
    gated['socket_exposure'].update(failed=True, msg='socket_exposure: 1 finding(s) at or above critical')
    results['gated.example'] = gated
    return results


@pytest.fixture(scope='module')
def schema():
    with open(SCHEMA_PATH) as handle:
        return json.load(handle)


@pytest.fixture(scope='module')
def fleet(host_results):
    return fr.build_fleet(host_results, generated_at='2026-01-02T03:04:05Z')


def _validate(schema, document):
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(document)


# ------------------------------------------------------------------ document and schema

def test_schema_is_a_valid_draft_2020_12_schema(schema):
    assert schema['$schema'] == 'https://json-schema.org/draft/2020-12/schema'
    jsonschema.Draft202012Validator.check_schema(schema)


def test_fleet_json_validates_against_schema(schema, fleet):
    _validate(schema, json.loads(fr.to_json(fleet)))


@pytest.mark.parametrize('mutate', [
    lambda d: d['hosts'][0]['findings'][0].update(severity='severe'),
    lambda d: d['hosts'][0].pop('counts'),
    lambda d: d['summary'].update(hosts='seven'),
    lambda d: d['hosts'][0]['daemons'][0].update(mode='sideways'),
    lambda d: d.update(generated_at='yesterday'),
    lambda d: d.update(extra=True),
])
def test_schema_rejects_broken_documents(schema, fleet, mutate):
    document = json.loads(fr.to_json(fleet))
    document['hosts'].sort(key=lambda h: -len(h['findings']) * len(h['daemons']))
    mutate(document)
    with pytest.raises(jsonschema.ValidationError):
        _validate(schema, document)


def test_hosts_sorted_with_status(fleet):
    status = dict((h['name'], h['status']) for h in fleet['hosts'])
    assert [h['name'] for h in fleet['hosts']] == sorted(status)
    assert status == {'broken.example': 'failed', 'db1.example': 'ok', 'down.example': 'failed',
                      'edge1.example': 'ok', 'gated.example': 'ok', 'plain.example': 'ok',
                      'web1.example': 'ok'}
    broken = [h for h in fleet['hosts'] if h['name'] == 'broken.example'][0]
    assert broken['modules'] == {'namespace_mode': 'failed', 'socket_exposure': 'missing'}
    assert broken['errors'] == ['namespace_mode: MODULE FAILURE', 'socket_exposure: no result']
    gated = [h for h in fleet['hosts'] if h['name'] == 'gated.example'][0]
    assert any('at or above critical' in e for e in gated['errors'])


def test_partial_and_missing_status():
    ns_only = {'namespace_mode': {'daemons': [], 'findings': []}}
    document = fr.build_fleet({'a': ns_only, 'b': {}, 'c': None}, generated_at='2026-01-02T03:04:05Z')
    assert [h['status'] for h in document['hosts']] == ['partial', 'missing', 'missing']
    assert document['summary']['host_status'] == {'ok': 0, 'partial': 1, 'failed': 0, 'missing': 2}


def test_a_check_a_module_could_not_run_makes_the_host_partial(schema):
    gap = {'id': 'audit-incomplete', 'severity': 'high', 'cis': None, 'subject': 'daemon:rootful',
           'message': 'The Engine API did not answer (timed out; 2 attempt(s)).', 'evidence': {}}
    results = {'namespace_mode': {'daemons': [], 'findings': []},
               'socket_exposure': {'sockets': [], 'tcp_endpoints': [], 'findings': [gap]}}
    document = fr.build_fleet({'slow': results, 'fine': {'namespace_mode': {'daemons': [], 'findings': []},
                                                         'socket_exposure': {'findings': []}}},
                              generated_at='2026-01-02T03:04:05Z')
    status = dict((h['name'], h) for h in document['hosts'])
    assert status['slow']['status'] == 'partial' and status['fine']['status'] == 'ok'
    assert status['slow']['errors'] == ['socket_exposure: not checked: ' + gap['message']]
    assert status['slow']['max_severity'] == 'high'
    _validate(schema, document)


def test_skipped_checks_make_the_host_partial_and_are_listed(schema):
    # query_api=false: complete false without any finding; permission denied: a low gap.
    skipped = {'daemon': 'rootful', 'check': 'container-mounts-socket', 'kind': 'not_asked', 'severity': 'high',
               'reason': 'the Engine API was not asked (query_api=false)', 'covered_by_proc_scan': True}
    denied = {'id': 'audit-incomplete', 'severity': 'low', 'cis': None, 'subject': 'host',
              'message': '3 path(s) could not be read (permission denied).', 'evidence': {}}
    document = fr.build_fleet({
        'chosen': {'namespace_mode': {'daemons': [], 'findings': [], 'complete': True, 'skipped_checks': []},
                   'socket_exposure': {'findings': [], 'complete': False, 'skipped_checks': [skipped]}},
        'denied': {'namespace_mode': {'daemons': [], 'findings': [denied]},
                   'socket_exposure': {'findings': [], 'complete': True, 'skipped_checks': []}},
        'fine': {'namespace_mode': {'daemons': [], 'findings': [], 'complete': True, 'skipped_checks': []},
                 'socket_exposure': {'findings': [], 'complete': True, 'skipped_checks': []}},
    }, generated_at='2026-01-02T03:04:05Z')
    hosts = dict((h['name'], h) for h in document['hosts'])
    assert [hosts[n]['status'] for n in ('chosen', 'denied', 'fine')] == ['partial', 'partial', 'ok']
    assert hosts['chosen']['skipped_checks'] == [{
        'module': 'socket_exposure', 'daemon': 'rootful', 'check': 'container-mounts-socket',
        'reason': skipped['reason'], 'covered_by_proc_scan': True}]
    assert hosts['denied']['errors'] == ['namespace_mode: not checked: ' + denied['message']]
    assert document['summary']['host_status'] == {'ok': 1, 'partial': 2, 'failed': 0, 'missing': 0}
    _validate(schema, document)
    markdown = fr.render_markdown(document)
    assert 'Not checked:' in markdown
    assert ('| socket\\_exposure | rootful | container-mounts-socket | the Engine API was not asked '
            '(query\\_api=false) | yes |') in markdown
    html = fr.render_html(document)
    assert '<table class="skipped">' in html and 'query_api=false' in html


def test_counts_are_sums_of_module_findings(host_results, fleet):
    for host in fleet['hosts']:
        results = host_results[host['name']]
        expected = dict((s, 0) for s in ('critical', 'high', 'medium', 'low', 'info'))
        for module in ('namespace_mode', 'socket_exposure'):
            for finding in (results.get(module) or {}).get('findings') or []:
                expected[finding['severity']] += 1
        assert host['counts'] == expected, host['name']
    totals = fleet['summary']['findings']
    assert totals['critical'] == sum(h['counts']['critical'] for h in fleet['hosts']) > 0
    assert fleet['summary']['max_severity'] == 'critical'


def test_daemon_modes_and_sources(fleet):
    modes = dict((h['name'], sorted((d['id'], d['mode']) for d in h['daemons'])) for h in fleet['hosts'])
    assert modes['web1.example'] == [('rootful', 'default'), ('rootless:1000', 'rootless')]
    assert modes['db1.example'] == [('rootful', 'userns-remap')]
    assert modes['plain.example'] == []
    assert fleet['summary']['modes'] == {'default': 3, 'userns-remap': 1, 'rootless': 1, 'unknown': 0}
    web = [h for h in fleet['hosts'] if h['name'] == 'web1.example'][0]
    rootful = [d for d in web['daemons'] if d['id'] == 'rootful'][0]
    assert rootful['containers'] == 2 and rootful['containers_root_is_host_root'] == 2
    sources = set(f['source'] for f in web['findings'])
    assert sources == set(['namespace_mode', 'socket_exposure'])


# ------------------------------------------------------------------ Markdown

def test_markdown_has_one_row_per_host(fleet):
    text = fr.render_markdown(fleet)
    table = text.split('## Hosts', 1)[1].split('###', 1)[0]
    rows = [line for line in table.splitlines() if line.startswith('| ') and not line.startswith('| Host')]
    assert len(rows) == len(fleet['hosts'])
    assert [r.split('|')[1].strip() for r in rows] == [h['name'] for h in fleet['hosts']]
    assert '### web1.example' in text and 'userns-default-mode' in text


def test_markdown_escapes_cells():
    document = fr.build_fleet({'evil|host': {}}, generated_at='2026-01-02T03:04:05Z')
    assert '| evil\\|host |' in fr.render_markdown(document)


def test_tcp_flags_read_yes_no_or_dash(fleet):
    """TLS and Verify are yes/no like Listening, '-' where they do not apply; never Python's
    False/None."""
    endpoint = {'daemon': 'rootful', 'address': '0.0.0.0', 'port': 2375, 'role': 'api', 'listening': True,
                'loopback': False, 'tls': False, 'tlsverify': False}
    swarm = dict(endpoint, port=2377, role='swarm', tls=None, tlsverify=None)
    document = copy.deepcopy(fleet)
    document['hosts'][0]['tcp_endpoints'] = [endpoint, swarm]
    markdown = fr.render_markdown(document)
    assert '| 0.0.0.0:2375 | api | yes | no | no |' in markdown
    assert '| 0.0.0.0:2377 | swarm | yes | - | - |' in markdown
    page = fr.render_html(document)
    assert '<td>api</td><td>yes</td><td>no</td><td>no</td>' in page
    assert '<td>swarm</td><td>yes</td><td>-</td><td>-</td>' in page
    for text in (markdown, page):
        assert 'False' not in text and 'None' not in text


# ------------------------------------------------------------------ HTML

class _Collector(HTMLParser):
    def __init__(self):
        super(_Collector, self).__init__()
        self.stack = []
        self.host_rows = 0
        self.refs = []
        self.tags = set()
        self.in_hosts_body = False
        self.first_cells = []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        for name in ('src', 'href', 'action', 'data'):
            if name in attrs:
                self.refs.append(attrs[name])
        if tag == 'table':
            self.stack.append(attrs.get('id'))
        if tag == 'tbody' and self.stack and self.stack[-1] == 'hosts':
            self.in_hosts_body = True
        if tag == 'tr' and self.in_hosts_body:
            self.host_rows += 1
            self._cell = ''
        if tag == 'td' and self.in_hosts_body and self._cell == '':
            self._cell = None
            self._capture = True

    def handle_data(self, data):
        if getattr(self, '_capture', False):
            self.first_cells.append(data)
            self._capture = False

    def handle_endtag(self, tag):
        if tag == 'tbody':
            self.in_hosts_body = False
        if tag == 'table' and self.stack:
            self.stack.pop()


def test_html_is_self_contained(fleet):
    page = fr.render_html(fleet)
    parser = _Collector()
    parser.feed(page)
    assert all(ref.startswith('#') for ref in parser.refs), parser.refs
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', page, re.I)
    assert 'http://' not in page and 'https://' not in page
    assert 'link' not in parser.tags and 'img' not in parser.tags and 'iframe' not in parser.tags
    assert '<style>' in page and '<script>' in page and 'url(' not in page and '@import' not in page


def test_html_has_one_row_per_host_and_sort_script(fleet):
    parser = _Collector()
    parser.feed(fr.render_html(fleet))
    assert parser.host_rows == len(fleet['hosts'])
    assert parser.first_cells == [h['name'] for h in fleet['hosts']]
    page = fr.render_html(fleet)
    assert "addEventListener('click'" in page and 'data-type="number"' in page


def test_html_colours_severities_and_escapes(fleet):
    page = fr.render_html(fleet)
    assert 'class="num sev-critical"' in page and '.sev-critical{background:' in page
    document = fr.build_fleet({'<script>alert(1)</script>': {}}, generated_at='2026-01-02T03:04:05Z')
    evil = fr.render_html(document)
    assert '<script>alert(1)</script>' not in evil and '&lt;script&gt;alert(1)&lt;/script&gt;' in evil


def test_render_all_and_empty_fleet(schema):
    document = fr.build_fleet({})
    _validate(schema, json.loads(fr.to_json(document)))
    files = fr.render_all(document)
    assert sorted(files) == sorted(fr.REPORT_FILES)
    assert json.loads(files['fleet.json']) == json.loads(fr.to_json(document))
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', document['generated_at'])


# ------------------------------------------------------------------ writing

def test_stable_timestamp_keeps_previous_only_when_content_is_equal(host_results):
    old = fr.build_fleet(host_results, generated_at='2020-01-01T00:00:00Z')
    new = fr.build_fleet(host_results, generated_at='2026-06-06T06:06:06Z')
    assert fr.stable_timestamp(new, fr.to_json(old))['generated_at'] == '2020-01-01T00:00:00Z'
    changed = fr.build_fleet({'only.example': {}}, generated_at='2026-06-06T06:06:06Z')
    assert fr.stable_timestamp(changed, fr.to_json(old))['generated_at'] == '2026-06-06T06:06:06Z'
    assert fr.stable_timestamp(new, 'not json')['generated_at'] == '2026-06-06T06:06:06Z'
    assert fr.stable_timestamp(new, None)['generated_at'] == '2026-06-06T06:06:06Z'
    assert fr.stable_timestamp(new, '[]')['generated_at'] == '2026-06-06T06:06:06Z'


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / 'fleet.md'
    target.write_text('old')
    fr.write_atomic(str(target), 'new content\n', 0o640)
    assert target.read_text() == 'new content\n'
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o640
    assert os.listdir(str(tmp_path)) == ['fleet.md']
