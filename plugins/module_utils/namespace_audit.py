# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""User namespace mode of every Docker daemon on a host, with the evidence.

Decision rules (``decide_mode``), applied in this order:

0. ``desktop-vm`` for Docker Desktop's socket (``~/.docker/desktop/docker.sock``): its
   engine runs in a VM, so container root is the VM's root, not this host's; verified when
   GET /info names Docker Desktop as its OperatingSystem.
1. ``rootless`` when the daemon runs in a user namespace other than PID 1's, or its
   effective uid is not 0, or its SecurityOptions contain ``name=rootless`` (or it was
   started with ``--rootless``).
2. ``userns-remap`` when SecurityOptions contain ``name=userns``, or userns-remap is
   configured (``--userns-remap`` on the command line or ``userns-remap`` in
   daemon.json) and the daemon answers with a DockerRootDir ending in ``/<uid>.<gid>``.
   A daemon that cannot be reached but has userns-remap on its command line or in its
   daemon.json is reported ``userns-remap`` with ``mode_verified: false``.
3. ``default`` otherwise, when there is evidence of a daemon at all (it answered, or a
   dockerd process was seen); containers then share the host user namespace and
   container root is host root.
4. ``unknown`` when there is neither: a socket on disk nobody answers on and no process.

``mode_basis`` names the evidence that decided; ``mode_source`` says whether it came
from the Engine API, the process, both, or nothing.

The functions below take parsed inputs (dicts from _daemons, _processes and engine_api)
and are pure; ``run_audit`` is the only one that reads the host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.nsguard.docker.plugins.module_utils import (
    _audit_module,
    _container_privilege,
    _daemons,
    _findings,
    _proc_parsers,
    _processes,
    mount_scan,
    subid,
)
from ansible_collections.nsguard.docker.plugins.module_utils.engine_api import (
    DEFAULT_TIMEOUT,
    query_daemon,
)

MODES = ('default', 'userns-remap', 'rootless', 'desktop-vm', 'unknown')
#: GET /info's OperatingSystem of Docker Desktop's engine.
DESKTOP_OS = 'Docker Desktop'
_REMAP_ROOT_DIR = re.compile(r'/(\d+)\.(\d+)/?$')
INSPECT_BUDGET = 3.0

#: Findings about containers, which only the Engine API lists: id -> (severity, CIS).
CONTAINER_FINDINGS = {'container-root-is-host-root': ('high', '5.30')}
#: Checks that need a daemon's Engine API, with the severity of what each finds: the
#: container findings; each container's privilege (_container_privilege: a privileged
#: container of a default daemon is critical); and the verification of the mode by
#: GET /info (a daemon configured for userns-remap but running in default mode is
#: userns-default-mode, high).
API_CHECKS = dict([(k, v[0]) for k, v in CONTAINER_FINDINGS.items()]
                  + [('container-privilege', 'critical'), ('mode-verification', 'high')])
#: Checks that look at each container the Engine API listed.
PER_CONTAINER_CHECKS = sorted(list(CONTAINER_FINDINGS) + ['container-privilege'])

# --------------------------------------------------------------------------------------
# Subordinate ID ranges
# --------------------------------------------------------------------------------------


def parse_subid(text):
    """/etc/subuid or /etc/subgid text -> (entries, invalid), by the subids role's own rules
    (module_utils.subid.scan: what that role would refuse to edit, the audit reports).

    entries: [{'owner', 'start', 'count', 'line'}] (line numbers from 1);
    invalid: [{'line', 'text', 'reason'}] for lines that are not owner:start:count.
    """
    lines, malformed = subid.scan(text or '')
    entries = [{'owner': line.owner, 'start': line.start, 'count': line.count, 'line': line.lineno}
               for line in lines if line.is_entry]
    invalid = [{'line': lineno, 'text': raw, 'reason': reason} for lineno, raw, reason in malformed]
    return entries, invalid


def principal_of(owner, users):
    """A principal key: numeric owners and names resolving to the same uid are one."""
    if owner.isdigit():
        return 'uid:%d' % int(owner)
    for user in users:
        if user['name'] == owner:
            return 'uid:%d' % user['uid']
    return 'name:%s' % owner


def subid_overlaps(entries, users):
    """Pairs of ranges of *different* principals that share host IDs.

    Sorted sweep: O(n log n + overlaps). Each overlap: {'owners', 'principals',
    'lines', 'start', 'end' (inclusive), 'count'}.
    """
    ordered = sorted(entries, key=lambda e: (e['start'], e['line']))
    overlaps = []
    for i, first in enumerate(ordered):
        first_end = first['start'] + first['count']
        first_principal = principal_of(first['owner'], users)
        for second in ordered[i + 1:]:
            if second['start'] >= first_end:
                break
            second_principal = principal_of(second['owner'], users)
            if second_principal == first_principal:
                continue
            start = second['start']
            end = min(first_end, second['start'] + second['count'])
            pair = sorted([(first['line'], first['owner'], first_principal),
                           (second['line'], second['owner'], second_principal)])
            overlaps.append({
                'owners': [p[1] for p in pair],
                'principals': [p[2] for p in pair],
                'lines': [p[0] for p in pair],
                'start': start,
                'end': end - 1,
                'count': end - start,
            })
    return overlaps


# --------------------------------------------------------------------------------------
# Mode decision
# --------------------------------------------------------------------------------------


def _has_option(security_options, name):
    for option in security_options or ():
        for part in str(option).split(','):
            if part.strip() == 'name=%s' % name:
                return True
    return False


def decide_mode(evidence):
    """Apply the documented rules to one daemon's evidence.

    evidence keys (None = not known): in_init_userns, euid, rootless_flag,
    security_options (None when the API did not answer), reachable, userns_remap_flag,
    userns_remap_config, docker_root_dir, has_process; desktop (Docker Desktop's socket)
    and operating_system (GET /info).
    Returns {'mode', 'mode_basis', 'mode_source', 'mode_verified'}.
    """
    reachable = bool(evidence.get('reachable'))
    has_process = bool(evidence.get('has_process'))
    sec = evidence.get('security_options') if reachable else None
    source = ('engine_api+process' if reachable and has_process else
              'engine_api' if reachable else 'process' if has_process else 'none')

    if evidence.get('desktop'):
        verified = reachable and DESKTOP_OS in str(evidence.get('operating_system') or '')
        return {'mode': 'desktop-vm', 'mode_basis': ['socket_path'] + (['operating_system'] if verified else []),
                'mode_source': 'engine_api' if reachable else 'none', 'mode_verified': verified}

    basis = []
    if evidence.get('in_init_userns') is False:
        basis.append('user_namespace')
    if evidence.get('euid') not in (None, 0):
        basis.append('euid')
    if evidence.get('rootless_flag'):
        basis.append('cmdline')
    if _has_option(sec, 'rootless'):
        basis.append('security_options')
    if basis:
        return {'mode': 'rootless', 'mode_basis': basis, 'mode_source': source,
                'mode_verified': reachable or 'user_namespace' in basis or 'euid' in basis}

    configured = []
    if evidence.get('userns_remap_flag'):
        configured.append('cmdline')
    if evidence.get('userns_remap_config'):
        configured.append('daemon_json')
    if _has_option(sec, 'userns'):
        return {'mode': 'userns-remap', 'mode_basis': ['security_options'] + configured,
                'mode_source': source, 'mode_verified': True}
    root_dir = evidence.get('docker_root_dir') if reachable else None
    if configured and root_dir and _REMAP_ROOT_DIR.search(root_dir):
        return {'mode': 'userns-remap', 'mode_basis': configured + ['docker_root_dir'],
                'mode_source': source, 'mode_verified': True}
    if configured and not reachable:
        return {'mode': 'userns-remap', 'mode_basis': configured, 'mode_source': source,
                'mode_verified': False}
    if reachable or has_process:
        used = []
        if evidence.get('in_init_userns') is True:
            used.append('user_namespace')
        if evidence.get('euid') == 0:
            used.append('euid')
        if reachable:
            used.append('security_options')
            if root_dir:
                used.append('docker_root_dir')
        return {'mode': 'default', 'mode_basis': used, 'mode_source': source,
                'mode_verified': reachable or (evidence.get('in_init_userns') is True
                                               and evidence.get('euid') == 0)}
    return {'mode': 'unknown', 'mode_basis': [], 'mode_source': source, 'mode_verified': False}


# --------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------


def evaluate_container(item, daemon_mode, container_proc=None, init_user_ns=None, host=None, server_version=None):
    """One running container -> its user namespace facts and its privilege verdict.

    ``item`` is an entry of GET /containers/json with the inspect result under
    'Inspect'; ``container_proc`` is what _container_proc read for State.Pid from the
    host's namespace (so a rootless daemon's nested map shows host ids directly): at least
    {'user_ns', 'uid_map'}, with 'status', 'namespaces', 'mounts', 'apparmor' and
    'socket_hits' for the verdict; None when it could not be read. ``host`` is PID 1's
    {'namespaces', 'mounts'} (_host_view). ``server_version``: the daemon's ServerVersion
    (Docker before 23.0 gives privileged containers three capabilities fewer).
    """
    inspect = item.get('Inspect') or {}
    host_config = inspect.get('HostConfig') or {}
    state = inspect.get('State') or {}
    config = inspect.get('Config') or {}
    name = inspect.get('Name') or ((item.get('Names') or [''])[0])
    userns_mode = host_config.get('UsernsMode')
    container_proc = container_proc or {}
    user_ns = container_proc.get('user_ns')
    uid_map_text = container_proc.get('uid_map')

    if user_ns and init_user_ns:
        shares, shares_basis = user_ns == init_user_ns, 'ns_inode'
    elif daemon_mode == 'desktop-vm':  # a user namespace of the VM's kernel, whatever UsernsMode
        shares, shares_basis = False, 'daemon_mode'
    elif userns_mode == 'host' and daemon_mode in ('default', 'userns-remap'):
        shares, shares_basis = True, 'userns_mode'
    elif daemon_mode == 'default':
        shares, shares_basis = True, 'daemon_mode'
    elif daemon_mode in ('userns-remap', 'rootless') and userns_mode != 'host':
        shares, shares_basis = False, 'daemon_mode'
    elif daemon_mode == 'rootless':
        shares, shares_basis = False, 'daemon_mode'
    else:
        shares, shares_basis = None, 'unknown'

    uid_map = _proc_parsers.parse_id_map(uid_map_text) if uid_map_text is not None else None
    if uid_map:
        root_host_uid = _proc_parsers.map_id(uid_map, 0)
        root_is_host_root, root_basis = root_host_uid == 0, 'uid_map'
    elif shares:
        root_host_uid, root_is_host_root, root_basis = 0, True, 'shares_host_userns'
    else:
        root_host_uid, root_is_host_root, root_basis = None, None, 'unknown'

    host = host or {}
    evidence = _container_privilege.container_evidence(
        inspect=inspect or None, status_text=container_proc.get('status'), uid_map_text=uid_map_text,
        namespaces=container_proc.get('namespaces') or ({'user': user_ns} if user_ns else None),
        init_namespaces=host.get('namespaces') or ({'user': init_user_ns} if init_user_ns else None),
        mounts=container_proc.get('mounts'), init_mounts=host.get('mounts'), daemon_mode=daemon_mode,
        apparmor_label=container_proc.get('apparmor'), socket_hits=container_proc.get('socket_hits'),
        server_version=server_version)
    verdict = _container_privilege.container_verdict(evidence, daemon_mode)
    return {
        'id': (item.get('Id') or inspect.get('Id') or '')[:12],
        'name': name.lstrip('/'),
        'image': item.get('Image') or config.get('Image'),
        'pid': state.get('Pid') or None,
        'user': config.get('User') or '',
        'userns_mode': userns_mode or '',
        'user_namespace': user_ns,
        'shares_host_userns': shares,
        'shares_host_userns_basis': shares_basis,
        'uid_map': uid_map,
        'root_host_uid': root_host_uid,
        'root_is_host_root': root_is_host_root,
        'root_is_host_root_basis': root_basis,
        'verdict': verdict['verdict'],
        'verdict_reasons': verdict['reasons'],
        'privilege': evidence,
    }


# --------------------------------------------------------------------------------------
# Daemon report and findings
# --------------------------------------------------------------------------------------


def build_daemon_report(daemon, api, config, config_path, config_error, init_ns, users,
                        containers=None):
    """Evidence of one daemon (from _daemons.discover_daemons, engine_api.query_daemon and
    its daemon.json) -> the daemon entry of the module result."""
    proc = daemon.get('process')
    api = api or {'reachable': False, 'error': 'not queried', 'info': None}
    info = api.get('info') or {}
    args = proc['args'] if proc else {}
    init_user_ns = init_ns.get('user')
    in_init = None
    if proc and proc['ns'].get('user') and init_user_ns:
        in_init = proc['ns']['user'] == init_user_ns
    evidence = {
        'has_process': proc is not None,
        'in_init_userns': in_init,
        'euid': proc.get('euid') if proc else None,
        'rootless_flag': args.get('rootless'),
        'reachable': api.get('reachable'),
        'security_options': info.get('SecurityOptions'),
        'docker_root_dir': info.get('DockerRootDir'),
        'userns_remap_flag': args.get('userns_remap'),
        'userns_remap_config': (config or {}).get('userns-remap') if isinstance(config, dict) else None,
        'desktop': daemon['kind'] == 'desktop',
        'operating_system': info.get('OperatingSystem'),
    }
    decision = decide_mode(evidence)
    uid = daemon.get('uid')
    report = {
        'id': daemon['key'],
        'kind': daemon['kind'],
        'pid': daemon.get('pid'),
        'uid': uid,
        'user': _daemons.user_name(users, uid) if uid is not None else None,
        'sockets': list(daemon.get('sockets') or []),
        'reachable': bool(api.get('reachable')),
        'error': api.get('error'),
        'idle': bool(api.get('idle')),
        'queried': not api.get('not_asked') and not api.get('idle'),
        'api_attempts': api.get('attempts') or 0,
        'containers_listed_by': api.get('listed_by'),
        'server_version': info.get('ServerVersion'),
        'docker_root_dir': info.get('DockerRootDir'),
        'security_options': info.get('SecurityOptions') if api.get('reachable') else None,
        'userns_remap': {
            'flag': evidence['userns_remap_flag'],
            'config': evidence['userns_remap_config'],
            'config_file': config_path,
            'config_error': config_error,
        },
        'process': None,
        'containers': containers or [],
        'containers_truncated': api.get('truncated', 0),
        'container_errors': list(api.get('inspect_errors') or []),
    }
    report.update(decision)
    if proc:
        report['process'] = {
            'pid': proc['pid'],
            'cmdline': proc['cmdline'],
            'euid': proc.get('euid'),
            'user_namespace': proc['ns'].get('user'),
            'init_user_namespace': init_user_ns,
            'in_init_user_namespace': in_init,
            'uid_map': proc.get('uid_map'),
        }
    return report


def check_severity(check, mode):
    """The highest severity ``check`` can find under a daemon of ``mode``: inside a rootless
    daemon's user namespace a container's privilege findings are low at most (the socket
    mounts that stay high are socket_exposure's)."""
    if check == 'container-privilege' and mode in ('rootless', 'desktop-vm'):
        return 'low'
    return API_CHECKS[check]


def _skipped(daemon, check, reason, kind):
    return {'daemon': daemon['id'], 'check': check, 'reason': reason, 'kind': kind,
            'severity': check_severity(check, daemon.get('mode'))}


def skipped_checks(daemon):
    """What could not be checked for one daemon report: entries {'daemon', 'check',
    'reason', 'kind', 'severity'}, kind unanswered (no answer, or an error instead of the
    container listing), truncated (containers not inspected) or not_asked (query_api=false).

    A socket no dockerd serves that was left alone (``idle``) skips nothing: there is no
    daemon to ask (its daemon-not-running finding says so).
    """
    if daemon.get('idle'):
        return []
    # GET /info can only change a mode that rests on configuration (mode_verified false).
    checks = [c for c in sorted(API_CHECKS) if c != 'mode-verification' or not daemon.get('mode_verified')]
    if not daemon.get('queried', True):
        return [_skipped(daemon, c, 'the Engine API was not asked (query_api=false)', 'not_asked')
                for c in checks]
    if not daemon['reachable']:
        reason = 'the Engine API did not answer (%s; %d attempt(s))' % (
            daemon['error'], daemon.get('api_attempts') or 0)
        return [_skipped(daemon, c, reason, 'unanswered') for c in checks]
    entries = []
    if daemon['error']:
        entries += [_skipped(daemon, c, 'the Engine API gave no container listing (%s)' % daemon['error'],
                             'unanswered') for c in PER_CONTAINER_CHECKS]
    missed = (daemon.get('containers_truncated') or 0) + len(daemon.get('container_errors') or [])
    if missed:
        entries += [_skipped(daemon, c, '%d container(s) not inspected (%d over the time budget, %d '
                             'failed)' % (missed, daemon.get('containers_truncated') or 0,
                                          len(daemon.get('container_errors') or [])), 'truncated')
                    for c in PER_CONTAINER_CHECKS]
    return entries


def daemon_findings(daemon):
    findings = []
    subject = 'daemon:%s' % daemon['id']
    evidence = {'mode_basis': daemon['mode_basis'], 'mode_source': daemon['mode_source'],
                'sockets': daemon['sockets'], 'pid': daemon['pid']}
    if daemon['mode'] == 'default':
        remap = daemon['userns_remap']
        message = ('Containers of this daemon share the host user namespace: container root '
                   'is host root (uid 0). Enable userns-remap or run Docker rootless.')
        if remap.get('flag') or remap.get('config'):
            message += (' userns-remap is configured (%s) but not in effect: restart dockerd.'
                        % (remap.get('flag') or remap.get('config')))
        evidence['docker_root_dir'] = daemon['docker_root_dir']
        evidence['userns_remap'] = remap
        findings.append(_findings.make_finding('userns-default-mode', 'high', '2.9', subject, message, evidence))
    if daemon.get('idle'):
        findings.append(_audit_module.idle_finding(daemon['id'], daemon['sockets'], 'namespace_mode'))
    if daemon['mode'] == 'desktop-vm':
        findings.append(_findings.make_finding(
            'desktop-vm-engine', 'info', None, subject,
            "Docker Desktop's engine runs in a VM: container root is the VM's root, not this host's, "
            'and host files shared with the VM are reached as %s. This host\'s /proc shows none of its '
            'containers: their verdicts rest on the Engine API alone, and the VM\'s kernel settings '
            'cannot be read from here.' % (daemon['user'] or 'uid %s' % daemon['uid']),
            {'sockets': daemon['sockets'], 'uid': daemon['uid'], 'user': daemon['user'],
             'mode_verified': daemon['mode_verified']}))
    gaps = [e for e in skipped_checks(daemon) if e['kind'] != 'not_asked']
    if gaps:
        # As severe as what the skipped checks find (API_CHECKS).
        checks = sorted(set(e['check'] for e in gaps))
        worst = _findings.max_severity([{'severity': e['severity']} for e in gaps])
        what = ('its mode comes from process evidence only (%s)' % ', '.join(daemon['mode_basis'])
                if daemon['pid'] else 'no dockerd process serves this socket')
        findings.append(_findings.make_finding(
            'audit-incomplete', worst, None, subject,
            'Not checked for daemon %s (findings up to %s): %s; %s; %s.' % (
                daemon['id'], worst, ', '.join(checks), '; '.join(sorted(set(e['reason'] for e in gaps))),
                what if not daemon['reachable'] else 'its mode was verified by GET /info'),
            {'error': daemon['error'], 'sockets': daemon['sockets'], 'pid': daemon['pid'],
             'mode': daemon['mode'], 'mode_verified': daemon['mode_verified'],
             'skipped_checks': checks, 'reasons': sorted(set(e['reason'] for e in gaps))}))
    for container in daemon['containers']:
        if container.get('privilege'):
            findings.extend(container_privilege_findings(daemon, container))
        if daemon['mode'] != 'default' and container.get('root_is_host_root'):
            severity, cis = CONTAINER_FINDINGS['container-root-is-host-root']
            findings.append(_findings.make_finding(
                'container-root-is-host-root', severity, cis,
                'container:%s/%s' % (daemon['id'], container['name'] or container['id']),
                'Container root maps to host uid 0 although the daemon runs %s '
                '(UsernsMode=%r): it escapes the namespace isolation.'
                % (daemon['mode'], container['userns_mode']),
                {'container_id': container['id'], 'userns_mode': container['userns_mode'],
                 'uid_map': container['uid_map'], 'basis': container['root_is_host_root_basis']}))
    return findings


def container_privilege_findings(daemon, container):
    """_container_privilege's findings of one container, rated by where its capabilities
    act. A mount that matters only because it is a Docker socket (or a directory holding
    one) is socket_exposure's (container-mounts-socket, CIS 5.31, matched by inode too): it
    is left out here and still counts in the verdict."""
    subject = 'container:%s/%s' % (daemon['id'], container['name'] or container['id'])
    evidence = dict(container['privilege'])
    evidence['sensitive_mounts'] = [m for m in evidence['sensitive_mounts']
                                    if not m['socket'] or m['host_write']]
    verdict = {'verdict': container['verdict'], 'reasons': container['verdict_reasons']}
    findings = _container_privilege.container_findings(subject, evidence, verdict, daemon['mode'])
    for finding in findings:
        finding['evidence']['container_id'] = container['id']
    return findings


def subid_findings(name, entries, invalid, overlaps):
    findings = []
    for overlap in overlaps:
        findings.append(_findings.make_finding(
            'subid-overlap', 'high', None,
            '%s:%s' % (name, '+'.join(overlap['owners'])),
            '/etc/%s: %s and %s share %d host IDs (%d-%d): a process of one can reach '
            'files and processes of the other.' % (
                name, overlap['owners'][0], overlap['owners'][1], overlap['count'],
                overlap['start'], overlap['end']),
            overlap))
    if invalid:
        findings.append(_findings.make_finding(
            'subid-malformed', 'low', None, '%s' % name,
            '/etc/%s has %d line(s) that are not owner:start:count; shadow-utils and '
            'dockerd ignore or reject them.' % (name, len(invalid)),
            {'lines': invalid}))
    return findings


def kernel_findings(kernel, rootful=False):
    """Hardening baselines that break user namespaces or Docker, each with the setting that
    fixes it. ``rootful``: a rootful daemon (default or userns-remap) runs here."""
    findings = []
    disabled, fixes = [], []
    if kernel.get('max_user_namespaces') == 0:
        disabled.append('user.max_user_namespaces=0')
        fixes.append('user.max_user_namespaces=28633')
    if kernel.get('unprivileged_userns_clone') == 0:
        disabled.append('kernel.unprivileged_userns_clone=0')
        fixes.append('kernel.unprivileged_userns_clone=1')
    if disabled:
        findings.append(_findings.make_finding(
            'kernel-userns-disabled', 'info', None, 'kernel',
            'Unprivileged user namespaces are disabled (%s): rootless Docker cannot run here. A '
            'hardening baseline sets this; %s fixes it (the rootless role does with '
            'rootless_enable_userns: true).' % (', '.join(disabled), ' and '.join(fixes)),
            dict(kernel, fix=fixes)))
    if rootful and kernel.get('ip_forward') == 0:
        findings.append(_findings.make_finding(
            'kernel-ip-forward-off', 'medium', None, 'kernel',
            'IPv4 forwarding is off (net.ipv4.ip_forward=0) while a rootful Docker daemon runs: '
            'containers on its bridge networks reach nothing outside this host and published ports '
            'break. dockerd turns it on when it starts, so a hardening baseline applied afterwards '
            'set it; net.ipv4.ip_forward=1 fixes it.', dict(kernel, fix=['net.ipv4.ip_forward=1'])))
    if kernel.get('apparmor_restrict_unprivileged_userns') == 1:
        findings.append(_findings.make_finding(
            'apparmor-userns-restricted', 'info', None, 'kernel',
            'AppArmor restricts unprivileged user namespaces '
            '(kernel.apparmor_restrict_unprivileged_userns=1): rootless Docker needs an '
            'AppArmor profile for rootlesskit.', dict(kernel)))
    return findings


def summarize(daemons, findings):
    modes = dict((m, 0) for m in MODES)
    for daemon in daemons:
        modes[daemon['mode']] = modes.get(daemon['mode'], 0) + 1
    counts = _findings.count_by_severity(findings)
    worst = _findings.max_severity(findings)
    if daemons:
        def note(daemon):
            if daemon['reachable']:
                return ''
            return '(not running)' if daemon.get('idle') else '(unreachable)'
        described = ', '.join('%s=%s%s' % (d['id'], d['mode'], note(d)) for d in daemons)
    else:
        described = 'no Docker daemon'
    text = '%s; findings: %s' % (described, ', '.join(
        '%d %s' % (counts[s], s) for s in reversed(_findings.SEVERITIES) if counts[s]) or 'none')
    return {'daemons': len(daemons), 'modes': modes, 'counts': counts,
            'max_severity': worst, 'max_severity_rank': _findings.severity_rank(worst) if worst else -1,
            'text': text}


# --------------------------------------------------------------------------------------
# Orchestration (the only part that touches the host)
# --------------------------------------------------------------------------------------


def _apparmor_label(fs, pid):
    """/proc/<pid>/attr/apparmor/current (kernels with stacked LSMs), else attr/current;
    None when neither reads (no LSM: EINVAL), which is no gap in the audit."""
    for name in ('attr/apparmor/current', 'attr/current'):
        data, _exc = fs.try_read('/proc/%d/%s' % (pid, name), 4096)
        if data is not None:
            return data.decode('utf-8', 'replace').rstrip('\x00\n')
    return None


def _host_view(fs, daemons):
    """PID 1's namespaces and mounts, and the Docker sockets by inode: what a container's
    /proc is compared with. Read once, and only when a container is looked at."""
    namespaces = _processes.namespaces_of(fs, 1, _container_privilege.NAMESPACES)
    text = fs.read_text('/proc/1/mountinfo', missing_ok=True)
    mounts = mount_scan.parse_mountinfo(text) if text is not None else None
    sockets = []
    for daemon in daemons:
        for path in daemon.get('sockets') or ():
            inode = mount_scan.socket_inode(fs.stat(path, missing_ok=True))
            if inode is not None:
                sockets.append({'path': path, 'inode': inode})
    inodes = {}
    for sock in sockets:
        inodes.setdefault(tuple(sock['inode']), _daemons.canonical_socket_path(sock['path']))
    return {'namespaces': namespaces, 'mounts': mounts, 'inodes': inodes,
            'locations': mount_scan.socket_locations(sockets, mounts) if mounts is not None else []}


def _container_proc(fs, pid, host):
    """What the host's /proc shows of one container process (see evaluate_container)."""
    if not pid:
        return None
    base = '/proc/%d' % pid
    namespaces = dict((kind, fs.readlink('%s/ns/%s' % (base, kind)))
                      for kind in _container_privilege.NAMESPACES)
    text = fs.read_text(base + '/mountinfo')
    mounts = mount_scan.parse_mountinfo(text, mount_scan.MAX_MOUNTS) if text is not None else None
    hits = truncated = None
    if mounts is not None and host['mounts'] is not None:
        hits, truncated = mount_scan.match_namespace(fs, pid, mounts, host['locations'], host['inodes'],
                                                     host['mounts'])
    return {
        'user_ns': namespaces['user'],
        'uid_map': fs.read_text(base + '/uid_map'),
        'status': fs.read_text(base + '/status'),
        'namespaces': namespaces,
        'mounts': mounts,
        'apparmor': _apparmor_label(fs, pid),
        'socket_hits': hits,
        'directories_truncated': truncated,
    }


def run_audit(fs, query_api=True, timeout=DEFAULT_TIMEOUT, query=query_daemon,
              connect_idle_sockets=False):
    """Audit the host behind ``fs`` (a _hostfs.HostFS). Returns the module result body."""
    daemons, context = _daemons.discover_daemons(fs)
    init_ns = context['init_ns']
    users = context['users']
    reports = []
    host = None  # _host_view, read for the first container
    # Containers /proc shows: inspected instead of dockerd's listing when they are all of
    # a daemon's (engine_api._inspect_candidates); asked for only when a daemon is queried.
    candidates = None
    if query_api and any(d.get('pid') is not None or connect_idle_sockets for d in daemons):
        candidates = mount_scan.container_ids(fs)
    for daemon in sorted(daemons, key=lambda d: d['key']):
        proc = daemon.get('process')
        config, config_path, config_error = daemon['config'], daemon['config_path'], daemon['config_error']
        api = None
        if query_api and _daemons.awaits_process(daemon) and not connect_idle_sockets:
            # No dockerd runs: with socket activation a connection would start one.
            api = {'reachable': False, 'info': None, 'idle': True,
                   'error': 'not asked: no dockerd process serves this socket (connect_idle_sockets=false)'}
        elif query_api:
            present = [p for p in daemon['sockets'] if fs.exists(p)] or daemon['sockets'][:1]
            for path in present:
                api = query(fs.path(path), timeout=timeout, containers=True, inspect=True,
                            budget=INSPECT_BUDGET,
                            candidates=None if daemon['kind'] == 'desktop' else candidates)
                if api.get('reachable'):
                    break
            if api is None:
                api = {'reachable': False, 'error': 'no socket known for this daemon', 'info': None}
        else:
            api = {'reachable': False, 'error': 'Engine API not queried (query_api=false)', 'info': None,
                   'not_asked': True}
        report = build_daemon_report(daemon, api, config, config_path, config_error, init_ns, users)
        # Docker Desktop's container pids are its VM's: this host's /proc is not theirs
        same_pidns = daemon['kind'] != 'desktop'
        if proc and proc['ns'].get('pid') and init_ns.get('pid'):
            same_pidns = proc['ns']['pid'] == init_ns['pid']
        containers = []
        for item in api.get('containers') or []:
            pid = ((item.get('Inspect') or {}).get('State') or {}).get('Pid')
            cproc = None
            if same_pidns and isinstance(pid, int) and pid > 0:
                host = host or _host_view(fs, daemons)
                cproc = _container_proc(fs, pid, host)
            containers.append(evaluate_container(item, report['mode'], cproc, init_ns.get('user'), host,
                                                 report['server_version']))
            if cproc and cproc['directories_truncated']:
                containers[-1]['directories_truncated'] = cproc['directories_truncated']
        report['containers'] = containers
        report['container_pids_in_host_pidns'] = same_pidns
        reports.append(report)

    kernel = _processes.kernel_userns_state(fs)
    subids = {}
    findings = []
    for name in ('subuid', 'subgid'):
        text = fs.read_text('/etc/%s' % name, missing_ok=True)
        entries, invalid = parse_subid(text)
        overlaps = subid_overlaps(entries, users)
        subids[name] = {'present': text is not None, 'entries': entries, 'invalid': invalid,
                        'overlaps': overlaps}
        findings.extend(subid_findings(name, entries, invalid, overlaps))
    for report in reports:
        findings.extend(daemon_findings(report))
    findings.extend(kernel_findings(kernel, any(r['mode'] in ('default', 'userns-remap') and r.get('pid')
                                                for r in reports)))
    findings.extend(_findings.incomplete_finding(fs.errors, 'namespace_mode'))
    findings = _findings.sort_findings(findings)
    skipped = [e for report in reports for e in skipped_checks(report)]
    skipped.extend(_audit_module.unreadable_checks(fs.errors))
    return {
        'daemons': reports,
        'complete': not skipped,
        'skipped_checks': [_audit_module.public_skipped(e) for e in skipped],
        'init_user_namespace': init_ns.get('user'),
        'kernel': kernel,
        'subordinate_ids': subids,
        'findings': findings,
        'summary': summarize(reports, findings),
        'errors': list(fs.errors),
        'scan': context['stats'],
    }
