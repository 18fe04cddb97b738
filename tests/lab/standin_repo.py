#!/usr/bin/env python
"""Stand-in for Docker's apt repository, for the lab scenario of the engine role.

WHY: the nsguard.docker.engine role installs Docker CE from Docker's own apt repository
(https://download.docker.com/linux/ubuntu). That repository cannot be reached from the
machines this collection is tested on, but the role must still be proved end to end on a
real host: key download and fingerprint check, a signed deb822 source, Docker's package
names and epoch-5 versions, version pinning, the docker group and systemd units created by
the packages' maintainer scripts. So this program builds a local repository with Docker's
layout and serves it to the lab VM as a ``file:`` source. The role is pointed at it only
through its ordinary variables (engine_repo_url, engine_repo_key_url,
engine_repo_key_fingerprint); it does not know it is talking to a stand-in.

WHAT: the packages are repackaged (dpkg-deb) from Ubuntu 24.04's own binaries, which the
lab image build keeps in its ``pool`` (``lab.py paths``): docker.io, containerd, runc,
rootlesskit, docker-buildx, docker-compose-v2. Ubuntu's docker.io has no rootless scripts,
so dockerd-rootless-setuptool.sh and dockerd-rootless.sh come from Debian's docker.io
(``apt-get download docker.io`` on the build host). Files sit at the real packages'
paths:

  docker-ce                  /usr/bin/dockerd, docker-proxy, docker-init,
                             /lib/systemd/system/docker.service, docker.socket;
                             postinst creates the docker group and enables and starts the
                             units the way Docker's (debhelper) scripts do
  docker-ce-cli              /usr/bin/docker
  containerd.io              /usr/bin/containerd, containerd-shim-runc-v2, ctr, runc,
                             /lib/systemd/system/containerd.service
  docker-buildx-plugin       /usr/libexec/docker/cli-plugins/docker-buildx
  docker-compose-plugin      /usr/libexec/docker/cli-plugins/docker-compose
  docker-ce-rootless-extras  /usr/bin/dockerd-rootless-setuptool.sh, dockerd-rootless.sh,
                             rootlesskit

Versions are in Docker's form (``5:29.1.3-1~ubuntu.24.04~noble`` for the engine packages,
derived from the Ubuntu binaries' upstream version). docker-ce, docker-ce-cli and
docker-ce-rootless-extras also exist in an older version (OLDER_ENGINE, the same binaries
under an older label) so that pinning can be tested. Depends name the Ubuntu libraries
and packages the original .debs depend on, so apt in the VM pulls them from the Ubuntu
archive.

Layout (as Docker's): ``gpg`` (armored public key) at the root, ``dists/noble/InRelease``,
``Release``, ``Release.gpg``, ``dists/noble/stable/binary-amd64/Packages(.gz)`` and the
.debs under ``dists/noble/pool/stable/amd64/``. Signed with a throwaway key generated at
build time (GNUPGHOME in a temporary directory, no passphrase); its fingerprint is
printed and written to ``fingerprint``.

The result is cached outside the repository under the lab cache
(``<cache>/standin/<hash>/``), keyed by a hash of the input .debs and of this file, and
rebuilt when absent. ``repo.tar`` beside it is the same tree as one file, for copying
into a VM; ``busybox.tar`` is a root filesystem of Ubuntu's busybox-static (from the same
pool) for ``docker import``, since the lab has no registry to pull images from.

  standin_repo.py build [--force]   build if needed; print JSON (dir, tar, fingerprint, versions)
  standin_repo.py info              print the JSON of the cached build (build if absent)
"""

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab  # noqa: E402  pylint: disable=wrong-import-position

SUITE = "noble"
COMPONENT = "stable"
ARCH = "amd64"
DISTRO_TAG = "ubuntu.24.04~noble"
#: The older label of the engine packages (same binaries), so pinning can be tested.
OLDER_ENGINE = "29.0.4"
MAINTAINER = "nsguard lab stand-in <lab@nsguard.invalid>"
KEY_UID = "nsguard lab stand-in for Docker's repository <standin@nsguard.invalid>"
SOURCES = ["docker.io", "containerd", "runc", "rootlesskit", "docker-buildx", "docker-compose-v2"]
#: There is no registry to pull from: a busybox root filesystem for `docker import`.
BUSYBOX = "busybox-static"
RECIPE_VERSION = "1"

# debhelper-style snippets, as Docker's packages carry them.
SYSTEMD_POSTINST = r"""
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
    for unit in @UNITS@; do
        # This will only remove masks created by d-s-h on package removal.
        deb-systemd-helper unmask "$unit" >/dev/null || true
        if deb-systemd-helper --quiet was-enabled "$unit"; then
            deb-systemd-helper enable "$unit" >/dev/null || true
        else
            deb-systemd-helper update-state "$unit" >/dev/null || true
        fi
    done
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        if [ -n "$2" ]; then _dh_action=restart; else _dh_action=start; fi
        deb-systemd-invoke $_dh_action @UNITS@ >/dev/null || true
    fi
fi
"""
SYSTEMD_PRERM = r"""#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    deb-systemd-invoke stop @UNITS@ >/dev/null || true
fi
"""
SYSTEMD_POSTRM = r"""#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "remove" ] && [ -x /usr/bin/deb-systemd-helper ]; then
    deb-systemd-helper mask @UNITS@ >/dev/null || true
fi
if [ "$1" = "purge" ] && [ -x /usr/bin/deb-systemd-helper ]; then
    deb-systemd-helper purge @UNITS@ >/dev/null || true
    deb-systemd-helper unmask @UNITS@ >/dev/null || true
fi
"""
DOCKER_GROUP = r"""
case "$1" in
    configure)
        if [ -z "$2" ] && ! getent group docker > /dev/null 2>&1; then
            groupadd --system docker
        fi
        ;;
esac
"""


class StandinError(Exception):
    pass


def log(msg):
    sys.stderr.write("[standin %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def run(cmd, **kw):
    # Tools' chatter goes to stderr: stdout carries only the JSON result.
    kw.setdefault("stdout", sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


# --------------------------------------------------------------------------- inputs

def pool_debs(pool):
    found = {}
    for name in SOURCES + [BUSYBOX]:
        matches = sorted(f for f in os.listdir(pool) if f.startswith(name + "_") and f.endswith("_amd64.deb"))
        if not matches:
            raise StandinError("%s_*_amd64.deb not found in %s (lab.py build keeps it there)" % (name, pool))
        found[name] = os.path.join(pool, matches[-1])
    return found


def debian_docker_io(cache):
    """Debian's docker.io .deb (for the rootless scripts), downloaded once with apt-get."""
    d = os.path.join(cache, "standin", "debian-docker.io")
    os.makedirs(d, exist_ok=True)
    debs = sorted(f for f in os.listdir(d) if f.startswith("docker.io_") and f.endswith(".deb"))
    if not debs:
        log("apt-get download docker.io (Debian's, for dockerd-rootless*.sh)")
        run(["apt-get", "download", "docker.io"], cwd=d)
        debs = sorted(f for f in os.listdir(d) if f.startswith("docker.io_") and f.endswith(".deb"))
        if not debs:
            raise StandinError("apt-get download docker.io left no .deb in %s" % d)
    return os.path.join(d, debs[-1])


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def inputs_hash(debs, debian_deb):
    h = hashlib.sha256(RECIPE_VERSION.encode() + b"\0")
    for name in sorted(debs):
        h.update(("%s %s\n" % (os.path.basename(debs[name]), os.path.getsize(debs[name]))).encode())
    h.update(os.path.basename(debian_deb).encode() + b"\0")
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:16]


def control_field(deb, field):
    out = subprocess.run(["dpkg-deb", "-f", deb, field], check=True, capture_output=True, text=True).stdout
    return out.strip()


def upstream(version):
    """'2.40.3+ds1-0ubuntu1~24.04.1' -> '2.40.3'."""
    match = re.match(r"^(?:\d+:)?([0-9][0-9.]*[0-9])", version)
    if not match:
        raise StandinError("cannot read an upstream version from %r" % version)
    return match.group(1)


def split_depends(text):
    return [d.strip() for d in text.split(",") if d.strip()]


def dep_name(dep):
    return re.split(r"[\s(:]", dep.split("|")[0].strip(), 1)[0]


def merge_depends(*groups):
    """Union of dependency lists; for the same package keep the stricter '>=' clause."""
    chosen = {}
    order = []
    for group in groups:
        for dep in group:
            name = dep_name(dep)
            if name not in chosen:
                chosen[name] = dep
                order.append(name)
                continue
            old = re.search(r">=\s*([^)]+)\)", chosen[name])
            new = re.search(r">=\s*([^)]+)\)", dep)
            if new and (not old or subprocess.run(
                    ["dpkg", "--compare-versions", new.group(1).strip(), "gt", old.group(1).strip()],
                    check=False).returncode == 0):
                chosen[name] = dep
    return [chosen[n] for n in order]


def libraries(deb):
    """The shared-library dependencies of an original package (libc6, libseccomp2, ...)."""
    return [d for d in split_depends(control_field(deb, "Depends")) if dep_name(d).startswith("lib")]


# --------------------------------------------------------------------------- packages

def build_deb(work, out_dir, name, version, files, control, scripts=None):
    """files: {target path: source path}; control: extra fields (ordered dict-like list)."""
    root = os.path.join(work, "%s_%s" % (name, version.replace(":", "_")))
    os.makedirs(os.path.join(root, "DEBIAN"))
    size = 0
    for target, source in files.items():
        dest = os.path.join(root, target.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(source, dest)
        size += os.path.getsize(dest)
    fields = [("Package", name), ("Version", version), ("Architecture", ARCH),
              ("Maintainer", MAINTAINER), ("Installed-Size", str(size // 1024 + 1))]
    fields += [(k, v) for k, v in control if v]
    with open(os.path.join(root, "DEBIAN", "control"), "w") as f:
        for key, value in fields:
            f.write("%s: %s\n" % (key, value))
    for script, text in (scripts or {}).items():
        path = os.path.join(root, "DEBIAN", script)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    filename = "%s_%s_%s.deb" % (name, re.sub(r"^\d+:", "", version), ARCH)
    out = os.path.join(out_dir, filename)
    run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", root, out],
        stdout=subprocess.DEVNULL)
    shutil.rmtree(root)
    return out


def maintainer_scripts(units, docker_group=False):
    units = " ".join("'%s'" % u for u in units)
    postinst = "#!/bin/sh\nset -e\n" + (DOCKER_GROUP if docker_group else "") + SYSTEMD_POSTINST
    return {"postinst": postinst.replace("@UNITS@", units),
            "prerm": SYSTEMD_PRERM.replace("@UNITS@", units),
            "postrm": SYSTEMD_POSTRM.replace("@UNITS@", units)}


def build_busybox(work, deb, out):
    """A root filesystem tar of Ubuntu's static busybox with its applet links."""
    root = os.path.join(work, "x-busybox")
    run(["dpkg-deb", "-x", deb, root])
    busybox = os.path.join(root, "usr", "bin", "busybox")
    listing = subprocess.run([busybox, "--list-full"], check=True, capture_output=True, text=True).stdout
    applets = sorted(set(line.strip() for line in listing.splitlines() if line.strip()))
    with tarfile.open(out, "w") as tar:
        for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "tmp", "etc", "root", "proc", "sys", "dev"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        info = tar.gettarinfo(busybox, arcname="bin/busybox")
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        with open(busybox, "rb") as f:
            tar.addfile(info, f)
        for applet in applets:
            if applet == "bin/busybox":
                continue
            info = tarfile.TarInfo(applet)
            info.type = tarfile.SYMTYPE
            info.linkname = "/bin/busybox"
            tar.addfile(info)
    return len(applets)


def build_packages(work, out_dir, debs, debian_deb):
    x = {}
    for name, deb in debs.items():
        if name == BUSYBOX:
            continue
        x[name] = os.path.join(work, "x-" + name)
        run(["dpkg-deb", "-x", deb, x[name]])
    contrib = os.path.join(work, "x-debian")
    os.makedirs(contrib)
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", debian_deb], stdout=subprocess.PIPE)
    run(["tar", "-x", "-C", contrib, "./usr/share/docker.io/contrib/dockerd-rootless-setuptool.sh",
         "./usr/share/docker.io/contrib/dockerd-rootless.sh"], stdin=tar.stdout)
    tar.stdout.close()
    if tar.wait() != 0:
        raise StandinError("dpkg-deb --fsys-tarfile %s failed" % debian_deb)

    def src(pkg, path):
        full = os.path.join(x[pkg], path.lstrip("/"))
        if not os.path.exists(full):
            raise StandinError("%s has no %s" % (debs[pkg], path))
        return full

    def tag(version):
        return "%s-1~%s" % (version, DISTRO_TAG)

    engine = upstream(control_field(debs["docker.io"], "Version"))
    containerd = upstream(control_field(debs["containerd"], "Version"))
    buildx = upstream(control_field(debs["docker-buildx"], "Version"))
    compose = upstream(control_field(debs["docker-compose-v2"], "Version"))
    docker_libs = libraries(debs["docker.io"])
    libc = [d for d in docker_libs if dep_name(d) == "libc6"]
    versions = {"docker-ce": [], "docker-ce-cli": [], "docker-ce-rootless-extras": [],
                "containerd.io": [tag(containerd)], "docker-buildx-plugin": [tag(buildx)],
                "docker-compose-plugin": [tag(compose)]}
    built = []

    built.append(build_deb(work, out_dir, "containerd.io", tag(containerd), {
        "/usr/bin/containerd": src("containerd", "/usr/bin/containerd"),
        "/usr/bin/containerd-shim-runc-v2": src("containerd", "/usr/bin/containerd-shim-runc-v2"),
        "/usr/bin/ctr": src("containerd", "/usr/bin/ctr"),
        "/usr/bin/runc": src("runc", "/usr/bin/runc"),
        "/lib/systemd/system/containerd.service": src("containerd", "/usr/lib/systemd/system/containerd.service"),
    }, [
        ("Depends", ", ".join(merge_depends(libraries(debs["containerd"]), libraries(debs["runc"])))),
        ("Conflicts", "containerd, runc"), ("Replaces", "containerd, runc"), ("Provides", "containerd, runc"),
        ("Section", "devel"), ("Priority", "optional"), ("Homepage", "https://containerd.io"),
        ("Description", "An open and reliable container runtime (lab stand-in, Ubuntu's binaries)"),
    ], maintainer_scripts(["containerd.service"])))

    for version in (engine, OLDER_ENGINE):
        full = "5:" + tag(version)
        for pkg in ("docker-ce", "docker-ce-cli", "docker-ce-rootless-extras"):
            versions[pkg].append(full)
        built.append(build_deb(work, out_dir, "docker-ce-cli", full, {
            "/usr/bin/docker": src("docker.io", "/usr/bin/docker"),
            "/usr/share/bash-completion/completions/docker":
                src("docker.io", "/usr/share/bash-completion/completions/docker"),
        }, [
            ("Depends", ", ".join(libc)),
            ("Recommends", "docker-buildx-plugin, docker-compose-plugin"),
            ("Conflicts", "docker (<< 1.5~), docker-engine, docker.io"),
            ("Replaces", "docker-ce (<< 5:0)"), ("Breaks", "docker-ce (<< 5:0)"),
            ("Section", "admin"), ("Priority", "optional"), ("Homepage", "https://www.docker.com"),
            ("Description", "Docker CLI: the open-source application container engine (lab stand-in)"),
        ]))
        built.append(build_deb(work, out_dir, "docker-ce", full, {
            "/usr/bin/dockerd": src("docker.io", "/usr/bin/dockerd"),
            "/usr/bin/docker-proxy": src("docker.io", "/usr/bin/docker-proxy"),
            "/usr/bin/docker-init": src("docker.io", "/usr/bin/docker-init"),
            "/lib/systemd/system/docker.service": src("docker.io", "/usr/lib/systemd/system/docker.service"),
            "/lib/systemd/system/docker.socket": src("docker.io", "/usr/lib/systemd/system/docker.socket"),
        }, [
            ("Depends", ", ".join(["containerd.io (>= 1.7.27)", "docker-ce-cli", "iptables"] + docker_libs)),
            ("Recommends", "apparmor, ca-certificates, docker-ce-rootless-extras, git, libltdl7, pigz, procps, xz-utils"),
            ("Suggests", "aufs-tools, cgroupfs-mount | cgroup-lite"),
            ("Conflicts", "docker (<< 1.5~), docker-engine, docker.io"),
            ("Replaces", "docker-engine"),
            ("Section", "admin"), ("Priority", "optional"), ("Homepage", "https://www.docker.com"),
            ("Description", "Docker: the open-source application container engine (lab stand-in)"),
        ], maintainer_scripts(["docker.socket", "docker.service"], docker_group=True)))
        built.append(build_deb(work, out_dir, "docker-ce-rootless-extras", full, {
            "/usr/bin/dockerd-rootless-setuptool.sh":
                os.path.join(contrib, "usr/share/docker.io/contrib/dockerd-rootless-setuptool.sh"),
            "/usr/bin/dockerd-rootless.sh": os.path.join(contrib, "usr/share/docker.io/contrib/dockerd-rootless.sh"),
            "/usr/bin/rootlesskit": src("rootlesskit", "/usr/bin/rootlesskit"),
        }, [
            ("Depends", ", ".join(["docker-ce"] + merge_depends(split_depends(control_field(debs["rootlesskit"], "Depends"))))),
            ("Recommends", "slirp4netns (>= 0.4.0)"),
            ("Conflicts", "rootlesskit"), ("Replaces", "rootlesskit"),
            ("Section", "admin"), ("Priority", "optional"), ("Homepage", "https://docs.docker.com/engine/security/rootless/"),
            ("Description", "Rootless support for Docker (lab stand-in)"),
        ]))

    built.append(build_deb(work, out_dir, "docker-buildx-plugin", tag(buildx), {
        "/usr/libexec/docker/cli-plugins/docker-buildx": src("docker-buildx", "/usr/libexec/docker/cli-plugins/docker-buildx"),
    }, [
        ("Depends", ", ".join(libraries(debs["docker-buildx"]))),
        ("Section", "admin"), ("Priority", "optional"), ("Homepage", "https://github.com/docker/buildx"),
        ("Description", "Docker Buildx cli plugin (lab stand-in)"),
    ]))
    built.append(build_deb(work, out_dir, "docker-compose-plugin", tag(compose), {
        "/usr/libexec/docker/cli-plugins/docker-compose":
            src("docker-compose-v2", "/usr/libexec/docker/cli-plugins/docker-compose"),
    }, [
        ("Depends", ", ".join(libraries(debs["docker-compose-v2"]))),
        ("Section", "admin"), ("Priority", "optional"), ("Homepage", "https://github.com/docker/compose"),
        ("Description", "Docker Compose (V2) plugin for the Docker CLI (lab stand-in)"),
    ]))
    return built, versions


# --------------------------------------------------------------------------- index + signing

def packages_stanza(repo, deb):
    control = subprocess.run(["dpkg-deb", "-f", deb], check=True, capture_output=True, text=True).stdout.rstrip("\n")
    with open(deb, "rb") as f:
        data = f.read()
    rel = os.path.relpath(deb, repo)
    return "%s\nFilename: %s\nSize: %d\nMD5sum: %s\nSHA1: %s\nSHA256: %s\nSHA512: %s\n" % (
        control, rel, len(data), hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest())


def write_index(repo, debs):
    dist = os.path.join(repo, "dists", SUITE)
    binary = os.path.join(dist, COMPONENT, "binary-" + ARCH)
    os.makedirs(binary, exist_ok=True)
    text = "\n".join(packages_stanza(repo, d) for d in sorted(debs)).encode()
    with open(os.path.join(binary, "Packages"), "wb") as f:
        f.write(text)
    with gzip.GzipFile(os.path.join(binary, "Packages.gz"), "wb", mtime=0) as f:
        f.write(text)
    with open(os.path.join(binary, "Release"), "w") as f:
        f.write("Archive: %s\nComponent: %s\nOrigin: Docker\nLabel: Docker\nArchitecture: %s\n" % (SUITE, COMPONENT, ARCH))
    files = []
    for sub in ("Packages", "Packages.gz", "Release"):
        path = os.path.join(binary, sub)
        with open(path, "rb") as f:
            data = f.read()
        files.append((os.path.relpath(path, dist), data))
    lines = ["Origin: Docker", "Label: Docker", "Suite: %s" % SUITE, "Codename: %s" % SUITE,
             "Date: %s" % time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()),
             "Architectures: %s" % ARCH, "Components: %s" % COMPONENT,
             "Description: lab stand-in for Docker's apt repository"]
    for algo, field in ((hashlib.md5, "MD5Sum"), (hashlib.sha1, "SHA1"), (hashlib.sha256, "SHA256"),
                        (hashlib.sha512, "SHA512")):
        lines.append("%s:" % field)
        for rel, data in files:
            lines.append(" %s %16d %s" % (algo(data).hexdigest(), len(data), rel))
    release = os.path.join(dist, "Release")
    with open(release, "w") as f:
        f.write("\n".join(lines) + "\n")
    return release


def sign(work, repo, release):
    gnupg = os.path.join(work, "gnupg")
    os.makedirs(gnupg, mode=0o700)
    gpg = ["gpg", "--homedir", gnupg, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""]
    run(gpg + ["--quick-generate-key", KEY_UID, "rsa3072", "sign", "2y"], stderr=subprocess.DEVNULL)
    out = subprocess.run(gpg + ["--with-colons", "--list-keys"], check=True, capture_output=True, text=True).stdout
    fprs = [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]
    if not fprs:
        raise StandinError("gpg made no key")
    fpr = fprs[0]
    dist = os.path.dirname(release)
    run(gpg + ["--local-user", fpr, "--digest-algo", "SHA512", "--clearsign", "--output",
               os.path.join(dist, "InRelease"), release])
    run(gpg + ["--local-user", fpr, "--digest-algo", "SHA512", "--armor", "--detach-sign", "--output",
               os.path.join(dist, "Release.gpg"), release])
    run(gpg + ["--armor", "--output", os.path.join(repo, "gpg"), "--export", fpr])
    with open(os.path.join(repo, "fingerprint"), "w") as f:
        f.write(fpr + "\n")
    # Check the signatures the way apt will, with only the exported key.
    check = os.path.join(work, "check.gpg")
    run(gpg + ["--output", check, "--dearmor", os.path.join(repo, "gpg")])
    run(["gpgv", "--quiet", "--keyring", check, os.path.join(dist, "InRelease")], stderr=subprocess.DEVNULL)
    run(["gpgv", "--quiet", "--keyring", check, os.path.join(dist, "Release.gpg"), release], stderr=subprocess.DEVNULL)
    return fpr


# --------------------------------------------------------------------------- build

def paths():
    cache = lab.image_paths()["cache"]
    return cache, lab.image_paths()["pool"]


def build(force=False):
    cache, pool = paths()
    if not os.path.isdir(pool):
        raise StandinError("%s does not exist: build the lab image first (lab.py build)" % pool)
    for tool in ("dpkg-deb", "gpg", "gpgv", "tar"):
        if not shutil.which(tool):
            raise StandinError("%s not found" % tool)
    debs = pool_debs(pool)
    debian_deb = debian_docker_io(cache)
    key = inputs_hash(debs, debian_deb)
    base = os.path.join(cache, "standin")
    target = os.path.join(base, key)
    info_path = os.path.join(target, "info.json")
    if os.path.exists(info_path) and not force:
        with open(info_path) as f:
            return json.load(f)
    started = time.time()
    os.makedirs(base, exist_ok=True)
    work = tempfile.mkdtemp(prefix="build-", dir=base)
    try:
        out = os.path.join(work, "out")
        repo = os.path.join(out, "repo")
        pool_dir = os.path.join(repo, "dists", SUITE, "pool", COMPONENT, ARCH)
        os.makedirs(pool_dir)
        log("repackaging %s into Docker's package names" % ", ".join(SOURCES))
        built, versions = build_packages(work, pool_dir, debs, debian_deb)
        release = write_index(repo, built)
        fpr = sign(work, repo, release)
        applets = build_busybox(work, debs[BUSYBOX], os.path.join(out, "busybox.tar"))
        tar_path = os.path.join(out, "repo.tar")
        with tarfile.open(tar_path, "w") as tar:
            tar.add(repo, arcname="docker-standin")
        info = {"dir": os.path.join(target, "repo"), "tar": os.path.join(target, "repo.tar"),
                "tar_root": "docker-standin", "fingerprint": fpr,
                "busybox_tar": os.path.join(target, "busybox.tar"), "busybox_applets": applets, "suite": SUITE,
                "component": COMPONENT, "arch": ARCH, "versions": versions,
                "hash": key, "seconds": round(time.time() - started)}
        with open(os.path.join(out, "info.json"), "w") as f:
            json.dump(info, f, indent=2)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.rename(out, target)
        log("stand-in repository ready in %.0fs: %s (key %s)" % (time.time() - started, info["dir"], fpr))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name in os.listdir(base):
        if name not in (key, "debian-docker.io") and not name.startswith("build-"):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the stand-in repository if absent (or --force)")
    b.add_argument("--force", action="store_true")
    sub.add_parser("info", help="print the cached build's JSON (building it if absent)")
    args = ap.parse_args(argv)
    try:
        info = build(force=getattr(args, "force", False))
    except (StandinError, subprocess.CalledProcessError) as exc:
        log("error: %s" % exc)
        return 1
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
