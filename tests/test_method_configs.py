"""Every LLM and vision method's ``to_dict()`` stays what the committed benches' run caches were keyed by.

``tests/method_configs.json`` holds ``to_dict()`` of each method (each LLM preset) with its defaults, with
``--set`` assignments (flat ``key=value`` and ``method.key=value``, through each command's parser), with its
test settings and with the benches' fixed settings and first search-space point. It was written from the
code before OFMU's hyper-parameters moved into the core's ``OFMUConfig``; regenerate it only for a change
that is meant to invalidate the run caches: ``python -m tests.test_method_configs --write``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

SNAPSHOT = Path(__file__).with_name("method_configs.json")

#: ``--set`` assignments tried on every method that has the key (all at once, then the first two as
#: ``method.key=value``).
CANDIDATES = (
    "lr=0.002", "epochs=2", "rho=0.5", "inner_steps=2", "beta=0.3", "hvp=fd", "fd_eps=0.0001",
    "fd_scheme=forward", "sim_lag=2", "sim_pick=random", "sim_curvature=frozen", "eval_point=outer",
    "gamma=1.5", "rho_cap=2.0", "sim=squared", "max_steps=7", "eta_in=0.02", "eta_out=0.04", "momentum=0.5",
    "lr_in=0.003", "forget_loss=npo", "retain_loss=kl", "clip_in=2.5", "schedule_in=constant",
)
#: Candidates a method has under the same name with other values.
EXCLUDE = {"rmu": {"retain_loss"}}


def _plain(d: dict[str, Any]) -> Any:
    return json.loads(json.dumps(d, sort_keys=True, default=str))


def _set_variants(options: set[str], name: str) -> list[list[str]]:
    applicable = [c for c in CANDIDATES
                  if c.partition("=")[0] in options and c.partition("=")[0] not in EXCLUDE.get(name, ())]
    return [applicable, [f"{name}.{c}" for c in applicable[:2]]] if applicable else []


def llm_cases() -> dict[str, Any]:
    """``to_dict()`` of every LLM method: presets × (defaults, --set variants, test settings), bench paths."""
    from llm.cli import method_sets
    from llm.fairbench import OFMU_FIXED, OFMU_PATHS, SEARCH_SPACES, SHARED, WARMUP_SHARE
    from llm.methods import METHODS
    from llm.methods.base import PRESETS

    out: dict[str, Any] = {}
    for name in METHODS.names():
        cls = METHODS.get(name)
        options = set(cls.preset("openunlearning").to_dict())
        for preset in PRESETS:
            out[f"llm/{name}/{preset}/default"] = cls.preset(preset).to_dict()
            out[f"llm/{name}/{preset}/test_settings"] = cls.preset(preset, **cls.test_settings).to_dict()
            for i, items in enumerate(_set_variants(options, name)):
                sets = method_sets(items, (name,)).get(name, {})
                out[f"llm/{name}/{preset}/set{i}"] = cls.preset(preset, **sets).to_dict()
        if name in SEARCH_SPACES:
            point = {k: v[0] for k, v in SEARCH_SPACES[name].items()}
            fixed = OFMU_FIXED if name == "ofmu" else {}
            values = {**SHARED, **fixed, **point, "epochs": 2.5, "warmup_epochs": WARMUP_SHARE * 2.5}
            out[f"llm/{name}/fairbench"] = cls.preset("embedded", **values).to_dict()
    for path, values in OFMU_PATHS.items():
        out[f"llm/ofmu/path/{path}"] = METHODS.get("ofmu").preset("embedded", **SHARED, **values).to_dict()
    return out


def vision_cases() -> dict[str, Any]:
    """``to_dict()`` of every vision method: defaults, --set variants, test settings, the bench's first point."""
    from vision.cli import parse_overrides
    from vision.fairbench import SEARCH_SPACES
    from vision.methods import METHODS, make_method

    out: dict[str, Any] = {}
    for name in METHODS.names():
        cls = METHODS.get(name)
        options = set(make_method(name).to_dict())
        out[f"vision/{name}/default"] = make_method(name).to_dict()
        out[f"vision/{name}/test_settings"] = make_method(name, **cls.test_settings).to_dict()
        for i, items in enumerate(_set_variants(options, name)):
            sets = parse_overrides(items, (name,)).get(name, {})
            out[f"vision/{name}/set{i}"] = make_method(name, **sets).to_dict()
        if name in SEARCH_SPACES:
            out[f"vision/{name}/fairbench"] = make_method(
                name, **{k: v[0] for k, v in SEARCH_SPACES[name].items()}).to_dict()
    return out


def cases() -> dict[str, Any]:
    return _plain({**llm_cases(), **vision_cases()})


def test_method_configs_match_snapshot() -> None:
    stored = json.loads(SNAPSHOT.read_text())
    now = cases()
    missing = sorted(set(stored) - set(now))
    assert not missing, f"cases no longer built: {missing}"
    changed = [key for key in stored if now[key] != stored[key]]
    assert not changed, "to_dict() changed (run-cache keys): " + "; ".join(
        f"{key}: {sorted(k for k in stored[key].keys() | now[key].keys() if stored[key].get(k) != now[key].get(k))}"
        for key in changed[:5])


@pytest.mark.parametrize("item,needle", [
    ("rho=-1", "rho must be a finite number > 0, got rho=-1"),
    ("ofmu.inner_steps=-1", "inner_steps must be an int >= 0, got inner_steps=-1"),
    ("ofmu.gamma=0.5", "gamma must be a finite number >= 1"),
    ("ofmu.sim_pick=some", "sim_pick must be one of"),
    ("ofmu.rhoo=1", "unknown option 'ofmu.rhoo'"),
])
def test_ofmu_errors_name_the_key_in_both_domains(item: str, needle: str) -> None:
    """OFMU's configuration is validated once, in the core; both commands' errors name the key."""
    from llm.cli import method_sets
    from llm.methods import METHODS
    from vision.cli import parse_overrides
    from vision.methods import make_method

    with pytest.raises(ValueError, match=needle):
        METHODS.get("ofmu").preset("embedded", **method_sets([item], ("ofmu",)).get("ofmu", {}))
    with pytest.raises(ValueError, match=needle):
        make_method("ofmu", **parse_overrides([item], ("ofmu",)).get("ofmu", {}))


def test_held_configuration() -> None:
    """The methods hold the core's OFMUConfig (domain presets); fields the vision method never listed join its
    to_dict() only when set away from the preset."""
    from llm.methods import METHODS
    from ofmu_theory.solvers.ofmu_config import OFMUConfig
    from vision.methods import make_method

    llm = METHODS.get("ofmu").preset("embedded", rho=0.5)
    assert llm.solver == OFMUConfig(fd_eps=1e-5, inner_steps=1, beta=0.1, rho=0.5)
    vision = make_method("ofmu")
    assert vision.solver == OFMUConfig(beta=0.0, rho=0.01, inner_steps=1, hvp="fd")
    assert "eval_point" not in vision.to_dict()
    assert make_method("ofmu", eval_point="outer").to_dict()["eval_point"] == "outer"
    assert METHODS.get("ofmu").from_dict(llm.to_dict()) == llm


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_method_configs --write")
    SNAPSHOT.write_text(json.dumps(cases(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(cases())} cases to {SNAPSHOT.name}")
