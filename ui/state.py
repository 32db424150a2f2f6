"""The pages' own state: typed records in session state that outlive a page switch.

Streamlit drops the state of every widget a script run does not draw, so a page's inputs vanish
when the user opens another page. Each page therefore keeps its inputs in one frozen record under a
key of its own (never a widget key), and gives its widgets their values back from it:

1. before drawing, :func:`restore_widgets` puts each kept value into the widget's key where Streamlit
   dropped it (the widget then starts from it, as if never gone);
2. after drawing, :func:`widget_values` reads the widgets and the page saves a new record.

The Prompt Builder's draft (:class:`BuilderDraft` inside :class:`BuilderState`) is the spec, the
demonstrations, shots/K and the query; other pages read the prompt it builds (:func:`built_prompt`)
and hand demonstrations to it (:mod:`ui.handover`). The Demonstrations page keeps its query and
settings in :class:`DemoSettings`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from workbench.autocot.config import MAX_TRIES_PER_CLUSTER
from workbench.autocot.demo import Demo
from workbench.autocot.reasoner import REASONING_DECODING
from workbench.data import Example
from workbench.demos import SpecWithDemos
from workbench.errors import WorkbenchError
from workbench.escapes import escape, unescape
from workbench.prompts import SpecFile, starter_specs
from workbench.prompts.spec import PromptSpec, next_question_stops

#: Session-state keys of the records (not widget keys: Streamlit keeps them across pages).
BUILDER_KEY = "state_builder"
DEMONSTRATIONS_KEY = "state_demonstrations"
CHOSEN_KEY = "state_demonstrations_chosen"
#: The Evaluate page's judging settings (a ui.assertions.JudgingSettings: assertion rows, threshold, judge, repeats).
JUDGING_KEY = "state_evaluate_judging"
#: Widget-key prefix of the Prompt Builder's editor.
BUILDER_PREFIX = "pb"
#: The starter a new session's Prompt Builder opens with.
DEFAULT_STARTER = "sentiment"
BLANK = "Blank"
SHOTS = ("Zero-shot", "One-shot", "Few-shot")


# --------------------------------------------------------------------------- one helper for every page

def restore_widgets(prefix: str, record: Any, names: Iterable[str]) -> None:
    """Before a page draws its widgets: give each widget ``{prefix}_{name}`` the record's value where
    Streamlit has dropped the widget's state (the user was on another page). Widgets still alive keep
    theirs. Widgets drawn this way must not also pass a default value."""
    ss = st.session_state
    for name in names:
        key = f"{prefix}_{name}"
        if key not in ss:
            value = getattr(record, name)
            ss[key] = list(value) if isinstance(value, tuple) else value  # a multiselect holds a list


def widget_values(prefix: str, names: Iterable[str]) -> dict[str, Any]:
    """The current values of the widgets ``{prefix}_{name}`` (after :func:`restore_widgets`)."""
    ss = st.session_state
    return {name: ss[f"{prefix}_{name}"] for name in names if f"{prefix}_{name}" in ss}


def forget_widgets(prefix: str, names: Iterable[str]) -> None:
    """Drop the widgets' state so that the next :func:`restore_widgets` loads the record's values
    (a starter or a hand-over replaced the record). Call from a callback or before the widgets draw."""
    for name in names:
        st.session_state.pop(f"{prefix}_{name}", None)


# --------------------------------------------------------------------------- text in one-line boxes

def _split(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


# --------------------------------------------------------------------------- the Prompt Builder's draft

@dataclass(frozen=True)
class DemoRow:
    """One demonstration as the Builder's table holds it (text cells), plus what the table does not show."""

    input: str = ""  # the question
    answer: str = ""  # its answer
    rationale: str = ""  # chain-of-thought text ("" = none)
    label: str = ""  # class label ("" = none)
    id: str = ""  # the example's id where it came from a pool or a page ("" = "row N")
    choices: tuple[tuple[str, str], ...] = ()  # multiple choice (label, text) pairs, kept from the source

    @classmethod
    def of(cls, ex: Example) -> DemoRow:
        return cls(ex.input, ex.answer, ex.rationale or "", ex.label or "", ex.id,
                   tuple((ex.choices or {}).items()))

    def example(self, n: int) -> Example:
        return Example(id=self.id or f"row {n}", input=self.input, answer=self.answer,
                       rationale=self.rationale or None, label=self.label or None,
                       choices=dict(self.choices) or None)


@dataclass(frozen=True)
class BuilderDraft:
    """Everything the Prompt Builder's editor holds. Field names are the editor's widget keys after the
    ``pb_`` prefix; text fields hold what the boxes show (separators with \\n, lists comma-separated)."""

    instruction: str = ""  # task instruction
    demo_tpl: str = PromptSpec.demo_template  # demonstration template
    cot_tpl: str = PromptSpec.cot_demo_template  # CoT demonstration template
    query_tpl: str = PromptSpec.query_template  # query template
    sep: str = escape(PromptSpec.separator)  # separator, escaped
    prefix: str = ""  # answer prefix, escaped
    reasoning: str = "none"  # a workbench.reasoning mode name (reasoning.names())
    trigger: str = PromptSpec.cot_trigger  # Zero-shot-CoT trigger
    format: str = "free"  # an AnswerFormat value
    answer_trigger: str = ""  # "" = Kojima et al.'s for the format
    labels: str = ""  # comma-separated labels
    layout: str = "turns"  # a CHAT_LAYOUTS name
    system: str = ""  # system message (chat models)
    spec_stop: str = ""  # comma-separated stop strings, escaped
    raw: bool = False  # chat model: skip its chat template
    shots: str = "Zero-shot"  # one of SHOTS
    k: int = 1  # few-shot: how many rows are used (the first K)
    query: str = ""  # the input the prompt is built around
    rows: tuple[DemoRow, ...] = ()  # the demonstrations table (not a widget value)

    @classmethod
    def of(cls, spec_file: SpecFile) -> BuilderDraft:
        """A spec file (a starter, a Library step, a hand-over) as the editor shows it."""
        s, n = spec_file.spec, len(spec_file.demos)
        return cls(
            instruction=s.instruction, demo_tpl=s.demo_template, cot_tpl=s.cot_demo_template,
            query_tpl=s.query_template, sep=escape(s.separator), prefix=escape(s.answer_prefix),
            reasoning=s.reasoning, trigger=s.cot_trigger, format=s.answer_format,
            answer_trigger=s.answer_trigger or "", labels=", ".join(s.labels), layout=s.chat_layout,
            system=s.system, spec_stop=", ".join(escape(x) for x in s.stop), shots=shots_for(n), k=max(n, 1),
            query=spec_file.example, rows=tuple(DemoRow.of(d) for d in spec_file.demos),
        )

    def spec(self) -> PromptSpec:
        """The spec the editor's boxes describe; a PromptError says what is wrong."""
        return PromptSpec(
            instruction=self.instruction, demo_template=self.demo_tpl, cot_demo_template=self.cot_tpl,
            query_template=self.query_tpl, separator=unescape(self.sep), answer_prefix=unescape(self.prefix),
            reasoning=self.reasoning, cot_trigger=self.trigger, answer_format=self.format,
            answer_trigger=self.answer_trigger.strip() or None, labels=_split(self.labels),
            chat_layout=self.layout, system=self.system,
            stop=tuple(unescape(x) for x in _split(self.spec_stop)),
        )

    def examples(self) -> list[Example]:
        """Every row of the table as an Example, in order."""
        return [r.example(i) for i, r in enumerate(self.rows, start=1)]

    @property
    def k_used(self) -> int:
        """K as the shots choice says: 0, 1, or the K box (may exceed the rows)."""
        return {"Zero-shot": 0, "One-shot": 1}.get(self.shots, int(self.k))

    def used(self) -> list[Example]:
        """The demonstrations sent: the first K rows."""
        return self.examples()[: self.k_used]


#: The draft's fields that are widgets (everything but the table's rows).
DRAFT_WIDGETS = tuple(f.name for f in dataclasses.fields(BuilderDraft) if f.name != "rows")


def shots_for(rows: int) -> str:
    """The shots choice a set of rows starts with: zero, one or few."""
    return SHOTS[min(rows, 2)]


def blank_spec_file() -> SpecFile:
    """The Blank starter: default Q/A templates, and a stop at the next question so a base model does not
    write the next "Q:" itself."""
    spec = PromptSpec()
    return SpecFile(name=BLANK, spec=spec.replace(stop=next_question_stops(spec)))


@st.cache_data(show_spinner=False)
def starters() -> dict[str, SpecFile]:
    """Blank first, then the shipped starter specs by file stem."""
    return {BLANK: blank_spec_file(), **starter_specs()}


@dataclass(frozen=True)
class LibraryStep:
    """One step of a Library set handed to the Builder: its title and its spec file."""

    title: str  # "Step 2: Few-shot (6 demonstrations)"
    spec_file: SpecFile  # the step's spec, demonstrations and an example input


@dataclass(frozen=True)
class BuilderState:
    """The Prompt Builder page's state: the draft, what it was loaded from, and where hand-overs came from."""

    draft: BuilderDraft = field(default_factory=BuilderDraft)  # what the editor holds now
    loaded: BuilderDraft = field(default_factory=BuilderDraft)  # as the last starter/step/hand-over put it
    source: str = DEFAULT_STARTER  # the picker's option it was loaded from: a starter name or a step:<n>
    origin: str = ""  # a note of where it came from ("3 demonstrations from Auto-CoT"); "" for a starter
    steps: tuple[LibraryStep, ...] = ()  # a Library set's steps, offered in the picker beside the starters
    steps_of: str = ""  # the name of that set
    revision: int = 0  # bumps whenever a load replaces the draft
    table: tuple[DemoRow, ...] = ()  # the rows the demonstrations table widget started from
    table_version: int = 0  # part of the table's widget key: bumps when the rows are replaced or added to
    add_open: bool = False  # the "Add a demonstration" form stays open after an add
    previous: BuilderState | None = None  # the edited state a load replaced (the Builder offers it back)

    @property
    def edited(self) -> bool:
        """The user changed the draft since it was loaded."""
        return self.draft != self.loaded


def builder_state() -> BuilderState:
    """This session's Builder state; a new session starts from the default starter."""
    value = st.session_state.get(BUILDER_KEY)
    if isinstance(value, BuilderState):
        return value
    draft = BuilderDraft.of(starters()[DEFAULT_STARTER])
    fresh = BuilderState(draft=draft, loaded=draft)
    save_builder(fresh)
    return fresh


def save_builder(state: BuilderState) -> None:
    st.session_state[BUILDER_KEY] = state


def load_into_builder(draft: BuilderDraft | SpecFile, source: str, origin: str = "",
                      steps: Sequence[LibraryStep] | None = None, steps_of: str | None = None) -> BuilderState:
    """Replace the Builder's draft (with a starter, a Library step, a hand-over); its widgets reload from it.

    ``source``: the picker option it counts as; ``origin``: the note the Builder shows ("" none);
    ``steps``: a Library set's steps to offer in the picker (None keeps those offered already).
    """
    old = builder_state()
    if isinstance(draft, SpecFile):
        draft = BuilderDraft.of(draft)
    new = BuilderState(draft=draft, loaded=draft, source=source, origin=origin,
                       steps=old.steps if steps is None else tuple(steps),
                       steps_of=old.steps_of if steps_of is None else steps_of, revision=old.revision + 1,
                       table_version=old.table_version + 1,
                       previous=dataclasses.replace(old, previous=None) if old.edited else None)
    forget_widgets(BUILDER_PREFIX, (*DRAFT_WIDGETS, "starter"))
    save_builder(new)
    return new


def restore_previous() -> BuilderState | None:
    """Put back the edited draft the last load replaced (a hand-over the user did not mean to lose)."""
    old = builder_state()
    if old.previous is None:
        return None
    back = dataclasses.replace(old.previous, steps=old.steps, steps_of=old.steps_of, revision=old.revision + 1,
                               table_version=old.table_version + 1, previous=None)
    forget_widgets(BUILDER_PREFIX, (*DRAFT_WIDGETS, "starter"))
    save_builder(back)
    return back


# --------------------------------------------------------------------------- the prompt the Builder builds

def built_prompt() -> SpecWithDemos | None:
    """The Builder's prompt, from its draft (also when the Builder page was never opened, and right after a
    hand-over), read by the Demonstrations page and the Decoding Lab; None when the draft does not make a valid
    spec (the Builder page says why)."""
    draft = builder_state().draft
    try:
        return SpecWithDemos(draft.spec(), tuple(draft.used()))
    except WorkbenchError:
        return None


# --------------------------------------------------------------------------- the Demonstrations page

@dataclass(frozen=True)
class DemoSettings:
    """The Demonstrations page's inputs. Field names are its widget keys after ``dm_``."""

    qmode: str = "Type"  # "Type" or "Pick from the pool"
    query: str = "a warm, funny and moving film"  # the typed query
    qpick: int = 0  # the pool item used as the query
    sel: str = "knn"  # a workbench.retrieval.selectors.registry.SELECTOR_KINDS name
    k: int = 4  # how many demonstrations
    order: str = "similar_last"  # a workbench.retrieval.orders.ORDERS name
    seed: int = 0  # random selector / order, k-means
    lambda_: float = 0.5  # MMR trade-off
    fixed: tuple[int, ...] = ()  # the hand-picked pool rows of the "fixed" selector


DEMO_WIDGETS = tuple(f.name for f in dataclasses.fields(DemoSettings))


def demo_settings() -> DemoSettings:
    value = st.session_state.get(DEMONSTRATIONS_KEY)
    return value if isinstance(value, DemoSettings) else DemoSettings()


def save_demo_settings(values: Mapping[str, Any]) -> DemoSettings:
    """Keep the page's widget values (lists become tuples, so the record stays frozen)."""
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in DEMO_WIDGETS}
    settings = dataclasses.replace(demo_settings(), **clean)
    st.session_state[DEMONSTRATIONS_KEY] = settings
    return settings


def set_chosen(demos: Sequence[Example]) -> None:
    """The demonstrations the Demonstrations page chose and shows (in prompt order)."""
    st.session_state[CHOSEN_KEY] = tuple(demos)


def chosen_demos() -> tuple[Example, ...]:
    value = st.session_state.get(CHOSEN_KEY)
    return value if isinstance(value, tuple) else ()


# --------------------------------------------------------------------------- the Auto-CoT page

@dataclass(frozen=True)
class AutoCoTSettings:
    """The Auto-CoT page's settings. Field names are its widget keys after ``ac_``."""

    task: str = "none"  # a reference preset (run_demo.py --task) or "none"
    fmt: str = ""  # the answer type; "" = guessed from the pool
    k: int = 4  # demonstrations = clusters (4 is CPU-friendly)
    steps: int = 5  # max rationale steps (the reference's 5)
    words: int = 60  # max question words (the reference's 60)
    tries: int = MAX_TRIES_PER_CLUSTER  # rationales tried per cluster
    limit: int = 0  # questions used from the pool (0 = all)
    max: int = REASONING_DECODING.max_new_tokens  # max_new_tokens per rationale (the reference's 256)
    seed: int = 0  # k-means++ seed
    fallback: bool = False  # a cluster with no passing candidate gives its nearest (flagged)


AUTOCOT_KEY = "state_autocot"
AUTOCOT_WIDGETS = tuple(f.name for f in dataclasses.fields(AutoCoTSettings))


def autocot_settings() -> AutoCoTSettings:
    value = st.session_state.get(AUTOCOT_KEY)
    return value if isinstance(value, AutoCoTSettings) else AutoCoTSettings()


def save_autocot_settings(values: Mapping[str, Any]) -> AutoCoTSettings:
    settings = dataclasses.replace(autocot_settings(), **{k: v for k, v in values.items() if k in AUTOCOT_WIDGETS})
    st.session_state[AUTOCOT_KEY] = settings
    return settings


@dataclass(frozen=True)
class AutoCoTWork:
    """What the Auto-CoT page built or imported, as the user is editing it."""

    result: Any = None  # the last build (a workbench.autocot.AutoCoTResult: clusters, candidates); None after an import
    examples: tuple[Example, ...] = ()  # the questions that build clustered
    demos: tuple[Demo, ...] = ()  # the demonstrations, with the user's edits


AUTOCOT_WORK_KEY = "state_autocot_work"


def autocot_work() -> AutoCoTWork:
    value = st.session_state.get(AUTOCOT_WORK_KEY)
    return value if isinstance(value, AutoCoTWork) else AutoCoTWork()


def save_autocot_work(**changes: Any) -> AutoCoTWork:
    """Replace some fields of the page's work (sequences become tuples, so the record stays frozen)."""
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()}
    work = dataclasses.replace(autocot_work(), **clean)
    st.session_state[AUTOCOT_WORK_KEY] = work
    return work
