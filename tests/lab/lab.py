"""nsguard VM lab: real Ubuntu 24.04 hosts under QEMU for the collection's tests.

Nothing this collection does is true until it runs on a systemd host with a real kernel,
so scenarios run against throwaway VMs booted from one cached base image:

  build            debootstrap a noble rootfs (InRelease verified with the Ubuntu archive
                   key shipped in tests/lab/keys, fingerprint checked first), configure it in
                   a chroot, pack it as qcow2 with its kernel and initrd. Cached outside the
                   repo under a hash of the recipe; rebuilt when absent or changed.
  up NAME          boot a VM from a fresh overlay under QEMU TCG (nested KVM hangs on this
                   machine kind), SSH forwarded to 127.0.0.1:<free port>; wait for SSH with a
                   bounded timeout and one retry; print the instance as JSON.
  down NAME|--all  stop VMs and delete their overlays.
  console NAME     print a VM's serial console.
  test SCENARIO..  run molecule scenarios stage by stage, in two lanes (longest first; each
                   scenario's output printed whole when it ends), recording wall
                   times to JSON and printing serial consoles when anything fails.
  paths            print the cache paths (image, kernel, initrd, key, pool) as JSON.

Processes and overlays are always cleaned up, also on failure, SIGTERM or Ctrl-C.
"""

import argparse
import contextlib
import datetime
import hashlib
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# The systems the lab builds images of. Each image is made the same way: debootstrap of
# the release (its InRelease verified with the archive key shipped in tests/lab/keys,
# fingerprint checked first), the system's packages installed in a chroot, and the
# vagrant user. Only what differs between the systems is here.
_UBUNTU_INCLUDE = ["ubuntu-keyring", "systemd-sysv", "udev", "kmod", "dbus", "apt-utils"]
_DEBIAN_INCLUDE = ["debian-archive-keyring", "systemd-sysv", "udev", "kmod", "dbus", "apt-utils"]
# Ubuntu's .debs kept beside the image for test fixtures: the stand-in for Docker's apt
# repository is repackaged from these, and busybox-static makes local test images.
_UBUNTU_POOL = ["docker.io", "containerd", "runc", "rootlesskit", "docker-buildx", "docker-compose-v2",
                "tini", "busybox-static"]
# What a small server has (apparmor matters: it carries the rootlesskit profile where the
# system has one).
_COMMON_PACKAGES = ["initramfs-tools", "openssh-server", "sudo", "python3", "python3-apt", "libpam-systemd",
                    "iproute2", "ca-certificates", "gnupg", "apparmor", "procps", "less", "netbase"]
SYSTEMS = {
    "noble": {
        "family": "ubuntu", "version": "24.04", "suite": "noble",
        # Debian 12's debootstrap has no `noble` script; every modern Ubuntu suite uses
        # `gutsy`, which also carries the archive's default mirror, so none is written here.
        "debootstrap_script": "gutsy",
        # Ubuntu Archive Automatic Signing Key (2018) <ftpmaster@ubuntu.com>
        "key": "ubuntu-archive-2018.asc", "fingerprint": "F6ECB3762474EDA9D21B7022871920D1991BC93C",
        "components": ["main", "universe"], "include": _UBUNTU_INCLUDE,
        "packages": ["linux-image-virtual", "initramfs-tools", "openssh-server", "sudo", "python3",
                     "python3-apt", "systemd-resolved", "libpam-systemd", "iproute2", "ca-certificates",
                     "gnupg", "apparmor", "procps", "less", "netbase"],
        "pool": _UBUNTU_POOL,
    },
    "jammy": {
        "family": "ubuntu", "version": "22.04", "suite": "jammy", "debootstrap_script": "gutsy",
        "key": "ubuntu-archive-2018.asc", "fingerprint": "F6ECB3762474EDA9D21B7022871920D1991BC93C",
        "components": ["main", "universe"], "include": _UBUNTU_INCLUDE,
        # jammy's systemd still carries resolved
        "packages": ["linux-image-virtual"] + _COMMON_PACKAGES,
        "pool": _UBUNTU_POOL,
    },
    "bookworm": {
        "family": "debian", "version": "12", "suite": "bookworm", "debootstrap_script": None,
        # Debian Stable Release Key (12/bookworm) <debian-release@lists.debian.org>
        "key": "debian-bookworm-stable.asc", "fingerprint": "4D64FEC119C2029067D6E791F8D2585B8783D481",
        "components": ["main"], "include": _DEBIAN_INCLUDE,
        "packages": ["linux-image-cloud-amd64", "systemd-resolved"] + _COMMON_PACKAGES,
        "pool": ["docker.io", "containerd", "runc", "rootlesskit", "tini", "busybox-static"],
    },
    "trixie": {
        "family": "debian", "version": "13", "suite": "trixie", "debootstrap_script": None,
        # Debian Stable Release Key (13/trixie) <debian-release@lists.debian.org>
        "key": "debian-trixie-stable.asc", "fingerprint": "41587F7DB8C774BCCF131416762F67A0B2C39DE4",
        "components": ["main"], "include": _DEBIAN_INCLUDE,
        "packages": ["linux-image-cloud-amd64", "systemd-resolved"] + _COMMON_PACKAGES,
        # Debian 13 moved the docker CLI out of docker.io
        "pool": ["docker.io", "docker-cli", "containerd", "runc", "rootlesskit", "docker-buildx",
                 "docker-compose", "tini", "busybox-static"],
    },
}
DEFAULT_SYSTEM = "noble"
IMAGE_SIZE = "10G"
RECIPE_VERSION = "3"

CONFIGURE_TEMPLATE = r"""
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
# Reuse the mirror debootstrap chose for every pocket; name no host here.
mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)
rm -f /etc/apt/sources.list
cat > /etc/apt/sources.list.d/%(family)s.sources <<EOF
%(sources)sEOF
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
apt-get -q update
apt-get -qy full-upgrade
apt-get -qy install --no-install-recommends $IMAGE_PACKAGES
%(after_install)smkdir -p /var/cache/lab-pool && cd /var/cache/lab-pool && apt-get -q download $POOL_PACKAGES && cd /
echo nsguard-lab > /etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 nsguard-lab\n::1 localhost ip6-localhost ip6-loopback\n' > /etc/hosts
echo '/dev/vda / ext4 defaults,discard 0 1' > /etc/fstab
printf '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n' > /etc/systemd/network/10-eth0.network
systemctl enable systemd-networkd systemd-resolved ssh
systemctl mask apt-daily.timer apt-daily-upgrade.timer motd-news.timer fstrim.timer \
    e2scrub_all.timer man-db.timer dpkg-db-backup.timer 2>/dev/null || true
# The vagrant user, as on a Vagrant box: uid 1000, passwordless sudo, the lab's key.
useradd -m -s /bin/bash -u 1000 -G sudo vagrant
echo 'vagrant ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/vagrant && chmod 0440 /etc/sudoers.d/vagrant
install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.ssh
install -m 0600 -o vagrant -g vagrant /tmp/lab_key.pub /home/vagrant/.ssh/authorized_keys
printf 'UseDNS no\nPasswordAuthentication no\n' > /etc/ssh/sshd_config.d/10-lab.conf
rm -f /tmp/lab_key.pub /usr/sbin/policy-rc.d
apt-get clean
ln -sf ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
"""


def apt_sources(system):
    """The deb822 sources of a system's image: the release, its updates and its security
    pocket, all from the mirror debootstrap used (Debian's security archive sits beside
    it, at <mirror>-security)."""
    spec = SYSTEMS[system]
    suite, components = spec["suite"], " ".join(spec["components"])
    keyring = "/usr/share/keyrings/%s-archive-keyring.gpg" % spec["family"]
    stanza = "Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: %s\n"
    if spec["family"] == "ubuntu":
        return stanza % ("$mirror", "%s %s-updates %s-security" % (suite, suite, suite), components, keyring)
    return (stanza % ("$mirror", "%s %s-updates" % (suite, suite), components, keyring) + "\n"
            + stanza % ("$mirror-security", "%s-security" % suite, components, keyring))


# Debian's systemd-resolved links /etc/resolv.conf to its stub, which no resolver serves
# in the chroot: the build's copy of the host's file is put back for the pool's download.
_KEEP_BUILD_RESOLVER = "test -e /etc/resolv.conf || { rm -f /etc/resolv.conf; cp /etc/resolv.conf.build /etc/resolv.conf; }\n"


def configure_script(system):
    spec = SYSTEMS[system]
    return CONFIGURE_TEMPLATE % {"family": spec["family"], "sources": apt_sources(system),
                                 "after_install": _KEEP_BUILD_RESOLVER if spec["family"] == "debian" else ""}


def missing_pool_packages(pool, packages):
    """The packages of ``packages`` without a .deb in directory ``pool``."""
    present = set(name.split("_", 1)[0] for name in os.listdir(pool) if name.endswith(".deb"))
    return [name for name in packages if name not in present]


class LabError(Exception):
    pass


def log(msg):
    sys.stderr.write("[lab %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def run(cmd, **kw):
    log("$ " + " ".join(cmd))
    # Tools' chatter goes to stderr: stdout carries only the JSON result.
    kw.setdefault("stdout", sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def cache_root():
    default = "/var/cache/nsguard-lab" if os.geteuid() == 0 else \
        os.path.join(os.path.expanduser("~"), ".cache", "nsguard-lab")
    return os.environ.get("NSGUARD_LAB_CACHE", default)


def run_root():
    return os.environ.get("NSGUARD_LAB_RUN", os.path.join(cache_root(), "instances"))


def key_file(system):
    return os.path.join(HERE, "keys", SYSTEMS[system]["key"])


def recipe_hash(system=DEFAULT_SYSTEM):
    spec = SYSTEMS[system]
    h = hashlib.sha256()
    for part in (RECIPE_VERSION, spec["suite"], spec["debootstrap_script"] or spec["suite"],
                 " ".join(spec["include"]), " ".join(spec["packages"]), " ".join(spec["pool"]), IMAGE_SIZE,
                 configure_script(system), spec["fingerprint"]):
        h.update(part.encode() + b"\0")
    with open(key_file(system), "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:16]


def image_paths(system=DEFAULT_SYSTEM):
    d = os.path.join(cache_root(), "images", recipe_hash(system))
    return {
        "system": system,
        "dir": d,
        "image": os.path.join(d, "base.qcow2"),
        "kernel": os.path.join(d, "vmlinuz"),
        "initrd": os.path.join(d, "initrd.img"),
        "key": os.path.join(d, "id_ed25519"),
        "pool": os.path.join(d, "pool"),
        "cache": cache_root(),
        "timings": os.path.join(cache_root(), "timings.jsonl"),
    }


# --------------------------------------------------------------------------- build

def verified_keyring(workdir, system=DEFAULT_SYSTEM):
    """Return a binary keyring holding the system's shipped archive key, after checking its
    fingerprint."""
    path, expected = key_file(system), SYSTEMS[system]["fingerprint"]
    gnupg = os.path.join(workdir, "gnupg")
    os.makedirs(gnupg, mode=0o700)
    out = subprocess.run(["gpg", "--homedir", gnupg, "--with-colons", "--show-keys", path],
                         check=True, capture_output=True, text=True).stdout
    fprs = [line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:")]
    if not fprs or fprs[0] != expected:
        raise LabError("%s has fingerprint %s, expected %s" % (path, fprs[:1], expected))
    keyring = os.path.join(workdir, "archive.gpg")
    run(["gpg", "--homedir", gnupg, "--batch", "--yes", "--output", keyring, "--dearmor", path])
    return keyring


@contextlib.contextmanager
def chroot_mounts(root):
    mounted = []
    try:
        for src, dst, args in (("proc", "proc", ["-t", "proc"]), ("sysfs", "sys", ["-t", "sysfs"]),
                               ("/dev", "dev", ["--bind"]), ("devpts", "dev/pts", ["-t", "devpts"])):
            target = os.path.join(root, dst)
            os.makedirs(target, exist_ok=True)
            run(["mount"] + args + [src, target])
            mounted.append(target)
        yield
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", target], check=False)


def build(force=False, system=DEFAULT_SYSTEM):
    p = image_paths(system)
    spec = SYSTEMS[system]
    if os.path.exists(p["image"]) and not force:
        return p
    if os.geteuid() != 0:
        raise LabError("building the base image needs root (debootstrap, chroot, mounts)")
    for tool in ("debootstrap", "qemu-img", "mkfs.ext4", "gpg", "ssh-keygen"):
        if not shutil.which(tool):
            raise LabError("%s not found: run the README's setup command first" % tool)
    os.makedirs(os.path.dirname(p["dir"]), exist_ok=True)
    work = tempfile.mkdtemp(prefix="build-", dir=os.path.dirname(p["dir"]))
    started = time.time()
    try:
        keyring = verified_keyring(work, system)
        root = os.path.join(work, "rootfs")
        # A private copy of debootstrap's data, with a script for a suite it does not know
        # (noble: a link to gutsy).
        dbs = os.path.join(work, "debootstrap")
        shutil.copytree("/usr/share/debootstrap", dbs, symlinks=True)
        if spec["debootstrap_script"] and not os.path.exists(os.path.join(dbs, "scripts", spec["suite"])):
            os.symlink(spec["debootstrap_script"], os.path.join(dbs, "scripts", spec["suite"]))
        env = dict(os.environ, DEBOOTSTRAP_DIR=dbs)
        run(["debootstrap", "--variant=minbase", "--keyring=" + keyring,
             "--components=" + ",".join(spec["components"]), "--include=" + ",".join(spec["include"]),
             spec["suite"], root, ""], env=env)
        log("debootstrap done after %.0fs" % (time.time() - started))
        out = os.path.join(work, "out")
        os.makedirs(out)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nsguard-lab",
             "-f", os.path.join(out, "id_ed25519")])
        shutil.copy(os.path.join(out, "id_ed25519.pub"), os.path.join(root, "tmp", "lab_key.pub"))
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc", "resolv.conf"))
        shutil.copy("/etc/resolv.conf", os.path.join(root, "etc", "resolv.conf.build"))
        with chroot_mounts(root):
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
                   "IMAGE_PACKAGES": " ".join(spec["packages"]), "POOL_PACKAGES": " ".join(spec["pool"])}
            run(["chroot", root, "/bin/bash", "-c", configure_script(system)], env=env)
        log("configured after %.0fs" % (time.time() - started))
        os.remove(os.path.join(root, "etc", "resolv.conf.build"))
        shutil.move(os.path.join(root, "var", "cache", "lab-pool"), os.path.join(out, "pool"))
        # the script's download is part of an && list, which `set -e` does not stop on
        missing = missing_pool_packages(os.path.join(out, "pool"), spec["pool"])
        if missing:
            raise LabError("the image's pool lacks %s: see the download above" % ", ".join(missing))
        boot = os.path.join(root, "boot")
        kernels = sorted(f for f in os.listdir(boot) if f.startswith("vmlinuz-"))
        if not kernels:
            raise LabError("no kernel in the image's /boot")
        version = kernels[-1][len("vmlinuz-"):]
        shutil.copy(os.path.join(boot, "vmlinuz-" + version), os.path.join(out, "vmlinuz"))
        shutil.copy(os.path.join(boot, "initrd.img-" + version), os.path.join(out, "initrd.img"))
        raw = os.path.join(work, "rootfs.raw")
        run(["truncate", "-s", IMAGE_SIZE, raw])
        run(["mkfs.ext4", "-q", "-L", "nsguard-root", "-d", root, raw])
        run(["qemu-img", "convert", "-c", "-O", "qcow2", raw, os.path.join(out, "base.qcow2")])
        with open(os.path.join(out, "recipe.json"), "w") as f:
            json.dump({"hash": recipe_hash(system), "system": system, "suite": spec["suite"], "kernel": version,
                       "built": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                       "seconds": round(time.time() - started)}, f, indent=2)
        if os.path.exists(p["dir"]):
            shutil.rmtree(p["dir"])
        os.rename(out, p["dir"])
        log("image ready in %.0fs: %s" % (time.time() - started, p["image"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    prune_images()
    return p


def prune_images():
    """Remove cached images no current recipe names (of any system)."""
    keep = set(recipe_hash(system) for system in SYSTEMS)
    images = os.path.join(cache_root(), "images")
    for name in os.listdir(images):
        if name not in keep and not name.startswith("build-"):
            log("removing stale image %s" % name)
            shutil.rmtree(os.path.join(images, name), ignore_errors=True)


# --------------------------------------------------------------------------- VMs

def instance_dir(name):
    return os.path.join(run_root(), name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_pid(name):
    try:
        with open(os.path.join(instance_dir(name), "qemu.pid")) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            if ("nsguard-" + name).encode() not in f.read():
                return None
        return pid
    except (OSError, ValueError):
        return None


# Every VM gets the same memory and CPUs: a saved state restores only into the machine it
# was taken from. 3 GiB fits two rootless daemons; 24 GiB hosts run one VM at a time.
# One vCPU: beside a busy process the guest gets about one core, and two vCPU threads
# sharing it made every fork and exec in the guest up to twice as slow (a vCPU waits for
# the other one, descheduled); quiet, one vCPU costs only a slower boot (docs/lab.md).
VM_MEMORY = 3072
VM_CPUS = 1
BOOT_TIMEOUT = 300  # seconds per attempt: a cold boot took 118-154 s beside a busy process
REBOOT_TIMEOUT = 600  # a reboot is a shutdown and a boot, with no retry: twice a boot's bound


def ssh_base(inst):
    # ServerAlive: a guest that stops answering ends the command instead of hanging it.
    return ["ssh", "-q", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR",
            "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=8",
            "-i", inst["identity_file"], "-p", str(inst["port"]), "%s@%s" % (inst["user"], inst["address"])]


def qemu_command(name, p, overlay, port, console, pidfile, qmp_sock, incoming=None):
    """QEMU's command line. A saved state restores only into the machine it was saved
    from, so this is the one place the machine is described; names, paths and ports vary."""
    cmd = ["qemu-system-x86_64", "-name", "nsguard-" + name, "-machine", "q35",
           "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", str(VM_CPUS), "-m", str(VM_MEMORY),
           "-kernel", p["kernel"], "-initrd", p["initrd"],
           "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0",
           "-drive", "file=%s,if=virtio,format=qcow2,cache=unsafe,discard=unmap" % overlay,
           "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22" % port,
           "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-rng-pci",
           "-display", "none", "-vga", "none", "-serial", "file:" + console,
           "-qmp", "unix:%s,server=on,wait=off" % qmp_sock,
           "-daemonize", "-pidfile", pidfile]
    if incoming:
        cmd += ["-incoming", "exec:cat %s" % shlex.quote(incoming)]
    return cmd


# The guest is a run's critical path: every stage waits on it. A daemonized QEMU is a
# session of its own, and the kernel shares CPU time between sessions (autogroups) before
# processes; beside a busy process and this run's own static stages, QEMU got a third of
# the two cores. As root the lab raises QEMU's priority, its session's and its threads'
# (threads it starts later inherit it); without the privilege it stays as it is.
VM_NICE = -10


def prioritize(pid):
    """Raise the CPU priority of QEMU process `pid`; returns what could be raised."""
    raised = []
    try:
        with open("/proc/%d/autogroup" % pid, "w") as f:
            f.write(str(VM_NICE))
        raised.append("session")
    except OSError:
        pass  # not root, or a kernel without autogroups
    try:
        tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
    except OSError:
        tids = []
    try:
        for tid in tids:
            os.setpriority(os.PRIO_PROCESS, tid, VM_NICE)
        if tids:
            raised.append("threads")
    except OSError:
        pass
    return raised


def boot(name, p, layer=None, port=None):
    """Start VM `name`: a cold boot of the base image or, given a layer, a restore of the
    layer's saved running state (seconds, not a boot) on an overlay of the layer's disk.
    `port`: the host port for its SSH (default: a free one)."""
    d = instance_dir(name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    overlay = os.path.join(d, "overlay.qcow2")
    backing = layer["disk"] if layer else p["image"]
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2", overlay])
    port = port or free_port()
    console = os.path.join(d, "console.log")
    run(qemu_command(name, p, overlay, port, console, os.path.join(d, "qemu.pid"),
                     os.path.join(d, "qmp.sock"), incoming=layer["state"] if layer else None))
    pid = qemu_pid(name)
    if pid:
        log("%s: QEMU pid %d, priority %d raised for: %s" % (
            name, pid, VM_NICE, ", ".join(prioritize(pid)) or "nothing (not permitted)"))
    inst = {"instance": name, "address": "127.0.0.1", "port": port, "user": "vagrant",
            "identity_file": p["key"], "console": console, "overlay": overlay,
            "layer": layer["name"] if layer else None}
    with open(os.path.join(d, "instance.json"), "w") as f:
        json.dump(inst, f, indent=2)
    return inst


def ssh_banner(inst, timeout=3):
    """True when the guest's sshd sends its version line within `timeout` seconds. QEMU's
    user network accepts the forwarded port at once, guest up or not: an ssh attempt on a
    guest still booting waits its whole ConnectTimeout for a banner that never comes (30 s
    lost per try in Ansible's reboot module), where this probe costs `timeout`."""
    try:
        with socket.create_connection((inst["address"], inst["port"]), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def wait_for_ssh(name, inst, timeout, ready=None):
    """Wait until SSH to VM `name` runs a command, bounded by `timeout`. `ready(stdout)`:
    whether the command's output is the awaited one (default: the boot has settled)."""
    deadline = time.time() + timeout
    command = "systemctl is-system-running --wait >/dev/null; true" if ready is None \
        else "cat /proc/sys/kernel/random/boot_id"
    while time.time() < deadline:
        if qemu_pid(name) is None:
            raise LabError("QEMU for %s exited during boot" % name)
        if not ssh_banner(inst):
            time.sleep(1)
            continue
        try:
            r = subprocess.run(check=False, args=ssh_base(inst) + [command],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=max(5, deadline - time.time()))
        except subprocess.TimeoutExpired:
            break
        if r.returncode == 0 and (ready is None or ready(r.stdout)):
            return
        time.sleep(2)
    raise LabError("no SSH on 127.0.0.1:%d after %ds" % (inst["port"], timeout))


def running_instance(name):
    """The connection details `boot` wrote for VM `name` (LabError when it has none)."""
    try:
        with open(os.path.join(instance_dir(name), "instance.json")) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise LabError("no running instance %s: %s" % (name, e))


def wait_reboot(name, boot_id, timeout=REBOOT_TIMEOUT):
    """Wait until VM `name` answers SSH from a boot other than `boot_id` (the guest's
    /proc/sys/kernel/random/boot_id before its reboot); the seconds it took. A guest that
    does not come back fails with its console."""
    started = time.time()
    inst = running_instance(name)
    try:
        wait_for_ssh(name, inst, timeout, ready=lambda out: out.strip() not in ("", boot_id.strip()))
    except LabError as e:
        print_console(name)
        raise LabError("%s did not come back from its reboot: %s" % (name, e))
    return round(time.time() - started, 1)


def ssh_run(inst, command, timeout, stdin=None):
    """Run `command` as root on the VM of `inst`: its stdout lines; LabError if it fails
    or outlives `timeout`."""
    try:
        r = subprocess.run(ssh_base(inst) + ["sudo sh -c %s" % shlex.quote(command)], check=False,
                           stdin=stdin if stdin is not None else subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError("on %s, `%s` did not finish in %ds" % (inst["instance"], command.strip()[:200], timeout))
    if r.returncode != 0:
        raise LabError("on %s, `%s` exited %d: %s" % (inst["instance"], command.strip()[:200], r.returncode,
                                                      (r.stderr.strip() or r.stdout.strip())[-1500:]))
    return r.stdout.splitlines()


def resume_restored(name, timeout):
    """Run a VM restored from a layer once its state is read in: the state was saved from
    a stopped VM, and QEMU keeps a migrated VM in the run state it came with."""
    deadline = time.time() + timeout
    sock = os.path.join(instance_dir(name), "qmp.sock")
    while not os.path.exists(sock):
        if qemu_pid(name) is None or time.time() > deadline:
            raise LabError("QEMU for %s did not start" % name)
        time.sleep(0.2)
    qmp = QMP(sock)
    try:
        while True:
            migration = qmp.call("query-migrate").get("status")
            if migration == "failed":
                raise LabError("restoring %s: reading the saved state failed" % name)
            if migration == "completed":
                break
            if time.time() > deadline:
                raise LabError("restoring %s: the saved state was not read in %ds" % (name, timeout))
            time.sleep(0.2)
        if not qmp.call("query-status").get("running"):
            qmp.call("cont")
    finally:
        qmp.close()


def set_guest_clock(inst):
    """A restored guest's clock stands where its state was saved, hours or days ago (apt
    would find the archive's Release files "not valid yet"): set it from the host's."""
    ssh_run(inst, "date -u -s @%d >/dev/null" % int(time.time()), timeout=60)


def console_tail(name, lines):
    """The last `lines` lines of a VM's serial console, or None when it has none."""
    try:
        with open(os.path.join(instance_dir(name), "console.log"), errors="replace") as f:
            return f.read().splitlines()[-lines:]
    except OSError:
        return None


def print_console(name, lines=80, out=None):
    tail = console_tail(name, lines)
    if tail is None:
        return
    (out or sys.stderr).write("----- serial console of %s (last %d lines) -----\n%s\n----- end of console -----\n"
                              % (name, lines, "\n".join(tail)))


def up(name, layer=None, timeout=BOOT_TIMEOUT, attempts=2, spec=None, port=None, system=None):
    """Boot VM `name` (or restore it from a layer) and wait for SSH; one retry. `spec`: the
    paths of a layer to restore instead of `layer` (a prepared layer, see below); by
    default the one `lab.py test` names for this VM in $NSGUARD_LAB_PREPARED, if any.
    `system`: by default the one the VM's name starts with (vm_system)."""
    system = system or vm_system(name)
    p = build(system=system)
    spec = spec or prepared_spec_for(name) or (ensure_layer(layer, system) if layer else None)
    for attempt in range(1, attempts + 1):
        started = time.time()
        try:
            inst = boot(name, p, spec, port=port)
            if spec:
                resume_restored(name, timeout)
            wait_for_ssh(name, inst, timeout)
            if spec:
                set_guest_clock(inst)
            log("%s up in %.0fs on 127.0.0.1:%d (%s)" % (name, time.time() - started, inst["port"],
                                                         "layer " + spec["name"] if spec else "cold boot"))
            return inst
        except (LabError, subprocess.SubprocessError) as e:
            log("attempt %d/%d for %s failed: %s" % (attempt, attempts, name, e))
            print_console(name)
            down(name)
            if attempt == attempts:
                raise LabError("%s did not come up: %s" % (name, e))
        except BaseException:
            down(name)
            raise
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- layers

# A layer is a prepared host: the saved running state of a VM (a QEMU migration into a
# file) and the disk it had at that moment. A scenario's platform names its layer
# (`layer:` in molecule.yml); its VM restores from it in seconds, booted and with what
# every scenario of its kind would otherwise install in prepare. A layer is cached under a
# hash of all that made it (parent, script, uploaded files, machine, QEMU version) and
# built when absent. Layers hold only the distribution's and the stand-in's packages,
# never this collection's code: changing a role must not make the cache cold, and what
# the roles do is proved by the scenarios, on top of a layer.
LAYER_VERSION = "1"
# Every Ansible task compiles ansible.module_utils from its AnsiballZ zip again (zipimport
# keeps no byte code): 3.3 s of a 4.2 s `ping` under TCG. The `ready` layer installs a
# cache for it in the guest's Python (tests/lab/guest/nsguard_lab_zipcache.py).
ZIPCACHE_LOCAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest", "nsguard_lab_zipcache.py")
ZIPCACHE_GUEST = "/usr/lib/python3/dist-packages/nsguard_lab_zipcache.py"
# What the roles install from the distribution's archive (engine_prerequisite_packages,
# rootless_packages, subids' uidmap) and what the stand-in packages depend on or
# recommend; downloaded with their dependencies by the ready layer.
LAB_ARCHIVE_PACKAGES = ["ca-certificates", "python3-debian", "uidmap", "dbus-user-session", "slirp4netns",
                        "iptables", "acl", "apparmor", "git", "libltdl7", "pigz", "procps", "xz-utils"]
# apt's binary cache, built once in the layer: without it every scenario's first apt
# call rebuilds it from the lists (about 20 s under TCG). `apt-get clean` would delete it
# and the fetched .debs, so no layer calls it.
APT_CACHE_WARM = "apt-cache gencaches && test -s /var/cache/apt/pkgcache.bin"
# apt's lists of the archive, cut by the `ready` layer to the packages fetched, installed
# or kept in the pool and what they need (tests/lab/guest/nsguard_lab_apt_lists.py): each
# apt task walks every package of the lists, 5-9 s of it under TCG with the whole archive.
APT_LISTS_LOCAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest", "nsguard_lab_apt_lists.py")
APT_LISTS_GUEST = "/usr/local/lib/nsguard_lab_apt_lists.py"
# Only the Docker source: an update of the archive would fetch its whole lists again.
APT_UPDATE_DOCKER_SOURCE = ("apt-get -q update -o Dir::Etc::SourceList=/etc/apt/sources.list.d/docker.sources"
                            " -o Dir::Etc::SourceParts=- -o APT::Get::List-Cleanup=false")
LAYER_SCRIPTS = {
    # Booted and settled, with the fixtures copied in once (not by Ansible in each
    # prepare): the stand-in repository, its busybox root filesystem, the pool's runc.
    "ready": "\n".join([
        "set -eux",
        "test -f /srv/docker-standin/linux/%(family)s/gpg && test -f /srv/busybox-rootfs.tar",
        # The zip import byte code cache (tests/lab/guest/nsguard_lab_zipcache.py).
        "python3 -m py_compile %s" % ZIPCACHE_GUEST,
        "echo 'import nsguard_lab_zipcache' > %s" % ZIPCACHE_GUEST.replace("_zipcache.py", "-zipcache.pth"),
        "python3 -c 'import zipimport; assert zipimport._compile_source.__name__ == \"_cached_compile\"'",
        "apt-get -q update",
        # Every .deb the roles and scenarios take from the archive, fetched with these lists:
        # the scenarios set the roles' cache_valid_time so long that apt never updates
        # (20-25 s and a 20 s cache rebuild per update under TCG), and a list that has
        # grown old still finds its exact versions here instead of asking the archive.
        "apt-get -qy install --download-only %s" % " ".join(LAB_ARCHIVE_PACKAGES),
        "apt-get -qy install --download-only docker.io",
        "python3 %s /var/lib/apt/lists /var/lib/dpkg/status /var/cache/apt/archives %%(pool)s" % APT_LISTS_GUEST,
        # Translated descriptions are never read here; no later update fetches them again.
        "echo 'Acquire::Languages \"none\";' > /etc/apt/apt.conf.d/90nsguard-lab-languages",
        APT_CACHE_WARM,
        # The cut lists still resolve everything the layer fetched.
        "apt-get -qs install %s >/dev/null" % " ".join(LAB_ARCHIVE_PACKAGES),
        "apt-get -qs install docker.io >/dev/null",
    ]),
    # The distribution's docker.io with its rootful daemon running (audit, userns_remap).
    "docker.io": "\n".join([
        "set -eux",
        "export DEBIAN_FRONTEND=noninteractive",
        "apt-get -qy install --no-install-recommends docker.io",
        APT_CACHE_WARM,
        "systemctl is-active docker.service",
    ]),
    # Docker CE from the stand-in repository as on a rootless-only host: the rootful
    # units masked before the packages could start them (rootless).
    "docker-ce": "\n".join([
        "set -eux",
        "export DEBIAN_FRONTEND=noninteractive",
        "install -d -m 0755 /etc/apt/keyrings",
        "cp /srv/docker-standin/linux/%(family)s/gpg /etc/apt/keyrings/docker.asc",
        "printf 'Types: deb\\nURIs: file:///srv/docker-standin/linux/%(family)s\\nSuites: %(suite)s\\nComponents: stable\\n"
        "Signed-By: /etc/apt/keyrings/docker.asc\\n' > /etc/apt/sources.list.d/docker.sources",
        "systemctl mask docker.service docker.socket",
        APT_UPDATE_DOCKER_SOURCE,
        "apt-get -qy install --no-install-recommends docker-ce docker-ce-cli containerd.io"
        " docker-ce-rootless-extras %(plugins)s",
        APT_CACHE_WARM,
        "test ! -e /var/run/docker.sock",
    ]),
}
LAYER_PARENTS = {"ready": None, "docker.io": "ready", "docker-ce": "ready"}
LAYER_TIMEOUT = 1800


def layer_script(name, system=DEFAULT_SYSTEM):
    """Layer `name`'s script for `system` (its stand-in's path and suite, the plugins its
    release has)."""
    spec = SYSTEMS[system]
    plugins = "docker-buildx-plugin docker-compose-plugin" if "docker-buildx" in spec["pool"] else ""
    return LAYER_SCRIPTS[name] % {"family": spec["family"], "suite": spec["suite"], "plugins": plugins,
                                  "pool": " ".join(spec["pool"])}


def layer_label(name, system=DEFAULT_SYSTEM):
    """The cache name of layer `name` of `system`: noble's keep their bare names."""
    return name if system == DEFAULT_SYSTEM else "%s-%s" % (system, name)


def vm_system(name):
    """The system a VM runs, from its name's first part (`bookworm-harden`), else noble's."""
    system = platform_os(name)
    return system if system in SYSTEMS else DEFAULT_SYSTEM


def qemu_version():
    out = subprocess.run(["qemu-system-x86_64", "--version"], check=True, capture_output=True, text=True).stdout
    return out.splitlines()[0]


def layer_uploads(name, system=DEFAULT_SYSTEM):
    """(local file, shell reading it on stdin as root) pairs a layer copies into its VM."""
    if name != "ready":
        return []
    # standin_repo imports this module: import it only here.
    import standin_repo  # pylint: disable=import-outside-toplevel
    info = standin_repo.build(system=system)
    pool = image_paths(system)["pool"]
    runc = sorted(f for f in os.listdir(pool) if f.startswith("runc_"))[-1]
    return [
        (info["tar"], "tar -x -C /srv -f -"),
        (info["busybox_tar"], "cat > /srv/busybox-rootfs.tar"),
        (os.path.join(pool, runc), "install -d /srv/lab-pool && cat > /srv/lab-pool/runc.deb"),
        (ZIPCACHE_LOCAL, "cat > %s" % ZIPCACHE_GUEST),
        (APT_LISTS_LOCAL, "cat > %s" % APT_LISTS_GUEST),
    ]


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def layer_hash(name, uploads=None, system=DEFAULT_SYSTEM):
    if name not in LAYER_SCRIPTS:
        raise LabError("no layer %r (layers: %s)" % (name, ", ".join(sorted(LAYER_SCRIPTS))))
    parent = LAYER_PARENTS[name]
    h = hashlib.sha256()
    for part in (LAYER_VERSION, name, layer_script(name, system), str(VM_MEMORY), str(VM_CPUS), qemu_version(),
                 layer_hash(parent, system=system) if parent else recipe_hash(system)):
        h.update(part.encode() + b"\0")
    for local, command in (layer_uploads(name, system) if uploads is None else uploads):
        h.update(file_digest(local).encode() + b"\0" + command.encode() + b"\0")
    return h.hexdigest()[:16]


def layer_paths(name, digest, system=DEFAULT_SYSTEM):
    d = os.path.join(cache_root(), "layers", "%s-%s" % (layer_label(name, system), digest))
    return {"name": name, "dir": d, "disk": os.path.join(d, "disk.qcow2"),
            "state": os.path.join(d, "state"), "info": os.path.join(d, "layer.json")}


class QMP:
    """The few QEMU Machine Protocol calls the lab needs (stop, migrate, query, quit)."""

    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.file = self.sock.makefile("rw")
        json.loads(self.file.readline())  # the greeting
        self.call("qmp_capabilities")

    def call(self, command, arguments=None):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.file.write(json.dumps(msg) + "\n")
        self.file.flush()
        while True:
            line = self.file.readline()
            if not line:
                if command == "quit":
                    return {}
                raise LabError("QMP closed during %s" % command)
            reply = json.loads(line)
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise LabError("QMP %s: %s" % (command, reply["error"].get("desc")))
            # anything else is an asynchronous event

    def close(self):
        self.file.close()
        self.sock.close()


def save_state(name, state, timeout=600):
    """Stop VM `name`, write its whole running state to `state` and end QEMU; its overlay
    then holds the disk exactly as the state expects it."""
    qmp = QMP(os.path.join(instance_dir(name), "qmp.sock"))
    try:
        qmp.call("stop")
        qmp.call("migrate", {"uri": "exec:cat > %s" % shlex.quote(state)})
        deadline = time.time() + timeout
        while True:
            status = qmp.call("query-migrate").get("status")
            if status == "completed":
                break
            if status in ("failed", "cancelled") or time.time() > deadline:
                raise LabError("saving the state of %s: migration %s" % (name, status))
            time.sleep(0.5)
        qmp.call("quit")
    finally:
        qmp.close()
    deadline = time.time() + 60
    while qemu_pid(name) is not None and time.time() < deadline:
        time.sleep(0.2)


def store_layer(vm, inst, lp, parent, started):
    """Save running VM `vm` (instance `inst`) as the layer at paths `lp`: its state and its
    overlay, written beside the cache and renamed into place only when whole. QEMU ends."""
    work = tempfile.mkdtemp(prefix="build-%s-" % lp["name"], dir=os.path.dirname(lp["dir"]))
    try:
        save_state(vm, os.path.join(work, "state"))
        shutil.move(inst["overlay"], os.path.join(work, "disk.qcow2"))
        with open(os.path.join(work, "layer.json"), "w") as f:
            json.dump({"name": lp["name"], "parent": parent, "hash": os.path.basename(lp["dir"]),
                       "built": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                       "seconds": round(time.time() - started)}, f, indent=2)
        shutil.rmtree(lp["dir"], ignore_errors=True)
        os.rename(work, lp["dir"])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure_layer(name, system=DEFAULT_SYSTEM):
    """The paths of layer `name` of `system`, built first (with its parents) if it is not
    cached."""
    uploads = layer_uploads(name, system)
    lp = layer_paths(name, layer_hash(name, uploads, system), system)
    if os.path.exists(lp["info"]):
        return lp
    parent = LAYER_PARENTS[name]
    started = time.time()
    label = layer_label(name, system)
    vm = "layer-" + label.replace(".", "-")
    log("building layer %s on %s" % (label, "layer " + parent if parent else "a cold boot"))
    os.makedirs(os.path.dirname(lp["dir"]), exist_ok=True)
    try:
        inst = up(vm, layer=parent, system=system)
        for local, command in uploads:
            with open(local, "rb") as f:
                ssh_run(inst, command, timeout=LAYER_TIMEOUT, stdin=f)
        ssh_run(inst, layer_script(name, system) + "\nsync\n", timeout=LAYER_TIMEOUT)
        store_layer(vm, inst, lp, parent and layer_label(parent, system), started)
    finally:
        down(vm)
    prune_layers(system)
    log("layer %s ready in %.0fs" % (label, time.time() - started))
    return lp


# A cached base layer's directory: [<system>-]<layer>-<hash> (noble's have no system part).
_LAYER_ENTRY = re.compile(r"(?:(%s)-)?(?:%s)-.+" % ("|".join(SYSTEMS), "|".join(map(re.escape, LAYER_SCRIPTS))))


def prune_layers(system=DEFAULT_SYSTEM):
    """Remove the cached layers of `system` that no current recipe names (a rebuilt parent
    orphans its children), then the prepared layers whose parent is gone. Other systems'
    layers stay: their hashes would need their images and stand-ins."""
    root = os.path.join(cache_root(), "layers")
    keep = set("%s-%s" % (layer_label(name, system), layer_hash(name, system=system)) for name in LAYER_SCRIPTS)
    for entry in sorted(os.listdir(root)):
        match = _LAYER_ENTRY.fullmatch(entry)
        if match and (match.group(1) or DEFAULT_SYSTEM) == system and entry not in keep:
            log("removing stale layer %s" % entry)
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
    for entry in sorted(os.listdir(root)):
        parent = layer_info(os.path.join(root, entry)).get("parent")
        if entry.startswith(PREPARED_PREFIX) and not os.path.isdir(os.path.join(root, str(parent))):
            log("removing stale layer %s" % entry)
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)


def layer_info(directory):
    """A cached layer's layer.json ({} when it has none or it is unreadable)."""
    try:
        with open(os.path.join(directory, "layer.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------- prepared layers

# A scenario's prepare only plants fixtures on its platform's layer (accounts, what older
# installs left, a daemon with other flags, containers), the same in every run, and costs
# 30-115 s under TCG. A platform with `cache_prepare: true` keeps its VM as prepare left it
# as a layer of its own, cached under a hash of the parent layer, the prepare playbook, the
# platforms and provisioner of the scenario's molecule.yml, every file of this repository
# the playbook names, and ansible-core's version. Later runs restore that layer in
# `create` and run the no-op molecule/resources/prepared.yml as `prepare` (molecule.yml
# names its prepare playbook
# `${NSGUARD_PREPARE_PLAYBOOK:-prepare.yml}`). Like every layer it never holds this
# collection's code: a prepare playbook that names a role or the collection is refused.
PREPARED_VERSION = "1"
PREPARED_PREFIX = "prepared-"
PREPARED_MARK = "/var/lib/nsguard-lab/prepared"  # the hash, written just before the save
PREPARED_NOOP = "../resources/prepared.yml"
_REPO_FILE = re.compile(r"\b(?:tests|molecule)/[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")
_YAML_COMMENT = re.compile(r"(?m)^\s*#.*$")
_RUNS_COLLECTION_CODE = re.compile(r"nsguard\.docker|include_role|import_role|^\s*roles:", re.M)


def ansible_core_version():
    try:
        return importlib.metadata.version("ansible-core")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def prepare_inputs(scenario):
    """The files that make `scenario`'s prepare: its playbook and each file of this
    repository the playbook names outside comments. LabError if the playbook runs this
    collection's code."""
    sdir = os.path.join(REPO, "molecule", scenario)
    playbook = os.path.join(sdir, "prepare.yml")
    with open(playbook) as f:
        text = _YAML_COMMENT.sub("", f.read())
    if _RUNS_COLLECTION_CODE.search(text):
        raise LabError("scenario %s has cache_prepare, but its prepare.yml runs this collection's code,"
                       " which a layer never holds" % scenario)
    named = sorted(set(m for m in _REPO_FILE.findall(text) if os.path.isfile(os.path.join(REPO, m))))
    return [playbook] + [os.path.join(REPO, m) for m in named]


def prepared_hash(scenario, conf, platform, parent_hash):
    """What made a platform's prepared layer: the parent layer (`parent_hash`), ansible-core,
    the platforms and provisioner of molecule.yml `conf` (the inventory, settings and
    playbooks prepare runs with; not the verifier or the sequence) and the prepare_inputs."""
    setup = json.dumps({key: conf.get(key) for key in ("platforms", "provisioner")}, sort_keys=True)
    h = hashlib.sha256()
    for part in (PREPARED_VERSION, scenario, platform["name"], parent_hash, ansible_core_version(), setup):
        h.update(part.encode() + b"\0")
    for path in prepare_inputs(scenario):
        h.update(os.path.relpath(path, REPO).encode() + b"\0" + file_digest(path).encode() + b"\0")
    return h.hexdigest()[:16]


def prepared_plan(scenario):
    """{platform name: the paths of its prepared layer} when every platform of `scenario`
    has `cache_prepare: true`; {} when none has."""
    conf = scenario_config(scenario)
    platforms = conf.get("platforms") or []
    cached = [pl for pl in platforms if pl.get("cache_prepare")]
    if not cached:
        return {}
    if len(cached) != len(platforms) or not all(pl.get("layer") for pl in platforms):
        raise LabError("scenario %s: cache_prepare needs every platform to have it and a layer" % scenario)
    plan = {}
    for pl in platforms:
        system = vm_system(pl["name"])
        parent_hash = layer_hash(pl["layer"], system=system)
        digest = prepared_hash(scenario, conf, pl, parent_hash)
        lp = layer_paths(PREPARED_PREFIX + pl["name"], digest)
        lp.update(hash=digest, parent="%s-%s" % (layer_label(pl["layer"], system), parent_hash))
        plan[pl["name"]] = lp
    return plan


def prepared_spec_for(name):
    """The prepared layer `lab.py test` restores VM `name` from ($NSGUARD_LAB_PREPARED, a
    JSON object of VM names and layer paths), or None."""
    spec = json.loads(os.environ.get("NSGUARD_LAB_PREPARED") or "{}").get(name)
    return spec if spec and os.path.exists(spec["info"]) else None


def check_prepared(name, spec):
    """LabError unless VM `name` is the host its prepared layer saved."""
    try:
        found = on_vm(name, "cat %s" % PREPARED_MARK)
    except LabError as e:
        raise LabError("%s was not restored from its prepared layer: %s" % (name, e))
    if found != [spec["hash"]]:
        raise LabError("%s holds prepared layer %s, not %s" % (name, " ".join(found), spec["hash"]))


def save_prepared(name, spec):
    """Keep VM `name`, just prepared, as its prepared layer `spec`, then run it on from that
    layer, on the same SSH port (molecule's instance config still holds): a scenario runs
    on the same restored host whether its prepared layer was cached or not."""
    started = time.time()
    with open(os.path.join(instance_dir(name), "instance.json")) as f:
        inst = json.load(f)
    on_vm(name, "install -d -m 0755 %s && echo %s > %s && sync"
          % (os.path.dirname(PREPARED_MARK), spec["hash"], PREPARED_MARK))
    os.makedirs(os.path.dirname(spec["dir"]), exist_ok=True)
    store_layer(name, inst, spec, spec["parent"], started)
    root = os.path.dirname(spec["dir"])
    older = re.compile(re.escape(spec["name"]) + "-[0-9a-f]{16}")
    for entry in os.listdir(root):
        if older.fullmatch(entry) and entry != os.path.basename(spec["dir"]):
            log("removing stale layer %s" % entry)
            shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
    up(name, spec=spec, port=inst["port"])
    check_prepared(name, spec)
    log("%s kept as prepared layer %s in %.0fs" % (name, os.path.basename(spec["dir"]), time.time() - started))


def down(name):
    pid = qemu_pid(name)
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _attempt in range(50):
            if not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(instance_dir(name), ignore_errors=True)


def down_all():
    if os.path.isdir(run_root()):
        for name in os.listdir(run_root()):
            down(name)
    # Strays whose instance directory is gone (e.g. a killed CI run).
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
                if argv and argv[0].endswith(b"qemu-system-x86_64") and b"-name" in argv and \
                        argv[argv.index(b"-name") + 1].startswith(b"nsguard-"):
                    os.kill(int(pid), signal.SIGKILL)


# --------------------------------------------------------------------------- scenarios

def scenario_config(scenario):
    import yaml  # from the venv (molecule depends on it)
    with open(os.path.join(REPO, "molecule", scenario, "molecule.yml")) as f:
        return yaml.safe_load(f) or {}


def scenario_sequence(scenario):
    conf = scenario_config(scenario)
    seq = (conf.get("scenario") or {}).get("test_sequence") or [
        "dependency", "cleanup", "destroy", "syntax", "create", "prepare", "converge",
        "idempotence", "side_effect", "verify", "cleanup", "destroy"]
    platforms = [pl["name"] for pl in conf.get("platforms", [])]
    return seq, platforms


# A guest kernel that dies under TCG (seen: a double fault in kmem_cache_alloc_node, 499 s
# into a rootless converge) leaves QEMU running and the guest silent: Ansible's SSH session
# then waits forever. The lab watches the consoles, ends the stage, and retries the scenario
# once on a fresh VM; a second crash fails it.
GUEST_CRASH = re.compile(r"Kernel panic - not syncing|PANIC: double fault")
WATCH_INTERVAL = 10


def guest_crash(name):
    """The console line showing that VM `name`'s kernel died, or None."""
    try:
        with open(os.path.join(instance_dir(name), "console.log"), errors="replace") as f:
            for line in f:
                if GUEST_CRASH.search(line):
                    return line.strip()
    except OSError:
        pass
    return None


class StageEnded(LabError):
    """A stage the lab ended itself; its output so far goes to the failure digest."""

    def __init__(self, msg, output=()):
        super().__init__(msg)
        self.output = list(output)


class StageTimeout(StageEnded):
    """A stage outlived its bound."""


class GuestCrashed(StageEnded):
    """A VM's kernel died (emulation fault, not a test's finding): worth one retry."""


# The stages running now (their molecule processes), so that an interrupt ends every lane's,
# and the interrupt itself, so that no lane starts another stage after it.
_RUNNING = set()
_STOPPING = threading.Event()
_LOCK = threading.Lock()  # _RUNNING, _DESTROYS and the files every lane appends to


def run_teed(argv, env, crashed=None, interval=WATCH_INTERVAL, timeout=None, out=None):
    """Run argv, streaming its output to ``out`` (default stdout) and keeping it for the
    failure digest.

    ``crashed``: a callable polled every ``interval`` seconds; when it returns a text, the
    run is killed and :class:`GuestCrashed` raised with that text. ``timeout``: seconds
    after which the run is killed and :class:`StageTimeout` raised."""
    out = out or sys.stdout
    output = []
    with _LOCK:
        if _STOPPING.is_set():
            raise LabError("interrupted: %s not started" % " ".join(argv[1:3]))
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", bufsize=1)
        _RUNNING.add(proc)
    found, expired = [], []
    deadline = time.time() + timeout if timeout else None
    if crashed is not None or deadline:
        def watch():
            while proc.poll() is None:
                why = crashed() if crashed else None
                if why:
                    found.append(why)
                    proc.kill()
                    return
                if deadline and time.time() > deadline:
                    expired.append(True)
                    proc.kill()
                    return
                time.sleep(min(interval, max(0.1, deadline - time.time())) if deadline else interval)
        threading.Thread(target=watch, daemon=True).start()
    try:
        for line in proc.stdout:
            out.write(line)
            output.append(line.rstrip("\n"))
        proc.wait()
    except BaseException:
        proc.kill()  # as subprocess.run does: an interrupted stage must not outlive the lab
        proc.wait()
        raise
    finally:
        with _LOCK:
            _RUNNING.discard(proc)
        proc.stdout.close()
        out.flush()
    if found:
        raise GuestCrashed("a VM's kernel died: %s" % found[0], output)
    if expired:
        raise StageTimeout("%s did not finish in %ds" % (" ".join(argv[1:3]), timeout), output)
    return proc.returncode, output


def stop_running_stages():
    """Kill every stage running now and start no other (an interrupt of a run with several
    lanes)."""
    with _LOCK:
        _STOPPING.set()
        procs = list(_RUNNING)
    for proc in procs:
        with contextlib.suppress(OSError):
            proc.kill()


# Check mode must change nothing. Around the `check` stage the lab marks the time on each
# VM and then lists what was written or chmod/chown-ed since under these paths: anything
# is a task that acted while asked only to predict. Paths where a running system writes by
# itself (logs, /var/lib/docker, a rootless daemon's data root) are not watched. Two kinds
# of directory are artefacts of running tasks at all, not of what they do: Ansible's remote
# temporary directory (~/.ansible of the connecting or become user) and Python's byte code
# caches. Their contents are skipped, and a directory changed only by gaining one is not
# a finding.
CHECK_MARK = "/run/nsguard-check-mark"
CHECK_WATCHED = ("/etc", "/home", "/usr", "/opt", "/srv", "/var/lib/dpkg/status",
                 "/var/lib/systemd/linger")
CHECK_ARTEFACTS = (".ansible", "__pycache__")
CHECK_IGNORED = ("*/.local/share/docker/*",)


def check_writes_command(mark=CHECK_MARK, watched=CHECK_WATCHED, artefacts=CHECK_ARTEFACTS,
                         ignored=CHECK_IGNORED):
    """Shell (run as root on the VM) printing `artefact PATH` and `changed PATH` lines for
    the watched paths changed since the mark."""
    newer = "\\( -newer %s -o -cnewer %s \\)" % (mark, mark)
    named = "\\( %s \\)" % " -o ".join("-name '%s'" % a for a in artefacts)
    return ("find $(ls -d %s 2>/dev/null) -xdev %s -prune %s -printf 'artefact %%p\\n'"
            " -o %s -prune -o %s %s -printf 'changed %%p\\n' 2>/dev/null | head -n 200"
            % (" ".join(watched), named, newer, named, newer,
               " ".join("! -path '%s'" % p for p in ignored)))


def check_findings(lines):
    """The changed paths of check_writes_command's output, less the directories whose
    change is explained by a new artefact in them."""
    artefacts = set(os.path.dirname(line[len("artefact "):]) for line in lines if line.startswith("artefact "))
    changed = [line[len("changed "):] for line in lines if line.startswith("changed ")]
    return [path for path in changed if path not in artefacts]


def on_vm(name, command, timeout=120):
    """Run `command` as root on a lab VM; its stdout lines (LabError if it fails)."""
    return ssh_run(running_instance(name), command, timeout)


# A fixed CPU-bound workload timed inside a just-restored guest (compile Python source,
# hash data): how fast this machine runs guests at the moment. The machine kind's speed
# varies by a third between sessions, so stage times are only comparable beside it.
GUEST_REFERENCE = (
    "import argparse, hashlib, time; src = open(argparse.__file__).read(); "
    "t = time.perf_counter(); [compile(src, 'ref', 'exec') for _ in range(3)]; "
    "hashlib.sha256(bytes(16 << 20)).hexdigest(); print('%.2f' % (time.perf_counter() - t))")


def guest_reference(platforms):
    """Seconds of GUEST_REFERENCE per VM; None for a VM where it could not run."""
    seconds = {}
    for name in platforms:
        try:
            seconds[name] = float(on_vm(name, "python3 -c %s" % shlex.quote(GUEST_REFERENCE))[-1])
        except (LabError, ValueError, IndexError):
            seconds[name] = None
    return seconds


def mark_before_check(platforms):
    for name in platforms:
        on_vm(name, "touch %s" % CHECK_MARK)


def written_by_check(platforms):
    """Lines naming what check mode changed on each VM (none when it told the truth)."""
    lines = []
    for name in platforms:
        changed = check_findings(on_vm(name, check_writes_command()))
        lines += ["check mode changed %s on %s (written, or owner or mode set, during the check stage)"
                  % (path, name) for path in changed]
    return lines


def digest_path():
    return os.path.join(REPO, "tests", "output", "lab-failures.txt")


def append_digest(text):
    with _LOCK, open(digest_path(), "a") as f:
        f.write(text)


# What explains a failed stage: Ansible's failed tasks (with the TASK header before them),
# pytest's failures and assertion lines, molecule's own errors.
_DIGEST_LINE = re.compile(r"^(fatal: |failed: |ERROR |CRITICAL |E  |FAILED |[^ ]*\.py:\d+: |"
                          r"_{3,} .* _{3,}$|\S+ - (Assertion|[A-Za-z]+Error))")
_TASK_HEADER = re.compile(r"^(TASK|RUNNING HANDLER) \[")


def failure_lines(output, limit=40, width=600):
    """The lines of a failed stage's output that say what failed, each cut to `width`."""
    picked, header = [], None
    for line in output:
        if _TASK_HEADER.match(line):
            header = line.rstrip(" *")
        elif _DIGEST_LINE.match(line):
            if header:
                picked.append(header)
                header = None
            picked.append(line if len(line) <= width else line[:width] + " [...]")
    if len(picked) > limit:
        picked = picked[:limit // 2] + ["[... %d lines ...]" % (len(picked) - limit)] + picked[-limit // 2:]
    return picked or output[-15:]


def scenario_digest(scenario, stage, output, platforms):
    text = ["### scenario %s failed in stage %s" % (scenario, stage)] + failure_lines(output)
    for name in platforms:
        tail = console_tail(name, 15)
        if tail is not None:
            text += ["--- last serial console lines of %s:" % name] + tail
    return "\n".join(text) + "\n\n"


# Ansible against a software-emulated VM on a machine that may be busy: the first sudo
# after a boot took over 12 s (Ansible's default wait for the become prompt, which is
# `timeout`) beside another process. ServerAlive ends a session whose guest went silent;
# the long ControlPersist keeps one SSH connection across a stage's slow tasks.
ANSIBLE_FOR_SLOW_VMS = {
    "ANSIBLE_TIMEOUT": "120",
    "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=900s"
                        " -o ServerAliveInterval=15 -o ServerAliveCountMax=8",
    "ANSIBLE_SSH_RETRIES": "3",
}
# The longest stage (rootless side_effect) takes about 500 s on a quiet machine.
STAGE_TIMEOUT = 2400


def run_scenario(scenario, molecule, out_dir, may_retry, out=None):
    """Run one scenario's stages on fresh VMs: "passed", "failed" (in the digest), or
    "retry" when a VM's kernel died and ``may_retry`` allows one more attempt. The stages'
    output and any console go to ``out`` (default: stdout and stderr)."""
    seq, platforms = scenario_sequence(scenario)
    record = {"scenario": scenario, "started": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "images": {name: recipe_hash(vm_system(name)) for name in platforms}, "stages": {}, "result": "passed"}
    # Each task's wall time, per stage (callback_plugins/task_times.py).
    task_times = os.path.join(out_dir, "%s-tasks.jsonl" % scenario)
    with contextlib.suppress(FileNotFoundError):
        os.remove(task_times)
    env = dict(os.environ, NSGUARD_TASK_TIMES=task_times,
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="task_times", **ANSIBLE_FOR_SLOW_VMS)
    started = time.time()
    stage, output, outcome = None, [], "passed"
    # Prepared layers: restored when all are cached, else saved right after prepare.
    prepared = prepared_plan(scenario)
    restored = bool(prepared) and all(os.path.exists(spec["info"]) for spec in prepared.values())
    if restored:
        env.update(NSGUARD_LAB_PREPARED=json.dumps(prepared), NSGUARD_PREPARE_PLAYBOOK=PREPARED_NOOP)
    if prepared:
        record["prepared_layers"] = "restored" if restored else "saved"

    def crashed():
        return next(filter(None, (guest_crash(name) for name in platforms)), None)
    try:
        for stage in seq:
            if stage in ("destroy", "cleanup") and stage != seq[-1]:
                continue  # the run starts from nothing; only the final destroy matters
            if stage == "destroy":
                break
            t0 = time.time()
            log("scenario %s: %s" % (scenario, stage))
            if stage == "check":
                mark_before_check(platforms)
            rc, output = run_teed([molecule, stage.replace("_", "-"), "-s", scenario],
                                  env=dict(env, NSGUARD_STAGE=stage), crashed=crashed,
                                  timeout=STAGE_TIMEOUT, out=out)
            record["stages"][stage] = round(time.time() - t0, 1)
            if rc != 0:
                raise LabError("molecule %s failed for scenario %s" % (stage, scenario))
            if stage == "create":
                if restored:
                    for name in platforms:
                        check_prepared(name, prepared[name])
                record["guest_reference_seconds"] = guest_reference(platforms)
            if stage == "prepare" and prepared and not restored:
                t0 = time.time()
                for name in platforms:
                    save_prepared(name, prepared[name])
                record["stages"]["save_prepared"] = round(time.time() - t0, 1)
            if stage == "check":
                untruthful = written_by_check(platforms)
                if untruthful:
                    output = ["ERROR    " + line for line in untruthful]
                    (out or sys.stdout).write("".join(line + "\n" for line in output))
                    raise LabError("check mode changed %d path(s) in scenario %s" % (len(untruthful), scenario))
    except GuestCrashed as e:
        record["stages"][stage] = round(time.time() - t0, 1)
        for name in platforms:
            print_console(name, lines=60, out=out)
        if may_retry:
            outcome = "retry"
            record["result"] = "retried: %s in stage %s" % (e, stage)
        else:
            outcome = "failed"
            record["result"] = "failed: %s in stage %s" % (e, stage)
            append_digest(scenario_digest(scenario, stage, e.output, platforms))
    except (LabError, KeyboardInterrupt) as e:
        outcome = "failed"
        record["result"] = "failed: %s" % e
        for name in platforms:
            print_console(name, lines=120, out=out)
        if isinstance(e, StageTimeout):
            output = e.output + ["ERROR    " + str(e)]
            record["stages"][stage] = round(time.time() - t0, 1)
        append_digest(scenario_digest(scenario, stage, output, platforms))
        if isinstance(e, KeyboardInterrupt):
            raise
    finally:
        # The VMs go down here; molecule's own destroy (its playbook finds them down and
        # forgets the instances) runs beside the next scenario (see destroy_beside).
        t0 = time.time()
        for name in platforms:
            down(name)
        destroy_beside(scenario, [molecule, "destroy", "-s", scenario], out_dir)
        record["stages"]["destroy"] = round(time.time() - t0, 1)
        record["total"] = round(time.time() - started, 1)
        with open(os.path.join(out_dir, "%s.json" % scenario), "w") as f:
            json.dump(record, f, indent=2)
        with _LOCK, open(image_paths()["timings"], "a") as f:
            f.write(json.dumps(record) + "\n")
        log("scenario %s %s in %.0fs: %s" % (scenario, record["result"], record["total"],
                                             json.dumps(record["stages"])))
    return outcome


# molecule destroy of the scenarios that are done, by scenario: Popen and its log file.
_DESTROYS = {}
# A destroy of VMs that are already down takes a few seconds (molecule and ansible-playbook
# starting); far more means something hangs.
DESTROY_TIMEOUT = 300


def destroy_beside(scenario, argv, out_dir):
    """Start molecule's destroy of ``scenario`` in the background, its output in
    ``<out_dir>/<scenario>-destroy.log``. It is host work only (molecule and
    ansible-playbook starting, 4-11 s a scenario in a loaded run) in which the guest of the
    next scenario would otherwise idle."""
    wait_destroys(scenario)
    logf = open(os.path.join(out_dir, "%s-destroy.log" % scenario), "w")
    try:
        proc = subprocess.Popen(argv, cwd=REPO, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    except OSError:
        logf.close()
        raise
    with _LOCK:
        _DESTROYS[scenario] = (proc, logf)


def wait_destroys(scenario=None):
    """Wait (bounded) for the background destroy of ``scenario``, or of all; returns the
    scenarios whose destroy failed or hung (their log is printed)."""
    failed = []
    with _LOCK:
        names = [scenario] if scenario else sorted(_DESTROYS)
        waiting = [(name, _DESTROYS.pop(name)) for name in names if name in _DESTROYS]
    for name, (proc, logf) in waiting:
        try:
            rc = proc.wait(timeout=DESTROY_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        logf.close()
        if rc != 0:
            failed.append(name)
            log("scenario %s: molecule destroy failed (rc %s):" % (name, rc))
            with open(logf.name, errors="replace") as f:
                print(f.read()[-4000:], flush=True)
    return failed


def platform_os(platform):
    """The system a platform runs: its name up to the first dash (`noble-engine`: noble)."""
    return platform.split("-", 1)[0]


def select_scenarios(scenarios, systems):
    """The scenarios with a platform on one of `systems` (all of them when it is empty)."""
    if not systems:
        return list(scenarios)
    return [sc for sc in scenarios
            if any(platform_os(pl) in systems for pl in scenario_sequence(sc)[1])]


# Scenarios run in lanes, each lane one scenario at a time on its own VMs. With the
# guests' raised CPU priority (prioritize) two guests beside a busy core each ran a fixed
# workload at 1.0-1.3 times its time alone (docs/lab.md, "Two lanes"); a third lane would
# only share the two cores further.
LANES = 2


def lab_lanes():
    """The number of lanes: $NSGUARD_LAB_LANES, else LANES (1 on a single-core machine)."""
    wanted = os.environ.get("NSGUARD_LAB_LANES", "")
    if wanted:
        if not wanted.isdigit() or int(wanted) < 1:
            raise LabError("NSGUARD_LAB_LANES must be a positive number, not %r" % wanted)
        return int(wanted)
    return min(LANES, os.cpu_count() or 1)


def past_totals(path):
    """The wall time of each scenario's last passed run in the timings history at ``path``."""
    totals = {}
    with contextlib.suppress(OSError):
        with open(path, errors="replace") as f:
            for line in f:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    record = json.loads(line)
                    if record["result"] == "passed":
                        totals[record["scenario"]] = float(record["total"])
    return totals


# The scenarios' wall times shipped with the lab, for a machine whose cache has no history.
REFERENCE_TOTALS = os.path.join(HERE, "scenario-totals.json")


def scenario_totals(history, reference=REFERENCE_TOTALS):
    """Each scenario's expected wall time: its last passed run in the timings history at
    ``history``, else the shipped reference at ``reference`` (a cold machine has no history,
    and without it its lanes would take the scenarios in name order, the longest last)."""
    with open(reference) as f:
        totals = {name: float(seconds) for name, seconds in json.load(f)["totals"].items()}
    totals.update(past_totals(history))
    return totals


def longest_first(scenarios, totals):
    """The scenarios in the order lanes take them: longest last run first (so that no lane
    is left with a long one at the end), a scenario never run before first of all (its time
    is unknown), ties in the given order."""
    return sorted(scenarios, key=lambda sc: -totals.get(sc, float("inf")))


def run_with_retry(scenario, molecule, out_dir, out=None):
    """One scenario, once more on fresh VMs if a guest kernel died; its outcome."""
    outcome = run_scenario(scenario, molecule, out_dir, may_retry=True, out=out)
    if outcome == "retry":
        log("scenario %s: a VM's kernel died; once more on a fresh VM" % scenario)
        wait_destroys(scenario)
        outcome = run_scenario(scenario, molecule, out_dir, may_retry=False, out=out)
    return outcome


def run_lanes(order, molecule, out_dir, lanes):
    """Run the scenarios of ``order`` in ``lanes`` threads, each taking the next one when its
    last is done. A scenario's output goes to ``<out_dir>/<scenario>.log`` and is printed
    whole when it ends. Returns the failed scenarios; Ctrl-C or SIGTERM ends every lane."""
    queue, failed = list(order), []

    def lane(number):
        while not _STOPPING.is_set():
            with _LOCK:
                if not queue:
                    return
                scenario = next_scenario(queue)
            log("lane %d: scenario %s" % (number, scenario))
            path = os.path.join(out_dir, "%s.log" % scenario)
            try:
                with open(path, "w", errors="replace") as out:
                    outcome = built_and_run(scenario, molecule, out_dir, out)
            except Exception as e:  # pylint: disable=broad-exception-caught  # a lane must report, not vanish
                outcome = "failed"
                log("lane %d: scenario %s: %s" % (number, scenario, e))
            with _LOCK:
                if outcome != "passed":
                    failed.append(scenario)
                with open(path, errors="replace") as f:
                    sys.stdout.write("\n===== scenario %s (lane %d): %s =====\n" % (scenario, number, outcome))
                    shutil.copyfileobj(f, sys.stdout)
                sys.stdout.flush()

    threads = [threading.Thread(target=lane, args=(n + 1,), daemon=True) for n in range(lanes)]
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.5)
    except KeyboardInterrupt:
        stop_running_stages()
        for t in threads:
            t.join(60)
        raise
    return [sc for sc in order if sc in failed]


# One lock per system (its image, stand-in and layers): a lane that needs what another
# lane is building waits for it. A system whose build failed is not built again in the run.
_BUILD_LOCKS = {}
_BUILD_FAILED = {}
_BUILDING = set()   # the systems a lane is building now (under _LOCK)


def scenario_systems(scenario):
    """The systems of a scenario's platforms; none when its molecule.yml cannot be read
    (its run reports why)."""
    try:
        platforms = scenario_config(scenario).get("platforms") or []
    except Exception:  # pylint: disable=broad-exception-caught  # reported by the scenario's run
        return set()
    return {vm_system(pl["name"]) for pl in platforms}


def next_scenario(queue):
    """Take from ``queue`` the scenario a free lane runs next (the caller holds _LOCK): the
    first one that needs no system another lane is building now, so that the lane builds or
    runs something else meanwhile instead of waiting idle for that build (in a cold run
    both lanes otherwise meet at noble's image and layers); the first of all if every one
    does."""
    for i, scenario in enumerate(queue):
        if not scenario_systems(scenario) & _BUILDING:
            return queue.pop(i)
    return queue.pop(0)


def _build_lock(system):
    with _LOCK:
        return _BUILD_LOCKS.setdefault(system, threading.Lock())


def build_for(scenarios):
    """Build each image and layer the scenarios' platforms start from that is not cached.
    Each lane calls it for its next scenario (built_and_run), so a build, which keeps one
    core busy, runs beside the other lane's guest instead of before the lanes with the
    other core idle; two lanes never build the same system at once."""
    needed = sorted(set((vm_system(pl["name"]), pl.get("layer") or "")
                        for sc in scenarios for pl in scenario_config(sc).get("platforms") or []))
    for system, layer in needed:
        with _build_lock(system):
            if system in _BUILD_FAILED:
                raise LabError("%s's image or layers failed to build earlier in this run: %s"
                               % (system, _BUILD_FAILED[system]))
            with _LOCK:
                _BUILDING.add(system)
            try:
                build(system=system)
                if layer:
                    ensure_layer(layer, system)
            except Exception as e:
                _BUILD_FAILED[system] = str(e)[-500:]
                raise
            finally:
                with _LOCK:
                    _BUILDING.discard(system)


def built_and_run(scenario, molecule, out_dir, out=None):
    """One scenario, after what its platforms start from is built; a failed build fails it
    (with the reason in its output) and leaves the other scenarios to run."""
    try:
        build_for([scenario])
    except Exception as e:  # pylint: disable=broad-exception-caught  # the scenario reports it
        (out or sys.stdout).write("building what scenario %s starts from failed: %s\n" % (scenario, e))
        log("scenario %s: not run, its build failed: %s" % (scenario, e))
        return "failed"
    return run_with_retry(scenario, molecule, out_dir, out=out)


def test_scenarios(scenarios, lanes=1):
    molecule = os.path.join(os.path.dirname(sys.executable), "molecule")
    out_dir = os.path.join(REPO, "tests", "output", "timings")
    os.makedirs(out_dir, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.remove(digest_path())
    try:
        if lanes > 1 and len(scenarios) > 1:
            order = longest_first(scenarios, scenario_totals(image_paths()["timings"]))
            log("%d lanes, in this order: %s" % (lanes, " ".join(order)))
            failed = run_lanes(order, molecule, out_dir, lanes)
        else:
            failed = [sc for sc in scenarios if built_and_run(sc, molecule, out_dir) != "passed"]
    finally:
        # As before, a destroy that fails after its VMs are down does not fail the run.
        wait_destroys()
    return failed


# --------------------------------------------------------------------------- CLI

def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the base image and the layers if absent (or --force the image)")
    b.add_argument("--force", action="store_true")
    b.add_argument("--system", choices=sorted(SYSTEMS), default=DEFAULT_SYSTEM, help="the system to build")
    u = sub.add_parser("up", help="boot a VM and wait for SSH; prints the instance as JSON")
    u.add_argument("name")
    u.add_argument("--layer", choices=sorted(LAYER_SCRIPTS),
                   help="restore a prepared layer's saved state instead of booting the base image")
    u.add_argument("--timeout", type=int, default=BOOT_TIMEOUT, help="seconds to wait for SSH per attempt")
    u.add_argument("--system", choices=sorted(SYSTEMS),
                   help="boot this system's image (default: the one the name starts with, else %s)" % DEFAULT_SYSTEM)
    d = sub.add_parser("down", help="stop VMs and remove their overlays")
    d.add_argument("name", nargs="?")
    d.add_argument("--all", action="store_true")
    w = sub.add_parser("wait-reboot", help="wait until a VM answers SSH from a new boot; prints the seconds")
    w.add_argument("name")
    w.add_argument("--boot-id", required=True, help="the guest's boot_id before its reboot")
    w.add_argument("--timeout", type=int, default=REBOOT_TIMEOUT)
    c = sub.add_parser("console", help="print a VM's serial console")
    c.add_argument("name")
    c.add_argument("--lines", type=int, default=200)
    t = sub.add_parser("test", help="run molecule scenarios with timings")
    t.add_argument("scenarios", nargs="+")
    t.add_argument("--platform", action="append", default=None, metavar="SYSTEM",
                   help="only the scenarios with a platform on this system (e.g. noble; repeatable;"
                        " default: $NSGUARD_PLATFORMS, space-separated, or all)")
    sub.add_parser("paths", help="print cache paths as JSON")
    args = ap.parse_args(argv)

    # SIGTERM (CI timeouts, molecule aborts) unwinds like Ctrl-C so cleanup runs.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if args.cmd == "build":
            paths = build(force=args.force, system=args.system)
            paths["layers"] = {name: ensure_layer(name, args.system)["dir"] for name in sorted(LAYER_SCRIPTS)}
            print(json.dumps(paths, indent=2))
        elif args.cmd == "up":
            print(json.dumps(up(args.name, args.layer, args.timeout, system=args.system)))
        elif args.cmd == "down":
            if args.all:
                down_all()
            elif args.name:
                down(args.name)
            else:
                ap.error("down needs a NAME or --all")
        elif args.cmd == "wait-reboot":
            print(json.dumps({"instance": args.name, "seconds": wait_reboot(args.name, args.boot_id, args.timeout)}))
        elif args.cmd == "console":
            print_console(args.name, args.lines)
        elif args.cmd == "paths":
            print(json.dumps(image_paths(), indent=2))
        elif args.cmd == "test":
            systems = args.platform or os.environ.get("NSGUARD_PLATFORMS", "").split()
            chosen = select_scenarios(args.scenarios, systems)
            if not chosen:
                log("no scenario among %s has a platform on %s" % (" ".join(args.scenarios), " ".join(systems)))
                return 1
            failed = test_scenarios(chosen, lab_lanes())
            if failed:
                log("FAILED scenarios: %s" % " ".join(failed))
                return 1
    except LabError as e:
        log("error: %s" % e)
        return 1
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        if args.cmd == "up":
            down(args.name)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
