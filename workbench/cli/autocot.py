"""``autocot build|show``: Auto-CoT demonstrations from a question pool, and a look at a demo file."""

from __future__ import annotations

import sys

from workbench.autocot.config import MAX_TRIES_PER_CLUSTER, REFERENCE_TASKS
from workbench.cli.common import (
    add_decoding_args,
    add_model_args,
    backend_from_args,
    check_output,
    decoding_from_args,
    pool_from_arg,
    shown,
    tqdm_progress,
)


def register(sub) -> None:
    p = sub.add_parser("autocot", help="Auto-CoT: build chain-of-thought demonstrations automatically")
    cmds = p.add_subparsers(dest="autocot_command", required=True, metavar="ACTION")
    b = cmds.add_parser("build", help="cluster the pool, let the model write rationales, keep good ones")
    b.add_argument("--pool", required=True, help="question pool file (CSV/TSV/JSON/JSONL/Parquet), a sample name, or hf:ID[:CONFIG]:SPLIT "
                                                   "(a Hugging Face dataset in the local cache)")
    b.add_argument("--task", default="auto", choices=["auto", "none", *REFERENCE_TASKS],
                   help="the reference's preset (clusters, steps, answer-at-end check); auto: from the pool's "
                        "name, none: the defaults (default %(default)s)")
    b.add_argument("--k", type=int, default=None, help="demonstrations = clusters (default: the preset's, else 8)")
    b.add_argument("--format", default="auto", choices=["auto", "number", "yes_no", "choice", "label", "free"],
                   help="answer type, picks the answer trigger; auto: from the pool's answers (default)")
    b.add_argument("--labels", default=None, help="comma-separated label set for --format label "
                                                  "(default: the pool's labels)")
    b.add_argument("--max-question-words", type=int, default=60)
    b.add_argument("--max-rationale-steps", type=int, default=None, help="default: the preset's, else 5")
    b.add_argument("--max-tries", type=int, default=MAX_TRIES_PER_CLUSTER,
                   help="rationales generated per cluster at most (default %(default)s)")
    b.add_argument("--fallback", action="store_true",
                   help="a cluster with no passing candidate gives its nearest one, flagged (default: dropped)")
    b.add_argument("--limit", type=int, default=None, help="use only the first N questions of the pool")
    b.add_argument("--kmeans-seed", dest="kmeans_seed", type=int, default=0, help="k-means++ seed")
    b.add_argument("--out", required=True, help="demo file to write (the reference's JSON shape)")
    add_model_args(b)
    add_decoding_args(b)
    b.set_defaults(run=run_build)
    s = cmds.add_parser("show", help="print a demo file")
    s.add_argument("file")
    s.set_defaults(run=run_show)


def run_build(args) -> int:
    from workbench.autocot.config import AutoCoTConfig, task_for
    from workbench.autocot.embedding import clustering_vectors
    from workbench.autocot.files import save_demos
    from workbench.autocot.reasoner import REASONING_DECODING, zero_shot_cot_reasoner
    from workbench.autocot.selection import build_demos
    from workbench.evaluate.formats import infer_format
    from workbench.retrieval.embedder import load_embedder

    check_output(args.out, "--out")  # before the model runs for minutes
    pool = pool_from_arg(args.pool)
    task = task_for(pool.name) if args.task == "auto" else None if args.task == "none" else args.task
    changes = {"k": args.k, "max_rationale_steps": args.max_rationale_steps}
    cfg = AutoCoTConfig.for_task(task, **{k: v for k, v in changes.items() if v is not None},
                                 max_question_words=args.max_question_words,
                                 max_tries_per_cluster=args.max_tries, fallback=args.fallback, seed=args.kmeans_seed)
    fmt, labels = infer_format(pool)
    fmt = fmt.value if args.format == "auto" else args.format
    if args.labels is not None:
        labels = tuple(x.strip() for x in args.labels.split(",") if x.strip())
    elif fmt == "label" and not labels:
        labels = pool.labels()
    decoding = decoding_from_args(args)
    if args.max_new_tokens is None:  # the reference's 256 rationale tokens (and no stop unless --stop gives one)
        decoding = decoding.replace(max_new_tokens=REASONING_DECODING.max_new_tokens)
    reason = zero_shot_cot_reasoner(None, fmt, decoding, labels=labels)  # validated before the model loads
    examples = list(pool)[: args.limit] if args.limit else list(pool)
    print(f"Auto-CoT: task preset {task or 'none'}, k={cfg.k}, max {cfg.max_rationale_steps} steps, answer "
          f"format {fmt}, answer-at-end check {'on' if cfg.checks_answer_at_end(fmt) else 'off'}", file=sys.stderr)
    reason = zero_shot_cot_reasoner(backend_from_args(args), fmt, decoding, labels=labels)
    vectors = clustering_vectors(examples, load_embedder(), name=pool.name)  # "Q: …\nA:", as the reference
    progress = tqdm_progress("rationales")
    try:
        result = build_demos(examples, vectors, reason, cfg, progress=progress)
    finally:
        progress.close()
    save_demos(result.demos, args.out)
    _print(result.demos)
    print(f"wrote {shown(args.out)}: {result.note()}", file=sys.stderr)
    return 0


def run_show(args) -> int:
    from workbench.autocot.files import load_demos

    _print(load_demos(args.file))
    return 0


def _print(demos) -> None:
    from workbench.autocot.filters import question_text

    for i, d in enumerate(demos):
        flag = " [fallback: no candidate passed the filters]" if d.fallback else ""
        gold = f" (gold {d.gold_ans})" if d.gold_ans is not None else ""
        print(f"--- demo {i} · cluster {shown(str(d.cluster))}{flag}")  # a demo file's text is never sent raw
        print(shown(f"Q: {question_text(d.question, d.choices)}\nA: {d.rationale}\n=> {d.pred_ans}{gold}", keep="\n\t"))
