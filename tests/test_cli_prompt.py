"""``python -m workbench prompt``: the Zero-shot-CoT two-stage flow end to end on both default models."""

from __future__ import annotations

import re

import pytest

from tests.test_cli import cli

QUESTION = "Tom has 3 apples and buys 4 more. How many apples does he have?"


@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "gemma-3-270m"])
def test_zero_shot_cot_runs_both_stages(model):
    res = cli("prompt", "run", "arithmetic_zero_shot_cot", "--input", QUESTION, "--model", model,
              "--max-new-tokens", "16", timeout=600)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "=== stage 1/2: reasoning · prompt" in out and "=== stage 2/2: answer · prompt" in out
    stage1 = out.split("=== stage 1/2: reasoning · output ===")[0]
    assert f"Q: {QUESTION}\nA:" in stage1 and "Let's think step by step." in stage1
    stage2_prompt = out.split("=== stage 2/2: answer · prompt")[1].split("=== stage 2/2: answer · output ===")[0]
    assert stage2_prompt.rstrip().endswith("Therefore, the answer (arabic numerals) is")
    assert re.search(r"=== answer ===\n(\S+)\s+\[rule: \w+; [\d.]+ s in 2 call\(s\)\]", out)
    assert res.stderr.count("tokens/s") == 2
    if model.startswith("smollm"):
        assert "<|im_start|>assistant\nLet's think step by step." in stage1  # its own chat template


def test_render_prints_the_exact_text():
    res = cli("prompt", "render", "sentiment", "--k", "2", "--input", "Great fun.")
    assert res.returncode == 0, res.stderr
    assert res.stdout == (
        "Classify the sentiment of each movie review as positive or negative.\n\n"
        "Review: A gentle, beautifully acted story that stays with you for days.\nSentiment: positive\n\n"
        "Review: Two hours of noise with no characters worth caring about.\nSentiment: negative\n\n"
        "Review: Great fun.\nSentiment:"
    )
    assert "2 demonstrations, 0 dropped" in res.stderr


def test_few_shot_run_extracts_a_label(tmp_path):
    spec = tmp_path / "mine.yaml"
    spec.write_text(
        "name: Mine\nspec:\n  demo_template: '{input} => {answer}'\n  query_template: '{input} =>'\n"
        "  answer_format: label\n  labels: [positive, negative]\n  stop: ['\\n']\n"
        "demos:\n  - {question: I loved it, answer: positive}\n  - {question: I hated it, answer: negative}\n",
        encoding="utf-8",
    )
    res = cli("prompt", "run", str(spec), "--input", "What a wonderful day", "--max-new-tokens", "3")
    assert res.returncode == 0, res.stderr
    assert "=== stage 1/1: answer · prompt" in res.stdout
    assert "I loved it => positive\n\nI hated it => negative\n\nWhat a wonderful day =>" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "nope", "--input", "x"], "No spec file or starter named 'nope'"),
        (["render", "missing.yaml", "--input", "x"], "missing.yaml does not exist"),
        (["render", "sentiment", "--input", "  "], "The query is empty"),
        (["render", "sentiment", "--input", "x", "--k", "-1"], "--k must be 0 or more"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    res = cli("prompt", *args)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr
