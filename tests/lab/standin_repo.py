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

WHAT: one stand-in per lab system (``--system``: noble, jammy, bookworm, trixie), its
packages repackaged (dpkg-deb) from that distribution's own binaries, which the system's
lab image build keeps in its ``pool`` (``lab.py paths``): docker.io (and Debian 13's
separate docker-cli), containerd, runc, rootlesskit, and docker-buildx and
docker-compose(-v2) where the release has them (Debian 12 has neither, so its stand-in
has no plugin packages). Debian's docker.io carries the rootless scripts
(dockerd-rootless-setuptool.sh, dockerd-rootless.sh); Ubuntu's has none, so for Ubuntu they
come from Debian's docker.io (``apt-get download docker.io`` on the build host). Files sit
at the real packages' paths (Debian's /usr/sbin binaries and /lib units moved to Docker's
places, the units' ExecStart with them):

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
                             rootlesskit, rootlesskit-docker-proxy (where rootlesskit has it)

Versions are in Docker's form (``5:29.1.3-1~ubuntu.24.04~noble``,
``5:20.10.24-1~debian.12~bookworm`` for the engine packages, derived from the binaries'
upstream version). docker-ce, docker-ce-cli and docker-ce-rootless-extras also exist in an
older version (OLDER_ENGINE, the same binaries under an older label) so that pinning can be
tested. Depends name the libraries and packages the original .debs depend on, so apt in
the VM pulls them from the distribution's archive.

Layout (as Docker's, under the distribution's path ``linux/<family>``, which is what
engine_repo_url names): ``gpg`` (armored public key), ``dists/<suite>/InRelease``,
``Release``, ``Release.gpg``, ``dists/<suite>/stable/binary-amd64/Packages(.gz)`` and the
.debs under ``dists/<suite>/pool/stable/amd64/``. Signed with a throwaway key generated at
build time (GNUPGHOME in a temporary directory, no passphrase); its fingerprint is
printed and written to ``fingerprint``.

The result is cached outside the repository under the lab cache
(``<cache>/standin/<system>/<hash>/``), keyed by a hash of the system, the input .debs and
this file, and rebuilt when absent. ``repo.tar`` beside it is the same tree as one file, for copying
into a VM; ``busybox.tar`` is a root filesystem of Ubuntu's busybox-static (from the same
pool) for ``docker import``, since the lab has no registry to pull images from.

  standin_repo.py build [--force] [--system S]   build if needed; print JSON (dir, tar, fingerprint, versions)
  standin_repo.py info [--system S]              print the JSON of the cached build (build if absent)
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

COMPONENT = "stable"
ARCH = "amd64"
#: The older label of the engine packages (same binaries), so pinning can be tested:
#: noble's as the engine scenario pins it; elsewhere the first release of the engine's
#: minor version.
OLDER_ENGINE = {"noble": "29.0.4"}
MAINTAINER = "nsguard lab stand-in <lab@nsguard.invalid>"
KEY_UID = "nsguard lab stand-in for Docker's repository <standin@nsguard.invalid>"
SOURCES = ["docker.io", "containerd", "runc", "rootlesskit"]
#: Docker's plugins, built where the system's pool has them (Debian 12 has neither as v2).
PLUGINS = {"docker-buildx": ("docker-buildx-plugin", "/usr/libexec/docker/cli-plugins/docker-buildx"),
           "docker-compose-v2": ("docker-compose-plugin", "/usr/libexec/docker/cli-plugins/docker-compose"),
           "docker-compose": ("docker-compose-plugin", "/usr/libexec/docker/cli-plugins/docker-compose")}
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
    """{package: its .deb in the image's pool}: every SOURCES package and busybox, and the
    optional ones the pool has (Docker's plugins; Debian 13's separate docker-cli; tini,
    whose docker-init Debian's docker.io does not carry)."""
    found = {}
    for name in SOURCES + [BUSYBOX] + sorted(PLUGINS) + ["docker-cli", "tini"]:
        matches = sorted(f for f in os.listdir(pool) if f.startswith(name + "_") and f.endswith("_amd64.deb"))
        if matches:
            found[name] = os.path.join(pool, matches[-1])
        elif name in SOURCES or name == BUSYBOX:
            raise StandinError("%s_*_amd64.deb not found in %s (lab.py build keeps it there)" % (name, pool))
    return found


def rootless_scripts_deb(debs, cache):
    """The docker.io .deb that has dockerd-rootless*.sh: the system's own where it ships
    them (Debian), else Debian's for the build host (Ubuntu's docker.io has none)."""
    listing = subprocess.run(["dpkg-deb", "--contents", debs["docker.io"]], check=True, capture_output=True,
                             text=True).stdout
    if "/contrib/dockerd-rootless-setuptool.sh" in listing:
        return debs["docker.io"]
    return debian_docker_io(cache)


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


def inputs_hash(system, debs, scripts_deb):
    h = hashlib.sha256(RECIPE_VERSION.encode() + b"\0" + system.encode() + b"\0")
    for name in sorted(debs):
        h.update(("%s %s\n" % (os.path.basename(debs[name]), os.path.getsize(debs[name]))).encode())
    h.update(os.path.basename(scripts_deb).encode() + b"\0")
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
    """A root filesystem tar of the distribution's static busybox with its applet links."""
    root = os.path.join(work, "x-busybox")
    run(["dpkg-deb", "-x", deb, root])
    busybox = os.path.join(root, "usr", "bin", "busybox")
    if not os.path.exists(busybox):  # Debian 12 and Ubuntu 22.04 keep it in /bin
        busybox = os.path.join(root, "bin", "busybox")
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


def distro_tag(system):
    """Docker's version suffix for a system: ubuntu.24.04~noble, debian.12~bookworm."""
    spec = lab.SYSTEMS[system]
    return "%s.%s~%s" % (spec["family"], spec["version"], spec["suite"])


def older_engine(system, engine):
    """The older label of the engine packages (see OLDER_ENGINE)."""
    major, minor = engine.split(".")[:2]
    return OLDER_ENGINE.get(system, "%s.%s.0" % (major, minor))


# Where a file may sit in a distribution's package: Debian keeps dockerd and runc in
# /usr/sbin and (up to 12) units in /lib; Docker's packages use /usr/bin and /lib.
def candidate_paths(path):
    name = os.path.basename(path)
    if path.startswith("/usr/bin/"):
        return [path, "/usr/sbin/" + name]
    if path.startswith("/usr/lib/systemd/system/"):
        return [path, "/lib/systemd/system/" + name]
    return [path]


def build_packages(work, out_dir, debs, scripts_deb, system):
    x = {}
    for name, deb in debs.items():
        if name == BUSYBOX:
            continue
        x[name] = os.path.join(work, "x-" + name)
        run(["dpkg-deb", "-x", deb, x[name]])
    contrib = os.path.join(work, "x-debian")
    os.makedirs(contrib)
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", scripts_deb], stdout=subprocess.PIPE)
    run(["tar", "-x", "-C", contrib, "./usr/share/docker.io/contrib/dockerd-rootless-setuptool.sh",
         "./usr/share/docker.io/contrib/dockerd-rootless.sh"], stdin=tar.stdout)
    tar.stdout.close()
    if tar.wait() != 0:
        raise StandinError("dpkg-deb --fsys-tarfile %s failed" % scripts_deb)

    def src(pkg, path, alternative=None):
        """The file at `path` in package `pkg`; a link there (Debian's docker-init ->
        tini-static) is looked up in package `alternative`."""
        for candidate in candidate_paths(path):
            full = os.path.join(x[pkg], candidate.lstrip("/"))
            if os.path.islink(full) and alternative in x:
                return src(alternative, os.path.join(os.path.dirname(candidate), os.readlink(full)))
            if os.path.exists(full):
                return full
        raise StandinError("%s has no %s" % (debs[pkg], path))

    def tag(version):
        return "%s-1~%s" % (version, distro_tag(system))

    cli = "docker-cli" if "docker-cli" in debs else "docker.io"
    engine = upstream(control_field(debs["docker.io"], "Version"))
    containerd = upstream(control_field(debs["containerd"], "Version"))
    docker_libs = libraries(debs["docker.io"])
    libc = [d for d in docker_libs if dep_name(d) == "libc6"]
    versions = {"docker-ce": [], "docker-ce-cli": [], "docker-ce-rootless-extras": [],
                "containerd.io": [tag(containerd)]}
    built = []
    # Debian's units start /usr/sbin/dockerd; Docker's packages put it in /usr/bin.
    units = os.path.join(work, "units")
    os.makedirs(units)
    for unit in ("docker.service", "docker.socket"):
        with open(src("docker.io", "/usr/lib/systemd/system/" + unit)) as f:
            text = f.read().replace("/usr/sbin/dockerd", "/usr/bin/dockerd")
        with open(os.path.join(units, unit), "w") as f:
            f.write(text)
    cli_files = {"/usr/bin/docker": src(cli, "/usr/bin/docker")}
    completion = os.path.join(x[cli], "usr/share/bash-completion/completions/docker")
    if os.path.exists(completion):
        cli_files["/usr/share/bash-completion/completions/docker"] = completion

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

    rootless_files = {
        "/usr/bin/dockerd-rootless-setuptool.sh":
            os.path.join(contrib, "usr/share/docker.io/contrib/dockerd-rootless-setuptool.sh"),
        "/usr/bin/dockerd-rootless.sh": os.path.join(contrib, "usr/share/docker.io/contrib/dockerd-rootless.sh"),
        "/usr/bin/rootlesskit": src("rootlesskit", "/usr/bin/rootlesskit"),
    }
    # dockerd before 28 publishes ports through it (Docker's rootless extras carried it)
    proxy = os.path.join(x["rootlesskit"], "usr/bin/rootlesskit-docker-proxy")
    if os.path.exists(proxy):
        rootless_files["/usr/bin/rootlesskit-docker-proxy"] = proxy
    for version in (engine, older_engine(system, engine)):
        full = "5:" + tag(version)
        for pkg in ("docker-ce", "docker-ce-cli", "docker-ce-rootless-extras"):
            versions[pkg].append(full)
        built.append(build_deb(work, out_dir, "docker-ce-cli", full, cli_files, [
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
            "/usr/bin/docker-init": src("docker.io", "/usr/bin/docker-init", "tini"),
            "/lib/systemd/system/docker.service": os.path.join(units, "docker.service"),
            "/lib/systemd/system/docker.socket": os.path.join(units, "docker.socket"),
        }, [
            ("Depends", ", ".join(["containerd.io (>= %s)" % containerd, "docker-ce-cli", "iptables"] + docker_libs)),
            ("Recommends", "apparmor, ca-certificates, docker-ce-rootless-extras, git, libltdl7, pigz, procps, xz-utils"),
            ("Suggests", "aufs-tools, cgroupfs-mount | cgroup-lite"),
            ("Conflicts", "docker (<< 1.5~), docker-engine, docker.io"),
            ("Replaces", "docker-engine"),
            ("Section", "admin"), ("Priority", "optional"), ("Homepage", "https://www.docker.com"),
            ("Description", "Docker: the open-source application container engine (lab stand-in)"),
        ], maintainer_scripts(["docker.socket", "docker.service"], docker_group=True)))
        built.append(build_deb(work, out_dir, "docker-ce-rootless-extras", full, rootless_files, [
            ("Depends", ", ".join(["docker-ce"] + merge_depends(split_depends(control_field(debs["rootlesskit"], "Depends"))))),
            ("Recommends", "slirp4netns (>= 0.4.0)"),
            ("Conflicts", "rootlesskit"), ("Replaces", "rootlesskit"),
            ("Section", "admin"), ("Priority", "optional"), ("Homepage", "https://docs.docker.com/engine/security/rootless/"),
            ("Description", "Rootless support for Docker (lab stand-in)"),
        ]))

    for source in sorted(PLUGINS):
        if source not in debs:
            continue
        name, path = PLUGINS[source]
        version = tag(upstream(control_field(debs[source], "Version")))
        versions[name] = [version]
        built.append(build_deb(work, out_dir, name, version, {path: src(source, path)}, [
            ("Depends", ", ".join(libraries(debs[source]))),
            ("Section", "admin"), ("Priority", "optional"),
            ("Description", "Docker CLI plugin %s (lab stand-in, the distribution's binary)" % os.path.basename(path)),
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


def write_index(repo, debs, suite):
    dist = os.path.join(repo, "dists", suite)
    binary = os.path.join(dist, COMPONENT, "binary-" + ARCH)
    os.makedirs(binary, exist_ok=True)
    text = "\n".join(packages_stanza(repo, d) for d in sorted(debs)).encode()
    with open(os.path.join(binary, "Packages"), "wb") as f:
        f.write(text)
    with gzip.GzipFile(os.path.join(binary, "Packages.gz"), "wb", mtime=0) as f:
        f.write(text)
    with open(os.path.join(binary, "Release"), "w") as f:
        f.write("Archive: %s\nComponent: %s\nOrigin: Docker\nLabel: Docker\nArchitecture: %s\n" % (suite, COMPONENT, ARCH))
    files = []
    for sub in ("Packages", "Packages.gz", "Release"):
        path = os.path.join(binary, sub)
        with open(path, "rb") as f:
            data = f.read()
        files.append((os.path.relpath(path, dist), data))
    lines = ["Origin: Docker", "Label: Docker", "Suite: %s" % suite, "Codename: %s" % suite,
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

def paths(system=lab.DEFAULT_SYSTEM):
    p = lab.image_paths(system)
    return p["cache"], p["pool"]


def build(force=False, system=lab.DEFAULT_SYSTEM):
    """The stand-in for `system` (built if absent): Docker's layout for its distribution,
    linux/<family>/{gpg,dists/<suite>/...}; repo.tar holds that tree as docker-standin/."""
    cache, pool = paths(system)
    spec = lab.SYSTEMS[system]
    suite, url_path = spec["suite"], "linux/" + spec["family"]
    if not os.path.isdir(pool):
        raise StandinError("%s does not exist: build the lab image first (lab.py build --system %s)" % (pool, system))
    for tool in ("dpkg-deb", "gpg", "gpgv", "tar"):
        if not shutil.which(tool):
            raise StandinError("%s not found" % tool)
    debs = pool_debs(pool)
    scripts_deb = rootless_scripts_deb(debs, cache)
    key = inputs_hash(system, debs, scripts_deb)
    base = os.path.join(cache, "standin", system)
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
        tree = os.path.join(out, "repo")
        repo = os.path.join(tree, url_path)
        pool_dir = os.path.join(repo, "dists", suite, "pool", COMPONENT, ARCH)
        os.makedirs(pool_dir)
        log("repackaging %s's %s into Docker's package names" % (system, ", ".join(sorted(debs))))
        built, versions = build_packages(work, pool_dir, debs, scripts_deb, system)
        release = write_index(repo, built, suite)
        fpr = sign(work, repo, release)
        applets = build_busybox(work, debs[BUSYBOX], os.path.join(out, "busybox.tar"))
        tar_path = os.path.join(out, "repo.tar")
        with tarfile.open(tar_path, "w") as tar:
            tar.add(tree, arcname="docker-standin")
        info = {"system": system, "dir": os.path.join(target, "repo", url_path),
                "tar": os.path.join(target, "repo.tar"), "tar_root": "docker-standin", "url_path": url_path,
                "fingerprint": fpr, "busybox_tar": os.path.join(target, "busybox.tar"), "busybox_applets": applets,
                "suite": suite, "component": COMPONENT, "arch": ARCH, "versions": versions,
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
        if name != key and not name.startswith("build-"):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    # builds of the one-system layout, before <cache>/standin/<system>/
    top = os.path.dirname(base)
    for name in os.listdir(top):
        if name not in lab.SYSTEMS and name != "debian-docker.io":
            shutil.rmtree(os.path.join(top, name), ignore_errors=True)
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the stand-in repository if absent (or --force)")
    b.add_argument("--force", action="store_true")
    i = sub.add_parser("info", help="print the cached build's JSON (building it if absent)")
    for p in (b, i):
        p.add_argument("--system", choices=sorted(lab.SYSTEMS), default=lab.DEFAULT_SYSTEM)
    args = ap.parse_args(argv)
    try:
        info = build(force=getattr(args, "force", False), system=args.system)
    except (StandinError, subprocess.CalledProcessError) as exc:
        log("error: %s" % exc)
        return 1
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
