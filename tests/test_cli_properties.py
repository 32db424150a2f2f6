"""Property-based checks (Hypothesis) of the CLI's output rules: random text with control characters never
reaches a terminal raw, never opens a CSV cell as a formula, and any number typed as a run id is a run id or
one argparse line -- never an OverflowError.
"""

from __future__ import annotations

import argparse
import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.cli.common import MAX_RUN_ID, run_id, run_ref, shown, shown_json
from workbench.csvsafe import TRIGGERS, neutral, rows_to_csv
from workbench.store.names import unprintable

pytestmark = pytest.mark.timeout(300)
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True)
#: Text as hostile as it comes: any code point (controls, bidi overrides, separators, surrogates excluded by
#: Hypothesis' default), weighted towards the characters that matter here.
HOSTILE = st.text(st.one_of(st.characters(), st.sampled_from(["\x1b", "\x07", "\x9b", "\u202e", "\u2028", "=", "+",
                                                               "-", "@", "\t", "\r", "\n", ";", ",", '"', "'"])))


@SETTINGS
@given(st.lists(st.tuples(HOSTILE, HOSTILE, st.one_of(st.none(), st.integers(), st.floats(allow_nan=False),
                                                      HOSTILE)), max_size=5), HOSTILE)
def test_a_csv_reads_back_as_neutral_cells_and_no_text_cell_opens_as_a_formula(rows, column):
    fields = ["a", "b", "c", column]
    dicts = [dict(zip(fields, (*row, row[0]), strict=True)) for row in rows]
    for terminator in ("\n", "\r\n"):
        text = rows_to_csv(fields, dicts, lineterminator=terminator)
        back = list(csv.reader(io.StringIO(text, newline="")))
        assert back[0] == [str(neutral(f)) for f in fields]
        assert back[1:] == [[str(neutral(d.get(f))) for f in fields] for d in dicts]
        for cell in (c for line in back for c in line):
            assert not cell.startswith(TRIGGERS) or _is_number(cell)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return cell.isascii()


@SETTINGS
@given(st.one_of(st.integers(min_value=-(10**40), max_value=10**40).map(str), HOSTILE,
                 st.integers(min_value=0, max_value=4000).map(lambda n: "9" * n)))
def test_any_run_id_typed_is_a_stored_range_id_or_one_argparse_line(text):
    try:
        value = run_id(text)
    except argparse.ArgumentTypeError as err:
        assert "\n" not in str(err) and not any(unprintable(c) for c in str(err))
        assert len(str(err)) < 300
    else:
        assert 1 <= value <= MAX_RUN_ID
    digits = text.strip().isascii() and text.strip().isdigit()
    try:
        ref = run_ref(text)  # "a run id or a run.jsonl": digits are an id, anything else a path
    except argparse.ArgumentTypeError:
        assert digits
    else:
        assert isinstance(ref, int) == digits


@SETTINGS
@given(HOSTILE, st.integers(min_value=0, max_value=10**6))
def test_a_strategy_name_in_the_eval_table_is_never_sent_raw(name, n):
    from workbench.cli.eval import format_table
    from workbench.evaluate.metrics import StrategySummary

    table = format_table([StrategySummary(strategy=name, n=n, correct=0, accuracy=0.0, ci_low=0.0, ci_high=1.0,
                                          seconds=1.0)])
    assert not any(unprintable(c) for c in table.replace("\n", ""))
    assert shown(name) in table


@SETTINGS
@given(HOSTILE)
def test_the_terminal_helpers_never_pass_a_control_character(text):
    """shown/shown_json are the one door to the terminal: nothing unprintable passes (line breaks only where
    kept), and printable text passes unchanged."""
    assert not any(unprintable(c) for c in shown(text))
    assert not any(unprintable(c) for c in shown(text, keep="\n").replace("\n", ""))
    assert not any(unprintable(c) for c in shown_json({"k": text, text: [text]}))
    if not any(unprintable(c) for c in text):
        assert shown(text) == text


@pytest.mark.parametrize("command", [("runs", "show"), ("sets", "show"), ("prompt", "render")])
@settings(max_examples=40, deadline=None, derandomize=True)
@given(text=HOSTILE.filter(lambda t: t.strip() and not t.strip().isdigit() and not t.startswith("-")))
def test_a_hostile_name_given_to_a_command_is_one_printable_error_line(command, text, tmp_path_factory):
    """A path or name the user types (control characters, bidi overrides, NUL, separators) reaches stderr as one
    escaped line, exit 2: never raw, never a traceback."""
    import contextlib
    import os

    from workbench.cli import main

    before = os.environ.get("WORKBENCH_DATA_DIR")
    os.environ["WORKBENCH_DATA_DIR"] = str(tmp_path_factory.mktemp("store"))
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main([*command, text, *(["--input", "x"] if command[0] == "prompt" else [])])
            except SystemExit as exit_:  # argparse's one line
                code = exit_.code
    finally:
        if before is None:
            os.environ.pop("WORKBENCH_DATA_DIR")
        else:
            os.environ["WORKBENCH_DATA_DIR"] = before
    lines = err.getvalue().strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()
    assert not any(unprintable(c) for c in lines[0])
