# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_dpkg.py on tests/unit/fixtures/engine/dpkg/status."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _dpkg

from engine_helpers import ENGINE, VERSION, TreeFS


@pytest.fixture(scope='module')
def status():
    with open(os.path.join(ENGINE, 'dpkg', 'status')) as handle:
        return handle.read()


def test_held_and_installed(status):
    pkgs = _dpkg.parse_status(status, ['docker-ce', 'runc', 'ca-certificates'])
    assert pkgs['docker-ce'] == {'installed': True, 'version': VERSION, 'selection': 'hold', 'state': 'installed'}
    assert pkgs['runc']['installed'] and pkgs['runc']['selection'] == 'install'
    assert pkgs['ca-certificates']['version'] == '20240203'


def test_config_files_purged_and_unknown_are_not_installed(status):
    pkgs = _dpkg.parse_status(status, ['docker.io', 'containerd', 'python3-debian'])
    assert pkgs['docker.io'] == {'installed': False, 'version': '28.2.2-0ubuntu1~24.04.1',
                                 'selection': 'deinstall', 'state': 'config-files'}
    assert pkgs['containerd']['installed'] is False and pkgs['containerd']['state'] == 'not-installed'
    assert pkgs['python3-debian'] == _dpkg.not_installed()


def test_half_configured_and_unpacked_count_as_installed(status):
    pkgs = _dpkg.parse_status(status, ['docker-compose-plugin', 'podman-docker'])
    assert pkgs['docker-compose-plugin']['installed'] and pkgs['docker-compose-plugin']['state'] == 'half-configured'
    # i386 stanza has config-files, the amd64 one is unpacked: the installed one wins
    assert pkgs['podman-docker']['installed'] and pkgs['podman-docker']['state'] == 'unpacked'


def test_continuation_lines_are_not_fields(status):
    # ca-certificates' Description continues with " Package: not-a-stanza-field ..."
    pkgs = _dpkg.parse_status(status, ['not-a-stanza-field'])
    assert pkgs['not-a-stanza-field'] == _dpkg.not_installed()


def test_empty_status_and_odd_status_line():
    assert _dpkg.parse_status('', ['x']) == {'x': _dpkg.not_installed()}
    pkgs = _dpkg.parse_status('Package: x\nStatus: install\nVersion: 1\n', ['x'])
    assert pkgs['x'] == {'installed': False, 'version': '1', 'selection': 'install', 'state': ''}


def test_read_status_through_a_host_fs(tmp_path):
    fs = TreeFS(str(tmp_path))
    status = os.path.join(ENGINE, 'dpkg', 'status')
    assert _dpkg.read_status(fs, ['docker-ce'], status)['docker-ce']['version'] == VERSION
    # no status file: nothing is installed, and that is no error
    missing = str(tmp_path / 'var' / 'lib' / 'dpkg' / 'status')
    assert _dpkg.read_status(fs, ['docker-ce'], missing) == {'docker-ce': _dpkg.not_installed()}
    assert fs.errors == []
