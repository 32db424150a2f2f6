"""``eval``: run prompting strategies on a labelled dataset, print accuracies and paired tests, store the run.

    python -m workbench eval --dataset sentiment --strategies zero,knn4,random4 --limit 20 --answer score
    python -m workbench eval --dataset news.csv --input-column text --answer-column label \
        --label-map "1=world,2=sports" --prompt a.yaml --prompt b.yaml --strategies zero,knn4 --output report.html

Each ``--prompt`` spec file crosses with each strategy (``a/zero``, ``a/knn4``, ``b/zero``, ...);
without one, the template inferred from the dataset is the only prompt.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from workbench.cli.common import add_mapping_args, add_model_args, backend_from_args, mapping_from_args, pool_from_arg
from workbench.errors import ConfigError
from workbench.evaluate.registry import help_text as strategy_help


def register(sub) -> None:
    p = sub.add_parser("eval", help="compare prompting strategies on a labelled dataset (accuracy, 95%% CI)")
    p.add_argument("--dataset", required=True,
                   help="a sample name (e.g. sentiment) or a CSV/TSV/JSON/JSONL/Parquet file")
    p.add_argument("--pool", default=None,
                   help="where demonstrations come from (default: the dataset itself, never the query's own row)")
    p.add_argument("--strategies", default="zero,knn4,random4",
                   help=f"comma-separated names: {strategy_help().replace('%', '%%')}; modifiers +score, +gen, "
                        "+cal, +norm (per byte), +norm_token, +scN, autocot+fallback (default %(default)s)")
    p.add_argument("--prompt", action="append", default=[], metavar="SPEC.yaml",
                   help="a prompt spec file (repeatable); each crosses with each strategy, named FILE/STRATEGY "
                        "(default: the template inferred from the dataset)")
    p.add_argument("--output", default=None, metavar="FILE",
                   help="also write the run: run.jsonl (per-item records, summary, manifest; reads back with "
                        "`runs show`), run.csv (per-item rows) or report.html (one self-contained page)")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N items (default: all)")
    p.add_argument("--answer", choices=("generate", "score"), default="generate",
                   help="generate and extract, or score each label word (classification); CoT always generates")
    p.add_argument("--calibrate", action="store_true", help="contextual calibration of label scores (with --answer "
                                                            "score)")
    p.add_argument("--score-norm", choices=("sum", "token", "byte"), default="sum",
                   help="label scores: summed log-probabilities (default), or per token / per byte of the label "
                        "word (lm-evaluation-harness acc_norm-style, for label words of different lengths)")
    p.add_argument("--label-words", default="", help='label words to score, e.g. "positive= great,negative= '
                                                     'terrible" (default: a space and the label)')
    p.add_argument("--k", type=int, default=None, help="override the number of demonstrations of every strategy")
    p.add_argument("--seed", type=int, default=0, help="random selection and sampling seed (default 0)")
    p.add_argument("--resume", type=int, default=None, metavar="RUN_ID",
                   help="continue a stored run (same dataset and strategies); done items are skipped")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    p.add_argument("--no-cache", action="store_true",
                   help="call the model for every item instead of answering repeated requests from the response cache")
    p.add_argument("--reproducible", action="store_true",
                   help="one sequence at a time, even where the model batches (llama.cpp: 8 unless "
                        "WORKBENCH_BATCH says otherwise); llama.cpp's exact kernels give the same text either "
                        "way, but transformers, servers and WORKBENCH_KERNELS=fast can differ a little")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_mapping_args(p)
    add_model_args(p)
    p.set_defaults(run=run_eval)


def format_table(summaries) -> str:
    """A plain-text accuracy table, one line per strategy (raw accuracy shown for calibrated ones)."""
    header = ("strategy", "n", "accuracy", "95% CI", "raw acc", "items/s")
    rows = [header]
    for s in summaries:
        raw = "" if s.raw_accuracy is None else f"{s.raw_accuracy:.1%}"
        rows.append((s.strategy, str(s.n), f"{s.accuracy:.1%}", f"{s.ci_low:.1%}–{s.ci_high:.1%}", raw,
                     f"{s.items_per_second:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def prompt_strategies(prompt_files, names, dataset, pool, **options) -> list:
    """Strategies for every (prompt spec file, strategy name) pair, named ``FILE-STEM/NAME``; the inferred
    template (``evaluate.default_spec``) with plain names when no file is given."""
    from workbench.evaluate import INFERRED, PromptVariant, cross_variants, default_spec
    from workbench.prompts import load_spec

    if not prompt_files:
        variants = [PromptVariant(INFERRED, default_spec(dataset, pool))]
    else:
        stems: dict[str, str] = {}
        for path in prompt_files:
            stem = Path(path).stem
            if stem in stems:
                raise ConfigError(f"--prompt {path} and --prompt {stems[stem]} are both named {stem!r}; "
                                  "rename one file.")
            stems[stem] = path
        variants = [PromptVariant(Path(path).stem, load_spec(path).spec) for path in prompt_files]
    return cross_variants(variants, names, pool or dataset, **options)


def run_eval(args) -> int:
    from tqdm import tqdm

    from workbench.cache import describe
    from workbench.evaluate import Strategy, disagreements, evaluate, parse_label_words
    from workbench.report import export_format, report_from_store, write_report
    from workbench.stats import label_metrics, paired_comparisons
    from workbench.store import open_store

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}.")
    if args.output:
        export_format(args.output)  # a wrong extension is refused before anything runs
    dataset = pool_from_arg(args.dataset, mapping_from_args(args))
    pool = pool_from_arg(args.pool, mapping_from_args(args, pool=True)) if args.pool else None
    store = open_store()
    if args.resume is not None:
        if args.prompt:
            raise ConfigError("--resume continues a run with its own prompts; leave out --prompt.")
        meta = store.get_run(args.resume).meta
        strategies = [Strategy.from_dict(d) for d in meta.get("strategies", [])]
        limit = meta.get("limit")
    else:
        strategies = prompt_strategies(args.prompt, args.strategies, dataset, pool, answer=args.answer,
                                       calibrate=args.calibrate, label_words=parse_label_words(args.label_words),
                                       k=args.k, seed=args.seed, score_norm=args.score_norm)
        limit = args.limit
    backend = backend_from_args(args)
    bar = None if args.no_progress else tqdm(total=0, desc="eval", unit="item", file=sys.stderr)
    active: list[int] = []  # the stored run, known from the first progress report

    def progress(p) -> None:
        active[:] = [p.run_id]
        if bar is not None:
            bar.total = p.total
            bar.n = p.done
            bar.set_postfix_str(p.strategy, refresh=False)
            bar.refresh()

    try:
        run = evaluate(dataset, pool, strategies, backend, store, run_id=args.resume, limit=limit,
                       progress=progress, cache=not args.no_cache, reproducible=args.reproducible)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        if active:
            print(f"run {active[0]} cancelled; finished items are stored: continue with --resume {active[0]}",
                  file=sys.stderr)
        raise
    finally:
        if bar is not None:
            bar.close()
    comparisons = paired_comparisons(run.records)
    label_sets = {s.spec.labels if s.spec.answer_format == "label" else () for s in strategies}
    labels = next(iter(label_sets)) if len(label_sets) == 1 else ()
    metrics = label_metrics(run.records, labels) if labels and run.records else []
    if args.json:
        print(json.dumps({"run_id": run.run_id, "status": run.status, "model": backend.spec.id,
                          "strategies": [s.to_dict() for s in run.summaries],
                          "paired": [c.to_dict() for c in comparisons],
                          "labels": [m.to_dict() for m in metrics]}, indent=2))
    else:
        print(format_table(run.summaries))
        print(describe((store.get_run(run.run_id).summary or {}).get("cache")), file=sys.stderr)
        if comparisons:
            print()
            print("paired (same items; difference in accuracy points):")
            for c in comparisons:
                print(f"  {c.line()}")
        if metrics:
            print()
            print("macro-F1: " + ", ".join(f"{m.strategy} {m.macro_f1:.3f}" for m in metrics))
        for s in run.summaries:
            if s.fewer_demos:
                print(f"{s.strategy}: {s.fewer_demos} of {s.n} items ran with fewer demonstrations than asked "
                      "(dropped to fit the context window)", file=sys.stderr)
        if len(run.summaries) > 1:
            items = len({r["item_index"] for r in run.records})
            print(f"strategies disagree on {len(disagreements(run.records))} of {items} items", file=sys.stderr)
        print(f"run {run.run_id} ({run.status}) stored in {store.path}", file=sys.stderr)
    if args.output:
        report = dataclasses.replace(report_from_store(store, run.run_id), records=tuple(run.records))
        path = write_report(report, args.output)
        print(f"wrote {path}", file=sys.stderr)
    return 0
