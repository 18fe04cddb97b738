"""Is this root real? The containers the lab plants under each daemon mode, the verdict
namespace_mode must give each, and the check of its evidence against the host's /proc.

Shared by the lab scenarios' verifiers (molecule/audit: default mode, molecule/userns_remap,
molecule/rootless), which put tests/integration on sys.path. Each scenario plants the same
five containers, with the options its mode allows: dockerd refuses --privileged and the
host's PID, network and IPC namespaces in a remapped user namespace, so there they come with
--userns=host, which takes the container out of the remapping (the hole the audit must
show).
"""
import json
import shlex
import subprocess
import sys

IMAGE = "nsguard/busybox:test"
HR, CB, RO, UP = "host-root", "can-become-host-root", "root-only-in-its-user-namespace", "unprivileged"
HOST_NAMESPACES = ["--pid=host", "--net=host", "--ipc=host", "--uts=host"]
#: name -> options of `docker run`; SOCKET is the daemon's own socket.
PLANTS = {
    "privileged": ["--privileged"],
    "hostns": HOST_NAMESPACES,
    "sysadmin": ["--cap-add", "SYS_ADMIN"],
    "socket": ["--volume", "SOCKET:/var/run/docker.sock"],
    "plain": [],
}
#: daemon mode -> container -> verdict
EXPECTED = {
    # Root is host uid 0: SYS_ADMIN and everything of --privileged act on the host, and the
    # socket is the daemon's; the host's namespaces alone give no capability beyond Docker's
    # default set (the findings rate them).
    "default": {"privileged": HR, "hostns": UP, "sysadmin": HR, "socket": HR, "plain": UP},
    # --userns=host puts privileged and hostns back in the host's user namespace; the
    # others' root is dockremap's first subordinate id, and the socket is a path to host
    # root that its mode and group decide.
    "userns-remap": {"privileged": HR, "hostns": UP, "sysadmin": RO, "socket": CB, "plain": RO},
    # Everything acts in the rootless daemon's user namespace; the socket is the user's own.
    "rootless": {"privileged": RO, "hostns": RO, "sysadmin": RO, "socket": RO, "plain": RO},
}
CAP_SYS_ADMIN = 21


def run_options(name, mode, socket):
    options = [o.replace("SOCKET", socket) for o in PLANTS[name]]
    if mode == "userns-remap" and name in ("privileged", "hostns"):
        options = ["--userns=host"] + options
    return options


def plant_command(mode, socket, prefix=""):
    """One shell command that starts the five containers (named ``prefix`` + name) detached;
    sleep as PID 1 ignores SIGTERM, so they are removed with `docker rm -f`."""
    runs = ["docker run --detach --name %s %s %s sleep 3600" % (
        shlex.quote(prefix + name), " ".join(shlex.quote(o) for o in run_options(name, mode, socket)), IMAGE)
        for name in sorted(PLANTS)]
    return "set -e; " + "; ".join(runs)


def remove_command(prefix=""):
    return "docker rm -f %s" % " ".join(shlex.quote(prefix + name) for name in sorted(PLANTS))


# Runs as root on the VM: for each pid, what the kernel says (no Docker, no collection code).
PROC_VIEW = r"""
import json, os, sys
def ns(pid, kind):
    return os.readlink("/proc/%s/ns/%s" % (pid, kind))
out = {}
for pid in sys.argv[1:]:
    status = dict(l.split(":", 1) for l in open("/proc/%s/status" % pid).read().splitlines() if ":" in l)
    first = open("/proc/%s/uid_map" % pid).read().split()
    out[pid] = {
        "shared": dict((k, ns(pid, k) == ns(1, k)) for k in ("pid", "net", "ipc", "uts", "cgroup", "user", "mnt")),
        "cap_eff": int(status["CapEff"].strip(), 16),
        "seccomp": int(status["Seccomp"].strip()),
        "no_new_privs": int(status["NoNewPrivs"].strip()),
        "euid": int(status["Uid"].split()[1]),
        "root_host_uid": int(first[1]) if first[0] == "0" else None,
    }
print(json.dumps(out))
"""


def proc_view(host, pids):
    """{pid: what /proc/<pid> shows} for the containers' pids, read in one SSH round."""
    with host.sudo():
        return json.loads(host.check_output("python3 -c %s %s" % (
            shlex.quote(PROC_VIEW), " ".join(str(p) for p in pids))))


def planted(result, prefix=""):
    """namespace_mode's containers of the planted names: {name: (daemon, container)}."""
    found = {}
    for daemon in result["daemons"]:
        for container in daemon["containers"]:
            if container["name"].startswith(prefix) and container["name"][len(prefix):] in PLANTS:
                found[container["name"][len(prefix):]] = (daemon, container)
    return found


def check_against_proc(host, result, mode, prefix=""):
    """Each planted container's verdict is the expected one for ``mode``, and the evidence
    namespace_mode gave agrees with what the host's /proc shows of its process."""
    found = planted(result, prefix)
    assert sorted(found) == sorted(PLANTS), sorted(found)
    view = proc_view(host, [c["pid"] for _d, c in found.values()])
    verdicts = {}
    for name, (daemon, container) in sorted(found.items()):
        proc = view[str(container["pid"])]
        evidence = container["privilege"]
        why = (name, container["verdict"], container["verdict_reasons"], proc)
        assert daemon["mode"] == mode, why
        assert evidence["acts_on_host"] is proc["shared"]["user"], why
        assert evidence["root_host_uid"] == proc["root_host_uid"], why
        assert evidence["host_euid"] == proc["euid"], why
        assert sorted(evidence["host_namespaces"]) == sorted(k for k, v in proc["shared"].items() if v), why
        assert len(evidence["capabilities"]) == bin(proc["cap_eff"]).count("1"), why
        assert ("CAP_SYS_ADMIN" in evidence["capabilities"]) is bool(proc["cap_eff"] >> CAP_SYS_ADMIN & 1), why
        assert evidence["seccomp"] == {0: "disabled", 1: "strict", 2: "filter"}[proc["seccomp"]], why
        assert evidence["no_new_privileges"] is bool(proc["no_new_privs"]), why
        assert evidence["sources"]["acts_on_host"] == "proc" and evidence["disagreements"] == [], why
        assert container["verdict_reasons"], why
        verdicts[name] = container["verdict"]
    assert verdicts == EXPECTED[mode], (verdicts, EXPECTED[mode])
    socket_mount = found["socket"][1]["privilege"]["sensitive_mounts"]
    assert [(m["destination"], m["socket_kind"]) for m in socket_mount] == [("/var/run/docker.sock", "socket")]
    assert "inode" in socket_mount[0]["found_by"], socket_mount
    return found


def check_findings(result, mode, prefix=""):
    """The findings of the planted containers, rated by where their capabilities act."""
    by_subject = {}
    for finding in result["findings"]:
        by_subject.setdefault(finding["subject"], []).append((finding["id"], finding["severity"], finding["cis"]))
    found = planted(result, prefix)

    def of(name):
        daemon, container = found[name]
        return sorted(by_subject.get("container:%s/%s" % (daemon["id"], container["name"]), []))
    on_host = mode == "default"
    privileged = of("privileged")
    assert ("container-privileged", "critical" if mode != "rootless" else "low", "5.4") in privileged, privileged
    added = of("sysadmin")
    assert ("container-added-capabilities", "high" if on_host else "low", "5.3") in added, added
    hostns = dict((f[2], f[1]) for f in of("hostns") if f[0] == "container-host-namespace")
    if mode == "rootless":
        assert all(severity in ("low", "info") for severity in hostns.values()), hostns
    else:
        assert (hostns.get("5.15"), hostns.get("5.9")) == ("high", "high"), hostns
    # the socket mount is socket_exposure's finding (5.31), not repeated here
    assert not [f for f in of("socket") if f[0] == "container-sensitive-mount"], of("socket")
    return found


if __name__ == "__main__":
    # On a lab VM (molecule/audit/prepare.yml): container_privilege.py plant MODE SOCKET
    if len(sys.argv) != 4 or sys.argv[1] != "plant" or sys.argv[2] not in EXPECTED:
        sys.exit("usage: container_privilege.py plant {%s} SOCKET" % ",".join(sorted(EXPECTED)))
    subprocess.run(["sh", "-c", plant_command(sys.argv[2], sys.argv[3])], check=True)
