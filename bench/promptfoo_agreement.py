"""Agreement with promptfoo itself (issue 27): one promptfoo config run by promptfoo and by ``workbench eval --config``.

The config: 2 ``{{ var }}`` prompts x 6 tests with deterministic assertions (``icontains``, ``contains``, ``regex``,
``not-contains``, ``icontains-any``, ``equals``, a ``defaultTest`` regex; one test with two assertions, so its
score can be 0.5), provider ``openai:completion:gemma-3-270m`` with ``config.apiBaseUrl`` at ``workbench serve``'s
llama-server (started here on a free loopback port), greedy: ``temperature: 0``, ``max_tokens`` small, ``stop``.

* **promptfoo**: ``promptfoo eval -c CONFIG -o out.json --no-cache`` (npm ``promptfoo@0.119.0``; the install is
  found by :func:`find_promptfoo`);
* **workbench, same server**: ``workbench eval --config CONFIG --output run.jsonl --no-cache`` (a fresh store);
* **workbench, in-process**: the same config with provider ``workbench:gemma-3-270m`` (llama.cpp in this process).

Per test (prompt x vars) it compares the prompt sent, the output text, pass/fail and the score, and names the
likely reason of each difference (prompt rendering, a stop or length cut, the tokens chosen, the assertion's
rule). Each side runs ``--runs`` times, interleaved; the wall times are whole processes (Node's or Python's start
included), medians. Prints JSON, with the load average at start and end (the machine is shared). Without Node,
promptfoo or llama-server it prints ``{"skipped": ...}``.

    .venv/bin/python -m bench.promptfoo_agreement [--promptfoo /work/promptfoo] [--runs 3] [--parallel 8]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

#: Where this project's notes install promptfoo (``npm i promptfoo@0.119.0`` in that folder); looked at last.
KNOWN_INSTALL = Path("/work/promptfoo")
#: The model served and run in-process.
MODEL = "gemma-3-270m"
#: Greedy decoding as promptfoo's OpenAI provider reads it (its own key names).
DECODING = {"temperature": 0, "max_tokens": 12, "stop": ["\n"]}
#: Two prompts, Nunjucks / Jinja ``{{ var }}`` templates (promptfoo renders them with Nunjucks, we in the sandbox).
PROMPTS = ("Q: What is the capital of {{country}}?\nA:",
           "Country: Spain\nCapital: Madrid\n\nCountry: {{ country }}\nCapital:")
#: Six tests, each with its own assertions; together they use every deterministic kind named in the module doc.
TESTS = (
    {"vars": {"country": "France"}, "assert": [{"type": "icontains", "value": "paris"}]},
    {"vars": {"country": "Japan"}, "assert": [{"type": "contains", "value": "Tokyo"}]},
    {"vars": {"country": "Italy"}, "assert": [{"type": "regex", "value": "\\b(Rome|Roma)\\b"}]},
    {"vars": {"country": "Germany"}, "assert": [{"type": "not-contains", "value": "Munich"},
                                                {"type": "contains", "value": "Berlin"}]},
    {"vars": {"country": "Egypt"}, "assert": [{"type": "icontains-any", "value": ["cairo", "alexandria"]}]},
    {"vars": {"country": "Australia"}, "assert": [{"type": "equals", "value": " Canberra"}]},
)
#: Applied to every test as promptfoo does (``defaultTest.assert`` joins each test's own).
DEFAULT_TEST = {"assert": [{"type": "regex", "value": "\\S"}]}
#: promptfoo's ``failureReason`` for a call that failed (1 is a failed assertion; its ``error`` is the reason text).
CALL_FAILED = 2
#: Scores equal within this: the workbench stores a score rounded to 6 decimals (2/3 -> 0.666667).
SCORE_TOLERANCE = 1e-6
#: Seconds a process may take: the server's start, one eval.
START_TIMEOUT_S, EVAL_TIMEOUT_S = 180, 600


@dataclass(frozen=True)
class Row:
    """One test's result on one side, keyed elsewhere by (prompt index, test index)."""

    prompt: str  # the text sent to the model
    output: str  # the model's output (empty where the call failed)
    passed: bool  # the test's verdict
    score: float  # its (weighted) score
    error: str | None = None  # the call's error, if any


# ---------------------------------------------------------------------------------------------- where things are

def find_promptfoo(given: str | None = None, env: dict[str, str] | None = None) -> Path | None:
    """The ``promptfoo`` executable: ``given`` (the file, or an npm folder holding ``node_modules/.bin/promptfoo``),
    else ``$PROMPTFOO_BIN`` (the same), else ``promptfoo`` on PATH, else :data:`KNOWN_INSTALL`; None without Node
    or without any of them."""
    if shutil.which("node") is None:
        return None
    env = os.environ if env is None else env
    for candidate in (given, env.get("PROMPTFOO_BIN"), shutil.which("promptfoo"), KNOWN_INSTALL):
        if not candidate:
            continue
        path = Path(candidate).expanduser()
        if path.is_dir():
            path = path / "node_modules" / ".bin" / "promptfoo"
        if path.is_file() and os.access(path, os.X_OK):
            return path
        if candidate == given:
            return None  # named and missing: do not fall back to another install
    return None


def promptfoo_env(config_dir: Path) -> dict[str, str]:
    """promptfoo's environment: no telemetry or update check, its database in ``config_dir``, a dummy API key (its
    OpenAI provider wants one even for a local ``apiBaseUrl``; the local server ignores it)."""
    from workbench import settings

    return settings.child_environment({"PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
                                       "PROMPTFOO_CONFIG_DIR": str(config_dir), "OPENAI_API_KEY": "local-no-key"})


# ---------------------------------------------------------------------------------------------- the config

def config(provider_id: str, base_url: str | None, prompts=PROMPTS, tests=TESTS, default_test=DEFAULT_TEST,
           decoding=DECODING) -> dict:
    """A promptfoo config: ``prompts`` x ``tests`` on one provider (``base_url`` its ``apiBaseUrl``, if any).

    >>> c = config("openai:completion:m", "http://127.0.0.1:1/v1", prompts=("{{x}}",), tests=({"vars": {"x": 1}},))
    >>> c["providers"][0]["config"]["apiBaseUrl"], c["prompts"], len(c["tests"])
    ('http://127.0.0.1:1/v1', ['{{x}}'], 1)
    """
    provider_config = dict(decoding, **({"apiBaseUrl": base_url} if base_url else {}))
    out = {"description": "promptfoo agreement check", "prompts": list(prompts),
           "providers": [{"id": provider_id, "config": provider_config}], "tests": [dict(t) for t in tests]}
    if default_test:
        out["defaultTest"] = dict(default_test)
    return out


def write_config(folder: Path, name: str, cfg: dict) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- the server

@dataclass
class Served:
    """``workbench serve`` running as a child process."""

    process: subprocess.Popen
    ref: str  # BASE_URL#MODEL

    @property
    def base_url(self) -> str:
        return self.ref.split("#", 1)[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # serve stops its llama-server, then exits
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def serve(parallel: int, log: Path, timeout_s: float = START_TIMEOUT_S) -> Served:
    """Start ``workbench serve`` for :data:`MODEL` on a free loopback port; wait for its "ready" line."""
    from workbench import settings

    argv = [sys.executable, "-m", "workbench", "serve", "--model", MODEL, "--port", "0", "--parallel", str(parallel)]
    with log.open("wb") as err:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=settings.child_environment())
    deadline = time.monotonic() + timeout_s
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            seen += line
            text = line.decode("utf-8", "replace").strip()
            if text.startswith("llama-server ready:"):
                return Served(process, text.split(":", 1)[1].strip().split(" ")[0])
            if not line and process.poll() is not None:
                break
        elif process.poll() is not None:
            break
    Served(process, "").stop()
    reason = (log.read_text(errors="replace").strip().splitlines() or [seen.decode(errors="replace") or "no output"])
    raise RuntimeError(f"workbench serve did not get ready: {reason[-1]}")


# ---------------------------------------------------------------------------------------------- the two runs

def run_promptfoo(binary: Path, cfg: Path, out: Path, config_dir: Path) -> float:
    """``promptfoo eval`` on ``cfg``, results to ``out``; the process's wall seconds."""
    # not --no-write: promptfoo 0.119.0 then writes ``-o`` with an empty results list; its database goes to the
    # temporary PROMPTFOO_CONFIG_DIR instead
    argv = [str(binary), "eval", "-c", str(cfg), "-o", str(out), "--no-cache", "--no-table", "--no-progress-bar"]
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cfg.parent, env=promptfoo_env(config_dir), capture_output=True, text=True,
                          timeout=EVAL_TIMEOUT_S)
    seconds = time.perf_counter() - start
    if not out.is_file():  # promptfoo exits 100 when a test fails: the file is what tells success
        raise RuntimeError(f"promptfoo wrote no results (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-400:]}")
    return seconds


def run_workbench(cfg: Path, out: Path, data_dir: Path) -> float:
    """``workbench eval --config`` on ``cfg`` (a fresh store in ``data_dir``), the run to ``out``; wall seconds."""
    from workbench import settings

    argv = [sys.executable, "-m", "workbench", "eval", "--config", str(cfg), "--output", str(out), "--no-cache",
            "--no-progress", "--json"]
    start = time.perf_counter()
    done = subprocess.run(argv, env=settings.child_environment({"WORKBENCH_DATA_DIR": str(data_dir)}),
                          capture_output=True, text=True, timeout=EVAL_TIMEOUT_S)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"workbench eval failed (exit {done.returncode}): {done.stderr.strip()[-400:]}")
    return seconds


def promptfoo_rows(out: Path) -> dict[tuple[int, int], Row]:
    """promptfoo's results by (promptIdx, testIdx)."""
    results = json.loads(out.read_text(encoding="utf-8"))["results"]["results"]
    if not results:
        raise RuntimeError(f"promptfoo's {out.name} holds no results")
    rows = {}
    for r in results:
        response = r.get("response") or {}
        output = response.get("output")
        rows[(r["promptIdx"], r["testIdx"])] = Row(
            prompt=(r.get("prompt") or {}).get("raw", ""), output=output if isinstance(output, str) else "",
            passed=bool(r.get("success")), score=float(r.get("score") or 0.0),
            error=response.get("error") or (r.get("error") if r.get("failureReason") == CALL_FAILED else None))
    return rows


def workbench_rows(out: Path) -> dict[tuple[int, int], Row]:
    """The workbench run's records by (prompt index, test index): a strategy's place in the run's list is its
    prompt's place in the config (one provider), an item's index is its test's."""
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    order = {s["name"]: i for i, s in enumerate(lines[0]["meta"]["strategies"])}
    rows = {}
    for r in lines[1:]:
        score = r.get("score")
        rows[(order[r["strategy"]], r["item_index"])] = Row(
            prompt=r["prompt"], output=r["output"], passed=bool(r["correct"]),
            score=float(r["correct"] if score is None else score))
    return rows


# ---------------------------------------------------------------------------------------------- comparing

def reason(a: Row, b: Row) -> str:
    """Why two rows of one test differ, as far as the rows tell.

    >>> reason(Row("p", "x", True, 1.0), Row("q", "x", True, 1.0))
    'prompt rendering: the texts sent differ'
    >>> reason(Row("p", " Paris", True, 1.0), Row("p", " Paris is", True, 1.0))
    'stop or length: one output is a prefix of the other'
    >>> reason(Row("p", " Paris", True, 1.0), Row("p", " Paris", False, 0.0))
    'assertion rule: same output, different verdict'
    """
    if a.error or b.error:
        return f"a call failed: {a.error or b.error}"
    if a.prompt != b.prompt:
        return "prompt rendering: the texts sent differ"
    if a.output != b.output:
        if a.output.startswith(b.output) or b.output.startswith(a.output):
            return "stop or length: one output is a prefix of the other"
        return "decoding: the model chose other tokens on the same prompt"
    if a.passed != b.passed:
        return "assertion rule: same output, different verdict"
    return "assertion rule: same output and verdict, different score"


def compare(a: dict[tuple[int, int], Row], b: dict[tuple[int, int], Row], names: tuple[str, str]) -> dict:
    """Per test: prompt, output, verdict and score equal? With every difference and its reason.

    >>> r = Row("p", "x", True, 1.0)
    >>> c = compare({(0, 0): r, (0, 1): r}, {(0, 0): r, (0, 1): Row("p", "y", False, 0.0)}, ("a", "b"))
    >>> c["tests"], c["outputs_equal"], c["verdicts_equal"], c["differences"][0]["reason"]
    (2, 1, 1, 'decoding: the model chose other tokens on the same prompt')
    """
    keys = sorted(set(a) | set(b))
    missing = [k for k in keys if k not in a or k not in b]
    both = [k for k in keys if k in a and k in b]
    diffs = []
    for k in both:
        x, y = a[k], b[k]
        if (x.prompt, x.output, x.passed) != (y.prompt, y.output, y.passed) or abs(x.score - y.score) > SCORE_TOLERANCE:
            diffs.append({"prompt": k[0], "test": k[1], "reason": reason(x, y),
                          names[0]: {"output": x.output, "passed": x.passed, "score": x.score},
                          names[1]: {"output": y.output, "passed": y.passed, "score": y.score}})
    return {"tests": len(keys), "missing": [list(k) for k in missing],
            "prompts_equal": sum(a[k].prompt == b[k].prompt for k in both),
            "outputs_equal": sum(a[k].output == b[k].output for k in both),
            "verdicts_equal": sum(a[k].passed == b[k].passed for k in both),
            "scores_equal": sum(abs(a[k].score - b[k].score) <= SCORE_TOLERANCE for k in both),
            "passed": {names[0]: sum(a[k].passed for k in both), names[1]: sum(b[k].passed for k in both)},
            "differences": diffs}


@dataclass(frozen=True)
class Agreement:
    """One round: the three sides' rows and wall seconds."""

    promptfoo: dict
    served: dict
    inprocess: dict
    seconds: dict
    version: str  # promptfoo's, as its results file says


def one_round(binary: Path, server_cfg: Path, local_cfg: Path, work: Path, tag: str, order: int = 0) -> Agreement:
    """promptfoo and the workbench on the server config, the workbench on the in-process config (order 1: the
    workbench first)."""
    seconds = {}

    def pf() -> None:
        seconds["promptfoo"] = run_promptfoo(binary, server_cfg, work / f"pf-{tag}.json", work / f"pfdir-{tag}")

    def wb() -> None:
        seconds["workbench_server"] = run_workbench(server_cfg, work / f"wb-{tag}.jsonl", work / f"wbdir-{tag}")

    for step in ((pf, wb) if order == 0 else (wb, pf)):
        step()
    seconds["workbench_inprocess"] = run_workbench(local_cfg, work / f"wbl-{tag}.jsonl", work / f"wbldir-{tag}")
    meta = json.loads((work / f"pf-{tag}.json").read_text(encoding="utf-8")).get("metadata") or {}
    return Agreement(promptfoo_rows(work / f"pf-{tag}.json"), workbench_rows(work / f"wb-{tag}.jsonl"),
                     workbench_rows(work / f"wbl-{tag}.jsonl"), seconds, str(meta.get("promptfooVersion", "?")))


def figures(rounds: list[Agreement]) -> dict:
    """The comparisons of the last round, whether every round gave the same outputs, median wall seconds."""
    last = rounds[-1]
    same = all(r.promptfoo == last.promptfoo and r.served == last.served and r.inprocess == last.inprocess
               for r in rounds)
    names = rounds[0].seconds.keys()
    return {
        "promptfoo vs workbench (same server)": compare(last.promptfoo, last.served, ("promptfoo", "workbench")),
        "promptfoo (server) vs workbench in-process": compare(last.promptfoo, last.inprocess,
                                                              ("promptfoo", "workbench_inprocess")),
        "same results every round": same,
        "wall_s_median": {k: round(statistics.median(r.seconds[k] for r in rounds), 2) for k in names},
        "wall_s": {k: [round(r.seconds[k], 2) for r in rounds] for k in names},
        "outputs": {f"{p}/{t}": last.promptfoo[(p, t)].output for p, t in sorted(last.promptfoo)},
    }


def _stop_on_sigterm(*_) -> None:
    raise SystemExit(143)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--promptfoo", default=None, help="promptfoo's executable or the npm folder it is installed in "
                                                      f"(default: $PROMPTFOO_BIN, PATH, {KNOWN_INSTALL})")
    ap.add_argument("--runs", type=int, default=3, help="rounds, interleaved (default 3)")
    ap.add_argument("--parallel", type=int, default=8, help="llama-server slots (default 8, workbench serve's)")
    args = ap.parse_args()
    from workbench.engine import EngineUnavailable, find_binary

    binary = find_promptfoo(args.promptfoo)
    if binary is None:
        print(json.dumps({"skipped": "needs Node and promptfoo (npm i promptfoo@0.119.0; --promptfoo or "
                                     "PROMPTFOO_BIN names it)"}))
        return
    try:
        find_binary()
    except EngineUnavailable as err:
        print(json.dumps({"skipped": f"needs llama-server: {err}"}))
        return
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # `timeout`, a CI runner: the server is stopped too
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="pf-agree-") as tmp:
        work = Path(tmp)
        server = serve(args.parallel, work / "serve.log")
        try:
            server_cfg = write_config(work, "promptfooconfig.yaml", config(f"openai:completion:{MODEL}",
                                                                          server.base_url))
            local_dir = work / "local"
            local_dir.mkdir()
            local_cfg = write_config(local_dir, "promptfooconfig.yaml", config(f"workbench:{MODEL}", None))
            rounds = []
            for r in range(args.runs):
                rounds.append(one_round(binary, server_cfg, local_cfg, work, str(r), order=r % 2))
                print(json.dumps({"round": r, **rounds[-1].seconds}), file=sys.stderr, flush=True)
        finally:
            server.stop()
    print(json.dumps({
        "config": {"prompts": len(PROMPTS), "tests": len(TESTS), "provider": f"openai:completion:{MODEL}",
                   "decoding": DECODING, "llama_server_slots": args.parallel},
        "promptfoo": str(binary), "promptfoo_version": rounds[-1].version, "runs": args.runs,
        **figures(rounds),
        "threads": os.environ.get("WORKBENCH_THREADS", "all cores"),
        "load_avg_start": [round(x, 2) for x in load_start],
        "load_avg_end": [round(x, 2) for x in os.getloadavg()],
    }, indent=2))


if __name__ == "__main__":
    main()
