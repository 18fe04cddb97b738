"""Units for the lab program's pure parts (no VM, no root)."""
import importlib.util
import os
import subprocess
import sys

import pytest

_spec = importlib.util.spec_from_file_location("lab", os.path.join(os.path.dirname(__file__), "lab.py"))
lab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab)


def test_recipe_hash_is_stable_and_follows_the_recipe(monkeypatch):
    h = lab.recipe_hash()
    assert h == lab.recipe_hash() and len(h) == 16
    monkeypatch.setattr(lab, "IMAGE_PACKAGES", lab.IMAGE_PACKAGES + ["htop"])
    assert lab.recipe_hash() != h


def test_image_paths_live_outside_the_repo(monkeypatch, tmp_path):
    monkeypatch.setenv("NSGUARD_LAB_CACHE", str(tmp_path))
    p = lab.image_paths()
    assert p["image"].startswith(str(tmp_path)) and lab.recipe_hash() in p["image"]
    assert not p["image"].startswith(lab.REPO + os.sep)


def test_shipped_key_has_the_expected_fingerprint(tmp_path):
    keyring = lab.verified_keyring(str(tmp_path))
    assert os.path.getsize(keyring) > 0


def test_a_wrong_key_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(lab, "KEY_FINGERPRINT", "0" * 40)
    with pytest.raises(lab.LabError, match="expected 0000"):
        lab.verified_keyring(str(tmp_path))


def test_scenario_sequences_are_read_from_molecule_yml():
    seq, platforms = lab.scenario_sequence("subids")
    assert seq.index("converge") < seq.index("idempotence") < seq.index("verify")
    assert platforms == ["noble-subids"]


@pytest.mark.parametrize("scenario", sorted(d for d in os.listdir(os.path.join(lab.REPO, "molecule"))
                                            if d not in ("resources",)))
def test_every_scenario_checks_idempotence(scenario):
    seq, _platforms = lab.scenario_sequence(scenario)
    assert "idempotence" in seq and "verify" in seq


def test_down_never_kills_a_process_that_is_not_its_vm(monkeypatch, tmp_path):
    monkeypatch.setenv("NSGUARD_LAB_RUN", str(tmp_path))
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "ghost").mkdir()
        (tmp_path / "ghost" / "qemu.pid").write_text(str(victim.pid))
        assert lab.qemu_pid("ghost") is None
        lab.down("ghost")
        assert victim.poll() is None and not (tmp_path / "ghost").exists()
    finally:
        victim.kill()


def test_tool_output_stays_off_stdout(capfd):
    # stdout of lab.py and standin_repo.py is JSON that playbooks parse with from_json.
    lab.run(["echo", "chatter"])
    out, err = capfd.readouterr()
    assert out == "" and "chatter" in err
