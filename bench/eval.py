"""Benchmark: prompting strategies on real benchmark sets with gemma-3-270m (llama.cpp), through ``evaluate``.

* **SST-2** (``sst2_dev``, demonstrations from ``sst2_train``): zero-shot vs random-K vs nearest-K
  (MiniLM + FAISS), generation + extraction vs label scoring, raw vs contextually calibrated
  (Zhao et al. 2021), and the spread over P orders of one label-balanced demo set (Lu et al. 2022).
* **TREC** (``trec_test``, demonstrations from ``trec_train``): the same strategies, 6 labels.
* **MultiArith**: zero-shot, random-K, nearest-K (answer only) and Zero-shot-CoT, generation (numbers).

Each dataset is cut to its first ``--limit`` items (the size is in the output). Zero-shot
is the baseline of every set (``delta_vs_zero``). Accuracies are deterministic; items/s
is the median over ``--repeats`` passes, which must also agree on every accuracy.
A calibrated strategy's record holds its raw label-scoring answer too, so
``raw_accuracy`` is plain label scoring and ``accuracy`` the calibrated one.
Pool indexes are cached on disk (the first run embeds ~12k training sentences).
Prints JSON.

    .venv/bin/python bench/eval.py [--limit 30] [--datasets sst2,trec,multiarith] [--k 4] [--orders 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from workbench.backends import load_backend
from workbench.data import Pool, load_pool
from workbench.evaluate.formats import default_spec
from workbench.evaluate.metrics import spread
from workbench.evaluate.order_sensitivity import order_sensitivity
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import parse_strategies
from workbench.store import open_store

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "datasets"
#: dataset -> (evaluated file, demonstration pool file or None for the set itself, strategy names with K).
DATASETS = {
    "sst2": ("sst2_dev.jsonl", "sst2_train.jsonl",
             "zero,random{k},knn{k},zero+score+cal,random{k}+score+cal,knn{k}+score+cal"),
    "trec": ("trec_test.jsonl", "trec_train.jsonl",
             "zero,random{k},knn{k},zero+score+cal,random{k}+score+cal,knn{k}+score+cal"),
    "multiarith": ("multiarith.jsonl", None, "zero,random{k},knn{k},zscot"),
}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def run_set(name: str, backend, args) -> dict:
    data_file, pool_file, names = DATASETS[name]
    full = load_pool(SHARED / data_file)
    dataset = Pool(full.name, full.examples[: args.limit])
    pool = load_pool(SHARED / pool_file) if pool_file else full  # never the item itself: selectors exclude it
    spec = default_spec(dataset, pool)
    strategies = parse_strategies(names.format(k=args.k), spec, pool, seed=args.seed)
    passes = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        with open_store(":memory:") as store:
            run = evaluate(dataset, pool, strategies, backend, store)
        passes.append((run, time.perf_counter() - t0))
    accuracies = [[(s.strategy, s.correct, s.raw_correct) for s in run.summaries] for run, _ in passes]
    out: dict = {"items": len(dataset), "pool": pool.name, "pool_size": len(pool), "answer_format": spec.answer_format,
                 "deterministic_over_repeats": all(a == accuracies[0] for a in accuracies),
                 "seconds": round(statistics.median(sec for _, sec in passes), 1), "strategies": {}}
    run = passes[0][0]
    zero = next((s.accuracy for s in run.summaries if s.strategy == "zero"), None)
    for s in run.summaries:
        speeds = [next(x for x in r.summaries if x.strategy == s.strategy).items_per_second for r, _ in passes]
        row = {"accuracy": _round(s.accuracy), "ci95": [_round(s.ci_low), _round(s.ci_high)], "correct": s.correct,
               "items_per_s": round(statistics.median(speeds), 3)}
        if s.raw_accuracy is not None:
            row["raw_accuracy"] = _round(s.raw_accuracy)
            row["raw_ci95"] = [_round(s.raw_ci_low), _round(s.raw_ci_high)]
        if zero is not None:
            row["delta_vs_zero"] = _round(s.accuracy - zero)
        out["strategies"][s.strategy] = row
    answers = {}
    for r in run.records:
        answers.setdefault(r["strategy"], []).append(r["extracted"])
    out["no_answer_extracted"] = {k: sum(a is None for a in v) for k, v in answers.items()}
    if name == "sst2" and args.orders > 1:
        (base,) = parse_strategies(f"random{args.k}+score+cal", spec, pool, seed=args.seed)
        t0 = time.perf_counter()
        with open_store(":memory:") as store:
            orders, stats = order_sensitivity(dataset, pool, base, backend, store, permutations=args.orders,
                                              seed=args.seed)
        raw = spread([s.raw_accuracy for s in orders.summaries])
        out["order_sensitivity"] = {
            "k": args.k, "orders": len(orders.summaries), "demos": orders.records[0]["demos"],
            "calibrated": {k: _round(v) if k != "n" else v for k, v in stats.items()},
            "raw_label_scoring": {k: _round(v) if k != "n" else v for k, v in raw.items()},
            "per_order": [[_round(s.raw_accuracy), _round(s.accuracy)] for s in orders.summaries],
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30, help="first N items of each dataset (default %(default)s: "
                        "about 10 min on 2 idle CPU cores once the indexes are cached; SST-2 dev has 872)")
    parser.add_argument("--datasets", default="sst2,trec,multiarith", help="comma-separated: " + ",".join(DATASETS))
    parser.add_argument("--k", type=int, default=4, help="demonstrations per prompt")
    parser.add_argument("--orders", type=int, default=8, help="permutations of one demo set (SST-2); 0 = skip")
    parser.add_argument("--seed", type=int, default=0, help="random selection and permutation seed")
    parser.add_argument("--repeats", type=int, default=1, help="passes per dataset; items/s is their median")
    parser.add_argument("--model", default="gemma-3-270m")
    args = parser.parse_args()
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown or args.limit < 1 or args.repeats < 1:
        parser.error(f"unknown dataset(s) {unknown}" if unknown else "--limit and --repeats must be at least 1")
    missing = [DATASETS[n][0] for n in names if not (SHARED / DATASETS[n][0]).exists()]
    if missing:
        print(json.dumps({"skipped": f"{SHARED} lacks {', '.join(missing)}; the benchmark needs ../shared/datasets"}))
        return 0
    t0 = time.perf_counter()
    backend = load_backend(args.model)
    out: dict = {"model": args.model, "backend": backend.name, "limit": args.limit, "k": args.k, "seed": args.seed,
                 "repeats": args.repeats, "baseline": "zero (zero-shot) on each dataset",
                 "threads": getattr(getattr(backend, "llm", None), "n_threads", None), "cpu_count": os.cpu_count(),
                 "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "datasets": {}}
    for name in names:
        print(f"[bench/eval] {name}…", file=sys.stderr)
        out["datasets"][name] = run_set(name, backend, args)
    out["total_seconds"] = round(time.perf_counter() - t0, 1)
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]  # other processes slow the timings
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
