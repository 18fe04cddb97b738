"""Verify the hardened busy host: the rootful daemon under userns-remap and vagrant's
rootless daemon both hold the carried image and the named volume, its files owned by the
new maps' host ids and readable by containers; the old data root is as prepare recorded
it; the report says what changed."""
import json
import os
import shlex
import sys

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "tests", "integration"))
from lab_host import range_start  # noqa: E402

IMAGE = "nsguard/busybox:test"
OLD_VOLUME = "/var/lib/docker/volumes/webdata/_data"
REPORT = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", ""), "harden-report")


def as_vagrant(host, command):
    uid = host.user("vagrant").uid
    r = host.run(
        "runuser -u vagrant -- env XDG_RUNTIME_DIR=/run/user/%d DOCKER_HOST=unix:///run/user/%d/docker.sock"
        " HOME=/home/vagrant sh -c %s" % (uid, uid, shlex.quote(command)))
    assert r.rc == 0, (command, r.stdout, r.stderr)
    return r.stdout.rstrip("\n")


def test_rootful_daemon_is_remapped(host):
    options = json.loads(host.check_output("docker info --format '{{json .SecurityOptions}}'"))
    assert "name=userns" in options
    start = range_start(host, "/etc/subuid", "dockremap")
    assert host.check_output("docker info --format '{{.DockerRootDir}}'") == "/var/lib/docker/%d.%d" % (
        start, range_start(host, "/etc/subgid", "dockremap"))


def test_old_data_root_untouched(host):
    now = host.check_output(
        "find /var/lib/docker/volumes/webdata -printf '%p %U %G %m %s %l\\n' | sort; "
        "sha256sum {0}/root.txt {0}/sub/user.txt".format(OLD_VOLUME))
    assert now == host.file("/root/old-volumes.txt").content_string.rstrip("\n")
    # the old container is still there, for going back
    web = host.file("/root/web-container-id").content_string.strip()
    assert host.file("/var/lib/docker/containers/%s/config.v2.json" % web).exists


def test_stage_directory_removed(host):
    assert not host.file("/var/lib/nsguard-carry").exists


def test_remapped_daemon_runs_the_carried_image_with_the_volume(host):
    out = host.check_output("docker run --rm --volume webdata:/data %s sh -c "
                            "'cat /data/root.txt /data/sub/user.txt; stat -c %%u /data/root.txt /data/sub/user.txt'"
                            % IMAGE).split("\n")
    assert out == ["written by container root", "written by container uid 1000", "0", "1000"]
    start = range_start(host, "/etc/subuid", "dockremap")
    mountpoint = host.check_output("docker volume inspect --format '{{.Mountpoint}}' webdata")
    assert host.file(mountpoint + "/root.txt").uid == start
    assert host.file(mountpoint + "/sub/user.txt").uid == start + 1000
    # a link is carried as a link, never followed
    assert host.file(mountpoint + "/escape").linked_to == "/etc/shadow"
    assert host.file(mountpoint + "/escape").is_symlink


def test_rootless_daemon_runs_the_carried_image_with_the_volume(host):
    out = as_vagrant(host, "docker run --rm --volume webdata:/data %s sh -c "
                           "'cat /data/sub/user.txt; stat -c %%u /data/root.txt /data/sub/user.txt'" % IMAGE)
    assert out.split("\n") == ["written by container uid 1000", "0", "1000"]
    mountpoint = as_vagrant(host, "docker volume inspect --format '{{.Mountpoint}}' webdata").strip()
    assert mountpoint.startswith("/home/vagrant/.local/share/docker/volumes/")
    uid = host.user("vagrant").uid
    assert host.file(mountpoint + "/root.txt").uid == uid
    assert host.file(mountpoint + "/sub/user.txt").uid == range_start(host, "/etc/subuid", "vagrant") + 999


def test_rootless_container_takes_cpu_and_memory_limits(host):
    limits = as_vagrant(host, "docker run --rm --cpus 0.5 --memory 64m %s cat /sys/fs/cgroup/cpu.max"
                              " /sys/fs/cgroup/memory.max" % IMAGE).split()
    assert limits == ["50000", "100000", "67108864"]


def test_report_before_and_after():
    # After the idempotence run: the report after compares with the audit before that run;
    # the one before compares with the first run's audit before, on the unhardened host.
    with open(os.path.join(REPORT, "before", "fleet.json")) as handle:
        before = json.load(handle)
    with open(os.path.join(REPORT, "fleet.json")) as handle:
        after = json.load(handle)
    modes = sorted(d["mode"] for h in after["hosts"] for d in h["daemons"])
    assert modes == ["rootless", "userns-remap"], modes
    assert after["changes"]["previous_generated_at"] == before["generated_at"]
    resolved = [c["id"] for h in before["changes"]["hosts"] for c in h["resolved"]]
    assert "userns-default-mode" in resolved, before["changes"]
