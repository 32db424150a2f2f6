"""Running speculative decoding: the checks, the traced loop (:func:`trace`), the timed comparison with the
libraries' own implementations (:func:`compare`) and the near-tie reference (:func:`plain_reference`).

Everything backend-specific -- the verifier, the end-of-text tokens, the libraries' speculative loops -- comes
from the backend's capability (:meth:`Backend.speculation() <workbench.backends.base.Backend.speculation>`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from functools import cache

import numpy as np

from workbench.backends.base import Backend, Timer, truncate_at_stop
from workbench.backends.records import Generation
from workbench.backends.speculation import Speculation, Verifier
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError
from workbench.speculative.drafting import accept_or_resample, draw, prompt_lookup_draft
from workbench.speculative.records import (
    Comparison,
    PlainReference,
    SpecToken,
    SpeculativeConfig,
    SpeculativeResult,
    Step,
    Timing,
)
from workbench.warpers import softmax, warp


# ---- checks ----------------------------------------------------------------------------------------
def check_decoding(cfg: DecodingConfig, spec: SpeculativeConfig) -> None:
    """One-line errors for settings speculative decoding cannot honour, before any model is loaded: beam search,
    several samples, a draft model whose path does not resolve."""
    if cfg.num_beams > 1:
        raise ConfigError("Speculative decoding verifies one sequence; set num_beams=1 (beam search cannot be "
                          "combined with it).")
    if cfg.n != 1:
        raise ConfigError("Speculative decoding runs one sample at a time; set n=1.")
    if spec.draft_model is not None:
        from workbench.backends import resolve_model

        resolve_model(spec.draft_model)  # ModelError naming the path when it is unknown


def check_settings(backend: Backend, cfg: DecodingConfig, spec: SpeculativeConfig) -> Speculation:
    """:func:`check_decoding`, and what the backend cannot do; the backend's speculative decoding."""
    check_decoding(cfg, spec)
    speculation = backend.speculation()
    if speculation is None:
        raise ConfigError(f"Speculative decoding needs the llama.cpp or transformers backend, not {backend.name}.")
    if spec.draft_model is not None and not speculation.draft_models:
        raise ConfigError("A draft model needs the transformers backend (llama-cpp-python ships prompt lookup "
                          "only); choose the transformers backend, or prompt lookup.")
    return speculation


def load_draft(spec: SpeculativeConfig) -> Backend:
    """The draft model of ``draft:MODEL`` on transformers (a ModelError names an unknown path)."""
    return _load_draft(spec.draft_model)


@cache
def _load_draft(model: str) -> Backend:
    from workbench.backends import load_backend

    return load_backend(model, "transformers")


# ---- the traced loop -----------------------------------------------------------------------------
def trace(backend: Backend, prompt: str, cfg: DecodingConfig | None = None,
          spec: SpeculativeConfig | None = None) -> SpeculativeResult:
    """Generate with prompt-lookup drafting and the target's verification, recording every token's origin.

    Greedy decoding gives the target's own greedy text (up to floating-point differences between one-token and
    several-token passes); sampling follows :func:`accept_or_resample` with ``cfg.seed``.
    """
    cfg = cfg or DecodingConfig()
    spec = spec or SpeculativeConfig()
    speculation = check_settings(backend, cfg, spec)
    if spec.draft_model is not None:
        raise ConfigError("Token origins are traced for prompt lookup; a draft model runs through transformers' "
                          "assisted generation (compare) without them.")
    ids = backend.prompt_ids(prompt, cfg)
    with speculation.verifying(ids, cfg) as held:
        return _trace(backend, speculation.decode, ids, cfg, spec, held.verifier, held.eos_ids)


def _trace(backend: Backend, decode: Callable[[list[int]], str], prompt_ids: list[int], cfg: DecodingConfig,
           spec: SpeculativeConfig, verifier: Verifier, eos_ids: frozenset[int]) -> SpeculativeResult:
    timer = Timer()
    rng = np.random.default_rng(cfg.seed)
    order = cfg.order_on(backend.sampler_order)
    out: list[int] = []
    origins: list[tuple[str, int | None]] = []
    steps: list[Step] = []
    finish = "length"
    while len(out) < cfg.max_new_tokens:
        ctx = prompt_ids + out
        left = cfg.max_new_tokens - len(out)
        draft = []
        if out or verifier.drafts_first:
            draft = prompt_lookup_draft(ctx, spec.ngram_size, spec.draft_tokens)[:verifier.draft_room(len(ctx), left)]
        rows = verifier.logits(ctx, draft)
        accepted = 0
        new: list[tuple[int, str, int | None]] = []
        for j in range(len(draft) + 1):
            logits = warp(rows[j], cfg, ctx + draft[:j], order)
            proposed = draft[j] if j < len(draft) else None
            if not cfg.do_sample:
                token = int(np.argmax(logits))
                ok = proposed is not None and token == proposed
            elif proposed is not None:
                ok, token = accept_or_resample(softmax(logits), proposed, None, rng)
            else:
                ok, token = False, draw(softmax(logits), rng)
            if ok:
                accepted += 1
                new.append((token, "accepted", proposed))
                if token in eos_ids:
                    break
                continue
            new.append((token, "rejected" if proposed is not None else "target", proposed))
            break
        new = new[:left]  # draft positions past max_new_tokens were verified but are not output
        accepted = sum(origin == "accepted" for _, origin, _ in new)
        verifier.keep(len(ctx) + accepted)
        steps.append(Step(min(len(draft), left), accepted, len(new)))
        ended = False
        for token, origin, proposed in new:
            out.append(token)
            origins.append((origin, proposed))
            if token in eos_ids:
                ended = True
                break
        if ended:
            finish = "stop"
            break
        if cfg.stop and truncate_at_stop(decode(out), cfg.stop)[1]:
            finish = "stop"
            break
    seconds = timer.seconds()
    text, _ = truncate_at_stop(decode(out), cfg.stop)
    tokens, prev = [], ""
    for i, (token, (origin, proposed)) in enumerate(zip(out, origins, strict=True)):
        upto = decode(out[: i + 1])
        piece = ""
        if not upto.endswith("\ufffd"):  # an incomplete character waits for the token that completes it
            piece, prev = upto[len(prev):], upto
        tokens.append(SpecToken(token, piece, origin, proposed))
    return SpeculativeResult(text, tuple(tokens), tuple(steps), len(prompt_ids), seconds, finish, backend.name, spec)


# ---- the libraries' own speculative decoding, timed against plain decoding ----------------------------


# ---- the libraries' own speculative decoding, timed against plain decoding ----------------------------
def assisted(backend: Backend, prompt: str, cfg: DecodingConfig, spec: SpeculativeConfig) -> Generation:
    """One run of the library's own speculative decoding (a draft model's assisted generation), untimed against
    plain decoding and without token origins."""
    speculation = check_settings(backend, cfg, spec)
    draft = load_draft(spec) if spec.draft_model is not None else None
    ids = backend.prompt_ids(prompt, cfg)
    runs = speculation.timed_runs(prompt, ids, cfg, spec.draft_tokens, spec.ngram_size, draft,
                                  draft_name=spec.draft_model or "")
    return runs.speculative()


def compare(backend: Backend, prompt: str, cfg: DecodingConfig | None = None, spec: SpeculativeConfig | None = None,
            repeats: int = 1, with_trace: bool = True, with_backend_plain: bool = False) -> Comparison:
    """Plain and speculative decoding of one prompt, ``repeats`` interleaved runs each (medians), plus the trace.

    llama.cpp: the speculative runs are llama-cpp-python's own ``LlamaPromptLookupDecoding`` loop; the plain runs
    are the same loop on the same ``Llama`` with the drafter proposing nothing (one-token passes: plain decoding,
    with the same window, the same ``logits_all=True`` and the same cache), so the two differ only in drafting.
    ``with_backend_plain`` adds plain runs of the user's own backend (``logits_all=False``) as ``backend_plain``.
    The texts can still differ: llama.cpp's CPU kernels give a several-token verification pass slightly different
    logits from a one-token pass (:data:`~workbench.speculative.records.BATCH_GAP_CHANGE`), so a near-tie can flip.
    transformers: ``generate`` with ``prompt_lookup_num_tokens`` or ``assistant_model`` against ``generate``
    without, both without the backend's prompt cache.
    """
    cfg = cfg or DecodingConfig()
    spec = spec or SpeculativeConfig()
    speculation = check_settings(backend, cfg, spec)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be a whole number of runs, 1 or more (got {repeats!r}).")
    draft = load_draft(spec) if spec.draft_model is not None else None
    ids = backend.prompt_ids(prompt, cfg)
    timed = speculation.timed_runs(prompt, ids, cfg, spec.draft_tokens, spec.ngram_size, draft, with_backend_plain,
                                   draft_name=spec.draft_model or "")
    ways = {"plain": timed.plain, "spec": timed.speculative}
    if timed.backend_plain is not None:
        ways["backend"] = timed.backend_plain
    runs: dict[str, list[Generation]] = {name: [] for name in ways}
    for i in range(repeats):  # interleaved, the order alternating, so drift in machine load hits all alike
        for name in (list(ways) if i % 2 == 0 else list(reversed(ways))):
            runs[name].append(ways[name]())
    traced = trace(backend, prompt, cfg, spec) if with_trace and draft is None else None
    plain, fast_t = _timing(timed.plain_label, runs["plain"]), _timing(timed.label, runs["spec"])
    own = _timing("plain (the backend's own Llama, logits_all=False)", runs["backend"]) if "backend" in runs else None
    return Comparison(traced, plain, fast_t, plain.text == fast_t.text, own)


def _timing(label: str, gens: list[Generation]) -> Timing:
    return Timing(label, gens[-1].text, gens[-1].completion_tokens, tuple(round(g.seconds, 4) for g in gens),
                  statistics.median(g.tokens_per_second for g in gens))


def plain_reference(backend: Backend, prompt: str, cfg: DecodingConfig) -> PlainReference:
    """Plain greedy decoding (llama.cpp) on the speculative ``Llama``, reading each chosen token's top-2 gap from
    the ``Llama``'s ``logits_all`` rows."""
    speculation = backend.speculation()
    found = None if speculation is None or cfg.do_sample else speculation.plain_rows(prompt, cfg)
    if found is None:
        raise ConfigError("The near-tie reference is for greedy decoding on llama.cpp.")
    gen, rows = found
    top2 = np.sort(rows, axis=1)[:, -2:]
    return PlainReference(gen, tuple(int(i) for i in rows.argmax(axis=1)), tuple(float(g) for g in top2[:, 1] - top2[:, 0]))
