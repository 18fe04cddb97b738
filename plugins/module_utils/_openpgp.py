# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fingerprints of the primary keys of an OpenPGP keyring, without gpg, and one key
cut out of a binary keyring.

Standard library only, no Ansible imports. Reads what apt reads as a key file: binary
keyrings (``apt-key add``, ``gpg --dearmor``) and ASCII-armored ones (``.asc``), old and
new packet formats, key versions 4, 5 and 6 (RFC 4880, RFC 9580). Nothing is verified
cryptographically: the fingerprint of a public key packet is a hash of the packet, which
is how apt and gpg name a key, and all a repository key is checked against.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import hashlib
import re

ARMOR_BEGIN = '-----BEGIN PGP PUBLIC KEY BLOCK-----'
ARMOR_END = '-----END PGP PUBLIC KEY BLOCK-----'
TAG_PUBLIC_KEY = 6
#: Packets that may come before the first public key of a keyring (signature, user ID,
#: subkey, user attribute, trust): tolerated, as gpg does.
_TOLERATED_BEFORE_KEY = (2, 12, 13, 14, 17)


class KeyFileError(ValueError):
    """Bytes that are not an OpenPGP keyring (or one this parser cannot read)."""


def _be_int(data):
    value = 0
    for byte in bytearray(data):
        value = (value << 8) | byte
    return value


def _be_bytes(value, size):
    return bytes(bytearray((value >> (8 * (size - 1 - i))) & 0xff for i in range(size)))


def dearmor(text):
    """Binary packets of every public key block in armored ``text`` (str)."""
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
            # the CRC24 checksum line is "=" and four base64 characters
            if line and not (line.startswith('=') and len(line) == 5):
                body.append(line)
            j += 1
        if j >= len(lines):
            raise KeyFileError('armored key block without END line')
        joined = ''.join(body)
        if not re.match(r'\A[A-Za-z0-9+/]*={0,2}\Z', joined):
            raise KeyFileError('bad base64 in armored key')
        try:
            out += base64.b64decode(joined)
        except (binascii.Error, TypeError, ValueError) as exc:
            raise KeyFileError('bad base64 in armored key: %s' % exc)
        blocks += 1
        i = j + 1
    if not blocks:
        raise KeyFileError('no "%s" block' % ARMOR_BEGIN)
    return out


def packets(data):
    """Yield ``(start, end, tag, body)`` for each OpenPGP packet in binary ``data``."""
    data = bytearray(data)
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
                if i >= n:
                    raise KeyFileError('truncated packet header at offset %d' % start)
                length = ((first - 192) << 8) + data[i] + 192
                i += 1
            elif first == 255:
                if i + 4 > n:
                    raise KeyFileError('truncated packet header at offset %d' % start)
                length = _be_int(data[i:i + 4])
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
                if i + size > n:
                    raise KeyFileError('truncated packet header at offset %d' % start)
                length = _be_int(data[i:i + size])
                i += size
        end = i + length
        if end > n:
            raise KeyFileError('truncated packet at offset %d' % start)
        yield start, end, tag, bytes(data[i:end])
        i = end


def fingerprint(body):
    """Fingerprint (upper-case hex) of a public key packet's ``body``."""
    version = bytearray(body[:1])[0] if body else 0
    if version == 4:
        return hashlib.sha1(b'\x99' + _be_bytes(len(body), 2) + body).hexdigest().upper()
    if version == 5:
        return hashlib.sha256(b'\x9a' + _be_bytes(len(body), 4) + body).hexdigest().upper()
    if version == 6:
        return hashlib.sha256(b'\x9b' + _be_bytes(len(body), 4) + body).hexdigest().upper()
    raise KeyFileError('unsupported key version %d' % version)


def key_bytes(raw):
    """``(binary packets, armored)`` of a key file's bytes."""
    head = raw.lstrip()[:64]
    if head.startswith(b'-----BEGIN'):
        return dearmor(raw.decode('ascii', 'replace')), True
    return raw, False


def primary_keys(data):
    """``[(fingerprint, start, end)]`` of each transferable public key in binary ``data``."""
    keys = []
    for start, end, tag, body in packets(data):
        if tag == TAG_PUBLIC_KEY:
            keys.append([fingerprint(body), start, end])
        elif keys:
            keys[-1][2] = end
        elif tag not in _TOLERATED_BEFORE_KEY:
            raise KeyFileError('packet tag %d before any public key' % tag)
    return [tuple(k) for k in keys]


def keyring_info(raw):
    """What a key file holds: ``{'fingerprints', 'armored', 'error'}``.

    ``fingerprints`` lists the primary keys in file order (empty when the file is not a
    keyring, with ``error`` saying why); ``armored`` is None when that could not be told.
    """
    try:
        data, armored = key_bytes(raw)
        fprs = [k[0] for k in primary_keys(data)]
    except (KeyFileError, IndexError) as exc:
        return {'fingerprints': [], 'armored': None, 'error': str(exc) or 'unreadable key'}
    if not fprs:
        return {'fingerprints': [], 'armored': armored, 'error': 'no public key in file'}
    return {'fingerprints': fprs, 'armored': armored, 'error': None}


def strip_key(data, fingerprint):
    """``(new_data, removed)``: binary keyring ``data`` without the transferable public
    key(s) whose primary key has ``fingerprint`` (blanks and case do not matter).

    A transferable public key is its primary key packet and everything after it up to the
    next primary key packet (user IDs, signatures, subkeys); those bytes are cut out, all
    others are kept as they are, in their order. ``removed`` counts the keys cut out
    (a key added twice counts twice); with none, ``data`` is returned as it was.

    Raises :class:`KeyFileError`, and changes nothing, for an armored file (only binary
    keyrings are rewritten), one that cannot be parsed, and one that would be left
    without any key (delete it instead); its message is phrased to follow the file's
    name (``'%s %s' % (path, exc)``).
    """
    wanted = normalize_fingerprint(fingerprint)
    if not wanted:
        raise ValueError('no fingerprint given')
    try:
        binary, armored = key_bytes(data)
        keys = primary_keys(binary)
    except (KeyFileError, IndexError) as exc:
        raise KeyFileError('cannot be read as an OpenPGP keyring (%s)' % (str(exc) or 'unreadable key'))
    if armored:
        raise KeyFileError('is ASCII-armored: only binary keyrings are rewritten (remove the key '
                           'by hand)')
    drop = [(start, end) for fpr, start, end in keys if fpr == wanted]
    if not drop:
        return data, 0
    if len(drop) == len(keys):
        raise KeyFileError('holds no key but %s: it would be left without any key (delete the '
                           'file instead)' % wanted)
    kept = []
    offset = 0
    for start, end in drop:
        kept.append(binary[offset:start])
        offset = end
    kept.append(binary[offset:])
    return b''.join(kept), len(drop)


def normalize_fingerprint(value):
    """``'9DC8 5822 ...'`` -> ``'9DC85822...'`` (blanks removed, upper case)."""
    return re.sub(r'\s+', '', value or '').upper()
