#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: apt_key_strip
short_description: Remove one OpenPGP key from binary keyrings shared with other keys
version_added: 0.1.0
description:
  - Cuts the key whose primary key has O(fingerprint) out of binary OpenPGP keyrings that
    also hold other keys, such as an C(/etc/apt/trusted.gpg) that C(apt-key add) left
    holding a repository's key beside the distribution's, so that apt no longer trusts that
    key for every source.
  - What is removed is the transferable public key - the primary key packet and everything
    that belongs to it up to the next primary key packet (user IDs, signatures, subkeys).
    Every other byte of the file is kept as it was, in its order.
  - A keyring that does not hold the key, or does not exist, is left alone.
  - Every keyring is read and checked before any is written. The module fails, and
    changes nothing, when one of them is ASCII-armored (only binary keyrings are
    rewritten), cannot be read as an OpenPGP keyring, or holds no other key (it would be
    left empty; delete it instead).
  - A keyring is rewritten atomically (temporary file in the same directory, fsync,
    rename) and keeps its mode and owner. A symbolic link on the way, or as the keyring,
    is followed only where only root (or the user running the module) can have made it;
    any other fails the module and nothing is written through it.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads and checks every keyring, reports which would change and the keys each
        would hold, and writes nothing.
  diff_mode:
    support: full
    details:
      - For each keyring that changes, the fingerprints of its primary keys before and
        after (never its bytes).
  idempotent:
    support: full
options:
  paths:
    description:
      - Binary OpenPGP keyrings (absolute paths), for example C(/etc/apt/trusted.gpg).
      - A path given twice is handled once.
    type: list
    elements: path
    required: true
  fingerprint:
    description:
      - The fingerprint of the primary key to remove, 40 hexadecimal digits (OpenPGP v4)
        or 64 (v5, v6). Blanks are allowed and case does not matter.
      - The fingerprint of a subkey does not match.
    type: str
    required: true
notes:
  - Runs as root for keyrings in C(/etc/apt).
  - Keyrings holding only that key are not removed (the module fails on them); the
    M(nsguard.docker.engine) role deletes those, and runs this module on the shared ones
    M(nsguard.docker.engine_info) lists in C(plan.legacy.strip).
seealso:
  - module: nsguard.docker.engine_info
  - module: nsguard.docker.apt_source
  - name: apt-key(8)
    description: The deprecated way keys got into the shared keyrings.
    link: https://manpages.debian.org/stable/apt/apt-key.8.en.html
'''

EXAMPLES = r'''
- name: Stop trusting Docker's key for every apt source (a leftover of apt-key add)
  nsguard.docker.apt_key_strip:
    paths: [/etc/apt/trusted.gpg]
    fingerprint: 9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88

- name: What the engine role does with the leftovers engine_info found
  nsguard.docker.apt_key_strip:
    paths: "{{ engine_info.plan.legacy.strip }}"
    fingerprint: "{{ engine_info.plan.key.expected }}"
  when: engine_info.plan.legacy.strip | length > 0
'''

RETURN = r'''
keyrings:
  description: Each keyring of O(paths), in that order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The keyring, as given in O(paths).
      type: str
      sample: /etc/apt/trusted.gpg
    changed:
      description: Whether the key was (in check mode would be) cut out of this keyring.
      type: bool
      sample: true
    fingerprints_before:
      description: The primary keys the keyring held before the run, upper-case hexadecimal, in file order (empty when it does not exist).
      type: list
      elements: str
      sample: [F6ECB3762474EDA9D21B7022871920D1991BC93C, 9DC858229FC7DD38854AE2D88D81803C0EBFCD88]
    fingerprints_after:
      description: The primary keys it holds after the run (in check mode, would hold).
      type: list
      elements: str
      sample: [F6ECB3762474EDA9D21B7022871920D1991BC93C]
'''

import json
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nsguard.docker.plugins.module_utils import _openpgp, fileops

_FINGERPRINT = re.compile(r'^(?:[0-9A-F]{40}|[0-9A-F]{64})$')
NOTHING_CHANGED = 'Nothing was changed.'


class StripError(Exception):
    pass


def argument_spec():
    return dict(
        paths=dict(type='list', elements='path', required=True),
        fingerprint=dict(type='str', required=True, no_log=False),
    )


def plan(path, fingerprint):
    """What to do with keyring ``path``: its entry of the result and, when it changes, the
    real path to write and the new bytes. StripError when it cannot be stripped."""
    if not path.startswith('/'):
        raise StripError('%s is not an absolute path' % path)
    try:
        state = fileops.read_file(path, follow=True)
    except fileops.FileOpsError as exc:
        raise StripError('cannot read %s: %s' % (path, exc))
    entry = {'path': path, 'changed': False, 'fingerprints_before': [], 'fingerprints_after': []}
    if state.data is None:
        return entry, None
    try:
        new, removed = _openpgp.strip_key(state.data, fingerprint)
    except _openpgp.KeyFileError as exc:
        raise StripError('%s %s' % (path, exc))
    entry['fingerprints_before'] = _openpgp.keyring_info(state.data)['fingerprints']
    if not removed:
        entry['fingerprints_after'] = list(entry['fingerprints_before'])
        return entry, None
    entry['changed'] = True
    entry['fingerprints_after'] = _openpgp.keyring_info(new)['fingerprints']
    return entry, (state.real, new)


def _nothing_changed(msg):
    """``msg`` ending in "Nothing was changed." (once)."""
    msg = msg.rstrip().rstrip('.')
    if msg.lower().endswith('nothing was changed'):
        msg = msg[:-len('nothing was changed')].rstrip().rstrip(';,')
    return '%s. %s' % (msg, NOTHING_CHANGED)


def _fingerprint_lines(fingerprints):
    return ''.join('%s\n' % f for f in fingerprints)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    fingerprint = _openpgp.normalize_fingerprint(module.params['fingerprint'])
    if not _FINGERPRINT.match(fingerprint):
        module.fail_json(msg='fingerprint %s is not a fingerprint (40 hexadecimal digits for a v4 '
                             'key, 64 for v5 and v6; blanks allowed). %s'
                         % (json.dumps(module.params['fingerprint']), NOTHING_CHANGED), changed=False)
    paths = []
    for path in module.params['paths']:
        if path not in paths:
            paths.append(path)

    # Every keyring is read and checked before the first is written.
    entries, writes = [], []
    for path in paths:
        try:
            entry, write = plan(path, fingerprint)
        except StripError as exc:
            module.fail_json(msg=_nothing_changed(str(exc)), changed=False)
        entries.append(entry)
        # two names of one file (a link): written once
        if write and write[0] not in [w[0] for w in writes]:
            writes.append(write)

    if not module.check_mode:
        done = []
        for real, data in writes:
            try:
                # the real path: no link is followed now
                fileops.atomic_write(real, data, follow=False)
            except fileops.FileOpsError as exc:
                if done:
                    after = 'Already rewritten: %s.' % ', '.join(done)
                else:
                    after = NOTHING_CHANGED
                module.fail_json(msg='cannot rewrite %s: %s. %s' % (real, exc, after),
                                 changed=bool(done), keyrings=entries)
            done.append(real)

    result = {'changed': bool(writes), 'keyrings': entries}
    if module._diff and writes:
        diffs = [{'before': _fingerprint_lines(e['fingerprints_before']),
                  'after': _fingerprint_lines(e['fingerprints_after']),
                  'before_header': '%s (primary keys)' % e['path'],
                  'after_header': '%s (primary keys)' % e['path']}
                 for e in entries if e['changed']]
        result['diff'] = diffs if len(diffs) > 1 else diffs[0]
    module.exit_json(**result)


if __name__ == '__main__':
    main()
