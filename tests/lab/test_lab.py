"""Units for the lab program's pure parts (no VM, no root)."""
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

_spec = importlib.util.spec_from_file_location("lab", os.path.join(os.path.dirname(__file__), "lab.py"))
lab = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab)


def test_recipe_hash_is_stable_and_follows_the_recipe(monkeypatch):
    h = lab.recipe_hash()
    assert h == lab.recipe_hash() and len(h) == 16
    assert len(set(lab.recipe_hash(system) for system in lab.SYSTEMS)) == len(lab.SYSTEMS)
    monkeypatch.setitem(lab.SYSTEMS["noble"], "packages", lab.SYSTEMS["noble"]["packages"] + ["htop"])
    assert lab.recipe_hash() != h


def test_noble_recipe_kept_its_hash_when_the_lab_learnt_other_systems():
    # the cached noble image and every layer on it stay valid (a cold cache costs 25 min)
    assert lab.recipe_hash("noble") == "894b51af04614396"


def test_each_systems_sources_name_its_release_pockets_and_no_host():
    ubuntu = lab.apt_sources("jammy")
    assert "Suites: jammy jammy-updates jammy-security\n" in ubuntu and "URIs: $mirror\n" in ubuntu
    debian = lab.apt_sources("trixie").split("\n\n")
    assert [line for line in debian[0].splitlines() if line.startswith(("URIs", "Suites"))] == [
        "URIs: $mirror", "Suites: trixie trixie-updates"]
    assert [line for line in debian[1].splitlines() if line.startswith(("URIs", "Suites"))] == [
        "URIs: $mirror-security", "Suites: trixie-security"]
    assert "debian-archive-keyring.gpg" in debian[1]
    for system in lab.SYSTEMS:
        script = lab.configure_script(system)
        assert "cat > /etc/apt/sources.list.d/%s.sources" % lab.SYSTEMS[system]["family"] in script
        assert "http" not in script


def test_image_paths_live_outside_the_repo(monkeypatch, tmp_path):
    monkeypatch.setenv("NSGUARD_LAB_CACHE", str(tmp_path))
    p = lab.image_paths()
    assert p["image"].startswith(str(tmp_path)) and lab.recipe_hash() in p["image"]
    assert not p["image"].startswith(lab.REPO + os.sep)
    assert lab.image_paths("bookworm")["dir"] != p["dir"]


@pytest.mark.parametrize("system", sorted(lab.SYSTEMS))
def test_shipped_key_has_the_expected_fingerprint(tmp_path, system):
    keyring = lab.verified_keyring(str(tmp_path), system)
    assert os.path.getsize(keyring) > 0


def test_a_wrong_key_is_refused(monkeypatch, tmp_path):
    monkeypatch.setitem(lab.SYSTEMS["noble"], "fingerprint", "0" * 40)
    with pytest.raises(lab.LabError, match="expected 0000"):
        lab.verified_keyring(str(tmp_path))


def test_scenario_sequences_are_read_from_molecule_yml():
    seq, platforms = lab.scenario_sequence("subids")
    assert seq.index("converge") < seq.index("idempotence") < seq.index("verify")
    assert platforms == ["noble-subids"]


@pytest.mark.parametrize("scenario", sorted(d for d in os.listdir(os.path.join(lab.REPO, "molecule"))
                                            if d not in ("resources",)))
def test_every_scenario_checks_dry_run_idempotence_and_verifies(scenario):
    seq, _platforms = lab.scenario_sequence(scenario)
    # check mode on the prepared (or fresh), unconverged host; then converge, and it again
    # changes nothing
    assert seq.index("create") < seq.index("check") < seq.index("converge") < seq.index("idempotence")
    assert "prepare" not in seq or seq.index("prepare") < seq.index("check")
    assert "verify" in seq


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


ANSIBLE_FAILURE = """
PLAY [Converge] ****************************************************************

TASK [Gathering Facts] *********************************************************
ok: [noble-rootless]

TASK [nsguard.docker.rootless : Install rootless Docker for each user] *********
changed: [noble-rootless] => (item=vagrant)
failed: [noble-rootless] (item=alice) => {"msg": "%s"}

PLAY RECAP *********************************************************************
noble-rootless             : ok=1    changed=1    unreachable=0    failed=1
""" % ("x" * 2000)

PYTEST_FAILURE = """
============================= test session starts ==============================
collected 2 items

tests/test_rootless.py .F                                                [100%]

=================================== FAILURES ===================================
_________________ test_daemon_answers[ansible://noble-rootless] _________________
    def test_daemon_answers(host):
>       assert host.run("docker info").rc == 0
E       AssertionError: assert 1 == 0
tests/test_rootless.py:12: AssertionError
=========================== short test summary info ============================
FAILED tests/test_rootless.py::test_daemon_answers[ansible://noble-rootless] - AssertionError: assert 1 == 0
"""


def test_failure_lines_name_the_failed_task_and_cut_long_lines():
    lines = lab.failure_lines(ANSIBLE_FAILURE.splitlines(), width=100)
    assert lines[0] == "TASK [nsguard.docker.rootless : Install rootless Docker for each user]"
    assert lines[1].startswith("failed: [noble-rootless] (item=alice)") and lines[1].endswith("[...]")
    assert len(lines) == 2  # nothing of the tasks that passed


def test_failure_lines_keep_pytest_assertions():
    lines = lab.failure_lines(PYTEST_FAILURE.splitlines())
    assert any(line.startswith("E       AssertionError: assert 1 == 0") for line in lines)
    assert any(line.startswith("FAILED tests/test_rootless.py::test_daemon_answers") for line in lines)
    assert "tests/test_rootless.py:12: AssertionError" in lines


def test_failure_lines_fall_back_to_the_tail_and_stay_bounded():
    assert lab.failure_lines(["a", "b"]) == ["a", "b"]
    many = ["fatal: [h]: FAILED! %d" % i for i in range(100)]
    lines = lab.failure_lines(many, limit=10)
    assert len(lines) == 11 and "90 lines" in lines[5] and lines[-1] == many[-1]


def test_run_teed_streams_and_keeps_the_output(capfd):
    rc, output = lab.run_teed([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], env=dict(os.environ))
    assert rc == 3 and output == ["out"]
    assert "out" in capfd.readouterr().out


def test_a_guest_kernel_panic_is_seen_on_the_console(monkeypatch, tmp_path):
    monkeypatch.setattr(lab, "instance_dir", lambda name: str(tmp_path / name))
    (tmp_path / "vm").mkdir()
    console = tmp_path / "vm" / "console.log"
    assert lab.guest_crash("vm") is None  # no console yet
    console.write_text("Ubuntu 24.04.5 LTS nsguard-lab ttyS0\nBUG: soft lockup - CPU#0 stuck for 23s!\n")
    assert lab.guest_crash("vm") is None  # a soft lockup under load is not a crash
    console.write_text("login: [  499.8] traps: PANIC: double fault, error_code: 0x0\n"
                       "[  499.9] Kernel panic - not syncing: Fatal exception in interrupt\n")
    assert "double fault" in lab.guest_crash("vm")


def test_run_teed_ends_a_run_whose_guest_died(capfd, tmp_path):
    # The "crash" is seen only after the child has printed (a gate file), so the output
    # kept for the digest does not depend on how fast a loaded machine starts Python.
    gate = tmp_path / "printed"
    started = time.time()

    def crashed():
        return "Kernel panic - not syncing" if gate.exists() else None
    with pytest.raises(lab.GuestCrashed) as err:
        lab.run_teed([sys.executable, "-c", "import sys, time; print('waiting', flush=True); "
                      "open(sys.argv[1], 'w').close(); time.sleep(600)", str(gate)],
                     env=dict(os.environ), crashed=crashed, interval=0.1)
    assert time.time() - started < 300  # killed, not waited for
    assert "Kernel panic" in str(err.value) and err.value.output == ["waiting"]
    rc, output = lab.run_teed([sys.executable, "-c", "print('ok')"], env=dict(os.environ),
                              crashed=lambda: None, interval=0.1)
    assert rc == 0 and output == ["ok"]


def test_a_scenario_is_retried_once_after_a_guest_crash(monkeypatch, tmp_path):
    monkeypatch.setattr(lab, "digest_path", lambda: str(tmp_path / "lab-failures.txt"))
    monkeypatch.setattr(lab, "REPO", str(tmp_path))
    monkeypatch.setattr(lab, "build_for", lambda scenarios: None)   # all cached
    outcomes = iter(["retry", "passed", "retry", "retry", "failed"])
    seen = []

    def run_scenario(scenario, molecule, out_dir, may_retry, out=None):
        seen.append((scenario, may_retry))
        return next(outcomes)
    monkeypatch.setattr(lab, "run_scenario", run_scenario)
    assert lab.test_scenarios(["a", "b", "c"]) == ["b", "c"]
    assert seen == [("a", True), ("a", False), ("b", True), ("b", False), ("c", True)]


def test_lanes_take_the_longest_scenarios_first_and_unknown_ones_before_all(tmp_path):
    history = tmp_path / "timings.jsonl"
    history.write_text("\n".join([
        json.dumps({"scenario": "engine", "result": "passed", "total": 600.0}),
        json.dumps({"scenario": "subids", "result": "passed", "total": 140.0}),
        json.dumps({"scenario": "engine", "result": "failed: molecule converge", "total": 90.0}),
        json.dumps({"scenario": "rootless", "result": "passed", "total": 900.0}),
        json.dumps({"scenario": "rootless", "result": "passed", "total": 800.0}),
        "not json",
    ]) + "\n")
    totals = lab.past_totals(str(history))
    assert totals == {"engine": 600.0, "subids": 140.0, "rootless": 800.0}  # the last passed run
    assert lab.longest_first(["audit", "engine", "rootless", "subids", "new"], totals) == [
        "audit", "new", "rootless", "engine", "subids"]
    assert lab.past_totals(str(tmp_path / "absent")) == {}


def test_a_machine_without_history_orders_the_lanes_by_the_shipped_totals(tmp_path):
    reference = tmp_path / "scenario-totals.json"
    reference.write_text(json.dumps({"about": "", "totals": {"rootless": 1300, "subids": 170, "engine": 950}}))
    history = tmp_path / "timings.jsonl"
    totals = lab.scenario_totals(str(history), str(reference))
    assert totals == {"rootless": 1300.0, "subids": 170.0, "engine": 950.0}
    assert lab.longest_first(["subids", "engine", "rootless"], totals) == ["rootless", "engine", "subids"]
    history.write_text(json.dumps({"scenario": "subids", "result": "passed", "total": 2000.0}) + "\n")
    assert lab.scenario_totals(str(history), str(reference))["subids"] == 2000.0   # the history wins
    # The shipped file names every scenario the CI runs.
    shipped = lab.scenario_totals(str(tmp_path / "absent"))
    scenarios = [d for d in os.listdir(os.path.join(lab.REPO, "molecule"))
                 if os.path.exists(os.path.join(lab.REPO, "molecule", d, "molecule.yml"))
                 and d not in ("default",)]
    assert sorted(shipped) == sorted(scenarios)


def test_a_free_lane_takes_a_scenario_whose_system_no_lane_is_building(monkeypatch):
    configs = {"a": {"platforms": [{"name": "noble-a", "layer": "docker-ce"}]},
               "b": {"platforms": [{"name": "noble-b", "layer": "ready"}]},
               "c": {"platforms": [{"name": "bookworm-c", "layer": "ready"}]},
               "d": {"platforms": [{"name": "bookworm-d"}, {"name": "noble-d"}]}}

    def scenario_config(scenario):
        if scenario == "broken":
            raise OSError("no molecule.yml")
        return configs[scenario]
    monkeypatch.setattr(lab, "scenario_config", scenario_config)
    monkeypatch.setattr(lab, "_BUILDING", {"noble"})
    queue = ["a", "b", "d", "c"]
    assert lab.next_scenario(queue) == "c" and queue == ["a", "b", "d"]
    assert lab.next_scenario(queue) == "a" and queue == ["b", "d"]   # every one waits: the first
    monkeypatch.setattr(lab, "_BUILDING", set())
    assert lab.next_scenario(queue) == "b"
    queue = ["a", "broken"]
    monkeypatch.setattr(lab, "_BUILDING", {"noble"})
    assert lab.next_scenario(queue) == "broken"   # taken, and its run reports the error


def test_a_system_counts_as_building_only_while_a_lane_builds_it(monkeypatch):
    monkeypatch.setattr(lab, "_BUILD_LOCKS", {})
    monkeypatch.setattr(lab, "_BUILD_FAILED", {})
    monkeypatch.setattr(lab, "_BUILDING", set())
    monkeypatch.setattr(lab, "scenario_config",
                        lambda scenario: {"platforms": [{"name": "jammy-%s" % scenario, "layer": "ready"}]})
    seen = []
    monkeypatch.setattr(lab, "build", lambda system: seen.append(("image", set(lab._BUILDING))))  # pylint: disable=protected-access
    monkeypatch.setattr(lab, "ensure_layer",
                        lambda layer, system: seen.append((layer, set(lab._BUILDING))))  # pylint: disable=protected-access
    lab.build_for(["x"])
    assert seen == [("image", {"jammy"}), ("ready", {"jammy"})]
    assert lab._BUILDING == set()  # pylint: disable=protected-access

    def fails(system):
        raise lab.LabError("debootstrap failed")
    monkeypatch.setattr(lab, "build", fails)
    monkeypatch.setattr(lab, "_BUILD_FAILED", {})
    with pytest.raises(lab.LabError, match="debootstrap failed"):
        lab.build_for(["x"])
    assert lab._BUILDING == set()  # pylint: disable=protected-access


def test_the_number_of_lanes_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("NSGUARD_LAB_LANES", "1")
    assert lab.lab_lanes() == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("NSGUARD_LAB_LANES", bad)
        with pytest.raises(lab.LabError, match="NSGUARD_LAB_LANES"):
            lab.lab_lanes()
    monkeypatch.delenv("NSGUARD_LAB_LANES")
    monkeypatch.setattr(lab.os, "cpu_count", lambda: 1)
    assert lab.lab_lanes() == 1
    monkeypatch.setattr(lab.os, "cpu_count", lambda: 2)
    assert lab.lab_lanes() == lab.LANES


def test_lanes_run_scenarios_side_by_side_and_print_each_whole(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(lab, "digest_path", lambda: str(tmp_path / "lab-failures.txt"))
    monkeypatch.setattr(lab, "image_paths", lambda: {"timings": str(tmp_path / "timings.jsonl")})
    monkeypatch.setattr(lab, "REPO", str(tmp_path))
    monkeypatch.setattr(lab, "build_for", lambda scenarios: None)   # all cached
    running, most = set(), []
    # Each pair meets at the barrier: one lane at a time would break it (after a bound).
    both_lanes = threading.Barrier(2, timeout=120)

    def run_scenario(scenario, molecule, out_dir, may_retry, out=None):
        with lock:
            running.add(scenario)
            most.append(len(running))
        both_lanes.wait()
        for n in range(3):
            out.write("%s line %d\n" % (scenario, n))
        with lock:
            running.discard(scenario)
        both_lanes.wait()
        return "failed" if scenario == "b" else "passed"
    lock = threading.Lock()
    monkeypatch.setattr(lab, "run_scenario", run_scenario)
    assert lab.test_scenarios(["a", "b", "c", "d"], lanes=2) == ["b"]
    assert max(most) == 2 and not both_lanes.broken
    printed = capsys.readouterr().out
    for sc in "abcd":  # each scenario's lines together, under its header
        block = printed.split("===== scenario %s " % sc)[1].split("=====", 2)
        assert block[1].strip().splitlines() == ["%s line %d" % (sc, n) for n in range(3)]
    assert "===== scenario b (lane" in printed and ": failed =====" in printed


def test_lanes_build_what_their_scenario_needs_one_system_at_a_time(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(lab, "digest_path", lambda: str(tmp_path / "lab-failures.txt"))
    monkeypatch.setattr(lab, "image_paths", lambda: {"timings": str(tmp_path / "timings.jsonl")})
    monkeypatch.setattr(lab, "REPO", str(tmp_path))
    monkeypatch.setattr(lab, "_BUILD_LOCKS", {})
    monkeypatch.setattr(lab, "_BUILD_FAILED", {})
    monkeypatch.setattr(lab, "_BUILDING", set())
    configs = {"a": {"platforms": [{"name": "noble-a", "layer": "docker-ce"}]},
               "b": {"platforms": [{"name": "noble-b", "layer": "ready"}]},
               "c": {"platforms": [{"name": "bookworm-c", "layer": "ready"}]},
               "d": {"platforms": [{"name": "bookworm-d", "layer": "ready"}]}}
    monkeypatch.setattr(lab, "scenario_config", lambda scenario: configs[scenario])
    spans, lock = [], threading.Lock()

    def build(system):
        started = time.monotonic()
        time.sleep(0.2)   # long enough for the other lane to ask for the same system
        with lock:
            spans.append((system, started, time.monotonic()))
        if system == "bookworm":
            raise lab.LabError("debootstrap failed")
    monkeypatch.setattr(lab, "build", build)
    monkeypatch.setattr(lab, "ensure_layer", lambda layer, system: None)
    ran = []
    monkeypatch.setattr(lab, "run_scenario",
                        lambda scenario, molecule, out_dir, may_retry, out=None: ran.append(scenario) or "passed")
    assert lab.test_scenarios(["a", "b", "c", "d"], lanes=2) == ["c", "d"]
    assert sorted(ran) == ["a", "b"]
    assert [system for system, _s, _e in spans].count("bookworm") == 1   # not built again after it failed
    noble = sorted((s, e) for system, s, e in spans if system == "noble")
    assert len(noble) == 2 and noble[0][1] <= noble[1][0]   # one build of a system at a time
    printed = capsys.readouterr().out
    assert "debootstrap failed" in printed.split("===== scenario c ")[1].split("=====", 2)[1]
    assert "failed to build earlier in this run" in printed.split("===== scenario d ")[1].split("=====", 2)[1]


def test_an_interrupt_ends_the_running_stages_and_starts_no_other(monkeypatch):
    monkeypatch.setattr(lab, "_STOPPING", threading.Event())
    ended = []

    def stage():
        try:
            with open(os.devnull, "w", encoding="utf-8") as devnull:
                lab.run_teed([sys.executable, "-c", "import time; print('long', flush=True); time.sleep(600)"],
                             env=dict(os.environ), out=devnull)
        finally:
            ended.append(time.time())
    started = time.time()
    t = threading.Thread(target=stage)
    t.start()
    while not lab._RUNNING:  # pylint: disable=protected-access
        time.sleep(0.05)
    lab.stop_running_stages()
    t.join(300)
    assert ended and ended[0] - started < 300  # killed, not run to its end
    with pytest.raises(lab.LabError, match="interrupted"):
        lab.run_teed([sys.executable, "-c", "print('never')"], env=dict(os.environ))


def test_molecule_destroy_runs_beside_the_next_scenario_and_is_waited_for(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(lab, "REPO", str(tmp_path))
    # "slow" ends only when the test opens its gate: still running after destroy_beside
    # returned shows it was not waited for, on a machine of any speed.
    gate = tmp_path / "gate"
    waits_for_gate = ("import os, sys, time\n"
                      "while not os.path.exists(sys.argv[1]):\n"
                      "    time.sleep(0.05)\n"
                      "print('gone')")
    lab.destroy_beside("slow", [sys.executable, "-c", waits_for_gate, str(gate)], str(tmp_path))
    lab.destroy_beside("bad", [sys.executable, "-c", "import sys; print('no such instance'); sys.exit(2)"],
                       str(tmp_path))
    assert lab._DESTROYS["slow"][0].poll() is None  # neither was waited for
    gate.touch()
    assert lab.wait_destroys() == ["bad"]
    assert lab._DESTROYS == {}
    assert (tmp_path / "slow-destroy.log").read_text() == "gone\n"
    assert "no such instance" in capsys.readouterr().out
    # a scenario destroyed again (a retry) first waits for its earlier destroy
    lab.destroy_beside("again", [sys.executable, "-c", "import time; time.sleep(0.5)"], str(tmp_path))
    first = lab._DESTROYS["again"][0]
    lab.destroy_beside("again", [sys.executable, "-c", "pass"], str(tmp_path))
    assert first.returncode == 0 and lab.wait_destroys("again") == []


def test_check_writes_command_lists_only_what_changed_after_the_mark(tmp_path):
    etc, home, bob = tmp_path / "etc", tmp_path / "home" / "alice", tmp_path / "home" / "bob"
    (home / "lib" / "__pycache__").mkdir(parents=True)
    for d in (etc, bob, tmp_path / "usr"):
        d.mkdir()
    for path in (etc / "untouched", etc / "written", etc / "chmodded", home / "kept", bob / "kept"):
        path.write_text("before\n")
    past = os.stat(tmp_path).st_mtime - 60
    for path in tmp_path.rglob("*"):
        os.utime(path, (past, past))
    mark = tmp_path / "mark"
    mark.touch()
    time.sleep(0.05)  # file times tick with the kernel's coarse clock
    (etc / "written").write_text("after\n")
    os.chmod(etc / "chmodded", 0o600)           # ctime only: still a change
    (home / ".ansible" / "tmp").mkdir(parents=True)   # Ansible's, when becoming alice
    (home / ".ansible" / "tmp" / "AnsiballZ_x.py").write_text("")
    (home / "lib" / "__pycache__" / "m.pyc").write_text("")
    (bob / ".ansible").mkdir()                   # an artefact beside a real change
    (bob / ".profile").write_text("export DOCKER_HOST=x\n")
    command = lab.check_writes_command(mark=str(mark), watched=(str(etc), str(home), str(bob), str(tmp_path / "absent")))
    lines = subprocess.run(["sh", "-c", command], check=True, capture_output=True, text=True).stdout.splitlines()
    assert sorted(line for line in lines if line.startswith("artefact ")) == [
        "artefact %s" % (home / ".ansible"), "artefact %s" % (home / "lib" / "__pycache__"),
        "artefact %s" % (bob / ".ansible")]
    # alice's home changed only by gaining .ansible; bob's also by a new .profile
    assert sorted(lab.check_findings(lines)) == sorted(
        [str(etc / "chmodded"), str(etc / "written"), str(bob / ".profile")])


def test_check_stage_reports_each_changed_path(monkeypatch):
    answers = {"vm1": ["changed /etc/subuid"], "vm2": ["artefact /home/alice/.ansible", "changed /home/alice"]}
    monkeypatch.setattr(lab, "on_vm", lambda name, command: answers[name])
    assert lab.written_by_check(["vm1", "vm2"]) == [
        "check mode changed /etc/subuid on vm1 (written, or owner or mode set, during the check stage)"]


def test_on_vm_bounds_its_wait_and_reports_failures(monkeypatch, tmp_path):
    (tmp_path / "instance.json").write_text('{"instance": "vm1", "port": 1}')
    monkeypatch.setattr(lab, "instance_dir", lambda name: str(tmp_path))
    # a stand-in for ssh: the remote command it is given lands in $0, unused
    monkeypatch.setattr(lab, "ssh_base", lambda inst: ["sh", "-c", "sleep 600"])
    with pytest.raises(lab.LabError, match="did not finish in 1s"):
        lab.on_vm("vm1", "true", timeout=1)
    monkeypatch.setattr(lab, "ssh_base", lambda inst: ["sh", "-c", "echo refused >&2; exit 3"])
    with pytest.raises(lab.LabError, match="exited 3: refused"):
        lab.on_vm("vm1", "true")
    monkeypatch.setattr(lab, "instance_dir", lambda name: str(tmp_path / "absent"))
    with pytest.raises(lab.LabError, match="no running instance vm1"):
        lab.on_vm("vm1", "true")


def test_run_teed_ends_a_stage_that_outlives_its_bound(monkeypatch, tmp_path):
    # The bound is read from lab's clock. This clock stands still until the child has
    # printed (a gate file) and then jumps past the bound, so the kept output does not
    # depend on how fast a loaded machine starts Python.
    gate = tmp_path / "printed"
    clock = {"now": 1000.0}

    def now():
        return clock["now"] + (3600 if gate.exists() else 0)
    monkeypatch.setattr(lab, "time", type("Clock", (), {"time": staticmethod(now), "sleep": staticmethod(time.sleep)}))
    started = time.time()
    with pytest.raises(lab.StageTimeout) as err:
        lab.run_teed([sys.executable, "-c", "import sys, time; print('slow', flush=True); "
                      "open(sys.argv[1], 'w').close(); time.sleep(600)", str(gate)],
                     env=dict(os.environ), timeout=1, interval=0.1)
    assert time.time() - started < 300  # killed, not waited for
    assert "did not finish in 1s" in str(err.value) and err.value.output == ["slow"]


def _no_uploads(monkeypatch):
    monkeypatch.setattr(lab, "layer_uploads", lambda name, system="noble": [])
    monkeypatch.setattr(lab, "qemu_version", lambda: "QEMU emulator version 7.2.22")


def test_a_layer_hash_follows_its_script_its_parent_and_the_machine(monkeypatch):
    _no_uploads(monkeypatch)
    ready, docker_io = lab.layer_hash("ready"), lab.layer_hash("docker.io")
    assert ready != docker_io and lab.layer_hash("ready") == ready
    monkeypatch.setitem(lab.LAYER_SCRIPTS, "ready", lab.LAYER_SCRIPTS["ready"] + "\ntrue")
    assert lab.layer_hash("ready") != ready
    assert lab.layer_hash("docker.io") != docker_io  # a child is rebuilt with its parent
    monkeypatch.setitem(lab.LAYER_SCRIPTS, "ready", lab.LAYER_SCRIPTS["ready"][:-len("\ntrue")])
    assert lab.layer_hash("ready") == ready
    monkeypatch.setattr(lab, "qemu_version", lambda: "QEMU emulator version 8.0.0")
    loaded_by_newer_qemu = lab.layer_hash("ready")
    assert loaded_by_newer_qemu != ready  # a saved state needs the QEMU that wrote it
    monkeypatch.setattr(lab, "VM_MEMORY", lab.VM_MEMORY * 2)
    assert lab.layer_hash("ready") != loaded_by_newer_qemu  # ... and the machine
    with pytest.raises(lab.LabError, match="no layer 'nope'"):
        lab.layer_hash("nope")


def test_a_layer_hash_follows_what_it_uploads(monkeypatch, tmp_path):
    _no_uploads(monkeypatch)
    fixture = tmp_path / "repo.tar"
    fixture.write_bytes(b"one")
    first = lab.layer_hash("ready", uploads=[(str(fixture), "tar -x -C /srv -f -")])
    fixture.write_bytes(b"two")
    assert lab.layer_hash("ready", uploads=[(str(fixture), "tar -x -C /srv -f -")]) != first


def test_each_system_has_its_own_layers_and_noble_keeps_its_names(monkeypatch, tmp_path):
    _no_uploads(monkeypatch)
    monkeypatch.setenv("NSGUARD_LAB_CACHE", str(tmp_path))
    assert lab.layer_hash("ready", system="bookworm") != lab.layer_hash("ready")
    digest = lab.layer_hash("docker-ce", system="bookworm")
    assert os.path.basename(lab.layer_paths("docker-ce", digest, "bookworm")["dir"]) == "bookworm-docker-ce-" + digest
    assert os.path.basename(lab.layer_paths("docker-ce", "x", "noble")["dir"]) == "docker-ce-x"
    # the docker-ce layer installs each system's stand-in, and the plugins its release has
    bookworm, noble = lab.layer_script("docker-ce", "bookworm"), lab.layer_script("docker-ce", "noble")
    assert "file:///srv/docker-standin/linux/debian\\nSuites: bookworm" in bookworm
    assert "docker-buildx-plugin" not in bookworm and "docker-buildx-plugin docker-compose-plugin" in noble
    assert lab.vm_system("bookworm-harden") == "bookworm" and lab.vm_system("layer-ready") == "noble"


def test_every_layer_has_a_parent_that_is_a_layer():
    assert set(lab.LAYER_PARENTS) == set(lab.LAYER_SCRIPTS)
    for parent in lab.LAYER_PARENTS.values():
        assert parent is None or parent in lab.LAYER_SCRIPTS


@pytest.mark.parametrize("scenario", sorted(d for d in os.listdir(os.path.join(lab.REPO, "molecule"))
                                            if d not in ("resources", "default")))
def test_every_lab_platform_names_a_layer_that_exists(scenario):
    import yaml
    with open(os.path.join(lab.REPO, "molecule", scenario, "molecule.yml")) as f:
        platforms = yaml.safe_load(f)["platforms"]
    for platform in platforms:
        assert platform.get("layer") in lab.LAYER_SCRIPTS, platform
        assert lab.platform_os(platform["name"]) in lab.SYSTEMS


def _scenario(repo, name, prepare, platforms):
    sdir = repo / "molecule" / name
    sdir.mkdir(parents=True)
    (sdir / "prepare.yml").write_text(prepare)
    import yaml
    (sdir / "molecule.yml").write_text(yaml.safe_dump({"platforms": platforms}))
    return sdir


def test_a_prepared_layer_hash_follows_the_playbook_what_it_names_and_the_parent(monkeypatch, tmp_path):
    monkeypatch.setattr(lab, "REPO", str(tmp_path))
    monkeypatch.setenv("NSGUARD_LAB_CACHE", str(tmp_path / "cache"))
    parents = {"docker.io": "p1"}
    monkeypatch.setattr(lab, "layer_hash", lambda name, uploads=None, system="noble": parents[name])
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "fixture.sh").write_text("one")
    (tmp_path / "tests" / "only-in-a-comment.sh").write_text("one")
    platform = {"name": "noble-x", "layer": "docker.io", "cache_prepare": True}
    sdir = _scenario(tmp_path, "x", "# see tests/only-in-a-comment.sh\n- ansible.builtin.script: "
                     "'{{ dir }}/tests/fixture.sh'\n", [platform])
    assert [os.path.relpath(f, str(tmp_path)) for f in lab.prepare_inputs("x")] == [
        "molecule/x/prepare.yml", "tests/fixture.sh"]

    def digest():  # as `lab.py test` plans it: molecule.yml read again, the parent asked for its hash
        return lab.prepared_plan("x")["noble-x"]["hash"]
    first = digest()
    assert digest() == first
    (tmp_path / "tests" / "only-in-a-comment.sh").write_text("two")
    assert digest() == first
    (tmp_path / "tests" / "fixture.sh").write_text("two")
    second = digest()
    assert second != first
    (sdir / "prepare.yml").write_text((sdir / "prepare.yml").read_text() + "# a comment\n")
    third = digest()
    assert third != second
    import yaml
    conf = yaml.safe_load((sdir / "molecule.yml").read_text())
    conf["verifier"] = {"name": "testinfra"}  # not what prepare runs with
    (sdir / "molecule.yml").write_text(yaml.safe_dump(conf))
    assert digest() == third
    conf["provisioner"] = {"inventory": {"group_vars": {"all": {"a": 1}}}}
    (sdir / "molecule.yml").write_text(yaml.safe_dump(conf))
    fourth = digest()
    assert fourth != third
    parents["docker.io"] = "p2"  # a rebuilt parent makes every prepared layer on it stale
    assert digest() != fourth
    monkeypatch.setattr(lab, "ansible_core_version", lambda: "0.0")
    assert digest() != fourth


@pytest.mark.parametrize("playbook", [
    "- ansible.builtin.include_role:\n    name: engine\n",
    "- ansible.builtin.import_role:\n    name: x\n",
    "- hosts: all\n  roles:\n    - subids\n",
    "- nsguard.docker.daemon_config:\n    path: /etc/docker/daemon.json\n",
])
def test_a_prepare_that_runs_this_collections_code_is_never_cached(monkeypatch, tmp_path, playbook):
    monkeypatch.setattr(lab, "REPO", str(tmp_path))
    _scenario(tmp_path, "x", playbook, [{"name": "noble-x", "layer": "ready", "cache_prepare": True}])
    with pytest.raises(lab.LabError, match="runs this collection's code"):
        lab.prepare_inputs("x")


def test_cache_prepare_is_all_platforms_or_none(monkeypatch, tmp_path):
    monkeypatch.setattr(lab, "REPO", str(tmp_path))
    monkeypatch.setenv("NSGUARD_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(lab, "layer_hash", lambda name, uploads=None, system="noble": "0123456789abcdef")
    _scenario(tmp_path, "none", "[]\n", [{"name": "noble-a", "layer": "ready"}])
    assert lab.prepared_plan("none") == {}
    _scenario(tmp_path, "mixed", "[]\n", [{"name": "noble-b", "layer": "ready", "cache_prepare": True},
                                          {"name": "noble-c", "layer": "ready"}])
    with pytest.raises(lab.LabError, match="every platform"):
        lab.prepared_plan("mixed")
    _scenario(tmp_path, "all", "[]\n", [{"name": "noble-d", "layer": "ready", "cache_prepare": True}])
    plan = lab.prepared_plan("all")
    assert list(plan) == ["noble-d"] and plan["noble-d"]["parent"] == "ready-0123456789abcdef"
    assert os.path.basename(plan["noble-d"]["dir"]) == "prepared-noble-d-" + plan["noble-d"]["hash"]
    # up() restores a VM from the prepared layer `lab.py test` names, once it exists
    monkeypatch.setenv("NSGUARD_LAB_PREPARED", lab.json.dumps(plan))
    assert lab.prepared_spec_for("noble-d") is None
    os.makedirs(plan["noble-d"]["dir"])
    open(plan["noble-d"]["info"], "w").close()
    assert lab.prepared_spec_for("noble-d") == plan["noble-d"] and lab.prepared_spec_for("noble-e") is None
    monkeypatch.delenv("NSGUARD_LAB_PREPARED")
    assert lab.prepared_spec_for("noble-d") is None


def test_stale_layers_are_pruned_and_prepared_ones_kept_while_their_parent_is(monkeypatch, tmp_path):
    monkeypatch.setenv("NSGUARD_LAB_CACHE", str(tmp_path))
    monkeypatch.setattr(lab, "layer_hash", lambda name, uploads=None, system="noble": "h-" + name)
    root = tmp_path / "layers"
    entries = {"ready-h-ready": None, "docker.io-h-docker.io": None, "docker-ce-h-docker-ce": None,
               "ready-old": None, "build-ready-x": None,
               "prepared-noble-a-1": "docker.io-h-docker.io", "prepared-noble-b-2": "ready-old",
               "prepared-noble-c-3": "missing"}
    for entry, parent in entries.items():
        (root / entry).mkdir(parents=True)
        if parent:
            (root / entry / "layer.json").write_text(lab.json.dumps({"parent": parent}))
    (root / "prepared-noble-c-3" / "layer.json").write_text("{not json")
    # another system's layers (and what is prepared on them) are not noble's to prune
    for entry, parent in (("bookworm-ready-old", None), ("prepared-bookworm-a-4", "bookworm-ready-old")):
        (root / entry).mkdir(parents=True)
        (root / entry / "layer.json").write_text(lab.json.dumps({"parent": parent}))
    lab.prune_layers()
    kept = ["bookworm-ready-old", "build-ready-x", "docker-ce-h-docker-ce", "docker.io-h-docker.io",
            "prepared-bookworm-a-4", "prepared-noble-a-1", "ready-h-ready"]
    assert sorted(os.listdir(str(root))) == kept
    lab.prune_layers("bookworm")
    assert sorted(os.listdir(str(root))) == [e for e in kept if "bookworm" not in e]


@pytest.mark.parametrize("scenario", sorted(d for d in os.listdir(os.path.join(lab.REPO, "molecule"))
                                            if d not in ("resources", "default")))
def test_a_cached_prepare_runs_the_noop_playbook_once_restored(scenario):
    conf = lab.scenario_config(scenario)
    if not any(pl.get("cache_prepare") for pl in conf["platforms"]):
        pytest.skip("%s runs its prepare every time" % scenario)
    assert conf["provisioner"]["playbooks"]["prepare"] == "${NSGUARD_PREPARE_PLAYBOOK:-prepare.yml}"
    assert os.path.isfile(os.path.join(lab.REPO, "molecule", scenario, lab.PREPARED_NOOP))
    assert lab.prepare_inputs(scenario)[0] == os.path.join(lab.REPO, "molecule", scenario, "prepare.yml")


def test_a_restored_vm_runs_the_machine_its_state_was_saved_from():
    p = {"kernel": "/k", "initrd": "/i"}
    cold = lab.qemu_command("a", p, "/o1", 2201, "/c1", "/p1", "/q1")
    restored = lab.qemu_command("b", p, "/o2", 2202, "/c2", "/p2", "/q2", incoming="/layer/state")
    assert "-incoming" not in cold and restored[-2:] == ["-incoming", "exec:cat /layer/state"]

    def machine(cmd):  # the command line less what names this VM's files, port and name
        skip = {"-name", "-drive", "-netdev", "-serial", "-qmp", "-pidfile", "-incoming"}
        return [arg for i, arg in enumerate(cmd) if arg not in skip and cmd[i - 1] not in skip]
    assert machine(cold) == machine(restored)
    assert "%d" % lab.VM_MEMORY in cold


def test_scenarios_are_chosen_by_the_system_of_their_platforms():
    everything = ["audit", "subids"]
    assert lab.select_scenarios(everything, []) == everything
    assert lab.select_scenarios(everything, ["noble"]) == everything
    assert lab.select_scenarios(everything, ["bookworm"]) == []


def _load_zipcache(monkeypatch):
    """The guest's zip import cache, loaded without keeping its patch of this zipimport."""
    import zipimport
    monkeypatch.setattr(zipimport, "_compile_source", zipimport._compile_source)
    spec = importlib.util.spec_from_file_location("zipcache", lab.ZIPCACHE_LOCAL)
    zc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zc)
    monkeypatch.setattr(zipimport, "_compile_source", zc._compile)
    monkeypatch.setattr(zc, "_WRITE", True)  # the CI environment sets PYTHONDONTWRITEBYTECODE
    return zc


def test_the_zip_import_cache_returns_the_code_of_the_source_and_keeps_it(monkeypatch, tmp_path):
    zc = _load_zipcache(monkeypatch)
    cache = tmp_path / "pyc"
    monkeypatch.setattr(zc, "_cache_dir", lambda: zc.private_dir(str(cache)))
    source = b"X = 6 * 7\ndef f():\n    return X\n"
    first = zc._cached_compile("/tmp/a/m.py", source)
    assert len(os.listdir(cache)) == 1 and oct(os.stat(cache).st_mode & 0o777) == "0o700"
    again = zc._cached_compile("/tmp/b/m.py", source)
    namespace = {}
    exec(again, namespace)  # pylint: disable=exec-used
    assert namespace["f"]() == 42 and again.co_code == first.co_code
    other = zc._cached_compile("/tmp/a/m.py", b"X = 1\n")
    assert other.co_consts != first.co_consts and len(os.listdir(cache)) == 2


def test_the_zip_import_cache_refuses_a_directory_others_can_write(monkeypatch, tmp_path):
    zc = _load_zipcache(monkeypatch)
    cache = tmp_path / "pyc"
    cache.mkdir(mode=0o777)
    os.chmod(cache, 0o777)
    assert zc.private_dir(str(cache)) is None
    link = tmp_path / "link"
    os.symlink(str(tmp_path), str(link))
    assert zc.private_dir(str(link)) is None
    monkeypatch.setattr(zc, "_cache_dir", lambda: zc.private_dir(str(cache)))
    code = zc._cached_compile("/tmp/a/m.py", b"Y = 2\n")
    assert code.co_filename == "/tmp/a/m.py" and os.listdir(cache) == []


def test_the_zip_import_cache_checks_its_directory_once_per_user(monkeypatch):
    zc = _load_zipcache(monkeypatch)
    seen = []
    monkeypatch.setattr(zc, "private_dir", lambda path: seen.append(path) or "/nowhere")
    assert zc._cache_dir() == zc._cache_dir() == "/nowhere"
    assert seen == ["/var/tmp/nsguard-lab-pyc-%d" % os.geteuid()]


def _load_apt_lists():
    spec = importlib.util.spec_from_file_location("apt_lists", lab.APT_LISTS_LOCAL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_PACKAGES = """Package: seed
Version: 1
Pre-Depends: pre (>= 2)
Depends: either | or:any, needs-virtual,
 wrapped (<< 3)
Recommends: recommended
Description: the seed
 .
 with a description of two paragraphs

Package: pre
Version: 2

Package: either
Version: 1

Package: or
Version: 1

Package: provider
Provides: needs-virtual (= 1), other-virtual
Version: 1

Package: wrapped
Version: 1

Package: recommended
Depends: deep

Package: deep
Version: 1

Package: unrelated
Depends: pre
"""


def test_the_apt_lists_keep_what_a_seed_needs_in_any_alternative_and_drop_the_rest():
    al = _load_apt_lists()
    assert al.names("a (>= 1) | b:any, c,\n d [amd64]") == ["a", "b", "c", "d"]
    index = al.build_index([_PACKAGES])
    assert index["providers"] == {"needs-virtual": ["provider"], "other-virtual": ["provider"]}
    keep = al.closure(index, ["seed", "not-in-the-lists"])
    assert keep - {"not-in-the-lists"} == {
        "seed", "pre", "either", "or", "provider", "wrapped", "recommended", "deep", "needs-virtual"}
    out = al.trimmed(_PACKAGES, keep)
    assert "Package: unrelated" not in out and out.count("Package: ") == 8
    # kept stanzas are byte for byte what apt wrote, the description's " ." line with them
    assert out.startswith(_PACKAGES.split("\n\nPackage: pre", maxsplit=1)[0] + "\n\nPackage: pre\n")
    assert al.trimmed(_PACKAGES, set()) == ""


def test_the_apt_lists_are_cut_in_place_and_translations_dropped(tmp_path):
    al = _load_apt_lists()
    lists, archives = tmp_path / "lists", tmp_path / "archives"
    lists.mkdir()
    archives.mkdir()
    (lists / "mirror_dists_x_main_binary-amd64_Packages").write_text(_PACKAGES)
    (lists / "mirror_dists_x_main_i18n_Translation-en").write_text("Package: seed\n")
    (lists / "mirror_dists_x_InRelease").write_text("signed")
    (archives / "recommended_1_amd64.deb").write_bytes(b"")
    status = tmp_path / "status"
    status.write_text("Package: pre\nStatus: install ok installed\n\n"
                      "Package: unrelated\nStatus: deinstall ok config-files\n")
    assert al.installed(status.read_text()) == {"pre"}
    al.main(str(lists), str(status), str(archives), ["wrapped"])
    assert sorted(os.listdir(lists)) == ["mirror_dists_x_InRelease", "mirror_dists_x_main_binary-amd64_Packages"]
    text = (lists / "mirror_dists_x_main_binary-amd64_Packages").read_text()
    assert [line for line in text.splitlines() if line.startswith("Package:")] == [
        "Package: pre", "Package: wrapped", "Package: recommended", "Package: deep"]


def test_the_ready_layer_cuts_the_lists_after_its_fetch_and_the_docker_ce_layer_keeps_them():
    ready = lab.layer_script("ready", "trixie").splitlines()
    cut = [i for i, line in enumerate(ready) if lab.APT_LISTS_GUEST in line]
    assert len(cut) == 1 and ready[cut[0]].endswith(" ".join(lab.SYSTEMS["trixie"]["pool"]))
    assert max(i for i, line in enumerate(ready) if "--download-only" in line) < cut[0]
    assert ready.index(lab.APT_CACHE_WARM) > cut[0]
    for name in lab.LAYER_SCRIPTS:
        assert "apt-get -q update\n" not in lab.layer_script(name) + "\n" or name == "ready", name


def test_guest_reference_runs_the_workload_and_never_fails_a_run(monkeypatch):
    seen = []

    def fake_on_vm(name, command, timeout=120):
        seen.append(command)
        if name == "down":
            raise lab.LabError("no running instance down")
        return ["some noise", "2.50"] if name == "a" else ["not a number"]
    monkeypatch.setattr(lab, "on_vm", fake_on_vm)
    assert lab.guest_reference(["a", "b", "down"]) == {"a": 2.5, "b": None, "down": None}
    assert seen[0].startswith("python3 -c ") and "compile(src" in seen[0]
    # The workload itself runs and prints seconds (here, on the controller's Python).
    out = subprocess.run([sys.executable, "-c", lab.GUEST_REFERENCE], capture_output=True, text=True, check=True)
    assert float(out.stdout) > 0


def test_the_ready_layer_fetches_every_archive_package_the_roles_default_to():
    # The scenarios never update apt's lists (molecule.yml): a package a role installs
    # that the layer did not fetch would be downloaded at a version the archive may
    # have dropped. This keeps LAB_ARCHIVE_PACKAGES from drifting from the roles.
    import yaml
    wanted = set()
    for role, key in (("engine", "engine_prerequisite_packages"), ("rootless", "rootless_packages")):
        with open(os.path.join(lab.REPO, "roles", role, "defaults", "main.yml")) as f:
            wanted |= set(yaml.safe_load(f)[key])
    wanted.add("uidmap")  # the subids role's subids_install_uidmap
    assert wanted <= set(lab.LAB_ARCHIVE_PACKAGES), sorted(wanted - set(lab.LAB_ARCHIVE_PACKAGES))
    assert "apt-get -qy install --download-only %s" % " ".join(lab.LAB_ARCHIVE_PACKAGES) in lab.LAYER_SCRIPTS["ready"]


def test_prioritize_raises_a_vm_sessions_priority_where_permitted():
    # A session of its own, as a daemonized QEMU is: its CPU group is not this test's.
    vm = subprocess.Popen([sys.executable, "-c", "import threading, time; "
                           "threading.Thread(target=time.sleep, args=(600,)).start(); time.sleep(600)"],
                          start_new_session=True)
    try:
        deadline = time.time() + 120
        while len(os.listdir("/proc/%d/task" % vm.pid)) < 2 and time.time() < deadline:
            time.sleep(0.05)
        raised = lab.prioritize(vm.pid)
        tids = [int(t) for t in os.listdir("/proc/%d/task" % vm.pid)]
        if os.geteuid() != 0:
            assert raised == [] or raised == ["session"], raised
            return
        assert "threads" in raised, raised
        assert [os.getpriority(os.PRIO_PROCESS, t) for t in tids] == [lab.VM_NICE] * len(tids)
        if os.path.exists("/proc/%d/autogroup" % vm.pid):
            assert "session" in raised
            with open("/proc/%d/autogroup" % vm.pid) as f:
                assert f.read().split()[-1] == str(lab.VM_NICE)
    finally:
        vm.kill()
        vm.wait()


def _listener(send):
    """A local TCP port that accepts and sends `send` (b"" sends nothing, as QEMU's user
    network does for a guest still booting); the port and a stop function."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    held = []

    def serve():
        while True:
            try:
                conn = server.accept()[0]
            except OSError:
                return
            held.append(conn)
            if send:
                conn.sendall(send)

    threading.Thread(target=serve, daemon=True).start()

    def stop():
        server.close()
        for conn in held:
            conn.close()
    return server.getsockname()[1], stop


def test_the_banner_probe_tells_a_booting_guest_from_a_listening_sshd():
    silent, stop_silent = _listener(b"")
    sshd, stop_sshd = _listener(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")
    try:
        started = time.time()
        assert not lab.ssh_banner({"address": "127.0.0.1", "port": silent}, timeout=1)
        assert time.time() - started < 60  # bounded by the probe's timeout: the listener never speaks
        assert lab.ssh_banner({"address": "127.0.0.1", "port": sshd}, timeout=1)
    finally:
        stop_silent()
        stop_sshd()


def test_wait_reboot_returns_once_the_boot_id_changed_and_fails_with_the_console(monkeypatch, tmp_path, capsys):
    (tmp_path / "instance.json").write_text('{"instance": "vm1", "address": "127.0.0.1", "port": 1}')
    (tmp_path / "console.log").write_text("[  OK  ] Reached target reboot.target\n")
    monkeypatch.setattr(lab, "instance_dir", lambda name: str(tmp_path))
    monkeypatch.setattr(lab, "qemu_pid", lambda name: 4242)
    monkeypatch.setattr(lab.time, "sleep", lambda s: None)
    banners = iter([False, False, True, True, True])
    monkeypatch.setattr(lab, "ssh_banner", lambda inst: next(banners))
    answers = iter(["old-id\n", "new-id\n"])  # the old sshd answers once more before it stops
    seen = []

    def fake_run(args, **kwargs):
        seen.append(args[-1])
        return subprocess.CompletedProcess(args, 0, next(answers), "")
    monkeypatch.setattr(lab.subprocess, "run", fake_run)
    monkeypatch.setattr(lab, "ssh_base", lambda inst: ["ssh"])
    assert lab.wait_reboot("vm1", "old-id", timeout=60) >= 0
    assert seen == ["cat /proc/sys/kernel/random/boot_id"] * 2

    monkeypatch.setattr(lab, "ssh_banner", lambda inst: False)
    with pytest.raises(lab.LabError, match="vm1 did not come back from its reboot: no SSH"):
        lab.wait_reboot("vm1", "old-id", timeout=0.01)
    assert "Reached target reboot.target" in capsys.readouterr().err


def test_one_scenario_runs_on_the_oldest_ansible_core_the_collection_claims():
    import yaml
    with open(os.path.join(lab.REPO, "tests", "requirements-oldest.txt")) as f:
        pinned = [line.split("==")[1].strip() for line in f if line.startswith("ansible-core==")]
    oldest = ".".join(pinned[0].split(".")[:2])
    with open(os.path.join(lab.REPO, "meta", "runtime.yml")) as f:
        assert yaml.safe_load(f)["requires_ansible"] == ">=%s.0" % oldest
    on_oldest = []
    for scenario in sorted(os.listdir(os.path.join(lab.REPO, "molecule"))):
        path = os.path.join(lab.REPO, "molecule", scenario, "molecule.yml")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            provisioner = yaml.safe_load(f).get("provisioner", {})
        wanted = provisioner.get("inventory", {}).get("group_vars", {}).get("all", {}).get("nsguard_lab_ansible_core")
        search = provisioner.get("env", {}).get("PATH", "")
        if wanted is None:
            assert "ansible-oldest" not in search, scenario
            continue
        on_oldest.append(scenario)
        assert wanted == oldest
        assert search.startswith("${MOLECULE_PROJECT_DIRECTORY}/.cache/ansible-oldest/bin:"), search
        with open(os.path.join(lab.REPO, "molecule", scenario, "converge.yml")) as f:
            assert "== nsguard_lab_ansible_core" in f.read()
    assert on_oldest == ["userns_remap"]
    with open(os.path.join(lab.REPO, "tests", "setup.sh")) as f:
        assert ('ln -sfn "$PWD/.venv-oldest/bin/ansible-playbook" .cache/ansible-oldest/bin/ansible-playbook'
                in f.read())


def test_an_image_without_its_whole_pool_is_refused(tmp_path):
    for name in ("docker.io_20.10.24+dfsg1-1_amd64.deb", "tini_0.19.0-1_amd64.deb", "partial.txt"):
        (tmp_path / name).write_text("")
    assert lab.missing_pool_packages(str(tmp_path), ["docker.io", "runc", "tini"]) == ["runc"]


def _standin():
    sys.path.insert(0, os.path.dirname(__file__))
    import standin_repo  # pylint: disable=import-outside-toplevel
    return standin_repo


def test_the_standin_labels_versions_as_docker_does_for_each_system():
    standin = _standin()
    assert standin.distro_tag("noble") == "ubuntu.24.04~noble"
    assert standin.distro_tag("bookworm") == "debian.12~bookworm"
    assert standin.older_engine("noble", "29.1.3") == "29.0.4"  # as the engine scenario pins it
    assert standin.older_engine("bookworm", "20.10.24") == "20.10.0"
    # Debian's dockerd and units sit where Docker's packages do not put them
    assert standin.candidate_paths("/usr/bin/dockerd") == ["/usr/bin/dockerd", "/usr/sbin/dockerd"]
    assert standin.candidate_paths("/usr/lib/systemd/system/docker.service")[1] == "/lib/systemd/system/docker.service"


def test_the_standin_takes_what_the_pool_has_and_needs_its_sources(tmp_path):
    standin = _standin()
    for name in ("docker.io_20.10.24", "containerd_1.6.20", "runc_1.1.5", "rootlesskit_1.1.0",
                 "busybox-static_1.35.0", "tini_0.19.0"):
        (tmp_path / (name + "_amd64.deb")).write_bytes(b"")
    found = standin.pool_debs(str(tmp_path))
    assert sorted(found) == ["busybox-static", "containerd", "docker.io", "rootlesskit", "runc", "tini"]
    (tmp_path / "docker-buildx_0.13.1_amd64.deb").write_bytes(b"")
    assert "docker-buildx" in standin.pool_debs(str(tmp_path))
    (tmp_path / "runc_1.1.5_amd64.deb").unlink()
    with pytest.raises(standin.StandinError, match="runc_"):
        standin.pool_debs(str(tmp_path))


def test_what_the_scenarios_start_from_is_built_first_once_each(monkeypatch):
    configs = {"a": {"platforms": [{"name": "noble-a", "layer": "docker-ce"}]},
               "b": {"platforms": [{"name": "bookworm-b", "layer": "ready"}, {"name": "noble-b", "layer": "docker-ce"}]},
               "c": {"platforms": [{"name": "bookworm-c"}]}}
    built = []
    monkeypatch.setattr(lab, "scenario_config", lambda scenario: configs[scenario])
    monkeypatch.setattr(lab, "build", lambda system: built.append(("image", system)))
    monkeypatch.setattr(lab, "ensure_layer", lambda layer, system: built.append((layer, system)))
    lab.build_for(["a", "b", "c"])
    assert built == [("image", "bookworm"), ("image", "bookworm"), ("ready", "bookworm"),
                     ("image", "noble"), ("docker-ce", "noble")]
