"""OpenAI-compatible server backend: a model served by vLLM, llama.cpp's server, llama-cpp-python, TGI, Ollama...

The model is named by a *server reference* ``BASE_URL#MODEL[#API_KEY_ENV][#tokenizer=...][#scoring=...]``,
e.g. ``http://127.0.0.1:8000/v1#smollm2`` or ``https://gpu-box/v1#meta-llama/Llama-3.1-8B-Instruct#VLLM_API_KEY``
(the third part names an environment variable holding the API key; the key itself
is read per request and never stored). ``MODEL`` may be left out when the server
serves exactly one model. The parts live beside it in
:mod:`workbench.backends.openai` (reference and config, replies, the pooled HTTP client,
tokenizers, sampling fields, label scoring, connecting); this module is the backend.

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
* continuation scores (:class:`~workbench.backends.openai.scoring.Scorer`): one ``echo`` + ``logprobs`` request per
  continuation where the server offers it and a check against the forced-token way
  agrees, else one request per continuation token, forced with ``logit_bias`` and
  read from ``logprobs``;
* chat: the server applies its own template (:meth:`OpenAICompatBackend.chat`);
  ``format_chat`` works only when the server publishes its template.

Servers differ in the sampling fields they read and in their defaults (see
:func:`~workbench.backends.openai.sampling.sampling_fields`); the *family* (llama.cpp's ``llama-server``,
llama-cpp-python, vLLM, any other OpenAI server) is detected when connecting
(``owned_by`` in ``/v1/models``, the tokenizer endpoint that answers) or named with
``WORKBENCH_SERVER_FAMILY``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence

import numpy as np

from workbench.backends.base import Backend, Timer, sample_seeds
from workbench.backends.openai.client import ServerClient
from workbench.backends.openai.concurrency import run_bounded
from workbench.backends.openai.config import ServerConfig, completion_limit
from workbench.backends.openai.replies import ChatCompletion, Completion, StreamEvent, Usage, iter_sse_data, parse_reply
from workbench.backends.openai.sampling import native_order, sampling_fields
from workbench.backends.openai.scoring import Scorer, ServerScoring
from workbench.backends.openai.tokenizers import ServerTokenizer, Tokenizer
from workbench.backends.records import Capabilities, Generation
from workbench.backends.registry import EMBEDDED, ModelSpec
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, PromptError

#: ids -> text pairs remembered so prompts go to the server as the text the user wrote.
TEXT_MEMO_SIZE = 1024


class OpenAICompatBackend(ServerScoring, Backend):
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
