"""Arguments shared by several commands: model choice and decoding flags."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

from workbench.backends import BACKENDS, DEFAULT_MODEL
from workbench.decoding import PRESETS, DecodingConfig, preset
from workbench.errors import ConfigError

#: Smallest --context-window accepted: room for a short prompt and a few new tokens.
MIN_CONTEXT_WINDOW = 16
#: The largest run id there can be: the store keeps ids as SQLite INTEGERs (signed 64-bit).
MAX_RUN_ID = 2**63 - 1
#: The escapes ``--stop`` understands; any other text (a lone backslash, "é") is kept as typed.
STOP_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}
_STOP_ESCAPE = re.compile(r"\\([nt\\])")


def add_model_args(parser: argparse.ArgumentParser, several: bool = False) -> None:
    """``--model``, ``--backend``, ``--context-window``; ``several``: ``--model`` repeats (a list, None when left
    out: :func:`model_refs` reads it)."""
    if several:
        parser.add_argument("--model", action="append", default=None, metavar="MODEL",
                            help=f"registry id, local path or server BASE_URL#MODEL (default {DEFAULT_MODEL}); "
                                 "repeat it to run every prompt on every model (named PROMPT @ MODEL)")
    else:
        parser.add_argument("--model", default=DEFAULT_MODEL,
                            help=f"registry id or local path (default {DEFAULT_MODEL})")
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="default: llama.cpp for GGUF on CPU")
    parser.add_argument("--context-window", type=int, default=None,
                        help=f"tokens, at least {MIN_CONTEXT_WINDOW} (default 4096)")


def add_decoding_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("decoding (names follow Hugging Face GenerationConfig)")
    g.add_argument("--preset", choices=list(PRESETS), help="start from a named preset")
    g.add_argument("--do-sample", action="store_true", default=None, help="sample instead of greedy")
    g.add_argument("--temperature", type=float)
    g.add_argument("--top-k", type=int)
    g.add_argument("--top-p", type=float)
    g.add_argument("--min-p", type=float)
    g.add_argument("--typical-p", type=float)
    g.add_argument("--repetition-penalty", type=float)
    g.add_argument("--no-repeat-ngram-size", type=int)
    g.add_argument("--num-beams", type=int)
    g.add_argument("--max-new-tokens", type=int)
    g.add_argument("--stop", action="append", help=r"stop string (repeatable); \n, \t and \\ are escapes")
    g.add_argument("--seed", type=int)
    g.add_argument("-n", "--n", dest="n", type=int, help="samples per prompt")
    g.add_argument("--sampler-order", help="order of temperature/top-k/top-p/min-p/typical-p: llama.cpp "
                   "(temperature last), transformers (temperature first), or names such as 'top_p,temperature' "
                   "(default: the backend's own order)")


_FLOATS = ("temperature", "top_p", "min_p", "typical_p", "repetition_penalty")
_FIELDS = ("do_sample", "temperature", "top_k", "top_p", "min_p", "typical_p", "repetition_penalty",
           "no_repeat_ngram_size", "num_beams", "max_new_tokens", "seed", "n", "sampler_order")


def decoding_from_args(args: argparse.Namespace) -> DecodingConfig:
    """The DecodingConfig the flags describe (validated; errors say which flag to change)."""
    changes = {name: getattr(args, name) for name in _FIELDS if getattr(args, name, None) is not None}
    for name in _FLOATS:
        if name in changes and not math.isfinite(changes[name]):
            raise ConfigError(f"--{name.replace('_', '-')} must be a finite number (got {changes[name]}).")
    if args.stop:
        changes["stop"] = tuple(parse_stop(s) for s in args.stop)
    # Setting a sampling knob without --do-sample means the user wants sampling.
    if "do_sample" not in changes and any(k in changes for k in ("temperature", "top_k", "top_p", "min_p", "typical_p")):
        changes["do_sample"] = changes.get("temperature", 1.0) != 0
    base = preset(args.preset) if args.preset else DecodingConfig()
    return base.replace(**changes)


def parse_stop(text: str) -> str:
    r"""A ``--stop`` value as the stop string: ``\n``, ``\t`` and ``\\`` are escapes, all else stays as typed."""
    return _STOP_ESCAPE.sub(lambda m: STOP_ESCAPES[m.group(1)], text)


def model_refs(args: argparse.Namespace) -> list[str]:
    """The models a repeatable ``--model`` names, in order (the default model when left out); one given twice is
    one line."""
    refs = args.model if isinstance(args.model, list) else [args.model or DEFAULT_MODEL]
    refs = refs or [DEFAULT_MODEL]
    twice = next((r for r in refs if refs.count(r) > 1), None)
    if twice is not None:
        raise ConfigError(f"--model {twice} is given twice; give each model once.")
    return refs


def backend_from_args(args: argparse.Namespace):
    from workbench.backends import DEFAULT_CONTEXT_WINDOW, load_backend

    window = args.context_window
    if window is not None and window < MIN_CONTEXT_WINDOW:
        raise ConfigError(f"--context-window must be at least {MIN_CONTEXT_WINDOW} tokens (got {window}); "
                          f"leave it out for the default of {DEFAULT_CONTEXT_WINDOW}.")
    return load_backend(args.model, args.backend, DEFAULT_CONTEXT_WINDOW if window is None else window)


#: Column-mapping flags: (flag suffix, ColumnMapping field, help). Each comes as ``--X`` (the dataset, and the pool
#: unless told otherwise) and ``--pool-X`` (the pool only).
MAPPING_FLAGS = (
    ("input-column", "input", "the column holding the input text (default: question)"),
    ("answer-column", "answer", "the column holding the gold answer (default: answer)"),
    ("input-template", "input_template", 'build the input from several columns, e.g. "{title}. {description}" '
                                         "(instead of --input-column)"),
    ("label-map", "label_map", 'map stored answer values to label names, e.g. "1=world,2=sports"; a value '
                               "not in the map is an error"),
)


def add_mapping_args(parser: argparse.ArgumentParser) -> None:
    """``--input-column``, ``--answer-column``, ``--input-template``, ``--label-map`` and their ``--pool-`` twins."""
    g = parser.add_argument_group("data files as they come (CSV, TSV, JSON, JSONL, Parquet; sample names ignore "
                                  "these)")
    for flag, _, help_text in MAPPING_FLAGS:
        g.add_argument(f"--{flag}", default=None, help=help_text)
    for flag, _, _ in MAPPING_FLAGS:
        g.add_argument(f"--pool-{flag}", default=None, help=f"--{flag} for the --pool file (default: the "
                                                            "dataset's)")


def mapping_from_args(args: argparse.Namespace, pool: bool = False):
    """The ColumnMapping the flags describe for the dataset, or (``pool=True``) for the pool: a ``--pool-`` flag
    wins over the dataset's."""
    from workbench.data import ColumnMapping, parse_label_map

    def given(prefix: str) -> dict[str, str]:
        found = {name: getattr(args, f"{prefix}{flag.replace('-', '_')}", None) for flag, name, _ in MAPPING_FLAGS}
        found = {k: v for k, v in found.items() if v is not None}
        if "input_template" in found and "input" in found:
            raise ConfigError(f"Give --{prefix.replace('_', '-')}input-column or --{prefix.replace('_', '-')}"
                              "input-template, not both.")
        return found

    values = given("")
    if pool:
        own = given("pool_")
        if "input" in own or "input_template" in own:  # the pool says where its input is: nothing inherited
            values.pop("input", None)
            values.pop("input_template", None)
        values.update(own)
    if "label_map" in values:
        values["label_map"] = parse_label_map(values["label_map"])
    return ColumnMapping(**values)


def pool_from_arg(value: str, mapping=None):
    """A shipped sample pool by name (e.g. "arithmetic"), a pool file by path, or a Hugging Face dataset read
    offline (``hf:glue:sst2:validation``, :mod:`workbench.data.hub`; the pool is named by it), read with
    ``mapping`` (a :class:`~workbench.data.ColumnMapping`; samples keep their own schema)."""
    from workbench.data import ColumnMapping, load_pool, load_sample, sample_pools

    if value in sample_pools():
        return load_sample(value)
    return load_pool(value, mapping or ColumnMapping(), name=value if value.startswith("hf:") else None)


def shown(text: str, keep: str = "") -> str:
    r"""``text`` safe to print on a terminal: control characters (ESC, BEL, NUL, U+2028, ...) appear escaped
    (``\x1b``), except those in ``keep`` (e.g. "\n" for notes)."""
    from workbench.store import unprintable

    return "".join(c if c in keep or not unprintable(c) else ascii(c)[1:-1] for c in text)


def shown_json(obj) -> str:
    """One line of JSON (non-ASCII kept readable) with every control character written as a \\u escape."""
    from workbench.store import unprintable

    return "".join(json.dumps(c)[1:-1] if unprintable(c) else c for c in json.dumps(obj, ensure_ascii=False))


def tqdm_progress(desc: str):
    """A ``progress(done, total)`` callback drawing a tqdm bar on stderr; call ``.close()`` after."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, total=0, unit="it", leave=True)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    progress.close = bar.close  # type: ignore[attr-defined]
    return progress


class OneLineParser(argparse.ArgumentParser):
    """argparse with the CLI's own error shape: one line ``error: ...`` on stderr, exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {shown(message).rstrip('.')}; see `{shown(self.prog)} --help`\n")


def _digits(text: str) -> str:
    """A long number shortened for a message: its first 20 digits and how many there are."""
    return text if len(text) <= 24 else f"{text[:20]}… ({len(text)} digits)"


def run_id(text: str) -> int:
    """argparse type of a run id: a whole number from 1 to :data:`MAX_RUN_ID` (the store holds no other).

    >>> run_id(" 7 ")
    7
    >>> run_id("9" * 30)
    Traceback (most recent call last):
    argparse.ArgumentTypeError: There is no run 99999999999999999999… (30 digits): run ids are whole numbers from 1 to 9223372036854775807; pick one from `runs list`.
    """
    return _stored_number(text, "run", "run id", "pick one from `runs list`")


def version_number(text: str) -> int:
    """argparse type of a saved set's version: a whole number from 1 to :data:`MAX_RUN_ID` (SQLite's INTEGER)."""
    return _stored_number(text, "version", "version number", "pick one from the set's version history")


def _stored_number(text: str, what: str, noun: str, hint: str) -> int:
    """``text`` as a row id the store can hold (1 to :data:`MAX_RUN_ID`), else one argparse line; a number of
    thousands of digits is never converted."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"{shown(text)!r} is not a {noun} (a whole number); {hint}.")
    if len(digits.lstrip("0")) > len(str(MAX_RUN_ID)) or not 1 <= int(digits) <= MAX_RUN_ID:
        raise argparse.ArgumentTypeError(f"There is no {what} {_digits(digits)}: {noun}s are whole numbers from 1 to "
                                         f"{MAX_RUN_ID}; {hint}.")
    return int(digits)


def run_ref(text: str) -> int | str:
    """argparse type of "a run id or a run.jsonl": digits are a run id (checked by :func:`run_id`), else a path."""
    return run_id(text) if text.strip().isascii() and text.strip().isdigit() else text


def read_stdin(what: str) -> str:
    """Standard input as UTF-8 text, at most :data:`~workbench.safeload.MAX_FILE_BYTES` (a pipe of /dev/zero is
    refused, not read forever); a one-line error naming the first byte that is not UTF-8."""
    from workbench.safeload import read_stream

    data = read_stream(sys.stdin.buffer, "stdin")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} read from stdin is not UTF-8 text (invalid byte 0x{data[err.start]:02x} at byte "
                          f"offset {err.start}); convert it to UTF-8 (e.g. `iconv -t UTF-8`) and try again.") from None


def check_output(path: str | os.PathLike, flag: str = "--output") -> Path:
    """Refuse an output path that cannot be written, before any work: a folder, a device or pipe, a parent that
    is a file, a place where no file can be made (``/proc``, read-only). The write itself goes through a
    temporary file in the same folder (:mod:`workbench.atomic`), so that is what is tried here; a folder that
    does not exist yet is made at the nearest one that does."""
    p = Path(path)
    name = shown(str(path))
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as err:
        raise ConfigError(f"{flag} {name}: {err.strerror}.") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        example = {"--junit": "report.xml"}.get(flag, "run.csv")  # a name of the kind the flag writes
        raise ConfigError(f"{flag} {name} is a folder; give a file name (e.g. {name.rstrip('/')}/{example}).")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{flag} {name} is not a regular file (a device, pipe or socket); give a file name.")
    folder = p.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"{flag} {name}: {shown(str(folder))} is a file, not a folder.")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".workbench-", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ConfigError(f"{flag} {name}: cannot write files in {shown(str(folder))} ({err.strerror}).") from None
    return p
