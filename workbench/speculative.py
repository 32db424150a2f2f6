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
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from workbench.backends.base import Backend, Generation, Timer, truncate_at_stop
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, ModelError
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

    @property
    def speed_ratio(self) -> float:
        """Speculative tokens/s over plain tokens/s (> 1: speculative is faster)."""
        return self.speculative.tokens_per_second / self.plain.tokens_per_second if self.plain.tokens_per_second else 0.0


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
    """llama.cpp: ``eval`` of the draft in a ``Llama`` with ``logits_all=True``; ``scores`` holds every row."""

    def __init__(self, llm) -> None:
        self.llm = llm
        self.llm.n_tokens = 0
        self.llm.eval([])  # an empty cache (eval drops entries beyond n_tokens)

    def logits(self, ids: list[int], draft: list[int]) -> np.ndarray:
        llm = self.llm
        if llm.n_tokens == 0 and len(ids) > 2:
            llm.eval(ids[:-1])  # the prompt as the backend primes it: all but its last token in one batch
        llm.eval(ids[llm.n_tokens:] + draft)
        return np.array(llm.scores[len(ids) - 1: len(ids) + len(draft)], dtype=np.float32)

    def keep(self, n: int) -> None:
        self.llm.n_tokens = n


@cache
def _spec_llama(path: str, context_window: int, threads: int):
    """The second ``Llama`` of a GGUF file that speculative decoding uses: ``logits_all=True`` (rows for
    every position, which the traced verifier reads) and llama-cpp-python's ``LlamaPromptLookupDecoding`` as
    its ``draft_model`` (its own speculative loop, for the speed figure). Loaded once per file and window."""
    import atexit

    import llama_cpp
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    try:
        llm = llama_cpp.Llama(model_path=path, n_ctx=context_window, n_threads=threads, n_batch=512,
                              logits_all=True, draft_model=LlamaPromptLookupDecoding(), verbose=False)
    except (ValueError, RuntimeError, OSError) as err:
        raise ModelError(f"llama.cpp could not load {path} ({err}); is it a complete, valid GGUF file?") from None
    atexit.register(llm.close)
    return llm


#: The window of the speculative ``Llama``: its ``scores`` array holds window x vocabulary floats (1 MB per
#: row for Gemma's 262,144 tokens), so it is smaller than the chat window by default.
SPECULATIVE_WINDOW = 1024


def llamacpp_speculative_backend(backend: Backend, spec: SpeculativeConfig, context_window: int | None = None):
    """A llama.cpp backend over the same GGUF file whose ``Llama`` drafts by prompt lookup (``draft_model=``).

    Its ``generate``/``stream`` are the backend's usual ones, so the speed figure compares like with like.
    """
    from workbench.backends.llamacpp import default_threads

    window = min(context_window or SPECULATIVE_WINDOW, backend.context_window)
    llm = _spec_llama(backend.spec.path, window, default_threads())
    llm.draft_model.num_pred_tokens = spec.draft_tokens
    llm.draft_model.max_ngram_size = spec.ngram_size
    return _wrapped(backend.spec, llm)


_WRAPPED: dict[int, Backend] = {}


def _wrapped(spec, llm) -> Backend:
    from workbench.backends.llamacpp import LlamaCppBackend

    if id(llm) not in _WRAPPED:
        _WRAPPED[id(llm)] = LlamaCppBackend(spec, llm)
    return _WRAPPED[id(llm)]


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
                          "only); use --backend transformers or prompt-lookup.")


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
    fast = llamacpp_speculative_backend(backend, spec)
    with fast.lock.hold():  # the speculative Llama is shared with the speed path: one caller at a time
        try:
            return _trace(backend, ids, cfg, spec, _LlamaVerifier(fast.llm), {int(backend.llm.token_eos())})
        finally:
            fast._clean = 0  # its cache now holds the trace's batches, not the backend's canonical prefix


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
        room = cfg.max_new_tokens - len(out) - 1  # the pass always yields one token of the target's own
        draft = prompt_lookup_draft(ctx, spec.ngram_size, spec.draft_tokens)[:room]
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
        verifier.keep(len(ctx) + accepted)
        steps.append(Step(len(draft), accepted, len(new)))
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

    from workbench.backends.hf import _cuda_devices

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
    with torch.inference_mode(), torch.random.fork_rng(devices=_cuda_devices(backend.model)):
        if cfg.seed is not None:
            torch.manual_seed(cfg.seed)
        seq = backend.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), generation_config=gen_cfg,
                                     tokenizer=backend.tokenizer, **extra)[0].tolist()
    return backend._record(ids, seq[len(ids):], cfg, timer.seconds(), cfg.seed)


def _tokenizers_differ(a, b) -> bool:
    return a.tokenizer.get_vocab() != b.tokenizer.get_vocab()


def compare(backend: Backend, prompt: str, cfg: DecodingConfig | None = None, spec: SpeculativeConfig | None = None,
            repeats: int = 1, with_trace: bool = True) -> Comparison:
    """Plain and speculative decoding of one prompt, ``repeats`` interleaved runs each (medians), plus the trace.

    llama.cpp: the speculative runs are llama-cpp-python's own ``LlamaPromptLookupDecoding`` loop; plain runs are
    the backend's ``generate``. transformers: ``generate`` with ``prompt_lookup_num_tokens`` or ``assistant_model``
    against ``generate`` without, both without the backend's prompt cache.
    """
    cfg = cfg or DecodingConfig()
    spec = spec or SpeculativeConfig()
    check_settings(backend, cfg, spec)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats must be a whole number of runs, 1 or more (got {repeats!r}).")
    draft = load_draft(spec) if spec.draft_model is not None else None
    ids = backend._checked_ids(prompt, cfg)
    if backend.name == "llama.cpp":
        fast = llamacpp_speculative_backend(backend, spec)
        cfg.check_fits(len(ids), fast.context_window)

        def plain_run() -> Generation:
            return backend.generate([prompt], cfg)[0][0]

        def spec_run() -> Generation:
            return fast.generate([prompt], cfg)[0][0]

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
    runs: dict[str, list[Generation]] = {"plain": [], "spec": []}
    for i in range(repeats):  # interleaved, the order alternating, so drift in machine load hits both alike
        order = ("plain", "spec") if i % 2 == 0 else ("spec", "plain")
        for name in order:
            runs[name].append(plain_run() if name == "plain" else spec_run())
    traced = trace(backend, prompt, cfg, spec) if with_trace and draft is None else None
    plain, fast_t = _timing("plain", runs["plain"]), _timing(label, runs["spec"])
    return Comparison(traced, plain, fast_t, plain.text == fast_t.text)


def _timing(label: str, gens: list[Generation]) -> Timing:
    return Timing(label, gens[-1].text, gens[-1].completion_tokens, tuple(round(g.seconds, 4) for g in gens),
                  statistics.median(g.tokens_per_second for g in gens))


# ---- shipped example prompts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """A shipped example prompt (prompts/speculative/examples.yaml)."""

    id: str
    kind: str  # "copy-heavy" (drafting pays) or "creative" (it does not)
    title: str
    prompt: str
    max_new_tokens: int = 64  # the budget the example is measured with


#: Where the example prompts are shipped.
EXAMPLES_FILE = Path(__file__).resolve().parents[1] / "prompts" / "speculative" / "examples.yaml"


def examples() -> tuple[Example, ...]:
    """The shipped example prompts, copy-heavy ones first."""
    from workbench.errors import DataError
    from workbench.safeload import load_yaml

    data = load_yaml(EXAMPLES_FILE.read_text(encoding="utf-8"), str(EXAMPLES_FILE))
    try:
        return tuple(Example(**e) for e in data["examples"])
    except (KeyError, TypeError) as err:
        raise DataError(f"{EXAMPLES_FILE} is not a list of examples ({err}).") from None
