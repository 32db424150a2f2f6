"""Benchmark: the fidelity figures of the README, on the full SST-2 dev and TREC test sets (gemma-3-270m).

* **Label scoring**, zero-shot vs 4 random vs 4 nearest (MiniLM + FAISS) demonstrations, through
  ``evaluate`` with each dataset's inferred spec, demonstrations from the train split; every pair of
  strategies compared on the same items with McNemar's exact test (the baseline is zero-shot).
* **Sampler order**: on one real prompt, how many of the vocabulary's tokens survive temperature 1.6 +
  top-p 0.5 in Hugging Face's order (temperature first) and in llama.cpp's (temperature last).

Prints JSON. Needs ../shared/datasets (prints a "skipped" line without it).

    .venv/bin/python bench/fidelity.py [--limit N] [--datasets sst2,trec] [--k 4]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from workbench.backends import load_backend
from workbench.data import Pool, load_pool
from workbench.decoding import SAMPLER_ORDERS, DecodingConfig
from workbench.evaluate.formats import default_spec
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import parse_strategies
from workbench.stats import paired_tests
from workbench.store import open_store
from workbench.warpers import warp

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "datasets"
DATASETS = {"sst2": ("sst2_dev.jsonl", "sst2_train.jsonl"), "trec": ("trec_test.jsonl", "trec_train.jsonl")}
ORDER_PROMPT = "My favourite thing to do on a rainy afternoon is"


def label_scoring(name: str, backend, args) -> dict:
    data_file, pool_file = DATASETS[name]
    full = load_pool(SHARED / data_file)
    dataset = Pool(full.name, full.examples[: args.limit])
    pool = load_pool(SHARED / pool_file)
    spec = default_spec(dataset, pool)
    names = f"zero+score,random{args.k}+score,knn{args.k}+score"
    strategies = parse_strategies(names, spec, pool, seed=args.seed)
    t0 = time.perf_counter()
    with open_store(":memory:") as store:
        run = evaluate(dataset, pool, strategies, backend, store, index_cache_dir=args.cache_dir)
    out = {"items": len(dataset), "pool": pool.name, "pool_size": len(pool), "labels": list(spec.labels),
           "seconds": round(time.perf_counter() - t0, 1), "strategies": {}, "paired": []}
    for s in run.summaries:
        out["strategies"][s.strategy] = {"accuracy": round(s.accuracy, 4), "correct": s.correct,
                                         "ci95": [round(s.ci_low, 4), round(s.ci_high, 4)]}
    for t in paired_tests(run.records):
        out["paired"].append({"a": t.a, "b": t.b, "only_a_right": t.only_a, "only_b_right": t.only_b,
                              "mcnemar_p": round(t.p_value, 6)})
    return out


def kept_tokens(backend) -> dict:
    ids = backend.tokenize(ORDER_PROMPT)
    logits = backend.next_token_logits(ids)
    cfg = DecodingConfig(do_sample=True, temperature=1.6, top_p=0.5)
    kept = {name: int(np.isfinite(warp(logits, cfg, ids, order)).sum()) for name, order in SAMPLER_ORDERS.items()}
    return {"prompt": ORDER_PROMPT, "vocabulary": int(logits.size), "temperature": 1.6, "top_p": 0.5, "kept": kept}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N items of each set (default: all)")
    parser.add_argument("--datasets", default="sst2,trec")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--cache-dir", default=None, help="pool index cache (default: the workbench cache)")
    args = parser.parse_args()
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    if any(n not in DATASETS for n in names):
        parser.error(f"datasets are {', '.join(DATASETS)}")
    if not all((SHARED / DATASETS[n][0]).exists() for n in names):
        print(json.dumps({"skipped": f"{SHARED} is absent; the benchmark needs ../shared/datasets"}))
        return 0
    backend = load_backend(args.model)
    out: dict = {"model": args.model, "backend": backend.name, "k": args.k, "seed": args.seed,
                 "cpu_count": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
                 "sampler_order": kept_tokens(backend), "label_scoring": {}}
    for name in names:
        print(f"[bench/fidelity] {name}…", file=sys.stderr)
        out["label_scoring"][name] = label_scoring(name, backend, args)
        print(json.dumps(out["label_scoring"][name]), file=sys.stderr)
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
