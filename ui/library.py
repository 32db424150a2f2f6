"""Library page widgets: pick a classroom set, a file of the prompts folder or a saved set, read it, run it,
present it. (The folder's files: :mod:`ui.library_files`.)

Every widget key starts with ``lib_``. What changes the library (save a copy, rename, delete, versions, import)
and the Export tab are :mod:`ui.library_manage`.

On a classroom server (:mod:`ui.classroom`) the picker lists the shared sets and this browser's own (every
workspace's for the teacher); a shared set is read-only for a student, who saves a copy to change it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from ui import classroom as workspaces
from ui.builder import show_rendered
from ui.common import RUN_SHORTCUT, cached_backend, pool_index, user_errors
from ui.common import untrusted_markdown as md
from ui.fields import number_field
from ui.handover import BUILDER_PAGE, library_to_builder
from ui.library_files import FILE, find
from ui.state import LibraryStep
from ui.streaming import stream_into_page
from workbench.backends import SERVER_BACKEND, Backend
from workbench.errors import ModelError
from workbench.prompts import SpecFile, reserved_tokens
from workbench.promptsets.exports import RESULT_COLUMNS, result_row
from workbench.promptsets.files import classroom_sets
from workbench.promptsets.folder import PromptFile
from workbench.promptsets.library import get, library_entries, matches
from workbench.promptsets.model import PromptSet, Step, TestCase
from workbench.promptsets.running import (
    StepRun,
    accuracy_by_step,
    capped,
    describe_decoding,
    describe_demos,
    judge_tools,
    pool_by_name,
    render_step,
    run_step,
    run_steps,
    step_demos,
)
from workbench.store import Store
from workbench.words import plural

#: The Decoding Lab's page file (a step opened there goes through the Prompt Builder's spec).
DECODING_LAB_PAGE = "views/4_Decoding_Lab.py"
CLASSROOM = "classroom:"
SAVED = "library:"
#: Widget state that belongs to the open set; dropped when another set is opened.
PER_SET_KEYS = ("lib_copy_name", "lib_rename_name", "lib_yaml", "lib_note", "lib_diff_a", "lib_diff_b",
                "lib_restore_v", "lib_confirm_delete", "lib_screen", "lib_preview", "lib_present_input", "lib_live",
                "lib_file_yaml", "lib_file_name")
#: Presentation view: large type for a projector.
PRESENTATION_CSS = """<style>
[data-testid="stMainBlockContainer"] p, [data-testid="stMainBlockContainer"] li { font-size: 1.7rem; line-height: 1.5; }
[data-testid="stMainBlockContainer"] h1 { font-size: 3.4rem; }
[data-testid="stMainBlockContainer"] h2 { font-size: 2.6rem; }
[data-testid="stMainBlockContainer"] h3 { font-size: 2.1rem; }
[data-testid="stMainBlockContainer"] pre, [data-testid="stMainBlockContainer"] code { font-size: 1.3rem !important; }
</style>"""


@dataclass(frozen=True)
class Opened:
    """The set on screen: a classroom set, a file of the prompts folder (``file``), or a saved set (``saved``) at
    its latest version."""

    ref: str  # CLASSROOM + file stem, FILE + path in the prompts folder, or SAVED + library name
    pset: PromptSet
    saved: str | None = None  # the library name of a saved set
    version: int | None = None  # its latest version
    can_change: bool = True  # this session may rename, edit, restore or delete it (classroom: its own; teacher: any)
    owner: str = ""  # whose it is, on a classroom server ("shared, read-only", "workspace 3fA9x_"; "" off one)
    file: str | None = None  # a file's path in the prompts folder
    folder: str = ""  # the prompts folder (for a file)
    kind: str = "set"  # a file's kind: "set", or "spec" (a spec file shown as a one-step set)

    @property
    def origin(self) -> str:
        if self.file is not None:
            what = "Spec file" if self.kind == "spec" else "File"
            return f"{what} `{self.file}` in the prompts folder {self.folder} · version {self.version}"
        if self.saved is None:
            return f"Classroom set `{self.ref.removeprefix(CLASSROOM)}` (shipped with the workbench)"
        return f"Saved set · version {self.version}" + (f" · {self.owner}" if self.owner else "")


# --------------------------------------------------------------------------- the shipped sets

@st.cache_resource(show_spinner=False)
def classroom() -> dict[str, PromptSet]:
    """The classroom demo sets shipped in prompts/classroom/, by file stem (read once per server)."""
    return classroom_sets()


# --------------------------------------------------------------------------- picking a set

def _label(store: Store, ref: str, notes: dict[str, str] | None = None, names: dict[str, str] | None = None) -> str:
    """A set in the picker; ``notes``: a saved set's owner on a classroom server, by name; ``names``: a file's
    set name, by ref."""
    if ref.startswith(CLASSROOM):
        pset = classroom().get(ref.removeprefix(CLASSROOM))
        return f"🎓 {pset.name}" if pset else ref
    if ref.startswith(FILE):
        name = (names or {}).get(ref)
        return f"📄 {name} · {ref.removeprefix(FILE)}" if name else f"📄 {ref.removeprefix(FILE)}"
    name = ref.removeprefix(SAVED)
    note = (notes or {}).get(name, "")
    return f"💾 {name}" + (f" · {note}" if note else "")


def on_pick() -> None:
    """Forget the widget state of the open set (another set is being opened)."""
    for key in (*PER_SET_KEYS, "lib_deleted"):
        st.session_state.pop(key, None)


def picker(store: Store, in_sidebar: bool = False, files: Sequence[PromptFile] = ()) -> str | None:
    """Search and pick a set (a row on the page, or the sidebar while presenting) among the shipped sets, the
    prompts folder's readable ``files`` and the saved sets; returns its ref or None."""
    ss = st.session_state
    who = workspaces.access()
    if in_sidebar:
        st.sidebar.markdown("### Prompt set")
        search_box, pick_box = st.sidebar, st.sidebar
    else:
        search_box, pick_box = st.columns([1, 2])
    search = search_box.text_input("Search by name or tag", key="lib_search",
                                   placeholder="e.g. order, sentiment, cot")
    options = [CLASSROOM + key for key, pset in classroom().items() if matches(pset, search)]
    names = {FILE + f.path: f.pset.name for f in files if f.pset is not None}
    options += [FILE + f.path for f in files if f.pset is not None and matches(f.pset, search)]
    infos = store.list_sets(search)
    notes = workspaces.owner_notes(infos, who)
    options += [SAVED + info.name for info in infos]
    found = len(options)
    current = ss.get("lib_pick")
    if current is not None and current not in options:
        alive = (current.startswith(CLASSROOM) and current.removeprefix(CLASSROOM) in classroom()) or (
            current in names) or (
            current.startswith(SAVED) and store.exists(current.removeprefix(SAVED))
            and not _is_deleted(store, current.removeprefix(SAVED)))
        if alive:
            options.insert(0, current)  # the open set stays open while the search hides it
        else:
            ss["lib_pick"] = None
    return pick_box.selectbox(f"Open a set ({found} found · 🎓 classroom demo · 📄 prompts folder · 💾 saved)",
                              options, index=None, key="lib_pick", placeholder="Choose a prompt set",
                              format_func=lambda ref: _label(store, ref, notes, names), on_change=on_pick)


def _is_deleted(store: Store, name: str) -> bool:
    return not any(s.name.casefold() == name.casefold() for s in store.list_sets())


def overview(store: Store, folder=None) -> None:
    """Every set as a table (when none is open): shipped, the prompts ``folder``'s files, saved (on a classroom
    server, whose each saved set is)."""
    who = workspaces.access()
    notes = workspaces.owner_notes(store.list_sets(), who) if who else {}

    def kind(r: dict) -> str:
        if r["source"] == "classroom":
            return "classroom demo"
        if r["source"] == "file":
            return f"file {Path(r['ref']).relative_to(folder).as_posix()}"
        note = notes.get(r["name"], "")
        return f"saved · {note}" if note else "saved"

    rows = [{"kind": kind(r), "set": r["name"],
             "version": "" if r["version"] is None else f"v{r['version']}", "tags": ", ".join(r["tags"]),
             "about": r["description"]} for r in library_entries(store, folder=folder)]
    if who is not None and not who.teacher:
        st.info("Open a set above. Classroom demos ship with the workbench, ready to run; shared sets are the "
                "teacher's (read-only: save a copy to change one); the sets you save are this browser's.")
    else:
        st.info("Open a set above. Classroom demos ship with the workbench, ready to run; saved sets are yours.")
    if rows:  # a static table: long "about" texts wrap instead of being cut at the column's edge
        st.table(pd.DataFrame(rows).set_index("set"))


def open_set(store: Store, ref: str | None, files: Sequence[PromptFile] = (), folder=None) -> Opened | None:
    """The picked set (a file as the prompts ``folder``'s listing ``files`` read it now), or None (with the reason
    shown)."""
    if ref is None:
        return None
    with user_errors("Opening the set"):
        if ref.startswith(CLASSROOM):
            return Opened(ref, classroom()[ref.removeprefix(CLASSROOM)])
        if ref.startswith(FILE):
            f = find(list(files), ref)
            writer = workspaces.access() is None or workspaces.is_teacher()
            return Opened(ref, f.pset, version=f.version, can_change=writer and f.kind == "set", file=f.path,
                          folder=str(folder), kind=f.kind)
        pset, version = get(store, ref.removeprefix(SAVED))
        owner = workspaces.owner_note(store.set_workspace(pset.name), workspaces.access())
        return Opened(ref, pset, pset.name, version, can_change=store.may_change(pset.name), owner=owner)
    return None


# --------------------------------------------------------------------------- models and inputs

#: The largest cap on max_new_tokens the Run tab takes.
MAX_CAP = 4096


def model_controls() -> int | None:
    """Whose model runs each step, and a cap on max_new_tokens; returns the cap (0 = none), or None while the
    cap is not a whole number from 0 to MAX_CAP (a red line under it says so)."""
    c1, c2 = st.columns([3, 2])
    c1.toggle("Each step on the model it names (off: the sidebar model for every step)", value=True,
              key="lib_own_models")
    cap, problem = number_field(c2, "Cap max_new_tokens (0 = as the set says)", 0, key="lib_cap", lo=0, hi=MAX_CAP,
                                help="Quick runs in class: every step generates at most this many tokens.")
    if problem is None and cap != int(cap):
        c2.error(f"Cap max_new_tokens must be a whole number (got {cap:g}).", icon="⚠️")
        return None
    return None if problem is not None else int(cap)


def step_backend(step: Step, sidebar: Backend | None) -> Backend:
    """The model a step runs on: its own (loaded once per server) or the sidebar's."""
    backend_name = st.session_state.get("backend_choice", "auto")
    if st.session_state.get("lib_own_models", True) and step.model and backend_name != SERVER_BACKEND:
        return cached_backend(step.model, backend_name)
    if sidebar is None:
        raise ModelError("Pick a model in the sidebar (this step names none, or own models are off).")
    return sidebar


def set_judges():
    """What a set's checks may ask: the local instruct model (or a check's own ``provider``), loaded once per
    server like the steps' models, and the embedder."""
    return judge_tools(lambda model: cached_backend(model, "auto"))


def indexes(pool: str):
    """Selector steps: the shipped pool's index, built with a progress bar the first time."""
    return pool_index(pool_by_name(pool))


def inputs_of(pset: PromptSet) -> list[TestCase]:
    """The set's test inputs plus the user's own (``lib_custom``)."""
    custom = st.session_state.get("lib_custom", "").strip()
    return [*pset.tests, *([TestCase(custom)] if custom else [])]


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------- reading a set

def header(opened: Opened) -> None:
    pset = opened.pset
    st.header(md(pset.name))
    tags = " · ".join(f"`{t}`" for t in pset.tags)
    st.caption(md(f"{opened.origin} · {plural(len(pset.steps), 'step')} · {plural(len(pset.tests), 'test input')}"
                  + (f" · {tags}" if tags else "")))
    if pset.description:
        st.markdown(md(f"*{pset.description}*"))
    if pset.notes:
        st.markdown(md(pset.notes))


def steps_view(opened: Opened, sidebar: Backend | None) -> None:
    """Each step: what it shows, its settings, and the exact prompt for a chosen input."""
    pset = opened.pset
    st.text_input("Your own input (added to the test inputs)", key="lib_custom")
    inputs = inputs_of(pset)
    if not inputs:
        st.info("This set has no test inputs; type your own input above to see its prompts.")
        return
    i = st.selectbox("Show the prompts for", range(len(inputs)), key="lib_preview",
                     format_func=lambda j: _short(inputs[j].input))
    case = inputs[min(i or 0, len(inputs) - 1)]
    for n, step in enumerate(pset.steps, start=1):
        st.subheader(md(f"Step {n}: {step.title}"))
        if step.notes:
            st.markdown(md(step.notes))
        st.caption(md(f"model {step.model or 'picked in the sidebar'} · {describe_demos(step)} · "
                      f"{describe_decoding(step.decoding)}"))
        with user_errors(f"Rendering step {n}"):
            backend = step_backend(step, sidebar)
            rendered = render_step(step, case, backend, indexes=indexes)
            show_rendered(rendered, backend.context_window, reserved_tokens(step.spec, step.decoding, backend))
        c1, c2 = st.columns(2)
        to_builder = c1.button("Open in the Prompt Builder", key=f"lib_to_builder_{n}",
                               help="Edit this step there; the set's other steps stay in its starter list.")
        to_lab = c2.button("Open in the Decoding Lab", key=f"lib_to_lab_{n}",
                           help="Compare decoding settings on this step's prompt (it becomes the Prompt "
                                "Builder's spec, which the Decoding Lab uses).")
        if to_builder or to_lab:
            with user_errors(f"Opening step {n}"):
                open_in_builder(opened, case, n - 1)
                st.switch_page(BUILDER_PAGE if to_builder else DECODING_LAB_PAGE)


def open_in_builder(opened: Opened, case: TestCase, index: int) -> None:
    """Hand every step of the set to the Prompt Builder (step ``index`` in its editor), each with its
    demonstrations for ``case`` (a selector step's are chosen for that input) and ``case`` as the input."""
    steps = [LibraryStep(f"Step {i}: {s.title}", SpecFile(name=s.title, spec=s.spec, example=case.input,
                                                         demos=step_demos(s, case.query(), indexes)[0]))
             for i, s in enumerate(opened.pset.steps, start=1)]
    library_to_builder(opened.pset.name, steps, index)


# --------------------------------------------------------------------------- running

def run_view(opened: Opened, sidebar: Backend | None) -> None:
    """Run every step on every input with a progress bar; results table and accuracy per step."""
    cap = model_controls()
    inputs = inputs_of(opened.pset)
    runs = len(opened.pset.steps) * len(inputs)
    if st.button(f"Run all steps on {plural(len(inputs), 'input')} ({plural(runs, 'run')})", type="primary", key="lib_run",
                 shortcut=RUN_SHORTCUT, disabled=not inputs or cap is None) and cap is not None:
        run_all(opened, sidebar, inputs, cap)
    held = st.session_state.get("lib_results")
    if held is not None and held[0] == opened.ref:
        show_results(held[1])
    elif not inputs:
        st.info("Type your own input in the Steps tab to run this set.")


def run_all(opened: Opened, sidebar: Backend | None, inputs: Sequence[TestCase], cap: int) -> None:
    pset = capped(opened.pset, cap) if cap else opened.pset
    total, done, results = len(pset.steps) * len(inputs), 0, []
    tools = set_judges()  # one run: each judge model loaded at most once, only when a check asks it
    bar = st.progress(0.0, text="Starting…")
    last = st.empty()
    start = time.perf_counter()
    with user_errors("Running the set"):
        try:
            for i, step in enumerate(pset.steps):
                backend = step_backend(step, sidebar)
                size = max(1, int(getattr(backend, "batch_size", 1)))  # inputs a batching model decodes together
                for at in range(0, len(inputs), size):
                    chunk = inputs[at:at + size]
                    which = f"input {at + 1}" if len(chunk) == 1 else f"inputs {at + 1}-{at + len(chunk)}"
                    bar.progress(done / total, text=f"Step {i + 1}/{len(pset.steps)} · {step.title} · "
                                                    f"{which} of {len(inputs)}")
                    ran = run_steps(step, chunk, backend, index=i, model=backend.spec.id, indexes=indexes,
                                    tools=tools)
                    results.extend(ran)
                    done += len(ran)
                    last.caption(md(f"Last output (step {i + 1}, input {at + len(ran)}): "
                                    f"{_short(ran[-1].output, 160)}"))
        finally:
            if results:
                st.session_state["lib_results"] = (opened.ref, results)
    bar.progress(done / max(total, 1), text=f"{done}/{total} runs in {time.perf_counter() - start:.1f} s")
    last.empty()


def show_results(results: Sequence[StepRun]) -> None:
    scores = accuracy_by_step(results)
    if scores:
        cols = st.columns(min(len(scores), 4))
        for n, (step, title, right, total) in enumerate(scores):
            cols[n % len(cols)].metric(f"Step {step + 1} · {_short(title, 30)}", f"{right}/{total} correct")
    frame = pd.DataFrame([result_row(r) for r in results], columns=list(RESULT_COLUMNS))
    frame["correct"] = [{True: "✅", False: "❌", None: ""}[r.correct] for r in results]
    shown = ["step", "input", "answer", "expected", "correct", "output", "title", "model", "samples", "seconds"]
    st.dataframe(frame[shown], hide_index=True, width="stretch",
                 column_config={"step": st.column_config.NumberColumn(width="small"),
                                "input": st.column_config.TextColumn(width="medium"),
                                "output": st.column_config.TextColumn(width="medium")})


# --------------------------------------------------------------------------- presentation

def _move(delta: int, last: int) -> None:
    ss = st.session_state
    ss["lib_screen"] = max(0, min(last, ss.get("lib_screen", 0) + delta))
    ss.pop("lib_live", None)


def presentation(opened: Opened, sidebar: Backend | None) -> None:
    """Large type, one concept per screen: the set's idea, then one step per screen with live model output."""
    st.html(PRESENTATION_CSS)
    pset = opened.pset
    last = len(pset.steps)
    screen = max(0, min(last, st.session_state.get("lib_screen", 0)))
    c1, c2, c3 = st.columns([1, 4, 1])
    c1.button("◀ Back", key="lib_prev", on_click=_move, args=(-1, last), disabled=screen == 0, width="stretch")
    c3.button("Next ▶", key="lib_next", on_click=_move, args=(1, last), disabled=screen == last, width="stretch")
    c2.progress(screen / max(last, 1), text=f"Screen {screen + 1} of {last + 1}")
    if screen == 0:
        st.title(md(pset.name))
        if pset.description:
            st.markdown(md(f"### {pset.description}"))
        st.markdown(md(pset.notes))
        return
    step = pset.steps[screen - 1]
    st.title(md(f"Step {screen}: {step.title}"))
    if step.notes:
        st.markdown(md(step.notes))
    st.caption(md(f"{step.model or 'sidebar model'} · {describe_demos(step)} · "
                  f"{describe_decoding(step.decoding)}"))
    inputs = inputs_of(pset)
    if not inputs:
        st.info("This set has no test inputs; leave the presentation view and type your own input.")
        return
    i = st.selectbox("Input", range(len(inputs)), key="lib_present_input", format_func=lambda j: _short(inputs[j].input))
    case = inputs[min(i or 0, len(inputs) - 1)]
    with user_errors("Running the step live"):
        backend = step_backend(step, sidebar)
        rendered = render_step(step, case, backend, indexes=indexes)
        with st.expander(f"The prompt ({rendered.tokens} tokens, {len(rendered.demos)} demonstrations)",
                         expanded=not rendered.demos):
            st.code(rendered.text, language=None, wrap_lines=True)
        held = st.session_state.get("lib_live")
        if st.button("▶ Run it live", type="primary", key="lib_present_run"):
            st.session_state["lib_live"] = (opened.ref, screen, i, live_run(step, case, backend, screen - 1))
        elif held is not None and held[:3] == (opened.ref, screen, i):
            show_answer(held[3], outputs=True)


def live_run(step: Step, case: TestCase, backend: Backend, index: int) -> StepRun:
    """Run one step on one input, streaming every sample's text into the page as the model writes it."""
    several = step.decoding.n > 1

    def runner(sample: int, stage: str, prompt: str, cfg):
        if stage == "answer" and step.spec.mode.answer_step:
            st.markdown("*Answer step: the reasoning plus the answer trigger*")
        elif several:
            st.markdown(f"**Sample {sample + 1} of {step.decoding.n}** (seed {cfg.seed})")
        return stream_into_page(backend, prompt, cfg, key=f"lib_{sample}_{stage}")

    result = run_step(step, case, backend, index=index, model=backend.spec.id, indexes=indexes, runner=runner,
                      tools=set_judges())
    show_answer(result)
    return result


def show_answer(result: StepRun, outputs: bool = False) -> None:
    if outputs:  # after a rerun: the text the model wrote, no longer streaming
        for run in result.runs:
            st.markdown(md(" ".join(f"`{stage.name}`: {stage.output}" for stage in run.stages)))
    answer = result.answer if result.answer is not None else "(no answer found)"
    verdict = {True: " ✅", False: f" ❌ (expected {result.case.expected})", None: ""}[result.correct]
    st.markdown(md(f"## Answer: {answer}{verdict}"))
    if result.vote is not None:
        st.markdown(md("Votes: " + ", ".join(f"**{a}** × {n}" for a, n in result.vote.counts)
                       + f" · agreement {result.vote.agreement:.0%}"))
