# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_systemd.py, systemctl faked (engine_helpers.FakeCommands)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.nsguard.docker.plugins.module_utils import _systemd

from engine_helpers import FakeCommands


def test_parse_systemctl_show():
    text = ('Id=docker.socket\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n\n'
            'Id=docker.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n')
    assert _systemd.parse_systemctl_show(text, ['docker.socket', 'docker.service']) == {
        'docker.socket': {'LoadState': 'loaded', 'ActiveState': 'active', 'UnitFileState': 'enabled'},
        'docker.service': {'LoadState': 'not-found', 'ActiveState': 'inactive', 'UnitFileState': 'none'},
    }


def test_parse_systemctl_show_nothing_printed():
    assert _systemd.parse_systemctl_show('', ['docker.service']) == {
        'docker.service': {'LoadState': 'unknown', 'ActiveState': 'unknown', 'UnitFileState': 'unknown'}}


def test_parse_systemctl_show_fewer_blocks_than_units():
    text = 'Id=docker.socket\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n'
    states = _systemd.parse_systemctl_show(text, ['docker.socket', 'user@1001.service'])
    assert states['user@1001.service'] == _systemd.unknown_unit()


def test_unit_states_asks_systemctl_once_for_every_unit():
    cmds = FakeCommands(units={'user@1001.service': {'LoadState': 'loaded', 'ActiveState': 'active',
                                                     'UnitFileState': 'static'}})
    states = _systemd.unit_states(cmds.run, cmds.which, ['docker.service', 'user@1001.service'])
    assert states['user@1001.service']['ActiveState'] == 'active'
    assert states['docker.service'] == {'LoadState': 'not-found', 'ActiveState': 'inactive', 'UnitFileState': 'none'}
    assert cmds.calls == [['/usr/bin/systemctl', 'show', '--property=Id,LoadState,ActiveState,UnitFileState',
                           '--', 'docker.service', 'user@1001.service']]


def test_unit_states_of_no_unit_start_nothing():
    cmds = FakeCommands()
    assert _systemd.unit_states(cmds.run, cmds.which, []) == {}
    assert cmds.calls == []
