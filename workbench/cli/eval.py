"""``eval``: run prompting strategies on a labelled dataset, print accuracies and paired tests, store the run.

    python -m workbench eval --dataset sentiment --strategies zero,knn4,random4 --limit 20 --answer score
    python -m workbench eval --dataset news.csv --input-column text --answer-column label \
        --label-map "1=world,2=sports" --prompt a.yaml --prompt b.yaml --strategies zero,knn4 --output report.html

Each ``--prompt`` spec file crosses with each strategy (``a/zero``, ``a/knn4``, ``b/zero``, ...);
without one, the template inferred from the dataset is the only prompt. Assertions (``--assert``, a spec
file's ``assert:`` list, a dataset row's own) judge the outputs instead of the answer format's comparison;
their flags live in :mod:`workbench.cli.judging_args`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from workbench.answers import EXTRACTION_STYLES
from workbench.cli.common import (
    add_mapping_args,
    add_model_args,
    backend_from_args,
    check_output,
    mapping_from_args,
    model_refs,
    pool_from_arg,
    run_id,
    shown,
)
from workbench.cli.gate_args import (
    add_gate_args,
    check_gate,
    finish_gate,
    gate_from_args,
    report_failed_run,
    verdicts_of,
)
from workbench.cli.judging_args import (
    add_judging_args,
    check_applies,
    judge_factory,
    judging_from_args,
    summary_json,
    summary_lines,
    with_repeat,
)
from workbench.cli.judging_args import check_resume as check_resume_judging
from workbench.cli.plan_args import plan_from_args, plan_models, plan_strategies, run_models
from workbench.errors import ConfigError, DataError, WorkbenchError
from workbench.escapes import escape
from workbench.evaluate.registry import help_text as strategy_help

#: What the run-shaping flags mean when they are not given. Their argparse default is None, so that a flag the
#: user gave can be told from one left out (``--resume`` refuses a given flag that disagrees with the run).
DEFAULTS = {"strategies": "zero,knn4,random4", "answer": "generate", "calibrate": False, "score_norm": "sum",
            "label_words": "", "seed": 0}


def register(sub) -> None:
    p = sub.add_parser("eval", help="compare prompting strategies on a labelled dataset (accuracy, 95%% CI)")
    p.add_argument("--dataset", default=None,
                   help="a sample name (e.g. sentiment), a CSV/TSV/JSON/JSONL/Parquet file, or a Hugging Face dataset "
                        "from the local cache, hf:ID[:CONFIG]:SPLIT (required unless --config or --task gives the "
                        "items)")
    p.add_argument("--config", default=None, metavar="promptfooconfig.yaml",
                   help="run a promptfoo config as it is: its prompts x providers on its tests, judged by its "
                        "assertions (see the README's 'From promptfoo')")
    p.add_argument("--task", default=None, metavar="TASK.yaml",
                   help="run an lm-evaluation-harness task YAML (multiple_choice or generate_until) on its local "
                        "data (see the README's 'From lm-evaluation-harness')")
    p.add_argument("--shape", default=None, metavar="NAME|auto|none",
                   help="how the dataset file's rows hold the gold answer and choices: auto (detect GSM8K, AQuA, "
                        "CommonsenseQA, BIG-bench, choice lists, booleans; the default), a shape's name to force it, "
                        "or none to read the columns as written")
    p.add_argument("--pool", default=None,
                   help="where demonstrations come from (default: the dataset itself, never the query's own row)")
    p.add_argument("--strategies", default=None,
                   help=f"comma-separated names: {strategy_help().replace('%', '%%')}; modifiers +score, +gen, "
                        f"+cal, +norm (per byte), +norm_token, +scN, autocot+fallback (default {DEFAULTS['strategies']})")
    p.add_argument("--prompt", action="append", default=[], metavar="SPEC.yaml",
                   help="a prompt spec file or a starter's name (repeatable); each crosses with each strategy, named "
                        "FILE/STRATEGY, and its assert: list judges them (default: the template inferred from the "
                        "dataset)")
    p.add_argument("--output", default=None, metavar="FILE",
                   help="also write the run: run.jsonl (per-item records, summary, manifest; reads back with "
                        "`runs show`), run.csv (per-item rows), report.html (one self-contained page) or results.json "
                        "(promptfoo's results file)")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N items (default: all)")
    p.add_argument("--answer", choices=("generate", "score"), default=None,
                   help="generate and extract, or score each label word (classification); CoT always generates")
    p.add_argument("--calibrate", action="store_true", default=None, help="contextual calibration of label scores (with --answer "
                                                            "score)")
    p.add_argument("--score-norm", choices=("sum", "token", "byte"), default=None,
                   help="label scores: summed log-probabilities (default), or per token / per byte of the label "
                        "word (lm-evaluation-harness acc_norm-style, for label words of different lengths)")
    p.add_argument("--extract", choices=tuple(EXTRACTION_STYLES), default=None,
                   help="answer extraction: lenient (default, the workbench's) or kojima (Kojima et al.'s "
                        "answer_cleansing exactly, to reproduce the paper); recorded in the run's manifest")
    p.add_argument("--label-words", default=None, help='label words to score, e.g. "positive= great,negative= '
                                                     'terrible" (default: a space and the label)')
    p.add_argument("--k", type=int, default=None, help="override the number of demonstrations of every strategy")
    p.add_argument("--seed", type=int, default=None, help="random selection and sampling seed (default 0)")
    p.add_argument("--resume", type=run_id, default=None, metavar="RUN_ID",
                   help="continue a stored run (same dataset, pool and model); done items are skipped. The run's "
                        "own strategies, limit and settings apply: a run-shaping flag that disagrees is refused")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")
    p.add_argument("--no-cache", action="store_true",
                   help="call the model for every item instead of answering repeated requests from the response cache")
    p.add_argument("--reproducible", action="store_true",
                   help="one sequence at a time, even where the model batches (llama.cpp: 8 unless "
                        "WORKBENCH_BATCH says otherwise); llama.cpp's exact kernels give the same text either "
                        "way, but transformers, servers and WORKBENCH_KERNELS=fast can differ a little")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_judging_args(p)
    add_gate_args(p)
    add_mapping_args(p)
    add_model_args(p, several=True)
    p.set_defaults(run=run_eval)


def format_table(summaries) -> str:
    """A plain-text accuracy table, one line per strategy (raw accuracy shown for calibrated ones; items/s
    counts the model's calls only, "—" when every item came from the response cache). Where assertions judged
    items, the mean weighted score; with ``--repeat K``, pass@K and pass^K over the items."""
    scored = any(s.mean_score is not None for s in summaries)
    k = max((s.repeat for s in summaries), default=1)
    header = ("strategy", "n", "accuracy", "95% CI", "raw acc", *(("score",) if scored else ()),
              *((f"pass@{k}", f"pass^{k}") if k > 1 else ()), "cached", "items/s")
    rows = [header]
    for s in summaries:
        raw = "" if s.raw_accuracy is None else f"{s.raw_accuracy:.1%}"
        score = ("" if s.mean_score is None else f"{s.mean_score:.3f}",) if scored else ()
        repeats = tuple("" if v is None else f"{v:.1%}" for v in (s.pass_at_k, s.pass_all_k)) if k > 1 else ()
        rows.append((shown(s.strategy), str(s.n), f"{s.accuracy:.1%}", f"{s.ci_low:.1%}–{s.ci_high:.1%}", raw,
                     *score, *repeats, s.cached_text(), s.speed()))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def prompt_strategies(prompt_files, names, dataset, pool, **options) -> list:
    """Strategies for every (prompt spec file, strategy name) pair, named ``FILE-STEM/NAME``; the inferred
    template (``evaluate.default_spec``) with plain names when no file is given."""
    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.variants import INFERRED, PromptVariant, cross_variants

    if not prompt_files:
        variants = [PromptVariant(INFERRED, default_spec(dataset, pool))]
    else:
        stems: dict[str, str] = {}
        for path in prompt_files:
            stem = Path(path).stem
            if stem in stems:
                raise ConfigError(f"--prompt {path} and --prompt {stems[stem]} are both named {stem!r}; "
                                  "rename one file.")
            stems[stem] = path
        files = [(path, _spec_file(path)) for path in prompt_files]
        variants = [PromptVariant(Path(path).stem, f.spec, checks=f.checks, threshold=f.threshold) for path, f in files]
    return cross_variants(variants, names, pool or dataset, **options)


def _spec_file(path: str):
    """A --prompt spec file by path, or a starter spec by name (``city_dates_json``) when no such file exists."""
    from workbench.prompts import load_spec, starter_specs

    if Path(path).suffix.lower() in (".yaml", ".yml", ".json") or Path(path).exists():
        return load_spec(path)
    starters = starter_specs()
    if path not in starters:
        raise DataError(f"No spec file or starter named {path!r}; starters: {', '.join(starters)}.")
    return starters[path]


def data_lines(dataset, strategies: list) -> list[str]:
    """What the user should know of how the gold answers were read: the detected (or forced) shape, and a warning
    when free-text golds look like worked solutions that the answer format's comparison would judge."""
    from workbench.data.shapes import describe
    from workbench.evaluate.formats import gold_warning

    lines = [f"dataset: {describe(dataset)}"] if dataset.shape is not None else []
    if not all(s.checks for s in strategies) and (warning := gold_warning(dataset)):
        lines.append(f"warning: {warning}")
    return [shown(line) for line in lines]


def given_flags(args) -> dict[str, object]:
    """The run-shaping flags the user gave (their argparse default is None): ``{"seed": 5, ...}``."""
    names = (*DEFAULTS, "limit", "k", "context_window")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _flag(name: str, value: object = None) -> str:
    """``--score-norm token`` as the user typed it (``--calibrate`` alone)."""
    flag = "--" + name.replace("_", "-")
    return flag if value is None or value is True else f"{flag} {shown(str(value))}"


def _conflict(run: int, name: str, value: object, what: str) -> ConfigError:
    return ConfigError(f"{_flag(name, value)} conflicts with run {run}, {what}; leave out {_flag(name)} to resume it "
                       "(the run's own settings apply), or start a new run.")


def _stored(name: str, value: object) -> str:
    """How a stored strategy ran, for a conflict message: "with --seed 0", "uncalibrated"."""
    if name == "calibrate":
        return "calibrated" if value else "uncalibrated"
    if name == "label_words":
        words = ",".join(f"{label}={escape(word)}" for label, word in value)  # type: ignore[attr-defined]
        return f"with --label-words {shown(repr(words))}" if words else "without label words"
    return f"with {_flag(name, value)}"


def check_resume(run: int, meta: dict, strategies: list, given: dict, args, dataset, pool) -> None:
    """Refuse, before the model loads, what a resumed run cannot take: another model, backend, dataset or pool,
    and any run-shaping flag the user gave that disagrees with the stored run (one line naming the flag and the
    stored value). Flags left out are not conflicts: the run's own settings apply."""
    from workbench.backends import SERVER_BACKEND, choose_backend, resolve_model
    from workbench.backends.kinds import is_server
    from workbench.evaluate.formats import parse_label_words
    from workbench.evaluate.strategies import make_strategy

    if is_server(args.model, args.backend):
        now = {"backend": SERVER_BACKEND}  # the model id comes from the server; checked once connected
    else:
        spec = resolve_model(args.model)  # no weights are read
        now = {"model": spec.id, "backend": choose_backend(spec, args.backend)}
    for what in ("model", "backend"):
        if what in now and meta.get(what) is not None and meta[what] != now[what]:
            raise ConfigError(f"Run {run} was made with {what} {meta[what]!r}, not {now[what]!r}; resume it with the "
                              f"same {what} or start a new run.")
    if (meta.get("dataset") or {}).get("hash") != dataset.content_hash:
        raise DataError(f"Run {run} was made on another dataset; load the same file to resume it.")
    if (meta.get("pool") or {}).get("hash") not in (None, (pool or dataset).content_hash):
        raise DataError(f"Run {run} took its demonstrations from another pool; choose the same pool to resume it.")

    size = len(dataset)
    if "limit" in given and min(given["limit"], size) != min(meta.get("limit") or size, size):
        stored = meta.get("limit")
        raise _conflict(run, "limit", given["limit"],
                        "made on all items" if stored is None else f"made on the first {stored} items")
    if "context_window" in given:
        stored = meta.get("context_window")
        if stored is None:
            raise _conflict(run, "context_window", given["context_window"],
                            "which does not record the context window it was made with")
        if stored != given["context_window"]:
            raise _conflict(run, "context_window", given["context_window"], f"made with --context-window {stored}")
    names = [s.name for s in strategies]
    if "strategies" in given:
        wanted = [n.strip() for n in str(given["strategies"]).split(",") if n.strip()]
        if sorted(n.casefold() for n in wanted) != sorted(n.casefold() for n in names):
            raise _conflict(run, "strategies", given["strategies"], f"made with --strategies {','.join(names)}")
    # Every other flag: rebuild each stored strategy with the flag as given (the rest as stored) and compare the
    # field it sets; a name's own modifiers (+score, +cal, +norm) and chain of thought win, as they did.
    fields = {"answer": "answer", "calibrate": "calibrate", "score_norm": "score_norm", "label_words": "label_words",
              "seed": "seed", "k": "k"}
    flags = {name: value for name, value in given.items() if name in fields}
    if not flags:
        return
    words = parse_label_words(flags["label_words"]) if "label_words" in flags else None
    for s in strategies:
        options = {"answer": flags.get("answer", s.answer), "calibrate": flags.get("calibrate", s.calibrate),
                   "score_norm": flags.get("score_norm", s.score_norm), "seed": flags.get("seed", s.seed),
                   "k": flags.get("k"), "label_words": dict(s.label_words) if words is None else
                   {lab: w for lab, w in words.items() if lab in s.spec.labels}}
        try:
            rebuilt = make_strategy(s.name.rsplit("/", 1)[-1], s.spec, pool or dataset, **options)
        except ConfigError:
            continue  # not a short name (a prompt's own demonstrations, "builtK"): nothing to rebuild
        for name, value in flags.items():
            mine, stored = getattr(rebuilt, fields[name]), getattr(s, fields[name])
            if name == "k" and not stored:
                continue  # zero-shot styles have no demonstrations to count
            if mine != stored:
                raise _conflict(run, name, value, f"whose strategy {shown(s.name)!r} ran {_stored(name, stored)}")


def check_flags_apply(strategies: list, given: dict) -> None:
    """Refuse a flag a run (new or resumed) would silently drop: label words for labels no prompt has, and the
    label-scoring flags (--calibrate, --label-words, --score-norm) where no strategy scores labels."""
    from workbench.evaluate.formats import parse_label_words

    words = parse_label_words(given.get("label_words") or "")
    labels = list(dict.fromkeys(lab for s in strategies for lab in s.spec.labels))
    unknown = [lab for lab in words if lab not in labels]
    if unknown:
        raise ConfigError(f"--label-words names {shown(unknown[0])!r}, which is not a label here (labels: "
                          f"{shown(', '.join(labels)) or 'none'}); give words for these labels.")
    if any(s.answer == "score" for s in strategies):
        return
    for name in ("calibrate", "label_words", "score_norm"):
        if given.get(name) and given[name] != DEFAULTS.get(name):  # typing out the default drops nothing
            raise ConfigError(f"{_flag(name)} applies to label scoring, and no strategy here scores labels (they "
                              f"generate); add --answer score (or a +score strategy), or leave out {_flag(name)}.")


def with_extract(strategies: list, style: str | None, resume: int | None = None) -> list:
    """The strategies with their prompts read in extraction ``style`` (None: as they are); a resumed run keeps
    its own style, and another one is refused in one line."""
    if style is None:
        return strategies
    if resume is not None and any(s.spec.extract != style for s in strategies):
        raise ConfigError(f"Run {resume} read its answers another way than --extract {style}; resume it without "
                          "--extract or start a new run.")
    return [dataclasses.replace(s, spec=s.spec.replace(extract=style)) for s in strategies]


def run_eval(args) -> int:
    from tqdm import tqdm

    from workbench.cache import describe
    from workbench.evaluate.formats import parse_label_words
    from workbench.evaluate.metrics import disagreements
    from workbench.evaluate.runner import evaluate
    from workbench.evaluate.strategies import Strategy
    from workbench.evaluate.variants import cross_models
    from workbench.report import export_format, report_from_store, write_report
    from workbench.stats import label_metrics, paired_comparisons
    from workbench.store import open_store

    given = given_flags(args)
    model_given, refs = args.model is not None, model_refs(args)
    args.model = refs[0]  # the run's own model; the others run the strategies crossed with them
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}.")
    flags = judging_from_args(args)  # a bad assertion, threshold, repeat or temperature: one line, now
    judge = judge_factory(args)  # an unknown judge model too; it loads when a check first asks it
    gate = gate_from_args(args)  # a bad --fail-under, --alpha or --junit, a baseline that does not exist
    if args.output:
        export_format(args.output)  # a wrong extension is refused before anything runs
        check_output(args.output)  # so is a place no file can be written (a folder, a device, /proc)
    plan = plan_from_args(args, given)  # a promptfoo config or an lm-eval task: its items, prompts and models
    if plan is not None:
        dataset, pool = plan.dataset, plan.pool
        refs = plan_models(plan, refs, model_given)
        args.model = refs[0]
    else:
        mapping = mapping_from_args(args)
        if args.shape is not None:
            mapping = dataclasses.replace(mapping, shape=args.shape)  # an unknown shape: one line naming the choices
        dataset = pool_from_arg(args.dataset, mapping)
        pool = pool_from_arg(args.pool, mapping_from_args(args, pool=True)) if args.pool else None
    store = open_store()
    if plan is not None:
        strategies = plan_strategies(plan, refs, flags, given)  # --assert, --threshold, --temperature, --seed
        limit = args.limit
    elif args.resume is not None:
        if args.prompt:
            raise ConfigError("--resume continues a run with its own prompts; leave out --prompt.")
        meta = store.get_run(args.resume).meta
        strategies = [Strategy.from_dict(d) for d in meta.get("strategies", [])]
        own = [s.model for s in strategies if s.model is not None]
        if own:  # a prompt x model run: its own models
            if model_given and refs != list(dict.fromkeys(own)):
                raise ConfigError(f"Run {args.resume} ran on its own models ({', '.join(dict.fromkeys(own))}); leave "
                                  "out --model to resume it.")
            args.model = own[0]
        check_resume(args.resume, meta, strategies, given, args, dataset, pool)  # before the model loads
        check_resume_judging(args.resume, strategies, args, flags)
        check_flags_apply(strategies, given)
        limit = meta.get("limit")
        if args.context_window is None and isinstance(meta.get("context_window"), int):
            args.context_window = meta["context_window"]  # the run's own window
    else:
        options = {**DEFAULTS, **given}
        strategies = prompt_strategies(args.prompt, options["strategies"], dataset, pool, answer=options["answer"],
                                       calibrate=options["calibrate"],
                                       label_words=parse_label_words(options["label_words"]),
                                       k=args.k, seed=options["seed"], score_norm=options["score_norm"],
                                       checks=flags.checks, threshold=flags.threshold, temperature=flags.temperature)
        strategies = with_repeat(strategies, flags, args.temperature is not None)
        strategies = cross_models(strategies, refs)
        check_flags_apply(strategies, given)
        limit = args.limit
    strategies = with_extract(strategies, args.extract, args.resume)
    check_applies(strategies, list(dataset)[: limit or len(dataset)], args,  # item assertions, judge, threshold
                  Path(plan.source if plan is not None else args.dataset).name)
    check_gate(gate, [s.name for s in strategies], [ex.id for ex in list(dataset)[: limit or len(dataset)]])
    backend = backend_from_args(args)
    models = run_models(args, strategies, backend)
    model_of = {s.name: s.model or backend.spec.id for s in strategies}  # for the JUnit report
    for line in data_lines(dataset, strategies):
        print(line, file=sys.stderr)
    bar = None if args.no_progress else tqdm(total=0, desc="eval", unit="item", file=sys.stderr)
    active: list[int] = []  # the stored run, known from the first progress report

    def progress(p) -> None:
        active[:] = [p.run_id]
        if bar is not None:
            bar.total = p.total
            bar.n = p.done
            bar.set_postfix_str(shown(p.strategy), refresh=False)
            bar.refresh()

    try:
        run = evaluate(dataset, pool, strategies, backend, store, run_id=args.resume, limit=limit,
                       progress=progress, cache=not args.no_cache, reproducible=args.reproducible, judge=judge,
                       models=models)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        if active:
            print(f"run {active[0]} cancelled; finished items are stored: continue with --resume {active[0]}",
                  file=sys.stderr)
        raise
    except WorkbenchError:
        if active:
            report_failed_run(gate, store, active[0], model_of)  # CI still gets the report of what ran
        raise
    finally:
        if bar is not None:
            bar.close()
    verdicts = verdicts_of(gate, run.run_id, run.status, run.records, list(model_of))
    comparisons = paired_comparisons(run.records)
    # a person's grades: the dataset's own (__human, by item id), then those given to this run's outputs
    grades = {**{ex.id: ex.human for ex in dataset if ex.human is not None}, **store.grades(run.run_id)}
    label_sets = {s.spec.labels if s.spec.answer_format == "label" else () for s in strategies}
    labels = next(iter(label_sets)) if len(label_sets) == 1 else ()
    metrics = label_metrics(run.records, labels) if labels and run.records else []
    if args.json:  # ASCII JSON: every control character a name holds is a \u escape
        print(json.dumps({"run_id": run.run_id, "status": run.status, "model": backend.spec.id,
                          "strategies": [s.to_dict() for s in run.summaries],
                          "paired": [c.to_dict() for c in comparisons],
                          "labels": [m.to_dict() for m in metrics], **summary_json(run.records, grades),
                          **({"gate": [v.to_dict() for v in verdicts]} if gate.active else {})},
                         indent=2))
    else:
        # Strategy names hold prompt file names (any text a file system takes): each goes through shown().
        print(format_table(run.summaries))
        print(describe((store.get_run(run.run_id).summary or {}).get("cache")), file=sys.stderr)
        if comparisons:
            print()
            print("paired (same items; difference in accuracy points):")
            for c in comparisons:
                print(f"  {shown(c.line())}")
        if metrics:
            print()
            print("macro-F1: " + ", ".join(f"{shown(m.strategy)} {m.macro_f1:.3f}" for m in metrics))
        for line in summary_lines(run.summaries, run.records, grades):
            print(line)
        for s in run.summaries:
            if s.fewer_demos:
                print(f"{shown(s.strategy)}: {s.fewer_demos} of {s.n} items ran with fewer demonstrations than asked "
                      "(dropped to fit the context window)", file=sys.stderr)
        if len(run.summaries) > 1:
            items = len({r["item_index"] for r in run.records})
            what = "outputs (each repeat counts)" if any(s.repeat > 1 for s in run.summaries) else "items"
            print(f"strategies disagree on {len(disagreements(run.records))} of {items} {what}", file=sys.stderr)
        print(f"run {run.run_id} ({run.status}) stored in {shown(str(store.path))}", file=sys.stderr)
    if args.output:
        report = dataclasses.replace(report_from_store(store, run.run_id), records=tuple(run.records), grades=grades)
        path = write_report(report, args.output)
        print(f"wrote {shown(str(path))}", file=sys.stderr)
    return finish_gate(gate, verdicts, run.run_id, run.status, run.records, model_of)  # 1: a gate rule failed
