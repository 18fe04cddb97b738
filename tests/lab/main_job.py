"""The collection's main job, end to end, on the lab's embedded default (README, first
command; tests/main-job.sh sets the machine up first): boot a lab VM (a Docker host in
the default mode), run the hardening playbook nsguard.docker.harden in rootless mode with
the audit before and after, print where the report is and its summary, stop the VM.

  python tests/lab/main_job.py [--keep] [--out DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import lab  # noqa: E402  pylint: disable=wrong-import-position

VM = "main-job"


def inventory(inst):
    return {"all": {"hosts": {VM: {
        "ansible_host": inst["address"], "ansible_port": inst["port"], "ansible_user": inst["user"],
        "ansible_ssh_private_key_file": inst["identity_file"],
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "ansible_python_interpreter": "/usr/bin/python3"}}}}


def summary(report_dir):
    """The report's summary lines: the fleet after hardening and what changed."""
    with open(os.path.join(report_dir, "fleet.json")) as handle:
        fleet = json.load(handle)
    lines = ["report: %s (fleet.md, fleet.html, fleet.sarif, fleet.junit.xml beside it;"
             " the audit before in %s)" % (os.path.join(report_dir, "fleet.json"), os.path.join(report_dir, "before"))]
    for host in fleet["hosts"]:
        modes = ", ".join("%s %s" % (d["id"], d["mode"]) for d in host["daemons"]) or "no daemon"
        lines.append("%s: %s; %d findings" % (host["name"], modes, len(host.get("findings") or [])))
    changes = fleet.get("changes")
    if changes:
        s = changes["summary"]
        lines.append("since the audit before (%s): %d findings resolved, %d new"
                     % (changes["previous_generated_at"], s["resolved"], s["new"]))
        for host in changes["hosts"]:
            for change in host["resolved"]:
                lines.append("  resolved %s %s %s" % (change["severity"], change["id"], change["subject"]))
            for change in host["new"]:
                lines.append("  new      %s %s %s" % (change["severity"], change["id"], change["subject"]))
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", action="store_true", help="leave the VM running (python tests/lab/lab.py down main-job)")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "output", "main-job"))
    args = ap.parse_args(argv)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    started = time.time()
    inst = lab.up(VM, "docker-ce")
    try:
        inv = os.path.join(out, "inventory.json")
        with open(inv, "w") as handle:
            json.dump(inventory(inst), handle, indent=1)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".cache", "collections"),
                   ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_PIPELINING="True", **lab.ANSIBLE_FOR_SLOW_VMS)
        playbook = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inv,
                    os.path.join(HERE, "main-job.yml"), "-e", json.dumps({"harden_report_dir": os.path.join(out, "report")})]
        print("main job: %s" % " ".join(playbook[1:]), flush=True)
        subprocess.run(playbook, env=env, cwd=out, check=True)
        print("\n".join(["", "main job done in %.0f s" % (time.time() - started)] + summary(os.path.join(out, "report"))))
    finally:
        if not args.keep:
            lab.down(VM)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        print("main job: the playbook failed (rc %d)" % exc.returncode, file=sys.stderr)
        sys.exit(1)
