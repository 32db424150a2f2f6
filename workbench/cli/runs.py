"""``runs list|show|export|compare``: the evaluation runs in the store, and the command that resumes an unfinished one.

A run whose process is gone (killed with SIGKILL, crashed, the machine rebooted) reads
"interrupted"; like a cancelled or failed run it resumes where it stopped.

    python -m workbench runs list
    python -m workbench runs show 3          # settings, accuracies, manifest, and its `eval --resume 3 ...` command
    python -m workbench runs show run.jsonl  # the same for a run exported with `eval --output run.jsonl`
    python -m workbench runs export 3 --output report.html   # or run.jsonl, run.csv, results.json (promptfoo's)
    python -m workbench runs compare 3 4     # paired tests on the items both runs share
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path
from typing import Any

from workbench.cli.common import check_output, run_ref, shown, shown_json
from workbench.errors import ConfigError, DataError

#: Runs ``runs list`` shows unless ``--limit`` says otherwise (newest first).
DEFAULT_LIST_LIMIT = 20


def register(sub) -> None:
    p = sub.add_parser("runs", help="stored evaluation runs: list them, show one, resume one that did not finish")
    cmds = p.add_subparsers(dest="runs_command", required=True, metavar="ACTION")

    c = cmds.add_parser("list", help="runs, newest first: status, model, dataset, progress")
    c.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT,
                   help="show the newest N runs (default %(default)s; 0 shows all)")
    c.add_argument("--json", action="store_true", help="one JSON object per line")
    c.set_defaults(run=list_cmd)

    c = cmds.add_parser("show", help="one run: settings, accuracies, manifest and the command that resumes it")
    c.add_argument("run_id", nargs="?", default=None, metavar="ID", type=run_ref,
                   help="a run id from `runs list`, or a run.jsonl written by `eval --output` / `runs export`")
    c.add_argument("--file", default=None, metavar="RUN.jsonl", help="show an exported run instead of a stored one")
    c.add_argument("--json", action="store_true", help="the run as one JSON object")
    c.set_defaults(run=show_cmd)

    c = cmds.add_parser("export", help="write a run as run.jsonl, run.csv, one self-contained report.html or "
                                       "promptfoo's results.json")
    c.add_argument("run_id", metavar="ID", type=run_ref, help="a run id from `runs list`, or a run.jsonl")
    c.add_argument("--output", required=True, metavar="FILE",
                   help="a .jsonl, .csv, .html or .json (promptfoo's results) file name")
    c.set_defaults(run=export_cmd)

    c = cmds.add_parser("compare", help="paired tests (McNemar, bootstrap interval) of two runs on their shared items")
    c.add_argument("a", metavar="A", type=run_ref, help="a run id or an exported run.jsonl")
    c.add_argument("b", metavar="B", type=run_ref, help="another run id or run.jsonl")
    c.add_argument("--json", action="store_true", help="one JSON object per compared pair")
    c.set_defaults(run=compare_cmd)


def _field(meta: dict, key: str, sub: str = "name") -> Any:
    """``meta[key][sub]`` when meta holds that shape, else None (runs of other kinds hold other metadata)."""
    value = meta.get(key)
    return value.get(sub) if isinstance(value, dict) else None


def _strategies(meta: dict) -> list[str]:
    items = meta.get("strategies")
    return [str(s.get("name")) for s in items if isinstance(s, dict)] if isinstance(items, list) else []


def _limited(meta: dict) -> bool:
    size, limit = _field(meta, "dataset", "size"), meta.get("limit")
    return isinstance(limit, int) and limit > 0 and (not isinstance(size, int) or limit < size)


def expected_results(info) -> int | None:
    """Results a complete run holds: items (the limit, or the whole dataset) × strategies; None if unknown."""
    size, limit = _field(info.meta, "dataset", "size"), info.meta.get("limit")
    if not isinstance(size, int):
        return None
    items = min(size, limit) if isinstance(limit, int) and limit > 0 else size
    return items * len(_strategies(info.meta))


def resume_command(info) -> str | None:
    """The ``eval --resume`` command that continues an evaluation run that did not finish; None otherwise."""
    from workbench.backends import BACKENDS
    from workbench.data import sample_pools

    meta = info.meta
    if info.status in ("finished", "running") or meta.get("kind", "evaluate") != "evaluate":
        return None
    dataset, pool = _field(meta, "dataset"), _field(meta, "pool")
    samples = sample_pools()
    args = ["python", "-m", "workbench", "eval", "--resume", str(info.run_id),
            "--dataset", dataset if dataset in samples else "FILE"]
    if pool and (pool != dataset or _field(meta, "pool", "hash") != _field(meta, "dataset", "hash")):
        args += ["--pool", pool if pool in samples else "POOL_FILE"]
    if isinstance(meta.get("model"), str):
        args += ["--model", meta["model"]]
    if meta.get("backend") in BACKENDS:
        args += ["--backend", meta["backend"]]
    return shlex.join(args)


def _row(info) -> dict[str, Any]:
    return {"run_id": info.run_id, "status": info.status, "created_at": info.created_at,
            "finished_at": info.finished_at, "kind": info.meta.get("kind", "evaluate"),
            "model": info.meta.get("model"), "backend": info.meta.get("backend"),
            "dataset": _field(info.meta, "dataset"), "strategies": _strategies(info.meta),
            "results": info.n_results, "expected": expected_results(info), "resume": resume_command(info)}


def list_cmd(args) -> int:
    from workbench.store import open_store

    if args.limit < 0:
        raise ConfigError(f"--limit must be 0 (all) or more, got {args.limit}.")
    with open_store() as store:
        runs = store.list_runs()
    shown_runs = runs[: args.limit] if args.limit else runs
    rows = [_row(info) for info in shown_runs]
    if args.json:
        for row in rows:
            print(shown_json(row))
        return 0
    if not rows:
        print("no runs stored yet; start one with `python -m workbench eval`", file=sys.stderr)
        return 0
    table = [("id", "status", "started", "model", "dataset", "strategies", "done")]
    for r in rows:
        done = f"{r['results']}/{r['expected']}" if r["expected"] is not None else str(r["results"])
        table.append((str(r["run_id"]), r["status"], r["created_at"][:19].replace("T", " "),
                      shown(str(r["model"] or "-")), shown(str(r["dataset"] or "-")),
                      shown(",".join(r["strategies"]) or "-"), done))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row, r in zip(table, [None, *rows], strict=True):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        print(shown(line + (f"  resume: eval --resume {r['run_id']}" if r and r["resume"] else "")).rstrip())
    if len(runs) > len(shown_runs):
        print(f"({len(runs) - len(shown_runs)} older runs not shown; --limit 0 shows all)", file=sys.stderr)
    if any(r["resume"] for r in rows):
        print("`python -m workbench runs show ID` prints the whole command that resumes a run", file=sys.stderr)
    return 0


def load_report(ref: int | str):
    """A run by id (an int, checked by :func:`~workbench.cli.common.run_ref`) from the store, or from a ``.jsonl``
    export (:func:`workbench.report.read_jsonl`; an item on two lines is refused)."""
    from workbench.report import read_jsonl, report_from_store
    from workbench.store import open_store

    if isinstance(ref, int):
        with open_store() as store:
            return report_from_store(store, ref)
    if Path(ref).suffix.lower() == ".jsonl" or Path(ref).exists():
        report = read_jsonl(ref)
        check_unique_items(report, ref)
        return report
    raise ConfigError(f"{shown(ref)!r} is neither a run id nor a run.jsonl file; pick one from `runs list`.")


def check_unique_items(report, path: str) -> None:
    """Refuse an export holding one item (strategy, item index) twice: its results would be counted twice
    ("results 61 of 60"). The message names the item and both lines."""
    seen: dict[tuple, int] = {}
    for n, r in enumerate(report.records):
        key = (str(r.get("strategy")), r.get("item_index"))
        if key in seen:
            first, again = _item_lines(path, seen[key], n)
            item = r.get("id") if r.get("id") is not None else r.get("item_index")
            raise DataError(f"{Path(path).name} line {again}: item {shown(str(item))!r} of strategy "
                            f"{shown(key[0])!r} is already on line {first}; an export holds each item once, so "
                            "remove one of the two lines (or export the run again).")
        seen[key] = n


def _item_lines(path: str, *records: int) -> list[int]:
    """The file lines of the ``records``-th item lines (0-based; blank lines are skipped as the reader does)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        items = [lineno for lineno, line in enumerate(fh, start=1) if line.strip()][1:]  # after the run line
    return [items[i] for i in records]


def _info_from_report(report):
    from workbench.store import RunInfo

    return RunInfo(report.run_id or 0, report.created_at or "?", report.finished_at, report.status, report.meta,
                   report.summary, len(report.records))


def show_cmd(args) -> int:
    from workbench.store import open_store

    if (args.run_id is None) == (args.file is None):
        raise ConfigError("Give a run id (or a run.jsonl), or --file RUN.jsonl, to show.")
    from_file = args.file is not None or not isinstance(args.run_id, int)
    if from_file:
        info = _info_from_report(load_report(args.file or args.run_id))
    else:
        with open_store() as store:
            info = store.get_run(args.run_id)
    command = None if from_file else resume_command(info)
    if args.json:
        print(shown_json({**dataclasses.asdict(info), "expected": expected_results(info), "resume": command}))
        return 0
    meta = info.meta
    status = info.status
    owner = info.owner or {}
    if status == "running" and owner:
        status += f" (process {owner.get('pid')} on {owner.get('host')})"
    elif status == "interrupted":
        status += f" (its process {owner.get('pid')} on {owner.get('host')} is gone; nothing after the last " \
                  "stored item ran)"
    expected = expected_results(info)
    lines = [f"run {info.run_id}: {status}",
             f"started {info.created_at}" + (f", ended {info.finished_at}" if info.finished_at else ""),
             f"model {meta.get('model', '-')} ({meta.get('backend', '-')})",
             f"dataset {_field(meta, 'dataset') or '-'} ({_field(meta, 'dataset', 'size') or '?'} items"
             + (f", first {meta['limit']}" if _limited(meta) else "") + ")"
             + (f"; demonstrations from {_field(meta, 'pool')}" if _field(meta, "pool") else ""),
             f"strategies {', '.join(_strategies(meta)) or '-'}",
             f"results {info.n_results}" + (f" of {expected}" if expected is not None else "")]
    summary = info.summary.get("strategies") if isinstance(info.summary, dict) else None
    for s in summary if isinstance(summary, list) else []:
        if isinstance(s, dict) and isinstance(s.get("accuracy"), int | float):
            lines.append(f"  {s.get('strategy')}: {s['accuracy']:.1%} of {s.get('n')}")
    lines += manifest_lines(meta)
    for line in lines:
        print(shown(line))
    if command:
        print(f"resume: {shown(command)}")
        if "FILE" in command.split():
            print("  (FILE / POOL_FILE: the data files the run was made on; their content is checked)")
    return 0


def manifest_lines(meta: dict) -> list[str]:
    """The run manifest (package versions, model sha256, embedder, index kind, data hashes, seeds) as lines."""
    m = meta.get("manifest")
    if not isinstance(m, dict):
        return []
    packages = m.get("packages") if isinstance(m.get("packages"), dict) else {}
    lines = ["manifest:",
             "  versions " + ", ".join(f"{k} {v}" for k, v in packages.items() if v) + f", python {m.get('python')}",
             f"  model file {m.get('model_file') or '-'} sha256 {m.get('model_sha256') or '-'}",
             f"  embedder {m.get('embedder') or '-'}, index {m.get('index_kind') or '-'}",
             f"  dataset sha256 {m.get('dataset_hash') or '-'}, pool sha256 {m.get('pool_hash') or '-'}",
             "  seeds " + (", ".join(map(str, m.get("seeds") or [])) or "-"),
             f"  answer extraction {m.get('extract') or 'lenient'}"]  # runs before the styles: lenient
    return lines


def export_cmd(args) -> int:
    from workbench.report import export_format, write_report

    export_format(args.output)
    check_output(args.output)
    report = load_report(args.run_id)
    path = write_report(report, args.output)
    print(f"wrote {shown(str(path))} ({len(report.records)} records)", file=sys.stderr)
    return 0


def compare_cmd(args) -> int:
    from workbench.evaluate.pairs import compare_runs

    a, b = load_report(args.a), load_report(args.b)
    name_a = str(a.run_id) if isinstance(args.a, int) else shown(Path(args.a).stem)
    name_b = str(b.run_id) if isinstance(args.b, int) else shown(Path(args.b).stem)
    comparisons, n = compare_runs(a, b, name_a, name_b)
    if not comparisons:
        raise ConfigError(f"Runs {name_a} and {name_b} share no items; compare runs made on the same dataset.")
    hash_a, hash_b = _field(a.meta, "dataset", "hash"), _field(b.meta, "dataset", "hash")
    if hash_a != hash_b:
        print(f"note: runs {name_a} and {name_b} were made on different dataset files; compared on the {n} item "
              "ids both have", file=sys.stderr)
    for c in comparisons:
        print(shown_json(c.to_dict()) if args.json else shown(c.line()))
    return 0
