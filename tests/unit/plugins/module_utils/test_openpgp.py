# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_openpgp.py: fingerprints of the gpg-made keys in
tests/unit/fixtures/engine/keys, packet framing built by hand, and broken key files."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib

import pytest

from ansible_collections.nsguard.docker.plugins.module_utils import _openpgp

from engine_helpers import DOCKER_FPR, OTHER_FPR, key_bytes


def packet(tag, body, new_format=True):
    if new_format:
        assert len(body) < 192
        return bytes(bytearray([0xC0 | tag, len(body)])) + body
    return bytes(bytearray([0x80 | (tag << 2) | 1])) + len(body).to_bytes(2, 'big') + body


def key_body(seed, version=4):
    # version, creation time, algorithm 22 (EdDSA), some key material
    return bytes(bytearray([version])) + seed.to_bytes(4, 'big') + b'\x16' + hashlib.sha256(bytes([seed])).digest()


def armor(data, headers='Comment: test\n'):
    b64 = base64.b64encode(data).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ('-----BEGIN PGP PUBLIC KEY BLOCK-----\n' + headers + '\n' + '\n'.join(lines)
            + '\n=abcd\n-----END PGP PUBLIC KEY BLOCK-----\n').encode()


@pytest.mark.parametrize('name, fingerprints, armored', [
    ('docker.asc', [DOCKER_FPR], True),
    ('docker.gpg', [DOCKER_FPR], False),
    ('other.gpg', [OTHER_FPR], False),
    ('docker-and-other.gpg', [DOCKER_FPR, OTHER_FPR], False),
    ('docker-and-other.asc', [DOCKER_FPR, OTHER_FPR], True),
])
def test_fingerprints_of_gpg_made_keys(name, fingerprints, armored):
    assert _openpgp.keyring_info(key_bytes(name)) == {'fingerprints': fingerprints, 'armored': armored,
                                                      'error': None}


def test_old_packet_format_and_leading_signature():
    body = key_body(7)
    data = packet(2, b'\x04sig', new_format=False) + packet(6, body, new_format=False) + packet(13, b'uid', False)
    want = hashlib.sha1(b'\x99' + len(body).to_bytes(2, 'big') + body).hexdigest().upper()
    assert _openpgp.keyring_info(data)['fingerprints'] == [want]


@pytest.mark.parametrize('version, prefix', [(5, b'\x9a'), (6, b'\x9b')])
def test_v5_and_v6_fingerprints_are_sha256(version, prefix):
    body = key_body(9, version)
    want = hashlib.sha256(prefix + len(body).to_bytes(4, 'big') + body).hexdigest().upper()
    assert _openpgp.fingerprint(body) == want
    assert len(want) == 64


def test_two_octet_and_five_octet_lengths():
    body = key_body(3) + b'\0' * 200  # 2-octet new-format length
    data = bytes(bytearray([0xC6, ((len(body) - 192) >> 8) + 192, (len(body) - 192) & 0xff])) + body
    data += bytes(bytearray([0xCD, 255])) + (3).to_bytes(4, 'big') + b'uid'
    assert _openpgp.keyring_info(data)['fingerprints'] == [_openpgp.fingerprint(body)]


def test_several_armored_blocks_are_read():
    data = armor(packet(6, key_body(1))) + b'\n' + armor(packet(6, key_body(2)), headers='')
    assert _openpgp.keyring_info(data)['fingerprints'] == [
        _openpgp.fingerprint(key_body(1)), _openpgp.fingerprint(key_body(2))]


@pytest.mark.parametrize('data, error', [
    (b'<html>404 not found</html>', 'not an OpenPGP packet'),
    (key_bytes('docker.gpg')[:20], 'truncated'),
    (b'\xC6', 'truncated packet header'),
    (b'-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDME\n', 'without END line'),
    (b'-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nm!DME\n-----END PGP PUBLIC KEY BLOCK-----\n', 'bad base64'),
    (b'-----BEGIN PGP SIGNATURE-----\n\nmDME\n-----END PGP SIGNATURE-----\n', 'no "-----BEGIN PGP PUBLIC KEY BLOCK-----" block'),
    (packet(13, b'user ID only'), 'no public key in file'),
    (packet(11, b'literal'), 'packet tag 11 before any public key'),
    (packet(6, b'\x03' + b'\0' * 10), 'unsupported key version 3'),
    (bytes(bytearray([0xC6, 0xE5])) + b'x', 'partial body length'),
    (b'', 'no public key in file'),
])
def test_files_that_are_no_keyring(data, error):
    info = _openpgp.keyring_info(data)
    assert info['fingerprints'] == []
    assert error in info['error']


def test_normalize_fingerprint():
    assert _openpgp.normalize_fingerprint('9dc8 5822 9fc7\tdd38\n') == '9DC858229FC7DD38'
    assert _openpgp.normalize_fingerprint(None) == ''
