"""The ``kojima`` extraction style against a literal transcription of Kojima et al.'s ``answer_cleansing``
(kojima-takeshi188/zero_shot_cot utils.py) as the oracle (D1), the case-insensitive trigger search on the
original text (D12) and Zero-shot-CoT's answer prompt with the reasoning as generated (D9)."""

from __future__ import annotations

import re

import pytest

from workbench.answers import EXTRACTION_STYLES, extract, is_correct
from workbench.errors import ConfigError, PromptError
from workbench.prompts.running import answer_prompt, extract_answer
from workbench.prompts.spec import PromptSpec

TRIGGER = "The answer is"  # args.direct_answer_trigger_for_fewshot


def reference_answer_cleansing(dataset: str, method: str, pred: str) -> str:
    """utils.py ``answer_cleansing`` (ver 0.2), transcribed line by line (prints left out)."""
    if method in ("few_shot", "few_shot_cot"):
        preds = pred.split(TRIGGER)
        answer_flag = True if len(preds) > 1 else False
        pred = preds[-1]

    if dataset in ("aqua", "commonsensqa"):
        pred = re.findall(r'A|B|C|D|E', pred)
    elif dataset == "bigbench_date":
        pred = re.findall(r'A|B|C|D|E|F', pred)
    elif dataset in ("object_tracking"):
        pred = re.findall(r'A|B|C', pred)
    elif dataset in ("gsm8k", "addsub", "multiarith", "svamp", "singleeq"):
        pred = pred.replace(",", "")
        pred = [s for s in re.findall(r'-?\d+\.?\d*', pred)]
    elif dataset in ("strategyqa", "coin_flip"):
        pred = pred.lower()
        pred = re.sub("\"|\'|\n|\.|\s|\:|\,", " ", pred)  # noqa: W605 -- the reference's own string
        pred = pred.split(" ")
        pred = [i for i in pred if i in ("yes", "no")]
    elif dataset == "last_letters":
        pred = re.sub("\"|\'|\n|\.|\s", "", pred)  # noqa: W605
        pred = [pred]
    else:
        raise ValueError("dataset is not properly defined ...")

    if len(pred) == 0:
        pred = ""
    else:
        if method in ("few_shot", "few_shot_cot"):
            if answer_flag:
                pred = pred[0]
            else:
                pred = pred[-1]
        elif method in ("zero_shot", "zero_shot_cot"):
            pred = pred[0]
        else:
            raise ValueError("method is not properly defined ...")

    if pred != "":
        if pred[-1] == ".":
            pred = pred[:-1]
    return pred


#: Kojima's dataset -> (our answer format, the item's letters).
FAMILIES = {
    "multiarith": ("number", None), "addsub": ("number", None), "singleeq": ("number", None),
    "gsm8k": ("number", None), "svamp": ("number", None),
    "aqua": ("choice", "ABCDE"), "commonsensqa": ("choice", "ABCDE"), "bigbench_date": ("choice", "ABCDEF"),
    "object_tracking": ("choice", "ABC"),
    "strategyqa": ("yes_no", None), "coin_flip": ("yes_no", None),
    "last_letters": ("free", None),
}

NUMBER_OUTPUTS = [
    " 8", " 8.", " 1,250.50 dollars.", " -3 degrees, not 5.", "He had 3 apples. The answer is 8.",
    "The answer is 1,000. The answer is 2,500.", "So 5-3 = 2. The answer is", "the answer is 12 and 13",
    " $14.00.", "There were 7 cats and 12 dogs, 19 in all.", "no number here", " 3.5.5",
    "The answer is -0.5.", " 08 apples", "The answer is: 4\nQ: 7 more", " 2. 3. 4.",
]
CHOICE_OUTPUTS = [
    " (C)", " C.", "Because (D) is wrong", "The answer is (B). Also E.", "Among A through E, the answer is D",
    "a bank, or (E) mall", " Bank", "The answer is Dave's (A)", "answer: f", "(F) is right", " (E) and (F)",
    "The answer is the bank. (C)", "Eventually D", "The answer is The answer is A",
]
YES_NO_OUTPUTS = [
    " Yes.", " No, because yes is wrong.", "The answer is no.", "Yes, no, maybe", "\"yes\"", "yes:no",
    "Not yes. The answer is \"Yes\".", "It is unknown", "Yesterday, no", "The answer is no\nyes", " NO.",
    "the answer is yes, The answer is", "yes,no.", "I say... no.",
]
TEXT_OUTPUTS = [
    " nlye", " \"nl ye\".", " n l y e.", "The answer is \"ky\".", "'ab'\ncd", "", " .", "The answer is sa. so",
    "Abc.Def", " ki\tng", "The answer is", "a'b\"c",
]

CASES = ([(d, o) for d in ("multiarith", "gsm8k", "addsub", "singleeq", "svamp") for o in NUMBER_OUTPUTS]
         + [(d, o) for d in ("aqua", "commonsensqa", "bigbench_date", "object_tracking") for o in CHOICE_OUTPUTS]
         + [(d, o) for d in ("strategyqa", "coin_flip") for o in YES_NO_OUTPUTS]
         + [("last_letters", o) for o in TEXT_OUTPUTS])


def ours(dataset: str, method: str, output: str) -> str:
    fmt, letters = FAMILIES[dataset]
    kwargs = {"after_trigger": True} if method.startswith("zero_shot") else {"trigger": TRIGGER}
    got = extract(output, fmt, letters, style="kojima", **kwargs)
    return "" if got.answer is None else got.answer


@pytest.mark.parametrize("method", ["zero_shot", "zero_shot_cot", "few_shot", "few_shot_cot"])
@pytest.mark.parametrize(("dataset", "output"), CASES)
def test_kojima_style_equals_the_reference(dataset, output, method):
    assert ours(dataset, method, output) == reference_answer_cleansing(dataset, method, output)


@pytest.mark.parametrize(("text", "fmt", "kwargs", "lenient", "kojima"), [
    # The trigger is case-sensitive in the reference ("the answer is" is not it): the last number.
    ("the answer is 12 and 13", "number", {"trigger": TRIGGER}, "12", "13"),
    # A leading Yes does not win over the last yes/no.
    ("Yes. The data say no", "yes_no", {}, "yes", "no"),
    # Bracketed letters are not preferred: any capital letter counts, "B" of "Because" included.
    ("Because (D) is wrong", "choice", {"after_trigger": True}, "D", "B"),
    # "The answer is" followed by nothing: the reference finds no number after it ("").
    ("So 5-3 = 2. The answer is", "number", {"trigger": TRIGGER}, "2", None),
    # Numbers are not made canonical.
    (" 1,250.50 dollars.", "number", {"after_trigger": True}, "1250.5", "1250.50"),
])
def test_the_two_styles_differ_where_the_issue_says(text, fmt, kwargs, lenient, kojima):
    assert extract(text, fmt, **kwargs).answer == lenient
    assert extract(text, fmt, **kwargs, style="kojima").answer == kojima


def test_kojima_labels_take_the_last_label_without_a_trigger_and_the_first_after_it():
    labels = ("positive", "negative")
    assert extract("Negative? No: positive.", "label", labels, style="kojima").answer == "positive"
    assert extract("Negative? No: positive.", "label", labels).answer == "negative"  # lenient: the first label
    got = extract("The answer is Negative, not positive", "label", labels, trigger=TRIGGER, style="kojima")
    assert (got.answer, got.rule) == ("negative", "kojima_first_after_trigger")
    many = ("very positive", "positive")
    assert extract(" very  positive.", "label", many, after_trigger=True, style="kojima").answer == "very positive"


def test_kojima_compares_the_same_string_lenient_numerically():
    assert is_correct("8.0", "8", "number") and not is_correct("8.0", "8", "number", style="kojima")
    assert is_correct("8", " 8\n", "number", style="kojima")  # the gold is stripped (main.py: y.strip())
    assert not is_correct("Yes", "yes", "yes_no", style="kojima") and is_correct("yes", "yes", "yes_no", style="kojima")
    assert not is_correct(None, "8", "number", style="kojima")


def test_an_unknown_style_is_one_line():
    assert list(EXTRACTION_STYLES) == ["lenient", "kojima"]
    with pytest.raises(ConfigError, match=r"^Unknown extraction style 'paper'; use one of: lenient, kojima\.$"):
        extract("8", "number", style="paper")
    with pytest.raises(ConfigError, match="capital letters"):
        extract("b", "choice", "ab", style="kojima")
    with pytest.raises(ConfigError, match="needs at least one label"):
        extract("b", "label", (), style="kojima")


def test_a_spec_reads_its_answers_in_its_style():
    spec = PromptSpec(reasoning="zero_shot_cot", answer_format="number", extract="kojima")
    assert extract_answer(spec, " 1,250.50 dollars.").answer == "1250.50"
    assert extract_answer(spec.replace(extract="lenient"), " 1,250.50 dollars.").answer == "1250.5"
    assert spec.to_dict()["extract"] == "kojima" and "extract" not in spec.replace(extract="lenient").to_dict()
    assert PromptSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(PromptError, match=r"^Unknown extraction style 'x'; choose one of lenient, kojima\.$"):
        PromptSpec(extract="x")


# ---- D12: the trigger is searched case-insensitively in the original text


def test_trigger_cut_is_not_shifted_by_a_longer_lower_case():
    # "İ".lower() is two characters; an index from the lowered copy cut "17" to "7".
    got = extract("İİ. The answer is 17.", "number", trigger="The answer is")
    assert (got.answer, got.rule) == ("17", "first_number_after_trigger")
    assert extract("İİİİ THE ANSWER IS (B), not C", "choice", trigger="The answer is").answer == "B"
    assert extract("ẞİ. the answer is no, yes", "yes_no", trigger="The answer is").answer == "no"


# ---- D9: Zero-shot-CoT's second prompt holds the reasoning as generated


def test_answer_prompt_keeps_the_reasoning_as_generated():
    spec = PromptSpec(reasoning="zero_shot_cot", answer_format="number")
    stage1 = "Q: 1 + 6\nA: Let's think step by step."
    got = answer_prompt(spec, stage1, " 1 plus 6 is 7. \n")
    assert got == stage1 + " 1 plus 6 is 7. \n" + "\n" + "Therefore, the answer (arabic numerals) is"


# ---- --extract on `workbench eval`, the manifest and `runs show` (real model, 2 items)


def test_eval_extract_kojima_is_recorded_shown_and_kept_on_resume():
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT
    from workbench.store import open_store

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=300, env=os.environ.copy())

    res = cli("eval", "--dataset", "arithmetic", "--strategies", "zero", "--limit", "2", "--extract", "kojima",
              "--json", "--no-progress")
    assert res.returncode == 0, res.stderr
    run_id = json.loads(res.stdout)["run_id"]
    with open_store() as store:
        meta = store.get_run(run_id).meta
        records = store.results(run_id)
    assert meta["manifest"]["extract"] == "kojima" and meta["strategies"][0]["spec"]["extract"] == "kojima"
    assert len(records) == 2 and all(r["rule"].startswith("kojima_") for r in records)
    shown = cli("runs", "show", str(run_id))
    assert shown.returncode == 0, shown.stderr
    assert "  answer extraction kojima" in shown.stdout.splitlines()
    other = cli("eval", "--dataset", "arithmetic", "--resume", str(run_id), "--extract", "lenient", "--no-progress")
    assert (other.returncode, other.stdout) == (2, "")
    assert other.stderr.strip() == (f"error: Run {run_id} read its answers another way than --extract lenient; "
                                    "resume it without --extract or start a new run.")
    bad = cli("eval", "--dataset", "arithmetic", "--extract", "paper", "--no-progress")
    assert bad.returncode == 2 and "invalid choice: 'paper'" in bad.stderr


def test_an_evaluate_record_is_judged_as_its_style_compares():
    from workbench.data import Example
    from workbench.evaluate.answer_modes import MODES

    item = Example(id="1", input="2+6?", answer="8")
    assert MODES["generate"].judge("8.0", item, "number") is True
    assert MODES["generate"].judge("8.0", item, "number", "kojima") is False
    assert MODES["generate"].judge("8", item, "number", "kojima") is True
