"""OpenAI-compatible server backend: a model served by vLLM, llama.cpp's server, llama-cpp-python, TGI, Ollama...

The model is named by a *server reference* ``BASE_URL#MODEL[#API_KEY_ENV][#tokenizer=...][#scoring=...]``,
e.g. ``http://127.0.0.1:8000/v1#smollm2`` or ``https://gpu-box/v1#meta-llama/Llama-3.1-8B-Instruct#VLLM_API_KEY``
(the third part names an environment variable holding the API key; the key itself
is read per request and never stored). ``MODEL`` may be left out when the server
serves exactly one model. The parts live in :mod:`workbench.backends.openai`
(reference and config, replies, the pooled HTTP client, tokenizers); this module is
the backend and label scoring, and re-exports the parts.

What a remote server can and cannot give, compared with an in-process model:

* generation, sampling with seeds, stop strings, streaming: yes (``/v1/completions``);
  each sample is its own request with seed ``seed + i`` so any sample can be
  reproduced alone, and requests run concurrently (``max_concurrency``) so a
  server that batches (vLLM, ``llama-server --parallel N``) is used well;
* token counts: through the server's tokenizer endpoint (``/extras/tokenize``,
  ``/tokenize``), or a local tokenizer the user names, or a labelled estimate
  (:mod:`workbench.backends.openai.tokenizers`);
* next-token distribution: only the top-N log-probabilities the server returns,
  never the full logits (``next_token_logits`` raises a ConfigError);
* continuation scores (:class:`Scorer`): one ``echo`` + ``logprobs`` request per
  continuation where the server offers it and a check against the forced-token way
  agrees, else one request per continuation token, forced with ``logit_bias`` and
  read from ``logprobs``;
* chat: the server applies its own template (:meth:`OpenAICompatBackend.chat`);
  ``format_chat`` works only when the server publishes its template.

Servers differ in the sampling fields they read and in their defaults (see
:func:`sampling_fields`); the *family* (llama.cpp's ``llama-server``,
llama-cpp-python, vLLM, any other OpenAI server) is detected when connecting
(``owned_by`` in ``/v1/models``, the tokenizer endpoint that answers) or named with
``WORKBENCH_SERVER_FAMILY``.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

import numpy as np

from workbench.backends.base import Backend, Capabilities, Generation, Timer, TokenProb, sample_seeds
from workbench.backends.openai.client import (
    MAX_LINE_BYTES,
    MAX_REPLY_BYTES,
    RETRY_STATUSES,
    Deadline,
    Pool,
    Response,
    Route,
    ServerClient,
    backoff_delays,
    jittered,
    retry_after,
)
from workbench.backends.openai.config import (
    APPROXIMATE,
    DEADLINE_ENV,
    FAMILIES,
    FAMILY_ENV,
    SCORING,
    SCORING_ENV,
    TIMEOUT_ENV,
    TOKENIZER_ENV,
    Limit,
    ServerConfig,
    completion_limit,
    config_from_ref,
    format_ref,
    is_server_ref,
    parse_ref,
    ref_options,
)
from workbench.backends.openai.replies import (
    QUOTE_CHARS,
    ChatCompletion,
    Completion,
    Detokenized,
    Logprobs,
    MalformedReply,
    ModelList,
    Props,
    Reply,
    StreamEvent,
    Tokens,
    Usage,
    iter_sse_data,
    parse_reply,
)
from workbench.backends.openai.tokenizers import (
    TOKENIZER_ROUTES,
    ApproximateTokenizer,
    GGUFTokenizer,
    HFTokenizer,
    ServerTokenizer,
    Tokenizer,
    TokenizerRoute,
    find_server_tokenizer,
    make_tokenizer,
)
from workbench.backends.registry import DEFAULT_CONTEXT_WINDOW, EMBEDDED, ModelSpec
from workbench.decoding import SAMPLER_ORDERS, DecodingConfig
from workbench.errors import ConfigError, ModelError, PromptError, WorkbenchError

__all__ = [
    "APPROXIMATE", "DEADLINE_ENV", "FAMILIES", "FAMILY_ENV", "MAX_LINE_BYTES", "MAX_REPLY_BYTES", "QUOTE_CHARS",
    "RETRY_STATUSES", "SCORING", "SCORING_ENV", "TIMEOUT_ENV", "TOKENIZER_ENV", "TOKENIZER_ROUTES",
    "ApproximateTokenizer", "ChatCompletion", "Completion", "Deadline", "Detokenized", "GGUFTokenizer",
    "HFTokenizer", "Logprobs", "MalformedReply", "ModelList", "OpenAICompatBackend", "Pool", "Props", "Reply",
    "Response", "Route", "Scorer", "ServerClient", "ServerConfig", "ServerTokenizer", "StreamEvent", "Tokenizer",
    "TokenizerRoute", "Tokens", "backoff_delays", "config_from_ref", "connect", "find_server_tokenizer",
    "format_ref", "is_server_ref", "iter_sse_data", "jittered", "load_openai_compatible", "make_tokenizer",
    "native_order", "parse_ref", "parse_reply", "ref_options", "retry_after", "run_bounded", "sampling_fields",
]

#: logit_bias that forces a token (the OpenAI API's maximum).
FORCE_BIAS = 100.0
#: ids -> text pairs remembered so prompts go to the server as the text the user wrote.
TEXT_MEMO_SIZE = 1024
#: Families whose own sampling defaults are not "off" (top_k 40, min_p 0.05): every field is sent.
EXPLICIT_FAMILIES = ("llama.cpp", "llama-cpp-python")
#: llama-server's names for the samplers whose order it takes (its ``samplers`` request field).
LLAMA_SERVER_SAMPLERS = {"typical_p": "typ_p"}
#: Families tried with echo scoring under ``scoring="auto"``: vLLM and other OpenAI servers. llama-server
#: ignores echo (it answers the generated token's log-probability only); llama-cpp-python's echo log-probabilities are shifted by one
#: token for models without a BOS token and it sorts the whole vocabulary in Python for every prompt token
#: (slower than the forced requests), so both are scored the forced way unless ``scoring="echo"``.
ECHO_FAMILIES = ("vllm", "openai")
#: Largest difference (nats) between a continuation's echo score and its forced score for echo to be used
#: (a whole-prompt pass and token-by-token passes add floating-point numbers in different orders).
ECHO_TOLERANCE = 0.01

T = TypeVar("T")
R = TypeVar("R")


# ---- pure helpers ------------------------------------------------------------------------
def native_order(family: str) -> tuple[str, ...]:
    """The order a server of ``family`` applies the samplers in by itself.

    Both llama.cpp servers run llama.cpp's sampler chain (temperature last); vLLM
    divides by the temperature first, as Hugging Face does; other servers are assumed to.
    """
    return SAMPLER_ORDERS["llama.cpp" if family in EXPLICIT_FAMILIES else "transformers"]


def sampling_fields(cfg: DecodingConfig, seed: int | None, family: str = "openai", window: int | None = None) -> dict:
    """The request fields for ``cfg`` (one sample with ``seed``) on a server of ``family``.

    The OpenAI fields are always sent. Servers of the llama.cpp family (llama.cpp's
    own ``llama-server`` and llama-cpp-python) read ``repeat_penalty`` and have
    defaults that are not off (top_k 40, min_p 0.05; repeat_penalty 1.1 in
    llama-cpp-python), so sending nothing is not "off": every field is sent under its
    llama.cpp name, with the off values (top_k 0, min_p 0, typical_p 1,
    repeat_penalty 1) when the config has it off. ``llama-server`` also gets
    ``repeat_last_n``: its whole ``window`` (the tokens of one slot; -1, "all", where the window is not
    known, which only older servers take), so the penalty covers prompt and output, as
    in Hugging Face, and ``samplers``: the config's sampler order (penalties first), so
    the order shown is the order used. Other servers (vLLM, ...) default to off and get
    the extras (``repetition_penalty``, their name) only when set, and sample in their
    own order only (:func:`native_order`).
    """
    order = cfg.order_on(native_order(family))
    if cfg.do_sample and family != "llama.cpp" and order != native_order(family):
        raise ConfigError(
            f"This server ({family}) samples only in its own order ({' > '.join(native_order(family))}); "
            "clear sampler_order, or use llama.cpp's llama-server, which takes any order."
        )
    if cfg.num_beams > 1:
        raise ConfigError("Beam search is not available on an OpenAI-compatible server; set num_beams=1.")
    if cfg.no_repeat_ngram_size > 0:
        raise ConfigError("no_repeat_ngram_size is not available on an OpenAI-compatible server; set it to 0.")
    body: dict = {
        "max_tokens": cfg.max_new_tokens,
        "temperature": cfg.temperature if cfg.do_sample else 0.0,
        "top_p": cfg.top_p,
    }
    if cfg.stop:
        body["stop"] = list(cfg.stop)
    if cfg.do_sample and seed is not None:
        body["seed"] = seed
    if family in EXPLICIT_FAMILIES:
        body.update(top_k=cfg.top_k, min_p=cfg.min_p, typical_p=cfg.typical_p, repeat_penalty=cfg.repetition_penalty)
        if family == "llama.cpp":
            body["repeat_last_n"] = window if window else -1  # today's llama-server refuses -1
            body["samplers"] = ["penalties", *(LLAMA_SERVER_SAMPLERS.get(name, name) for name in order)]
        return body
    if cfg.typical_p != 1.0:
        raise ConfigError(
            "typical_p is read only by llama.cpp servers (llama-server, llama-cpp-python); set it to 1 for this "
            f"server, or name its family with {FAMILY_ENV}=llama.cpp if it is one."
        )
    if cfg.top_k > 0:
        body["top_k"] = cfg.top_k
    if cfg.min_p > 0:
        body["min_p"] = cfg.min_p
    if cfg.repetition_penalty != 1.0:
        body["repetition_penalty"] = cfg.repetition_penalty
    return body



def run_bounded(fn: Callable[[T], R], items: Sequence[T], max_workers: int) -> list[R]:
    """``[fn(x) for x in items]`` with at most ``max_workers`` calls in flight; first error wins."""
    items = list(items)
    if max_workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        futures = [pool.submit(fn, x) for x in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise




def _family_of(owned_by: str | None) -> str:
    """The family ``/v1/models`` names: llama-server says ``owned_by: llamacpp``, vLLM ``vllm``."""
    return {"llamacpp": "llama.cpp", "vllm": "vllm"}.get((owned_by or "").lower(), "auto")


def _props(client: ServerClient) -> Props:
    """llama.cpp's own server publishes its chat template and its window per slot at /props."""
    try:
        return client.get("/props", Props, root=True)
    except MalformedReply:
        raise
    except WorkbenchError:
        return Props()


# ---- connecting --------------------------------------------------------------------------------
def load_openai_compatible(ref: str, context_window: int = DEFAULT_CONTEXT_WINDOW) -> OpenAICompatBackend:
    """Connect to the server a reference ``BASE_URL#MODEL[#API_KEY_ENV][#tokenizer=...][#scoring=...]`` names.

    The timeout, the deadline, the family, the tokenizer and the scoring come from the
    environment (:data:`TIMEOUT_ENV`, :data:`DEADLINE_ENV`, :data:`FAMILY_ENV`,
    :data:`TOKENIZER_ENV`, :data:`SCORING_ENV`) where the reference does not name them.
    """
    return connect(config_from_ref(ref, context_window))


def connect(config: ServerConfig) -> OpenAICompatBackend:
    """Check the server answers, serves the model, and can be tokenized for; then wrap it as a Backend."""
    client = ServerClient(config)
    entries = client.get("/models", ModelList).data
    served = [e.id for e in entries]
    model = config.model
    if not model:
        if len(served) != 1:
            raise ModelError(
                f"The server at {config.base_url} serves {len(served)} models; name one as "
                f"{config.base_url}#MODEL (served: {', '.join(served) or 'none'})."
            )
        model = served[0]
    elif model not in served:
        raise ModelError(
            f"The server at {config.base_url} does not serve model {model!r}; it serves: {', '.join(served) or 'none'}."
        )
    entry = entries[served.index(model)]
    family = config.family if config.family != "auto" else _family_of(entry.owned_by)
    tokenizer = make_tokenizer(config.tokenizer, client, model, family)
    if family == "auto":
        family = _family_by_tokenizer(tokenizer, client, model)
    props = _props(client) if family == "llama.cpp" else Props()
    slot = props.default_generation_settings
    window = (entry.max_model_len or (slot and slot.n_ctx) or (entry.meta and entry.meta.n_ctx)
              or config.context_window)  # what the server reports, else the user's
    template = props.chat_template if props.chat_template and props.chat_template.strip() else None
    config = replace(config, model=model, context_window=window, family=family)
    client.config = config  # the same server (its pool, what it has answered; the tokenizer's client too)
    return OpenAICompatBackend(config, tokenizer, template, client)


def _family_by_tokenizer(tokenizer: Tokenizer, client: ServerClient, model: str) -> str:
    """The family the tokenizer endpoint that answers names; "openai" for a server with none."""
    if isinstance(tokenizer, ServerTokenizer):
        return tokenizer.route.kind
    try:
        return find_server_tokenizer(client, model, "auto").route.kind
    except WorkbenchError:
        return "openai"


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


class OpenAICompatBackend(Backend):
    """A model behind an OpenAI-compatible HTTP API. Build it with :func:`connect` or ``load_backend``."""

    name = "openai-compatible"

    def __init__(self, config: ServerConfig, tokenizer: Tokenizer, chat_template: str | None = None,
                 client: ServerClient | None = None):
        spec = ModelSpec(
            id=config.ref,
            path=config.base_url,
            # a chat template makes a chat model, unless the registry calls the served embedded model a base
            # model (a base GGUF may carry a template: llama-server publishes gemma-3-270m's)
            is_chat=chat_template is not None and (config.model not in EMBEDDED or EMBEDDED[config.model].is_chat),
            description=f"{config.model} served at {config.base_url}"
            + ("" if tokenizer.exact else " (token counts approximate)"),
        )
        super().__init__(spec, config.context_window, chat_template, slots=config.max_concurrency)
        self.config = config
        self.client = client or ServerClient(config)
        self.tokenizer = tokenizer
        self.route = tokenizer.route if isinstance(tokenizer, ServerTokenizer) else None
        self.scorer = Scorer(config.scoring, config.family)
        self.chat_template_source = f"the server at {config.root_url} (/props)"  # named when the template fails
        caps = dict(full_logits=False, beam_search=False, concurrent=config.max_concurrency,
                    label_scoring=tokenizer.server_ids)
        caps["exact_token_counts"] = tokenizer.exact
        self.capabilities = Capabilities(**caps)
        self._memo: OrderedDict[tuple[int, ...], str] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._token_texts: dict[int, str] = {}
        natural_empty = self._natural("")
        self._bos = natural_empty if len(natural_empty) == 1 else []
        self._bos_text = self.token_text(self._bos[0]) if self._bos else ""

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def device(self) -> str:
        return self.config.base_url

    @property
    def bos_text(self) -> str:
        return self._bos_text

    @property
    def sampler_order(self) -> tuple[str, ...]:
        """The order this server samples in when a config leaves it open."""
        return native_order(self.family)

    @property
    def family(self) -> str:
        """The server's family (see :func:`sampling_fields`): detected when connecting, or named."""
        return self.config.family

    @property
    def token_counts_exact(self) -> bool:
        """False when token counts are an estimate (``#tokenizer=approximate``): show them as approximate."""
        return self.tokenizer.exact

    @property
    def scoring(self) -> str:
        """How continuations are scored: "echo (...)", "forced (...)", or not decided until the first score."""
        return self.scorer.note or "echo, once the first score is checked against forced tokens"

    def _release(self) -> None:
        self.client.pool.close()

    def _fields(self, cfg: DecodingConfig, seed: int | None) -> dict:
        """:func:`sampling_fields` for this server (its family, its window)."""
        return sampling_fields(cfg, seed, self.family, self.context_window)

    # ---- tokens ----------------------------------------------------------------------------
    def _natural(self, text: str) -> list[int]:
        """The ids the model itself makes of ``text`` (with its BOS when the model adds one)."""
        return self.tokenizer.encode(text)

    def _model_ids(self, text: str) -> list[int]:
        """The ids the server will see for ``text`` (the text is sent as is)."""
        return self._remember(self._natural(text), text)

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        ids = self._natural(text)
        if self._bos and ids[:1] == self._bos:
            ids = ids[1:]
        return self._remember(self._bos + ids if add_bos else ids, text)

    def token_text(self, token_id: int) -> str:
        if token_id not in self._token_texts:
            self._token_texts[token_id] = self._detokenize([token_id])
        return self._token_texts[token_id]

    def _detokenize(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids) if ids else ""

    def _remember(self, ids: list[int], text: str) -> list[int]:
        with self._memo_lock:
            self._memo[tuple(ids)] = text
            self._memo.move_to_end(tuple(ids))
            while len(self._memo) > TEXT_MEMO_SIZE:
                self._memo.popitem(last=False)
        return ids

    def _text_of(self, ids: Sequence[int]) -> str:
        """The text to send for ``ids``: the text they came from, else the tokenizer's detokenization."""
        with self._memo_lock:
            text = self._memo.get(tuple(ids))
        if text is not None:
            return text
        bos = len(self._bos) if self._bos and list(ids[:1]) == self._bos else 0
        return self._detokenize(list(ids[bos:]))

    # ---- generation --------------------------------------------------------------------------
    def _generate(self, prompt_ids: list[list[int]], cfg: DecodingConfig) -> list[list[Generation]]:
        self._fields(cfg, cfg.seed)  # refuse unsupported settings before any request
        jobs = [(i, seed) for i in range(len(prompt_ids)) for seed in sample_seeds(cfg)]
        texts = [self._text_of(ids) for ids in prompt_ids]

        def run(job: tuple[int, int | None]) -> Generation:
            i, seed = job
            return self._complete(texts[i], len(prompt_ids[i]), cfg, seed)

        flat = run_bounded(run, jobs, self.config.max_concurrency)
        return [flat[i * cfg.n:(i + 1) * cfg.n] for i in range(len(prompt_ids))]

    def _complete(self, text: str, n_prompt: int, cfg: DecodingConfig, seed: int | None) -> Generation:
        timer = Timer()
        body = {"model": self.model, "prompt": text, **self._fields(cfg, seed)}
        reply = self.client.post("/completions", body, Completion, limit=completion_limit(cfg.max_new_tokens, n_prompt))
        choice = reply.choices[0]
        text_out = choice.text
        n_out = reply.usage.completion_tokens if reply.usage else None
        if n_out is None:
            n_out = len(self._tokenize(text_out, add_bos=False)) if text_out else 0
        return Generation(
            text=text_out,
            prompt_tokens=n_prompt,
            completion_tokens=n_out,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
            seconds=timer.seconds(),
            seed=seed if cfg.do_sample else None,
        )

    def _stream(self, prompt_ids: list[int], cfg: DecodingConfig) -> Iterator[tuple[str, Generation | None]]:
        body = {
            "model": self.model,
            "prompt": self._text_of(prompt_ids),
            "stream": True,
            **self._fields(cfg, cfg.seed),
        }
        timer = Timer()
        pieces: list[str] = []
        finish = "stop"
        with self.client.open("/completions", body, limit=completion_limit(cfg.max_new_tokens, len(prompt_ids))) as reply:
            for payload in iter_sse_data(reply.lines(), self.config.base_url):
                event = parse_reply(StreamEvent, payload, "/completions (stream)", self.config.base_url)
                for choice in event.choices[:1]:
                    if choice.text:
                        pieces.append(choice.text)
                        yield choice.text, None
                    if choice.finish_reason:
                        finish = "length" if choice.finish_reason == "length" else "stop"
        text = "".join(pieces)
        n_out = len(self._tokenize(text, add_bos=False)) if text else 0
        yield "", Generation(text, len(prompt_ids), n_out, finish, timer.seconds(), cfg.seed if cfg.do_sample else None)

    def chat(self, messages: Sequence[dict], cfg: DecodingConfig | None = None) -> Generation:
        """One reply from ``/v1/chat/completions``: the server applies its own chat template."""
        cfg = cfg or DecodingConfig()
        if not messages or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages):
            raise PromptError("Chat needs a list of messages with 'role' and 'content'.")
        body = {"model": self.model, "messages": list(messages), **self._fields(cfg, cfg.seed)}
        timer = Timer()
        # the prompt's tokens are the server's to count: about one per 3 characters (most are longer)
        limit = completion_limit(cfg.max_new_tokens, sum(len(m["content"]) for m in messages if isinstance(m["content"], str)) // 3)
        with self.lock.hold():
            reply = self.client.post("/chat/completions", body, ChatCompletion, limit=limit)
        choice, usage = reply.choices[0], reply.usage or Usage()
        return Generation(
            text=choice.message.content,
            prompt_tokens=usage.prompt_tokens or 0,
            completion_tokens=usage.completion_tokens or 0,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
            seconds=timer.seconds(),
            seed=cfg.seed if cfg.do_sample else None,
        )

    # ---- probabilities -------------------------------------------------------------------------
    def _logits(self, ids: list[int]) -> np.ndarray:
        raise ConfigError(
            f"The server at {self.config.base_url} gives only the top log-probabilities, not full logits; "
            "use the next-token distribution (top-N) instead."
        )

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
