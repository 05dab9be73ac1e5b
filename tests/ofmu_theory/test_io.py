"""Output locations: modes that follow the umask, staging next to the target, the lock, finished results."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ofmu_theory.io import OutputExists, hold_lock, output_path, work_dir, write_text


@pytest.fixture(params=[0o027, 0o022], ids=["umask027", "umask022"])
def umask(request) -> Iterator[int]:
    """A known umask, restored afterwards: 027 (not the common 022, so a mode that ignores it shows) and
    022, which keeps the others' read bit, so a base mode off by one there (0o665, 0o667) shows too."""
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def test_files_and_folders_get_the_mode_the_umask_gives_and_the_umask_is_kept(tmp_path, umask) -> None:
    """The modes a plain ``open`` and ``mkdir`` give under the umask (0o666 and 0o777 less its bits), for the
    staged folder and file while the command writes (others see them in the folder) and for the result."""
    (tmp_path / "plain.txt").write_text("x")
    (tmp_path / "plain").mkdir()
    file_mode, dir_mode = {0o027: (0o640, 0o750), 0o022: (0o644, 0o755)}[umask]
    write_text(tmp_path / "a.txt", "x")
    with output_path(tmp_path / "out", kind="dir") as staging:
        assert _mode(staging) == dir_mode
        (staging / "r.json").write_text("{}")
    with output_path(tmp_path / "one.json", kind="file") as staging:
        assert _mode(staging) == file_mode
        staging.write_text("{}")
    assert (_mode(tmp_path / "plain.txt"), _mode(tmp_path / "plain")) == (file_mode, dir_mode)
    assert _mode(tmp_path / "a.txt") == file_mode
    assert _mode(tmp_path / "out") == dir_mode
    assert _mode(tmp_path / "one.json") == file_mode
    assert os.umask(umask) == umask  # reading the umask left it as it was


def test_the_lock_file_gets_the_usual_mode_while_held(tmp_path, umask) -> None:
    with hold_lock(tmp_path / "ckpt", what="--checkpoint"):
        assert _mode(tmp_path / ".ckpt.lock") == {0o027: 0o640, 0o022: 0o644}[umask]
    assert not (tmp_path / ".ckpt.lock").exists()


def test_a_staged_file_keeps_the_suffix_writers_rely_on(tmp_path) -> None:
    """np.save appends .npy to a name without it: the staging file must end in the target's suffix."""
    arr = np.arange(4.0)
    with output_path(tmp_path / "theta.npy", kind="file") as staging:
        np.save(staging, arr)
    np.testing.assert_array_equal(np.load(tmp_path / "theta.npy"), arr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theta.npy"]


def test_stale_staging_of_a_killed_run_is_removed_and_other_files_are_kept(tmp_path) -> None:
    (tmp_path / ".out.tmp-killed").mkdir()
    (tmp_path / ".out.tmp-killed" / "partial.json").write_text("{")
    (tmp_path / ".out.old-killed").write_text("old")
    (tmp_path / ".out.notes-1").write_text("mine")
    with output_path(tmp_path / "out", kind="dir") as staging:
        (staging / "r.json").write_text("{}")
    assert (tmp_path / "out" / "r.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.notes-1", "out"]


def test_a_waiting_run_logs_what_it_waits_for_and_who_holds_it(tmp_path, caplog) -> None:
    target = tmp_path / "cache-entry"
    got = threading.Event()

    def second() -> None:
        with hold_lock(target, what="--cache", wait=True):
            got.set()

    with caplog.at_level(logging.INFO, logger="ofmu_theory.io"):
        with hold_lock(target, what="--cache"):
            waiter = threading.Thread(target=second, daemon=True)
            waiter.start()
            for _ in range(400):  # until the waiter has logged (it then blocks on the lock)
                if any("waiting for" in r.getMessage() for r in caplog.records):
                    break
                threading.Event().wait(0.025)
            assert not got.is_set()
        waiter.join(timeout=20)
    assert got.is_set()
    messages = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert messages == [f"waiting for {target}: pid {os.getpid()} on {socket.gethostname()} holds it"]


def test_work_dir_refuses_a_finished_folder_unless_overwrite(tmp_path) -> None:
    folder = tmp_path / "bench"
    with work_dir(folder, finished="report.md") as out:
        (out / "report.md").write_text("done")
    with pytest.raises(OutputExists, match=r"^--out '.*bench' already holds a finished result \(report\.md\); "
                                           r"pass --overwrite"):
        with work_dir(folder, finished="report.md"):
            pass
    with work_dir(folder, finished="report.md", overwrite=True) as out:
        assert (out / "report.md").exists()  # in place: the cached runs stay


def test_a_staging_file_that_vanishes_during_the_cleanup_does_not_fail_the_run(tmp_path, monkeypatch) -> None:
    """A second run into the same location makes its staging file before it tries the lock, and removes it
    when it finds the lock held: the holder may list that file and then find it gone."""
    listed = Path.glob

    def glob_with_a_vanished_file(self: Path, pattern: str):
        found = list(listed(self, pattern))
        return [*found, self / ".out.tmp-other"] if pattern.startswith(".out.") else found

    monkeypatch.setattr(Path, "glob", glob_with_a_vanished_file)
    with output_path(tmp_path / "out", kind="dir") as staging:
        (staging / "r.json").write_text("{}")
    assert (tmp_path / "out" / "r.json").exists()
