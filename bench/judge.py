"""What judging costs (issue 26): the deterministic checks' share of an evaluation's time, and a judge model's cost.

* **Model time** of :func:`workbench.evaluate.runner.evaluate` on the shipped generative sample (``city_dates``:
  30 sentences -> JSON, the ``city_dates_json`` starter spec, 3 fixed demonstrations, greedy) with the default
  model, response cache off: per item, the median of ``--runs`` passes *without* assertions (the free format's
  own comparison) and *with* the deterministic set, interleaved. The pool has 30 items, so a 200-item run's model
  time is 200 x the per-item median (said in the output); the with/without difference of the same run is
  reported too (noise-level at 30 items).
* **Checks time over 200 items**: the deterministic set -- ``contains`` (the item's city), ``regex``, ``is-json``
  with a JSON Schema, ``levenshtein``, ``rouge-n``, ``bleu`` -- run through
  :meth:`~workbench.judging.verdicts.Judging.verdict` on 200 cases (the real outputs of the run, cycled), against
  the free format's comparison alone on the same cases; interleaved, medians of ``--check-runs``. The ratio
  ``checks / model`` for 200 items is the figure the issue bounds (<= 2%). ``similar`` is timed apart: it embeds
  every output with MiniLM (its load is reported separately).
* **The judge's cost**: ``llm-rubric`` with the local instruct model as judge (uncached) on ``--judged`` outputs:
  seconds and tokens (prompt + completion, counted at the judge) per judged item, and how many replies could be
  read.

Prints JSON with the load average at start and end: the machine is shared, so absolute figures move with it.

    .venv/bin/python bench/judge.py [--runs 4] [--check-runs 7] [--judged 5] [--model gemma-3-270m]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time

from workbench.backends import DEFAULT_MODEL, load_backend
from workbench.data import Pool, load_sample
from workbench.decoding import DecodingConfig
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import Strategy
from workbench.judging.base import Case
from workbench.judging.registry import build_checks
from workbench.judging.tools import DEFAULT_JUDGE as JUDGE_MODEL
from workbench.judging.tools import JudgeTools
from workbench.judging.verdicts import Judging
from workbench.prompts import starter_specs
from workbench.store import open_store

#: Items of the extrapolated run the issue's bound is stated for.
RUN_ITEMS = 200
#: The JSON Schema of the sample's rows: city and date, both strings.
SCHEMA = {"type": "object", "required": ["city", "date"],
          "properties": {"city": {"type": "string"}, "date": {"type": "string"}}}
#: The deterministic checks every item gets (the item's own ``contains`` city is added per item).
DETERMINISTIC = [{"type": "regex", "value": r'"date":\s*"[^"]+"'}, {"type": "is-json", "value": SCHEMA},
                 {"type": "levenshtein", "threshold": 10}, {"type": "rouge-n", "threshold": 0.75},
                 {"type": "bleu", "threshold": 0.5}]
RUBRIC = {"type": "llm-rubric", "value": 'The output is one JSON object with a "city" key naming a city and a '
                                         '"date" key naming a calendar date.'}


def progress(**fields) -> None:
    print(json.dumps(fields), file=sys.stderr, flush=True)


def dataset() -> Pool:
    """The shipped sample, each item carrying only its own ``contains`` city (so both runs differ by the set)."""
    pool = load_sample("city_dates")
    items = tuple(dataclasses.replace(ex, checks=None) for ex in pool)
    return Pool(pool.name, items)


def with_city(pool: Pool) -> Pool:
    return Pool(pool.name, tuple(dataclasses.replace(ex, checks=({"type": "contains",
                                                                  "value": json.loads(ex.answer)["city"]},))
                                 for ex in pool))


def model_runs(backend, runs: int) -> dict:
    """evaluate() without and with the deterministic checks, interleaved, response cache off."""
    starter = starter_specs()["city_dates_json"]
    plain = Strategy(name="plain", spec=starter.spec, selector="fixed", k=len(starter.demos), demos=starter.demos,
                     decoding=DecodingConfig(max_new_tokens=40))
    checked = dataclasses.replace(plain, name="checked", checks=build_checks(DETERMINISTIC))
    bare, cities = dataset(), with_city(dataset())
    seconds: dict[str, list[float]] = {"plain": [], "checked": []}
    last = {}
    for r in range(runs):  # interleaved, in alternating order (ABBA): drift hits both alike
        pair = ((plain, bare), (checked, cities))
        for strategy, data in pair if r % 2 == 0 else pair[::-1]:
            start = time.perf_counter()
            with open_store(":memory:") as store:
                run = evaluate(data, None, [strategy], backend, store, cache=False)
            seconds[strategy.name].append(time.perf_counter() - start)
            last[strategy.name] = run
            progress(step="model run", strategy=strategy.name, run=r, seconds=round(seconds[strategy.name][-1], 2))
    n = len(bare)
    per_item = {k: statistics.median(v) / n for k, v in seconds.items()}
    records = last["checked"].records
    return {
        "items": n, "runs": runs,
        "per_item_s": {k: round(v, 4) for k, v in per_item.items()},
        "runs_s": {k: [round(t, 2) for t in v] for k, v in seconds.items()},
        "same_outputs": [r["output"] for r in last["plain"].records] == [r["output"] for r in records],
        "with_checks_vs_without": round(per_item["checked"] / per_item["plain"], 4),
        "passed": {"plain (exact gold)": sum(bool(r["correct"]) for r in last["plain"].records),
                   "checked (all 6 pass)": sum(bool(r["correct"]) for r in records)},
        "_outputs": [(r["output"], r["id"]) for r in records],
    }


def cases(outputs: list[tuple[str, str]], pool: Pool, count: int) -> list[Case]:
    """``count`` cases of the real outputs, cycled, each with its own item (gold answer and city)."""
    items = {ex.id: ex for ex in pool}
    return [Case(output=outputs[i % len(outputs)][0].strip(), item=items[outputs[i % len(outputs)][1]],
                 fmt="free") for i in range(count)]


def verdict_seconds(judging: Judging, batch: list[Case], extract: bool) -> float:
    """Seconds to judge every case once (``extract``: the free format's answer read first, as a run does)."""
    from workbench.answers import extract as read_answer

    start = time.perf_counter()
    for case in batch:
        if extract:
            case = dataclasses.replace(case, extracted=read_answer(case.output, "free").answer)
        judging.verdict(case)
    return time.perf_counter() - start


def checks_time(outputs, runs: int) -> dict:
    """The deterministic set vs the format's comparison alone on 200 cases; ``similar`` apart."""
    pool = with_city(dataset())
    batch = cases(outputs, pool, RUN_ITEMS)
    fmt_only = Judging(build_checks([{"type": "exact"}]), [], None)
    full = Judging(build_checks(DETERMINISTIC), pool, None)
    each = {c["type"]: Judging(build_checks([c]), [], None) for c in DETERMINISTIC}
    timings: dict[str, list[float]] = {"format only": [], "deterministic set": [], **{k: [] for k in each}}
    for _ in range(runs):  # interleaved
        timings["format only"].append(verdict_seconds(fmt_only, batch, True))
        timings["deterministic set"].append(verdict_seconds(full, batch, True))
        for name, judging in each.items():
            timings[name].append(verdict_seconds(judging, batch, False))
    tools = JudgeTools()
    start = time.perf_counter()
    tools.embedder()
    load = time.perf_counter() - start
    similar = Judging(build_checks([{"type": "similar", "threshold": 0.9}]), [], None, tools)
    verdict_seconds(similar, batch[:5], False)  # first encodes warm the model
    sim = [verdict_seconds(similar, batch, False) for _ in range(max(1, runs // 3))]
    verdicts = [full.verdict(c) for c in batch[: len(outputs)]]
    return {
        "cases": RUN_ITEMS, "runs": runs,
        "median_s": {k: round(statistics.median(v), 5) for k, v in timings.items()},
        "checks_per_item": len(DETERMINISTIC) + 1,
        "passed_per_check": {v.type: sum(vs[2][i].passed for vs in verdicts)
                             for i, v in enumerate(verdicts[0][2])},
        "similar": {"embedder_load_s": round(load, 2), "median_s": round(statistics.median(sim), 4),
                    "runs": len(sim)},
    }


class CountingJudge:
    """The judge backend, counting the tokens of every generation it makes (prompt + completion)."""

    def __init__(self, inner):
        self.inner = inner
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def _count(self, gens) -> None:
        for g in gens:
            self.prompt_tokens += g.prompt_tokens
            self.completion_tokens += g.completion_tokens
            self.calls += 1

    def generate(self, prompts, cfg, *args, **kwargs):
        rows = self.inner.generate(prompts, cfg, *args, **kwargs)
        self._count(g for row in rows for g in row)
        return rows

    def complete(self, prompt, cfg=None, *args, **kwargs):
        gen = self.inner.complete(prompt, cfg, *args, **kwargs) if cfg is not None else self.inner.complete(prompt)
        self._count([gen])
        return gen


def judge_cost(outputs, count: int) -> dict:
    """llm-rubric on ``count`` real outputs with the local instruct model as judge (no response cache)."""
    pool = with_city(dataset())
    judge = CountingJudge(load_backend(JUDGE_MODEL))
    judging = Judging(build_checks([RUBRIC]), [], None, JudgeTools(judge=judge))
    seconds, verdicts = [], []
    for case in cases(outputs, pool, count):
        start = time.perf_counter()
        _, _, (v,) = judging.verdict(case)
        seconds.append(time.perf_counter() - start)
        verdicts.append({"output": case.output, "passed": v.passed, "score": v.score, "error": v.error,
                         "reply": (v.reply or "")[:200]})
        progress(step="judged", seconds=round(seconds[-1], 2), passed=v.passed, error=v.error)
    n = max(1, len(seconds))
    return {"judge": JUDGE_MODEL, "items": len(seconds), "median_s_per_item": round(statistics.median(seconds), 3),
            "mean_s_per_item": round(sum(seconds) / n, 3), "judge_calls": judge.calls,
            "prompt_tokens_per_item": round(judge.prompt_tokens / n, 1),
            "completion_tokens_per_item": round(judge.completion_tokens / n, 1),
            "unreadable_replies": sum(v["error"] is not None for v in verdicts), "verdicts": verdicts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="evaluate() passes per strategy (interleaved)")
    parser.add_argument("--check-runs", type=int, default=7, help="passes of the checks over 200 cases")
    parser.add_argument("--judged", type=int, default=5, help="outputs graded by llm-rubric (0: skip)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the model of the evaluated run")
    args = parser.parse_args()
    if min(args.runs, args.check_runs) < 1 or args.judged < 0:
        parser.error("--runs and --check-runs must be at least 1, --judged at least 0")
    t0 = time.perf_counter()
    backend = load_backend(args.model)
    out: dict = {"model": args.model, "backend": backend.name, "dataset": "city_dates (shipped sample, 30 items)",
                 "threads": getattr(getattr(backend, "llm", None), "n_threads", None), "cpu_count": os.cpu_count(),
                 "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    model = model_runs(backend, args.runs)
    outputs = model.pop("_outputs")
    out["model_run"] = model
    out["checks"] = checks_time(outputs, args.check_runs)
    model_200 = model["per_item_s"]["plain"] * RUN_ITEMS
    det = out["checks"]["median_s"]["deterministic set"]
    base = out["checks"]["median_s"]["format only"]
    out["overhead_200_items"] = {
        "how": f"model time = {RUN_ITEMS} x the median per-item time of evaluate() on {model['items']} items; "
               f"checks time measured on {RUN_ITEMS} cases of the run's real outputs",
        "model_s": round(model_200, 2), "checks_s": round(det, 4), "format_check_only_s": round(base, 4),
        "checks_percent_of_model": round(100 * det / model_200, 4),
        "added_over_format_check_percent": round(100 * (det - base) / model_200, 4),
        "within_2_percent": det / model_200 <= 0.02,
        "similar_s": out["checks"]["similar"]["median_s"],
        "similar_percent_of_model": round(100 * out["checks"]["similar"]["median_s"] / model_200, 3),
    }
    if args.judged:
        out["judge"] = judge_cost(outputs, args.judged)
    out["total_seconds"] = round(time.perf_counter() - t0, 1)
    out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]  # other processes slow the timings
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
