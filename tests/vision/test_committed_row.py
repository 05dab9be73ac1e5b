"""Re-run one row of the committed vision bench (docs/vision-bench/bench.json) and compare it with the record.

One method (GradDiff), one budget (the first), one seed (the first). Deterministic on the machine and
thread count that made the record (the bench runs on one thread): every metric must match bit for bit.
On another CPU or torch build the summation order may differ; docs/vision.md states the tolerance then.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vision.fairreport import rerun_row

RECORD = Path(__file__).resolve().parents[2] / "docs" / "vision-bench" / "bench.json"


@pytest.mark.slow
def test_committed_row_reproduces() -> None:
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    if "levels" not in record:
        pytest.fail("docs/vision-bench/bench.json is not a protocol record: regenerate it (python -m vision.regenerate_docs)")
    committed, new = rerun_row(record, method="graddiff")
    assert new["steps"] == committed["steps"] and new["passes"] == committed["passes"]
    for key in ("ua", "ra", "ta", "mia_efficacy", "val_acc", "avg_gap", "val_gap"):
        assert new[key] == committed[key], key
