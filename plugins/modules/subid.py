#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: subid
short_description: Manage subordinate UID/GID ranges in /etc/subuid and /etc/subgid without overlaps
version_added: 0.1.0
description:
  - Gives a user a range of subordinate user and group IDs, as rootless Docker, rootless
    Podman and Docker's C(userns-remap) need, or removes the user's ranges.
  - Unlike editing the files with M(ansible.builtin.lineinfile), the range is chosen so
    that it overlaps no range of any other owner. Without O(start) it is the lowest free
    range between C(SUB_UID_MIN)/C(SUB_GID_MIN) and C(SUB_UID_MAX)/C(SUB_GID_MAX) of
    C(login.defs), the way C(useradd) allocates; when the user's range only has to grow,
    its start is kept if the larger range still fits there, so existing ID mappings stay valid.
  - A range the module chooses, or asks for with O(start), never contains the UID (subuid)
    or GID (subgid) of an existing account or group as NSS enumerates them (C(getpwall),
    C(getgrall); that is local files, and LDAP or sssd where they enumerate), since a container ID mapped
    onto one would own that account's files. A range the user already has that contains one
    is kept, with a warning naming the IDs (moving it would orphan its containers' files).
  - "Where shadow's C(getsubids) exists (O(getsubids_path)), it is asked for the ranges of every owner of the files
    and of the user (C(getsubids OWNER), C(getsubids -g OWNER)): it answers from the NSS subid provider, which may
    be sssd rather than the files. A range it reports that the file does not hold counts as taken when a range is
    chosen or checked; one it reports as it is in the file is the file's own (no conflict with itself). A user whose
    only range comes from there, long enough (and at O(start) when given), is left as it is: nothing is written and
    RV(getsubids.user_only_there) names the file; one that is too short fails the module (change it where it is
    defined). Without C(getsubids) nothing of this happens."
  - An existing range of the user is never moved silently. Whenever the new range would not
    contain every ID of the user's existing ranges (a I(move)), the module fails and changes
    nothing, unless O(allow_move=true) or an explicit O(start) asks for it; see O(allow_move).
  - A line belongs to the user when its owner field is the user name or the user's
    numeric UID. Lines of other owners, comments and blank lines are never changed,
    reordered or reformatted.
  - When the user already has a range at least O(count) long (and starting at O(start)
    when given) that overlaps nobody else's, the files are left exactly as they are.
    Otherwise all of the user's lines are replaced by one C(name:start:count) line, at
    the place of the first of them.
  - Every file is parsed and every input checked before anything is written. A line that
    is not C(owner:start:count), a comment (C(#) in the first column) or blank fails the
    module with its file and line number, and nothing is changed. So does a line whose
    range goes past ID 4294967294 (start above 4294967294, count above 4294967295, or a
    last ID C(start + count - 1) above 4294967294; a count of 0 is allowed).
  - Takes the same locks as C(useradd) and C(usermod) (C(lckpwdf) on C(/etc/.pwd.lock)
    and the C(<file>.lock) of shadow-utils) while it reads and writes, waiting at most
    15 seconds for each; writes are atomic and keep the mode and owner of the files.
    Check mode takes no locks and writes nothing.
author:
  - nsguard.docker maintainers (@nsguard)
extends_documentation_fragment:
  - nsguard.docker.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  name:
    description:
      - Name of the user whose subordinate ID ranges are managed.
      - New lines are written with this name as owner (for a numeric UID, see below, with
        the account's name).
      - Never accepted (whatever O(allow_unknown_user)) when empty, containing C(:) or white
        space (including newlines), or starting with C(#).
      - A name of an existing account (C(getpwnam)) is accepted as it is.
      - A name made only of digits is read by shadow-utils as a numeric UID, so it is
        refused unless it is the UID (in canonical decimal, no leading zeros) of an existing
        account (C(getpwuid)), no account of that name has another UID, and
        O(allow_unknown_user=false). It then stands for that account; lines owned by the
        account's name or by the number are the user's, and new lines are written with the
        account's name. With O(allow_unknown_user=true) a numeric name is always refused,
        also with O(state=absent).
      - A name that does not exist (only with O(allow_unknown_user=true)) must be a
        conservative login name, C(^[A-Za-z_][A-Za-z0-9._-]*\$?$), at most 32 characters.
      - A refused name fails the module with the rule that refused it; nothing is changed.
    type: str
    required: true
    aliases: [user]
  state:
    description:
      - V(present) makes sure the user has a range of at least O(count) IDs in each of
        O(databases); V(absent) removes every line of the user (by name or UID).
    type: str
    choices: [present, absent]
    default: present
  count:
    description:
      - Number of subordinate IDs the user needs.
      - An existing range of the user that is longer is kept as it is.
      - Values below 65536 are refused unless O(allow_small_count=true), since container
        images routinely use IDs up to 65535.
      - Ignored when O(state=absent).
    type: int
    default: 65536
  start:
    description:
      - First ID of the range. When omitted the range is allocated automatically (see
        above).
      - The module fails, naming the other owner and its range, when the requested range
        overlaps a range of another owner. C(SUB_*_MIN)/C(SUB_*_MAX) do not restrict an
        explicit start, but the last ID of the range must not exceed 4294967294.
      - A start different from the start of the user's existing range is a deliberate move
        of the user's IDs; it is carried out without O(allow_move), but warned about and
        returned in RV(moved), with the old and the new range.
      - Ignored when O(state=absent).
    type: int
  databases:
    description:
      - Which files to manage, V(subuid) (O(subuid_path)) and/or V(subgid) (O(subgid_path)).
    type: list
    elements: str
    choices: [subuid, subgid]
    default: [subuid, subgid]
  allow_unknown_user:
    description:
      - By default the user must exist in the passwd database (C(getpwnam)), or O(name)
        must be the numeric UID of an existing account.
      - When V(true) and the user does not exist, only lines whose owner field is the
        name are the user's; numeric lines are left alone as they belong to someone else.
        The name must then be a conservative login name (see O(name)).
      - When V(true), a O(name) made only of digits is always refused, since shadow-utils
        reads it as a UID (C(0) is root); a number is never the name of an unknown user.
    type: bool
    default: false
  allow_move:
    description:
      - Allow replacing the user's existing ranges by a range that does not contain all of
        their IDs (a I(move)), when O(start) is not given. Files that the user's rootless
        containers own under the old IDs are then no longer mapped.
      - "It applies when: one of the user's ranges overlaps a range of another owner (the
        user gets a new free range; the other owner keeps the shared IDs); a larger
        O(count) cannot be had at the existing start (another owner's range is in the way,
        the larger range would pass C(SUB_*_MAX), or the start is below C(SUB_*_MIN)); or
        the user has several lines and the one line that replaces them would not contain
        all of their IDs."
      - When V(false) (the default) in those cases the module fails, naming the user's
        range(s), the other owner's range(s) with line numbers and the shared IDs, or why
        the range cannot grow in place, and changes nothing in any file.
      - When V(true) the move is made, warned about with the old and the new range for each
        file, and returned in RV(moved).
      - Growing a range at its start (same start, larger count, no overlap) is not a move
        and needs no option. An explicit O(start) is a deliberate move and needs no option.
      - Ignored when O(state=absent).
    type: bool
    default: false
  map_own_id:
    description:
      - Also give the user the single ID of their own account, a line C(name:<uid>:1) in the
        subuid file and C(name:<gid>:1) (the primary group) in the subgid file, right before
        the range.
      - For Docker's C(userns-remap) to a login user (C(userns-remap) set to C(alice)), dockerd
        then maps container root to the user's own uid and gid, and container IDs from 1 to
        the range, so files that root writes on a bind mount belong to the user, and a file of
        container uid 1000 to the range start + 999.
      - dockerd sorts a user's ranges by their first ID, so the range must start above the
        user's own ID; the module fails, changing nothing, when it does not, or when another
        owner's range holds that ID. Needs an existing account (not with
        O(allow_unknown_user=true) for a user that does not exist).
      - Whatever this option, a single-ID line of the user's own ID is the user's; it is
        kept, never counted as a range or a move; O(state=absent) removes it with the rest.
      - Ignored when O(state=absent).
    type: bool
    default: false
  allow_small_count:
    description:
      - Accept O(count) below 65536.
    type: bool
    default: false
  backup:
    description:
      - Before changing a file, copy it to a backup with a timestamp in its name, as
        M(ansible.builtin.copy) does.
    type: bool
    default: false
  subuid_path:
    description:
      - Path of the subordinate UID file.
    type: path
    default: /etc/subuid
  subgid_path:
    description:
      - Path of the subordinate GID file.
    type: path
    default: /etc/subgid
  getsubids_path:
    description:
      - Shadow's C(getsubids) (from C(uidmap) or C(shadow-utils) where it has it). Consulted only when it is an
        executable file; see the description.
    type: path
    default: /usr/bin/getsubids
  login_defs_path:
    description:
      - Path of C(login.defs), read for C(SUB_UID_MIN), C(SUB_UID_MAX), C(SUB_GID_MIN) and
        C(SUB_GID_MAX) (defaults 100000 and 600100000 when unset or when the file is
        missing).
    type: path
    default: /etc/login.defs
notes:
  - C(newuidmap) and C(newgidmap), from the C(uidmap) package on Debian and Ubuntu, are
    what use these ranges; the role C(nsguard.docker.subids) installs the package.
  - Ranges that already overlap between two other owners are left alone, and reported
    as warnings.
  - Numbers with leading zeros (C(alice:0100000:65536)) are refused as malformed, since
    shadow-utils versions disagree on whether they are octal.
seealso:
  - name: subuid(5)
    description: Format of the subordinate UID file.
    link: https://man7.org/linux/man-pages/man5/subuid.5.html
  - name: subgid(5)
    description: Format of the subordinate GID file.
    link: https://man7.org/linux/man-pages/man5/subgid.5.html
'''

EXAMPLES = r'''
- name: Give the rootless Docker user 65536 subordinate UIDs and GIDs
  nsguard.docker.subid:
    name: dockrun

- name: Give a user a larger range at a fixed place
  nsguard.docker.subid:
    name: ci
    start: 1000000
    count: 131072

- name: Only subordinate GIDs, with a backup of the file
  nsguard.docker.subid:
    name: builder
    databases: [subgid]
    backup: true

- name: Give a user whose range overlaps another owner's a new free range
  nsguard.docker.subid:
    name: alice
    allow_move: true        # her old IDs are given up: stop her rootless daemon first

- name: Map container root to alice herself when userns-remap names her (alice:1000:1, then her range)
  nsguard.docker.subid:
    name: alice
    map_own_id: true

- name: Reserve a range for a user that is created later (e.g. by LDAP)
  nsguard.docker.subid:
    name: remote-user
    allow_unknown_user: true

- name: Remove the ranges of a user
  nsguard.docker.subid:
    name: olduser
    state: absent
    allow_unknown_user: true
'''

RETURN = r'''
subuid:
  description:
    - The user's range in the subuid file after the run (the one that satisfied the
      request when several lines were already there).
    - V(null) when O(state=absent) or when V(subuid) is not in O(databases).
  returned: always
  type: dict
  contains:
    start:
      description: First subordinate UID.
      type: int
      sample: 100000
    count:
      description: Number of subordinate UIDs.
      type: int
      sample: 65536
  sample: {start: 100000, count: 65536}
subgid:
  description:
    - The user's range in the subgid file after the run.
    - V(null) when O(state=absent) or when V(subgid) is not in O(databases).
  returned: always
  type: dict
  contains:
    start:
      description: First subordinate GID.
      type: int
      sample: 100000
    count:
      description: Number of subordinate GIDs.
      type: int
      sample: 65536
  sample: {start: 100000, count: 65536}
moved:
  description:
    - The user's ranges that were (in check mode, would be) moved, by database name; empty
      when nothing moved. See O(allow_move) and O(start).
    - C(from) lists all of the user's lines that were replaced (with their line numbers),
      C(to) is the user's new range.
  returned: always
  type: dict
  sample:
    subuid:
      from: [{start: 100000, count: 65536, line: 4}]
      to: {start: 165536, count: 65536}
getsubids:
  description: What C(getsubids) reported beyond the files; see O(getsubids_path).
  returned: always
  type: dict
  contains:
    path:
      description: The C(getsubids) consulted; null when it is not on the host (nothing else is then filled in).
      type: str
      sample: /usr/bin/getsubids
    external:
      description:
        - By database, the ranges it reported, for the owners of the file and the user, that the file does not hold
          (C(owner), C(start), C(count)); they counted as taken.
      type: dict
      sample: {subuid: [{owner: bob, start: 200000, count: 65536}], subgid: []}
    user_only_there:
      description: The databases in which the user's range is one only C(getsubids) reported; nothing was written for it.
      type: list
      elements: str
      sample: [subuid, subgid]
backup_files:
  description: Backups made, by database name.
  returned: when O(backup=true) and a file was changed
  type: dict
  sample: {subuid: /etc/subuid.4242.2025-01-31@12:00:00~}
backup_file:
  description: The first backup made (same as one of the values of RV(backup_files)).
  returned: when O(backup=true) and a file was changed
  type: str
  sample: /etc/subuid.4242.2025-01-31@12:00:00~
'''

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.nsguard.docker.plugins.module_utils.subid import (
    DATABASES,
    SubidError,
    ensure_absent,
    ensure_present,
    external_ranges,
    find_overlaps,
    ids_in_range,
    login_defs_limits,
    parse,
    parse_getsubids,
    render,
    resolve_user,
    validate_request,
)
from ansible_collections.nsguard.docker.plugins.module_utils.fileops import (
    FileOpsError,
    atomic_write,
    read_bytes,
    shadow_locks,
)

#: lckpwdf(3)'s lock file; a module-level constant so tests can point it elsewhere.
PWD_LOCK_PATH = '/etc/.pwd.lock'
#: Seconds to wait for each lock, as lckpwdf(3) does.
LOCK_TIMEOUT = 15.0
#: The option flag of getsubids for each database.
GETSUBIDS_ARGS = {'subuid': [], 'subgid': ['-g']}

_ENCODING = ('utf-8', 'surrogateescape')


def _decode(data):
    return data.decode(*_ENCODING)


def _encode(text):
    return text.encode(*_ENCODING)


def _printable(text):
    """Text safe for JSON output (undecodable bytes shown as U+FFFD)."""
    return _encode(text).decode('utf-8', 'replace')


def _lookup_uid(name):
    try:
        return pwd.getpwnam(name).pw_uid
    except (KeyError, ValueError):
        return None


def _resolve_owner(owner):
    """Principal of an owner field: the uid when known, else the name itself."""
    if owner.isdigit():
        return int(owner)
    uid = _lookup_uid(owner)
    return owner if uid is None else uid


def _span(start, count):
    return '%d-%d' % (start, start + count - 1)


class _NoLock(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True, aliases=['user']),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            count=dict(type='int', default=65536),
            start=dict(type='int'),
            databases=dict(type='list', elements='str', choices=list(DATABASES),
                           default=list(DATABASES)),
            allow_unknown_user=dict(type='bool', default=False),
            allow_small_count=dict(type='bool', default=False),
            allow_move=dict(type='bool', default=False),
            map_own_id=dict(type='bool', default=False),
            backup=dict(type='bool', default=False),
            subuid_path=dict(type='path', default='/etc/subuid'),
            subgid_path=dict(type='path', default='/etc/subgid'),
            login_defs_path=dict(type='path', default='/etc/login.defs'),
            getsubids_path=dict(type='path', default='/usr/bin/getsubids'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    name = params['name']
    present = params['state'] == 'present'
    result = dict(changed=False, subuid=None, subgid=None, moved={},
                  getsubids=dict(path=None, external={}, user_only_there=[]))

    # --- inputs ---------------------------------------------------------------
    try:
        # a numeric name of an existing account stands for that account: user is its name
        user, uid = resolve_user(name, pwd.getpwnam, pwd.getpwuid, params['allow_unknown_user'])
    except SubidError as exc:
        module.fail_json(msg=str(exc), **result)
    # the ids of every account NSS lists (local, LDAP, sssd): no new range contains one
    account_ids = _account_ids()
    # the account's own uid and primary gid: a single-id line of them is the user's
    own_ids = {}
    if uid is not None:
        try:
            account = pwd.getpwuid(uid)
            own_ids = {'subuid': account.pw_uid, 'subgid': account.pw_gid}
        except KeyError:
            pass
    if present and params['map_own_id'] and not own_ids:
        module.fail_json(msg='map_own_id needs an existing account: %s has none' % name, **result)
    databases = [db for db in DATABASES if db in (params['databases'] or [])]
    if not databases:
        module.fail_json(msg='databases must name subuid and/or subgid', **result)
    paths = {'subuid': params['subuid_path'], 'subgid': params['subgid_path']}
    if len(databases) == 2 and os.path.realpath(paths['subuid']) == os.path.realpath(paths['subgid']):
        module.fail_json(msg='subuid_path and subgid_path are the same file (%s)' % paths['subuid'],
                         **result)
    if present:
        try:
            validate_request(params['count'], params['start'], params['allow_small_count'])
        except SubidError as exc:
            module.fail_json(msg=str(exc), **result)

    try:
        defs = read_bytes(params['login_defs_path'])
        limits = login_defs_limits(None if defs is None else _decode(defs),
                                   params['login_defs_path'])
    except (SubidError, FileOpsError) as exc:
        module.fail_json(msg=str(exc), **result)

    # --- compute everything, then write ---------------------------------------
    if module.check_mode:
        locks = _NoLock()
    else:
        locks = shadow_locks([paths[db] for db in databases], PWD_LOCK_PATH, LOCK_TIMEOUT)

    getsubids = params['getsubids_path']
    if not (present and getsubids and os.path.isfile(getsubids) and os.access(getsubids, os.X_OK)):
        getsubids = None
    result['getsubids']['path'] = getsubids

    plans = []
    written = []
    try:
        with locks:
            for db in databases:
                path = paths[db]
                data = read_bytes(path)
                before = '' if data is None else _decode(data)
                entries = parse(before, path)
                if present:
                    external = []
                    if getsubids:
                        external = external_ranges(entries, _reported(module, getsubids, db, entries, user),
                                                   _resolve_owner)
                        result['getsubids']['external'][db] = [
                            dict(owner=line.owner, start=line.start, count=line.count) for line in external]
                    try:
                        res = ensure_present(entries, user, uid, params['count'], params['start'],
                                             limits[db]['min'], limits[db]['max'],
                                             params['allow_small_count'], params['allow_move'],
                                             own_ids.get(db), params['map_own_id'], account_ids[db], external)
                    except SubidError as exc:
                        raise SubidError('%s (%s): %s' % (db, path, exc))
                    result[db] = dict(start=res.start, count=res.count)
                    if res.source != 'file':
                        result['getsubids']['user_only_there'].append(db)
                    if res.moved:
                        result['moved'][db] = {
                            'from': [dict(start=line.start, count=line.count, line=line.lineno)
                                     for line in res.moved],
                            'to': dict(start=res.start, count=res.count)}
                else:
                    res = ensure_absent(entries, user, uid)
                plans.append((db, path, data is not None, before, render(res.entries), res))

            backups = {}
            for db, path, existed, before, after, res in plans:
                if before == after:
                    continue
                result['changed'] = True
                if module.check_mode:
                    continue
                if params['backup'] and existed:
                    try:
                        backups[db] = module.backup_local(path)
                    except Exception as exc:  # pylint: disable=broad-except
                        raise FileOpsError('backup of %s failed: %s' % (path, exc))
                atomic_write(path, _encode(after))
                written.append(path)
            if backups:
                result['backup_files'] = backups
                result['backup_file'] = backups[[db for db in databases if db in backups][0]]
    except (SubidError, FileOpsError) as exc:
        msg = str(exc)
        if written:
            msg += ' (already written: %s)' % ', '.join(written)
            result['changed'] = True
        module.fail_json(msg=msg, **result)

    for db, path, existed, before, after, res in plans:
        if db in result['moved']:
            module.warn('%s: %s of %s moved to %s%s; files that %s\'s rootless containers own '
                        'under the old ids are no longer mapped (stop the user\'s daemon first; '
                        'chown them or pull the images again)%s' % (
                            path, ', '.join('range %s (line %s)' % (_span(line.start, line.count), line.lineno)
                                            for line in res.moved if line.count),
                            user, _span(res.start, res.count),
                            ' (explicit start)' if params['start'] is not None else '',
                            user, ' (check mode: nothing written)' if module.check_mode else ''))
        if present:
            inside = ids_in_range(set(account_ids[db]) - set([own_ids.get(db)]), res.start, res.count)
            if inside:
                module.warn('%s: %s\'s range %s contains the %s of existing account(s): %s; a container id '
                            'mapped there owns that account\'s files (kept: moving a range orphans the files '
                            'of its containers; set start, or allow_move, to give %s another)' % (
                                path, user, _span(res.start, res.count), 'uid' if db == 'subuid' else 'gid',
                                ', '.join(str(number) for number in inside[:10])
                                + (' and %d more' % (len(inside) - 10) if len(inside) > 10 else ''), user))
        for overlap in find_overlaps(res.entries, _resolve_owner):
            a, b = overlap['a'], overlap['b']
            module.warn('%s: ranges of %s (line %s) and %s (line %s) overlap in %d ids from %d; '
                        'left as they are' % (path, a['owner'], a['line'], b['owner'], b['line'],
                                              overlap['count'], overlap['start']))

    if module._diff:
        result['diff'] = [dict(before=_printable(before), after=_printable(after),
                               before_header=path, after_header=path)
                          for db, path, existed, before, after, res in plans]
    module.exit_json(**result)


def _reported(module, getsubids, db, entries, user):
    """The ranges ``getsubids`` reports for every owner of ``entries`` and for ``user``
    (one run per owner; a run that fails reports nothing)."""
    owners = []
    for owner in [line.owner for line in entries if line.is_entry] + [user]:
        # an owner field that getsubids would read as an option is nobody it can name
        if owner not in owners and not owner.startswith('-'):
            owners.append(owner)
    out = []
    for owner in owners:
        rc, stdout, dummy = module.run_command([getsubids] + GETSUBIDS_ARGS[db] + [owner],
                                               environ_update={'LC_ALL': 'C'})
        if rc == 0:
            out.extend(parse_getsubids(stdout))
    return out


def _account_ids():
    """{'subuid': uids, 'subgid': gids} of every account and group NSS enumerates."""
    uids, gids = set(), set()
    try:
        for account in pwd.getpwall():
            uids.add(account.pw_uid)
            gids.add(account.pw_gid)
        for group in grp.getgrall():
            gids.add(group.gr_gid)
    except (KeyError, OSError):  # an NSS source that cannot enumerate: the local files still counted
        pass
    return {'subuid': sorted(uids), 'subgid': sorted(gids)}


def main():
    run_module()


if __name__ == '__main__':
    main()
