"""Pure numpy logits warpers for the probability explorer.

Each ``apply_*`` function takes a 1-D logits vector and returns a NEW float64 array in which
filtered tokens are ``-inf``. They reproduce Hugging Face ``transformers`` logits processors
(``TemperatureLogitsWarper``, ``TopKLogitsWarper``, ``TopPLogitsWarper``, ``MinPLogitsWarper``,
``TypicalLogitsWarper``, ``RepetitionPenaltyLogitsProcessor``, ``NoRepeatNGramLogitsProcessor``)
value for value. :func:`warp` chains them in a chosen order -- Hugging Face's
(``GenerationMixin._get_logits_processor``: temperature first), llama.cpp's (temperature last) or vLLM's
(temperature, then min-p before top-k and top-p) -- so the explorer shows what the backend in use samples from::

    >>> apply_top_k([1.0, 2.0, 3.0, 4.0], 2).tolist()
    [-inf, -inf, 3.0, 4.0]

Ties: HF sorts with torch's unstable sort, so which of several EXACTLY equal logits top-p
cuts is unspecified there; here the lower token id wins (as in greedy argmax). Top-k keeps every
token tied with the k-th (as HF does). The "off" values of :class:`DecodingConfig`
(``top_k=0``, ``typical_p=1``, ``no_repeat_ngram_size=0``) are no-ops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from workbench.decoding import SAMPLER_ORDERS, DecodingConfig
from workbench.errors import ConfigError

#: HF's default for every filtering warper: never cut below this many tokens.
MIN_TOKENS_TO_KEEP = 1


@dataclass(frozen=True)
class TokenView:
    """One bar of the explorer chart: a token's probability before and after warping."""

    token_id: int
    text: str
    raw_prob: float  # softmax of the model's raw logits
    warped_prob: float  # softmax after warp(); 0 when the token was cut
    kept: bool  # False = cut by a warper or a penalty (greyed in the chart)


def _vector(logits) -> np.ndarray:
    """A float64 copy of a 1-D logits vector (never a view of the caller's array)."""
    arr = np.array(logits, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"logits must be a non-empty 1-D vector, got shape {arr.shape}")
    return arr


def _desc_order(values: np.ndarray) -> np.ndarray:
    """Indices from largest to smallest value; equal values keep ascending id order."""
    return np.argsort(-values, kind="stable")


def softmax(logits) -> np.ndarray:
    """Probabilities from logits (float64); ``-inf`` logits get probability 0."""
    x = _vector(logits)
    e = np.exp(x - x.max())
    return e / e.sum()


def _log_softmax(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max()
    return shifted - np.log(np.exp(shifted).sum())


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """Divide logits by ``temperature`` (<1 sharpens, >1 flattens); like TemperatureLogitsWarper."""
    if not temperature > 0:
        raise ConfigError(f"temperature must be > 0 to rescale logits (got {temperature}); use greedy decoding for 0.")
    return _vector(logits) / float(temperature)


def apply_top_k(logits, top_k: int, min_tokens_to_keep: int = MIN_TOKENS_TO_KEEP) -> np.ndarray:
    """Keep the ``top_k`` largest logits and every token tied with the k-th; ``0`` = off. Like TopKLogitsWarper."""
    x = _vector(logits)
    if top_k < 0:
        raise ConfigError(f"top_k must be >= 0 (got {top_k}); 0 turns it off.")
    if top_k == 0:
        return x
    k = min(max(int(top_k), min_tokens_to_keep), x.size)
    kth = np.partition(x, x.size - k)[x.size - k]
    x[x < kth] = -np.inf
    return x


def apply_top_p(logits, top_p: float, min_tokens_to_keep: int = MIN_TOKENS_TO_KEEP) -> np.ndarray:
    """Nucleus filtering: keep the most likely tokens whose probabilities add up to ``top_p``. Like TopPLogitsWarper.

    As in HF, a token is cut when the cumulative probability of it and all less likely tokens is
    ``<= 1 - top_p``, so ``top_p=1`` still cuts tokens whose probability underflows to 0.
    """
    x = _vector(logits)
    if not 0 <= top_p <= 1:
        raise ConfigError(f"top_p must be in [0, 1] (got {top_p}); 1 turns it off.")
    ascending = _desc_order(x)[::-1]  # least likely first; among ties the higher id comes first (is cut first)
    cumulative = np.cumsum(softmax(x[ascending]))
    remove = cumulative <= 1 - float(top_p)
    remove[max(x.size - min_tokens_to_keep, 0) :] = False
    x[ascending[remove]] = -np.inf
    return x


def apply_min_p(logits, min_p: float, min_tokens_to_keep: int = MIN_TOKENS_TO_KEEP) -> np.ndarray:
    """Cut tokens whose probability is below ``min_p`` x p(most likely token); ``0`` = off. Like MinPLogitsWarper."""
    x = _vector(logits)
    if not 0 <= min_p <= 1:
        raise ConfigError(f"min_p must be in [0, 1] (got {min_p}); 0 turns it off.")
    probs = softmax(x)
    remove = probs < float(min_p) * probs.max()
    remove[_desc_order(probs)[: min(min_tokens_to_keep, x.size)]] = False
    x[remove] = -np.inf
    return x


def apply_typical_p(logits, typical_p: float, min_tokens_to_keep: int = MIN_TOKENS_TO_KEEP) -> np.ndarray:
    """Locally typical sampling (Meister et al. 2022): keep the tokens whose surprisal is closest to the
    entropy until they hold ``typical_p`` of the mass; ``1`` = off. Like TypicalLogitsWarper."""
    x = _vector(logits)
    if not 0 < typical_p <= 1:
        raise ConfigError(f"typical_p must be in (0, 1] (got {typical_p}); 1 turns it off.")
    if typical_p == 1:
        return x
    normalized = _log_softmax(x)
    p = np.exp(normalized)
    with np.errstate(invalid="ignore"):  # -inf * 0 = nan for cut tokens; nansum skips them as torch does
        entropy = -np.nansum(normalized * p)
    shifted = np.abs(-normalized - entropy)
    order = np.argsort(shifted, kind="stable")
    sorted_scores = shifted[order]
    cumulative = np.cumsum(softmax(x[order]))
    last = min(int((cumulative < float(typical_p)).sum()), x.size - 1)
    remove = sorted_scores > sorted_scores[last]
    remove[:min_tokens_to_keep] = False
    x[order[remove]] = -np.inf
    return x


def _valid_ids(previous_ids: Sequence[int], vocab_size: int) -> np.ndarray:
    """Previous ids as an int array, dropping ids outside the logits vector (HF drops ids >= vocab)."""
    ids = np.asarray(list(previous_ids), dtype=np.int64)
    return ids[(ids >= 0) & (ids < vocab_size)]


def apply_repetition_penalty(logits, previous_ids: Sequence[int], penalty: float) -> np.ndarray:
    """CTRL repetition penalty (Keskar et al. 2019): each token seen before gets its logit divided by
    ``penalty`` when positive, multiplied when negative (once, however often it occurred).
    Like RepetitionPenaltyLogitsProcessor."""
    x = _vector(logits)
    if not penalty > 0:
        raise ConfigError(f"repetition_penalty must be > 0 (got {penalty}); 1 turns it off.")
    seen = np.unique(_valid_ids(previous_ids, x.size))
    score = x[seen]
    x[seen] = np.where(score < 0, score * float(penalty), score / float(penalty))
    return x


def apply_no_repeat_ngram(logits, previous_ids: Sequence[int], n: int) -> np.ndarray:
    """Ban every token that would complete an n-gram already present in ``previous_ids``; ``0`` = off.
    Like NoRepeatNGramLogitsProcessor (``n=1`` bans every token seen before)."""
    x = _vector(logits)
    if n < 0:
        raise ConfigError(f"no_repeat_ngram_size must be >= 0 (got {n}); 0 turns it off.")
    ids = np.asarray(list(previous_ids), dtype=np.int64)
    if n == 0 or ids.size < n:
        return x
    windows = np.lib.stride_tricks.sliding_window_view(ids, n)
    prefix = ids[ids.size + 1 - n :]
    matches = (windows[:, :-1] == prefix).all(axis=1)
    banned = windows[matches, -1]
    x[banned[(banned >= 0) & (banned < x.size)]] = -np.inf
    return x


def apply_penalties(logits, cfg: DecodingConfig, previous_ids: Sequence[int] = ()) -> np.ndarray:
    """Repetition penalty then no-repeat n-grams over ``previous_ids`` (prompt + output), as HF applies them."""
    x = _vector(logits)
    if cfg.repetition_penalty != 1.0:
        x = apply_repetition_penalty(x, previous_ids, cfg.repetition_penalty)
    if cfg.no_repeat_ngram_size > 0:
        x = apply_no_repeat_ngram(x, previous_ids, cfg.no_repeat_ngram_size)
    return x


def apply_samplers(logits, cfg: DecodingConfig, order: Sequence[str]) -> np.ndarray:
    """The sampling warpers of ``cfg`` in ``order`` (names of :data:`~workbench.decoding.SAMPLERS`); off ones skip."""
    x = _vector(logits)
    steps = {
        "temperature": lambda v: apply_temperature(v, cfg.temperature),
        "top_k": lambda v: apply_top_k(v, cfg.top_k),
        "top_p": lambda v: apply_top_p(v, cfg.top_p),
        "min_p": lambda v: apply_min_p(v, cfg.min_p),
        "typical_p": lambda v: apply_typical_p(v, cfg.typical_p),
    }
    for name in cfg.samplers_on(tuple(order)):
        x = steps[name](x)
    return x


def warp(logits, cfg: DecodingConfig, previous_ids: Sequence[int] = (), order: Sequence[str] | None = None
         ) -> np.ndarray:
    """The logits a token is drawn from under ``cfg``: penalties (repetition, no-repeat n-grams) over the
    whole text, then (only when sampling) the warpers in ``order`` -- by default ``cfg.sampler_order``, or
    Hugging Face's (temperature, top-k, top-p, min-p, typical-p) when the config leaves it to the backend.
    Pass the backend's native order (``backend.sampler_order``) to see what that backend samples from."""
    x = apply_penalties(logits, cfg, previous_ids)
    if not cfg.do_sample:
        return x
    return apply_samplers(x, cfg, cfg.order_on(tuple(order) if order else SAMPLER_ORDERS["transformers"]))


TokenTexts = Callable[[int], str] | Sequence[str] | Mapping[int, str]


def explain(
    logits,
    cfg: DecodingConfig,
    previous_ids: Sequence[int] = (),
    token_texts: TokenTexts | None = None,
    top: int = 20,
    order: Sequence[str] | None = None,
) -> list[TokenView]:
    """The ``top`` most likely tokens under the RAW logits (ties: lower id first), with their
    probability before and after :func:`warp`. ``token_texts`` maps an id to its text (a callable
    such as ``backend.token_text``, a list or a dict); without it the text is the id."""
    raw = _vector(logits)
    raw_probs = softmax(raw)
    warped = warp(raw, cfg, previous_ids, order)
    warped_probs = softmax(warped)
    views = []
    for i in _desc_order(raw_probs)[: max(int(top), 0)]:
        tid = int(i)
        if token_texts is None:
            text = str(tid)
        else:
            text = token_texts(tid) if callable(token_texts) else token_texts[tid]
        views.append(
            TokenView(tid, text, float(raw_probs[tid]), float(warped_probs[tid]), bool(np.isfinite(warped[tid])))
        )
    return views


def sample_next(logits, cfg: DecodingConfig, rng: np.random.Generator, previous_ids: Sequence[int] = (),
                order: Sequence[str] | None = None) -> int:
    """The next token id under ``cfg``: argmax of the warped logits when not sampling (lowest id on
    ties; beam search is not modelled), otherwise one draw from softmax(warp(logits)) with ``rng``."""
    warped = warp(logits, cfg, previous_ids, order)
    if not cfg.do_sample:
        return int(np.argmax(warped))
    cdf = np.cumsum(softmax(warped))
    # side="right" never lands on a zero-probability token (its cdf equals its predecessor's)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), cdf.size - 1))
