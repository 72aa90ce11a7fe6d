"""Losses: per-sample values against their formulas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aihw_jax.nn import BCELoss, CrossEntropyLoss, MSELoss, NLLLoss


def test_nll_picks_target_log_probability():
    log_p = jnp.log(jnp.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    losses = NLLLoss().per_sample(log_p, jnp.array([0, 2]))
    np.testing.assert_allclose(np.asarray(losses), -np.log([0.7, 0.8]), rtol=1e-6)
    assert float(NLLLoss()(log_p, jnp.array([0, 2]))) == pytest.approx(
        -np.log([0.7, 0.8]).mean(), rel=1e-6
    )


def test_cross_entropy_equals_nll_of_log_softmax():
    logits = jnp.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    target = jnp.array([1, 2])
    expected = NLLLoss().per_sample(jax.nn.log_softmax(logits), target)
    np.testing.assert_allclose(
        np.asarray(CrossEntropyLoss().per_sample(logits, target)),
        np.asarray(expected),
        rtol=1e-6,
    )


def test_mse_is_mean_over_elements():
    losses = MSELoss().per_sample(jnp.array([[1.0, 3.0]]), jnp.array([[0.0, 0.0]]))
    assert float(losses[0]) == pytest.approx(5.0)


def test_bce_clamps_log_at_minus_100():
    losses = BCELoss().per_sample(jnp.array([[0.0, 0.5]]), jnp.array([[1.0, 1.0]]))
    assert float(losses[0]) == pytest.approx((100.0 + np.log(2.0)) / 2, rel=1e-6)
