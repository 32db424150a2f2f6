"""``autocot build|show``: Auto-CoT demonstrations from a question pool, and a look at a demo file."""

from __future__ import annotations

import sys

from workbench.cli.common import (
    add_decoding_args,
    add_model_args,
    backend_from_args,
    decoding_from_args,
    pool_from_arg,
    tqdm_progress,
)


def register(sub) -> None:
    p = sub.add_parser("autocot", help="Auto-CoT: build chain-of-thought demonstrations automatically")
    cmds = p.add_subparsers(dest="autocot_command", required=True, metavar="ACTION")
    b = cmds.add_parser("build", help="cluster the pool, let the model write rationales, keep good ones")
    b.add_argument("--pool", required=True, help="question pool file (CSV/TSV/JSON/JSONL) or a sample name")
    b.add_argument("--k", type=int, default=8, help="demonstrations = clusters (paper: 8)")
    b.add_argument("--format", default="number", choices=["number", "yes_no", "choice", "label", "free"],
                   help="answer type, picks the answer trigger (default: arabic numerals)")
    b.add_argument("--max-question-words", type=int, default=60)
    b.add_argument("--max-rationale-steps", type=int, default=5)
    b.add_argument("--max-tries", type=int, default=4, help="rationales generated per cluster before falling back")
    b.add_argument("--limit", type=int, default=None, help="use only the first N questions of the pool")
    b.add_argument("--kmeans-seed", dest="kmeans_seed", type=int, default=0, help="k-means seed")
    b.add_argument("--out", required=True, help="demo file to write (the paper's JSON shape)")
    add_model_args(b)
    add_decoding_args(b)
    b.set_defaults(run=run_build)
    s = cmds.add_parser("show", help="print a demo file")
    s.add_argument("file")
    s.set_defaults(run=run_show)


def run_build(args) -> int:
    from workbench.autocot import AutoCoTConfig, build_demos, save_demos, zero_shot_cot_reasoner
    from workbench.retrieval import load_embedder

    cfg = AutoCoTConfig(k=args.k, max_question_words=args.max_question_words,
                        max_rationale_steps=args.max_rationale_steps, max_tries_per_cluster=args.max_tries,
                        seed=args.kmeans_seed)
    decoding = decoding_from_args(args)
    if args.max_new_tokens is None:
        decoding = decoding.replace(max_new_tokens=128)
    pool = pool_from_arg(args.pool)
    examples = list(pool)[: args.limit] if args.limit else list(pool)
    backend = backend_from_args(args)
    embedder = load_embedder()
    vectors = embedder.encode([e.input for e in examples])
    progress = tqdm_progress("rationales")
    try:
        result = build_demos(examples, vectors, zero_shot_cot_reasoner(backend, args.format, decoding), cfg,
                             progress=progress)
    finally:
        progress.close()
    save_demos(result.demos, args.out)
    _print(result.demos)
    flagged = sum(d.fallback for d in result.demos)
    print(f"wrote {len(result.demos)} demos to {args.out}" + (f" ({flagged} fallback)" if flagged else ""),
          file=sys.stderr)
    return 0


def run_show(args) -> int:
    from workbench.autocot import load_demos

    _print(load_demos(args.file))
    return 0


def _print(demos) -> None:
    for i, d in enumerate(demos):
        flag = " [fallback: no candidate passed the heuristics]" if d.fallback else ""
        gold = f" (gold {d.gold_ans})" if d.gold_ans is not None else ""
        print(f"--- demo {i} · cluster {d.cluster}{flag}")
        print(f"Q: {d.question}\nA: {d.rationale}\n=> {d.pred_ans}{gold}")
