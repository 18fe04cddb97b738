# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/engine_api.py against a real AF_UNIX server thread."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import socket
import time

import pytest
import yaml

from ansible_collections.nsguard.docker.plugins.doc_fragments.audit import ModuleDocFragment
from ansible_collections.nsguard.docker.plugins.module_utils import _audit_module, engine_api
from ansible_collections.nsguard.docker.plugins.module_utils.engine_api import (
    EngineAPIError,
    UnixHTTPClient,
    query_daemon,
)

from audit_helpers import fakehost

WAIT = fakehost.ANSWER_WAIT   # for every answer that does come


@pytest.fixture
def sockdir():
    path = fakehost.short_tempdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _serve(sockdir, routes, encoding='length'):
    return fakehost.FakeEngine(os.path.join(sockdir, 'docker.sock'), routes, encoding)


@pytest.mark.parametrize('encoding', ['length', 'chunked', 'eof'])
def test_get_json_with_each_body_framing(sockdir, encoding):
    info = fakehost.fixture_json('engine', 'info_rootless.json')
    with _serve(sockdir, {'/info': (200, info)}, encoding) as server:
        client = UnixHTTPClient(server.path, timeout=WAIT)
        assert client.get_json('/info') == info
    request = server.requests[0]
    assert request.startswith('GET /info HTTP/1.1\r\n')
    assert 'Host: docker\r\n' in request and 'Connection: close\r\n' in request


def test_chunked_body_larger_than_one_read(sockdir):
    big = {'items': ['x' * 100] * 2000}   # ~200 kB, many recv() calls and chunks
    with _serve(sockdir, {'/big': (200, big)}, 'chunked') as server:
        assert UnixHTTPClient(server.path, timeout=WAIT).get_json('/big') == big


def test_raw_chunked_response_with_extensions_and_trailers(sockdir):
    raw = (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
           b'4;ext=1\r\n{"a"\r\n'
           b'3\r\n: 1\r\n'
           b'1\r\n}\r\n'
           b'0\r\nTrailer-One: x\r\n\r\n')
    with _serve(sockdir, {'/raw': lambda head: raw}) as server:
        status, headers, body = UnixHTTPClient(server.path, timeout=WAIT).request('/raw')
    assert status == 200 and headers['transfer-encoding'] == 'chunked'
    assert json.loads(body) == {'a': 1}


def test_http_error_carries_status_and_daemon_message(sockdir):
    with _serve(sockdir, {'/boom': (500, {'message': 'daemon exploded'})}) as server:
        with pytest.raises(EngineAPIError) as caught:
            UnixHTTPClient(server.path, timeout=WAIT).get_json('/boom')
        with pytest.raises(EngineAPIError) as missing:
            UnixHTTPClient(server.path, timeout=WAIT).get_json('/nope')
    assert caught.value.status == 500 and 'daemon exploded' in str(caught.value)
    assert missing.value.status == 404


def test_body_that_is_not_json(sockdir):
    with _serve(sockdir, {'/text': (200, 'hello, world')}) as server:
        with pytest.raises(EngineAPIError, match='not JSON'):
            UnixHTTPClient(server.path, timeout=WAIT).get_json('/text')


@pytest.mark.parametrize('raw,match', [
    (b'SSH-2.0-OpenSSH_9.6\r\n', 'not an HTTP response'),
    (b'HTTP/1.1 abc OK\r\n\r\n', 'bad HTTP status'),
    (b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'bad chunk size'),
    (b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"short": true}', 'connection closed after'),
    (b'HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n{}', 'bad Content-Length'),
    (b'HTTP/1.1 200 OK\r\nContent-Type: text/plain', 'connection closed in the middle'),
])
def test_malformed_responses_raise_engine_api_error(sockdir, raw, match):
    with _serve(sockdir, {'/x': lambda head: raw}) as server:
        with pytest.raises(EngineAPIError, match=match):
            UnixHTTPClient(server.path, timeout=WAIT).get_json('/x')


def test_timeout_when_the_daemon_never_answers(sockdir):
    with _serve(sockdir, {'/info': lambda head: None}) as server:
        started = time.monotonic()
        with pytest.raises(EngineAPIError, match='timed out'):
            UnixHTTPClient(server.path, timeout=0.3).get_json('/info')
        # the fake daemon holds the connection open until the test ends, so 'timed out'
        # proves the timeout; the bound only catches a hang
        assert time.monotonic() - started < 60


def test_connection_refused_and_missing_socket(sockdir):
    stale = os.path.join(sockdir, 'stale.sock')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(stale)
    sock.close()
    with pytest.raises(EngineAPIError, match='cannot connect'):
        UnixHTTPClient(stale).get_json('/info')
    with pytest.raises(EngineAPIError, match='cannot connect'):
        UnixHTTPClient(os.path.join(sockdir, 'absent.sock')).get_json('/info')


def test_query_daemon_lists_and_inspects_containers(sockdir):
    routes = fakehost.engine_routes('default')
    with _serve(sockdir, routes, 'chunked') as server:
        result = query_daemon(server.path, timeout=WAIT, containers=True, inspect=True)
    assert result['reachable'] is True and result['error'] is None
    assert result['info']['ServerVersion'] == '27.3.1'
    assert set(result['info']) <= set(engine_api.INFO_KEYS)
    assert 'Images' not in result['info']
    assert [c['Names'][0] for c in result['containers']] == ['/web', '/ci-runner']
    assert result['containers'][0]['Inspect']['State']['Pid'] == 4242
    assert [r.split('\r\n')[0] for r in server.requests] == [
        'GET /info HTTP/1.1', 'GET /containers/json HTTP/1.1',
        'GET /containers/%s/json HTTP/1.1' % result['containers'][0]['Id'],
        'GET /containers/%s/json HTTP/1.1' % result['containers'][1]['Id']]


def _first_lines(server):
    return [r.split('\r\n')[0] for r in server.requests]


def test_query_daemon_inspects_candidates_instead_of_listing(sockdir):
    # Both containers /info counts are among the candidates: no GET /containers/json
    # (dockerd's costly call); an id the daemon does not run answers 404 and is skipped.
    routes = fakehost.engine_routes('default')
    web, ci = [item['Id'] for item in routes['/containers/json'][1]]
    other = 'f' * 64
    with _serve(sockdir, routes) as server:
        result = query_daemon(server.path, timeout=WAIT, containers=True, inspect=True, candidates=[ci, other, web])
    assert result['error'] is None and result['listed_by'] == 'inspect'
    assert sorted(c['Id'] for c in result['containers']) == sorted([web, ci])
    assert all(c['Inspect']['Id'] == c['Id'] for c in result['containers'])
    assert 'GET /containers/json HTTP/1.1' not in _first_lines(server)
    assert result['inspect_errors'] == [] and result['attempts'] == 1


@pytest.mark.parametrize('change', ['missing', 'stopped', 'paused_uncounted', 'count_not_int', 'server_error'])
def test_query_daemon_lists_when_candidates_do_not_account_for_every_container(sockdir, change):
    routes = fakehost.engine_routes('default')
    web, ci = [item['Id'] for item in routes['/containers/json'][1]]
    candidates = [web, ci]
    info = dict(routes['/info'][1])
    if change == 'missing':
        candidates = [web]                       # a container /proc did not show
    elif change == 'stopped':
        inspect = json.loads(json.dumps(routes['/containers/%s/json' % ci][1]))
        inspect['State'].update(Running=False, Status='exited')
        routes['/containers/%s/json' % ci] = (200, inspect)
    elif change == 'paused_uncounted':
        info['ContainersPaused'] = 1             # a third one, paused, not among candidates
    elif change == 'count_not_int':
        info['ContainersRunning'] = None
    elif change == 'server_error':
        routes['/containers/%s/json' % ci] = (500, {'message': 'boom'})
    routes['/info'] = (200, info)
    with _serve(sockdir, routes) as server:
        result = query_daemon(server.path, timeout=WAIT, containers=True, inspect=True, candidates=candidates)
    assert result['listed_by'] == 'list' and 'GET /containers/json HTTP/1.1' in _first_lines(server)
    assert [c['Names'][0] for c in result['containers']] == ['/web', '/ci-runner']


def test_query_daemon_candidates_need_info_and_inspection(sockdir):
    routes = fakehost.engine_routes('default')
    ids = [item['Id'] for item in routes['/containers/json'][1]]
    with _serve(sockdir, routes) as server:
        no_info = query_daemon(server.path, timeout=WAIT, containers=True, inspect=True, info=False, candidates=ids)
        no_inspect = query_daemon(server.path, timeout=WAIT, containers=True, inspect=False, candidates=ids)
    assert no_info['listed_by'] == 'list' and no_inspect['listed_by'] == 'list'


def test_query_daemon_without_inspection_and_with_budget(sockdir):
    routes = fakehost.engine_routes('userns')
    with _serve(sockdir, routes) as server:
        listed = query_daemon(server.path, timeout=WAIT, containers=True, inspect=False)
        starved = query_daemon(server.path, timeout=WAIT, containers=True, inspect=True, budget=-1)
        info_only = query_daemon(server.path, timeout=WAIT, containers=False)
    assert all('Inspect' not in c for c in listed['containers'])
    assert starved['truncated'] == 2 and all('Inspect' not in c for c in starved['containers'])
    assert info_only['containers'] == [] and info_only['reachable']


def test_query_daemon_without_info_lists_containers_only(sockdir):
    routes = fakehost.engine_routes('userns')
    with _serve(sockdir, routes) as server:
        result = query_daemon(server.path, timeout=WAIT, containers=True, inspect=False, info=False)
    assert [r.split('\r\n')[0] for r in server.requests] == ['GET /containers/json HTTP/1.1']
    assert result['reachable'] and result['error'] is None and result['info'] is None
    assert len(result['containers']) == 2


def test_query_daemon_without_info_tells_an_http_error_from_silence(sockdir):
    with _serve(sockdir, {'/containers/json': (500, {'message': 'boom'})}) as server:
        failed = query_daemon(server.path, timeout=WAIT, info=False)
    assert failed['reachable'] is True and 'HTTP 500 boom' in failed['error']
    absent = query_daemon(os.path.join(sockdir, 'absent.sock'), timeout=0.5, info=False)
    assert absent['reachable'] is False and 'cannot connect' in absent['error']


def test_query_daemon_records_inspect_failures_and_bad_listing(sockdir):
    routes = fakehost.engine_routes('rootless')
    routes.pop([k for k in routes if k.startswith('/containers/e5')][0])
    with _serve(sockdir, routes) as server:
        result = query_daemon(server.path, timeout=WAIT, inspect=True)
    assert result['reachable'] and len(result['inspect_errors']) == 1
    assert result['inspect_errors'][0]['id'].startswith('e5f6')
    with _serve(sockdir, {'/info': (200, {'ServerVersion': '1'}), '/containers/json': (200, {'no': 'list'})}) as s2:
        bad = query_daemon(s2.path, timeout=WAIT)
    assert bad['reachable'] and 'unexpected response shape' in bad['error']


def test_query_daemon_unreachable(sockdir):
    result = query_daemon(os.path.join(sockdir, 'absent.sock'), timeout=0.5)
    assert result['reachable'] is False and 'cannot connect' in result['error']
    assert result['info'] is None and result['containers'] == []


class FlakyClient(object):
    """Answers from a script: an EngineAPIError to raise or a value to return, per call."""

    def __init__(self, script):
        self.script = list(script)
        self.paths = []

    def get_json(self, path):
        self.paths.append(path)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def test_query_daemon_retries_once_after_silence():
    client = FlakyClient([engine_api.EngineAPIError('timed out reading the response'),
                          {'ServerVersion': '29.1.3'}, []])
    result = engine_api.query_daemon('/run/docker.sock', client_factory=lambda p, t: client)
    assert result['reachable'] is True and result['error'] is None
    assert result['attempts'] == 3
    assert client.paths == ['/info', '/info', '/containers/json']


def test_query_daemon_gives_up_after_the_retry_and_never_retries_an_http_answer():
    silent = FlakyClient([engine_api.EngineAPIError('timed out')] * 2)
    result = engine_api.query_daemon('/s', client_factory=lambda p, t: silent, info=False)
    assert result['reachable'] is False and result['attempts'] == 2 and 'timed out' in result['error']
    http = FlakyClient([engine_api.EngineAPIError('GET /info: HTTP 500 boom', status=500)])
    result = engine_api.query_daemon('/s', client_factory=lambda p, t: http)
    assert result['attempts'] == 1 and http.paths == ['/info']


def test_one_retry_for_the_whole_query():
    # /info answered after one retry: a second silence (the listing) is not retried again.
    client = FlakyClient([engine_api.EngineAPIError('timed out'), {'ServerVersion': '29.1.3'},
                          engine_api.EngineAPIError('timed out reading the response')])
    result = engine_api.query_daemon('/s', client_factory=lambda p, t: client)
    assert result['reachable'] is True and 'timed out' in result['error'] and result['attempts'] == 3
    # A silent listing after a prompt /info gets the retry.
    client = FlakyClient([{'ServerVersion': '29.1.3'}, engine_api.EngineAPIError('cannot connect'), []])
    result = engine_api.query_daemon('/s', client_factory=lambda p, t: client)
    assert result['error'] is None and result['attempts'] == 3
    assert client.paths == ['/info', '/containers/json', '/containers/json']
    # retries=0 asks once.
    client = FlakyClient([engine_api.EngineAPIError('timed out')])
    assert engine_api.query_daemon('/s', client_factory=lambda p, t: client, retries=0)['attempts'] == 1


def test_retry_over_a_real_socket_that_never_answers(sockdir):
    def silent(_head):
        return None      # keep the connection open without an answer
    with _serve(sockdir, {'/containers/json': silent}) as server:
        started = time.monotonic()
        result = query_daemon(server.path, timeout=0.05, info=False)
        elapsed = time.monotonic() - started
    assert result['reachable'] is False and 'timed out' in result['error']
    assert result['attempts'] == 2 and elapsed < 60   # 'timed out' proves the timeouts; this, no hang


def test_default_timeout_suits_a_slow_host_and_the_modules_agree():
    assert engine_api.DEFAULT_TIMEOUT == 10.0 and engine_api.RETRIES == 1
    assert _audit_module.audit_argument_spec()['api_timeout']['default'] == engine_api.DEFAULT_TIMEOUT
    options = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    assert options['api_timeout']['default'] == engine_api.DEFAULT_TIMEOUT
    assert options['connect_idle_sockets']['default'] is False
    assert _audit_module.audit_argument_spec()['connect_idle_sockets'] == {'type': 'bool', 'default': False}
