# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only facts for the nsguard.docker.rootless role, in one round trip.

Run on the managed host as root, ``python3 - ARGS`` with this file on stdin (the role
passes it through ansible.builtin.command: nothing is copied, the interpreter starts
once). Each task of the role that would only confirm what is already true is skipped on
the controller from these facts, so a converged host costs a few module runs instead of
one per task and user. Standard library only; Python 3.6+. Prints one JSON object:

knobs     user.max_user_namespaces, kernel.unprivileged_userns_clone and
          kernel.apparmor_restrict_unprivileged_userns, where the kernel has them
packages  for each --package: installed or not (dpkg-query)
units     for each --unit: LoadState, ActiveState, UnitFileState (systemctl show)
files     for each --file: exists, regular (not a link), mode, uid, gid and its text
          (small configuration files the role writes)
docker_group  members of the group named by --docker-group (/etc/group), [] if none
users     for each --user: exists, uid, gid, home; linger (the linger flag file);
          manager (user@<uid>.service active); unit_file (the setup tool's user unit) and
          installed (its enablement link); answering (a daemon answers GET /info on
          /run/user/<uid>/docker.sock) and rootless (it reports name=rootless); context
          (currentContext of ~/.docker/config.json) and profile (the nsguard block of
          ~/.profile, or null); a symbolic link or other non-regular file there reads as
          absent (the role then writes it as the user, who gets the kernel's answer)
userns    with --rootlesskit and --userns-as USER: whether that rootlesskit can create a
          user namespace as USER (rc and stderr of ``rootlesskit true``), or null when that
          cannot be tried yet (no such file, no such user, or no /run/user/<uid> before
          linger)
"""

import argparse
import json
import os
import pwd
import socket
import stat
import subprocess
import sys

KNOBS = {
    'user.max_user_namespaces': 'user/max_user_namespaces',
    'kernel.unprivileged_userns_clone': 'kernel/unprivileged_userns_clone',
    'kernel.apparmor_restrict_unprivileged_userns': 'kernel/apparmor_restrict_unprivileged_userns',
}
PROFILE_BEGIN = '# BEGIN nsguard.docker.rootless'
PROFILE_END = '# END nsguard.docker.rootless'
UNIT_FILE = '.config/systemd/user/docker.service'
ENABLEMENT_LINK = '.config/systemd/user/default.target.wants/docker.service'


def read_text(path):
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            return handle.read()
    except OSError:
        return None


def file_facts(path):
    """What the role compares before it skips writing one of its own files: whether the
    path is a regular file (not a link, which the write would replace), its mode, owner,
    group and text."""
    try:
        st = os.lstat(path)
    except OSError:
        return {'exists': False, 'content': None}
    regular = stat.S_ISREG(st.st_mode)
    return {'exists': True, 'regular': regular, 'mode': '%04o' % stat.S_IMODE(st.st_mode),
            'uid': st.st_uid, 'gid': st.st_gid, 'content': read_text(path) if regular else None}


def read_user_text(path, limit=1 << 20):
    """Text of a regular file in a user's home, or None. Run as root, so a symbolic link
    (the user's own, or one planted to make root read /etc/shadow) is not followed, nor
    is a FIFO opened for reading until it blocks; at most ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit).decode('utf-8', 'replace')
    finally:
        os.close(fd)


def knobs(proc_sys='/proc/sys'):
    out = {}
    for name, rel in KNOBS.items():
        value = read_text(os.path.join(proc_sys, rel))
        if value is not None:
            out[name] = value.strip()
    return out


def dpkg_installed(names):
    found = dict((n, False) for n in names)
    if not names:
        return found
    try:
        proc = subprocess.run(['dpkg-query', '-W', '-f', '${Package} ${db:Status-Status}\\n', '--'] + list(names),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return found
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].split(':')[0] in found and parts[1] == 'installed':
            found[parts[0].split(':')[0]] = True
    return found


def systemd_units(units):
    result = dict((u, {'LoadState': 'unknown', 'ActiveState': 'unknown',
                       'UnitFileState': 'unknown'}) for u in units)
    if not units:
        return result
    try:
        proc = subprocess.run(['systemctl', 'show', '--property=LoadState,ActiveState,UnitFileState', '--']
                              + list(units), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return result
    for unit, block in zip(units, proc.stdout.strip().split('\n\n')):
        props = dict(line.split('=', 1) for line in block.splitlines() if '=' in line)
        result[unit].update(props)
        result[unit]['UnitFileState'] = result[unit].get('UnitFileState') or 'none'
    return result


def group_members(name, group_file='/etc/group'):
    text = read_text(group_file) or ''
    for line in text.splitlines():
        fields = line.split(':')
        if len(fields) == 4 and fields[0] == name:
            return [m for m in fields[3].split(',') if m]
    return []


def profile_block(text):
    """The lines between the role's markers in ~/.profile, or None without a block."""
    if text is None:
        return None
    lines = text.splitlines()
    try:
        begin = lines.index(PROFILE_BEGIN)
        end = lines.index(PROFILE_END, begin)
    except ValueError:
        return None
    return '\n'.join(lines[begin + 1:end])


def current_context(path):
    try:
        return json.loads(read_user_text(path) or '{}').get('currentContext')
    except (ValueError, AttributeError):
        return None


def engine_info(sock_path, timeout=5.0):
    """GET /info from a Docker socket; None when nothing answers with JSON."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        conn.connect(sock_path)
        conn.sendall(b'GET /info HTTP/1.0\r\nHost: docker\r\n\r\n')
        data = b''
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    except (OSError, socket.timeout):
        return None
    finally:
        conn.close()
    head, _sep, body = data.partition(b'\r\n\r\n')
    status = head.split(b'\r\n', 1)[0].split()
    if len(status) < 2 or not status[0].startswith(b'HTTP/') or status[1] != b'200':
        return None
    try:
        return json.loads(body.decode('utf-8', 'replace'))
    except ValueError:
        return None


def user_facts(name, run_dir='/run/user', linger_dir='/var/lib/systemd/linger', managers=None):
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return {'exists': False}
    runtime = os.path.join(run_dir, str(pw.pw_uid))
    info = engine_info(os.path.join(runtime, 'docker.sock'))
    security = (info or {}).get('SecurityOptions') or []
    return {
        'exists': True,
        'uid': pw.pw_uid,
        'gid': pw.pw_gid,
        'home': pw.pw_dir,
        'linger': os.path.exists(os.path.join(linger_dir, name)),
        'manager': (managers or {}).get(pw.pw_uid) == 'active',
        'unit_file': os.path.exists(os.path.join(pw.pw_dir, UNIT_FILE)),
        'installed': os.path.lexists(os.path.join(pw.pw_dir, ENABLEMENT_LINK)),
        'answering': info is not None,
        'rootless': any('name=rootless' in str(opt) for opt in security),
        'context': current_context(os.path.join(pw.pw_dir, '.docker', 'config.json')),
        'profile': profile_block(read_user_text(os.path.join(pw.pw_dir, '.profile'))),
    }


def _drop_to(pw):
    def preexec():
        os.setgroups(os.getgrouplist(pw.pw_name, pw.pw_gid))
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return preexec


def userns_check(rootlesskit, user, run_dir='/run/user', timeout=60):
    """Can ``rootlesskit`` create a user namespace as ``user``? None if not tried."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return None
    runtime = os.path.join(run_dir, str(pw.pw_uid))
    if not os.access(rootlesskit, os.X_OK) or not os.path.isdir(runtime):
        return None
    env = {'HOME': pw.pw_dir, 'USER': user, 'XDG_RUNTIME_DIR': runtime,
           'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'}
    try:
        proc = subprocess.run([rootlesskit, 'true'], env=env, cwd='/', preexec_fn=_drop_to(pw),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return {'rc': 1, 'stderr': str(exc)}
    return {'rc': proc.returncode, 'stderr': proc.stderr.strip()[-2000:]}


def main(argv=None):
    ap = argparse.ArgumentParser(description='facts for nsguard.docker.rootless')
    ap.add_argument('--user', action='append', default=[])
    ap.add_argument('--package', action='append', default=[])
    ap.add_argument('--unit', action='append', default=[])
    ap.add_argument('--file', action='append', default=[])
    ap.add_argument('--docker-group', default='docker')
    ap.add_argument('--rootlesskit')
    ap.add_argument('--userns-as')
    args = ap.parse_args(argv)

    uids = {}
    for name in args.user:
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        uids[uid] = 'user@%d.service' % uid
    units = systemd_units(list(args.unit) + sorted(set(uids.values())))
    managers = dict((uid, units[unit]['ActiveState']) for uid, unit in uids.items())
    result = {
        'knobs': knobs(),
        'packages': dpkg_installed(args.package),
        'units': dict((u, units[u]) for u in args.unit),
        'files': dict((p, file_facts(p)) for p in args.file),
        'docker_group': group_members(args.docker_group),
        'users': dict((name, user_facts(name, managers=managers)) for name in args.user),
        'userns': (userns_check(args.rootlesskit, args.userns_as)
                   if args.rootlesskit and args.userns_as else None),
    }
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
