"""The claim figures: legends beside crowded panels, log axes capped above diverging curves, n/a panels."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from proofs_checks import plots
from proofs_checks.evidence import Series


def _run(series_by_family: dict[str, list[Series]]) -> SimpleNamespace:
    results = [SimpleNamespace(family=f, series=tuple(s), verdict=SimpleNamespace(value="holds"))
               for f, s in series_by_family.items()]
    return SimpleNamespace(claim={"id": "CX", "title": "test"}, results=results)


def _draw(run, tmp_path, monkeypatch):
    captured = {}

    def save(path, fig, **kwargs):
        fig.canvas.draw()  # legends and limits as saved
        captured["fig"] = fig
        captured["texts"] = [t.get_text() for ax in fig.axes for t in ax.texts]
        captured["axes"] = list(fig.axes)

    monkeypatch.setattr(plots, "save_figure", save)
    assert plots.claim_figure(run, tmp_path / "x.png")
    return captured


def test_many_curves_get_their_legend_beside_the_axes_and_a_capped_axis(tmp_path, monkeypatch) -> None:
    k = np.arange(1, 50)
    curves = [Series.of(f"solver {i}", k, 1.0 / k, panel="accuracy") for i in range(7)]
    curves.append(Series.of("diverging", k, np.exp(2.0 * k), panel="accuracy"))  # up to e^98 ≈ 1e42
    got = _draw(_run({"fam": curves}), tmp_path, monkeypatch)
    width = got["fig"].get_size_inches()[0]
    assert width == 4.2 + plots.LEGEND_WIDTH
    ax = got["axes"][0]
    assert ax.get_ylim()[1] <= np.exp(2.0) * plots.Y_SPAN * 1.0001  # the largest starting value × Y_SPAN
    assert "curves above the axis diverge" in got["texts"]
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # beside the axes, not over the curves


def test_few_curves_keep_the_legend_inside_and_an_empty_panel_says_na(tmp_path, monkeypatch) -> None:
    k = np.arange(1, 20)
    run = _run({"a": [Series.of("gap", k, 1.0 / k, panel="gap")],
                "b": [Series.of("gap", k, np.zeros_like(k, dtype=float), panel="gap")]})  # nothing positive
    got = _draw(run, tmp_path, monkeypatch)
    assert got["fig"].get_size_inches()[0] == 4.2
    assert any(t.startswith("n/a") for t in got["texts"])
    assert got["axes"][0].get_legend() is not None and got["axes"][1].get_legend() is None


def test_rows_with_their_own_panels_are_packed_without_empty_cells(tmp_path, monkeypatch) -> None:
    k = np.arange(1, 20)
    run = _run({"a": [Series.of("gap", k, 1.0 / k, panel="gap"), Series.of("dist", k, 1.0 / k, panel="dist")],
                "b": [Series.of("grad", k, 1.0 / k, panel="grad")]})  # no panel in common with row a
    got = _draw(run, tmp_path, monkeypatch)
    assert got["fig"].get_size_inches()[0] == 2 * 4.2  # two columns, not three
    titles = [ax.get_title() for ax in got["axes"] if ax.axison]
    assert titles == ["a — gap [holds]", "a — dist [holds]", "b — grad [holds]"]
    assert not any(t.startswith("n/a") for t in got["texts"])
