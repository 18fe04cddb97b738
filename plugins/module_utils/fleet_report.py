# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fleet report: per-host results of namespace_mode and socket_exposure -> JSON, Markdown, HTML.

``build_fleet`` produces the document described by docs/audit-report.schema.json
(schema_version 1); ``render_markdown`` and ``render_html`` only format it. The HTML
is one self-contained page: inline CSS, a small inline script that sorts the host
table when a header is clicked, no external asset of any kind.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import re

from ansible_collections.nsguard.docker.plugins.module_utils.procfs import (
    SEVERITIES,
    count_by_severity,
    max_severity,
    severity_rank,
)

SCHEMA_VERSION = 1
MODULES = ('namespace_mode', 'socket_exposure')
MODES = ('default', 'userns-remap', 'rootless', 'unknown')
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
        'error': _str_or_none(entry.get('error')),
        'pid': _int_or_none(entry.get('pid')),
        'user': _str_or_none(entry.get('user')),
        'server_version': _str_or_none(entry.get('server_version')),
        'sockets': [str(s) for s in entry.get('sockets') or []],
        'containers': len(containers),
        'containers_root_is_host_root': sum(
            1 for c in containers if isinstance(c, dict) and c.get('root_is_host_root')),
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
        'sockets': [_socket(s) for s in se.get('sockets') or [] if isinstance(s, dict)],
        'tcp_endpoints': [_endpoint(e) for e in se.get('tcp_endpoints') or [] if isinstance(e, dict)],
        'findings': findings,
        'counts': count_by_severity(findings),
        'max_severity': max_severity(findings),
    }


def build_fleet(host_results, generated_at=None, title=None):
    """hostname -> {'namespace_mode': result, 'socket_exposure': result} -> fleet document."""
    hosts = [build_host(name, (host_results or {})[name]) for name in sorted(host_results or {}, key=str)]
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
    for host in hosts:
        statuses[host['status']] += 1
    return {
        'schema_version': SCHEMA_VERSION,
        'title': title or DEFAULT_TITLE,
        'generated_at': generated_at or _utc_now(),
        'summary': {
            'hosts': len(hosts),
            'host_status': statuses,
            'daemons': sum(len(h['daemons']) for h in hosts),
            'modes': modes,
            'findings': counts,
            'max_severity': worst,
        },
        'hosts': hosts,
    }


def to_json(fleet):
    return json.dumps(fleet, indent=2, sort_keys=True) + '\n'


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
    asked = (daemon['error'] or '').startswith(('not asked', 'Engine API not queried'))
    return ' (not asked)' if asked else ' (unreachable)'


def _modes_text(host):
    if not host['daemons']:
        return 'no Docker' if host['modules']['namespace_mode'] == 'ok' else '?'
    return ', '.join('%s: %s%s' % (d['id'], d['mode'], _reach_note(d))
                     for d in host['daemons'])


def render_markdown(fleet):
    summary = fleet['summary']
    lines = ['# %s' % _md(fleet['title']), '',
             'Generated %s. Schema version %d.' % (_md(fleet['generated_at']), fleet['schema_version']), '',
             '## Summary', '',
             '- Hosts: %d (%s)' % (summary['hosts'], ', '.join(
                 '%d %s' % (n, s) for s, n in sorted(summary['host_status'].items()) if n) or 'none'),
             '- Daemons: %d (%s)' % (summary['daemons'], ', '.join(
                 '%d %s' % (summary['modes'][m], m) for m in MODES if summary['modes'][m]) or 'none'),
             '- Findings: %s' % (', '.join(
                 '%d %s' % (summary['findings'][s], s) for s in reversed(SEVERITIES) if summary['findings'][s])
                 or 'none'),
             '', '## Hosts', '',
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
td.num{text-align:right}
.sev{display:inline-block;min-width:4.5rem;padding:0 .35rem;border-radius:.25rem;color:#fff;font-weight:600;text-align:center}
.zero{color:#9ca3af}
.status-ok{color:#166534}.status-partial{color:#a16207}.status-failed,.status-missing{color:#991b1b}
.mode-default{color:#b91c1c;font-weight:600}.mode-userns-remap,.mode-rootless{color:#166534}
.mode-unknown{color:#6b7280}
code{font-size:.85rem}
""" + ''.join('.sev-%s{background:%s}td.sev-%s{background:%s;color:#fff;font-weight:600}\n' % (s, c, s, c)
              for s, c in SEVERITY_COLOURS.items())

_JS = """
(function(){
  var table=document.getElementById('hosts');
  if(!table){return;}
  var heads=table.tHead.rows[0].cells;
  function key(cell,numeric){
    var v=cell.getAttribute('data-sort');
    if(v===null){v=cell.textContent.trim();}
    return numeric?parseFloat(v)||0:v.toLowerCase();
  }
  Array.prototype.forEach.call(heads,function(th,index){
    th.addEventListener('click',function(){
      var numeric=th.getAttribute('data-type')==='number';
      var asc=th.getAttribute('aria-sort')!=='ascending';
      Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var body=table.tBodies[0];
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=key(a.cells[index],numeric),y=key(b.cells[index],numeric);
        return (x<y?-1:x>y?1:0)*(asc?1:-1);
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
})();
"""


def _anchor(index, name):
    return 'host-%d-%s' % (index, re.sub(r'[^A-Za-z0-9_.-]', '-', str(name))[:60])


def _sev_cell(severity, count):
    if not count:
        return '<td class="num zero" data-sort="0">0</td>'
    return '<td class="num sev-%s" data-sort="%d">%d</td>' % (severity, count, count)


def _sev_badge(severity):
    return '<span class="sev sev-%s">%s</span>' % (_h(severity), _h(severity))


def render_html(fleet):
    summary = fleet['summary']
    out = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<title>%s</title>' % _h(fleet['title']), '<style>%s</style>' % _CSS, '</head>', '<body>',
           '<h1>%s</h1>' % _h(fleet['title']),
           '<p>Generated %s &middot; %d host(s) &middot; %d daemon(s): %s &middot; findings: %s</p>' % (
               _h(fleet['generated_at']), summary['hosts'], summary['daemons'],
               _h(', '.join('%d %s' % (summary['modes'][m], m) for m in MODES if summary['modes'][m]) or 'none'),
               ' '.join('%s&nbsp;%d' % (_sev_badge(s), summary['findings'][s])
                        for s in reversed(SEVERITIES) if summary['findings'][s]) or 'none'),
           '<h2>Hosts</h2>',
           '<p>Click a column header to sort.</p>',
           '<table id="hosts"><thead><tr><th>Host</th><th>Status</th><th>Daemon modes</th>'
           '<th data-type="number">Worst</th>'
           + ''.join('<th data-type="number">%s</th>' % s.capitalize() for s in reversed(SEVERITIES))
           + '</tr></thead><tbody>']
    for index, host in enumerate(fleet['hosts']):
        modes = ', '.join('<span class="mode-%s">%s: %s%s</span>' % (
            _h(d['mode']), _h(d['id']), _h(d['mode']), _reach_note(d))
            for d in host['daemons']) or _h(_modes_text(host))
        worst = host['max_severity']
        out.append(
            '<tr><td><a href="#%s">%s</a></td><td class="status-%s">%s</td><td>%s</td>'
            '<td data-sort="%d">%s</td>%s</tr>' % (
                _anchor(index, host['name']), _h(host['name']), _h(host['status']), _h(host['status']),
                modes, severity_rank(worst) if worst else -1, _sev_badge(worst) if worst else '-',
                ''.join(_sev_cell(s, host['counts'][s]) for s in reversed(SEVERITIES))))
    out.append('</tbody></table>')
    out.append('<h2>Details</h2>')
    for index, host in enumerate(fleet['hosts']):
        out.append('<section id="%s"><h3>%s <small class="status-%s">(%s)</small></h3>' % (
            _anchor(index, host['name']), _h(host['name']), _h(host['status']), _h(host['status'])))
        if host['errors']:
            out.append('<ul>%s</ul>' % ''.join('<li>%s</li>' % _h(e) for e in host['errors']))
        if host['skipped_checks']:
            out.append('<p>Not checked:</p><table class="skipped"><thead><tr><th>Module</th><th>Daemon</th>'
                       '<th>Check</th><th>Reason</th><th>Covered by /proc scan</th></tr></thead><tbody>')
            for c in host['skipped_checks']:
                out.append('<tr><td>%s</td><td>%s</td><td><code>%s</code></td><td>%s</td><td>%s</td></tr>' % (
                    _h(c['module']), _h(c['daemon'] or '-'), _h(c['check']), _h(c['reason']),
                    _yes_no(c['covered_by_proc_scan'])))
            out.append('</tbody></table>')
        if host['daemons']:
            out.append('<table><thead><tr><th>Daemon</th><th>Mode</th><th>Verified</th><th>Reachable</th>'
                       '<th>Version</th><th>Sockets</th><th>Containers</th><th>Root = host root</th>'
                       '</tr></thead><tbody>')
            for d in host['daemons']:
                out.append('<tr><td>%s</td><td class="mode-%s">%s</td><td>%s</td><td>%s</td><td>%s</td>'
                           '<td><code>%s</code></td><td class="num">%d</td><td class="num">%d</td></tr>' % (
                               _h(d['id']), _h(d['mode']), _h(d['mode']), 'yes' if d['mode_verified'] else 'no',
                               'yes' if d['reachable'] else 'no: %s' % _h(d['error']),
                               _h(d['server_version'] or '-'), _h(', '.join(d['sockets']) or '-'),
                               d['containers'], d['containers_root_is_host_root']))
            out.append('</tbody></table>')
        elif host['modules']['namespace_mode'] == 'ok':
            out.append('<p>No Docker daemon found.</p>')
        if host['sockets']:
            out.append('<table><thead><tr><th>Socket</th><th>Owner</th><th>Group</th><th>Mode</th>'
                       '<th>Who can connect</th></tr></thead><tbody>')
            for s in host['sockets']:
                out.append('<tr><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
                    _h(s['path']), _h(s['owner']), _h(s['group']), _h(s['mode']),
                    'everyone' if s['everyone'] else _h(', '.join(s['users']))))
            out.append('</tbody></table>')
        if host['tcp_endpoints']:
            out.append('<table><thead><tr><th>TCP endpoint</th><th>Role</th><th>Listening</th><th>TLS</th>'
                       '<th>Verify</th></tr></thead><tbody>')
            for e in host['tcp_endpoints']:
                out.append('<tr><td><code>%s:%s</code></td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
                    _h(e['address']), _h(e['port']), _h(e['role']), 'yes' if e['listening'] else 'no',
                    _yes_no(e['tls']), _yes_no(e['tlsverify'])))
            out.append('</tbody></table>')
        if host['findings']:
            out.append('<table><thead><tr><th>Severity</th><th>CIS</th><th>Finding</th><th>Subject</th>'
                       '<th>Message</th></tr></thead><tbody>')
            for f in host['findings']:
                out.append('<tr><td>%s</td><td>%s</td><td><code>%s</code></td><td><code>%s</code></td>'
                           '<td>%s</td></tr>' % (_sev_badge(f['severity']), _h(f['cis'] or '-'), _h(f['id']),
                                                 _h(f['subject']), _h(f['message'])))
            out.append('</tbody></table>')
        else:
            out.append('<p>No findings.</p>')
        out.append('</section>')
    out += ['<script>%s</script>' % _JS, '</body>', '</html>']
    return '\n'.join(out) + '\n'


def render_all(fleet):
    """{'fleet.json': text, 'fleet.md': text, 'fleet.html': text}."""
    return {'fleet.json': to_json(fleet), 'fleet.md': render_markdown(fleet),
            'fleet.html': render_html(fleet)}


# --------------------------------------------------------------------------------------
# Writing (used by the audit_report module)
# --------------------------------------------------------------------------------------

REPORT_FILES = ('fleet.json', 'fleet.md', 'fleet.html')


def _without_timestamp(doc):
    if not isinstance(doc, dict):
        return doc
    return dict((k, v) for k, v in doc.items() if k != 'generated_at')


def stable_timestamp(fleet, previous_json_text):
    """Keep the previous generated_at when nothing but the timestamp would change.

    That makes re-running the report over unchanged results idempotent (changed=false).
    """
    if not previous_json_text:
        return fleet
    try:
        previous = json.loads(previous_json_text)
    except ValueError:
        return fleet
    if not isinstance(previous, dict) or not isinstance(previous.get('generated_at'), str):
        return fleet
    # compare through JSON so tuples, ints and such compare as they would be written
    if json.loads(to_json(_without_timestamp(fleet))) == _without_timestamp(previous):
        fleet = dict(fleet, generated_at=previous['generated_at'])
    return fleet


def write_atomic(path, text, mode=0o640):
    """Write ``text`` to ``path`` through a temporary file in the same directory."""
    import os
    import tempfile
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path), suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(text.encode('utf-8'))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
