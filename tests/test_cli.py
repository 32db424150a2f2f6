"""The CLI end to end in a subprocess, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_generate_prints_a_real_completion():
    res = cli("generate", "--model", "gemma-3-270m", "--prompt", "The capital of France is", "--max-new-tokens", "8")
    assert res.returncode == 0, res.stderr
    assert "France" in res.stdout
    assert "tokens/s" in res.stderr and "gemma-3-270m" in res.stderr


def test_generate_json_record():
    res = cli("generate", "--model", "smollm2-135m-instruct", "--chat", "--prompt", "Name a fruit.",
              "--max-new-tokens", "6", "--json", "--temperature", "0.8", "--seed", "4", "-n", "2")
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["sample"] for r in records] == [0, 1]
    assert [r["seed"] for r in records] == [4, 5]
    assert records[0]["decoding"]["do_sample"] is True
    assert records[0]["prompt"].startswith("<|im_start|>")
    assert all(0 < r["completion_tokens"] and r["text"].strip() for r in records)


def test_models_lists_backends():
    res = cli("models", "--json")
    rows = {r["id"]: r for r in json.loads(res.stdout)}
    assert rows["gemma-3-270m"]["backend"] == "llama.cpp"
    assert rows["smollm2-135m-instruct"]["kind"] == "chat"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope", "--prompt", "x"], "Unknown model 'nope'"),
        (["--prompt", "x", "--temperature", "-1"], "temperature must be >= 0"),
        (["--prompt", "x", "--top-p", "0"], "top_p must be in (0, 1]"),
        (["--prompt", "x", "--max-new-tokens", "99999"], "beyond the model's context window"),
        (["--prompt", "   "], "The prompt is empty"),
        (["--prompt", "x", "--num-beams", "2"], "Beam search needs the transformers backend"),
        (["--prompt", "x", "--temperature", "inf"], "--temperature must be a finite number (got inf)."),
        (["--prompt", "x", "--repetition-penalty", "inf"], "--repetition-penalty must be a finite number (got inf)."),
        (["--prompt", "x", "--top-p", "nan"], "--top-p must be a finite number (got nan)."),
        (["--prompt", "x", "--context-window", "0"], "--context-window must be at least 16 tokens (got 0); "
                                                     "leave it out for the default of 4096."),
        (["--prompt", "x", "--context-window", "-5"], "--context-window must be at least 16 tokens (got -5)"),
        (["--prompt", "x", "--do-sample", "--sampler-order", "warm"], "Unknown sampler(s) in sampler_order: warm"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    res = cli("generate", *args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert len([line for line in res.stderr.splitlines() if line.startswith("error:")]) == 1


def decoding_of(*flags: str):
    from workbench.cli import build_parser
    from workbench.cli.common import decoding_from_args

    return decoding_from_args(build_parser().parse_args(["generate", "--prompt", "x", *flags]))


@pytest.mark.parametrize(("typed", "stop"), [
    ("\\", "\\"),  # a lone backslash stays a backslash (unicode_escape raised UnicodeDecodeError)
    ("é", "é"),  # non-ASCII text stays as typed (unicode_escape made it "Ã©")
    ("\\n", "\n"), ("\\t", "\t"), ("a\\\\b", "a\\b"),
    ("\\\\n", "\\n"),  # an escaped backslash, then a plain n
    ("\\x41\\u00e9\\", "\\x41\\u00e9\\"),  # other escapes are kept as typed
    ("Q:", "Q:"),
])
def test_stop_understands_three_escapes_and_keeps_everything_else(typed, stop):
    assert decoding_of("--stop", typed).stop == (stop,)


def test_finite_decoding_flags_still_work():
    cfg = decoding_of("--temperature", "0.5", "--repetition-penalty", "1.3", "--stop", "\\n", "--stop", "###")
    assert (cfg.temperature, cfg.repetition_penalty, cfg.do_sample, cfg.stop) == (0.5, 1.3, True, ("\n", "###"))


# ---- workbench config: every WORKBENCH_* setting in effect and where it came from ---------------------------

def _config_env(monkeypatch) -> None:
    for name in ("WORKBENCH_THREADS", "WORKBENCH_KERNELS", "WORKBENCH_BATCH", "WORKBENCH_TEACHER_PASSCODE",
                 "WORKBENCH_FAULT", "WORKBENCH_CLASSROOM", "WORKBENCH_VERBOSE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBENCH_BATCH", " 4 ")
    monkeypatch.setenv("WORKBENCH_TEACHER_PASSCODE", "s3cret-passcode")
    monkeypatch.setenv("WORKBENCH_FAULT", "step\x1b[2J")


def test_config_prints_each_value_and_where_it_came_from(monkeypatch):
    from workbench import settings

    _config_env(monkeypatch)
    res = cli("config")
    assert res.returncode == 0, res.stderr
    rows = {line.split()[0]: line for line in res.stdout.splitlines()}
    assert list(rows) == list(settings.SETTINGS)
    assert rows["WORKBENCH_BATCH"].split() == ["WORKBENCH_BATCH", "4", "(environment)"]
    assert rows["WORKBENCH_KERNELS"].split() == ["WORKBENCH_KERNELS", "exact", "(default)"]
    assert rows["WORKBENCH_THREADS"].endswith("every core  (default)")
    assert rows["WORKBENCH_TEACHER_PASSCODE"].endswith("(set; not shown)  (environment)")
    assert rows["WORKBENCH_FAULT"].endswith("step\\x1b[2J  (environment)")  # escaped, never sent raw
    assert "s3cret" not in res.stdout + res.stderr and "\x1b" not in res.stdout


def test_config_json_is_one_list_for_machines(monkeypatch):
    _config_env(monkeypatch)
    res = cli("config", "--json")
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 1 and "\x1b" not in res.stdout and "s3cret" not in res.stdout
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["WORKBENCH_BATCH"] | {"help": ""} == {
        "name": "WORKBENCH_BATCH", "value": 4, "shown": "4", "source": "environment",
        "default": "8 with exact kernels, 1 with fast", "help": "", "secret": False}
    assert (rows["WORKBENCH_KERNELS"]["value"], rows["WORKBENCH_KERNELS"]["source"]) == ("exact", "default")
    assert rows["WORKBENCH_TEACHER_PASSCODE"] | {"help": ""} == {
        "name": "WORKBENCH_TEACHER_PASSCODE", "value": None, "shown": "(set; not shown)", "source": "environment",
        "default": "generated and printed at start", "help": "", "secret": True}
    assert rows["WORKBENCH_FAULT"]["value"] == "step\x1b[2J"  # JSON carries it escaped (\u001b), intact


@pytest.mark.parametrize("command", [["config"], ["config", "--json"], ["runs", "list"]])
def test_config_or_any_command_with_a_bad_setting_is_one_error_line(monkeypatch, command):
    monkeypatch.setenv("WORKBENCH_THREADS", "two")
    res = cli(*command)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == "error: WORKBENCH_THREADS must be a whole number of threads (1 or more), not 'two'.\n"
