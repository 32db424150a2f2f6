"""Every number a user types is either taken as typed or refused with one red line under its field, and the
page's action waits (issue 33 item 3): no browser tooltip, no silent clamp, and ``1e3`` is 1000, never 1 (Streamlit's
whole-number input reads it with JavaScript's parseInt).

The fields are found from the code: :func:`numeric_inputs` reads every ``number_field(…)`` / ``number_input(…)`` /
``slider(…)`` call of app.py, views/ and ui/ (labels written in the call, or in the tables a loop draws them from),
and the table below must name each of them with the page where it is and the action it holds back.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import pytest

from tests.e2e.harness import (
    ROOT,
    button,
    open_page,
    open_tab,
    page_problems,
    rerun,
    select_option,
    wait_ready,
)

pytestmark = pytest.mark.e2e

#: The tables some call sites draw their labels from (a loop over them): file -> module attribute -> label position.
LABEL_TABLES = {"ui/decoding_controls.py": ("ui.decoding_controls", "DECODING_FIELDS"),
                "ui/autocot.py": ("ui.autocot", "NUMBERS")}


@dataclass(frozen=True)
class Field:
    script: str  # the page that draws it
    label: str
    action: str  # the button the page holds back while the field is invalid ("" : the panel is not drawn)
    tab: str = ""  # a tab to open first
    custom: bool = False  # a decoding setting a preset fixes: pick the Custom preset first
    nth: int = 0  # among several fields with this label on the page


DECODING = ("temperature", "top_k (0 = off)", "top_p", "min_p", "typical_p", "repetition_penalty", "max_new_tokens",
            "seed")
HOME, BUILDER, DEMOS, AUTOCOT, LAB, EVALUATE, SPECULATIVE = (
    "app.py", "views/1_Prompt_Builder.py", "views/2_Demonstrations.py", "views/3_Auto-CoT.py",
    "views/4_Decoding_Lab.py", "views/5_Evaluate.py", "views/7_Speculative_Decoding.py")
AUTOCOT_FIELDS = ("Demonstrations k (clusters)", "Max rationale steps", "Max question words",
                  "Rationales tried per cluster", "Questions used (0 = all)", "max_new_tokens per rationale",
                  "k-means++ seed")
FIELDS = [
    # decoding_controls: every setting once (on the home page), then max_new_tokens on each page that has them
    *(Field(HOME, label, "Generate", custom=label not in ("max_new_tokens", "seed")) for label in DECODING),
    Field(BUILDER, "K", "Run"),
    Field(BUILDER, "max_new_tokens", "Run"),
    Field(DEMOS, "K demonstrations", "Run"),
    Field(DEMOS, "Seed (random selector / order, k-means)", "Run"),
    Field(DEMOS, "max_new_tokens", "Run"),
    *(Field(AUTOCOT, label, "Build demonstrations") for label in AUTOCOT_FIELDS),
    Field(LAB, "Decoding configs to compare", "Run"),
    Field(LAB, "Run each config N times (sampled configs; seeds seed, seed+1, …)", "Run"),
    Field(LAB, "max_new_tokens", "Run"),
    Field(LAB, "Tokens shown", "", tab="Probability explorer"),
    Field(LAB, "Reasoning paths", "Sample and vote", tab="Self-consistency"),
    Field(EVALUATE, "K demonstrations", "Run"),
    Field(EVALUATE, "Items (0 = all)", "Run"),
    Field(EVALUATE, "Seed (random demos, sampling)", "Run"),
    Field(SPECULATIVE, "Draft tokens per step", "Run"),
    Field(SPECULATIVE, "n-gram size", "Run"),
    Field(SPECULATIVE, "Timed runs of each (interleaved, medians)", "Run"),
    Field(SPECULATIVE, "max_new_tokens", "Run"),
]
#: Fields found in the code that this file does not type into, and why (each has its own browser or AppTest).
NOT_HERE = {
    "Self-consistency samples": "Evaluate: enabled only with the sc strategy (tests/app/test_evaluate.py)",
    "Orders P": "Evaluate: shown only after a run (tests/e2e/test_evaluate.py)",
    "Cap max_new_tokens (0 = as the set says)": "Library: inside an opened set's Run tab (tests/e2e/test_library.py)",
    "MMR λ (1 = similarity only, 0 = diversity only)": "a slider: it cannot hold a value out of its range",
    "Threshold": "Evaluate: an assertion row's, drawn after Add an assertion; its range is the type's "
                 "(tests/app/test_evaluate_judging.py)",
    "Weight": "Evaluate: an assertion row's, drawn after Add an assertion (tests/app/test_evaluate_judging.py)",
    "Pass threshold (weighted score)": "Evaluate: in the Judging box; empty is a choice, out of 0..1 is one line "
                                       "(tests/app/test_evaluate_judging.py)",
    "Repeat each item": "Evaluate: in the Judging box (tests/app/test_evaluate_judging.py)",
    "Temperature of the repeats": "Evaluate: in the Judging box (tests/app/test_evaluate_judging.py)",
    "Tests (0 = all)": "Evaluate: drawn once a promptfoo config or an lm-eval task is read "
                       "(tests/app/test_evaluate_config.py)",
    "Formats": "Evaluate: the format spread in the Order tab, after a strategy without CoT is chosen "
               "(tests/app/test_formats.py)",
    "Format demonstrations": "Evaluate: the format spread in the Order tab (tests/app/test_formats.py)",
}


def _label_of(call: ast.Call, name: str) -> ast.expr | None:
    args = call.args[1:] if name == "number_field" else call.args
    if args:
        return args[0]
    return next((k.value for k in call.keywords if k.arg == "label"), None)


def numeric_inputs() -> dict[str, set[str]]:
    """Every numeric input of the app: file -> labels, read from the code. A raw ``number_input`` outside
    ``number_field`` is reported as ``"RAW number_input: <label>"`` (it would refuse values silently)."""
    found: dict[str, set[str]] = {}
    files = [ROOT / "app.py", *sorted((ROOT / "views").glob("*.py")), *sorted((ROOT / "ui").glob("*.py"))]
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text())
        inside = [range(f.lineno, f.end_lineno + 1) for f in ast.walk(tree)
                  if isinstance(f, ast.FunctionDef) and f.name == "number_field"]  # the one place it is drawn
        for call in ast.walk(tree):
            if isinstance(call, ast.Call):
                func = call.func
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                if name not in ("number_field", "number_input", "slider"):
                    continue
                if name == "number_input" and any(call.lineno in r for r in inside):
                    continue
                label = _label_of(call, name)
                labels = set()
                if isinstance(label, ast.Constant) and isinstance(label.value, str):
                    labels.add(label.value)
                elif isinstance(label, ast.JoinedStr | ast.Name) and rel in LABEL_TABLES:
                    module, table = LABEL_TABLES[rel]
                    labels |= {row[0] for row in vars(__import__(module, fromlist=[table]))[table].values()}
                else:
                    labels.add(f"UNREADABLE label in {rel}:{call.lineno}")
                if name == "number_input":
                    labels = {f"RAW number_input: {x}" for x in labels}
                found.setdefault(rel, set()).update(labels)
    return found


def test_every_numeric_input_in_the_code_goes_through_number_field_and_is_listed_here():
    found = numeric_inputs()
    every = {label for labels in found.values() for label in labels}
    raw = sorted(x for x in every if x.startswith(("RAW", "UNREADABLE")))
    assert raw == [], "a number_input outside ui.fields.number_field refuses values silently; use number_field"
    listed = {f.label for f in FIELDS} | set(NOT_HERE)
    assert every - listed == set(), "a numeric input no browser test types into: add it to FIELDS"
    assert listed - every == set(), "FIELDS names a field the code no longer has"


def _reach(page, app, field: Field) -> None:
    open_page(page, app, field.script)
    if field.tab:
        open_tab(page, field.tab)
        wait_ready(page)
    if field.custom:
        select_option(page, "Decoding preset", "Custom")


def _type(page, field: Field, text: str) -> None:
    box = page.get_by_label(field.label, exact=True).nth(field.nth)
    if not box.is_visible():
        box.locator("xpath=ancestor::details[1]/summary").click()
    with rerun(page, start_timeout_ms=10_000):
        box.fill(text)
        box.press("Enter")


def _line_under(page, field: Field) -> str:
    """The red line(s) of the page that mention the field (the number_field's line under it)."""
    return " | ".join(p for p in page_problems(page) if field.label.split(" (")[0] in p or "must" in p)


def _held_back(page, field: Field) -> bool:
    if not field.action:
        return page.get_by_role("button", name="Greedy step").count() == 0
    return button(page, field.action).first.is_disabled()


@pytest.mark.parametrize("field", FIELDS, ids=[f"{f.script.split('/')[-1][:-3]}:{f.label[:30]}" for f in FIELDS])
def test_a_number_out_of_range_is_said_under_its_field_and_1e3_is_a_thousand(page, app, field):
    _reach(page, app, field)
    assert page_problems(page) == []
    _type(page, field, "-3")
    line = _line_under(page, field)
    assert line, f"{field.label} = -3 was taken silently"
    assert _held_back(page, field), f"{field.label} = -3: the page's {field.action or 'panel'} still goes"
    _type(page, field, "1e3")
    box = page.get_by_label(field.label, exact=True).nth(field.nth)
    assert box.input_value() in ("1000", "1e3"), f"1e3 became {box.input_value()!r}"
    line = _line_under(page, field)
    if line:  # refused: the line says it read a thousand
        assert re.search(r"\b1000(\.0)?\b|1e\+?0?3", line), line
        assert _held_back(page, field)
