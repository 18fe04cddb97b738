"""Verify rootless Docker on the lab VM after a reboot with nobody logged in.

The side_effect stage rebooted the VM: every check here runs against daemons that came
back by linger alone (alice never logs in; vagrant's only session is testinfra's own).
"""
import json
import os
import shlex

import pytest

USERS = ["vagrant", "alice"]
IMAGE = "nsguard/busybox:test"
MAKE_IMAGE = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "tests", "integration", "busybox-image.sh")


def as_user(host, user, command):
    uid = host.user(user).uid
    return host.run(
        "runuser -u %s -- env XDG_RUNTIME_DIR=/run/user/%d DOCKER_HOST=unix:///run/user/%d/docker.sock"
        " HOME=%s sh -c %s" % (user, uid, uid, host.user(user).home, shlex.quote(command)))


def check_as_user(host, user, command):
    r = as_user(host, user, command)
    assert r.rc == 0, (command, r.stdout, r.stderr)
    return r.stdout


def subuid_start(host, user):
    for line in host.file("/etc/subuid").content_string.splitlines():
        owner, start, _count = line.split(":")
        if owner in (user, str(host.user(user).uid)):
            return int(start)
    raise AssertionError("no subuid range for " + user)


@pytest.fixture(scope="module")
def images(host):
    with open(MAKE_IMAGE) as f:
        script = f.read()
    for user in USERS:
        check_as_user(host, user, "cd /tmp && sh -c %s make-image %s" % (shlex.quote(script), IMAGE))
    return IMAGE


@pytest.mark.parametrize("user", USERS)
def test_user_daemon_active_and_enabled(host, user):
    assert check_as_user(host, user, "systemctl --user is-enabled docker.service").strip() == "enabled"
    assert check_as_user(host, user, "systemctl --user is-active docker.service").strip() == "active"
    assert host.file("/var/lib/systemd/linger/" + user).exists


def test_alice_has_no_login_session(host):
    sessions = host.check_output("loginctl list-sessions --no-legend")
    assert "alice" not in sessions


@pytest.mark.parametrize("user", USERS)
def test_socket_owned_by_the_user(host, user):
    sock = host.file("/run/user/%d/docker.sock" % host.user(user).uid)
    assert sock.is_socket and sock.user == user


@pytest.mark.parametrize("user", USERS)
def test_daemon_is_rootless_with_data_in_home(host, user):
    info = json.loads(check_as_user(host, user, "docker info --format '{{json .}}'"))
    assert any(o.startswith("name=rootless") for o in info["SecurityOptions"]), info["SecurityOptions"]
    assert info["DockerRootDir"] == host.user(user).home + "/.local/share/docker"


def test_rootful_daemon_masked_and_no_rootful_socket(host):
    assert not host.file("/var/run/docker.sock").exists
    assert host.check_output("systemctl is-enabled docker.service || true").strip() == "masked"


def test_apparmor_restriction_still_on(host):
    assert host.check_output("sysctl -n kernel.apparmor_restrict_unprivileged_userns").strip() == "1"


@pytest.mark.parametrize("user", USERS)
def test_login_shell_gets_docker_host(host, user):
    out = host.check_output("runuser -l %s -c 'echo $DOCKER_HOST'", user)
    assert out.strip() == "unix:///run/user/%d/docker.sock" % host.user(user).uid


def _experiment(host, user, image):
    """Root and uid 1000 in a container touch files on a bind mount; return host owners."""
    d = "/srv/rootless-%s" % user
    host.check_output("rm -rf %s && install -d -m 0777 -o %s %s", d, user, d)
    check_as_user(host, user, "docker run --rm -v %s:/data %s touch /data/by-root" % (d, image))
    check_as_user(host, user, "docker run --rm --user 1000:1000 -v %s:/data %s touch /data/by-1000" % (d, image))
    return host.file(d + "/by-root").uid, host.file(d + "/by-1000").uid


@pytest.fixture(scope="module")
def experiment(host, images):
    """The experiment's host owners per user, run once (four containers under TCG) and
    read by both tests below."""
    return {user: _experiment(host, user, images) for user in USERS}


@pytest.mark.parametrize("user", USERS)
def test_seeds_experiment(host, experiment, user):
    root_owner, u1000_owner = experiment[user]
    assert root_owner == host.user(user).uid
    assert u1000_owner == subuid_start(host, user) + 999


def test_two_users_map_to_disjoint_host_ids(host, experiment):
    ranges = []
    for user in USERS:
        line = [ln for ln in host.file("/etc/subuid").content_string.splitlines() if ln.startswith(user + ":")][0]
        _o, start, count = line.split(":")
        ranges.append((int(start), int(start) + int(count)))
    (a0, a1), (b0, b1) = ranges
    assert a1 <= b0 or b1 <= a0, ranges
    assert experiment[USERS[0]][1] != experiment[USERS[1]][1]


@pytest.mark.parametrize("user", USERS)
def test_cgroup_limits_work_as_the_user(host, images, user):
    # The role's user@.service drop-in hands cpu, cpuset, io, memory and pids to every
    # user's manager: a rootless container takes --cpus and --memory.
    uid = host.user(user).uid
    controllers = host.file("/sys/fs/cgroup/user.slice/user-%d.slice/user@%d.service/cgroup.controllers"
                            % (uid, uid)).content_string.split()
    assert {"cpu", "cpuset", "io", "memory", "pids"} <= set(controllers), controllers
    limits = check_as_user(host, user, "docker run --rm --cpus 0.5 --memory 64m %s cat /sys/fs/cgroup/cpu.max"
                           " /sys/fs/cgroup/memory.max" % images).split()
    assert limits == ["50000", "100000", str(64 * 1024 * 1024)], limits
