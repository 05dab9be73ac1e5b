"""The ``ofmu`` command: its sub-commands, ``solve``, and a missing extra reported in one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ofmu_cli import main as cli
from ofmu_theory.runinfo import PROGRESS_ENV

ROOT = Path(__file__).resolve().parents[2]


def test_solve_prints_the_distance_to_the_family_solution(tmp_path, capsys, backend_name: str) -> None:
    import numpy as np

    import convex  # noqa: F401  (registers the families)
    from ofmu_cli.solve import DEFAULT_FAMILY
    from ofmu_theory import FAMILIES

    out = tmp_path / "result.json"
    argv = ["solve", "--steps", "3", "--set", "rho=2", "--backend", backend_name, "--quiet", "--json", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["nit"] == 3 and saved["options"]["rho"] == 2
    reference = FAMILIES.get(DEFAULT_FAMILY).sample(seed=0).solution()
    dist = float(np.linalg.norm(np.asarray(saved["theta"]) - reference))
    assert f"distance to the bilevel solution θ*: {dist:.6g}" in printed


def test_solve_draws_a_progress_bar_unless_quiet(monkeypatch, capsys) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "1")
    assert cli.main(["solve", "--steps", "2", "--set", "eta_out=0.01"]) == 0
    assert "ofmu" in capsys.readouterr().err
    assert cli.main(["solve", "--steps", "2", "--set", "eta_out=0.01", "--quiet"]) == 0
    assert "ofmu" not in capsys.readouterr().err


def test_every_subcommand_is_listed_in_order() -> None:
    parser = cli.build_parser()
    choices = next(a.choices for a in parser._actions if a.dest == "command")
    assert list(choices) == [c.name for c in cli.SUBCOMMANDS] == ["solve", "verify", "llm", "vision"]


def test_extra_modules_match_the_pyproject_extras() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, modules in cli.EXTRA_MODULES.items():
        distributions = {re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0] for req in extras[extra]}
        assert modules == {d.replace("-", "_").lower() for d in distributions}
    assert {c.extra for c in cli.SUBCOMMANDS if c.extra} <= set(extras)


def _without(missing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing the llm package fails as it would without its extra (``missing`` not installed)."""
    real = cli._import

    def fake(module: str):
        if module.partition(".")[0] == "llm":
            raise ModuleNotFoundError(f"No module named '{missing}'", name=missing)
        return real(module)

    monkeypatch.setattr(cli, "_import", fake)


@pytest.mark.parametrize("argv", [["llm"], ["llm", "prepare"], ["llm", "unlearn", "--method", "ofmu", "--out", "x"],
                                  ["llm", "-h"], ["-v", "llm", "bench", "--out", "x"]])
def test_a_missing_extra_is_one_line_naming_it_with_status_3(argv, monkeypatch, capsys) -> None:
    _without("safetensors.torch", monkeypatch)
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    lines = err.strip().splitlines() if "-v" not in argv else [ln for ln in err.splitlines() if ln.startswith("ofmu:")]
    assert lines == ["ofmu: error: ofmu llm needs the 'llm' extra: pip install -e '.[llm]' "
                     "(missing module 'safetensors')"]
    if "-v" not in argv:
        assert "Traceback" not in err


def test_the_other_subcommands_run_without_the_extra(monkeypatch, capsys) -> None:
    _without("transformers", monkeypatch)
    assert cli.main(["solve", "--steps", "2", "--quiet"]) == 0
    assert "distance to the bilevel solution" in capsys.readouterr().out
    assert cli.main(["verify", "--list"]) == 0
    assert "C1" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(["--help"])
    assert exit_.value.code == 0
    assert "needs the 'llm' extra" in capsys.readouterr().out


def test_a_missing_module_outside_the_extra_is_not_hidden(monkeypatch) -> None:
    real = cli._import

    def fake(module: str):
        if module == "vision.cli":
            raise ModuleNotFoundError("No module named 'torchvision'", name="torchvision")
        return real(module)

    monkeypatch.setattr(cli, "_import", fake)
    with pytest.raises(ModuleNotFoundError, match="torchvision"):
        cli.build_parser()


_BASE_INSTALL = """
import importlib.abc, json, sys
from ofmu_cli.main import EXTRA_MODULES, main

BLOCKED = set().union(*EXTRA_MODULES.values())

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Missing())
codes = [main(["solve", "--steps", "2", "--quiet"]), main(["llm", "prepare"])]
leaked = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
print(json.dumps({"codes": codes, "leaked": leaked}))
"""


def test_a_base_install_runs_solve_and_names_the_llm_extra() -> None:
    """In a fresh interpreter where the llm extra's modules cannot be imported (as without ``[llm]``)."""
    run = subprocess.run([sys.executable, "-c", _BASE_INSTALL], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, PROGRESS_ENV: "0"})
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0, 3], "leaked": []}
    assert re.fullmatch(r"ofmu: error: ofmu llm needs the 'llm' extra: pip install -e '\.\[llm\]' "
                        r"\(missing module '\w+'\)", run.stderr.strip()), run.stderr
