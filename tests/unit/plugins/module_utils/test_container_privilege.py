# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_container_privilege.py: one container's evidence, its
verdict in each daemon mode, its findings, and what is left when /proc or the Engine API
cannot be read. Driven by tests/unit/fixtures/privilege: /proc/<pid>/status texts, uid
maps, mountinfo excerpts (PID 1's and containers') and inspect results.

The table cases put the same container (inspect, status, mounts) under each daemon mode:
the mode moves it into the host user namespace (default), a remapped one (root is host uid
100000) or the rootless daemon's (root is host uid 1000), as the host's /proc shows it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.nsguard.docker.plugins.module_utils import _container_privilege as cp
from ansible_collections.nsguard.docker.plugins.module_utils import _capabilities, _proc_parsers, mount_scan

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'privilege')

INIT_NS = {'user': 'user:[4026531837]', 'pid': 'pid:[4026531836]', 'net': 'net:[4026531840]',
           'ipc': 'ipc:[4026531839]', 'uts': 'uts:[4026531838]', 'cgroup': 'cgroup:[4026531835]',
           'mnt': 'mnt:[4026531841]'}
OWN_NS = {'user': None, 'pid': 'pid:[4026532301]', 'net': 'net:[4026532304]', 'ipc': 'ipc:[4026532300]',
          'uts': 'uts:[4026532299]', 'cgroup': 'cgroup:[4026532305]', 'mnt': 'mnt:[4026532298]'}
#: daemon mode -> (the container's user namespace, its uid_map fixture)
MODES = {
    'default': (INIT_NS['user'], 'uid_map_identity'),
    'userns-remap': ('user:[4026532600]', 'uid_map_remap'),
    'rootless': ('user:[4026532500]', 'uid_map_rootless'),
}
RANK = dict((v, i) for i, v in enumerate(reversed(cp.VERDICTS)))


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def fixture_json(name):
    return json.loads(fixture_text(name))


HOST_MOUNTS = mount_scan.parse_mountinfo(fixture_text('mountinfo_host'))


def _with_user(status, inside_uid, uid_map_text):
    """A status text as the host reads it for a process of ``inside_uid`` under the map."""
    outside = _proc_parsers.map_id(_proc_parsers.parse_id_map(uid_map_text), inside_uid)
    ids = '\t'.join([str(outside)] * 4)
    return re.sub(r'(?m)^Gid:.*$', 'Gid:\t' + ids, re.sub(r'(?m)^Uid:.*$', 'Uid:\t' + ids, status))


def _unconfined_status():
    return fixture_text('status_default').replace('Seccomp:\t2', 'Seccomp:\t0').replace(
        'Seccomp_filters:\t1', 'Seccomp_filters:\t0')


def _nonroot_privileged_status():
    return fixture_text('status_nonroot').replace('CapBnd:\t00000000a80425fb', 'CapBnd:\t000001ffffffffff') \
        .replace('Seccomp:\t2', 'Seccomp:\t0').replace('Seccomp_filters:\t1', 'Seccomp_filters:\t0')


#: name -> (inspect fixture, status text maker, container uid, mountinfo fixture, host
#: namespaces it shares, Config.User, UsernsMode=host)
SCENARIOS = {
    'plain': ('inspect_plain.json', lambda: fixture_text('status_default'), 0, 'mountinfo_plain', (), '', False),
    'privileged': ('inspect_privileged.json', lambda: fixture_text('status_privileged'), 0, 'mountinfo_plain', (),
                   '', False),
    'sys_admin': ('inspect_sys_admin.json', lambda: fixture_text('status_sys_admin'), 0, 'mountinfo_plain', (), '',
                  False),
    'hostns': ('inspect_hostns.json', lambda: fixture_text('status_default'), 0, 'mountinfo_plain', ('pid', 'net'),
               '', False),
    'unconfined': ('inspect_unconfined.json', _unconfined_status, 0, 'mountinfo_plain', (), '', False),
    'socket': ('inspect_socket.json', lambda: fixture_text('status_default'), 0, 'mountinfo_socket', (), '', False),
    'nonroot': ('inspect_plain.json', lambda: fixture_text('status_nonroot'), 1000, 'mountinfo_plain', (), '1000',
                False),
    'nonroot_privileged': ('inspect_privileged.json', _nonroot_privileged_status, 1000, 'mountinfo_plain', (),
                           '1000', False),
    'nonroot_socket': ('inspect_socket.json', lambda: fixture_text('status_nonroot'), 1000, 'mountinfo_socket', (),
                       '1000', False),
    'userns_host': ('inspect_plain.json', lambda: fixture_text('status_default'), 0, 'mountinfo_plain', (), '',
                    True),
}


def scenario_inputs(name, mode):
    """container_evidence() arguments of a scenario under a daemon mode, as the host reads them."""
    inspect_name, status, uid, mountinfo, shared, user, userns_host = SCENARIOS[name]
    inspect = fixture_json(inspect_name)
    inspect['Config']['User'] = user
    # dockerd refuses --privileged in a remapped user namespace: it needs --userns=host.
    userns_host = userns_host or (mode == 'userns-remap' and inspect['HostConfig']['Privileged'])
    if userns_host:
        inspect['HostConfig']['UsernsMode'] = 'host'
    user_ns, map_name = MODES['default' if userns_host and mode != 'rootless' else mode]
    uid_map = fixture_text(map_name)
    namespaces = dict(OWN_NS, user=user_ns)
    for kind in shared:
        # rootlesskit gives the rootless daemon its own network namespace; --net=host is that.
        if not (mode == 'rootless' and kind == 'net'):
            namespaces[kind] = INIT_NS[kind]
    return {'inspect': inspect, 'status_text': _with_user(status(), uid, uid_map), 'uid_map_text': uid_map,
            'namespaces': namespaces, 'init_namespaces': INIT_NS,
            'mounts': mount_scan.parse_mountinfo(fixture_text(mountinfo)), 'init_mounts': HOST_MOUNTS,
            'daemon_mode': mode}


def judge(name, mode, **changes):
    kwargs = scenario_inputs(name, mode)
    kwargs.update(changes)
    evidence = cp.container_evidence(**kwargs)
    return evidence, cp.container_verdict(evidence, mode)


def summary(findings):
    return sorted((f['id'], f['severity'], f['cis']) for f in findings)


# ------------------------------------------------------------------ verdict table

HR, CB, RO, UP = cp.VERDICTS


@pytest.mark.parametrize('name,default,remap,rootless', [
    ('plain', UP, RO, RO),
    ('privileged', HR, HR, RO),           # remap: only with UsernsMode=host
    ('sys_admin', HR, RO, RO),
    ('hostns', UP, RO, RO),
    ('unconfined', UP, RO, RO),
    ('socket', HR, CB, CB),               # a rootful socket is a way out in every mode
    ('nonroot', UP, UP, UP),
    ('nonroot_privileged', CB, CB, RO),   # setuid binaries regain the bounding set
    ('nonroot_socket', CB, CB, CB),
    ('userns_host', UP, UP, RO),          # rootless: UsernsMode=host is the daemon's namespace
])
def test_verdict_per_daemon_mode(name, default, remap, rootless):
    got = dict((mode, judge(name, mode)[1]['verdict']) for mode in ('default', 'userns-remap', 'rootless'))
    assert got == {'default': default, 'userns-remap': remap, 'rootless': rootless}


def test_every_verdict_has_reasons_naming_their_source():
    for name in SCENARIOS:
        for mode in MODES:
            verdict = judge(name, mode)[1]
            assert verdict['verdict'] in cp.VERDICTS and verdict['reasons'], (name, mode)
            assert all('(' in reason for reason in verdict['reasons']), (name, mode, verdict['reasons'])


def test_same_capeff_different_user_namespace():
    """The issue's point: CapEff of --privileged reads the same rootful and rootless."""
    default, default_verdict = judge('privileged', 'default')
    rootless, rootless_verdict = judge('privileged', 'rootless')
    assert default['capabilities'] == rootless['capabilities'] == sorted(_capabilities.CAPABILITIES)
    assert (default['acts_on_host'], rootless['acts_on_host']) == (True, False)
    assert (default['host_euid'], rootless['host_euid'], rootless['euid']) == (0, 1000, 0)
    assert (default_verdict['verdict'], rootless_verdict['verdict']) == (HR, RO)
    assert default_verdict['reasons'][1] == (
        'effective capabilities CAP_BPF, CAP_DAC_READ_SEARCH, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYS_MODULE, '
        'CAP_SYS_RAWIO (proc) act in the host user namespace (default daemon)')
    assert rootless_verdict['reasons'][0] == (
        "root in its user namespace (proc), which is not the host's (proc): root is host uid 1000")
    assert "act only in the rootless daemon's user namespace, its root is host uid 1000" in \
        rootless_verdict['reasons'][1]


def test_host_root_reasons_of_the_socket_container():
    evidence, verdict = judge('socket', 'default')
    assert verdict == {'verdict': HR, 'acts_on_host': True, 'host_root_process': True, 'reasons': [
        "a rootful daemon's socket is mounted: / at /host (read-only, engine_api+mountinfo); /var/run/docker.sock "
        "at /var/run/docker.sock (writable, engine_api+mountinfo); its process is host uid 0 (proc)",
        'host files root runs or reads are writable: /etc at /host-etc (writable, engine_api+mountinfo); its '
        'process is host uid 0 (proc)']}
    remapped = judge('socket', 'userns-remap')[1]
    assert remapped['verdict'] == CB and remapped['host_root_process'] is False
    assert remapped['reasons'] == [
        "a rootful daemon's socket is mounted: / at /host (read-only, engine_api+mountinfo); /var/run/docker.sock "
        "at /var/run/docker.sock (writable, engine_api+mountinfo); whoever connects is host root, and its process "
        "(host uid 100000, only in its remapped user namespace, its root is host uid 100000) can if the socket's "
        "mode or group lets it in"]


def test_cap_sys_ptrace_needs_the_host_pid_namespace():
    inspect = fixture_json('inspect_plain.json')
    inspect['HostConfig']['CapAdd'] = ['SYS_PTRACE']
    status = fixture_text('status_default').replace('00000000a80425fb', '00000000a80c25fb')
    alone = judge('plain', 'default', inspect=inspect, status_text=status)
    assert alone[0]['capabilities'] == sorted(_capabilities.DOCKER_DEFAULT_CAPS | {'CAP_SYS_PTRACE'})
    assert alone[0]['host_root_capabilities'] == [] and alone[1]['verdict'] == UP
    inspect['HostConfig']['PidMode'] = 'host'
    shared = judge('plain', 'default', inspect=inspect, status_text=status,
                   namespaces=dict(OWN_NS, user=INIT_NS['user'], pid=INIT_NS['pid']))
    assert shared[0]['host_root_capabilities'] == ['CAP_SYS_PTRACE'] and shared[1]['verdict'] == HR


def test_nonroot_process_with_no_new_privs_has_no_way_back():
    status = _nonroot_privileged_status().replace('NoNewPrivs:\t0', 'NoNewPrivs:\t1')
    evidence, verdict = judge('nonroot_privileged', 'default', status_text=_with_user(
        status, 1000, fixture_text('uid_map_identity')))
    assert evidence['no_new_privileges'] is True and evidence['reachable_host_root_capabilities'] == []
    assert verdict['verdict'] == UP
    off = judge('nonroot_privileged', 'default')
    assert off[1]['verdict'] == CB
    assert off[1]['reasons'][0] == (
        'capabilities CAP_BPF, CAP_DAC_READ_SEARCH, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_RAWIO are '
        'in its bounding set (proc) and no_new_privs is off (proc): a setuid-root or file-capability binary raises '
        'them, in the host user namespace (default daemon)')


def test_ambient_capability_of_a_non_root_process():
    status = fixture_text('status_nonroot').replace('CapAmb:\t0000000000000000', 'CapAmb:\t0000000000200000') \
        .replace('CapPrm:\t0000000000000000', 'CapPrm:\t0000000000200000') \
        .replace('CapBnd:\t00000000a80425fb', 'CapBnd:\t00000000a82425fb').replace('NoNewPrivs:\t0', 'NoNewPrivs:\t1')
    evidence, verdict = judge('nonroot', 'default', status_text=_with_user(status, 1000, fixture_text(
        'uid_map_identity')))
    assert evidence['capabilities'] == [] and evidence['reachable_host_root_capabilities'] == ['CAP_SYS_ADMIN']
    assert verdict['verdict'] == CB and verdict['reasons'] == [
        'capabilities CAP_SYS_ADMIN are in its permitted or ambient set (proc): it raises them itself, in the host '
        'user namespace (default daemon)']


def test_nonroot_with_writable_etc_can_become_root_without_no_new_privs():
    inspect = fixture_json('inspect_plain.json')
    inspect['Mounts'].append({'Type': 'bind', 'Source': '/etc', 'Destination': '/host-etc', 'RW': True})
    evidence, verdict = judge('nonroot', 'default', inspect=inspect, mounts=None)
    assert [(m['host_path'], m['host_write'], m['found_by']) for m in evidence['sensitive_mounts']] == [
        ('/etc', True, 'engine_api')]
    assert verdict['verdict'] == CB and 'becoming root in the container makes it host root' in verdict['reasons'][0]
    nnp = fixture_text('status_nonroot').replace('NoNewPrivs:\t0', 'NoNewPrivs:\t1')
    assert judge('nonroot', 'default', inspect=inspect, mounts=None, status_text=nnp)[1]['verdict'] == UP


def test_remapped_root_from_the_remap_fixture():
    evidence = cp.container_evidence(
        fixture_json('inspect_plain.json'), fixture_text('status_remap'), fixture_text('uid_map_remap'),
        dict(OWN_NS, user='user:[4026532600]'), INIT_NS, mount_scan.parse_mountinfo(fixture_text('mountinfo_plain')),
        HOST_MOUNTS, 'userns-remap')
    assert (evidence['host_euid'], evidence['euid'], evidence['root_host_uid']) == (100000, 0, 100000)
    assert evidence['runs_as_root'] is True and evidence['host_root_process'] is False
    verdict = cp.container_verdict(evidence, 'userns-remap')
    assert verdict['verdict'] == RO
    assert verdict['reasons'] == ["root in its user namespace (proc), which is not the host's (proc): root is host "
                                  "uid 100000"]


def test_rootless_root_writing_a_host_mount_and_its_own_socket():
    inspect = fixture_json('inspect_plain.json')
    inspect['Mounts'] = [
        {'Type': 'bind', 'Source': '/etc', 'Destination': '/host-etc', 'RW': True},
        {'Type': 'bind', 'Source': '/run/user/1000/docker.sock', 'Destination': '/var/run/docker.sock', 'RW': True}]
    evidence, verdict = judge('plain', 'rootless', inspect=inspect, mounts=None)
    assert [(m['host_path'], m['socket'], m['cis']) for m in evidence['sensitive_mounts']] == [
        ('/etc', None, '5.5'), ('/run/user/1000/docker.sock', 'rootless', '5.31')]
    assert verdict['verdict'] == RO
    assert verdict['reasons'][1:] == [
        'writable host mounts give only what host uid 1000 may write: /etc at /host-etc (writable, engine_api)',
        "the socket of a daemon that runs as one user (rootless, or Docker Desktop's engine) gives what that "
        "user may do, not host root: /run/user/1000/docker.sock "
        "at /var/run/docker.sock (writable, engine_api)"]
    assert summary(cp.container_findings('dev', evidence, verdict, 'rootless')) == [
        ('container-no-new-privileges-off', 'info', '5.25'),
        ('container-sensitive-mount', 'low', '5.31'), ('container-sensitive-mount', 'low', '5.5')]


def test_writable_raw_disk_device():
    inspect = fixture_json('inspect_plain.json')
    inspect['HostConfig']['Devices'] = [
        {'PathOnHost': '/dev/sda', 'PathInContainer': '/dev/sda', 'CgroupPermissions': 'rwm'},
        {'PathOnHost': '/dev/fuse', 'PathInContainer': '/dev/fuse', 'CgroupPermissions': 'rwm'}]
    evidence, verdict = judge('plain', 'default', inspect=inspect)
    assert [d['raw_write'] for d in evidence['devices']] == [True, False]
    assert verdict['verdict'] == HR and 'raw disk or memory devices with write access: /dev/sda' in verdict['reasons'][0]
    findings = cp.container_findings('disk', evidence, verdict, 'default')
    assert ('container-devices', 'critical', '5.17') in summary(findings)
    inspect['HostConfig']['Devices'] = inspect['HostConfig']['Devices'][1:]
    evidence, verdict = judge('plain', 'default', inspect=inspect)
    assert verdict['verdict'] == UP and ('container-devices', 'low', '5.17') in summary(
        cp.container_findings('fuse', evidence, verdict, 'default'))
    remapped, remapped_verdict = judge('plain', 'userns-remap', inspect=inspect)
    assert ('container-devices', 'info', '5.17') in summary(
        cp.container_findings('fuse', remapped, remapped_verdict, 'userns-remap'))


# ------------------------------------------------------------------ evidence

def test_evidence_of_the_host_namespace_container():
    default = judge('hostns', 'default')[0]
    assert default['namespaces'] == {'pid': True, 'net': True, 'ipc': False, 'uts': False, 'cgroup': False,
                                     'user': True, 'mnt': False}
    assert default['host_namespaces'] == ['net', 'pid', 'user']
    assert default['sources']['namespace_pid'] == 'proc' and default['disagreements'] == []
    rootless = judge('hostns', 'rootless')[0]
    assert rootless['namespaces']['pid'] is True and rootless['namespaces']['net'] is False
    assert rootless['host_namespaces'] == ['pid']


def test_proc_wins_over_the_api_and_the_conflict_is_kept():
    # The API says --pid=host --net=host; /proc shows the container's own namespaces.
    evidence = judge('hostns', 'default', namespaces=dict(OWN_NS, user=INIT_NS['user']))[0]
    assert evidence['namespaces']['pid'] is False and evidence['namespaces']['net'] is False
    assert evidence['disagreements'] == [{'fact': 'namespace_pid', 'proc': False, 'engine_api': True},
                                         {'fact': 'namespace_net', 'proc': False, 'engine_api': True}]


def test_sensitive_mounts_merge_api_and_mountinfo_and_fold_submounts():
    evidence = judge('socket', 'default')[0]
    mounts = evidence['sensitive_mounts']
    assert [(m['destination'], m['host_path'], m['writable'], m['socket'], m['socket_kind'], m['host_write'],
             m['cis']) for m in mounts] == [
        ('/host', '/', False, 'rootful', 'directory', False, '5.5'),
        ('/host-etc', '/etc', True, None, None, True, '5.5'),
        ('/var/run/docker.sock', '/run/docker.sock', True, 'rootful', 'socket', False, '5.31')]
    assert [(s['destination'], s['host_path']) for s in mounts[0]['submounts']] == [
        ('/host/boot', '/boot'), ('/host/proc', '/proc'), ('/host/run', '/run')]
    assert all(m['found_by'] == 'engine_api+mountinfo' and m['writable_from'] == 'mountinfo' for m in mounts)
    assert mounts[2]['source'] == '/var/run/docker.sock'       # as it was asked for


def _hardlink_inputs(mode, hits):
    """The plain container with one more bind, /run/nsguard-api at /var/run/api.sock (a
    name its path does not give away), and socket hits from mount_scan.match_namespace."""
    kwargs = scenario_inputs('plain', mode)
    line = '799 700 0:25 /nsguard-api /var/run/api.sock rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw\n'
    kwargs['mounts'] = mount_scan.parse_mountinfo(fixture_text('mountinfo_plain') + line)
    kwargs['socket_hits'] = hits
    return kwargs


def test_a_hard_link_of_the_socket_is_known_by_its_inode():
    hit = {'destination': '/var/run/api.sock', 'source': '/run/nsguard-api', 'read_write': True,
           'socket': '/run/docker.sock', 'match': 'inode_via_proc'}
    # By its path alone the bind is nothing sensitive.
    unmatched = cp.container_evidence(**_hardlink_inputs('default', []))
    assert [m['destination'] for m in unmatched['sensitive_mounts']] == []
    assert cp.container_verdict(unmatched, 'default')['verdict'] == UP
    for mode, verdict in (('default', HR), ('userns-remap', CB), ('rootless', CB)):
        evidence = cp.container_evidence(**_hardlink_inputs(mode, [hit]))
        (mount,) = evidence['sensitive_mounts']
        assert (mount['destination'], mount['socket'], mount['socket_kind'], mount['cis'], mount['found_by'],
                mount['socket_host_path']) == (
            '/var/run/api.sock', 'rootful', 'socket', '5.31', 'mountinfo+inode', '/run/docker.sock'), mode
        assert evidence['sources']['sensitive_mounts'] == 'engine_api+mountinfo+inode'
        assert cp.container_verdict(evidence, mode)['verdict'] == verdict, mode


def test_a_directory_holding_a_socket_and_a_rootless_socket_by_inode():
    in_directory = {'destination': '/var/run/api.sock', 'source': '/run/nsguard-api', 'read_write': False,
                    'socket': '/run/docker.sock', 'match': 'hard_link_in_directory_via_proc',
                    'path_in_container': '/var/run/api.sock/y'}
    (mount,) = cp.container_evidence(**_hardlink_inputs('default', [in_directory]))['sensitive_mounts']
    assert (mount['socket'], mount['socket_kind'], mount['cis']) == ('rootful', 'directory', '5.31')
    rootless = dict(in_directory, socket='/run/user/1000/docker.sock', match='inode_via_proc')
    evidence = cp.container_evidence(**_hardlink_inputs('rootless', [rootless]))
    assert evidence['sensitive_mounts'][0]['socket'] == 'rootless'
    assert cp.container_verdict(evidence, 'rootless')['verdict'] == RO


def test_mountinfo_says_read_only_where_the_api_said_writable():
    inspect = fixture_json('inspect_socket.json')
    for mount in inspect['Mounts']:
        mount['RW'] = True
    evidence = judge('socket', 'default', inspect=inspect)[0]
    assert [(m['destination'], m['writable']) for m in evidence['sensitive_mounts']] == [
        ('/host', False), ('/host-etc', True), ('/var/run/docker.sock', True)]


def test_a_bind_of_slash_without_run_holds_no_socket():
    text = ''.join(line for line in fixture_text('mountinfo_socket').splitlines(True) if '/host/run' not in line)
    evidence, verdict = judge('socket', 'default', inspect=None, mounts=mount_scan.parse_mountinfo(text))
    host = evidence['sensitive_mounts'][0]
    assert (host['destination'], host['socket'], host['found_by']) == ('/host', None, 'mountinfo')
    assert verdict['verdict'] == HR   # /etc writable and /var/run/docker.sock are still there


def test_mountinfo_needs_pid_1s_mounts_to_name_host_paths():
    evidence, verdict = judge('socket', 'default', inspect=None, init_mounts=None)
    assert evidence['sensitive_mounts'] == [] and evidence['sources']['sensitive_mounts'] == 'mountinfo'
    assert verdict['verdict'] == UP


@pytest.mark.parametrize('path,writable,expected', [
    ('/', False, ('/', 'rootful', 'directory', False, '5.5')),
    ('/', True, ('/', 'rootful', 'directory', True, '5.5')),
    ('/var/run', False, ('/run', 'rootful', 'directory', False, '5.5')),
    ('/var/run/docker.sock', False, ('/run/docker.sock', 'rootful', 'socket', False, '5.31')),
    ('/run/containerd/containerd.sock', True, ('/run/containerd/containerd.sock', 'rootful', 'socket', False, '5.31')),
    ('/var/run/docker/containerd', True, ('/run/docker/containerd', 'rootful', 'directory', False, '5.31')),
    ('/run/user/1000/docker.sock', True, ('/run/user/1000/docker.sock', 'rootless', 'socket', False, '5.31')),
    ('/home/alice/.docker/desktop/docker.sock', True,
     ('/home/alice/.docker/desktop/docker.sock', 'rootless', 'socket', False, '5.31')),
    ('/run/user/1000', False, ('/run/user/1000', 'rootless', 'directory', False, '5.31')),
    ('/etc', False, ('/etc', None, None, False, '5.5')),
    ('/etc/cron.d/', True, ('/etc/cron.d', None, None, True, '5.5')),
    ('/usr/local/bin', True, ('/usr/local/bin', None, None, True, '5.5')),
    ('/dev', True, ('/dev', None, None, False, '5.5')),
    ('/sys', False, ('/sys', None, None, False, '5.5')),
    ('/etc/localtime', False, None),
    ('/usr/share/zoneinfo', False, None),
    ('/srv/data', True, None),
    ('/etcetera', True, None),
    ('relative/path', True, None),
    (None, True, None),
])
def test_classify_host_path(path, writable, expected):
    got = cp.classify_host_path(path, writable)
    if expected is None:
        assert got is None
    else:
        assert (got['host_path'], got['socket'], got['socket_kind'], got['host_write'], got['cis']) == expected


def test_binds_when_the_api_has_no_top_level_mounts():
    inspect = fixture_json('inspect_socket.json')
    del inspect['Mounts']
    inspect['HostConfig']['Mounts'] = [{'Type': 'bind', 'Source': '/sys', 'Target': '/host-sys', 'ReadOnly': True},
                                       {'Type': 'volume', 'Source': 'cache', 'Target': '/cache'}]
    found = cp.sensitive_mounts(inspect)
    assert [(m['source'], m['destination'], m['writable']) for m in found] == [
        ('/', '/host', False), ('/etc', '/host-etc', True), ('/sys', '/host-sys', False),
        ('/var/run/docker.sock', '/var/run/docker.sock', True)]


def test_small_parsers():
    assert cp.security_options(['seccomp=unconfined', 'apparmor:unconfined', 'no-new-privileges',
                                'label=disable']) == {'seccomp': 'unconfined', 'apparmor': 'unconfined',
                                                      'no-new-privileges': 'true', 'label': 'disable'}
    assert cp.security_options(['no-new-privileges:false', 'seccomp={"defaultAction":"SCMP_ACT_ERRNO"}']) == {
        'no-new-privileges': 'false', 'seccomp': '{"defaultAction":"SCMP_ACT_ERRNO"}'}
    assert cp.security_options(None) == {}
    assert [cp.user_is_root(u) for u in ('', None, 'root', '0', '0:0', 'root:wheel', '1000', '1000:1000', 'app')] == [
        True, True, True, True, True, True, False, False, None]
    assert [cp.normalize_host_path(p) for p in ('/var/run/', '//etc//', '/var/runner', '/run/../etc', '')] == [
        '/run', '/etc', '/var/runner', '/etc', None]


def test_no_new_privileges_and_apparmor_from_either_source():
    inspect = fixture_json('inspect_plain.json')
    inspect['HostConfig']['SecurityOpt'] = ['no-new-privileges:true']
    api_only = cp.container_evidence(inspect, daemon_mode='default')
    assert api_only['no_new_privileges'] is True and api_only['sources']['no_new_privileges'] == 'engine_api'
    assert api_only['apparmor_profile'] == 'docker-default' and api_only['seccomp'] == 'filter'
    proc = cp.container_evidence(None, fixture_text('status_default').replace('NoNewPrivs:\t0', 'NoNewPrivs:\t1'),
                                 daemon_mode='default', apparmor_label='docker-default (enforce)\n')
    assert (proc['no_new_privileges'], proc['sources']['no_new_privileges']) == (True, 'proc')
    assert (proc['apparmor_profile'], proc['sources']['apparmor_profile']) == ('docker-default', 'proc')
    unconfined = cp.container_evidence(None, daemon_mode='default', apparmor_label='unconfined')
    assert unconfined['apparmor_profile'] == 'unconfined'


# ------------------------------------------------------------------ missing sources

def test_api_unreachable_verdict_from_proc_only():
    evidence, verdict = judge('privileged', 'default', inspect=None)
    assert evidence['inputs'] == {'proc': True, 'engine_api': False, 'mountinfo': True}
    assert (evidence['privileged'], evidence['sources']['privileged']) == (True, 'proc')
    assert evidence['sources']['capabilities'] == 'proc' and evidence['sources']['acts_on_host'] == 'proc'
    assert evidence['devices'] is None and evidence['sources']['devices'] is None
    assert evidence['added_capabilities'] == sorted(_capabilities.ALL_CAPABILITIES - _capabilities.DOCKER_DEFAULT_CAPS)
    assert verdict['verdict'] == HR and verdict['reasons'][0].startswith('privileged (proc) and host uid 0 (proc)')
    socket, socket_verdict = judge('socket', 'default', inspect=None)
    assert [(m['source'], m['found_by']) for m in socket['sensitive_mounts']] == [
        ('/', 'mountinfo'), ('/etc', 'mountinfo'), ('/run/docker.sock', 'mountinfo')]
    assert socket_verdict['verdict'] == HR
    rootless = judge('privileged', 'rootless', inspect=None)
    assert rootless[0]['privileged'] is True and rootless[1]['verdict'] == RO


def test_rootless_fixture_from_proc_only():
    evidence = cp.container_evidence(None, fixture_text('status_rootless_full'), fixture_text('uid_map_rootless'),
                                     dict(OWN_NS, user='user:[4026532500]'), INIT_NS, daemon_mode='rootless')
    assert (evidence['host_euid'], evidence['euid'], evidence['privileged']) == (1000, 0, True)
    verdict = cp.container_verdict(evidence, 'rootless')
    assert verdict['verdict'] == RO
    findings = cp.container_findings('container:rootless:1000/dev', evidence, verdict, 'rootless')
    assert summary(findings) == [('container-no-new-privileges-off', 'info', '5.25'),
                                 ('container-privileged', 'low', '5.4')]
    privileged = [f for f in findings if f['id'] == 'container-privileged'][0]
    assert privileged['subject'] == 'container:rootless:1000/dev'
    assert privileged['message'] == ("Privileged container: every capability and device, no seccomp or AppArmor; "
                                     "they act only in the rootless daemon's user namespace, its root is host uid "
                                     "1000.")
    assert privileged['evidence']['source'] == 'proc' and privileged['evidence']['verdict'] == RO


def test_proc_unreadable_verdict_from_the_api_only():
    evidence = cp.container_evidence(fixture_json('inspect_privileged.json'), daemon_mode='default')
    assert evidence['inputs'] == {'proc': False, 'engine_api': True, 'mountinfo': False}
    assert [evidence['sources'][f] for f in ('acts_on_host', 'privileged', 'capabilities', 'runs_as_root',
                                             'host_root_process', 'seccomp', 'sensitive_mounts')] == [
        'daemon_mode', 'engine_api', 'engine_api', 'engine_api', 'engine_api', 'engine_api', 'engine_api']
    assert evidence['capabilities'] == sorted(_capabilities.CAPABILITIES) and evidence['seccomp'] == 'disabled'
    verdict = cp.container_verdict(evidence, 'default')
    assert verdict['verdict'] == HR
    assert verdict['reasons'][0].startswith('privileged (engine_api) and host uid 0 (engine_api)')
    assert cp.container_verdict(cp.container_evidence(fixture_json('inspect_privileged.json'),
                                                      daemon_mode='rootless'), 'rootless')['verdict'] == RO
    socket = cp.container_evidence(fixture_json('inspect_socket.json'), daemon_mode='default')
    assert [m['found_by'] for m in socket['sensitive_mounts']] == ['engine_api'] * 3
    assert cp.container_verdict(socket, 'default')['verdict'] == HR


def test_api_only_with_a_user_of_unknown_uid():
    inspect = fixture_json('inspect_socket.json')
    inspect['Config']['User'] = 'runner'
    evidence = cp.container_evidence(inspect, daemon_mode='default')
    assert evidence['runs_as_root'] is None and evidence['host_root_process'] is None
    assert evidence['capabilities'] is None      # root's set, or none: not known
    verdict = cp.container_verdict(evidence, 'default')
    assert verdict['verdict'] == CB
    assert verdict['reasons'][0].startswith('host files root runs or reads are writable')
    assert verdict['reasons'][0].endswith('its user is not known: as root it is host root')
    assert 'its process (host uid not known' in verdict['reasons'][1]


def test_daemon_mode_unknown_rates_as_the_host():
    evidence = cp.container_evidence(fixture_json('inspect_privileged.json'), daemon_mode='unknown')
    assert evidence['acts_on_host'] is None and evidence['sources']['acts_on_host'] is None
    verdict = cp.container_verdict(evidence, 'unknown')
    assert verdict['verdict'] == CB
    assert verdict['reasons'][-1].startswith("its user namespace is not known: it would be host root in the host's "
                                             "(privileged, CAP_BPF")
    findings = cp.container_findings('x', evidence, verdict, 'unknown')
    assert ('container-privileged', 'critical', '5.4') in summary(findings)
    assert "not known (rated as the host's)" in findings[0]['message']


def test_nothing_readable():
    evidence = cp.container_evidence(daemon_mode='default')
    assert evidence['inputs'] == {'proc': False, 'engine_api': False, 'mountinfo': False}
    assert (evidence['acts_on_host'], evidence['capabilities'], evidence['sensitive_mounts']) == (True, None, [])
    verdict = cp.container_verdict(evidence, 'default')
    assert verdict['verdict'] == UP
    assert verdict['reasons'][-2:] == [
        'no capability of the host-root set is effective or reachable (effective: not known)',
        'no socket, writable host path or disk device mounted (mounts not known)']
    unknown = cp.container_verdict(cp.container_evidence(), 'unknown')
    assert unknown['verdict'] == UP and unknown['acts_on_host'] is None
    assert cp.container_findings('x', cp.container_evidence(), unknown, 'unknown') == []


# ------------------------------------------------------------------ findings

@pytest.mark.parametrize('name,mode,expected', [
    ('plain', 'default', [('container-no-new-privileges-off', 'low', '5.25')]),
    ('plain', 'userns-remap', [('container-no-new-privileges-off', 'info', '5.25')]),
    ('privileged', 'default', [('container-no-new-privileges-off', 'medium', '5.25'),
                               ('container-privileged', 'critical', '5.4')]),
    ('privileged', 'userns-remap', [('container-no-new-privileges-off', 'medium', '5.25'),
                                    ('container-privileged', 'critical', '5.4')]),
    ('privileged', 'rootless', [('container-no-new-privileges-off', 'info', '5.25'),
                                ('container-privileged', 'low', '5.4')]),
    ('sys_admin', 'default', [('container-added-capabilities', 'high', '5.3'),
                              ('container-no-new-privileges-off', 'medium', '5.25')]),
    ('sys_admin', 'rootless', [('container-added-capabilities', 'low', '5.3'),
                               ('container-no-new-privileges-off', 'info', '5.25')]),
    ('hostns', 'default', [('container-host-namespace', 'high', '5.15'), ('container-host-namespace', 'high', '5.9'),
                           ('container-no-new-privileges-off', 'low', '5.25')]),
    ('hostns', 'userns-remap', [('container-host-namespace', 'low', '5.15'),
                                ('container-host-namespace', 'low', '5.9'),
                                ('container-no-new-privileges-off', 'info', '5.25')]),
    ('hostns', 'rootless', [('container-host-namespace', 'low', '5.15'),
                            ('container-no-new-privileges-off', 'info', '5.25')]),
    ('unconfined', 'default', [('container-apparmor-unconfined', 'medium', '5.1'),
                               ('container-no-new-privileges-off', 'low', '5.25'),
                               ('container-seccomp-unconfined', 'high', '5.21')]),
    ('unconfined', 'rootless', [('container-apparmor-unconfined', 'info', '5.1'),
                                ('container-no-new-privileges-off', 'info', '5.25'),
                                ('container-seccomp-unconfined', 'low', '5.21')]),
    ('socket', 'default', [('container-no-new-privileges-off', 'low', '5.25'),
                           ('container-sensitive-mount', 'critical', '5.31'),
                           ('container-sensitive-mount', 'critical', '5.5'),
                           ('container-sensitive-mount', 'critical', '5.5')]),
    ('socket', 'userns-remap', [('container-no-new-privileges-off', 'info', '5.25'),
                                ('container-sensitive-mount', 'high', '5.31'),
                                ('container-sensitive-mount', 'high', '5.5'),
                                ('container-sensitive-mount', 'low', '5.5')]),
    ('socket', 'rootless', [('container-no-new-privileges-off', 'info', '5.25'),
                            ('container-sensitive-mount', 'high', '5.31'),
                            ('container-sensitive-mount', 'high', '5.5'),
                            ('container-sensitive-mount', 'low', '5.5')]),
    ('userns_host', 'userns-remap', [('container-no-new-privileges-off', 'low', '5.25')]),
])
def test_findings_ids_severities_and_cis(name, mode, expected):
    evidence, verdict = judge(name, mode)
    assert summary(cp.container_findings(name, evidence, verdict, mode)) == expected


def test_finding_messages_say_why():
    evidence, verdict = judge('sys_admin', 'rootless')
    added = cp.container_findings('lab', evidence, verdict, 'rootless')[0]
    assert added['subject'] == 'container:lab'
    assert added['message'] == ("Capabilities beyond Docker's default set: CAP_SYS_ADMIN; they act only in the "
                                "rootless daemon's user namespace, its root is host uid 1000.")
    assert added['evidence'] == {'verdict': RO, 'acts_on_host': False, 'daemon_mode': 'rootless',
                                 'source': 'engine_api', 'added': ['CAP_SYS_ADMIN'], 'host_root': ['CAP_SYS_ADMIN']}
    evidence, verdict = judge('sys_admin', 'default')
    added = cp.container_findings('lab', evidence, verdict, 'default')[0]
    assert added['message'].endswith('in the host user namespace (default daemon): CAP_SYS_ADMIN leads to host root '
                                     'when acting on the host.')
    evidence, verdict = judge('socket', 'userns-remap')
    by_destination = dict((f['evidence']['mount']['destination'], f) for f in cp.container_findings(
        'ci', evidence, verdict, 'userns-remap') if f['id'] == 'container-sensitive-mount')
    assert by_destination['/host-etc']['message'] == (
        'Host path /etc is mounted writable at /host-etc: root is host uid 100000 here: it writes only what that '
        'uid may write.')
    assert by_destination['/var/run/docker.sock']['message'].startswith(
        "Host socket /var/run/docker.sock is mounted writable at /var/run/docker.sock: it is a rootful daemon's "
        "socket, and whoever connects is host root")
    evidence, verdict = judge('userns_host', 'userns-remap')
    nnp = cp.container_findings('escape', evidence, verdict, 'userns-remap')[0]
    assert 'in the host user namespace (UsernsMode=host under a userns-remap daemon)' in nnp['message']


def test_findings_tables_are_consistent():
    assert set(cp.FINDINGS) == {'container-privileged', 'container-added-capabilities',
                                'container-seccomp-unconfined', 'container-apparmor-unconfined',
                                'container-no-new-privileges-off', 'container-devices', 'container-sensitive-mount'}
    assert dict((k, v[0]) for k, v in cp.HOST_NAMESPACE_FINDINGS.items()) == {
        'pid': '5.15', 'net': '5.9', 'ipc': '5.16', 'uts': '5.20', 'cgroup': None, 'mnt': None}
    from ansible_collections.nsguard.docker.plugins.module_utils import _findings
    for cis, high, low in list(cp.FINDINGS.values()) + list(cp.HOST_NAMESPACE_FINDINGS.values()):
        assert _findings.severity_rank(high) > _findings.severity_rank(low) >= 0


# ------------------------------------------------------------------ properties

_BINDS = ['/srv/data:/data', '/etc:/host-etc', '/etc:/host-etc:ro', '/var/run/docker.sock:/var/run/docker.sock',
          '/run/user/1000/docker.sock:/var/run/docker.sock', '/:/host:ro', '/usr/share/zoneinfo:/zi:ro']


@st.composite
def api_only(draw):
    inspect = fixture_json('inspect_plain.json')
    host_config = inspect['HostConfig']
    host_config['CapAdd'] = draw(st.lists(st.sampled_from(['SYS_ADMIN', 'SYS_PTRACE', 'NET_ADMIN', 'BPF', 'PERFMON',
                                                           'DAC_READ_SEARCH', 'CHOWN']), max_size=3))
    host_config['CapDrop'] = draw(st.lists(st.sampled_from(['ALL', 'MKNOD', 'DAC_OVERRIDE']), max_size=2))
    host_config['SecurityOpt'] = draw(st.lists(st.sampled_from(['no-new-privileges', 'seccomp=unconfined',
                                                                'apparmor=unconfined']), max_size=3, unique=True))
    host_config['UsernsMode'] = draw(st.sampled_from(['', 'host']))
    host_config['PidMode'] = draw(st.sampled_from(['', 'host']))
    del inspect['Mounts']
    host_config['Binds'] = draw(st.lists(st.sampled_from(_BINDS), max_size=3, unique=True))
    inspect['Config']['User'] = draw(st.sampled_from(['', '0', '1000', 'app']))
    return inspect, draw(st.sampled_from(['default', 'userns-remap', 'rootless', 'unknown']))


@settings(max_examples=150, deadline=None)
@given(api_only())
def test_property_verdicts_and_privileged_monotonic(case):
    inspect, mode = case
    evidence = cp.container_evidence(inspect, daemon_mode=mode)
    verdict = cp.container_verdict(evidence, mode)
    assert verdict['verdict'] in cp.VERDICTS and verdict['reasons']
    rootful_socket = any(b.startswith(('/var/run/docker.sock', '/:')) for b in inspect['HostConfig']['Binds'])
    if evidence['acts_on_host'] is False and not rootful_socket:
        # Outside the host's user namespace only a rootful socket leads out.
        assert verdict['verdict'] in (RO, UP)
    if verdict['verdict'] == HR:
        assert evidence['acts_on_host'] is True or evidence['host_root_process'] is True
    inspect['HostConfig']['Privileged'] = True
    privileged = cp.container_evidence(inspect, daemon_mode=mode)
    assert RANK[cp.container_verdict(privileged, mode)['verdict']] >= RANK[verdict['verdict']]
    severities = [f['severity'] for f in cp.container_findings('p', privileged, verdict, mode)
                  if f['id'] == 'container-privileged']
    assert severities == ['low' if privileged['acts_on_host'] is False else 'critical']


def test_a_privileged_container_of_docker_20_10_lacks_three_capabilities_and_that_agrees():
    # Seen on Debian 12's docker.io 20.10.24: privileged gives every capability but PERFMON,
    # BPF and CHECKPOINT_RESTORE (moby#41563), and /proc shows exactly that.
    held_back = _capabilities.encode_caps(_capabilities.HELD_BACK_BEFORE_23)
    every = int('1ffffffffff', 16) & ~int(held_back, 16)
    status = re.sub(r'(?m)^(Cap(?:Inh|Prm|Eff|Bnd|Amb)):\t[0-9a-f]+$',
                    lambda m: '%s:\t%016x' % (m.group(1), every if m.group(1) in ('CapPrm', 'CapEff', 'CapBnd') else 0),
                    fixture_text('status_privileged'))
    kwargs = scenario_inputs('privileged', 'default')
    kwargs['status_text'] = _with_user(status, 0, fixture_text(MODES['default'][1]))
    old = cp.container_evidence(server_version='20.10.24+dfsg1', **kwargs)
    assert old['disagreements'] == [] and old['sources']['capabilities'] == 'proc'
    assert not set(old['capabilities']) & _capabilities.HELD_BACK_BEFORE_23 and 'CAP_SYS_ADMIN' in old['capabilities']
    assert cp.container_verdict(old, 'default')['verdict'] == 'host-root'
    # a daemon of 23.0 or later would have given them: the same /proc disagrees with it
    new = cp.container_evidence(server_version='29.1.3', **kwargs)
    assert sorted(d['fact'] for d in new['disagreements']) == ['bounding_capabilities', 'capabilities']
