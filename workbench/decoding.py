"""Decoding settings: one frozen, validated :class:`DecodingConfig` and named presets.

Parameter names and meanings follow Hugging Face ``GenerationConfig`` so that a
user who knows one knows the other::

    >>> cfg = DecodingConfig(do_sample=True, temperature=0.7, top_p=0.9, seed=1)
    >>> cfg.replace(temperature=0.2).temperature
    0.2
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from workbench.errors import ConfigError

#: Upper bound on samples per prompt; larger n is almost always a typo.
MAX_SAMPLES = 64
#: Upper bound on beams; beam search cost grows linearly with it.
MAX_BEAMS = 16
#: The largest seed a sample may have. llama.cpp takes a 32-bit unsigned seed (a larger one wrapped: 2**32
#: sampled as seed 0) whose top value, 2**32 - 1 (LLAMA_DEFAULT_SEED), means "a random seed"; llama-server reads
#: the request's seed the same way. Sample i has seed + i, so seed + n - 1 must stay within it.
MAX_SEED = 2**32 - 2
#: The warpers whose order a config can set (penalties always come first, on every backend).
SAMPLERS = ("temperature", "top_k", "top_p", "min_p", "typical_p")
#: Each library's own order. Hugging Face ``generate`` (``_get_logits_processor``) divides by the temperature
#: first; llama.cpp (llama-cpp-python's sampler chain) filters first, temperature last; vLLM (``Sampler.sample``
#: in ``vllm/v1/sample/sampler.py``) divides by the temperature, then runs min-p (its argmax-invariant logits
#: processor), then top-k and top-p; it has no typical-p (a vLLM server refuses one), listed last.
SAMPLER_ORDERS: dict[str, tuple[str, ...]] = {
    "transformers": ("temperature", "top_k", "top_p", "min_p", "typical_p"),
    "llama.cpp": ("top_k", "typical_p", "top_p", "min_p", "temperature"),
    "vllm": ("temperature", "min_p", "top_k", "top_p", "typical_p"),
}


@dataclass(frozen=True)
class DecodingConfig:
    """How to pick tokens. Validated on creation; invalid values raise ConfigError."""

    do_sample: bool = False  # False = greedy (or beam search when num_beams > 1)
    temperature: float = 1.0  # >0 flattens/sharpens the distribution; only used when sampling
    top_k: int = 0  # keep the k most likely tokens; 0 = off (HF's default is 50, we show all)
    top_p: float = 1.0  # nucleus: smallest set with cumulative probability >= top_p; 1 = off
    min_p: float = 0.0  # drop tokens below min_p * p(most likely token); 0 = off
    typical_p: float = 1.0  # locally typical sampling mass; 1 = off
    repetition_penalty: float = 1.0  # >1 discourages tokens already in the text; 1 = off
    no_repeat_ngram_size: int = 0  # forbid repeating any n-gram of this size; 0 = off
    num_beams: int = 1  # beam search width (transformers backend only); 1 = off
    max_new_tokens: int = 64  # generation budget; must fit in the context window with the prompt
    stop: tuple[str, ...] = ()  # stop strings, not included in output
    seed: int | None = 0  # sample i uses seed + i (at most MAX_SEED); same seed + settings => same text
    n: int = 1  # samples per prompt (self-consistency, spread of outputs)
    sampler_order: tuple[str, ...] = ()  # order of the SAMPLERS; () = the backend's native order (shown)

    def __post_init__(self) -> None:
        # Accept lists for convenience, store tuples so the config stays hashable.
        if not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))
        object.__setattr__(self, "sampler_order", parse_sampler_order(self.sampler_order))
        _validate(self)

    def order_on(self, native: tuple[str, ...]) -> tuple[str, ...]:
        """The warper order this config samples with on a backend whose own order is ``native``."""
        return self.sampler_order or native

    def samplers_on(self, order: tuple[str, ...]) -> tuple[str, ...]:
        """The samplers of ``order`` that this config turns on, in that order. One that is off changes nothing,
        so two orders with the same samplers on sample alike.

        >>> cfg = DecodingConfig(do_sample=True, temperature=0.7, top_p=0.9)
        >>> cfg.samplers_on(SAMPLER_ORDERS["vllm"]) == cfg.samplers_on(SAMPLER_ORDERS["transformers"])
        True
        >>> cfg.replace(min_p=0.1).samplers_on(SAMPLER_ORDERS["vllm"])
        ('temperature', 'min_p', 'top_p')
        """
        on = {"temperature": self.temperature != 1.0, "top_k": self.top_k != 0, "top_p": self.top_p < 1.0,
              "min_p": self.min_p > 0, "typical_p": self.typical_p < 1.0}
        return tuple(name for name in order if on[name])

    @property
    def greedy(self) -> bool:
        """True when decoding is deterministic without a seed (greedy or beams)."""
        return not self.do_sample

    def replace(self, **changes) -> DecodingConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def check_fits(self, prompt_tokens: int, context_window: int) -> None:
        """Raise ConfigError when prompt + max_new_tokens cannot fit the context window."""
        if self.max_new_tokens >= context_window:
            raise ConfigError(
                f"max_new_tokens={self.max_new_tokens} is beyond the model's context window of "
                f"{context_window} tokens; set it below {context_window - prompt_tokens}."
            )
        if prompt_tokens + self.max_new_tokens > context_window:
            room = context_window - prompt_tokens
            hint = (
                f"lower max_new_tokens to {room} or shorten the prompt"
                if room > 0
                else "shorten the prompt or drop demonstrations"
            )
            raise ConfigError(
                f"The prompt ({prompt_tokens} tokens) plus max_new_tokens={self.max_new_tokens} "
                f"exceeds the context window of {context_window} tokens; {hint}."
            )

    def to_dict(self) -> dict:
        """Plain JSON-able dict (for exports and the run store)."""
        d = dataclasses.asdict(self)
        d["stop"] = list(self.stop)
        d["sampler_order"] = list(self.sampler_order)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> DecodingConfig:
        """Inverse of :meth:`to_dict`; unknown keys are a ConfigError naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"Unknown decoding setting(s): {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}."
            )
        return cls(**data)


def parse_sampler_order(value) -> tuple[str, ...]:
    """A warper order from a library name (a :data:`SAMPLER_ORDERS` key), comma/arrow-separated names,
    or a sequence of names; "" / "native" / () = the backend's own order.

    >>> parse_sampler_order("llama.cpp")[-1]
    'temperature'
    >>> parse_sampler_order("top_p, temperature")
    ('top_p', 'temperature', 'top_k', 'min_p', 'typical_p')

    Samplers left out keep their Hugging Face position after the ones named.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "native", "default"):
            return ()
        aliases = {"hf": "transformers", "huggingface": "transformers", "llama-cpp": "llama.cpp",
                   "llamacpp": "llama.cpp"}
        name = aliases.get(text.lower(), text.lower())
        if name in SAMPLER_ORDERS:
            return SAMPLER_ORDERS[name]
        names = [n.strip().lower().replace("-", "_") for n in text.replace("→", ",").replace(">", ",").split(",")]
    elif isinstance(value, (list, tuple)):
        names = [str(n).strip().lower() for n in value]
    else:
        raise ConfigError(f"sampler_order must be a list of sampler names or a library name, got {value!r}.")
    names = [n for n in names if n]
    if not names:
        return ()
    unknown = [n for n in names if n not in SAMPLERS]
    if unknown:
        raise ConfigError(f"Unknown sampler(s) in sampler_order: {', '.join(unknown)}; use "
                          f"{', '.join(SAMPLERS)}, or a library's order: {' / '.join(SAMPLER_ORDERS)}.")
    if len(set(names)) != len(names):
        raise ConfigError(f"sampler_order names a sampler twice: {', '.join(names)}.")
    return (*names, *(n for n in SAMPLERS if n not in names))


def describe_order(order: tuple[str, ...], native: tuple[str, ...] | None = None) -> str:
    """``top_k → typical_p → top_p → min_p → temperature (llama.cpp order)`` for pages and exports: the order,
    the library whose own order it is (``custom`` for none) and whether it is the backend's (``native``).

    >>> describe_order(SAMPLER_ORDERS["vllm"], SAMPLER_ORDERS["vllm"])
    'temperature → min_p → top_k → top_p → typical_p (vllm order, native)'
    """
    names = {v: k for k, v in SAMPLER_ORDERS.items()}
    label = names.get(tuple(order), "custom")
    suffix = f"{label} order" + (", native" if native is not None and tuple(order) == tuple(native) else "")
    return " → ".join(order) + f" ({suffix})"


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate(c: DecodingConfig) -> None:
    for name in ("temperature", "top_p", "min_p", "typical_p", "repetition_penalty"):
        _check(_is_num(getattr(c, name)), f"{name} must be a number, got {getattr(c, name)!r}.")
        _check(math.isfinite(getattr(c, name)), f"{name} must be a finite number, got {getattr(c, name)!r}.")
    for name in ("top_k", "no_repeat_ngram_size", "num_beams", "max_new_tokens", "n"):
        _check(_is_int(getattr(c, name)), f"{name} must be a whole number, got {getattr(c, name)!r}.")
    _check(c.temperature >= 0, f"temperature must be >= 0 (got {c.temperature}); use 0 or greedy for deterministic output.")
    _check(
        not (c.do_sample and c.temperature == 0),
        "temperature 0 with sampling is greedy decoding; turn sampling off or set temperature > 0.",
    )
    _check(0 < c.top_p <= 1, f"top_p must be in (0, 1] (got {c.top_p}); 1 turns it off.")
    _check(c.top_k >= 0, f"top_k must be >= 0 (got {c.top_k}); 0 turns it off.")
    _check(0 <= c.min_p < 1, f"min_p must be in [0, 1) (got {c.min_p}); 0 turns it off.")
    _check(0 < c.typical_p <= 1, f"typical_p must be in (0, 1] (got {c.typical_p}); 1 turns it off.")
    _check(c.repetition_penalty > 0, f"repetition_penalty must be > 0 (got {c.repetition_penalty}); 1 turns it off.")
    _check(c.no_repeat_ngram_size >= 0, f"no_repeat_ngram_size must be >= 0 (got {c.no_repeat_ngram_size}); 0 turns it off.")
    _check(1 <= c.num_beams <= MAX_BEAMS, f"num_beams must be between 1 and {MAX_BEAMS} (got {c.num_beams}).")
    _check(
        not (c.num_beams > 1 and c.do_sample),
        "beam search with sampling is not supported; set num_beams=1 or turn sampling off.",
    )
    _check(c.max_new_tokens >= 1, f"max_new_tokens must be at least 1 (got {c.max_new_tokens}).")
    _check(1 <= c.n <= MAX_SAMPLES, f"n must be between 1 and {MAX_SAMPLES} (got {c.n}).")
    _check(
        c.n == 1 or c.do_sample,
        f"n={c.n} samples need sampling on; greedy decoding gives the same text every time.",
    )
    _check(c.seed is None or (_is_int(c.seed) and 0 <= c.seed <= MAX_SEED),
           f"seed must be a whole number >= 0 and at most {MAX_SEED} (the engines take 32-bit seeds), or empty "
           f"(got {c.seed!r}).")
    if c.seed is not None and c.seed + c.n - 1 > MAX_SEED:  # sample i has seed + i
        raise ConfigError(f"seed {c.seed} with n={c.n} samples gives the last sample seed {c.seed + c.n - 1} (sample i "
                          f"has seed + i), past {MAX_SEED}, the largest the engines take; use a seed up to "
                          f"{MAX_SEED - c.n + 1}.")
    for s in c.stop:
        _check(isinstance(s, str) and s != "", "stop strings must be non-empty text.")


#: Named presets shown in the UI and accepted by ``--preset`` on the CLI.
PRESETS: dict[str, DecodingConfig] = {
    "Greedy": DecodingConfig(),
    "Precise": DecodingConfig(do_sample=True, temperature=0.3, top_p=0.9, top_k=40),
    "Balanced": DecodingConfig(do_sample=True, temperature=0.7, top_p=0.95, top_k=50),
    "Creative": DecodingConfig(do_sample=True, temperature=1.1, top_p=0.98, min_p=0.02),
}


def preset(name: str, **overrides) -> DecodingConfig:
    """A named preset, optionally with some fields changed."""
    for key, cfg in PRESETS.items():
        if key.lower() == name.lower():
            return cfg.replace(**overrides) if overrides else cfg
    raise ConfigError(f"Unknown preset {name!r}; choose one of: {', '.join(PRESETS)}.")
