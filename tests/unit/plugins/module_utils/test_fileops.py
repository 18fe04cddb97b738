# -*- coding: utf-8 -*-
# Copyright (c) nsguard.docker contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fileops: the collection's one atomic writer, and reading and writing without following
a symbolic link that another user could have planted.

"Untrusted" directories are made group- and world-writable (any user may then plant
entries), which works without root; the cases that need a real other owner (chown to
nobody) run as root, as CI does.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import stat

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from ansible_collections.nsguard.docker.plugins.module_utils import fileops

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason='needs root to chown to another user')


def untrusted(directory):
    """Let any user change the entries of ``directory`` (as a user's home is for root)."""
    if not directory.exists():
        directory.mkdir()
    os.chmod(str(directory), 0o777)
    return directory


def fingerprint(path):
    st_ = os.stat(str(path))
    with open(str(path), 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest(), st_.st_uid, st_.st_gid, st_.st_mode


# --- the atomic writer -----------------------------------------------------------------

def test_new_file_default_mode_whatever_the_umask(tmp_path):
    target = tmp_path / 'daemon.json'
    old = os.umask(0o077)
    try:
        assert fileops.atomic_write(str(target), b'{}\n') == str(target)
    finally:
        os.umask(old)
    assert target.read_bytes() == b'{}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ['daemon.json']


def test_keeps_mode_and_replaces_inode(tmp_path):
    target = tmp_path / 'daemon.json'
    target.write_text('{"a": 1}\n')
    target.chmod(0o600)
    inode = target.stat().st_ino
    fileops.atomic_write(str(target), u'{"b": "\u00e9"}\n'.encode('utf-8'))
    assert target.read_text(encoding='utf-8') == u'{"b": "\u00e9"}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.stat().st_ino != inode


def test_explicit_mode(tmp_path):
    target = tmp_path / 'daemon.json'
    fileops.atomic_write(str(target), b'{}\n', mode=0o640)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_missing_directory_is_an_error_unless_created(tmp_path):
    with pytest.raises(fileops.MissingDirectory) as err:
        fileops.atomic_write(str(tmp_path / 'no' / 'daemon.json'), b'{}\n')
    assert 'no does not exist' in str(err.value)
    fileops.atomic_write(str(tmp_path / 'a' / 'b' / 'f'), b'x', create_dirs=True, dir_mode=0o750)
    assert (tmp_path / 'a' / 'b' / 'f').read_bytes() == b'x'
    assert stat.S_IMODE((tmp_path / 'a' / 'b').stat().st_mode) == 0o750


def test_trusted_symlink_is_followed_when_asked(tmp_path):
    real = tmp_path / 'real.json'
    real.write_text('{}\n')
    link = tmp_path / 'daemon.json'
    link.symlink_to(real)
    assert fileops.atomic_write(str(link), b'{"x": 1}\n', follow=True) == str(real)
    assert link.is_symlink()
    assert real.read_text() == '{"x": 1}\n'
    with pytest.raises(fileops.UnsafePathError) as err:
        fileops.atomic_write(str(link), b'{}', follow=False)
    assert str(link) in str(err.value) and 'follow=false' in str(err.value)
    assert real.read_text() == '{"x": 1}\n'


def test_trusted_directory_link_with_dotdot_is_resolved(tmp_path):
    (tmp_path / 'etc' / 'docker').mkdir(parents=True)
    (tmp_path / 'conf').mkdir()
    os.symlink('../etc/docker', str(tmp_path / 'conf' / 'docker'))
    fileops.atomic_write(str(tmp_path / 'conf' / 'docker' / 'daemon.json'), b'{}\n')
    assert (tmp_path / 'etc' / 'docker' / 'daemon.json').read_bytes() == b'{}\n'


def test_symlink_loop_is_an_error(tmp_path):
    os.symlink('b', str(tmp_path / 'a'))
    os.symlink('a', str(tmp_path / 'b'))
    with pytest.raises(fileops.FileOpsError) as err:
        fileops.atomic_write(str(tmp_path / 'a' / 'f'), b'x')
    assert 'too many levels' in str(err.value)


# --- what a user who controls a directory cannot make root do ---------------------------

@pytest.mark.parametrize('follow', [False, True])
def test_link_to_a_protected_file_is_refused_and_the_file_unchanged(tmp_path, follow):
    protected = tmp_path / 'etc-daemon.json'
    protected.write_text('{"userns-remap": "default"}\n')
    protected.chmod(0o644)
    before = fingerprint(protected)
    home = untrusted(tmp_path / 'home')
    os.symlink(str(protected), str(home / 'daemon.json'))
    with pytest.raises(fileops.UnsafePathError) as err:
        fileops.atomic_write(str(home / 'daemon.json'), b'{"x": 1}\n', mode=0o600, follow=follow)
    assert str(home / 'daemon.json') in str(err.value)
    assert 'every user' in str(err.value)
    assert fingerprint(protected) == before
    with pytest.raises(fileops.UnsafePathError):
        fileops.read_bytes(str(home / 'daemon.json'), follow=follow)
    with pytest.raises(fileops.UnsafePathError):
        fileops.set_attributes(str(home / 'daemon.json'), mode=0o666, follow=follow)
    assert fingerprint(protected) == before


def test_dangling_link_creates_nothing_at_its_target(tmp_path):
    home = untrusted(tmp_path / 'home')
    etc = tmp_path / 'profile.d'
    etc.mkdir()
    os.symlink(str(etc / 'evil.sh'), str(home / 'config.json'))
    with pytest.raises(fileops.UnsafePathError):
        fileops.atomic_write(str(home / 'config.json'), b'x', follow=True)
    assert os.listdir(str(etc)) == []


def test_linked_directory_on_the_way_is_refused(tmp_path):
    home = untrusted(tmp_path / 'home')
    target_dir = tmp_path / 'etc' / 'docker'
    target_dir.mkdir(parents=True)
    os.symlink(str(target_dir), str(home / '.config'))
    with pytest.raises(fileops.UnsafePathError) as err:
        fileops.atomic_write(str(home / '.config' / 'daemon.json'), b'{}', create_dirs=True)
    assert str(home / '.config') in str(err.value)
    assert os.listdir(str(target_dir)) == []
    # reading says so too, rather than reading through it
    with pytest.raises(fileops.UnsafePathError):
        fileops.read_file(str(home / '.config' / 'daemon.json'))


def test_real_directories_of_another_user_are_fine(tmp_path):
    home = untrusted(tmp_path / 'home')
    fileops.atomic_write(str(home / '.config' / 'docker' / 'daemon.json'), b'{}\n',
                         create_dirs=True)
    state = fileops.read_file(str(home / '.config' / 'docker' / 'daemon.json'))
    assert state.data == b'{}\n'
    assert state.dir_trusted  # ~/.config/docker was made by the caller


def test_fifo_is_not_read(tmp_path):
    os.mkfifo(str(tmp_path / 'daemon.json'))
    with pytest.raises(fileops.FileOpsError) as err:
        fileops.read_bytes(str(tmp_path / 'daemon.json'))
    assert 'not a regular file' in str(err.value)
    with pytest.raises(fileops.FileOpsError):
        fileops.atomic_write(str(tmp_path / 'daemon.json'), b'{}')


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(fileops.FileOpsError) as err:
        fileops.read_bytes(str(tmp_path))
    assert 'is a directory' in str(err.value)


def test_read_file_reads_at_most_the_limit(tmp_path):
    path = tmp_path / 'profile'
    path.write_bytes(b'x' * 200000)
    assert fileops.read_file(str(path), limit=70000).data == b'x' * 70000
    assert fileops.read_file(str(path), limit=0).data == b''
    assert len(fileops.read_file(str(path)).data) == 200000
    assert fileops.read_file(str(path), limit=1 << 20).data == b'x' * 200000


def test_missing_file_in_missing_directory_reads_as_absent(tmp_path):
    state = fileops.read_file(str(tmp_path / 'a' / 'b' / 'c'))
    assert state.data is None and state.stat is None


def test_hard_link_in_untrusted_directory_is_not_chowned(tmp_path):
    protected = tmp_path / 'shadow'
    protected.write_text('secret\n')
    protected.chmod(0o640)
    before = fingerprint(protected)
    home = untrusted(tmp_path / 'home')
    os.link(str(protected), str(home / 'config.json'))
    with pytest.raises(fileops.UnsafePathError) as err:
        fileops.set_attributes(str(home / 'config.json'), mode=0o666)
    assert 'hard links' in str(err.value)
    assert fingerprint(protected) == before
    # Replacing the content never writes the other name's inode.
    fileops.atomic_write(str(home / 'config.json'), b'new\n')
    assert fingerprint(protected) == before


@ROOT_ONLY
def test_home_of_another_owner_as_root(tmp_path):
    """The 0.1.0 hole: root merging a user's file that links to a root-owned file."""
    import pwd
    nobody = pwd.getpwnam('nobody')
    protected = tmp_path / 'daemon.json'
    protected.write_text('{}\n')
    before = fingerprint(protected)
    home = tmp_path / 'home'
    home.mkdir(mode=0o755)
    os.chown(str(home), nobody.pw_uid, nobody.pw_gid)
    os.symlink(str(protected), str(home / 'daemon.json'))
    with pytest.raises(fileops.UnsafePathError) as err:
        fileops.atomic_write(str(home / 'daemon.json'), b'{"x": 1}', uid=nobody.pw_uid,
                             gid=nobody.pw_gid, follow=True)
    assert 'nobody' in str(err.value)
    assert fingerprint(protected) == before
    # A real file there is written, and given to its owner through the descriptor.
    os.unlink(str(home / 'daemon.json'))
    fileops.atomic_write(str(home / 'd' / 'daemon.json'), b'{}', uid=nobody.pw_uid,
                         gid=nobody.pw_gid, create_dirs=True)
    assert (home / 'd').stat().st_uid == nobody.pw_uid
    assert (home / 'd' / 'daemon.json').stat().st_uid == nobody.pw_uid


def test_set_attributes_reports_before_and_after(tmp_path):
    target = tmp_path / 'f'
    target.write_text('x')
    target.chmod(0o600)
    before, after = fileops.set_attributes(str(target), mode=0o640)
    assert before[0] == 0o600 and after[0] == 0o640
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


# --- remove ----------------------------------------------------------------------------

def test_remove_a_file_and_nothing(tmp_path):
    target = tmp_path / 'docker.sources'
    target.write_text('Types: deb\n')
    assert fileops.remove(str(target)) is True
    assert not target.exists()
    assert fileops.remove(str(target)) is False
    assert fileops.remove(str(tmp_path / 'missing' / 'dir' / 'f')) is False


def test_remove_takes_a_link_never_its_target(tmp_path):
    target = tmp_path / 'target'
    target.write_text('kept\n')
    os.symlink(str(target), str(tmp_path / 'link'))
    assert fileops.remove(str(tmp_path / 'link')) is True
    assert not os.path.lexists(str(tmp_path / 'link')) and target.read_text() == 'kept\n'


def test_remove_refuses_a_directory_and_a_linked_directory_on_the_way(tmp_path):
    (tmp_path / 'd').mkdir()
    with pytest.raises(fileops.FileOpsError) as err:
        fileops.remove(str(tmp_path / 'd'))
    assert 'is a directory' in str(err.value)
    home = untrusted(tmp_path / 'home')
    etc = tmp_path / 'etc'
    etc.mkdir()
    (etc / 'passwd').write_text('root\n')
    os.symlink(str(etc), str(home / 'etc'))
    with pytest.raises(fileops.UnsafePathError):
        fileops.remove(str(home / 'etc' / 'passwd'))
    assert (etc / 'passwd').read_text() == 'root\n'


@hsettings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(['a', 'b', 'c', '..', '.', 'L']), min_size=1, max_size=6))
def test_resolution_matches_the_kernel_in_a_trusted_tree(tmp_path_factory, parts):
    """Where every directory is trusted, open_dir lands where the kernel does."""
    root = tmp_path_factory.mktemp('tree')
    for name in ('a', 'b', 'c'):
        (root / name).mkdir()
        for sub in ('a', 'b', 'c'):
            (root / name / sub).mkdir(exist_ok=True)
    if not (root / 'L').exists():
        os.symlink('b/c', str(root / 'L'))
    path = os.path.join(str(root), *parts)
    try:
        expected = os.path.realpath(path)
        exists = os.path.isdir(path)
    except OSError:
        exists = False
    if not exists:
        return
    with fileops.open_dir(path) as opened:
        assert os.path.samefile(opened.path, expected)
