"""``formats``: format sensitivity (Sclar et al. 2023, FormatSpread), one prompt in N plausible formats.

    python -m workbench formats --dataset sentiment --n 10 --limit 20
    python -m workbench formats --dataset sst2_dev.jsonl --prompt review.yaml --k 4 --output formats.html

The same items and the same fixed demonstrations at every format, one stored run; the spread (min to max), the
best and worst format's exact prompts and McNemar's test between them -- picked after the fact, so optimistic.
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
from workbench.evaluate.format_spread import DEFAULT_N


def register(sub) -> None:
    p = sub.add_parser("formats", help="format sensitivity: one prompt in N formats (separators, casing, field "
                                       "names, spacing) on the same items, and the spread")
    p.add_argument("--dataset", required=True,
                   help="a sample name (e.g. sentiment) or a CSV/TSV/JSON/JSONL/Parquet file")
    p.add_argument("--pool", default=None,
                   help="where the demonstrations come from (default: the dataset itself, never the query's own row)")
    p.add_argument("--prompt", default=None, metavar="SPEC",
                   help="a prompt spec file (or a starter's name) whose formats are varied (default: the dataset's "
                        "inferred prompt)")
    p.add_argument("--n", type=int, default=DEFAULT_N,
                   help="formats, the spec as written first (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the formats drawn and the demonstrations (default 0)")
    p.add_argument("--k", type=int, default=0,
                   help="random demonstrations, fixed: the same ones at every format (default 0)")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N items (default: all)")
    p.add_argument("--answer", choices=("score", "generate"), default=None,
                   help="score each label word (default when the prompt has labels), or generate and extract")
    p.add_argument("--output", default=None, metavar="FILE",
                   help="also write the run: report.html (with the spread), run.jsonl or run.csv")
    p.add_argument("--json", action="store_true", help="print the spread as JSON instead of a table")
    p.add_argument("--no-cache", action="store_true",
                   help="call the model for every item instead of answering repeated requests from the response cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_mapping_args(p)
    add_model_args(p)
    p.set_defaults(run=run_formats)


def run_formats(args) -> int:
    from tqdm import tqdm

    from workbench.cli.eval import _spec_file
    from workbench.evaluate.format_spread import demo_indices, format_specs, format_spread, format_table, with_spread
    from workbench.evaluate.formats import default_spec
    from workbench.report import export_format, html_report, report_from_store, write_report
    from workbench.store import open_store

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}.")
    if args.output:
        export_format(args.output)
        check_output(args.output)
    dataset = pool_from_arg(args.dataset, mapping_from_args(args))
    pool = pool_from_arg(args.pool, mapping_from_args(args, pool=True)) if args.pool else None
    if len(dataset) == 0:
        raise DataError("The dataset is empty.")
    spec = _spec_file(args.prompt).spec if args.prompt else default_spec(dataset, pool)
    format_specs(spec, args.n, args.seed)  # too few formats, no field names: one line before the model loads
    demo_indices(pool or dataset, args.k, args.seed)
    backend = backend_from_args(args)
    store = open_store()
    bar = None if args.no_progress else tqdm(total=0, desc="formats", unit="item", file=sys.stderr)

    def progress(p) -> None:
        if bar is not None:
            bar.total = p.total
            bar.n = p.done
            bar.set_postfix_str(shown(p.strategy), refresh=False)
            bar.refresh()

    try:
        spread, run = format_spread(dataset, pool, backend, store, spec=spec, n=args.n, seed=args.seed, k=args.k,
                                    answer=args.answer, limit=args.limit, progress=progress,
                                    cache=not args.no_cache)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps({"model": backend.spec.id, **spread.to_dict()}, indent=2))
    else:
        print(shown(format_table(spread), keep="\n"))
        print(f"run {run.run_id} ({run.status}) stored in {shown(str(store.path))}", file=sys.stderr)
    if args.output:
        report = dataclasses.replace(report_from_store(store, run.run_id), records=tuple(run.records))
        if export_format(args.output) == "html":
            from workbench.atomic import write_text_atomic

            try:
                write_text_atomic(args.output, with_spread(html_report(report), spread))
            except OSError as err:
                raise DataError(f"cannot write {shown(str(args.output))}: {err.strerror}") from None
        else:
            write_report(report, args.output)
        print(f"wrote {shown(str(args.output))}", file=sys.stderr)
    return 0
