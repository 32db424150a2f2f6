"""Batched generation vs one sequence at a time (issue 16), side by side in one run.

* llama.cpp (gemma-3-270m): 8 and 16 prompts x 32 greedy tokens at batch 1 (today's path: one
  create_completion per prompt) vs 4 vs 8 sequences per llama_decode step;
* transformers (SmolLM2-135M, CPU): 8 prompts x 32 greedy tokens one at a time vs one left-padded generate;
* self-consistency, n=8 sampled paths of one question on llama.cpp: path by path (batch 1, today) vs the
  n paths batched;
* the Decoding Lab's grid: 6 sampled configs on one prompt (:func:`workbench.compare.run_grid`), config
  after config (batch 1) vs all six decoded together (batch 8);
* ``--evaluation``: :func:`workbench.evaluate.runner.evaluate` itself, Zero-shot-CoT on the first N arithmetic
  items (MultiArith from ../shared/datasets when present, else the shipped sample) at batch 1
  (``reproducible``: today's path) vs 4 vs 8 on both backends, plus label scoring of N SST-2 items (never
  batched: it is bound by reading prompts, reported as prompt tokens/s).

Runs alternate (every configuration once per round, rounds repeated) and medians are reported, with
generated tokens/s, items/s and how many texts equal the batch-1 texts. Prints JSON with the load average
at start and end: the machine is shared, so absolute figures move with it.

    WORKBENCH_THREADS=2 python -m bench.batch [--runs 3] [--tokens 32] [--skip-transformers] [--skip-16]
        [--evaluation [--eval-items 100] [--score-items 200]]

Progress (each timed call) goes to stderr as JSON lines, so a run cut short still leaves its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

from workbench.backends import load_backend
from workbench.decoding import DecodingConfig

SUBJECTS = ["cats", "the sea", "bread", "rain", "music", "space", "trains", "gardens", "winter", "maths",
            "rivers", "coffee", "bees", "castles", "forests", "kites"]
PROMPTS = [f"Q: Write two sentences about {s}.\nA:" for s in SUBJECTS]
SC_PROMPT = ("Q: A shop sells pens at 3 dollars each. Tom buys 4 pens and pays with a 20 dollar note. "
             "How much change does he get?\nA: Let's think step by step.")


def timed(backend, size: int, prompts: list[str], cfg: DecodingConfig) -> tuple[float, list[str], int]:
    backend.batch_size = size
    start = time.perf_counter()
    rows = backend.generate(prompts, cfg)
    seconds = time.perf_counter() - start
    gens = [g for row in rows for g in row]
    return seconds, [g.text for g in gens], sum(g.completion_tokens for g in gens)


def compare(backend, cases: list[tuple[str, int, list[str], DecodingConfig]], runs: int) -> dict:
    """cases: (label, batch size, prompts, cfg); the first case of each label group is the reference."""
    seconds: dict[str, list[float]] = {c[0]: [] for c in cases}
    tokens: dict[str, int] = {}
    out_texts: dict[str, list[str]] = {}
    for _ in range(runs):  # interleaved: load drift hits every configuration alike
        for label, size, prompts, cfg in cases:
            s, t, n = timed(backend, size, prompts, cfg)
            print(json.dumps({"done": label, "seconds": round(s, 2), "tokens": n}), file=sys.stderr, flush=True)
            seconds[label].append(s)
            tokens[label] = n
            out_texts.setdefault(label, t)
    report = {}
    for label, size, prompts, cfg in cases:
        ref = next(c[0] for c in cases if c[2] is prompts and c[1] == 1)
        med = statistics.median(seconds[label])
        report[label] = {
            "batch": size, "sequences": len(prompts) * cfg.n, "median_seconds": round(med, 2),
            "seconds": [round(x, 2) for x in seconds[label]], "tokens": tokens[label],
            "tokens_per_second": round(tokens[label] / med, 1), "items_per_second": round(len(prompts) / med, 3),
            "texts_equal_to_batch_1": sum(a == b for a, b in zip(out_texts[label], out_texts[ref], strict=True)),
        }
    for label, _size, prompts, _cfg in cases:
        ref = next(c[0] for c in cases if c[2] is prompts and c[1] == 1)
        report[label]["speedup_vs_batch_1"] = round(report[ref]["median_seconds"] / report[label]["median_seconds"], 2)
    return report


GRID_CONFIGS = [(f"t{t}/k{k}", DecodingConfig(do_sample=True, temperature=t, top_k=k, top_p=0.95, seed=7))
                for t in (0.5, 0.8, 1.1) for k in (20, 50)]


def grid(backend, tokens: int, runs: int) -> dict:
    """The Decoding Lab's grid of 6 sampled configs on one prompt: batch 1 vs 8, interleaved runs."""
    from workbench.compare import run_grid

    configs = [(label, c.replace(max_new_tokens=tokens)) for label, c in GRID_CONFIGS]
    seconds: dict[int, list[float]] = {1: [], 8: []}
    outs: dict[int, list[str]] = {}
    for _ in range(runs):
        for b in (1, 8):
            backend.batch_size = b
            g = run_grid(backend, [PROMPTS[0]], configs)
            seconds[b].append(g.seconds)
            outs.setdefault(b, [c.generations[0].text for c in g.cells])
            print(json.dumps({"done": f"grid batch {b}", "seconds": round(g.seconds, 2)}), file=sys.stderr, flush=True)
    med = {b: statistics.median(v) for b, v in seconds.items()}
    return {f"Decoding Lab grid, 6 sampled configs, batch {b}": {
        "median_seconds": round(med[b], 2), "seconds": [round(x, 2) for x in seconds[b]],
        "speedup_vs_batch_1": round(med[1] / med[b], 2),
        "texts_equal_to_batch_1": sum(a == c for a, c in zip(outs[b], outs[1], strict=True))} for b in (1, 8)}


def _pool(shared: str, sample: str, n: int):
    from pathlib import Path

    from workbench.data import Pool, load_pool, load_sample

    path = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / shared
    pool = load_pool(str(path)) if path.is_file() else load_sample(sample)
    return Pool(f"{pool.name}-{n}", tuple(pool)[:n])


def evaluation(backend, items: int, tokens: int, runs: int, sizes=(1, 4, 8)) -> dict:
    """Zero-shot-CoT evaluation of ``items`` arithmetic items at each batch size, interleaved runs."""
    import dataclasses
    import tempfile

    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.runner import evaluate
    from workbench.evaluate.strategies import parse_strategies
    from workbench.store import open_store

    pool = _pool("multiarith.jsonl", "arithmetic", items)
    strategies = [dataclasses.replace(s, decoding=s.decoding.replace(max_new_tokens=tokens))
                  for s in parse_strategies("zscot", default_spec(pool), pool)]
    seconds: dict[int, list[float]] = {b: [] for b in sizes}
    outputs: dict[int, list[str]] = {}
    accuracy: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"{tmp}/bench.db")
        evaluate(pool, None, strategies, backend, store, cache=False, limit=1)  # warm: the first call pays more
        for _ in range(runs):
            for b in sizes:
                backend.batch_size = b
                start = time.perf_counter()
                run = evaluate(pool, None, strategies, backend, store, cache=False, reproducible=b == 1)
                seconds[b].append(time.perf_counter() - start)
                outputs.setdefault(b, [r["output"] for r in run.records])
                accuracy[b] = run.summaries[0].accuracy
                print(json.dumps({"done": f"evaluation batch {b}", "seconds": round(seconds[b][-1], 2)}),
                      file=sys.stderr, flush=True)
        store.close()
    base = statistics.median(seconds[sizes[0]])
    return {f"zero-shot-CoT, {pool.name}, batch {b}": {
        "items": len(pool), "max_new_tokens": tokens, "median_seconds": round(statistics.median(seconds[b]), 2),
        "seconds": [round(x, 2) for x in seconds[b]],
        "items_per_second": round(len(pool) / statistics.median(seconds[b]), 3),
        "speedup_vs_batch_1": round(base / statistics.median(seconds[b]), 2), "accuracy": accuracy[b],
        "outputs_equal_to_batch_1": sum(a == c for a, c in zip(outputs[b], outputs[sizes[0]], strict=True)),
    } for b in sizes}


def label_scoring(backend, items: int) -> dict:
    """Label scoring (4 nearest demonstrations) of ``items`` SST-2 items: items/s and prompt tokens/s."""
    import tempfile

    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.runner import evaluate
    from workbench.evaluate.strategies import parse_strategies
    from workbench.store import open_store

    pool = _pool("sst2_dev.jsonl", "sentiment", items)
    demos = _pool("sst2_train.jsonl", "sentiment", 2000)
    strategies = parse_strategies("knn4", default_spec(pool), demos, answer="score")
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"{tmp}/bench.db")
        evaluate(pool, demos, strategies, backend, store, cache=False, limit=2)  # index built, model warm
        start = time.perf_counter()
        run = evaluate(pool, demos, strategies, backend, store, cache=False)
        seconds = time.perf_counter() - start
        store.close()
    prompt_tokens = sum(backend.count_tokens(r["prompt"]) for r in run.records)
    return {f"label scoring knn4, {pool.name}": {
        "items": len(pool), "seconds": round(seconds, 2), "items_per_second": round(len(pool) / seconds, 2),
        "prompt_tokens_per_second": round(prompt_tokens / seconds, 1),
        "mean_prompt_tokens": round(prompt_tokens / len(pool), 1), "accuracy": run.summaries[0].accuracy}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--skip-transformers", action="store_true")
    ap.add_argument("--skip-llamacpp", action="store_true")
    ap.add_argument("--skip-16", action="store_true", help="leave out the 16-prompt rows (they take longest)")
    ap.add_argument("--evaluation", action="store_true", help="only the evaluation rows (evaluate() itself)")
    ap.add_argument("--eval-items", type=int, default=100, help="Zero-shot-CoT items per evaluation run")
    ap.add_argument("--score-items", type=int, default=200, help="SST-2 items of the label-scoring row")
    ap.add_argument("--sizes", default="1,4,8", help="llama.cpp evaluation batch sizes, comma-separated")
    ap.add_argument("--skip-scoring", action="store_true", help="leave out the label-scoring row")
    ap.add_argument("--hf-items", type=int, default=None,
                    help="Zero-shot-CoT items on transformers (default: --eval-items; CPU transformers is slow)")
    args = ap.parse_args()
    greedy = DecodingConfig(max_new_tokens=args.tokens)
    out = {"benchmark": "batch", "machine": f"{platform.machine()} {os.cpu_count()} CPUs, shared with other work",
           "threads": os.environ.get("WORKBENCH_THREADS", "all cores"), "runs": args.runs,
           "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    gemma = load_backend("gemma-3-270m", "llama.cpp")
    if args.evaluation:
        if not args.skip_llamacpp:
            sizes = tuple(int(x) for x in args.sizes.split(","))
            out["evaluation llama.cpp gemma-3-270m"] = {
                "kernels": gemma.kernels,
                **evaluation(gemma, args.eval_items, args.tokens, args.runs, sizes),
                **({} if args.skip_scoring else label_scoring(gemma, args.score_items))}
        if not args.skip_transformers:
            smol = load_backend("smollm2-135m-instruct", "transformers")
            out["evaluation transformers smollm2-135m-instruct (cpu)"] = evaluation(
                smol, args.hf_items or args.eval_items, args.tokens, args.runs, sizes=(1, 8))
        out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(out, indent=2))
        return
    p8, p16 = PROMPTS[:8], PROMPTS[:16]
    cases = [(f"{len(p)} prompts, batch {b}", b, p, greedy) for p in ((p8,) if args.skip_16 else (p8, p16))
             for b in (1, 4, 8)]
    sc = DecodingConfig(do_sample=True, temperature=0.7, top_k=40, top_p=0.95, seed=1, n=8,
                        max_new_tokens=2 * args.tokens, stop=("\nQ:",))
    one = [SC_PROMPT]  # one list object: compare() finds a case's batch-1 reference by identity
    cases += [(f"self-consistency n=8, batch {b}", b, one, sc) for b in (1, 8)]
    if not args.skip_llamacpp:
        out["llama.cpp gemma-3-270m"] = {**compare(gemma, cases, args.runs), **grid(gemma, args.tokens, args.runs)}
    if not args.skip_transformers:
        smol = load_backend("smollm2-135m-instruct", "transformers")
        out["transformers smollm2-135m-instruct (cpu)"] = compare(
            smol, [(f"8 prompts, batch {b}", b, p8, greedy) for b in (1, 8)], args.runs)
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
