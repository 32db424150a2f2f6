"""Drafting by prompt lookup and the accept/reject rule of speculative sampling.

>>> prompt_lookup_draft([5, 6, 7, 8, 5, 6], ngram_size=2, draft_tokens=3)
[7, 8, 5]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


# ---- drafting ----------------------------------------------------------------------------------
def prompt_lookup_draft(ids: Sequence[int], ngram_size: int, draft_tokens: int) -> list[int]:
    """Up to ``draft_tokens`` tokens that followed an earlier occurrence of the context's last n-gram.

    Longest n-gram first (``ngram_size`` down to 1), earliest match first, as llama-cpp-python's
    ``LlamaPromptLookupDecoding.find_candidate_pred_tokens``; [] when nothing matches.
    """
    arr = np.asarray(ids, dtype=np.int64)
    n_ids = arr.shape[0]
    for n in range(min(ngram_size, n_ids - 1), 0, -1):
        windows = np.lib.stride_tricks.sliding_window_view(arr, n)
        for idx in np.nonzero(np.all(windows == arr[-n:], axis=1))[0]:
            start = int(idx) + n
            end = min(start + draft_tokens, n_ids)
            if start < end:
                return [int(t) for t in arr[start:end]]
    return []


# ---- the accept/reject rule ----------------------------------------------------------------------
def accept_or_resample(p: np.ndarray, draft_token: int, q: np.ndarray | None, rng: np.random.Generator
                       ) -> tuple[bool, int]:
    """Speculative sampling for one position: ``(accepted, token)``.

    ``p`` is the target's distribution, ``q`` the drafter's (None: the draft was deterministic, as in prompt
    lookup, so q is one-hot on ``draft_token``). Accept the draft token x with probability min(1, p(x)/q(x));
    otherwise draw from the residual max(p - q, 0), renormalised. Then P(token = y) = q(y) min(1, p(y)/q(y)) +
    (1 - sum_x min(p(x), q(x))) * max(p(y) - q(y), 0) / sum_z max(p(z) - q(z), 0) = min(p, q)(y) + max(p - q, 0)(y)
    = p(y): the output follows the target, whatever the drafter proposed.
    """
    p = np.asarray(p, dtype=np.float64)
    if q is None:
        q = np.zeros_like(p)
        q[draft_token] = 1.0
    q = np.asarray(q, dtype=np.float64)
    qx = q[draft_token]
    if qx > 0 and rng.random() < min(1.0, p[draft_token] / qx):
        return True, int(draft_token)
    residual = np.maximum(p - q, 0.0)
    total = residual.sum()
    if total <= 0:  # p == q: the rejection had probability 0; fall back to the target itself
        residual, total = p, p.sum()
    return False, draw(residual / total, rng)


def draw(probs: np.ndarray, rng: np.random.Generator) -> int:
    """One token drawn from ``probs`` (inverse CDF of one uniform number)."""
    cdf = np.cumsum(probs)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), cdf.size - 1))
