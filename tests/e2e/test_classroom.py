"""A classroom server in real browsers (WORKBENCH_CLASSROOM=1): every browser context is a student's browser with its
own workspace (its cookie); the teacher types the passcode; one browser's tabs share one fair share of the model.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.harness import (
    click_button,
    new_context,
    open_page,
    open_tab,
    page_problems,
    rerun,
    select_option,
    serve,
    set_number,
    set_text_area,
    wait_for_text,
    wait_ready,
)
from workbench.promptsets.files import classroom_sets

pytestmark = pytest.mark.e2e

PASSCODE = "e2e-teacher-passcode"
DEMO = classroom_sets()["zero_vs_few_shot"]
SET = "Student A's set"
COOKIE = "workbench_ws"
REFUSAL = "You already have a generation waiting; wait for it or press Stop."
#: The home page's Generate button (by its key: its accessible name also holds its keyboard shortcut).
GENERATE = ".st-key-home_go button"


@pytest.fixture(scope="module")
def classroom(browser, tmp_path_factory) -> str:
    """A classroom server (on loopback, classroom mode by its setting) with a known teacher passcode."""
    env = {"WORKBENCH_CLASSROOM": "1", "WORKBENCH_TEACHER_PASSCODE": PASSCODE}
    with serve(tmp_path_factory.mktemp("classroom-e2e"), env=env) as srv:
        yield srv.url


def workspace_cookie(context, page) -> str:
    """The browser's workspace id, once the app has set its cookie."""
    page.wait_for_function(f"() => document.cookie.includes('{COOKIE}=')", timeout=30_000)
    return next(c["value"] for c in context.cookies() if c["name"] == COOKIE)


def library(context, url: str):
    page = context.new_page()
    open_page(page, url, "views/6_Library.py")
    return page


def listed(page, name: str) -> bool:
    """The library (its overview table when no set is open) lists a set of this name."""
    wait_ready(page)
    return page.get_by_text(re.compile("^" + re.escape(name))).count() > 0


def type_passcode(page, passcode: str) -> None:
    summary = page.locator('[data-testid="stSidebar"] [data-testid="stExpander"] summary', has_text="Teacher")
    if summary.locator("xpath=..").get_attribute("open") is None:
        summary.click()
    box = page.get_by_label("Teacher passcode", exact=True)
    with rerun(page):
        box.fill(passcode)
        box.press("Enter")


def test_a_students_set_is_theirs_and_the_teacher_with_the_passcode_may_delete_it(browser, classroom):
    student_a, student_b, teacher = new_context(browser), new_context(browser), new_context(browser)
    try:
        a = library(student_a, classroom)
        ws_a = workspace_cookie(student_a, a)
        select_option(a, re.compile(r"^Open a set"), f"🎓 {DEMO.name}")
        open_tab(a, "Save & manage")
        set_text_area(a, "Name of the copy", SET)
        with rerun(a):
            click_button(a, "Save a copy to my library")
        wait_for_text(a, f"Saved a copy as \"{SET}\"; it is open now.", timeout_ms=30_000)
        a.reload()  # the workspace outlives a reload: the set is still A's
        open_page(a, classroom, "views/6_Library.py")
        assert listed(a, SET) and workspace_cookie(student_a, a) == ws_a

        b = library(student_b, classroom)
        assert workspace_cookie(student_b, b) != ws_a
        assert not listed(b, SET)  # not in B's library: B can neither open, rename nor delete it
        set_text_area(b, "Search by name or tag", "Student")
        wait_for_text(b, "Open a set (0 found", timeout_ms=30_000)
        type_passcode(b, "a guess")
        wait_for_text(b, "That is not the teacher passcode.", timeout_ms=30_000)
        assert not listed(b, SET)

        t = library(teacher, classroom)
        assert not listed(t, SET)
        type_passcode(t, PASSCODE)
        wait_for_text(t, "Teacher mode: you see every workspace", timeout_ms=30_000)
        assert PASSCODE not in t.content()  # never in the page
        select_option(t, re.compile(r"^Open a set"), f"💾 {SET} · workspace {ws_a[:6]}")
        open_tab(t, "Save & manage")
        with rerun(t):
            click_button(t, "Delete…")
        with rerun(t):
            click_button(t, "Yes, delete it")
        wait_for_text(t, f"Deleted \"{SET}\".", timeout_ms=30_000)
        assert page_problems(t) == []

        a.reload()
        open_page(a, classroom, "views/6_Library.py")
        assert not listed(a, SET)  # the teacher deleted it
        assert page_problems(a) == []
    finally:
        for context in (student_a, student_b, teacher):
            context.close()


def home_tab(context, url: str, max_new: int):
    page = context.new_page()
    open_page(page, url)
    set_text_area(page, "Prompt", "Once upon a time, in a small village by the sea,")
    set_number(page, "max_new_tokens", max_new)
    return page


def test_three_tabs_of_one_browser_get_one_running_one_waiting_and_a_one_line_refusal(browser, classroom):
    student, other = new_context(browser), new_context(browser)
    try:
        first = home_tab(student, classroom, 800)
        workspace_cookie(student, first)  # the tabs opened next are the same browser: the same workspace
        second = home_tab(student, classroom, 8)
        third = home_tab(student, classroom, 8)
        classmate = home_tab(other, classroom, 8)

        first.locator(GENERATE).click()
        first.get_by_role("button", name="Stop", exact=True).wait_for(timeout=60_000)
        second.locator(GENERATE).click()
        wait_for_text(second, re.compile(r"Waiting for the model: .*you are number 1 in the queue"), timeout_ms=60_000)
        third.locator(GENERATE).click()
        wait_for_text(third, REFUSAL, timeout_ms=60_000)
        wait_ready(third)
        assert [p.removeprefix("⚠️") for p in page_problems(third)] == [REFUSAL]  # one line, no traceback
        classmate.locator(GENERATE).click()  # another student still queues, behind the waiting tab
        wait_for_text(classmate, re.compile(r"Waiting for the model: .*you are number 2 in the queue"),
                      timeout_ms=60_000)

        click_button(first, "Stop")
        wait_for_text(second, "8 tokens in", timeout_ms=120_000)
        wait_for_text(classmate, "8 tokens in", timeout_ms=120_000)
        assert page_problems(second) == [] and page_problems(classmate) == []
    finally:
        student.close()
        other.close()
