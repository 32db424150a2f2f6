"""Token ids for a model behind a server: the server's own tokenizer endpoint, a local tokenizer, or an estimate.

The OpenAI API has no tokenizer endpoint. vLLM, llama.cpp's ``llama-server`` and
llama-cpp-python each have their own (:data:`TOKENIZER_ROUTES`); Ollama, TGI, LM
Studio and hosted APIs have none. For those the user names one (``#tokenizer=`` in
the server reference, or ``WORKBENCH_SERVER_TOKENIZER``):

* a local tokenizer -- a Hugging Face tokenizer folder or an id already in the local
  Hugging Face cache (``local_files_only``, never ``trust_remote_code``), or a GGUF
  file whose vocabulary llama.cpp reads alone (``vocab_only``); exact when it is the
  served model's own tokenizer (the user's claim, not checked);
* ``approximate`` -- an estimate, about one token per 4 bytes of each word, marked
  approximate wherever counts are shown. Its ids are not the server's (they encode
  the bytes they stand for, so they turn back into the exact text), so label scoring
  and anything forcing a token by id is unavailable with it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from workbench.backends.openai.config import APPROXIMATE, TOKENIZER_ENV
from workbench.backends.openai.replies import Detokenized, MalformedReply, Tokens, parse_reply
from workbench.errors import ConfigError, ModelError, PromptError

if TYPE_CHECKING:
    from workbench.backends.openai.client import ServerClient

#: Bytes per token of the approximate count (each whitespace-led word is cut into pieces this long).
APPROX_BYTES_PER_TOKEN = 4


class Tokenizer(Protocol):
    """What the backend needs of a tokenizer."""

    kind: str  # for messages and the sidebar: "server (/tokenize)", "local (path)", "approximate"
    exact: bool  # the counts are the model's own (False: an estimate, shown as one)
    server_ids: bool  # the ids are the server's own, so a token can be forced by id (logit_bias)

    def encode(self, text: str) -> list[int]:
        """The ids the model reads for ``text``, with its BOS when the model adds one."""

    def decode(self, ids: Sequence[int]) -> str:
        """The text of ``ids`` (a token that is half a character gives U+FFFD)."""


@dataclass(frozen=True)
class TokenizerRoute:
    """How one kind of server tokenizes (the OpenAI API has no tokenizer endpoint)."""

    kind: str
    tokenize_path: str  # under the server root, not /v1
    detokenize_path: str
    text_field: str  # request field holding the text to tokenize (the reply's field: see Detokenized)
    extra: tuple[tuple[str, object], ...] = ()  # fixed request fields (add the model's special tokens)


#: Tried in order when connecting; the first that answers with token ids is used.
TOKENIZER_ROUTES = (
    TokenizerRoute("llama-cpp-python", "/extras/tokenize", "/extras/detokenize", "input"),
    TokenizerRoute("vllm", "/tokenize", "/detokenize", "prompt", (("add_special_tokens", True),)),
    TokenizerRoute("llama.cpp", "/tokenize", "/detokenize", "content", (("add_special", True),)),
)


class ServerTokenizer:
    """The server's own tokenizer endpoint (:data:`TOKENIZER_ROUTES`)."""

    exact = True
    server_ids = True

    def __init__(self, client: ServerClient, route: TokenizerRoute, model: str):
        self.client, self.route, self.model = client, route, model
        self.kind = f"the server's ({route.tokenize_path})"

    def encode(self, text: str) -> list[int]:
        body = {"model": self.model, self.route.text_field: text, **dict(self.route.extra)}
        return self.client.post(self.route.tokenize_path, body, Tokens, root=True).tokens

    def decode(self, ids: Sequence[int]) -> str:
        if not ids:
            return ""
        path = self.route.detokenize_path
        try:
            raw = self.client.fetch(path, {"model": self.model, "tokens": list(ids)}, root=True)
        except ModelError:
            return "\ufffd"  # e.g. half of a multi-byte character, which the server cannot decode alone
        return parse_reply(Detokenized, raw, path, self.client.config.base_url).text


def find_server_tokenizer(client: ServerClient, model: str, family: str) -> ServerTokenizer:
    """The first route that answers with token ids (the family's own first); a malformed answer is named."""
    malformed: MalformedReply | None = None
    for route in sorted(TOKENIZER_ROUTES, key=lambda r: r.kind != family):
        tokenizer = ServerTokenizer(client, route, model)
        try:
            tokens = tokenizer.encode("Hello")
        except MalformedReply as err:
            malformed = malformed or err
            continue
        except (ConfigError, ModelError, PromptError):
            continue
        if tokens:
            return tokenizer
    if malformed is not None:
        raise malformed
    raise ModelError(
        f"The server at {client.config.base_url} has no tokenizer endpoint (/extras/tokenize or /tokenize), "
        "so the workbench cannot count its tokens: name the model's tokenizer on this machine (add "
        "#tokenizer=PATH to the server reference: a Hugging Face tokenizer folder or cached id, or a .gguf file), "
        f"or add #tokenizer={APPROXIMATE} for an estimate (or set {TOKENIZER_ENV})."
    )


class HFTokenizer:
    """A Hugging Face tokenizer from disk: a folder, or an id already in the local cache (no network)."""

    exact = True
    server_ids = True

    def __init__(self, name: str):
        try:
            from transformers import AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(os.path.expanduser(name), local_files_only=True,
                                                      trust_remote_code=False)
        except Exception as err:  # whatever stops it loading is the user's one-line error
            raise _load_error(name, err) from None
        self.kind = f"local ({name})"
        self._lock = threading.Lock()  # a fast tokenizer called from two threads at once can fail ("Already borrowed")

    def encode(self, text: str) -> list[int]:
        with self._lock:
            return list(self._tok(text, add_special_tokens=True)["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        with self._lock:
            return self._tok.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)


class GGUFTokenizer:
    """The vocabulary of a GGUF file, read by llama.cpp without its weights (``vocab_only``)."""

    exact = True
    server_ids = True

    def __init__(self, path: str):
        try:
            from llama_cpp import Llama

            from workbench.backends.llamacpp import templates_kept

            if not os.path.isfile(os.path.expanduser(path)):
                raise FileNotFoundError("no such file")
            with templates_kept():  # only the vocabulary is needed: a broken chat template is no reason to refuse
                self._llm = Llama(model_path=os.path.expanduser(path), vocab_only=True, verbose=False)
        except Exception as err:  # whatever stops it loading is the user's one-line error
            raise _load_error(path, err) from None
        self.kind = f"local ({os.path.basename(path)})"
        self._lock = threading.Lock()  # the backend tokenizes from several threads; one native call at a time

    def encode(self, text: str) -> list[int]:
        with self._lock:  # BOS only if the model adds one
            return self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def decode(self, ids: Sequence[int]) -> str:
        with self._lock:
            return self._llm.detokenize(list(ids), special=True).decode("utf-8", errors="replace")


def _load_error(name: str, err: BaseException) -> ConfigError:
    reason = " ".join(str(err).split())[:160] or type(err).__name__
    return ConfigError(
        f"Cannot load the tokenizer {name!r} from this machine ({reason}); name a Hugging Face tokenizer folder, "
        f"an id already in the local Hugging Face cache, a .gguf file, or '{APPROXIMATE}'."
    )


#: A word with the whitespace before it, or whitespace at the end.
_PIECES = re.compile(r"\s*\S+|\s+")


class ApproximateTokenizer:
    """An estimate: each whitespace-led word is cut into pieces of :data:`APPROX_BYTES_PER_TOKEN` bytes.

    An id is ``0x01`` followed by its piece's bytes, read as one big-endian number, so
    ids turn back into the exact text; a prompt's pieces are a prefix of the pieces of
    the prompt and a continuation led by whitespace, as with real tokenizers.

    >>> tok = ApproximateTokenizer()
    >>> ids = tok.encode("The capital of France")
    >>> len(ids), tok.decode(ids)
    (6, 'The capital of France')
    """

    kind = "approximate (about 4 bytes per token)"
    exact = False
    server_ids = False

    def encode(self, text: str) -> list[int]:
        ids = []
        for piece in _PIECES.findall(text):
            raw = piece.encode("utf-8")
            for i in range(0, len(raw), APPROX_BYTES_PER_TOKEN):
                ids.append(int.from_bytes(b"\x01" + raw[i:i + APPROX_BYTES_PER_TOKEN], "big"))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        raw = b""
        for i in ids:
            if i < 0:
                continue
            chunk = int(i).to_bytes((int(i).bit_length() + 7) // 8, "big")
            raw += chunk[1:] if chunk[:1] == b"\x01" else b""
        return raw.decode("utf-8", errors="replace")


def make_tokenizer(name: str, client: ServerClient, model: str, family: str) -> Tokenizer:
    """The tokenizer ``name`` (ServerConfig.tokenizer) names: "" the server's, "approximate", a .gguf, else HF."""
    if not name:
        return find_server_tokenizer(client, model, family)
    if name == APPROXIMATE:
        return ApproximateTokenizer()
    if name.lower().endswith(".gguf"):
        return GGUFTokenizer(name)
    return HFTokenizer(name)
