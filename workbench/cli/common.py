"""Arguments shared by several commands: model choice and decoding flags."""

from __future__ import annotations

import argparse

from workbench.backends import BACKENDS, DEFAULT_MODEL
from workbench.decoding import PRESETS, DecodingConfig, preset


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"registry id or local path (default {DEFAULT_MODEL})")
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="default: llama.cpp for GGUF on CPU")
    parser.add_argument("--context-window", type=int, default=None, help="tokens (default 4096)")


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
    g.add_argument("--stop", action="append", help="stop string (repeatable)")
    g.add_argument("--seed", type=int)
    g.add_argument("-n", "--n", dest="n", type=int, help="samples per prompt")


_FIELDS = ("do_sample", "temperature", "top_k", "top_p", "min_p", "typical_p", "repetition_penalty",
           "no_repeat_ngram_size", "num_beams", "max_new_tokens", "seed", "n")


def decoding_from_args(args: argparse.Namespace) -> DecodingConfig:
    """The DecodingConfig the flags describe (validated; errors say which flag to change)."""
    changes = {name: getattr(args, name) for name in _FIELDS if getattr(args, name, None) is not None}
    if args.stop:
        changes["stop"] = tuple(s.encode().decode("unicode_escape") for s in args.stop)
    # Setting a sampling knob without --do-sample means the user wants sampling.
    if "do_sample" not in changes and any(k in changes for k in ("temperature", "top_k", "top_p", "min_p", "typical_p")):
        changes["do_sample"] = changes.get("temperature", 1.0) != 0
    base = preset(args.preset) if args.preset else DecodingConfig()
    return base.replace(**changes)


def backend_from_args(args: argparse.Namespace):
    from workbench.backends import DEFAULT_CONTEXT_WINDOW, load_backend

    return load_backend(args.model, args.backend, args.context_window or DEFAULT_CONTEXT_WINDOW)


def pool_from_arg(value: str):
    """A shipped sample pool by name (e.g. "arithmetic") or a pool file by path."""
    from workbench.data import load_pool, load_sample, sample_pools

    return load_sample(value) if value in sample_pools() else load_pool(value)


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
