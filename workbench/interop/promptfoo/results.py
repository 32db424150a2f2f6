"""A stored run as promptfoo's results file: what ``promptfoo eval -o results.json`` writes (promptfoo 0.119,
src/util/index.ts ``writeOutput``: ``{evalId, results, config, shareableUrl}``; ``results`` is
``Eval.toEvaluateSummary()`` version 3: ``{version, timestamp, prompts, results, stats}``), so tools that read
promptfoo's results read a workbench run.

Each strategy of the run is one of promptfoo's completed prompts (a prompt on a provider: ``PROMPT @ MODEL``
names split in two) with its metrics; each record one result (``EvalResult.toEvaluateResult()``): ``vars``,
``prompt {raw, label}`` (raw: the exact text sent), ``provider {id, label}``, ``response {output, tokenUsage,
cached}``, ``success``, ``score``, ``latencyMs``, ``gradingResult {pass, score, reason, namedScores,
componentResults [{pass, score, reason, assertion}]}``, ``testIdx`` (the item; a repeat is a test of its own, as
promptfoo numbers them), ``promptIdx``, ``failureReason`` (0 passed, 1 an assertion failed, 2 an error). The
item's verdict follows promptfoo's rule already (:func:`workbench.judging.verdicts.combine`); the reason of a
failed item is its last failed check's, as promptfoo's ``AssertionsResult`` keeps. An item judged by its answer
format alone has that comparison as its one component (type ``number``/``label``/...: the workbench's names).

    >>> from workbench.report import RunReport
    >>> rec = {"strategy": "Say {{w}} @ gemma-3-270m", "item_index": 0, "id": "t1", "input": "w=hi",
    ...        "prompt": "Say hi", "output": " hi", "correct": True, "score": 1.0, "seconds": 0.25, "gold": "",
    ...        "vars": {"w": "hi"}, "checks": [{"type": "contains", "passed": True, "score": 1.0,
    ...        "reason": "contains 'hi'", "value": "hi"}]}
    >>> meta = {"model": "gemma-3-270m", "strategies": [{"name": "Say {{w}} @ gemma-3-270m",
    ...         "model": "gemma-3-270m"}]}
    >>> doc = results_document(RunReport(7, "finished", meta, {}, (rec,)))
    >>> r = doc["results"]["results"][0]
    >>> r["prompt"], r["provider"], r["vars"], r["latencyMs"], r["gradingResult"]["reason"]
    ({'raw': 'Say hi', 'label': 'Say {{w}}'}, {'id': 'workbench:gemma-3-270m', 'label': 'gemma-3-270m'}, {'w': 'hi'}, 250, 'All assertions passed')
    >>> doc["results"]["stats"]["successes"], doc["evalId"]
    (1, 'workbench-run-7')
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.report import RunReport

#: The results format version promptfoo writes (``toEvaluateSummary``).
RESULTS_VERSION = 3
#: promptfoo's ResultFailureReason: passed (or unknown), an assertion failed, an error.
FAILURE_NONE, FAILURE_ASSERT, FAILURE_ERROR = 0, 1, 2
#: The reason promptfoo gives a test whose assertions all passed.
ALL_PASSED = "All assertions passed"


def _split(strategy: Mapping[str, Any], meta: Mapping[str, Any]) -> tuple[str, str, str]:
    """(prompt label, provider label, model reference) of one stored strategy."""
    from workbench.evaluate.variants import model_label

    name = str(strategy.get("name", ""))
    ref = strategy.get("model") if isinstance(strategy.get("model"), str) else meta.get("model")
    ref = ref if isinstance(ref, str) else ""
    if strategy.get("model") and " @ " in name:
        prompt, _, provider = name.rpartition(" @ ")
        return prompt, provider, ref
    return name, model_label(ref) if ref else "model", ref


def provider_id(ref: str, label: str = "", as_chat: bool | None = None) -> str:
    """promptfoo's provider id for a model reference: ``workbench:REF`` (what the promptfoo import reads as that
    model); for a server's model the id the config named (a provider's label is its id unless it set one), else
    ``openai:chat:NAME`` for a chat run and ``openai:completion:NAME`` otherwise.

    >>> provider_id("gemma-3-270m"), provider_id("http://127.0.0.1:8080/v1#phi")
    ('workbench:gemma-3-270m', 'openai:completion:phi')
    >>> provider_id("http://h:11434/v1#phi", "ollama:chat:phi"), provider_id("http://h/v1#phi", "mine", True)
    ('ollama:chat:phi', 'openai:chat:phi')
    """
    from workbench.interop.promptfoo.providers import endpoint_chat

    if "://" in ref:
        name = ref.partition("#")[2].split("#", 1)[0]
        if endpoint_chat(label) is not None and (label == "llama" or label.endswith(":" + name)):
            return label
        return ("openai:chat:" if as_chat else "openai:completion:") + name
    return f"workbench:{ref}"


def _raw_prompt(strategy: Mapping[str, Any]) -> str:
    """The prompt's template as promptfoo shows it: the exported Nunjucks text, else the query template."""
    from workbench.errors import WorkbenchError
    from workbench.interop.promptfoo.export import prompt_text
    from workbench.prompts.spec import PromptSpec

    spec = strategy.get("spec")
    if not isinstance(spec, Mapping):
        return str(strategy.get("name", ""))
    try:
        from workbench.data import Example

        demos = [Example.from_dict(d) for d in strategy.get("demos") or () if isinstance(d, Mapping)]
        return prompt_text(PromptSpec.from_dict(dict(spec)), demos)
    except (WorkbenchError, KeyError, TypeError, ValueError):
        return str(spec.get("query_template", ""))


def _assertion(verdict: Mapping[str, Any]) -> dict[str, Any]:
    """The assertion a stored verdict judged, as promptfoo writes it (type, value, weight, metric)."""
    out: dict[str, Any] = {"type": verdict.get("type")}
    if verdict.get("value") is not None:
        out["value"] = verdict["value"]
    if verdict.get("weight", 1.0) != 1.0:
        out["weight"] = verdict["weight"]
    if verdict.get("metric"):
        out["metric"] = verdict["metric"]
    return out


def grading_result(record: Mapping[str, Any], threshold: float | None) -> tuple[dict[str, Any], int]:
    """promptfoo's ``gradingResult`` of one record and its failure reason code."""
    from workbench.judging.formats import FORMAT_JUDGES

    passed = bool(record.get("correct"))
    verdicts = [v for v in record.get("checks") or () if isinstance(v, Mapping)]
    if not verdicts:  # judged by its answer format: that comparison is the one component
        gold = record.get("gold")
        kind = FORMAT_JUDGES.get(str(record.get("format")), "exact")
        answer = record.get("extracted")
        reason = f"{'no answer found' if answer is None else f'answer {answer!r}'} " \
                 f"{'matches' if passed else 'does not match'} {gold!r}"
        component = {"pass": passed, "score": 1.0 if passed else 0.0, "reason": reason,
                     "assertion": {"type": kind, "value": gold}}
        return {"pass": passed, "score": component["score"], "reason": reason, "namedScores": {},
                "componentResults": [component]}, FAILURE_NONE if passed else FAILURE_ASSERT
    components, named = [], {}
    for v in verdicts:
        why = f"error: {v['error']}" if v.get("error") else str(v.get("reason", ""))
        components.append({"pass": bool(v.get("passed")), "score": float(v.get("score", 0.0)), "reason": why,
                           "assertion": _assertion(v)})
        if v.get("metric"):
            named[v["metric"]] = named.get(v["metric"], 0.0) + float(v.get("score", 0.0))  # promptfoo sums them
    score = record.get("score")
    score = float(score) if isinstance(score, int | float) else (1.0 if passed else 0.0)
    failed = [c["reason"] for c in components if not c["pass"]]
    reason = failed[-1] if failed else ALL_PASSED  # promptfoo keeps the last failed check's reason
    if threshold:
        reason = f"Aggregate score {score:.2f} {'≥' if passed else '<'} {threshold:g} threshold"
    errored = any(v.get("error") for v in verdicts)
    code = FAILURE_NONE if passed else FAILURE_ERROR if errored else FAILURE_ASSERT
    return {"pass": passed, "score": score, "reason": reason, "namedScores": named,
            "componentResults": components}, code


def _timestamp(value: str | None) -> str | None:
    """An ISO time as JavaScript's ``toISOString`` writes it (UTC, milliseconds, ``Z``)."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return value
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _empty_metrics() -> dict[str, Any]:
    return {"score": 0.0, "testPassCount": 0, "testFailCount": 0, "testErrorCount": 0, "assertPassCount": 0,
            "assertFailCount": 0, "totalLatencyMs": 0,
            "tokenUsage": {"total": 0, "prompt": 0, "completion": 0, "cached": 0, "numRequests": 0},
            "namedScores": {}, "namedScoresCount": {}, "cost": 0}


def results_document(report: RunReport) -> dict[str, Any]:
    """The run as promptfoo's results file (a JSON-able dict)."""
    meta = report.meta
    stored = [s for s in meta.get("strategies") or () if isinstance(s, Mapping)]
    by_name = {str(s.get("name")): s for s in stored}
    names = list(dict.fromkeys([*by_name, *(str(r.get("strategy")) for r in report.records)]))
    eval_id = f"workbench-run-{report.run_id}" if report.run_id is not None else "workbench-run"
    prompts, columns = [], {}
    for idx, name in enumerate(names):
        s = by_name.get(name, {"name": name})
        label, provider_label, ref = _split(s, meta)
        spec = s.get("spec") if isinstance(s.get("spec"), Mapping) else {}
        pid = provider_id(ref, provider_label, spec.get("as_chat")) if ref else "workbench:model"
        prompts.append({"raw": _raw_prompt(s), "label": label, "id": hashlib.sha256(label.encode()).hexdigest(),
                        "provider": provider_label, "metrics": _empty_metrics()})
        threshold = s.get("threshold") if isinstance(s.get("threshold"), int | float) else None
        columns[name] = (idx, label, {"id": pid, "label": provider_label}, threshold)
    results = []
    for r in report.records:
        idx, label, provider, threshold = columns[str(r.get("strategy"))]
        grading, code = grading_result(r, threshold)
        metrics = prompts[idx]["metrics"]
        tokens = r.get("tokens") if isinstance(r.get("tokens"), Mapping) else {}
        usage = {"total": int(tokens.get("prompt", 0)) + int(tokens.get("completion", 0)),
                 "prompt": int(tokens.get("prompt", 0)), "completion": int(tokens.get("completion", 0))}
        latency = round(float(r.get("seconds") or 0.0) * 1000)
        vars_ = dict(r["vars"]) if isinstance(r.get("vars"), Mapping) else {"input": r.get("input", "")}
        test_idx = int(r.get("item_index", 0))
        result: dict[str, Any] = {
            "cost": 0, "gradingResult": grading,
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{eval_id}/{idx}/{test_idx}")),
            "latencyMs": latency, "namedScores": grading["namedScores"],
            "prompt": {"raw": r.get("prompt", ""), "label": label}, "promptId": prompts[idx]["id"],
            "promptIdx": idx, "provider": provider,
            "response": {"output": r.get("output", ""), "tokenUsage": usage, "cached": bool(r.get("cached"))},
            "score": grading["score"], "success": grading["pass"],
            "testCase": {"vars": vars_, "assert": [c["assertion"] for c in grading["componentResults"]],
                         **({"threshold": threshold} if threshold else {})},
            "testIdx": test_idx, "vars": vars_, "metadata": {}, "failureReason": code}
        if not grading["pass"]:
            result["error"] = grading["reason"]  # promptfoo: a failed assertion's reason is the result's error
        results.append(result)
        _count(metrics, result, usage)
    results.sort(key=lambda x: (x["testIdx"], x["promptIdx"]))
    stats = {"successes": sum(p["metrics"]["testPassCount"] for p in prompts),
             "failures": sum(p["metrics"]["testFailCount"] for p in prompts),
             "errors": sum(p["metrics"]["testErrorCount"] for p in prompts),
             "tokenUsage": {k: sum(p["metrics"]["tokenUsage"][k] for p in prompts)
                            for k in ("total", "prompt", "completion", "cached", "numRequests")}}
    dataset = meta.get("dataset") if isinstance(meta.get("dataset"), Mapping) else {}
    config = {"description": f"workbench run {report.run_id if report.run_id is not None else ''} on "
                             f"{dataset.get('name', '?')}".replace("  ", " "),
              "prompts": [{"raw": p["raw"], "label": p["label"]} for p in prompts],
              "providers": list({json.dumps(c[2], sort_keys=True): c[2] for c in columns.values()}.values())}
    return {"evalId": eval_id,
            "results": {"version": RESULTS_VERSION, "timestamp": _timestamp(report.created_at), "prompts": prompts,
                        "results": results, "stats": stats},
            "config": config, "shareableUrl": None}


def _count(metrics: dict[str, Any], result: Mapping[str, Any], usage: Mapping[str, int]) -> None:
    """Add one result to its prompt's metrics, as promptfoo's evaluator does."""
    metrics["score"] += result["score"]
    for key, value in result["namedScores"].items():
        metrics["namedScores"][key] = metrics["namedScores"].get(key, 0.0) + value
        count = sum(1 for c in result["gradingResult"]["componentResults"] if c["assertion"].get("metric") == key)
        metrics["namedScoresCount"][key] = metrics["namedScoresCount"].get(key, 0) + (count or 1)
    if result["success"]:
        metrics["testPassCount"] += 1
    elif result["failureReason"] == FAILURE_ERROR:
        metrics["testErrorCount"] += 1
    else:
        metrics["testFailCount"] += 1
    components: Sequence[Mapping[str, Any]] = result["gradingResult"]["componentResults"]
    metrics["assertPassCount"] += sum(1 for c in components if c["pass"])
    metrics["assertFailCount"] += sum(1 for c in components if not c["pass"])
    metrics["totalLatencyMs"] += result["latencyMs"]
    for key in ("total", "prompt", "completion"):
        metrics["tokenUsage"][key] += usage[key]
    metrics["tokenUsage"]["numRequests"] += 0 if result["response"]["cached"] else 1


def results_json(report: RunReport) -> str:
    """The results file's text: JSON with two-space indents, as promptfoo writes it (every string escaped by
    the JSON encoder: an output or a var is data, never markup)."""
    return json.dumps(results_document(report), ensure_ascii=False, indent=2) + "\n"
