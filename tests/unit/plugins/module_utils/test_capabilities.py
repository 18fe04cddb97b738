# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Units of plugins/module_utils/_capabilities.py: the table, masks, Docker's capability
arithmetic, the host-root set and the security fields of /proc/<pid>/status (fixture
texts in tests/unit/fixtures/privilege)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.nsguard.docker.plugins.module_utils import _capabilities as caps

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'privilege')


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


# ------------------------------------------------------------------ table

def test_table_follows_linux_capability_h():
    assert len(caps.CAPABILITIES) == 41 and caps.LAST_CAP == 40
    assert [caps.CAP_NUMBERS[n] for n in ('CAP_CHOWN', 'CAP_DAC_READ_SEARCH', 'CAP_SETPCAP', 'CAP_NET_RAW',
                                          'CAP_SYS_MODULE', 'CAP_SYS_PTRACE', 'CAP_SYS_ADMIN', 'CAP_MKNOD',
                                          'CAP_SETFCAP', 'CAP_AUDIT_READ', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE')] \
        == [0, 2, 8, 13, 16, 19, 21, 27, 31, 37, 39, 40]
    assert len(set(caps.CAPABILITIES)) == 41
    assert caps.cap_name(21) == 'CAP_SYS_ADMIN' and caps.cap_name(41) == 'CAP_41'


def test_docker_default_set_is_what_a_default_container_shows():
    assert caps.decode_caps('00000000a80425fb') == sorted(caps.DOCKER_DEFAULT_CAPS)
    assert caps.encode_caps(caps.DOCKER_DEFAULT_CAPS) == '00000000a80425fb'
    assert len(caps.DOCKER_DEFAULT_CAPS) == 14


def test_host_root_set_is_outside_the_default_set():
    assert sorted(caps.HOST_ROOT_CAPS) == ['CAP_BPF', 'CAP_DAC_READ_SEARCH', 'CAP_PERFMON', 'CAP_SYS_ADMIN',
                                           'CAP_SYS_MODULE', 'CAP_SYS_PTRACE', 'CAP_SYS_RAWIO']
    assert not set(caps.HOST_ROOT_CAPS) & caps.DOCKER_DEFAULT_CAPS
    assert 'CAP_SYS_BOOT' not in caps.HOST_ROOT_CAPS and 'CAP_DAC_OVERRIDE' not in caps.HOST_ROOT_CAPS


# ------------------------------------------------------------------ masks

def test_decode_privileged_and_unknown_bits():
    assert caps.decode_caps('000001ffffffffff') == sorted(caps.CAPABILITIES)
    assert caps.decode_caps('0000000000000000') == []
    assert caps.decode_caps('0000020000200000') == ['CAP_41', 'CAP_SYS_ADMIN']
    assert caps.decode_caps('8000000000000001') == ['CAP_63', 'CAP_CHOWN']
    assert caps.decode_caps(' 0000000000000004\n') == ['CAP_DAC_READ_SEARCH']
    for bad in ('xyz', '', '-1'):
        with pytest.raises(ValueError):
            caps.decode_caps(bad)


def test_encode_rejects_unknown_names():
    assert caps.encode_caps(['CAP_SYS_ADMIN', 'CAP_41']) == '0000020000200000'
    with pytest.raises(ValueError):
        caps.encode_caps(['SYS_ADMIN'])


@given(st.sets(st.integers(0, 63)))
def test_decode_encode_round_trip_of_bit_sets(bits):
    mask = '%016x' % sum(1 << b for b in bits)
    names = caps.decode_caps(mask)
    assert names == sorted(names) and len(names) == len(bits)
    assert sorted(caps.cap_number(n) for n in names) == sorted(bits)
    assert caps.encode_caps(names) == mask


@given(st.sets(st.sampled_from(caps.CAPABILITIES)))
def test_encode_decode_round_trip_of_name_sets(names):
    assert caps.decode_caps(caps.encode_caps(names)) == sorted(names)


# ------------------------------------------------------------------ Docker's arithmetic

@pytest.mark.parametrize('privileged,add,drop,expected_extra,expected_missing', [
    (False, None, None, [], []),
    (False, ['SYS_ADMIN'], None, ['CAP_SYS_ADMIN'], []),
    (False, ['cap_sys_ptrace', 'CAP_NET_ADMIN'], ['MKNOD', 'net_raw'], ['CAP_NET_ADMIN', 'CAP_SYS_PTRACE'],
     ['CAP_MKNOD', 'CAP_NET_RAW']),
    (False, ['CHOWN'], None, [], []),   # already in the default set
])
def test_docker_caps_from_default_set(privileged, add, drop, expected_extra, expected_missing):
    got = set(caps.docker_caps(privileged, add, drop))
    assert sorted(got - caps.DOCKER_DEFAULT_CAPS) == expected_extra
    assert sorted(caps.DOCKER_DEFAULT_CAPS - got) == expected_missing


def test_docker_caps_all_and_privileged():
    assert caps.docker_caps(True, None, ['ALL']) == sorted(caps.CAPABILITIES)
    assert caps.docker_caps(False, ['NET_BIND_SERVICE'], ['ALL']) == ['CAP_NET_BIND_SERVICE']
    everything_but = caps.docker_caps(False, ['ALL'], ['SYS_ADMIN'])
    assert len(everything_but) == 40 and 'CAP_SYS_ADMIN' not in everything_but
    assert caps.docker_caps(False, [], ['ALL']) == []


def test_normalize_cap():
    assert [caps.normalize_cap(c) for c in ('sys_admin', ' SYS_ADMIN', 'CAP_SYS_ADMIN', 'cap_bpf', 'all')] == [
        'CAP_SYS_ADMIN', 'CAP_SYS_ADMIN', 'CAP_SYS_ADMIN', 'CAP_BPF', 'ALL']


def test_host_root_caps_conditions():
    assert caps.host_root_caps(caps.DOCKER_DEFAULT_CAPS) == []
    assert caps.host_root_caps(['CAP_SYS_ADMIN', 'CAP_CHOWN']) == ['CAP_SYS_ADMIN']
    # ptrace needs the host's processes in view
    assert caps.host_root_caps(['CAP_SYS_PTRACE'], host_pid=False) == []
    assert caps.host_root_caps(['CAP_SYS_PTRACE'], host_pid=True) == ['CAP_SYS_PTRACE']
    # BPF and PERFMON only together
    assert caps.host_root_caps(['CAP_BPF']) == [] and caps.host_root_caps(['CAP_PERFMON']) == []
    assert caps.host_root_caps(['CAP_BPF', 'CAP_PERFMON']) == ['CAP_BPF', 'CAP_PERFMON']
    assert caps.host_root_caps(None) == []
    assert caps.host_root_caps(caps.CAPABILITIES, host_pid=False) == [
        'CAP_BPF', 'CAP_DAC_READ_SEARCH', 'CAP_PERFMON', 'CAP_SYS_ADMIN', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO']


# ------------------------------------------------------------------ /proc/<pid>/status

def test_status_of_a_default_container():
    sec = caps.parse_status_security(fixture_text('status_default'))
    assert sec['cap_eff'] == sec['cap_prm'] == sec['cap_bnd'] == sorted(caps.DOCKER_DEFAULT_CAPS)
    assert sec['cap_inh'] == [] and sec['cap_amb'] == []
    assert (sec['no_new_privs'], sec['seccomp'], sec['seccomp_filters']) == (False, 'filter', 1)


def test_status_of_a_privileged_container():
    sec = caps.parse_status_security(fixture_text('status_privileged'))
    assert sec['cap_eff'] == sorted(caps.CAPABILITIES) and len(sec['cap_bnd']) == 41
    assert (sec['no_new_privs'], sec['seccomp'], sec['seccomp_filters']) == (False, 'disabled', 0)


def test_status_of_a_rootless_container_reads_like_a_privileged_one():
    # The same CapEff: only the user namespace tells them apart.
    rootless = caps.parse_status_security(fixture_text('status_rootless_full'))
    assert rootless == caps.parse_status_security(fixture_text('status_privileged'))


def test_status_of_a_non_root_process():
    sec = caps.parse_status_security(fixture_text('status_nonroot'))
    assert sec['cap_eff'] == [] and sec['cap_prm'] == [] and sec['cap_bnd'] == sorted(caps.DOCKER_DEFAULT_CAPS)


def test_status_fields_missing_or_malformed_are_none():
    text = 'Name:\tsh\nCapEff:\tzzzz\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t1\n'
    sec = caps.parse_status_security(text)
    assert sec['cap_eff'] is None and sec['cap_prm'] is None and sec['cap_bnd'] == sorted(caps.DOCKER_DEFAULT_CAPS)
    # an older kernel: no Seccomp_filters line
    assert (sec['no_new_privs'], sec['seccomp'], sec['seccomp_filters']) == (True, 'strict', None)
    empty = caps.parse_status_security(None)
    assert set(empty.values()) == {None} and len(empty) == 8
    assert caps.parse_status_security('Seccomp:\t7\nNoNewPrivs:\tx\n')['seccomp'] is None


@pytest.mark.parametrize('version, held_back', [
    ('20.10.24+dfsg1', True), ('20.10.7', True), ('23.0.0', False), ('29.1.3', False),
    (None, False), ('', False), ('dev', False)])
def test_docker_before_23_holds_three_capabilities_back_from_all(version, held_back):
    # moby#41563: Docker 20.10's privileged and --cap-add ALL leave out PERFMON, BPF and
    # CHECKPOINT_RESTORE (seen on Debian 12's docker.io 20.10.24 in the lab)
    every = set(caps.docker_caps(True, None, None, version))
    assert (caps.HELD_BACK_BEFORE_23 & every == set()) is held_back
    assert every | caps.HELD_BACK_BEFORE_23 == set(caps.CAPABILITIES)
    assert set(caps.docker_caps(False, ['ALL'], ['SYS_ADMIN'], version)) == every - {'CAP_SYS_ADMIN'}
