"""Connecting to an OpenAI-compatible server: check it serves the model, find its family, tokenizer and window."""

from __future__ import annotations

from dataclasses import replace

from workbench.backends.openai.backend import OpenAICompatBackend
from workbench.backends.openai.client import ServerClient
from workbench.backends.openai.config import ServerConfig, config_from_ref
from workbench.backends.openai.replies import MalformedReply, ModelList, Props
from workbench.backends.openai.tokenizers import ServerTokenizer, Tokenizer, find_server_tokenizer, make_tokenizer
from workbench.backends.registry import DEFAULT_CONTEXT_WINDOW
from workbench.errors import ModelError, WorkbenchError


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
