"""Speculative decoding's records: how to draft (:class:`SpeculativeConfig`), a traced run with every token's
origin, the timings of a comparison, and the near-tie reference."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.backends.records import Generation
from workbench.errors import ConfigError

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


#: llama.cpp's CPU kernels compute a token in a several-token pass (a verification pass) slightly differently from
#: a one-token pass (plain decoding): a different matrix-multiplication and attention path, a different order of
#: float additions, different rounding of the 8-bit activations. The largest change of a plain greedy token's
#: top-2 logit gap measured between the two: 0.75 (p99 0.44, median 0.10; 620 positions of the test and shipped
#: example prompts in passes of 2, 5, 7 and 11 tokens, gemma-3-270m Q4_K_M, ``load_llamacpp``'s kernels, x86-64;
#: single logits moved by up to 2.2).
BATCH_GAP_CHANGE = 0.75
#: A plain greedy token chosen by a top-2 logit gap below this is a near-tie that a speculative run may flip.
NEAR_TIE = 1.0


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
