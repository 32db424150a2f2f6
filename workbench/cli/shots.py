"""``shots``: the shots curve, accuracy against K demonstrations for one selector, in one stored run.

    python -m workbench shots --dataset sentiment --selector knn --ks 0,1,2,4,8 --limit 20 --answer score
    python -m workbench shots --dataset sst2_dev.jsonl --selector random --answer score --output shots.html

The same items and seed at every K; a K whose prompt cannot fit the model's window is left out, with the reason;
neighbouring Ks are compared item by item (McNemar's exact test, Holm-adjusted).
"""

from __future__ import annotations

import dataclasses
import json
import sys

from workbench.cli.common import (
    add_mapping_args,
    add_model_args,
    backend_from_args,
    check_output,
    mapping_from_args,
    pool_from_arg,
    shown,
)
from workbench.errors import ConfigError, DataError
from workbench.evaluate.shots import DEFAULT_KS, selectors


def register(sub) -> None:
    p = sub.add_parser("shots", help="accuracy against K demonstrations (0, 1, 2, 4, 8, 16) for one selector")
    p.add_argument("--dataset", required=True,
                   help="a sample name (e.g. sentiment) or a CSV/TSV/JSON/JSONL/Parquet file")
    p.add_argument("--pool", default=None,
                   help="where demonstrations come from (default: the dataset itself, never the query's own row)")
    p.add_argument("--selector", default="random", choices=selectors(),
                   help="how the K demonstrations are chosen (the strategy registry's selectors; default random)")
    p.add_argument("--ks", default=",".join(map(str, DEFAULT_KS)),
                   help="the Ks, rising, comma-separated (default %(default)s); those over the model's window are "
                        "left out with the reason")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N items (default: all)")
    p.add_argument("--seed", type=int, default=0, help="random selection seed, the same at every K (default 0)")
    p.add_argument("--answer", choices=("generate", "score"), default="generate",
                   help="generate and extract, or score each label word (classification)")
    p.add_argument("--output", default=None, metavar="FILE",
                   help="also write the run: report.html (with the curve), run.jsonl or run.csv")
    p.add_argument("--json", action="store_true", help="print the curve as JSON instead of a table")
    p.add_argument("--no-cache", action="store_true",
                   help="call the model for every item instead of answering repeated requests from the response cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_mapping_args(p)
    add_model_args(p)
    p.set_defaults(run=run_shots)


def run_shots(args) -> int:
    from tqdm import tqdm

    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.shots import check_pool, format_table, parse_ks, shot_strategies, shots_curve, with_curve
    from workbench.report import export_format, html_report, report_from_store, write_report
    from workbench.store import open_store

    ks = parse_ks(args.ks)  # empty, negative, unsorted, twice: one line before anything loads
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}.")
    if args.output:
        export_format(args.output)
        check_output(args.output)
    dataset = pool_from_arg(args.dataset, mapping_from_args(args))
    pool = pool_from_arg(args.pool, mapping_from_args(args, pool=True)) if args.pool else None
    items = list(dataset)[: args.limit or len(dataset)]
    check_pool(pool or dataset, items, ks)  # a pool too small for the largest K: one line before the model loads
    shot_strategies(default_spec(dataset, pool or dataset), pool or dataset, args.selector, ks[:1],
                    answer=args.answer, seed=args.seed)  # label scoring without labels: one line, before it too
    backend = backend_from_args(args)
    store = open_store()
    bar = None if args.no_progress else tqdm(total=0, desc="shots", unit="item", file=sys.stderr)

    def progress(p) -> None:
        if bar is not None:
            bar.total = p.total
            bar.n = p.done
            bar.set_postfix_str(shown(p.strategy), refresh=False)
            bar.refresh()

    try:
        curve, run = shots_curve(dataset, pool, backend, store, selector=args.selector, ks=ks, answer=args.answer,
                                 seed=args.seed, limit=args.limit, progress=progress, cache=not args.no_cache)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps({"model": backend.spec.id, **curve.to_dict()}, indent=2))
    else:
        print(shown(format_table(curve), keep="\n"))
        print(f"run {run.run_id} ({run.status}) stored in {shown(str(store.path))}", file=sys.stderr)
    if args.output:
        report = dataclasses.replace(report_from_store(store, run.run_id), records=tuple(run.records))
        if export_format(args.output) == "html":
            from workbench.atomic import write_text_atomic

            try:
                write_text_atomic(args.output, with_curve(html_report(report), curve))
            except OSError as err:
                raise DataError(f"cannot write {shown(str(args.output))}: {err.strerror}") from None
        else:
            write_report(report, args.output)
        print(f"wrote {shown(str(args.output))}", file=sys.stderr)
    return 0
