"""Benchmark: does choosing demonstrations by similarity help? SST-2 dev accuracy, gemma-3-270m.

Pool: ../shared/datasets/sst2_train.jsonl; queries: the first ``--items`` reviews of
sst2_dev.jsonl. Each strategy builds the prompt

    Review: {demo}\\nSentiment: {label}\\n\\n  (x demos, most similar last)  Review: {query}\\nSentiment:

and predicts the label whose continuation (" positive" / " negative") the model scores
higher (``Backend.score``). Strategies: zero-shot (the naive baseline), ``--demos``
random demonstrations (seeded), and the ``--demos`` nearest (MiniLM + FAISS).
Prints JSON.

    .venv/bin/python bench/accuracy_selection.py [--items 200] [--demos 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from workbench.backends import load_backend
from workbench.data import load_pool
from workbench.retrieval.embedder import load_embedder
from workbench.retrieval.index import build_index
from workbench.retrieval.orders import order
from workbench.retrieval.selectors.registry import make_selector

ROOT = Path(__file__).resolve().parents[1]

SHARED = ROOT.parent / "shared" / "datasets"
LABELS = ("positive", "negative")
TEMPLATE = "Review: {text}\nSentiment: {label}\n\n"


def prompt_for(demos, query: str) -> str:
    return "".join(TEMPLATE.format(text=d.input, label=d.answer) for d in demos) + f"Review: {query}\nSentiment:"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200, help="dev reviews to classify")
    parser.add_argument("--demos", type=int, default=4, help="demonstrations per prompt")
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random selector")
    parser.add_argument("--strategies", default="zero_shot,random,knn", help="comma-separated")
    parser.add_argument("--cache-dir", default=None, help="index cache (default: a temporary folder)")
    args = parser.parse_args()
    if not (SHARED / "sst2_train.jsonl").exists():
        print(json.dumps({"skipped": f"{SHARED} is absent; the benchmark needs ../shared/datasets"}))
        return 0
    from tqdm import tqdm

    pool = load_pool(SHARED / "sst2_train.jsonl")
    dev = load_pool(SHARED / "sst2_dev.jsonl").examples[: args.items]
    backend = load_backend(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with tqdm(total=len(pool), desc="embedding pool", file=sys.stderr) as bar:
            index = build_index(pool, load_embedder(), cache_dir=args.cache_dir or tmp,
                                progress=lambda done, total: bar.update(done - bar.n))
        index_s = time.perf_counter() - t0
    index.embed_many([ex.input for ex in dev])

    out: dict = {"model": args.model, "items": len(dev), "demos": args.demos, "seed": args.seed,
                 "index_s": round(index_s, 1), "strategies": {}}
    predictions: dict[str, list[str]] = {}
    for strategy in args.strategies.split(","):
        selector = None if strategy == "zero_shot" else make_selector(strategy, index, seed=args.seed)
        preds, tokens, t0 = [], 0, time.perf_counter()
        for ex in tqdm(dev, desc=strategy, file=sys.stderr):
            demos = []
            if selector is not None:
                chosen = order(selector.select(ex.input, args.demos), "similar_last")
                demos = [pool[i] for i in chosen.indices]
            prompt = prompt_for(demos, ex.input)
            tokens += backend.count_tokens(prompt)
            scores = backend.score(prompt, [" " + label for label in LABELS])
            preds.append(LABELS[max(range(len(LABELS)), key=scores.__getitem__)])
        seconds = time.perf_counter() - t0
        predictions[strategy] = preds
        out["strategies"][strategy] = {
            "accuracy": round(sum(p == ex.answer for p, ex in zip(preds, dev, strict=True)) / len(dev), 4),
            "predicted_positive": round(preds.count("positive") / len(dev), 3),
            "mean_prompt_tokens": round(tokens / len(dev), 1),
            "seconds": round(seconds, 1),
        }
    if "random" in predictions and "knn" in predictions:
        gold = [ex.answer for ex in dev]
        only_knn = sum(k == g != r for k, r, g in zip(predictions["knn"], predictions["random"], gold, strict=True))
        only_rnd = sum(r == g != k for k, r, g in zip(predictions["knn"], predictions["random"], gold, strict=True))
        out["knn_right_random_wrong"] = only_knn
        out["random_right_knn_wrong"] = only_rnd
    out["gold_positive"] = round(sum(ex.answer == "positive" for ex in dev) / len(dev), 3)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
