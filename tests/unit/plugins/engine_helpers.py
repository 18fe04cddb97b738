# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the engine inspection units (_openpgp, _dpkg, _apt_sources, _engine_inspect,
_engine_plan and the engine_info module).

The fixtures are under tests/unit/fixtures/engine: ``keys/`` (throw-away OpenPGP keys
made with gpg, their fingerprints in keys/FINGERPRINTS), ``dpkg/status``, ``sources/``
and two host trees, ``converged/`` (what the role leaves: key, deb822 source, pin,
packages) and ``legacy/`` (leftovers of older ways to add Docker's repository). A test
copies a tree (:func:`host_tree`) and changes the copy for its drift case.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil

from ansible_collections.nsguard.docker.plugins.module_utils._hostfs import HostFS
from ansible_collections.nsguard.docker.tests.unit.conftest import FIXTURES

ENGINE = os.path.join(FIXTURES, 'engine')
KEYS = os.path.join(ENGINE, 'keys')


def _fingerprints():
    out = {}
    with open(os.path.join(KEYS, 'FINGERPRINTS')) as handle:
        for line in handle:
            fpr, _sep, names = line.strip().partition('  ')
            for name in names.split():
                out[name] = fpr
    return out


FPRS = _fingerprints()
DOCKER_FPR = FPRS['docker.asc']
OTHER_FPR = FPRS['other.gpg']
VERSION = '5:29.1.3-1~ubuntu.24.04~noble'
MIRROR = 'https://artifacts.example.invalid/docker-ubuntu'


def key_bytes(name):
    with open(os.path.join(KEYS, name), 'rb') as handle:
        return handle.read()


def host_tree(tmp_path, name='converged'):
    """A copy of fixture tree ``name`` below ``tmp_path`` (its path as str)."""
    root = os.path.join(str(tmp_path), name)
    shutil.copytree(os.path.join(ENGINE, name), root, symlinks=True)
    for directory, _dirs, files in os.walk(root):
        for file_name in files:
            os.chmod(os.path.join(directory, file_name), 0o644)
    return root


class TreeFS(HostFS):
    """HostFS on a fixture tree whose files all belong to root (0:0), whoever runs the
    units, except the host paths in ``owners`` ({path: (uid, gid)})."""

    def __init__(self, root, owners=None):
        super(TreeFS, self).__init__(proc_root=os.path.join(root, 'proc'),
                                     etc_root=os.path.join(root, 'etc'),
                                     run_root=os.path.join(root, 'run'),
                                     usr_root=os.path.join(root, 'usr'))
        self.root = root
        self.owners = dict((self.path(p), ids) for p, ids in (owners or {}).items())

    def _stat(self, real_path, follow=True):
        st_ = super(TreeFS, self)._stat(real_path, follow)
        uid, gid = self.owners.get(real_path, (0, 0))
        values = list(st_[:10])
        values[4], values[5] = uid, gid
        return os.stat_result(values)


def write(root, host_path, data, mode=0o644):
    """Write ``data`` (str or bytes) at ``host_path`` of tree ``root``."""
    path = os.path.join(root, host_path.lstrip('/'))
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as handle:
        handle.write(data if isinstance(data, bytes) else data.encode('utf-8'))
    os.chmod(path, mode)
    return path


def remove(root, host_path):
    os.unlink(os.path.join(root, host_path.lstrip('/')))


class FakeCommands(object):
    """``run`` and ``which`` for :func:`_engine_inspect.inspect`: systemctl answers with
    ``units`` ({unit: {prop: value}}), dpkg with ``arch``; every argv is kept in ``calls``."""

    def __init__(self, units=None, arch='amd64', missing=()):
        self.units = units if units is not None else {
            'docker.socket': {'LoadState': 'loaded', 'ActiveState': 'active', 'UnitFileState': 'enabled'},
            'docker.service': {'LoadState': 'loaded', 'ActiveState': 'active', 'UnitFileState': 'enabled'},
        }
        self.arch = arch
        self.missing = set(missing)
        self.calls = []

    def which(self, name):
        return None if name in self.missing else '/usr/bin/' + name

    def run(self, argv):
        self.calls.append(list(argv))
        name = os.path.basename(argv[0])
        if name == 'dpkg':
            return 0, self.arch + '\n', ''
        if name == 'systemctl':
            blocks = []
            for unit in argv[argv.index('--') + 1:]:
                props = self.units.get(unit, {'LoadState': 'not-found', 'ActiveState': 'inactive',
                                              'UnitFileState': ''})
                lines = ['Id=%s' % unit] + ['%s=%s' % (k, props[k]) for k in sorted(props)]
                blocks.append('\n'.join(lines))
            return 0, '\n\n'.join(blocks) + '\n', ''
        return 127, '', 'unexpected command %r' % (argv,)
