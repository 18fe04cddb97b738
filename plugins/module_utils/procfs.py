# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Safe host readers, Docker daemon discovery and shared audit helpers.

Everything here is standard library only and tolerant of a live /proc: a process may
exit between listing /proc and reading /proc/<pid>/comm (FileNotFoundError,
ProcessLookupError), and some files are unreadable without privileges (PermissionError).
Readers never raise for those; they record what went wrong in ``HostFS.errors`` and
return None, so the audit reports the gap instead of guessing or crashing.

The parsers are pure functions over text so the units can feed them fixture data.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import re
import stat
import sys

# --------------------------------------------------------------------------------------
# Shared finding helpers (used by namespace_audit, socket_audit and fleet_report)
# --------------------------------------------------------------------------------------

SEVERITIES = ('info', 'low', 'medium', 'high', 'critical')
FAIL_ON_CHOICES = ('none',) + SEVERITIES


def severity_rank(severity):
    """0 for info .. 4 for critical; -1 for 'none' or anything unknown."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return -1


def make_finding(finding_id, severity, cis, subject, message, evidence=None):
    if severity not in SEVERITIES:
        raise ValueError('unknown severity %r' % (severity,))
    return {
        'id': finding_id,
        'severity': severity,
        'cis': cis,
        'subject': subject,
        'message': message,
        'evidence': evidence if evidence is not None else {},
    }


def sort_findings(findings):
    """Most severe first, then by id and subject, so output is stable."""
    return sorted(findings, key=lambda f: (-severity_rank(f['severity']), f['id'], f['subject']))


def count_by_severity(findings):
    counts = dict((s, 0) for s in SEVERITIES)
    for finding in findings:
        if finding.get('severity') in counts:
            counts[finding['severity']] += 1
    return counts


def max_severity(findings):
    worst = None
    for finding in findings:
        if worst is None or severity_rank(finding.get('severity')) > severity_rank(worst):
            worst = finding.get('severity')
    return worst


def gate(findings, fail_on):
    """Findings at or above ``fail_on``; empty for fail_on == 'none'."""
    threshold = severity_rank(fail_on)
    if fail_on == 'none' or threshold < 0:
        return []
    return [f for f in findings if severity_rank(f.get('severity')) >= threshold]


def gate_message(module_name, hits, fail_on):
    counts = count_by_severity(hits)
    parts = ['%d %s' % (counts[s], s) for s in reversed(SEVERITIES) if counts[s]]
    ids = sorted(set(f['id'] for f in hits))
    return '%s: %d finding(s) at or above %s (%s): %s' % (
        module_name, len(hits), fail_on, ', '.join(parts), ', '.join(ids))


def incomplete_finding(errors, module_name='namespace_mode'):
    denied = sorted(set(e['path'] for e in errors if e.get('kind') == 'permission'))
    if not denied:
        return []
    return [make_finding(
        'audit-incomplete', 'low', None, 'host',
        '%d path(s) could not be read (permission denied); run %s with become: true '
        'for a complete audit.' % (len(denied), module_name),
        {'paths': denied[:20]})]


# --------------------------------------------------------------------------------------
# Host filesystem access
# --------------------------------------------------------------------------------------

_VANISHED = (FileNotFoundError, ProcessLookupError)
_PID_PATH = re.compile(r'^/proc/\d+(/|$)')


def _kind_of(exc):
    if isinstance(exc, PermissionError):
        return 'permission'
    if isinstance(exc, _VANISHED):
        return 'missing'
    if isinstance(exc, OSError) and exc.errno == errno.ESRCH:
        return 'missing'
    return 'error'


class HostFS(object):
    """Reads host paths below configurable roots and records every failure.

    Paths are always given as they are on the host (``/proc/1/comm``, ``/etc/group``,
    ``/var/run/docker.sock``); ``path()`` maps them below proc_root, etc_root and
    run_root, which is how the units and containerised runs point the audit at a
    prepared tree. Other absolute paths are used as they are.
    """

    MAX_READ = 4 * 1024 * 1024

    def __init__(self, proc_root='/proc', etc_root='/etc', run_root='/run'):
        self.proc_root = proc_root.rstrip('/') or '/'
        self.etc_root = etc_root.rstrip('/') or '/'
        self.run_root = run_root.rstrip('/') or '/'
        self.errors = []
        self._seen_errors = set()

    # -- mapping -------------------------------------------------------------------
    def path(self, host_path):
        for prefix, root in (('/proc', self.proc_root), ('/etc', self.etc_root),
                             ('/var/run', self.run_root), ('/run', self.run_root)):
            if host_path == prefix or host_path.startswith(prefix + '/'):
                return root + host_path[len(prefix):] if root != '/' else host_path[len(prefix):] or '/'
        return host_path

    # -- error bookkeeping ----------------------------------------------------------
    def record(self, host_path, exc, what='read'):
        kind = _kind_of(exc)
        if kind == 'missing' and _PID_PATH.match(host_path):
            kind = 'vanished'
        key = (host_path, what, kind)
        if key in self._seen_errors:
            return kind
        self._seen_errors.add(key)
        reason = getattr(exc, 'strerror', None) or str(exc) or exc.__class__.__name__
        self.errors.append({'path': host_path, 'operation': what, 'kind': kind, 'error': reason})
        return kind

    # -- seams the units replace ----------------------------------------------------
    def _open(self, real_path):
        return open(real_path, 'rb')

    def _readlink(self, real_path):
        return os.readlink(real_path)

    def _listdir(self, real_path):
        return os.listdir(real_path)

    def _stat(self, real_path, follow=True):
        return os.stat(real_path) if follow else os.lstat(real_path)

    def _scandir(self, real_path):
        return os.scandir(real_path)

    # -- readers ---------------------------------------------------------------------
    def try_read(self, host_path, limit=None):
        """(bytes, None) or (None, exception); never records."""
        try:
            with self._open(self.path(host_path)) as handle:
                return handle.read(limit or self.MAX_READ), None
        except (OSError, ValueError) as exc:
            return None, exc

    def read_bytes(self, host_path, missing_ok=False, limit=None):
        data, exc = self.try_read(host_path, limit)
        if exc is not None:
            if not (missing_ok and _kind_of(exc) == 'missing'):
                self.record(host_path, exc)
            return None
        return data

    def read_text(self, host_path, missing_ok=False, limit=None):
        data = self.read_bytes(host_path, missing_ok=missing_ok, limit=limit)
        if data is None:
            return None
        return data.decode('utf-8', 'replace')

    def readlink(self, host_path, missing_ok=False, report=True):
        try:
            return self._readlink(self.path(host_path))
        except (OSError, ValueError) as exc:
            if report and not (missing_ok and _kind_of(exc) == 'missing'):
                self.record(host_path, exc, 'readlink')
            return None

    def listdir(self, host_path, missing_ok=False):
        try:
            return self._listdir(self.path(host_path))
        except (OSError, ValueError) as exc:
            if not (missing_ok and _kind_of(exc) == 'missing'):
                self.record(host_path, exc, 'listdir')
            return None

    def stat(self, host_path, missing_ok=False, follow=True):
        try:
            return self._stat(self.path(host_path), follow)
        except (OSError, ValueError) as exc:
            if not (missing_ok and _kind_of(exc) == 'missing'):
                self.record(host_path, exc, 'stat')
            return None

    def exists(self, host_path):
        return self.stat(host_path, missing_ok=True) is not None

    def try_readlink(self, host_path):
        """(target, None) or (None, exception); never records (for scans over many pids)."""
        try:
            return self._readlink(self.path(host_path)), None
        except (OSError, ValueError) as exc:
            return None, exc

    def special_entries(self, host_path, limit):
        """Entries of a directory that may be sockets (neither directories, regular files
        nor symlinks by their d_type), looking at no more than ``limit`` entries.

        Returns (names, truncated): ``truncated`` is True when the directory has more
        entries than ``limit``; names is None when it cannot be listed (recorded, except
        when missing). The listing is streamed, so a huge directory costs ``limit`` entries.
        """
        names = []
        seen = 0
        try:
            with self._scandir(self.path(host_path)) as entries:
                for entry in entries:
                    if seen >= limit:
                        return names, True
                    seen += 1
                    try:
                        if entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False) \
                                or entry.is_symlink():
                            continue
                    except OSError:
                        pass
                    names.append(entry.name)
        except (OSError, ValueError) as exc:
            if _kind_of(exc) != 'missing':
                self.record(host_path, exc, 'listdir')
            return None, False
        return names, False


# --------------------------------------------------------------------------------------
# Shared audit module plumbing (namespace_mode and socket_exposure)
# --------------------------------------------------------------------------------------

def audit_argument_spec(**extra):
    """Argument spec of an audit module: the options every audit module takes, plus ``extra``."""
    spec = dict(
        query_api=dict(type='bool', default=True),
        connect_idle_sockets=dict(type='bool', default=False),
        api_timeout=dict(type='float', default=10.0),
        fail_on=dict(type='str', default='none', choices=list(FAIL_ON_CHOICES)),
        proc_root=dict(type='path', default='/proc'),
        etc_root=dict(type='path', default='/etc'),
        run_root=dict(type='path', default='/run'),
    )
    spec.update(extra)
    return spec


def module_host_fs(module):
    """Check ``api_timeout`` and return the HostFS below the module's proc/etc/run roots."""
    params = module.params
    if params['api_timeout'] <= 0:
        module.fail_json(msg='api_timeout must be greater than 0')
    return HostFS(params['proc_root'], params['etc_root'], params['run_root'])


def idle_finding(daemon_key, sockets, module_name='socket_exposure'):
    """A socket that no running dockerd serves, left alone (connect_idle_sockets=false)."""
    where = ('files, units and /proc; containers mounting a Docker socket from the /proc scan'
             if module_name == 'socket_exposure' else 'files and /proc (process evidence)')
    return make_finding(
        'daemon-not-running', 'info', None, 'daemon:%s' % daemon_key,
        'No running dockerd serves %s, so its Engine API was not asked: connecting to a '
        'socket that systemd holds (docker.socket) would start the daemon, and the audit is '
        'read-only. The findings for it come from %s. Set connect_idle_sockets=true to ask it '
        'anyway.' % (', '.join(sockets), where),
        {'sockets': list(sockets), 'engine_api_asked': False})


def unreadable_checks(errors):
    """The skipped_checks entry for paths that could not be read (permission denied)."""
    denied = sorted(set(e['path'] for e in errors if e.get('kind') == 'permission'))
    if not denied:
        return []
    return [{'daemon': None, 'check': 'unreadable paths',
             'reason': 'permission denied on %d path(s), e.g. %s: run with become: true'
             % (len(denied), denied[0]), 'kind': 'unreadable', 'severity': 'low'}]


def public_skipped(entry):
    """A skipped_checks entry as the modules return it."""
    return dict((k, entry[k]) for k in ('daemon', 'check', 'reason', 'kind', 'severity',
                                        'covered_by_proc_scan') if k in entry)


def exit_audit(module, module_name, result):
    """End an audit module: never changed; fail when a finding reaches ``fail_on``."""
    result['changed'] = False
    fail_on = module.params['fail_on']
    hits = gate(result['findings'], fail_on)
    if hits:
        module.fail_json(msg=gate_message(module_name, hits, fail_on), **result)
    module.exit_json(**result)


# --------------------------------------------------------------------------------------
# Pure parsers
# --------------------------------------------------------------------------------------

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


def map_id(ranges, inside_id):
    """Outside id for ``inside_id`` under an id map, or None when unmapped."""
    for entry in ranges or ():
        if entry['inside'] <= inside_id < entry['inside'] + entry['count']:
            return entry['outside'] + inside_id - entry['inside']
    return None


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


# --------------------------------------------------------------------------------------
# Process discovery
# --------------------------------------------------------------------------------------

def scan_processes(fs, names=('dockerd',)):
    """One pass over /proc: PIDs whose comm is one of ``names``.

    Returns (pids, stats). Processes that exit during the scan are counted as
    'vanished', unreadable comm files as 'unreadable'; neither is an error of the audit.
    """
    stats = {'pids_scanned': 0, 'vanished': 0, 'unreadable': 0}
    entries = fs.listdir('/proc')
    if entries is None:
        stats['proc_unreadable'] = True
        return [], stats
    wanted = set(names)
    found = []
    for entry in entries:
        if not entry.isdigit():
            continue
        stats['pids_scanned'] += 1
        data, exc = fs.try_read('/proc/%s/comm' % entry, 256)
        if exc is not None:
            if _kind_of(exc) == 'permission':
                stats['unreadable'] += 1
            else:
                stats['vanished'] += 1
            continue
        if data.decode('utf-8', 'replace').strip() in wanted:
            found.append(int(entry))
    found.sort()
    return found, stats


def namespaces_of(fs, pid, kinds=('user', 'mnt', 'pid', 'net')):
    """{'user': 'user:[...]' or None, ...} for /proc/<pid>/ns/*."""
    return dict((kind, fs.readlink('/proc/%s/ns/%s' % (pid, kind))) for kind in kinds)


def describe_process(fs, pid, with_fds=False):
    """What the audit needs to know about one process; tolerant of it vanishing."""
    base = '/proc/%d' % pid
    before = len(fs.errors)
    cmdline = parse_cmdline(fs.read_bytes(base + '/cmdline'))
    ids = parse_status_ids(fs.read_text(base + '/status'))
    uid_map_text = fs.read_text(base + '/uid_map')
    proc = {
        'pid': pid,
        'cmdline': cmdline,
        'uid': ids['uid'][0] if ids.get('uid') else None,
        'euid': ids['uid'][1] if ids.get('uid') else None,
        'egid': ids['gid'][1] if ids.get('gid') else None,
        'uid_map': parse_id_map(uid_map_text) if uid_map_text is not None else None,
        'ns': namespaces_of(fs, pid),
        'args': parse_dockerd_args(cmdline),
    }
    if with_fds:
        proc['socket_inodes'] = socket_inodes(fs, pid)
    proc['vanished'] = any(e['kind'] == 'vanished' and e['path'].startswith(base + '/')
                           for e in fs.errors[before:])
    return proc


def socket_inodes(fs, pid):
    """Inodes of the sockets a process holds open (/proc/<pid>/fd -> socket:[N])."""
    inodes = set()
    fds = fs.listdir('/proc/%d/fd' % pid)
    for fd in fds or ():
        link = fs.readlink('/proc/%d/fd/%s' % (pid, fd), missing_ok=True)
        inode = parse_socket_link(link)
        if inode is not None:
            inodes.add(inode)
    return sorted(inodes)


def kernel_userns_state(fs):
    """User-namespace sysctls; files that do not exist on this kernel are None."""
    state = {}
    for key, path in (('max_user_namespaces', '/proc/sys/user/max_user_namespaces'),
                      ('unprivileged_userns_clone', '/proc/sys/kernel/unprivileged_userns_clone'),
                      ('apparmor_restrict_unprivileged_userns',
                       '/proc/sys/kernel/apparmor_restrict_unprivileged_userns')):
        text = fs.read_text(path, missing_ok=True)
        try:
            state[key] = int(text.strip()) if text is not None else None
        except ValueError:
            state[key] = None
    return state


# --------------------------------------------------------------------------------------
# Daemons and sockets
# --------------------------------------------------------------------------------------

ROOTFUL_SOCKETS = ('/var/run/docker.sock', '/run/docker.sock')


def canonical_socket_path(path):
    """/var/run/x and /run/x are the same file on every supported distribution."""
    if path.startswith('/var/run/'):
        return '/run/' + path[len('/var/run/'):]
    return path


def rootless_socket_paths(fs):
    """/run/user/<uid>/docker.sock that exist -> [(uid, host path)]."""
    found = []
    for entry in fs.listdir('/run/user', missing_ok=True) or ():
        if not entry.isdigit():
            continue
        path = '/run/user/%s/docker.sock' % entry
        if fs.exists(path):
            found.append((int(entry), path))
    return sorted(found)


def is_rootless_process(proc, init_ns):
    """Process evidence alone: own user namespace, or not running as root."""
    user_ns = proc['ns'].get('user')
    if user_ns and init_ns.get('user') and user_ns != init_ns['user']:
        return True
    if proc.get('euid') not in (None, 0):
        return True
    return bool(proc['args'].get('rootless'))


def mount_prefix(proc, init_ns):
    """'/proc/<pid>/root' for a rootful dockerd in another mount namespace (docker in
    docker): its paths are only reachable through it. '' otherwise; a rootless daemon's
    own mount namespace shares /run/user and the home directories with the host."""
    if is_rootless_process(proc, init_ns):
        return ''
    mnt, init_mnt = proc['ns'].get('mnt'), init_ns.get('mnt')
    if mnt and init_mnt and mnt != init_mnt:
        return '/proc/%d/root' % proc['pid']
    return ''


def config_hosts(config):
    """daemon.json 'hosts' (a string or a list) as a list of strings."""
    hosts = config.get('hosts') if isinstance(config, dict) else None
    if isinstance(hosts, str):
        hosts = [hosts]
    return [h for h in hosts if isinstance(h, str)] if isinstance(hosts, list) else []


def process_socket_paths(proc, init_ns, json_hosts=None):
    """Unix sockets a dockerd process serves, as host paths.

    -H unix://... paths (or, without -H, the daemon.json 'hosts') are taken as they are;
    fd:// (systemd socket activation) is the docker.socket unit's /run/docker.sock; with
    no hosts at all dockerd uses /var/run/docker.sock, or $XDG_RUNTIME_DIR/docker.sock
    (/run/user/<uid>) rootless. A rootful daemon in another mount namespace has its
    sockets in that namespace: those are reached through /proc/<pid>/root.
    """
    rootless = is_rootless_process(proc, init_ns)
    hosts = list(proc['args'].get('hosts') or []) or list(json_hosts or [])
    paths = []
    for parsed in (parse_docker_host(h) for h in hosts):
        if parsed['scheme'] == 'unix':
            paths.append(parsed['path'])
        elif parsed['scheme'] == 'fd':
            paths.append('/run/docker.sock')
    if not hosts:
        if rootless and proc.get('euid') not in (None, 0):
            paths.append('/run/user/%d/docker.sock' % proc['euid'])
        elif not rootless:
            paths.append('/var/run/docker.sock')
    prefix = mount_prefix(proc, init_ns)
    seen = []
    for path in paths:
        path = prefix + canonical_socket_path(path)
        if path not in seen:
            seen.append(path)
    return seen


def config_unix_sockets(config):
    """unix:// sockets listed in a daemon.json 'hosts', canonical."""
    paths = []
    for value in config_hosts(config):
        parsed = parse_docker_host(value)
        if parsed['scheme'] == 'unix':
            path = canonical_socket_path(parsed['path'])
            if path not in paths:
                paths.append(path)
    return paths


def load_daemon_json(fs, path):
    """(dict or None, error or None) for a daemon.json; missing file -> ({}, None)."""
    import json
    data, exc = fs.try_read(path)
    if exc is not None:
        if _kind_of(exc) == 'missing':
            return {}, None
        fs.record(path, exc)
        return None, '%s: %s' % (path, getattr(exc, 'strerror', None) or exc)
    try:
        parsed = json.loads(data.decode('utf-8', 'replace') or '{}')
    except ValueError as exc:
        fs.errors.append({'path': path, 'operation': 'parse', 'kind': 'malformed', 'error': str(exc)})
        return None, '%s: malformed JSON: %s' % (path, exc)
    if not isinstance(parsed, dict):
        fs.errors.append({'path': path, 'operation': 'parse', 'kind': 'malformed',
                          'error': 'top level is not an object'})
        return None, '%s: top level is not an object' % path
    return parsed, None


def passwd_home(users, uid):
    for user in users:
        if user['uid'] == uid:
            return user['home']
    return None


def daemon_config_path(proc, rootless, users, prefix=''):
    """Which daemon.json a daemon reads: --config-file, else the default for its kind."""
    explicit = proc['args'].get('config_file') if proc else None
    if explicit:
        return prefix + explicit
    if prefix:
        return prefix + '/etc/docker/daemon.json'
    if rootless:
        uid = proc.get('euid') if proc else None
        home = passwd_home(users, uid) if uid is not None else None
        return os.path.join(home, '.config/docker/daemon.json') if home else None
    return '/etc/docker/daemon.json'


def discover_daemons(fs, with_fds=False):
    """Running dockerd processes and Docker sockets, merged into daemons.

    Returns (daemons, context) where each daemon is {'key', 'kind', 'pid', 'process',
    'sockets', 'uid', 'mount_prefix', 'config', 'config_path', 'config_error'} (config is
    its parsed daemon.json, {} when absent, None when unreadable or malformed) and context
    holds init namespaces, users and scan stats. Sockets with no running dockerd behind
    them are daemons too (pid None, "idle"): the audit modules do not connect to them
    unless connect_idle_sockets is set, since with systemd socket activation a connection
    starts docker.service; they report them as daemon-not-running instead.
    """
    pids, stats = scan_processes(fs)
    # PID 1's namespaces are only needed to judge a dockerd process: not read without one
    init_ns = namespaces_of(fs, 1) if pids else dict((k, None) for k in ('user', 'mnt', 'pid', 'net'))
    users = parse_etc_passwd(fs.read_text('/etc/passwd', missing_ok=True))
    daemons = []
    claimed = {}
    for pid in pids:
        proc = describe_process(fs, pid, with_fds=with_fds)
        if proc['vanished'] and not proc['cmdline']:
            stats['vanished'] += 1
            continue
        rootless = is_rootless_process(proc, init_ns)
        prefix = mount_prefix(proc, init_ns)
        config_path = daemon_config_path(proc, rootless, users, prefix)
        config, config_error = load_daemon_json(fs, config_path) if config_path else ({}, None)
        sockets = process_socket_paths(proc, init_ns, config_hosts(config))
        if rootless:
            key = 'rootless:%s' % (proc['euid'] if proc['euid'] is not None else 'pid%d' % pid)
        else:
            key = 'pid:%d' % pid if prefix else 'rootful'
        if any(d['key'] == key for d in daemons):
            key = '%s:pid%d' % (key, pid)
        daemon = {'key': key, 'kind': 'rootless' if rootless else 'rootful', 'pid': pid,
                  'process': proc, 'sockets': sockets, 'uid': proc['euid'],
                  'mount_prefix': prefix, 'config': config, 'config_path': config_path,
                  'config_error': config_error}
        for path in sockets:
            claimed.setdefault(path, daemon)
        daemons.append(daemon)
    # sockets present on disk but served by no dockerd we could see
    candidates = [(None, p) for p in ROOTFUL_SOCKETS] + rootless_socket_paths(fs)
    for uid, path in candidates:
        canon = canonical_socket_path(path)
        if canon in claimed or not fs.exists(path):
            continue
        if uid is None:
            daemon = {'key': 'rootful', 'kind': 'rootful', 'pid': None, 'process': None,
                      'sockets': [canon], 'uid': 0}
        else:
            daemon = {'key': 'rootless:%d' % uid, 'kind': 'rootless', 'pid': None,
                      'process': None, 'sockets': [canon], 'uid': uid}
        if any(d['key'] == daemon['key'] for d in daemons):
            daemon['key'] += ':' + canon
        daemon['mount_prefix'] = ''
        daemon['config_path'] = daemon_config_path({'euid': uid, 'args': {}}, uid is not None, users)
        daemon['config'], daemon['config_error'] = (
            load_daemon_json(fs, daemon['config_path']) if daemon['config_path'] else ({}, None))
        claimed[canon] = daemon
        daemons.append(daemon)
    stats['dockerd_pids'] = pids
    context = {'init_ns': init_ns, 'users': users, 'stats': stats}
    return daemons, context


def user_name(users, uid):
    for user in users:
        if user['uid'] == uid:
            return user['name']
    return None
