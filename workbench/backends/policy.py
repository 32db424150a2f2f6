"""Which models and servers a shared (classroom) server may load: :class:`ModelPolicy`.

>>> ModelPolicy.from_env("127.0.0.1", {}).pinned
False
>>> ModelPolicy.from_env("0.0.0.0", {}).models
('gemma-3-270m', 'smollm2-135m-instruct')
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

from workbench import settings
from workbench.backends.kinds import is_server
from workbench.backends.openai.config import parse_ref, ref_options
from workbench.backends.registry import EMBEDDED
from workbench.errors import ModelError

#: "1" pins models and servers to the lists below, "0" never; unset: pinned when the app is served beyond
#: loopback (every student's browser can then name a model path or a server URL for the server to open).
CLASSROOM_ENV = "WORKBENCH_CLASSROOM"
#: Comma-separated registry ids or model paths a pinned server loads (default: the embedded models).
ALLOWED_MODELS_ENV = "WORKBENCH_ALLOWED_MODELS"
#: Comma-separated server references ``BASE_URL[#MODEL[#API_KEY_ENV]]`` a pinned server uses (default: none).
ALLOWED_SERVERS_ENV = "WORKBENCH_ALLOWED_SERVERS"


def is_loopback(address: str | None) -> bool:
    """True when a server bound to ``address`` is reachable from this machine only ("" binds every interface)."""
    address = (address or "").strip().strip("[]")
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ModelPolicy:
    """What a server may load: anything (not ``pinned``), or only the allowed models and servers.

    Checking never looks at the disk or the network, so a refusal says nothing about what exists there.
    """

    pinned: bool = False  # False: any model or server (one user on loopback)
    models: tuple[str, ...] = ()  # registry ids or paths
    servers: tuple[str, ...] = ()  # server references; one without a model allows any model on that server

    @classmethod
    def from_env(cls, address: str | None, env: Mapping[str, str] | None = None) -> ModelPolicy:
        """The policy of a server bound to ``address``, from WORKBENCH_CLASSROOM / _ALLOWED_MODELS / _SERVERS
        (in ``env``; default: the process environment, through :mod:`workbench.settings`)."""
        models, servers = settings.get(ALLOWED_MODELS_ENV, env), settings.get(ALLOWED_SERVERS_ENV, env)
        flag = settings.get(CLASSROOM_ENV, env)  # a ConfigError line naming the variable when it is not 1 or 0
        pinned = flag is True or (flag is None and (bool(models or servers) or not is_loopback(address)))
        return cls(pinned, models or tuple(EMBEDDED), servers)

    def check(self, model: str, backend: str = "auto") -> None:
        """Refuse a model or server this server does not allow (a ModelError naming the allowed ones)."""
        if not self.pinned:
            return
        model = (model or "").strip()
        if is_server(model, backend):
            if not any(_same_server(model, allowed) for allowed in self.servers):
                allowed = ", ".join(self.servers) or "none"
                raise ModelError(f"This server uses only the OpenAI-compatible servers it allows ({allowed}); "
                                 f"ask the teacher to add one to {ALLOWED_SERVERS_ENV}.")
            return
        if _as_path(model) not in {_as_path(m) for m in self.models}:
            raise ModelError(f"This server loads only the models it allows; pick one of: {', '.join(self.models)} "
                             f"(the teacher sets them with {ALLOWED_MODELS_ENV}).")


def _as_path(model: str) -> str:
    """A model id or path in one spelling, without touching the disk ("a/./m.gguf" == "a/m.gguf")."""
    return model if model in EMBEDDED else os.path.normpath(os.path.expanduser(model))


def _same_server(ref: str, allowed: str) -> bool:
    """``ref`` is the allowed server: the same URL, the same key variable and (when it names one) model, and
    no tokenizer file but the one the entry names (a student's ``#tokenizer=/some/path`` would make this
    machine read any local file): the server's own, the labelled estimate, or the teacher's."""
    (url, name, key_env), (a_url, a_name, a_key_env) = parse_ref(ref), parse_ref(allowed)
    tokenizer = ref_options(ref).get("tokenizer", "")
    return (url == a_url and key_env == a_key_env and (not a_name or name == a_name)
            and tokenizer in ("", "approximate", ref_options(allowed).get("tokenizer", "")))
