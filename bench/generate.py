"""Workbench generate path vs the raw library call of the same backend.

Same prompt, same greedy settings, several runs, medians; prints JSON with the
overhead ratio (workbench / raw). Target: at most 1.10.

    python bench/generate.py [--runs 5] [--max-new-tokens 64] [--transformers smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

from workbench.backends import load_backend
from workbench.decoding import DecodingConfig

PROMPT = (
    "Review: a gorgeous, witty, seductive movie.\nSentiment: positive\n\n"
    "Review: the plot is nothing but boilerplate cliches.\nSentiment: negative\n\n"
    "Review: an utterly charming and hilarious film that reminded me why I love cinema.\nSentiment:"
    " positive\n\nWrite a short story about a lighthouse keeper:"
)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(raw, ours, runs: int) -> dict:
    raw(), ours()  # warm up both paths
    raw_t, ours_t = [], []
    for _ in range(runs):  # interleave so drift hits both equally
        raw_t.append(timed(raw))
        ours_t.append(timed(ours))
    r, o = statistics.median(raw_t), statistics.median(ours_t)
    return {"raw_median_s": round(r, 4), "workbench_median_s": round(o, 4), "ratio": round(o / r, 3),
            "raw_runs_s": [round(t, 4) for t in raw_t], "workbench_runs_s": [round(t, 4) for t in ours_t]}


def bench_llamacpp(model: str, runs: int, max_new: int) -> dict:
    backend = load_backend(model, "llama.cpp")
    cfg = DecodingConfig(max_new_tokens=max_new)
    ids = backend.tokenize(PROMPT)
    texts = {}

    def raw():
        texts["raw"] = backend.llm.create_completion(ids, max_tokens=max_new, temperature=0.0, top_k=0,
                                                     top_p=1.0, min_p=0.0, repeat_penalty=1.0)["choices"][0]["text"]

    def ours():
        texts["ours"] = backend.complete(PROMPT, cfg).text

    result = compare(raw, ours, runs)
    result.update(backend="llama.cpp", model=model, prompt_tokens=len(ids), same_text=texts["raw"] == texts["ours"])
    return result


def bench_transformers(model: str, runs: int, max_new: int) -> dict:
    import torch

    backend = load_backend(model, "transformers")
    cfg = DecodingConfig(max_new_tokens=max_new)
    ids = backend.tokenize(PROMPT)
    x = torch.tensor([ids], device=backend.model.device)
    texts = {}

    def raw():
        with torch.inference_mode():
            out = backend.model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=max_new,
                                         do_sample=False, pad_token_id=backend.tokenizer.eos_token_id)
        texts["raw"] = backend.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True)

    def ours():
        texts["ours"] = backend.complete(PROMPT, cfg).text

    result = compare(raw, ours, runs)
    result.update(backend="transformers", model=model, device=backend.device, prompt_tokens=len(ids),
                  same_text=texts["raw"] == texts["ours"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--llamacpp", nargs="*", default=["gemma-3-270m", "smollm2-135m-instruct"])
    parser.add_argument("--transformers", nargs="*", default=["smollm2-135m-instruct"])
    args = parser.parse_args()
    results = [bench_llamacpp(m, args.runs, args.max_new_tokens) for m in args.llamacpp]
    results += [bench_transformers(m, args.runs, args.max_new_tokens) for m in args.transformers]
    print(json.dumps({"benchmark": "generate", "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                      "cpus": __import__("os").cpu_count(), "max_new_tokens": args.max_new_tokens,
                      "runs": args.runs, "results": results}, indent=2))


if __name__ == "__main__":
    main()
