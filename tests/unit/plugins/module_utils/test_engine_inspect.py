# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_engine_inspect.py on the host trees of
tests/unit/fixtures/engine, with systemctl and dpkg faked (engine_helpers.FakeCommands)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _engine_inspect

from engine_helpers import DOCKER_FPR, MIRROR, VERSION, FakeCommands, TreeFS, host_tree

PIN = '/etc/apt/preferences.d/docker-engine'
SOURCE = '/etc/apt/sources.list.d/docker.sources'
KEY = '/etc/apt/keyrings/docker.asc'
SOCK = '/run/docker.sock'


@pytest.fixture
def dpkg_status(monkeypatch):
    def point(root):
        monkeypatch.setattr(_engine_inspect, 'DPKG_STATUS', os.path.join(root, 'var/lib/dpkg/status'))
    return point


def test_unit_states_asks_systemctl_once():
    cmds = FakeCommands()
    states = _engine_inspect.unit_states(cmds.run, cmds.which)
    assert states['docker.service']['ActiveState'] == 'active'
    assert cmds.calls == [['/usr/bin/systemctl', 'show', '--property=Id,LoadState,ActiveState,UnitFileState',
                           '--', 'docker.socket', 'docker.service']]


def test_unit_states_without_systemctl():
    cmds = FakeCommands(missing=['systemctl'])
    assert _engine_inspect.unit_states(cmds.run, cmds.which)['docker.socket']['LoadState'] == 'unknown'
    assert cmds.calls == []


def test_dpkg_architecture():
    cmds = FakeCommands(arch='arm64')
    assert _engine_inspect.dpkg_architecture(cmds.run, cmds.which) == 'arm64'
    assert _engine_inspect.dpkg_architecture(cmds.run, FakeCommands(missing=['dpkg']).which) == ''
    assert _engine_inspect.dpkg_architecture(lambda argv: (2, 'garbage', 'err'), cmds.which) == ''


def test_file_facts(tmp_path):
    root = host_tree(tmp_path)
    fs = TreeFS(root, owners={PIN: (0, 1000)})
    with open(os.path.join(root, PIN.lstrip('/')), 'rb') as handle:
        pin = handle.read()
    assert _engine_inspect.file_facts(fs, PIN) == {
        'exists': True, 'mode': '0644', 'uid': 0, 'gid': 1000, 'regular': True, 'sha1': hashlib.sha1(pin).hexdigest()}
    source = _engine_inspect.file_facts(fs, SOURCE, with_text=True)
    assert source['text'].startswith('Architectures: amd64\n')
    assert _engine_inspect.file_facts(fs, SOCK) == {'exists': False}


def test_file_facts_of_a_special_file_read_nothing(tmp_path):
    # a FIFO stands in for the socket (no path length limit): opening it would block
    root = host_tree(tmp_path)
    os.mkfifo(os.path.join(root, 'run', 'docker.sock'))
    entry = _engine_inspect.file_facts(TreeFS(root), SOCK, with_text=True)
    assert entry['exists'] and not entry['regular'] and entry['sha1'] == '' and 'text' not in entry


def test_package_states_reads_a_large_status_file(tmp_path, dpkg_status):
    root = host_tree(tmp_path)
    status = os.path.join(root, 'var/lib/dpkg/status')
    with open(status, 'a') as handle:  # more than HostFS reads by default (4 MiB)
        stanza = 'Package: filler\nStatus: install ok installed\nVersion: 1\nDescription: %s\n\n' % ('x' * 1000)
        handle.write('\n' + stanza * 5000 + 'Package: last\nStatus: install ok installed\nVersion: 9\n')
    dpkg_status(root)
    states = _engine_inspect.package_states(TreeFS(root), ['docker-ce', 'last'])
    assert states['docker-ce']['version'] == VERSION and states['last']['version'] == '9'


def test_inspect_converged_host(tmp_path, dpkg_status):
    root = host_tree(tmp_path)
    dpkg_status(root)
    cmds = FakeCommands()
    facts = _engine_inspect.inspect(TreeFS(root), cmds.run, cmds.which, ['docker-ce', 'runc'], KEY, PIN, SOURCE,
                                    [MIRROR], DOCKER_FPR)
    assert facts['keyrings'] == {KEY: {'exists': True, 'fingerprints': [DOCKER_FPR], 'armored': True, 'error': None}}
    assert facts['packages']['docker-ce']['selection'] == 'hold'
    assert facts['packages']['runc']['state'] == 'not-installed'
    assert facts['units']['docker.socket']['UnitFileState'] == 'enabled'
    assert set(facts['files']) == {PIN, SOURCE, KEY, SOCK}
    assert 'text' in facts['files'][SOURCE] and 'text' not in facts['files'][PIN]
    assert facts['socket_path'] == SOCK
    assert facts['os'] == {'deb_arch': 'amd64'}
    assert facts['legacy'] == {'remove': [], 'comment': [], 'manual': [], 'strip': [], 'shared': []}
    assert facts['errors'] == []


def test_inspect_reports_unreadable_files(tmp_path, dpkg_status):
    root = host_tree(tmp_path)
    dpkg_status(root)
    fs = TreeFS(root)

    def refuse(real_path):
        if real_path.endswith('ubuntu.sources'):
            raise PermissionError(13, 'Permission denied')
        return open(real_path, 'rb')

    fs._open = refuse
    cmds = FakeCommands()
    facts = _engine_inspect.inspect(fs, cmds.run, cmds.which, [], KEY, PIN, SOURCE, [MIRROR], DOCKER_FPR)
    assert facts['errors'] == [{'path': '/etc/apt/sources.list.d/ubuntu.sources', 'operation': 'read',
                                'kind': 'permission', 'error': 'Permission denied'}]
