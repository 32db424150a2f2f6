"""Drive the real app in a real browser: start a Streamlit server, launch Chromium, act on pages.

Plain functions (no pytest) so that the E2E tests and ``bench/classroom.py`` share
them. A page flow reads like a user's actions::

    open_page(page, url, "views/1_Prompt_Builder.py")
    set_text_area(page, "Prompt", "One, two, three,")
    click_button(page, "Generate")
    wait_for_text(page, "tokens/s")
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Debian's Chromium; Playwright must never download its own browser.
CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--no-sandbox",  # CI runs as root in a container
    "--disable-gpu",
    "--disable-background-networking",  # loopback only: no update checks, no safe-browsing lists
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
INSTALL_HINT = "Chromium not found at {path}; install it with `apt-get install chromium` (CI's .ci/run does this)."
#: The size every screenshot is taken at (a classroom laptop).
VIEWPORT = {"width": 1280, "height": 800}
#: llama.cpp threads of the servers started here. The browser runs on the same cores as the server, and
#: llama.cpp's busy-waiting threads slow down several times over when another process needs one of
#: "their" cores (measured: 8 sessions answered in 62 s with 2 threads on 2 cores, 14 s with 1).
SERVER_THREADS = os.environ.get("WORKBENCH_THREADS", "1")
SERVER_START_TIMEOUT_S = 60.0  # streamlit imports pandas/altair; slow on a busy 2-core machine
PAGE_READY_TIMEOUT_MS = 90_000  # first load of the JS bundle plus the first script run
GENERATION_TIMEOUT_MS = 240_000  # a short generation, possibly queued behind a class


def chromium_available() -> bool:
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def launch_browser(playwright):
    """Headless Debian Chromium with a fresh temporary profile (Playwright's default for ``launch``)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True)


#: Counts the app's script runs (``window.__wbRuns.started``) so an action can wait for the rerun it causes.
RUN_COUNTER_JS = """
window.__wbRuns = {started: 0, state: null};
new MutationObserver(() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app && app.dataset.testScriptState;
    if (state && state !== window.__wbRuns.state) {
        if (state === 'running') window.__wbRuns.started += 1;
        window.__wbRuns.state = state;
    }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-test-script-state']});
"""


def new_context(browser):
    """A browser context (own cookies and cache) whose pages count their script runs, at the screenshot size."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(RUN_COUNTER_JS)
    return context


def new_page(browser, context=None):
    """A page, by default in a context of its own. Every page (tab) is its own Streamlit session either way;
    tabs of one context share the HTTP cache, so a class of tabs loads the app's scripts once."""
    return (context or new_context(browser)).new_page()


# ---- the server ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    """A running ``streamlit run``: its base URL, process id, log file and data folder (its store)."""

    url: str
    pid: int
    log: Path
    data_dir: Path | None = None  # WORKBENCH_DATA_DIR of the server: workbench.db lives here


@contextmanager
def serve(data_dir: Path, app: str = "app.py", env: dict[str, str] | None = None) -> Iterator[Server]:
    """Run the app on a free loopback port until the block ends; the store lives in ``data_dir``.

    ``env``: extra environment variables of the server (e.g. a fault to inject).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ, WORKBENCH_DATA_DIR=str(data_dir / "data"), WORKBENCH_CACHE_DIR=str(data_dir / "cache"),
               HF_HUB_OFFLINE="1", WORKBENCH_THREADS=SERVER_THREADS, **(env or {}))
    log = data_dir / "streamlit.log"
    cmd = [sys.executable, "-m", "streamlit", "run", app, "--server.address", "127.0.0.1",
           "--server.port", str(port), "--server.headless", "true", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield Server(url, proc.pid, log, Path(env["WORKBENCH_DATA_DIR"]))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"streamlit did not answer {url}/_stcore/health in {SERVER_START_TIMEOUT_S} s")


def alive(server: Server) -> bool:
    """The server answers its health check."""
    try:
        with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def memory_kib(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of a process from /proc (VmRSS now, VmHWM peak), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


# ---- pages ---------------------------------------------------------------------------


def page_path(script: str | Path) -> str:
    """The URL path Streamlit gives a page file ("views/3_Auto-CoT.py" -> "Auto-CoT"; app.py -> "")."""
    from streamlit.source_util import page_icon_and_name

    script = Path(script)
    if script.parent.name != "views":
        return ""
    return page_icon_and_name(script)[1]


def page_files() -> list[str]:
    """The home page and every file in views/, in Streamlit's order; found afresh on each run."""
    from streamlit.source_util import page_sort_key

    pages = sorted((ROOT / "views").glob("*.py"), key=page_sort_key)
    return ["app.py", *(f"views/{p.name}" for p in pages)]


def open_page(page, base_url: str, script: str = "app.py") -> None:
    """Load a page and wait until its first script run has drawn the sidebar's model line."""
    page.goto(f"{base_url}/{page_path(script)}")
    # The sidebar's model section, drawn by the first run of every page (app.py's navigation runs each one).
    page.locator('[data-testid="stSidebar"]').get_by_text("Model", exact=True).first.wait_for(
        timeout=PAGE_READY_TIMEOUT_MS)
    wait_ready(page)


def wait_ready(page, timeout_ms: int = PAGE_READY_TIMEOUT_MS) -> None:
    """The script run has finished, the app is connected and every lazy widget has been drawn."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.dataset.testScriptState === 'notRunning'
                && app.dataset.testConnectionState === 'CONNECTED'
                && !document.querySelector('[data-testid^="stSkeleton"], [data-stale="true"]');
        }""",
        timeout=timeout_ms,
    )


def script_runs(page) -> int:
    """How many script runs this page has started so far."""
    return page.evaluate("() => window.__wbRuns ? window.__wbRuns.started : 0")


def wait_rerun(page, before: int, start_timeout_ms: int = 3_000) -> None:
    """Wait until a script run after the first ``before`` ones has started and finished.

    An action that changes nothing starts no run; after ``start_timeout_ms`` the wait gives up on it.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function("(n) => window.__wbRuns && window.__wbRuns.started > n", arg=before,
                               timeout=start_timeout_ms)
    except PlaywrightTimeout:
        pass
    wait_ready(page)


@contextmanager
def rerun(page, start_timeout_ms: int = 3_000):
    """Around an action that reruns the script: afterwards wait until that rerun has finished."""
    before = script_runs(page)
    yield
    wait_rerun(page, before, start_timeout_ms)


def set_text_area(page, label: str, text: str, wait: bool = True) -> None:
    """Replace a text area's (or text input's) content and commit it, as a user leaving the box does.

    ``wait`` False: return at once instead of waiting for the rerun (see :func:`wait_rerun`).
    """
    box = page.get_by_role("textbox", name=label, exact=True)
    with rerun(page) if wait else nullcontext():
        box.fill(text)
        box.blur()


def set_number(page, label: str, value: float, nth: int = 0, wait: bool = True) -> None:
    """Set a number input (opening the expander that holds it if needed) and commit it.

    ``nth`` picks among several inputs with the same label (the Decoding Lab's config columns).
    """
    box = page.get_by_label(label, exact=True).nth(nth)
    if not box.is_visible():
        box.locator("xpath=ancestor::details[1]/summary").click()
    with rerun(page) if wait else nullcontext():
        box.fill(str(value))
        box.press("Enter")


def open_expander(page, title: str) -> None:
    summary = page.locator('[data-testid="stExpander"] summary', has_text=title).first
    if summary.locator("xpath=..").get_attribute("open") is None:
        summary.click()


def select_option(page, label: str | re.Pattern, option: str | re.Pattern, nth: int = 0) -> None:
    """Pick an option of an st.selectbox by its label (text, or a pattern for a label that changes).

    ``nth`` picks among several selectboxes with the same label (the Decoding Lab's config columns).
    A selectbox scrolled far out of view is brought into view first (else its dropdown opens and closes at once).
    """
    box = page.get_by_label(label, exact=True).nth(nth)
    box.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box.click()
    with rerun(page):
        page.get_by_role("option", name=option, exact=isinstance(option, str)).first.click()


def multiselect(page, label: str, options: list[str]) -> None:
    """Make an st.multiselect hold exactly ``options`` (each matched at the start of its text).

    A pick that missed (the dropdown closed under the click while the page moved) is retried; after three tries
    the test fails naming what the picker holds, instead of going on with a wrong choice.
    """
    box = page.locator('[data-testid="stMultiSelect"]').filter(has=page.get_by_text(label, exact=True))
    held: list[str] = []
    for _ in range(3):
        clear = box.get_by_role("button", name="Clear all")  # one click removes every chosen option
        if clear.count():
            with rerun(page):
                clear.first.click()
        for option in options:
            box.locator("input").click()
            with rerun(page):
                page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.click()
        page.keyboard.press("Escape")
        wait_ready(page)
        held = [t.get_attribute("aria-label") or "" for t in box.locator("[data-tag]").all()]  # the chosen chips
        if len(held) == len(options) and all(h.startswith(o) for h, o in zip(held, options, strict=True)):
            return
    raise AssertionError(f"the {label!r} picker holds {held}, not {options}")


def toggle(page, label: str, on: bool = True) -> None:
    """Set an st.toggle / st.checkbox."""
    box = page.get_by_label(label, exact=True)
    if box.is_checked() != on:
        with rerun(page):
            box.locator("xpath=ancestor::label[1]").click()


def choose_radio(page, option: str) -> None:
    """Pick an st.radio option by its text."""
    with rerun(page):
        page.locator('[data-testid="stRadioOption"], label[data-baseweb="radio"]').filter(
            has_text=re.compile("^" + re.escape(option) + "$")).first.click()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


#: Page titles in the navigation whose page heading says something else.
HEADINGS = {"Home": "Prompt Workbench"}


def navigate(page, title: str) -> None:
    """Go to another page through the sidebar's navigation, as a user does: the session (and its state) stays."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=re.compile("^" + re.escape(title) + "$")).click()
    page.wait_for_function(
        "(t) => document.querySelector('h1') && document.querySelector('h1').textContent.includes(t)",
        arg=HEADINGS.get(title, title), timeout=PAGE_READY_TIMEOUT_MS)
    wait_ready(page)


def navigation_titles(page) -> list[str]:
    """The page names in the sidebar's navigation, in order."""
    return page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()


def download(page, name: str, timeout_ms: int = PAGE_READY_TIMEOUT_MS) -> tuple[str, bytes]:
    """Click a download button; the file's suggested name and its bytes."""
    wait_ready(page, timeout_ms)  # an earlier download's click reruns the page: never click into that rerun
    button = page.get_by_role("button", name=name, exact=True)
    deadline = time.monotonic() + timeout_ms / 1000
    while button.count() > 1 and time.monotonic() < deadline:  # a rerun still shows the stale copy
        time.sleep(0.1)
    with page.expect_download(timeout=timeout_ms) as info:
        button.first.click()
    dl = info.value
    return dl.suggested_filename, Path(dl.path()).read_bytes()


def grid_rows(page, nth: int = 0, timeout_ms: int = 30_000) -> list[dict[str, str]]:
    """The rows of an st.dataframe / st.data_editor as the grid's accessible table shows them (visible rows)."""
    grid = page.locator('[data-testid="stDataFrame"]').nth(nth)
    table = grid.locator('table[role="grid"]')
    table.wait_for(state="attached", timeout=timeout_ms)
    return table.evaluate(
        """t => { const head = [...t.querySelectorAll('thead th')].map(e => e.textContent.trim());
                  return [...t.querySelectorAll('tbody tr')].map(r => Object.fromEntries(
                      [...r.querySelectorAll('td')].map((c, i) => [head[i] ?? String(i), c.textContent.trim()]))); }"""
    )


def code_blocks(page) -> list[str]:
    """The text of every st.code block (including those in closed expanders)."""
    return page.locator('[data-testid="stCode"] code').evaluate_all("els => els.map(e => e.textContent)")


def upload(page, label: str, name: str, data: bytes, mime: str = "application/octet-stream") -> None:
    """Give an st.file_uploader (found by its label) one file, as a user dropping it there."""
    box = page.locator('[data-testid="stFileUploader"]').filter(has=page.get_by_text(label, exact=True))
    with rerun(page):
        box.locator('input[type="file"]').set_input_files({"name": name, "mimeType": mime, "buffer": data})


def type_in_grid(page, text: str, row: int, column: int, nth: int = 0, tries: int = 3) -> None:
    """Type ``text`` into a cell of an st.data_editor (the ``nth`` grid on the page; row and column from 0, the
    index column not counted) and commit it, as a user does: select a cell, move there, Enter, type, Enter.
    The grid's canvas sometimes drops the first key after a rerun: the cell is read back and typed again."""
    for _ in range(tries):
        wait_ready(page)
        grid = page.locator('[data-testid="stDataFrame"]').nth(nth)
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 12, box["y"] + GRID_ROW_PX * 1.5)  # the first cell below the header
        page.wait_for_timeout(200)
        for _ in range(column):
            page.keyboard.press("ArrowRight")
        for _ in range(row):
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")  # opens the cell's editor
        page.wait_for_timeout(200)
        page.keyboard.type(text)
        with rerun(page):
            page.keyboard.press("Enter")
        cells = list(grid_rows(page, nth)[row].values())
        if cells[column] == text:
            return
    raise AssertionError(f"could not type {text!r} into row {row}, column {column} of grid {nth}: {cells}")


#: Height of a header or row of Streamlit's data grid, in pixels.
GRID_ROW_PX = 35


def button(page, name: str):
    """A button by its label; a button with a keyboard shortcut (Ctrl+Enter on a page's main action) has the
    shortcut in its accessible name too ("Run Shortcut Ctrl + Enter")."""
    return page.get_by_role("button", name=re.compile("^" + re.escape(name) + SHORTCUT_SUFFIX))


#: What follows a button's label in its accessible name when it has a keyboard shortcut.
SHORTCUT_SUFFIX = r"(\s*(Shortcut\s*)?(Ctrl|⌘|Cmd|Meta)\b.*)?$"


def click_button(page, name: str) -> None:
    button(page, name).click()


def wait_for_text(page, text: str | re.Pattern, timeout_ms: int = GENERATION_TIMEOUT_MS) -> None:
    """Wait until ``text`` is visible somewhere on the page."""
    page.get_by_text(text).first.wait_for(state="visible", timeout=timeout_ms)


def completion_after(page, heading: str = "Completion") -> str:
    """The text streamed below a bold heading (the home page's "Completion")."""
    return page.evaluate("(h) => {" + COMPLETION_JS + "return completionAfter(h); }", heading)


def page_problems(page) -> list[str]:
    """Python exception boxes and red error alerts on the page, as text (empty when all is well)."""
    return page.evaluate(
        """() => [...document.querySelectorAll(
                '[data-testid="stException"], [data-testid="stAlertContentError"]')]
            .map(e => e.textContent.trim())"""
    )


def exceptions(page) -> list[str]:
    """Only the Python exception (traceback) boxes."""
    return page.locator('[data-testid="stException"]').all_inner_texts()


#: Every visible widget label (and expander title) that breaks inside a word or is cut off: for each word of the
#: label, the rectangles of its characters must lie on one line; and the label must not be wider than its box.
#: Breaking after a hyphen, dash or slash ("comma-/separated") is a line break between words.
BROKEN_LABELS_JS = r"""() => {
    const broken = [];
    // Text clipped by its box (Streamlit ends a checkbox or toggle label, a select's value, a button label with
    // "…" where it does not fit): wider than its box, and the overflow hidden.
    const cutOff = e => {
        if (!e.textContent.trim() || e.scrollWidth <= e.clientWidth + 1) return false;
        const cs = getComputedStyle(e);
        return cs.textOverflow === 'ellipsis' || ['hidden', 'clip'].includes(cs.overflowX);
    };
    for (const el of document.querySelectorAll(
            '[data-baseweb="select"], [data-testid="stCheckbox"], [data-testid="stButton"], [data-testid="stRadio"]')) {
        const r = el.getBoundingClientRect();
        if (!r.width || !r.height || el.closest('[data-testid="stSidebar"]')) continue;
        const cut = [...el.querySelectorAll('*')].find(cutOff);
        if (cut) broken.push(`${cut.textContent.trim()} [cut off]`);
    }
    const labels = document.querySelectorAll(
        '[data-testid="stWidgetLabel"], [data-testid="stExpander"] summary, [data-testid="stTab"]');
    for (const el of labels) {
        const r = el.getBoundingClientRect();
        if (!r.width || !r.height || el.closest('[data-testid="stSidebar"]')) continue;
        const text = el.textContent.trim();
        if (el.scrollWidth > el.clientWidth + 1) { broken.push(text + ' [cut off]'); continue; }
        const cut = [...el.querySelectorAll('*')].find(cutOff);
        if (cut) { broken.push(text + ' [cut off: "' + cut.textContent.trim() + '"]'); continue; }
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const re = /[^\s\-\u2010\u2011\u2013\u2014\/]+/g;  // a line may break after a hyphen, dash or slash
            let m;
            while ((m = re.exec(node.data))) {
                const range = document.createRange();
                range.setStart(node, m.index);
                range.setEnd(node, m.index + m[0].length);
                const tops = new Set([...range.getClientRects()].filter(x => x.width > 0)
                                     .map(x => Math.round(x.top)));
                if (tops.size > 1) broken.push(`${text} [breaks inside "${m[0]}"]`);
            }
        }
    }
    return broken;
}"""


def broken_labels(page) -> list[str]:
    """Labels on the page broken inside a word ("tempe rature") or cut off (empty when every label reads whole)."""
    return page.evaluate(BROKEN_LABELS_JS)


def horizontal_overflow(page) -> int:
    """How many pixels the document or the main area is wider than the window (0: nothing cut off at the side)."""
    return page.evaluate(
        """() => { const m = document.querySelector('[data-testid="stMain"]') || document.body;
                   const d = document.documentElement;
                   return Math.max(0, m.scrollWidth - m.clientWidth, d.scrollWidth - window.innerWidth); }"""
    )


def screenshot(page, path: Path, full: bool = True) -> None:
    """Save what a user sees at 1280x800, plus (``full``) the whole scrolled page as ``*-full.png``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    if not full:
        return
    height = page.evaluate(
        """() => { const m = document.querySelector('[data-testid="stMain"]');
                   return m ? m.scrollHeight : document.body.scrollHeight; }"""
    )
    if height > VIEWPORT["height"]:
        page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height), 8000)})
        page.screenshot(path=str(path.with_name(path.stem + "-full.png")))
        page.set_viewport_size(VIEWPORT)


def normalise(text: str) -> str:
    """Whitespace-insensitive form of a text (Markdown rendering folds newlines and spaces)."""
    return " ".join(text.split())


# ---- in-page timing of one generation (used by the classroom) ------------------------

COMPLETION_JS = """
const completionAfter = (heading) => {
    const marks = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
        .filter(e => e.textContent.trim() === heading);
    if (!marks.length) return null;
    let box = marks[marks.length - 1].closest('[data-testid="stElementContainer"]');
    for (box = box.nextElementSibling; box; box = box.nextElementSibling) {
        // the waiting/queue message and the Stop button, not the answer
        if (box.querySelector('[data-testid="stAlert"], button')) continue;
        const md = box.querySelector('[data-testid="stMarkdownContainer"]');
        if (md && !box.querySelector('[data-testid="stCaptionContainer"]')) return md.textContent;
    }
    return null;
};
"""

#: Arm a page: at wall-clock ``at`` (ms since the epoch, shared by all pages) click the
#: button, then record when the queue message, the first streamed text and the summary
#: line appear. Results land in ``window.__wb``; times are ms after the click.
ARM_JS = "([at, button, heading]) => {" + COMPLETION_JS + """
    const w = window.__wb = {t0: null, queue: null, queueAt: null, first: null, done: null, states: 0,
                            summary: null};
    let last = null;
    const check = () => {
        if (w.t0 === null || w.done !== null) return;
        const now = performance.now() - w.t0;
        const main = document.querySelector('[data-testid="stMain"]');
        const text = main ? main.textContent : '';
        if (w.queue === null) {
            const m = text.match(/you are number (\\d+) in the queue/);
            if (m) { w.queue = +m[1]; w.queueAt = now; }
        }
        const got = completionAfter(heading);
        if (got && got !== last) { last = got; w.states += 1; if (w.first === null) w.first = now; }
        const line = main && [...main.querySelectorAll('[data-testid="stCaptionContainer"]')]
            .find(e => /tokens\\/s/.test(e.textContent));
        if (line && got !== null) { w.done = now; w.summary = line.textContent.trim(); }
    };
    new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
    setTimeout(() => {
        const label = e => (e.querySelector('[data-testid="stMarkdownContainer"]') || e).textContent.trim();
        const b = [...document.querySelectorAll('button')].find(e => label(e) === button);
        w.t0 = performance.now();
        b.click();
    }, Math.max(0, at - Date.now()));
}
"""


def arm_generation(page, at_ms: float, button: str = "Generate", heading: str = "Completion") -> None:
    """Schedule a click on ``button`` at wall-clock ``at_ms`` and start timing the answer."""
    page.evaluate(ARM_JS, [at_ms, button, heading])


def generation_result(page, timeout_ms: int = GENERATION_TIMEOUT_MS, strict: bool = True) -> dict:
    """Wait for the armed generation's summary line (or an error); its timings, queue position and text.

    ``strict`` False: a generation still unfinished after ``timeout_ms`` is returned as it stands, with
    ``timed_out`` set, instead of raising.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            """() => window.__wb && (window.__wb.done !== null
                || document.querySelector('[data-testid="stException"], [data-testid="stAlertContentError"]'))""",
            timeout=timeout_ms,
        )
        timed_out = False
    except PlaywrightTimeout:
        if strict:
            raise
        timed_out = True
    result = page.evaluate("() => window.__wb")
    result["text"] = completion_after(page)
    result["problems"] = page_problems(page)
    result["timed_out"] = timed_out
    return result
