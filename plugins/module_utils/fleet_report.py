# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fleet report: per-host results of namespace_mode and socket_exposure -> JSON, Markdown,
HTML, SARIF and JUnit XML.

``build_fleet`` produces the document described by docs/audit-report.schema.json
(schema_version 1), one host at a time; ``with_previous`` adds what changed since the
report already in the destination; the ``render_*`` functions only format the document.
The HTML is one self-contained page (inline CSS and script, no external asset): the data
is embedded as JSON and the script renders one page of rows at a time, so that a fleet of
10,000 hosts opens as fast as one of ten. ``plan_report`` is what the audit_report action
plugin runs on the controller.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import json
import os
import re
import stat

from collections.abc import Mapping
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

from ansible_collections.nsguard.docker.plugins.module_utils import fileops

from ansible_collections.nsguard.docker.plugins.module_utils._findings import (
    SEVERITIES,
    count_by_severity,
    gate,
    max_severity,
    severity_rank,
)

SCHEMA_VERSION = 1
MODULES = ('namespace_mode', 'socket_exposure')
MODES = ('default', 'userns-remap', 'rootless', 'desktop-vm', 'unknown')
#: namespace_mode's container verdicts (_container_privilege.VERDICTS), worst first.
VERDICTS = ('host-root', 'can-become-host-root', 'root-only-in-its-user-namespace', 'unprivileged')
DEFAULT_TITLE = 'Docker user namespace and socket exposure audit'
SEVERITY_COLOURS = {
    'critical': '#7f1d1d', 'high': '#c2410c', 'medium': '#a16207', 'low': '#1d4ed8',
    'info': '#4b5563',
}


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).strftime(
        '%Y-%m-%dT%H:%M:%SZ')


def _module_state(result):
    """'ok', 'failed' (ran, failed, no data) or 'missing' for one module result."""
    if not isinstance(result, dict) or not result:
        return 'missing'
    if result.get('unreachable'):
        return 'failed'
    if isinstance(result.get('findings'), list):
        return 'ok'
    if result.get('failed') or result.get('msg'):
        return 'failed'
    return 'missing'


def _str_or_none(value):
    return None if value is None else str(value)


def _int_or_none(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _finding(source, finding):
    severity = finding.get('severity') if finding.get('severity') in SEVERITIES else 'info'
    evidence = finding.get('evidence')
    return {
        'id': str(finding.get('id') or 'unknown'),
        'severity': severity,
        'cis': _str_or_none(finding.get('cis')),
        'subject': str(finding.get('subject') or ''),
        'message': str(finding.get('message') or ''),
        'source': source,
        'evidence': evidence if isinstance(evidence, dict) else {},
    }


def _skipped(module, entry):
    return {
        'module': module,
        'daemon': _str_or_none(entry.get('daemon')),
        'check': str(entry.get('check') or 'unknown'),
        'reason': str(entry.get('reason') or ''),
        'covered_by_proc_scan': entry.get('covered_by_proc_scan')
        if isinstance(entry.get('covered_by_proc_scan'), bool) else None,
    }


def _daemon(entry):
    containers = entry.get('containers') if isinstance(entry.get('containers'), list) else []
    mode = entry.get('mode') if entry.get('mode') in MODES else 'unknown'
    return {
        'id': str(entry.get('id') or 'unknown'),
        'kind': _str_or_none(entry.get('kind')),
        'mode': mode,
        'mode_verified': bool(entry.get('mode_verified')),
        'mode_source': _str_or_none(entry.get('mode_source')),
        'mode_basis': [str(b) for b in entry.get('mode_basis') or []],
        'reachable': bool(entry.get('reachable')),
        # namespace_mode's queried: false when it chose not to ask (query_api=false, or a
        # socket no dockerd serves), which is no failure to answer
        'asked': entry.get('queried') is not False,
        'error': _str_or_none(entry.get('error')),
        'pid': _int_or_none(entry.get('pid')),
        'user': _str_or_none(entry.get('user')),
        'server_version': _str_or_none(entry.get('server_version')),
        'sockets': [str(s) for s in entry.get('sockets') or []],
        'containers': len(containers),
        'containers_root_is_host_root': sum(
            1 for c in containers if isinstance(c, dict) and c.get('root_is_host_root')),
    }


def _container(daemon, entry):
    """One container of namespace_mode's daemon entry: who it is, its verdict and the
    evidence that decided it, in brief (fleet.json keeps the findings' full evidence)."""
    privilege = entry.get('privilege') if isinstance(entry.get('privilege'), dict) else {}
    mounts = [m for m in privilege.get('sensitive_mounts') or [] if isinstance(m, dict)]
    return {
        'daemon': str(daemon.get('id') or 'unknown'),
        'daemon_mode': daemon.get('mode') if daemon.get('mode') in MODES else 'unknown',
        'id': str(entry.get('id') or ''),
        'name': str(entry.get('name') or ''),
        'image': _str_or_none(entry.get('image')),
        'verdict': entry.get('verdict') if entry.get('verdict') in VERDICTS else None,
        'reasons': [str(r) for r in entry.get('verdict_reasons') or []],
        'acts_on_host': privilege.get('acts_on_host') if isinstance(privilege.get('acts_on_host'), bool) else None,
        'root_host_uid': _int_or_none(entry.get('root_host_uid')),
        'privileged': privilege.get('privileged') if isinstance(privilege.get('privileged'), bool) else None,
        'host_namespaces': [str(n) for n in privilege.get('host_namespaces') or []],
        'host_root_capabilities': [str(c) for c in privilege.get('host_root_capabilities') or []],
        'sensitive_mounts': ['%s:%s%s' % (m.get('source'), m.get('destination'), '' if m.get('writable') else ':ro')
                             for m in mounts],
    }


def _socket(entry):
    reach = entry.get('reach') or {}
    return {
        'path': str(entry.get('path') or ''),
        'kind': _str_or_none(entry.get('kind')),
        'owner': _str_or_none(entry.get('owner') if entry.get('owner') is not None else entry.get('uid')),
        'group': _str_or_none(entry.get('group') if entry.get('group') is not None else entry.get('gid')),
        'mode': _str_or_none(entry.get('mode')),
        'everyone': bool(reach.get('everyone')),
        'users': [str(u) for u in reach.get('users') or []],
    }


def _endpoint(entry):
    return {
        'daemon': _str_or_none(entry.get('daemon')),
        'address': _str_or_none(entry.get('address')),
        'port': _int_or_none(entry.get('port')),
        'role': _str_or_none(entry.get('role')),
        'listening': bool(entry.get('listening')),
        'loopback': bool(entry.get('loopback')),
        'tls': entry.get('tls') if isinstance(entry.get('tls'), bool) else None,
        'tlsverify': entry.get('tlsverify') if isinstance(entry.get('tlsverify'), bool) else None,
    }


def build_host(name, results):
    """One host's entry from {'namespace_mode': result, 'socket_exposure': result}."""
    results = results if isinstance(results, dict) else {}
    modules = {}
    errors = []
    findings = []
    for module in MODULES:
        result = results.get(module)
        state = _module_state(result)
        modules[module] = state
        if state == 'failed':
            errors.append('%s: %s' % (module, result.get('msg') or 'failed without a message'))
        elif state == 'missing':
            errors.append('%s: no result' % module)
        elif result.get('failed') and result.get('msg'):
            errors.append('%s: %s' % (module, result['msg']))
        if state == 'ok':
            findings.extend(_finding(module, f) for f in result['findings'] if isinstance(f, dict))
    # What a module could not check makes the host partial: its audit-incomplete findings
    # are named in the errors, its skipped_checks listed.
    gaps = ['%s: not checked: %s' % (f['source'], f['message']) for f in findings
            if f['id'] == 'audit-incomplete']
    errors.extend(gaps)
    skipped = []
    incomplete = bool(gaps)
    for module in MODULES:
        result = results.get(module)
        if modules[module] != 'ok':
            continue
        if result.get('complete') is False:
            incomplete = True
        skipped.extend(_skipped(module, e) for e in result.get('skipped_checks') or [] if isinstance(e, dict))
    findings.sort(key=lambda f: (-severity_rank(f['severity']), f['id'], f['subject']))
    ns = results.get('namespace_mode') if modules['namespace_mode'] == 'ok' else {}
    se = results.get('socket_exposure') if modules['socket_exposure'] == 'ok' else {}
    states = set(modules.values())
    if states == set(['ok']):
        status = 'partial' if incomplete or skipped else 'ok'
    elif 'ok' in states:
        status = 'partial'
    elif 'failed' in states:
        status = 'failed'
    else:
        status = 'missing'
    return {
        'name': str(name),
        'status': status,
        'modules': modules,
        'errors': errors,
        'skipped_checks': skipped,
        'daemons': [_daemon(d) for d in ns.get('daemons') or [] if isinstance(d, dict)],
        'containers': [_container(d, c) for d in ns.get('daemons') or [] if isinstance(d, dict)
                       for c in (d.get('containers') if isinstance(d.get('containers'), list) else [])
                       if isinstance(c, dict)],
        'sockets': [_socket(s) for s in se.get('sockets') or [] if isinstance(s, dict)],
        'tcp_endpoints': [_endpoint(e) for e in se.get('tcp_endpoints') or [] if isinstance(e, dict)],
        'findings': findings,
        'counts': count_by_severity(findings),
        'max_severity': max_severity(findings),
    }


def build_fleet(host_results, generated_at=None, title=None):
    """The fleet document from per-host results.

    ``host_results`` is a dict hostname -> {'namespace_mode': result, 'socket_exposure':
    result}, or an iterable of (hostname, results) pairs: each host is reduced to its entry
    as it comes, so a generator over the hosts' variables never holds more than one host's
    raw results.
    """
    pairs = host_results.items() if isinstance(host_results, Mapping) else (host_results or ())
    hosts = sorted((build_host(name, results) for name, results in pairs), key=lambda h: h['name'])
    modes = dict((m, 0) for m in MODES)
    counts = dict((s, 0) for s in SEVERITIES)
    for host in hosts:
        for daemon in host['daemons']:
            modes[daemon['mode']] += 1
        for severity in SEVERITIES:
            counts[severity] += host['counts'][severity]
    worst = None
    for host in hosts:
        if host['max_severity'] and severity_rank(host['max_severity']) > severity_rank(worst):
            worst = host['max_severity']
    statuses = dict((s, 0) for s in ('ok', 'partial', 'failed', 'missing'))
    verdicts = dict((v, 0) for v in VERDICTS + ('not known',))
    for host in hosts:
        statuses[host['status']] += 1
        for container in host['containers']:
            verdicts[container['verdict'] or 'not known'] += 1
    return {
        'schema_version': SCHEMA_VERSION,
        'title': title or DEFAULT_TITLE,
        'generated_at': generated_at or _utc_now(),
        'summary': {
            'hosts': len(hosts),
            'host_status': statuses,
            'daemons': sum(len(h['daemons']) for h in hosts),
            'modes': modes,
            'containers': sum(verdicts.values()),
            'container_verdicts': verdicts,
            'findings': counts,
            'max_severity': worst,
        },
        'hosts': hosts,
    }


def to_json(fleet):
    """json.dumps(fleet, indent=2, sort_keys=True) + newline, made one host at a time: with
    an indent the encoder is the pure-Python one, which holds every piece of the text until
    it joins them (at 10,000 hosts several times the size of the text itself)."""
    hosts = fleet.get('hosts')
    if not hosts:
        return json.dumps(fleet, indent=2, sort_keys=True) + '\n'
    text = json.dumps(dict(fleet, hosts=[]), indent=2, sort_keys=True)
    # a JSON text has no raw newline inside a string: indenting by lines is safe
    items = ',\n    '.join(json.dumps(h, indent=2, sort_keys=True).replace('\n', '\n    ') for h in hosts)
    head, tail = text.split('\n  "hosts": []', 1)
    return '%s\n  "hosts": [\n    %s\n  ]%s\n' % (head, items, tail)


# --------------------------------------------------------------------------------------
# Changes since the previous report
# --------------------------------------------------------------------------------------

def _parse_previous(text):
    """The previous fleet.json as a dict, or None when there is none or it is not one."""
    if not text:
        return None
    try:
        previous = json.loads(text)
    except ValueError:
        return None
    if not isinstance(previous, dict) or not isinstance(previous.get('hosts'), list) \
            or not re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', str(previous.get('generated_at'))):
        return None
    return previous


def _change(finding):
    return {'id': finding['id'], 'subject': finding['subject'], 'severity': finding['severity'],
            'source': finding['source']}


def _findings_of(host, modules):
    """(id, subject) -> finding of the findings in ``host`` that ``modules`` reported. A
    previous report is read from a file: entries that are not findings are left out."""
    found = {}
    for finding in host.get('findings') or []:
        if not isinstance(finding, dict) or finding.get('source') not in modules:
            continue
        if not isinstance(finding.get('id'), str) or not finding['id'] or not isinstance(finding.get('subject'), str):
            continue
        if finding.get('severity') not in SEVERITIES:
            continue
        found.setdefault((finding['id'], finding['subject']), finding)
    return found


def _by_severity(changes):
    return sorted(changes, key=lambda c: (-severity_rank(c['severity']), c['id'], c['subject']))


def build_changes(fleet, previous):
    """Per host, the findings (by id and subject) new and resolved since ``previous``.

    Findings are compared only for a module that returned data in both reports: a host
    that was unreachable once has nothing resolved or new from that module, which is named
    in ``not_compared`` instead. All findings of a host the previous report did not list are
    new; a host that is no longer in the report is listed in ``hosts_removed`` only.
    """
    before = dict((h['name'], h) for h in previous['hosts']
                  if isinstance(h, dict) and isinstance(h.get('name'), str))
    hosts, added, seen = [], [], set()
    new_total = resolved_total = 0
    for host in fleet['hosts']:
        seen.add(host['name'])
        ok_now = set(m for m in MODULES if host['modules'][m] == 'ok')
        old = before.get(host['name'])
        if old is None:
            added.append(host['name'])
            compared, not_compared, old_findings = ok_now, [], {}
        else:
            old_modules = old.get('modules') if isinstance(old.get('modules'), dict) else {}
            ok_before = set(m for m in MODULES if old_modules.get(m) == 'ok')
            compared = ok_now & ok_before
            not_compared = sorted((ok_now | ok_before) - compared)
            old_findings = _findings_of(old, compared)
        new_findings = _findings_of(host, compared)
        new = _by_severity(_change(f) for k, f in new_findings.items() if k not in old_findings)
        resolved = _by_severity(_change(f) for k, f in old_findings.items() if k not in new_findings)
        new_total += len(new)
        resolved_total += len(resolved)
        if new or resolved or not_compared:
            hosts.append({'name': host['name'], 'new': new, 'resolved': resolved,
                          'not_compared': not_compared})
    removed = sorted(name for name in before if name not in seen)
    return {
        'previous_generated_at': previous['generated_at'],
        'summary': {'new': new_total, 'resolved': resolved_total, 'hosts_added': len(added),
                    'hosts_removed': len(removed),
                    'hosts_changed': sum(1 for h in hosts if h['new'] or h['resolved'])},
        'hosts_added': added,
        'hosts_removed': removed,
        'hosts': hosts,
    }


def with_previous(fleet, previous_json_text):
    """The document to write over the previous fleet.json (its text, or None), and its JSON.

    When only generated_at (and the changes section) would differ, the previous ones are
    kept: a re-run over unchanged results rewrites nothing (changed=false), and the changes
    keep saying what changed since the report before the last one that differed. Otherwise
    the changes since the previous report are added, if there is one.
    """
    previous = _parse_previous(previous_json_text)
    if previous is None:
        return fleet, to_json(fleet)
    kept = dict(fleet, generated_at=previous['generated_at'])
    kept.pop('changes', None)
    if 'changes' in previous:
        kept['changes'] = previous['changes']
    # The document holds only what JSON decodes to (evidence comes from decoded module
    # results), so comparing it with the decoded previous one is comparing the content.
    if kept == previous:
        return kept, to_json(kept)
    document = dict(fleet, changes=build_changes(fleet, previous))
    return document, to_json(document)


def against(fleet, compared_json_text, current_json_text):
    """The document with the changes since another report (``compared_json_text``, such as
    the one written before a hardening), and its JSON. When the fleet.json in place
    (``current_json_text``) differs only by generated_at, it is kept as it is."""
    compared = _parse_previous(compared_json_text)
    document = dict(fleet, changes=build_changes(fleet, compared)) if compared is not None else fleet
    current = _parse_previous(current_json_text)
    if current is not None and dict(document, generated_at=current['generated_at']) == current:
        document = current
    return document, to_json(document)


def _read_text(path):
    data = fileops.read_file(path).data
    return data.decode('utf-8', 'replace') if data is not None else None


def _markdown_changes(fleet):
    changes = fleet.get('changes')
    if not changes:
        return []
    summary = changes['summary']
    lines = ['## Changes since the previous report', '',
             'Compared with the report generated %s: %d new finding(s), %d resolved, %d host(s) added, '
             '%d removed.' % (_md(changes['previous_generated_at']), summary['new'], summary['resolved'],
                              summary['hosts_added'], summary['hosts_removed']), '']
    if changes['hosts_added']:
        lines += ['Hosts added: %s' % _md(', '.join(changes['hosts_added'])), '']
    if changes['hosts_removed']:
        lines += ['Hosts removed: %s' % _md(', '.join(changes['hosts_removed'])), '']
    rows = []
    for host in changes['hosts']:
        for kind in ('new', 'resolved'):
            for c in host[kind]:
                rows.append('| %s | %s | %s | %s | %s |' % (
                    _md(host['name']), kind, c['severity'], _md(c['id']), _md(c['subject'])))
        if host['not_compared']:
            rows.append('| %s | not compared | - | %s | - |' % (
                _md(host['name']), _md(', '.join(host['not_compared']))))
    if rows:
        lines += ['| Host | Change | Severity | Finding | Subject |', '|---|---|---|---|---|'] + rows + ['']
    return lines


# --------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------

def _md(text):
    """Escape text for a Markdown table cell or line."""
    text = '' if text is None else str(text)
    text = text.replace('\\', '\\\\').replace('|', '\\|').replace('\n', ' ')
    return re.sub(r'([`*_\[\]<>])', r'\\\1', text)


def _yes_no(value):
    """A tri-state flag for the tables: yes, no, or - when it does not apply (swarm, metrics)."""
    return '-' if value is None else ('yes' if value else 'no')


def _reach_note(daemon):
    if daemon['reachable']:
        return ''
    return ' (unreachable)' if daemon['asked'] else ' (not asked)'


def _modes_text(host):
    if not host['daemons']:
        return 'no Docker' if host['modules']['namespace_mode'] == 'ok' else '?'
    return ', '.join('%s: %s%s' % (d['id'], d['mode'], _reach_note(d))
                     for d in host['daemons'])


def _verdicts_text(verdicts):
    return ', '.join('%d %s' % (verdicts[v], v) for v in VERDICTS + ('not known',) if verdicts.get(v)) or 'none'


def render_markdown(fleet):
    summary = fleet['summary']
    lines = ['# %s' % _md(fleet['title']), '',
             'Generated %s. Schema version %d.' % (_md(fleet['generated_at']), fleet['schema_version']), '',
             '## Summary', '',
             '- Hosts: %d (%s)' % (summary['hosts'], ', '.join(
                 '%d %s' % (n, s) for s, n in sorted(summary['host_status'].items()) if n) or 'none'),
             '- Daemons: %d (%s)' % (summary['daemons'], ', '.join(
                 '%d %s' % (summary['modes'][m], m) for m in MODES if summary['modes'][m]) or 'none'),
             '- Containers: %d (%s)' % (summary['containers'], _verdicts_text(summary['container_verdicts'])),
             '- Findings: %s' % (', '.join(
                 '%d %s' % (summary['findings'][s], s) for s in reversed(SEVERITIES) if summary['findings'][s])
                 or 'none'),
             '']
    lines += _markdown_changes(fleet)
    lines += ['## Hosts', '',
              '| Host | Status | Daemon modes | ' + ' | '.join(s.capitalize() for s in reversed(SEVERITIES)) + ' |',
              '|---|---|---|' + '---:|' * len(SEVERITIES)]
    for host in fleet['hosts']:
        lines.append('| %s | %s | %s | %s |' % (
            _md(host['name']), host['status'], _md(_modes_text(host)),
            ' | '.join(str(host['counts'][s]) for s in reversed(SEVERITIES))))
    for host in fleet['hosts']:
        lines += ['', '### %s' % _md(host['name']), '']
        for error in host['errors']:
            lines.append('- Error: %s' % _md(error))
        if host['errors']:
            lines.append('')
        if host['skipped_checks']:
            lines += ['', 'Not checked:', '', '| Module | Daemon | Check | Reason | Covered by /proc scan |',
                      '|---|---|---|---|---|']
            for c in host['skipped_checks']:
                lines.append('| %s | %s | %s | %s | %s |' % (
                    _md(c['module']), _md(c['daemon'] or '-'), _md(c['check']), _md(c['reason']),
                    _yes_no(c['covered_by_proc_scan'])))
            lines.append('')
        if host['daemons']:
            lines += ['', '| Daemon | Mode | Verified | Reachable | Version | Sockets | Containers (root = host root) |',
                      '|---|---|---|---|---|---|---|']
            for d in host['daemons']:
                lines.append('| %s | %s | %s | %s | %s | %s | %d (%d) |' % (
                    _md(d['id']), d['mode'], 'yes' if d['mode_verified'] else 'no',
                    'yes' if d['reachable'] else 'no: %s' % _md(d['error']),
                    _md(d['server_version'] or '-'), _md(', '.join(d['sockets']) or '-'),
                    d['containers'], d['containers_root_is_host_root']))
        elif host['modules']['namespace_mode'] == 'ok':
            lines.append('No Docker daemon found.')
        if host['containers']:
            lines += ['', '| Container | Daemon (mode) | Verdict | Evidence |', '|---|---|---|---|']
            for c in host['containers']:
                lines.append('| %s | %s (%s) | %s | %s |' % (
                    _md(c['name'] or c['id']), _md(c['daemon']), c['daemon_mode'], c['verdict'] or 'not known',
                    _md('; '.join(c['reasons']) or '-')))
        if host['sockets']:
            lines += ['', '| Socket | Owner | Group | Mode | Who can connect |', '|---|---|---|---|---|']
            for s in host['sockets']:
                lines.append('| %s | %s | %s | %s | %s |' % (
                    _md(s['path']), _md(s['owner']), _md(s['group']), _md(s['mode']),
                    'everyone' if s['everyone'] else _md(', '.join(s['users']))))
        if host['tcp_endpoints']:
            lines += ['', '| TCP endpoint | Role | Listening | TLS | Verify |', '|---|---|---|---|---|']
            for e in host['tcp_endpoints']:
                lines.append('| %s:%s | %s | %s | %s | %s |' % (
                    _md(e['address']), e['port'], _md(e['role']), 'yes' if e['listening'] else 'no',
                    _yes_no(e['tls']), _yes_no(e['tlsverify'])))
        if host['findings']:
            lines += ['', '| Severity | CIS | Finding | Subject | Message |', '|---|---|---|---|---|']
            for f in host['findings']:
                lines.append('| %s | %s | %s | %s | %s |' % (
                    f['severity'], _md(f['cis'] or '-'), _md(f['id']), _md(f['subject']), _md(f['message'])))
        else:
            lines += ['', 'No findings.']
    return re.sub(r'\n{3,}', '\n\n', '\n'.join(lines)) + '\n'


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------

#: Host rows (and change rows) the page shows at a time.
HTML_PAGE_SIZE = 100


def _h(text):
    import html
    return html.escape('' if text is None else str(text), quote=True)


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#111827;background:#fff}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem;margin-top:1.5rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d1d5db;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f4f6}
#hosts th{cursor:pointer;user-select:none}
#hosts th[aria-sort=ascending]::after{content:" \\25B2"}
#hosts th[aria-sort=descending]::after{content:" \\25BC"}
#findings tbody tr{cursor:pointer}#findings tbody tr:hover{background:#f9fafb}
#filters{display:flex;flex-wrap:wrap;gap:.75rem;align-items:end;margin:1rem 0;padding:.75rem;background:#f9fafb;border:1px solid #e5e7eb}
#filters label{display:flex;flex-direction:column;font-size:.8rem;gap:.2rem}
.pager{margin:.25rem 0;font-size:.85rem}.pager button{margin-right:.5rem}
td.num{text-align:right}
.sev{display:inline-block;min-width:4.5rem;padding:0 .35rem;border-radius:.25rem;color:#fff;font-weight:600;text-align:center}
.zero{color:#9ca3af}
.status-ok{color:#166534}.status-partial{color:#a16207}.status-failed,.status-missing{color:#991b1b}
.mode-default{color:#b91c1c;font-weight:600}.mode-userns-remap,.mode-rootless,.mode-desktop-vm{color:#166534}
.mode-unknown{color:#6b7280}
.verdict-host-root,.verdict-can-become-host-root{color:#991b1b;font-weight:600}
.verdict-root-only-in-its-user-namespace,.verdict-unprivileged{color:#166534}
.change-new{color:#991b1b;font-weight:600}.change-resolved{color:#166534;font-weight:600}
#details{border-top:2px solid #d1d5db;margin-top:1.5rem}
code{font-size:.85rem}
""" + ''.join('.sev-%s{background:%s}td.sev-%s{background:%s;color:#fff;font-weight:600}\n' % (s, c, s, c)
              for s, c in SEVERITY_COLOURS.items())

# Renders the views from the embedded data (#fleet-data): findings by id with host counts,
# the host table one page at a time (sortable, filtered by severity, host name, status and
# finding), the changes since the previous report, and one host's details on demand. The
# filters start from the page's #fragment (e.g. #severity=high&host=web&show=web1), so a
# view can be linked to.
_JS = """
(function(){
var data=JSON.parse(document.getElementById('fleet-data').textContent);
var SEV=['info','low','medium','high','critical'],COLS=SEV.slice().reverse(),PAGE=%(page)d;
var hosts=data.hosts,byName={},i;
for(i=0;i<hosts.length;i++){byName[hosts[i].name]=hosts[i];}
function $(id){return document.getElementById(id);}
function esc(v){return String(v===null||v===undefined?'':v).replace(/[&<>"']/g,function(c){
  return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c];});}
function rank(s){return SEV.indexOf(s);}
function badge(s){return s?'<span class="sev sev-'+esc(s)+'">'+esc(s)+'</span>':'-';}
function yn(v){return v===null||v===undefined?'-':(v?'yes':'no');}
function reach(d){if(d.reachable){return '';}
  return d.asked?' (unreachable)':' (not asked)';}
function modes(h){
  if(!h.daemons.length){return esc(h.modules.namespace_mode==='ok'?'no Docker':'?');}
  return h.daemons.map(function(d){return '<span class="mode-'+esc(d.mode)+'">'+esc(d.id)+': '+
    esc(d.mode)+reach(d)+'</span>';}).join(', ');}
function table(cls,heads,rows){
  return '<table'+(cls?' class="'+cls+'"':'')+'><thead><tr>'+heads.map(function(x){return '<th>'+x+'</th>';}).join('')+
    '</tr></thead><tbody>'+rows.map(function(r){return '<tr>'+r.map(function(c){return '<td>'+c+'</td>';}).join('')+
    '</tr>';}).join('')+'</tbody></table>';}
var state={severity:'',host:'',status:'',finding:'',sort:null,asc:true,page:0,changesPage:0};
(location.hash||'').replace(/^#/,'').split('&').forEach(function(kv){
  var p=kv.split('='),k=decodeURIComponent(p[0]||''),v=decodeURIComponent((p[1]||'').replace(/\\+/g,' '));
  if(k in state&&typeof state[k]==='string'){state[k]=v;}if(k==='show'){state.show=v;}});
function minRank(){return state.severity?rank(state.severity):-1;}
function wanted(f){return rank(f.severity)>=minRank()&&(!state.finding||f.id===state.finding);}
function selected(){
  var needle=state.host.toLowerCase(),out=[];
  hosts.forEach(function(h){
    if(needle&&h.name.toLowerCase().indexOf(needle)<0){return;}
    if(state.status&&h.status!==state.status){return;}
    if((state.severity||state.finding)&&!h.findings.some(wanted)){return;}
    out.push(h);});
  if(state.sort!==null){
    var col=state.sort,key=function(h){
      if(col==='worst'){return h.max_severity?rank(h.max_severity):-1;}
      if(SEV.indexOf(col)>=0){return h.counts[col];}
      if(col==='modes'){return h.daemons.map(function(d){return d.mode;}).join(',');}
      return String(h[col]).toLowerCase();};
    out.sort(function(a,b){var x=key(a),y=key(b);return (x<y?-1:x>y?1:0)*(state.asc?1:-1);});}
  return out;}
function pager(id,total,page,onPage){
  var el=$(id),pages=Math.max(1,Math.ceil(total/PAGE));
  var first=total?page*PAGE+1:0,last=Math.min(total,(page+1)*PAGE);
  el.innerHTML='<button type="button" data-step="-1"'+(page>0?'':' disabled')+'>Previous</button>'+
    '<button type="button" data-step="1"'+(page<pages-1?'':' disabled')+'>Next</button>'+
    'Showing '+first+'&ndash;'+last+' of '+total;
  el.onclick=function(ev){var step=ev.target.getAttribute('data-step');if(step){onPage(page+parseInt(step,10));}};}
function renderFindings(list){
  var agg={},ids=[];
  list.forEach(function(h){var seen={};h.findings.forEach(function(f){
    if(rank(f.severity)<minRank()){return;}
    var a=agg[f.id];if(!a){a=agg[f.id]={id:f.id,worst:f.severity,cis:{},hosts:0,findings:0};ids.push(f.id);}
    if(rank(f.severity)>rank(a.worst)){a.worst=f.severity;}
    if(f.cis){a.cis[f.cis]=1;}a.findings++;if(!seen[f.id]){seen[f.id]=1;a.hosts++;}});});
  ids.sort(function(x,y){var a=agg[x],b=agg[y];return rank(b.worst)-rank(a.worst)||b.hosts-a.hosts||(x<y?-1:1);});
  $('findings').tBodies[0].innerHTML=ids.map(function(id){var a=agg[id];
    return '<tr data-finding="'+esc(id)+'"'+(state.finding===id?' aria-selected="true"':'')+'><td><code>'+esc(id)+
      '</code></td><td>'+badge(a.worst)+'</td><td>'+esc(Object.keys(a.cis).sort().join(', ')||'-')+
      '</td><td class="num">'+a.hosts+'</td><td class="num">'+a.findings+'</td></tr>';}).join('')||
    '<tr><td colspan="5">No findings.</td></tr>';}
function renderHosts(list){
  var pages=Math.max(1,Math.ceil(list.length/PAGE));if(state.page>=pages){state.page=pages-1;}
  var rows=list.slice(state.page*PAGE,(state.page+1)*PAGE);
  $('hosts').tBodies[0].innerHTML=rows.map(function(h){
    return '<tr><td><a href="#show='+encodeURIComponent(h.name)+'" data-host="'+esc(h.name)+'">'+esc(h.name)+
      '</a></td><td class="status-'+esc(h.status)+'">'+esc(h.status)+'</td><td>'+modes(h)+'</td><td>'+
      badge(h.max_severity)+'</td>'+COLS.map(function(s){var n=h.counts[s];
        return n?'<td class="num sev-'+s+'">'+n+'</td>':'<td class="num zero">0</td>';}).join('')+'</tr>';}).join('');
  pager('hosts-pager',list.length,state.page,function(p){state.page=p;render();});
  $('shown').textContent=list.length+' of '+hosts.length+' host(s) shown';}
function renderChanges(){
  if(!data.changes||!$('changes')){return;}
  var needle=state.host.toLowerCase(),rows=[];
  data.changes.hosts.forEach(function(h){
    if(needle&&h.name.toLowerCase().indexOf(needle)<0){return;}
    ['new','resolved'].forEach(function(kind){h[kind].forEach(function(c){if(wanted(c)){rows.push([h.name,kind,c]);}});});
    if(h.not_compared.length&&!state.severity&&!state.finding){rows.push([h.name,'not compared',{id:h.not_compared.join(', ')}]);}});
  var pages=Math.max(1,Math.ceil(rows.length/PAGE));if(state.changesPage>=pages){state.changesPage=pages-1;}
  $('changes').tBodies[0].innerHTML=rows.slice(state.changesPage*PAGE,(state.changesPage+1)*PAGE).map(function(r){
    return '<tr><td>'+esc(r[0])+'</td><td class="change-'+esc(r[1].split(' ')[0])+'">'+esc(r[1])+'</td><td>'+
      badge(r[2].severity)+'</td><td><code>'+esc(r[2].id)+'</code></td><td><code>'+esc(r[2].subject)+'</code></td></tr>';
  }).join('')||'<tr><td colspan="5">No changes in this view.</td></tr>';
  pager('changes-pager',rows.length,state.changesPage,function(p){state.changesPage=p;renderChanges();});}
function details(name){
  var h=byName[name],out=$('details');
  if(!h){out.innerHTML='';return;}
  var parts=['<h2>'+esc(h.name)+' <small class="status-'+esc(h.status)+'">('+esc(h.status)+')</small></h2>'];
  if(h.errors.length){parts.push('<ul>'+h.errors.map(function(e){return '<li>'+esc(e)+'</li>';}).join('')+'</ul>');}
  if(h.skipped_checks.length){parts.push('<p>Not checked:</p>'+table('skipped',['Module','Daemon','Check','Reason',
    'Covered by /proc scan'],h.skipped_checks.map(function(c){return [esc(c.module),esc(c.daemon||'-'),
    '<code>'+esc(c.check)+'</code>',esc(c.reason),yn(c.covered_by_proc_scan)];})));}
  if(h.daemons.length){parts.push(table('',['Daemon','Mode','Verified','Reachable','Version','Sockets','Containers',
    'Root = host root'],h.daemons.map(function(d){return [esc(d.id),'<span class="mode-'+esc(d.mode)+'">'+esc(d.mode)+
    '</span>',yn(d.mode_verified),d.reachable?'yes':'no: '+esc(d.error),esc(d.server_version||'-'),
    '<code>'+esc(d.sockets.join(', ')||'-')+'</code>',d.containers,d.containers_root_is_host_root];})));}
  else if(h.modules.namespace_mode==='ok'){parts.push('<p>No Docker daemon found.</p>');}
  if(h.containers.length){parts.push(table('containers',['Container','Daemon (mode)','Verdict','Evidence'],
    h.containers.map(function(c){return ['<code>'+esc(c.name||c.id)+'</code>',esc(c.daemon)+' ('+esc(c.daemon_mode)+')',
    '<span class="verdict-'+esc(c.verdict||'unknown')+'">'+esc(c.verdict||'not known')+'</span>',
    c.reasons.map(esc).join('<br>')||'-'];})));}
  if(h.sockets.length){parts.push(table('',['Socket','Owner','Group','Mode','Who can connect'],
    h.sockets.map(function(s){return ['<code>'+esc(s.path)+'</code>',esc(s.owner),esc(s.group),esc(s.mode),
    s.everyone?'everyone':esc(s.users.join(', '))];})));}
  if(h.tcp_endpoints.length){parts.push(table('',['TCP endpoint','Role','Listening','TLS','Verify'],
    h.tcp_endpoints.map(function(e){return ['<code>'+esc(e.address)+':'+esc(e.port)+'</code>',esc(e.role),
    yn(e.listening),yn(e.tls),yn(e.tlsverify)];})));}
  parts.push(h.findings.length?table('findings-of-host',['Severity','CIS','Finding','Subject','Message'],
    h.findings.map(function(f){return [badge(f.severity),esc(f.cis||'-'),'<code>'+esc(f.id)+'</code>',
    '<code>'+esc(f.subject)+'</code>',esc(f.message)];})):'<p>No findings.</p>');
  out.innerHTML=parts.join('');}
function render(){var list=selected();renderFindings(list);renderHosts(list);renderChanges();}
var form=$('filters'),timer=null;
['severity','host','status','finding'].forEach(function(k){$('f-'+k).value=state[k];});
form.addEventListener('input',function(){clearTimeout(timer);timer=setTimeout(function(){
  ['severity','host','status','finding'].forEach(function(k){state[k]=$('f-'+k).value;});
  state.page=state.changesPage=0;render();},150);});
form.addEventListener('submit',function(ev){ev.preventDefault();});
$('f-clear').addEventListener('click',function(){['severity','host','status','finding'].forEach(function(k){
  state[k]='';$('f-'+k).value='';});state.page=state.changesPage=0;render();});
$('findings').addEventListener('click',function(ev){var tr=ev.target.closest('tr[data-finding]');if(!tr){return;}
  var id=tr.getAttribute('data-finding');state.finding=state.finding===id?'':id;$('f-finding').value=state.finding;
  state.page=state.changesPage=0;render();});
$('hosts').tBodies[0].addEventListener('click',function(ev){var a=ev.target.closest('a[data-host]');if(!a){return;}
  ev.preventDefault();details(a.getAttribute('data-host'));$('details').scrollIntoView();});
Array.prototype.forEach.call($('hosts').tHead.rows[0].cells,function(th){th.addEventListener('click',function(){
  var col=th.getAttribute('data-col');state.asc=state.sort===col?!state.asc:true;state.sort=col;
  Array.prototype.forEach.call($('hosts').tHead.rows[0].cells,function(x){x.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',state.asc?'ascending':'descending');render();});});
render();
if(state.show){details(state.show);}
})();
""" % {'page': HTML_PAGE_SIZE}


def _sev_badge(severity):
    return '<span class="sev sev-%s">%s</span>' % (_h(severity), _h(severity))


def _without_evidence(fleet):
    """The page's data: the document less the evidence (in fleet.json), which only the
    JSON reader needs and which is most of its size."""
    hosts = []
    for host in fleet['hosts']:
        findings = [dict((k, v) for k, v in f.items() if k != 'evidence') for f in host['findings']]
        hosts.append(dict(host, findings=findings))
    return dict(fleet, hosts=hosts)


def _script_json(document):
    """JSON to embed in <script type="application/json">: no '<' can end the element."""
    text = json.dumps(document, sort_keys=True, separators=(',', ':'))
    return text.replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')


def render_html(fleet):
    summary = fleet['summary']
    changes = fleet.get('changes')
    status_counts = ', '.join('%d %s' % (n, s) for s, n in sorted(summary['host_status'].items()) if n) or 'none'
    out = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<title>%s</title>' % _h(fleet['title']), '<style>%s</style>' % _CSS, '</head>', '<body>',
           '<h1>%s</h1>' % _h(fleet['title']),
           '<p>Generated %s &middot; %d host(s) (%s) &middot; %d daemon(s): %s &middot; %d container(s): %s '
           '&middot; findings: %s</p>' % (
               _h(fleet['generated_at']), summary['hosts'], _h(status_counts), summary['daemons'],
               _h(', '.join('%d %s' % (summary['modes'][m], m) for m in MODES if summary['modes'][m]) or 'none'),
               summary['containers'], _h(_verdicts_text(summary['container_verdicts'])),
               ' '.join('%s&nbsp;%d' % (_sev_badge(s), summary['findings'][s])
                        for s in reversed(SEVERITIES) if summary['findings'][s]) or 'none'),
           '<noscript><p>This page draws its tables with JavaScript; fleet.md has the same report as '
           'text.</p></noscript>',
           '<form id="filters" autocomplete="off">',
           '<label>Severity at least<select id="f-severity"><option value="">any</option>%s</select></label>' % ''.join(
               '<option value="%s">%s</option>' % (s, s) for s in reversed(SEVERITIES)),
           '<label>Host name contains<input id="f-host" type="search" size="24"></label>',
           '<label>Status<select id="f-status"><option value="">any</option>%s</select></label>' % ''.join(
               '<option value="%s">%s</option>' % (s, s) for s in ('ok', 'partial', 'failed', 'missing')),
           '<label>Finding<select id="f-finding"><option value="">any</option>%s</select></label>' % ''.join(
               '<option value="%s">%s</option>' % (_h(i), _h(i)) for i in sorted(set(
                   f['id'] for h in fleet['hosts'] for f in h['findings']))),
           '<button type="button" id="f-clear">Clear filters</button>',
           '<span id="shown"></span>', '</form>']
    if changes:
        cs = changes['summary']
        out += ['<h2>Changes since the previous report</h2>',
                '<p>Compared with the report generated %s: %d new finding(s), %d resolved, %d host(s) added, '
                '%d removed.</p>' % (_h(changes['previous_generated_at']), cs['new'], cs['resolved'],
                                     cs['hosts_added'], cs['hosts_removed'])]
        if changes['hosts_removed']:
            out.append('<p>Hosts removed: %s</p>' % _h(', '.join(changes['hosts_removed'])))
        out += ['<div class="pager" id="changes-pager"></div>',
                '<table id="changes"><thead><tr><th>Host</th><th>Change</th><th>Severity</th><th>Finding</th>'
                '<th>Subject</th></tr></thead><tbody></tbody></table>']
    out += ['<h2>Findings</h2>', '<p>Hosts with each finding in the current view; click one to show only its hosts.</p>',
            '<table id="findings"><thead><tr><th>Finding</th><th>Worst</th><th>CIS</th><th>Hosts</th><th>Findings</th>'
            '</tr></thead><tbody></tbody></table>',
            '<h2>Hosts</h2>', '<p>Click a column header to sort, a host for its details.</p>',
            '<div class="pager" id="hosts-pager"></div>',
            '<table id="hosts"><thead><tr><th data-col="name">Host</th><th data-col="status">Status</th>'
            '<th data-col="modes">Daemon modes</th><th data-col="worst" data-type="number">Worst</th>'
            + ''.join('<th data-col="%s" data-type="number">%s</th>' % (s, s.capitalize()) for s in reversed(SEVERITIES))
            + '</tr></thead><tbody></tbody></table>',
            '<section id="details"></section>',
            '<script type="application/json" id="fleet-data">%s</script>' % _script_json(_without_evidence(fleet)),
            '<script>%s</script>' % _JS, '</body>', '</html>']
    return '\n'.join(out) + '\n'


# --------------------------------------------------------------------------------------
# SARIF 2.1.0
# --------------------------------------------------------------------------------------

SARIF_SCHEMA_URI = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json'
SARIF_LEVELS = {'critical': 'error', 'high': 'error', 'medium': 'warning', 'low': 'note', 'info': 'note'}
# GitHub code scanning ranks security results by this rule property (CVSS-like, 0 to 10).
SARIF_SECURITY_SEVERITY = {'critical': '9.5', 'high': '7.5', 'medium': '5.0', 'low': '2.5', 'info': '0.0'}


def _uri_part(text):
    """Percent-encode everything but the unreserved characters of RFC 3986."""
    return quote(str(text).encode('utf-8'), safe='')


def finding_uri(host, subject):
    """host://<host>/<subject>, both percent-encoded: where a finding is, as a SARIF artifact."""
    return 'host://%s/%s' % (_uri_part(host), _uri_part(subject))


def sarif_rule_id(finding):
    """The CIS Docker Benchmark recommendation where there is one, else the finding id."""
    return finding['cis'] or finding['id']


def render_sarif(fleet):
    rules, index = [], {}
    results = []
    for host in fleet['hosts']:
        for f in host['findings']:
            rule_id = sarif_rule_id(f)
            if rule_id not in index:
                index[rule_id] = len(rules)
                rules.append({'id': rule_id, 'cis': bool(f['cis']), 'finding_ids': set(), 'worst': f['severity']})
            rule = rules[index[rule_id]]
            rule['finding_ids'].add(f['id'])
            if severity_rank(f['severity']) > severity_rank(rule['worst']):
                rule['worst'] = f['severity']
            results.append({
                'ruleId': rule_id,
                'ruleIndex': index[rule_id],
                'level': SARIF_LEVELS[f['severity']],
                'message': {'text': f['message'] or f['id']},
                'locations': [{
                    'physicalLocation': {'artifactLocation': {'uri': finding_uri(host['name'], f['subject'])}},
                    'logicalLocations': [{'name': f['subject'] or host['name'],
                                          'fullyQualifiedName': '%s/%s' % (host['name'], f['subject']),
                                          'kind': 'resource'}],
                }],
                'partialFingerprints': {'nsguardFinding/v1': '%s|%s|%s' % (host['name'], f['id'], f['subject'])},
                'properties': {'host': host['name'], 'finding': f['id'], 'severity': f['severity'],
                               'cis': f['cis'], 'subject': f['subject'], 'source': f['source']},
            })
    driver_rules = []
    for rule in rules:
        ids = sorted(rule['finding_ids'])
        text = ('CIS Docker Benchmark v1.6 recommendation %s (%s)' % (rule['id'], ', '.join(ids)) if rule['cis']
                else 'nsguard.docker audit finding %s' % rule['id'])
        driver_rules.append({
            'id': rule['id'],
            'name': ids[0] if len(ids) == 1 else rule['id'],
            'shortDescription': {'text': text},
            'defaultConfiguration': {'level': SARIF_LEVELS[rule['worst']]},
            'properties': {'findings': ids, 'security-severity': SARIF_SECURITY_SEVERITY[rule['worst']],
                           'tags': ['security', 'docker']},
        })
    notifications = [{
        'level': 'warning' if host['status'] == 'partial' else 'error',
        'message': {'text': '%s: %s: %s' % (host['name'], host['status'], '; '.join(host['errors']) or host['status'])},
        'locations': [{'physicalLocation': {'artifactLocation': {'uri': finding_uri(host['name'], '')}}}],
    } for host in fleet['hosts'] if host['status'] != 'ok']
    run = {
        'tool': {'driver': {'name': 'nsguard.docker', 'rules': driver_rules}},
        'invocations': [{'executionSuccessful': not notifications, 'toolExecutionNotifications': notifications}],
        'results': results,
        'properties': {'title': fleet['title'], 'generated_at': fleet['generated_at'],
                       'hosts': fleet['summary']['hosts']},
    }
    document = {'$schema': SARIF_SCHEMA_URI, 'version': '2.1.0', 'runs': [run]}
    # compact: at 10,000 hosts an indented log is several times larger, and tools read it
    return json.dumps(document, sort_keys=True, separators=(',', ':')) + '\n'


# --------------------------------------------------------------------------------------
# JUnit XML
# --------------------------------------------------------------------------------------

# Characters XML 1.0 does not allow, even escaped.
_XML_INVALID = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')


def _x(text):
    """Text for an XML attribute value or element content."""
    return xml_escape(_XML_INVALID.sub('\ufffd', '' if text is None else str(text)),
                      {'"': '&quot;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;'})


def _finding_line(f):
    return '%s %s %s: %s' % (f['severity'], f['id'], f['subject'], f['message'])


def render_junit(fleet, fail_on='none'):
    """A testsuite per host; in it, a testcase ``status`` (an error when the host's results
    are failed or missing, a failure when partial) and a testcase per finding id, failed when
    one of its findings is at or above ``fail_on`` (``none``: never)."""
    suites = []
    totals = {'tests': 0, 'failures': 0, 'errors': 0}
    for host in fleet['hosts']:
        cases = []
        failures = errors = 0
        name = _x(host['name'])
        if host['status'] in ('failed', 'missing'):
            errors += 1
            cases.append('<testcase classname="%s" name="status"><error type="%s" message="%s">%s</error></testcase>' % (
                name, host['status'], _x('host %s: %s' % (host['status'], '; '.join(host['errors']))),
                _x('\n'.join(host['errors']))))
        elif host['status'] == 'partial':
            failures += 1
            cases.append('<testcase classname="%s" name="status"><failure type="partial" message="%s">%s</failure>'
                         '</testcase>' % (name, _x('host partial: %s' % '; '.join(host['errors'] or ['not checked'])),
                                          _x('\n'.join(host['errors']))))
        else:
            cases.append('<testcase classname="%s" name="status"/>' % name)
        by_id = collections.OrderedDict()
        for f in sorted(host['findings'], key=lambda f: f['id']):
            by_id.setdefault(f['id'], []).append(f)
        for fid, findings in by_id.items():
            worst = max(findings, key=lambda f: severity_rank(f['severity']))['severity']
            lines = _x('\n'.join(_finding_line(f) for f in findings))
            if gate(findings, fail_on):
                failures += 1
                cases.append('<testcase classname="%s" name="%s"><failure type="%s" message="%s">%s</failure>'
                             '</testcase>' % (name, _x(fid), worst, _x('%d finding(s), worst %s, at or above %s' % (
                                 len(findings), worst, fail_on)), lines))
            else:
                cases.append('<testcase classname="%s" name="%s"><system-out>%s</system-out></testcase>' % (
                    name, _x(fid), lines))
        totals['tests'] += len(cases)
        totals['failures'] += failures
        totals['errors'] += errors
        suites.append('<testsuite name="%s" hostname="%s" tests="%d" failures="%d" errors="%d" skipped="0" '
                      'timestamp="%s">\n<properties><property name="status" value="%s"/>'
                      '<property name="max_severity" value="%s"/></properties>\n%s\n</testsuite>' % (
                          name, name, len(cases), failures, errors, _x(fleet['generated_at'].rstrip('Z')),
                          host['status'], host['max_severity'] or 'none', '\n'.join(cases)))
    head = ('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="%s" tests="%d" failures="%d" errors="%d">'
            % (_x(fleet['title']), totals['tests'], totals['failures'], totals['errors']))
    return '\n'.join([head] + suites + ['</testsuites>']) + '\n'


#: Report file -> function(fleet, fail_on) giving its text.
RENDERERS = collections.OrderedDict([
    ('fleet.json', lambda fleet, fail_on: to_json(fleet)),
    ('fleet.md', lambda fleet, fail_on: render_markdown(fleet)),
    ('fleet.html', lambda fleet, fail_on: render_html(fleet)),
    ('fleet.sarif', lambda fleet, fail_on: render_sarif(fleet)),
    ('fleet.junit.xml', render_junit),
])


def render_all(fleet, fail_on='none'):
    """File name -> text of every report file."""
    return dict((name, render(fleet, fail_on)) for name, render in RENDERERS.items())


# --------------------------------------------------------------------------------------
# Writing (used by the audit_report action plugin, on the controller)
# --------------------------------------------------------------------------------------

REPORT_FILES = tuple(RENDERERS)
#: The keys of the ``paths`` return value.
PATH_KEYS = {'json': 'fleet.json', 'markdown': 'fleet.md', 'html': 'fleet.html', 'sarif': 'fleet.sarif',
             'junit': 'fleet.junit.xml'}

ReportPlan = collections.namedtuple('ReportPlan', 'fleet paths contents changed_files')


def parse_mode(text):
    """Octal permission string such as '0640' -> int; ValueError otherwise."""
    mode = int(str(text), 8)
    if not 0 <= mode <= 0o7777:
        raise ValueError(text)
    return mode


def plan_report(dest, host_results, title=None, fail_on='none', mode=0o640, generated_at=None, write=False,
                previous_path=None):
    """What the report in ``dest`` becomes: the document, and the content (bytes) of the
    files whose content or mode differs. Reads ``dest`` through fileops (no link another
    user planted is followed); raises fileops.FileOpsError.

    The files are rendered one at a time. With ``write`` each file that differs is written
    atomically (fileops.atomic_write; ``dest`` made 0755 when missing) as soon as it is
    rendered, and its content is not kept, so at most the document and one file's text are
    in memory at once; without (check mode), nothing is written and the content of the
    files that differ is returned. The changes are those since ``previous_path`` (a
    fleet.json), by default since the fleet.json in ``dest``.
    """
    fleet = build_fleet(host_results, generated_at=generated_at, title=title)
    json_path = os.path.join(dest, 'fleet.json')
    if previous_path:
        fleet, json_text = against(fleet, _read_text(previous_path), _read_text(json_path))
    else:
        fleet, json_text = with_previous(fleet, _read_text(json_path))
    contents, changed = {}, []
    for name, render in RENDERERS.items():
        path = os.path.join(dest, name)
        data = (json_text if name == 'fleet.json' else render(fleet, fail_on)).encode('utf-8')
        current = fileops.read_file(path)
        if current.data != data or current.stat is None or stat.S_IMODE(current.stat.st_mode) != mode:
            changed.append(path)
            if write:
                _write(path, data, mode)
            else:
                contents[path] = data
        del current, data
    paths = dict((key, os.path.join(dest, name)) for key, name in PATH_KEYS.items())
    return ReportPlan(fleet, paths, contents, changed)


def _write(path, data, mode):
    fileops.atomic_write(path, data, mode=mode, create_dirs=True, dir_mode=0o755)
