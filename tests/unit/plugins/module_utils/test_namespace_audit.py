# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/namespace_audit.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.nsguard.docker.plugins.module_utils import namespace_audit as na
from ansible_collections.nsguard.docker.plugins.module_utils import _findings, _proc_parsers

from audit_helpers import fakehost


USERS = _proc_parsers.parse_etc_passwd(fakehost.fixture_text('etc', 'passwd'))
ROOTLESS_NS = fakehost.ROOTLESS_NS
ROOTLESS_MAP = fakehost.ROOTLESS_MAP
REMAP_NS = fakehost.REMAP_NS
REMAP_MAP = fakehost.REMAP_MAP


def ids(findings):
    return sorted((f['id'], f['subject']) for f in findings)


# ------------------------------------------------------------------ subordinate ids

def test_parse_subid_fixture():
    entries, invalid = na.parse_subid(fakehost.fixture_text('etc', 'subuid'))
    assert [(e['owner'], e['start'], e['count']) for e in entries][:3] == [
        ('dockremap', 100000, 65536), ('alice', 165536, 65536), ('1000', 231072, 65536)]
    assert [i['text'] for i in invalid] == ['broken line', 'eve:-5:10']
    assert all(e['line'] > 1 for e in entries)  # the comment is line 1


def test_subid_lines_are_read_by_the_subid_modules_rules():
    text = 'alice:100000:65536\r\nbob:0165536:10\n carol:1:2\nzero:5:0\n'
    entries, invalid = na.parse_subid(text)
    # what the subids role would refuse to edit is what the audit reports
    assert [(i['line'], i['reason'].split(' ')[0]) for i in invalid] == [
        (1, 'carriage'), (2, 'start'), (3, 'white')]
    assert 'leading zero' in invalid[1]['reason']
    assert [(e['owner'], e['count'], e['line']) for e in entries] == [('zero', 0, 4)]
    assert na.parse_subid(None) == ([], [])


def test_overlaps_between_principals_only():
    entries, _invalid = na.parse_subid(fakehost.fixture_text('etc', 'subuid'))
    overlaps = na.subid_overlaps(entries, USERS)
    pairs = sorted(tuple(o['owners']) for o in overlaps)
    # 1000 is alice (not bob); toor and root are both uid 0: one principal, no overlap
    assert pairs == [('1000', 'bob'), ('1000', 'carol'), ('bob', 'carol')]
    bob_carol = [o for o in overlaps if o['owners'] == ['bob', 'carol']][0]
    assert (bob_carol['start'], bob_carol['end'], bob_carol['count']) == (290000, 296607, 6608)
    assert bob_carol['principals'] == ['uid:1001', 'uid:1002']


def test_numeric_owner_and_name_are_one_principal():
    entries = na.parse_subid('alice:100000:65536\n1000:100000:65536\n')[0]
    assert na.subid_overlaps(entries, USERS) == []
    entries = na.parse_subid('alice:100000:65536\nunknownuser:100000:10\n')[0]
    assert na.subid_overlaps(entries, USERS)[0]['principals'] == ['uid:1000', 'name:unknownuser']


def test_adjacent_ranges_do_not_overlap():
    entries = na.parse_subid('alice:100000:65536\nbob:165536:65536\n')[0]
    assert na.subid_overlaps(entries, USERS) == []
    entries = na.parse_subid('alice:100000:65536\nbob:165535:1\n')[0]
    assert [(o['start'], o['count']) for o in na.subid_overlaps(entries, USERS)] == [(165535, 1)]


@given(st.lists(st.tuples(st.sampled_from(['alice', 'bob', '1000', '1001', 'carol', 'x']),
                          st.integers(0, 300), st.integers(1, 60)), max_size=8))
def test_overlaps_match_brute_force(rows):
    text = '\n'.join('%s:%d:%d' % row for row in rows)
    entries, invalid = na.parse_subid(text)
    assert invalid == []
    found = set((tuple(o['lines']), o['start'], o['count']) for o in na.subid_overlaps(entries, USERS))
    expected = set()
    for i, (o1, s1, c1) in enumerate(rows):
        for j, (o2, s2, c2) in enumerate(rows[i + 1:], i + 1):
            if na.principal_of(o1, USERS) == na.principal_of(o2, USERS):
                continue
            lo, hi = max(s1, s2), min(s1 + c1, s2 + c2)
            if lo < hi:
                expected.add(((i + 1, j + 1), lo, hi - lo))
    assert found == expected


# ------------------------------------------------------------------ mode decision

def _evidence(**kw):
    base = {'has_process': True, 'in_init_userns': True, 'euid': 0, 'rootless_flag': None,
            'reachable': True, 'security_options': ['name=apparmor', 'name=seccomp,profile=builtin'],
            'docker_root_dir': '/var/lib/docker', 'userns_remap_flag': None, 'userns_remap_config': None}
    base.update(kw)
    return base


def test_mode_default():
    decision = na.decide_mode(_evidence())
    assert decision['mode'] == 'default' and decision['mode_verified'] is True
    assert decision['mode_source'] == 'engine_api+process'
    assert decision['mode_basis'] == ['user_namespace', 'euid', 'security_options', 'docker_root_dir']


@pytest.mark.parametrize('kw,basis', [
    ({'in_init_userns': False}, ['user_namespace']),
    ({'euid': 1000}, ['euid']),
    ({'security_options': ['name=seccomp,profile=builtin', 'name=rootless', 'name=cgroupns']},
     ['security_options']),
    ({'rootless_flag': True}, ['cmdline']),
    ({'in_init_userns': False, 'euid': 1000, 'reachable': False, 'security_options': None},
     ['user_namespace', 'euid']),
])
def test_mode_rootless(kw, basis):
    decision = na.decide_mode(_evidence(**kw))
    assert decision['mode'] == 'rootless'
    assert decision['mode_basis'] == basis


def test_rootless_wins_over_userns_remap_settings():
    decision = na.decide_mode(_evidence(euid=1000, userns_remap_config='default',
                                        security_options=['name=userns']))
    assert decision['mode'] == 'rootless'


def test_mode_userns_remap_by_security_options_and_by_root_dir():
    by_option = na.decide_mode(_evidence(security_options=['name=apparmor', 'name=userns']))
    assert by_option['mode'] == 'userns-remap' and by_option['mode_basis'] == ['security_options']
    by_dir = na.decide_mode(_evidence(userns_remap_config='default',
                                      docker_root_dir='/var/lib/docker/100000.100000'))
    assert by_dir['mode'] == 'userns-remap'
    assert by_dir['mode_basis'] == ['daemon_json', 'docker_root_dir'] and by_dir['mode_verified']
    by_flag = na.decide_mode(_evidence(userns_remap_flag='dockremap', docker_root_dir='/srv/docker/231072.231072'))
    assert by_flag['mode'] == 'userns-remap' and by_flag['mode_basis'][0] == 'cmdline'


def test_remap_configured_but_not_in_effect_is_default():
    decision = na.decide_mode(_evidence(userns_remap_config='default'))
    assert decision['mode'] == 'default'


def test_unreachable_daemon_uses_process_evidence_only():
    base = dict(reachable=False, security_options=['name=userns'], docker_root_dir='/var/lib/docker/1.1')
    plain = na.decide_mode(_evidence(**base))
    assert plain['mode'] == 'default' and plain['mode_source'] == 'process'
    assert plain['mode_basis'] == ['user_namespace', 'euid']   # API data ignored
    remap = na.decide_mode(_evidence(userns_remap_flag='default', **base))
    assert remap == {'mode': 'userns-remap', 'mode_basis': ['cmdline'], 'mode_source': 'process',
                     'mode_verified': False}
    from_json = na.decide_mode(_evidence(userns_remap_config='default', **base))
    assert from_json['mode_basis'] == ['daemon_json'] and not from_json['mode_verified']


def test_unknown_without_process_and_answer():
    decision = na.decide_mode({'has_process': False, 'reachable': False})
    assert decision == {'mode': 'unknown', 'mode_basis': [], 'mode_source': 'none', 'mode_verified': False}
    api_only = na.decide_mode({'has_process': False, 'reachable': True,
                               'security_options': ['name=rootless']})
    assert api_only['mode'] == 'rootless' and api_only['mode_source'] == 'engine_api'


# ------------------------------------------------------------------ containers

def _item(name, userns_mode='', pid=4242):
    return {'Id': 'f' * 64, 'Names': ['/' + name], 'Image': 'img',
            'Inspect': {'Name': '/' + name, 'State': {'Pid': pid}, 'HostConfig': {'UsernsMode': userns_mode},
                        'Config': {'User': ''}}}


def test_container_of_default_daemon_root_is_host_root():
    c = na.evaluate_container(_item('web'), 'default',
                              {'user_ns': fakehost.INIT_USER_NS, 'uid_map': fakehost.IDENTITY_MAP},
                              fakehost.INIT_USER_NS)
    assert c['shares_host_userns'] is True and c['shares_host_userns_basis'] == 'ns_inode'
    assert c['root_host_uid'] == 0 and c['root_is_host_root'] is True
    assert c['root_is_host_root_basis'] == 'uid_map' and c['name'] == 'web' and c['id'] == 'f' * 12


def test_container_of_remapped_daemon_and_its_escape():
    app = na.evaluate_container(_item('app'), 'userns-remap', {'user_ns': REMAP_NS, 'uid_map': REMAP_MAP},
                                fakehost.INIT_USER_NS)
    assert app['shares_host_userns'] is False and app['root_host_uid'] == 100000
    assert app['root_is_host_root'] is False
    escape = na.evaluate_container(_item('escape', 'host'), 'userns-remap', None, fakehost.INIT_USER_NS)
    assert escape['shares_host_userns'] is True and escape['shares_host_userns_basis'] == 'userns_mode'
    assert escape['root_is_host_root'] is True and escape['root_is_host_root_basis'] == 'shares_host_userns'


def test_container_of_rootless_daemon_nested_map_gives_host_ids():
    dev = na.evaluate_container(_item('dev'), 'rootless', {'user_ns': ROOTLESS_NS, 'uid_map': ROOTLESS_MAP},
                                fakehost.INIT_USER_NS)
    assert dev['shares_host_userns'] is False
    assert dev['root_host_uid'] == 1000 and dev['root_is_host_root'] is False
    assert _proc_parsers.map_id(dev['uid_map'], 1000) == 165536 + 999
    # UsernsMode=host under rootless shares the daemon's namespace, not the host's
    shared = na.evaluate_container(_item('dev', 'host'), 'rootless', None, fakehost.INIT_USER_NS)
    assert shared['shares_host_userns'] is False and shared['root_is_host_root'] is None


def test_container_without_process_evidence():
    unknown = na.evaluate_container(_item('x'), 'unknown', None, None)
    assert unknown['shares_host_userns'] is None and unknown['root_is_host_root'] is None
    default = na.evaluate_container(_item('x'), 'default', None, None)
    assert default['shares_host_userns_basis'] == 'daemon_mode' and default['root_is_host_root'] is True


# ------------------------------------------------------------------ findings

def _daemon(**kw):
    report = {'id': 'rootful', 'pid': 500, 'sockets': ['/run/docker.sock'], 'mode': 'default',
              'mode_basis': ['euid'], 'mode_source': 'process', 'mode_verified': True, 'reachable': True,
              'error': None, 'docker_root_dir': '/var/lib/docker',
              'userns_remap': {'flag': None, 'config': None}, 'containers': []}
    report.update(kw)
    return report


def test_default_mode_finding_and_pending_remap():
    finding = na.daemon_findings(_daemon())[0]
    assert (finding['id'], finding['severity'], finding['cis']) == ('userns-default-mode', 'high', '2.9')
    assert 'container root is host root' in finding['message']
    pending = na.daemon_findings(_daemon(userns_remap={'flag': None, 'config': 'default'}))[0]
    assert 'not in effect' in pending['message']
    assert na.daemon_findings(_daemon(mode='userns-remap')) == []
    assert na.daemon_findings(_daemon(mode='rootless', id='rootless:1000')) == []


def test_unreachable_daemon_is_an_incomplete_audit_as_severe_as_what_was_skipped():
    with_proc = na.daemon_findings(_daemon(mode='rootless', reachable=False, error='cannot connect'))
    assert [(f['id'], f['severity']) for f in with_proc] == [('audit-incomplete', 'high')]
    assert with_proc[0]['evidence']['skipped_checks'] == ['container-privilege', 'container-root-is-host-root']
    # In a mode that is not known, a privileged container would act on the host: critical.
    socket_only = na.daemon_findings(_daemon(mode='unknown', pid=None, reachable=False, error='refused'))
    assert [(f['id'], f['severity']) for f in socket_only] == [('audit-incomplete', 'critical')]
    idle = na.daemon_findings(_daemon(mode='unknown', pid=None, reachable=False, error=None, idle=True))
    assert [(f['id'], f['severity']) for f in idle] == [('daemon-not-running', 'info')]


def test_skipped_checks_say_what_the_api_would_have_checked():
    # Unreachable: the container check, and the mode check when the mode rests on configuration.
    verified = na.skipped_checks(_daemon(reachable=False, error='timed out', api_attempts=2))
    assert [(e['check'], e['kind'], e['severity']) for e in verified] == [
        ('container-privilege', 'unanswered', 'critical'), ('container-root-is-host-root', 'unanswered', 'high')]
    assert verified[0]['reason'] == 'the Engine API did not answer (timed out; 2 attempt(s))'
    unverified = na.skipped_checks(_daemon(mode='userns-remap', mode_verified=False, reachable=False, error='x'))
    assert [e['check'] for e in unverified] == ['container-privilege', 'container-root-is-host-root',
                                                'mode-verification']
    # /info answered, the container listing did not; containers left uninspected.
    listing = na.skipped_checks(_daemon(error='GET /containers/json: timed out'))
    assert [(e['check'], e['kind']) for e in listing] == [('container-privilege', 'unanswered'),
                                                          ('container-root-is-host-root', 'unanswered')]
    budget = na.skipped_checks(_daemon(containers_truncated=2, container_errors=[{'id': 'a', 'error': 'e'}]))
    assert [(e['kind'], e['reason']) for e in budget] == [
        ('truncated', '3 container(s) not inspected (2 over the time budget, 1 failed)')] * 2
    assert [(f['id'], f['severity']) for f in na.daemon_findings(_daemon(mode='rootless', containers_truncated=1))] \
        == [('audit-incomplete', 'high')]
    # Not asked (query_api=false): said in skipped_checks, no finding; a socket left alone: nothing skipped.
    assert [e['kind'] for e in na.skipped_checks(_daemon(queried=False, reachable=False))] == ['not_asked'] * 2
    assert na.daemon_findings(_daemon(mode='rootless', queried=False, reachable=False)) == []
    assert na.skipped_checks(_daemon(idle=True, reachable=False, pid=None)) == []
    # The severity is that of the container findings the API-based check makes; under a
    # rootless daemon a container's privilege findings are low at most.
    assert na.API_CHECKS['container-root-is-host-root'] == na.CONTAINER_FINDINGS['container-root-is-host-root'][0]
    severities = [na.check_severity('container-privilege', m) for m in na.MODES]
    assert severities == ['critical', 'critical', 'low', 'low', 'critical']


def test_run_audit_complete_and_skipped_checks(host):
    fakehost.build_db_host(host)
    result = na.run_audit(host.fs())
    assert result['complete'] is True and result['skipped_checks'] == []
    result = na.run_audit(host.fs(), query_api=False)
    assert result['complete'] is False
    assert [(e['daemon'], e['check'], e['kind']) for e in result['skipped_checks']] == [
        ('rootful', 'container-privilege', 'not_asked'), ('rootful', 'container-root-is-host-root', 'not_asked'),
        ('rootful', 'mode-verification', 'not_asked')]
    assert 'audit-incomplete' not in [f['id'] for f in result['findings']]
    host.fail('/proc/1/ns/user', PermissionError(13, 'Permission denied'))
    result = na.run_audit(host.fs())
    assert result['complete'] is False
    assert [(e['check'], e['kind'], e['severity']) for e in result['skipped_checks']] == [
        ('unreadable paths', 'unreadable', 'low')]


def test_container_root_is_host_root_finding_only_outside_default_mode():
    escape = na.evaluate_container(_item('escape', 'host'), 'userns-remap', None, fakehost.INIT_USER_NS)
    findings = na.daemon_findings(_daemon(mode='userns-remap', containers=[escape]))
    assert [(f['id'], f['severity'], f['cis'], f['subject']) for f in findings] == [
        ('container-no-new-privileges-off', 'low', '5.25', 'container:rootful/escape'),
        ('container-root-is-host-root', 'high', '5.30', 'container:rootful/escape')]
    web = na.evaluate_container(_item('web'), 'default', None, None)
    assert [f['id'] for f in na.daemon_findings(_daemon(containers=[web]))] == [
        'userns-default-mode', 'container-no-new-privileges-off']


def test_subid_and_kernel_findings():
    entries, invalid = na.parse_subid(fakehost.fixture_text('etc', 'subuid'))
    findings = na.subid_findings('subuid', entries, invalid, na.subid_overlaps(entries, USERS))
    assert sorted(f['id'] for f in findings) == ['subid-malformed'] + ['subid-overlap'] * 3
    assert all(f['severity'] == 'high' for f in findings if f['id'] == 'subid-overlap')
    assert na.kernel_findings({'max_user_namespaces': 15000}) == []
    disabled = na.kernel_findings({'max_user_namespaces': 0, 'unprivileged_userns_clone': 0,
                                   'apparmor_restrict_unprivileged_userns': 1})
    assert [(f['id'], f['severity']) for f in disabled] == [
        ('kernel-userns-disabled', 'info'), ('apparmor-userns-restricted', 'info')]
    assert 'user.max_user_namespaces=0' in disabled[0]['message']


def test_incomplete_finding_only_for_permission_errors():
    assert _findings.incomplete_finding([{'path': '/proc/9/ns/user', 'kind': 'vanished'}]) == []
    finding = _findings.incomplete_finding([{'path': '/proc/1/ns/user', 'kind': 'permission'}])[0]
    assert finding['id'] == 'audit-incomplete' and finding['evidence']['paths'] == ['/proc/1/ns/user']


# ------------------------------------------------------------------ run_audit on a fake host

def test_run_audit_default_and_rootless_daemons(host):
    fakehost.build_web_host(host)
    result = na.run_audit(host.fs())
    daemons = dict((d['id'], d) for d in result['daemons'])
    assert sorted(daemons) == ['rootful', 'rootless:1000']
    rootful, rootless = daemons['rootful'], daemons['rootless:1000']
    assert rootful['mode'] == 'default' and rootful['reachable'] and rootful['pid'] == 500
    assert rootful['mode_source'] == 'engine_api+process' and rootful['server_version'] == '27.3.1'
    assert rootful['process']['in_init_user_namespace'] is True
    assert [(c['name'], c['shares_host_userns'], c['root_is_host_root']) for c in rootful['containers']] == [
        ('web', True, True), ('ci-runner', True, True)]
    assert rootless['mode'] == 'rootless' and rootless['user'] == 'alice' and rootless['uid'] == 1000
    assert rootless['mode_basis'] == ['user_namespace', 'euid', 'security_options']
    assert rootless['userns_remap']['config_file'] == '/home/alice/.config/docker/daemon.json'
    dev = rootless['containers'][0]
    assert (dev['name'], dev['shares_host_userns'], dev['root_host_uid'], dev['root_is_host_root']) == (
        'dev', False, 1000, False)
    assert ids(result['findings']) == sorted(
        [('userns-default-mode', 'daemon:rootful'), ('subid-malformed', 'subuid')]
        + [('subid-overlap', s) for s in ('subuid:1000+bob', 'subuid:1000+carol', 'subuid:bob+carol')]
        + [('container-no-new-privileges-off', 'container:%s' % c)
           for c in ('rootful/web', 'rootful/ci-runner', 'rootless:1000/dev')])
    # ci-runner's docker.sock makes it host root; the finding on the socket mount is
    # socket_exposure's (container-mounts-socket), not repeated here.
    assert [(c['name'], c['verdict']) for c in rootful['containers'] + rootless['containers']] == [
        ('web', 'unprivileged'), ('ci-runner', 'host-root'), ('dev', 'root-only-in-its-user-namespace')]
    assert rootful['containers'][1]['privilege']['sensitive_mounts'][0]['socket'] == 'rootful'
    assert result['errors'] == []
    assert result['summary']['modes'] == {'default': 1, 'userns-remap': 0, 'rootless': 1, 'desktop-vm': 0,
                                          'unknown': 0}
    assert result['summary']['max_severity'] == 'high'
    assert result['init_user_namespace'] == fakehost.INIT_USER_NS
    assert result['kernel']['max_user_namespaces'] == 63432
    assert result['scan']['dockerd_pids'] == [500, 600]


def test_run_audit_inspects_the_containers_proc_shows_instead_of_listing(host):
    fakehost.build_web_host(host)
    for pid, kind in ((4242, 'default'), (4343, 'default'), (6161, 'rootless')):
        listing = fakehost.fixture_json('engine', 'containers_%s.json' % kind)
        container = listing[[4242, 4343].index(pid) if kind == 'default' else 0]['Id']
        host.symlink('/proc/%d/ns/mnt' % pid, 'mnt:[%d]' % (4026533000 + pid))
        host.write('/proc/%d/cgroup' % pid, '0::/system.slice/docker-%s.scope\n' % container)
    result = na.run_audit(host.fs())
    daemons = dict((d['id'], d) for d in result['daemons'])
    assert [d['containers_listed_by'] for d in result['daemons']] == ['inspect', 'inspect']
    assert [c['name'] for c in daemons['rootful']['containers']] == ['web', 'ci-runner']
    assert [c['name'] for c in daemons['rootless:1000']['containers']] == ['dev']
    for engine in host.engines:
        assert not [r for r in engine.requests if r.startswith('GET /containers/json ')]
    assert result['errors'] == [] and result['complete'] is True
    # one of them gone from /proc: the daemon's count differs, so it is listed
    host.write('/proc/4343/cgroup', '0::/user.slice\n')
    result = na.run_audit(host.fs())
    assert [d['containers_listed_by'] for d in result['daemons']] == ['list', 'inspect']
    assert [c['name'] for c in result['daemons'][0]['containers']] == ['web', 'ci-runner']


def test_run_audit_userns_remap_with_escaping_container(host):
    fakehost.build_db_host(host)
    result = na.run_audit(host.fs())
    daemon = result['daemons'][0]
    assert daemon['mode'] == 'userns-remap' and daemon['mode_verified']
    assert daemon['mode_basis'] == ['security_options', 'daemon_json']
    assert daemon['userns_remap']['config'] == 'default'
    by_name = dict((c['name'], c) for c in daemon['containers'])
    assert by_name['app']['root_host_uid'] == 100000 and not by_name['app']['root_is_host_root']
    assert by_name['escape']['root_is_host_root'] and by_name['escape']['userns_mode'] == 'host'
    assert ('container-root-is-host-root', 'container:rootful/escape') in ids(result['findings'])
    assert 'userns-default-mode' not in [f['id'] for f in result['findings']]


def test_run_audit_unreachable_daemon_is_reported_not_guessed(host):
    host.add_process(520, 'dockerd', ['/usr/bin/dockerd', '--userns-remap=default'])
    host.dead_socket('/run/docker.sock')
    host.dead_socket('/run/user/1001/docker.sock', mode=0o600, uid=1001, gid=1001)
    result = na.run_audit(host.fs())
    daemons = dict((d['id'], d) for d in result['daemons'])
    rootful = daemons['rootful']
    assert rootful['reachable'] is False and 'cannot connect' in rootful['error']
    assert (rootful['mode'], rootful['mode_source'], rootful['mode_verified'], rootful['mode_basis']) == (
        'userns-remap', 'process', False, ['cmdline'])
    assert rootful['security_options'] is None and rootful['containers'] == []
    orphan = daemons['rootless:1001']
    assert orphan['mode'] == 'unknown' and orphan['pid'] is None and orphan['reachable'] is False
    # No dockerd serves the rootless socket: it is not connected to (socket activation
    # would start a daemon), and said so.
    assert orphan['idle'] is True and orphan['error'].startswith('not asked: no dockerd process')
    assert 'rootless:1001=unknown(not running)' in result['summary']['text']
    assert sorted((f['id'], f['severity'], f['subject']) for f in result['findings']) == [
        ('audit-incomplete', 'critical', 'daemon:rootful'),
        ('daemon-not-running', 'info', 'daemon:rootless:1001')]


def test_run_audit_never_connects_to_a_socket_no_dockerd_serves(host):
    host.dead_socket('/run/docker.sock')
    asked = []

    def query(path, **kwargs):
        asked.append(path)
        return {'reachable': False, 'error': 'refused', 'info': None}
    result = na.run_audit(host.fs(), query=query)
    assert asked == []
    assert [(f['id'], f['subject']) for f in result['findings']] == [('daemon-not-running', 'daemon:rootful')]
    result = na.run_audit(host.fs(), query=query, connect_idle_sockets=True)
    assert len(asked) == 1
    assert [f['id'] for f in result['findings']] == ['audit-incomplete']


def test_run_audit_without_docker_is_clean(host):
    result = na.run_audit(host.fs())
    assert result['daemons'] == [] and result['findings'] == [] and result['errors'] == []
    assert result['summary']['text'] == 'no Docker daemon; findings: none'
    assert result['subordinate_ids']['subuid'] == {'present': False, 'entries': [], 'invalid': [],
                                                   'overlaps': []}


def test_run_audit_with_query_api_false(host):
    fakehost.build_web_host(host)
    result = na.run_audit(host.fs(), query_api=False)
    assert all(not d['reachable'] and 'query_api=false' in d['error'] for d in result['daemons'])
    assert dict((d['id'], d['mode']) for d in result['daemons']) == {'rootful': 'default',
                                                                     'rootless:1000': 'rootless'}
    assert host.engines[0].requests == []


def test_run_audit_tolerates_vanished_container_and_unreadable_files(host):
    fakehost.build_web_host(host)
    host.remove_process(4343)                 # container exited after the API listed it
    host.fail('/proc/500/uid_map', PermissionError(13, 'Permission denied'))
    host.fail('/proc/500/ns/user', PermissionError(13, 'Permission denied'))
    host.etc_file('docker/daemon.json', 'daemon_malformed.json')
    result = na.run_audit(host.fs())
    rootful = [d for d in result['daemons'] if d['id'] == 'rootful'][0]
    assert rootful['mode'] == 'default'         # euid and the API still decide
    assert 'user_namespace' not in rootful['mode_basis']
    assert rootful['process']['uid_map'] is None
    assert 'malformed JSON' in rootful['userns_remap']['config_error']
    ci = [c for c in rootful['containers'] if c['name'] == 'ci-runner'][0]
    assert ci['user_namespace'] is None and ci['shares_host_userns_basis'] == 'daemon_mode'
    kinds = dict((e['path'], e['kind']) for e in result['errors'])
    assert kinds['/proc/4343/ns/user'] == 'vanished'
    assert kinds['/proc/500/uid_map'] == 'permission'
    assert kinds['/etc/docker/daemon.json'] == 'malformed'
    assert 'audit-incomplete' in [f['id'] for f in result['findings']]


def test_run_audit_rootless_daemon_with_own_pid_namespace_skips_container_pids(host):
    host.add_process(600, 'dockerd', ['dockerd'], euid=1000, user_ns=ROOTLESS_NS, pid_ns='pid:[4026532777]',
                     uid_map=ROOTLESS_MAP)
    host.engine('/run/user/1000/docker.sock', fakehost.engine_routes('rootless'), mode=0o600, uid=1000, gid=1000)
    host.add_container_process(6161, fakehost.INIT_USER_NS, fakehost.IDENTITY_MAP)   # an unrelated host pid
    result = na.run_audit(host.fs())
    daemon = result['daemons'][0]
    assert daemon['container_pids_in_host_pidns'] is False
    dev = daemon['containers'][0]
    assert dev['user_namespace'] is None and dev['root_is_host_root'] is None


def test_run_audit_kernel_findings(host):
    host.sysctl('user.max_user_namespaces', 0)
    host.sysctl('kernel.apparmor_restrict_unprivileged_userns', 1)
    host.sysctl('net.ipv4.ip_forward', 0)
    result = na.run_audit(host.fs())
    # no rootful daemon: forwarding off is nobody's business here
    assert [f['id'] for f in result['findings']] == ['apparmor-userns-restricted', 'kernel-userns-disabled']
    (disabled,) = [f for f in result['findings'] if f['id'] == 'kernel-userns-disabled']
    assert 'user.max_user_namespaces=28633 fixes it' in disabled['message']
    assert disabled['evidence']['fix'] == ['user.max_user_namespaces=28633']


def test_a_baseline_that_turned_forwarding_off_under_a_rootful_daemon(host):
    fakehost.build_web_host(host)
    host.sysctl('net.ipv4.ip_forward', 0)
    result = na.run_audit(host.fs())
    (off,) = [f for f in result['findings'] if f['id'] == 'kernel-ip-forward-off']
    assert (off['severity'], off['subject'], off['evidence']['fix']) == ('medium', 'kernel', ['net.ipv4.ip_forward=1'])
    host.sysctl('net.ipv4.ip_forward', 1)
    assert 'kernel-ip-forward-off' not in [f['id'] for f in na.run_audit(host.fs())['findings']]


def test_run_audit_asks_the_socket_named_in_daemon_json(host):
    host.etc_file('docker/daemon.json', text='{"hosts": ["unix:///run/custom.sock"], "userns-remap": "default"}')
    host.add_process(500, 'dockerd', ['/usr/bin/dockerd'])
    engine = host.engine('/run/custom.sock', fakehost.engine_routes('userns'))
    result = na.run_audit(host.fs())
    daemon = result['daemons'][0]
    assert daemon['sockets'] == ['/run/custom.sock'] and daemon['reachable'] is True
    assert daemon['mode'] == 'userns-remap' and engine.requests


def test_run_audit_knows_a_hard_link_of_the_socket_by_its_inode(host):
    # The socket mounted under another name (/run/x, a hard link) at /var/run/api.sock:
    # the path says nothing, the inode through /proc/<pid>/root says it is docker.sock.
    cid = 'c0ffee' + '1' * 58
    host.standard_etc()
    host.write('/proc/1/mountinfo', fakehost.fixture_text('proc', 'mountinfo_host'))
    host.add_process(1, 'systemd', ['/sbin/init'])
    host.add_process(500, 'dockerd', ['/usr/bin/dockerd', '-H', 'fd://'])
    inspect = {'Id': cid, 'Name': '/sneaky', 'State': {'Running': True, 'Pid': 4242},
               'HostConfig': {'UsernsMode': '', 'Privileged': False}, 'Config': {'User': '', 'Image': 'alpine'},
               'Mounts': [{'Type': 'bind', 'Source': '/run/x', 'Destination': '/var/run/api.sock', 'RW': True}]}
    host.engine('/run/docker.sock', {'/info': (200, {'ContainersRunning': 1, 'ContainersPaused': 0}),
                                     '/containers/json': (200, [{'Id': cid, 'Names': ['/sneaky']}]),
                                     '/containers/%s/json' % cid: (200, inspect)}, gid=0)
    host.link('/run/docker.sock', '/run/x')
    proc_root = host.add_container(4242, cid, fakehost.fixture_text('..', 'privilege', 'mountinfo_plain')
                                   + '799 700 0:24 /x /var/run/api.sock rw,nosuid - tmpfs tmpfs rw\n')
    os.makedirs(os.path.join(proc_root, 'var', 'run'))
    os.link(host.real('/run/docker.sock'), os.path.join(proc_root, 'var', 'run', 'api.sock'))
    host.write('/proc/4242/status', fakehost.fixture_text('..', 'privilege', 'status_default'))
    result = na.run_audit(host.fs())
    (container,) = result['daemons'][0]['containers']
    (mount,) = container['privilege']['sensitive_mounts']
    assert (mount['destination'], mount['socket'], mount['socket_kind'], mount['found_by']) == (
        '/var/run/api.sock', 'rootful', 'socket', 'engine_api+mountinfo+inode')
    assert container['verdict'] == 'host-root'
    assert container['privilege']['namespaces']['mnt'] is False
    # the socket is socket_exposure's finding (5.31); this module adds none for it
    assert 'container-sensitive-mount' not in [f['id'] for f in result['findings']]
    assert result['errors'] == []


# ------------------------------------------------------------------ Docker Desktop

def test_docker_desktop_is_its_own_mode_and_its_containers_are_the_vms(host):
    fakehost.build_desktop_host(host)
    result = na.run_audit(host.fs())
    (desktop,) = [d for d in result['daemons'] if d['kind'] == 'desktop']
    assert desktop['id'] == 'desktop:%d' % fakehost.DESKTOP_UID and desktop['user'] == 'dora'
    assert (desktop['mode'], desktop['mode_verified'], desktop['mode_basis']) == (
        'desktop-vm', True, ['socket_path', 'operating_system'])
    assert desktop['idle'] is False and desktop['reachable'] is True   # asked: no socket activation
    assert desktop['container_pids_in_host_pidns'] is False
    verdicts = dict((c['name'], c) for c in desktop['containers'])
    privileged = verdicts['vmpriv']
    # its pid is the VM's: the host's pid 1234 (root, the host's namespaces) was not read
    assert privileged['privilege']['inputs']['proc'] is False
    assert privileged['privilege']['sources']['acts_on_host'] == 'daemon_mode'
    assert privileged['verdict'] == 'root-only-in-its-user-namespace'
    assert "Docker Desktop's VM" in ' '.join(privileged['verdict_reasons'])
    # the VM's socket is Docker Desktop's own engine, the VM's /etc is not this host's
    assert [(m['socket'], m['vm_path']) for m in privileged['privilege']['sensitive_mounts']] == [('rootless', True)]
    assert privileged['privilege']['host_namespaces'] == []
    assert verdicts['share']['verdict'] == 'root-only-in-its-user-namespace'
    assert verdicts['share']['privilege']['sensitive_mounts'][0]['host_write'] is False
    findings = [(f['id'], f['severity']) for f in result['findings'] if f['subject'].startswith(
        ('daemon:desktop', 'container:desktop'))]
    assert ('desktop-vm-engine', 'info') in findings and ('container-privileged', 'low') in findings
    assert not [f for f in findings if f[1] in ('critical', 'high')], findings
    assert 'userns-default-mode' not in [f['id'] for f in result['findings']]
    assert result['summary']['modes']['desktop-vm'] == 1
    # unanswered, what it skips is low: nothing a Desktop container holds acts on this host
    assert na.check_severity('container-privilege', 'desktop-vm') == 'low'


def test_desktop_mode_rests_on_the_socket_when_the_engine_does_not_answer():
    decision = na.decide_mode({'desktop': True, 'reachable': False})
    assert decision == {'mode': 'desktop-vm', 'mode_basis': ['socket_path'], 'mode_source': 'none',
                        'mode_verified': False}
    # a socket there that answers as something else is not verified as Docker Desktop
    assert na.decide_mode({'desktop': True, 'reachable': True, 'operating_system': 'Ubuntu 24.04'})[
        'mode_verified'] is False
