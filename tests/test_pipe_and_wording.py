"""Error and message polish (review #27, finding 14): a closed stdout (``| head``) is no traceback
(workbench/cli/__init__.py main); a template failing in Python's own words reads as a sentence
(workbench/sandbox.py _prompt_error)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from workbench.errors import PromptError
from workbench.sandbox import render_text


def test_a_reader_that_left_is_no_traceback():
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: every write is EPIPE
    try:
        res = subprocess.run([sys.executable, "-m", "workbench", "schema", "all"], cwd=ROOT, stdout=write,
                             stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert res.stderr == "" and res.returncode == 1


@pytest.mark.parametrize(("template", "said"), [
    ("{% for i in range(1000000) %}x{% endfor %}", "The prompt template failed: Range too big. The sandbox blocks "
                                                   "ranges larger than MAX_RANGE (100000) (OverflowError)."),
    ("{{ 10 // 0 }}", "The prompt template failed: integer division or modulo by zero (ZeroDivisionError)."),
])
def test_a_template_failing_in_pythons_words_reads_as_a_sentence(template, said):
    with pytest.raises(PromptError) as err:
        render_text(template, {}, "prompt template")
    assert str(err.value) == said
