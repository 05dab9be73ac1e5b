"""run_command: the one entry path of every command (quiet switch, error status)."""

from __future__ import annotations

import argparse
import os

from ofmu_theory.command import run_command
from ofmu_theory.runinfo import PROGRESS_ENV


def _parser(seen: dict[str, str | None], error: Exception | None = None) -> argparse.ArgumentParser:
    def command(args: argparse.Namespace) -> int:
        seen["progress"] = os.environ.get(PROGRESS_ENV)
        if error is not None:
            raise error
        return 0

    parser = argparse.ArgumentParser(prog="ofmu")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(func=command)
    return parser


def test_quiet_turns_progress_bars_off_for_the_command_only(monkeypatch) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "1")
    seen: dict[str, str | None] = {}
    assert run_command(_parser(seen), ["--quiet"]) == 0
    assert seen["progress"] == "0" and os.environ[PROGRESS_ENV] == "1"
    assert run_command(_parser(seen), []) == 0
    assert seen["progress"] == "1"


def test_bad_input_prints_an_error_and_exits_2(capsys) -> None:
    assert run_command(_parser({}, ValueError("rho must be > 0, got rho=0")), []) == 2
    assert "ofmu: error: rho must be > 0, got rho=0" in capsys.readouterr().err


def test_each_failure_kind_has_its_exit_status_and_one_line(capsys) -> None:
    from ofmu_theory.io import OutputError

    cases = [(FileNotFoundError("model folder 'x' does not exist"), 2, "model folder 'x' does not exist"),
             (PermissionError(13, "Permission denied", "/data/out"), 3, "/data/out: Permission denied"),
             (OutputError("--out 'x' is in use by another run (pid 1 on h)"), 3, "--out 'x' is in use"),
             (KeyboardInterrupt(), 130, "ofmu: interrupted by SIGINT"),
             (type("OutOfMemoryError", (RuntimeError,), {})("CUDA out of memory.\nTried to allocate"), 3,
              "ofmu: error: CUDA out of memory.")]
    for error, code, message in cases:
        assert run_command(_parser({}, error), []) == code
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_sigterm_stops_the_command_with_status_143_and_restores_the_handler(capsys) -> None:
    import signal

    seen: list[int] = []
    outer = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        parser = argparse.ArgumentParser(prog="ofmu")
        parser.set_defaults(func=lambda args: signal.raise_signal(signal.SIGTERM) or 0)
        assert run_command(parser, []) == 143
        assert "ofmu: interrupted by SIGTERM" in capsys.readouterr().err
        assert seen == []  # the command's handler took it, not the caller's
        signal.raise_signal(signal.SIGTERM)
        assert seen == [signal.SIGTERM]  # and the caller's handler is back
    finally:
        signal.signal(signal.SIGTERM, outer)


def test_a_command_run_off_the_main_thread_leaves_signals_alone() -> None:
    import threading

    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(run_command(_parser({}), [])))
    worker.start()
    worker.join(timeout=30)
    assert codes == [0]


def test_the_sigterm_interrupt_crosses_process_boundaries() -> None:
    """Worker pools pickle a worker's exception back to the parent: Interrupted must survive it."""
    import pickle

    from ofmu_theory.command import Interrupted

    err = pickle.loads(pickle.dumps(Interrupted(15)))
    assert isinstance(err, Interrupted) and err.signum == 15


def test_verbose_logs_the_traceback_of_a_failure(caplog, capsys) -> None:
    import logging

    parser = _parser({}, ValueError("bad rho"))
    parser.add_argument("--verbose", action="store_true")
    with caplog.at_level(logging.DEBUG, logger="ofmu"):
        assert run_command(parser, ["--verbose"]) == 2
    records = [r for r in caplog.records if r.name == "ofmu" and r.getMessage() == "traceback"]
    assert len(records) == 1 and records[0].exc_info is not None and records[0].exc_info[0] is ValueError
    assert "ofmu: error: bad rho" in capsys.readouterr().err
