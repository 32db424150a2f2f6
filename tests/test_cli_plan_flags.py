"""``eval --config`` / ``eval --task`` never drop a flag silently (review #27, finding 1): --assert,
--threshold, --temperature, --repeat and --seed apply to every strategy of the plan; --k, --answer,
--calibrate, --label-words and --score-norm are refused in one line naming the flag."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.cli.judging_args import JudgingFlags, judging_from_args
from workbench.cli.plan_args import plan_strategies
from workbench.errors import ConfigError
from workbench.interop.lmeval import load_plan as load_task_plan
from workbench.interop.promptfoo import load_plan as load_config_plan

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "promptfoo" / "promptfooconfig.yaml"
TASK = ROOT / "examples" / "lm-eval" / "sentiment.yaml"
GEN_TASK = ROOT / "examples" / "lm-eval" / "arithmetic.yaml"


@pytest.mark.parametrize(("flag", "value", "kind", "path", "why"), [
    ("--k", "2", "--config", CONFIG, "the config's prompts are zero-shot (a prompt holds its own examples)"),
    ("--k", "2", "--task", TASK, "the task's num_fewshot sets its few-shot examples"),
    ("--answer", "generate", "--task", TASK, "the task's output_type decides how it answers"),
    ("--answer", "score", "--config", CONFIG, "the config's assertions judge each prompt's generated output"),
    ("--calibrate", None, "--config", CONFIG, "the config's prompts generate; nothing scores labels"),
    ("--label-words", "a=b", "--task", TASK, "the task's doc_to_choice gives each document's choices"),
    ("--score-norm", "token", "--task", TASK,
     "the task's metrics (acc: summed, acc_norm: per character) decide it"),
])
def test_a_flag_the_file_decides_is_one_line_naming_it(flag, value, kind, path, why, capsys):
    code = main(["eval", kind, str(path), flag, *([value] if value else []), "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err == f"error: {flag} does not apply to {kind}: {why}; leave out {flag}.\n"


def _flags(**given) -> JudgingFlags:
    args = argparse.Namespace(asserts=None, threshold=None, repeat=None, temperature=None)
    vars(args).update(given)
    return judging_from_args(args)


def test_assert_and_threshold_join_every_strategys_own_checks():
    plan = load_config_plan(CONFIG)
    strategies = plan_strategies(plan, ["gemma-3-270m"], _flags(asserts=["contains:zzzz"], threshold=0.1), {})
    assert len(strategies) == len(plan.strategies) == 4
    for s, own in zip(strategies, plan.strategies, strict=True):
        assert [c.to_dict() for c in s.checks] == [{"type": "contains", "value": "zzzz"},
                                                   *(c.to_dict() for c in own.checks)]
        assert s.threshold == 0.1


def test_temperature_seed_and_repeat_sample_the_generating_strategies():
    plan = load_task_plan(GEN_TASK)
    assert all(s.decoding.greedy for s in plan.strategies)
    strategies = plan_strategies(plan, ["gemma-3-270m"], _flags(temperature=0.7, repeat=3), {"seed": 5})
    for s in strategies:
        assert (s.decoding.do_sample, s.decoding.temperature, s.decoding.seed, s.seed, s.repeat) == \
            (True, 0.7, 5, 5, 3)
    # greedy --repeat still refuses, and now without advice the run already follows
    with pytest.raises(ConfigError, match=r"--repeat 3: .*greedy decoding .*; --temperature T \(e\.g\. 0\.7\) samples\.$"):
        plan_strategies(plan, ["gemma-3-270m"], _flags(repeat=3), {})


def test_temperature_on_a_choice_scoring_task_is_refused():
    with pytest.raises(ConfigError) as err:
        plan_strategies(load_task_plan(TASK), ["gemma-3-270m"], _flags(temperature=0.9), {})
    assert str(err.value) == ("--temperature samples generated answers, and every strategy of sentiment.yaml "
                              "scores its choices; leave out --temperature.")


def test_assert_judges_a_config_run_on_the_real_model(tmp_path, capsys):
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text("prompts: ['The capital of {{country}} is']\n"
                      "providers: [{id: workbench:gemma-3-270m, config: {max_tokens: 4}}]\n"
                      "tests: [{vars: {country: France}}]\n", encoding="utf-8")
    code = main(["eval", "--config", str(config), "--assert", "contains:zzzz", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert re.search(r"^The capital of {{country}} is @ gemma-3-270m\s+1\s+0\.0%", out, re.M), out  # no "zzzz"
    assert "contains:zzzz: 0/1 passed" in out, out
