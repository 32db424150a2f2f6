"""``export promptfoo|lm-eval``: the workbench's prompts written as other tools' files.

    python -m workbench export promptfoo 3 --out pf/                  # a stored run: its strategies and items
    python -m workbench export promptfoo zero_vs_few_shot --out pf/   # a Library / classroom prompt set (or file)
    npx promptfoo eval -c pf/promptfooconfig.yaml                     # against `workbench serve`'s model
    python -m workbench export lm-eval prompts/specs/sentiment.yaml --dataset sentiment --out task.yaml

``export promptfoo`` writes ``promptfooconfig.yaml``, (when a test fits a CSV row) ``tests.csv`` and each chat
prompt's ``prompt_N.json`` into the ``--out`` folder, under those fixed names only (:mod:`workbench.interop.promptfoo.export`); an existing config
there is kept unless ``--force``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from workbench.cli.common import check_output, shown
from workbench.errors import ConfigError, DataError

#: Where ``export promptfoo`` writes when no ``--out`` is given.
DEFAULT_OUT = "promptfoo-export"


def register(sub) -> None:
    p = sub.add_parser("export", help="write a run or a prompt set as a promptfoo config, a spec as an lm-eval task")
    cmds = p.add_subparsers(dest="export_command", required=True, metavar="FORMAT")

    c = cmds.add_parser("promptfoo", help="promptfooconfig.yaml + tests.csv that promptfoo runs against the same "
                                          "model behind `workbench serve`")
    c.add_argument("source", metavar="RUN_OR_SET",
                   help="a run id (`runs list`), a run.jsonl export, or a prompt set: a Library or classroom set's "
                        "name, or a set file")
    c.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help="the folder to write promptfooconfig.yaml and tests.csv into (default %(default)s)")
    c.add_argument("--version", type=int, default=None, help="a saved set's version (default: the latest)")
    c.add_argument("--force", action="store_true", help="replace a promptfooconfig.yaml already in --out")
    c.set_defaults(run=promptfoo_cmd)

    c = cmds.add_parser("lm-eval", help="an lm-evaluation-harness task YAML for one prompt spec and dataset")
    c.add_argument("spec", metavar="SPEC", help="a prompt spec file (.yaml/.json)")
    c.add_argument("--dataset", required=True, metavar="DATA", help="the task's documents: a sample name or a file")
    c.add_argument("--name", default=None, help="the task's name (default: from the spec file's name)")
    c.add_argument("--out", default=None, metavar="FILE", help="write the task here (default: print it)")
    c.set_defaults(run=lmeval_cmd)


def _source(ref: str, version: int | None):
    """(strategies, tests, description) of a run id, a run.jsonl, or a prompt set."""
    from workbench.interop.promptfoo.sources import from_run, from_set

    text = ref.strip()
    if (text.isascii() and text.isdigit()) or text.lower().endswith(".jsonl"):
        from workbench.cli.common import run_ref
        from workbench.cli.runs import load_report

        if version is not None:
            raise ConfigError("--version picks a version of a saved prompt set; a run has none.")
        report = load_report(run_ref(text))
        strategies, tests = from_run(report.meta, report.records)
        dataset = report.meta.get("dataset") if isinstance(report.meta.get("dataset"), dict) else {}
        what = f"run {report.run_id}" if report.run_id is not None else Path(text).name
        return strategies, tests, f"{what} on {dataset.get('name', '?')} (exported by the workbench)"
    from workbench.promptsets.library import find_set
    from workbench.store import open_store

    with open_store() as store:
        pset, _where = find_set(store, text, version)
    strategies, tests = from_set(pset)
    return strategies, tests, pset.description or pset.name


def promptfoo_cmd(args) -> int:
    from workbench.atomic import write_text_atomic
    from workbench.interop.promptfoo.export import CONFIG_FILE, TESTS_FILE, export_promptfoo

    out = Path(args.out)
    config_path, tests_path = out / CONFIG_FILE, out / TESTS_FILE
    check_output(config_path, "--out")  # a file in the way, /proc, a read-only folder: one line, before work
    if config_path.exists() and not args.force:
        raise ConfigError(f"{shown(str(config_path))} already exists; pick another --out folder, or add --force "
                          "to replace it.")
    strategies, tests, description = _source(args.source, args.version)
    exported = export_promptfoo(strategies, tests, description)
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        if exported.tests_csv is not None:
            write_text_atomic(tests_path, exported.tests_csv, newline="")
            written.append(tests_path)
        for name, text in exported.files:  # chat prompts' messages files
            write_text_atomic(out / name, text)
            written.append(out / name)
        write_text_atomic(config_path, exported.config)
        written.insert(0, config_path)
    except OSError as err:
        raise DataError(f"cannot write into {shown(str(out))}: {err.strerror}") from None
    print(f"wrote {' and '.join(shown(str(p)) for p in written)} ({len(strategies)} prompt x model pairs, "
          f"{len(tests)} tests)", file=sys.stderr)
    for note in exported.notes:
        print(f"note: {shown(note)}", file=sys.stderr)
    print(f"run it: npx promptfoo eval -c {shown(str(config_path))}", file=sys.stderr)
    return 0


def lmeval_cmd(args) -> int:
    from workbench.atomic import write_text_atomic

    try:
        from workbench.interop.lmeval.export import task_yaml
    except ModuleNotFoundError:
        raise ConfigError("This build cannot write lm-eval tasks (workbench.interop.lmeval.export is missing).") from None
    if args.out is not None:
        check_output(args.out, "--out")
    text = task_yaml(args.spec, args.dataset, args.name)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        write_text_atomic(Path(args.out), text)
    except OSError as err:
        raise DataError(f"cannot write {shown(args.out)}: {err.strerror}") from None
    print(f"wrote {shown(args.out)}", file=sys.stderr)
    return 0
