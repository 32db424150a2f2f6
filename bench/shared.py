"""A class of N at the model: N threads stream at the same instant, queued on the model lock vs one shared batch.

What the app's sessions do when they press Generate together, without the browsers (bench/classroom.py
drives real browsers): each thread streams its own greedy prompt through ``Backend.stream``. Side by side,
interleaved rounds, one process, gemma-3-270m on llama.cpp:

* **queue**: today's path, one sequence at a time behind ``ModelLock`` (``WORKBENCH_SHARED_BATCH`` unset);
* **shared S**: the same model file loaded with ``shared_batch=S`` (continuous batching across callers).

Reports p50/p95 time to first streamed text and to the end, the wall time for all, and how many texts equal
the queue's (batched greedy text may differ a little). Prints JSON.

    WORKBENCH_THREADS=2 .venv/bin/python -m bench.shared [--sessions 30] [--tokens 32] [--sizes 8] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time

from workbench.backends import registry
from workbench.backends.llamacpp import load_llamacpp
from workbench.decoding import DecodingConfig

TOPICS = ["cats", "the sea", "bread", "rain", "music", "space", "trains", "gardens", "winter", "maths", "rivers",
          "coffee", "bees", "castles", "forests", "kites", "clocks", "deserts", "owls", "bridges", "snow", "tea",
          "maps", "ships", "lamps", "apples", "wolves", "poems", "stars", "hills"]


def prompts(n: int) -> list[str]:
    return [f"Q: Write two sentences about {TOPICS[i % len(TOPICS)]}.\nA:" for i in range(n)]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def classroom(backend, texts: list[str], cfg: DecodingConfig) -> dict:
    """Every text streamed from its own thread, all released at once."""
    gate = threading.Barrier(len(texts) + 1)
    first: list[float | None] = [None] * len(texts)
    end: list[float | None] = [None] * len(texts)
    out: list[str] = [""] * len(texts)

    def session(i: int) -> None:
        gate.wait()
        start = time.perf_counter()
        stream = backend.stream(texts[i], cfg)
        for piece in stream:
            if first[i] is None and piece:
                first[i] = time.perf_counter() - start
        end[i] = time.perf_counter() - start
        out[i] = stream.generation.text

    threads = [threading.Thread(target=session, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    gate.wait()
    for t in threads:
        t.join(600)
    wall = time.perf_counter() - t0
    firsts = [f for f in first if f is not None]
    ends = [e for e in end if e is not None]
    return {"first_text_p50_s": round(statistics.median(firsts), 2), "first_text_p95_s": round(p95(firsts), 2),
            "done_p50_s": round(statistics.median(ends), 2), "done_p95_s": round(p95(ends), 2),
            "all_done_s": round(wall, 2), "answered": len(ends), "texts": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--sizes", default="8", help="shared batch sizes, comma-separated (default 8)")
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    spec = registry.resolve_model("gemma-3-270m")
    sizes = [int(x) for x in args.sizes.split(",")]
    backends = {"queue": load_llamacpp(spec, shared_batch=0),
                **{f"shared {s}": load_llamacpp(spec, shared_batch=s) for s in sizes}}
    texts, cfg = prompts(args.sessions), DecodingConfig(max_new_tokens=args.tokens)
    for b in backends.values():  # warm: the first call pays for the context and the batch engine
        b.stream(texts[0], cfg).text()
    runs: dict[str, list[dict]] = {k: [] for k in backends}
    for _ in range(args.runs):  # interleaved: load drift hits every configuration alike
        for name, b in backends.items():
            runs[name].append(classroom(b, texts, cfg))
    out = {"benchmark": "shared", "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
           "threads": os.environ.get("WORKBENCH_THREADS", "all cores"), "sessions": args.sessions,
           "max_new_tokens": args.tokens, "runs": args.runs, "load_average": [round(x, 2) for x in os.getloadavg()]}
    queue_texts = runs["queue"][0]["texts"]
    for name, rs in runs.items():
        keys = [k for k in rs[0] if k.endswith("_s")]
        row = {k: round(statistics.median(r[k] for r in rs), 2) for k in keys}
        row["answered"] = min(r["answered"] for r in rs)
        row["texts_equal_to_queue"] = sum(a == b for a, b in zip(rs[0]["texts"], queue_texts, strict=True))
        out[name] = row
    for name in backends:
        out[name]["all_done_speedup_vs_queue"] = round(out["queue"]["all_done_s"] / out[name]["all_done_s"], 2)
    for b in backends.values():
        b.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
