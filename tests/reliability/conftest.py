"""Shared pieces of the reliability suite: a micro prepared LLM entry and helpers that check what a failed
command printed and left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm.cli import main as llm_main
from tests.llm.test_cli import MICRO


@pytest.fixture(scope="package")
def entry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared micro entry (embedded GPT-2, 10 authors; a few seconds)."""
    folder = tmp_path_factory.mktemp("reliability-cache") / "entry"
    assert llm_main(["llm", "prepare", *MICRO, "--cache-dir", str(folder)]) == 0
    return folder


def unlearn_args(out: Path, entry: Path, *extra: str) -> list[str]:
    """A two-step OFMU run on the micro entry (one inner step, one forget row per step)."""
    return ["llm", "unlearn", "--method", "ofmu", "--out", str(out), "--set", "inner_steps=1", "--set", "epochs=2",
            "--set", "batch_size=1", *extra, *MICRO, "--cache-dir", str(entry)]


def one_error_line(err: str) -> str:
    """The command's stderr must be exactly one line ``ofmu: error: ...``; returns it."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    assert lines[0].startswith("ofmu: "), lines[0]
    assert "Traceback" not in err
    return lines[0]


def tree(folder: Path) -> list[str]:
    """Every path under ``folder`` (relative, sorted): what a command left behind."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
