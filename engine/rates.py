"""Small-count-safe tests of weekly counts: is this count unusually high?

Two questions, both answered with exact tail probabilities rather than a raw top-N, so
that 1 incident against 0 is not news while 12 against a usual 1 is:

- *Emerging*: is this week's count high against the key's own baseline? The key's weekly
  rate gets a gamma prior fitted to every key's baseline rate (empirical Bayes: keys with
  little history borrow strength from the rest), updated with its baseline count ``y``
  over ``B`` weeks: ``Gamma(a0 + y, b0 + B)``. This week's count ``x`` is then
  negative-binomial, and the p-value is ``P(X >= x)``. The shrunk rate ratio
  ``((a0 + x) / (b0 + 1)) / ((a0 + y) / (b0 + B))`` says how much higher.
- *High week*: is a week's count far above a typical key's week? The p-value is the
  Poisson tail ``P(X >= count)`` at the mean weekly count of all keys.

Pure and vectorised: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GammaPrior", "fit_gamma_prior", "negative_binomial_tail", "poisson_tail"]


@dataclass(frozen=True)
class GammaPrior:
    """A gamma prior on a weekly rate: shape `a0`, rate `b0` (worth `b0` weeks of data)."""

    a0: float
    b0: float

    @property
    def mean(self) -> float:
        return self.a0 / self.b0


def fit_gamma_prior(baseline_counts: np.ndarray, weeks: int) -> GammaPrior:
    """Method-of-moments gamma prior from each key's total count over `weeks` weeks.

    The keys' rates ``y / weeks`` have mean ``m`` and variance ``v``; Poisson noise
    accounts for ``m / weeks`` of ``v`` and the rest is the spread of the true rates,
    ``s = v - m / weeks``. Then ``b0 = m / s`` and ``a0 = m * b0``. The prior is never
    worth more than the key's own baseline (``b0 <= weeks``, which also covers ``s <= 0``),
    and its mean is at least one incident over the whole baseline of all keys together,
    so a key with no history is still compared with something.

    >>> prior = fit_gamma_prior(np.array([0, 8, 16, 0]), weeks=8)  # rates 0, 1, 2, 0 a week
    >>> round(prior.a0, 3), round(prior.b0, 3)
    (0.947, 1.263)
    """
    counts = np.asarray(baseline_counts, dtype=np.float64)
    if weeks <= 0 or counts.size == 0:
        return GammaPrior(a0=1.0, b0=1.0)
    rates = counts / weeks
    mean = max(float(rates.mean()), 1.0 / (weeks * counts.size))
    spread = float(rates.var()) - mean / weeks
    b0 = weeks if spread <= 0 else min(mean / spread, float(weeks))
    return GammaPrior(a0=mean * b0, b0=b0)


def negative_binomial_tail(
    count: np.ndarray, baseline: np.ndarray, weeks: int, prior: GammaPrior
) -> np.ndarray:
    """``P(X >= count)`` for next week's count given `baseline` over `weeks` weeks.

    ``X`` is negative binomial with ``r = a0 + baseline`` and success probability
    ``p = (b0 + weeks) / (b0 + weeks + 1)`` (the gamma-Poisson predictive).

    >>> flat = GammaPrior(a0=1.0, b0=1.0)
    >>> negative_binomial_tail(np.array([0, 1, 3]), np.array([0, 0, 0]), 8, flat).round(4)
    array([1.   , 0.1  , 0.001])
    """
    count = np.asarray(count, dtype=np.int64)
    shape = prior.a0 + np.asarray(baseline, dtype=np.float64)
    success = (prior.b0 + weeks) / (prior.b0 + weeks + 1.0)
    log_first = shape * np.log(success)
    log_step = np.log1p(-success)

    def log_ratio(k: int, rows: np.ndarray) -> np.ndarray:  # log P(k + 1) - log P(k)
        return np.log(shape[rows] + k) - np.log(k + 1.0) + log_step

    return _upper_tail(count, log_first, log_ratio)


def poisson_tail(count: np.ndarray, mean: float) -> np.ndarray:
    """``P(X >= count)`` for ``X ~ Poisson(mean)``.

    >>> poisson_tail(np.array([0, 1, 2]), 1.0).round(4)
    array([1.    , 0.6321, 0.2642])
    """
    count = np.asarray(count, dtype=np.int64)
    if mean <= 0:
        return np.where(count <= 0, 1.0, 0.0)
    log_first = np.full(count.shape, -mean)
    log_mean = np.log(mean)

    def log_ratio(k: int, rows: np.ndarray) -> np.ndarray:
        return np.full(rows.size, log_mean - np.log(k + 1.0))

    return _upper_tail(count, log_first, log_ratio)


def _upper_tail(count: np.ndarray, log_first: np.ndarray, log_ratio) -> np.ndarray:
    """``1 - sum_{k < count} P(k)`` from ``log P(0)`` and the log ratio of successive terms.

    Works in logs (``P(0)`` underflows for large baselines) and one step of ``k`` at a
    time over the rows that still need terms: rows sorted by count, so the rows still
    summing are always a prefix and the work is the sum of the counts, not rows x max.
    """
    result = np.ones(count.shape)
    order = np.argsort(-count, kind="stable")
    needed = count[order]
    active = int(np.count_nonzero(needed > 0))
    if active == 0:
        return result
    rows = order[:active]
    log_term = log_first[rows].copy()
    cumulative = np.exp(log_term)
    k = 0
    while True:
        k += 1
        still = int(np.count_nonzero(needed[:active] > k))
        if still == 0:
            break
        log_term = log_term[:still] + log_ratio(k - 1, rows[:still])
        cumulative[:still] += np.exp(log_term)
    result[rows] = np.clip(1.0 - cumulative, 0.0, 1.0)
    return result
