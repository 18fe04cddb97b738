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


# ---------------------------------------------------------------------------- strip_key

def transferable(seed, new_format=True):
    """A hand-made transferable public key: primary key, user ID, signature, subkey and
    its binding signature (the parser needs only the key packets to be real)."""
    return (packet(6, key_body(seed), new_format) + packet(13, b'user %d' % seed, new_format)
            + packet(2, b'\x04sig', new_format) + packet(14, key_body(seed + 100), new_format)
            + packet(2, b'\x04binding', new_format))


def fpr(seed):
    return _openpgp.fingerprint(key_body(seed))


def test_strip_gpg_made_key_from_a_shared_keyring():
    # docker-and-other.gpg: /etc/apt/trusted.gpg after apt-key add (DOCKER, then OTHER)
    new, removed = _openpgp.strip_key(key_bytes('docker-and-other.gpg'), DOCKER_FPR)
    assert removed == 1
    assert new == key_bytes('other.gpg')
    assert _openpgp.keyring_info(new)['fingerprints'] == [OTHER_FPR]


@pytest.mark.parametrize('first', ['docker', 'other'])
def test_strip_keeps_the_other_keys_byte_for_byte(first):
    # a shared keyring is the concatenation of binary keys, in any order
    parts = [key_bytes('docker.gpg'), key_bytes('other.gpg')]
    if first == 'other':
        parts.reverse()
    new, removed = _openpgp.strip_key(b''.join(parts), DOCKER_FPR)
    assert (new, removed) == (key_bytes('other.gpg'), 1)


def test_strip_takes_subkeys_user_ids_and_signatures_with_the_key():
    data = transferable(1) + transferable(2, new_format=False) + transferable(3)
    new, removed = _openpgp.strip_key(data, fpr(2))
    assert removed == 1 and new == transferable(1) + transferable(3)
    assert _openpgp.keyring_info(new)['fingerprints'] == [fpr(1), fpr(3)]


def test_strip_removes_a_key_added_twice_and_keeps_leading_packets():
    lead = packet(12, b'trust')
    data = lead + transferable(2) + transferable(1) + transferable(2)
    new, removed = _openpgp.strip_key(data, fpr(2))
    assert (new, removed) == (lead + transferable(1), 2)


def test_strip_fingerprint_with_blanks_and_lower_case():
    spaced = ' '.join(DOCKER_FPR[i:i + 4] for i in range(0, 40, 4)).lower()
    assert _openpgp.strip_key(key_bytes('docker-and-other.gpg'), spaced)[1] == 1


def test_strip_a_subkey_fingerprint_does_not_match():
    data = transferable(1) + transferable(2)
    assert _openpgp.strip_key(data, fpr(101)) == (data, 0)


@pytest.mark.parametrize('data', [
    b'',                                    # an empty trusted.gpg, as apt-key left it
    lambda: key_bytes('other.gpg'),
    lambda: transferable(1) + transferable(2),
])
def test_strip_a_keyring_without_the_key_is_returned_as_it_was(data):
    data = data() if callable(data) else data
    assert _openpgp.strip_key(data, DOCKER_FPR) == (data, 0)


@pytest.mark.parametrize('data, error', [
    (lambda: key_bytes('docker-and-other.asc'), 'is ASCII-armored: only binary keyrings are rewritten'),
    (lambda: key_bytes('docker.asc'), 'is ASCII-armored'),
    (lambda: key_bytes('docker.gpg'), 'holds no key but %s: it would be left without any key' % DOCKER_FPR),
    (lambda: key_bytes('docker.gpg') * 2, 'it would be left without any key'),
    (lambda: key_bytes('docker-and-other.gpg')[:-7], 'cannot be read as an OpenPGP keyring (truncated packet'),
    (lambda: key_bytes('other.gpg') + b'garbage', 'cannot be read as an OpenPGP keyring (not an OpenPGP packet'),
    (lambda: b'KBXf' + b'\0' * 28, 'cannot be read as an OpenPGP keyring'),  # a gpg keybox
    (lambda: packet(11, b'literal') + key_bytes('docker-and-other.gpg'), 'packet tag 11 before any public key'),
    (lambda: b'-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDME\n', 'cannot be read as an OpenPGP keyring (armored key block without END'),
])
def test_strip_refuses(data, error):
    with pytest.raises(_openpgp.KeyFileError) as caught:
        _openpgp.strip_key(data(), DOCKER_FPR)
    assert error in str(caught.value)


def test_strip_needs_a_fingerprint():
    with pytest.raises(ValueError):
        _openpgp.strip_key(key_bytes('docker-and-other.gpg'), ' ')
