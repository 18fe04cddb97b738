"""Verify the subids role on the lab VM: ranges, no overlap, foreign lines intact, getsubids agrees."""

import pytest

# (user, expected count); starts are derived from the allocation rule, not hard-coded,
# except vagrant's, which useradd gave before the role ran and the role must keep.
USERS = {"vagrant": 65536, "builder": 65536, "ci": 131072}


def _entries(host, path):
    content = host.file(path).content_string
    out = []
    for line in content.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        owner, start, count = line.split(":")
        out.append((owner, int(start), int(count)))
    return out


@pytest.mark.parametrize("path", ["/etc/subuid", "/etc/subgid"])
def test_each_user_has_one_adequate_range(host, path):
    entries = _entries(host, path)
    for user, count in USERS.items():
        uid = str(host.user(user).uid)
        mine = [e for e in entries if e[0] in (user, uid)]
        assert len(mine) == 1, (user, mine)
        assert mine[0][2] >= count
        assert mine[0][1] >= 100000


@pytest.mark.parametrize("path", ["/etc/subuid", "/etc/subgid"])
def test_no_two_principals_overlap(host, path):
    entries = _entries(host, path)
    uid_of = {}
    for owner, _s, _c in entries:
        uid_of[owner] = owner if owner.isdigit() else str(host.user(owner).uid)
    for i, (o1, s1, c1) in enumerate(entries):
        for o2, s2, c2 in entries[i + 1:]:
            if uid_of[o1] != uid_of[o2]:
                assert s1 + c1 <= s2 or s2 + c2 <= s1, ((o1, s1, c1), (o2, s2, c2))


def test_existing_adequate_range_kept(host):
    assert ("vagrant", 100000, 65536) in _entries(host, "/etc/subuid")


def test_foreign_lines_untouched(host):
    content = host.file("/etc/subuid").content_string
    assert "# kept by hand\n1999:300000:65536\n" in content


def test_files_mode_and_owner(host):
    for path in ("/etc/subuid", "/etc/subgid"):
        f = host.file(path)
        assert f.user == "root" and f.group == "root"
        assert f.mode == 0o644


def test_uidmap_installed(host):
    assert host.package("uidmap").is_installed
    assert host.file("/usr/bin/newuidmap").exists


@pytest.mark.parametrize("user", sorted(USERS))
def test_getsubids_agrees(host, user):
    uid = str(host.user(user).uid)
    for cmd, path in (("getsubids %s", "/etc/subuid"), ("getsubids -g %s", "/etc/subgid")):
        mine = [e for e in _entries(host, path) if e[0] in (user, uid)]
        out = host.check_output(cmd, user)
        # getsubids prints "0: <owner> <start> <count>"
        fields = out.split()
        assert (int(fields[2]), int(fields[3])) == (mine[0][1], mine[0][2]), out
