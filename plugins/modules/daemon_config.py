#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: daemon_config
short_description: Merge options into a Docker daemon.json, validated by dockerd
version_added: 0.1.0
description:
  - Sets, replaces and removes top-level keys of a Docker daemon configuration file
    (C(/etc/docker/daemon.json) for the rootful daemon, C(~/.config/docker/daemon.json)
    for rootless Docker). Keys that are not named in O(settings) or O(remove) are kept
    untouched.
  - The merged document is checked with C(dockerd --validate --config-file) before
    anything is written. If dockerd rejects it, the module fails with dockerd's own
    message and the file is left as it was.
  - An existing file that is not valid JSON, or whose top level is not an object, is
    never overwritten; the module fails naming the file and the position of the error.
    An empty file counts as C({}).
  - The file is rewritten only when the result differs in meaning from what is there
    (formatting and key order do not count; JSON types do). Existing keys keep their
    place and new keys are appended, so the diff stays minimal. Output is JSON with an
    indent of 2 and a trailing newline, written atomically (temporary file in the same
    directory, fsync, rename), keeping the existing mode and owner.
  - When the file does not exist and the result would be empty, nothing is created.
  - Shared by the C(nsguard.docker.engine), C(nsguard.docker.userns_remap) and
    C(nsguard.docker.rootless) roles.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports the change and the diff, writes nothing. Validation still runs when
        dockerd is present (it has no side effects); when dockerd is absent in check
        mode (for example because the play would install it first) validation is
        skipped with a warning.
  diff_mode:
    support: full
    details:
      - The diff is the JSON text before and after.
options:
  path:
    description:
      - The daemon configuration file.
    type: path
    default: /etc/docker/daemon.json
  settings:
    description:
      - Keys to set or replace, with values of any JSON type.
      - A nested object replaces the existing value wholesale unless O(merge_nested=true).
    type: dict
    default: {}
  remove:
    description:
      - Top-level keys to delete. Keys that are not there are ignored.
      - A key may not appear both here and in O(settings).
    type: list
    elements: str
    default: []
  merge_nested:
    description:
      - Merge nested objects key by key (recursively) instead of replacing them.
      - Arrays are always replaced.
    type: bool
    default: false
  validate:
    description:
      - Run C(<dockerd> --validate --config-file <candidate>) on the merged content
        before writing, and fail with dockerd's error output if it is rejected.
      - Needs Docker 23.0 or later; older daemons (for example Debian 12's docker.io
        20.10) have no C(--validate) flag, so set V(false) there.
    type: bool
    default: true
  dockerd_path:
    description:
      - The dockerd binary used for validation.
      - Default is C(dockerd) found on PATH or in C(/usr/bin), C(/usr/sbin),
        C(/usr/local/bin), C(/usr/local/sbin).
      - When O(validate=true) and no dockerd is found the module fails (in check mode it
        warns and skips validation instead).
    type: path
  mode:
    description:
      - Permissions of the file, as an octal string such as V('0644') or a symbolic mode.
      - When not set, an existing file keeps its mode and a new file gets V('0644').
    type: raw
  owner:
    description:
      - Owner of the file. When not set, an existing file keeps its owner and a new file
        belongs to the user the module runs as.
    type: str
  group:
    description:
      - Group of the file. When not set, an existing file keeps its group.
    type: str
  backup:
    description:
      - Keep a timestamped copy of the previous file next to it before replacing it.
    type: bool
    default: false
  create_dirs:
    description:
      - Create missing parent directories of O(path), with mode 0755 and the O(owner) and
        O(group) given for the file (so a user's C(~/.config/docker) belongs to the user).
    type: bool
    default: true
notes:
  - Only top-level keys can be removed.
  - dockerd refuses to start when a key is set both in daemon.json and as a command line
    flag of the service; C(--validate) only sees the file, so such conflicts show up at
    the next restart.
seealso:
  - name: Docker daemon configuration file
    description: The keys dockerd accepts in daemon.json.
    link: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file
'''

EXAMPLES = r'''
- name: Log rotation and live restore for the rootful daemon
  nsguard.docker.daemon_config:
    settings:
      log-driver: json-file
      log-opts:
        max-size: 10m
        max-file: "3"
      live-restore: true
  notify: Restart docker

- name: Turn userns-remap off again
  nsguard.docker.daemon_config:
    remove:
      - userns-remap

- name: Rootless daemon of user alice (validated with her dockerd)
  nsguard.docker.daemon_config:
    path: /home/alice/.config/docker/daemon.json
    dockerd_path: /usr/bin/dockerd
    settings:
      features:
        buildkit: true
    merge_nested: true
  become: true
  become_user: alice
'''

RETURN = r'''
config:
  description: The configuration after the merge (what the file holds, or would hold in check mode).
  returned: success
  type: dict
  sample: {"log-driver": "json-file", "live-restore": true}
previous:
  description: The configuration before the merge (C({}) if the file did not exist or was empty).
  returned: success
  type: dict
  sample: {"log-driver": "json-file"}
changed_keys:
  description: Top-level keys that were added, removed or changed.
  returned: success
  type: list
  elements: str
  sample: ["live-restore"]
backup_file:
  description: Path of the backup copy of the previous file.
  returned: when O(backup=true) and the file was replaced
  type: str
  sample: /etc/docker/daemon.json.12345.2025-06-01@12:00:00~
validated_with:
  description: The dockerd binary that validated the new content.
  returned: when validation ran
  type: str
  sample: /usr/bin/dockerd
'''

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.nsguard.docker.plugins.module_utils import daemon_json


def _new_file_mode(mode):
    """Numeric mode for a new file, or None when ``mode`` is symbolic (set afterwards)."""
    if mode is None:
        return daemon_json.DEFAULT_MODE
    if isinstance(mode, int):
        return mode
    text = str(mode)
    if re.match(r'^0?[0-7]{3,4}$', text):
        return int(text, 8)
    return None


def _find_dockerd(module):
    wanted = module.params['dockerd_path']
    if wanted:
        return wanted if os.path.isfile(wanted) and os.access(wanted, os.X_OK) else None
    return module.get_bin_path('dockerd', opt_dirs=daemon_json.DOCKERD_DIRS)


def _run_validation(module, text, result):
    dockerd = _find_dockerd(module)
    if dockerd is None:
        where = module.params['dockerd_path'] or 'dockerd on PATH or in %s' % ', '.join(
            daemon_json.DOCKERD_DIRS)
        if module.check_mode:
            module.warn('validate=true but %s was not found; the merged configuration was '
                        'not validated (check mode)' % where)
            return
        module.fail_json(
            msg='validate=true but %s was not found: install Docker first, point '
                'dockerd_path at it, or set validate=false. %s was not changed.'
                % (where, module.params['path']), **result)
    env = {'LANG': 'C', 'LC_ALL': 'C'}

    def run(argv):
        return module.run_command(argv, environ_update=env)

    ok, rc, out, err, argv = daemon_json.validate(run, dockerd, text, tmpdir=module.tmpdir)
    if not ok:
        detail = (err or out or '').strip() or 'no output'
        msg = 'dockerd rejected the merged configuration for %s (rc=%d): %s' % (
            module.params['path'], rc, detail)
        if daemon_json.validate_unsupported(err):
            msg = ('%s does not support --validate (Docker 23.0 or later is needed); set '
                   'validate=false to write %s without validation'
                   % (dockerd, module.params['path']))
        module.fail_json(msg=msg + '. The file was not changed.', rc=rc, stdout=out,
                         stderr=err, cmd=argv, candidate=text, **result)
    result['validated_with'] = dockerd


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default=daemon_json.DEFAULT_PATH),
            settings=dict(type='dict', default={}),
            remove=dict(type='list', elements='str', default=[]),
            merge_nested=dict(type='bool', default=False),
            validate=dict(type='bool', default=True),
            dockerd_path=dict(type='path'),
            mode=dict(type='raw'),
            owner=dict(type='str'),
            group=dict(type='str'),
            backup=dict(type='bool', default=False),
            create_dirs=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    path = params['path']
    result = dict(changed=False, path=path)

    try:
        previous, before_text = daemon_json.load(path)
    except daemon_json.DaemonJsonError as exc:
        module.fail_json(msg='%s; the file was left unchanged' % to_native(exc), **result)
    result['previous'] = previous

    try:
        config = daemon_json.merge(previous, params['settings'], params['remove'],
                                   params['merge_nested'])
        after_text = daemon_json.render(config)
    except daemon_json.DaemonJsonError as exc:
        module.fail_json(msg=to_native(exc), **result)
    result['config'] = config
    result['changed_keys'] = daemon_json.changed_keys(previous, config)

    exists = before_text is not None
    if exists:
        write = not daemon_json.semantic_equal(previous, config)
    else:
        # Nothing to say and no file: do not create an empty one.
        write = bool(config)

    if write:
        if params['validate']:
            _run_validation(module, after_text, result)
        result['changed'] = True
        if module._diff:
            result['diff'] = dict(before=before_text or '', after=after_text,
                                  before_header=path, after_header=path)
        if not module.check_mode:
            directory = os.path.dirname(os.path.realpath(path))
            if not os.path.isdir(directory):
                if not params['create_dirs']:
                    module.fail_json(msg='directory %s does not exist and create_dirs=false'
                                     % directory, **result)
                created = []
                parent = directory
                while parent and not os.path.isdir(parent):
                    created.insert(0, parent)
                    parent = os.path.dirname(parent)
                try:
                    for new_dir in created:
                        os.mkdir(new_dir, 0o755)
                        os.chmod(new_dir, 0o755)
                        # A user's ~/.config/docker (or ~/.docker) must belong to the user.
                        if params['owner']:
                            module.set_owner_if_different(new_dir, params['owner'], False)
                        if params['group']:
                            module.set_group_if_different(new_dir, params['group'], False)
                except OSError as exc:
                    module.fail_json(msg='cannot create %s: %s' % (directory, to_native(exc)),
                                     **result)
            if exists and params['backup']:
                result['backup_file'] = module.backup_local(path)
            context = module.selinux_context(path) if exists else None
            try:
                daemon_json.atomic_write(
                    path, after_text,
                    mode=None if exists else _new_file_mode(params['mode']))
            except daemon_json.DaemonJsonError as exc:
                module.fail_json(msg=to_native(exc), **result)
            if context is not None and module.selinux_enabled():
                module.set_context_if_different(path, context, False)
            elif not exists:
                module.set_default_selinux_context(path, False)

    # Explicit mode/owner/group: applied to the file whether or not the content changed.
    if (params['mode'] is not None or params['owner'] or params['group']) and \
            os.path.exists(path):
        file_args = module.load_file_common_arguments(
            dict(path=path, mode=params['mode'], owner=params['owner'],
                 group=params['group'], follow=True))
        attr_diff = {} if module._diff else None
        result['changed'] = module.set_fs_attributes_if_different(
            file_args, result['changed'], diff=attr_diff)
        if attr_diff:
            attr_diff.setdefault('before_header', path)
            attr_diff.setdefault('after_header', path)
            result['diff'] = [result['diff'], attr_diff] if 'diff' in result else attr_diff

    module.exit_json(**result)


if __name__ == '__main__':
    main()
