"""``sets list|show|export|import|run``: the prompt-set library and the classroom demo sets, headless.

A SET argument is a saved set's name, a classroom set (its file stem, e.g.
``zero_vs_few_shot``, or its title), or a path to a ``.yaml``/``.json`` prompt-set file.

    python -m workbench sets list --search order
    python -m workbench sets export zero_vs_few_shot --format jsonl --shape chat
    python -m workbench sets import shared.yaml          # a taken name gets "name (2)", never overwritten
    python -m workbench sets run zero_vs_few_shot --max-new-tokens 8 --csv results.csv
"""

from __future__ import annotations

import sys

from workbench.backends import BACKENDS
from workbench.cli.common import check_output, shown, shown_json, version_number
from workbench.errors import ConfigError, DataError

#: What ``sets export --format`` writes.
EXPORT_FORMATS = ("yaml", "json", "jsonl")


def register(sub) -> None:
    p = sub.add_parser("sets", help="prompt sets: list, show, export, import and run (library + classroom demos)")
    cmds = p.add_subparsers(dest="sets_command", required=True, metavar="ACTION")

    c = cmds.add_parser("list", help="classroom sets, the prompts folder's files (WORKBENCH_PROMPTS_DIR) and saved "
                                      "sets, filtered by name or tag")
    c.add_argument("--search", default="", help="keep sets whose name or a tag contains this text")
    c.add_argument("--deleted", action="store_true", help="also list deleted library sets")
    c.add_argument("--json", action="store_true", help="one JSON object per line")
    c.set_defaults(run=list_cmd)

    c = cmds.add_parser("show", help="a set's explanation, steps and (with --prompts) its rendered prompts")
    _set_arg(c)
    c.add_argument("--prompts", action="store_true",
                   help="also print the exact text each step sends its model for every test input")
    c.add_argument("--backend", default="auto", choices=BACKENDS, help="with --prompts: how the models are loaded")
    c.set_defaults(run=show_cmd)

    c = cmds.add_parser("export", help="a set as YAML/JSON, or its rendered prompts as JSONL")
    _set_arg(c)
    c.add_argument("--format", choices=EXPORT_FORMATS, default="yaml", help="default %(default)s")
    c.add_argument("--shape", choices=("raw", "chat"), default="raw",
                   help='JSONL: {"prompt": text} (raw) or {"messages": [...]} (chat); default %(default)s')
    c.add_argument("--input", action="append", help="JSONL: render for this input (repeatable; default: the "
                                                    "set's test inputs)")
    c.add_argument("--meta", action="store_true", help='JSONL: add a "meta" object (set, step, input, expected...)')
    c.add_argument("-o", "--output", help="write to this file (default: stdout)")
    c.set_defaults(run=export_cmd)

    c = cmds.add_parser("import", help="add a prompt-set file to the library (a taken name gets a free one)")
    c.add_argument("file", metavar="FILE", help="a .yaml or .json prompt-set file ('-' reads stdin)")
    c.add_argument("--name", help="save under this name (default: the name in the file)")
    c.set_defaults(run=import_cmd)

    c = cmds.add_parser("run", help="run every step on the test inputs; print answers and accuracy")
    _set_arg(c)
    c.add_argument("--step", type=int, action="append", help="run only this step (1-based, repeatable)")
    c.add_argument("--input", action="append", help="run on this input instead of the test inputs (repeatable)")
    c.add_argument("--limit", type=int, help="run on the first N test inputs")
    c.add_argument("--model", help="run every step on this model (default: each step's own, else gemma-3-270m)")
    c.add_argument("--backend", default="auto", choices=BACKENDS, help="default: llama.cpp for GGUF on the CPU")
    c.add_argument("--max-new-tokens", type=int, help="cap every step's max_new_tokens (quick runs)")
    c.add_argument("--csv", metavar="FILE", help="write the results as CSV ('-' for stdout)")
    c.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    c.set_defaults(run=run_cmd)


def _set_arg(c) -> None:
    c.add_argument("set", metavar="SET", help="a saved set's name, a classroom set, or a .yaml/.json file")
    c.add_argument("--version", type=version_number, help="a saved set's version (default: the latest)")


def _open(args):
    """The set SET names, and a label saying where it came from."""
    from workbench.promptsets.library import find_set
    from workbench.store import open_store

    with open_store() as store:
        return find_set(store, args.set, args.version)


#: What a prompt, an input or an output may print raw on a terminal: line breaks and tabs.
TEXT = "\n\t"


def _out(text: str, path: str | None, flag: str = "--output") -> None:
    """``text`` to stdout (``-`` or no path) or into ``path`` (atomically; checked with
    :func:`~workbench.cli.common.check_output` before anything ran). On a terminal, control characters a
    file's text holds are escaped (a file or a pipe gets the exact text)."""
    if path is None or path == "-":
        sys.stdout.write(shown(text, keep=TEXT) if sys.stdout.isatty() else text)
        sys.stdout.flush()
        return
    from workbench.atomic import write_text_atomic

    check_output(path, flag)
    try:
        write_text_atomic(path, text, newline="")
    except OSError as err:
        raise DataError(f"Cannot write {shown(path)}: {err.strerror}.") from None
    print(f"wrote {shown(path)}", file=sys.stderr)


def _loader(backend: str, override: str | None = None):
    """``backends(model_id)``: each model loaded once; ``override`` replaces every step's model."""
    from workbench.backends import DEFAULT_MODEL, load_backend

    loaded: dict[str, object] = {}

    def backends(model: str):
        model = override or model or DEFAULT_MODEL
        if model not in loaded:
            loaded[model] = load_backend(model, backend)
        return loaded[model]

    return backends


def list_cmd(args) -> int:
    from workbench.promptsets.folder import default_prompts_dir
    from workbench.promptsets.library import library_entries
    from workbench.store import open_store

    with open_store() as store:
        rows = library_entries(store, args.search, include_deleted=args.deleted, folder=default_prompts_dir())
    if args.json:
        for row in rows:
            print(shown_json(row))
        return 0
    if not rows:
        print(f"no prompt sets match {shown(repr(args.search))}", file=sys.stderr)
        return 0
    table = [("source", "name", "version", "tags", "description")]
    for r in rows:  # names saved before names were checked may hold control characters: never print them raw
        version = "" if r["version"] is None else f"v{r['version']}" + (" (deleted)" if r["deleted"] else "")
        table.append((r["source"], shown(r["ref"]), version, shown(", ".join(r["tags"])), shown(r["description"])))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
    return 0


def show_cmd(args) -> int:
    from workbench.promptsets.running import default_index_factory, describe_decoding, describe_demos, render_step

    pset, origin = _open(args)
    print(f"# {shown(pset.name)}")
    print(f"({shown(origin)}; tags: {shown(', '.join(pset.tags)) or 'none'})")
    if pset.description:
        print(shown(pset.description))
    if pset.notes:
        print()
        print(shown(pset.notes.rstrip(), keep="\n\t"))
    indexes = default_index_factory() if args.prompts else None
    backends = _loader(args.backend)
    for i, step in enumerate(pset.steps, start=1):
        print()
        print(f"## Step {i}: {shown(step.title)}")
        print(shown(f"model: {step.model or '(the one you pick)'} · {describe_demos(step)} · "
                    f"decoding: {describe_decoding(step.decoding)}"))
        if step.notes:
            print(shown(step.notes.rstrip(), keep="\n\t"))
        if args.prompts:
            for j, case in enumerate(pset.tests, start=1):
                print(f"--- prompt for test input {j} ---")
                print(shown(render_step(step, case, backends(step.model), indexes=indexes).text, keep=TEXT))
    if pset.tests:
        print()
        print("## Test inputs")
        for j, case in enumerate(pset.tests, start=1):
            expected = "" if case.expected is None else f"   [expected: {shown(case.expected)}]"
            print(f"{j}. {shown(case.input, keep=chr(10))}{expected}")
    return 0


def export_cmd(args) -> int:
    from workbench.promptsets.exports import render_jsonl
    from workbench.promptsets.files import dumps
    from workbench.promptsets.model import TestCase
    from workbench.promptsets.running import default_index_factory

    if args.output not in (None, "-"):
        check_output(args.output)
    pset, _ = _open(args)
    if args.format == "jsonl":
        inputs = None if not args.input else [TestCase(text) for text in args.input]
        text = render_jsonl(pset, inputs, shape=args.shape, indexes=default_index_factory(), meta=args.meta)
    else:
        text = dumps(pset, args.format)
    _out(text, args.output)
    return 0


def import_cmd(args) -> int:
    from workbench.promptsets.files import load, loads
    from workbench.promptsets.library import import_set
    from workbench.store import open_store

    if args.file == "-":
        from workbench.promptsets.files import DEFAULT_LIMITS
        from workbench.safeload import read_stream

        # capped as a file is (/dev/zero piped in is refused, not read forever)
        pset = loads(read_stream(sys.stdin.buffer, "stdin", DEFAULT_LIMITS.max_bytes), source="stdin")
    else:
        pset = load(args.file)
    wanted = (args.name or pset.name).strip()
    with open_store() as store:
        name = import_set(store, pset, args.name, rename=True)
        version = store.versions(name)[-1].version
    if name.casefold() != wanted.casefold():
        print(f"note: a prompt set named {shown(wanted)!r} already exists; imported as {shown(name)!r} (nothing was "
              "overwritten).", file=sys.stderr)
    print(f"imported {shown(name)!r} (version {version}, {len(pset.steps)} steps, {len(pset.tests)} test inputs)")
    return 0


def _pick(items: tuple, picks: list[int] | None, what: str) -> list[int]:
    if not picks:
        return list(range(len(items)))
    for p in picks:
        if not 1 <= p <= len(items):
            raise ConfigError(f"--{what} {p} does not exist; the set has {len(items)} {what}s (1-{len(items)}).")
    return [p - 1 for p in dict.fromkeys(picks)]


def run_cmd(args) -> int:
    import dataclasses

    from workbench.backends import DEFAULT_MODEL
    from workbench.promptsets.exports import results_csv
    from workbench.promptsets.model import TestCase
    from workbench.promptsets.running import accuracy_by_step, capped, default_index_factory, run_set

    if args.csv not in (None, "-"):
        check_output(args.csv, "--csv")  # before any model runs
    pset, origin = _open(args)
    if args.max_new_tokens is not None:
        pset = capped(pset, args.max_new_tokens)
    steps = _pick(pset.steps, args.step, "step")
    if args.input:
        inputs = tuple(TestCase(text) for text in args.input)
    else:
        if args.limit is not None and args.limit < 1:
            raise ConfigError(f"--limit must be at least 1, got {args.limit}.")
        inputs = pset.tests[: args.limit]
    chosen = dataclasses.replace(pset, steps=tuple(pset.steps[i] for i in steps))
    backends = _loader(args.backend, args.model)
    progress = None
    if not args.no_progress:
        from workbench.cli.common import tqdm_progress

        progress = tqdm_progress(shown(pset.name))
    try:
        results = run_set(chosen, backends, inputs, default_model=args.model or DEFAULT_MODEL,
                             indexes=default_index_factory(), progress=progress)
    finally:
        if progress is not None:
            progress.close()
    results = [dataclasses.replace(r, step=steps[r.step]) for r in results]  # step numbers of the whole set
    # Every text here comes from a set file, an input or the model: each line is printed through shown().
    print(shown(f"# {pset.name} ({origin})"))
    for r in results:
        mark = {True: "correct", False: "wrong", None: ""}[r.correct]
        expected = "" if r.case.expected is None else f"   [expected {r.case.expected}: {mark}]"
        answer = r.answer if r.answer is not None else "(none found)"
        votes = "" if r.vote is None else f"   votes: {', '.join(f'{a}×{n}' for a, n in r.vote.counts)}"
        print(shown(f"step {r.step + 1} · {r.title} · {r.model} | {r.case.input}"))
        print(shown(f"  -> {answer}{expected}{votes}   ({r.seconds:.2f} s)"))
        print(shown(f"     output: {' '.join(r.output.split())[:200]}"))
    for step, title, right, total in accuracy_by_step(results):
        print(shown(f"step {step + 1} · {title}: {right}/{total} correct"))
    if args.csv:
        _out(results_csv(results), args.csv, "--csv")
    return 0
