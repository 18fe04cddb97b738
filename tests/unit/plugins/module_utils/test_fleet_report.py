# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/fleet_report.py: document, schema, changes, Markdown, HTML
(rendered in headless Chromium), SARIF (against the official schema), JUnit and writing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import gc
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import weakref
import xml.etree.ElementTree as ET

from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import fleet_report as fr
from ansible_collections.nsguard.docker.plugins.module_utils import namespace_audit, socket_audit

from audit_helpers import fakehost

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
SCHEMA_PATH = os.path.join(REPO, 'docs', 'audit-report.schema.json')
SARIF_SCHEMA_PATH = os.path.join(REPO, 'tests', 'unit', 'fixtures', 'report', 'sarif-schema-2.1.0.json')


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
    details = _dom(fr.render_html(document), 'show=chosen').split('id="details"', 1)[1]
    assert '<table class="skipped">' in details and 'query_api=false' in details


def test_a_daemon_not_asked_is_told_apart_from_one_that_did_not_answer(schema):
    # by namespace_mode's queried flag, not by the wording of its error
    def daemon(key, queried, error):
        return {'id': key, 'kind': 'rootful', 'mode': 'unknown', 'reachable': False, 'queried': queried,
                'error': error, 'sockets': ['/run/%s.sock' % key], 'containers': []}
    results = {'namespace_mode': {'findings': [], 'daemons': [
        daemon('idle', False, 'any words'), daemon('slow', True, 'not asked twice: timed out')]}}
    document = fr.build_fleet({'h': results}, generated_at='2026-01-02T03:04:05Z')
    (host,) = document['hosts']
    assert [(d['id'], d['asked']) for d in host['daemons']] == [('idle', False), ('slow', True)]
    _validate(schema, document)
    assert 'idle: unknown (not asked), slow: unknown (unreachable)' in fr.render_markdown(document)


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
    assert fleet['summary']['modes'] == {'default': 3, 'userns-remap': 1, 'rootless': 1, 'desktop-vm': 0, 'unknown': 0}
    web = [h for h in fleet['hosts'] if h['name'] == 'web1.example'][0]
    rootful = [d for d in web['daemons'] if d['id'] == 'rootful'][0]
    assert rootful['containers'] == 2 and rootful['containers_root_is_host_root'] == 2
    sources = set(f['source'] for f in web['findings'])
    assert sources == set(['namespace_mode', 'socket_exposure'])


def test_containers_with_their_verdicts_per_host_and_in_the_summary(schema, fleet):
    web = [h for h in fleet['hosts'] if h['name'] == 'web1.example'][0]
    assert [(c['daemon'], c['daemon_mode'], c['name'], c['verdict']) for c in web['containers']] == [
        ('rootful', 'default', 'web', 'unprivileged'), ('rootful', 'default', 'ci-runner', 'host-root'),
        ('rootless:1000', 'rootless', 'dev', 'root-only-in-its-user-namespace')]
    runner = web['containers'][1]
    assert runner['acts_on_host'] is True and runner['root_host_uid'] == 0
    assert runner['sensitive_mounts'] == ['/var/run/docker.sock:/var/run/docker.sock']
    assert "a rootful daemon's socket is mounted" in runner['reasons'][0]
    assert web['containers'][2]['root_host_uid'] == 1000 and web['containers'][2]['acts_on_host'] is False
    verdicts = fleet['summary']['container_verdicts']
    assert fleet['summary']['containers'] == sum(len(h['containers']) for h in fleet['hosts']) == sum(verdicts.values())
    assert verdicts['host-root'] >= 2 and verdicts['not known'] == 0  # ci-runner; db1's escape
    # a result of an older namespace_mode (no verdict) still makes a valid document
    old = {'namespace_mode': {'daemons': [{'id': 'rootful', 'mode': 'default', 'containers': [
        {'id': 'abc', 'name': 'x', 'root_is_host_root': True}]}], 'findings': []}}
    document = fr.build_fleet({'old.example': old}, generated_at='2026-01-02T03:04:05Z')
    assert document['hosts'][0]['containers'][0]['verdict'] is None
    assert document['summary']['container_verdicts']['not known'] == 1
    _validate(schema, json.loads(fr.to_json(document)))
    assert '1 not known' in fr.render_markdown(document)


def test_a_docker_desktop_host_in_the_report(schema):
    document = fr.build_fleet({'laptop.example': _audit(fakehost.build_desktop_host)},
                              generated_at='2026-01-02T03:04:05Z')
    _validate(schema, json.loads(fr.to_json(document)))
    assert document['summary']['modes']['desktop-vm'] == 1
    (host,) = document['hosts']
    assert sorted((c['daemon_mode'], c['name'], c['verdict']) for c in host['containers']) == [
        ('desktop-vm', 'share', 'root-only-in-its-user-namespace'),
        ('desktop-vm', 'vmpriv', 'root-only-in-its-user-namespace')]
    assert '1 desktop-vm' in fr.render_markdown(document)


def test_markdown_and_html_show_each_containers_verdict(fleet):
    text = fr.render_markdown(fleet)
    web = text.split('### web1.example', 1)[1].split('###', 1)[0]
    assert '| ci-runner | rootful (default) | host-root |' in web
    assert '| dev | rootless:1000 (rootless) | root-only-in-its-user-namespace |' in web
    dom = _dom(fr.render_html(fleet), 'show=web1.example')
    rows = _tables(dom.split('id="details"', 1)[1])['containers']
    assert [row[:3] for row in rows] == [['web', 'rootful (default)', 'unprivileged'],
                                         ['ci-runner', 'rootful (default)', 'host-root'],
                                         ['dev', 'rootless:1000 (rootless)', 'root-only-in-its-user-namespace']]


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
    dom = _dom(fr.render_html(document), 'show=' + document['hosts'][0]['name'])
    details = dom.split('id="details"', 1)[1]
    assert '<td>api</td><td>yes</td><td>no</td><td>no</td>' in details
    assert '<td>swarm</td><td>yes</td><td>-</td><td>-</td>' in details
    for text in (markdown, details):
        assert 'False' not in text and 'None' not in text


# ------------------------------------------------------------------ HTML

def _dom(page, fragment=''):
    """The page as headless Chromium renders it (its DOM once the inline script has run, less
    the embedded data, so that only what the script drew is left), opened at ``#fragment``.
    tests/setup.sh installs Chromium, as for the lab's screenshot."""
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if chromium is None:
        pytest.fail('chromium not found: run tests/setup.sh (it installs Debian\'s chromium)')
    work = tempfile.mkdtemp(prefix='nsguard-fleet-html-')
    try:
        path = os.path.join(work, 'fleet.html')
        with open(path, 'w') as handle:
            handle.write(page)
        dom = subprocess.run(
            [chromium, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync',
             '--disable-background-networking', '--disable-component-update', '--user-data-dir=' + work + '/profile',
             '--dump-dom', 'file://%s#%s' % (path, fragment)],
            check=True, timeout=240, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            universal_newlines=True).stdout
        assert 'id="fleet-data"' in dom
        return re.sub(r'<script type="application/json" id="fleet-data">.*?</script>', '', dom, flags=re.S)
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Tables(HTMLParser):
    """The rows of the body of each table, as lists of cell texts, by table id (or class)."""

    def __init__(self):
        super(_Tables, self).__init__()
        self.tables = {}
        self.refs = []
        self.tags = set()
        self._stack = []
        self._row = None
        self._cell = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        for name in ('src', 'href', 'action', 'data'):
            if name in attrs:
                self.refs.append(attrs[name])
        if tag == 'table':
            self._stack.append(attrs.get('id') or attrs.get('class') or 'table')
            self.tables.setdefault(self._stack[-1], [])
        elif tag == 'tbody':
            self._in_body = True
        elif tag == 'tr' and self._in_body:
            self._row = []
        elif tag == 'td' and self._row is not None:
            self._cell = []

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag == 'td' and self._cell is not None:
            self._row.append(''.join(self._cell).strip())
            self._cell = None
        elif tag == 'tr' and self._row is not None:
            self.tables[self._stack[-1]].append(self._row)
            self._row = None
        elif tag == 'tbody':
            self._in_body = False
        elif tag == 'table' and self._stack:
            self._stack.pop()


def _tables(dom):
    parser = _Tables()
    parser.feed(dom)
    return parser.tables


def _embedded(page):
    match = re.search(r'<script type="application/json" id="fleet-data">(.*?)</script>', page, re.S)
    return json.loads(match.group(1))


def test_html_is_self_contained(fleet):
    page = fr.render_html(fleet)
    parser = _Tables()
    parser.feed(page)
    assert all(ref.startswith('#') for ref in parser.refs), parser.refs
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', page, re.I)
    assert 'http://' not in page and 'https://' not in page
    assert 'link' not in parser.tags and 'img' not in parser.tags and 'iframe' not in parser.tags
    assert '<style>' in page and '<script>' in page and 'url(' not in page and '@import' not in page


def test_html_embeds_the_document_without_evidence(fleet):
    data = _embedded(fr.render_html(fleet))
    assert [h['name'] for h in data['hosts']] == [h['name'] for h in fleet['hosts']]
    assert data['summary'] == fleet['summary']
    for host, original in zip(data['hosts'], fleet['hosts']):
        assert [dict(f, evidence=o['evidence']) for f, o in zip(host['findings'], original['findings'])] == \
            original['findings']
        assert all('evidence' not in f for f in host['findings'])


def test_html_renders_hosts_and_findings_by_id(fleet):
    tables = _tables(_dom(fr.render_html(fleet)))
    assert [row[0] for row in tables['hosts']] == [h['name'] for h in fleet['hosts']]
    statuses = dict((row[0], row[1]) for row in tables['hosts'])
    assert statuses == dict((h['name'], h['status']) for h in fleet['hosts'])
    hosts_with = {}
    for host in fleet['hosts']:
        for finding in host['findings']:
            hosts_with.setdefault(finding['id'], set()).add(host['name'])
    by_id = dict((row[0], row) for row in tables['findings'])
    assert sorted(by_id) == sorted(hosts_with)
    for fid, row in by_id.items():
        assert int(row[3]) == len(hosts_with[fid]), fid
    # worst severity first
    ranks = [fr.severity_rank(row[1]) for row in tables['findings']]
    assert ranks == sorted(ranks, reverse=True)
    assert 'changes' not in tables


@pytest.mark.parametrize('fragment,expected', [
    ('severity=critical', lambda h: h['max_severity'] == 'critical'),
    ('host=EXAMPLE&status=failed', lambda h: h['status'] == 'failed'),
    ('finding=tcp-no-tls', lambda h: any(f['id'] == 'tcp-no-tls' for f in h['findings'])),
    ('host=web', lambda h: 'web' in h['name']),
])
def test_html_filters_from_the_fragment(fleet, fragment, expected):
    tables = _tables(_dom(fr.render_html(fleet), fragment))
    wanted = [h['name'] for h in fleet['hosts'] if expected(h)]
    assert wanted and len(wanted) < len(fleet['hosts'])
    assert [row[0] for row in tables['hosts']] == wanted
    if fragment.startswith('severity='):
        assert all(row[1] == 'critical' for row in tables['findings'])


def test_html_colours_severities_and_escapes(fleet):
    page = fr.render_html(fleet)
    assert '.sev-critical{background:' in page and 'td.sev-critical{background:' in page
    assert 'class="num sev-critical"' in _dom(page)
    document = fr.build_fleet({'<script>alert(1)</script>': {}}, generated_at='2026-01-02T03:04:05Z',
                              title='</script><b>title</b>')
    evil = fr.render_html(document)
    assert '<script>alert(1)</script>' not in evil and '</script><b>' not in evil
    assert _embedded(evil)['hosts'][0]['name'] == '<script>alert(1)</script>'
    dom = _dom(evil)
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in dom and '<b>title</b>' not in dom


def _synthetic_fleet(count, variants):
    """``count`` hosts cycling through ``variants`` (build_host entries), renamed."""
    hosts = []
    for index in range(count):
        entry = dict(variants[index % len(variants)])
        entry['name'] = 'host%05d.example' % index
        hosts.append(entry)
    document = fr.build_fleet({}, generated_at='2026-01-02T03:04:05Z')
    document['hosts'] = hosts
    document['summary']['hosts'] = count
    return document


def test_html_of_10000_hosts_draws_one_page_of_rows(fleet):
    big = _synthetic_fleet(10000, fleet['hosts'])
    page = fr.render_html(big)
    assert page.count('<tr') < 50  # the rows are drawn by the script, not written out
    tables = _tables(_dom(page))
    assert len(tables['hosts']) == fr.HTML_PAGE_SIZE
    assert 'of 10000' in _dom(page, 'host=host0999')  # the pager counts what the filter keeps
    by_id = dict((row[0], int(row[3])) for row in tables['findings'])
    expected = {}
    for host in big['hosts']:
        for fid in set(f['id'] for f in host['findings']):
            expected[fid] = expected.get(fid, 0) + 1
    assert by_id == expected


def test_html_shows_one_hosts_details_on_demand(fleet):
    dom = _dom(fr.render_html(fleet), 'show=web1.example')
    details = _tables(dom.split('id="details"', 1)[1])
    web = [h for h in fleet['hosts'] if h['name'] == 'web1.example'][0]
    assert [row[2] for row in details['findings-of-host']] == [f['id'] for f in web['findings']]
    assert 'rootless:1000' in dom.split('id="details"', 1)[1]


def test_render_all_and_empty_fleet(schema):
    document = fr.build_fleet({})
    _validate(schema, json.loads(fr.to_json(document)))
    files = fr.render_all(document)
    assert sorted(files) == sorted(fr.REPORT_FILES)
    assert json.loads(files['fleet.json']) == json.loads(fr.to_json(document))
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', document['generated_at'])
    assert json.loads(files['fleet.sarif'])['runs'][0]['results'] == []
    assert ET.fromstring(files['fleet.junit.xml']).get('tests') == '0'


def test_build_fleet_holds_one_hosts_raw_results_at_a_time(host_results):
    class Results(dict):
        """A dict that can be weakly referenced."""

    alive = []

    def pairs():
        for name in sorted(host_results):
            # the consumer's loop variable still holds the host just reduced, none before it
            assert all(ref() is None for ref in alive[:-1]), 'an earlier host\'s raw results are still held'
            results = Results(copy.deepcopy(host_results[name]))
            alive.append(weakref.ref(results))
            yield name, results
            del results
            gc.collect()

    document = fr.build_fleet(pairs(), generated_at='2026-01-02T03:04:05Z')
    assert document == fr.build_fleet(host_results, generated_at='2026-01-02T03:04:05Z')


# ------------------------------------------------------------------ SARIF

@pytest.fixture(scope='module')
def sarif_schema():
    with open(SARIF_SCHEMA_PATH) as handle:
        return json.load(handle)


def test_vendored_sarif_schema_is_the_official_one(sarif_schema):
    assert sarif_schema['id'] == fr.SARIF_SCHEMA_URI
    assert sarif_schema['title'] == 'Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema'
    jsonschema.Draft4Validator.check_schema(sarif_schema)


def test_sarif_validates_and_has_one_result_per_finding(sarif_schema, fleet):
    log = json.loads(fr.render_sarif(fleet))
    jsonschema.Draft4Validator(sarif_schema, format_checker=jsonschema.FormatChecker()).validate(log)
    (run,) = log['runs']
    expected = [(h['name'], f) for h in fleet['hosts'] for f in h['findings']]
    assert len(run['results']) == len(expected) > 0
    rules = run['tool']['driver']['rules']
    for result, (host, finding) in zip(run['results'], expected):
        assert result['ruleId'] == (finding['cis'] or finding['id'])
        assert rules[result['ruleIndex']]['id'] == result['ruleId']
        assert finding['id'] in rules[result['ruleIndex']]['properties']['findings']
        assert result['level'] == {'critical': 'error', 'high': 'error', 'medium': 'warning', 'low': 'note',
                                   'info': 'note'}[finding['severity']]
        (location,) = result['locations']
        uri = urlsplit(location['physicalLocation']['artifactLocation']['uri'])
        assert (uri.scheme, unquote(uri.netloc), unquote(uri.path[1:])) == ('host', host, finding['subject'])
        assert location['logicalLocations'][0]['fullyQualifiedName'] == '%s/%s' % (host, finding['subject'])
        assert result['message']['text'] == finding['message']
    assert len(set(r['id'] for r in rules)) == len(rules)
    cis = [r for r in rules if r['id'] == '2.9'][0]
    assert cis['properties']['findings'] == ['userns-default-mode']
    assert [r for r in rules if r['id'] == 'subid-overlap']  # no CIS id: the finding id


def test_sarif_reports_hosts_that_were_not_audited(sarif_schema, fleet):
    log = json.loads(fr.render_sarif(fleet))
    (invocation,) = log['runs'][0]['invocations']
    assert invocation['executionSuccessful'] is False
    named = sorted(n['message']['text'].split(':')[0] for n in invocation['toolExecutionNotifications'])
    assert named == sorted(h['name'] for h in fleet['hosts'] if h['status'] != 'ok')
    assert all(n['level'] == 'error' for n in invocation['toolExecutionNotifications'])


def test_finding_uri_encodes_host_and_subject():
    assert fr.finding_uri('web1.example', 'socket:/run/docker.sock') == 'host://web1.example/socket%3A%2Frun%2Fdocker.sock'
    assert fr.finding_uri('a b', 'x y#z') == 'host://a%20b/x%20y%23z'


# ------------------------------------------------------------------ JUnit

def _suites(fleet, fail_on):
    root = ET.fromstring(fr.render_junit(fleet, fail_on).encode('utf-8'))
    assert root.tag == 'testsuites'
    return root, dict((s.get('name'), s) for s in root.findall('testsuite'))


def test_junit_has_a_suite_per_host_and_a_case_per_check(fleet):
    root, suites = _suites(fleet, 'none')
    assert sorted(suites) == sorted(h['name'] for h in fleet['hosts'])
    for host in fleet['hosts']:
        cases = suites[host['name']].findall('testcase')
        assert [c.get('name') for c in cases] == ['status'] + sorted(set(f['id'] for f in host['findings']))
        assert all(c.get('classname') == host['name'] for c in cases)
        assert int(suites[host['name']].get('tests')) == len(cases)
    # fail_on none: only hosts that were not audited fail
    failing = [n for n, s in suites.items() if s.find('testcase/failure') is not None or
               s.find('testcase/error') is not None]
    assert sorted(failing) == sorted(h['name'] for h in fleet['hosts'] if h['status'] != 'ok')
    assert root.get('errors') == str(sum(1 for h in fleet['hosts'] if h['status'] in ('failed', 'missing')))


def test_junit_fails_checks_at_or_above_fail_on(fleet):
    root, suites = _suites(fleet, 'high')
    failures = 0
    for host in fleet['hosts']:
        worst = {}
        for f in host['findings']:
            worst[f['id']] = max(worst.get(f['id'], -1), fr.severity_rank(f['severity']))
        for case in suites[host['name']].findall('testcase'):
            if case.get('name') == 'status':
                continue
            failed = case.find('failure') is not None
            assert failed == (worst[case.get('name')] >= fr.severity_rank('high')), (host['name'], case.get('name'))
            failures += failed
    assert failures > 0
    assert int(root.get('failures')) == failures + sum(1 for h in fleet['hosts'] if h['status'] == 'partial')


def test_junit_partial_host_is_a_failure_and_text_is_valid_xml():
    results = {'namespace_mode': {'daemons': [], 'findings': [{
        'id': 'audit-incomplete', 'severity': 'low', 'subject': 'host', 'message': 'bad \x01 byte & <tag>'}]},
        'socket_exposure': {'findings': []}}
    document = fr.build_fleet({'half': results}, generated_at='2026-01-02T03:04:05Z')
    root, suites = _suites(document, 'critical')
    status = suites['half'].find("testcase[@name='status']")
    assert status.find('failure').get('type') == 'partial'
    case = suites['half'].find("testcase[@name='audit-incomplete']")
    assert case.find('failure') is None and '& <tag>' in case.find('system-out').text
    assert root.get('failures') == '1'


# ------------------------------------------------------------------ changes

def _host(name, findings, modules=None):
    results = {'namespace_mode': {'daemons': [], 'findings': [f for f in findings if f.get('m') != 'se']},
               'socket_exposure': {'findings': [f for f in findings if f.get('m') == 'se']}}
    for module, state in (modules or {}).items():
        if state == 'failed':
            results[module] = {'failed': True, 'msg': 'boom'}
    return name, results


def _f(fid, subject, severity='high', module='ns'):
    return {'id': fid, 'subject': subject, 'severity': severity, 'message': fid, 'm': module}


def _with_previous(fleet, previous_text):
    document, text = fr.with_previous(fleet, previous_text)
    assert text == fr.to_json(document)
    return document


def test_changes_list_new_and_resolved_findings_per_host(schema):
    before = fr.build_fleet([
        _host('a', [_f('x', 's1'), _f('y', 's1', 'low')]),
        _host('b', [_f('x', 's1')]),
        _host('c', [_f('z', 's', module='se')]),
        _host('gone', [_f('x', 's1')]),
    ], generated_at='2026-01-01T00:00:00Z')
    after = fr.build_fleet([
        _host('a', [_f('x', 's1'), _f('x', 's2', 'critical')]),
        _host('b', [_f('x', 's1')]),
        _host('c', [], modules={'socket_exposure': 'failed'}),
        _host('new', [_f('w', 's', 'medium')]),
    ], generated_at='2026-01-02T00:00:00Z')
    document = _with_previous(after, fr.to_json(before))
    _validate(schema, json.loads(fr.to_json(document)))
    changes = document['changes']
    assert changes['previous_generated_at'] == '2026-01-01T00:00:00Z'
    hosts = dict((h['name'], h) for h in changes['hosts'])
    assert sorted(hosts) == ['a', 'c', 'new']
    assert [(c['id'], c['subject'], c['severity']) for c in hosts['a']['new']] == [('x', 's2', 'critical')]
    assert [(c['id'], c['subject']) for c in hosts['a']['resolved']] == [('y', 's1')]
    # socket_exposure failed now: its finding is not resolved, the module was not compared
    assert hosts['c'] == {'name': 'c', 'new': [], 'resolved': [], 'not_compared': ['socket_exposure']}
    assert [c['id'] for c in hosts['new']['new']] == ['w']
    assert changes['hosts_added'] == ['new'] and changes['hosts_removed'] == ['gone']
    assert changes['summary'] == {'new': 2, 'resolved': 1, 'hosts_added': 1, 'hosts_removed': 1,
                                  'hosts_changed': 2}
    markdown = fr.render_markdown(document)
    assert '## Changes since the previous report' in markdown
    assert '| a | new | critical | x | s2 |' in markdown and '| a | resolved | low | y | s1 |' in markdown
    assert 'Hosts removed: gone' in markdown
    rows = _tables(_dom(fr.render_html(document)))['changes']
    assert ['a', 'new', 'critical', 'x', 's2'] in rows and ['a', 'resolved', 'low', 'y', 's1'] in rows
    # the rendered view follows the filters
    assert [r[:2] for r in _tables(_dom(fr.render_html(document), 'severity=critical'))['changes']] == [['a', 'new']]


def test_unchanged_results_keep_the_previous_report_whole(host_results):
    first = fr.build_fleet(host_results, generated_at='2020-01-01T00:00:00Z')
    fewer = dict((k, v) for k, v in host_results.items() if k != 'db1.example')
    second = _with_previous(fr.build_fleet(fewer, generated_at='2021-01-01T00:00:00Z'), fr.to_json(first))
    assert second['generated_at'] == '2021-01-01T00:00:00Z' and second['changes']['hosts_removed'] == ['db1.example']
    again = _with_previous(fr.build_fleet(fewer, generated_at='2026-06-06T06:06:06Z'), fr.to_json(second))
    assert fr.to_json(again) == fr.to_json(second)
    # a previous report that is not one is ignored
    for text in (None, '', 'not json', '[]', '{"hosts": []}', '{"hosts": [], "generated_at": "yesterday"}'):
        fresh = _with_previous(fr.build_fleet(fewer, generated_at='2026-06-06T06:06:06Z'), text)
        assert fresh['generated_at'] == '2026-06-06T06:06:06Z' and 'changes' not in fresh


def test_changes_against_another_report(schema, tmp_path):
    """audit_report's previous: the report written before a hardening is compared with,
    and a re-run whose document differs only by generated_at rewrites nothing."""
    before = fr.build_fleet([_host('a', [_f('userns-default-mode', 'daemon:rootful')])],
                            generated_at='2026-01-01T00:00:00Z')
    after = fr.build_fleet([_host('a', [])], generated_at='2026-01-02T00:00:00Z')
    document, text = fr.against(after, fr.to_json(before), None)
    _validate(schema, json.loads(text))
    assert document['changes']['previous_generated_at'] == '2026-01-01T00:00:00Z'
    assert document['changes']['summary']['resolved'] == 1
    again, _text = fr.against(fr.build_fleet([_host('a', [])], generated_at='2026-01-03T00:00:00Z'),
                              fr.to_json(before), text)
    assert again == document
    assert fr.against(after, None, None)[0] == after
    dest = tmp_path / 'report'
    (tmp_path / 'before.json').write_text(fr.to_json(before))
    plan = fr.plan_report(str(dest), [_host('a', [])], generated_at='2026-01-02T00:00:00Z', write=True,
                          previous_path=str(tmp_path / 'before.json'))
    assert json.loads((dest / 'fleet.json').read_text())['changes']['summary']['resolved'] == 1
    assert plan.changed_files
    assert fr.plan_report(str(dest), [_host('a', [])], generated_at='2026-01-05T00:00:00Z', write=True,
                          previous_path=str(tmp_path / 'before.json')).changed_files == []


def test_changes_ignore_malformed_previous_entries(schema):
    previous = {'generated_at': '2026-01-01T00:00:00Z', 'hosts': [
        'junk', {'name': 'a', 'modules': {'namespace_mode': 'ok'}, 'findings': [
            'junk', {'id': 'x', 'subject': 's', 'severity': 'severe', 'source': 'namespace_mode'},
            {'id': 'y', 'subject': 's', 'severity': 'low', 'source': 'namespace_mode'}]}]}
    document = _with_previous(fr.build_fleet([_host('a', [])], generated_at='2026-01-02T00:00:00Z'),
                              json.dumps(previous))
    (host,) = document['changes']['hosts']
    assert [c['id'] for c in host['resolved']] == ['y'] and host['not_compared'] == ['socket_exposure']
    _validate(schema, json.loads(fr.to_json(document)))


@pytest.mark.parametrize('mutate', [
    lambda c: c.pop('previous_generated_at'),
    lambda c: c['hosts'][0]['new'][0].update(severity='severe'),
    lambda c: c['summary'].update(new=-1),
    lambda c: c.update(extra=1),
])
def test_schema_rejects_broken_changes(schema, mutate):
    before = fr.build_fleet([_host('a', [])], generated_at='2026-01-01T00:00:00Z')
    document = json.loads(fr.to_json(_with_previous(
        fr.build_fleet([_host('a', [_f('x', 's')])], generated_at='2026-01-02T00:00:00Z'), fr.to_json(before))))
    _validate(schema, document)
    mutate(document['changes'])
    with pytest.raises(jsonschema.ValidationError):
        _validate(schema, document)


# ------------------------------------------------------------------ writing

GENERATED_AT = '2026-12-04T12:00:00Z'


def test_plan_and_write_report(host_results, tmp_path):
    dest = str(tmp_path / 'report')
    # one generated_at for both runs: a second boundary between them would change every file
    plan = fr.plan_report(dest, host_results, fail_on='high', mode=0o640, generated_at=GENERATED_AT)
    assert plan.changed_files == [os.path.join(dest, n) for n in fr.REPORT_FILES]
    assert not os.path.exists(dest)  # planning writes nothing
    written = fr.plan_report(dest, host_results, fail_on='high', mode=0o640, generated_at=GENERATED_AT,
                             write=True)
    assert written.changed_files == plan.changed_files and written.contents == {}
    assert sorted(os.listdir(dest)) == sorted(fr.REPORT_FILES)  # no temporary left
    for name in fr.REPORT_FILES:
        assert stat.S_IMODE(os.stat(os.path.join(dest, name)).st_mode) == 0o640
        with open(os.path.join(dest, name), 'rb') as handle:
            assert handle.read() == plan.contents[os.path.join(dest, name)]
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o755
    assert fr.plan_report(dest, host_results, fail_on='high', mode=0o640).changed_files == []
    # fail_on only changes the JUnit file; a mode only the mode
    assert fr.plan_report(dest, host_results, fail_on='critical', mode=0o640).changed_files == [
        os.path.join(dest, 'fleet.junit.xml')]
    assert len(fr.plan_report(dest, host_results, fail_on='high', mode=0o600).changed_files) == 5


def test_plan_that_writes_as_it_renders(host_results, tmp_path):
    dest = str(tmp_path / 'report')
    planned = fr.plan_report(dest, host_results, fail_on='high', generated_at=GENERATED_AT)
    written = fr.plan_report(dest, host_results, fail_on='high', generated_at=GENERATED_AT, write=True)
    assert written.changed_files == planned.changed_files and written.contents == {}
    for path, data in planned.contents.items():
        with open(path, 'rb') as handle:
            assert handle.read() == data
    assert fr.plan_report(dest, host_results, fail_on='high', write=True).changed_files == []


@pytest.mark.parametrize('with_changes', [False, True])
def test_to_json_is_json_dumps_indented(fleet, with_changes):
    document = fleet
    if with_changes:
        document = dict(fleet, changes={'previous_generated_at': '2026-01-01T00:00:00Z', 'hosts': [],
                                        'hosts_added': [], 'hosts_removed': ['x'], 'summary': {}})
    assert fr.to_json(document) == json.dumps(document, indent=2, sort_keys=True) + '\n'
    assert fr.to_json(dict(document, hosts=[])) == json.dumps(dict(document, hosts=[]), indent=2, sort_keys=True) + '\n'


def test_plan_refuses_a_link_another_user_could_have_planted(host_results, tmp_path):
    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    os.symlink(str(tmp_path), str(shared / 'report'))
    with pytest.raises(fr.fileops.FileOpsError):
        fr.plan_report(str(shared / 'report'), host_results)


def test_parse_mode():
    assert fr.parse_mode('0640') == 0o640 and fr.parse_mode('600') == 0o600
    for bad in ('rw-r--r--', '99', '77777'):
        with pytest.raises(ValueError):
            fr.parse_mode(bad)
