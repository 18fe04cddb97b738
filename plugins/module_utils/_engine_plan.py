# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The decisions of the engine role, from the facts of :mod:`._engine_inspect`.

Plain functions on plain data; no Ansible imports, standard library only. :func:`plan`
takes the role's inputs (the options of ``nsguard.docker.engine_info``, named as the
role's variables without ``engine_``), the platform facts (:mod:`._platform`) and the
inspected facts, and says what the role's tasks are to do: the effective repository
settings and whether they are valid, whether the installed key, the deb822 source and
the version pin are right, what to remove, what to install, which holds and units to
change. What depends on results of the same run (a source just written, packages just
installed) is left to the role; the plan gives it the parts to combine.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import re

from ansible_collections.nsguard.docker.plugins.module_utils import _apt_source, _apt_sources, _openpgp, _sysctl_d

DEFAULT_REPO_BASE = 'https://download.docker.com/linux/'
#: The repository URL Docker's own entries are recognised by when none is set.
DEFAULT_LEGACY_URL = 'https://download.docker.com/'
DEFAULT_FINGERPRINT = '9DC858229FC7DD38854AE2D88D81803C0EBFCD88'
DEFAULT_KEY_PATH = '/etc/apt/keyrings/docker.asc'
SOURCES_DIR = '/etc/apt/sources.list.d'
PREFERENCES_DIR = '/etc/apt/preferences.d'

#: The package choices (``engine_install_<choice>``), in the order packages are listed.
CHOICES = ('docker_ce', 'cli', 'containerd', 'buildx', 'compose', 'rootless_extras')

#: Package of each choice in Docker's repository.
DOCKER_PACKAGE_NAMES = {
    'docker_ce': 'docker-ce',
    'cli': 'docker-ce-cli',
    'containerd': 'containerd.io',
    'buildx': 'docker-buildx-plugin',
    'compose': 'docker-compose-plugin',
    'rootless_extras': 'docker-ce-rootless-extras',
}

#: The distributions' own packages. '' means no such package (part of another one, or
#: not packaged for that release). Another distribution ID is taken as Debian.
DISTRO_PACKAGE_NAMES = {
    'ubuntu': {
        'docker_ce': 'docker.io',
        'cli': '',
        'containerd': 'containerd',
        'buildx': 'docker-buildx',
        'compose': 'docker-compose-v2',
        'rootless_extras': 'rootlesskit',
    },
    'debian': {
        'docker_ce': 'docker.io',
        'cli': '',
        'containerd': 'containerd',
        'buildx': 'docker-buildx',
        'compose': 'docker-compose',
        'rootless_extras': 'rootlesskit',
    },
}
#: Per release (codename) differences from DISTRO_PACKAGE_NAMES.
DISTRO_RELEASE_OVERRIDES = {
    'bookworm': {'buildx': ''},
}

#: Defaults of engine_version_packages and engine_conflicting_packages per source (the
#: role's vars/main.yml holds the same tables for its defaults; a unit compares them).
VERSION_PACKAGES_DEFAULT = {
    'docker': ['docker-ce', 'docker-ce-cli', 'docker-ce-rootless-extras'],
    'distro': ['docker.io'],
}
CONFLICTING_DEFAULT = {
    'docker': ['docker.io', 'docker-doc', 'docker-compose', 'docker-compose-v2', 'docker-buildx',
               'podman-docker', 'containerd', 'runc'],
    'distro': ['docker-ce', 'docker-ce-cli', 'containerd.io', 'docker-buildx-plugin',
               'docker-compose-plugin', 'docker-ce-rootless-extras'],
}

UNITS = ('docker.socket', 'docker.service')
#: LoadState values of a unit systemd has no file for (or systemctl could not say).
UNLOADED = ('not-found', 'unknown')
#: The pin file and the deb822 source are written root:root 0644.
FILE_MODE = '0644'

# The role's checks of the repository settings (those of nsguard.docker.apt_source).
_REPO_URL = _apt_sources.REPO_URL
_ONE_WORD = _apt_sources.ONE_WORD
_ARCH = _apt_sources.ARCH


def unique(items):
    """``items`` without repeats, in first-seen order."""
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def known_packages():
    """Every package name the tables of this module can choose."""
    names = list(DOCKER_PACKAGE_NAMES.values())
    for table in DISTRO_PACKAGE_NAMES.values():
        names.extend(table.values())
    for table in DISTRO_RELEASE_OVERRIDES.values():
        names.extend(table.values())
    for table in (VERSION_PACKAGES_DEFAULT, CONFLICTING_DEFAULT):
        for values in table.values():
            names.extend(values)
    return sorted(set(n for n in names if n))


def with_defaults(params):
    """``params`` with the per-source defaults filled in (version_packages,
    conflicting_packages left None) and the fingerprint normalised."""
    params = dict(params)
    source = params.get('source') or 'docker'
    params['source'] = source
    if params.get('version_packages') is None:
        params['version_packages'] = list(VERSION_PACKAGES_DEFAULT[source])
    if params.get('conflicting_packages') is None:
        params['conflicting_packages'] = list(CONFLICTING_DEFAULT[source])
    params['expected_fingerprint'] = _openpgp.normalize_fingerprint(params.get('repo_key_fingerprint'))
    return params


def inspected_packages(params):
    """The package names whose dpkg state the plan reads (params after :func:`with_defaults`)."""
    return unique(list(params['conflicting_packages']) + list(params['prerequisite_packages'])
                  + list(params['version_packages']) + list(params['packages'])
                  + list(params['extra_packages']) + known_packages())


def sources_file(name):
    return '%s/%s.sources' % (SOURCES_DIR, name)


def pin_file(name):
    return '%s/%s-engine' % (PREFERENCES_DIR, name)


def deb822_slug(name):
    """The file name ansible.builtin.deb822_repository makes of a source's name."""
    return re.sub(r'[^a-z0-9-]+', '', re.sub(r'[_\s]+', '-', name.lower()))


def pin_content(version_packages, version, priority):
    """The apt preferences file that keeps ``version_packages`` at ``version``."""
    return ('# Managed by nsguard.docker.engine (engine_version): apt keeps these packages at this\n'
            '# version, also against unattended-upgrades. Remove engine_version to unpin.\n'
            'Package: %s\n'
            'Pin: version %s\n'
            'Pin-Priority: %s\n') % (' '.join(version_packages), version, priority)


def host_os(platform, facts):
    """``{'id', 'codename', 'deb_arch'}``: os-release ID and codename, dpkg's architecture
    (else the machine's Debian name)."""
    return {
        'id': (platform.get('distribution') or '').lower(),
        'codename': platform.get('codename') or '',
        'deb_arch': (facts.get('os') or {}).get('deb_arch') or platform.get('deb_architecture') or '',
    }


def package_names(source, os_id, codename):
    """{choice: package name} for ``source`` on this distribution and release."""
    if source == 'docker':
        return dict(DOCKER_PACKAGE_NAMES)
    names = dict(DISTRO_PACKAGE_NAMES.get(os_id, DISTRO_PACKAGE_NAMES['debian']))
    names.update(DISTRO_RELEASE_OVERRIDES.get(codename, {}))
    return names


def repository(params, host):
    """The effective repository settings (empty inputs: from the host) and whether apt
    would accept them."""
    url = params['repo_url'] or DEFAULT_REPO_BASE + host['id']
    suite = params['repo_suite'] or host['codename']
    arch = params['repo_arch'] or host['deb_arch']
    components = list(params['repo_components'])
    problems = []
    if not _REPO_URL.match(url):
        problems.append('URIs')
    if not _ONE_WORD.match(suite):
        problems.append('Suites')
    if not _ARCH.match(arch):
        problems.append('Architectures')
    if not components or [c for c in components if not _ONE_WORD.match(c)]:
        problems.append('Components')
    return {
        'url': url,
        'suite': suite,
        'arch': arch,
        'components': components,
        'key_url': params['repo_key_url'] or url + '/gpg',
        'valid': not problems,
        'invalid_fields': problems,
    }


def package_plan(params, host, facts):
    """What apt is to install (names, versions) and whether dpkg already has it all."""
    names = package_names(params['source'], host['id'], host['codename'])
    install = params['install']
    selected = unique(names[c] for c in CHOICES if install.get(c) and names[c])
    chosen = list(params['packages']) or selected
    everything = unique(chosen + list(params['extra_packages']))
    version = params['version']
    pinned = [p for p in everything if p in params['version_packages']]
    versioned = pinned if version else []
    apt_names = [p for p in everything if p not in versioned] + ['%s=%s' % (p, version) for p in versioned]
    states = facts['packages']
    installed = [p for p in everything if states.get(p, {}).get('state') == 'installed']
    present = ('*' not in version
               and len(installed) == len(everything)
               and all(states.get(p, {}).get('version') == version for p in versioned))
    return {
        'selected': selected,
        'all': everything,
        'pinned': pinned,
        'versioned': versioned,
        'apt_names': apt_names,
        'present': present,
    }


def installed_names(facts):
    return sorted(name for name, entry in facts['packages'].items() if entry.get('installed'))


def root_file_ok(entry):
    """The file the role writes is there as it writes it: a regular file, root:root, 0644."""
    return bool(entry.get('exists') and entry.get('regular') and entry.get('mode') == FILE_MODE
                and entry.get('uid') == 0 and entry.get('gid') == 0)


def key_plan(params, facts):
    info = facts['keyrings'].get(params['repo_key_path']) or {'exists': False, 'fingerprints': []}
    fingerprints = list(info.get('fingerprints') or [])
    return {
        'path': params['repo_key_path'],
        'exists': bool(info.get('exists')),
        'fingerprints': fingerprints,
        'expected': params['expected_fingerprint'],
        # the attributes too: a key file others may write is no trust anchor
        'ok': (fingerprints == [params['expected_fingerprint']]
               # armored for .asc, binary for .gpg: how apt reads it
               and info.get('armored') == _apt_source.key_armored(params['repo_key_path'])
               and root_file_ok(facts['files'].get(params['repo_key_path']) or {})),
    }


def source_plan(params, repo, facts):
    path = sources_file(params['repo_name'])
    entry = facts['files'].get(path) or {'exists': False}
    wanted = _apt_sources.wanted_source_fields(params['repo_name'], repo['url'], repo['suite'],
                                               repo['components'], repo['arch'],
                                               params['repo_key_path'])
    ok = (root_file_ok(entry)
          and deb822_slug(params['repo_name']) == params['repo_name']
          and 'text' in entry
          and _apt_sources.source_matches(entry['text'], wanted))
    return {
        'path': path,
        'exists': entry.get('exists', False),
        'text': entry.get('text') if entry.get('exists') else None,
        'mode': entry.get('mode') if entry.get('exists') else None,
        'ok': bool(ok),
        'write': params['source'] == 'docker' and not ok,
    }


def pin_plan(params, facts):
    path = pin_file(params['repo_name'])
    content = pin_content(params['version_packages'], params['version'], params['pin_priority'])
    entry = facts['files'].get(path) or {'exists': False}
    ok = (root_file_ok(entry)
          and entry.get('sha1') == hashlib.sha1(content.encode('utf-8')).hexdigest())
    wanted = bool(params['version'])
    return {
        'path': path,
        'content': content,
        'exists': entry.get('exists', False),
        'ok': bool(ok),
        'write': wanted and not ok,
        'remove': not wanted and entry.get('exists', False),
    }


def unit_plan(params, facts):
    """Per unit: loaded, and whether to mask, unmask or set it (enabled/active drift)."""
    rootful = params['rootful']
    restart_wanted = rootful == 'enabled' and params['service_state'] == 'started'
    file_state = {'enabled': 'enabled', 'disabled': 'disabled', 'masked': 'masked'}[rootful]
    active = ['active'] if restart_wanted else ['inactive', 'failed']
    units = {}
    for unit in UNITS:
        state = facts['units'].get(unit) or {}
        unit_file = state.get('UnitFileState', 'unknown')
        active_state = state.get('ActiveState', 'unknown')
        units[unit] = {
            'loaded': state.get('LoadState', 'unknown') not in UNLOADED,
            'mask': rootful == 'masked' and (unit_file != 'masked'
                                             or active_state not in ('inactive', 'failed')),
            'unmask': rootful != 'masked' and unit_file == 'masked',
            'drifted': unit_file != file_state or active_state not in active,
        }
    return {
        'unit_file_state': file_state,
        'active_states': active,
        'restart_wanted': restart_wanted,
        'units': units,
    }


def hold_plan(params, packages, facts):
    selection = 'hold' if params['hold'] else 'install'
    change = [p for p in packages['pinned']
              if (facts['packages'].get(p, {}).get('selection') == 'hold') != bool(params['hold'])]
    return {
        'selection': selection,
        'change': change,
        'not_installed': [p for p in change if not facts['packages'].get(p, {}).get('installed')],
    }


def plan(params, platform, facts):
    """The role's decisions. ``params`` after :func:`with_defaults`."""
    docker = params['source'] == 'docker'
    host = host_os(platform, facts)
    repo = repository(params, host)
    packages = package_plan(params, host, facts)
    installed = installed_names(facts)
    missing_prereqs = [p for p in params['prerequisite_packages'] if p not in installed]
    key = key_plan(params, facts)
    source = source_plan(params, repo, facts)
    socket_path = facts['socket_path']
    socket_entry = facts['files'].get(socket_path) or {}
    legacy = facts['legacy'] if docker else _apt_sources.empty_legacy()
    own_files = []
    if not docker:
        own_files = ([source['path']] if source['exists'] else []) + ([key['path']] if key['exists'] else [])
    result = {
        'os': host,
        'repo': repo,
        'key': key,
        'source': source,
        'pin': pin_plan(params, facts),
        'packages': packages,
        'installed': installed,
        'missing_prerequisites': missing_prereqs,
        'prerequisites_to_install': missing_prereqs if docker else [],
        'conflicting_to_remove': ([p for p in installed if p in params['conflicting_packages']]
                                  if params['remove_conflicting'] else []),
        'legacy': {k: list(legacy[k]) for k in ('remove', 'comment', 'manual', 'strip')},
        'own_repo_files_to_remove': own_files,
        'hold': hold_plan(params, packages, facts),
        'socket': {'path': socket_path, 'exists': bool(socket_entry.get('exists'))},
        'baselines': _sysctl_d.baseline_problems(
            facts.get('sysctl') or {}, rootful=params['rootful'] == 'enabled',
            userns_remap=bool(params.get('userns_remap')),
            allow_ip_forward_off=bool(params.get('allow_ip_forward_off'))),
    }
    result.update(unit_plan(params, facts))
    return result
