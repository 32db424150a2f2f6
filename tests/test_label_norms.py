"""Label-score normalisation as lm-evaluation-harness defines it (D7) and calibration only of probabilities (D8).

lm-eval's multiple_choice ``process_results`` divides each choice's log-likelihood by the choice's own length
(``acc_norm``: characters, ``acc_bytes``: UTF-8 bytes); the target delimiter (" ") is scored but not counted.
The references here are lm-eval's own ``ConfigurableTask.process_results`` on the same hand-made log-likelihoods.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from workbench.data import Example, Pool
from workbench.errors import ConfigError
from workbench.evaluate.strategies import Strategy, parse_strategies
from workbench.prompts import PromptSpec

# (choices, their summed log-likelihoods): per byte with the delimiter's space counted the first case picks "ab"
# (-2/3 > -5/7), lm-eval's acc_bytes "abcdef" (-5/6 > -2/2); the second separates bytes from characters
# ("éé" is 2 characters, 4 bytes: per byte it wins, per character "abc" does).
CASES = [(("ab", "abcdef"), (-2.0, -5.0)), (("éé", "abc"), (-3.0, -4.0))]


def lm_eval_picks(choices: tuple[str, ...], lls: tuple[float, ...], tmp_path, monkeypatch) -> dict[str, str]:
    """lm-eval's own choice under acc, acc_norm and acc_bytes: the gold index its process_results scores 1."""
    from lm_eval.api.task import ConfigurableTask

    doc = {"q": "Which?", "options": list(choices), "gold": 0}
    (tmp_path / "docs.jsonl").write_text(json.dumps(doc) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    task = ConfigurableTask(config={
        "task": "norms", "dataset_path": "json", "output_type": "multiple_choice", "test_split": "test",
        "dataset_kwargs": {"data_files": {"test": "docs.jsonl"}, "cache_dir": str(tmp_path / "hf")},
        "doc_to_text": "Q: {{q}}\nA:", "doc_to_choice": "{{options}}", "doc_to_target": "gold",
        "metric_list": [{"metric": m} for m in ("acc", "acc_norm", "acc_bytes")]})
    results = [(ll, False) for ll in lls]
    picks = {}
    for metric in ("acc", "acc_norm", "acc_bytes"):
        won = [i for i in range(len(choices)) if task.process_results({**doc, "gold": i}, results)[metric] == 1.0]
        assert len(won) == 1
        picks[metric] = choices[won[0]]
    return picks


def our_picks(choices: tuple[str, ...], lls: tuple[float, ...], tmp_path, backend) -> dict[str, tuple]:
    """The workbench's label scoring of the same log-likelihoods: name -> (answer, rule, scores)."""
    from workbench.evaluate.runner import evaluate
    from workbench.store import open_store

    pool = Pool("p", (Example("1", "Which?", choices[0]),))
    spec = PromptSpec(answer_format="label", labels=choices)
    backend.scores = dict(zip(choices, lls, strict=True))
    strategies = parse_strategies(["zero+score", "zero+norm_char", "zero+norm"], spec, pool)
    with open_store(tmp_path / "wb.db") as store:
        run = evaluate(pool, None, strategies, backend, store)
        return {r["strategy"]: (r["extracted"], r["rule"], r["logliks"]) for r in store.results(run.run_id)}


@pytest.mark.parametrize(("choices", "lls"), CASES, ids=["delimiter", "bytes-vs-chars"])
def test_per_byte_and_per_character_scores_pick_as_lm_evals_acc_bytes_and_acc_norm(choices, lls, tmp_path,
                                                                                     monkeypatch, fake_backend):
    theirs = lm_eval_picks(choices, lls, tmp_path, monkeypatch)
    ours = our_picks(choices, lls, tmp_path, fake_backend)
    assert ours["zero+score"][0] == theirs["acc"]
    assert ours["zero+norm_char"][0] == theirs["acc_norm"]
    assert ours["zero+norm"][0] == theirs["acc_bytes"]
    assert ours["zero+norm"][1] == "label_score_per_byte"
    # The scores themselves: the log-likelihood over the choice's bytes, the delimiter's space not counted.
    pairs = list(zip(choices, lls, strict=True))
    assert ours["zero+norm"][2] == pytest.approx({c: ll / len(c.encode("utf-8")) for c, ll in pairs})
    assert ours["zero+norm_char"][2] == pytest.approx({c: ll / len(c) for c, ll in pairs})


def test_the_cases_tell_the_definitions_apart():
    """Each case separates what it claims to (else the test above could pass on the old denominators)."""
    (a, b), (lla, llb) = CASES[0]
    assert (lla / len(" " + a) > llb / len(" " + b)) and (lla / len(a) < llb / len(b))
    (c, d), (llc, lld) = CASES[1]
    assert (llc / len(c.encode()) > lld / len(d.encode())) and (llc / len(c) < lld / len(d))


# --------------------------------------------------------------------------- D8: calibration of probabilities

SPEC = PromptSpec(answer_format="label", labels=("positive", "negative"))
POOL = Pool("p", (Example("1", "Fine.", "positive"), Example("2", "Bad.", "negative")))


@pytest.mark.parametrize("norm", ["byte", "token", "char"])
def test_calibrating_a_length_normalised_score_is_refused_in_one_line(norm):
    """Zhao et al.'s reference (tonyzhaozh/few-shot-learning run_classification.py) calibrates the label's
    probability -- one-token labels (params_check), never divided by a length -- so a per-byte score is refused."""
    with pytest.raises(ConfigError) as err:
        Strategy(name="knn4", spec=SPEC, selector="knn", k=4, answer="score", calibrate=True, score_norm=norm)
    assert str(err.value) == (f"knn4: contextual calibration corrects the label words' probabilities, and a score "
                              f"per {norm} is not one; calibrate summed scores (+cal without +norm) or normalise "
                              "without +cal.")
    modifier = {"byte": "norm", "token": "norm_token", "char": "norm_char"}[norm]
    with pytest.raises(ConfigError, match="contextual calibration corrects the label words' probabilities"):
        parse_strategies([f"knn4+{modifier}+cal"], SPEC, POOL)
    fine = parse_strategies(["knn4+score+cal", f"knn4+{modifier}"], SPEC, POOL)
    assert [(s.calibrate, s.score_norm) for s in fine] == [(True, "sum"), (False, norm)]


def test_the_cli_refuses_calibrate_with_a_score_norm_in_one_line():
    res = subprocess.run([sys.executable, "-m", "workbench", "eval", "--dataset", "sentiment", "--strategies",
                          "zero+score", "--calibrate", "--score-norm", "byte", "--no-progress"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert res.returncode == 2, res.stderr
    assert res.stderr == ("error: zero+score: contextual calibration corrects the label words' probabilities, and "
                          "a score per byte is not one; calibrate summed scores (+cal without +norm) or normalise "
                          "without +cal.\n")
