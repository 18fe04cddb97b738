"""Verify a platform's compact scenario (molecule/resources/platform) after its reboot:
Docker CE from this system's stand-in, the rootful daemon under userns-remap, vagrant's
rootless daemon back by linger, the seed's bind-mount experiment in both modes, the
audit's verdicts on planted containers checked against /proc, and the harden report."""
import json
import os
import shlex
import sys

import pytest

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "tests", "integration"))
import container_privilege  # noqa: E402
from lab_host import range_start  # noqa: E402

IMAGE = container_privilege.IMAGE
MAKE_IMAGE = os.path.join(PROJECT, "tests", "integration", "busybox-image.sh")
REPORT = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""), "harden-report")
USER = "vagrant"


def run_as_user(host, command):
    uid = host.user(USER).uid
    return host.run("runuser -u %s -- env XDG_RUNTIME_DIR=/run/user/%d DOCKER_HOST=unix:///run/user/%d/docker.sock"
                    " HOME=%s sh -c %s" % (USER, uid, uid, host.user(USER).home, shlex.quote(command)))


def as_user(host, command):
    r = run_as_user(host, command)
    assert r.rc == 0, (command, r.stdout, r.stderr)
    return r.stdout.rstrip("\n")


@pytest.fixture(scope="module")
def images(host):
    with open(MAKE_IMAGE) as f:
        script = f.read()
    host.check_output("sh -c %s make-image %s", script, IMAGE)
    as_user(host, "cd /tmp && sh -c %s make-image %s" % (shlex.quote(script), IMAGE))
    return IMAGE


def test_docker_ce_from_this_systems_standin(host):
    standin = json.loads(host.backend.run_local(
        "%s %s info --system %s", sys.executable, os.path.join(PROJECT, "tests", "lab", "standin_repo.py"),
        host.backend.get_hostname().split("-")[0]).stdout)
    installed = host.check_output("dpkg-query -W -f '${Version}' docker-ce")
    assert installed == standin["versions"]["docker-ce"][0]
    assert "URIs: file:///srv/docker-standin/" + standin["url_path"] in host.file(
        "/etc/apt/sources.list.d/docker.sources").content_string


def test_rootful_daemon_is_remapped_after_the_reboot(host):
    assert "name=userns" in json.loads(host.check_output("docker info --format '{{json .SecurityOptions}}'"))
    assert host.check_output("docker info --format '{{.DockerRootDir}}'") == "/var/lib/docker/%d.%d" % (
        range_start(host, "/etc/subuid", "dockremap"), range_start(host, "/etc/subgid", "dockremap"))


def test_rootless_daemon_came_back_by_linger_alone(host):
    assert host.file("/var/lib/systemd/linger/" + USER).exists
    assert as_user(host, "systemctl --user is-active docker.service") == "active"
    assert "name=rootless" in as_user(host, "docker info --format '{{json .SecurityOptions}}'")


def _experiment(host, directory, run):
    """Root and uid 1000 in a container touch files on a bind mount; the host owners."""
    host.check_output("rm -rf %s && install -d -m 0777 %s", directory, directory)
    run("docker run --rm -v %s:/data %s touch /data/by-root" % (directory, IMAGE))
    run("docker run --rm --user 1000:1000 -v %s:/data %s touch /data/by-1000" % (directory, IMAGE))
    return host.file(directory + "/by-root").uid, host.file(directory + "/by-1000").uid


def test_seeds_experiment_under_userns_remap(host, images):
    start = range_start(host, "/etc/subuid", "dockremap")
    assert _experiment(host, "/srv/remap-experiment", host.check_output) == (start, start + 1000)


def test_seeds_experiment_rootless(host, images):
    owners = _experiment(host, "/srv/rootless-experiment", lambda command: as_user(host, command))
    assert owners == (host.user(USER).uid, range_start(host, "/etc/subuid", USER) + 999)


# What runc mounts for a host namespace, and the flag that asks for it.
HOST_NAMESPACE_MOUNTS = {"mount proc:/proc": "--pid=host", "mount mqueue:/dev/mqueue": "--ipc=host"}


def plant(run, mode, socket, prefix):
    """Start the five containers of tests/integration/container_privilege.py one by one.
    Debian 12's rootless Docker (20.10, runc 1.1.5) cannot mount a container's /proc in the
    host's PID namespace nor its /dev/mqueue in the host's IPC namespace (EPERM): its
    hostns container goes without the flag refused, and check_against_proc still compares
    its namespaces with /proc. Returns the flags dropped."""
    dropped = []
    for name in sorted(container_privilege.PLANTS):
        argv = ["docker", "run", "--detach", "--name", prefix + name] + \
            container_privilege.run_options(name, mode, socket) + [IMAGE, "sleep", "3600"]
        r = run(" ".join(shlex.quote(a) for a in argv))
        while r.rc != 0 and mode == "rootless" and name == "hostns":
            refused = [flag for mount, flag in HOST_NAMESPACE_MOUNTS.items() if mount in r.stderr and flag in argv]
            if not refused:
                break
            argv.remove(refused[0])
            dropped.append(refused[0])
            # the failed start left the container created
            r = run("docker rm -f %s && %s" % (prefix + name, " ".join(shlex.quote(a) for a in argv)))
        assert r.rc == 0, (argv, r.stderr)
    return dropped


@pytest.fixture(scope="module")
def audit(host, images):
    uid = host.user(USER).uid
    host.run(container_privilege.remove_command("ur-"))
    plant(host.run, "userns-remap", "/var/run/docker.sock", "ur-")
    run_as_user(host, container_privilege.remove_command("rl-"))
    plant(lambda command: run_as_user(host, command), "rootless", "/run/user/%d/docker.sock" % uid, "rl-")
    try:
        result = host.ansible("nsguard.docker.namespace_mode", "", become=True, check=False)
        assert not result.get("failed") and result.get("changed") is False, result
        yield result
    finally:
        host.run(container_privilege.remove_command("ur-"))
        run_as_user(host, container_privilege.remove_command("rl-"))


def test_audit_verdicts_agree_with_proc(host, audit):
    remapped = container_privilege.check_against_proc(host, audit, "userns-remap", "ur-")
    start = range_start(host, "/etc/subuid", "dockremap")
    assert {name: c["root_host_uid"] for name, (_d, c) in remapped.items()} == {
        "privileged": 0, "hostns": 0, "sysadmin": start, "socket": start, "plain": start}
    rootless = container_privilege.check_against_proc(host, audit, "rootless", "rl-")
    assert {c["root_host_uid"] for _d, c in rootless.values()} == {host.user(USER).uid}
    container_privilege.check_findings(audit, "userns-remap", "ur-")
    container_privilege.check_findings(audit, "rootless", "rl-")


def test_report_before_and_after():
    with open(os.path.join(REPORT, "fleet.json")) as handle:
        after = json.load(handle)
    with open(os.path.join(REPORT, "before", "fleet.json")) as handle:
        before = json.load(handle)
    assert sorted(d["mode"] for h in after["hosts"] for d in h["daemons"]) == ["rootless", "userns-remap"]
    assert after["changes"]["previous_generated_at"] == before["generated_at"]
