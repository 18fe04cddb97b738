# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure parsers of host text: /proc (cmdline, status, id maps, ns and fd links,
net/tcp{,6}), /etc/passwd, /etc/group, dockerd arguments and DOCKER_HOST values.

Functions over text only, so the units can feed them fixture data; standard library
only, imports nothing of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import stat
import sys


def parse_cmdline(raw):
    """NUL separated /proc/<pid>/cmdline bytes (or text) -> argv list."""
    if raw is None:
        return []
    if isinstance(raw, bytes):
        raw = raw.decode('utf-8', 'replace')
    parts = raw.split('\0')
    if parts and parts[-1] == '':
        parts.pop()
    return parts


def parse_status_ids(text):
    """Uid/Gid lines of /proc/<pid>/status -> {'uid': [r, e, s, fs], 'gid': [...]}."""
    result = {}
    for line in (text or '').splitlines():
        key, sep, value = line.partition(':')
        if not sep or key not in ('Uid', 'Gid'):
            continue
        try:
            result[key.lower()] = [int(v) for v in value.split()]
        except ValueError:
            continue
    return result


def parse_id_map(text):
    """/proc/<pid>/uid_map or gid_map -> [{'inside', 'outside', 'count'}]."""
    ranges = []
    for line in (text or '').splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        try:
            inside, outside, count = (int(f) for f in fields)
        except ValueError:
            continue
        ranges.append({'inside': inside, 'outside': outside, 'count': count})
    return ranges


def _translate(ranges, some_id, source, target):
    """``some_id`` moved from the ``source`` side of an id map to its ``target`` side."""
    for entry in ranges or ():
        if entry[source] <= some_id < entry[source] + entry['count']:
            return entry[target] + some_id - entry[source]
    return None


def map_id(ranges, inside_id):
    """Outside id for ``inside_id`` under an id map, or None when unmapped."""
    return _translate(ranges, inside_id, 'inside', 'outside')


def unmap_id(ranges, outside_id):
    """Inside id for ``outside_id`` under an id map (map_id's inverse), or None when unmapped."""
    return _translate(ranges, outside_id, 'outside', 'inside')


def is_identity_map(ranges):
    return len(ranges or ()) == 1 and ranges[0]['inside'] == 0 and ranges[0]['outside'] == 0 \
        and ranges[0]['count'] >= 4294967295


_NS_LINK = re.compile(r'^(?P<kind>[a-z_]+):\[(?P<inode>\d+)\]$')


def parse_ns_link(link):
    """'user:[4026531837]' -> 4026531837; None when not a namespace link."""
    match = _NS_LINK.match(link or '')
    return int(match.group('inode')) if match else None


_SOCKET_LINK = re.compile(r'^socket:\[(\d+)\]$')


def parse_socket_link(link):
    match = _SOCKET_LINK.match(link or '')
    return int(match.group(1)) if match else None


TCP_STATES = {
    '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1',
    '05': 'FIN_WAIT2', '06': 'TIME_WAIT', '07': 'CLOSE', '08': 'CLOSE_WAIT',
    '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING', '0C': 'NEW_SYN_RECV',
}


def decode_hex_address(hex_addr, byteorder=None):
    """Kernel hex address of /proc/net/tcp{,6} -> printable IP.

    The kernel prints each 32-bit word of the address in host byte order, so on a
    little-endian host 127.0.0.1 reads ``0100007F``; IPv6 is four such words.
    """
    byteorder = byteorder or sys.byteorder
    raw = bytes.fromhex(hex_addr)
    if len(raw) not in (4, 16):
        raise ValueError('bad address length: %r' % (hex_addr,))
    if byteorder == 'little':
        raw = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if len(raw) == 4:
        return '.'.join(str(b) for b in bytearray(raw))
    import ipaddress
    address = ipaddress.IPv6Address(raw)
    if address.ipv4_mapped is not None:  # same text on every Python version
        return '::ffff:%s' % address.ipv4_mapped
    return str(address)


def parse_net_tcp(text, byteorder=None):
    """/proc/net/tcp or tcp6 text -> list of sockets.

    Each: {'local_address', 'local_port', 'remote_address', 'remote_port', 'state',
    'state_name', 'uid', 'inode', 'family'}. Malformed lines are skipped.
    """
    sockets = []
    for line in (text or '').splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            local_hex, local_port = fields[1].split(':')
            remote_hex, remote_port = fields[2].split(':')
            entry = {
                'local_address': decode_hex_address(local_hex, byteorder),
                'local_port': int(local_port, 16),
                'remote_address': decode_hex_address(remote_hex, byteorder),
                'remote_port': int(remote_port, 16),
                'state': fields[3].upper(),
                'uid': int(fields[7]),
                'inode': int(fields[9]),
                'family': 'ipv6' if len(local_hex) == 32 else 'ipv4',
            }
        except (ValueError, IndexError):
            continue
        entry['state_name'] = TCP_STATES.get(entry['state'], 'UNKNOWN')
        sockets.append(entry)
    return sockets


def is_loopback(address):
    """True for 127.0.0.0/8, ::1, IPv4-mapped loopback and 'localhost'."""
    if address is None:
        return False
    address = address.strip('[]').lower()
    if address in ('localhost', 'ip6-localhost'):
        return True
    import ipaddress
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, 'ipv4_mapped', None)
    if mapped is not None:
        return mapped.is_loopback
    return ip.is_loopback


def parse_docker_host(value, tls=False):
    """Parse a dockerd -H / daemon.json hosts value the way dockerd does.

    Returns {'scheme', 'raw', 'path'} for unix/fd/npipe and {'scheme': 'tcp', 'raw',
    'host', 'port'} for tcp; a bare 'addr:port' is tcp. Empty tcp host -> 127.0.0.1,
    empty port -> 2375 (2376 with TLS), empty unix path -> /var/run/docker.sock.
    """
    raw = (value or '').strip()
    if not raw:
        return {'scheme': 'unix', 'raw': raw, 'path': '/var/run/docker.sock'}
    scheme, sep, rest = raw.partition('://')
    if not sep:
        scheme, rest = 'tcp', raw
    scheme = scheme.lower()
    if scheme == 'unix':
        return {'scheme': 'unix', 'raw': raw, 'path': rest or '/var/run/docker.sock'}
    if scheme in ('fd', 'npipe', 'ssh'):
        return {'scheme': scheme, 'raw': raw, 'path': rest}
    if scheme != 'tcp':
        return {'scheme': scheme, 'raw': raw, 'path': rest}
    rest = rest.split('/', 1)[0]
    if rest.startswith('['):
        host, _sep, port = rest[1:].partition(']')
        port = port.lstrip(':')
    elif rest.count(':') > 1:
        host, port = rest, ''
    else:
        host, _sep, port = rest.partition(':')
    try:
        port_number = int(port) if port else (2376 if tls else 2375)
    except ValueError:
        port_number = None
    return {'scheme': 'tcp', 'raw': raw, 'host': host or '127.0.0.1', 'port': port_number}


_BOOL_FLAGS = ('tls', 'tlsverify', 'rootless')
_VALUE_FLAGS = {
    'host': 'host', 'H': 'host', 'config-file': 'config_file', 'userns-remap': 'userns_remap',
    'tlscacert': 'tlscacert', 'tlscert': 'tlscert', 'tlskey': 'tlskey', 'data-root': 'data_root',
    'group': 'group', 'G': 'group', 'exec-root': 'exec_root', 'metrics-addr': 'metrics_addr',
}


def _parse_bool(value):
    return str(value).strip().lower() in ('1', 't', 'true', 'yes', 'on')


def parse_dockerd_args(argv):
    """dockerd argv (argv[0] included) -> the flags this audit cares about.

    Understands ``--flag value``, ``--flag=value``, ``-H value``, ``-H=value`` and
    ``-Hvalue``; bool flags take ``--tlsverify`` or ``--tlsverify=false``. Unset keys
    are None (hosts: []), so callers can fall back to daemon.json.
    """
    result = {'hosts': [], 'config_file': None, 'userns_remap': None, 'tls': None,
              'tlsverify': None, 'rootless': None, 'tlscacert': None, 'tlscert': None,
              'tlskey': None, 'data_root': None, 'group': None, 'exec_root': None,
              'metrics_addr': None}
    args = list(argv[1:]) if argv else []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == '--':
            break
        name = value = None
        if arg.startswith('--'):
            name, sep, value = arg[2:].partition('=')
            if not sep:
                value = None
        elif arg.startswith('-') and len(arg) > 1:
            name = arg[1]
            value = arg[2:] or None
            if value is not None and value.startswith('='):
                value = value[1:]
        else:
            continue
        if name in _BOOL_FLAGS:
            result[name] = True if value is None else _parse_bool(value)
            continue
        key = _VALUE_FLAGS.get(name)
        if key is None:
            continue
        if value is None and i < len(args):
            value = args[i]
            i += 1
        if value is None:
            continue
        if key == 'host':
            result['hosts'].append(value)
        else:
            result[key] = value
    return result


def parse_etc_group(text):
    """/etc/group text -> list of {'name', 'gid', 'members'}; bad lines skipped."""
    groups = []
    for line in (text or '').splitlines():
        if not line.strip() or line.startswith('#') or line[0] in '+-':
            continue
        fields = line.split(':')
        if len(fields) < 4:
            continue
        try:
            gid = int(fields[2])
        except ValueError:
            continue
        members = [m.strip() for m in fields[3].split(',') if m.strip()]
        groups.append({'name': fields[0], 'gid': gid, 'members': members})
    return groups


def parse_etc_passwd(text):
    """/etc/passwd text -> list of {'name', 'uid', 'gid', 'home', 'shell'}."""
    users = []
    for line in (text or '').splitlines():
        if not line.strip() or line.startswith('#') or line[0] in '+-':
            continue
        fields = line.split(':')
        if len(fields) < 7:
            continue
        try:
            uid, gid = int(fields[2]), int(fields[3])
        except ValueError:
            continue
        users.append({'name': fields[0], 'uid': uid, 'gid': gid, 'home': fields[5], 'shell': fields[6]})
    return users


def mode_string(st_mode):
    return '%04o' % stat.S_IMODE(st_mode)
