"""Every reply shape an OpenAI-compatible server sends, validated at the edge (one Pydantic model per shape).

A shape the code does not expect is one :class:`MalformedReply` naming the endpoint
and the field; ``{"error": ...}`` is a ModelError quoting the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Annotated, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from workbench.errors import ModelError

#: Characters of a server's error body quoted in a message.
QUOTE_CHARS = 200


class Reply(BaseModel):
    """A server's reply: fields the workbench reads are typed strictly; fields servers add are allowed."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


#: A log-probability (NaN and values above 0 are refused; -inf is a real answer).
LogProb = Annotated[float, Field(le=1e-3)]
Count = Annotated[int, Field(ge=0)]
Window = Annotated[int, Field(ge=16)]


class LlamaMeta(Reply):
    n_ctx: Window | None = None  # llama-server: the context it was started with


class ModelEntry(Reply):
    id: str = Field(min_length=1)
    owned_by: str | None = None  # "llamacpp" on llama-server, "vllm" on vLLM
    max_model_len: Window | None = None  # vLLM: its context length
    meta: LlamaMeta | None = None


class ModelList(Reply):
    data: list[ModelEntry]


class Tokens(Reply):
    tokens: list[Count]


class Detokenized(Reply):
    #: llama-cpp-python answers "text", vLLM "prompt", llama.cpp "content".
    text: str = Field(validation_alias=AliasChoices("text", "prompt", "content"))


class TokenLogprob(Reply):
    """One candidate in llama-server's own logprobs shape (``{"id", "token", "bytes", "logprob"}``)."""

    id: Count | None = None
    token: str
    logprob: LogProb


class ContentLogprob(TokenLogprob):
    """One generated token in llama-server's shape, with its top candidates."""

    top_logprobs: list[TokenLogprob] = []


class Logprobs(Reply):
    """The legacy OpenAI completions shape (``tokens``, ``token_logprobs``, ``top_logprobs``), as
    llama-cpp-python and vLLM send it, or llama-server's ``content`` list of tokens with ids."""

    tokens: list[str] | None = None
    token_logprobs: list[LogProb | None] | None = None
    top_logprobs: list[dict[str, LogProb] | None] | None = None
    text_offset: list[Count] | None = None
    content: list[ContentLogprob] | None = None  # llama-server (llama.cpp's own)

class Usage(Reply):
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None


class CompletionChoice(Reply):
    text: str
    finish_reason: str | None = None
    logprobs: Logprobs | None = None


class Completion(Reply):
    choices: list[CompletionChoice] = Field(min_length=1)
    usage: Usage | None = None


class StreamChoice(Reply):
    text: str | None = None
    finish_reason: str | None = None


class StreamEvent(Reply):
    choices: list[StreamChoice] = []  # a final usage-only event has none


class ChatMessage(Reply):
    content: str


class ChatChoice(Reply):
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(Reply):
    choices: list[ChatChoice] = Field(min_length=1)
    usage: Usage | None = None


class SlotSettings(Reply):
    n_ctx: Window | None = None  # llama-server: the context of one slot (its window per request)


class Props(Reply):
    chat_template: str | None = None
    default_generation_settings: SlotSettings | None = None


class MalformedReply(ModelError):
    """A reply whose shape the workbench does not expect (a ModelError naming the endpoint and the field)."""



R_ = TypeVar("R_", bound=Reply)


def parse_reply(model: type[R_], raw: bytes | str, path: str, where: str) -> R_:
    """``raw`` (the body of ``where``'s reply to ``path``) as ``model``, or one WorkbenchError.

    Not JSON -> MalformedReply; ``{"error": ...}`` -> ModelError quoting the server;
    any other shape ``model`` does not describe -> MalformedReply naming the field.
    """
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, a 5000-digit number, nesting deeper than Python's stack
        raise MalformedReply(
            f"The server at {where} returned malformed JSON for {path} ({text[:60]!r}); "
            "is it an OpenAI-compatible server?"
        ) from None
    if isinstance(data, dict) and data.get("error") and "choices" not in data:
        inner = data["error"]
        inner = inner.get("message", inner) if isinstance(inner, dict) else inner
        message = " ".join(str(inner).split())[:QUOTE_CHARS]
        raise ModelError(f"The server at {where} failed: {message}.")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "the reply"
        got = json.dumps(first.get("input"), default=str)[:40]
        raise MalformedReply(
            f"The server at {where} sent an unexpected reply for {path}: {field}: {first['msg']} (got {got}); "
            "is it an OpenAI-compatible server?"
        ) from None
    except RecursionError:
        raise MalformedReply(f"The server at {where} sent a reply for {path} nested too deeply.") from None



def iter_sse_data(lines: Iterable[bytes], where: str) -> Iterator[str]:
    """The ``data`` of each server-sent event, until ``[DONE]``.

    A stream that ends without ``[DONE]`` was cut (server killed, connection
    dropped): that is a ModelError, never a silently short text.
    """
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                payload, data = "\n".join(data), []
                if payload.strip() == "[DONE]":
                    return
                yield payload
            continue
        if line.startswith(":"):  # comment / keep-alive ping
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data and "\n".join(data).strip() == "[DONE]":
        return
    raise ModelError(f"The server at {where} closed the stream before it finished; check the server's log.")

