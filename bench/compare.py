"""Decoding Lab grid vs a naive loop that re-evaluates the prompt for every config.

Shape (issue 7): a few-shot prompt of about 500 tokens × 6 decoding configs × 64 new tokens.
"lab" is ``workbench.compare.run_grid`` (configs sharing the prompt run back-to-back, the prompt's
KV cache is reused). "naive" is a fresh generate per config: for llama.cpp the same backend call
after ``llm.reset()`` (the prompt is evaluated again; same code path otherwise, so the texts must
match); for transformers a plain ``model.generate`` per config. Also the time to the first streamed
token, with the prompt already cached (after a grid, as in the UI) and cold (another prompt ran
in between). Medians of several interleaved runs; prints JSON.

    python bench/compare.py [--runs 3] [--backends llama.cpp transformers] [--model gemma-3-270m]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

from workbench.backends import load_backend
from workbench.compare import run_grid
from workbench.data import load_sample
from workbench.decoding import PRESETS, DecodingConfig

#: The six configs of the grid: the four presets and two custom ones.
CONFIGS = [(name, cfg) for name, cfg in PRESETS.items()] + [
    ("k20", DecodingConfig(do_sample=True, temperature=0.9, top_k=20, seed=1)),
    ("minp", DecodingConfig(do_sample=True, temperature=0.5, min_p=0.1, seed=2)),
]


def few_shot_prompt(backend, target_tokens: int) -> str:
    """Manual-CoT demonstrations from the shipped arithmetic sample until about ``target_tokens``, then a query."""
    rows = load_sample("arithmetic").examples
    query = f"Q: {rows[-1].input}\nA:"
    demos = ""
    for row in rows[:-1]:
        demo = f"Q: {row.input}\nA: {row.rationale}\n\n"
        if backend.count_tokens(demos + demo + query) > target_tokens:
            break
        demos += demo
    return demos + query


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ttft(backend, prompt: str, cfg: DecodingConfig) -> float:
    """Seconds to the first streamed piece; the stream is closed right after it."""
    start = time.perf_counter()
    stream = backend.stream(prompt, cfg)
    for _ in stream:
        break
    elapsed = time.perf_counter() - start
    stream.close()
    return elapsed


def naive_llamacpp(backend, prompt: str, configs) -> list[str]:
    texts = []
    for _, cfg in configs:
        backend.llm.reset()  # forget the KV cache: the prompt is evaluated again
        texts.append(backend.generate([prompt], cfg)[0][0].text)
    return texts


def naive_transformers(backend, prompt: str, configs) -> list[str]:
    import torch
    from transformers import GenerationConfig

    ids = backend.tokenize(prompt)
    x = torch.tensor([ids], device=backend.model.device)
    texts = []
    for _, cfg in configs:
        sampling = dict(temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p, min_p=cfg.min_p or None,
                        typical_p=cfg.typical_p) if cfg.do_sample else {}
        gen_cfg = GenerationConfig(do_sample=cfg.do_sample, max_new_tokens=cfg.max_new_tokens,
                                   pad_token_id=backend.tokenizer.eos_token_id,
                                   eos_token_id=backend.model.generation_config.eos_token_id, **sampling)
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            out = backend.model.generate(x, attention_mask=torch.ones_like(x), generation_config=gen_cfg)
        texts.append(backend.tokenizer.decode(out[0, len(ids):], skip_special_tokens=True))
    return texts


def bench(backend_name: str, model: str, runs: int, prompt_tokens: int, max_new: int) -> dict:
    backend = load_backend(model, backend_name)
    prompt = few_shot_prompt(backend, prompt_tokens)
    configs = [(name, cfg.replace(max_new_tokens=max_new)) for name, cfg in CONFIGS]
    naive_fn = naive_llamacpp if backend_name == "llama.cpp" else naive_transformers
    out: dict = {}

    def lab():
        grid = run_grid(backend, [prompt], configs)
        out["lab"] = [c.generations[0].text for c in grid.cells]
        out["tokens"] = sum(c.generations[0].completion_tokens for c in grid.cells)

    def naive():
        out["naive"] = naive_fn(backend, prompt, configs)

    lab(), naive()  # warm up both paths
    lab_t, naive_t, warm_t, cold_t = [], [], [], []
    first = configs[0][1]
    for _ in range(runs):  # interleaved so load drift hits both paths alike
        naive_t.append(timed(naive))
        lab_t.append(timed(lab))
        warm_t.append(ttft(backend, prompt, first))  # the prompt is cached from the grid, as in the UI
        backend.complete("Hello", DecodingConfig(max_new_tokens=1))  # another prompt evicts it
        cold_t.append(ttft(backend, prompt, first))
    lab_s, naive_s = statistics.median(lab_t), statistics.median(naive_t)
    same = [a == b for a, b in zip(out["lab"], out["naive"], strict=True)]
    prompt_len, device = backend.count_tokens(prompt), backend.device
    backend.close()
    return {
        "backend": backend_name, "model": model, "device": device,
        "prompt_tokens": prompt_len, "configs": len(configs), "max_new_tokens": max_new,
        "new_tokens_per_grid": out["tokens"],
        "lab_median_s": round(lab_s, 3), "naive_median_s": round(naive_s, 3),
        "speedup": round(naive_s / lab_s, 2),
        "ttft_cached_median_s": round(statistics.median(warm_t), 3),
        "ttft_cold_median_s": round(statistics.median(cold_t), 3),
        "same_text": f"{sum(same)}/{len(same)}",
        "lab_runs_s": [round(t, 3) for t in lab_t], "naive_runs_s": [round(t, 3) for t in naive_t],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["llama.cpp"], choices=["llama.cpp", "transformers"],
                        help="transformers is slow on a CPU; add it explicitly")
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--prompt-tokens", type=int, default=500)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()
    results = [bench(b, args.model, args.runs, args.prompt_tokens, args.max_new_tokens) for b in args.backends]
    print(json.dumps({"benchmark": "compare", "machine": f"{platform.machine()} {platform.processor()}".strip(),
                      "cpus": os.cpu_count(), "runs": args.runs, "results": results}, indent=2))


if __name__ == "__main__":
    main()
