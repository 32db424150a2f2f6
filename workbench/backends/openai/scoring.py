"""Label scoring and log-probabilities on a server: echo (one request per continuation) or forced tokens.

:class:`Scorer` decides which way one backend scores; :class:`ServerScoring` holds the requests
(the top-N next tokens, a continuation's log-probability the echo way or token by token forced with
``logit_bias``) for :class:`~workbench.backends.openai.backend.OpenAICompatBackend`.
"""

from __future__ import annotations

import math
import threading

from workbench.backends.openai.concurrency import run_bounded
from workbench.backends.openai.config import Limit, completion_limit
from workbench.backends.openai.replies import QUOTE_CHARS, Completion, Logprobs
from workbench.backends.records import TokenProb
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, WorkbenchError

#: logit_bias that forces a token (the OpenAI API's maximum).
FORCE_BIAS = 100.0
#: Families tried with echo scoring under ``scoring="auto"``: vLLM and other OpenAI servers. llama-server
#: ignores echo (it answers the generated token's log-probability only); llama-cpp-python's echo log-probabilities are shifted by one
#: token for models without a BOS token and it sorts the whole vocabulary in Python for every prompt token
#: (slower than the forced requests), so both are scored the forced way unless ``scoring="echo"``.
ECHO_FAMILIES = ("vllm", "openai")
#: Largest difference (nats) between a continuation's echo score and its forced score for echo to be used
#: (a whole-prompt pass and token-by-token passes add floating-point numbers in different orders).
ECHO_TOLERANCE = 0.01


class Scorer:
    """How one backend scores continuations: ``echo`` (one request each) or ``forced`` (one per token).

    ``ServerConfig.scoring``: ``forced`` always; ``echo`` tries echo on any family;
    ``auto`` tries it on :data:`ECHO_FAMILIES`. Echo is used only once the first
    continuation's echo score agreed with its forced score within
    :data:`ECHO_TOLERANCE` (a server that ignores ``echo``, refuses it, or returns
    shifted log-probabilities fails that check and is scored the forced way from then on).
    """

    def __init__(self, scoring: str, family: str):
        wants_echo = scoring == "echo" or (scoring == "auto" and family in ECHO_FAMILIES)
        self.mode = "verify" if wants_echo else "forced"  # "verify" -> "echo" or "forced" after the first check
        self.note = "" if wants_echo else f"forced ({'as configured' if scoring == 'forced' else family})"
        self._lock = threading.Lock()

    def decide(self, echo: float | None, forced: float | None, why: str) -> None:
        with self._lock:
            if self.mode != "verify":
                return
            if echo is not None and (forced is None or abs(echo - forced) <= ECHO_TOLERANCE):
                self.mode = "echo"
                self.note = "echo (checked against forced tokens)" if forced is not None else \
                    "echo (not checked: the server does not force tokens)"
            else:
                self.mode, self.note = "forced", f"forced ({why})"


class ServerScoring:
    """The probability requests of a server backend (mixed into it: they use its client, tokens and scorer)."""

    def _probs_field(self, top: int) -> dict:
        """Ask for the ``top`` log-probabilities: llama-server's own ``n_probs``, the OpenAI ``logprobs`` elsewhere."""
        return {"n_probs": int(top)} if self.family == "llama.cpp" else {"logprobs": int(top)}

    def _top_tokens(self, ids: list[int], top: int) -> list[TokenProb]:
        """The server's ``top`` most likely next tokens (``logit`` holds the log-probability)."""
        body = {"model": self.model, "prompt": self._text_of(ids), **self._probs_field(top),
                **self._fields(DecodingConfig(max_new_tokens=1), None)}
        logprobs = self._logprobs(body, completion_limit(1, len(ids)))
        if logprobs.content:  # llama-server: ids come with the candidates
            ranked = sorted(logprobs.content[0].top_logprobs, key=lambda t: -t.logprob)[:top]
            if not ranked:
                raise self._no_logprobs()
            return [TokenProb(t.id if t.id is not None else self._single_id(t.token), t.token,
                              math.exp(t.logprob), float(t.logprob)) for t in ranked]
        tops = (logprobs.top_logprobs or [None])[0]
        if not tops:
            raise self._no_logprobs()
        ranked_texts = sorted(tops.items(), key=lambda kv: -kv[1])[:top]
        ids_of = run_bounded(self._single_id, [t for t, _ in ranked_texts], self.config.max_concurrency)
        return [TokenProb(i, t, math.exp(lp), float(lp)) for i, (t, lp) in zip(ids_of, ranked_texts, strict=True)]

    def _single_id(self, text: str) -> int:
        ids = self._tokenize(text, add_bos=False) if text else []
        return ids[0] if len(ids) == 1 else -1

    def _continuation_logprobs(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        if not self.tokenizer.server_ids:
            raise ConfigError(
                f"Label scoring needs the model's own token ids, and the token counts for the server at "
                f"{self.config.base_url} are {self.tokenizer.kind}; name the model's tokenizer "
                "(#tokenizer=PATH in the server reference) to score labels."
            )
        prompt_text = self._text_of(prompt_ids)
        scores: list[float | None] = [None] * len(continuations)
        if self.scorer.mode == "verify":
            scores[0] = self._verify(prompt_ids, prompt_text, continuations[0])
        todo = [i for i, s in enumerate(scores) if s is None]
        score = self._echo_sum if self.scorer.mode == "echo" else self._forced_sum

        def one(i: int) -> float:
            value = score(prompt_ids, prompt_text, continuations[i])
            if value is None:  # the echo reply changed shape after the check: this one the forced way
                value = self._forced_sum(prompt_ids, prompt_text, continuations[i])
            return value

        for i, value in zip(todo, run_bounded(one, todo, self.config.max_concurrency), strict=True):
            scores[i] = value
        return [float(s) for s in scores]

    def _verify(self, prompt_ids: list[int], prompt_text: str, cont: list[int]) -> float:
        """Score ``cont`` both ways; use echo from now on only when they agree. Returns the forced score."""
        echo, why = None, "the server does not echo the prompt's log-probabilities"
        try:
            echo = self._echo_sum(prompt_ids, prompt_text, cont)
        except WorkbenchError as err:
            why = f"echo refused: {str(err)[:QUOTE_CHARS]}"
        try:
            forced = self._forced_sum(prompt_ids, prompt_text, cont)
        except ConfigError:
            if echo is None:
                raise
            self.scorer.decide(echo, None, "")
            return echo
        if echo is not None and abs(echo - forced) > ECHO_TOLERANCE:
            why = f"its echo score {echo:.4f} differs from the forced score {forced:.4f}"
        self.scorer.decide(echo, forced, why)
        return forced

    def _full_text(self, prompt_ids: list[int], prompt_text: str, cont: list[int]) -> str:
        with self._memo_lock:
            whole = self._memo.get(tuple(prompt_ids) + tuple(cont))
        return whole if whole is not None and whole.startswith(prompt_text) else prompt_text + self._text_of(cont)

    def _echo_sum(self, prompt_ids: list[int], prompt_text: str, cont: list[int]) -> float | None:
        """log p(cont | prompt) from one request that echoes the prompt with its log-probabilities.

        The continuation's tokens are the last ``len(cont)`` echoed prompt tokens (the
        generated token, ``usage.completion_tokens`` of them, comes after); None when the
        reply does not have that shape (no echo, no usage, a length that does not match).
        """
        text = self._full_text(prompt_ids, prompt_text, cont)
        body = {"model": self.model, "prompt": text, "echo": True, "logprobs": 1,
                **self._fields(DecodingConfig(max_new_tokens=1), None)}
        reply = self.client.post("/completions", body, Completion,
                                 limit=completion_limit(1, len(prompt_ids) + len(cont)))
        logprobs, usage = reply.choices[0].logprobs, reply.usage
        if logprobs is None or logprobs.token_logprobs is None or usage is None or usage.completion_tokens is None:
            return None
        values = logprobs.token_logprobs
        whole = len(prompt_ids) + len(cont)
        lengths = (whole, whole - len(self._bos))  # with the BOS (vLLM) or without it (llama-cpp-python)
        echoed = values[:len(values) - usage.completion_tokens] if usage.completion_tokens else values
        if len(echoed) not in lengths and len(values) in lengths:
            echoed = values  # the generated token counted in usage but not listed (llama-cpp-python, no BOS)
        if len(echoed) not in lengths or len(echoed) <= len(cont):
            return None
        tail = echoed[-len(cont):]
        if any(v is None for v in tail):
            return None
        return float(sum(tail))

    def _forced_sum(self, prompt_ids: list[int], prompt_text: str, cont: list[int]) -> float:
        total = 0.0
        for j, token in enumerate(cont):
            prefix = prompt_text + (self._text_of(cont[:j]) if j else "")
            total += self._forced_logprob(prefix, token, len(prompt_ids) + j)
        return total

    def _forced_logprob(self, prefix: str, token: int, n_prefix: int = 0) -> float:
        """log p(token | prefix): generate one token forced by logit_bias; logprobs are the model's own."""
        body = {"model": self.model, "prompt": prefix, **self._probs_field(1), "logit_bias": {str(token): FORCE_BIAS},
                **self._fields(DecodingConfig(max_new_tokens=1), None)}
        logprobs = self._logprobs(body, completion_limit(1, n_prefix))
        if logprobs.content:  # llama-server: the generated token and its candidates carry ids
            first = logprobs.content[0]
            for candidate in (first, *first.top_logprobs):
                if candidate.id == token:
                    return float(candidate.logprob)
        else:
            want = self.token_text(token)
            got = (logprobs.tokens or [None])[0]
            values = logprobs.token_logprobs or [None]
            if got is not None and got.strip() == want.strip() and values[0] is not None:
                return float(values[0])
            tops = (logprobs.top_logprobs or [None])[0] or {}
            if want in tops:
                return float(tops[want])
        raise ConfigError(
            f"The server at {self.config.base_url} ignored logit_bias, so it cannot score continuations; "
            "label scoring needs a server that honours logit_bias and returns logprobs (vLLM, llama.cpp)."
        )

    def _logprobs(self, body: dict, limit: Limit) -> Logprobs:
        logprobs = self.client.post("/completions", body, Completion, limit=limit).choices[0].logprobs
        if logprobs is None:
            raise self._no_logprobs()
        return logprobs

    def _no_logprobs(self) -> ConfigError:
        return ConfigError(
            f"The server at {self.config.base_url} does not return log-probabilities; the probability "
            "explorer and label scoring need one that does (vLLM; llama-cpp-python with logits_all)."
        )
