"""llm.shard_memory's report: the table and ratios from a record, rendered without measuring again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm import shard_memory


def _rows() -> list[dict]:
    rows = []
    for mode, state, run in (("replicated", 100.0, 400.0), ("fsdp", 50.0, 440.0)):
        for rank in (0, 1):
            rows.append({"mode": mode, "method": "grad_diff", "rank": rank, "world_size": 2, "steps": 2,
                         "parameters": 1e6, "setup_peak_mib": 10.0 + rank, "run_peak_mib": run - rank,
                         "state_mib": state, "memory_method": "rss sampling"})
    return rows


def test_ratios_take_the_largest_rank_of_each_mode() -> None:
    text = shard_memory.ratios(_rows())
    assert "grad_diff: solver state 0.50×, run peak 1.10×, setup peak 1.00×" in text


def test_from_renders_a_record_and_rejects_bad_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"command": "python -m llm.shard_memory", "wall_s": 1.0, "rows": _rows()}))
    assert shard_memory.main(["--from", str(record)]) == 0
    out = capsys.readouterr().out
    assert "| replicated | grad_diff | 2 | 400.0 | 11.0 | 100.0 |" in out
    assert "| fsdp | grad_diff | 2 | 440.0 | 11.0 | 50.0 |" in out
    with pytest.raises(SystemExit):
        shard_memory.main(["--world", "0"])
    assert "--world must be >= 1" in capsys.readouterr().err
