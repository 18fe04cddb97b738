"""Verify userns-remap on the lab VM, including the seeds' experiment.

Expected IDs are derived from the remap user's range in /etc/subuid, not hard-coded; the
test fails if that range overlaps vagrant's (100000:65536, given by useradd).
"""
import json
import os

import pytest

MAKE_IMAGE = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "tests", "integration", "busybox-image.sh")

IMAGE = "nsguard/busybox:test"


def _range(host, user, path):
    for line in host.file(path).content_string.splitlines():
        owner, start, count = line.split(":")
        if owner in (user, str(host.user(user).uid)):
            return int(start), int(count)
    raise AssertionError("%s has no range in %s" % (user, path))


@pytest.fixture(scope="module")
def remap(host):
    return _range(host, "dockremap", "/etc/subuid")[0], _range(host, "dockremap", "/etc/subgid")[0]


@pytest.fixture(scope="module")
def image(host):
    # No registry: a busybox rootfs imported from the distribution's busybox-static.
    with open(MAKE_IMAGE) as f:
        host.check_output("sh -c %s make-image %s", f.read(), IMAGE)
    return IMAGE


def test_remap_range_does_not_overlap_vagrant(host, remap):
    for path in ("/etc/subuid", "/etc/subgid"):
        start, count = _range(host, "dockremap", path)
        vstart, vcount = _range(host, "vagrant", path)
        assert (vstart, vcount) == (100000, 65536)
        assert start + count <= vstart or vstart + vcount <= start


def test_remap_accounts_are_system_accounts(host):
    user = host.user("dockremap")
    assert user.uid < 1000 and user.shell == "/usr/sbin/nologin"
    assert host.group("dockremap").exists


def test_daemon_json_merged(host):
    conf = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert conf["userns-remap"] == "dockremap:dockremap"
    assert conf["log-level"] == "warn"  # the unmanaged key survived
    assert "no-such-option" not in conf


def test_daemon_reports_userns_and_moved_data_root(host, remap):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert any(o.startswith("name=userns") for o in info["SecurityOptions"]), info["SecurityOptions"]
    assert info["DockerRootDir"] == "/var/lib/docker/%d.%d" % remap


def test_container_root_and_uid_1000_map_into_the_range(host, image, remap):
    d = "/srv/remap-experiment"
    host.check_output("rm -rf %s && mkdir -m 0777 %s", d, d)
    host.check_output("docker run --rm -v %s:/data %s touch /data/by-root", d, image)
    host.check_output("docker run --rm --user 1000:1000 -v %s:/data %s touch /data/by-1000", d, image)
    assert host.file(d + "/by-root").uid == remap[0]
    assert host.file(d + "/by-root").gid == remap[1]
    assert host.file(d + "/by-1000").uid == remap[0] + 1000


def test_container_process_runs_as_the_range_start_on_the_host(host, image, remap):
    host.run("docker rm -f remap-sleeper")
    host.check_output("docker run -d --name remap-sleeper %s sleep 300", image)
    try:
        pid = int(host.check_output("docker inspect --format '{{.State.Pid}}' remap-sleeper"))
        status = host.file("/proc/%d/status" % pid).content_string
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert [int(u) for u in uids] == [remap[0]] * 4
        uid_map = host.file("/proc/%d/uid_map" % pid).content_string.split()
        assert [int(x) for x in uid_map] == [0, remap[0], 65536]
    finally:
        host.run("docker rm -f remap-sleeper")
