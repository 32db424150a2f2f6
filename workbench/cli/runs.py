"""``runs list|show``: the evaluation runs in the store, and the command that resumes an unfinished one.

A run whose process is gone (killed with SIGKILL, crashed, the machine rebooted) reads
"interrupted"; like a cancelled or failed run it resumes where it stopped.

    python -m workbench runs list
    python -m workbench runs show 3          # settings, accuracies, and its `eval --resume 3 ...` command
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
from typing import Any

from workbench.cli.common import shown, shown_json
from workbench.errors import ConfigError

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

    c = cmds.add_parser("show", help="one run: settings, accuracies and the command that resumes it")
    c.add_argument("run_id", type=int, metavar="ID", help="a run id from `runs list`")
    c.add_argument("--json", action="store_true", help="the run as one JSON object")
    c.set_defaults(run=show_cmd)


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
        print((line + (f"  resume: eval --resume {r['run_id']}" if r and r["resume"] else "")).rstrip())
    if len(runs) > len(shown_runs):
        print(f"({len(runs) - len(shown_runs)} older runs not shown; --limit 0 shows all)", file=sys.stderr)
    if any(r["resume"] for r in rows):
        print("`python -m workbench runs show ID` prints the whole command that resumes a run", file=sys.stderr)
    return 0


def show_cmd(args) -> int:
    from workbench.store import open_store

    with open_store() as store:
        info = store.get_run(args.run_id)
    command = resume_command(info)
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
    for line in lines:
        print(shown(line))
    if command:
        print(f"resume: {shown(command)}")
        if "FILE" in command.split():
            print("  (FILE / POOL_FILE: the data files the run was made on; their content is checked)")
    return 0
