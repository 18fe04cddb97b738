# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/modules/brownfield_info.py and plugins/modules/data_carry.py: main()
against a small Engine API server on a unix socket that also takes request bodies (image
tarballs loaded, volumes created), with the stage directory, the old volume and the new
volume's mount point in a temporary tree."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import json
import os
import shutil
import socket
import threading

import pytest
import yaml

from ansible_collections.nsguard.docker.plugins.modules import brownfield_info, data_carry

from audit_helpers import fakehost, run_module
from module_helpers import check_documented, check_options, documented_keys

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason='giving files other owners needs root')
TARBALL = b'a tarball of images ' * 1000


class Engine(object):
    """Answers (method, path) from ``routes``: a (status, body) or a callable(body) giving
    one. Requests are kept as (method, path, body)."""

    def __init__(self, path, routes):
        self.path, self.routes, self.requests = path, routes, []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(8)
        self.server.settimeout(0.05)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.serve)
        self.thread.daemon = True

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(5)
        self.server.close()

    def serve(self):
        while not self.stop_event.is_set():
            try:
                conn, _addr = self.server.accept()
            except socket.timeout:
                continue
            try:
                self.handle(conn)
            finally:
                conn.close()

    def handle(self, conn):
        conn.settimeout(fakehost.ANSWER_WAIT)
        data = b''
        while b'\r\n\r\n' not in data:
            data += conn.recv(65536)
        head, _sep, body = data.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        method, path = lines[0].split(' ')[:2]
        length = 0
        for line in lines[1:]:
            name, _colon, value = line.partition(':')
            if name.lower() == 'content-length':
                length = int(value)
        while len(body) < length:
            body += conn.recv(65536)
        self.requests.append((method, path, body))
        route = self.routes.get((method, path), (404, {'message': 'no such thing'}))
        status, answer = route(body) if callable(route) else route
        if isinstance(answer, (dict, list)):
            answer = json.dumps(answer).encode()
        conn.sendall(fakehost.encode_response(status, answer, 'chunked'))


@pytest.fixture
def sockdir():
    path = fakehost.short_tempdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _docs(module):
    return yaml.safe_load(module.DOCUMENTATION)


@pytest.mark.parametrize('module', [brownfield_info, data_carry])
def test_documentation_matches_the_argument_spec(module):
    check_options(_docs(module)['options'], module.argument_spec())


INFO = {'DockerRootDir': '/var/lib/docker', 'ServerVersion': '26.1.3', 'SecurityOptions': ['name=seccomp']}


def test_brownfield_info_lists_and_plans(sockdir, monkeypatch, capsys, tmp_path):
    sock = os.path.join(sockdir, 'docker.sock')
    routes = {
        ('GET', '/info'): (200, INFO),
        ('GET', '/containers/json?all=1'): (200, [{'Id': 'c' * 64, 'Names': ['/web'], 'Image': 'bb', 'State': 'running',
                                                   'Mounts': [{'Type': 'volume', 'Name': 'webdata'}]}]),
        ('GET', '/images/json'): (200, [{'Id': 'sha256:1', 'RepoTags': ['bb:1'], 'Size': 5}]),
        ('GET', '/volumes'): (200, {'Volumes': [{'Name': 'webdata', 'Driver': 'local',
                                                 'Mountpoint': str(tmp_path / 'root' / 'volumes')}]}),
    }
    (tmp_path / 'root' / 'volumes').mkdir(parents=True)
    monkeypatch.setattr(brownfield_info, 'rootful_running', lambda fs: True)
    monkeypatch.setattr(brownfield_info._brownfield, 'plan', _with_root(brownfield_info._brownfield.plan,
                                                                        str(tmp_path / 'root')))
    with Engine(sock, routes) as engine:
        result = run_module(brownfield_info, {'socket': sock, 'targets': ['userns-remap'], 'carry_images': True,
                                              'timeout': fakehost.ANSWER_WAIT,
                                              'stage_dir': str(tmp_path / 'stage')}, capsys)
    assert result['_rc'] == 0 and result['changed'] is False
    assert all(method == 'GET' for method, _path, _body in engine.requests)
    assert result['plan']['hides'] and result['plan']['running'] == ['web']
    assert result['plan']['carry']['images'] == ['bb:1']
    assert isinstance(result['plan']['old_data_root_bytes'], int)
    documented = documented_keys(yaml.safe_load(brownfield_info.RETURN))
    check_documented(dict((k, v) for k, v in result.items() if not k.startswith('_') and k not in (
        'changed', 'invocation', 'warnings')), documented, 'result')


def _with_root(plan, root):
    def planned(*args, **kwargs):
        result = plan(*args, **kwargs)
        if result['old_data_root']:
            result['old_data_root'] = root
        return result
    return planned


def test_brownfield_info_starts_no_daemon(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(brownfield_info, 'rootful_running', lambda fs: False)
    result = run_module(brownfield_info, {'socket': str(tmp_path / 'absent.sock'), 'targets': ['rootless'],
                                          'rootful_after': 'masked', 'rootless_users': ['alice'],
                                          'stage_dir': str(tmp_path / 'stage')}, capsys)
    assert result['_rc'] == 0 and not result['daemon']['running'] and not result['plan']['hides']


def test_brownfield_info_fails_clearly_when_a_running_daemon_does_not_answer(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(brownfield_info, 'rootful_running', lambda fs: True)
    result = run_module(brownfield_info, {'socket': str(tmp_path / 'absent.sock'), 'targets': ['userns-remap'],
                                          'timeout': 1, 'stage_dir': str(tmp_path / 'stage')}, capsys)
    assert result['_rc'] == 1 and 'did not answer' in result['msg'] and 'nothing was changed' in result['msg']


def test_staged_saves_images_and_plan_once(sockdir, capsys, tmp_path):
    sock = os.path.join(sockdir, 'docker.sock')
    stage = str(tmp_path / 'stage')
    routes = {('GET', '/images/get?names=bb%3A1&names=sha256%3A2'): (200, TARBALL)}
    args = {'state': 'staged', 'stage_dir': stage, 'source_socket': sock, 'images': ['sha256:2', 'bb:1'],
            'image_ids': ['sha256:1', 'sha256:2'], 'volumes': [{'name': 'v', 'source': '/old/v/_data'}],
            'targets': [{'mode': 'userns-remap'}]}
    with Engine(sock, routes) as engine:
        checked = run_module(data_carry, args, capsys, check_mode=True)
        assert checked['changed'] and not os.path.exists(stage) and engine.requests == []
        first = run_module(data_carry, args, capsys)
        second = run_module(data_carry, args, capsys)
    assert first['changed'] and not second['changed'] and len(engine.requests) == 1
    assert first['stage_bytes'] == len(TARBALL)
    assert oct(os.stat(stage).st_mode & 0o777) == '0o700'
    with open(os.path.join(stage, 'carry.json')) as handle:
        manifest = json.load(handle)
    assert manifest['image_ids'] == ['sha256:1', 'sha256:2'] and manifest['targets'] == [{'mode': 'userns-remap'}]
    # what brownfield_info reads back when the run stops half-way
    assert brownfield_info._brownfield.read_stage_manifest(stage) == manifest
    removed = run_module(data_carry, {'state': 'absent', 'stage_dir': stage}, capsys)
    assert removed['changed'] and not os.path.exists(stage)
    assert not run_module(data_carry, {'state': 'absent', 'stage_dir': stage}, capsys)['changed']


def _carry_routes(tmp_path, mode_options, loaded):
    mountpoint = tmp_path / 'new' / 'volumes' / 'webdata' / '_data'
    volumes = {}

    def create(body):
        request = json.loads(body.decode())
        mountpoint.mkdir(parents=True)
        volumes[request['Name']] = dict(Name=request['Name'], Labels=request['Labels'], Mountpoint=str(mountpoint))
        return 201, volumes[request['Name']]

    def inspect(_body):
        return (200, volumes['webdata']) if 'webdata' in volumes else (404, {'message': 'no such volume'})

    def load(body):
        loaded.append(body)
        return 200, b'{"stream":"Loaded image ID: sha256:1\\n"}'

    def images(_body):
        return 200, [{'Id': 'sha256:0'}] + ([{'Id': 'sha256:other-store', 'RepoTags': ['bb:1']}] if loaded else [])

    return {
        ('GET', '/info'): (200, dict(INFO, SecurityOptions=mode_options)),
        ('GET', '/images/json?all=1'): images,
        ('POST', '/images/load?quiet=1'): load,
        ('GET', '/volumes/webdata'): inspect,
        ('POST', '/volumes/create'): create,
    }, mountpoint


@AS_ROOT
def test_carried_loads_images_and_copies_the_volume_shifted(sockdir, monkeypatch, capsys, tmp_path):
    sock = os.path.join(sockdir, 'docker.sock')
    stage = tmp_path / 'stage'
    stage.mkdir(mode=0o700)
    (stage / 'images.tar').write_bytes(TARBALL)
    (stage / 'carry.json').write_text(json.dumps({'images': ['bb:1'], 'image_ids': ['sha256:1'],
                                                  'volumes': [], 'targets': []}))
    old = tmp_path / 'old'
    old.mkdir()
    (old / 'data.txt').write_bytes(b'kept\n')
    os.chown(str(old / 'data.txt'), 1000, 1000)
    subuid, subgid = tmp_path / 'subuid', tmp_path / 'subgid'
    subuid.write_text(u'vagrant:100000:65536\ndockremap:165536:65536\n')
    subgid.write_text(u'vagrant:100000:65536\ndockremap:165536:65536\n')
    monkeypatch.setattr(data_carry, 'SUBUID_PATH', str(subuid))
    monkeypatch.setattr(data_carry, 'SUBGID_PATH', str(subgid))
    account = collections.namedtuple('pw', 'pw_uid')
    monkeypatch.setattr(data_carry.pwd, 'getpwnam', lambda name: account(999))
    loaded = []
    routes, mountpoint = _carry_routes(tmp_path, ['name=userns'], loaded)
    args = {'state': 'carried', 'stage_dir': str(stage), 'target_mode': 'userns-remap', 'target_user': 'dockremap',
            'target_socket': sock, 'volumes': [{'name': 'webdata', 'source': str(old)}]}
    with Engine(sock, routes):
        checked = run_module(data_carry, args, capsys, check_mode=True)
        assert checked['changed'] and checked['images_loaded'] == ['bb:1'] and loaded == []
        assert not mountpoint.exists()
        first = run_module(data_carry, args, capsys)
        second = run_module(data_carry, args, capsys)
    assert first['_rc'] == 0, first
    assert first['changed'] and first['images_loaded'] == ['bb:1'] and loaded == [TARBALL]
    assert first['id_map']['uid'] == [[0, 165536, 65536]]
    assert first['volumes'][0]['result'] == 'created' and first['volumes'][0]['entries'] == 1
    st_ = os.stat(str(mountpoint / 'data.txt'))
    assert (st_.st_uid, st_.st_gid) == (166536, 166536)
    assert os.stat(str(mountpoint)).st_uid == 165536 + os.stat(str(old)).st_uid
    assert (mountpoint / 'data.txt').read_bytes() == b'kept\n'
    # the old volume is left as it was
    assert os.stat(str(old / 'data.txt')).st_uid == 1000
    assert second['_rc'] == 0 and not second['changed'] and second['volumes'][0]['result'] == 'kept'
    assert len(loaded) == 1


def test_carried_refuses_a_daemon_not_yet_in_the_target_mode(sockdir, capsys, tmp_path):
    sock = os.path.join(sockdir, 'docker.sock')
    routes, _mountpoint = _carry_routes(tmp_path, ['name=seccomp'], [])
    args = {'state': 'carried', 'stage_dir': str(tmp_path / 'stage'), 'target_mode': 'userns-remap',
            'target_user': 'root', 'target_socket': sock, 'volumes': [{'name': 'webdata', 'source': str(tmp_path)}]}
    with Engine(sock, routes) as engine:
        checked = run_module(data_carry, args, capsys, check_mode=True)
        failed = run_module(data_carry, args, capsys)
    # check mode: the play would remap it first
    assert checked['changed'] and checked['volumes'] == [{'name': 'webdata', 'result': 'created'}]
    assert failed['_rc'] == 1 and 'runs in default mode, not userns-remap' in failed['msg']
    assert all(method == 'GET' for method, _path, _body in engine.requests)


def test_carried_in_check_mode_before_the_daemon_exists(capsys, tmp_path):
    args = {'state': 'carried', 'stage_dir': str(tmp_path / 'stage'), 'target_mode': 'rootless',
            'target_user': 'root', 'target_socket': str(tmp_path / 'absent.sock'), 'timeout': 1,
            'volumes': [{'name': 'webdata', 'source': str(tmp_path)}]}
    checked = run_module(data_carry, args, capsys, check_mode=True)
    assert checked['_rc'] == 0 and checked['changed']
    assert run_module(data_carry, args, capsys)['_rc'] == 1


def test_an_unfinished_volume_is_not_taken_as_carried(sockdir, capsys, tmp_path, monkeypatch):
    sock = os.path.join(sockdir, 'docker.sock')
    routes = {
        ('GET', '/info'): (200, dict(INFO, SecurityOptions=['name=rootless'])),
        ('GET', '/images/json?all=1'): (200, []),
        ('GET', '/volumes/webdata'): (200, {'Name': 'webdata', 'Labels': {data_carry.LABEL: '/old'}}),
    }
    monkeypatch.setattr(data_carry, 'id_maps', lambda params, target: ([(0, 1000, 1)], [(0, 1000, 1)]))
    args = {'state': 'carried', 'stage_dir': str(tmp_path / 'stage'), 'target_mode': 'rootless',
            'target_user': 'root', 'target_socket': sock, 'volumes': [{'name': 'webdata', 'source': '/old'}]}
    with Engine(sock, routes):
        result = run_module(data_carry, args, capsys)
    assert result['_rc'] == 1 and 'did not finish' in result['msg']


def test_carried_needs_a_target(capsys, tmp_path):
    result = run_module(data_carry, {'state': 'carried', 'stage_dir': str(tmp_path)}, capsys)
    assert result['_rc'] == 1 and 'target_mode' in result['msg']
