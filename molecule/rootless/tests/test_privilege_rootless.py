"""Is this root real under rootless Docker? The five containers of
tests/integration/container_privilege.py, run by vagrant's rootless daemon, and
nsguard.docker.namespace_mode's verdict on each checked against the host's /proc.

--privileged, CAP_SYS_ADMIN, the host's PID, IPC and UTS namespaces (rootlesskit keeps
them; the network is its own) and the user's own socket all act only in the rootless
daemon's user namespace: root there is vagrant's uid on the host.
"""
import os
import shlex
import sys

import pytest

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "tests", "integration"))
import container_privilege  # noqa: E402

MAKE_IMAGE = os.path.join(PROJECT, "tests", "integration", "busybox-image.sh")
USER = "vagrant"


def as_user(host, command):
    uid = host.user(USER).uid
    with host.sudo():
        return host.run("runuser -u %s -- env XDG_RUNTIME_DIR=/run/user/%d DOCKER_HOST=unix:///run/user/%d/docker.sock"
                        " HOME=%s sh -c %s" % (USER, uid, uid, host.user(USER).home, shlex.quote(command)))


@pytest.fixture(scope="module")
def audit(host):
    uid = host.user(USER).uid
    with open(MAKE_IMAGE) as f:
        made = as_user(host, "cd /tmp && sh -c %s make-image %s" % (shlex.quote(f.read()), container_privilege.IMAGE))
    assert made.rc == 0, made.stderr
    as_user(host, container_privilege.remove_command())
    planted = as_user(host, container_privilege.plant_command("rootless", "/run/user/%d/docker.sock" % uid))
    assert planted.rc == 0, planted.stderr
    try:
        result = host.ansible("nsguard.docker.namespace_mode", "", become=True, check=False)
        assert not result.get("failed") and result.get("changed") is False, result
        yield result
    finally:
        as_user(host, container_privilege.remove_command())


def test_verdicts_agree_with_proc(host, audit):
    found = container_privilege.check_against_proc(host, audit, "rootless")
    uid = host.user(USER).uid
    assert {c["root_host_uid"] for _d, c in found.values()} == {uid}
    assert {d["id"] for d, _c in found.values()} == {"rootless:%d" % uid}


def test_nothing_acts_on_the_host(audit):
    container_privilege.check_findings(audit, "rootless")
    planted = container_privilege.planted(audit)
    subjects = {"container:%s/%s" % (d["id"], c["name"]) for d, c in planted.values()}
    severe = [f for f in audit["findings"] if f["subject"] in subjects and f["severity"] in ("critical", "high")]
    assert severe == [], severe
