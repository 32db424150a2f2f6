"""transformers backend (torch): Hugging Face model folders or GGUF files, CUDA when present.

This is the "local GPU model" path; on a CPU it works too, only slower to load
and to decode than llama.cpp. Weights come from safetensors or GGUF only and
``trust_remote_code`` is never set.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench import settings
from workbench.backends.base import Backend, Timer, sample_seeds, truncate_at_stop
from workbench.backends.gguf_header import gguf_header
from workbench.backends.hf_speculation import HFSpeculation
from workbench.backends.llamacpp_batch import default_batch_size
from workbench.backends.records import Generation
from workbench.backends.registry import DEFAULT_CONTEXT_WINDOW, ModelSpec
from workbench.decoding import SAMPLER_ORDERS, DecodingConfig
from workbench.errors import ModelError


def load_transformers(
    spec: ModelSpec,
    context_window: int = DEFAULT_CONTEXT_WINDOW,
    device: str | None = None,
) -> TransformersBackend:
    """Load a model with transformers; a ModelError names the path if it cannot."""
    settings.export("HF_HUB_OFFLINE", "1", only_if_unset=True)  # never reach for a hub at run time
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise ModelError(
            "The transformers backend needs torch and transformers; run `pip install -r requirements.txt`."
        ) from None
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    path = Path(spec.path)
    kwargs: dict = {"trust_remote_code": False}
    if spec.is_gguf:
        folder, kwargs["gguf_file"] = str(path.parent), path.name
    else:
        folder, kwargs["use_safetensors"] = str(path), True
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **kwargs)
    except ImportError as err:
        raise ModelError(f"Loading {path.name} needs a missing package ({err}); run `pip install -r requirements.txt`.") from None
    except Exception as err:  # a truncated GGUF raises struct.error, a bad header IndexError, ...: all one line
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ModelError(f"transformers could not load {spec.path} ({type(err).__name__}: {first[:200]}); "
                         "is it a complete model file or folder?") from None
    model.to(device).eval()
    # A folder's generation_config.json (do_sample: true, top_p: 0.95, ...) must not change the user's
    # settings: generate() fills every setting left unset from it. Keep only the special token ids.
    model.generation_config = _neutral_generation_config(model.generation_config)
    template = None
    if spec.is_chat and spec.is_gguf:  # in the header: the text llama.cpp uses, read without building the vocabulary
        try:
            template = gguf_header(str(path)).get("tokenizer.chat_template")
        except ValueError as err:  # e.g. an array of arrays (gguf-py reads them; gguf_header does not)
            raise ModelError(f"Cannot read the chat template in {spec.path}'s GGUF header ({err}).") from None
    elif spec.is_chat:
        template = tokenizer.chat_template
    window = min(context_window, int(getattr(model.config, "max_position_embeddings", context_window)))
    backend = TransformersBackend(spec, model, tokenizer, window, template, batch_size=default_batch_size())
    backend.chat_template_source = (f"{spec.path} (GGUF header)" if spec.is_gguf  # "The chat template of <this> ..."
                                    else f"{spec.path} (tokenizer_config.json)")
    return backend


#: Settings of a model's generation_config.json that say which tokens are special; every other one is ignored.
KEPT_GENERATION_SETTINGS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")


def _neutral_generation_config(shipped):
    """A GenerationConfig with only the special token ids of ``shipped``: the library defaults for the rest."""
    from transformers import GenerationConfig

    return GenerationConfig(**{k: getattr(shipped, k) for k in KEPT_GENERATION_SETTINGS
                               if getattr(shipped, k, None) is not None})


class _StopFlag:
    """A stopping criterion that ends generation when a stream is closed."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


@dataclass(frozen=True)
class HFBatch:
    """What the last batched :meth:`TransformersBackend.generate` did."""

    size: int  # prompts per generate call at most
    sequences: int  # prompts generated
    calls: int  # left-padded generate calls


class TransformersBackend(Backend):
    """A causal LM in transformers. Build it with :func:`load_transformers`."""

    name = "transformers"
    sampler_order = SAMPLER_ORDERS["transformers"]

    def __init__(self, spec: ModelSpec, model, tokenizer, context_window: int, chat_template: str | None,
                 batch_size: int = 1):
        super().__init__(spec, context_window, chat_template)
        self.model = model
        self.tokenizer = tokenizer
        bos = tokenizer.bos_token_id
        probe = tokenizer("a")["input_ids"]
        self._bos_id = bos if bos is not None and probe[:1] == [bos] else None
        self._bos_text = tokenizer.convert_ids_to_tokens(bos) if self._bos_id is not None else ""
        self._prefix: tuple[int, ...] | None = None  # the prompt whose KV cache is kept (all but its last token)
        self._prefix_cache = None
        self.batch_size = batch_size  # prompts per left-padded generate (greedy only); 1 = one at a time
        self.last_batch: HFBatch | None = None  # what the last batched generate did

    @property
    def device(self) -> str:
        return str(self.model.device)

    def speculation(self) -> HFSpeculation:
        """Speculative decoding: the traced verifier and transformers' prompt lookup / assisted generation."""
        return HFSpeculation(self)

    @property
    def bos_text(self) -> str:
        return self._bos_text

    @property
    def eos_text(self) -> str:
        return self.tokenizer.eos_token or ""

    def _tokenize(self, text: str, add_bos: bool) -> list[int]:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ([self._bos_id] if add_bos and self._bos_id is not None else []) + list(ids)

    def token_text(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id])

    # ---- generation -----------------------------------------------------------------
    def generation_config(self, cfg: DecodingConfig):
        """The complete GenerationConfig of ``cfg``. In a non-native sampler order the warpers are left off
        here and come from :meth:`_warpers` instead."""
        from transformers import GenerationConfig

        sampling = {}
        if cfg.do_sample:
            sampling = dict(temperature=1.0, top_k=0, top_p=1.0, min_p=None, typical_p=1.0)
            if cfg.order_on(self.sampler_order) == self.sampler_order:
                sampling = dict(temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p,
                                min_p=cfg.min_p or None, typical_p=cfg.typical_p)
        return GenerationConfig(
            do_sample=cfg.do_sample,
            num_beams=cfg.num_beams,
            max_new_tokens=cfg.max_new_tokens,
            repetition_penalty=cfg.repetition_penalty,
            no_repeat_ngram_size=cfg.no_repeat_ngram_size,
            stop_strings=list(cfg.stop) or None,
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            eos_token_id=self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id,
            **sampling,
        )

    def _cached_prompt(self, ids: list[int]):
        """A fresh copy of the KV cache of ``ids[:-1]``, computed once per prompt.

        Configs and samples that share a prompt (the Decoding Lab grid, Generate again) then
        skip re-reading it, as llama.cpp does with its prefix cache. The last token is left out
        so that ``generate`` still has one token to run and return logits for.
        """
        import copy

        import torch
        from transformers import DynamicCache

        prefix = tuple(ids[:-1])
        if prefix != self._prefix:
            cache = DynamicCache(config=self.model.config)
            with torch.inference_mode():
                self.model(torch.tensor([prefix], device=self.model.device), past_key_values=cache, use_cache=True)
            self._prefix, self._prefix_cache = prefix, cache
        return copy.deepcopy(self._prefix_cache)

    def _run(self, ids: list[int], cfg: DecodingConfig, seed: int | None, **extra):
        import torch

        if cfg.num_beams == 1 and len(ids) > 1:  # beam search expands the cache per beam: no reuse there
            extra["past_key_values"] = self._cached_prompt(ids)
        input_ids = torch.tensor([ids], device=self.model.device)
        warpers = self._warpers(cfg)
        if warpers is not None:
            extra["logits_processor"] = warpers
        with torch.inference_mode(), torch.random.fork_rng(devices=_cuda_devices(self.model)):
            if seed is not None:
                torch.manual_seed(seed)  # inside fork_rng: the global RNG is restored afterwards
            return self.model.generate(
                input_ids,
                attention_mask=torch.ones_like(input_ids),
                generation_config=self.generation_config(cfg),
                tokenizer=self.tokenizer,
                **extra,
            )

    def _warpers(self, cfg: DecodingConfig):
        """transformers' own warpers in the config's order when it is not transformers' (None otherwise).
        ``generate`` runs them after its penalties, as it runs its built-in warpers."""
        order = cfg.order_on(self.sampler_order)
        if not cfg.do_sample or order == self.sampler_order:
            return None
        from transformers import (
            LogitsProcessorList,
            MinPLogitsWarper,
            TemperatureLogitsWarper,
            TopKLogitsWarper,
            TopPLogitsWarper,
            TypicalLogitsWarper,
        )

        made = {
            "temperature": (cfg.temperature != 1.0, lambda: TemperatureLogitsWarper(cfg.temperature)),
            "top_k": (cfg.top_k != 0, lambda: TopKLogitsWarper(cfg.top_k)),
            "top_p": (cfg.top_p < 1.0, lambda: TopPLogitsWarper(cfg.top_p)),
            "min_p": (cfg.min_p > 0, lambda: MinPLogitsWarper(cfg.min_p)),
            "typical_p": (cfg.typical_p < 1.0, lambda: TypicalLogitsWarper(cfg.typical_p)),
        }
        return LogitsProcessorList([make() for name in order for active, make in [made[name]] if active])

    def record(self, ids: list[int], new_ids: list[int], cfg: DecodingConfig, seconds: float, seed):
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        text, stopped = truncate_at_stop(text, cfg.stop)
        eos = self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        ended = stopped or bool(new_ids and new_ids[-1] in eos_ids)
        finish = "stop" if ended or len(new_ids) < cfg.max_new_tokens else "length"
        return Generation(text, len(ids), len(new_ids), finish, seconds, seed if cfg.do_sample else None)

    def _batchable(self, prompt_ids: list[list[int]], cfg: DecodingConfig) -> bool:
        """Whether one left-padded ``generate`` call may serve these prompts.

        Only greedy decoding without penalties: sampled rows of one batch draw from one torch RNG, so
        a row's text would depend on the others (no per-sample seed), and the repetition / n-gram
        penalties would count the padding as text. Those configs run one sequence at a time.
        """
        return (self.batch_size > 1 and len(prompt_ids) > 1 and not cfg.do_sample and cfg.num_beams == 1
                and cfg.repetition_penalty == 1.0 and cfg.no_repeat_ngram_size == 0)

    def _generate_batched(self, prompt_ids: list[list[int]], cfg: DecodingConfig) -> list[list[Generation]]:
        """Greedy text of several prompts, ``batch_size`` at a time, each batch one left-padded ``generate``."""
        import torch

        pad = self.tokenizer.pad_token_id
        pad = self.tokenizer.eos_token_id if pad is None else pad
        eos = self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        out: list[list[Generation]] = []
        for at in range(0, len(prompt_ids), self.batch_size):
            group = prompt_ids[at : at + self.batch_size]
            timer = Timer()
            width = max(len(ids) for ids in group)
            rows = [[pad] * (width - len(ids)) + ids for ids in group]
            mask = [[0] * (width - len(ids)) + [1] * len(ids) for ids in group]
            input_ids = torch.tensor(rows, device=self.model.device)
            with torch.inference_mode():
                seqs = self.model.generate(
                    input_ids,
                    attention_mask=torch.tensor(mask, device=self.model.device),
                    generation_config=self.generation_config(cfg),
                    tokenizer=self.tokenizer,
                ).tolist()
            seconds = timer.seconds()
            for ids, seq in zip(group, seqs, strict=True):
                new = seq[width:]
                end = len(new)
                while end and new[end - 1] == pad:  # a row that ended early is padded to the longest
                    end -= 1
                if end < len(new) and pad in eos_ids and not truncate_at_stop(
                        self.tokenizer.decode(new[:end], skip_special_tokens=True), cfg.stop)[1]:
                    end += 1  # it ended on the end-of-text token, which counts as generated
                out.append([dataclasses.replace(self.record(ids, new[:end], cfg, seconds, None), batch=len(group))])
        self.last_batch = HFBatch(min(self.batch_size, len(prompt_ids)), len(prompt_ids),
                                  -(-len(prompt_ids) // self.batch_size))
        return out

    def _generate(self, prompt_ids: list[list[int]], cfg: DecodingConfig) -> list[list[Generation]]:
        if self._batchable(prompt_ids, cfg):
            return self._generate_batched(prompt_ids, cfg)
        out = []
        for ids in prompt_ids:
            row = []
            for seed in sample_seeds(cfg):
                timer = Timer()
                seq = self._run(ids, cfg, seed)[0].tolist()
                row.append(self.record(ids, seq[len(ids):], cfg, timer.seconds(), seed))
            out.append(row)
        return out

    def _stream(self, prompt_ids: list[int], cfg: DecodingConfig) -> Iterator[tuple[str, Generation | None]]:
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        flag = _StopFlag()
        result: dict = {}
        timer = Timer()

        def work():
            try:
                result["seq"] = self._run(prompt_ids, cfg, cfg.seed, streamer=streamer,
                                          stopping_criteria=StoppingCriteriaList([flag]))[0].tolist()
            except BaseException as err:
                result["error"] = err
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        sent = ""
        try:
            for piece in streamer:
                candidate, stopped = truncate_at_stop(sent + piece, cfg.stop)
                if candidate[len(sent):]:
                    yield candidate[len(sent):], None
                sent = candidate
                if stopped:
                    flag.event.set()
                    break
        finally:
            flag.event.set()
            thread.join()
        if "error" in result:
            raise result["error"]
        new_ids = result["seq"][len(prompt_ids):]
        yield "", self.record(prompt_ids, new_ids, cfg, timer.seconds(), cfg.seed)

    # ---- probabilities --------------------------------------------------------------
    def _forward(self, ids: list[int]):
        import torch

        with torch.inference_mode():
            x = torch.tensor([ids], device=self.model.device)
            return self.model(x).logits[0].float()

    def _logits(self, ids: list[int]) -> np.ndarray:
        return self._forward(ids)[-1].cpu().numpy().astype(np.float32)

    def _continuation_logprobs(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        import torch

        results = []
        for cont in continuations:
            logits = self._forward(prompt_ids + cont)
            logprobs = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], dim=-1)
            picked = logprobs[torch.arange(len(cont)), torch.tensor(cont, device=logits.device)]
            results.append(float(picked.sum()))
        return results


def _cuda_devices(model) -> list[int]:
    return [model.device.index or 0] if model.device.type == "cuda" else []
