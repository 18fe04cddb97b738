# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the engine role needs to know about a host, read in one go and read-only.

Standard library only, no Ansible imports. :func:`inspect` returns the facts the
decisions of :mod:`._engine_plan` are made from: the installed repository key and its
fingerprints, dpkg's state of the packages, ``docker.socket``/``docker.service`` as
systemd sees them, the role's own files (version pin, deb822 source, rootful socket),
dpkg's architecture and the leftovers of older ways to add Docker's repository.

Files are read through a :class:`~._hostfs.HostFS` (host paths, roots the units move);
commands through ``run(argv) -> (rc, stdout, stderr)`` and ``which(name) -> path``, as
``AnsibleModule.run_command`` and ``get_bin_path`` provide them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import stat

from ansible_collections.nsguard.docker.plugins.module_utils import _apt_sources, _dpkg, _sysctl_d, _systemd
from ansible_collections.nsguard.docker.plugins.module_utils._hostfs import HostFS

#: Where host paths are read (the units point these at fixture trees).
ETC_ROOT = '/etc'
RUN_ROOT = '/run'
DPKG_STATUS = _dpkg.STATUS_PATH
DPKG_STATUS_LIMIT = _dpkg.STATUS_LIMIT
SOCKET_PATH = '/run/docker.sock'
UNITS = ('docker.socket', 'docker.service')


def host_fs():
    """A :class:`HostFS` reading ``/etc`` and ``/run`` below :data:`ETC_ROOT` and :data:`RUN_ROOT`."""
    return HostFS(etc_root=ETC_ROOT, run_root=RUN_ROOT)


def unit_states(run, which, units=UNITS):
    """:func:`._systemd.unit_states` of ``units`` (default both rootful units)."""
    return _systemd.unit_states(run, which, units)


def dpkg_architecture(run, which):
    """``dpkg --print-architecture`` (``amd64``), or '' when dpkg cannot say."""
    dpkg = which('dpkg')
    if not dpkg:
        return ''
    rc, out, _err = run([dpkg, '--print-architecture'])
    return (out or '').strip() if rc == 0 else ''


def file_facts(fs, path, with_text=False):
    """``{'exists', 'mode', 'uid', 'gid', 'regular', 'sha1'}`` of host ``path`` (links followed);
    with ``with_text`` also its ``text`` (so a rejected change can be put back)."""
    st_ = fs.stat(path, missing_ok=True)
    if st_ is None:
        return {'exists': False}
    entry = {'exists': True, 'mode': '%04o' % (st_.st_mode & 0o7777), 'uid': st_.st_uid,
             'gid': st_.st_gid, 'regular': stat.S_ISREG(st_.st_mode), 'sha1': ''}
    if stat.S_ISREG(st_.st_mode):
        data = fs.read_bytes(path)
        if data is not None:
            entry['sha1'] = hashlib.sha1(data).hexdigest()
            if with_text:
                entry['text'] = data.decode('utf-8', 'replace')
    return entry


def package_states(fs, names, status_path=None):
    """:func:`._dpkg.read_status` of this host's status file for ``names``."""
    return _dpkg.read_status(fs, names, status_path or DPKG_STATUS)


def inspect(fs, run, which, packages, key_path, pin_file, sources_file, repo_urls,
            fingerprint, socket_path=None, units=UNITS):
    """Every fact the engine role decides on, as one dict.

    ``keyrings`` {key_path: :func:`._apt_sources.read_keyring`}, ``packages``
    {name: dpkg state}, ``units`` {unit: systemd states}, ``files`` {path: :func:`file_facts`}
    of the pin, the source (with its text), the key and the rootful socket (``socket_path``),
    ``os`` {``deb_arch``},
    ``legacy`` (:func:`._apt_sources.scan_legacy` for Docker's key ``fingerprint``, empty
    without one), ``sysctl`` (:func:`._sysctl_d.facts`: ``net.ipv4.ip_forward`` and
    ``user.max_user_namespaces`` at boot and now) and ``errors`` (what could not be read, from ``fs``).
    """
    socket_path = socket_path or SOCKET_PATH
    return {
        'keyrings': {key_path: _apt_sources.read_keyring(fs, key_path)},
        'packages': package_states(fs, packages),
        'units': unit_states(run, which, units),
        'files': {
            pin_file: file_facts(fs, pin_file),
            sources_file: file_facts(fs, sources_file, with_text=True),
            key_path: file_facts(fs, key_path),
            socket_path: file_facts(fs, socket_path),
        },
        'socket_path': socket_path,
        'os': {'deb_arch': dpkg_architecture(run, which)},
        'legacy': _apt_sources.scan_legacy(fs, repo_urls, sources_file, key_path, fingerprint),
        'sysctl': _sysctl_d.facts(fs),
        'errors': fs.errors,
    }
