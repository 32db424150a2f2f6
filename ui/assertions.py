"""The Evaluate page's judging settings: assertion rows (type, value, threshold, weight) checked as they are
typed, the pass threshold, the judge model of model-graded checks, and repeats.

Every row is built with :func:`workbench.judging.registry.build_check` the moment it changes, so a bad row is
one red line under itself and Run waits. The rows add to the assertions the data and the prompt files carry
(promptfoo: ``defaultTest`` asserts, then each test's own). The settings live in one frozen record in session
state (:data:`ui.state.JUDGING_KEY`), so they survive a visit to another page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from ui import common
from ui.common import LOCAL_PATH, model_policy
from ui.fields import keep_widgets, number_field, unless_set
from ui.state import JUDGING_KEY
from workbench.backends import EMBEDDED
from workbench.data import Pool
from workbench.errors import ConfigError, WorkbenchError
from workbench.evaluate.strategies import SC_TEMPERATURE
from workbench.judging.base import Check
from workbench.judging.registry import JUDGES, build_check, build_checks, names
from workbench.judging.tools import DEFAULT_JUDGE
from workbench.judging.verdicts import check_threshold

if TYPE_CHECKING:
    from workbench.judging.judge_prompts import JudgePrompt

#: The judge picker's first option: the model the run itself uses (the sidebar's).
SAME_MODEL = "The run's model (sidebar)"
#: Most repeats of an item the page offers (each is a full run of the item).
MAX_REPEAT = 20
#: Widget keys kept across page switches (the rows' own widgets are put back from the record).
KEPT_KEYS = ("ev_pass_threshold", "ev_judge", "ev_judge_path", "ev_repeat", "ev_repeat_temp")
#: The honest word on small judges, shown wherever a judge model is picked.
JUDGE_CAVEAT = ("A 135M-parameter judge is weak: its verdicts are often wrong. The point here is the mechanism "
                "(the exact prompt, the reply, how it is read) and the agreement figure: grade a few items by hand "
                "on the Results tab to see how far the judge can be trusted.")


@dataclass(frozen=True)
class AssertionRow:
    """One assertion as the page's row holds it (text and numbers as typed)."""

    id: int  # part of the row's widget keys: stays with the row when rows above it are removed
    type: str = "icontains"  # a registered type, "not-" for a negation
    value: str = ""  # the value as typed ("" = none)
    threshold: float | None = None  # None: the kind's default (or none)
    weight: float = 1.0  # its share of the weighted score
    prompt: tuple[tuple[str, str], ...] = ()  # a model-graded check's edited judge prompt, (role, template) messages
    # (): the kind's default prompt
    prompt_of: str = ""  # the kind the edited prompt was written for (another kind starts from its own default)

    def spec(self) -> dict:
        """The assertion as promptfoo writes it (what build_check reads)."""
        out: dict = {"type": self.type, "weight": self.weight}
        if self.value.strip():
            out["value"] = self.value.strip()
        if self.threshold is not None:
            out["threshold"] = self.threshold
        if self.prompt:
            out["rubricPrompt"] = [{"role": role, "content": text} for role, text in self.prompt]
        return out


@dataclass(frozen=True)
class JudgingSettings:
    """The judging part of the Evaluate page's setup, kept across page switches."""

    rows: tuple[AssertionRow, ...] = ()  # the page's assertion rows, in order
    next_id: int = 0  # the id the next added row gets


@dataclass(frozen=True)
class JudgingPlan:
    """What the judging settings describe: checks for every item, the pass rule, the judge and repeats."""

    checks: tuple[Check, ...] = ()  # the page's rows, built
    threshold: float | None = None  # pass threshold on the weighted score (None: every check must pass)
    judge_model: str | None = None  # the judge of model-graded checks (None: the run's own model)
    repeat: int = 1  # runs of each item
    temperature: float = SC_TEMPERATURE  # sampling temperature of repeated runs
    graded: bool = False  # some check (a row, the data's, a prompt file's) asks a judge model

    def judge(self, backend, graded: bool = False) -> object | Callable[[], object] | None:
        """What ``evaluate(judge=...)`` gets: None without model-graded checks (here, or ``graded``: a resumed
        run's); else the run's model, or a factory that loads the judge model only when a check first asks it."""
        if not (self.graded or graded):
            return None
        if self.judge_model is None:
            return backend
        model = self.judge_model
        return lambda: common.cached_backend(model, "auto")  # looked up when called: one per server

    def crossing(self) -> dict:
        """What :func:`~workbench.evaluate.variants.cross_variants` takes from the judging settings (the rows
        judge every strategy before a prompt file's own; repeats sample at the repeats' temperature)."""
        return {"checks": self.checks, "threshold": self.threshold, "repeat": self.repeat,
                "temperature": self.temperature if self.repeat > 1 else None}


def judging_settings() -> JudgingSettings:
    value = st.session_state.get(JUDGING_KEY)
    return value if isinstance(value, JudgingSettings) else JudgingSettings()


def _save(settings: JudgingSettings) -> None:
    st.session_state[JUDGING_KEY] = settings


def _key(row_id: int, name: str) -> str:
    return f"ev_as{row_id}_{name}"


#: The row widgets' names (keys ``ev_as{id}_{name}``), as AssertionRow's fields.
ROW_WIDGETS = ("type", "value", "threshold", "weight")


def _add_row() -> None:
    """Add a row (a callback: runs before the page redraws)."""
    s = _read_rows(judging_settings())
    _save(dataclasses.replace(s, rows=(*s.rows, AssertionRow(s.next_id)), next_id=s.next_id + 1))


def _remove_row(row_id: int) -> None:
    s = _read_rows(judging_settings())
    for name in ROW_WIDGETS:
        st.session_state.pop(_key(row_id, name), None)
    _save(dataclasses.replace(s, rows=tuple(r for r in s.rows if r.id != row_id)))


def _read_rows(s: JudgingSettings) -> JudgingSettings:
    """The record with each row as its widgets hold it now."""
    ss = st.session_state
    rows = tuple(dataclasses.replace(r, **{n: ss[_key(r.id, n)] for n in ROW_WIDGETS if _key(r.id, n) in ss})
                 for r in s.rows)
    return dataclasses.replace(s, rows=rows)


def type_options() -> list[str]:
    """Every assertion type the registry has, each followed by its negation where it has one."""
    out = []
    for name in names(assertions_only=True):
        out.append(name)
        if JUDGES[name].negatable:
            out.append(f"not-{name}")
    return out


def _type_help() -> str:
    lines = [f"- **{n}**: {JUDGES[n].description}" for n in names(assertions_only=True)]
    return "Promptfoo's assertion types; **not-** before a type inverts it.\n" + "\n".join(lines)


def assertion_rows() -> tuple[list[Check], bool]:
    """The rows, each with its type, value, threshold and weight, built as typed: (the valid checks, whether
    any row is bad). A bad row is one red line under it."""
    settings = judging_settings()
    ss = st.session_state
    for r in settings.rows:  # put back what Streamlit dropped while another page ran
        for name in ROW_WIDGETS:
            ss.setdefault(_key(r.id, name), getattr(r, name))
    options = type_options()
    checks, bad, kept = [], False, []
    for n, r in enumerate(settings.rows, start=1):
        if ss[_key(r.id, "type")] not in options:  # a type no longer registered
            ss[_key(r.id, "type")] = options[0]
        kind = JUDGES[ss[_key(r.id, "type")].removeprefix("not-")]
        c = st.columns([4, 5.5, 2, 2, 2], vertical_alignment="bottom")
        c[0].selectbox(f"Type of assertion {n}", options, key=_key(r.id, "type"), help=_type_help())
        value_help = {"required": "Needed.", "optional": "Optional: without one, compared with the gold answer."
                      if kind.reads_gold else "Optional.", "none": "This type takes no value."}[kind.value]
        c[1].text_input("Value", key=_key(r.id, "value"), max_chars=20_000, disabled=kind.value == "none",
                        placeholder="" if kind.value == "none" else "e.g. Paris", help=value_help)
        lo_hi = kind.threshold_range
        number_field(c[2], "Threshold", None, key=_key(r.id, "threshold"), step=0.05, optional=True,
                          disabled=lo_hi is None,
                          placeholder="none" if lo_hi is None else "default" if kind.default_threshold is None
                          else f"{kind.default_threshold:g}",
                          help="This type takes no threshold." if lo_hi is None else
                          f"From {lo_hi[0]:g} to {lo_hi[1]:g}; empty: the type's default.")
        number_field(c[3], "Weight", 1.0, key=_key(r.id, "weight"), step=0.5, optional=True,
                     help="Its share of the item's weighted score (0: shown, not counted).")
        c[4].button("Remove", key=f"ev_as{r.id}_remove", on_click=_remove_row, args=(r.id,))
        row = _read_rows(JudgingSettings(rows=(r,))).rows[0]
        if kind.graded:
            row = judge_prompt_editor(row, n, kind.name)
        kept.append(row)
        if kind.value == "none":
            row = dataclasses.replace(row, value="")
        if lo_hi is None:
            row = dataclasses.replace(row, threshold=None)
        try:
            checks.append(build_check(row.spec(), f"Assertion {n}"))
        except WorkbenchError as err:
            st.error(str(err), icon="⚠️")
            bad = True
    st.button("Add an assertion", key="ev_as_add", on_click=_add_row,
              help="An assertion judges every item's output (promptfoo's names: contains, regex, is-json, "
                   "llm-rubric, ...); it adds to those the data and the prompt files carry.")
    _save(dataclasses.replace(settings, rows=tuple(kept)))
    return checks, bad


def _default_prompt(keys: list[str], default: JudgePrompt) -> None:
    for key, (_, body) in zip(keys, default.messages, strict=True):
        st.session_state[key] = body


def judge_prompt_editor(row: AssertionRow, n: int, kind: str) -> AssertionRow:
    """The exact prompt a model-graded check gives its judge, message by message, editable (promptfoo's
    ``rubricPrompt``); ``row`` with the edit (none while it is the kind's default)."""
    from workbench.judging.judge_prompts import DEFAULTS  # the model-graded kinds' module (only they get here)

    default = DEFAULTS[kind]
    keys = [f"ev_as{row.id}_{kind}_m{i}" for i in range(len(default.messages))]
    mine = dict(enumerate(row.prompt)) if row.prompt_of == kind else {}
    ss = st.session_state
    with st.expander(f"Judge prompt of assertion {n} ({kind}): the exact messages, editable"):
        st.caption("Sent in the judge model's chat format (a base model reads them one after another). "
                   + ", ".join(f"{{{name}}}" for name in default.allowed) + " are filled in per item: the output "
                   "judged, the value and the item's input (or gold answer); {{ and }} are literal braces.")
        for i, ((role, body), key) in enumerate(zip(default.messages, keys, strict=True)):
            ss.setdefault(key, mine[i][1] if i in mine else body)
            st.text_area(f"Message {i + 1}: {role}", key=key, height=160, max_chars=10_000)
        st.button("Back to the default prompt", key=f"ev_as{row.id}_prompt_reset", on_click=_default_prompt,
                  args=(keys, default))
    edited = tuple((role, ss[key]) for (role, _), key in zip(default.messages, keys, strict=True))
    changed = edited != default.messages
    return dataclasses.replace(row, prompt=edited if changed else (), prompt_of=kind if changed else "")


def item_checks(dataset: Pool) -> tuple[int, bool]:
    """The data's own assertions (``__expected`` columns, an ``assert`` field), built now so that a bad one is
    one line before any model call: (items that carry some, whether any asks a judge model)."""
    carrying = [ex for ex in dataset if ex.checks]
    graded = False
    for ex in carrying:
        graded |= any(c.kind.graded for c in build_checks(ex.checks, f"{dataset.name} item {ex.id}"))
    return len(carrying), graded


def judge_picker() -> str | None:
    """The judge model of model-graded checks: the local instruct model (the default, as on the CLI), the run's
    own, another embedded model, or a local file or folder (None: the run's own). A model this server does not allow is one line."""
    policy = model_policy()
    models = list(policy.models) if policy.pinned else [*EMBEDDED, LOCAL_PATH]
    options = [SAME_MODEL, *models]
    if st.session_state.get("ev_judge") not in options:  # default: the local instruct model, as the CLI's
        st.session_state["ev_judge"] = DEFAULT_JUDGE if DEFAULT_JUDGE in options else SAME_MODEL
    c1, c2 = st.columns([2, 3])
    choice = c1.selectbox("Judge model", options, key="ev_judge",
                          help="The model that grades model-graded checks (llm-rubric, factuality, ...). It may be "
                               "the same model as the run's. Its answers are greedy and go through the response "
                               "cache.")
    c2.caption(JUDGE_CAVEAT)
    if choice == SAME_MODEL:
        return None
    model = choice
    if choice == LOCAL_PATH:
        model = st.text_input("Judge: path to a .gguf file or a Hugging Face model folder", key="ev_judge_path",
                              **unless_set("ev_judge_path", value="")).strip()
        if not model:
            raise ConfigError("Type the judge model's path (a .gguf file or a model folder), or pick another judge.")
    policy.check(model, "auto")
    return model


def judging_section(dataset: Pool, variant_checks: int, variant_graded: bool) -> JudgingPlan | None:
    """The Setup tab's judging box; None while a row or number is invalid (each says why under itself)."""
    keep_widgets(KEPT_KEYS)
    with st.container(border=True):
        st.markdown("**Judging**: assertions judge each output instead of the answer format's own comparison.")
        carrying, data_graded = item_checks(dataset)
        said = []
        if carrying:
            said.append(f"{carrying} of {len(dataset)} items carry their own assertions (the data's __expected "
                        "columns or assert field)")
        if variant_checks:
            said.append(f"the prompt files add {variant_checks} for every item")
        if said:
            st.caption("; ".join(said) + ". The rows below add to them.")
        checks, bad_rows = assertion_rows()
        c1, c2, c3 = st.columns(3)
        threshold, _ = number_field(c1, "Pass threshold (weighted score)", None, key="ev_pass_threshold",
                                    step=0.05, optional=True, placeholder="every check must pass",
                                    help="Empty: an item passes when every check passes. A number from 0 to 1: "
                                         "when the weighted mean of its checks' scores reaches it (promptfoo's "
                                         "rule).")
        bad_threshold = False
        try:
            threshold = check_threshold(threshold)
        except ConfigError as err:
            c1.error(str(err), icon="⚠️")
            bad_threshold = True
        repeat, bad_repeat = number_field(c2, "Repeat each item", 1, key="ev_repeat", lo=1, hi=MAX_REPEAT)
        temperature, bad_temp = number_field(c3, "Temperature of the repeats", SC_TEMPERATURE, key="ev_repeat_temp",
                                             step=0.1, lo=0, hi=2, disabled=bad_repeat or int(repeat) == 1,
                                             help="Repeats sample (seeds: the run's seed, +1, +2, ...); greedy "
                                                  "repeats would all be the same.")
        graded = data_graded or variant_graded or any(c.kind.graded for c in checks)
        judge_model = None
        if graded:
            judge_model = judge_picker()
    if bad_rows or bad_threshold or bad_repeat or bad_temp:
        return None
    return JudgingPlan(tuple(checks), threshold, judge_model, int(repeat), float(temperature), graded)
