"""``prompt run`` / ``prompt render``: build a prompt from a spec file and run it or print it exactly."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli.common import (
    add_decoding_args,
    add_model_args,
    backend_from_args,
    decoding_from_args,
    read_stdin,
    shown,
)
from workbench.errors import DataError
from workbench.reasoning.registry import help_text as reasoning_help
from workbench.reasoning.registry import names as reasoning_names

#: What a prompt or a completion may print raw on a terminal: line breaks and tabs.
TEXT = "\n\t"


def register(sub) -> None:
    p = sub.add_parser("prompt", help=f"render or run a prompt spec (reasoning: {', '.join(reasoning_names())})",
                       description="Render or run a prompt spec. A spec's 'reasoning' names one of these modes:\n"
                                   + reasoning_help(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = p.add_subparsers(dest="prompt_command", required=True, metavar="ACTION")
    for name, help_text, run in (("run", "run every stage and print prompts, outputs and the answer", run_prompt_cmd),
                                 ("render", "print the exact text sent to the model", render_cmd)):
        c = cmds.add_parser(name, help=help_text)
        c.add_argument("spec", metavar="SPEC", help="a spec YAML file, or a starter name (see prompts/specs/)")
        c.add_argument("--input", required=True, help="the query ('-' reads stdin)")
        c.add_argument("--k", type=int, default=None, help="use the first K demonstrations (default: all)")
        c.add_argument("--raw", action="store_true", help="raw completion text even for a chat model")
        add_model_args(c)
        add_decoding_args(c)
        c.set_defaults(run=run)


def _load(args):
    from workbench.prompts import load_spec, starter_specs

    path = Path(args.spec)
    if path.suffix in (".yaml", ".yml") or path.exists():
        spec_file = load_spec(path)
    else:
        starters = starter_specs()
        if args.spec not in starters:
            raise DataError(f"No spec file or starter named {args.spec!r}; starters: {', '.join(starters)}.")
        spec_file = starters[args.spec]
    if args.k is not None and args.k < 0:
        raise DataError(f"--k must be 0 or more, got {args.k}.")
    demos = spec_file.demos if args.k is None else spec_file.demos[: args.k]
    query = read_stdin("The --input text") if args.input == "-" else args.input
    return spec_file, demos, query


def _header(title: str) -> None:
    print(f"=== {title} ===", flush=True)


def render_cmd(args) -> int:
    from workbench.prompts import fit_to_window

    spec_file, demos, query = _load(args)
    cfg = decoding_from_args(args)
    backend = backend_from_args(args)
    rendered = fit_to_window(spec_file.spec, demos, query, backend, cfg.max_new_tokens,
                             as_chat=False if args.raw else None)
    sys.stdout.write(shown(rendered.text, keep=TEXT))  # control characters escaped; line breaks kept
    sys.stdout.flush()
    print(f"\n[{shown(backend.spec.id)}] {rendered.tokens} / {backend.context_window} tokens, "
          f"{len(rendered.demos)} demonstrations, {rendered.dropped} dropped to fit", file=sys.stderr)
    return 0


def run_prompt_cmd(args) -> int:
    from workbench.prompts import run_prompt

    spec_file, demos, query = _load(args)
    cfg = decoding_from_args(args)
    backend = backend_from_args(args)
    n_stages = len(spec_file.spec.mode.stages)
    seen = [0]

    def stream_stage(name, prompt, stage_cfg):
        seen[0] += 1
        label = f"stage {seen[0]}/{n_stages}: {name}"
        _header(f"{label} · prompt ({backend.count_tokens(prompt)} tokens)")
        print(shown(prompt, keep=TEXT))
        _header(f"{label} · output")
        stream = backend.stream(prompt, stage_cfg)
        for piece in stream:
            print(shown(piece, keep=TEXT), end="", flush=True)
        print()
        print(f"[{shown(backend.spec.id)} · {backend.name}] {stream.generation.summary()}", file=sys.stderr)
        return stream.generation

    run = run_prompt(spec_file.spec, demos, query, backend, cfg, as_chat=False if args.raw else None,
                     runner=stream_stage)
    if run.rendered.dropped:
        print(f"note: dropped {run.rendered.dropped} demonstrations to fit the context window", file=sys.stderr)
    _header("answer")
    print(f"{shown(run.answer) if run.answer is not None else '(none found)'}   [rule: {run.extraction.rule}; "
          f"{run.seconds:.2f} s in {len(run.stages)} call(s)]")
    return 0
