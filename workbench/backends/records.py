"""What a backend returns and declares: a generation, a continuation's score, a next-token candidate, capabilities.

>>> Generation("4", prompt_tokens=9, completion_tokens=1, finish_reason="stop", seconds=0.5).tokens_per_second
2.0
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.errors import ConfigError


@dataclass(frozen=True)
class Generation:
    """One completion and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop": end of text or a stop string; "length": max_new_tokens reached
    seconds: float
    seed: int | None = None
    prompt_seconds: float | None = None  # reading the prompt, until the first token; None: not measured apart
    error: str | None = None  # why this sequence of a batch failed (finish_reason "error"); None: it ran
    batch: int = 1  # sequences decoded together with this one (1: alone; see Backend.batch_size)

    @property
    def failed(self) -> bool:
        """True when this sequence could not run (its batch's other sequences are unaffected)."""
        return self.error is not None

    @property
    def decode_seconds(self) -> float | None:
        """Seconds spent producing tokens after the first one (None when the prompt time was not measured)."""
        if self.prompt_seconds is None:
            return None
        return max(self.seconds - self.prompt_seconds, 0.0)

    @property
    def tokens_per_second(self) -> float:
        """Decoding speed: tokens after the first over the time after the first (prompt reading excluded).

        Without a measured prompt time it is every token over the whole time (prompt included).
        """
        decode = self.decode_seconds
        if decode is None:
            return self.completion_tokens / self.seconds if self.seconds > 0 else 0.0
        return (self.completion_tokens - 1) / decode if self.completion_tokens > 1 and decode > 0 else 0.0

    def summary(self) -> str:
        """One line for the CLI and the UI: decoding speed apart from the time spent reading the prompt."""
        n = self.completion_tokens
        made = f"{n} {'token' if n == 1 else 'tokens'} in {self.seconds:.2f} s"
        prompt = f"prompt {self.prompt_tokens} {'token' if self.prompt_tokens == 1 else 'tokens'}"
        if self.prompt_seconds is None:
            speed = f"{self.tokens_per_second:.1f} tokens/s with the prompt"
        elif n > 1:
            speed = f"{self.tokens_per_second:.1f} tokens/s decoding"
            prompt += f" read in {self.prompt_seconds:.2f} s"
        else:  # one token: its time is the prompt's reading; no decoding speed can be measured from it
            return (f"{made}: {prompt} read in {self.prompt_seconds:.2f} s, no tokens/s from one token "
                    f"(finish: {self.finish_reason})")
        return f"{made} ({speed}; {prompt}; finish: {self.finish_reason})"


@dataclass(frozen=True)
class Scored:
    """A continuation's log-likelihood after a prompt, and its length (for length-normalised scoring)."""

    logprob: float  # sum of the log-probabilities of its tokens
    tokens: int  # tokens it took after the prompt
    bytes: int  # UTF-8 bytes of its text (with any whitespace moved over from the prompt)

    def normalised(self, by: str) -> float:
        """``sum`` (plain log-likelihood), ``token`` (per token) or ``byte`` (per byte, lm-eval's acc_norm idea)."""
        if by == "sum":
            return self.logprob
        if by == "token":
            return self.logprob / self.tokens
        if by == "byte":
            return self.logprob / self.bytes
        raise ConfigError(f"Unknown score normalisation {by!r}; use sum, token or byte.")


@dataclass(frozen=True)
class TokenProb:
    """A candidate next token with its probability under the raw model."""

    token_id: int
    text: str
    prob: float
    logit: float


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared up front (the pages disable what it cannot)."""

    full_logits: bool = True  # every next-token logit (the explorer's warping); a server gives only the top N
    top_logprobs: bool = True  # the N most likely next tokens with their log-probabilities
    label_scoring: bool = True  # log-likelihood of given continuations (label scoring, calibration)
    beam_search: bool = True  # num_beams > 1
    concurrent: int = 1  # calls served at once
    exact_token_counts: bool = True  # False: counts are an estimate (a server without a tokenizer endpoint)
