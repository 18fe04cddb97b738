# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_rootless_plan.py: every decision of the rootless role, on
facts as _rootless_inspect returns them for a converged host (:func:`converged`), with the
drift cases changed in."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _rootless_plan as rp

SYSCTL = rp.SYSCTL_PATH
PROFILE_D = rp.PROFILE_D_PATH
DELEGATE = rp.DELEGATE_PATH
DEFAULT_SYSCTL = ("# Managed by nsguard.docker.rootless.\n"
                  "# Rootless Docker: each user's daemon, its containers and their children need user namespaces.\n"
                  "user.max_user_namespaces = 28633\n")
ALICE_BLOCK = 'export DOCKER_HOST=unix:///run/user/1001/docker.sock'
INSTALLED = {'installed': True, 'version': '1', 'selection': 'install', 'state': 'installed'}
NOT_INSTALLED = {'installed': False, 'version': '', 'selection': '', 'state': 'not-installed'}
CONVERGED_USER = {'exists': True, 'uid': 1001, 'gid': 1001, 'home': '/home/alice', 'linger': True, 'manager': True,
                  'unit_file': True, 'installed': True, 'answering': True, 'rootless': True, 'context': 'rootless',
                  'profile': ALICE_BLOCK}
FRESH_USER = {'exists': True, 'uid': 1002, 'gid': 1002, 'home': '/home/bob', 'linger': False, 'manager': False,
              'unit_file': False, 'installed': False, 'answering': False, 'rootless': False, 'context': None,
              'profile': None}


def params(**changes):
    """The module's parameters with their defaults, as AnsibleModule gives them."""
    out = {
        'users': [user('alice')],
        'packages': ['uidmap', 'dbus-user-session', 'slirp4netns', 'iptables', 'acl'],
        'install_extras': False, 'extras_package': 'docker-ce-rootless-extras',
        'rootlesskit': '/usr/bin/rootlesskit', 'enable_userns': False, 'max_user_namespaces': 28633,
        'ping_group_range': '', 'unprivileged_port_start': None, 'apparmor_disable_restriction': False,
        'docker_host': 'profile_d', 'default_context': True, 'rootful_daemon': 'keep',
        'remove_from_docker_group': [], 'sysctl_path': SYSCTL, 'profile_d_path': PROFILE_D,
        'profile_d_content': rp.PROFILE_D_CONTENT, 'delegate_controllers': list(rp.DELEGATE_CONTROLLERS),
        'delegate_path': DELEGATE, 'network_driver': None,
    }
    out.update(changes)
    return out


def user(name, **changes):
    """A user item as AnsibleModule gives it (every suboption, None when not set)."""
    out = {'name': name, 'state': None, 'subid_count': 65536, 'subid_start': None, 'daemon_config': None,
           'linger': True, 'purge': False}
    out.update(changes)
    return out


def root_file(content):
    return {'exists': True, 'regular': True, 'mode': '0644', 'uid': 0, 'gid': 0, 'content': content}


def converged():
    """Facts of a host the role converged for alice (uid 1001), with bob (1002) an account
    nothing was done for."""
    return {
        'knobs': {'user.max_user_namespaces': '28633', 'kernel.apparmor_restrict_unprivileged_userns': '1'},
        'packages': dict((name, dict(INSTALLED)) for name in
                         ['uidmap', 'dbus-user-session', 'slirp4netns', 'iptables', 'acl']),
        'units': {
            'docker.service': {'LoadState': 'masked', 'ActiveState': 'inactive', 'UnitFileState': 'masked'},
            'docker.socket': {'LoadState': 'masked', 'ActiveState': 'inactive', 'UnitFileState': 'masked'},
        },
        'files': {SYSCTL: root_file(DEFAULT_SYSCTL), PROFILE_D: root_file(rp.PROFILE_D_CONTENT),
                  DELEGATE: root_file(rp.delegate_content(rp.DELEGATE_CONTROLLERS)),
                  '/etc/apparmor.d/nsguard-rootlesskit.usr.bin.rootlesskit': {'exists': False, 'content': None}},
        'docker_group': ['mallory'],
        'users': {'alice': dict(CONVERGED_USER), 'bob': dict(FRESH_USER)},
        'userns': {'rc': 0, 'stderr': ''},
        'errors': [],
    }


NOTHING_TO_DO = {'enable_linger': False, 'start_manager': False, 'setup': False, 'wait': False,
                 'set_context': False, 'write_profile': False, 'uninstall': True, 'disable_linger': True}


# ---------------------------------------------------------------------------- a converged host

def test_a_converged_host_needs_nothing():
    plan = rp.plan(params(rootful_daemon='masked'), converged())
    assert plan['present'] == [{'name': 'alice', 'state': 'present', 'subid_count': 65536, 'linger': True,
                                'purge': False}]
    assert plan['absent'] == plan['unlinger'] == plan['purge'] == plan['configured'] == []
    assert plan['lingering'] == plan['present']
    assert plan['unknown_users'] == plan['missing_packages'] == plan['install_packages'] == []
    assert plan['rootlesskit_safe'] and not plan['userns_disabled'] and plan['apparmor_restricts']
    assert plan['userns'] == {'user': 'alice', 'uid': 1001, 'tried': True, 'ok': True, 'check': False}
    assert plan['sysctl'] == {'path': SYSCTL, 'content': DEFAULT_SYSCTL, 'ok': True, 'write': False}
    assert plan['profile_d'] == {'path': PROFILE_D, 'ok': True, 'write': False}
    assert plan['units'] == {'docker.socket': {'mask': False}, 'docker.service': {'mask': False}}
    assert plan['remove_from_docker_group'] == []
    todo = plan['users']['alice']
    assert dict((k, todo[k]) for k in NOTHING_TO_DO) == NOTHING_TO_DO
    assert (todo['exists'], todo['uid'], todo['home'], todo['profile_block']) == (True, 1001, '/home/alice', ALICE_BLOCK)


def test_a_fresh_user_needs_everything():
    plan = rp.plan(params(users=[user('bob')], docker_host='shell_profile'), converged())
    assert plan['users']['bob'] == {
        'exists': True, 'uid': 1002, 'home': '/home/bob',
        'profile_block': 'export DOCKER_HOST=unix:///run/user/1002/docker.sock',
        'enable_linger': True, 'start_manager': True, 'setup': True, 'wait': False, 'set_context': True,
        'write_profile': True, 'uninstall': False, 'disable_linger': False, 'network_write': False}
    assert plan['userns']['user'] == 'bob' and plan['userns']['uid'] == 1002


# ---------------------------------------------------------------------------- users

def test_users_without_state_come_first_then_present_then_absent():
    users = [user('a', state='present'), user('b'), user('c', state='absent', linger=False, purge=True),
             user('d', state='present', daemon_config={'log-driver': 'local'}), user('e', linger=False),
             user('f', state='absent')]
    plan = rp.plan(params(users=users), converged())
    assert [u['name'] for u in plan['present']] == ['b', 'e', 'a', 'd']
    assert [u['name'] for u in plan['absent']] == ['c', 'f']
    assert [u['name'] for u in plan['lingering']] == ['b', 'a', 'd']
    assert [u['name'] for u in plan['configured']] == ['d']
    assert plan['configured'][0]['daemon_config'] == {'log-driver': 'local'}
    assert [u['name'] for u in plan['unlinger']] == ['c']
    assert [u['name'] for u in plan['purge']] == ['c']
    # the first present user runs the user namespace check
    assert plan['userns']['user'] == 'b'
    assert plan['unknown_users'] == ['a', 'b', 'c', 'd', 'e', 'f']


def test_a_user_item_keeps_only_what_is_set():
    assert rp.entry(user('a', subid_start=200000)) == {'name': 'a', 'state': 'present', 'subid_count': 65536,
                                                       'subid_start': 200000, 'linger': True, 'purge': False}
    # raw items, as the role's variable has them, work too
    assert rp.present_users([{'name': 'a'}]) == [{'name': 'a', 'state': 'present'}]
    assert rp.plan(params(users=[{'name': 'alice'}]), converged())['lingering'] == [{'name': 'alice', 'state': 'present'}]


def test_unknown_users():
    plan = rp.plan(params(users=[user('alice'), user('mallory', state='absent'), user('eve')]), converged())
    assert plan['unknown_users'] == ['mallory', 'eve']
    assert plan['users']['eve'] == {'exists': False, 'uid': None, 'home': None, 'profile_block': None,
                                    'enable_linger': False, 'start_manager': False, 'setup': False, 'wait': False,
                                    'set_context': False, 'write_profile': False, 'uninstall': False,
                                    'disable_linger': False, 'network_write': False}


def test_nobody_present():
    facts = converged()
    facts['userns'] = None
    plan = rp.plan(params(users=[user('alice', state='absent')]), facts)
    assert plan['present'] == []
    assert plan['userns'] == {'user': None, 'uid': None, 'tried': False, 'ok': False, 'check': False}
    assert plan['users']['alice']['uninstall'] and plan['users']['alice']['disable_linger']


@pytest.mark.parametrize('change, key', [
    ({'linger': False}, 'enable_linger'),
    ({'manager': False}, 'start_manager'),
    ({'installed': False}, 'setup'),
    ({'rootless': False}, 'wait'),
    ({'context': 'default'}, 'set_context'),
    ({'context': None}, 'set_context'),
])
def test_user_drift(change, key):
    facts = converged()
    facts['users']['alice'].update(change)
    todo = rp.plan(params(), facts)['users']['alice']
    assert todo[key] is True
    assert [k for k in ('enable_linger', 'start_manager', 'setup', 'wait', 'set_context', 'write_profile')
            if todo[k]] == [key]


def test_a_daemon_not_answering_as_rootless_is_waited_for_only_when_installed():
    facts = converged()
    facts['users']['alice'].update(installed=False, rootless=False)
    todo = rp.plan(params(), facts)['users']['alice']
    assert todo['setup'] and not todo['wait']


def test_the_default_context_only_when_asked():
    facts = converged()
    facts['users']['alice']['context'] = 'default'
    assert rp.plan(params(default_context=False), facts)['users']['alice']['set_context'] is False


@pytest.mark.parametrize('profile, write', [
    (ALICE_BLOCK, False),
    (None, True),
    ('', True),
    ('export DOCKER_HOST=unix:///run/user/1002/docker.sock', True),
    (ALICE_BLOCK + '\nexport FOO=1', True),
])
def test_the_profile_line(profile, write):
    facts = converged()
    facts['users']['alice']['profile'] = profile
    assert rp.plan(params(docker_host='shell_profile'), facts)['users']['alice']['write_profile'] is write
    for other in ('profile_d', 'none'):
        assert rp.plan(params(docker_host=other), facts)['users']['alice']['write_profile'] is False


# ---------------------------------------------------------------------------- packages

def test_missing_packages_only_installed_when_somebody_is_present():
    facts = converged()
    facts['packages']['slirp4netns'] = dict(NOT_INSTALLED)
    facts['packages']['docker-ce-rootless-extras'] = dict(NOT_INSTALLED)
    plan = rp.plan(params(install_extras=True), facts)
    assert plan['wanted_packages'][-1] == 'docker-ce-rootless-extras'
    assert plan['missing_packages'] == plan['install_packages'] == ['slirp4netns', 'docker-ce-rootless-extras']
    absent = rp.plan(params(install_extras=True, users=[user('alice', state='absent')]), facts)
    assert absent['missing_packages'] == ['slirp4netns', 'docker-ce-rootless-extras']
    assert absent['install_packages'] == []


def test_a_package_dpkg_does_not_know_is_missing():
    plan = rp.plan(params(packages=['uidmap', 'passt']), converged())
    assert plan['missing_packages'] == ['passt']


# ---------------------------------------------------------------------------- knobs and AppArmor

@pytest.mark.parametrize('knobs, enable, disabled', [
    ({'user.max_user_namespaces': '28633'}, False, False),
    ({'user.max_user_namespaces': '0'}, False, True),
    ({'user.max_user_namespaces': '0'}, True, False),
    ({'user.max_user_namespaces': '100', 'kernel.unprivileged_userns_clone': '0'}, False, True),
    ({'user.max_user_namespaces': '100', 'kernel.unprivileged_userns_clone': '1'}, False, False),
    ({'user.max_user_namespaces': '100', 'kernel.unprivileged_userns_clone': '0'}, True, False),
    ({}, False, True),
    ({'user.max_user_namespaces': 'garbage'}, False, True),
])
def test_a_baseline_that_disabled_user_namespaces(knobs, enable, disabled):
    assert rp.userns_disabled({'enable_userns': enable}, knobs) is disabled


@pytest.mark.parametrize('knobs, restricts', [
    ({}, False), ({'kernel.apparmor_restrict_unprivileged_userns': '0'}, False),
    ({'kernel.apparmor_restrict_unprivileged_userns': '1'}, True),
])
def test_apparmor_restricts(knobs, restricts):
    assert rp.apparmor_restricts(knobs) is restricts


@pytest.mark.parametrize('path, safe', [
    ('/usr/bin/rootlesskit', True),
    ('/opt/nsguard test/bin/rootlesskit', True),
    ('/opt/rootlesskit-2.3.4_x86-64/bin/rootlesskit', True),
    ('usr/bin/rootlesskit', False),
    ('', False),
    ('/opt/*/rootlesskit', False),
    ('/opt/a?b', False),
    ('/opt/[ab]', False),
    ('/opt/{a,b}', False),
    ('/opt/a^b', False),
    ('/opt/"quoted"', False),
    ('/opt/back\\slash', False),
    ('/opt/tab\there', False),
    ('/opt/new\nline', False),
    ('/usr/bin/rootlesskit\n', False),  # a trailing newline too (Jinja's match let it through)
])
def test_a_rootlesskit_path_a_profile_can_name(path, safe):
    assert rp.rootlesskit_safe(path) is safe


@pytest.mark.parametrize('path, name', [
    ('/usr/bin/rootlesskit', 'nsguard-rootlesskit.usr.bin.rootlesskit'),
    ('/opt/nsguard test/bin/rootlesskit', 'nsguard-rootlesskit.opt.nsguard_test.bin.rootlesskit'),
    ('/opt/rk-2.3/bin/rootless+kit', 'nsguard-rootlesskit.opt.rk-2.3.bin.rootless_kit'),
])
def test_the_profile_name_follows_the_path(path, name):
    assert rp.apparmor_profile(path) == {'name': name, 'path': '/etc/apparmor.d/' + name}


@pytest.mark.parametrize('userns, tried, ok, check', [
    ({'rc': 0, 'stderr': ''}, True, True, False),
    ({'rc': 1, 'stderr': 'permission denied'}, True, False, True),
    (None, False, False, True),
])
def test_the_user_namespace_check(userns, tried, ok, check):
    facts = converged()
    facts['userns'] = userns
    result = rp.plan(params(), facts)['userns']
    assert (result['tried'], result['ok'], result['check']) == (tried, ok, check)


# ---------------------------------------------------------------------------- the role's files

def sysctl(**changes):
    values = {'max_user_namespaces': 28633, 'enable_userns': False, 'ping_group_range': '',
              'unprivileged_port_start': None, 'apparmor_disable_restriction': False}
    values.update(changes)
    return values


HEADER = DEFAULT_SYSCTL.rsplit('user.', 1)[0]


@pytest.mark.parametrize('options, knobs, body', [
    ({}, {'user.max_user_namespaces': '28633'}, 'user.max_user_namespaces = 28633\n'),
    # a larger value of the kernel is kept, a smaller one raised
    ({}, {'user.max_user_namespaces': '63000'}, 'user.max_user_namespaces = 63000\n'),
    ({}, {'user.max_user_namespaces': '0'}, 'user.max_user_namespaces = 28633\n'),
    ({}, {}, 'user.max_user_namespaces = 28633\n'),
    # enable_userns sets exactly the option, and clone where the kernel has that knob
    ({'enable_userns': True, 'max_user_namespaces': 100}, {'user.max_user_namespaces': '63000'},
     'user.max_user_namespaces = 100\n'),
    ({'enable_userns': True}, {'user.max_user_namespaces': '0', 'kernel.unprivileged_userns_clone': '0'},
     'user.max_user_namespaces = 28633\nkernel.unprivileged_userns_clone = 1\n'),
    ({}, {'user.max_user_namespaces': '1', 'kernel.unprivileged_userns_clone': '1'},
     'user.max_user_namespaces = 28633\n'),
    ({'ping_group_range': '0 2147483647', 'unprivileged_port_start': 0}, {},
     'user.max_user_namespaces = 28633\nnet.ipv4.ping_group_range = 0 2147483647\n'
     'net.ipv4.ip_unprivileged_port_start = 0\n'),
    ({'unprivileged_port_start': 80, 'apparmor_disable_restriction': True}, {},
     'user.max_user_namespaces = 28633\nnet.ipv4.ip_unprivileged_port_start = 80\n'
     '# Explicit opt-in (rootless_apparmor_disable_restriction): weaker, every program may now\n'
     '# create unprivileged user namespaces.\nkernel.apparmor_restrict_unprivileged_userns = 0\n'),
])
def test_the_sysctl_file(options, knobs, body):
    assert rp.sysctl_content(sysctl(**options), knobs) == HEADER + body


@pytest.mark.parametrize('drift', [
    {'regular': False, 'content': None},  # a link with the right target
    {'mode': '0666'},
    {'mode': '0600'},
    {'uid': 1000},
    {'gid': 1000},
    {'content': DEFAULT_SYSCTL + 'net.ipv4.ping_group_range = 0 1\n'},
    {'content': DEFAULT_SYSCTL.rstrip('\n')},
])
def test_drift_of_the_sysctl_file(drift):
    facts = converged()
    facts['files'][SYSCTL].update(drift)
    plan = rp.plan(params(), facts)
    assert plan['sysctl']['write'] and not plan['sysctl']['ok']


def test_no_sysctl_file_yet():
    facts = converged()
    facts['files'][SYSCTL] = {'exists': False, 'content': None}
    del facts['files'][PROFILE_D]
    plan = rp.plan(params(), facts)
    assert plan['sysctl']['write'] and plan['profile_d']['write']


def test_the_kernels_larger_value_makes_the_file_drift():
    facts = converged()
    facts['knobs']['user.max_user_namespaces'] = '63000'
    plan = rp.plan(params(), facts)
    assert plan['sysctl']['write'] and 'user.max_user_namespaces = 63000\n' in plan['sysctl']['content']


@pytest.mark.parametrize('drift', [{'mode': '0666'}, {'gid': 1000}, {'regular': False, 'content': None},
                                   {'content': rp.PROFILE_D_CONTENT + '\n'}])
def test_drift_of_the_profile_d_file(drift):
    facts = converged()
    facts['files'][PROFILE_D].update(drift)
    assert rp.plan(params(), facts)['profile_d'] == {'path': PROFILE_D, 'ok': False, 'write': True}
    # written only for DOCKER_HOST in profile.d, and only when somebody has rootless Docker
    assert rp.plan(params(docker_host='shell_profile'), facts)['profile_d']['write'] is False
    assert rp.plan(params(users=[user('alice', state='absent')]), facts)['profile_d']['write'] is False


def test_the_profile_d_text_is_the_parameter():
    facts = converged()
    facts['files'][PROFILE_D]['content'] = 'export DOCKER_HOST=x\n'
    assert rp.plan(params(profile_d_content='export DOCKER_HOST=x\n'), facts)['profile_d']['ok'] is True


@pytest.mark.parametrize('found, content, ok', [
    (root_file('x'), 'x', True),
    (root_file('x'), 'y', False),
    ({'exists': False, 'content': None}, None, False),
    ({}, None, False),
    (None, '', False),
])
def test_file_ok(found, content, ok):
    assert rp.file_ok(found, content) is ok


# ---------------------------------------------------------------------------- rootful units, docker group

@pytest.mark.parametrize('state, mask', [
    ({'LoadState': 'masked', 'ActiveState': 'inactive', 'UnitFileState': 'masked'}, False),
    ({'LoadState': 'masked', 'ActiveState': 'failed', 'UnitFileState': 'masked'}, False),
    ({'LoadState': 'masked', 'ActiveState': 'active', 'UnitFileState': 'masked'}, True),
    ({'LoadState': 'loaded', 'ActiveState': 'inactive', 'UnitFileState': 'enabled'}, True),
    ({'LoadState': 'loaded', 'ActiveState': 'active', 'UnitFileState': 'enabled'}, True),
    ({'LoadState': 'not-found', 'ActiveState': 'inactive', 'UnitFileState': 'none'}, True),
])
def test_rootful_units_to_mask(state, mask):
    facts = converged()
    facts['units']['docker.service'] = state
    units = rp.plan(params(rootful_daemon='masked'), facts)['units']
    assert units['docker.service'] == {'mask': mask} and units['docker.socket'] == {'mask': False}
    assert rp.plan(params(rootful_daemon='keep'), facts)['units']['docker.service'] == {'mask': False}


def test_only_members_are_taken_out_of_the_docker_group():
    facts = converged()
    facts['docker_group'] = ['mallory', 'alice']
    plan = rp.plan(params(remove_from_docker_group=['bob', 'alice', 'mallory']), facts)
    assert plan['remove_from_docker_group'] == ['alice', 'mallory']


def test_the_plan_does_not_change_the_facts():
    facts = converged()
    before = copy.deepcopy(facts)
    rp.plan(params(users=[user('alice'), user('bob', state='absent')]), facts)
    assert facts == before


@pytest.mark.parametrize('value, number', [(28633, 28633), ('28633', 28633), (' 7 ', 7), ('7.9', 7), (None, 0),
                                           ('x', 0), ('', 0)])
def test_as_int_reads_like_jinjas_int_filter(value, number):
    assert rp.as_int(value) == number


def test_the_cgroup_delegation_drop_in():
    text = rp.delegate_content(rp.DELEGATE_CONTROLLERS)
    assert text.endswith('[Service]\nDelegate=cpu cpuset io memory pids\n')
    assert rp.plan(params(), converged())['delegate'] == {'path': DELEGATE, 'content': text, 'ok': True, 'write': False}
    # missing, another list, drift of what the role sets: written
    facts = converged()
    facts['files'][DELEGATE] = {'exists': False, 'content': None}
    assert rp.plan(params(), facts)['delegate']['write'] is True
    assert rp.plan(params(delegate_controllers=['memory', 'pids']), converged())['delegate']['write'] is True
    facts = converged()
    facts['files'][DELEGATE] = dict(facts['files'][DELEGATE], mode='0664')
    assert rp.plan(params(), facts)['delegate']['write'] is True
    # none wanted: no drop-in planned, whatever is there; nobody present: nothing written
    assert rp.plan(params(delegate_controllers=[]), facts)['delegate'] == {
        'path': DELEGATE, 'content': None, 'ok': True, 'write': False}
    facts['files'][DELEGATE] = {'exists': False, 'content': None}
    assert rp.plan(params(users=[]), facts)['delegate']['write'] is False


# ---------------------------------------------------------------------------- network driver

SLIRP_DROPIN = ("# Managed by nsguard.docker.rootless: the network driver of this rootless daemon\n"
                "# (rootless_network_driver), read by dockerd-rootless.sh.\n"
                "[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns\n")


def user_file(content, uid=1001, mode='0644', regular=True):
    return {'exists': True, 'regular': regular, 'mode': mode, 'uid': uid, 'gid': uid, 'content': content}


def with_dropin(facts, name, found):
    facts['users'][name]['network_dropin'] = found
    return facts


def test_no_driver_plans_no_dropin_and_needs_nothing():
    facts = converged()
    facts['users']['alice']['network_dropin'] = {'exists': False, 'content': None}
    plan = rp.plan(params(), facts)
    assert plan['network'] == {'driver': None, 'binary': None, 'package': None, 'binary_present': False,
                               'available': True, 'dropin': rp.NETWORK_DROPIN, 'content': None}
    assert not plan['users']['alice']['network_write']
    assert plan['wanted_packages'] == params()['packages']


def test_the_dropin_texts():
    assert rp.network_content(None) is None
    assert rp.network_content('slirp4netns') == SLIRP_DROPIN
    pasta = rp.network_content('pasta')
    assert pasta.endswith('[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=pasta\n'
                          'Environment=DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER=implicit\n')
    assert rp.NETWORK_DROPIN == '.config/systemd/user/docker.service.d/nsguard-network.conf'


def test_a_converged_dropin_is_left_alone():
    facts = with_dropin(converged(), 'alice', user_file(SLIRP_DROPIN))
    facts['binaries'] = {'/usr/bin/slirp4netns': True}
    plan = rp.plan(params(network_driver='slirp4netns'), facts)
    assert plan['network'] == {'driver': 'slirp4netns', 'binary': '/usr/bin/slirp4netns', 'package': 'slirp4netns',
                               'binary_present': True, 'available': True, 'dropin': rp.NETWORK_DROPIN,
                               'content': SLIRP_DROPIN}
    assert plan['users']['alice']['network_write'] is False


@pytest.mark.parametrize('found', [
    {'exists': False, 'content': None},
    user_file(SLIRP_DROPIN.replace('slirp4netns', 'pasta')),
    user_file(SLIRP_DROPIN, mode='0664'),
    user_file(SLIRP_DROPIN, uid=0),
    user_file(SLIRP_DROPIN, regular=False),
    {'exists': True, 'regular': False, 'mode': None, 'uid': None, 'gid': None, 'content': None},
])
def test_a_dropin_that_is_not_right_is_written(found):
    """Text, mode, owner and kind are compared, like the role's root files."""
    facts = with_dropin(converged(), 'alice', found)
    plan = rp.plan(params(network_driver='slirp4netns'), facts)
    assert plan['users']['alice']['network_write'] is True


def test_a_dropin_left_by_an_earlier_run_stays_when_no_driver_is_chosen():
    """Unset, the role does not manage the drop-in: a run for other settings keeps it."""
    facts = with_dropin(converged(), 'alice', user_file(SLIRP_DROPIN))
    plan = rp.plan(params(), facts)
    assert plan['users']['alice']['network_write'] is False


def test_facts_without_the_dropin_key_need_a_write_only_with_a_driver():
    """Older facts (no network_dropin) read as no drop-in."""
    assert rp.plan(params(), converged())['users']['alice']['network_write'] is False
    assert rp.plan(params(network_driver='pasta'), converged())['users']['alice']['network_write'] is True


def test_pasta_adds_passt_to_the_packages_once():
    facts = converged()
    plan = rp.plan(params(network_driver='pasta'), facts)
    assert plan['wanted_packages'] == params()['packages'] + ['passt']
    assert plan['missing_packages'] == ['passt'] and plan['install_packages'] == ['passt']
    assert plan['network']['available'] is True and plan['network']['binary_present'] is False
    plan = rp.plan(params(network_driver='pasta', packages=['passt', 'uidmap']), facts)
    assert plan['wanted_packages'] == ['passt', 'uidmap']


def test_a_driver_without_its_binary_or_package_is_not_available():
    packages = ['uidmap', 'dbus-user-session', 'iptables', 'acl']
    plan = rp.plan(params(network_driver='slirp4netns', packages=packages), converged())
    assert plan['network']['available'] is False and plan['network']['package'] == 'slirp4netns'
    facts = converged()
    facts['binaries'] = {'/usr/bin/slirp4netns': True}
    plan = rp.plan(params(network_driver='slirp4netns', packages=packages), facts)
    assert plan['network']['available'] is True and plan['network']['binary_present'] is True
    assert plan['wanted_packages'] == packages


def test_an_unknown_user_gets_no_dropin():
    plan = rp.plan(params(users=[user('eve')], network_driver='slirp4netns'), converged())
    assert plan['users']['eve']['network_write'] is False


# ---------------------------------------------------------------------------- options

@pytest.mark.parametrize('port', [None, 0, 80, 1024, 65535])
def test_a_port_in_range_is_no_problem_and_is_written_as_given(port):
    assert rp.param_problems(params(unprivileged_port_start=port)) == []
    content = rp.plan(params(unprivileged_port_start=port), converged())['sysctl']['content']
    if port is None:
        assert 'ip_unprivileged_port_start' not in content
    else:
        assert 'net.ipv4.ip_unprivileged_port_start = %d\n' % port in content


@pytest.mark.parametrize('port', [-1, 65536, 100000])
def test_a_port_out_of_range_is_refused_naming_the_range(port):
    problems = rp.param_problems(params(unprivileged_port_start=port))
    assert len(problems) == 1
    assert 'rootless_unprivileged_port_start: %d' % port in problems[0] and '0 to 65535' in problems[0]
