# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_sysctl_d.py: sysctl.d precedence on trees in a temp dir
(read through TreeFS, /etc, /run, /usr and /proc below the tree), and the baselines."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _sysctl_d as sd

from engine_helpers import TreeFS

HARDENING = """# CIS-style hardening
; also a comment
net.ipv4.ip_forward = 0
net.ipv4.conf.all.send_redirects=0
-kernel.nosuch = 1
not a setting
"""


def put(root, host_path, text):
    path = os.path.join(root, host_path.lstrip('/'))
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    with open(path, 'w') as handle:
        handle.write(text)
    return path


@pytest.fixture
def root(tmp_path):
    return str(tmp_path)


def effective(root, keys=None):
    return sd.effective(TreeFS(root), keys)


def test_keys_are_normalized():
    assert sd.normalize_key(' net.ipv4.ip_forward ') == 'net.ipv4.ip_forward'
    assert sd.normalize_key('-net.ipv4.ip_forward') == 'net.ipv4.ip_forward'
    assert sd.normalize_key('net/ipv4/ip_forward') == 'net.ipv4.ip_forward'
    assert sd.normalize_key('net/ipv4/conf/eth0.10/forwarding') == 'net.ipv4.conf.eth0/10.forwarding'
    assert sd.normalize_key('net.ipv4.conf.eth0/10.forwarding') == 'net.ipv4.conf.eth0/10.forwarding'


def test_parse_skips_comments_and_lines_without_a_value():
    assert sd.parse(HARDENING) == [('net.ipv4.ip_forward', '0', 3), ('net.ipv4.conf.all.send_redirects', '0', 4),
                                   ('kernel.nosuch', '1', 5)]
    assert sd.parse('') == [] and sd.parse(None) == []


def test_ordered_files_first_directory_wins_then_names():
    listings = [('/etc/sysctl.d', ['99-b.conf', '10-a.conf', 'README']),
                ('/run/sysctl.d', ['50-x.conf']),
                ('/usr/local/lib/sysctl.d', None),
                ('/usr/lib/sysctl.d', ['10-a.conf', '60-z.conf', 'x.conf.dpkg-old'])]
    assert sd.ordered_files(listings) == ['/etc/sysctl.d/10-a.conf', '/run/sysctl.d/50-x.conf',
                                          '/usr/lib/sysctl.d/60-z.conf', '/etc/sysctl.d/99-b.conf']


def test_nothing_set(root):
    assert effective(root) == {}


def test_the_last_assignment_in_name_order_wins(root):
    put(root, '/usr/lib/sysctl.d/50-default.conf', 'net.ipv4.ip_forward = 1\n')
    put(root, '/etc/sysctl.d/60-hardening.conf', HARDENING)
    assert effective(root, ['net.ipv4.ip_forward']) == {
        'net.ipv4.ip_forward': {'value': '0', 'path': '/etc/sysctl.d/60-hardening.conf', 'line': 3}}
    put(root, '/usr/local/lib/sysctl.d/70-docker.conf', 'net/ipv4/ip_forward=1\n')
    assert effective(root, ['net.ipv4.ip_forward'])['net.ipv4.ip_forward']['value'] == '1'


def test_a_file_in_etc_hides_the_same_name_in_usr(root):
    put(root, '/usr/lib/sysctl.d/60-hardening.conf', HARDENING)
    assert effective(root)['net.ipv4.ip_forward']['value'] == '0'
    put(root, '/etc/sysctl.d/60-hardening.conf', '# masked by the admin\n')
    assert 'net.ipv4.ip_forward' not in effective(root)
    put(root, '/run/sysctl.d/60-hardening.conf', 'net.ipv4.ip_forward = 0\n')
    assert 'net.ipv4.ip_forward' not in effective(root)


def test_sysctl_conf_comes_last_or_where_a_link_names_it(root):
    put(root, '/etc/sysctl.conf', 'net.ipv4.ip_forward=0\n')
    put(root, '/etc/sysctl.d/99-zz-docker.conf', 'net.ipv4.ip_forward=1\n')
    assert effective(root)['net.ipv4.ip_forward'] == {'value': '0', 'path': '/etc/sysctl.conf', 'line': 1}
    # Debian and Ubuntu: /etc/sysctl.d/99-sysctl.conf -> ../sysctl.conf, read at that place
    os.symlink('../sysctl.conf', os.path.join(root, 'etc/sysctl.d/99-sysctl.conf'))
    assert effective(root)['net.ipv4.ip_forward'] == {'value': '1', 'path': '/etc/sysctl.d/99-zz-docker.conf',
                                                      'line': 1}


def test_live_values(root):
    put(root, '/proc/sys/net/ipv4/ip_forward', '0\n')
    assert sd.live(TreeFS(root)) == {'net.ipv4.ip_forward': '0'}
    assert sd.facts(TreeFS(root)) == {'persistent': {}, 'live': {'net.ipv4.ip_forward': '0'}}


# ---------------------------------------------------------------------------- baselines

FORWARD_OFF = {'value': '0', 'path': '/etc/sysctl.d/60-hardening.conf', 'line': 3}


def found(persistent=None, live=None):
    return {'persistent': persistent or {}, 'live': live or {}}


def test_a_fresh_host_with_forwarding_off_only_live_passes():
    """Fresh Ubuntu: ip_forward 0 until dockerd starts, set by no file."""
    facts = found(live={'net.ipv4.ip_forward': '0', 'user.max_user_namespaces': '63399'})
    assert sd.baseline_problems(facts, rootful=True, userns_remap=True) == []


def test_forwarding_off_for_good_is_refused_under_a_rootful_daemon():
    facts = found({'net.ipv4.ip_forward': FORWARD_OFF}, {'net.ipv4.ip_forward': '1'})
    problems = sd.baseline_problems(facts, rootful=True)
    assert [p['id'] for p in problems] == ['ip-forward-off-persistent']
    problem = problems[0]
    assert problem['source'] == '/etc/sysctl.d/60-hardening.conf line 3' and problem['value'] == '0'
    assert 'net.ipv4.ip_forward = 1 in /etc/sysctl.d/99-zz-nsguard-docker.conf' in problem['fix']
    assert problem['message'].startswith('/etc/sysctl.d/60-hardening.conf line 3 sets net.ipv4.ip_forward = 0')
    assert 'Fix:' in problem['message']
    # no rootful daemon, or the opt-out: no problem
    assert sd.baseline_problems(facts, rootful=False) == []
    assert sd.baseline_problems(facts, rootful=True, allow_ip_forward_off=True) == []
    # on for good
    assert sd.baseline_problems(found({'net.ipv4.ip_forward': dict(FORWARD_OFF, value='1')}), rootful=True) == []


@pytest.mark.parametrize('persistent, live, source', [
    ({'user.max_user_namespaces': {'value': '0', 'path': '/etc/sysctl.d/60-hardening.conf', 'line': 9}},
     {'user.max_user_namespaces': '0'}, '/etc/sysctl.d/60-hardening.conf line 9'),
    ({}, {'user.max_user_namespaces': '0'}, None),
    ({'user.max_user_namespaces': {'value': '0', 'path': '/etc/sysctl.conf', 'line': 1}},
     {'user.max_user_namespaces': '63399'}, '/etc/sysctl.conf line 1'),
])
def test_no_user_namespaces_is_refused_for_userns_remap(persistent, live, source):
    problems = sd.baseline_problems(found(persistent, live), rootful=True, userns_remap=True)
    assert [p['id'] for p in problems] == ['userns-off']
    assert problems[0]['source'] == source
    assert 'user.max_user_namespaces = 28633' in problems[0]['message']
    # not a problem without userns-remap, and ip_forward's opt-out does not cover it
    assert sd.baseline_problems(found(persistent, live), rootful=True) == []
    assert len(sd.baseline_problems(found(persistent, live), rootful=True, userns_remap=True,
                                    allow_ip_forward_off=True)) == 1
