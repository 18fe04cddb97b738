# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the audit units (_hostfs, _processes, _daemons, engine_api,
namespace_audit, socket_audit, fleet_report, the namespace_mode and socket_exposure
modules and the audit_report action).

``fakehost`` is tests/unit/fixtures/audit/fakehost.py, loaded once through importlib
(fixtures are not a package); ``run_module`` runs a module's main() as Ansible does;
``checked_documentation`` loads and checks an audit module's DOCUMENTATION.
The conftest.py next to this file puts this directory on sys.path and holds the fixtures.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib
import importlib.util
import json
import os
import sys

import pytest
import yaml

from module_args import patch_module_args

FAKEHOST_MODULE = 'nsguard_audit_fakehost'
FAKEHOST_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'audit', 'fakehost.py')


def load_fakehost():
    if FAKEHOST_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(FAKEHOST_MODULE, FAKEHOST_PATH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[FAKEHOST_MODULE] = module
    return sys.modules[FAKEHOST_MODULE]


fakehost = load_fakehost()


def run_module(module, args, capsys, check_mode=False):
    """Run ``module.main()`` with ``args``; the JSON it printed, with its exit code as ``_rc``."""
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            module.main()
    result = json.loads(capsys.readouterr().out)
    result['_rc'] = caught.value.code
    return result


def documented_options(doc):
    """The options of a parsed DOCUMENTATION merged with those of this collection's
    documentation fragments it extends, as ansible-doc shows them."""
    options = dict(doc.get('options') or {})
    for fragment in doc.get('extends_documentation_fragment') or []:
        if not fragment.startswith('nsguard.docker.'):
            continue
        name, _dot, variable = fragment[len('nsguard.docker.'):].partition('.')
        holder = importlib.import_module('ansible_collections.nsguard.docker.plugins.doc_fragments.' + name)
        text = getattr(holder.ModuleDocFragment, (variable or 'documentation').upper())
        for option_name, option in (yaml.safe_load(text).get('options') or {}).items():
            options.setdefault(option_name, option)
    return options


def checked_documentation(module, name):
    """``module.DOCUMENTATION`` parsed, with the options of its fragments merged in, after
    checking its name and that every option has a type, a description and a default."""
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc['module'] == name
    doc['options'] = documented_options(doc)
    for option_name, option in doc['options'].items():
        assert option.get('type') and option.get('description'), option_name
        assert 'default' in option, option_name
    return doc
