"""Benchmark: an SST-2 evaluation through an OpenAI-compatible server, 1 vs N requests in flight.

Starts the real ``python -m llama_cpp.server`` (llama-cpp-python[server]) with the
embedded SmolLM2-135M-Instruct GGUF on a free loopback port, then classifies the
first ``--items`` reviews of ../shared/datasets/sst2_dev.jsonl with the
openai-compatible backend at ``max_concurrency`` 1 (the naive baseline: one request
at a time) and ``--concurrency`` (default 8). Also times the same prompts on the
in-process llama.cpp backend (the raw library, no HTTP) and checks that all three
give the same predictions.

``--mode generate`` (default): greedy completion of up to 3 tokens, label extracted
from the text. ``--mode score``: label scoring, log p(" positive") vs log p(" negative").

Medians over ``--runs`` runs. Prints JSON.

    .venv/bin/python -m bench.remote [--items 200] [--runs 3] [--concurrency 8] [--mode generate]
    .venv/bin/python -m bench.remote --server llama-server --parallel 1,8   # llama.cpp's own server

Note: llama-cpp-python's server runs one request at a time (a global lock, no
parallel slots), so concurrency there can only overlap HTTP and tokenizer round
trips; llama.cpp's ``llama-server --parallel N`` (``--server llama-server``, the
workbench's managed engine, built by ``make llama-server``) decodes up to N requests
together, and is started once per ``--parallel`` value (1 = its naive baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from tests.server_fixtures import llama_server
from workbench.answers import extract_label
from workbench.backends import resolve_model
from workbench.backends.llamacpp import load_llamacpp
from workbench.backends.openai.config import ServerConfig
from workbench.backends.openai.connect import connect
from workbench.decoding import DecodingConfig
from workbench.engine import EngineConfig, LlamaServer

ROOT = Path(__file__).resolve().parents[1]

SST2_DEV = ROOT.parent / "shared" / "datasets" / "sst2_dev.jsonl"
MODEL = "smollm2-135m-instruct"
LABELS = ("positive", "negative")
#: Context window the server is started with (tokens); reviews are short.
N_CTX = 2048
#: Decode threads, in-process and in the server (llama-cpp-python's server default on 2 cores).
THREADS = max((os.cpu_count() or 2) // 2, 1)
#: Greedy, a few tokens: enough for " positive" / " negative".
CFG = DecodingConfig(max_new_tokens=3, stop=("\n",))


def prompt(local, review: str) -> str:
    """The chat-formatted zero-shot prompt, rendered with the model's own template and sent as raw text."""
    ask = f"Is the sentiment of this movie review positive or negative? Answer with one word.\n\nReview: {review}"
    return local.format_chat([{"role": "user", "content": ask}])


def classify(backend, prompts: list[str], mode: str) -> list[str | None]:
    """Predicted label per prompt; ``generate`` sends all prompts in one call (the evaluator's path)."""
    if mode == "generate":
        return [extract_label(row[0].text, LABELS) for row in backend.generate(prompts, CFG)]
    out = []
    for p in prompts:
        pos, neg = backend.score(p, [" positive", " negative"])
        out.append("positive" if pos >= neg else "negative")
    return out


def timed_runs(backend, prompts: list[str], mode: str, runs: int) -> tuple[dict, list[str | None]]:
    seconds, preds = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        preds = classify(backend, prompts, mode)
        seconds.append(time.perf_counter() - t0)
    med = statistics.median(seconds)
    return {"seconds": [round(s, 2) for s in seconds], "median_s": round(med, 2),
            "items_per_s": round(len(prompts) / med, 2)}, preds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--mode", choices=("generate", "score"), default="generate")
    ap.add_argument("--server", choices=("llama-cpp-python", "llama-server"), default="llama-cpp-python",
                    help="python -m llama_cpp.server (default) or llama.cpp's own llama-server (make llama-server)")
    ap.add_argument("--parallel", default="1,8",
                    help="llama-server only: its --parallel slots, one server per value (default 1,8)")
    args = ap.parse_args()
    if not SST2_DEV.is_file():
        print(json.dumps({"skipped": f"{SST2_DEV} not available (../shared/datasets is optional)"}))
        return
    rows = [json.loads(line) for line in SST2_DEV.read_text(encoding="utf-8").splitlines()[: args.items]]
    gold = [r["answer"] for r in rows]

    # One decode thread in-process, as the server's default on 2 cores (both use all cores for prompts).
    local = load_llamacpp(resolve_model(MODEL), N_CTX, threads=THREADS)
    prompts = [prompt(local, r["question"]) for r in rows]
    in_process, local_preds = timed_runs(local, prompts, args.mode, args.runs)
    local.close()

    if args.server == "llama-server":
        report = {}
        for parallel in (int(p) for p in args.parallel.split(",")):
            cfg = EngineConfig(model=MODEL, parallel=parallel, slot_window=N_CTX, port=0, threads=THREADS)
            with LlamaServer(cfg) as engine:
                results, preds = in_flight(engine.url, engine.model_name, prompts, args)
            report[f"parallel_{parallel}"] = summary(results, preds, in_process, local_preds, gold, args)
        print(json.dumps({**header(prompts, args, f"llama-server --parallel {args.parallel} (llama.cpp, "
                                                   "continuous batching; the workbench's engine)"),
                          "in_process_llama_cpp": in_process, **report}, indent=2))
        return

    with llama_server(resolve_model(MODEL).path, MODEL, N_CTX, "--n_threads", str(THREADS)) as srv:
        results, preds = in_flight(srv.url, srv.model, prompts, args)
    print(json.dumps({**header(prompts, args, "python -m llama_cpp.server (llama-cpp-python, one request at a time)"),
                      "in_process_llama_cpp": in_process,
                      **summary(results, preds, in_process, local_preds, gold, args)}, indent=2))


def in_flight(url: str, model: str, prompts: list[str], args) -> tuple[dict, dict]:
    """The same evaluation through the server with 1 and with ``--concurrency`` requests in flight."""
    warm = connect(ServerConfig(url, model, context_window=N_CTX))
    classify(warm, prompts[:4], args.mode)  # the server's first request is slow (buffers, page cache)
    results, preds = {}, {}
    for c in (1, args.concurrency):
        backend = connect(ServerConfig(url, model, context_window=N_CTX, max_concurrency=c))
        results[f"concurrency_{c}"], preds[c] = timed_runs(backend, prompts, args.mode, args.runs)
    return results, preds


def header(prompts: list[str], args, server: str) -> dict:
    return {
        "benchmark": "remote",
        "items": len(prompts),
        "mode": args.mode,
        "model": MODEL,
        "server": server,
        "runs": args.runs,
        "cpu_cores": os.cpu_count(),
        "decode_threads": THREADS,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def summary(results: dict, preds: dict, in_process: dict, local_preds: list, gold: list, args) -> dict:
    base, many = results["concurrency_1"], results[f"concurrency_{args.concurrency}"]
    return {
        **results,
        f"speedup_{args.concurrency}_vs_1": round(many["items_per_s"] / base["items_per_s"], 2),
        "server_vs_in_process_at_1": round(base["items_per_s"] / in_process["items_per_s"], 2),
        "accuracy": round(sum(p == g for p, g in zip(preds[1], gold, strict=True)) / len(gold), 3),
        "same_predictions": {
            "concurrency_1_vs_in_process": sum(a == b for a, b in zip(preds[1], local_preds, strict=True)),
            f"concurrency_{args.concurrency}_vs_1": sum(
                a == b for a, b in zip(preds[args.concurrency], preds[1], strict=True)),
        },
        "load_average_1min_after": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    main()
