"""Benchmark: the openai-compatible backend's HTTP client and label scoring, each beside its naive path.

1. **Connections**: ``--requests`` small requests (a tokenizer request for a short text)
   to the real ``python -m llama_cpp.server`` on loopback, and to llama.cpp's own
   ``llama-server`` when it is built, three ways in the same
   run, interleaved round by round: ``urllib`` (``urllib.request`` with a new connection
   each, as the backend did before the pool), ``new connection each`` (the backend's
   client with a pool that keeps nothing) and ``pooled`` (keep-alive, the default).
2. **Label scoring** (``--items`` SST-2 dev reviews after ``--demos`` demonstrations, labels
   " positive" / " negative" / " very positive"): forced tokens (one request per label
   token) vs echo + logprobs (one request per label), on gemma-3-270m (a BOS model,
   where llama-cpp-python's echo is right); the largest score difference; and the
   check's verdict on SmolLM2 (no BOS: llama-cpp-python's echo values are shifted).

Medians over ``--runs``. Prints JSON.

    .venv/bin/python -m bench.client [--requests 200] [--runs 3] [--items 3] [--demos 0] [--skip-scoring]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import urllib.request
from pathlib import Path

from tests.server_fixtures import llama_server
from workbench.backends import resolve_model
from workbench.backends.openai.client import Pool, Route, ServerClient
from workbench.backends.openai.config import ServerConfig
from workbench.backends.openai.connect import connect
from workbench.backends.openai.replies import Tokens

ROOT = Path(__file__).resolve().parents[1]
SST2_DEV = ROOT.parent / "shared" / "datasets" / "sst2_dev.jsonl"
SST2_TRAIN = ROOT.parent / "shared" / "datasets" / "sst2_train.jsonl"
#: One small request per server: its tokenizer endpoint and a short text.
SMALL = {"llama-cpp-python": ("/extras/tokenize", {"input": "The capital of France is"}),
         "llama-server": ("/tokenize", {"content": "The capital of France is"})}
LABELS = [" positive", " negative", " very positive"]


def _urllib(url: str, small: tuple[str, dict], n: int) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = json.dumps(small[1]).encode()
    for _ in range(n):
        request = urllib.request.Request(url + small[0], data=data, headers={"Content-Type": "application/json"})
        with opener.open(request, timeout=30) as reply:
            json.loads(reply.read())


def _client(url: str, small: tuple[str, dict], n: int, keep: int) -> int:
    config = ServerConfig(url + "/v1")
    client = ServerClient(config, Pool(Route.of(config.base_url), keep))
    for _ in range(n):
        client.post(small[0], small[1], Tokens, root=True)
    opened = client.pool.opened
    client.pool.close()
    return opened


def _servers():
    """(name, root URL) of each real server, started in turn: llama-cpp-python's, and llama-server when built."""
    path = resolve_model("smollm2-135m-instruct").path
    with llama_server(path, "m", 512) as srv:
        yield "llama-cpp-python", srv.url.removesuffix("/v1")
    from workbench.engine import EngineConfig, EngineUnavailable, LlamaServer, find_binary

    try:
        find_binary()
    except EngineUnavailable:
        return
    with LlamaServer(EngineConfig(model="smollm2-135m-instruct", parallel=1, slot_window=512, port=0, threads=1)) as srv:
        yield "llama-server", srv.root_url


def connections(n: int, runs: int) -> dict:
    return {name: _connections(root, SMALL[name], n, runs) for name, root in _servers()}


def _connections(root: str, small: tuple[str, dict], n: int, runs: int) -> dict:
    times: dict[str, list[float]] = {"urllib": [], "new connection each": [], "pooled": []}
    opened = {}
    _client(root, small, 20, 8)  # warm up
    for _ in range(runs):
        for name in times:
            start = time.perf_counter()
            if name == "urllib":
                _urllib(root, small, n)
            else:
                opened[name] = _client(root, small, n, 0 if name == "new connection each" else 8)
            times[name].append(time.perf_counter() - start)
    out = {}
    for name, values in times.items():
        med = statistics.median(values)
        out[name] = {"median_s": round(med, 3), "ms_per_request": round(1000 * med / n, 3),
                     "requests_per_s": round(n / med, 1), "connections": opened.get(name, n)}
    base = out["urllib"]["median_s"]
    for name in out:
        out[name]["speedup_vs_urllib"] = round(base / out[name]["median_s"], 2)
    return out


def _prompts(items: int, demos: int) -> list[str]:
    rows = [json.loads(line) for line in SST2_DEV.read_text().splitlines()[:items]]
    demos = [json.loads(line) for line in SST2_TRAIN.read_text().splitlines()[:demos]]
    head = "".join(f"Review: {d['question']}\nSentiment: {d['answer']}\n\n" for d in demos)
    return [f"{head}Review: {r['question']}\nSentiment:" for r in rows]


def scoring(items: int, runs: int, demos: int) -> dict:
    prompts = _prompts(items, demos)
    gemma = resolve_model("gemma-3-270m").path
    out: dict = {"items": items, "demos": demos, "labels": LABELS, "runs": runs}
    with llama_server(gemma, "gemma", 1024) as srv:
        ways = {k: connect(ServerConfig(srv.url, "gemma", context_window=1024, scoring=k, timeout_s=600))
                for k in ("forced", "echo")}
        out["prompt_tokens_median"] = statistics.median(ways["forced"].count_tokens(p) for p in prompts)
        ways["forced"].score(prompts[0], LABELS)  # warm up
        scores, times = {}, {k: [] for k in ways}
        for _ in range(runs):
            for name, backend in ways.items():
                start = time.perf_counter()
                scores[name] = [backend.score(p, LABELS) for p in prompts]
                times[name].append(time.perf_counter() - start)
        diff = max(abs(a - b) for fa, ea in zip(scores["forced"], scores["echo"], strict=True)
                   for a, b in zip(fa, ea, strict=True))
        out["gemma-3-270m (BOS)"] = {
            name: {"median_s": round(statistics.median(t), 2), "s_per_item": round(statistics.median(t) / items, 3)}
            for name, t in times.items()}
        out["gemma-3-270m (BOS)"]["max_abs_score_difference"] = diff
        out["gemma-3-270m (BOS)"]["echo_mode"] = ways["echo"].scoring
        out["gemma-3-270m (BOS)"]["same_predictions"] = sum(
            max(range(3), key=f.__getitem__) == max(range(3), key=e.__getitem__)
            for f, e in zip(scores["forced"], scores["echo"], strict=True))
    smollm = resolve_model("smollm2-135m-instruct").path
    with llama_server(smollm, "m", 1024) as srv:
        echo = connect(ServerConfig(srv.url, "m", context_window=1024, scoring="echo", timeout_s=600))
        echo.score(prompts[0], LABELS)
        out["smollm2-135m-instruct (no BOS)"] = {"echo_mode": echo.scoring}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--items", type=int, default=3)
    parser.add_argument("--demos", type=int, default=0, help="SST-2 train demonstrations before each review")
    parser.add_argument("--scoring-runs", type=int, default=1)
    parser.add_argument("--skip-scoring", action="store_true")
    args = parser.parse_args()
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m": round(os.getloadavg()[0], 2)},
        "connections": connections(args.requests, args.runs),
    }
    print(json.dumps(result), flush=True)  # the first half, in case scoring is cut short
    if not args.skip_scoring and SST2_DEV.exists():
        result["label_scoring"] = scoring(args.items, args.scoring_runs, args.demos)
    result["machine"]["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
