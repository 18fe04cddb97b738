"""The audit on the userns_remap VM: nsguard.docker.namespace_mode must see the role's work.

The rootful daemon runs with userns-remap (dockremap), so the module reports it
`userns-remap`, confirmed by the running daemon (mode_verified), and raises no
userns-default-mode finding.
"""
import pytest


@pytest.fixture(scope="module")
def audit(host):
    result = host.ansible("nsguard.docker.namespace_mode", "", become=True, check=False)
    assert not result.get("failed") and result.get("changed") is False, result
    return result


def test_rootful_daemon_reported_userns_remap(audit):
    rootful = [d for d in audit["daemons"] if d["kind"] == "rootful"]
    assert len(rootful) == 1, audit["daemons"]
    daemon = rootful[0]
    assert daemon["id"] == "rootful"
    assert daemon["mode"] == "userns-remap", daemon
    assert daemon["mode_verified"] is True
    assert daemon["reachable"] is True and daemon["error"] is None
    assert "security_options" in daemon["mode_basis"]
    assert daemon["userns_remap"]["config"] == "dockremap:dockremap"
    assert daemon["docker_root_dir"].startswith("/var/lib/docker/")


def test_no_default_mode_finding(audit):
    assert not [f for f in audit["findings"] if f["id"] == "userns-default-mode"], audit["findings"]
    assert audit["summary"]["modes"]["userns-remap"] == 1
    assert audit["summary"]["modes"]["default"] == 0
