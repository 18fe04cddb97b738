"""The audit modules on a clean rootless-only host (issue: audit acceptance).

Both daemons are found from their processes and sockets, reported as `rootless`, and
nothing reaches high severity: no rootful socket, no docker group members, no TCP.
"""
import pytest

SEVERE = ("high", "critical")


@pytest.fixture(scope="module")
def namespace_mode(host):
    return host.ansible("nsguard.docker.namespace_mode", "", check=False, become=True)


@pytest.fixture(scope="module")
def socket_exposure(host):
    return host.ansible("nsguard.docker.socket_exposure", "", check=False, become=True)


def test_each_rootless_daemon_reported_rootless(host, namespace_mode):
    daemons = {d["id"]: d for d in namespace_mode["daemons"]}
    for user in ("vagrant", "alice"):
        d = daemons["rootless:%d" % host.user(user).uid]
        assert d["mode"] == "rootless", d
        assert d["reachable"] is True, d
    assert "rootful" not in daemons or not daemons["rootful"].get("pid")


def test_no_high_findings_on_a_rootless_only_host(namespace_mode, socket_exposure):
    for result in (namespace_mode, socket_exposure):
        severe = [f for f in result["findings"] if f["severity"] in SEVERE]
        assert severe == [], severe
        assert result["changed"] is False
