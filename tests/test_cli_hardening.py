"""Hostile and careless CLI input (issue 34): one line ``error: ...`` and exit 2, never a traceback, a silent
result, a wasted evaluation or a live terminal escape.

Where the model is not the point, the commands run in this process on the fake backend (tests/fakes.py);
a few run as a user runs them, in a subprocess, to see the exact bytes of stderr.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.fakes import FakeBackend
from workbench.store import open_store

ESC = "\x1b[2J\x1b]0;pwned\x07"  # clear the screen, set the window title
RLO = "\u202e"  # right-to-left override: text shown reversed ("Trojan Source")


def one_line_error(res: subprocess.CompletedProcess | tuple, *needles: str) -> str:
    """The one stderr line of a refused command (exit 2, no traceback, nothing on stdout)."""
    code, out, err = (res.returncode, res.stdout, res.stderr) if isinstance(res, subprocess.CompletedProcess) else res
    assert code == 2, (code, out, err)
    assert "Traceback" not in err and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def cli(*args: str, stdin: bytes = b"", timeout: int = 120) -> subprocess.CompletedProcess:
    """``python -m workbench ARGS`` in a subprocess, ``stdin`` as its raw bytes; output decoded as UTF-8."""
    res = subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, capture_output=True, input=stdin,
                         timeout=timeout, env=os.environ.copy())
    return subprocess.CompletedProcess(res.args, res.returncode, res.stdout.decode(), res.stderr.decode())


@pytest.fixture
def fake(monkeypatch):
    """The fake model in place of every model the CLI loads, named as the default model on llama.cpp (so a
    stored run made with the default model resumes on it)."""
    from workbench.backends import DEFAULT_MODEL, choose_backend, resolve_model
    from workbench.backends.registry import ModelSpec

    backend = FakeBackend(reply=lambda prompt, seed: f" {ESC}positive")
    backend.spec = ModelSpec(DEFAULT_MODEL, "", False)
    backend.name = choose_backend(resolve_model(DEFAULT_MODEL))
    monkeypatch.setattr("workbench.backends.load_backend", lambda *a, **k: backend)
    return backend


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """``python -m workbench ARGV`` in this process: (exit status, stdout, stderr)."""
    from workbench.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- 3: run ids SQLite cannot hold

HUGE = "9" * 23


@pytest.mark.parametrize("args", [
    ["runs", "show", HUGE],
    ["eval", "--dataset", "sentiment", "--resume", HUGE],
    ["runs", "compare", "1", HUGE],
    ["runs", "export", HUGE, "--output", "h.jsonl"],
    ["runs", "show", str(2**63)],
    ["eval", "--dataset", "sentiment", "--resume", "0"],
])
def test_a_run_id_out_of_range_is_one_line(args, tmp_path):  # (2**63 - 1 is in range: "There is no run ...")
    args = [str(tmp_path / a) if a == "h.jsonl" else a for a in args]
    line = one_line_error(cli(*args), "There is no run ", "run ids are whole numbers from 1 to 9223372036854775807")
    assert "OverflowError" not in line
    assert not (tmp_path / "h.jsonl").exists()


def test_a_set_version_out_of_range_is_one_line():
    one_line_error(cli("sets", "show", "zero_vs_few_shot", "--version", HUGE), "argument --version: There is no "
                   "version 99999999999999999999999: version numbers are whole numbers from 1 to 9223372036854775807")


# --------------------------------------------------------------------------- 4: stdin that is not UTF-8

def test_a_prompt_on_stdin_that_is_not_utf8_is_one_line_with_the_byte_offset():
    res = cli("generate", "--prompt", "-", stdin=b"\xff\xfe\x00h\x00i\xc3\x28")
    assert one_line_error(res) == ("error: The --prompt text read from stdin is not UTF-8 text (invalid byte 0xff at "
                                   "byte offset 0); convert it to UTF-8 (e.g. `iconv -t UTF-8`) and try again.")
    res = cli("prompt", "render", "sentiment", "--input", "-", stdin="caf\u00e9 ".encode() + b"\xc3\x28")
    one_line_error(res, "The --input text read from stdin is not UTF-8 text (invalid byte 0xc3 at byte offset 6)")


def test_stdin_is_read_as_utf8_bytes_whatever_the_locale(capsys, monkeypatch, fake):
    for data in ("Grüße\n".encode(), b"\xef\xbb\xbfhi", b"ok\xed\xa0\x80"):  # text; a BOM; an encoded surrogate
        stdin = io.TextIOWrapper(io.BytesIO(data), encoding="ascii", errors="surrogateescape")  # as a C locale reads
        monkeypatch.setattr(sys, "stdin", stdin)
        code, out, err = run(capsys, "generate", "--prompt", "-", "--json")
        if data.startswith(b"ok"):
            one_line_error((code, out, err), "not UTF-8 text (invalid byte 0xed at byte offset 2)")
        else:
            assert code == 0 and json.loads(out)["prompt"] == data.decode(), err


@pytest.mark.timeout(120)
@pytest.mark.parametrize("args", [("sets", "import", "-"), ("generate", "--prompt", "-"),
                                  ("prompt", "render", "sentiment", "--input", "-")])
def test_an_endless_stdin_is_refused_at_the_cap_not_read_forever(args):
    """/dev/zero piped in: the read stops at the file cap (1 MB for a set, 100 MB for a prompt), one line."""
    with open("/dev/zero", "rb") as zero:
        res = subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, capture_output=True, stdin=zero,
                             timeout=100, env=os.environ.copy())
    one_line_error((res.returncode, res.stdout.decode(), res.stderr.decode()), "stdin is longer than", "bytes")


# --------------------------------------------------------------------------- 8 and 17: eval --resume

@pytest.fixture
def stored_run(capsys, fake) -> int:
    """A finished run of zero-shot label scoring on 3 sentiment items, made with the default model."""
    code, out, err = run(capsys, "eval", "--dataset", "sentiment", "--strategies", "zero", "--answer", "score",
                         "--limit", "3", "--json", "--no-progress")
    assert code == 0, err
    return json.loads(out)["run_id"]


def stored_copy(run_id: int, **changes) -> int:
    """A new stored run: ``run_id``'s metadata with ``changes`` (e.g. another strategy list)."""
    with open_store() as store:
        meta = {**store.get_run(run_id).meta, **changes}
        return store.create_run(meta)


def knn4_meta(run_id: int) -> list:
    from workbench.data import load_sample
    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.strategies import make_strategy

    sample = load_sample("sentiment")
    with open_store() as store:
        zero = store.get_run(run_id).meta["strategies"]
    return [*zero, make_strategy("knn4", default_spec(sample, None), sample, answer="score").to_dict()]


@pytest.mark.parametrize(("flags", "message"), [
    (["--strategies", "zero,knn2"], "--strategies zero,knn2 conflicts with run {run}, made with --strategies zero; "
                                    "leave out --strategies to resume it (the run's own settings apply), or start a "
                                    "new run."),
    (["--answer", "generate"], "--answer generate conflicts with run {run}, whose strategy 'zero' ran with --answer "
                               "score;"),
    (["--limit", "2"], "--limit 2 conflicts with run {run}, made on the first 3 items;"),
    (["--seed", "5"], "--seed 5 conflicts with run {run}, whose strategy 'zero' ran with --seed 0;"),
    (["--score-norm", "token"], "--score-norm token conflicts with run {run}, whose strategy 'zero' ran with "
                                "--score-norm sum;"),
    (["--calibrate"], "--calibrate conflicts with run {run}, whose strategy 'zero' ran uncalibrated;"),
    (["--label-words", "positive= great"], "--label-words positive= great conflicts with run {run}, whose "
                                           "strategy 'zero' ran without label words;"),
    (["--context-window", "1024"], "--context-window 1024 conflicts with run {run}, made with --context-window 512;"),
    (["--label-words", "happy=glad"], "--label-words names 'happy', which is not a label here (labels: positive, "
                                      "negative)"),
    (["--model", "smollm2-135m-instruct"], "Run {run} was made with model 'gemma-3-270m', not "
                                           "'smollm2-135m-instruct'; resume it with the same model"),
    (["--backend", "{other}"], "Run {run} was made with backend '{stored}', not '{other}'; resume it with the same "
                               "backend"),
    (["--dataset", "arithmetic"], "Run {run} was made on another dataset"),
    (["--pool", "arithmetic"], "Run {run} took its demonstrations from another pool"),
])
def test_resume_refuses_a_given_flag_that_disagrees_before_the_model_loads(capsys, monkeypatch, fake, stored_run,
                                                                            flags, message):
    def no_model(*a, **k):
        raise AssertionError("the model was loaded before the conflict was found")

    monkeypatch.setattr("workbench.backends.load_backend", no_model)
    stored = fake.name
    other = "transformers" if stored == "llama.cpp" else "llama.cpp"
    flags = [f.format(other=other) for f in flags]
    args = ["eval", "--dataset", "sentiment", "--resume", str(stored_run), "--no-progress"]
    if flags[0] == "--dataset":
        args[2] = flags[1]
        flags = []
    one_line_error(run(capsys, *args, *flags), message.format(run=stored_run, stored=stored, other=other))


def test_resume_compares_a_recorded_context_window_and_the_demonstration_count(capsys, monkeypatch, stored_run):
    monkeypatch.setattr("workbench.backends.load_backend", None)  # never reached
    windowed = stored_copy(stored_run, context_window=512)
    one_line_error(run(capsys, "eval", "--dataset", "sentiment", "--resume", str(windowed), "--context-window", "1024"),
                   f"--context-window 1024 conflicts with run {windowed}, made with --context-window 512;")
    older = stored_copy(stored_run, context_window=None)  # a run from before windows were recorded
    one_line_error(run(capsys, "eval", "--dataset", "sentiment", "--resume", str(older), "--context-window", "1024"),
                   f"--context-window 1024 conflicts with run {older}, which does not record the context window")
    with_knn = stored_copy(stored_run, strategies=knn4_meta(stored_run))
    one_line_error(run(capsys, "eval", "--dataset", "sentiment", "--resume", str(with_knn), "--k", "2"),
                   f"--k 2 conflicts with run {with_knn}, whose strategy 'knn4' ran with --k 4;")


def test_resume_takes_flags_left_out_or_given_as_stored(capsys, monkeypatch, fake, stored_run):
    for flags in ([], ["--strategies", "zero", "--answer", "score", "--limit", "3", "--seed", "0", "--score-norm",
                       "sum"]):
        code, out, err = run(capsys, "eval", "--dataset", "sentiment", "--resume", str(stored_run), "--json",
                             "--no-progress", *flags)
        assert code == 0, (flags, err)
        assert [(s["strategy"], s["n"]) for s in json.loads(out)["strategies"]] == [("zero", 3)]
    whole = stored_copy(stored_run, limit=None)  # all 40 items: a --limit of 40 or more asks for the same
    code, out, err = run(capsys, "eval", "--dataset", "sentiment", "--resume", str(whole), "--json", "--no-progress",
                         "--limit", "1000")
    assert code == 0 and json.loads(out)["strategies"][0]["n"] == 40, err
    windowed = stored_copy(stored_run, context_window=512, limit=1)
    seen = []
    monkeypatch.setattr("workbench.backends.load_backend",
                        lambda model, backend, window: seen.append(window) or fake)
    code, _, err = run(capsys, "eval", "--dataset", "sentiment", "--resume", str(windowed), "--no-progress",
                       "--context-window", "512")
    assert code == 0, err
    code, _, err = run(capsys, "eval", "--dataset", "sentiment", "--resume", str(windowed), "--no-progress")
    assert code == 0 and seen == [512, 512], err  # left out: the run's own window


# --------------------------------------------------------------------------- 10: flags a new run would drop

@pytest.mark.parametrize(("flags", "message"), [
    (["--answer", "score", "--label-words", "happy=glad"],
     "error: --label-words names 'happy', which is not a label here (labels: positive, negative); give words for "
     "these labels."),
    (["--answer", "generate", "--calibrate"],
     "error: --calibrate applies to label scoring, and no strategy here scores labels (they generate); add --answer "
     "score (or a +score strategy), or leave out --calibrate."),
    (["--label-words", "positive= great"], "error: --label-words applies to label scoring"),
    (["--strategies", "zscot", "--answer", "score", "--score-norm", "byte"], "error: --score-norm applies to label "
                                                                            "scoring"),
])
def test_a_flag_a_new_run_would_drop_is_one_line(capsys, monkeypatch, flags, message):
    monkeypatch.setattr("workbench.backends.load_backend", None)  # refused before any model
    assert one_line_error(run(capsys, "eval", "--dataset", "sentiment", "--strategies", "zero", *flags,
                              "--no-progress")).startswith(message)


def test_label_flags_that_apply_still_run_and_words_for_no_label_do_not(capsys, fake):
    one_line_error(run(capsys, "eval", "--dataset", "sentiment", "--strategies", "zero+score,zero", "--label-words",
                       "positive= good,happy=glad", "--no-progress"), "--label-words names 'happy'")
    code, out, err = run(capsys, "eval", "--dataset", "sentiment", "--strategies", "zero+score,zero", "--calibrate",
                         "--label-words", "positive= good,negative= bad", "--limit", "2", "--json", "--no-progress")
    assert code == 0, err
    with open_store() as store:
        stored = store.get_run(json.loads(out)["run_id"]).meta["strategies"]
    assert [(s["name"], s["answer"], s["calibrate"], s["label_words"]) for s in stored] == [
        ("zero+score", "score", True, [["positive", " good"], ["negative", " bad"]]), ("zero", "generate", False, [])]


def test_a_label_flag_typed_out_at_its_default_is_not_refused(capsys, fake):
    """--score-norm sum is what every run does: spelling it out drops nothing, so scripts that do still run."""
    code, out, err = run(capsys, "eval", "--dataset", "sentiment", "--strategies", "zero", "--answer", "generate",
                         "--score-norm", "sum", "--limit", "1", "--json", "--no-progress")
    assert code == 0 and json.loads(out)["run_id"], err


# --------------------------------------------------------------------------- 9: an export with an item twice

def test_an_export_holding_an_item_twice_is_refused_naming_the_item_and_lines(capsys, fake, stored_run, tmp_path):
    export = tmp_path / "run.jsonl"
    assert run(capsys, "runs", "export", str(stored_run), "--output", str(export))[0] == 0
    lines = export.read_text(encoding="utf-8").splitlines()
    doubled = tmp_path / "doubled.jsonl"
    doubled.write_text("\n".join([*lines, "", lines[2]]) + "\n", encoding="utf-8")
    item = json.loads(lines[2])["id"]
    message = (f"error: doubled.jsonl line 6: item {item!r} of strategy 'zero' is already on line 3; an export "
               "holds each item once, so remove one of the two lines (or export the run again).")
    for args in (["runs", "show", str(doubled)], ["runs", "show", "--file", str(doubled)],
                 ["runs", "compare", str(doubled), str(export)], ["runs", "export", str(doubled), "--output",
                                                                  str(tmp_path / "x.csv")]):
        assert one_line_error(run(capsys, *args)) == message
    code, out, _ = run(capsys, "runs", "show", str(export))
    assert code == 0 and "results 3 of 3" in out


# --------------------------------------------------------------------------- 15: output paths checked first

@pytest.mark.parametrize(("target", "message"), [
    ("{tmp}/folder.csv", "is a folder; give a file name"),
    ("/proc/run.csv", " /proc/run.csv: cannot write files in /proc"),
    ("{tmp}/plain.txt/run.csv", "plain.txt is a file, not a folder."),
    ("{tmp}/fifo.csv", "fifo.csv is not a regular file (a device, pipe or socket); give a file name."),
])
@pytest.mark.parametrize("command", ["eval", "runs export", "sets run", "sets export", "autocot build"])
def test_an_output_nowhere_writable_is_refused_before_any_model_call(capsys, monkeypatch, tmp_path, stored_run,
                                                                     target, message, command):
    monkeypatch.setattr("workbench.backends.load_backend", None)  # refused before any model
    monkeypatch.setattr("workbench.retrieval.embedder.load_embedder", None)
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "plain.txt").write_text("x", encoding="utf-8")
    os.mkfifo(tmp_path / "fifo.csv")
    target = target.replace("{tmp}", str(tmp_path))
    args = {"eval": ["eval", "--dataset", "sentiment", "--strategies", "zero", "--output", target],
            "runs export": ["runs", "export", str(stored_run), "--output", target],
            "sets run": ["sets", "run", "zero_vs_few_shot", "--csv", target],
            "sets export": ["sets", "export", "zero_vs_few_shot", "--output", target],
            "autocot build": ["autocot", "build", "--pool", "arithmetic", "--out", target]}[command]
    one_line_error(run(capsys, *args), message)
    assert not Path("/proc/run.csv").exists() and list((tmp_path / "folder.csv").iterdir()) == []


def test_a_device_with_an_export_name_is_refused(tmp_path):
    from workbench.cli.common import check_output
    from workbench.errors import ConfigError

    fifo = tmp_path / "run.csv"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="is not a regular file"):
        check_output(fifo)
    check_output(tmp_path / "new" / "deeper" / "run.csv")  # folders yet to be made are fine: they are made


# --------------------------------------------------------------------------- 17: serve --app on a taken port

def test_serve_app_on_a_taken_port_is_one_line_and_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = cli("serve", "--app", "--app-port", str(port), "--port", "1", timeout=60)
    assert one_line_error(res) == (f"error: Port {port} on 127.0.0.1 is in use, so the app cannot be served there; "
                                   "pick another with --app-port, or stop what holds it.")


def test_check_port_takes_a_free_port_and_names_other_failures():
    from workbench.cli.serve import check_port
    from workbench.errors import ConfigError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    check_port("127.0.0.1", free)
    with pytest.raises(ConfigError, match="--app-port must be a port from 1 to 65535"):
        check_port("127.0.0.1", 70000)
    with pytest.raises(ConfigError, match=r"Cannot serve the app on 192\.0\.2\.1"):
        check_port("192.0.2.1", free)  # TEST-NET-1: not an address of this machine


# --------------------------------------------------------------------------- 11: terminal escapes, every command

#: ESC and BEL as YAML writes them in a double-quoted string (a YAML file may not hold them raw).
YAML_ESC = r"\e[2J\e]0;pwned\a"

SPEC_WITH_ESC = f"""name: esc
spec:
  instruction: "Classify{YAML_ESC} the review."
  answer_format: label
  labels: [positive, negative]
demos:
  - {{id: d1, question: "Good{YAML_ESC} film", answer: positive}}
"""

SET_WITH_ESC = f"""schema_version: 1
name: escapes here
steps:
  - title: "One{YAML_ESC}"
    model: gemma-3-270m
    spec:
      instruction: "Say{YAML_ESC} it."
      answer_format: label
      labels: [positive, negative]
    demos:
      - {{id: d1, question: "Demo{YAML_ESC} text", answer: positive}}
    decoding: {{max_new_tokens: 4, stop: ["{YAML_ESC}"]}}
tests:
  - {{input: "Test{YAML_ESC} input", expected: "positive{YAML_ESC}"}}
"""


def _esc_run(tmp_path) -> tuple[int, int]:
    """Two stored runs whose model, dataset, strategy names and records hold ESC."""
    meta = {"kind": "evaluate", "model": f"m{ESC}", "backend": "llama.cpp",
            "dataset": {"name": f"d{ESC}", "size": 2, "hash": "h"}, "pool": {"name": f"d{ESC}", "size": 2, "hash": "h"},
            "limit": None, "strategies": [{"name": f"s{ESC}"}], "manifest": {"embedder": f"e{ESC}", "seeds": [0]}}
    with open_store() as store:
        runs = store.create_run(meta), store.create_run(meta)
        for r in runs:
            for i in range(2):
                store.add_result(r, f"s{ESC}", i, {"id": f"row{ESC}{i}", "correct": bool(i), "strategy": f"s{ESC}",
                                                    "item_index": i})
    return runs


def _commands(tmp_path) -> dict[str, list[list[str]]]:
    spec = tmp_path / f"p{ESC}x.yaml"
    spec.write_text(SPEC_WITH_ESC, encoding="utf-8")
    (tmp_path / "set.yaml").write_text(SET_WITH_ESC, encoding="utf-8")
    from workbench.autocot.demo import Demo
    from workbench.autocot.files import save_demos

    # A demo file may not hold ESC (its loader refuses C0/C1 controls); a bidi override it may.
    save_demos([Demo(f"Q{RLO}?", f"Let's think{RLO}.", f"4{RLO}", "4", 0)], tmp_path / "demos.json")
    a, b = _esc_run(tmp_path)
    out = tmp_path / f"r{ESC}.csv"
    return {
        "eval": [["eval", "--dataset", "sentiment", "--prompt", str(spec), "--strategies", "zero,zero+gen",
                  "--answer", "score", "--limit", "2", "--no-progress", "--output", str(out)]],
        "generate": [["generate", "--prompt", f"hi{ESC}"], ["generate", "--prompt", f"hi{ESC}", "--json"],
                     ["generate", "--prompt", f"hi{ESC}", "-n", "2", "--do-sample"]],
        "prompt": [["prompt", "render", str(spec), "--input", f"q{ESC}"], ["prompt", "run", str(spec), "--input",
                                                                           f"q{ESC}"]],
        "autocot": [["autocot", "show", str(tmp_path / "demos.json")], ["autocot", "show", f"none{ESC}.json"]],
        "sets": [["sets", "import", str(tmp_path / "set.yaml")], ["sets", "show", "escapes here", "--prompts"],
                 ["sets", "run", "escapes here", "--no-progress"], ["sets", "list"]],
        "runs": [["runs", "list"], ["runs", "show", str(a)], ["runs", "compare", str(a), str(b)],
                 ["runs", "export", str(a), "--output", str(tmp_path / f"x{ESC}.jsonl")],
                 ["runs", "show", str(tmp_path / f"x{ESC}.jsonl")]],
    }


@pytest.mark.parametrize("command", ["eval", "generate", "prompt", "autocot", "sets", "runs"])
def test_esc_from_files_flags_names_and_the_model_never_reaches_the_terminal_raw(capsys, fake, tmp_path, command):
    printed, commands = [], _commands(tmp_path)[command]
    for argv in commands:
        code, out, err = run(capsys, *argv)
        assert code == (2 if "none" in argv[-1] else 0), (argv, err)
        assert not {"\x1b", "\x07", RLO} & set(out + err), (argv, out, err)  # no raw ESC, BEL or bidi override
        printed.append(out + err)
    for argv, text in zip(commands, printed, strict=True):
        if argv[:2] not in (["sets", "import"], ["sets", "list"]):  # these print no text from the file
            assert any(t in text for t in ("\\x1b", "\\u001b", "\\u202e")), (argv, text)  # shown as text
