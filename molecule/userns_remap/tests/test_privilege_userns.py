"""Is this root real under userns-remap? The five containers of
tests/integration/container_privilege.py, run by the remapped daemon, and
nsguard.docker.namespace_mode's verdict on each checked against the host's /proc.

dockerd refuses --privileged and the host's PID and network namespaces in a remapped user
namespace, so those two come with --userns=host: the hole the audit must show (host root
and container-root-is-host-root) beside remapped containers whose root is dockremap's
first subordinate id.
"""
import os
import sys

import pytest

PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "tests", "integration"))
import container_privilege  # noqa: E402

MAKE_IMAGE = os.path.join(PROJECT, "tests", "integration", "busybox-image.sh")


@pytest.fixture(scope="module")
def audit(host):
    with open(MAKE_IMAGE) as f:
        host.check_output("sh -c %s make-image %s", f.read(), container_privilege.IMAGE)
    with host.sudo():
        host.run(container_privilege.remove_command())
        host.check_output(container_privilege.plant_command("userns-remap", "/var/run/docker.sock"))
    try:
        result = host.ansible("nsguard.docker.namespace_mode", "", become=True, check=False)
        assert not result.get("failed") and result.get("changed") is False, result
        yield result
    finally:
        # sleep as PID 1 ignores SIGTERM: removed by force, not waited out
        with host.sudo():
            host.run(container_privilege.remove_command())


def test_verdicts_agree_with_proc(host, audit):
    found = container_privilege.check_against_proc(host, audit, "userns-remap")
    # remapped root is dockremap's first subordinate id; --userns=host puts it back at 0
    start = int(host.check_output("awk -F: '$1 == \"dockremap\" {print $2}' /etc/subuid"))
    roots = {name: c["root_host_uid"] for name, (_d, c) in found.items()}
    assert roots == {"privileged": 0, "hostns": 0, "sysadmin": start, "socket": start, "plain": start}


def test_findings_know_the_remapping(audit):
    container_privilege.check_findings(audit, "userns-remap")
    escaped = sorted(f["subject"] for f in audit["findings"] if f["id"] == "container-root-is-host-root")
    assert escaped == ["container:rootful/hostns", "container:rootful/privileged"]
