"""A classroom against one server: N browser sessions click Generate at the same instant.

One Streamlit server (the default model, loaded once) and one headless Chromium
with N contexts, each its own Streamlit session with its own prompt. All sessions
click at the same wall-clock moment; each page times, in the browser, the queue
message, the first streamed text and the summary line. Checks: no error in any
session, every session gets the greedy answer to ITS prompt, queued sessions see
their place, and the server's memory stays bounded. Baseline: the raw library call
(``Backend.complete``) for the same prompts in this process, one after another.

    .venv/bin/python -m bench.classroom [--sessions 30] [--max-new-tokens 16]
    .venv/bin/python -m bench.classroom --engine llama-server --parallel 8   # as `make classroom` serves it
    WORKBENCH_SHARED_BATCH=8 .venv/bin/python -m bench.classroom             # in-process, sessions decoded together

``--engine llama-server``: the app is served as ``make classroom`` serves it, pinned to llama.cpp's own
``llama-server`` (the workbench's managed engine, ``--parallel`` slots decoded together); every session's
generation goes through the OpenAI-compatible backend to it. The expected answers are then the engine's own
one-at-a-time greedy answers: batched greedy text may differ from them (floating-point sums change with the
batch), so differing answers are counted, not failed. CPU seconds are reported per part: the app server, the
engine, and the rest of the machine (the 30 browser tabs, plus whatever else runs there).

Prints JSON. Loopback only; stops by itself (every wait has a timeout).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.harness import (
    GENERATION_TIMEOUT_MS,
    Server,
    arm_generation,
    chromium_available,
    generation_result,
    launch_browser,
    memory_kib,
    new_page,
    normalise,
    open_page,
    script_runs,
    serve,
    set_number,
    set_text_area,
    toggle,
    wait_ready,
    wait_rerun,
)
from workbench.backends import DEFAULT_MODEL, load_backend
from workbench.backends.openai.config import ServerConfig
from workbench.backends.openai.connect import connect
from workbench.cli.serve import app_env
from workbench.decoding import DecodingConfig
from workbench.engine import EngineConfig, LlamaServer

SESSIONS = 30  # a class
MAX_NEW_TOKENS = 16  # a short answer each; 30 of them queue on one model
#: The home page's chat switch: shown when the backend reports a chat template. A server publishes the GGUF's
#: template even for the base model, so the bench turns it off: every session sends its raw prompt.
CHAT_TOGGLE = "Send as one user turn through the model's chat template"
ARM_MS_PER_SESSION = 150  # time to arm one page before the common click instant
WAIT_S_PER_SESSION = 10  # on top of one generation's timeout: the class's answers arrive one after another


def prompt_for(i: int) -> str:
    """A different counting prompt per session, so a swapped answer is caught."""
    return f"Count: {3 * i + 1}, {3 * i + 2}, {3 * i + 3},"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def mem_available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores; /proc/stat minus idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def greedy_answers(n: int, max_new_tokens: int, runs: int = 3, ref: str | None = None) -> tuple[list[str], dict]:
    """Expected answers and the raw library call's timing for the same prompts (median of ``runs``).

    ``ref``: through that server, one request at a time (each decoded alone), instead of in-process llama.cpp.
    """
    backend = load_backend(DEFAULT_MODEL, "llama.cpp") if ref is None else _one_at_a_time(ref)
    cfg = DecodingConfig(max_new_tokens=max_new_tokens)
    answers = [backend.complete(prompt_for(i), cfg).text for i in range(n)]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for i in range(n):
            backend.complete(prompt_for(i), cfg)
        times.append(time.perf_counter() - start)
    if ref is None:
        backend.close()
    per_call = statistics.median(times) / n
    return answers, {"raw_call_median_s": round(per_call, 4), "raw_serial_all_sessions_s": round(per_call * n, 3)}


def _raw_prompt(page) -> None:
    if page.get_by_label(CHAT_TOGGLE, exact=True).count():
        toggle(page, CHAT_TOGGLE, False)


def _one_at_a_time(ref: str):
    url, _, model = ref.partition("#")
    return connect(ServerConfig(url, model, max_concurrency=1))


def run_classroom(browser, server: Server, sessions: int = SESSIONS, max_new_tokens: int = MAX_NEW_TOKENS,
                  expected: list[str] | None = None, engine_pid: int | None = None) -> dict:
    """Drive ``sessions`` simultaneous generations; returns per-session results and the summary figures."""
    warm = new_page(browser)  # load the model once and note the server's memory with it loaded
    open_page(warm, server.url)
    _raw_prompt(warm)
    set_text_area(warm, "Prompt", prompt_for(0))
    set_number(warm, "max_new_tokens", max_new_tokens)
    arm_generation(warm, time.time() * 1000)
    generation_result(warm)
    warm.context.close()
    rss_warm = memory_kib(server.pid)
    mem_before = mem_available_mib()
    cpu_before = _cpu(server.pid, engine_pid)

    start = time.perf_counter()
    # Each student a browser of their own (own cookies): a classroom server gives each browser its own workspace
    # and fair share of the queue, so tabs of one browser would be one student refused a third generation.
    pages = [new_page(browser) for _ in range(sessions)]
    for pg in pages:
        pg.goto(server.url, wait_until="commit")
    for pg in pages:
        wait_ready(pg)
    for pg in pages:
        _raw_prompt(pg)
    # Every student types at once: act on all pages, then wait for all the reruns.
    for fill in (lambda i, pg: set_text_area(pg, "Prompt", prompt_for(i), wait=False),
                 lambda i, pg: set_number(pg, "max_new_tokens", max_new_tokens, wait=False)):
        before = [script_runs(pg) for pg in pages]
        for i, pg in enumerate(pages):
            fill(i, pg)
        for pg, runs in zip(pages, before, strict=True):
            wait_rerun(pg, runs)
    opened_s = time.perf_counter() - start
    browser_mib = mem_before - mem_available_mib()

    at = time.time() * 1000 + max(2000, ARM_MS_PER_SESSION * sessions)
    for pg in pages:
        arm_generation(pg, at)
    # One deadline for the whole class; a session still waiting then is reported as timed out.
    deadline = time.monotonic() + (at / 1000 - time.time()) + GENERATION_TIMEOUT_MS / 1000 + WAIT_S_PER_SESSION * sessions
    results = [generation_result(pg, timeout_ms=max(1000, 1000 * (deadline - time.monotonic())), strict=False)
               for pg in pages]
    wall_s = time.perf_counter() - start - opened_s
    cpu = {k: round(v - cpu_before[k], 1) for k, v in _cpu(server.pid, engine_pid).items()}
    cpu["rest_of_machine_browsers_and_other_load"] = round(cpu.pop("machine") - cpu["app_server"] - cpu.get("engine", 0), 1)
    for pg in pages:
        pg.context.close()

    for i, r in enumerate(results):
        r["session"] = i
        r["expected"] = expected[i] if expected else None
        r["correct"] = expected is None or normalise(r["text"] or "") == normalise(expected[i])
    firsts = [r["first"] / 1000 for r in results if r["first"] is not None]
    dones = [r["done"] / 1000 for r in results if r["done"] is not None]
    queued = [r["queue"] for r in results if r["queue"] is not None]
    summary = {
        "sessions": sessions,
        "max_new_tokens": max_new_tokens,
        "completed": len(dones),
        "errors": sum(bool(r["problems"]) for r in results),
        "timed_out": sum(r["timed_out"] for r in results),
        "wrong_answers": sum(not r["correct"] for r in results),
        "saw_queue_position": len(queued),
        "max_queue_position": max(queued, default=0),
        "time_to_first_token_s": _stats(firsts),
        "time_to_completion_s": _stats(dones),
        "all_answered_s": round(wall_s, 2),
        "pages_opened_s": round(opened_s, 2),
        "server_rss_mib": {"after_warmup": round(rss_warm / 1024, 1),
                           "after_class": round(memory_kib(server.pid) / 1024, 1),
                           "peak": round(memory_kib(server.pid, "VmHWM") / 1024, 1)},
        "browser_mib_for_sessions": round(browser_mib, 1),
        "cpu_seconds_from_page_open_to_all_answered": cpu,
    }
    if engine_pid is not None:
        summary["engine_rss_mib"] = {"after_class": round(memory_kib(engine_pid) / 1024, 1),
                                     "peak": round(memory_kib(engine_pid, "VmHWM") / 1024, 1)}
    return {"summary": summary, "results": results}


def _cpu(server_pid: int, engine_pid: int | None) -> dict:
    out = {"machine": machine_cpu_seconds(), "app_server": cpu_seconds(server_pid)}
    if engine_pid is not None:
        out["engine"] = cpu_seconds(engine_pid)
    return out


def _stats(values: list[float]) -> dict:
    if not values:
        return {}
    return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3),
            "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS)
    parser.add_argument("--details", action="store_true", help="also print every session's result")
    parser.add_argument("--engine", choices=("in-process", "llama-server"), default="in-process",
                        help="where the sessions' generations run (llama-server: as `make classroom` serves it)")
    parser.add_argument("--parallel", type=int, default=8, help="llama-server's slots (default %(default)s)")
    parser.add_argument("--slot-window", type=int, default=1024, help="llama-server's tokens per slot")
    args = parser.parse_args()
    if not chromium_available():
        sys.exit("Chromium not found at /usr/bin/chromium; install it with `apt-get install chromium`.")
    from playwright.sync_api import sync_playwright

    engine = None
    if args.engine == "llama-server":
        threads = int(os.environ.get("WORKBENCH_THREADS") or 1)
        engine = LlamaServer(EngineConfig(model=DEFAULT_MODEL, parallel=args.parallel, slot_window=args.slot_window,
                                          port=0, threads=threads)).start()
    try:
        expected, baseline = greedy_answers(args.sessions, args.max_new_tokens, ref=engine and engine.ref)
        in_process = greedy_answers(args.sessions, args.max_new_tokens, runs=1)[0] if engine else expected
        env = app_env(engine.ref, {}) if engine else None
        with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp), env=env) as server, sync_playwright() as pw:
            browser = launch_browser(pw)
            rss_idle = memory_kib(server.pid)
            out = run_classroom(browser, server, args.sessions, args.max_new_tokens, expected,
                                engine.pid if engine else None)
            browser.close()
    finally:
        if engine is not None:
            engine.stop()
    out["summary"]["server_rss_mib"]["before_model"] = round(rss_idle / 1024, 1)
    engine_text = (f"llama-server --parallel {args.parallel} ({args.slot_window} tokens per slot), "
                   "through the OpenAI-compatible backend") if engine else "in-process llama.cpp, one model lock"
    report = {"machine": {"python": platform.python_version(), "cpus": _cpus(),
                          "load_average_1min_at_end": round(os.getloadavg()[0], 2)},
              "engine": engine_text,
              ("baseline_engine_one_at_a_time" if engine else "baseline_raw_library"): baseline, **out["summary"]}
    if engine:
        report["expected_answers_equal_in_process"] = sum(
            normalise(a) == normalise(b) for a, b in zip(expected, in_process, strict=True))
    if args.details:
        report["results"] = out["results"]
    if not engine and os.environ.get("WORKBENCH_SHARED_BATCH"):  # in-process continuous batching
        report["engine"] = f"in-process llama.cpp, shared batch of {os.environ['WORKBENCH_SHARED_BATCH']}"
    print(json.dumps(report, indent=2))
    batched = engine or os.environ.get("WORKBENCH_SHARED_BATCH", "0").strip() not in ("", "0")
    wrong = report["wrong_answers"] and not batched  # batched text may differ from one-at-a-time: counted only
    if report["errors"] or report["timed_out"] or wrong or report["completed"] != args.sessions:
        sys.exit(1)


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
