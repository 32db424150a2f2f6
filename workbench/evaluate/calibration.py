"""Contextual calibration of label scores (Zhao et al. 2021, "Calibrate before use"), pure arithmetic.

The label probabilities of content-free inputs ("N/A", "", "[MASK]") after the same demonstrations estimate
the prompt's bias ``p_cf``; predictions are corrected with ``W = diag(p_cf)^-1``. What is corrected are
probabilities: the label words' summed log-likelihoods, exponentiated and normalised over the labels, as in the
reference (tonyzhaozh/few-shot-learning, whose labels are one token each and never divided by a length). A
length-normalised score is not a probability, so a strategy refuses calibration with one
(:class:`~workbench.evaluate.strategies.Strategy`).

    >>> from fractions import Fraction as F
    >>> calibrate([F(3, 4), F(1, 4)], [F(3, 4), F(1, 4)])
    [Fraction(1, 2), Fraction(1, 2)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from workbench.errors import ConfigError

#: Content-free inputs of contextual calibration (Zhao et al. 2021, Section 5).
CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")


def label_probs(logliks: Sequence[float]) -> list[float]:
    """Log-likelihoods of the label words -> probabilities normalised over the label set."""
    top = max(logliks)
    weights = [math.exp(x - top) for x in logliks]
    total = sum(weights)
    return [w / total for w in weights]


def content_free_prior(logliks: Sequence[Sequence[float]]) -> list[float]:
    """``p_cf``: the label probabilities of the content-free inputs, averaged, normalised.

    As in Zhao et al.'s code: the raw probabilities are averaged over the inputs and then
    normalised (one shared shift before exponentiating changes nothing after normalising).
    """
    if not logliks:
        raise ConfigError("Calibration needs at least one content-free input.")
    top = max(max(row) for row in logliks)
    rows = [[math.exp(x - top) for x in row] for row in logliks]
    mean = [sum(col) / len(rows) for col in zip(*rows, strict=True)]
    total = sum(mean)
    return [m / total for m in mean]


def calibrate(probs: Sequence, p_cf: Sequence) -> list:
    """Contextual calibration: ``W p`` with ``W = diag(p_cf)^-1`` (b = 0), renormalised to sum to 1.

    Pure arithmetic, so exact inputs (``fractions.Fraction``) give exact outputs.
    """
    if len(probs) != len(p_cf):
        raise ConfigError(f"{len(probs)} label probabilities but {len(p_cf)} content-free ones.")
    if any(q <= 0 for q in p_cf):
        raise ConfigError("A content-free probability is 0; calibration would divide by zero.")
    scaled = [p / q for p, q in zip(probs, p_cf, strict=True)]
    total = sum(scaled)
    return [s / total for s in scaled]


def argmax(values: Sequence) -> int:
    """Index of the largest value; ties go to the first (label order)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))
