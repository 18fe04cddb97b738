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
  - A dockerd older than 23.0 (for example Debian 12's docker.io 20.10) has no
    C(--validate) flag. The module then fails, or with O(validate_unsupported=warn) writes
    the file unvalidated and warns; RV(validated) says whether dockerd accepted the content.
  - An existing file that is not valid JSON, or whose top level is not an object, is
    never overwritten; the module fails naming the file and the position of the error.
    An empty file counts as C({}).
  - The file is rewritten only when the result differs in meaning from what is there
    (formatting and key order do not count; JSON types do). Existing keys keep their
    place and new keys are appended, so the diff stays minimal. Output is JSON with an
    indent of 2 and a trailing newline, written atomically (temporary file in the same
    directory, fsync, rename), keeping the existing mode and owner.
  - Safe in a directory that another user controls (C(~/.config/docker) of a rootless
    user, when the module runs as root). The path is opened one directory at a time
    without following symbolic links (C(openat) with C(O_NOFOLLOW)); a link on the way
    is followed only when it lies in a directory that only root or the user running the
    module can change, and a link as the file itself only with O(follow=true). Any other
    link fails the module with a message naming it, and nothing is read or written
    through it. Mode and owner are set on the open file, never through its path.
  - When the file does not exist and the result would be empty, nothing is created.
  - Shared by the C(nsguard.docker.engine), C(nsguard.docker.userns_remap) and
    C(nsguard.docker.rootless) roles.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - ansible.builtin.files
  - nsguard.docker.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports the change and the diff, writes nothing. Validation still runs when
        dockerd is present (it has no side effects); when dockerd is absent in check
        mode (for example because the play would install it first) validation is
        skipped with a warning. A dockerd without C(--validate) is handled as in a real
        run (O(validate_unsupported)).
  diff_mode:
    support: full
    details:
      - The diff is the JSON text before and after.
  idempotent:
    support: full
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
        20.10) have no C(--validate) flag. What happens then is set by
        O(validate_unsupported).
    type: bool
    default: true
  validate_unsupported:
    description:
      - What to do when O(validate=true) and dockerd has no C(--validate) flag (Docker
        older than 23.0, for example Debian 12's docker.io 20.10, whose dockerd answers
        C(unknown flag) to it).
      - V(fail) fails the module and writes nothing.
      - V(warn) writes the merged content without validation (in check mode, reports it)
        and adds a warning naming the dockerd, saying that Docker 23.0 or later is needed
        to validate and that the file was written unvalidated. RV(validated) is V(false).
      - Either way, content that a dockerd with C(--validate) rejects fails the module and
        is never written; a missing dockerd is handled as described for O(dockerd_path).
      - Ignored when O(validate=false).
    type: str
    choices: [fail, warn]
    default: fail
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
      - Permissions of the file, as an octal string such as V('0644') or a symbolic mode
        such as V(u=rw,g=r,o=).
      - When not set, an existing file keeps its mode and a new file gets V('0644').
    type: raw
  owner:
    description:
      - Owner of the file (a name or a numeric uid). When not set, an existing file keeps
        its owner and a new file belongs to the user the module runs as.
    type: str
  group:
    description:
      - Group of the file (a name or a numeric gid). When not set, an existing file keeps
        its group.
    type: str
  follow:
    description:
      - What to do when O(path) itself is a symbolic link.
      - V(false) (the default) refuses it. The module fails naming the link and changes
        nothing; a user who can write the directory could otherwise point the link at
        any file of the system and have it rewritten and chowned by root.
      - V(true) writes the link's target, but only when the link lies in a directory that
        only root or the user running the module can change (for example
        C(/etc/docker/daemon.json) linked to C(/srv/docker/daemon.json)). A link in a
        directory another user can change is refused either way.
      - Links in the directories of O(path) follow the same rule as with V(true).
    type: bool
    default: false
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
  service:
    description:
      - The systemd service of the daemon that reads O(path), for example V(docker.service).
      - When set, the command lines of its C(ExecStart=) (drop-ins included, as
        C(systemctl show) reports them) are compared with the merged configuration before
        anything is written. A key that this run adds or changes and that the command line
        also sets as a flag (V(hosts) beside C(-H fd://), V(data-root) beside
        C(--data-root)) fails the module and nothing is written; dockerd would refuse to
        start with both, and C(dockerd --validate) only sees the file. Such a key that was
        already in the file gives a warning.
      - A service that systemd does not know (not installed yet) is not checked.
      - Flags hidden in environment variables of the unit (C($DOCKER_OPTS)) are not seen.
    type: str
  rollback_copy:
    description:
      - Before an existing file is replaced, keep its exact bytes (mode and owner too) as
        C(<path>.nsguard-rollback) in the same directory, and return it as RV(rollback_file).
      - For M(nsguard.docker.daemon_restart), which puts the copy back when the daemon does not
        start with the new file, and removes it when it does.
    type: bool
    default: false
notes:
  - Only top-level keys can be removed.
  - O(unsafe_writes) has no effect, since the file is always replaced atomically in its
    own directory. O(attributes) and the SELinux options are refused for a file in a
    directory another user can change (they are applied through the path); run the task
    as that user instead.
  - To write a file in another user's home directory, prefer running the task as that
    user (C(become_user)), so that the kernel's own permission checks apply.
  - dockerd refuses to start when a key is set both in daemon.json and as a command line
    flag of the service; C(--validate) only sees the file. Set O(service) to find such
    conflicts before writing.
seealso:
  - module: nsguard.docker.daemon_restart
    description: Restarts the daemon and puts the previous file back if it does not start.
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

- name: Live restore; on Docker 20.10 (no --validate) written unvalidated, with a warning
  nsguard.docker.daemon_config:
    settings:
      live-restore: true
    validate_unsupported: warn
  notify: Restart docker

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
real_path:
  description: The file written when O(path) is a symbolic link followed with O(follow=true).
  returned: when it differs from O(path)
  type: str
  sample: /srv/docker/daemon.json
created:
  description: Whether the file did not exist before and was (or in check mode would be) created.
  returned: when the file was written
  type: bool
  sample: false
rollback_file:
  description: The copy of the previous file kept with O(rollback_copy=true).
  returned: when O(rollback_copy=true) and an existing file was replaced
  type: str
  sample: /etc/docker/daemon.json.nsguard-rollback
conflicts:
  description: Keys of the configuration that the command line of O(service) also sets, with the flag found there.
  returned: when O(service) is set and systemd knows it
  type: dict
  sample: {"hosts": "-H"}
validated_with:
  description: The dockerd binary that validated the new content.
  returned: when validation ran
  type: str
  sample: /usr/bin/dockerd
validated:
  description:
    - Whether dockerd accepted the new content in this run.
    - V(false) when nothing was validated, because nothing was to be written,
      O(validate=false), dockerd was not found in check mode, or dockerd has no
      C(--validate) and O(validate_unsupported=warn).
  returned: always
  type: bool
  sample: true
'''

import collections
import os
import re
import stat
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.nsguard.docker.plugins.module_utils import daemon_json, fileops

try:
    import grp
    import pwd
except ImportError:  # pragma: no cover - not on a POSIX host
    grp = pwd = None

_ModeBase = collections.namedtuple('_ModeBase', 'st_mode')
#: File options of ansible.builtin.files that are applied through the path.
_PATH_ATTRIBUTES = ('seuser', 'serole', 'selevel', 'setype', 'attributes')


def _wanted_mode(module, mode, current):
    """Numeric mode for ``mode`` (octal string, int or symbolic), relative to ``current``."""
    if mode is None:
        return None
    if isinstance(mode, int):
        return mode
    text = str(mode)
    if re.match(r'^0?[0-7]{1,4}$', text):
        return int(text, 8)
    try:
        return module._symbolic_mode_to_octal(_ModeBase(stat.S_IFREG | current), text)
    except ValueError as exc:
        module.fail_json(msg='mode %r: %s' % (text, to_native(exc)), path=module.params['path'])


def _numeric_id(module, value, lookup, what):
    if value is None:
        return None
    if re.match(r'^[0-9]+$', value):
        return int(value)
    try:
        return lookup(value)[2]
    except KeyError:
        module.fail_json(msg='%s %r does not exist on this host; nothing was changed'
                         % (what, value), path=module.params['path'])


def _find_dockerd(module):
    wanted = module.params['dockerd_path']
    if wanted:
        return wanted if os.path.isfile(wanted) and os.access(wanted, os.X_OK) else None
    return module.get_bin_path('dockerd', opt_dirs=daemon_json.DOCKERD_DIRS)


def validation_verdict(ok, stderr, validate_unsupported):
    """What dockerd's answer means for the write.

    ``accepted`` (write), ``rejected`` (fail), ``unsupported`` (dockerd has no --validate
    and ``validate_unsupported`` is ``fail``: fail) or ``unvalidated`` (no --validate and
    ``warn``: write with a warning). Content rejected by a dockerd that has --validate is
    ``rejected`` whatever ``validate_unsupported`` says.
    """
    if ok:
        return 'accepted'
    if not daemon_json.validate_unsupported(stderr):
        return 'rejected'
    return 'unvalidated' if validate_unsupported == 'warn' else 'unsupported'


def unvalidated_warning(dockerd, path, check_mode):
    """The warning of validate_unsupported=warn."""
    done = 'would be written' if check_mode else 'was written'
    return ('%s does not support --validate (Docker 23.0 or later is needed to validate '
            'daemon.json); %s %s without validation (validate_unsupported=warn)'
            % (dockerd, path, done))


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
    verdict = validation_verdict(ok, err, module.params['validate_unsupported'])
    if verdict == 'accepted':
        result['validated'] = True
        result['validated_with'] = dockerd
    elif verdict == 'unvalidated':
        module.warn(unvalidated_warning(dockerd, module.params['path'], module.check_mode))
    else:
        msg = 'dockerd rejected the merged configuration for %s (rc=%d): %s' % (
            module.params['path'], rc, (err or out or '').strip() or 'no output')
        if verdict == 'unsupported':
            msg = ('%s does not support --validate (Docker 23.0 or later is needed); set '
                   'validate_unsupported=warn or validate=false to write %s without '
                   'validation' % (dockerd, module.params['path']))
        module.fail_json(msg=msg + '. The file was not changed.', rc=rc, stdout=out,
                         stderr=err, cmd=argv, candidate=text, **result)


def _check_conflicts(module, config, changed, result):
    """Fail before writing when a key this run sets is also a flag of the service."""
    service = module.params['service']
    systemctl = module.get_bin_path('systemctl')
    if systemctl is None:
        module.warn('service=%s but systemctl was not found; the command line was not '
                    'compared with the configuration' % service)
        return
    rc, out, err = module.run_command([systemctl, 'show', '--property', 'LoadState,ExecStart',
                                       service], environ_update={'LANG': 'C', 'LC_ALL': 'C'})
    if rc != 0 or 'LoadState=loaded' not in out.splitlines():
        return
    conflicts = daemon_json.flag_conflicts(config, daemon_json.exec_start_argvs(out))
    result['conflicts'] = dict(conflicts)
    # A nested key (proxies.http-proxy) is changed with its top-level key.
    new = [(key, flag) for key, flag in conflicts if key.split('.', 1)[0] in changed]
    for key, flag in conflicts:
        if key.split('.', 1)[0] not in changed:
            module.warn('%s: %s is set in the file and as %s on the command line of %s; '
                        'dockerd refuses to start with both' % (module.params['path'], key,
                                                                flag, service))
    if new:
        keys = ', '.join(pair[0] for pair in new)
        module.fail_json(
            msg='%s: %s would be set both in the file and on the command line of %s (%s); '
                'dockerd refuses to start with a setting given both ways. Leave %s out of '
                'the settings, or change ExecStart in a drop-in. %s was not changed.'
                % (module.params['path'], keys, service, ', '.join(pair[1] for pair in new), keys,
                   module.params['path']), **result)


def _attribute_diff(before, after):
    """The mode/owner/group entries of a diff, for the fields that differ."""
    names = ('mode', 'owner', 'group')
    old, new = {}, {}
    for idx, name in enumerate(names):
        if before[idx] != after[idx]:
            old[name] = '%04o' % before[idx] if idx == 0 else before[idx]
            new[name] = '%04o' % after[idx] if idx == 0 else after[idx]
    return old, new


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default=daemon_json.DEFAULT_PATH),
            settings=dict(type='dict', default={}),
            remove=dict(type='list', elements='str', default=[]),
            merge_nested=dict(type='bool', default=False),
            validate=dict(type='bool', default=True),
            validate_unsupported=dict(type='str', default='fail', choices=['fail', 'warn']),
            dockerd_path=dict(type='path'),
            follow=dict(type='bool', default=False),
            backup=dict(type='bool', default=False),
            create_dirs=dict(type='bool', default=True),
            service=dict(type='str'),
            rollback_copy=dict(type='bool', default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    path = params['path'] if os.path.isabs(params['path']) else os.path.join(os.getcwd(), params['path'])
    result = dict(changed=False, path=path, validated=False)

    try:
        state = fileops.read_file(path, params['follow'])
        previous, before_text = daemon_json.load_text(daemon_json.decode(state.data, path), path)
    except (fileops.FileOpsError, daemon_json.DaemonJsonError) as exc:
        msg = to_native(exc)
        if 'nothing was changed' not in msg:
            msg += '; the file was left unchanged'
        module.fail_json(msg=msg, **result)
    result['previous'] = previous
    if state.real != path:
        result['real_path'] = state.real
    wanted_path_attributes = dict((k, params[k]) for k in _PATH_ATTRIBUTES if params[k])
    if wanted_path_attributes and not state.dir_trusted:
        module.fail_json(msg='%s: %s cannot be set in a directory that another user can '
                             'change; run the task as that user. Nothing was changed.'
                             % (path, ', '.join(sorted(wanted_path_attributes))), **result)

    try:
        config = daemon_json.merge(previous, params['settings'], params['remove'],
                                   params['merge_nested'])
        after_text = daemon_json.render(config)
    except daemon_json.DaemonJsonError as exc:
        module.fail_json(msg=to_native(exc), **result)
    result['config'] = config
    result['changed_keys'] = daemon_json.changed_keys(previous, config)

    exists = state.data is not None
    old = state.stat
    current_mode = stat.S_IMODE(old.st_mode) if exists else daemon_json.DEFAULT_MODE
    mode = _wanted_mode(module, params['mode'], current_mode)
    uid = _numeric_id(module, params['owner'], pwd.getpwnam, 'owner')
    gid = _numeric_id(module, params['group'], grp.getgrnam, 'group')
    if exists:
        write = not daemon_json.semantic_equal(previous, config)
        before_attrs = (current_mode, old.st_uid, old.st_gid)
        after_attrs = (current_mode if mode is None else mode,
                       old.st_uid if uid is None else uid, old.st_gid if gid is None else gid)
    else:
        # Nothing to say and no file: do not create an empty one.
        write = bool(config)
        before_attrs = after_attrs = None
    diffs = []

    if params['service']:
        _check_conflicts(module, config, result['changed_keys'], result)
    if write:
        if params['validate']:
            _run_validation(module, after_text, result)
        result['changed'] = True
        result['created'] = not exists
        diffs.append(dict(before=before_text or '', after=after_text,
                          before_header=path, after_header=path))
        if not module.check_mode:
            context = None
            if exists and state.dir_trusted and module.selinux_enabled():
                context = module.selinux_context(state.real)
            try:
                if exists and params['backup']:
                    stamp = time.strftime('%Y-%m-%d@%H:%M:%S~', time.localtime())
                    result['backup_file'] = fileops.atomic_write(
                        '%s.%d.%s' % (state.real, os.getpid(), stamp), state.data,
                        mode=current_mode, uid=old.st_uid, gid=old.st_gid, follow=False)
                if exists and params['rollback_copy']:
                    result['rollback_file'] = fileops.atomic_write(
                        daemon_json.rollback_path(state.real), state.data,
                        mode=current_mode, uid=old.st_uid, gid=old.st_gid, follow=False)
                fileops.atomic_write(
                    path, after_text.encode('utf-8'), mode=mode, uid=uid, gid=gid,
                    default_mode=daemon_json.DEFAULT_MODE, follow=params['follow'],
                    create_dirs=params['create_dirs'])
            except fileops.FileOpsError as exc:
                hint = ' (create_dirs=false)' if not params['create_dirs'] else ''
                module.fail_json(msg='%s%s' % (to_native(exc), hint), **result)
            if context is not None:
                module.set_context_if_different(state.real, context, False)
    elif before_attrs != after_attrs:
        result['changed'] = True
        if not module.check_mode:
            try:
                fileops.set_attributes(path, mode, uid, gid, follow=params['follow'])
            except fileops.FileOpsError as exc:
                module.fail_json(msg=to_native(exc), **result)
    if before_attrs != after_attrs:
        old_attrs, new_attrs = _attribute_diff(before_attrs, after_attrs)
        diffs.append(dict(before=old_attrs, after=new_attrs,
                          before_header=path, after_header=path))

    # Applied through the path: only where no other user can swap what it names.
    if wanted_path_attributes and (exists or write) and not module.check_mode:
        file_args = module.load_file_common_arguments(dict(path=state.real, follow=False))
        for key in ('mode', 'owner', 'group'):
            file_args[key] = None
        result['changed'] = module.set_fs_attributes_if_different(file_args, result['changed'])
    elif write and not exists and not module.check_mode and module.selinux_enabled() \
            and state.dir_trusted:
        module.set_default_selinux_context(state.real, False)

    if module._diff and diffs:
        result['diff'] = diffs if len(diffs) > 1 else diffs[0]
    module.exit_json(**result)


if __name__ == '__main__':
    main()
