# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The state of packages in dpkg's status database (``/var/lib/dpkg/status``).

Standard library only, no Ansible imports. Reading the file is what ``dpkg-query``
does, without starting it once per package.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

STATUS_PATH = '/var/lib/dpkg/status'
#: dpkg's status file of a large host is several megabytes; HostFS reads 4 by default.
STATUS_LIMIT = 256 * 1024 * 1024

#: dpkg states in which the package's files are on disk (``dpkg -s`` says installed or
#: half way there); ``config-files``, ``half-installed`` and ``not-installed`` are not.
INSTALLED_STATES = ('installed', 'half-configured', 'unpacked', 'triggers-awaited',
                    'triggers-pending')


def not_installed():
    """The entry of a package dpkg does not know."""
    return {'installed': False, 'version': '', 'selection': '', 'state': 'not-installed'}


def parse_status(text, names):
    """``{name: {'installed', 'version', 'selection', 'state'}}`` for each of ``names``.

    ``text`` is the status file. ``selection`` is the first word of ``Status:``
    (install, hold, deinstall, purge), ``state`` its third (installed, config-files, ...).
    A name in several stanzas (one per architecture) is installed if any stanza is.
    Names dpkg does not know are ``not-installed``.
    """
    wanted = set(names)
    found = {}
    for stanza in text.split('\n\n'):
        fields = {}
        for line in stanza.splitlines():
            if line[:1] in (' ', '\t') or ':' not in line:
                continue
            key, value = line.split(':', 1)
            fields[key] = value.strip()
        name = fields.get('Package')
        if name not in wanted:
            continue
        status = fields.get('Status', '').split()
        installed = len(status) == 3 and status[2] in INSTALLED_STATES
        entry = {'installed': installed, 'version': fields.get('Version', ''),
                 'selection': status[0] if status else '',
                 'state': status[2] if len(status) == 3 else ''}
        if name not in found or (installed and not found[name]['installed']):
            found[name] = entry
    for name in names:
        found.setdefault(name, not_installed())
    return found


def read_status(fs, names, status_path=STATUS_PATH):
    """:func:`parse_status` of the status file at host path ``status_path``, read through
    ``fs`` (a :class:`~._hostfs.HostFS`); every package not installed without the file."""
    text = fs.read_text(status_path, missing_ok=True, limit=STATUS_LIMIT) or ''
    return parse_status(text, list(names))
