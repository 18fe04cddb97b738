"""Verify userns-remap to a login user (seed 002): "userns-remap": "alice:alice" where
container root is alice's own uid and gid, and container uids from 1 her range.

The role ran with userns_remap_map_own_id: nsguard.docker.subid put alice:<uid>:1 right
before her range in /etc/subuid (her primary gid likewise in /etc/subgid) and left her
account as it was. The seeds' bind-mount experiment then gives: root's file owned by alice,
uid 1000's by her range start + 999; and the audit reports the daemon userns-remap with
alice's uid as container root.
"""
import json
import os

import pytest

MAKE_IMAGE = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "tests", "integration", "busybox-image.sh")
IMAGE = "nsguard/busybox:test"
USER = "alice"


def _lines(host, path):
    return [line.split(":") for line in host.file(path).content_string.splitlines() if line.startswith(USER + ":")]


@pytest.fixture(scope="module")
def alice(host):
    user = host.user(USER)
    return {"uid": user.uid, "gid": user.gid, "home": user.home, "shell": user.shell}


@pytest.fixture(scope="module")
def ranges(host, alice):
    """(subuid start, subgid start) of alice's range, checked to follow her own-id line."""
    starts = []
    for path, own in (("/etc/subuid", alice["uid"]), ("/etc/subgid", alice["gid"])):
        lines = _lines(host, path)
        assert [line[1:] for line in lines[:1]] == [[str(own), "1"]], (path, lines)
        assert len(lines) == 2 and int(lines[1][2]) >= 65536, (path, lines)
        assert int(lines[1][1]) > own, (path, lines)      # dockerd sorts ranges by their start
        starts.append(int(lines[1][1]))
    return tuple(starts)


@pytest.fixture(scope="module")
def image(host):
    with open(MAKE_IMAGE) as f:
        host.check_output("sh -c %s make-image %s", f.read(), IMAGE)
    return IMAGE


def test_the_account_is_left_as_it_was(alice):
    # the role did not turn her into a system account without login
    assert alice["shell"] == "/bin/bash" and alice["home"] == "/home/alice" and alice["uid"] >= 1000


def test_daemon_remaps_to_alice_with_her_own_ids_as_root(host, alice, ranges):
    conf = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert conf["userns-remap"] == "alice:alice"
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert any(o.startswith("name=userns") for o in info["SecurityOptions"]), info["SecurityOptions"]
    # dockerd names the data root after container root's host ids
    assert info["DockerRootDir"] == "/var/lib/docker/%d.%d" % (alice["uid"], alice["gid"])


def test_root_writes_as_alice_and_uid_1000_as_her_range(host, image, alice, ranges):
    d = "/srv/login-remap"
    host.check_output("rm -rf %s && install -d -m 0777 %s", d, d)
    host.check_output("docker run --rm -v %s:/data %s touch /data/by-root", d, image)
    host.check_output("docker run --rm --user 1000:1000 -v %s:/data %s touch /data/by-1000", d, image)
    by_root, by_1000 = host.file(d + "/by-root"), host.file(d + "/by-1000")
    assert (by_root.uid, by_root.gid) == (alice["uid"], alice["gid"])
    assert by_root.user == USER
    assert (by_1000.uid, by_1000.gid) == (ranges[0] + 999, ranges[1] + 999)


@pytest.fixture(scope="module")
def audit(host, image):
    host.run("docker rm -f login-sleeper")
    host.check_output("docker run -d --name login-sleeper %s sleep 300", image)
    try:
        result = host.ansible("nsguard.docker.namespace_mode", "", become=True, check=False)
    finally:
        host.run("docker rm -f login-sleeper")
    assert not result.get("failed") and result.get("changed") is False, result
    return result


def test_audit_reports_the_mapping(audit, alice, ranges):
    (daemon,) = [d for d in audit["daemons"] if d["id"] == "rootful"]
    assert (daemon["mode"], daemon["mode_verified"]) == ("userns-remap", True), daemon
    assert daemon["userns_remap"]["config"] == "alice:alice"
    (sleeper,) = [c for c in daemon["containers"] if c["name"] == "login-sleeper"]
    assert sleeper["root_host_uid"] == alice["uid"] and sleeper["root_is_host_root"] is False
    assert sleeper["uid_map"] == [{"inside": 0, "outside": alice["uid"], "count": 1},
                                  {"inside": 1, "outside": ranges[0], "count": 65536}], sleeper["uid_map"]
    assert sleeper["verdict"] == "root-only-in-its-user-namespace", sleeper["verdict_reasons"]
    assert "root is host uid %d" % alice["uid"] in sleeper["verdict_reasons"][0]
    ids = [f["id"] for f in audit["findings"]]
    assert "userns-default-mode" not in ids and "container-root-is-host-root" not in ids
    # her own-id line is hers: no overlap with anyone (vagrant's range included)
    assert not [f for f in audit["findings"] if f["id"] == "subid-overlap"], audit["findings"]
