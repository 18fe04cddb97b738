# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_findings.py: severities, findings and the gate."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _findings


def test_severity_helpers_and_gate():
    findings = [_findings.make_finding('a', 'low', None, 's', 'm'),
                _findings.make_finding('b', 'critical', '2.7', 's', 'm'),
                _findings.make_finding('c', 'high', None, 's', 'm', {'x': 1})]
    assert _findings.max_severity(findings) == 'critical'
    assert _findings.max_severity([]) is None
    assert _findings.count_by_severity(findings) == {'info': 0, 'low': 1, 'medium': 0, 'high': 1, 'critical': 1}
    assert [f['id'] for f in _findings.sort_findings(findings)] == ['b', 'c', 'a']
    assert _findings.gate(findings, 'none') == []
    assert [f['id'] for f in _findings.gate(findings, 'high')] == ['b', 'c']
    assert [f['id'] for f in _findings.gate(findings, 'info')] == ['a', 'b', 'c']
    assert _findings.gate([findings[0]], 'medium') == []
    message = _findings.gate_message('x', _findings.gate(findings, 'high'), 'high')
    assert '2 finding(s) at or above high' in message and '1 critical' in message
    with pytest.raises(ValueError):
        _findings.make_finding('a', 'severe', None, 's', 'm')
