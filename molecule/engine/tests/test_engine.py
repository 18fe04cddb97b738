"""Verify the engine role on the lab VM: key, source, pinned packages, service, daemon.json, a container.

The repository is the lab's stand-in for Docker's (tests/lab/standin_repo.py), unpacked in
the VM at /srv/docker-standin/linux/ubuntu with its key fingerprint beside it.
"""

import json

import pytest

STANDIN = "/srv/docker-standin/linux/ubuntu"
KEY = "/etc/apt/keyrings/docker.asc"
SOURCE = "/etc/apt/sources.list.d/docker.sources"
PIN = "/etc/apt/preferences.d/docker-engine"
OLDER = "5:29.0.4-1~ubuntu.24.04~noble"


def _standin_fingerprint(host):
    return host.file(STANDIN + "/fingerprint").content_string.strip()


def _versions(host, package):
    """Versions apt knows for a package (apt-cache madison)."""
    out = host.check_output("apt-cache madison %s" % package)
    return [line.split("|")[1].strip() for line in out.splitlines() if "|" in line]


def test_key_installed_with_expected_fingerprint(host):
    key = host.file(KEY)
    assert key.exists and key.user == "root" and key.mode == 0o644
    out = host.check_output("GNUPGHOME=$(mktemp -d) gpg --show-keys --with-colons %s" % KEY)
    fprs = [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]
    assert fprs and fprs[0] == _standin_fingerprint(host)


def test_deb822_source(host):
    text = host.file(SOURCE).content_string
    assert "URIs: file:///srv/docker-standin/linux/ubuntu" in text
    assert "Suites: noble" in text
    assert "Components: stable" in text
    assert "Architectures: amd64" in text
    assert "Signed-By: %s" % KEY in text


def test_old_sources_and_keyrings_removed(host):
    for path in ("/etc/apt/sources.list.d/docker.list",
                 "/usr/share/keyrings/docker-archive-keyring.gpg",
                 "/etc/apt/trusted.gpg.d/docker.gpg"):
        assert not host.file(path).exists, path


def _primary_fingerprints(host, path):
    """The primary keys of keyring `path`, in file order (gpg in a throwaway home)."""
    out = host.check_output("GNUPGHOME=$(mktemp -d) gpg --show-keys --with-colons %s" % path)
    fprs, primary = [], False
    for line in out.splitlines():
        kind = line.split(":")[0]
        if kind in ("pub", "sub"):
            primary = kind == "pub"
        elif kind == "fpr" and primary:
            fprs.append(line.split(":")[9])
            primary = False
    return fprs


def test_docker_key_cut_out_of_the_shared_keyring(host):
    # prepare planted Ubuntu's archive keys followed by the stand-in key, root:adm 0644
    shared = host.file("/etc/apt/trusted.gpg")
    assert shared.is_file and shared.user == "root" and shared.group == "adm" and shared.mode == 0o644
    archive = _primary_fingerprints(host, "/usr/share/keyrings/ubuntu-archive-keyring.gpg")
    assert archive and _standin_fingerprint(host) not in archive
    assert _primary_fingerprints(host, "/etc/apt/trusted.gpg") == archive
    # the archive keys byte for byte: only the stand-in key's packets were cut out
    sums = host.check_output("for f in /etc/apt/trusted.gpg /usr/share/keyrings/ubuntu-archive-keyring.gpg; "
                             "do sha256sum < $f; done")
    assert len(set(sums.splitlines())) == 1, sums


def test_apt_sees_one_clean_source(host):
    # Two Signed-By values for the same repository would make apt refuse its sources.
    cmd = host.run("apt-cache policy")
    assert cmd.rc == 0, cmd.stderr
    assert "Conflicting values" not in cmd.stderr
    assert cmd.stdout.count("file:/srv/docker-standin/linux/ubuntu") == 1, cmd.stdout


def test_both_versions_available_older_pinned(host):
    versions = _versions(host, "docker-ce")
    assert OLDER in versions and len(versions) >= 2
    policy = host.check_output("apt-cache policy docker-ce")
    assert "Candidate: %s" % OLDER in policy
    pin = host.file(PIN).content_string
    assert "Pin: version %s" % OLDER in pin
    assert "docker-ce docker-ce-cli" in pin


@pytest.mark.parametrize("package", ["docker-ce", "docker-ce-cli", "docker-ce-rootless-extras"])
def test_engine_packages_at_pinned_version_and_held(host, package):
    pkg = host.package(package)
    assert pkg.is_installed
    assert pkg.version == OLDER
    assert host.check_output("dpkg-query --show --showformat='${db:Status-Want}' %s" % package) == "hold"


@pytest.mark.parametrize("package", ["containerd.io", "docker-buildx-plugin", "docker-compose-plugin"])
def test_other_packages_installed(host, package):
    assert host.package(package).is_installed


@pytest.mark.parametrize("package", ["runc", "containerd", "docker.io"])
def test_conflicting_packages_absent(host, package):
    assert not host.package(package).is_installed


@pytest.mark.parametrize("path", [
    "/usr/bin/dockerd", "/usr/bin/docker", "/usr/bin/docker-proxy", "/usr/bin/docker-init",
    "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/ctr", "/usr/bin/runc",
    "/usr/bin/dockerd-rootless-setuptool.sh", "/usr/bin/dockerd-rootless.sh", "/usr/bin/rootlesskit",
    "/usr/libexec/docker/cli-plugins/docker-buildx", "/usr/libexec/docker/cli-plugins/docker-compose",
])
def test_binaries_in_place(host, path):
    assert host.file(path).is_file and host.file(path).mode & 0o111


def test_docker_group(host):
    assert host.group("docker").exists


def test_services(host):
    assert host.service("docker.service").is_running
    assert host.service("docker.service").is_enabled
    assert host.service("docker.socket").is_enabled
    assert host.service("containerd.service").is_running
    assert host.socket("unix:///run/docker.sock").is_listening


def test_daemon_json_merged_unmanaged_key_kept(host):
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert config["log-level"] == "warn"
    assert config["live-restore"] is True
    assert config["log-driver"] == "json-file"
    assert config["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert list(config)[0] == "log-level"


def test_daemon_runs_with_merged_config(host):
    # The handler restarted dockerd after the merge: it reports the new settings.
    out = host.check_output("docker info --format '{{.LiveRestoreEnabled}} {{.LoggingDriver}}'")
    assert out.split() == ["true", "json-file"]
    assert host.check_output("docker version --format '{{.Server.Version}}'").startswith("29.")


def test_docker_run_imported_busybox(host):
    host.check_output("docker image inspect nsguard/busybox:lab >/dev/null 2>&1 || "
                      "docker import /srv/busybox-rootfs.tar nsguard/busybox:lab")
    out = host.check_output("docker run --rm nsguard/busybox:lab sh -c 'echo hello from $(uname -s)'")
    assert out == "hello from Linux"
