"""Outputs are safe: claimed before any work, one run per --out, never replaced without --overwrite, written
whole or not at all; an interrupted run stops with one line (and a checkpoint), and resumes bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm.cli import main
from ofmu_cli.main import main as ofmu_main
from ofmu_theory.io import OutputError, OutputExists, output_dir, output_path
from tests.reliability.conftest import one_error_line, tree, unlearn_args

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_run_into_a_held_out_fails_at_once_naming_the_holder(entry: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen(  # another process holding --out, as a first run does (a light stand-in)
        [sys.executable, "-c", "import time; from ofmu_theory.io import output_dir\n"
         f"with output_dir({str(out)!r}):\n    print('held', flush=True); time.sleep(60)"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        cache = tmp_path / "cache-not-built"
        code = main([*unlearn_args(out, entry)[:-1], str(cache)])  # a fresh cache: work would be visible
        line = one_error_line(capsys.readouterr().err)
        assert code == 3 and f"--out '{out}' is in use by another run (pid {holder.pid} on " in line
        assert not cache.exists() and not out.exists()  # failed before any work, left nothing
    finally:
        holder.terminate()
        holder.wait()


@pytest.mark.slow
def test_two_runs_into_one_out_the_second_fails_at_once_naming_the_holder(entry: Path, tmp_path: Path,
                                                                          capsys) -> None:
    out = tmp_path / "out"
    first = subprocess.Popen(  # a real first run, long enough to be caught holding --out
        [sys.executable, "-m", "llm.cli", *unlearn_args(out, entry, "--set", "epochs=3")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".out.lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text().strip()) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert first.poll() is None, first.communicate()
        cache = tmp_path / "cache-not-built"
        code = main([*unlearn_args(out, entry)[:-1], str(cache)])  # a fresh cache: work would be visible
        line = one_error_line(capsys.readouterr().err)
        assert code == 3 and f"--out '{out}' is in use by another run (pid {first.pid} on " in line
        assert not cache.exists()  # failed before any work
    finally:
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr  # the first run was not disturbed and its result is whole
    record = json.loads((out / "result.json").read_text())
    assert record["nit"] == 6 and (out / "model" / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_shared_checkpoint_dir_is_locked_too(entry: Path, tmp_path: Path, capsys) -> None:
    from ofmu_theory.io import hold_lock

    shared = tmp_path / "ck"
    with hold_lock(shared, what="--checkpoint-dir"):
        code = main(unlearn_args(tmp_path / "b", entry, "--checkpoint-every", "1", "--checkpoint-dir", str(shared)))
    assert code == 3 and "--checkpoint-dir" in one_error_line(capsys.readouterr().err)
    assert tree(tmp_path) == []


def test_the_lock_is_per_location_and_released(tmp_path: Path) -> None:
    with output_dir(tmp_path / "a") as staging:
        (staging / "x").write_text("1")
        with pytest.raises(OutputError, match=f"pid {os.getpid()} on"):
            with output_dir(tmp_path / "a"):
                pass
        with output_dir(tmp_path / "b") as other:  # another location is independent
            (other / "y").write_text("2")
    assert tree(tmp_path) == ["a", "a/x", "b", "b/y"]  # no lock files or staging folders left


@pytest.mark.parametrize("command", ["unlearn", "eval", "bench"])
def test_an_unwritable_out_fails_before_any_work(entry: Path, tmp_path: Path, capsys, command: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "out"  # under a file: not writable, for root too
    cache = tmp_path / "cache-not-built"
    argv = {"unlearn": unlearn_args(out, cache),
            "eval": ["llm", "eval", "--model-dir", str(entry / "target"), "--out", str(out), "--cache-dir", str(cache)],
            "bench": ["llm", "bench", "--out", str(out), "--cache-dir", str(cache)]}[command]
    code = main(argv + (["--quiet"] if command != "unlearn" else []))
    line = one_error_line(capsys.readouterr().err)
    assert code == 3 and f"--out '{out}' is not writable ({blocker} is a file, not a folder)" in line
    assert tree(tmp_path) == ["a-file"]


def test_solve_and_verify_check_their_outputs_first(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert ofmu_main(["solve", "--steps", "2", "--quiet", "--json", str(blocker / "r.json")]) == 3
    assert "--json" in one_error_line(capsys.readouterr().err)
    assert ofmu_main(["verify", "--claims", "A1", "--quiet", "--no-search", "--out", str(blocker / "rep")]) == 3
    assert "is not writable" in one_error_line(capsys.readouterr().err)
    assert tree(tmp_path) == ["a-file"]
    result = tmp_path / "r.json"
    assert ofmu_main(["solve", "--steps", "2", "--quiet", "--json", str(result)]) == 0
    first = result.read_bytes()
    capsys.readouterr()
    assert ofmu_main(["solve", "--steps", "3", "--quiet", "--json", str(result)]) == 2
    assert "already holds a finished result; pass --overwrite" in one_error_line(capsys.readouterr().err)
    assert result.read_bytes() == first
    assert ofmu_main(["solve", "--steps", "3", "--quiet", "--json", str(result), "--overwrite"]) == 0
    assert json.loads(result.read_text())["nit"] == 3


def test_a_finished_out_is_kept_unless_overwrite(entry: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(unlearn_args(out, entry)) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(unlearn_args(out, entry, "--set", "beta=0.5")) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"--out '{out}' already holds a finished result; pass --overwrite" in line
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert main(unlearn_args(out, entry, "--set", "beta=0.5", "--overwrite")) == 0
    assert json.loads((out / "result.json").read_text())["config"]["beta"] == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_resume_without_a_checkpoint_says_so(entry: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(unlearn_args(out, entry, "--checkpoint-every", "1", "--resume")) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"--resume: no checkpoint in '{tmp_path / 'out.checkpoint'}'" in line and "without --resume" in line
    assert tree(tmp_path) == []


def test_resume_with_a_changed_setting_names_the_key(entry: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(unlearn_args(out, entry, "--checkpoint-every", "1", "--keep-checkpoint")) == 0
    capsys.readouterr()
    again = tmp_path / "again"
    code = main(unlearn_args(again, entry, "--set", "beta=0.3", "--checkpoint-every", "1",
                             "--checkpoint-dir", str(tmp_path / "out.checkpoint"), "--resume"))
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and "(method.beta: checkpoint 0.1, now 0.3)" in line
    assert not again.exists()


def test_folder_modes_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with output_dir(tmp_path / "deep" / "out") as staging:
            (staging / "sub").mkdir()
        with output_path(tmp_path / "r.json", kind="file") as tmp:
            tmp.write_text("{}")
    finally:
        os.umask(old)
    assert (tmp_path / "deep" / "out").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o640


def test_a_failure_leaves_nothing_half_written(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with output_dir(tmp_path / "new" / "deeper" / "out") as staging:
            (staging / "half.json").write_text("{")
            raise RuntimeError("boom")
    with pytest.raises(OutputExists):
        (tmp_path / "f").write_text("x")
        with output_dir(tmp_path / "f"):
            pass
    assert tree(tmp_path) == ["f"]  # no staging folder, no lock, no parent folder created for the failed run


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, calls: int, signum: int) -> None:
    """Deliver ``signum`` to this process during the ``calls``-th OFMU step (as a user or a scheduler would).

    With :func:`interactive_sigint`, SIGINT reaches Python's own handler."""
    from ofmu_theory.solvers.ofmu import OFMU

    real, seen = OFMU.step, []

    def step(self, ev, state):
        seen.append(state.k)
        if len(seen) == calls:
            os.kill(os.getpid(), signum)
            time.sleep(1)  # the handler runs here
        return real(self, ev, state)

    monkeypatch.setattr(OFMU, "step", step)


@pytest.fixture()
def interactive_sigint():
    """SIGINT handled by Python (KeyboardInterrupt) for the test, as in an interactive shell: a process started
    in the background by a non-interactive shell (``cmd &``, as a CI runner may start pytest) inherits SIGINT
    ignored, Python then leaves it ignored, and the signal would change nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def straight(entry: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted 6-step run the interrupted ones are compared with."""
    out = tmp_path_factory.mktemp("straight") / "out"
    assert main(unlearn_args(out, entry, "--set", "epochs=3")) == 0
    return out


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_stops_cleanly_with_a_checkpoint_and_resumes_bit_identical(
        straight: Path, entry: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, signum: int,
        code: int, interactive_sigint: None) -> None:
    out = tmp_path / "out"
    args = unlearn_args(out, entry, "--set", "epochs=3", "--checkpoint-every", "2")
    with monkeypatch.context() as patch:
        _interrupt_at(patch, 2, signum)  # in step 2 of 6: before the first regular checkpoint (after step 2)
        capsys.readouterr()
        assert main(args) == code
    line = one_error_line(capsys.readouterr().err)
    assert f"interrupted by {signal.Signals(signum).name}" in line
    assert not out.exists()
    latest = json.loads((tmp_path / "out.checkpoint" / "latest.json").read_text())
    assert latest["step"] == 1  # the last finished step was saved on the way out
    assert main([*args, "--resume"]) == 0
    a = (straight / "model" / "model.safetensors").read_bytes()
    b = (out / "model" / "model.safetensors").read_bytes()
    assert a == b
    record = json.loads((out / "result.json").read_text())
    assert record["nit"] == 6 and not (tmp_path / "out.checkpoint").exists()


def test_a_read_only_cache_fails_before_any_work(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from vision import cli as vision_cli

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("OFMU_CACHE", str(blocker / "cache"))
    assert vision_cli.main(["vision", "prepare", "--dataset", "digits", "--quiet"]) == 3
    assert "the model cache" in one_error_line(capsys.readouterr().err)
    assert main(["llm", "prepare", "--quiet", "--cache-dir", str(blocker / "entry")]) == 3
    assert f"the prepared entry '{blocker / 'entry'}' is not writable ({blocker} is a file, not a folder)" in \
        one_error_line(capsys.readouterr().err)
    assert tree(tmp_path) == ["a-file"]


def test_a_second_prepare_of_one_entry_waits_for_the_first(tmp_path: Path) -> None:
    import threading

    from ofmu_theory.io import hold_lock

    entry, order = tmp_path / "cache" / "entry", []

    def second() -> None:
        with hold_lock(entry, what="the prepared entry", wait=True):
            order.append("second")

    with hold_lock(entry, what="the prepared entry", wait=True):
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.3)
        order.append("first done")
    waiter.join(timeout=10)
    assert order == ["first done", "second"]
    assert not list(tmp_path.rglob("*.lock"))  # both lock files are gone


def test_what_a_killed_run_left_is_swept_by_the_next_claim(tmp_path: Path) -> None:
    (tmp_path / ".out.tmp-dead").mkdir()  # a SIGKILLed run's staging folder and lock file
    (tmp_path / ".out.tmp-dead" / "half.json").write_text("{")
    (tmp_path / ".out.lock").write_text("pid 1 on gone\n")
    (tmp_path / ".other.tmp-x").mkdir()  # another location's: not touched
    with output_dir(tmp_path / "out") as staging:
        (staging / "x").write_text("1")
    assert tree(tmp_path) == [".other.tmp-x", "out", "out/x"]


@pytest.mark.slow
def test_a_killed_run_resumes_bit_identical(straight: Path, entry: Path, tmp_path: Path) -> None:
    """SIGKILL (no handler runs): the next run resumes from the last regular checkpoint and sweeps the rest."""
    out = tmp_path / "out"
    args = unlearn_args(out, entry, "--set", "epochs=3", "--checkpoint-every", "1")
    run = subprocess.Popen([sys.executable, "-m", "llm.cli", *args], cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    latest = tmp_path / "out.checkpoint" / "latest.json"
    deadline = time.monotonic() + 300
    while run.poll() is None and time.monotonic() < deadline:
        if latest.exists() and json.loads(latest.read_text())["step"] >= 2:
            break
        time.sleep(0.02)
    assert run.poll() is None, "the run ended before it could be killed"
    run.kill()
    run.wait()
    assert not out.exists() and any(p.name.startswith(".out.tmp-") for p in tmp_path.iterdir())
    assert main([*args, "--resume"]) == 0
    assert (out / "model" / "model.safetensors").read_bytes() == (straight / "model" / "model.safetensors").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # staging folder, lock and checkpoint gone


def test_a_resumable_work_dir_is_locked_keeps_its_cache_and_refuses_a_finished_one(tmp_path: Path) -> None:
    """The protocol benches fill --out in place (cached runs, then bench.json): a failure keeps the cache."""
    from ofmu_theory.io import work_dir

    out = tmp_path / "bench"
    with pytest.raises(RuntimeError, match="boom"), work_dir(out, finished="bench.json"):
        (out / "runs").mkdir(parents=True)
        (out / "runs" / "a.json").write_text("{}")
        with pytest.raises(OutputError, match="in use by another run"), work_dir(out, finished="bench.json"):
            pass
        raise RuntimeError("boom")
    assert (out / "runs" / "a.json").exists()  # an interrupted bench continues from its cached runs
    with work_dir(out, finished="bench.json") as folder:
        (folder / "bench.json").write_text("{}")
    with pytest.raises(OutputExists, match="--overwrite"), work_dir(out, finished="bench.json"):
        pass
    with work_dir(out, finished="bench.json", overwrite=True):
        pass
    assert sorted(p.name for p in out.iterdir()) == ["bench.json", "runs"]
    with pytest.raises(OutputError, match="not writable"), work_dir(out / "bench.json" / "x", finished="bench.json"):
        pass
