# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units for roles/rootless/files/rootless_facts.py: the inspection that lets the role skip
tasks whose work is done, so a wrong answer here means a task wrongly skipped."""

import importlib.util
import json
import os
import pwd
import socket
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, '..', '..', '..', '..', 'roles', 'rootless', 'files', 'rootless_facts.py')
_SPEC = importlib.util.spec_from_file_location('rootless_facts', SCRIPT)
rf = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(rf)


class FakeDaemon(object):
    """A unix socket that answers one HTTP request with ``response`` (bytes)."""

    def __init__(self, path, response):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
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
def alice(tmp_path, monkeypatch):
    """An account whose home, runtime and linger directories live under tmp_path."""
    home = tmp_path / 'home' / 'alice'
    home.mkdir(parents=True)
    entry = pwd.struct_passwd(('alice', 'x', 1001, 1001, '', str(home), '/bin/bash'))

    def getpwnam(name):
        if name == 'alice':
            return entry
        raise KeyError(name)
    monkeypatch.setattr(rf.pwd, 'getpwnam', getpwnam)
    (tmp_path / 'run' / '1001').mkdir(parents=True)
    (tmp_path / 'linger').mkdir()
    return tmp_path


def facts_of(tmp_path, managers=None):
    return rf.user_facts('alice', run_dir=str(tmp_path / 'run'), linger_dir=str(tmp_path / 'linger'),
                         managers=managers)


def test_a_fresh_user_has_nothing_done(alice):
    facts = facts_of(alice)
    assert facts == {'exists': True, 'uid': 1001, 'gid': 1001, 'home': str(alice / 'home' / 'alice'),
                     'linger': False, 'manager': False, 'unit_file': False,
                     'installed': False, 'answering': False, 'rootless': False, 'context': None,
                     'profile': None}


def test_a_converged_user_is_seen_as_converged(alice):
    home = alice / 'home' / 'alice'
    (alice / 'linger' / 'alice').touch()
    units = home / '.config' / 'systemd' / 'user'
    (units / 'default.target.wants').mkdir(parents=True)
    (units / 'docker.service').write_text('[Service]\n')
    os.symlink(str(units / 'docker.service'), str(units / 'default.target.wants' / 'docker.service'))
    (home / '.docker').mkdir()
    (home / '.docker' / 'config.json').write_text(json.dumps({'currentContext': 'rootless', 'auths': {}}))
    (home / '.profile').write_text('umask 022\n# BEGIN nsguard.docker.rootless\n'
                                   'export DOCKER_HOST=unix:///run/user/1001/docker.sock\n'
                                   '# END nsguard.docker.rootless\n')
    FakeDaemon(alice / 'run' / '1001' / 'docker.sock',
               http('200 OK', json.dumps({'SecurityOptions': ['name=seccomp,profile=builtin', 'name=rootless']})))
    facts = facts_of(alice, managers={1001: 'active'})
    assert facts['linger'] and facts['manager'] and facts['unit_file'] and facts['installed']
    assert facts['answering'] and facts['rootless'] and facts['context'] == 'rootless'
    assert facts['profile'] == 'export DOCKER_HOST=unix:///run/user/1001/docker.sock'


def test_a_rootful_answer_on_the_users_socket_is_not_rootless(alice):
    FakeDaemon(alice / 'run' / '1001' / 'docker.sock', http('200 OK', json.dumps({'SecurityOptions': ['name=apparmor']})))
    facts = facts_of(alice)
    assert facts['answering'] and not facts['rootless']


@pytest.mark.parametrize('response', [http('500 Internal Server Error', '{}'), b'garbage', http('200 OK', 'not json'), b''])
def test_a_socket_that_does_not_answer_properly_is_not_answering(alice, response):
    FakeDaemon(alice / 'run' / '1001' / 'docker.sock', response)
    assert not facts_of(alice)['answering']


def test_an_unknown_user_does_not_exist(alice):
    assert rf.user_facts('bob') == {'exists': False}


def test_an_enablement_link_to_a_removed_unit_still_counts_as_installed(alice):
    # The setup tool's `creates` guard looks at the link, not at its target.
    wants = alice / 'home' / 'alice' / '.config' / 'systemd' / 'user' / 'default.target.wants'
    wants.mkdir(parents=True)
    os.symlink('/nonexistent/docker.service', str(wants / 'docker.service'))
    facts = facts_of(alice)
    assert facts['installed'] and not facts['unit_file']


@pytest.mark.parametrize('text, block', [
    (None, None),
    ('export PATH=$PATH\n', None),
    ('# BEGIN nsguard.docker.rootless\nexport DOCKER_HOST=x\n', None),  # no end marker
    ('a\n# BEGIN nsguard.docker.rootless\n# END nsguard.docker.rootless\n', ''),
    ('# BEGIN nsguard.docker.rootless\nexport DOCKER_HOST=x\n# END nsguard.docker.rootless\nb\n', 'export DOCKER_HOST=x'),
])
def test_profile_block(text, block):
    assert rf.profile_block(text) == block


@pytest.mark.parametrize('content, context', [
    (None, None), ('{}', None), ('{"currentContext": "default"}', 'default'), ('not json', None), ('[1]', None),
])
def test_current_context(tmp_path, content, context):
    path = tmp_path / 'config.json'
    if content is not None:
        path.write_text(content)
    assert rf.current_context(str(path)) == context


def test_files_in_a_users_home_are_read_without_following_links(alice):
    """Run as root: a link the user planted must not make root read (and report) another
    file, and a FIFO must not make the inspection hang."""
    home = alice / 'home' / 'alice'
    secret = alice / 'shadow'
    secret.write_text('{"currentContext": "root-secret"}\n# BEGIN nsguard.docker.rootless\n'
                      'root:$6$hash\n# END nsguard.docker.rootless\n')
    (home / '.docker').mkdir()
    os.symlink(str(secret), str(home / '.docker' / 'config.json'))
    os.symlink(str(secret), str(home / '.profile'))
    facts = facts_of(alice)
    assert facts['context'] is None
    assert facts['profile'] is None
    os.unlink(str(home / '.profile'))
    os.mkfifo(str(home / '.profile'))
    assert facts_of(alice)['profile'] is None
    assert rf.read_user_text(str(secret)) is not None  # a regular file is read


def test_file_facts_give_all_the_role_compares_before_it_skips_a_write(tmp_path):
    conf = tmp_path / '99-nsguard-rootless.conf'
    conf.write_text('kernel.unprivileged_userns_clone = 1\n')
    conf.chmod(0o600)
    facts = rf.file_facts(str(conf))
    st = os.stat(str(conf))
    assert facts == {'exists': True, 'regular': True, 'mode': '0600', 'uid': st.st_uid, 'gid': st.st_gid,
                     'content': 'kernel.unprivileged_userns_clone = 1\n'}
    # A link to a file with the right text is not the file the role writes: not regular,
    # its target not read.
    link = tmp_path / 'link.conf'
    link.symlink_to(conf)
    assert rf.file_facts(str(link))['regular'] is False
    assert rf.file_facts(str(link))['content'] is None
    assert rf.file_facts(str(tmp_path / 'absent')) == {'exists': False, 'content': None}


def test_group_members(tmp_path):
    group = tmp_path / 'group'
    group.write_text('root:x:0:\ndocker:x:999:mallory,alice\nbroken line\nusers:x:100:\n')
    assert rf.group_members('docker', str(group)) == ['mallory', 'alice']
    assert rf.group_members('users', str(group)) == []
    assert rf.group_members('nosuch', str(group)) == []
    assert rf.group_members('docker', str(tmp_path / 'missing')) == []


def test_knobs_report_only_what_the_kernel_has(tmp_path):
    (tmp_path / 'user').mkdir()
    (tmp_path / 'kernel').mkdir()
    (tmp_path / 'user' / 'max_user_namespaces').write_text('0\n')
    (tmp_path / 'kernel' / 'apparmor_restrict_unprivileged_userns').write_text('1\n')
    assert rf.knobs(str(tmp_path)) == {'user.max_user_namespaces': '0',
                                       'kernel.apparmor_restrict_unprivileged_userns': '1'}


def test_userns_check_is_not_tried_before_the_runtime_directory_exists(alice):
    run_dir = alice / 'elsewhere'
    assert rf.userns_check('/bin/true', 'alice', run_dir=str(run_dir)) is None
    assert rf.userns_check(str(alice / 'no-rootlesskit'), 'alice', run_dir=str(alice / 'run')) is None
    assert rf.userns_check('/bin/true', 'bob', run_dir=str(alice / 'run')) is None


@pytest.mark.skipif(os.geteuid() != 0, reason='dropping to another uid needs root')
@pytest.mark.parametrize('program, rc', [('/bin/true', 0), ('/bin/false', 1)])
def test_userns_check_runs_the_program_as_the_user(alice, program, rc):
    result = rf.userns_check(program, 'alice', run_dir=str(alice / 'run'))
    assert result['rc'] == rc


def test_main_prints_one_json_object(capsys):
    assert rf.main(['--user', 'no-such-user-here', '--package', 'no-such-package-here', '--file', '/nonexistent']) == 0
    out = json.loads(capsys.readouterr().out)
    assert out['users'] == {'no-such-user-here': {'exists': False}}
    assert out['packages'] == {'no-such-package-here': False}
    assert out['files'] == {'/nonexistent': {'exists': False, 'content': None}}
    assert out['userns'] is None and 'user.max_user_namespaces' in out['knobs']
