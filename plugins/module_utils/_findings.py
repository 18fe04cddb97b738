# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Severities, findings and the ``fail_on`` gate.

Shared by namespace_audit, socket_audit, fleet_report, the audit modules and the
audit_report action. Standard library only; imports nothing of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


SEVERITIES = ('info', 'low', 'medium', 'high', 'critical')
FAIL_ON_CHOICES = ('none',) + SEVERITIES


def severity_rank(severity):
    """0 for info .. 4 for critical; -1 for 'none' or anything unknown."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return -1


def make_finding(finding_id, severity, cis, subject, message, evidence=None):
    if severity not in SEVERITIES:
        raise ValueError('unknown severity %r' % (severity,))
    return {
        'id': finding_id,
        'severity': severity,
        'cis': cis,
        'subject': subject,
        'message': message,
        'evidence': evidence if evidence is not None else {},
    }


def sort_findings(findings):
    """Most severe first, then by id and subject, so output is stable."""
    return sorted(findings, key=lambda f: (-severity_rank(f['severity']), f['id'], f['subject']))


def count_by_severity(findings):
    counts = dict((s, 0) for s in SEVERITIES)
    for finding in findings:
        if finding.get('severity') in counts:
            counts[finding['severity']] += 1
    return counts


def max_severity(findings):
    worst = None
    for finding in findings:
        if worst is None or severity_rank(finding.get('severity')) > severity_rank(worst):
            worst = finding.get('severity')
    return worst


def gate(findings, fail_on):
    """Findings at or above ``fail_on``; empty for fail_on == 'none'."""
    threshold = severity_rank(fail_on)
    if fail_on == 'none' or threshold < 0:
        return []
    return [f for f in findings if severity_rank(f.get('severity')) >= threshold]


def gate_message(module_name, hits, fail_on):
    counts = count_by_severity(hits)
    parts = ['%d %s' % (counts[s], s) for s in reversed(SEVERITIES) if counts[s]]
    ids = sorted(set(f['id'] for f in hits))
    return '%s: %d finding(s) at or above %s (%s): %s' % (
        module_name, len(hits), fail_on, ', '.join(parts), ', '.join(ids))


def incomplete_finding(errors, module_name='namespace_mode'):
    denied = sorted(set(e['path'] for e in errors if e.get('kind') == 'permission'))
    if not denied:
        return []
    return [make_finding(
        'audit-incomplete', 'low', None, 'host',
        '%d path(s) could not be read (permission denied); run %s with become: true '
        'for a complete audit.' % (len(denied), module_name),
        {'paths': denied[:20]})]
