# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the audit units; puts audit_helpers.py (next to this file) on sys.path.

The units have no __init__.py, so they import the shared helpers by plain name:
``from audit_helpers import fakehost, run_module``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
pytest.register_assert_rewrite('audit_helpers')

from audit_helpers import fakehost  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def host():
    """A fresh fake host tree (proc/, etc/, run/ below a short temporary directory)."""
    fake = fakehost.FakeHost()
    yield fake
    fake.close()
