"""The request fields one sampling config becomes on a server of each family, and the order it samples in.

>>> native_order("vllm")
('temperature', 'min_p', 'top_k', 'top_p', 'typical_p')
"""

from __future__ import annotations

from workbench.backends.openai.config import FAMILY_ENV
from workbench.decoding import SAMPLER_ORDERS, DecodingConfig
from workbench.errors import ConfigError

#: Families whose own sampling defaults are not "off" (top_k 40, min_p 0.05): every field is sent.
EXPLICIT_FAMILIES = ("llama.cpp", "llama-cpp-python")
#: llama-server's names for the samplers whose order it takes (its ``samplers`` request field).
LLAMA_SERVER_SAMPLERS = {"typical_p": "typ_p"}

#: Which tokens the repetition penalty reads on each backend (shown where the penalty is set): the workbench's
#: in-process backends and llama-server (sent ``repeat_last_n``) read the whole text, as Hugging Face does;
#: llama-cpp-python's server takes no window in a request (its ``CreateCompletionRequest`` has no such field).
PENALTY_WINDOWS = {
    "in process (llama.cpp, transformers)": "the prompt and the output",
    "llama-server": "the prompt and the output (each request sends repeat_last_n = the slot's window)",
    "vLLM": "the prompt and the output",
    "llama-cpp-python's server": "only the tokens it generates, at most the last 64 (its --last_n_tokens_size, "
                                 "set when that server starts; no request can change it), never the prompt",
}


def penalty_note() -> str:
    """One paragraph naming what the repetition penalty reads on each backend (:data:`PENALTY_WINDOWS`).

    >>> penalty_note().startswith("Above 1, tokens already in the text are made less likely. It reads, in process")
    True
    """
    where = "; ".join(f"{name}: {scope}" for name, scope in PENALTY_WINDOWS.items())
    return f"Above 1, tokens already in the text are made less likely. It reads, {where}."


def native_order(family: str) -> tuple[str, ...]:
    """The order a server of ``family`` applies the samplers in by itself.

    Both llama.cpp servers run llama.cpp's sampler chain (temperature last); vLLM divides by
    the temperature first and then applies min-p before top-k and top-p (its own order); other
    servers are assumed to sample as Hugging Face does.
    """
    if family in EXPLICIT_FAMILIES:
        return SAMPLER_ORDERS["llama.cpp"]
    return SAMPLER_ORDERS["vllm" if family == "vllm" else "transformers"]


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
    own order only (:func:`native_order`): another order is refused unless it turns on the same
    samplers in the same order (vLLM takes Hugging Face's when min-p is off).

    llama-cpp-python's server reads no window from a request: its penalty covers only the tokens
    it generates, at most its last 64 (``last_n_tokens_size``, a setting of that server), never the
    prompt (:data:`PENALTY_WINDOWS`).
    """
    order = cfg.order_on(native_order(family))
    if cfg.do_sample and family != "llama.cpp" and cfg.samplers_on(order) != cfg.samplers_on(native_order(family)):
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
