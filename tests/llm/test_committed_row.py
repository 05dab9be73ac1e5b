"""Re-run one row of the committed LLM bench (docs/llm-bench/bench.json) and compare it with the record.

One method (GradDiff), one budget (the first), one seed (the first); the two prepared entries are built
again from their recorded configs when the cache lacks them (about 4 minutes on 2 cores). Deterministic
on the machine and thread count that made the record (one thread): every metric must match bit for bit.
On another CPU or torch build the summation order may differ; docs/llm.md states the tolerance then.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RECORD = Path(__file__).resolve().parents[2] / "docs" / "llm-bench" / "bench.json"


@pytest.mark.slow
def test_committed_row_reproduces() -> None:
    from llm.fairreport import rerun_row

    record = json.loads(RECORD.read_text(encoding="utf-8"))
    if "levels" not in record:
        pytest.fail("docs/llm-bench/bench.json is not a protocol record: regenerate it (python -m llm.regenerate_docs)")
    committed, new = rerun_row(record, method="grad_diff")
    assert new["steps"] == committed["steps"] and new["passes"] == committed["passes"]
    for key in ("forget_quality", "ks_statistic", "model_utility", "forget_truth_ratio", "privleak"):
        assert new[key] == committed[key], key
