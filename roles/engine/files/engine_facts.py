# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only facts for the nsguard.docker.engine role, in one round trip.

The role inspects the host with the module nsguard.docker.engine_info (the same facts,
and the decisions made from them, from plugins/module_utils). It still runs this script
for the fingerprints of the key it downloaded (``--no-legacy --keyring STAGED``) and for
``--strip-key``, until those move to a module too.

Run on the managed host as ``python3 - ARGS`` with this file on stdin (the role passes it
through ansible.builtin.command, so no file is copied and the interpreter starts once).
Standard library only; Python 3.6+. Prints one JSON object:

keyrings  for each --keyring: whether it exists and the fingerprints of its primary keys
          (OpenPGP v4/v5/v6, armored or binary). This is how the downloaded repository key
          is checked before apt ever sees it; no gpg is needed on the host.
packages  for each --package: installed or not, version, dpkg selection (install/hold/...)
units     for each --unit: LoadState, ActiveState, UnitFileState from systemctl show
files     for each --file: exists, sha1, mode, uid, gid (lets the role skip unchanged writes)
os        distribution id and codename (/etc/os-release) and dpkg's architecture, so the
          role needs no fact gathering of its own
legacy    leftovers of older ways to add Docker's repository that would make apt see the
          repository twice with different Signed-By values, or trust Docker's key globally:
          remove   files to delete (sources holding only Docker entries, keyrings holding
                   only Docker's key: /etc/apt/trusted.gpg(.d), old signed-by keyrings)
          comment  one-line-style source files that also hold other entries: the Docker
                   lines are to be commented out
          manual   deb822 files mixing Docker and other entries (left to the operator)
          strip    global keyrings holding Docker's key among others (apt-key add)

``--strip-key KEYRING --fingerprint FPR`` is the only writing mode: it rewrites a binary
keyring without that key (atomically, mode and owner kept) and prints {"changed": bool}.
"""

import argparse
import base64
import binascii
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

DOCKER_HOSTS = ('download.docker.com',)
ARMOR_BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----'
ARMOR_END = '-----END PGP PUBLIC KEY BLOCK-----'
TAG_PUBLIC_KEY = 6


class KeyFileError(Exception):
    pass


# --------------------------------------------------------------------------- OpenPGP

def dearmor(text):
    """Binary packets of every public key block in armored ``text``."""
    out = b''
    blocks = 0
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != ARMOR_BEGIN:
            i += 1
            continue
        i += 1
        # Armor headers ("Version: ...", "Comment: ...") end at the first blank line.
        j = i
        while j < len(lines) and lines[j].strip() and ':' in lines[j]:
            j += 1
        body = []
        while j < len(lines) and lines[j].strip() != ARMOR_END:
            line = lines[j].strip()
            if line and not (line.startswith('=') and len(line) == 5):
                body.append(line)
            j += 1
        if j >= len(lines):
            raise KeyFileError('armored key block without END line')
        try:
            out += base64.b64decode(''.join(body), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeyFileError('bad base64 in armored key: %s' % exc)
        blocks += 1
        i = j + 1
    if not blocks:
        raise KeyFileError('no "%s" block' % ARMOR_BEGIN)
    return out


def packets(data):
    """Yield (start, end, tag, body) for each OpenPGP packet in ``data``."""
    i = 0
    n = len(data)
    while i < n:
        start = i
        ctb = data[i]
        i += 1
        if not ctb & 0x80:
            raise KeyFileError('not an OpenPGP packet at offset %d' % start)
        if ctb & 0x40:
            tag = ctb & 0x3f
            if i >= n:
                raise KeyFileError('truncated packet header at offset %d' % start)
            first = data[i]
            i += 1
            if first < 192:
                length = first
            elif first < 224:
                length = ((first - 192) << 8) + data[i] + 192
                i += 1
            elif first == 255:
                length = int.from_bytes(data[i:i + 4], 'big')
                i += 4
            else:
                raise KeyFileError('partial body length in key material at offset %d' % start)
        else:
            tag = (ctb >> 2) & 0x0f
            kind = ctb & 3
            if kind == 3:
                length = n - i
            else:
                size = (1, 2, 4)[kind]
                length = int.from_bytes(data[i:i + size], 'big')
                i += size
        end = i + length
        if end > n:
            raise KeyFileError('truncated packet at offset %d' % start)
        yield start, end, tag, data[i:end]
        i = end


def fingerprint(body):
    version = body[0] if body else 0
    if version == 4:
        return hashlib.sha1(b'\x99' + len(body).to_bytes(2, 'big') + body).hexdigest().upper()
    if version == 5:
        return hashlib.sha256(b'\x9a' + len(body).to_bytes(4, 'big') + body).hexdigest().upper()
    if version == 6:
        return hashlib.sha256(b'\x9b' + len(body).to_bytes(4, 'big') + body).hexdigest().upper()
    raise KeyFileError('unsupported key version %d' % version)


def key_bytes(raw):
    head = raw.lstrip()[:64]
    if head.startswith(b'-----BEGIN'):
        return dearmor(raw.decode('ascii', 'replace')), True
    return raw, False


def primary_keys(data):
    """[(fingerprint, start, end)] of each transferable public key in binary ``data``."""
    keys = []
    for start, end, tag, body in packets(data):
        if tag == TAG_PUBLIC_KEY:
            keys.append([fingerprint(body), start, end])
        elif keys:
            keys[-1][2] = end
        elif tag not in (2, 12, 13, 14, 17):
            raise KeyFileError('packet tag %d before any public key' % tag)
    return [tuple(k) for k in keys]


def read_keyring(path):
    try:
        with open(path, 'rb') as handle:
            raw = handle.read()
    except FileNotFoundError:
        return {'exists': False, 'fingerprints': [], 'error': None}
    except OSError as exc:
        return {'exists': True, 'fingerprints': [], 'error': str(exc)}
    try:
        data, armored = key_bytes(raw)
        fprs = [k[0] for k in primary_keys(data)]
    except (KeyFileError, IndexError) as exc:
        return {'exists': True, 'fingerprints': [], 'error': str(exc) or 'unreadable key'}
    if not fprs:
        return {'exists': True, 'fingerprints': [], 'armored': armored,
                'error': 'no public key in file'}
    return {'exists': True, 'fingerprints': fprs, 'armored': armored, 'error': None}


def normalize_fpr(value):
    return re.sub(r'\s+', '', value or '').upper()


# --------------------------------------------------------------------------- dpkg

def dpkg_packages(names, status_path):
    wanted = set(names)
    found = {}
    try:
        with open(status_path, encoding='utf-8', errors='replace') as handle:
            text = handle.read()
    except OSError:
        text = ''
    for stanza in text.split('\n\n'):
        fields = {}
        for line in stanza.splitlines():
            if line[:1] in (' ', '\t') or ':' not in line:
                continue
            key, value = line.split(':', 1)
            fields[key] = value.strip()
        name = fields.get('Package')
        if name not in wanted:
            continue
        status = fields.get('Status', '').split()
        installed = len(status) == 3 and status[2] in ('installed', 'half-configured',
                                                       'unpacked', 'triggers-awaited',
                                                       'triggers-pending')
        entry = {'installed': installed, 'version': fields.get('Version', ''),
                 'selection': status[0] if status else '',
                 'state': status[2] if len(status) == 3 else ''}
        if name not in found or (installed and not found[name]['installed']):
            found[name] = entry
    for name in names:
        found.setdefault(name, {'installed': False, 'version': '', 'selection': '',
                                'state': 'not-installed'})
    return found


# --------------------------------------------------------------------------- systemd

def systemd_units(units):
    result = dict((u, {'LoadState': 'unknown', 'ActiveState': 'unknown',
                       'UnitFileState': 'unknown'}) for u in units)
    if not units:
        return result
    try:
        proc = subprocess.run(
            ['systemctl', 'show', '--property=Id,LoadState,ActiveState,UnitFileState', '--']
            + list(units), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return result
    blocks = proc.stdout.strip().split('\n\n')
    for unit, block in zip(units, blocks):
        props = {}
        for line in block.splitlines():
            if '=' in line:
                key, value = line.split('=', 1)
                props[key] = value
        props.pop('Id', None)
        result[unit].update(props)
        result[unit]['UnitFileState'] = result[unit].get('UnitFileState') or 'none'
    return result


# --------------------------------------------------------------------------- files

def file_facts(paths, text_paths=()):
    """Mode, owner and sha1 of each path; also the text of those in text_paths (the
    role's own small files, so that a change apt rejects can be put back byte for byte)."""
    out = {}
    for path in list(paths) + [p for p in text_paths if p not in paths]:
        try:
            st = os.stat(path)
        except OSError:
            out[path] = {'exists': False}
            continue
        entry = {'exists': True, 'mode': '%04o' % (st.st_mode & 0o7777), 'uid': st.st_uid,
                 'gid': st.st_gid, 'sha1': ''}
        if os.path.isfile(path):
            try:
                with open(path, 'rb') as handle:
                    data = handle.read()
                entry['sha1'] = hashlib.sha1(data).hexdigest()
                if path in text_paths:
                    entry['text'] = data.decode('utf-8', 'replace')
            except OSError:
                pass
        out[path] = entry
    return out


# --------------------------------------------------------------------------- os

def os_facts(os_release):
    fields = {}
    try:
        with open(os_release, encoding='utf-8', errors='replace') as handle:
            for line in handle:
                if '=' in line and not line.startswith('#'):
                    key, value = line.rstrip('\n').split('=', 1)
                    fields[key] = value.strip().strip('"\'')
    except OSError:
        pass
    try:
        arch = subprocess.run(['dpkg', '--print-architecture'], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True,
                              timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        arch = ''
    return {'id': fields.get('ID', '').lower(),
            'codename': fields.get('VERSION_CODENAME') or fields.get('UBUNTU_CODENAME', ''),
            'deb_arch': arch}


# --------------------------------------------------------------------------- apt sources

def norm_url(url):
    url = url.strip().rstrip('/')
    match = re.match(r'^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/]*)(.*)$', url)
    if not match:
        return url
    return '%s://%s%s' % (match.group(1).lower(), match.group(2).lower(), match.group(3))


def is_docker_uri(uri, repo_urls):
    uri = norm_url(uri)
    for repo in repo_urls:
        if uri == norm_url(repo):
            return True
    match = re.match(r'^[a-z+]+://(?:[^@/]*@)?([^/:]+)', uri)
    return bool(match and match.group(1) in DOCKER_HOSTS)


ONE_LINE = re.compile(r'^\s*(deb|deb-src)\s+(\[([^\]]*)\]\s+)?(\S+)')


def parse_one_line(text):
    """[(uri, signed_by)] of active entries of a one-line-style sources file."""
    entries = []
    for line in text.splitlines():
        match = ONE_LINE.match(line)
        if not match:
            continue
        options = match.group(3) or ''
        signed = re.search(r'signed-by=(\S+)', options)
        entries.append((match.group(4), signed.group(1) if signed else None))
    return entries


def parse_deb822(text):
    """[(uris, signed_by)] for each stanza of a deb822 sources file."""
    stanzas = []
    for chunk in re.split(r'\n\s*\n', text):
        fields = {}
        key = None
        for line in chunk.splitlines():
            if line.startswith('#'):
                continue
            if line[:1] in (' ', '\t') and key:
                fields[key] += '\n' + line.strip()
                continue
            if ':' in line:
                key, value = line.split(':', 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if 'uris' in fields or 'types' in fields:
            signed = fields.get('signed-by', '').strip()
            stanzas.append((fields.get('uris', '').split(),
                            signed if signed.startswith('/') else None))
    return stanzas


def legacy(apt_dir, repo_urls, own_source, own_key, fpr):
    remove, comment, manual, strip = [], [], [], []
    referenced = set()
    candidates = [os.path.join(apt_dir, 'sources.list')]
    candidates += sorted(glob.glob(os.path.join(apt_dir, 'sources.list.d', '*.list')))
    candidates += sorted(glob.glob(os.path.join(apt_dir, 'sources.list.d', '*.sources')))
    for path in candidates:
        if own_source and os.path.abspath(path) == os.path.abspath(own_source):
            continue
        try:
            with open(path, encoding='utf-8', errors='replace') as handle:
                text = handle.read()
        except OSError:
            continue
        if path.endswith('.sources'):
            stanzas = parse_deb822(text)
            docker = [s for s in stanzas if s[0] and all(is_docker_uri(u, repo_urls) for u in s[0])]
            partial = [s for s in stanzas if any(is_docker_uri(u, repo_urls) for u in s[0])
                       and s not in docker]
            if not docker and not partial:
                continue
            referenced.update(s[1] for s in docker + partial if s[1])
            if len(docker) == len(stanzas) and not partial:
                remove.append(path)
            else:
                manual.append(path)
        else:
            entries = parse_one_line(text)
            docker = [e for e in entries if is_docker_uri(e[0], repo_urls)]
            if not docker:
                continue
            referenced.update(e[1] for e in docker if e[1])
            if len(docker) == len(entries) and not path.endswith('/sources.list'):
                remove.append(path)
            else:
                comment.append(path)
    keyrings = [os.path.join(apt_dir, 'trusted.gpg')]
    keyrings += sorted(glob.glob(os.path.join(apt_dir, 'trusted.gpg.d', '*.gpg')))
    keyrings += sorted(glob.glob(os.path.join(apt_dir, 'trusted.gpg.d', '*.asc')))
    global_rings = set(keyrings)
    keyrings += sorted(referenced - global_rings)
    own = os.path.abspath(own_key) if own_key else None
    for path in keyrings:
        if own and os.path.abspath(path) == own:
            continue
        info = read_keyring(path)
        if not info['exists'] or info['error'] or fpr not in info['fingerprints']:
            continue
        if all(f == fpr for f in info['fingerprints']):
            remove.append(path)
        elif path in global_rings:
            (strip if not info.get('armored') else manual).append(path)
    return {'remove': remove, 'comment': comment, 'manual': manual, 'strip': strip}


# --------------------------------------------------------------------------- strip

def strip_key(path, fpr):
    with open(path, 'rb') as handle:
        raw = handle.read()
    data, armored = key_bytes(raw)
    if armored:
        raise KeyFileError('%s is armored; remove the key by hand' % path)
    keep = b''
    changed = False
    for key, start, end in primary_keys(data):
        if key == fpr:
            changed = True
        else:
            keep += data[start:end]
    if changed:
        st = os.stat(path)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.engine-strip-')
        try:
            with os.fdopen(fd, 'wb') as handle:
                handle.write(keep)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, st.st_mode & 0o7777)
            os.chown(tmp, st.st_uid, st.st_gid)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return changed


# --------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description='facts for nsguard.docker.engine')
    ap.add_argument('--keyring', action='append', default=[])
    ap.add_argument('--package', action='append', default=[])
    ap.add_argument('--unit', action='append', default=[])
    ap.add_argument('--file', action='append', default=[])
    ap.add_argument('--text-file', action='append', default=[])
    ap.add_argument('--repo-url', action='append', default=[])
    ap.add_argument('--own-source')
    ap.add_argument('--own-key')
    ap.add_argument('--fingerprint', default='')
    ap.add_argument('--no-legacy', action='store_true')
    ap.add_argument('--apt-dir', default='/etc/apt')
    ap.add_argument('--dpkg-status', default='/var/lib/dpkg/status')
    ap.add_argument('--os-release', default='/etc/os-release')
    ap.add_argument('--strip-key')
    args = ap.parse_args(argv)
    fpr = normalize_fpr(args.fingerprint)
    if args.strip_key:
        if not fpr:
            ap.error('--strip-key needs --fingerprint')
        try:
            changed = strip_key(args.strip_key, fpr)
        except (KeyFileError, OSError) as exc:
            sys.stderr.write('%s\n' % exc)
            return 1
        print(json.dumps({'changed': changed}))
        return 0
    result = {
        'keyrings': dict((p, read_keyring(p)) for p in args.keyring),
        'packages': dpkg_packages(args.package, args.dpkg_status),
        'units': systemd_units(args.unit),
        'files': file_facts(args.file, args.text_file),
        'os': os_facts(args.os_release),
        'legacy': {'remove': [], 'comment': [], 'manual': [], 'strip': []},
    }
    if not args.no_legacy and fpr:
        result['legacy'] = legacy(args.apt_dir, args.repo_url, args.own_source,
                                  args.own_key, fpr)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
