"""Benchmark: what the response cache saves when one strategy of an evaluation changes.

SST-2 dev (first ``--limit`` items; demonstrations from SST-2 dev itself, never an item's own
row), gemma-3-270m on llama.cpp, label scoring, three strategies: zero-shot, random-K and
nearest-K (MiniLM + FAISS). Then the same evaluation with one strategy changed (nearest-K gets
another instruction, so each of its prompts is new): timed with the cache (one store for both
runs) and without it (``cache=False``); the label scores of the runs are compared item by item.
The pool index is built and the model file hashed before the clock starts (both are done once
per pool / per file, not per run). Target: the cached rerun costs at most 40% of the first run.
Prints JSON; without ../shared/datasets it prints {"skipped": ...}.

    WORKBENCH_THREADS=1 .venv/bin/python bench/cache.py [--limit 200] [--k 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from workbench.backends import load_backend
from workbench.cache import file_sha256
from workbench.data import Pool, load_pool
from workbench.evaluate.formats import default_spec
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import make_strategy
from workbench.retrieval.embedder import load_embedder
from workbench.retrieval.index import build_index
from workbench.store import open_store

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "datasets"
DATA_FILE = "sst2_dev.jsonl"
#: The instruction the changed strategy gets in the second evaluation.
CHANGED_INSTRUCTION = "Is the sentiment of this movie review positive or negative?"
#: The rerun may cost at most this fraction of the first run.
TARGET = 0.40


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t0, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200, help="first N SST-2 dev items (default %(default)s)")
    parser.add_argument("--k", type=int, default=4, help="demonstrations per prompt (default %(default)s)")
    parser.add_argument("--model", default="gemma-3-270m")
    args = parser.parse_args()
    if args.limit < 1 or args.k < 1:
        parser.error("--limit and --k must be at least 1")
    if not (SHARED / DATA_FILE).is_file():
        print(json.dumps({"skipped": f"{SHARED / DATA_FILE} is missing; the benchmark needs ../shared/datasets"}))
        return 0
    load_start = [round(x, 2) for x in os.getloadavg()]
    pool = load_pool(SHARED / DATA_FILE)
    dataset = Pool(pool.name, pool.examples[: args.limit])
    backend = load_backend(args.model)
    spec = default_spec(dataset, pool)
    first = [make_strategy(name, spec, pool, answer="score") for name in ("zero", f"random{args.k}", f"knn{args.k}")]
    changed = dataclasses.replace(first[2], name=first[2].name + " (new prompt)",
                                  spec=first[2].spec.replace(instruction=CHANGED_INSTRUCTION))
    second = [first[0], first[1], changed]

    with tempfile.TemporaryDirectory() as tmp:
        index, index_s = timed(lambda: build_index(pool, load_embedder(), cache_dir=tmp))
        _, hash_s = timed(lambda: file_sha256(backend.spec.path))
        # Warm up (page the weights in, first embedder call) so the first run is not charged for it.
        backend.score_details(f"{spec.instruction}\nwarm up", [" positive"])
        index.embed_many(["warm up"])
        with open_store(Path(tmp) / "wb.db") as store:
            options = {"index": index}
            run_a, first_s = timed(lambda: evaluate(dataset, pool, first, backend, store, **options))
            print(f"[bench/cache] first run {first_s} s", file=sys.stderr, flush=True)
            run_b, rerun_s = timed(lambda: evaluate(dataset, pool, second, backend, store, **options))
            print(f"[bench/cache] cached rerun {rerun_s} s", file=sys.stderr, flush=True)
            run_c, nocache_s = timed(lambda: evaluate(dataset, pool, second, backend, store, cache=False, **options))
            print(f"[bench/cache] rerun without the cache {nocache_s} s", file=sys.stderr, flush=True)
            summary = {r.run_id: store.get_run(r.run_id).summary for r in (run_a, run_b, run_c)}
            cache_size = store.cache_stats()

    def scores(run, strategies):
        names = {s.name for s in strategies}
        return {(r["strategy"], r["item_index"]): r for r in run.records if r["strategy"] in names}

    def compare(x, y) -> dict:
        """How far two runs' label scores are apart on the same (strategy, item) pairs."""
        pairs = [(x[k], y[k]) for k in x if k in y]
        diffs = [abs(a["logliks"][lab] - b["logliks"][lab]) for a, b in pairs for lab in a["logliks"]]
        return {"pairs": len(pairs), "scores_identical": all(d == 0 for d in diffs),
                "max_abs_loglik_difference": round(max(diffs, default=0.0), 6),
                "answers_agree": sum(a["extracted"] == b["extracted"] for a, b in pairs)}

    ratio = round(rerun_s / first_s, 3)
    out = {
        "model": args.model, "backend": backend.name, "dataset": DATA_FILE, "items": len(dataset),
        "strategies_first": [s.name for s in first], "strategies_rerun": [s.name for s in second],
        "calls_per_run": len(dataset) * len(first),
        "threads": getattr(getattr(backend, "llm", None), "n_threads", None), "cpu_count": os.cpu_count(),
        "setup_seconds": {"index_pool": index_s, "hash_model_file": hash_s},
        "first_run": {"seconds": first_s, "cache": summary[run_a.run_id]["cache"]},
        "rerun_cached": {"seconds": rerun_s, "cache": summary[run_b.run_id]["cache"]},
        "rerun_no_cache": {"seconds": nocache_s, "cache": summary[run_c.run_id]["cache"]},
        "rerun_over_first": ratio, "rerun_no_cache_over_first": round(nocache_s / first_s, 3),
        "target": f"rerun <= {TARGET:.0%} of the first run", "target_met": ratio <= TARGET,
        # Unchanged strategies: the cached rerun repeats the first run's scores exactly; the uncached rerun
        # shows how much llama.cpp's own scores move with the call history (its KV prefix reuse).
        "unchanged_cached_vs_first": compare(scores(run_a, first[:2]), scores(run_b, first[:2])),
        "unchanged_no_cache_vs_first": compare(scores(run_a, first[:2]), scores(run_c, first[:2])),
        "changed_cached_vs_no_cache": compare(scores(run_b, [changed]), scores(run_c, [changed])),
        "accuracy_rerun": {s.strategy: round(s.accuracy, 4) for s in run_b.summaries},
        "cache_after": cache_size,
        "load_average_at_start": load_start, "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
