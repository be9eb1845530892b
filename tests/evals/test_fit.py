"""evals/fit.py: the fitting routines behind rag/evidence_model.json, on data whose answer is
known, so a fit that learns the wrong thing fails."""

from __future__ import annotations

import numpy as np
import pytest

from evals.fit import best_threshold, fit_logistic, main

pytestmark = pytest.mark.unit


def test_logistic_fit_learns_the_informative_feature_and_ignores_noise() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(600, 2))
    y = (x[:, 0] + 0.5 * rng.normal(size=600) > 0).astype(float)
    (signal, noise), bias = fit_logistic(x, y)
    assert signal > 1.0
    assert abs(noise) < 0.3 * signal
    assert abs(bias) < 0.5


def test_classes_are_balanced_so_rare_positives_still_get_weight() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(4000, 1))
    # About 5 % positives, like gold sentences among candidates, with some overlap.
    y = (x[:, 0] + 0.3 * rng.normal(size=4000) > 1.6).astype(float)
    (weight,), bias = fit_logistic(x, y)
    probability = 1 / (1 + np.exp(-(weight * x[:, 0] + bias)))
    # Weighted to equal class totals, the rare class is not drowned out: most positives score
    # above one half (an unweighted fit leaves its boundary beyond most of them).
    assert np.mean(probability[y == 1] > 0.5) > 0.8
    assert np.mean(probability[y == 0] > 0.5) < 0.2


def test_threshold_keeps_the_false_abstain_budget_and_declines_the_rest() -> None:
    answerable = [True] * 50 + [False] * 50
    probability = [0.9 - 0.01 * i for i in range(50)] + [0.3 - 0.005 * i for i in range(50)]
    threshold, false, recall = best_threshold(probability, answerable)
    assert false <= 0.06 and recall == 1.0 and 0.3 < threshold <= 0.9
    # When the two overlap, the budget wins over declining.
    overlapping = [0.5 - 0.01 * i for i in range(50)] + [0.6 - 0.01 * i for i in range(50)]
    threshold, false, recall = best_threshold(overlapping, answerable)
    assert false <= 0.06 and recall < 1.0


def test_an_unknown_tuning_set_is_refused_before_anything_is_written(tmp_path, capsys) -> None:
    out = tmp_path / "model.json"
    with pytest.raises(SystemExit) as stop:
        main(["--out", str(out), "--sets", "no-such-set"])
    assert stop.value.code == 2
    assert "not a tuning set: no-such-set" in capsys.readouterr().err
    assert not out.exists()
