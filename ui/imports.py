"""The Evaluate page's other sources: a promptfoo config or an lm-eval task YAML, picked (under the current
folder's ``examples/`` and the prompts folder), typed as a path, or uploaded together with the files it names.

What the file describes is read by the one loader of each kind (``workbench.interop.promptfoo.load_plan``,
``workbench.interop.lmeval.load_plan``) into a :class:`workbench.interop.plan.Plan`; the page shows what was read
(prompts, providers -> models, tests, assertions, notes) and runs it as a run of its own
(:func:`ui.evaluate.execute`: progress, Cancel, the history, the results with their prompt x model matrix).

Uploads: every file uploaded together lands in one temporary folder of this session (names only, no folders), and
the config's ``file://`` references resolve inside that folder only (:mod:`workbench.interop.paths`). The folder
outlives a page switch (it is kept in session state), so the choice does too.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from ui import common
from ui.assertions import JudgingPlan
from ui.evaluate import Plan
from ui.fields import KEPT, keep_widgets, number_field, unless_set
from ui.matrix import place
from ui.run_models import check_allowed
from workbench.backends import EMBEDDED
from workbench.errors import ConfigError
from workbench.evaluate.variants import cross_models
from workbench.interop.plan import Plan as FilePlan
from workbench.judging.tools import DEFAULT_JUDGE
from workbench.prompts.rendering import render
from workbench.promptsets.folder import default_prompts_dir
from workbench.words import plural

#: The page's sources: its own data and strategies, or another tool's file (kind -> what the radio says).
OWN = "own"
SOURCES = {OWN: "Data and strategies", "promptfoo": "A promptfoo config", "lm-eval": "An lm-eval task"}
#: How a file is given.
HOW = ("Pick a file", "Upload", "Type a path")
#: File names a config may have (what is listed, picked and uploaded).
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
#: What an upload may hold besides the config: the files a config names (tests, prompts, data).
UPLOAD_TYPES = ["yaml", "yml", "json", "jsonl", "csv", "tsv", "txt", "md", "j2", "parquet"]
#: Folders searched for files to pick (below the current folder), and the bounds of that search.
PICK_FOLDERS = ("examples",)
MAX_DEPTH = 4
MAX_LISTED = 400
#: Bytes of a file read to tell its kind (a config says what it is in its top-level keys).
SNIFF_BYTES = 64_000
#: Session-state key of this session's upload (an :class:`Upload`).
UPLOAD_KEY = "state_evaluate_upload"
#: Session-state key of the last file read (signature, plan): a rerun does not read it again.
LOADED_KEY = "state_evaluate_import"
#: Widgets kept across page switches.
KEPT_KEYS = ("ev_source", "ev_imp_how", "ev_imp_pick_promptfoo", "ev_imp_pick_lm-eval", "ev_imp_path_promptfoo",
             "ev_imp_path_lm-eval", "ev_imp_main", "ev_imp_models", "ev_imp_limit", "ev_imp_cache")

#: Top-level keys that say what a file is (promptfoo's config schema; lm-eval's TaskConfig).
_KEYS = {"promptfoo": ("prompts", "providers", "tests", "defaultTest"),
         "lm-eval": ("task", "doc_to_text", "output_type", "dataset_path", "doc_to_target", "doc_to_choice")}


def config_kind(text: str) -> str | None:
    """What a YAML/JSON text is, from its top-level keys: "promptfoo" (prompts with providers or tests),
    "lm-eval" (task with doc_to_text, output_type or dataset_path), or None.

    >>> config_kind("description: x\\nprompts:\\n  - 'Hi {{name}}'\\nproviders: [workbench:gemma-3-270m]\\n")
    'promptfoo'
    >>> config_kind("task: tiny\\ndataset_path: json\\noutput_type: multiple_choice\\n")
    'lm-eval'
    >>> config_kind('{"prompts": ["a"], "tests": []}'), config_kind("spec:\\n  instruction: hi\\n")
    ('promptfoo', None)
    """
    keys = set(re.findall(r'^"?([A-Za-z_]+)"?\s*:', text, re.M))
    keys |= set(re.findall(r'[{,]\s*"([A-Za-z_]+)"\s*:', text[:2000]))  # JSON on one line
    if "prompts" in keys and keys & {"providers", "tests", "defaultTest"}:
        return "promptfoo"
    if "task" in keys and keys & {"doc_to_text", "output_type", "dataset_path"}:
        return "lm-eval"
    return None


def _walk(folder: Path, depth: int = 0) -> Iterator[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink() and depth < MAX_DEPTH:
            yield from _walk(entry, depth + 1)
        elif entry.suffix.lower() in CONFIG_SUFFIXES and entry.is_file():
            yield entry


def sniff(path: Path) -> str | None:
    """The kind of the file at ``path`` (:func:`config_kind` of its first bytes); None when unreadable."""
    try:
        with path.open("rb") as f:
            return config_kind(f.read(SNIFF_BYTES).decode("utf-8", "replace"))
    except OSError:
        return None


def pickable(kind: str, folders: tuple[Path, ...]) -> list[Path]:
    """The files of ``kind`` under ``folders`` (hidden entries skipped, at most :data:`MAX_LISTED` looked at)."""
    out = []
    for i, path in enumerate(p for folder in folders for p in _walk(folder)):
        if i >= MAX_LISTED:
            break
        if sniff(path) == kind:
            out.append(path)
    return out


def shown_path(path: Path) -> str:
    """A path as the picker shows it: relative to the current folder where it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- uploads


@dataclass(frozen=True)
class Upload:
    """Files uploaded together, written into one temporary folder of this session."""

    signature: tuple[tuple[str, str], ...]  # (name, upload id) of each file: a new upload replaces the folder
    folder: str  # where the files are
    names: tuple[str, ...]  # their names, in upload order
    holder: object = field(default=None, compare=False, repr=False)  # the TemporaryDirectory: removed with it


def safe_name(name: str) -> str:
    """An uploaded file's name as it is written: its last part only; one line for a name that cannot be a file.

    >>> safe_name("tests.csv"), safe_name("../../etc/x.yaml")
    ('tests.csv', 'x.yaml')
    >>> safe_name("..")
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: An uploaded file is named '..'; give it a plain file name.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if base in ("", ".", "..") or "\x00" in base:
        raise ConfigError(f"An uploaded file is named {name!r}; give it a plain file name.")
    return base


def uploaded(files) -> Upload | None:
    """This session's upload: the files just given (written once into a new folder), else the one kept."""
    ss = st.session_state
    kept = ss.get(UPLOAD_KEY)
    if not files:
        return kept if isinstance(kept, Upload) else None
    signature = tuple((f.name, str(getattr(f, "file_id", ""))) for f in files)
    if isinstance(kept, Upload) and kept.signature == signature:
        return kept
    names = [safe_name(f.name) for f in files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"Two uploaded files are both named {twice[0]!r}; upload one of them.")
    holder = tempfile.TemporaryDirectory(prefix="workbench-upload-")
    for f, name in zip(files, names, strict=True):
        (Path(holder.name) / name).write_bytes(f.getvalue())
    ss[UPLOAD_KEY] = Upload(signature, holder.name, tuple(names), holder)
    return ss[UPLOAD_KEY]


# --------------------------------------------------------------------------- choosing the file


def source_picker() -> str:
    """The page's source: its own data and strategies, a promptfoo config or an lm-eval task."""
    keep_widgets(KEPT_KEYS)
    return st.radio("Evaluate", list(SOURCES), format_func=SOURCES.get, horizontal=True, key="ev_source",
                    help="Your own data with the page's strategies, or another tool's file run as it is: a "
                         "promptfoo config (prompts x providers x tests with assertions) or an lm-evaluation-"
                         "harness task YAML.")


def _default_config(kind: str, names: tuple[str, ...]) -> int:
    """Which uploaded file is the config at first: one whose name says so, else the first YAML/JSON."""
    configs = [n for n in names if Path(n).suffix.lower() in CONFIG_SUFFIXES]
    preferred = [n for n in configs if kind != "promptfoo" or n.lower().startswith("promptfooconfig")]
    return configs.index((preferred or configs)[0]) if configs else 0


def choose_file(kind: str) -> Path | None:
    """The file of ``kind`` the user picked, uploaded or typed; None until there is one."""
    what = SOURCES[kind].removeprefix("A ").removeprefix("An ")
    pinned = common.model_policy().pinned
    ways = ["Upload"] if pinned else list(HOW)
    how = st.radio(f"The {what}", ways, horizontal=True, key="ev_imp_how",
                   **unless_set("ev_imp_how", index=0))
    if pinned:
        st.caption("This server is shared: it reads only the files you upload, never a path on it.")
    if how == "Pick a file":
        folders = (*(Path.cwd() / f for f in PICK_FOLDERS), default_prompts_dir())
        files = pickable(kind, folders)
        if not files:
            st.info(f"No {what} under {', '.join(shown_path(f) for f in folders)}; upload one or type its path.")
            return None
        chosen = st.selectbox(f"{what[0].upper()}{what[1:]}", [shown_path(p) for p in files],
                              key=f"ev_imp_pick_{kind}")
        return next((p for p in files if shown_path(p) == chosen), files[0])
    if how == "Type a path":
        typed = st.text_input(f"Path to the {what}", key=f"ev_imp_path_{kind}",
                              placeholder="examples/promptfoo/promptfooconfig.yaml").strip()
        if not typed:
            return None
        path = Path(typed).expanduser()
        path = path if path.is_absolute() else Path.cwd() / path
        if not path.is_file():
            raise ConfigError(f"{typed}: no such file.")
        return path
    files = st.file_uploader(f"The {what} and the files it names (tests, prompts, data), together",
                             type=UPLOAD_TYPES, accept_multiple_files=True, key=f"ev_imp_upload_{kind}",
                             help="They land in one folder of their own: the config's file:// names resolve "
                                  "inside it, and nowhere else.")
    upload = uploaded(files)
    if upload is None:
        st.info(f"Upload the {what} (YAML or JSON) with the files it names.")
        return None
    configs = [n for n in upload.names if Path(n).suffix.lower() in CONFIG_SUFFIXES]
    if not configs:
        raise ConfigError(f"None of the uploaded files ({', '.join(upload.names)}) is YAML or JSON; upload the "
                          f"{what} too.")
    main = st.selectbox("Which file is the config", configs, key="ev_imp_main",
                        **unless_set("ev_imp_main", index=_default_config(kind, tuple(configs))))
    st.caption(f"Uploaded together: {', '.join(upload.names)}")
    return Path(upload.folder) / (main if main in configs else configs[0])


# --------------------------------------------------------------------------- reading it


def load_plan(kind: str, path: Path) -> FilePlan:
    """The file read by its kind's one loader."""
    if kind == "promptfoo":
        from workbench.interop.promptfoo import load_plan as read
    else:
        from workbench.interop.lmeval import load_plan as read
    return read(str(path))


def _signature(kind: str, path: Path) -> tuple:
    """What a read depends on: the kind, the file, and the size and time of every file beside it (a test or data
    file it names changed on disk reads again)."""
    folder = path.parent
    files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()) \
        if folder.is_dir() else []
    return kind, str(path), tuple(files[:MAX_LISTED])


def read(kind: str, path: Path) -> FilePlan:
    """The plan of ``path``, read again only when it (or a file beside it) changed."""
    signature = _signature(kind, path)
    kept = st.session_state.get(LOADED_KEY)
    if isinstance(kept, tuple) and kept[0] == signature:
        return kept[1]
    plan = load_plan(kind, path)
    st.session_state[LOADED_KEY] = (signature, plan)
    return plan


# --------------------------------------------------------------------------- what was read


def prompt_text(spec) -> str:
    """A strategy's prompt as written: its chat messages (``role: template``), else its instruction and query
    template."""
    messages = getattr(spec, "messages", ())
    if messages:
        return "\n".join(f"{role}: {content}" for role, content in messages)
    return f"{spec.instruction}\n\n{spec.query_template}".strip()


def decoding_text(d) -> str:
    """A strategy's decoding in a few words.

    >>> from workbench.decoding import DecodingConfig
    >>> decoding_text(DecodingConfig(max_new_tokens=32, stop=("\\n",)))
    "greedy · ≤ 32 tokens · stop '\\\\n'"
    >>> decoding_text(DecodingConfig(do_sample=True, temperature=0.7, seed=3))
    'temperature 0.7, seed 3 · ≤ 64 tokens'
    """
    how = f"temperature {d.temperature:g}, seed {d.seed}" if d.do_sample else "greedy"
    stop = f" · stop {', '.join(repr(s) for s in d.stop)}" if d.stop else ""
    return f"{how} · ≤ {d.max_new_tokens} tokens{stop}"


def _checks_text(checks) -> str:
    return ", ".join(c.type for c in checks) if checks else "—"


def check_type(check) -> str:
    """An item's assertion as written, by its type: ``{"type": "icontains", ...}`` or a CSV cell
    (``"contains: Paris"``, or a bare value: promptfoo's equals).

    >>> check_type({"type": "not-icontains", "value": "x"}), check_type("regex: ^a"), check_type("Paris")
    ('not-icontains', 'regex', 'equals')
    """
    if isinstance(check, dict):
        return str(check.get("type"))
    head, sep, _ = str(check).partition(":")
    return head.strip() if sep and re.fullmatch(r"[a-z][a-z0-9_:-]*", head.strip()) else "equals"


def first_prompt(strategy, items) -> str | None:
    """The exact text of the first test's prompt for a base model, where no demonstration or chat message comes
    into it (None there); a template that fails to render is its one line (a PromptError), before any run."""
    if not items or strategy.k or strategy.demos or getattr(strategy.spec, "messages", ()):
        return None
    return render(strategy.spec, (), items[0], as_chat=False).text


def answer_text(s) -> str:
    """How a strategy answers: its decoding where it generates, else how it scores (lm-eval's choices)."""
    if s.answer == "generate":
        return decoding_text(s.decoding)
    return f"{s.answer} scored, {s.score_norm} of log-probabilities"


def summary(plan: FilePlan, kind: str) -> None:
    """What the file describes, before anything runs: prompts (an lm-eval task: its metrics) x models, the tests,
    every assertion, the notes."""
    items = list(plan.dataset)
    rows_are = "metric" if kind == "lm-eval" else "prompt"
    prompts = list(dict.fromkeys(place(s.name, s.model, "")[0] for s in plan.strategies))
    types = [check_type(c) for ex in items for c in ex.checks or ()]
    types += [c.type for s in plan.strategies for c in s.checks]
    st.markdown(f"**{Path(plan.source).name}**: {plural(len(prompts), rows_are)} × "
                + (f"{plural(len(plan.models), 'model')}" if plan.models else "the models chosen below")
                + f" = {plural(len(plan.strategies), 'strategy', 'strategies')} · {plural(len(items), 'test')}"
                + (f" · assertions: {', '.join(dict.fromkeys(types))}" if types else " · no assertions"))
    rows = [{"strategy": s.name, "model": s.model or "(chosen below)", "answer": answer_text(s),
             "assertions (every test)": _checks_text(s.checks),
             **({"threshold": s.threshold} if any(x.threshold is not None for x in plan.strategies) else {}),
             **({"repeat": s.repeat} if any(x.repeat > 1 for x in plan.strategies) else {})} for s in plan.strategies]
    st.dataframe(rows, hide_index=True, key="ev_imp_strategies", width="stretch")
    by_text: dict[str, list] = {}  # one box per distinct prompt, naming the strategies that send it
    for s in plan.strategies:
        by_text.setdefault(prompt_text(s.spec), []).append(s)
    with st.expander(f"Prompts as written ({len(by_text)})"):
        for text, group in by_text.items():
            names = list(dict.fromkeys(place(s.name, s.model, "")[0] for s in group))
            st.caption(f"**{', '.join(names)}** · {group[0].spec.syntax} template")
            st.code(text, language=None, wrap_lines=True)
            first = first_prompt(group[0], items)
            if first is not None:
                st.caption(f"The exact text a base model gets for the first test ({items[0].id})")
                st.code(first, language=None, wrap_lines=True)
    with st.expander(f"Tests ({len(items)})"):
        st.dataframe([{"id": ex.id, "vars": ", ".join(f"{k}={v}" for k, v in (ex.vars or {}).items()) or ex.input,
                       "expected": ex.answer, "assertions": ", ".join(check_type(c) for c in ex.checks or ()),
                       **({"threshold": ex.threshold} if any(x.threshold is not None for x in items) else {})}
                      for ex in items], hide_index=True, key="ev_imp_tests", width="stretch",
                     column_config={"vars": st.column_config.TextColumn(width="large")})
    if plan.notes:
        st.info("Read but changing nothing here:\n" + "\n".join(f"- {common.untrusted_markdown(n)}"
                                                                  for n in plan.notes), icon="ℹ️")


def model_choice(plan: FilePlan) -> list[str]:
    """The models the plan runs on: its own (providers), else those chosen here (none: the sidebar's)."""
    if plan.models:
        st.caption("Models from the file: " + ", ".join(plan.models) + " (the sidebar's model is not used).")
        return list(plan.models)
    policy = common.model_policy()
    options = list(policy.models if policy.pinned else EMBEDDED)
    return st.multiselect("Models", options, key="ev_imp_models", placeholder="the sidebar's model",
                          help="The file names no model: its prompts run on each model chosen here, one column "
                               "each in the results' prompt x model matrix. None: the sidebar's model.")


def import_setup(kind: str) -> tuple[FilePlan | None, Plan | None]:
    """The Setup tab for a promptfoo config or an lm-eval task: the file, what it holds, models, tests to run.
    (the file's plan, the run's plan): (None, None) until a file is read, the run's None while a number is
    invalid (said under it); a refused file is one red line (raised)."""
    path = choose_file(kind)
    if path is None:
        return None, None
    plan = read(kind, path)
    summary(plan, kind)
    refs = model_choice(plan)
    check_allowed(refs)  # a model this server does not allow: one line, before any run
    strategies = list(plan.strategies) if plan.models else cross_models(plan.strategies, refs)
    ss = st.session_state
    if ss.get("ev_imp_limit_of") != plan.dataset.content_hash:  # another file: a limit beyond its tests is all
        ss["ev_imp_limit_of"] = plan.dataset.content_hash
        if ss.get("ev_imp_limit", 0) > len(plan.dataset):  # (and as kept for the next visit: keep_widgets
            ss["ev_imp_limit"] = ss.setdefault(KEPT, {})["ev_imp_limit"] = len(plan.dataset)  # copied it before)
    c1, c2 = st.columns([1, 2])
    limit, bad = number_field(c1, "Tests (0 = all)", min(20, len(plan.dataset)), key="ev_imp_limit", lo=0,
                              hi=len(plan.dataset))
    cache = c2.toggle("Use the response cache", key="ev_imp_cache", **unless_set("ev_imp_cache", value=True),
                      help="A request already answered for the same model, prompt and decoding is read from the "
                           "store.")
    if bad:
        return plan, None
    graded = any(c.kind.graded for s in strategies for c in s.checks)
    return plan, Plan(plan.dataset, plan.pool or plan.dataset, tuple(strategies), int(limit) or None, 0, 0, cache,
                judging=JudgingPlan(judge_model=DEFAULT_JUDGE, graded=graded),
                model=refs[0] if refs and not plan.models else None)
