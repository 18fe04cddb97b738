# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A tiny Docker Engine API client over a unix socket (standard library only).

The audit only GETs: it never changes a daemon. ``data_carry`` also POSTs (a volume to
create, an image tarball to load) and streams a body to a file (an image tarball saved).
One request per connection (``Connection: close``); bodies are read by Content-Length,
chunked transfer coding or until EOF. Every socket operation has a timeout (10 s by default) and every request
also respects an overall deadline, so an unresponsive daemon costs the audit a
bounded time and is reported as unreachable rather than hanging the module.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import socket
import time

from urllib.parse import quote as _quote

#: A loaded or software-emulated host can take seconds to answer GET /containers/json.
DEFAULT_TIMEOUT = 10.0
#: Requests that got no HTTP answer at all (timeout, refused) are tried once more.
RETRIES = 1
MAX_BODY = 32 * 1024 * 1024
MAX_HEADER = 64 * 1024


class EngineAPIError(Exception):
    """Any failure talking to the Engine API; ``status`` is the HTTP status if any."""

    def __init__(self, message, status=None):
        super(EngineAPIError, self).__init__(message)
        self.status = status


class _Reader(object):
    """Buffered reads from a socket with a deadline; consumed bytes are dropped lazily."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.buf = bytearray()
        self.pos = 0
        self.eof = False

    def _available(self):
        return len(self.buf) - self.pos

    def _fill(self):
        if self.eof:
            return False
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise EngineAPIError('timed out reading the response')
        self.sock.settimeout(min(remaining, self.sock.gettimeout() or remaining))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise EngineAPIError('timed out reading the response')
        if not chunk:
            self.eof = True
            return False
        if self.pos > 65536:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk
        return True

    def readline(self, limit=MAX_HEADER):
        while True:
            end = self.buf.find(b'\n', self.pos)
            if end >= 0:
                break
            if self._available() > limit:
                raise EngineAPIError('response line too long')
            if not self._fill():
                raise EngineAPIError('connection closed in the middle of the response head')
        line = bytes(self.buf[self.pos:end])
        self.pos = end + 1
        return line.rstrip(b'\r')

    def read_exact(self, size):
        while self._available() < size:
            if not self._fill():
                raise EngineAPIError('connection closed after %d of %d body bytes' % (self._available(), size))
        data = bytes(self.buf[self.pos:self.pos + size])
        self.pos += size
        return data

    def read_some(self):
        """The bytes buffered (read more when none are); b'' at EOF."""
        if not self._available() and not self._fill():
            return b''
        data = bytes(self.buf[self.pos:])
        self.pos = len(self.buf)
        return data


#: Bodies are read and sent in pieces of this size.
PIECE = 1024 * 1024


def _chunked_pieces(reader):
    while True:
        size_line = reader.readline()
        size_text = size_line.split(b';', 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise EngineAPIError('bad chunk size %r' % (size_text[:20],))
        if size == 0:
            # trailer fields until the empty line; tolerate a server closing early
            while True:
                try:
                    if not reader.readline():
                        break
                except EngineAPIError:
                    break
            return
        while size > 0:
            piece = reader.read_exact(min(size, PIECE))
            size -= len(piece)
            yield piece
        reader.readline()  # CRLF after each chunk


def _sized_pieces(reader, length):
    while length > 0:
        piece = reader.read_exact(min(length, PIECE))
        length -= len(piece)
        yield piece


def _pieces_until_eof(reader):
    while True:
        piece = reader.read_some()
        if not piece:
            return
        yield piece


def parse_head(reader):
    """Status line and headers from a _Reader -> (status, headers)."""
    status_line = reader.readline().decode('iso-8859-1')
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith('HTTP/'):
        raise EngineAPIError('not an HTTP response: %r' % (status_line[:60],))
    try:
        status = int(parts[1])
    except ValueError:
        raise EngineAPIError('bad HTTP status line: %r' % (status_line[:60],))
    headers = {}
    size = 0
    while True:
        line = reader.readline()
        if not line:
            break
        size += len(line)
        if size > MAX_HEADER:
            raise EngineAPIError('response headers too large')
        name, sep, value = line.decode('iso-8859-1').partition(':')
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


def body_pieces(reader, status, headers, limit=MAX_BODY):
    """The body after ``parse_head``, in pieces; more than ``limit`` bytes (None: no
    limit) raises EngineAPIError."""
    if 'chunked' in headers.get('transfer-encoding', '').lower():
        pieces = _chunked_pieces(reader)
    elif 'content-length' in headers:
        try:
            length = int(headers['content-length'])
        except ValueError:
            raise EngineAPIError('bad Content-Length %r' % headers['content-length'])
        if length < 0 or (limit is not None and length > limit):
            raise EngineAPIError('unacceptable Content-Length %d' % length)
        pieces = _sized_pieces(reader, length)
    elif status in (204, 304) or 100 <= status < 200:
        return
    else:
        pieces = _pieces_until_eof(reader)
    total = 0
    for piece in pieces:
        total += len(piece)
        if limit is not None and total > limit:
            raise EngineAPIError('response body larger than %d bytes' % limit)
        yield piece


def parse_response(reader):
    """Status line, headers and body from a _Reader -> (status, headers, body)."""
    status, headers = parse_head(reader)
    return status, headers, b''.join(body_pieces(reader, status, headers))


def _error_message(method, path, status, body):
    message = body[:200].decode('utf-8', 'replace').strip()
    try:
        message = json.loads(body.decode('utf-8')).get('message', message)
    except (ValueError, AttributeError):
        pass
    return '%s %s: HTTP %d %s' % (method, path, status, message)


class UnixHTTPClient(object):
    """HTTP/1.1 requests to the Engine API on a unix socket. ``timeout`` bounds every
    socket operation and the whole request."""

    def __init__(self, socket_path, timeout=DEFAULT_TIMEOUT):
        self.socket_path = socket_path
        self.timeout = timeout

    def _send(self, sock, head, body, upload):
        try:
            sock.sendall(head.encode('ascii'))
            if body:
                sock.sendall(body)
            if upload is not None:
                while True:
                    piece = upload.read(PIECE)
                    if not piece:
                        break
                    sock.sendall(piece)
        except socket.timeout:
            raise EngineAPIError('timed out sending the request')
        except OSError as exc:
            raise EngineAPIError('cannot send to %s: %s' % (self.socket_path, exc.strerror or exc))

    def request(self, path, method='GET', body=None, upload=None, upload_size=None,
                content_type='application/json', sink=None):
        """(status, headers, body). ``body`` (bytes) or ``upload`` (a file object of
        ``upload_size`` bytes) is sent; with ``sink`` (a callable) a 2xx answer's body is
        passed to it in pieces, without a size limit, and the returned body is empty."""
        deadline = time.monotonic() + self.timeout
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.socket_path)
            except socket.timeout:
                raise EngineAPIError('timed out connecting to %s' % self.socket_path)
            except OSError as exc:
                raise EngineAPIError('cannot connect to %s: %s' % (
                    self.socket_path, exc.strerror or exc))
            head = ('%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: nsguard/1\r\n'
                    'Accept: application/json\r\nConnection: close\r\n') % (method, path)
            if body is not None or upload is not None:
                length = len(body) if body is not None else upload_size
                head += 'Content-Type: %s\r\nContent-Length: %d\r\n' % (content_type, length)
            self._send(sock, head + '\r\n', body, upload)
            try:
                reader = _Reader(sock, deadline)
                status, headers = parse_head(reader)
                if sink is not None and 200 <= status < 300:
                    for piece in body_pieces(reader, status, headers, limit=None):
                        sink(piece)
                    return status, headers, b''
                return status, headers, b''.join(body_pieces(reader, status, headers))
            except OSError as exc:
                raise EngineAPIError('error reading from %s: %s' % (self.socket_path, exc.strerror or exc))
        finally:
            sock.close()

    def _json(self, method, path, status, body):
        if not 200 <= status < 300:
            raise EngineAPIError(_error_message(method, path, status, body), status=status)
        try:
            return json.loads(body.decode('utf-8')) if body.strip() else None
        except ValueError as exc:
            raise EngineAPIError('%s %s: response is not JSON: %s' % (method, path, exc))

    def get_json(self, path):
        status, _headers, body = self.request(path)
        return self._json('GET', path, status, body)

    def post_json(self, path, payload):
        """POST ``payload`` as JSON; the answer's JSON (None when it is empty)."""
        status, _headers, body = self.request(path, 'POST', body=json.dumps(payload).encode('utf-8'))
        return self._json('POST', path, status, body)

    def download(self, path, sink):
        """GET ``path``, its body passed to ``sink`` in pieces."""
        status, _headers, body = self.request(path, sink=sink)
        if not 200 <= status < 300:
            raise EngineAPIError(_error_message('GET', path, status, body), status=status)

    def upload(self, path, fileobj, size, content_type='application/x-tar'):
        """POST ``size`` bytes of ``fileobj``; the answer's body (bytes)."""
        status, _headers, body = self.request(path, 'POST', upload=fileobj, upload_size=size,
                                              content_type=content_type)
        if not 200 <= status < 300:
            raise EngineAPIError(_error_message('POST', path, status, body), status=status)
        return body


INFO_KEYS = ('ServerVersion', 'DockerRootDir', 'SecurityOptions', 'Name', 'OperatingSystem',
             'KernelVersion', 'CgroupVersion', 'ContainersRunning', 'ContainersPaused')


def _get_with_retry(client, path, result, retries_left):
    """GET ``path``, counting ``result['attempts']``; a failure without an HTTP answer
    (timeout, refused, reset) is tried again while ``retries_left[0]`` allows. An HTTP
    error is an answer: never retried."""
    while True:
        result['attempts'] += 1
        try:
            return client.get_json(path)
        except EngineAPIError as exc:
            if exc.status is not None or retries_left[0] <= 0:
                raise
            retries_left[0] -= 1


def _listing_item(inspect):
    """What GET /containers/json says of a container (the fields the audit reads), from
    its GET /containers/<id>/json, which is kept under 'Inspect'."""
    config = inspect.get('Config') if isinstance(inspect.get('Config'), dict) else {}
    name = inspect.get('Name')
    return {'Id': inspect.get('Id'), 'Names': [name] if isinstance(name, str) else [],
            'Image': config.get('Image'), 'Mounts': inspect.get('Mounts') or [], 'Inspect': inspect}


def _inspect_candidates(client, candidates, info, budget):
    """The daemon's running containers found by inspecting ``candidates`` (container ids
    seen on the host, e.g. in /proc), as listing items (_listing_item); None unless
    they account for every container GET /info counts as running or paused (what
    GET /containers/json lists), so a container the candidates miss is never hidden.

    GET /containers/<id>/json is cheap, while dockerd's listing looks up each container's
    image (with the containerd image store, a containerd call per container: about 0.1 s
    each under software emulation). An id another daemon runs answers 404 and is skipped.
    """
    expected = [info.get('ContainersRunning'), info.get('ContainersPaused') or 0]
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in expected):
        return None
    started = time.monotonic()
    found = []
    for container_id in sorted(set(candidates)):
        if budget is not None and time.monotonic() - started > budget:
            return None
        try:
            data = client.get_json('/containers/%s/json' % _quote(str(container_id), safe=''))
        except EngineAPIError as exc:
            if exc.status == 404:
                continue
            return None
        state = data.get('State') if isinstance(data, dict) else None
        if isinstance(state, dict) and state.get('Running') is True:  # paused ones too
            found.append(_listing_item(data))
    if len(found) != sum(expected):
        return None
    # newest first, as dockerd lists them
    return sorted(found, key=lambda c: str(c['Inspect'].get('Created') or ''), reverse=True)


def query_daemon(socket_path, timeout=DEFAULT_TIMEOUT, containers=True, inspect=False,
                 budget=None, client_factory=UnixHTTPClient, info=True, retries=RETRIES,
                 candidates=None):
    """Ask one daemon what the audit needs.

    Returns {'reachable', 'error', 'info', 'containers', 'inspect_errors', 'truncated',
    'attempts'}. A request of GET /info or GET /containers/json that got no HTTP answer
    (timed out, refused) is tried again, ``retries`` times in all for the query, so a slow
    daemon costs at most (2 + retries) * ``timeout`` before the inspections; an HTTP
    error is an answer and is never retried. 'attempts' counts those requests.
    ``info`` keeps only INFO_KEYS of GET /info; ``containers`` is GET /containers/json
    (running containers, with Mounts), each with an 'Inspect' key holding
    GET /containers/<id>/json when ``inspect`` is true. ``budget`` bounds the total time
    spent on inspections; containers left out are counted in 'truncated'. With ``info``
    false, GET /info is skipped (``info`` stays None) and the container listing alone
    proves the daemon reachable: /info is the slowest call dockerd answers (it asks
    runc and containerd for their versions), and only the namespace audit needs it.
    With ``candidates`` (container ids seen on the host), ``info`` and ``inspect``, the
    listing is skipped when inspecting the candidates finds every container /info counts
    (_inspect_candidates); 'listed_by' says which way the containers were found
    ('inspect' or 'list').
    """
    result = {'socket': socket_path, 'reachable': False, 'error': None, 'info': None,
              'containers': [], 'inspect_errors': [], 'truncated': 0, 'attempts': 0,
              'listed_by': None}
    retries_left = [max(0, int(retries))]
    client = client_factory(socket_path, timeout)
    if info:
        try:
            answer = _get_with_retry(client, '/info', result, retries_left)
        except EngineAPIError as exc:
            result['error'] = str(exc)
            return result
        if not isinstance(answer, dict):
            result['error'] = 'GET /info: unexpected response shape'
            return result
        result['reachable'] = True
        result['info'] = dict((k, answer.get(k)) for k in INFO_KEYS if k in answer)
    if not containers:
        return result
    if candidates is not None and inspect and result['info'] is not None:
        found = _inspect_candidates(client, candidates, result['info'], budget)
        if found is not None:
            result.update(containers=found, listed_by='inspect')
            return result
    try:
        listing = _get_with_retry(client, '/containers/json', result, retries_left)
    except EngineAPIError as exc:
        # An HTTP error is an answer: the daemon is there.
        result['reachable'] = result['reachable'] or exc.status is not None
        result['error'] = str(exc)
        return result
    result['reachable'] = True
    if not isinstance(listing, list):
        result['error'] = 'GET /containers/json: unexpected response shape'
        return result
    result['listed_by'] = 'list'
    started = time.monotonic()
    for item in listing:
        if not isinstance(item, dict):
            continue
        entry = dict(item)
        if inspect and item.get('Id'):
            if budget is not None and time.monotonic() - started > budget:
                result['truncated'] += 1
            else:
                try:
                    entry['Inspect'] = client.get_json('/containers/%s/json' % _quote(str(item['Id']), safe=''))
                except EngineAPIError as exc:
                    result['inspect_errors'].append({'id': item['Id'], 'error': str(exc)})
        result['containers'].append(entry)
    return result
