# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the rootless inspection units (_rootless_inspect, _rootless_plan and the
rootless_info module).

The fixture is tests/unit/fixtures/rootless/converged (see its README): a host as the
rootless role leaves it for alice, with bob an account nothing was done for. A test copies
it (:class:`FakeHost`), and changes the copy for its drift case. Accounts, the users'
daemons (what GET /info on their socket answers), systemctl and ``rootlesskit true`` are
faked; every call is kept.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import pwd
import shutil

from ansible_collections.nsguard.docker.plugins.module_utils import _rootless_inspect, _rootless_plan
from ansible_collections.nsguard.docker.tests.unit.conftest import FIXTURES

from engine_helpers import FakeCommands, TreeFS

ROOTLESS = os.path.join(FIXTURES, 'rootless')
ACCOUNTS = {'alice': 1001, 'bob': 1002}
ROOTLESS_INFO = {'ServerVersion': '29.1.3', 'SecurityOptions': ['name=seccomp,profile=builtin', 'name=rootless',
                                                                'name=cgroupns']}
ACTIVE = {'LoadState': 'loaded', 'ActiveState': 'active', 'UnitFileState': 'enabled'}
MASKED = {'LoadState': 'masked', 'ActiveState': 'inactive', 'UnitFileState': 'masked'}


def host_tree(tmp_path, name='converged'):
    """A copy of fixture tree ``name`` below ``tmp_path`` (its path as str), its files 0644,
    rootlesskit executable, alice's enablement link, the role's profile.d file and its
    user@.service drop-in in place."""
    root = os.path.join(str(tmp_path), name)
    shutil.copytree(os.path.join(ROOTLESS, name), root, symlinks=True)
    for directory, _dirs, files in os.walk(root):
        for file_name in files:
            os.chmod(os.path.join(directory, file_name), 0o644)
    os.chmod(os.path.join(root, 'usr', 'bin', 'rootlesskit'), 0o755)
    # not a fixture file: ansible-test's shellcheck would lint it as a script of the collection
    profile_d = os.path.join(root, 'etc', 'profile.d')
    os.mkdir(profile_d)
    with open(os.path.join(profile_d, 'nsguard-rootless-docker.sh'), 'w') as handle:
        handle.write(_rootless_plan.PROFILE_D_CONTENT)
    os.chmod(os.path.join(profile_d, 'nsguard-rootless-docker.sh'), 0o644)
    delegate = os.path.join(root, _rootless_plan.DELEGATE_PATH.lstrip('/'))
    os.makedirs(os.path.dirname(delegate))
    with open(delegate, 'w') as handle:
        handle.write(_rootless_plan.delegate_content(_rootless_plan.DELEGATE_CONTROLLERS))
    os.chmod(delegate, 0o644)
    wants = os.path.join(root, 'home', 'alice', '.config', 'systemd', 'user', 'default.target.wants')
    os.mkdir(wants)
    os.symlink('../docker.service', os.path.join(wants, 'docker.service'))
    return root


class FakeHost(object):
    """The host of the inspection: a copy of the fixture tree, read through a TreeFS (files
    root:root unless ``owners`` says otherwise), accounts from :data:`ACCOUNTS` with their
    homes in the tree, ``daemons`` answering GET /info by user name, systemctl from
    ``commands`` (FakeCommands) and ``rootlesskit true`` answering ``userns``
    ((rc, stderr)). ``patch(monkeypatch)`` points _rootless_inspect at all of it."""

    def __init__(self, tmp_path):
        self.root = host_tree(tmp_path)
        self.owners = {}
        self.accounts = dict(ACCOUNTS)
        self.daemons = {'alice': ROOTLESS_INFO}
        self.commands = FakeCommands(units={
            'docker.service': dict(MASKED), 'docker.socket': dict(MASKED),
            'user@1001.service': dict(ACTIVE, UnitFileState='static'),
        })
        self.userns = (0, '')
        self.spawned = []
        self.looked_up = []

    def path(self, *parts):
        """The tree's path of host path ``parts`` (``'home/alice/.profile'``)."""
        return os.path.join(self.root, *[p.lstrip('/') for p in parts])

    @property
    def rootlesskit(self):
        return self.path('usr/bin/rootlesskit')

    def fs(self):
        return TreeFS(self.root, self.owners)

    def getpwnam(self, name):
        self.looked_up.append(name)
        if name not in self.accounts:
            raise KeyError(name)
        uid = self.accounts[name]
        return pwd.struct_passwd((name, 'x', uid, uid, '', self.path('home', name), '/bin/bash'))

    def info(self, socket_path):
        for name, uid in self.accounts.items():
            if socket_path == self.path('run/user/%d/docker.sock' % uid):
                return self.daemons.get(name)
        raise AssertionError('unexpected socket %s' % socket_path)

    def spawn(self, pw, argv, env, timeout):
        self.spawned.append({'user': pw.pw_name, 'argv': list(argv), 'env': dict(env), 'timeout': timeout})
        return self.userns

    def write(self, host_path, text, mode=0o644):
        path = self.path(host_path)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, 'w') as handle:
            handle.write(text)
        os.chmod(path, mode)
        return path

    def remove(self, host_path):
        path = self.path(host_path)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def patch(self, monkeypatch):
        monkeypatch.setattr(_rootless_inspect, 'host_fs', self.fs)
        monkeypatch.setattr(_rootless_inspect, 'DPKG_STATUS', self.path('var/lib/dpkg/status'))
        monkeypatch.setattr(_rootless_inspect, 'LINGER_DIR', self.path('var/lib/systemd/linger'))
        monkeypatch.setattr(_rootless_inspect, 'getpwnam', self.getpwnam)
        monkeypatch.setattr(_rootless_inspect, 'engine_info', self.info)
        monkeypatch.setattr(_rootless_inspect, 'spawn_as', self.spawn)
        return self
