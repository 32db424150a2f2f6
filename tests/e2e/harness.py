"""Drive the real app in a real browser: start a Streamlit server, launch Chromium, act on pages.

Plain functions (no pytest) so that the E2E tests and ``bench/classroom.py`` share
them. A page flow reads like a user's actions::

    open_page(page, url, "pages/1_Prompt_Builder.py")
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
from contextlib import contextmanager
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
SERVER_START_TIMEOUT_S = 60.0  # streamlit imports pandas/altair; slow on a busy 2-core machine
PAGE_READY_TIMEOUT_MS = 90_000  # first load of the JS bundle plus the first script run
GENERATION_TIMEOUT_MS = 240_000  # a short generation, possibly queued behind a class


def chromium_available() -> bool:
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def launch_browser(playwright):
    """Headless Debian Chromium with a fresh temporary profile (Playwright's default for ``launch``)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), headless=True)


def new_page(browser):
    """A page in its own context (own cookies, own Streamlit session) at the screenshot size."""
    return browser.new_context(viewport=VIEWPORT).new_page()


# ---- the server ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    """A running ``streamlit run``: its base URL, process id and log file."""

    url: str
    pid: int
    log: Path


@contextmanager
def serve(data_dir: Path, app: str = "app.py") -> Iterator[Server]:
    """Run the app on a free loopback port until the block ends; the store lives in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ, WORKBENCH_DATA_DIR=str(data_dir / "data"), WORKBENCH_CACHE_DIR=str(data_dir / "cache"),
               HF_HUB_OFFLINE="1")
    log = data_dir / "streamlit.log"
    cmd = [sys.executable, "-m", "streamlit", "run", app, "--server.address", "127.0.0.1",
           "--server.port", str(port), "--server.headless", "true", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield Server(url, proc.pid, log)
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


def memory_kib(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of a process from /proc (VmRSS now, VmHWM peak), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


# ---- pages ---------------------------------------------------------------------------


def page_path(script: str | Path) -> str:
    """The URL path Streamlit gives a page file ("pages/3_Auto-CoT.py" -> "Auto-CoT"; app.py -> "")."""
    from streamlit.source_util import page_icon_and_name

    script = Path(script)
    if script.parent.name != "pages":
        return ""
    return page_icon_and_name(script)[1]


def page_files() -> list[str]:
    """The home page and every file in pages/, in Streamlit's order; found afresh on each run."""
    from streamlit.source_util import page_sort_key

    pages = sorted((ROOT / "pages").glob("*.py"), key=page_sort_key)
    return ["app.py", *(f"pages/{p.name}" for p in pages)]


def open_page(page, base_url: str, script: str = "app.py") -> None:
    """Load a page and wait until its first script run has drawn the sidebar's model line."""
    page.goto(f"{base_url}/{page_path(script)}")
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


def set_text_area(page, label: str, text: str) -> None:
    """Replace a text area's (or text input's) content and commit it, as a user leaving the box does."""
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.blur()


def set_number(page, label: str, value: float) -> None:
    """Set a number input (opening the expander that holds it if needed) and commit it."""
    box = page.get_by_label(label, exact=True)
    if not box.is_visible():
        open_expander(page, _expander_of(page, label))
    box.fill(str(value))
    box.press("Enter")


def _expander_of(page, label: str) -> str:
    """The title of the expander around the widget labelled ``label``."""
    return page.get_by_label(label, exact=True).evaluate(
        """e => e.closest('[data-testid="stExpander"]').querySelector('summary').textContent.trim()"""
    )


def open_expander(page, title: str) -> None:
    summary = page.locator('[data-testid="stExpander"] summary', has_text=title).first
    if summary.locator("xpath=..").get_attribute("open") is None:
        summary.click()


def select_option(page, label: str, option: str) -> None:
    """Pick an option of an st.selectbox by its label."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def click_button(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


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


def horizontal_overflow(page) -> int:
    """How many pixels the main area is wider than the window (0: nothing cut off at the side)."""
    return page.evaluate(
        """() => { const m = document.querySelector('[data-testid="stMain"]') || document.body;
                   return Math.max(0, m.scrollWidth - m.clientWidth); }"""
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
    const w = window.__wb = {t0: null, queue: null, queueAt: null, first: null, done: null, states: 0};
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
        const done = main && [...main.querySelectorAll('[data-testid="stCaptionContainer"]')]
            .some(e => /tokens\\/s/.test(e.textContent));
        if (done && got !== null) w.done = now;
    };
    new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
    setTimeout(() => {
        const b = [...document.querySelectorAll('button')].find(e => e.textContent.trim() === button);
        w.t0 = performance.now();
        b.click();
    }, Math.max(0, at - Date.now()));
}
"""


def arm_generation(page, at_ms: float, button: str = "Generate", heading: str = "Completion") -> None:
    """Schedule a click on ``button`` at wall-clock ``at_ms`` and start timing the answer."""
    page.evaluate(ARM_JS, [at_ms, button, heading])


def generation_result(page, timeout_ms: int = GENERATION_TIMEOUT_MS) -> dict:
    """Wait for the armed generation's summary line; its timings, queue position and text."""
    page.wait_for_function(
        """() => window.__wb && (window.__wb.done !== null
            || document.querySelector('[data-testid="stException"], [data-testid="stAlertContentError"]'))""",
        timeout=timeout_ms,
    )
    result = page.evaluate("() => window.__wb")
    result["text"] = completion_after(page)
    result["problems"] = page_problems(page)
    return result
