"""llama.cpp's exact kernels (the default: no repacking, no tiled products, flash attention) vs the fast ones
(WORKBENCH_KERNELS=fast: llama-cpp-python's defaults), side by side.

ggml fixes its tiled K-quant switch once per process, so each measurement runs in a child process, the two
settings alternating round by round; medians over the rounds, ratios exact/fast. Each child (gemma-3-270m):

* prompt reading: a 128-token prompt evaluated from an empty cache (llama-bench's pp128), tokens/s;
* one at a time: 8 prompts x 32 greedy tokens, one ``generate`` each (today's create_completion path);
* batch 8: the same 8 prompts in one ``generate`` at batch 8 (one llama_decode per step for all);
* agreement: how many of the 8 batched greedy texts are the one-at-a-time texts, and how many of 8 seeded
  samples of one prompt are the same at batch 1 and batch 8 (with another prompt beside it).

    WORKBENCH_THREADS=2 python -m bench.kernels [--runs 3]

Prints JSON (the load average at start and end: the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

PROMPTS = [f"Q: Write two sentences about {s}.\nA:" for s in
           ["cats", "the sea", "bread", "rain", "music", "space", "trains", "gardens"]]


def child() -> dict:
    """One measurement in this process, with the kernels WORKBENCH_KERNELS names."""
    from workbench.backends import load_backend
    from workbench.decoding import DecodingConfig

    backend = load_backend("gemma-3-270m", "llama.cpp")
    llm = backend.llm
    words = ("The quick brown fox jumps over the lazy dog. " * 20).encode()
    ids = llm.tokenize(words)[:128]
    reads = []
    for _ in range(3):
        llm.reset()
        start = time.perf_counter()
        llm.eval(ids)
        reads.append(time.perf_counter() - start)
    greedy = DecodingConfig(max_new_tokens=32)
    backend.batch_size = 1
    start = time.perf_counter()
    alone = []
    for p in PROMPTS:
        llm.reset()
        alone.append(backend.generate([p], greedy)[0][0])
    one_s = time.perf_counter() - start
    backend.batch_size = 8
    start = time.perf_counter()
    batched = [row[0] for row in backend.generate(PROMPTS, greedy)]
    batch_s = time.perf_counter() - start
    sampled = DecodingConfig(do_sample=True, temperature=1.0, top_k=40, top_p=0.95, seed=7, n=8, max_new_tokens=16)
    backend.batch_size = 1
    llm.reset()
    seeds_alone = [g.text for g in backend.generate([PROMPTS[0]], sampled)[0]]
    backend.batch_size = 8
    seeds_batched = [g.text for g in backend.generate([PROMPTS[1], PROMPTS[0]], sampled)[1]]
    return {
        "kernels": backend.kernels,
        "prompt_tokens_per_s": len(ids) / min(reads),
        "one_at_a_time_tokens_per_s": sum(g.completion_tokens for g in alone) / one_s,
        "batch8_tokens_per_s": sum(g.completion_tokens for g in batched) / batch_s,
        "greedy_equal": sum(a.text == b.text for a, b in zip(alone, batched, strict=True)),
        "samples_equal": sum(a == b for a, b in zip(seeds_alone, seeds_batched, strict=True)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child()))
        return
    load_start = os.getloadavg()[0]
    rounds: dict[str, list[dict]] = {"exact": [], "fast": []}
    for r in range(args.runs):
        for kernels in ("exact", "fast") if r % 2 == 0 else ("fast", "exact"):  # interleaved, order alternating
            env = dict(os.environ, WORKBENCH_KERNELS=kernels)
            out = subprocess.run([sys.executable, "-m", "bench.kernels", "--child"], env=env, check=True,
                                 capture_output=True, text=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps({"round": r, **row}), file=sys.stderr)
            rounds[kernels].append(row)
    keys = ("prompt_tokens_per_s", "one_at_a_time_tokens_per_s", "batch8_tokens_per_s")
    med = {k: {key: round(statistics.median(x[key] for x in rows), 1) for key in keys} for k, rows in rounds.items()}
    for k, rows in rounds.items():
        med[k]["greedy_equal_of_8"] = min(x["greedy_equal"] for x in rows)
        med[k]["samples_equal_of_8"] = min(x["samples_equal"] for x in rows)
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "threads": os.environ.get("WORKBENCH_THREADS", "every core")},
        "runs": args.runs, "load_average": [load_start, os.getloadavg()[0]],
        "median": med,
        "exact_over_fast": {key: round(med["exact"][key] / med["fast"][key], 3) for key in keys},
    }, indent=1))


if __name__ == "__main__":
    main()
