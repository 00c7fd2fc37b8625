"""Small-count-safe tests of weekly counts: is this count unusually high?

Two questions, both answered with exact tail probabilities rather than a raw top-N, so
that 1 incident against 0 is not news while 12 against a usual 1 is:

- *Emerging*: is this week's count high against the key's own baseline? The key's weekly
  rate gets a gamma prior fitted to every key's baseline rate (empirical Bayes: keys with
  little history borrow strength from the rest), updated with its baseline count ``y``
  over ``B`` weeks: ``Gamma(a0 + y, b0 + B)``. This week's count ``x`` is then
  negative-binomial, and the p-value is ``P(X >= x)``. The shrunk rate ratio
  ``((a0 + x) / (b0 + 1)) / ((a0 + y) / (b0 + B))`` says how much higher.
- *Chronic*: is the key's count over the whole baseline far above what a typical key
  collects in as many weeks, allowing for weeks that vary? A typical key's weekly count
  has the mean ``m`` of all keys' weeks and, week to week, ``phi`` times the variance a
  Poisson count would have (`within_key_dispersion`, pooled over the keys' own weeks, so
  that differences between keys do not inflate it). Its total over ``B`` weeks is then
  negative binomial with mean ``B m`` and variance ``phi B m``, and the p-value is its
  upper tail at the key's total (`overdispersed_tail`). And its escalations must be a
  larger share of its own incidents than the typical share (`binomial_tail`): a busy key
  that escalates in proportion to its volume has a workload, not an escalation problem.

Pure and vectorised: arrays in, arrays out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Upper tails are summed until their terms stop mattering; this bounds the loop for
# absurd inputs (a count millions above its mean has a tail of 0 to double precision).
_MAX_UPPER_TERMS = 100_000

__all__ = [
    "GammaPrior",
    "binomial_tail",
    "fit_gamma_prior",
    "negative_binomial_tail",
    "overdispersed_tail",
    "poisson_tail",
    "within_key_dispersion",
]

# ``log_ratio(k, rows)``: ``log P(k + 1) - log P(k)`` for those rows; ``k`` is a number or
# an array over the rows.
_LogRatio = Callable[[int | npt.NDArray[np.float64], npt.NDArray[np.intp]], np.ndarray]


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
    log_step = float(np.log1p(-success))

    # log P(k + 1) - log P(k)
    def log_ratio(k: int | npt.NDArray[np.float64], rows: npt.NDArray[np.intp]) -> np.ndarray:
        return np.log(shape[rows] + k) - np.log(k + 1.0) + log_step

    return _upper_tail(count, log_first, log_ratio)


def poisson_tail(count: np.ndarray, mean: float | np.ndarray) -> np.ndarray:
    """``P(X >= count)`` for ``X ~ Poisson(mean)`` (one mean, or one per count).

    >>> poisson_tail(np.array([0, 1, 2]), 1.0).round(4)
    array([1.    , 0.6321, 0.2642])
    >>> poisson_tail(np.array([1, 1]), np.array([0.0, 1.0])).round(4)
    array([0.    , 0.6321])
    """
    count = np.asarray(count, dtype=np.int64)
    means = np.broadcast_to(np.asarray(mean, dtype=np.float64), count.shape)
    positive = means > 0
    result = np.where(count <= 0, 1.0, 0.0)  # what a mean of 0 gives
    if not positive.any():
        return result
    log_mean: npt.NDArray[np.float64] = np.log(np.where(positive, means, 1.0))
    log_first = -means

    def log_ratio(k: int | npt.NDArray[np.float64], rows: npt.NDArray[np.intp]) -> np.ndarray:
        return log_mean[rows] - np.log(k + 1.0)

    tail = _upper_tail(count, log_first, log_ratio)
    return np.where(positive, tail, result)


def within_key_dispersion(weekly: np.ndarray) -> float:
    """The pooled index of dispersion of keys' weekly counts around their own means.

    ``sum over keys and weeks of (x - key mean)^2`` over ``sum over keys of (weeks - 1)
    x key mean``: 1 for Poisson weeks, more when a key's weeks vary more than that; never
    below 1 (a steadier-than-Poisson week is not evidence of anything), 1 without data.

    >>> within_key_dispersion(np.array([[2, 2, 2, 2], [0, 4, 0, 4]]))  # var 16/3 over 4 x 3
    1.3333333333333333
    """
    counts = np.asarray(weekly, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[1] < 2:
        return 1.0
    means = counts.mean(axis=1, keepdims=True)
    expected = float(((counts.shape[1] - 1) * means).sum())
    if expected <= 0:
        return 1.0
    return max(1.0, float(((counts - means) ** 2).sum()) / expected)


def overdispersed_tail(count: np.ndarray, mean: float, dispersion: float) -> np.ndarray:
    """``P(X >= count)`` for a count with mean `mean` and variance `dispersion` x `mean`.

    Negative binomial with ``r = mean / (dispersion - 1)`` and success probability
    ``1 / dispersion``; Poisson when `dispersion` is 1.

    >>> overdispersed_tail(np.array([0, 3, 9]), 3.0, 1.0).round(4)  # Poisson(3)
    array([1.    , 0.5768, 0.0038])
    >>> overdispersed_tail(np.array([3, 9]), 3.0, 2.0).round(4)  # NB(r=3, p=1/2)
    array([0.5   , 0.0327])
    """
    count = np.asarray(count, dtype=np.int64)
    if dispersion <= 1.0 + 1e-12:
        return poisson_tail(count, mean)
    if mean <= 0:
        return np.where(count <= 0, 1.0, 0.0)
    shape = np.full(count.shape, mean / (dispersion - 1.0))
    success = 1.0 / dispersion
    log_first = shape * np.log(success)
    log_step = float(np.log1p(-success))

    def log_ratio(k: int | npt.NDArray[np.float64], rows: npt.NDArray[np.intp]) -> np.ndarray:
        return np.log(shape[rows] + k) - np.log(k + 1.0) + log_step

    return _upper_tail(count, log_first, log_ratio)


def binomial_tail(count: np.ndarray, trials: np.ndarray, share: float) -> np.ndarray:
    """``P(X >= count)`` for ``X ~ Binomial(trials, share)`` (one trials per count).

    >>> binomial_tail(np.array([0, 2, 3, 4]), np.array([3, 3, 3, 3]), 0.5).round(4)
    array([1.   , 0.5  , 0.125, 0.   ])
    """
    count = np.asarray(count, dtype=np.int64)
    trials = np.asarray(trials, dtype=np.float64)
    if share <= 0 or share >= 1:
        certain = trials if share >= 1 else np.zeros(trials.shape)
        return np.where(count <= certain, 1.0, 0.0)
    log_first = trials * np.log1p(-share)
    log_odds = float(np.log(share) - np.log1p(-share))

    def log_ratio(k: int | npt.NDArray[np.float64], rows: npt.NDArray[np.intp]) -> np.ndarray:
        # log 0 past the last trial: the terms end there
        with np.errstate(divide="ignore"):
            return np.log(np.maximum(trials[rows] - k, 0.0)) - np.log(k + 1.0) + log_odds

    tail = _upper_tail(count, log_first, log_ratio)
    return np.where(count > trials, 0.0, np.nan_to_num(tail, nan=0.0))


def _upper_tail(count: np.ndarray, log_first: np.ndarray, log_ratio: _LogRatio) -> np.ndarray:
    """``P(X >= count)`` from ``log P(0)`` and the log ratio of successive terms.

    ``log_ratio(k, rows)`` is ``log P(k + 1) - log P(k)`` for those rows (``k`` a number
    or an array over them). Works in logs (``P(0)`` underflows for large baselines).
    First the lower sum ``P(0) + ... + P(count - 1)``, one step of ``k`` at a time over
    the rows that still need terms (rows sorted by count, so they are always a prefix
    and the work is the sum of the counts). Where that sum passes 1/2 the tail is small
    and ``1 - sum`` would be rounding noise, so the tail is summed upwards from
    ``P(count)`` instead, until the terms no longer change it.
    """
    result = np.ones(count.shape)
    order = np.argsort(-count, kind="stable")
    needed = count[order]
    active = int(np.count_nonzero(needed > 0))
    if active == 0:
        return result
    rows, needed = order[:active], needed[:active]
    log_term = log_first[rows].copy()
    cumulative = np.exp(log_term)
    last = np.empty(active)  # log P(count - 1) of each row
    summing, k = active, 0
    while summing:
        k += 1
        still = int(np.count_nonzero(needed > k))
        last[still:summing] = log_term[still:summing]
        if still:
            log_term = log_term[:still] + log_ratio(k - 1, rows[:still])
            cumulative[:still] += np.exp(log_term)
        summing = still
    tail = 1.0 - cumulative
    small = np.flatnonzero(cumulative > 0.5)
    if small.size:
        at = needed[small].astype(np.float64)
        log_term = last[small] + log_ratio(at - 1.0, rows[small])
        upper = np.exp(log_term)
        for _ in range(_MAX_UPPER_TERMS):
            log_term = log_term + log_ratio(at, rows[small])
            at = at + 1.0
            term = np.exp(log_term)
            upper += term
            if np.all(term <= upper * 1e-17):
                break
        tail[small] = upper
    result[rows] = np.clip(tail, 0.0, 1.0)
    return result
