"""The fair-comparison protocol on a toy task whose answers are known."""

import math

import pytest

from ofmu_theory.protocol import MethodSpace, Profile, run_protocol


class ToyTask:
    """quality = budget-limited: q = min(1, budget/100) * skill(method) - |lr - best_lr| + seed noise."""

    identity = {"task": "toy"}
    primary = "quality"
    higher_is_better = True
    selected_on = "toy validation"
    metrics = ("quality", "utility")

    def __init__(self):
        self.calls = []

    def run(self, method, config, *, budget_passes, seed, role):
        self.calls.append((method, role, seed))
        skill = {"ofmu": 1.0, "base": 0.8, "bad": 0.5}[method]
        q = min(1.0, budget_passes / 100) * skill - abs(config["lr"] - 0.2) + 0.01 * seed
        return {"quality": q, "utility": 1.0 if method != "bad" else 0.1, "passes": budget_passes, "wall_s": 1.0,
                "status": "OK"}

    def score(self, m):
        return m["quality"] if m["utility"] >= 0.5 else -math.inf

    def feasible(self, s):
        return s["utility"] >= 0.5

    def reached(self, s):
        return s["quality"] >= 0.5


SPACES = [MethodSpace(method=m, space={"lr": [0.1, 0.2, 0.4]}) for m in ("base", "bad", "ofmu")]


def test_protocol_tunes_equally_and_writes_a_verdict(tmp_path):
    task = ToyTask()
    profile = Profile(name="t", budgets=(0.5, 1.0), n_configs=3, seeds=(0, 1, 2))
    rec = run_protocol(task, SPACES, profile, reference_passes=100, reference_method="ofmu",
                       metrics=["quality", "utility"], cache_dir=tmp_path)
    level = rec["levels"][1]
    for name, row in level["methods"].items():
        assert len(row["tuning"]["configs_tried"]) == 3
        if name != "bad":  # every configuration of "bad" is infeasible (score -inf): the first is kept
            assert row["tuning"]["chosen"] == {"lr": 0.2}
        assert [r["seed"] for r in row["per_seed"]] == [0, 1, 2]
        assert row["budget_passes"] == 100
    assert level["verdict"]["best_baseline"] == "base"  # "bad" is infeasible
    assert level["verdict"]["result"] == "better"
    assert rec["time_to_quality"]["ofmu"]["budget_multiple"] == 0.5
    assert rec["time_to_quality"]["bad"] is None
    # resumable: a second run reads every record from the cache
    task2 = ToyTask()
    rec2 = run_protocol(task2, SPACES, profile, reference_passes=100, reference_method="ofmu",
                        metrics=["quality", "utility"], cache_dir=tmp_path)
    assert task2.calls == [] and rec2["runs"]["executed"] == 0
    assert rec2["levels"] == rec["levels"]


def test_equal_methods_are_indistinguishable():
    task = ToyTask()
    spaces = [MethodSpace(method="ofmu", space={"lr": [0.2]}), MethodSpace(method="base", space={"lr": [0.2]})]
    task.run = lambda method, config, **kw: {"quality": 0.5 + 0.01 * kw["seed"] * (1 if method == "ofmu" else -1) ** kw["seed"],
                                             "utility": 1.0, "passes": 1, "wall_s": 1, "status": "OK"}
    rec = run_protocol(task, spaces, Profile(name="t", budgets=(1.0,), n_configs=1, seeds=(0, 1, 2, 3)),
                       reference_passes=10, reference_method="ofmu", metrics=["quality", "utility"])
    assert rec["levels"][0]["verdict"]["result"] == "indistinguishable"


def test_profile_and_arguments_are_checked():
    with pytest.raises(ValueError, match="budgets"):
        Profile(name="x", budgets=(3.0, 1.0), n_configs=1, seeds=(0,))
    with pytest.raises(ValueError, match="seeds"):
        Profile(name="x", budgets=(1.0,), n_configs=1, seeds=(0, 0))
    with pytest.raises(ValueError, match="reference_method"):
        run_protocol(ToyTask(), SPACES, Profile(name="x", budgets=(1.0,), n_configs=1, seeds=(0,)),
                     reference_passes=1, reference_method="nope", metrics=["quality"])
    with pytest.raises(ValueError, match="jobs > 1 needs cache_dir"):
        run_protocol(ToyTask(), SPACES, Profile(name="x", budgets=(1.0,), n_configs=1, seeds=(0,)),
                     reference_passes=1, reference_method="ofmu", metrics=["quality"], jobs=2, task_factory=ToyTask)
    with pytest.raises(ValueError, match="jobs must be an integer"):
        run_protocol(ToyTask(), SPACES, Profile(name="x", budgets=(1.0,), n_configs=1, seeds=(0,)),
                     reference_passes=1, reference_method="ofmu", metrics=["quality"], jobs=0)


def test_workers_give_the_serial_record(tmp_path):
    """jobs=2: every run happens in the workers (the parent only reads the cache) and the record is the serial one."""
    profile = Profile(name="t", budgets=(0.5, 1.0), n_configs=2, seeds=(0, 1))
    kw = dict(reference_passes=100, reference_method="ofmu", metrics=["quality", "utility"])
    serial = run_protocol(ToyTask(), SPACES, profile, cache_dir=tmp_path / "serial", **kw)
    parent = ToyTask()
    parallel = run_protocol(parent, SPACES, profile, cache_dir=tmp_path / "parallel", jobs=2, task_factory=ToyTask, **kw)
    assert parent.calls == []
    assert parallel["levels"] == serial["levels"]
    n_runs = 2 * len(SPACES) * (2 + 2)  # budgets × methods × (configurations + seeds)
    assert parallel["runs"] == {"executed": n_runs, "from_cache": 0, "jobs": 2}
    assert len(list((tmp_path / "parallel").glob("*.json"))) == n_runs


def test_a_methods_fixed_settings_key_only_its_own_runs(tmp_path):
    """Changing OFMU's untuned settings (Task.fixed) reruns OFMU alone; the other methods come from the cache."""
    profile = Profile(name="t", budgets=(1.0,), n_configs=2, seeds=(0, 1))
    kw = dict(reference_passes=100, reference_method="ofmu", metrics=["quality", "utility"], cache_dir=tmp_path)
    first = ToyTask()
    first.fixed = lambda method: {"path": "a"} if method == "ofmu" else {}
    run_protocol(first, SPACES, profile, **kw)
    second = ToyTask()
    second.fixed = lambda method: {"path": "b"} if method == "ofmu" else {}
    rec = run_protocol(second, SPACES, profile, **kw)
    assert {m for m, _, _ in second.calls} == {"ofmu"} and len(second.calls) == 2 + 2
    assert rec["runs"]["executed"] == 4


def test_invocations_keep_the_measured_time_of_cached_runs(tmp_path):
    """A re-render reads every run from the cache; the record still states the time that executed them."""
    from ofmu_theory.protocol import invocations, previous_record
    from ofmu_theory.protocol_report import runs_sentence

    assert previous_record(tmp_path) is None
    first = {"levels": [], "runs": {"executed": 10, "from_cache": 0, "jobs": 2}, "wall_s": 300.0}
    (tmp_path / "bench.json").write_text(__import__("json").dumps(first))
    prev = previous_record(tmp_path)
    history = invocations(prev, {"executed": 0, "from_cache": 10, "jobs": 1}, 5.0)
    assert history == [{"wall_s": 300.0, "executed": 10, "from_cache": 0, "jobs": 2},
                       {"wall_s": 5.0, "executed": 0, "from_cache": 10, "jobs": 1}]
    text = runs_sentence({"runs": history[-1], "invocations": history})
    assert "300 s (10 executed, 2 worker(s))" in text and "305 s in all" in text
    third = invocations({**first, "invocations": history}, {"executed": 1, "from_cache": 10, "jobs": 1}, 7.0)
    assert len(third) == 3 and third[:2] == history


def test_the_first_seed_tunes_and_a_single_seed_profile_runs(tmp_path):
    task = ToyTask()
    profile = Profile(name="t", budgets=(1.0,), n_configs=2, seeds=(7, 3))
    rec = run_protocol(task, SPACES[:1], profile, reference_passes=100, reference_method="base",
                       metrics=["quality", "utility"], cache_dir=tmp_path / "a")
    assert {seed for _, role, seed in task.calls if role == "tune"} == {7}
    assert rec["levels"][0]["methods"]["base"]["tuning"]["tuning_seed"] == 7
    one = run_protocol(ToyTask(), SPACES[:1], Profile(name="t", budgets=(1.0,), n_configs=1, seeds=(5,)),
                       reference_passes=100, reference_method="base", metrics=["quality", "utility"],
                       cache_dir=tmp_path / "b")
    assert [r["seed"] for r in one["levels"][0]["methods"]["base"]["per_seed"]] == [5]


def test_summaries_keep_zero_and_skip_non_finite_values():
    from ofmu_theory.protocol import summarise
    from ofmu_theory.protocol_report import format_interval

    s = summarise([{"q": 0.0}, {"q": 2.0}, {"q": math.nan}, {"q": math.inf}, {"q": "n/a"}, {}], ["q"])
    assert s["q"]["n"] == 2 and s["q"]["mean"] == 1.0
    span = {"mean": 1.0, "low": 0.0, "high": 2.0}
    assert format_interval({"q": span}, "q", ".2f") == "1.00 [0.00, 2.00]"
    assert format_interval({"q": {**span, "low": math.nan, "high": math.nan}}, "q", ".2f") == "1.00"
    assert format_interval({}, "q", ".2f") == "–"


@pytest.mark.parametrize("low", [-0.5, 0.0, 0.25])
def test_an_interval_is_shown_whatever_its_low_end(low):
    """Only a missing interval (NaN ends: fewer than two seeds) is left out, never one whose low end is
    negative or positive."""
    from ofmu_theory.protocol_report import format_interval

    span = {"mean": 1.0, "low": low, "high": 2.0}
    assert format_interval({"q": span}, "q", ".2f") == f"1.00 [{low:.2f}, 2.00]"


def test_interval_point_draws_the_means_with_their_intervals_and_stops_at_the_floor():
    from ofmu_theory.protocol_report import interval_point

    calls = []
    ax = type("Ax", (), {"errorbar": lambda self, x, y, **kw: calls.append((x, y, kw))})()
    interval_point(ax, 0, "npo", {"mean": 0.5, "low": 0.25, "high": 1.0}, {"mean": 2.0, "low": 1.0, "high": 4.0})
    interval_point(ax, 1, "ofmu", {"mean": 1e-20, "low": -0.1, "high": 0.3}, {"mean": 2.0, "low": math.nan,
                                                                              "high": math.nan}, x_floor=1e-12)
    (x0, y0, kw0), (x1, y1, kw1) = calls
    assert x0 == [0.5] and y0 == [2.0] and kw0["xerr"] == [[0.25], [0.5]] and kw0["yerr"] == [[1.0], [2.0]]
    assert x1 == [1e-12] and kw1["xerr"] == [[0.0], [0.3 - 1e-12]] and kw1["yerr"] is None  # one seed: no bar
    assert kw1["label"] == "ofmu" and kw1["color"] == "tab:red"


def test_open_bench_names_a_bad_request_and_returns_the_folders_previous_record(tmp_path):
    from ofmu_theory.io import write_json
    from ofmu_theory.protocol import open_bench

    profiles = {"quick": Profile(name="quick", budgets=(1.0,), n_configs=1, seeds=(0,))}
    with pytest.raises(ValueError, match=r"profile must be one of \['quick'\], got profile='full'"):
        open_bench(tmp_path / "b", profile="full", profiles=profiles, methods=["ofmu"])
    with pytest.raises(ValueError, match="methods must include ofmu"):
        open_bench(tmp_path / "b", profile="quick", profiles=profiles, methods=["npo"])
    assert not (tmp_path / "b").exists()  # a bad request creates nothing
    chosen, root, previous = open_bench(tmp_path / "b", profile="quick", profiles=profiles, methods=["ofmu"])
    assert chosen is profiles["quick"] and root.is_dir() and previous is None
    write_json(root / "bench.json", {"levels": [], "runs": {}, "wall_s": 3.0})
    assert open_bench(root, profile="quick", profiles=profiles, methods=["ofmu"])[2]["wall_s"] == 3.0
