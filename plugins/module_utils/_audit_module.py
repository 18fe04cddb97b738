# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared audit module plumbing (namespace_mode and socket_exposure).

The options every audit module takes, the HostFS below the module's roots, the
daemon-not-running finding and skipped_checks helpers, and the module's exit (never
changed; failed when a finding reaches ``fail_on``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.nsguard.docker.plugins.module_utils._findings import (
    FAIL_ON_CHOICES,
    gate,
    gate_message,
    make_finding,
)
from ansible_collections.nsguard.docker.plugins.module_utils._hostfs import HostFS


def audit_argument_spec(**extra):
    """Argument spec of an audit module: the options every audit module takes, plus ``extra``."""
    spec = dict(
        query_api=dict(type='bool', default=True),
        connect_idle_sockets=dict(type='bool', default=False),
        api_timeout=dict(type='float', default=10.0),
        fail_on=dict(type='str', default='none', choices=list(FAIL_ON_CHOICES)),
        proc_root=dict(type='path', default='/proc'),
        etc_root=dict(type='path', default='/etc'),
        run_root=dict(type='path', default='/run'),
    )
    spec.update(extra)
    return spec


def module_host_fs(module):
    """Check ``api_timeout`` and return the HostFS below the module's proc/etc/run roots."""
    params = module.params
    if params['api_timeout'] <= 0:
        module.fail_json(msg='api_timeout must be greater than 0')
    return HostFS(params['proc_root'], params['etc_root'], params['run_root'])


def idle_finding(daemon_key, sockets, module_name='socket_exposure'):
    """A socket that no running dockerd serves, left alone (connect_idle_sockets=false)."""
    where = ('files, units and /proc; containers mounting a Docker socket from the /proc scan'
             if module_name == 'socket_exposure' else 'files and /proc (process evidence)')
    return make_finding(
        'daemon-not-running', 'info', None, 'daemon:%s' % daemon_key,
        'No running dockerd serves %s, so its Engine API was not asked: connecting to a '
        'socket that systemd holds (docker.socket) would start the daemon, and the audit is '
        'read-only. The findings for it come from %s. Set connect_idle_sockets=true to ask it '
        'anyway.' % (', '.join(sockets), where),
        {'sockets': list(sockets), 'engine_api_asked': False})


def unreadable_checks(errors):
    """The skipped_checks entry for paths that could not be read (permission denied)."""
    denied = sorted(set(e['path'] for e in errors if e.get('kind') == 'permission'))
    if not denied:
        return []
    return [{'daemon': None, 'check': 'unreadable paths',
             'reason': 'permission denied on %d path(s), e.g. %s: run with become: true'
             % (len(denied), denied[0]), 'kind': 'unreadable', 'severity': 'low'}]


def public_skipped(entry):
    """A skipped_checks entry as the modules return it."""
    return dict((k, entry[k]) for k in ('daemon', 'check', 'reason', 'kind', 'severity',
                                        'covered_by_proc_scan') if k in entry)


def exit_audit(module, module_name, result):
    """End an audit module: never changed; fail when a finding reaches ``fail_on``."""
    result['changed'] = False
    fail_on = module.params['fail_on']
    hits = gate(result['findings'], fail_on)
    if hits:
        module.fail_json(msg=gate_message(module_name, hits, fail_on), **result)
    module.exit_json(**result)
