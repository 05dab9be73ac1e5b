"""``verify`` from Python and ``ofmu verify`` from the command line: report files, determinism, errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from proofs_checks import verify, write_report
from proofs_checks.cli import main, register
from proofs_checks.evidence import Verdict
from proofs_checks.runner import resolve_claims
from proofs_checks.search import find_counterexample
from proofs_checks.claim import CLAIMS
from proofs_checks.instances import InstanceSpec

VOLATILE = ("timing",)
"""The results.json keys that may differ between two runs with the same seed (wall times)."""


def stable(results_json: Path) -> dict:
    """results.json without its timing block and the command line that launched it."""
    data = json.loads(results_json.read_text())
    for key in VOLATILE:
        data.pop(key)
    data["metadata"].pop("argv")
    return data


def test_resolve_claims() -> None:
    assert resolve_claims("c1, C3") == ["C1", "C3"]
    assert resolve_claims(None)[:2] == ["C1", "C2"] and resolve_claims(None)[-2:] == ["A1", "B1"]
    with pytest.raises(ValueError, match="valid claim names"):
        resolve_claims("C1,C42")
    with pytest.raises(ValueError, match="no claims selected"):
        resolve_claims(",")


def test_same_seed_same_report(tiny, tmp_path: Path) -> None:
    first = verify("C5,A1", profile=tiny, seed=0)
    second = verify("C5,A1", profile=tiny, seed=0)
    write_report(first, tmp_path / "a")
    write_report(second, tmp_path / "b")
    assert (tmp_path / "a" / "REPORT.md").read_bytes() == (tmp_path / "b" / "REPORT.md").read_bytes()
    assert stable(tmp_path / "a" / "results.json") == stable(tmp_path / "b" / "results.json")
    assert {p.name for p in (tmp_path / "a").iterdir()} == {"REPORT.md", "results.json", "C5.png", "A1.png"}
    for png in ("C5.png", "A1.png"):  # figures are reproducible too (PNG metadata stripped by save_figure)
        assert (tmp_path / "a" / png).read_bytes() == (tmp_path / "b" / png).read_bytes()
    report = (tmp_path / "a" / "REPORT.md").read_text()
    assert "wall" not in report.lower().replace("wall times only there", "")  # no timings in REPORT.md
    assert not any(c.name == "error" for run in first.runs for r in run.results for c in r.checks)
    data = json.loads((tmp_path / "a" / "results.json").read_text())
    assert data["summary"] == {"C5": first.run("C5").verdict.value, "A1": "violated"}
    assert data["metadata"]["seed"] == 0 and "versions" in data["metadata"]
    assert data["timing"]["total_s"] > 0


def test_violated_claims_carry_a_counterexample(tiny) -> None:
    results = verify("A1", profile=tiny, seed=0)
    violated = [r for r in results.run("A1").results if r.verdict is Verdict.VIOLATED]
    assert violated and all(r.counterexample is not None for r in violated)
    searched = [r for r in violated if r.counterexample["runs"] > 0]
    assert len(searched) == 1  # the profile searches one family per claim
    assert searched[0].counterexample["found_by"].startswith("hypothesis")


def test_hypothesis_shrinks_a_counterexample(tiny) -> None:
    claim = CLAIMS.get("A1")()
    spec = InstanceSpec.of("least_squares_projection", seed=5, m=4, d=10, cond=3.0)
    found = find_counterexample(claim, spec, tiny)
    assert 1 <= found["runs"] <= tiny.search_calls
    assert found["params"]["m"] <= 4 and found["params"]["d"] <= 8  # drawn from the small search space
    assert claim.violates(spec.with_params(**found["params"]), tiny)
    again = find_counterexample(claim, spec, tiny)
    assert again["params"] == found["params"]  # derandomised


def test_search_that_finds_nothing_reports_the_instance(tiny) -> None:
    claim = CLAIMS.get("C1")()  # holds everywhere
    spec = InstanceSpec.of("least_squares_projection", seed=0, m=4, d=10, cond=3.0)
    found = find_counterexample(claim, spec, tiny)
    assert found["params"] == spec.kwargs() and "found no other" in found["found_by"]


def test_cli_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    assert main(["verify", "--claims", "A1", "--out", str(out), "--quiet", "--no-search"]) == 0
    assert (out / "REPORT.md").exists() and (out / "results.json").exists() and (out / "A1.png").exists()
    assert "A1  violated" in capsys.readouterr().out
    first = (out / "REPORT.md").read_bytes()
    assert main(["verify", "--claims", "A1", "--out", str(out), "--quiet", "--no-search"]) == 2  # finished
    assert "already holds a finished result; pass --overwrite" in capsys.readouterr().err
    assert main(["verify", "--claims", "A1", "--out", str(out), "--quiet", "--no-search", "--overwrite"]) == 0
    assert (out / "REPORT.md").read_bytes() == first


def test_cli_errors_and_listing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--claims", "C9", "--out", str(tmp_path)]) == 2
    assert "valid claim names" in capsys.readouterr().err
    assert main(["verify", "--list"]) == 0
    assert "C2: Convex two-loop rate" in capsys.readouterr().out


def test_register_adds_the_verify_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="ofmu")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["verify", "--claims", "C1,C3", "--profile", "full", "--out", "x"])
    assert args.claims == "C1,C3" and args.profile == "full" and args.out == "x" and callable(args.func)
    defaults = parser.parse_args(["verify"])
    assert defaults.profile == "quick" and defaults.out == "ofmu-report"


def test_an_experiment_that_raises_is_reported_not_fatal(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    claim = CLAIMS.get("A1")

    def boom(self, spec, profile, *, search=False):
        raise ValueError("family parameters changed")

    monkeypatch.setattr(claim, "check", boom)
    results = verify("A1", profile=tiny)
    rows = results.run("A1").results
    assert rows and all(r.verdict is Verdict.INCONCLUSIVE and "family parameters changed" in r.measured for r in rows)


def test_the_command_prints_one_verdict_count_per_reading_and_form_never_a_mixed_one() -> None:
    from types import SimpleNamespace

    from proofs_checks.cli import _reading_counts
    from proofs_checks.evidence import Verdict

    def family(form: str, **verdicts: Verdict) -> SimpleNamespace:
        return SimpleNamespace(form=form, reading_verdicts=lambda: {k.replace("_", "@"): v for k, v in verdicts.items()})

    run = SimpleNamespace(results=[family("unlearning", dist_t=Verdict.HOLDS, gap_k=Verdict.VIOLATED),
                                   family("classical", dist_t=Verdict.VIOLATED),
                                   family("unlearning", dist_t=Verdict.HOLDS, gap_k=Verdict.HOLDS)])
    assert _reading_counts(run) == {"dist@t": {"classical": {"violated": 1}, "unlearning": {"holds": 2}},
                                    "gap@k": {"unlearning": {"violated": 1, "holds": 1}}}
