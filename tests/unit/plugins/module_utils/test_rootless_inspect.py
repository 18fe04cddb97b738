# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_rootless_inspect.py: the inspection that lets the rootless
role skip tasks whose work is done, so a wrong answer here means a task wrongly skipped.
On copies of tests/unit/fixtures/rootless/converged, accounts, daemons, systemctl and
rootlesskit faked (rootless_helpers.FakeHost); GET /info against real unix sockets."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import pwd
import shutil
import socket
import tempfile
import threading

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _rootless_inspect as ri

from audit_helpers import fakehost
from rootless_helpers import ROOTLESS_INFO, FakeHost

SYSCTL = '/etc/sysctl.d/99-nsguard-rootless.conf'
PROFILE_D = '/etc/profile.d/nsguard-rootless-docker.sh'
PROFILE_BLOCK = 'export DOCKER_HOST=unix:///run/user/1001/docker.sock'
#: The real one: FakeHost.patch replaces it in the module.
SPAWN_AS = ri.spawn_as


@pytest.fixture
def host(tmp_path, monkeypatch):
    return FakeHost(tmp_path).patch(monkeypatch)


def facts_of(host, name, managers=None):
    return ri.user_facts(host.fs(), name, managers)


# ---------------------------------------------------------------------------- users

def test_a_fresh_user_has_nothing_done(host):
    assert facts_of(host, 'bob') == {
        'exists': True, 'uid': 1002, 'gid': 1002, 'home': host.path('home/bob'), 'linger': False,
        'manager': False, 'unit_file': False, 'installed': False, 'answering': False, 'rootless': False,
        'context': None, 'profile': None, 'network_dropin': {'exists': False, 'content': None}}


def test_a_converged_user_is_seen_as_converged(host):
    facts = facts_of(host, 'alice', managers={1001: 'active'})
    assert facts == {
        'exists': True, 'uid': 1001, 'gid': 1001, 'home': host.path('home/alice'), 'linger': True,
        'manager': True, 'unit_file': True, 'installed': True, 'answering': True, 'rootless': True,
        'context': 'rootless', 'profile': PROFILE_BLOCK, 'network_dropin': {'exists': False, 'content': None}}


def test_a_manager_that_is_not_active_is_not_running(host):
    assert facts_of(host, 'alice', managers={1001: 'activating'})['manager'] is False
    assert facts_of(host, 'alice', managers={1002: 'active'})['manager'] is False


def test_a_rootful_answer_on_the_users_socket_is_not_rootless(host):
    host.daemons['alice'] = {'SecurityOptions': ['name=apparmor', 'name=seccomp,profile=builtin']}
    facts = facts_of(host, 'alice')
    assert facts['answering'] and not facts['rootless']
    host.daemons['alice'] = {'SecurityOptions': None}
    assert facts_of(host, 'alice')['rootless'] is False


def test_an_unknown_user_does_not_exist(host):
    assert facts_of(host, 'mallory') == {'exists': False}


def test_an_enablement_link_to_a_removed_unit_still_counts_as_installed(host):
    # The setup tool's `creates` guard looks at the link, not at its target.
    host.remove('home/alice/.config/systemd/user/docker.service')
    facts = facts_of(host, 'alice')
    assert facts['installed'] and not facts['unit_file']


def test_a_unit_without_its_enablement_link_is_not_installed(host):
    host.remove('home/alice/.config/systemd/user/default.target.wants/docker.service')
    facts = facts_of(host, 'alice')
    assert facts['unit_file'] and not facts['installed']


def test_linger_is_the_flag_file(host):
    host.remove('var/lib/systemd/linger/alice')
    assert facts_of(host, 'alice')['linger'] is False
    host.write('var/lib/systemd/linger/bob', '')
    assert facts_of(host, 'bob')['linger'] is True


@pytest.mark.parametrize('text, block', [
    (None, None),
    ('export PATH=$PATH\n', None),
    ('# BEGIN nsguard.docker.rootless\nexport DOCKER_HOST=x\n', None),  # no end marker
    ('a\n# BEGIN nsguard.docker.rootless\n# END nsguard.docker.rootless\n', ''),
    ('# BEGIN nsguard.docker.rootless\nexport DOCKER_HOST=x\n# END nsguard.docker.rootless\nb\n', 'export DOCKER_HOST=x'),
    ('# END nsguard.docker.rootless\n# BEGIN nsguard.docker.rootless\nx\n', None),  # end before begin only
])
def test_profile_block(text, block):
    assert ri.profile_block(text) == block


@pytest.mark.parametrize('content, context', [
    (None, None), ('', None), ('{}', None), ('{"currentContext": "default"}', 'default'), ('not json', None),
    ('[1]', None),
])
def test_current_context(content, context):
    assert ri.current_context(content) == context


def test_files_in_a_users_home_are_read_without_following_links(host):
    """Run as root: a link the user planted must not make root read (and report) another
    file, and a FIFO must not make the inspection hang."""
    home = host.path('home/alice')
    secret = host.write('shadow', '{"currentContext": "root-secret"}\n# BEGIN nsguard.docker.rootless\n'
                                  'root:$6$hash\n# END nsguard.docker.rootless\n')
    for name in ('.docker/config.json', '.profile'):
        os.unlink(os.path.join(home, name))
        os.symlink(secret, os.path.join(home, name))
    facts = facts_of(host, 'alice')
    assert facts['context'] is None
    assert facts['profile'] is None
    os.unlink(os.path.join(home, '.profile'))
    os.mkfifo(os.path.join(home, '.profile'))
    assert facts_of(host, 'alice')['profile'] is None
    assert ri.read_user_text(secret) is not None  # a regular file is read


def test_a_link_to_a_directory_in_a_home_the_user_can_change_is_not_followed(host):
    home = host.path('home/alice')
    elsewhere = host.path('root-docker')
    shutil.move(os.path.join(home, '.docker'), elsewhere)
    os.symlink(elsewhere, os.path.join(home, '.docker'))
    os.chmod(home, 0o777)  # not only root's (nor the caller's) to change
    try:
        assert facts_of(host, 'alice')['context'] is None
    finally:
        os.chmod(home, 0o755)


def test_read_user_text_reads_at_most_the_limit(tmp_path):
    path = tmp_path / 'big'
    path.write_text(u'x' * 100)
    assert ri.read_user_text(str(path), limit=10) == 'x' * 10
    assert ri.read_user_text(str(path)) == 'x' * 100
    assert ri.read_user_text(str(tmp_path / 'missing')) is None
    assert ri.read_user_text(str(tmp_path / 'no' / 'such' / 'dir')) is None


# ---------------------------------------------------------------------------- GET /info

class FakeDaemon(object):
    """A unix socket that answers one HTTP request with ``response`` (bytes)."""

    def __init__(self, path, response):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.response = response
        self.thread = threading.Thread(target=self._serve)
        self.thread.daemon = True
        self.thread.start()

    def _serve(self):
        conn, _addr = self.sock.accept()
        conn.recv(4096)
        conn.sendall(self.response)
        conn.close()
        self.sock.close()


def http(status, body):
    return ('HTTP/1.0 %s\r\nContent-Type: application/json\r\n\r\n' % status).encode() + body.encode()


@pytest.fixture
def sock_path():
    """A socket path short enough for AF_UNIX (107 bytes)."""
    directory = tempfile.mkdtemp(prefix='nsg', dir='/tmp')
    yield os.path.join(directory, 'docker.sock')
    shutil.rmtree(directory)


def test_engine_info_reads_the_daemons_answer(sock_path):
    FakeDaemon(sock_path, http('200 OK', json.dumps(ROOTLESS_INFO)))
    assert ri.engine_info(sock_path, timeout=fakehost.ANSWER_WAIT) == ROOTLESS_INFO


@pytest.mark.parametrize('response', [http('500 Internal Server Error', '{}'), b'garbage', http('200 OK', 'not json'),
                                      http('200 OK', '[1, 2]'), b''])
def test_a_socket_that_does_not_answer_properly_is_not_answering(sock_path, response):
    FakeDaemon(sock_path, response)
    assert ri.engine_info(sock_path, timeout=fakehost.ANSWER_WAIT) is None


def test_no_socket_is_not_answering(sock_path):
    assert ri.engine_info(sock_path) is None


# ---------------------------------------------------------------------------- host-wide facts

def test_file_facts_give_all_the_role_compares_before_it_skips_a_write(host):
    fs = host.fs()
    host.write(SYSCTL, 'kernel.unprivileged_userns_clone = 1\n', mode=0o600)
    assert ri.file_facts(fs, SYSCTL) == {'exists': True, 'regular': True, 'mode': '0600', 'uid': 0, 'gid': 0,
                                         'content': 'kernel.unprivileged_userns_clone = 1\n'}
    host.owners[PROFILE_D] = (0, 1000)
    assert ri.file_facts(host.fs(), PROFILE_D)['gid'] == 1000
    # A link to a file with the right text is not the file the role writes: not regular,
    # its target not read.
    os.symlink(host.path(SYSCTL), host.path('etc/sysctl.d/link.conf'))
    link = ri.file_facts(fs, '/etc/sysctl.d/link.conf')
    assert link['exists'] and link['regular'] is False and link['content'] is None
    assert ri.file_facts(fs, '/etc/sysctl.d/absent.conf') == {'exists': False, 'content': None}


def test_group_members(host):
    fs = host.fs()
    assert ri.group_members(fs) == ['mallory', 'alice']
    assert ri.group_members(fs, 'users') == []
    assert ri.group_members(fs, 'nosuch') == []
    host.remove('etc/group')
    assert ri.group_members(fs) == []
    assert fs.errors == []  # a missing file is no error


def test_knobs_report_only_what_the_kernel_has(host):
    assert ri.knobs(host.fs()) == {'user.max_user_namespaces': '28633',
                                   'kernel.apparmor_restrict_unprivileged_userns': '1'}
    host.write('proc/sys/kernel/unprivileged_userns_clone', '0\n')
    host.write('proc/sys/user/max_user_namespaces', '0\n')
    assert ri.knobs(host.fs()) == {'user.max_user_namespaces': '0', 'kernel.unprivileged_userns_clone': '0',
                                   'kernel.apparmor_restrict_unprivileged_userns': '1'}


@pytest.mark.skipif(not os.path.exists('/proc/sys/user/max_user_namespaces'),
                    reason='a kernel without user namespaces')
def test_knobs_read_this_hosts_proc_sys():
    # /proc/sys refuses a read of HostFS's default size (ENOMEM): a fixture tree of regular
    # files cannot show that, this host's /proc can.
    fs = ri.host_fs()
    knobs = ri.knobs(fs)
    assert fs.errors == []
    with open('/proc/sys/user/max_user_namespaces') as handle:
        assert knobs['user.max_user_namespaces'] == handle.read().strip()


def test_package_states_read_dpkgs_status_file(host):
    with open(host.path('var/lib/dpkg/status'), 'a') as handle:
        handle.write('\nPackage: slirp4netns\nStatus: deinstall ok config-files\nArchitecture: arm64\nVersion: 1\n')
    states = ri.package_states(host.fs(), ['uidmap', 'slirp4netns', 'nosuch'])
    assert states['uidmap'] == {'installed': True, 'version': '1:4.13+dfsg1-4ubuntu3.2', 'selection': 'install',
                                'state': 'installed'}
    assert states['slirp4netns']['installed'] is True  # one architecture is installed
    assert states['nosuch'] == {'installed': False, 'version': '', 'selection': '', 'state': 'not-installed'}


# ---------------------------------------------------------------------------- user namespaces

def test_userns_check_runs_rootlesskit_true_as_the_user(host):
    host.userns = (1, 'x' * 3000 + ' permission denied\n')
    result = ri.userns_check(host.fs(), host.rootlesskit, 'alice')
    assert result == {'rc': 1, 'stderr': ('x' * 3000 + ' permission denied')[-2000:]}
    assert host.spawned == [{'user': 'alice', 'argv': [host.rootlesskit, 'true'], 'timeout': 60, 'env': {
        'HOME': host.path('home/alice'), 'USER': 'alice', 'XDG_RUNTIME_DIR': '/run/user/1001',
        'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'}}]


def test_userns_check_is_not_tried_before_it_can_be(host):
    fs = host.fs()
    assert ri.userns_check(fs, host.rootlesskit, 'bob') is None  # no /run/user/1002 before linger
    assert ri.userns_check(fs, host.path('usr/bin/missing'), 'alice') is None
    os.chmod(host.rootlesskit, 0o644)
    assert ri.userns_check(fs, host.rootlesskit, 'alice') is None  # not executable
    assert ri.userns_check(fs, '/bin/true', 'mallory') is None
    assert host.spawned == []


@pytest.mark.skipif(os.geteuid() != 0, reason='dropping to another uid needs root')
@pytest.mark.parametrize('program, rc', [('/bin/true', 0), ('/bin/false', 1)])
def test_spawn_as_runs_the_program_as_the_user(host, monkeypatch, program, rc):
    monkeypatch.setattr(ri, 'spawn_as', SPAWN_AS)
    result = ri.userns_check(host.fs(), program, 'alice')
    assert result['rc'] == rc


@pytest.mark.skipif(os.geteuid() != 0, reason='dropping to another uid needs root')
def test_spawn_as_drops_to_the_users_ids(tmp_path):
    account = pwd.struct_passwd(('nsguard-test', 'x', 1001, 1001, '', str(tmp_path), '/bin/sh'))
    rc, err = SPAWN_AS(account, ['/bin/sh', '-c', 'echo "$(id -u):$(id -g):$HOME:$PWD" >&2'], {'HOME': str(tmp_path)}, 10)
    assert (rc, err.strip()) == (0, '1001:1001:%s:/' % tmp_path)


def test_spawn_as_reports_a_program_that_cannot_run():
    account = pwd.getpwuid(os.geteuid())
    rc, err = SPAWN_AS(account, ['/nonexistent/rootlesskit', 'true'], {}, 10)
    assert rc == 1 and err  # no such file (as root); setgroups refused (as anyone else)


# ---------------------------------------------------------------------------- all of it

def test_inspect_asks_systemctl_once_and_tries_rootlesskit_once(host):
    facts = ri.inspect(host.fs(), host.commands.run, host.commands.which,
                       users=['alice', 'bob', 'mallory'], packages=['uidmap', 'acl', 'nosuch'],
                       files=[SYSCTL, PROFILE_D], rootlesskit=host.rootlesskit, userns_as='alice')
    assert host.commands.calls == [['/usr/bin/systemctl', 'show', '--property=Id,LoadState,ActiveState,UnitFileState',
                                    '--', 'docker.service', 'docker.socket', 'user@1001.service', 'user@1002.service']]
    assert len(host.spawned) == 1
    assert set(facts) == {'knobs', 'packages', 'units', 'files', 'docker_group', 'binaries', 'users', 'userns', 'errors'}
    assert facts['binaries'] == {}
    assert facts['units'] == {'docker.service': {'LoadState': 'masked', 'ActiveState': 'inactive', 'UnitFileState': 'masked'},
                              'docker.socket': {'LoadState': 'masked', 'ActiveState': 'inactive', 'UnitFileState': 'masked'}}
    assert facts['users']['alice']['manager'] is True and facts['users']['bob']['manager'] is False
    assert facts['users']['mallory'] == {'exists': False}
    assert facts['packages']['nosuch']['installed'] is False and facts['packages']['acl']['installed'] is True
    assert set(facts['files']) == {SYSCTL, PROFILE_D} and facts['files'][SYSCTL]['regular']
    assert facts['docker_group'] == ['mallory', 'alice']
    assert facts['userns'] == {'rc': 0, 'stderr': ''}
    assert facts['errors'] == []


def test_inspect_without_a_user_to_check_as(host):
    facts = ri.inspect(host.fs(), host.commands.run, host.commands.which, users=[], packages=[], files=[],
                       rootlesskit=host.rootlesskit, userns_as=None)
    assert facts['userns'] is None and host.spawned == []
    assert host.commands.calls[0][-2:] == ['docker.service', 'docker.socket']


def test_inspect_without_systemctl(host):
    host.commands.missing.add('systemctl')
    facts = ri.inspect(host.fs(), host.commands.run, host.commands.which, users=['alice'], packages=[], files=[])
    assert facts['units']['docker.service'] == {'LoadState': 'unknown', 'ActiveState': 'unknown',
                                                'UnitFileState': 'unknown'}
    assert facts['users']['alice']['manager'] is False
    assert host.commands.calls == []


# ---------------------------------------------------------------------------- network driver

def test_the_users_network_dropin_is_read_with_mode_and_owner(host):
    text = '[Service]\nEnvironment=DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns\n'
    host.write('home/alice/' + ri.NETWORK_DROPIN, text, mode=0o640)
    found = facts_of(host, 'alice')['network_dropin']
    st_ = os.stat(host.path('home/alice/' + ri.NETWORK_DROPIN))
    assert found == {'exists': True, 'regular': True, 'mode': '0640', 'uid': st_.st_uid, 'gid': st_.st_gid,
                     'content': text}


def test_a_link_at_the_network_dropin_is_not_followed(host):
    target = host.write('etc/secret', 'root only\n')
    path = host.path('home/alice/' + ri.NETWORK_DROPIN)
    os.makedirs(os.path.dirname(path))
    os.symlink(target, path)
    found = facts_of(host, 'alice')['network_dropin']
    assert found['exists'] is True and found['regular'] is False and found['content'] is None


def test_binaries_are_executable_files_below_the_root(host, monkeypatch):
    monkeypatch.setattr(ri, 'BIN_ROOT', host.root)
    host.write('usr/bin/slirp4netns', '#!/bin/sh\n', mode=0o755)
    host.write('usr/bin/pasta', 'not executable\n', mode=0o644)
    assert ri.binary_facts(['/usr/bin/slirp4netns', '/usr/bin/pasta', '/usr/bin/nosuch']) == {
        '/usr/bin/slirp4netns': True, '/usr/bin/pasta': False, '/usr/bin/nosuch': False}
    facts = ri.inspect(host.fs(), host.commands.run, host.commands.which, users=['alice'], packages=[], files=[],
                       binaries=['/usr/bin/slirp4netns'])
    assert facts['binaries'] == {'/usr/bin/slirp4netns': True}
