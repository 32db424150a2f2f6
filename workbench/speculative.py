"""Speculative decoding: draft several tokens cheaply, verify them in one pass of the target model.

Two ways to run it, side by side:

* :func:`trace` -- the workbench's own loop, so that every output token's origin is known. Prompt-lookup
  drafting (Saxena's n-gram lookup, the algorithm of llama-cpp-python's ``LlamaPromptLookupDecoding``) proposes
  up to ``draft_tokens`` tokens; ONE forward pass of the target over the context plus the draft gives its
  logits at every draft position (transformers: one ``model(...)`` call with a KV cache; llama.cpp: ``eval`` of
  the draft in a ``Llama`` built with ``logits_all=True``). Greedy: a draft token is kept while it equals the
  target's own choice; the first disagreement is replaced by the target's token. Sampling: the accept/reject
  rule of Leviathan et al. (2023) / Chen et al. (2023), :func:`accept_or_resample`, which leaves the target's
  distribution unchanged.
* :func:`compare` -- the libraries' own implementations for the speed figure, measured against plain decoding
  of the same prompt and settings in the same call: llama-cpp-python's ``LlamaPromptLookupDecoding`` passed as
  ``draft_model=``, transformers' ``prompt_lookup_num_tokens`` and assisted generation (``assistant_model=``,
  with ``tokenizer=``/``assistant_tokenizer=`` -- universal assisted decoding -- when the tokenizers differ).

>>> prompt_lookup_draft([5, 6, 7, 8, 5, 6], ngram_size=2, draft_tokens=3)
[7, 8, 5]
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from workbench.backends.base import Backend, Generation, Timer, truncate_at_stop
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError
from workbench.warpers import softmax, warp

#: Upper bound on drafted tokens per step; beyond this a rejected draft wastes most of a pass.
MAX_DRAFT_TOKENS = 64
#: Upper bound on the n-gram matched against the context.
MAX_NGRAM_SIZE = 8
#: How an output token came about.
ORIGINS = ("accepted", "rejected", "target")
#: What each origin means, for legends.
ORIGIN_MEANING = {
    "accepted": "drafted and accepted by the target (no pass of its own)",
    "rejected": "a drafted token was rejected here; this is the target's token in its place",
    "target": "produced by the target with nothing drafted at this position (or the bonus token after a fully "
              "accepted draft)",
}


@dataclass(frozen=True)
class SpeculativeConfig:
    """How to draft. Validated on creation; invalid values raise ConfigError."""

    method: str = "prompt-lookup"  # "prompt-lookup" or "draft:MODEL" (a registry id or a local path)
    draft_tokens: int = 10  # tokens drafted per verification step (llama-cpp-python's num_pred_tokens default)
    ngram_size: int = 2  # longest n-gram looked up in the context (llama-cpp-python's max_ngram_size default)

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not (
            self.method == "prompt-lookup" or (self.method.startswith("draft:") and self.method[6:].strip())
        ):
            raise ConfigError(f"Unknown speculative method {self.method!r}; use prompt-lookup or draft:MODEL.")
        if isinstance(self.draft_tokens, bool) or not isinstance(self.draft_tokens, int) or not (
            1 <= self.draft_tokens <= MAX_DRAFT_TOKENS
        ):
            raise ConfigError(f"draft_tokens must be a whole number from 1 to {MAX_DRAFT_TOKENS} "
                              f"(got {self.draft_tokens!r}).")
        if isinstance(self.ngram_size, bool) or not isinstance(self.ngram_size, int) or not (
            1 <= self.ngram_size <= MAX_NGRAM_SIZE
        ):
            raise ConfigError(f"ngram_size must be a whole number from 1 to {MAX_NGRAM_SIZE} "
                              f"(got {self.ngram_size!r}).")

    @property
    def draft_model(self) -> str | None:
        """The draft model named by ``draft:MODEL``, None for prompt lookup."""
        return self.method[6:].strip() if self.method.startswith("draft:") else None


@dataclass(frozen=True)
class SpecToken:
    """One output token and how it was produced."""

    token_id: int
    text: str  # its piece of the output text (multi-byte characters land on the token that completes them)
    origin: str  # one of ORIGINS
    drafted: int | None = None  # the draft token proposed at this position; None when nothing was drafted


@dataclass(frozen=True)
class Step:
    """One verification pass of the target model."""

    drafted: int  # draft tokens sent with the pass
    accepted: int  # of them, how many the target kept
    produced: int  # output tokens the pass yielded (accepted + the target's own token, fewer at the end)


@dataclass(frozen=True)
class SpeculativeResult:
    """A traced speculative generation: the text, every token's origin and every step."""

    text: str
    tokens: tuple[SpecToken, ...]
    steps: tuple[Step, ...]
    prompt_tokens: int
    seconds: float
    finish_reason: str  # "stop" (end of text or a stop string) or "length"
    backend: str  # the backend's name
    config: SpeculativeConfig

    @property
    def counts(self) -> dict[str, int]:
        """Output tokens per origin; they add up to the output length."""
        return {o: sum(t.origin == o for t in self.tokens) for o in ORIGINS}

    @property
    def drafted(self) -> int:
        return sum(s.drafted for s in self.steps)

    @property
    def accepted(self) -> int:
        return sum(s.accepted for s in self.steps)

    @property
    def acceptance_rate(self) -> float:
        """Accepted draft tokens / drafted tokens (0 when nothing was drafted)."""
        return self.accepted / self.drafted if self.drafted else 0.0

    @property
    def target_passes(self) -> int:
        return len(self.steps)

    @property
    def passes_saved(self) -> int:
        """Target passes plain decoding would have needed beyond these (one per output token)."""
        return len(self.tokens) - len(self.steps)

    @property
    def tokens_per_second(self) -> float:
        return len(self.tokens) / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Timing:
    """Median tokens/s of one way of generating over interleaved runs."""

    label: str  # "plain", "prompt-lookup (llama-cpp-python)", ...
    text: str  # the text of the last run
    completion_tokens: int  # tokens of the last run
    seconds: tuple[float, ...]  # every run's wall-clock seconds
    tokens_per_second: float  # median over the runs


@dataclass(frozen=True)
class Comparison:
    """Speculative against plain decoding of the same prompt and settings, measured in one call."""

    trace: SpeculativeResult | None  # the traced run (token origins); None for a draft model (no origins)
    plain: Timing
    speculative: Timing  # the library's own speculative implementation
    same_text: bool  # speculative text == plain text (expected under greedy decoding)
    backend_plain: Timing | None = None  # llama.cpp, when asked: plain decoding on the user's own backend

    @property
    def speed_ratio(self) -> float:
        """Speculative tokens/s over plain tokens/s (> 1: speculative is faster)."""
        return self.speculative.tokens_per_second / self.plain.tokens_per_second if self.plain.tokens_per_second else 0.0

    @property
    def backend_speed_ratio(self) -> float | None:
        """Speculative tokens/s over the user's own backend's plain tokens/s; None when not measured."""
        if self.backend_plain is None or not self.backend_plain.tokens_per_second:
            return None
        return self.speculative.tokens_per_second / self.backend_plain.tokens_per_second


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
    return False, _draw(residual / total, rng)


def _draw(probs: np.ndarray, rng: np.random.Generator) -> int:
    cdf = np.cumsum(probs)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), cdf.size - 1))


# ---- verifiers: the target's logits at every draft position in one pass -----------------------------
class _HFVerifier:
    """transformers: one forward over the tokens not yet in the KV cache plus the draft."""

    drafts_first = True  # a draft goes with the prompt's own pass

    def __init__(self, backend) -> None:
        from transformers import DynamicCache

        self.model = backend.model
        self.cache = DynamicCache(config=self.model.config)
        self.n = 0  # tokens in the cache

    def logits(self, ids: list[int], draft: list[int]) -> np.ndarray:
        import torch

        feed = ids[self.n:] + draft
        with torch.inference_mode():
            out = self.model(torch.tensor([feed], device=self.model.device), past_key_values=self.cache,
                             use_cache=True)
        self.n = len(ids) + len(draft)
        return out.logits[0, -(len(draft) + 1):].float().cpu().numpy()

    def draft_room(self, context: int, left: int) -> int:
        """Draft tokens worth sending with ``context`` tokens when ``left`` output tokens remain."""
        return left - 1  # the pass always yields one token of the target's own

    def keep(self, n: int) -> None:
        """Drop the cache entries of rejected draft tokens (everything past the first ``n`` tokens)."""
        if self.n > n:
            try:
                self.cache.crop(n - self.n)  # a negative count: tokens removed from the end
            except (RuntimeError, ValueError):  # a sliding-window layer past its window cannot be cropped
                from transformers import DynamicCache

                self.cache, n = DynamicCache(config=self.model.config), 0  # start over: re-read the context
        self.n = n


class _LlamaVerifier:
    """llama.cpp: ``eval`` of the draft in a ``Llama`` with ``logits_all=True``; ``scores`` holds every row.

    It feeds the ``Llama`` exactly as llama-cpp-python's own speculative loop (``Llama.generate`` with a
    ``draft_model``) does, so the trace shows the batches the timed run computes: the prompt but its last token in
    one batch, the last prompt token alone (nothing is drafted before the first token), then per step the last
    output token plus the whole draft in one batch. llama.cpp's logits depend on the batch size (see
    :func:`compare`), so feeding it differently could change the text.
    """

    drafts_first = False  # llama-cpp-python drafts only after its first token

    def __init__(self, llm) -> None:
        self.llm = llm
        self.llm.n_tokens = 0
        self.llm.eval([])  # an empty cache (eval drops entries beyond n_tokens)

    def logits(self, ids: list[int], draft: list[int]) -> np.ndarray:
        llm = self.llm
        if llm.n_tokens == 0:
            if len(ids) > 1:
                llm.eval(ids[:-1])
            llm.eval(ids[-1:])
        else:
            llm.eval(ids[llm.n_tokens:] + draft)
        return np.array(llm.scores[len(ids) - 1: len(ids) + len(draft)], dtype=np.float32)

    def draft_room(self, context: int, left: int) -> int:
        """llama-cpp-python cuts a draft only at the end of the window, not at max_tokens (the batch size is what
        matters for the logits, so the trace sends the same)."""
        return self.llm.n_ctx() - context

    def keep(self, n: int) -> None:
        self.llm.n_tokens = n


#: The window of the speculative ``Llama``: its ``scores`` array holds window x vocabulary floats (1 MB per
#: row for Gemma's 262,144 tokens), so it is smaller than the chat window by default.
SPECULATIVE_WINDOW = 1024

#: llama.cpp's CPU kernels compute a token in a several-token pass (a verification pass) slightly differently from
#: a one-token pass (plain decoding): a different matrix-multiplication and attention path, a different order of
#: float additions, different rounding of the 8-bit activations. The largest change of a plain greedy token's
#: top-2 logit gap measured between the two: 0.75 (p99 0.44, median 0.10; 620 positions of the test and shipped
#: example prompts in passes of 2, 5, 7 and 11 tokens, gemma-3-270m Q4_K_M, ``load_llamacpp``'s kernels, x86-64;
#: single logits moved by up to 2.2).
BATCH_GAP_CHANGE = 0.75
#: A plain greedy token chosen by a top-2 logit gap below this is a near-tie that a speculative run may flip.
NEAR_TIE = 1.0

_SPEC_BACKENDS: dict[tuple[str, int], Backend] = {}
_SPEC_LOAD = threading.Lock()  # one load per (file, window), even when two sessions ask at once
_SPEC_RUN = threading.RLock()  # the drafter's settings and the run that uses them go together


def llamacpp_speculative_backend(backend: Backend, context_window: int | None = None) -> Backend:
    """The second llama.cpp backend over the same GGUF file that speculative decoding uses, loaded once per file
    and window with :func:`workbench.backends.llamacpp.load_llamacpp`: ``logits_all=True`` (a logits row for every
    position, which the traced verifier reads) and llama-cpp-python's ``LlamaPromptLookupDecoding`` as its
    ``draft_model`` (its own speculative loop, for the speed figure). Its ``generate`` is the backend's usual one.
    """
    window = min(context_window or SPECULATIVE_WINDOW, backend.context_window)
    key = (backend.spec.path, window)
    with _SPEC_LOAD:
        if key not in _SPEC_BACKENDS:
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            from workbench.backends.llamacpp import default_threads, load_llamacpp

            # load_llamacpp gives verification passes (batches) the WORKBENCH_THREADS threads too (n_threads_batch).
            _SPEC_BACKENDS[key] = load_llamacpp(backend.spec, window, default_threads(), logits_all=True,
                                                draft_model=LlamaPromptLookupDecoding())
        return _SPEC_BACKENDS[key]


def _llamacpp_run(fast: Backend, prompt: str, cfg: DecodingConfig, draft_tokens: int, ngram_size: int
                  ) -> Generation:
    """One ``generate`` of the speculative backend with its drafter set to ``draft_tokens`` (0: no drafts, so
    llama-cpp-python's loop is plain one-token decoding on the very same ``Llama``)."""
    with _SPEC_RUN:
        drafter = fast.llm.draft_model
        drafter.num_pred_tokens, drafter.max_ngram_size = draft_tokens, ngram_size
        return fast.generate([prompt], cfg)[0][0]


@dataclass(frozen=True)
class PlainReference:
    """llama.cpp's plain greedy decoding of a prompt on the speculative ``Llama``, with the margin of every choice."""

    generation: Generation
    token_ids: tuple[int, ...]  # the greedy tokens (argmax of each row the loop sampled from)
    top2_gaps: tuple[float, ...]  # per token: its logit minus the runner-up's

    @property
    def first_near_tie(self) -> int:
        """Index of the first token after the first chosen by less than :data:`NEAR_TIE` (the length when there is
        none): speculative greedy decoding gives these same tokens at least up to here. The first token is exempt:
        both runs take it from the same one-token pass (llama-cpp-python drafts only after it)."""
        return next((i for i, g in enumerate(self.top2_gaps) if i and g < NEAR_TIE), len(self.top2_gaps))


def plain_reference(backend: Backend, prompt: str, cfg: DecodingConfig) -> PlainReference:
    """Plain greedy decoding (llama.cpp) on the speculative ``Llama``, reading each chosen token's top-2 gap from
    the ``Llama``'s ``logits_all`` rows."""
    if backend.name != "llama.cpp" or cfg.do_sample:
        raise ConfigError("The near-tie reference is for greedy decoding on llama.cpp.")
    fast = llamacpp_speculative_backend(backend)
    n_prompt = len(backend.tokenize(prompt))
    with _SPEC_RUN:
        gen = _llamacpp_run(fast, prompt, cfg, 0, 1)
        rows = np.array(fast.llm.scores[n_prompt - 1: n_prompt - 1 + gen.completion_tokens], dtype=np.float32)
    top2 = np.sort(rows, axis=1)[:, -2:]
    return PlainReference(gen, tuple(int(i) for i in rows.argmax(axis=1)), tuple(float(g) for g in top2[:, 1] - top2[:, 0]))


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


def check_settings(backend: Backend, cfg: DecodingConfig, spec: SpeculativeConfig) -> None:
    """:func:`check_decoding`, and what the backend cannot do."""
    check_decoding(cfg, spec)
    if backend.name not in ("llama.cpp", "transformers"):
        raise ConfigError(f"Speculative decoding needs the llama.cpp or transformers backend, not {backend.name}.")
    if spec.draft_model is not None and backend.name != "transformers":
        raise ConfigError("A draft model needs the transformers backend (llama-cpp-python ships prompt lookup "
                          "only); choose the transformers backend, or prompt lookup.")


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
    check_settings(backend, cfg, spec)
    if spec.draft_model is not None:
        raise ConfigError("Token origins are traced for prompt lookup; a draft model runs through transformers' "
                          "assisted generation (compare) without them.")
    ids = backend._checked_ids(prompt, cfg)
    if backend.name == "transformers":
        with backend.lock.hold():
            return _trace(backend, ids, cfg, spec, _HFVerifier(backend), _hf_eos(backend))
    needed = len(ids) + cfg.max_new_tokens
    if needed > SPECULATIVE_WINDOW:
        raise ConfigError(f"The prompt plus max_new_tokens ({needed} tokens) exceeds the speculative window of "
                          f"{SPECULATIVE_WINDOW} tokens on llama.cpp; shorten the prompt or max_new_tokens.")
    fast = llamacpp_speculative_backend(backend)
    with fast.lock.hold():  # the speculative Llama is shared with the speed path: one caller at a time
        try:
            return _trace(backend, ids, cfg, spec, _LlamaVerifier(fast.llm), {int(backend.llm.token_eos())})
        finally:
            # Keep only the prompt but its last token, evaluated in one batch as the backend primes a prompt of up
            # to n_batch + 1 tokens; the trace's output was evaluated in draft-sized batches and must not be reused.
            fast.llm.n_tokens = len(ids) - 1 if len(ids) - 1 <= fast.llm.n_batch else 0


def _hf_eos(backend) -> set[int]:
    eos = backend.model.generation_config.eos_token_id or backend.tokenizer.eos_token_id
    return set(eos if isinstance(eos, list) else [eos])


def _decode(backend: Backend, ids: list[int]) -> str:
    if backend.name == "transformers":
        return backend.tokenizer.decode(ids, skip_special_tokens=True)
    return backend.llm.detokenize(ids).decode("utf-8", errors="replace")


def _trace(backend: Backend, prompt_ids: list[int], cfg: DecodingConfig, spec: SpeculativeConfig, verifier,
           eos_ids: set[int]) -> SpeculativeResult:
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
                ok, token = False, _draw(softmax(logits), rng)
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
        if cfg.stop and truncate_at_stop(_decode(backend, out), cfg.stop)[1]:
            finish = "stop"
            break
    seconds = timer.seconds()
    text, _ = truncate_at_stop(_decode(backend, out), cfg.stop)
    tokens, prev = [], ""
    for i, (token, (origin, proposed)) in enumerate(zip(out, origins, strict=True)):
        upto = _decode(backend, out[: i + 1])
        piece = ""
        if not upto.endswith("\ufffd"):  # an incomplete character waits for the token that completes it
            piece, prev = upto[len(prev):], upto
        tokens.append(SpecToken(token, piece, origin, proposed))
    return SpeculativeResult(text, tuple(tokens), tuple(steps), len(prompt_ids), seconds, finish, backend.name, spec)


# ---- the libraries' own speculative decoding, timed against plain decoding ----------------------------
def _hf_generate(backend, ids: list[int], cfg: DecodingConfig, draft: Backend | None = None,
                 spec: SpeculativeConfig | None = None) -> Generation:
    """transformers ``generate`` without the backend's prompt cache (so plain and speculative pay the same
    prompt pass), with prompt lookup or an assistant model when asked."""
    import torch

    gen_cfg = backend._generation_config(cfg)
    extra: dict = {}
    if spec is not None and draft is None:
        gen_cfg.prompt_lookup_num_tokens = spec.draft_tokens
        gen_cfg.max_matching_ngram_size = spec.ngram_size
    elif draft is not None:
        gen_cfg.num_assistant_tokens = spec.draft_tokens
        gen_cfg.num_assistant_tokens_schedule = "constant"  # the draft length the user set, every step
        gen_cfg.assistant_confidence_threshold = 0.0  # never cut a draft short: the set length is what is measured
        extra["assistant_model"] = draft.model
        if _tokenizers_differ(backend, draft):
            extra["assistant_tokenizer"] = draft.tokenizer  # universal assisted decoding
    timer = Timer()
    input_ids = torch.tensor([ids], device=backend.model.device)
    device = backend.model.device
    cuda = [device.index or 0] if device.type == "cuda" else []  # the generators fork_rng saves and restores
    with torch.inference_mode(), torch.random.fork_rng(devices=cuda):
        if cfg.seed is not None:
            torch.manual_seed(cfg.seed)
        seq = backend.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), generation_config=gen_cfg,
                                     tokenizer=backend.tokenizer, **extra)[0].tolist()
    return backend._record(ids, seq[len(ids):], cfg, timer.seconds(), cfg.seed)


def _tokenizers_differ(a, b) -> bool:
    return a.tokenizer.get_vocab() != b.tokenizer.get_vocab()


def compare(backend: Backend, prompt: str, cfg: DecodingConfig | None = None, spec: SpeculativeConfig | None = None,
            repeats: int = 1, with_trace: bool = True, with_backend_plain: bool = False) -> Comparison:
    """Plain and speculative decoding of one prompt, ``repeats`` interleaved runs each (medians), plus the trace.

    llama.cpp: the speculative runs are llama-cpp-python's own ``LlamaPromptLookupDecoding`` loop; the plain runs
    are the same loop on the same ``Llama`` with the drafter proposing nothing (one-token passes: plain decoding,
    with the same window, the same ``logits_all=True`` and the same cache), so the two differ only in drafting.
    ``with_backend_plain`` adds plain runs of the user's own backend (``logits_all=False``) as ``backend_plain``.
    The texts can still differ: llama.cpp's CPU kernels give a several-token verification pass slightly different
    logits from a one-token pass (:data:`BATCH_GAP_CHANGE`), so a near-tie can flip.
    transformers: ``generate`` with ``prompt_lookup_num_tokens`` or ``assistant_model`` against ``generate``
    without, both without the backend's prompt cache.
    """
    cfg = cfg or DecodingConfig()
    spec = spec or SpeculativeConfig()
    check_settings(backend, cfg, spec)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be a whole number of runs, 1 or more (got {repeats!r}).")
    draft = load_draft(spec) if spec.draft_model is not None else None
    ids = backend._checked_ids(prompt, cfg)
    backend_run = None
    if backend.name == "llama.cpp":
        fast = llamacpp_speculative_backend(backend)
        cfg.check_fits(len(ids), fast.context_window)

        def plain_run() -> Generation:  # like with like: the same Llama, its drafter proposing nothing
            return _llamacpp_run(fast, prompt, cfg, 0, spec.ngram_size)

        def spec_run() -> Generation:
            return _llamacpp_run(fast, prompt, cfg, spec.draft_tokens, spec.ngram_size)

        if with_backend_plain:
            def backend_run() -> Generation:  # what the user's own backend (logits_all=False) does without drafts
                return backend.generate([prompt], cfg)[0][0]

        label = "prompt-lookup (llama-cpp-python LlamaPromptLookupDecoding)"
    else:
        def plain_run() -> Generation:
            with backend.lock.hold():
                return _hf_generate(backend, ids, cfg)

        def spec_run() -> Generation:
            with backend.lock.hold():
                return _hf_generate(backend, ids, cfg, draft, spec)

        label = (f"assisted ({spec.draft_model}, transformers assistant_model)" if draft is not None
                 else "prompt-lookup (transformers prompt_lookup_num_tokens)")
    ways = {"plain": plain_run, "spec": spec_run}
    if backend_run is not None:
        ways["backend"] = backend_run
    runs: dict[str, list[Generation]] = {name: [] for name in ways}
    for i in range(repeats):  # interleaved, the order alternating, so drift in machine load hits all alike
        for name in (list(ways) if i % 2 == 0 else list(reversed(ways))):
            runs[name].append(ways[name]())
    traced = trace(backend, prompt, cfg, spec) if with_trace and draft is None else None
    plain_label = "plain (the same Llama, no drafts)" if backend.name == "llama.cpp" else "plain"
    plain, fast_t = _timing(plain_label, runs["plain"]), _timing(label, runs["spec"])
    own = _timing("plain (the backend's own Llama, logits_all=False)", runs["backend"]) if "backend" in runs else None
    return Comparison(traced, plain, fast_t, plain.text == fast_t.text, own)


def _timing(label: str, gens: list[Generation]) -> Timing:
    return Timing(label, gens[-1].text, gens[-1].completion_tokens, tuple(round(g.seconds, 4) for g in gens),
                  statistics.median(g.tokens_per_second for g in gens))


# ---- shipped example prompts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """A shipped example prompt (workbench/shipped/speculative/examples.yaml)."""

    id: str
    kind: str  # "copy-heavy" (drafting pays) or "creative" (it does not)
    title: str
    prompt: str
    max_new_tokens: int = 64  # the budget the example is measured with


#: Where the example prompts are shipped.
EXAMPLES_FILE = Path(__file__).resolve().parent / "shipped" / "speculative" / "examples.yaml"


def examples(path: str | Path = EXAMPLES_FILE) -> tuple[Example, ...]:
    """The shipped example prompts, copy-heavy ones first (read by the bounded loader, as every file is)."""
    from workbench.errors import DataError
    from workbench.safeload import MAX_DOCUMENT_BYTES, load_document, read_file

    data = load_document(read_file(path, max_bytes=MAX_DOCUMENT_BYTES), str(path), what="example files")
    try:
        return tuple(Example(**e) for e in data["examples"])
    except (KeyError, TypeError) as err:
        raise DataError(f"{path} is not a list of examples ({err}).") from None
