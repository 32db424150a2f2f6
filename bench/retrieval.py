"""Benchmark: embedding + FAISS index open times, selector throughput, FAISS vs numpy.

Pool: ../shared/datasets/sst2_train.jsonl (6,920 reviews); queries: sst2_dev.jsonl (872).

* first open (embed + index, empty cache) vs the raw ``SentenceTransformer.encode`` call,
* re-open from the on-disk cache (the encoder must not be called),
* selection throughput for every selector, K=8, all dev queries (query vectors embedded
  once beforehand, and that batch embedding timed on its own),
* FAISS ``IndexFlatIP`` vs a brute-force numpy search on the same vectors: same neighbours?
  speed ratio, batched and one query at a time; and HNSW recall against the exact index.

Medians over ``--runs`` runs. Prints JSON. Uses a temporary cache folder.

    .venv/bin/python bench/retrieval.py [--runs 3] [--open-runs 2] [--k 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from workbench.data import load_pool
from workbench.retrieval.embedder import load_embedder
from workbench.retrieval.index import build_index
from workbench.retrieval.selectors.knn import knn
from workbench.retrieval.selectors.registry import SELECTORS, make_selector

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "datasets"


class CountingEmbedder:
    """Passes through to the real embedder and counts texts encoded."""

    def __init__(self, inner):
        self.inner = inner
        self.id = inner.id
        self.texts = 0

    def encode(self, texts, batch_size=64, progress=None):
        self.texts += len(texts)
        return self.inner.encode(texts, batch_size=batch_size, progress=progress)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median_time(fn, runs: int) -> float:
    return statistics.median(timed(fn)[0] for _ in range(runs))


def numpy_topk(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """The naive baseline: full similarity matrix, argpartition, then sort the top k."""
    sims = queries @ vectors.T
    part = np.argpartition(-sims, k, axis=1)[:, :k]
    top = np.take_along_axis(sims, part, axis=1)
    return np.take_along_axis(part, np.argsort(-top, axis=1, kind="stable"), axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per timing (median reported)")
    parser.add_argument("--open-runs", type=int, default=2, help="runs of the slow first open (embedding)")
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args()
    if not (SHARED / "sst2_train.jsonl").exists():
        print(json.dumps({"skipped": f"{SHARED} is absent; the benchmark needs ../shared/datasets"}))
        return 0

    import faiss

    load_start = round(os.getloadavg()[0], 2)  # other work on the machine skews every figure
    pool = load_pool(SHARED / "sst2_train.jsonl")
    queries = load_pool(SHARED / "sst2_dev.jsonl").inputs()
    load_s, embedder = timed(load_embedder)
    out: dict = {
        "pool": f"sst2_train ({len(pool)} examples)",
        "queries": f"sst2_dev ({len(queries)})",
        "k": args.k,
        "runs": args.runs,
        "embedder": embedder.id,
        "faiss_threads": faiss.omp_get_max_threads(),
        "embedder_load_s": round(load_s, 2),
    }

    # ---- open: empty cache vs cache hit, and the raw library call as baseline ----
    first, reopen, raw, index = [], [], [], None
    for _ in range(args.open_runs):  # interleaved, so a busy machine slows both alike
        t, _ = timed(lambda: embedder._model.encode(pool.inputs(), batch_size=64, normalize_embeddings=True,
                                                     convert_to_numpy=True, show_progress_bar=False))
        raw.append(t)
        with tempfile.TemporaryDirectory() as cache:
            counting = CountingEmbedder(embedder)
            t, index = timed(lambda c=cache, e=counting: build_index(pool, e, cache_dir=c))
            first.append(t)
            for _ in range(args.runs):
                t, _ = timed(lambda c=cache, e=counting: build_index(pool, e, cache_dir=c))
                reopen.append(t)
            assert counting.texts == len(pool), "re-open from cache called the encoder"
    out["first_open_s"] = round(statistics.median(first), 2)
    out["raw_sentence_transformers_encode_s"] = round(statistics.median(raw), 2)
    out["reopen_from_cache_s"] = round(statistics.median(reopen), 4)
    out["first_open_vs_reopen"] = round(statistics.median(first) / statistics.median(reopen), 1)

    # ---- selection throughput (query vectors embedded once, in a batch) ----
    qvec_s, qvecs = timed(lambda: index.embed_many(queries))
    out["embed_dev_queries_s"] = round(qvec_s, 2)
    out["embed_queries_per_s"] = round(len(queries) / qvec_s, 1)
    throughput, setup = {}, {}
    for name in SELECTORS:
        t, selector = timed(lambda n=name: make_selector(n, index, seed=0, indices=tuple(range(args.k))))
        if name == "cluster":
            t += timed(lambda s=selector: s.assignments(args.k))[0]  # k-means fit, once per k
        setup[name] = round(t, 3)
        secs = median_time(lambda s=selector: [s.select(q, args.k) for q in queries], args.runs)
        throughput[name] = round(len(queries) / secs, 1)
    out["selector_setup_s"] = setup
    out["selection_queries_per_s"] = throughput

    # ---- FAISS vs brute-force numpy on the same vectors ----
    vecs, k = index.vectors, args.k
    _, faiss_ids = index.faiss.search(qvecs, k)
    np_ids = numpy_topk(qvecs, vecs, k)
    same_order = float(np.mean([a.tolist() == b.tolist() for a, b in zip(faiss_ids, np_ids, strict=True)]))
    same_set = float(np.mean([set(a) == set(b) for a, b in zip(faiss_ids, np_ids, strict=True)]))
    faiss_batch = median_time(lambda: index.faiss.search(qvecs, k), args.runs)
    numpy_batch = median_time(lambda: numpy_topk(qvecs, vecs, k), args.runs)
    faiss_single = median_time(lambda: [index.faiss.search(q[None, :], k) for q in qvecs], args.runs)
    numpy_single = median_time(lambda: [knn(q, vecs, k) for q in qvecs], args.runs)
    hnsw = faiss.IndexHNSWFlat(vecs.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efSearch = 64
    hnsw_build, _ = timed(lambda: hnsw.add(vecs))
    _, hnsw_ids = hnsw.search(qvecs, k)
    hnsw_batch = median_time(lambda: hnsw.search(qvecs, k), args.runs)
    out["faiss_vs_numpy"] = {
        "same_neighbours_in_order": round(same_order, 4),
        "same_neighbour_sets": round(same_set, 4),
        "batch_872_queries_ms": {"faiss_flat": round(faiss_batch * 1e3, 2), "numpy": round(numpy_batch * 1e3, 2)},
        "batch_speedup_faiss_over_numpy": round(numpy_batch / faiss_batch, 2),
        "one_query_at_a_time_ms_per_query": {
            "faiss_flat": round(faiss_single / len(qvecs) * 1e3, 3),
            "numpy_knn": round(numpy_single / len(qvecs) * 1e3, 3),
        },
        "single_speedup_faiss_over_numpy": round(numpy_single / faiss_single, 2),
        "hnsw_m32_ef64": {
            "build_s": round(hnsw_build, 3),
            "recall_at_k_vs_flat": round(float(np.mean([len(set(a) & set(b)) / k
                                                        for a, b in zip(hnsw_ids, faiss_ids, strict=True)])), 4),
            "batch_872_queries_ms": round(hnsw_batch * 1e3, 2),
        },
    }
    out["load_average_1min_start_end"] = [load_start, round(os.getloadavg()[0], 2)]
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
