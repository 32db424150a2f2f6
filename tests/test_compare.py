"""Tests for workbench.compare: divergence, exports and votes on hand-made inputs (exact), and seeded
grid runs on the real default model."""

from __future__ import annotations

import csv
import io
import json

import pytest

from workbench.backends.base import Generation
from workbench.compare import (
    Cell,
    Grid,
    diverge,
    grid_to_csv,
    grid_to_dict,
    grid_to_json,
    run_grid,
    runs_config,
    self_consistency,
)
from workbench.decoding import DecodingConfig, preset
from workbench.errors import ConfigError

# --------------------------------------------------------------------------- divergence


def test_diverge_splits_common_prefix_and_tails():
    d = diverge(["The cat sat", "The cat ran", "The dog"])
    assert d.prefix == "The "
    assert d.tails == ("cat sat", "cat ran", "dog")
    assert not d.identical


def test_diverge_when_one_text_is_a_prefix_of_another():
    d = diverge(["abc", "abcdef"])
    assert (d.prefix, d.tails) == ("abc", ("", "def"))


def test_diverge_identical_single_and_empty():
    assert diverge(["same", "same"]) == diverge(["same", "same"])
    assert diverge(["same", "same"]).identical and diverge(["same", "same"]).prefix == "same"
    assert diverge(["x"]).tails == ("",)
    assert diverge([]).prefix == "" and diverge([]).tails == ()
    assert diverge(["", "abc"]).prefix == ""
    assert diverge(["Xa", "Ya"]).prefix == ""


def test_runs_config_samples_n_times_but_greedy_once():
    assert runs_config(preset("Balanced"), 4).n == 4
    assert runs_config(preset("Greedy"), 4).n == 1
    with pytest.raises(ConfigError, match="at least once"):
        runs_config(preset("Greedy"), 0)


# --------------------------------------------------------------------------- export

def _grid() -> Grid:
    greedy, sample = DecodingConfig(max_new_tokens=8), DecodingConfig(do_sample=True, seed=3, n=2, stop=("\n",))
    return Grid(
        prompts=(("A", "Hi"),),
        configs=(("Greedy", greedy), ("Hot", sample)),
        cells=(
            Cell("A", "Greedy", (Generation(" there", 2, 1, "stop", 0.5),)),
            Cell("A", "Hot", (Generation(' a,"b"', 2, 4, "length", 2.0, seed=3),
                              Generation(" yo", 2, 2, "stop", 1.0, seed=4))),
        ),
        seconds=3.5,
    )


def test_grid_to_json_holds_prompt_configs_outputs_and_timings():
    data = json.loads(grid_to_json(_grid()))
    assert data == grid_to_dict(_grid())
    assert data["prompts"] == [{"label": "A", "text": "Hi"}]
    assert [c["label"] for c in data["configs"]] == ["Greedy", "Hot"]
    assert data["configs"][1]["seed"] == 3 and data["configs"][1]["n"] == 2 and data["configs"][1]["stop"] == ["\n"]
    assert data["outputs"][1] == {
        "prompt": "A", "config": "Hot", "run": 0, "seed": 3, "text": ' a,"b"', "prompt_tokens": 2,
        "completion_tokens": 4, "seconds": 2.0, "tokens_per_second": 2.0, "finish_reason": "length",
    }
    assert [o["seed"] for o in data["outputs"]] == [None, 3, 4]
    assert data["seconds"] == 3.5


def test_grid_to_csv_one_row_per_output_quoted_exactly():
    text = grid_to_csv(_grid())
    lines = text.splitlines()
    assert lines[0].startswith("prompt,config,run,seed,text,prompt_tokens,completion_tokens,seconds,"
                               "tokens_per_second,finish_reason,do_sample,temperature,")
    assert lines[0].endswith(",prompt_text")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3
    assert rows[1]["text"] == ' a,"b"' and rows[1]["seed"] == "3" and rows[1]["do_sample"] == "True"
    assert rows[1]["stop"] == '["\\n"]'
    assert rows[0]["seed"] == "" and rows[0]["tokens_per_second"] == "2.0" and rows[0]["prompt_text"] == "Hi"


# --------------------------------------------------------------------------- self-consistency (pure)

# --------------------------------------------------------------------------- real model

PROMPT = "Q: What is the colour of the sky?\nA:"
CONFIGS = [("Greedy", DecodingConfig(max_new_tokens=8)),
           ("Hot", DecodingConfig(do_sample=True, temperature=1.2, seed=5, max_new_tokens=8))]


def _texts(grid: Grid) -> dict:
    return {(c.prompt, c.config): [g.text for g in c.generations] for c in grid.cells}


def test_seeded_grid_runs_reproduce_in_any_order(gemma):
    seen = []
    grid = run_grid(gemma, {"A": PROMPT, "B": "Once upon a time"}, CONFIGS, runs=3,
                    on_cell=lambda cell, done, total: seen.append((cell.config, done, total)))
    assert seen == [("Greedy", 1, 4), ("Hot", 2, 4), ("Greedy", 3, 4), ("Hot", 4, 4)]
    assert [c.prompt for c in grid.cells] == ["A", "A", "B", "B"]  # prompt-major: shared prompt back-to-back
    assert len(grid.cell("A", "Greedy").generations) == 1  # greedy runs once
    hot = grid.cell("A", "Hot").generations
    assert [g.seed for g in hot] == [5, 6, 7]
    assert len({g.text for g in hot}) > 1
    again = run_grid(gemma, {"B": "Once upon a time", "A": PROMPT}, CONFIGS[::-1], runs=3)
    assert _texts(again) == _texts(grid)
    # any cell is reproducible from its seed alone
    assert gemma.complete(PROMPT, CONFIGS[1][1].replace(seed=6)).text == hot[1].text
    assert dict(grid.configs)["Hot"].n == 3


def test_grid_refuses_too_many_configs_and_duplicate_names(gemma):
    with pytest.raises(ConfigError, match="between 1 and 8"):
        run_grid(gemma, [PROMPT], [(str(i), DecodingConfig()) for i in range(9)])
    with pytest.raises(ConfigError, match="distinct"):
        run_grid(gemma, [PROMPT], [("x", DecodingConfig()), ("x", DecodingConfig())])
    with pytest.raises(ConfigError, match="1 or 2 prompts"):
        run_grid(gemma, ["a", "b", "c"], CONFIGS)


FEW_SHOT = (
    "Q: Tom has 3 apples and buys 2 more. How many apples does he have?\n"
    "A: 3 + 2 = 5. The answer is 5.\n\n"
    "Q: Ann has 6 pens and gives away 4. How many pens does she have?\n"
    "A: 6 - 4 = 2. The answer is 2.\n\n"
    "Q: Sam has 4 cards and gets 3 more. How many cards does he have?\nA:"
)


def test_self_consistency_on_the_real_model_reproduces(gemma):
    cfg = DecodingConfig(do_sample=True, temperature=0.7, seed=11, max_new_tokens=20, stop=("\n\n", "Q:"))
    first = self_consistency(gemma, FEW_SHOT, cfg, n=3, fmt="number")
    again = self_consistency(gemma, FEW_SHOT, cfg, n=3, fmt="number")
    assert [p.seed for p in first.paths] == [11, 12, 13]
    assert [(p.text, p.answer) for p in first.paths] == [(p.text, p.answer) for p in again.paths]
    assert first.vote == again.vote
    assert first.answered >= 1 and first.vote.winner is not None
    with pytest.raises(ConfigError, match="sampling on"):
        self_consistency(gemma, FEW_SHOT, DecodingConfig(), n=3, fmt="number")


def test_two_stage_self_consistency_reads_the_answer_step(gemma):
    cfg = DecodingConfig(do_sample=True, seed=2, max_new_tokens=12, stop=("\n",))
    sc = self_consistency(gemma, "Q: What is 2 + 2?\nA: Let's think step by step.", cfg, n=2, fmt="number",
                          answer_step=True)
    assert len(sc.paths) == 2
    assert all("Therefore, the answer (arabic numerals) is" in p.text for p in sc.paths)
