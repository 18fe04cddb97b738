# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Units as systemd sees them, from one ``systemctl show`` for all of them.

Standard library only, no Ansible imports, and nothing else of the collection: the info
modules of the roles import it without the parsers of other concerns. Commands go
through ``run(argv) -> (rc, stdout, stderr)`` and ``which(name) -> path``, as
``AnsibleModule.run_command`` and ``get_bin_path`` provide them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

UNIT_PROPERTIES = ('LoadState', 'ActiveState', 'UnitFileState')


def unknown_unit():
    return dict((prop, 'unknown') for prop in UNIT_PROPERTIES)


def parse_systemctl_show(text, units):
    """``{unit: {LoadState, ActiveState, UnitFileState}}`` from ``systemctl show
    --property=Id,LoadState,ActiveState,UnitFileState -- UNITS...`` output.

    systemctl prints one block per unit, in the order asked, separated by blank lines.
    A unit without a unit file has an empty ``UnitFileState``, reported as ``none``;
    a unit systemctl printed nothing for stays ``unknown``.
    """
    result = dict((unit, unknown_unit()) for unit in units)
    blocks = text.strip().split('\n\n') if text.strip() else []
    for unit, block in zip(units, blocks):
        props = {}
        for line in block.splitlines():
            if '=' in line:
                key, value = line.split('=', 1)
                props[key] = value
        props.pop('Id', None)
        result[unit].update(props)
        result[unit]['UnitFileState'] = result[unit].get('UnitFileState') or 'none'
    return result


def unit_states(run, which, units):
    """:func:`parse_systemctl_show` of this host; every state ``unknown`` without systemctl."""
    units = list(units)
    systemctl = which('systemctl')
    if not units or not systemctl:
        return dict((unit, unknown_unit()) for unit in units)
    _rc, out, _err = run([systemctl, 'show', '--property=Id,' + ','.join(UNIT_PROPERTIES), '--'] + units)
    return parse_systemctl_show(out or '', units)
