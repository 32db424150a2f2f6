"""Every ``WORKBENCH_*`` setting, declared once: its name, type, default, range and help.

This is the only module that reads (or writes) the process environment. Everything else asks it for a
typed value with :func:`get` and passes the value down as an argument; a bad value is one
:class:`~workbench.errors.ConfigError` line naming the variable. ``workbench config`` prints
:func:`effective` (each value and where it came from) and the README's settings table is
:func:`markdown_table` (a test keeps them equal).

    >>> get("WORKBENCH_BATCH", {"WORKBENCH_BATCH": "4"})
    4
    >>> get("WORKBENCH_KERNELS", {})
    'exact'
    >>> get("WORKBENCH_THREADS", {"WORKBENCH_THREADS": "two"})
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: WORKBENCH_THREADS must be a whole number of threads (1 or more), not 'two'.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.errors import ConfigError

_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    """One environment variable the workbench reads."""

    name: str  # the variable, WORKBENCH_...
    parse: Callable[[str, str], Any]  # (name, stripped non-empty text) -> value; raises ConfigError
    default: Any  # the value when unset or empty (None = "decided where it is used", said in ``default_text``)
    help: str  # one line for `workbench config` and the README
    kind: str  # the type and range in words, for the table
    default_text: str = ""  # how the default reads when it is not a plain value ("every core")
    secret: bool = False  # never printed (the teacher passcode)

    def read(self, env: Mapping[str, str]) -> Any:
        """The typed value in ``env`` (default when unset or blank)."""
        raw = str(env.get(self.name, "")).strip()
        return self.default if not raw else self.parse(self.name, raw)

    def shown_default(self) -> str:
        return self.default_text or said(self.default)


def said(value: Any) -> str:
    """A typed value as a user would type it: flags as 1/0, entries comma-separated, None as "unset".

    >>> said(True), said(("a", "b")), said(None), said(50_000)
    ('1', 'a, b', 'unset', '50000')
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ", ".join(value) or "unset"
    return "unset" if value in (None, "") else str(value)


# ---- parsers: each returns the value or raises one line naming the variable -------------------------------

def whole(lo: int, hi: int | None = None, unit: str = "", phrase: str = "", *, lenient: bool = False
          ) -> Callable[[str, str], int]:
    """A whole number in [lo, hi], written in ASCII digits (``lenient``: anything ``int`` reads, ``+5`` and
    ``5_000`` too); ``phrase`` overrides how the range is said.

    >>> whole(1, 64, "sequences")("WORKBENCH_BATCH", "65")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: WORKBENCH_BATCH must be a whole number of sequences from 1 to 64, not '65'.
    """
    said = phrase or (f"a whole number of {unit} from {lo} to {hi}" if hi is not None
                      else f"a whole number of {unit} ({lo} or more)" if unit else f"a whole number of at least {lo}")

    def parse(name: str, raw: str) -> int:
        value = None
        if lenient or (raw.isascii() and raw.isdigit()):
            try:
                value = int(raw)
            except ValueError:
                pass
        if value is None or value < lo or (hi is not None and value > hi):
            raise ConfigError(f"{name} must be {said}, not {raw!r}.")
        return value
    return parse


def choice(*values: str) -> Callable[[str, str], str]:
    """One of ``values``, in any case (the error quotes it in lower case, as the engines always said it)."""
    def parse(name: str, raw: str) -> str:
        value = raw.lower()
        if value not in values:
            raise ConfigError(f"{name} must be one of {', '.join(values)}, not {value!r}.")
        return value
    return parse


def seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds.") from None
    return value


def text(name: str, raw: str) -> str:
    return raw


def flag(meaning_on: str, meaning_off: str) -> Callable[[str, str], bool]:
    def parse(name: str, raw: str) -> bool:
        value = raw.lower()
        if value in _ON:
            return True
        if value in _OFF:
            return False
        raise ConfigError(f"{name} must be 1 ({meaning_on}) or 0 ({meaning_off}); got {value!r}.")
    return parse


def entries(name: str, raw: str) -> tuple[str, ...]:
    """Comma- or newline-separated entries, blanks dropped."""
    return tuple(e.strip() for e in raw.replace("\n", ",").split(",") if e.strip())


# ---- the settings ------------------------------------------------------------------------------------------

SETTINGS: dict[str, Setting] = {}


def declare(setting: Setting) -> Setting:
    """Add one setting (the one registration line)."""
    if setting.name in SETTINGS:
        raise ValueError(f"{setting.name} is declared twice")
    SETTINGS[setting.name] = setting
    return setting


MAX_BATCH = 64  # the most sequences llama.cpp decodes together (WORKBENCH_BATCH, WORKBENCH_SHARED_BATCH)

declare(Setting("WORKBENCH_DATA_DIR", text, None, "Folder of the run store and prompt-set library (workbench.db).",
                "folder", "the user data folder (platformdirs)"))
declare(Setting("WORKBENCH_PROMPTS_DIR", text, None, "Folder of the prompt files (YAML specs and sets) the Library "
                "lists and saves to.", "folder", "./prompts when it exists, else the user data folder's prompts/"))
declare(Setting("WORKBENCH_CACHE_DIR", text, None, "Folder of cached embedding indexes.", "folder",
                "the user cache folder (platformdirs)"))
declare(Setting("WORKBENCH_CACHE_MAX_ENTRIES", whole(1, lenient=True), 50_000,
                "Most responses the response cache keeps (oldest dropped first).", "whole number ≥ 1"))
declare(Setting("WORKBENCH_THREADS", whole(1, unit="threads"), None,
                "llama.cpp's CPU threads (1 on a machine shared with busy processes).", "whole number ≥ 1",
                "every core"))
declare(Setting("WORKBENCH_KERNELS", choice("exact", "fast"), "exact",
                "llama.cpp's CPU kernels: exact (batched text = one-at-a-time text) or fast.", "exact | fast"))
declare(Setting("WORKBENCH_BATCH", whole(1, MAX_BATCH, "sequences"), None,
                "Sequences llama.cpp decodes together in one call.", f"1 … {MAX_BATCH}",
                "8 with exact kernels, 1 with fast"))
declare(Setting("WORKBENCH_SHARED_BATCH", whole(0, MAX_BATCH, "sequences"), 0,
                "Sequences the shared decoder decodes together across sessions (0 = off: callers queue).",
                f"0 … {MAX_BATCH}"))
declare(Setting("WORKBENCH_VERBOSE", flag("llama.cpp's log shown", "kept in the log file"), False,
                "Show the libraries' own log lines (llama.cpp, transformers), in the app too.", "1 | 0"))
declare(Setting("WORKBENCH_LLAMA_SERVER", text, None, "Path of the llama-server binary `workbench serve` runs.",
                "file", "the built one, else llama-server on PATH"))
declare(Setting("WORKBENCH_CLASSROOM", flag("pin models and servers", "do not"), None,
                "Classroom mode: models and servers pinned, one workspace per browser.", "1 | 0",
                "on when served beyond 127.0.0.1"))
declare(Setting("WORKBENCH_ALLOWED_MODELS", entries, (), "Models a classroom server may load (ids or paths).",
                "comma-separated", "the embedded models"))
declare(Setting("WORKBENCH_ALLOWED_SERVERS", entries, (), "OpenAI-compatible servers a classroom server may use.",
                "comma-separated", "none"))
declare(Setting("WORKBENCH_TEACHER_PASSCODE", text, None, "The teacher's passcode on a classroom server.", "text",
                "generated and printed at start", secret=True))
declare(Setting("WORKBENCH_SERVER_TIMEOUT_S", seconds, None, "Seconds each wait on an OpenAI-compatible server "
                "may take.", "seconds", "60"))
declare(Setting("WORKBENCH_SERVER_DEADLINE_S", seconds, None, "Seconds one whole request to a server may take.",
                "seconds", "none"))
declare(Setting("WORKBENCH_SERVER_FAMILY", text, None, "The server's family (llama.cpp, vllm, openai, …).", "name",
                "auto (detected)"))
declare(Setting("WORKBENCH_SERVER_TOKENIZER", text, None, "Tokenizer for a server: a local folder/id, a .gguf, "
                "or approximate.", "text", "the server's own endpoint"))
declare(Setting("WORKBENCH_SERVER_SCORING", text, None, "How a server scores labels (auto, echo, forced).", "name",
                "auto"))
declare(Setting("WORKBENCH_FAULT", text, None, "Tests only: inject a failure into the named page step.", "text"))


# ---- reading -------------------------------------------------------------------------------------------------

def environment() -> Mapping[str, str]:
    """The process environment (the one place it is read)."""
    return os.environ


def get(name: str, env: Mapping[str, str] | None = None) -> Any:
    """The typed value of one declared setting, from ``env`` (default: the process environment)."""
    return SETTINGS[name].read(environment() if env is None else env)


def check_all(env: Mapping[str, str] | None = None) -> None:
    """Validate every setting at start: the first bad one raises its one line."""
    for name in SETTINGS:
        get(name, env)


@dataclass(frozen=True)
class Effective:
    """One setting as it stands now."""

    setting: Setting  # the declaration
    value: Any  # the typed value in effect
    source: str  # "environment" or "default"

    def shown(self) -> str:
        if self.setting.secret and self.source == "environment":
            return "(set; not shown)"
        return self.setting.shown_default() if self.source == "default" else said(self.value)


def effective(env: Mapping[str, str] | None = None) -> list[Effective]:
    """Every setting's value and where it came from (raises the first bad one's line)."""
    env = environment() if env is None else env
    out = []
    for s in SETTINGS.values():
        given = bool(str(env.get(s.name, "")).strip())
        out.append(Effective(s, s.read(env), "environment" if given else "default"))
    return out


def _cell(text: str) -> str:
    """Text inside a Markdown table cell (a ``|`` would end the cell)."""
    return text.replace("|", "\\|")


def markdown_table() -> str:
    """The README's settings table."""
    rows = ["| variable | what it sets | values | default |", "|---|---|---|---|"]
    rows += [f"| `{s.name}` | {_cell(s.help)} | {_cell(s.kind)} | {_cell(s.shown_default())} |"
             for s in SETTINGS.values()]
    return "\n".join(rows)


# ---- the environment of other libraries and child processes ----------------------------------------------

def secret(variable: str) -> str | None:
    """A variable the user named to hold a secret (an API key); None when unset or blank. Never stored."""
    value = environment().get(variable, "")
    return value if value.strip() else None


def child_environment(overrides: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
                      ) -> dict[str, str]:
    """The environment for a child process: ``base`` (default: this process's) with ``overrides``."""
    return {**(environment() if base is None else base), **(overrides or {})}


def export(variable: str, value: str, *, only_if_unset: bool = False) -> None:
    """Set a variable a library reads from the environment (ggml's tiled kernels, the HF hub's offline flag)."""
    if only_if_unset:
        os.environ.setdefault(variable, value)
    else:
        os.environ[variable] = value
