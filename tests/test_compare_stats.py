"""The statistics of `ganzoo compare` against values worked out by hand (closed forms of Student's t for 1 and 2
degrees of freedom), the ranking rule on made-up trials, the metric's direction from every registered metric
plugin, and what cannot be compared."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ganzoo.compare import stats
from ganzoo.compare.table import compare, direction
from ganzoo.errors import GanzooError
from ganzoo.plugin.loading import get_registry
from ganzoo.sweep.outcome import FAILED, FINISHED, PENDING, TrialOutcome


def t975(dof: int) -> float:
    """t_{0.975, dof} in closed form: tan(pi (p - 1/2)) for 1 dof, q sqrt(2 / (1 - q^2)) with q = 2p - 1 for 2."""
    return {1: math.tan(math.pi * 0.475), 2: 0.95 * math.sqrt(2.0 / (1.0 - 0.95 ** 2))}[dof]


def test_t_quantiles_match_the_closed_forms():
    assert stats.t_quantile(0.975, 1) == pytest.approx(12.706204736, rel=1e-9) == pytest.approx(t975(1))
    assert stats.t_quantile(0.975, 2) == pytest.approx(4.302652730, rel=1e-9) == pytest.approx(t975(2))


def test_summary_of_three_values_by_hand():
    s = stats.summarize([1.0, 2.0, 3.0])
    assert (s.n, s.mean, s.std) == (3, 2.0, 1.0)  # sum of squares 2, over n - 1 = 2
    half = t975(2) * 1.0 / math.sqrt(3)  # 2.4841377...
    assert s.t_critical == pytest.approx(t975(2))
    assert (s.ci_low, s.ci_high) == (pytest.approx(2.0 - half), pytest.approx(2.0 + half))
    assert s.half_width == pytest.approx(2.484137712, rel=1e-8)


def test_summary_of_two_values_uses_one_degree_of_freedom():
    s = stats.summarize([10.0, 12.0])
    assert s.std == pytest.approx(math.sqrt(2.0))
    assert s.half_width == pytest.approx(t975(1) * math.sqrt(2.0) / math.sqrt(2.0))


def test_one_value_has_no_spread_and_no_interval():
    s = stats.summarize([5.0])
    assert (s.n, s.mean, s.std, s.ci_low, s.ci_high, s.t_critical) == (1, 5.0, None, None, None, None)


def test_bad_values_are_refused():
    with pytest.raises(ValueError):
        stats.summarize([])
    with pytest.raises(ValueError):
        stats.summarize([1.0, float("nan")])


def test_welch_by_hand_with_two_degrees_of_freedom():
    # equal sizes and variances: s^2 = 2 each, so dof = (1 + 1)^2 / (1 + 1) = 2 and t = (1 - 4) / sqrt(2)
    w = stats.welch([0.0, 2.0], [3.0, 5.0])
    t = -3.0 / math.sqrt(2.0)
    assert w.t == pytest.approx(t) and w.dof == pytest.approx(2.0)
    assert w.p == pytest.approx(1.0 - abs(t) / math.sqrt(2.0 + t * t))  # P(|T_2| >= |t|) in closed form


def test_welch_by_hand_with_unequal_variances():
    # a: mean 2, s^2 1; b: mean 16/3, s^2 7/3; s_a^2/n + s_b^2/n = 1/3 + 7/9 = 10/9
    w = stats.welch([1.0, 2.0, 3.0], [4.0, 5.0, 7.0])
    assert w.t == pytest.approx((2.0 - 16.0 / 3.0) / math.sqrt(10.0 / 9.0))
    assert w.dof == pytest.approx((10.0 / 9.0) ** 2 / ((1.0 / 3.0) ** 2 / 2 + (7.0 / 9.0) ** 2 / 2))
    assert 0.0 < w.p < 0.05


def test_welch_cannot_test_a_single_value_and_handles_no_spread():
    assert stats.welch([1.0], [2.0, 3.0]).p is None
    assert stats.welch([1.0, 1.0], [1.0, 1.0]).p == 1.0
    assert stats.welch([1.0, 1.0], [2.0, 2.0]).p == 0.0


def test_holm_adjustment_by_hand():
    # sorted 0.01, 0.03, 0.04 with m = 3: 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    assert stats.holm([0.01, 0.04, 0.03, None]) == [pytest.approx(0.03), pytest.approx(0.06), pytest.approx(0.06),
                                                    None]
    assert stats.holm([0.9, 0.8]) == [pytest.approx(1.0), pytest.approx(1.0)]


def test_best_and_median_are_real_trials_in_the_metric_direction():
    assert stats.best_and_median([3.0, 1.0, 2.0], higher_is_better=False) == (1, 2)
    assert stats.best_and_median([3.0, 1.0, 2.0], higher_is_better=True) == (0, 2)
    assert stats.best_and_median([4.0, 1.0, 2.0, 3.0], higher_is_better=False) == (1, 3)  # worse middle value


# --- the ranking rule on made-up trials ---------------------------------------------------------------------------


def outcome(loss: str, seed: int, value: float | None, *, status: str = FINISHED, dataset: str = "gaussians8",
            metric: str = "w1", arch: str = "mlp") -> TrialOutcome:
    return TrialOutcome(sweep_id="s", trial_id=f"{arch}.{loss}.s{seed}", loss=loss, arch=arch, dataset=dataset,
                        seed=seed, settings={}, status=status, error="diverged at step 3" if status == FAILED else None,
                        model_ref=None, run_dir=None, metrics={} if value is None else {metric: value}, steps=30,
                        wall_time_s=2.0)


def values(loss: str, numbers: list[float], **kwargs) -> list[TrialOutcome]:
    return [outcome(loss, i, v, **kwargs) for i, v in enumerate(numbers)]


def test_clearly_separated_losses_are_different_and_ranked_lower_first():
    trials = values("a", [1.0, 1.1, 0.9]) + values("b", [5.0, 5.1, 4.9]) + [outcome("b", 9, None, status=FAILED)]
    result = compare(trials, registry=get_registry())
    assert result.metric.key == "w1" and result.metric.higher_is_better is False
    (table,) = result.tables
    assert [r.loss for r in table.rows] == ["a", "b"] and [r.rank for r in table.rows] == [1, 2]
    (pair,) = table.pairs
    assert pair.different and pair.p_holm == pytest.approx(pair.welch.p)  # one pair: Holm changes nothing
    assert table.rows[1].failed == 1 and table.rows[1].summary.n == 3
    assert table.rows[0].not_different_from == ()


def test_overlapping_losses_are_not_different_and_say_so():
    trials = values("a", [1.0, 2.0, 3.0]) + values("b", [1.5, 2.5, 3.5]) + values("c", [9.0, 9.1, 9.2])
    (table,) = compare(trials, registry=get_registry()).tables
    rows = {r.loss: r for r in table.rows}
    assert set(rows["a"].not_different_from) == {"b"} and set(rows["b"].not_different_from) == {"a"}
    assert rows["c"].rank == 3 and rows["c"].not_different_from == ()
    adjusted = [p.p_holm for p in table.pairs]
    assert adjusted == stats.holm([p.welch.p for p in table.pairs])


def test_higher_is_better_metrics_rank_the_other_way():
    trials = values("a", [1.0, 1.1, 0.9], metric="modes") + values("b", [7.0, 7.5, 8.0], metric="modes")
    result = compare(trials, registry=get_registry())
    assert result.metric.higher_is_better is True
    assert [r.loss for r in result.tables[0].rows] == ["b", "a"]


def test_a_single_seed_gets_no_interval_and_is_never_called_different():
    trials = values("a", [1.0]) + values("b", [5.0, 5.1])
    result = compare(trials, registry=get_registry())
    rows = {r.loss: r for r in result.tables[0].rows}
    assert rows["a"].summary.ci_low is None and rows["a"].not_different_from == ("b",)
    assert result.tables[0].pairs[0].welch.p is None and not result.tables[0].pairs[0].different
    assert any("one finished trial" in note for note in result.notes)


def test_architectures_get_their_own_tables():
    trials = values("a", [1.0, 2.0]) + values("a", [3.0, 4.0], arch="dcgan") + values("b", [3.0, 4.0], arch="dcgan")
    result = compare(trials, registry=get_registry())
    assert [(t.arch, [r.loss for r in t.rows]) for t in result.tables] == [("dcgan", ["a", "b"]), ("mlp", ["a"])]


def test_what_cannot_be_compared_is_refused_clearly():
    registry = get_registry()
    with pytest.raises(GanzooError, match="different data sets .*gaussians25, gaussians8"):
        compare(values("a", [1.0]) + values("b", [1.0], dataset="gaussians25"), registry=registry)
    with pytest.raises(GanzooError, match=r"no finished trial to compare \(1 failed, 1 pending\)"):
        compare([outcome("a", 0, None, status=FAILED), outcome("a", 1, None, status=PENDING)], registry=registry)
    with pytest.raises(GanzooError, match="'fid' is missing for 2 of 2 finished trials") as info:
        compare(values("a", [1.0]) + values("b", [2.0]), registry=registry, metric="fid")
    assert "w1" in info.value.hint
    with pytest.raises(GanzooError, match="share no metric"):
        compare(values("a", [1.0], metric="w1") + values("b", [2.0], metric="fid"), registry=registry)
    with pytest.raises(GanzooError, match="no trial was trained on 'cifar10'"):
        compare(values("a", [1.0]), registry=registry, dataset="cifar10")
    with pytest.raises(GanzooError, match="cannot tell whether a higher or a lower 'sharpness' is better"):
        compare(values("a", [1.0], metric="sharpness"), registry=registry)


def test_the_trials_table_shows_the_settings_that_vary():
    from dataclasses import replace

    from ganzoo.compare.report import trials_markdown

    trials = [replace(o, settings={"lr": lr, "batch_size": 64})
              for o, lr in zip(values("a", [1.0, 2.0]) + values("b", [3.0, 4.0]), (1e-3, 1e-4, 1e-3, 2e-4),
                               strict=True)]
    text = trials_markdown(compare(trials, registry=get_registry()))
    assert "| mlp.a.s0 | mlp | a | 0 | lr=0.001 | finished | 1 |" in text
    assert "| mlp.b.s1 | mlp | b | 1 | lr=0.0002 | finished | 4 |" in text and "batch_size" not in text


def test_one_data_set_can_be_picked_out():
    trials = values("a", [1.0, 2.0]) + values("b", [1.0], dataset="gaussians25")
    result = compare(trials, registry=get_registry(), dataset="gaussians8")
    assert result.dataset == "gaussians8" and len(result.trials) == 2


# --- the direction of every registered metric ---------------------------------------------------------------------


KNOWN = {"fid": {"fid": False}, "is": {"is": True}, "kid": {"kid": False}, "w1": {"w1": False},
         "modes": {"modes": True, "hq_percent": True, "reverse_kl": False}, "prc": {"f_score": True}}


@pytest.mark.parametrize("name", get_registry().names("metric"))
def test_every_registered_metric_declares_its_direction(name):
    spec = get_registry().metric(name)
    directions = spec.directions()
    metric = spec.factory(**spec.options)
    assert next(iter(directions)) == metric.headline
    assert all(isinstance(v, bool) for v in directions.values())
    for key, higher in directions.items():
        assert metric.value_higher_is_better(key) is higher  # what the evaluation engine records with each result
        assert direction(key, get_registry(), plugin=spec.name) == (higher, f"metric plugin {spec.name!r}")
    if spec.name in KNOWN:
        assert directions == KNOWN[spec.name]


def test_direction_falls_back_to_what_the_store_recorded():
    assert direction("sharpness", get_registry(), recorded=True) == (True, "recorded with the stored results")


def test_docs_give_the_formulas():
    science = (Path(__file__).resolve().parents[1] / "docs" / "science.md").read_text(encoding="utf-8")
    assert "Welch" in science and "Holm" in science and "n - 1" in science
