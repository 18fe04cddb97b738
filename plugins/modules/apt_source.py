#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: apt_source
short_description: An apt repository's key (fingerprint checked) and deb822 source, and apt's lists of it
version_added: 0.1.0
description:
  - Sets up one apt repository (Docker's, or a mirror of it) in one module run - the
    repository key, the deb822 source that names it in C(Signed-By), and apt's package lists
    of that source - and puts both files back when apt rejects them.
  - The key at O(key_path) is right when it is a regular file, root:root, mode 0644,
    holding exactly one primary key, O(key_fingerprint), armored for a C(.asc) name and
    binary for a C(.gpg) one. A right key is not downloaded again (a converged host makes
    no network request). When only its mode or owner drifted, they are set.
  - Any other key is downloaded from O(key_url) (or read from O(key_file)) into memory and
    must hold exactly the primary key O(key_fingerprint) (fingerprints of OpenPGP v4, v5
    and v6 keys, armored or binary, read without gpg). A wrong key fails the module,
    naming the expected and the actual fingerprints, and nothing is written, neither the
    key nor the source. A right one is written as it was fetched, root:root 0644; its
    directory is made root:root 0755 when missing.
  - The source at O(path) is one deb822 stanza of C(Types), C(URIs), C(Suites),
    C(Components), C(Architectures), C(Signed-By) (O(key_path)), C(Enabled) C(yes) and,
    with O(name), C(X-Repolib-Name), the fields M(ansible.builtin.deb822_repository)
    writes. It is compared field by field, in any order, so a file that module wrote (on
    any ansible-core) is left alone; a file with other fields, values, stanzas or comments
    is rewritten. A regular root:root 0644 file is wanted; when only
    its mode or owner drifted, they are set.
  - Needs no python3-debian and no gpg. Files are written atomically (temporary file in
    the same directory, fsync, rename); a symbolic link on the way, or as O(path) or
    O(key_path), is followed only where only root can have made it, any other fails the
    module and nothing is written through it.
  - With O(update_lists=true), when the key or the source changed, runs C(apt-get update)
    for that source alone (apt options C(Dir::Etc::SourceList) set to O(path),
    C(Dir::Etc::SourceParts) to C(-) and C(APT::Get::List-Cleanup) to C(false)), which
    leaves the other sources' lists as they are.
  - "When apt rejects it (an exit code other than 0, or a line starting C(E:), C(Err:),
    C(W: GPG error) or C(W: Failed)), both files are put back as they were before the run
    (their bytes, mode and owner, or removed when there was none) and the module fails
    with apt's error lines, so a bad source or key never breaks every later apt run on the
    host."
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
attributes:
  check_mode:
    support: full
    details:
      - A key that is not right is downloaded (or read) and checked in check mode too,
        into memory only, so check mode fails on a key that a real run would reject.
        Nothing is written and apt is not run.
  diff_mode:
    support: full
    details:
      - The source's text before and after; for the key its fingerprints, format, mode
        and owner before and after (never its bytes); the mode and owner of a file whose
        content is right.
  idempotent:
    support: full
options:
  path:
    description:
      - The deb822 source file, for example C(/etc/apt/sources.list.d/docker.sources).
      - Its name must end in C(.sources) and hold only letters, digits, C(_), C(-) and
        C(.) (apt ignores other files in C(sources.list.d)).
    type: path
    required: true
  name:
    description:
      - The source's C(X-Repolib-Name), as M(ansible.builtin.deb822_repository) writes it
        from its C(name) option.
      - Not set, the source has no C(X-Repolib-Name).
    type: str
  types:
    description: The source's C(Types).
    type: list
    elements: str
    choices: [deb, deb-src]
    default: [deb]
  uris:
    description: The source's C(URIs), for example V(https://download.docker.com/linux/ubuntu). Each one word with a scheme.
    type: list
    elements: str
    required: true
  suites:
    description:
      - The source's C(Suites), for example V(noble). Each one word.
      - Suites that are paths ending in C(/) (a flat repository) need O(components) empty.
    type: list
    elements: str
    required: true
  components:
    description:
      - The source's C(Components), for example V(stable). Each one word.
      - Required unless every suite ends in C(/); left out of the source when empty.
    type: list
    elements: str
    default: []
  architectures:
    description:
      - The source's C(Architectures), for example V(amd64) (Debian names).
      - Empty leaves the field out, and apt uses the host's architectures.
    type: list
    elements: str
    default: []
  key_path:
    description:
      - The keyring apt checks the repository's signatures with, the source's C(Signed-By),
        for example C(/etc/apt/keyrings/docker.asc).
      - Named C(*.asc) for an armored key and C(*.gpg) for a binary one, as apt reads them;
        a fetched key in the other format fails the module.
    type: path
    required: true
  key_url:
    description:
      - Where the key is downloaded from when the one at O(key_path) is not right, for
        example V(https://download.docker.com/linux/ubuntu/gpg). C(file://) URLs work too.
      - Exactly one of O(key_url) and O(key_file) is required.
    type: str
  key_file:
    description:
      - A key file already on the host (for example copied from the controller), read
        instead of downloading one when the key at O(key_path) is not right. It is
        checked like a download and left where it is.
      - Exactly one of O(key_url) and O(key_file) is required.
    type: path
  key_fingerprint:
    description:
      - The fingerprint of the one primary key the key must hold, 40 hexadecimal digits
        (OpenPGP v4) or 64 (v5, v6). Blanks are allowed and case does not matter.
    type: str
    required: true
  validate_certs:
    description: Whether the TLS certificate of O(key_url) is checked.
    type: bool
    default: true
  timeout:
    description: Seconds the download of O(key_url) may take.
    type: int
    default: 30
  update_lists:
    description:
      - When the key or the source changed (not in check mode), run C(apt-get update) for
        this source alone, and put both files back and fail when apt rejects it.
      - V(false) leaves apt's lists alone, and nothing is put back.
    type: bool
    default: true
notes:
  - Runs as root. The key, the source and a directory made for the key belong to root.
  - Older sources naming the same repository (C(docker.list), other C(.sources) files,
    keyrings in C(trusted.gpg.d)) are not looked at; apt fails on a repository named twice
    with different C(Signed-By) values (the M(nsguard.docker.engine) role removes them).
  - apt's lists of the other sources are not refreshed.
seealso:
  - module: ansible.builtin.deb822_repository
  - module: nsguard.docker.engine_info
  - name: sources.list(5)
    description: apt's deb822 source format.
    link: https://manpages.debian.org/stable/apt/sources.list.5.en.html
'''

EXAMPLES = r'''
- name: Docker's repository, its key checked, and apt's lists of it
  nsguard.docker.apt_source:
    path: /etc/apt/sources.list.d/docker.sources
    name: docker
    uris: [https://download.docker.com/linux/ubuntu]
    suites: [noble]
    components: [stable]
    architectures: [amd64]
    key_path: /etc/apt/keyrings/docker.asc
    key_url: https://download.docker.com/linux/ubuntu/gpg
    key_fingerprint: 9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88
  register: docker_repo

- name: An air-gapped host, the key copied from the controller first
  nsguard.docker.apt_source:
    path: /etc/apt/sources.list.d/docker.sources
    uris: [https://artifacts.example.invalid/docker-ubuntu]
    suites: [noble]
    components: [stable]
    key_path: /etc/apt/keyrings/docker.asc
    key_file: /root/docker-repo-key.asc
    key_fingerprint: 9DC858229FC7DD38854AE2D88D81803C0EBFCD88

- name: Install Docker once apt knows the repository (check mode cannot, when it is new)
  ansible.builtin.apt:
    name: docker-ce
  when: not (ansible_check_mode and docker_repo.source_new)
'''

RETURN = r'''
key:
  description: The repository key.
  returned: always
  type: dict
  contains:
    path:
      description: O(key_path).
      type: str
      sample: /etc/apt/keyrings/docker.asc
    fingerprints:
      description:
        - The primary keys of the key at O(key_path) after the run (in check mode, that it
          would hold), upper-case hexadecimal; of the fetched key when the module failed on it.
      type: list
      elements: str
      sample: [9DC858229FC7DD38854AE2D88D81803C0EBFCD88]
    changed:
      description: Whether the key was (in check mode would be) written, or its mode or owner set.
      type: bool
    fetched:
      description: Whether the key was downloaded from O(key_url) or read from O(key_file) (in check mode too).
      type: bool
source:
  description: The deb822 source.
  returned: always
  type: dict
  contains:
    path:
      description: O(path).
      type: str
      sample: /etc/apt/sources.list.d/docker.sources
    changed:
      description: Whether the source was (in check mode would be) written, or its mode or owner set.
      type: bool
    text:
      description: What the source holds after the run (in check mode, would hold).
      type: str
      sample: "X-Repolib-Name: docker\nTypes: deb\nURIs: https://download.docker.com/linux/ubuntu\n..."
source_new:
  description:
    - Whether there was no source at O(path) before the run, so apt did not know the
      repository (in check mode it still does not).
  returned: always
  type: bool
lists_updated:
  description: Whether C(apt-get update) of the source ran and apt accepted it.
  returned: always
  type: bool
apt_stdout:
  description: The lines C(apt-get update) printed on its standard output.
  returned: when apt ran
  type: list
  elements: str
  sample: ["Get:1 https://download.docker.com/linux/ubuntu noble InRelease [48.8 kB]"]
apt_stderr:
  description: The lines C(apt-get update) printed on its standard error.
  returned: when apt ran
  type: list
  elements: str
  sample: ["W: GPG error: https://download.docker.com/linux/ubuntu noble InRelease: ..."]
restored:
  description: The files put back (or removed) because apt rejected the source.
  returned: when apt rejected the source (the module failed)
  type: list
  elements: str
  sample: [/etc/apt/keyrings/docker.asc, /etc/apt/sources.list.d/docker.sources]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import fetch_url

from ansible_collections.nsguard.docker.plugins.module_utils import _apt_source


def argument_spec():
    return dict(
        path=dict(type='path', required=True),
        name=dict(type='str'),
        types=dict(type='list', elements='str', choices=list(_apt_source.TYPES), default=['deb']),
        uris=dict(type='list', elements='str', required=True),
        suites=dict(type='list', elements='str', required=True),
        components=dict(type='list', elements='str', default=[]),
        architectures=dict(type='list', elements='str', default=[]),
        key_path=dict(type='path', required=True),
        key_url=dict(type='str', no_log=False),
        key_file=dict(type='path'),
        key_fingerprint=dict(type='str', required=True, no_log=False),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='int', default=_apt_source.DEFAULT_TIMEOUT),
        update_lists=dict(type='bool', default=True),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[('key_url', 'key_file')],
        required_one_of=[('key_url', 'key_file')],
        supports_check_mode=True,
    )

    def fetch(url, validate_certs, timeout):
        # fetch_url reads validate_certs from the module's parameters.
        response, info = fetch_url(module, url, timeout=timeout)
        status = info.get('status')
        # A file:// URL answers without an HTTP status.
        if response is None or not (status == 200 or url.startswith('file:')):
            if response is not None:
                response.close()
            raise _apt_source.KeyFetchError(info.get('msg') or 'status %s' % status)
        try:
            return response.read(_apt_source.MAX_KEY_SIZE + 1)
        except Exception as exc:  # pylint: disable=broad-except
            raise _apt_source.KeyFetchError(to_native(exc))
        finally:
            response.close()

    def run_apt(argv):
        return module.run_command(argv, environ_update={'LANG': 'C', 'LC_ALL': 'C',
                                                        'DEBIAN_FRONTEND': 'noninteractive'})

    apt_get = 'apt-get'
    if module.params['update_lists'] and not module.check_mode:
        # Before any change: a host without apt-get gets nothing it cannot fetch lists for.
        apt_get = module.get_bin_path('apt-get')
        if apt_get is None:
            module.fail_json(msg='apt-get was not found, so apt\'s lists of the source could not be '
                                 'fetched (update_lists=false skips that). Nothing was changed.',
                             changed=False)

    try:
        result = _apt_source.run(module.params, fetch, run_apt, check_mode=module.check_mode,
                                 apt_get=apt_get)
    except _apt_source.AptSourceError as exc:
        failed = dict(exc.result)
        failed.pop('diff', None)
        failed.setdefault('changed', False)
        module.fail_json(msg=exc.msg, **failed)
    diffs = result.pop('diff')
    if module._diff and diffs:
        result['diff'] = diffs if len(diffs) > 1 else diffs[0]
    module.exit_json(**result)


if __name__ == '__main__':
    main()
