"""Evaluate page widgets: the tabs (Setup, Results, Order sensitivity, Run history), the data and strategy settings
with the answer mode, a run with progress/ETA/cancel above the tabs, and order sensitivity.

The Results tab is :mod:`ui.evaluate_results`; the Run history tab (with two runs compared) :mod:`ui.run_history`.
Results are always read back from the store (never kept only in session state), so a cancelled run, a past run
and a resumed run show the same way.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from ui.assertions import JudgingPlan, judging_section
from ui.common import RUN_SHORTCUT, app_store, user_errors
from ui.datapick import data_picker
from ui.decoding_controls import MAX_SEED
from ui.evaluate_results import accuracy_chart
from ui.evaluate_results import results as results  # the Results tab's body
from ui.fields import number_field, unless_set
from ui.handover import HandedPrompt, clear, received
from ui.run_history import TAB_KEY
from ui.run_history import history as history_tab
from ui.run_models import run_backend, strategy_models
from workbench.data import Pool
from workbench.data.shapes import describe
from workbench.errors import ConfigError, DataError
from workbench.evaluate.formats import default_spec, gold_warning
from workbench.evaluate.metrics import spread, summarize
from workbench.evaluate.order_sensitivity import order_sensitivity
from workbench.evaluate.registry import STRATEGIES, kinds
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import DEFAULT_K, Strategy, needs_index
from workbench.evaluate.variants import INFERRED, PromptVariant, can_score, cross_variants
from workbench.prompts.files import loads_spec
from workbench.reasoning.modes import NONE
from workbench.words import plural

#: Strategy families offered in the picker, with a one-line description (from the one strategy registry, whose
#: labels are the selectors' labels: the Demonstrations page uses the same words).
FAMILIES = {k.base: k.description for k in kinds()}


def family_label(base: str) -> str:
    """What the picker calls a family: the registry's label, with the name strategy names use when it differs
    ("nearest (knn)", "diverse")."""
    label = STRATEGIES[base].label
    return label if label == base else f"{label} ({base})"


#: Answer modes as the page names them.
ANSWER_MODES = {"generate": "Generate + extract the answer", "score": "Label scoring (one forward pass per label)"}
#: Longest wait (seconds) for a cancelled run to finish its item in flight before the page goes on.
STOP_WAIT_S = 60.0
#: The page's tabs: setup, results and history each one click away (the selected one kept in session state).
TABS = ("Setup", "Results", "Order sensitivity", "Run history")
#: Session-state key: the tab to open on the next run of the page (a tab cannot change once drawn).
GOTO_KEY = "ev_goto"
#: Scrolls the page up to the tabs when they are above the window (drawn once, right after a tab is opened for the
#: user: a finished run, Show, Resume); a page already showing them does not move.
SCROLL_TO_TABS = """<script>
setTimeout(() => { const t = document.querySelector('[data-testid="stTabs"]');
                   if (t && t.getBoundingClientRect().top < 0) t.scrollIntoView({block: "start"}); }, 300);
</script>"""
#: What the page shows, read aloud by a teacher.
ABOUT = ("Which prompting strategy is better on my data? Pick a labelled dataset and a few strategies (zero-shot, "
         "K random or nearest demonstrations, chain-of-thought, self-consistency) on **Setup** and press **Run**: "
         "each strategy answers the same items, and **Results** shows the accuracy of each with a 95% interval, "
         "whether two strategies really differ (a paired test on the same items), where the answers went "
         "(confusion matrix) and every item's prompt, output and extracted answer. **Order sensitivity** "
         "measures how much the order of the demonstrations alone moves accuracy; **Run history** keeps every run "
         "to show again, resume, export or compare with another. A **promptfoo config** or an **lm-eval task** "
         "runs as it is (Setup's first choice): its prompts × models make a matrix.")


@dataclass(frozen=True)
class Plan:
    """What the settings describe: the run the Run button starts."""

    dataset: Pool
    pool: Pool  # where demonstrations come from (the dataset itself by default)
    strategies: tuple[Strategy, ...]
    limit: int | None
    k: int
    seed: int
    cache: bool = True  # answer repeated requests from the store's response cache
    reproducible: bool = False  # one sequence at a time: the exact unbatched text, however the model batches
    judging: JudgingPlan = dataclasses.field(default_factory=JudgingPlan)  # the page's assertions, pass threshold, judge model and repeats
    model: str | None = None  # the run's own model when not the sidebar's (a one-model import's choice)


# --------------------------------------------------------------------------- data as it comes
# The dataset and the demonstration pool come from the data picker every page shares (ui/datapick.py).

#: The settings kept across page switches (Streamlit forgets widgets a page did not draw). Uploads and the
#: label-value tables cannot be put back; the handed-over prompt variants follow the hand-over itself.
KEPT_KEYS = ("ev_data_src", "ev_data_sample", "ev_data_input_mode", "ev_data_input_template", "ev_data_input",
             "ev_data_answer", "ev_other_pool", "ev_pool_src", "ev_pool_sample", "ev_strategies", "ev_k", "ev_sc",
             "ev_more", "ev_as_built", "ev_answer", "ev_limit", "ev_seed", "ev_cal", "ev_cache", "ev_repro", "ev_os_perms",
             "ev_only_disagree", "ev_disagree_by", "ev_tab")


# --------------------------------------------------------------------------- settings


def strategy_names(families: list[str], k: int, samples: int, extra: str) -> list[str]:
    """Short names for the chosen families (``knn`` + K 4 -> ``knn4``) plus any typed by hand."""
    names = [STRATEGIES[f].short_name(k=k, samples=samples) for f in families]
    return names + [n.strip() for n in extra.split(",") if n.strip()]


def data_notes(dataset: Pool) -> None:
    """How the dataset's gold answers are read (its detected shape, rationales and choices found), and one
    warning when free-text golds look like worked solutions that exact match would never equal."""
    if st.session_state.get("ev_data_src") != "Upload":  # an upload's line sits beside its Dataset shape select
        st.caption(describe(dataset))
    warning = gold_warning(dataset)
    if warning:
        st.warning(warning, icon="⚠️")


def demonstration_pool(dataset: Pool) -> Pool | None:
    """Where demonstrations come from: the dataset itself (never an item's own row) or another pool.

    None while the other pool is not loaded yet.
    """
    if not st.toggle("Take demonstrations from another pool", key="ev_other_pool",
                     help="Off: from the dataset itself; an item never sees its own row as a demonstration."):
        return dataset
    return data_picker("ev_pool", "Demonstration pool", default=dataset.name)




def prompt_files() -> list[PromptVariant]:
    """Prompt spec files (YAML or JSON, as the Library and ``workbench eval --prompt`` read them) uploaded as
    variants, each with its ``assert:`` list and threshold; a bad file is one red line and is left out."""
    files = st.file_uploader("Prompt files (optional): YAML spec files, each a prompt variant with its own "
                             "assertions", type=["yaml", "yml", "json"], accept_multiple_files=True,
                             key="ev_prompt_files",
                             help="A spec file as the Prompt Builder saves it (spec, demos) with promptfoo's assert: "
                                  "list and threshold; it runs under every strategy chosen below.")
    out = []
    for f in files or ():
        with user_errors(f"Reading {f.name}"):
            fmt = "json" if f.name.lower().endswith(".json") else "yaml"
            sf = loads_spec(f.getvalue(), f.name, fmt)
            out.append(PromptVariant(Path(f.name).stem, sf.spec, sf.demos, sf.checks, sf.threshold))
    return out


def _variant_label(v: PromptVariant, handed: HandedPrompt | None) -> str:
    if v.name == INFERRED:
        return "inferred: the dataset's own template"
    if handed is not None and v.name == handed.name:
        return f"{v.name}: from the {handed.source}"
    return f"{v.name}: prompt file" + (f", {plural(len(v.checks), 'assertion')}" if v.checks else "")


def variant_picker(dataset: Pool, pool: Pool) -> list[PromptVariant]:
    """The inferred template, the prompt handed over from the Prompt Builder (when there is one) and any prompt
    files uploaded; with more than one, the user picks which run."""
    inferred = PromptVariant(INFERRED, default_spec(dataset, pool))
    handed: HandedPrompt | None = received()
    if handed is not None:
        c1, c2 = st.columns([6, 1])
        c1.info(f"From the {handed.source}: {handed.summary()}", icon="🧱")
        if c2.button("Forget it", key="ev_forget", help="Evaluate only the dataset's inferred template."):
            clear()
            st.rerun()
    variants = [inferred, *([PromptVariant(handed.name, handed.spec, handed.demos)] if handed else []),
                *prompt_files()]
    if len(variants) == 1:
        return variants
    by_name = {v.name: v for v in variants}  # a name given twice: cross_variants says so in one line
    ss = st.session_state
    if "ev_variants" not in ss or ss.get("ev_variants_of") != list(by_name):
        # every option at first; later, new options (a file added) are picked and gone ones dropped
        old, held = (ss.get("ev_variants_of") or [], ss["ev_variants"]) if "ev_variants" in ss else ([], [])
        ss["ev_variants"] = [n for n in by_name if n in held or n not in old]
        ss["ev_variants_of"] = list(by_name)
    picked = st.multiselect("Prompt variants", list(by_name), key="ev_variants",
                            format_func=lambda n: _variant_label(by_name[n], handed),
                            help="Each variant runs under every strategy chosen below.")
    if not picked:
        raise ConfigError("Choose at least one prompt variant.")
    return [by_name[n] for n in picked] if len(by_name) == len(variants) else variants


def settings(dataset: Pool, pool: Pool) -> Plan | None:
    """Variant, strategy, answer-mode, limit and seed widgets; raises a WorkbenchError for a bad combination.

    None while a number is out of range (each says why under itself)."""
    variants = variant_picker(dataset, pool)
    gold = dataset.labels() if default_spec(dataset, pool).answer_format == "label" else ()
    for v in variants:
        missing = [lab for lab in gold if v.spec.answer_format == "label" and lab not in v.spec.labels]
        if missing:
            st.warning(f"{v.name}: its labels ({', '.join(v.spec.labels) or 'none'}) lack the dataset's "
                       f"{', '.join(missing)}; name the label values above or edit the labels in the "
                       f"{'Prompt Builder' if v.name != INFERRED else 'file'}.", icon="⚠️")
    c1, c2, c3 = st.columns([3, 1, 1])
    families = c1.multiselect("Strategies", list(FAMILIES), key="ev_strategies",
                              **unless_set("ev_strategies", default=["zero", "knn"]),
                              format_func=family_label,
                              help="\n".join(f"- **{family_label(b)}**: {d}" for b, d in FAMILIES.items()))
    k, bad_k = number_field(c2, "K demonstrations", DEFAULT_K, key="ev_k", lo=1, hi=32)
    samples, bad_sc = number_field(c3, "Self-consistency samples", 5, key="ev_sc", lo=2, hi=40,
                                   disabled="sc" not in families)
    # An invalid number (its reason shown under it) stands in as the default while the rest is drawn; no run.
    k, samples = DEFAULT_K if bad_k else int(k), 5 if bad_sc else int(samples)
    extra = st.text_input("More strategies by name (optional)", key="ev_more",
                          placeholder="e.g. knn8+cal, random2+gen, manualcot4+sc5",
                          help="BASE[K] then +score, +gen, +cal or +scN, comma-separated.")
    built = [v for v in variants if v.demos]
    as_built = False
    if built:
        as_built = st.toggle(f"Also run the handed-over prompt as built ({plural(len(built[0].demos), 'demonstration')}"
                             ", in its order)", key="ev_as_built", **unless_set("ev_as_built", value=True))
    scorable = [v for v in variants if can_score(v.spec)]
    labels = tuple(dict.fromkeys(lab for v in scorable for lab in v.spec.labels))
    c1, c2, c3 = st.columns(3)
    modes = list(ANSWER_MODES) if labels else ["generate"]  # label scoring needs a fixed label set
    # Label scoring by default only where every prompt has a label set; a prompt without one always generates.
    default = "score" if len(scorable) == len(variants) and labels else "generate"
    answer = c1.radio("Answer", modes, format_func=ANSWER_MODES.get, key="ev_answer",
                      **unless_set("ev_answer", index=modes.index(default)),
                      help="Label scoring picks the label word the model finds most likely after the prompt: never "
                           "an off-label answer. Chain-of-thought strategies, and prompts without a label set, "
                           "always generate.")
    answers: dict[str, str] = {}
    if answer == "score" and len(scorable) < len(variants):
        answers = {v.name: "generate" for v in variants if not can_score(v.spec)}
        c1.caption(f"{', '.join(answers)}: no fixed label set, so its strategies generate and extract the answer.")
    ss = st.session_state
    if ss.get("ev_limit_of") != dataset.content_hash:  # another dataset: a limit beyond its size becomes all of it
        ss["ev_limit_of"] = dataset.content_hash
        if ss.get("ev_limit", 0) > len(dataset):
            ss["ev_limit"] = len(dataset)
    limit, bad_limit = number_field(c2, "Items (0 = all)", min(20, len(dataset)), key="ev_limit", lo=0,
                                    hi=len(dataset))
    seed, bad_seed = number_field(c3, "Seed (random demos, sampling)", 0, key="ev_seed", lo=0, hi=MAX_SEED)
    limit, seed = 0 if bad_limit else int(limit), 0 if bad_seed else int(seed)
    words: dict[str, str] = {}
    calibrate = False
    if answer == "score":
        if not labels:
            raise DataError(f"{dataset.name} has no fixed label set, so label scoring cannot apply; "
                            "choose Generate + extract.")
        st.caption("Label words scored after the prompt (the leading space matters: ' great' is one token, "
                   "'great' another). Demonstrations show the word as their answer.")
        for col, label in zip(st.columns(min(len(labels), 6)) * len(labels), labels, strict=False):
            # Keyed by the label itself: naming label values above must not leave an old label's word here.
            words[label] = col.text_input(label, " " + label, key=f"ev_word_{label}")
        calibrate = st.toggle("Contextual calibration (Zhao et al. 2021)", key="ev_cal",
                              help="Estimate the prompt's label bias from content-free inputs ('N/A', '', "
                                   "'[MASK]') after the same demonstrations and divide it out. Raw and calibrated "
                                   "answers are both kept.")
    judging = judging_section(dataset, sum(len(v.checks) for v in variants),
                              any(c.kind.graded for v in variants for c in v.checks))
    names = strategy_names(families, k, samples, extra)
    strategies = cross_variants(variants, names, pool, as_built, answers=answers, answer=answer,
                                calibrate=calibrate, label_words=words, seed=seed,
                                **(judging or JudgingPlan()).crossing())
    with st.expander("Prompt specs of this run"):
        for v in variants:
            v_labels = v.spec.labels if v.spec.answer_format == "label" else ()
            st.caption(f"**{v.name}** · answer format **{v.spec.answer_format}**"
                       + (f" · labels {', '.join(v_labels)}" if v_labels else "")
                       + (f" · {plural(len(v.checks), 'assertion')}: "
                          + ", ".join(c.type for c in v.checks) if v.checks else "")
                       + (f" · {plural(len(v.demos), 'demonstration')} as built" if v.demos else ""))
            st.code(f"{v.spec.instruction}\n\n{v.spec.demo_template}\n\n{v.spec.query_template}".strip(),
                    language=None)
    cache = st.toggle("Use the response cache", key="ev_cache", **unless_set("ev_cache", value=True),
                      help="A request already answered for the same model file, backend, prompt, decoding and "
                           "seed is read from the store instead of the model: rerunning after changing one "
                           "variant costs only that variant. Off: every item goes to the model.")
    reproducible = st.toggle("Reproducible: one sequence at a time", key="ev_repro",
                             help="Where the model decodes several sequences per step (llama.cpp: 8 unless "
                                  "WORKBENCH_BATCH says otherwise), generation items and self-consistency paths "
                                  "run together, about twice as fast. On llama.cpp with its exact kernels (the "
                                  "default) that is exactly the one-at-a-time text; on transformers, a server or "
                                  "WORKBENCH_KERNELS=fast a greedy text can differ a little (floating-point sums "
                                  "change with the batch). On: every sequence alone. Label scoring is never "
                                  "batched.")
    if any((bad_k, bad_sc and "sc" in families, bad_limit, bad_seed)) or judging is None:
        return None
    return Plan(dataset, pool, tuple(strategies), limit or None, k, seed, cache, reproducible, judging)


# --------------------------------------------------------------------------- running


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _index(plan: Plan, strategies) -> object | None:
    from ui.common import pool_index

    return pool_index(plan.pool) if needs_index(strategies) else None


@dataclass
class ActiveRun:
    """The run this session has in flight (in session state under ``ev_active``), for the page run after Cancel.

    Streamlit starts that page run at once, in a new thread, while the interrupted one finishes its item; the
    new run waits for ``done`` so that the history below shows the run as it was left, not as "running".
    """

    run_id: int | None = None  # known once the first item is stored
    done: threading.Event = dataclasses.field(default_factory=threading.Event)  # set when evaluate() returned


def execute(plan: Plan, backend, strategies=None, run_id: int | None = None, limit: int | None = None) -> int:
    """Run (or resume) with a progress bar and ETA; a click anywhere (Cancel) stops it between items."""
    strategies = list(plan.strategies if strategies is None else strategies)
    backend = run_backend(strategies, plan.model, backend)  # a prompt x model run: its first model is its own
    active = ActiveRun(run_id)
    st.session_state["ev_active"] = active
    try:
        index = _index(plan, strategies)
        bar = st.progress(0.0, text="Preparing (demonstrations, embeddings)…")
        building = any(s.demos_to_build for s in strategies)
        items_started = [False]

        def checkpoint() -> bool:
            """Before each Auto-CoT rationale and each item: while preparing, redraw the bar. A redraw is where a
            Cancel click (a rerun) interrupts the work, so Cancel also stops an Auto-CoT build."""
            if not items_started[0]:
                bar.progress(0.0, text="Building the Auto-CoT demonstrations (a rationale per cluster)…"
                             if building else "Preparing (demonstrations, embeddings)…")
            return False

        def progress(p) -> None:
            items_started[0] = True
            active.run_id = p.run_id
            eta = "" if p.eta_s is None else f" · about {_clock(p.eta_s)} left"
            bar.progress(p.fraction, text=f"{p.done}/{p.total} items · {p.strategy}{eta}")

        run = evaluate(plan.dataset, plan.pool, strategies, backend, app_store(), run_id=run_id,
                       limit=plan.limit if run_id is None else limit, progress=progress,
                       index=index, cache=plan.cache, should_stop=checkpoint, reproducible=plan.reproducible,
                       models=strategy_models(strategies),
                       judge=plan.judging.judge(backend, any(c.kind.graded for s in strategies for c in s.checks)))
    finally:
        active.done.set()
    st.session_state.pop("ev_active", None)
    bar.progress(1.0, text=f"Run {run.run_id} {run.status}: {plural(sum(s.n for s in run.summaries), 'result')}")
    st.session_state["ev_run_id"] = run.run_id
    return run.run_id


# --------------------------------------------------------------------------- tabs


def tabs():
    """Setup, Results, Order sensitivity and Run history, each one click away; the selected tab is kept in session
    state (``ev_tab``), and a pending :func:`goto` opens its tab first."""
    ss = st.session_state
    pending = ss.pop(GOTO_KEY, None)
    if pending in TABS:
        ss[TAB_KEY] = pending
        # A run started with Ctrl/Cmd+Enter far down the Setup tab: bring the opened tab's top into view.
        st.html(SCROLL_TO_TABS, unsafe_allow_javascript=True, width="content")
    return st.tabs(list(TABS), key=TAB_KEY, on_change="rerun")


def goto(tab: str) -> None:
    """Open ``tab`` now: the page reruns with it selected (the tabs of this run are drawn already)."""
    st.session_state[GOTO_KEY] = tab
    st.rerun()


def show_run(run_id: int) -> None:
    """Put a stored run on the Results tab and open it."""
    st.session_state["ev_run_id"] = run_id
    goto("Results")


def history(plan: Plan | None, backend) -> None:
    """The Run history tab; Resume continues a stored run with this page's dataset and opens its results."""

    def resume(info) -> None:
        strategies = [Strategy.from_dict(d) for d in info.meta.get("strategies", [])]
        execute(plan, backend, strategies=strategies, run_id=info.run_id, limit=info.meta.get("limit"))
        goto("Results")

    history_tab(plan is not None and backend is not None, resume, show_run)


def _stopped(active: ActiveRun, timeout_s: float = STOP_WAIT_S):
    """The cancelled run once its interrupted script run has stored the item in flight and marked it cancelled
    (None when it was cancelled before its first item was stored)."""
    if not active.done.is_set():
        with st.spinner("Stopping after the items in flight…"):
            active.done.wait(timeout_s)
    return None if active.run_id is None else app_store().get_run(active.run_id)


def run_controls(plan: Plan | None, backend) -> None:
    """Run and Cancel. Cancel reruns the page, which stops the run after the item in flight (or between the
    rationales of an Auto-CoT build). Run is disabled while a setting is invalid (``plan`` None)."""
    cancelled: ActiveRun | None = st.session_state.pop("ev_active", None)
    scoring = plan is not None and any(s.answer == "score" for s in plan.strategies)
    cannot_score = scoring and backend is not None and not backend.capabilities.label_scoring
    if cannot_score:
        st.error(f"{backend.name} cannot score label words with this model (its token counts are an estimate, or "
                 "the server returns no log-probabilities); choose Answer: generate, or a model or server "
                 "with a tokenizer.")
    c1, c2, _ = st.columns([1, 1, 4])
    start = c1.button("Run", type="primary", key="ev_run", shortcut=RUN_SHORTCUT,
                      disabled=plan is None or not plan.strategies or cannot_score)
    c2.button("Cancel", key="ev_cancel", help="Stop after the items in flight (one, or a batch where the model "
                                              "batches). Finished items stay stored; "
                                              "resume the run from the Run history tab.")
    if cancelled is not None and not start:
        info = _stopped(cancelled)
        if info is None:
            st.warning("The run was cancelled before its first item finished (while its demonstrations or "
                       "embeddings were being prepared); no results were stored.", icon="⏹️")
        else:
            st.warning(f"Run {info.run_id} was cancelled with {plural(info.n_results, 'result')} stored (on the "
                       "Results tab); resume it from the Run history tab.", icon="⏹️")
            st.session_state["ev_run_id"] = info.run_id
    if plan is not None and not plan.strategies:
        st.info("Choose at least one strategy.")
    if start and plan is not None and not cannot_score:
        # The history's picker shows the new run, so its JSON export is this run's; the results open at once.
        st.session_state["ev_pick"] = execute(plan, backend)
        goto("Results")


# --------------------------------------------------------------------------- order sensitivity


def order_section(plan: Plan, backend) -> None:
    """The same K demonstrations under P seeded orders: accuracy mean ± std, min, max (Lu et al. 2022)."""
    st.caption("Lu et al. 2022: the same demonstrations in another order moved SST-2 accuracy from near chance to "
               "above 90%. One seeded draw of K demonstrations (every label when the data has labels), P orders.")
    usable = [s for s in plan.strategies if s.spec.mode is NONE and s.samples == 1]
    if not usable:
        st.info("Order sensitivity needs a strategy without chain-of-thought (e.g. zero or knn).")
        return
    c1, c2 = st.columns([2, 1])
    name = c1.selectbox("Answer like", [s.name for s in usable], key="ev_os_strategy",
                        help="Its answer mode (generate / label scoring, calibration) is used; the demonstrations "
                             f"are K={plan.k} fixed ones.")
    perms, bad_perms = number_field(c2, "Orders P", 8, key="ev_os_perms", lo=2, hi=24)
    perms = int(perms)
    if st.button("Measure order sensitivity", key="ev_os_run", disabled=bool(bad_perms)):
        strategy = dataclasses.replace(next(s for s in usable if s.name == name), k=plan.k)
        bar = st.progress(0.0, text="Orders…")

        def progress(p) -> None:
            bar.progress(p.fraction, text=f"{p.done}/{p.total} · {p.strategy}")

        run, _ = order_sensitivity(plan.dataset, plan.pool, strategy, backend, app_store(), permutations=perms,
                                       seed=plan.seed, limit=plan.limit, progress=progress)
        bar.empty()
        st.session_state["ev_os"] = run.run_id
    run_id = st.session_state.get("ev_os")
    if run_id is not None:
        order_results(run_id)


def order_results(run_id: int) -> None:
    summaries = summarize(app_store().results(run_id))
    if not summaries:
        return
    stats = spread([s.accuracy for s in summaries])
    cols = st.columns(4)
    cols[0].metric("mean ± std", f"{stats['mean']:.1%} ± {stats['std']:.1%}")
    cols[1].metric("min", f"{stats['min']:.1%}")
    cols[2].metric("max", f"{stats['max']:.1%}")
    cols[3].metric("orders × items", f"{len(summaries)} × {summaries[0].n}")
    if all(s.raw_accuracy is not None for s in summaries):
        raw = spread([s.raw_accuracy for s in summaries])
        st.caption(f"Before calibration: {raw['mean']:.1%} ± {raw['std']:.1%}, min {raw['min']:.1%}, "
                   f"max {raw['max']:.1%}")
    st.altair_chart(accuracy_chart(summaries), width="stretch")
    st.caption(f"Stored as run {run_id}.")
