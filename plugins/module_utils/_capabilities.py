# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Linux capabilities: their names, the security fields of /proc/<pid>/status, and which
of them make a process host root when they act on the host.

A capability acts on the resources its user namespace owns (and those of the namespaces
that namespace owns). /proc/<pid>/status shows the same CapEff for root in a default
container and for root in a rootless one: which user namespace the process is in decides
whether the set is real on the host. That decision is _container_privilege's; this file
only names and counts.

Pure functions over text; standard library only, imports nothing of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

#: Capability names by number, as in include/uapi/linux/capability.h of Linux 6.x
#: (CAP_LAST_CAP is 40, CAP_CHECKPOINT_RESTORE, since 5.9).
CAPABILITIES = (
    'CAP_CHOWN',               # 0
    'CAP_DAC_OVERRIDE',        # 1
    'CAP_DAC_READ_SEARCH',     # 2
    'CAP_FOWNER',              # 3
    'CAP_FSETID',              # 4
    'CAP_KILL',                # 5
    'CAP_SETGID',              # 6
    'CAP_SETUID',              # 7
    'CAP_SETPCAP',             # 8
    'CAP_LINUX_IMMUTABLE',     # 9
    'CAP_NET_BIND_SERVICE',    # 10
    'CAP_NET_BROADCAST',       # 11
    'CAP_NET_ADMIN',           # 12
    'CAP_NET_RAW',             # 13
    'CAP_IPC_LOCK',            # 14
    'CAP_IPC_OWNER',           # 15
    'CAP_SYS_MODULE',          # 16
    'CAP_SYS_RAWIO',           # 17
    'CAP_SYS_CHROOT',          # 18
    'CAP_SYS_PTRACE',          # 19
    'CAP_SYS_PACCT',           # 20
    'CAP_SYS_ADMIN',           # 21
    'CAP_SYS_BOOT',            # 22
    'CAP_SYS_NICE',            # 23
    'CAP_SYS_RESOURCE',        # 24
    'CAP_SYS_TIME',            # 25
    'CAP_SYS_TTY_CONFIG',      # 26
    'CAP_MKNOD',               # 27
    'CAP_LEASE',               # 28
    'CAP_AUDIT_WRITE',         # 29
    'CAP_AUDIT_CONTROL',       # 30
    'CAP_SETFCAP',             # 31
    'CAP_MAC_OVERRIDE',        # 32
    'CAP_MAC_ADMIN',           # 33
    'CAP_SYSLOG',              # 34
    'CAP_WAKE_ALARM',          # 35
    'CAP_BLOCK_SUSPEND',       # 36
    'CAP_AUDIT_READ',          # 37
    'CAP_PERFMON',             # 38
    'CAP_BPF',                 # 39
    'CAP_CHECKPOINT_RESTORE',  # 40
)
CAP_NUMBERS = dict((name, number) for number, name in enumerate(CAPABILITIES))
LAST_CAP = len(CAPABILITIES) - 1
ALL_CAPABILITIES = frozenset(CAPABILITIES)

#: What a container of Docker gets without --cap-add/--cap-drop (moby's
#: oci/caps.DefaultCapabilities): CapEff 00000000a80425fb for its root.
DOCKER_DEFAULT_CAPS = frozenset((
    'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
    'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
    'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'))

#: Capabilities with which a process that is confined by its mount namespace (it sees only
#: its own files) still becomes host root, when they act on the host: one line each, why.
HOST_ROOT_CAPS = {
    # mount(), cgroup v1 release_agent, setns(), bpf() before 5.8, keyctl, ...: "the new root".
    # AppArmor's docker-default denies mount() but not the rest.
    'CAP_SYS_ADMIN': 'mounts file systems, writes cgroup release agents and much else root does',
    # init_module(): kernel code runs with every privilege there is.
    'CAP_SYS_MODULE': 'loads kernel modules',
    # ptrace()/process_vm_writev() into a host root process, e.g. PID 1; needs the host's PID
    # namespace to see one (counted only then, see host_root_caps).
    'CAP_SYS_PTRACE': 'injects code into host root processes when the host PID namespace is shared',
    # iopl()/ioperm(): raw I/O ports (disk controllers) below every file permission.
    'CAP_SYS_RAWIO': 'reaches hardware through raw I/O ports below file permissions',
    # open_by_handle_at(): opens any inode of a mounted file system by handle, outside the
    # mount namespace ("shocker"); with CAP_DAC_OVERRIDE (Docker's default) for writing too.
    'CAP_DAC_READ_SEARCH': 'opens any host file by handle (open_by_handle_at), outside its mounts',
    # Together only: tracing BPF programs (CAP_PERFMON) read kernel memory and write other
    # processes' memory (bpf_probe_write_user); CAP_BPF alone loads no tracing program.
    'CAP_BPF': 'with CAP_PERFMON, loads tracing programs that write host processes\' memory',
    'CAP_PERFMON': 'with CAP_BPF, loads tracing programs that write host processes\' memory',
}
# Left out, each with its reason:
# CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER, CAP_SETUID, CAP_MKNOD: in Docker's default set;
#   they act only on the files the mount namespace shows (a host mount is judged as a
#   mount) and the device cgroup refuses the nodes CAP_MKNOD makes.
# CAP_SYS_BOOT: reboot() outside the host's PID namespace only ends the container;
#   kexec_load() replaces the kernel by rebooting (the default seccomp profile refuses it):
#   a denial of service, not root on this host.
# CAP_NET_ADMIN, CAP_SYS_TIME, CAP_MAC_ADMIN, CAP_SYSLOG: reconfigure or read the host
#   (network, clock, LSM policy, kernel log) without giving a root process.

#: Capabilities of HOST_ROOT_CAPS that count only together with another one.
_PAIRS = {'CAP_BPF': 'CAP_PERFMON', 'CAP_PERFMON': 'CAP_BPF'}

SECCOMP_MODES = {0: 'disabled', 1: 'strict', 2: 'filter'}


def cap_name(number):
    """Name of capability ``number``; ``CAP_<n>`` for a bit this table does not know."""
    if 0 <= number <= LAST_CAP:
        return CAPABILITIES[number]
    return 'CAP_%d' % number


def decode_caps(hex_string):
    """A capability mask as /proc/<pid>/status prints it (``00000000a80425fb``) -> sorted
    list of names; bits above CAP_LAST_CAP as ``CAP_<n>``. ValueError for non-hex text."""
    mask = int(hex_string.strip(), 16)
    if mask < 0:
        raise ValueError('negative capability mask %r' % (hex_string,))
    names = []
    number = 0
    while mask:
        if mask & 1:
            names.append(cap_name(number))
        mask >>= 1
        number += 1
    return sorted(names)


def cap_number(name):
    """Number of a capability name (``CAP_SYS_ADMIN`` or ``CAP_<n>``); ValueError otherwise."""
    if name in CAP_NUMBERS:
        return CAP_NUMBERS[name]
    if name.startswith('CAP_') and name[4:].isdigit():
        return int(name[4:])
    raise ValueError('unknown capability %r' % (name,))


def encode_caps(names):
    """Names -> the 16 hex digits /proc/<pid>/status prints (decode_caps' inverse)."""
    mask = 0
    for name in names:
        mask |= 1 << cap_number(name)
    return '%016x' % mask


def normalize_cap(name):
    """A capability as Docker accepts it (``sys_admin``, ``SYS_ADMIN``, ``CAP_SYS_ADMIN``) ->
    ``CAP_SYS_ADMIN``; ``ALL`` stays ``ALL``."""
    name = str(name).strip().upper()
    if name == 'ALL' or name.startswith('CAP_'):
        return name
    return 'CAP_' + name


#: What Docker 20.10 leaves out of "all" (privileged, --cap-add ALL): moby#41563 held
#: them back while runc did not know them; Docker 23.0 gives them again.
HELD_BACK_BEFORE_23 = frozenset(('CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE'))


def daemon_all_caps(server_version=None):
    """Every capability a daemon of ``server_version`` (ServerVersion, e.g. '20.10.24+dfsg1')
    gives for "all": without the three of HELD_BACK_BEFORE_23 before Docker 23.0; all of
    them for a newer or unknown version."""
    try:
        major = int(str(server_version or '').split('.', 1)[0])
    except ValueError:
        major = None
    if major is not None and major < 23:
        return frozenset(ALL_CAPABILITIES) - HELD_BACK_BEFORE_23
    return frozenset(ALL_CAPABILITIES)


def docker_caps(privileged=False, cap_add=None, cap_drop=None, server_version=None):
    """The capability set Docker gives a container's root (bounding set), from HostConfig's
    Privileged, CapAdd and CapDrop, as moby's TweakCapabilities computes it: privileged ->
    all; ALL added -> all but those dropped; ALL dropped -> only those added; else the
    default set minus those dropped plus those added. "All" is what the daemon's version
    gives (daemon_all_caps). Sorted names."""
    every = daemon_all_caps(server_version)
    if privileged:
        return sorted(every)
    adds = [normalize_cap(c) for c in cap_add or ()]
    drops = [normalize_cap(c) for c in cap_drop or ()]
    if 'ALL' in adds:
        caps = set(every) - set(drops)
    elif 'ALL' in drops:
        caps = set(adds)
    else:
        caps = (set(DOCKER_DEFAULT_CAPS) - set(drops)) | set(adds)
    return sorted(caps)


def host_root_caps(caps, host_pid=True):
    """The capabilities of ``caps`` that make a process host root when they act on the host
    (HOST_ROOT_CAPS): CAP_SYS_PTRACE only when ``host_pid`` (the host's PID namespace is
    shared, or not known not to be), CAP_BPF and CAP_PERFMON only together. Sorted."""
    present = set(caps or ())
    found = []
    for name in present:
        if name not in HOST_ROOT_CAPS:
            continue
        if name == 'CAP_SYS_PTRACE' and not host_pid:
            continue
        if name in _PAIRS and _PAIRS[name] not in present:
            continue
        found.append(name)
    return sorted(found)


def parse_status_security(status_text):
    """The security fields of /proc/<pid>/status text.

    Returns {'cap_inh', 'cap_prm', 'cap_eff', 'cap_bnd', 'cap_amb': sorted names or None,
    'no_new_privs': bool or None, 'seccomp': 'disabled' | 'strict' | 'filter' or None,
    'seccomp_filters': int or None (the line exists since Linux 5.9)}. A missing or
    malformed field is None: a kernel without it, or text that is not a status file.
    """
    fields = {}
    for line in (status_text or '').splitlines():
        key, sep, value = line.partition(':')
        if sep:
            fields[key.strip()] = value.strip()
    result = {}
    for key, field in (('cap_inh', 'CapInh'), ('cap_prm', 'CapPrm'), ('cap_eff', 'CapEff'),
                       ('cap_bnd', 'CapBnd'), ('cap_amb', 'CapAmb')):
        try:
            result[key] = decode_caps(fields[field])
        except (KeyError, ValueError):
            result[key] = None
    result['no_new_privs'] = {'0': False, '1': True}.get(fields.get('NoNewPrivs'))
    try:
        result['seccomp'] = SECCOMP_MODES.get(int(fields['Seccomp']))
    except (KeyError, ValueError):
        result['seccomp'] = None
    try:
        result['seccomp_filters'] = int(fields['Seccomp_filters'])
    except (KeyError, ValueError):
        result['seccomp_filters'] = None
    return result
