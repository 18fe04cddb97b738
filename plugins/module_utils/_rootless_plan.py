# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rootless role's decisions, made from the facts of :mod:`._rootless_inspect`.

Plain functions on plain data; no Ansible imports, standard library only. ``params`` are
the options of the rootless_info module (the role's variables without ``rootless_``),
``facts`` what :func:`._rootless_inspect.inspect` returned. :func:`plan` returns every
decision the role's tasks act on: which users get or lose rootless Docker, which
packages are missing, whether the role's files are right, which rootful units to mask,
whether user namespaces work for the rootlesskit in use, the network driver of the users'
daemons, and per user which steps are still to do. :func:`param_problems` names the
options no host can take (checked before anything is read).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import posixpath
import re

#: A path an AppArmor profile can name exactly: absolute, no pattern characters, quotes,
#: backslashes or control characters (spaces are fine: the profile quotes the path).
SAFE_PROFILE_PATH = re.compile(r'\A/[^*?\[\]{}^"\\\x00-\x1f]*\Z')
APPARMOR_DIR = '/etc/apparmor.d'
PROFILE_PREFIX = 'nsguard-rootlesskit'
#: The rootful units the role stops and masks with rootful_daemon=masked.
UNITS = ('docker.socket', 'docker.service')
#: ActiveState values of a stopped unit.
STOPPED = ('inactive', 'failed')
#: What the role's own files are when it wrote them.
FILE_MODE = '0644'

SYSCTL_PATH = '/etc/sysctl.d/99-nsguard-rootless.conf'
PROFILE_D_PATH = '/etc/profile.d/nsguard-rootless-docker.sh'
#: A drop-in of every user's systemd manager (user@.service): the cgroup controllers it
#: hands to the user, which a rootless daemon needs for `docker run --cpus/--memory/...`.
DELEGATE_PATH = '/etc/systemd/system/user@.service.d/nsguard-rootless-delegate.conf'
DELEGATE_CONTROLLERS = ('cpu', 'cpuset', 'io', 'memory', 'pids')
#: The drop-in of each user's docker.service (below the home) that sets the network driver
#: dockerd-rootless.sh gives rootlesskit.
NETWORK_DROPIN = '.config/systemd/user/docker.service.d/nsguard-network.conf'
#: What each network driver needs: its binary, the package that has it (``added`` to the
#: wanted packages when they lack it: passt, which the default list does not have), and
#: the environment of dockerd-rootless.sh that selects it (pasta forwards ports itself,
#: rootlesskit's port driver ``implicit``).
NETWORK_DRIVERS = {
    'slirp4netns': {'binary': '/usr/bin/slirp4netns', 'package': 'slirp4netns', 'added': False,
                    'environment': (('DOCKERD_ROOTLESS_ROOTLESSKIT_NET', 'slirp4netns'),)},
    'pasta': {'binary': '/usr/bin/pasta', 'package': 'passt', 'added': True,
              'environment': (('DOCKERD_ROOTLESS_ROOTLESSKIT_NET', 'pasta'),
                              ('DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER', 'implicit'))},
}
#: The range of net.ipv4.ip_unprivileged_port_start the kernel takes.
PORT_MIN = 0
PORT_MAX = 65535
PROFILE_D_CONTENT = (
    '# Managed by nsguard.docker.rootless: a user with a rootless daemon talks to it.\n'
    'if [ -z "${DOCKER_HOST:-}" ] && [ -S "/run/user/$(id -u)/docker.sock" ]; then\n'
    '  export DOCKER_HOST="unix:///run/user/$(id -u)/docker.sock"\n'
    'fi\n'
)
SYSCTL_HEADER = (
    '# Managed by nsguard.docker.rootless.',
    "# Rootless Docker: each user's daemon, its containers and their children need user namespaces.",
)
SYSCTL_DISABLE_RESTRICTION = (
    '# Explicit opt-in (rootless_apparmor_disable_restriction): weaker, every program may now',
    '# create unprivileged user namespaces.',
    'kernel.apparmor_restrict_unprivileged_userns = 0',
)


def as_int(value):
    """``value`` as an integer the way Jinja's ``int`` filter reads it (0 when it cannot)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


# ---------------------------------------------------------------------------------------
# users

def entry(user):
    """A user item as the role loops over it: the keys that are set, and ``state``."""
    out = dict((key, value) for key, value in user.items() if value is not None)
    out.setdefault('state', 'present')
    return out


def present_users(users):
    """Users without a ``state`` first, then those with ``state: present``, each in their
    order (the first one is the user the user namespace check runs as)."""
    return ([entry(u) for u in users if u.get('state') is None]
            + [entry(u) for u in users if u.get('state') == 'present'])


def absent_users(users):
    return [entry(u) for u in users if u.get('state') == 'absent']


def _linger(user):
    """``linger`` of a user item, true unless set false."""
    return user.get('linger') is None or bool(user.get('linger'))


def user_plan(params, name, facts):
    """What is still to do for user ``name`` (all false for an account that does not exist)."""
    found = facts['users'].get(name) or {'exists': False}
    if not found.get('exists'):
        return {'exists': False, 'uid': None, 'home': None, 'profile_block': None,
                'enable_linger': False, 'start_manager': False, 'setup': False, 'wait': False,
                'set_context': False, 'write_profile': False, 'uninstall': False,
                'disable_linger': False, 'network_write': False}
    block = 'export DOCKER_HOST=unix:///run/user/%s/docker.sock' % found['uid']
    network = network_user_plan(params, found)
    return {
        'exists': True,
        'uid': found['uid'],
        'home': found['home'],
        'profile_block': block,
        'enable_linger': not found['linger'],
        'start_manager': not found['manager'],
        'setup': not found['installed'],
        'wait': bool(found['installed'] and not found['rootless']),
        'set_context': bool(params['default_context'] and found['context'] != 'rootless'),
        'write_profile': params['docker_host'] == 'shell_profile' and found['profile'] != block,
        'uninstall': bool(found['unit_file']),
        'disable_linger': bool(found['linger']),
        'network_write': network['write'],
    }


# ---------------------------------------------------------------------------------------
# packages, knobs, files

def wanted_packages(params):
    """``packages``, ``extras_package`` with ``install_extras``, and the package of the
    chosen network driver when ``packages`` lacks it and the driver says so (passt for
    pasta; slirp4netns is in the default list, and a list without it is the user's choice)."""
    out = list(params['packages']) + ([params['extras_package']] if params['install_extras'] else [])
    driver = NETWORK_DRIVERS.get(params.get('network_driver') or '')
    if driver and driver['added'] and driver['package'] not in out:
        out.append(driver['package'])
    return out


def param_problems(params):
    """What is wrong with the options whatever the host (one sentence each, empty when
    nothing): an ``unprivileged_port_start`` outside 0-65535."""
    problems = []
    port = params.get('unprivileged_port_start')
    if port is not None and not PORT_MIN <= port <= PORT_MAX:
        problems.append('rootless_unprivileged_port_start: %s is not a port number; '
                        'net.ipv4.ip_unprivileged_port_start takes %d to %d (80 lets containers '
                        'publish port 80 and above, 0 every port).' % (port, PORT_MIN, PORT_MAX))
    return problems


def missing_packages(params, facts):
    """The wanted packages dpkg has no files of, in the order asked."""
    packages = facts['packages']
    return [name for name in wanted_packages(params)
            if not (packages.get(name) or {}).get('installed')]


def userns_disabled(params, knobs):
    """A hardening baseline disabled user namespaces, and the role may not re-enable them."""
    if params['enable_userns']:
        return False
    return (as_int(knobs.get('user.max_user_namespaces')) <= 0
            or knobs.get('kernel.unprivileged_userns_clone', '1') == '0')


def apparmor_restricts(knobs):
    return knobs.get('kernel.apparmor_restrict_unprivileged_userns', '0') == '1'


def rootlesskit_safe(path):
    """Whether an AppArmor profile can name ``path`` exactly (:data:`SAFE_PROFILE_PATH`)."""
    return bool(SAFE_PROFILE_PATH.match(path or ''))


def apparmor_profile(path):
    """``{'name', 'path'}`` of the role's profile for the rootlesskit at ``path``: the path
    with ``/`` as ``.`` and every other character but letters, digits, ``.``, ``_`` and
    ``-`` as ``_``."""
    name = PROFILE_PREFIX + re.sub(r'[^A-Za-z0-9._-]', '_', (path or '').replace('/', '.'))
    return {'name': name, 'path': posixpath.join(APPARMOR_DIR, name)}


def sysctl_content(params, knobs):
    """The text of the role's sysctl.d file.

    ``user.max_user_namespaces`` is ``max_user_namespaces`` or the kernel's larger value
    (exactly ``max_user_namespaces`` when ``enable_userns`` overrides a baseline);
    ``kernel.unprivileged_userns_clone = 1`` with ``enable_userns`` where the kernel has
    that knob; the ping range and the lowest unprivileged port when set; the AppArmor
    restriction off only on ``apparmor_disable_restriction``.
    """
    if params['enable_userns']:
        max_namespaces = params['max_user_namespaces']
    else:
        max_namespaces = max(as_int(params['max_user_namespaces']),
                             as_int(knobs.get('user.max_user_namespaces')))
    lines = list(SYSCTL_HEADER)
    lines.append('user.max_user_namespaces = %s' % max_namespaces)
    if params['enable_userns'] and 'kernel.unprivileged_userns_clone' in knobs:
        lines.append('kernel.unprivileged_userns_clone = 1')
    if params.get('ping_group_range'):
        lines.append('net.ipv4.ping_group_range = %s' % params['ping_group_range'])
    if params.get('unprivileged_port_start') is not None:
        lines.append('net.ipv4.ip_unprivileged_port_start = %s' % params['unprivileged_port_start'])
    if params['apparmor_disable_restriction']:
        lines.extend(SYSCTL_DISABLE_RESTRICTION)
    return '\n'.join(lines) + '\n'


def delegate_content(controllers):
    """The text of the user@.service drop-in delegating ``controllers`` (None for none)."""
    if not controllers:
        return None
    return ('# Managed by nsguard.docker.rootless: cgroup controllers for the users\' managers,\n'
            '# so rootless containers take --cpus, --cpuset-cpus, --blkio-weight, --memory, --pids-limit.\n'
            '[Service]\nDelegate=%s\n' % ' '.join(controllers))


def file_ok(found, content):
    """A file the role writes is left alone only when all it sets is already so: a
    regular file (a link would be replaced), root:root, 0644, the same text."""
    found = found or {}
    return bool(found.get('exists') and found.get('regular') and found.get('mode') == FILE_MODE
                and found.get('uid') == 0 and found.get('gid') == 0
                and found.get('content') == content)


def network_content(driver):
    """The text of the users' docker.service drop-in selecting ``driver`` (None for none)."""
    if not driver:
        return None
    lines = ['# Managed by nsguard.docker.rootless: the network driver of this rootless daemon',
             '# (rootless_network_driver), read by dockerd-rootless.sh.', '[Service]']
    lines.extend('Environment=%s=%s' % pair for pair in NETWORK_DRIVERS[driver]['environment'])
    return '\n'.join(lines) + '\n'


def user_file_ok(found, content, uid):
    """A file the role writes in a user's home, as the user, is left alone only when all
    it sets is already so: a regular file (a link would be replaced), the user's, 0644,
    the same text."""
    found = found or {}
    return bool(found.get('exists') and found.get('regular') and found.get('mode') == FILE_MODE
                and found.get('uid') == uid and found.get('content') == content)


def network_user_plan(params, found):
    """``write``: the user's drop-in is to be (re)written (a driver is chosen and the file
    is not right). Without a driver the role does not manage the drop-in: another run of
    the role for other settings leaves the one an earlier run wrote."""
    content = network_content(params.get('network_driver'))
    if content is None:
        return {'write': False}
    dropin = found.get('network_dropin') or {}
    return {'write': not user_file_ok(dropin, content, found.get('uid'))}


def network_plan(params, facts):
    """The network driver: its binary, whether the host has it, and whether the role can
    use it (the binary is there, or its package is among those the role installs)."""
    name = params.get('network_driver') or None
    driver = NETWORK_DRIVERS.get(name or '')
    if not driver:
        return {'driver': None, 'binary': None, 'package': None, 'binary_present': False,
                'available': True, 'dropin': NETWORK_DROPIN, 'content': None}
    present = bool((facts.get('binaries') or {}).get(driver['binary']))
    return {
        'driver': name,
        'binary': driver['binary'],
        'package': driver['package'],
        'binary_present': present,
        'available': present or driver['package'] in wanted_packages(params),
        'dropin': NETWORK_DROPIN,
        'content': network_content(name),
    }


def units_plan(params, facts):
    """By rootful unit, ``mask``: to be stopped and masked (rootful_daemon=masked, and it
    is not masked or not stopped)."""
    out = {}
    for unit in UNITS:
        state = facts['units'].get(unit) or {}
        out[unit] = {'mask': params['rootful_daemon'] == 'masked'
                     and (state.get('UnitFileState') != 'masked' or state.get('ActiveState') not in STOPPED)}
    return out


# ---------------------------------------------------------------------------------------
# all of it

def plan(params, facts):
    """Every decision of the rootless role (the module's RETURN documents each key)."""
    users = params['users']
    present = present_users(users)
    absent = absent_users(users)
    knobs = facts['knobs']
    missing = missing_packages(params, facts)

    first = present[0]['name'] if present else None
    first_facts = (facts['users'].get(first) or {}) if first else {}
    userns = facts.get('userns')
    tried = userns is not None
    userns_ok = tried and userns.get('rc') == 0

    sysctl_path = params['sysctl_path']
    sysctl_text = sysctl_content(params, knobs)
    sysctl_ok = file_ok(facts['files'].get(sysctl_path), sysctl_text)
    profile_d_path = params['profile_d_path']
    profile_d_ok = file_ok(facts['files'].get(profile_d_path), params['profile_d_content'])
    delegate_path = params['delegate_path']
    delegate_text = delegate_content(params['delegate_controllers'])
    delegate_ok = delegate_text is None or file_ok(facts['files'].get(delegate_path), delegate_text)

    return {
        'present': present,
        'absent': absent,
        'lingering': [u for u in present if _linger(u)],
        'configured': [u for u in present if u.get('daemon_config')],
        'unlinger': [u for u in absent if not _linger(u)],
        'purge': [u for u in absent if u.get('purge')],
        'unknown_users': [u['name'] for u in users
                          if not (facts['users'].get(u['name']) or {}).get('exists')],
        'wanted_packages': wanted_packages(params),
        'missing_packages': missing,
        'install_packages': missing if present else [],
        'rootlesskit_safe': rootlesskit_safe(params['rootlesskit']),
        'userns_disabled': userns_disabled(params, knobs),
        'apparmor_restricts': apparmor_restricts(knobs),
        'apparmor_profile': apparmor_profile(params['rootlesskit']),
        'userns': {
            'user': first,
            'uid': first_facts.get('uid'),
            'tried': tried,
            'ok': userns_ok,
            'check': bool(present) and not userns_ok,
        },
        'sysctl': {'path': sysctl_path, 'content': sysctl_text, 'ok': sysctl_ok, 'write': not sysctl_ok},
        'profile_d': {
            'path': profile_d_path,
            'ok': profile_d_ok,
            'write': params['docker_host'] == 'profile_d' and bool(present) and not profile_d_ok,
        },
        'delegate': {
            'path': delegate_path,
            'content': delegate_text,
            'ok': delegate_ok,
            'write': bool(present) and not delegate_ok,
        },
        'network': network_plan(params, facts),
        'units': units_plan(params, facts),
        'remove_from_docker_group': [name for name in params['remove_from_docker_group']
                                     if name in facts['docker_group']],
        'users': dict((u['name'], user_plan(params, u['name'], facts)) for u in users),
    }
