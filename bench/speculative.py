"""Speculative decoding vs plain decoding: prompt lookup on the shipped copy-heavy and creative prompts,
llama.cpp (llama-cpp-python's LlamaPromptLookupDecoding) and transformers (prompt_lookup_num_tokens), and
a draft model on transformers (assistant_model; universal assisted decoding when the tokenizers differ).

Greedy decoding, medians of interleaved runs (plain and speculative alternate), same-text check, the traced
acceptance rate. Prints JSON with the machine's load average (it is shared). Target on llama.cpp: >= 1.5x
tokens/s on the copy-heavy prompt with identical text; an honest figure on the creative one.

llama.cpp rows time three ways, interleaved: plain decoding on the speculative Llama (its drafter proposing
nothing: the like-with-like baseline of speed_ratio), llama-cpp-python's prompt lookup on it, and plain decoding
on the user's own backend (logits_all=False: backend_speed_ratio). They also give the plain text's first near-tie
(the first token whose top-2 logits lie closer than workbench.speculative.NEAR_TIE; greedy speculative text is
the plain text at least up to there) and the first token where the traced speculative run left the plain one.

    WORKBENCH_THREADS=2 python bench/speculative.py [--runs 3] [--models gemma-3-270m,smollm2-135m-instruct]
        [--transformers gemma-3-270m] [--transformers-methods lookup,draft] [--draft smollm2-135m-instruct]
        [--examples fix-typos,creative-story] [--draft-tokens 10] [--ngram-size 2] [--max-new-tokens N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

from workbench.backends import load_backend
from workbench.decoding import DecodingConfig
from workbench.speculative.examples import examples
from workbench.speculative.records import SpeculativeConfig
from workbench.speculative.runs import compare, plain_reference


def measure(backend, example, spec: SpeculativeConfig, runs: int, max_new_tokens: int | None) -> dict:
    cfg = DecodingConfig(max_new_tokens=max_new_tokens or example.max_new_tokens)
    llama = backend.name == "llama.cpp"
    cmp = compare(backend, example.prompt, cfg, spec, repeats=runs, with_trace=spec.draft_model is None,
                     with_backend_plain=llama)
    row = {"model": backend.spec.id, "backend": backend.name, "example": example.id, "kind": example.kind,
           "method": spec.method, "draft_tokens": spec.draft_tokens, "ngram_size": spec.ngram_size,
           "implementation": cmp.speculative.label, "runs": runs,
           "plain_tokens_per_second": round(cmp.plain.tokens_per_second, 2),
           "speculative_tokens_per_second": round(cmp.speculative.tokens_per_second, 2),
           "speed_ratio": round(cmp.speed_ratio, 3), "same_text": cmp.same_text,
           "plain_seconds": cmp.plain.seconds, "speculative_seconds": cmp.speculative.seconds,
           "completion_tokens": cmp.plain.completion_tokens}
    if cmp.backend_plain is not None:
        row.update(backend_plain_tokens_per_second=round(cmp.backend_plain.tokens_per_second, 2),
                   backend_plain_seconds=cmp.backend_plain.seconds,
                   backend_speed_ratio=round(cmp.backend_speed_ratio, 3),
                   backend_same_text=cmp.backend_plain.text == cmp.speculative.text)
    if cmp.trace is not None:
        t = cmp.trace
        row.update(acceptance_rate=round(t.acceptance_rate, 3), target_passes=t.target_passes,
                   passes_saved=t.passes_saved, origins=t.counts, trace_same_text=t.text == cmp.plain.text)
    if llama:
        ref = plain_reference(backend, example.prompt, cfg)
        traced = [tok.token_id for tok in cmp.trace.tokens]
        row.update(first_near_tie=ref.first_near_tie, smallest_top2_gap=round(min(ref.top2_gaps), 3),
                   trace_first_difference=next((i for i, (a, b) in enumerate(zip(traced, ref.token_ids, strict=False))
                                                if a != b), None))
    print(json.dumps(row), file=sys.stderr)  # progress
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", default="gemma-3-270m,smollm2-135m-instruct", help="llama.cpp models ('' for none)")
    ap.add_argument("--transformers", default="gemma-3-270m", help="transformers target ('' for none)")
    ap.add_argument("--transformers-methods", default="lookup,draft", help="on the transformers target")
    ap.add_argument("--draft", default="smollm2-135m-instruct", help="draft model for the transformers target")
    ap.add_argument("--examples", default="fix-typos,creative-story")
    ap.add_argument("--draft-tokens", type=int, default=10)
    ap.add_argument("--ngram-size", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=None)
    args = ap.parse_args()
    wanted = [e for e in examples() if e.id in args.examples.split(",")]
    spec = SpeculativeConfig(draft_tokens=args.draft_tokens, ngram_size=args.ngram_size)
    methods = args.transformers_methods.split(",")
    started = time.time()
    load_before = os.getloadavg()
    rows = []
    for model in filter(None, args.models.split(",")):
        backend = load_backend(model, "llama.cpp")
        for ex in wanted:
            rows.append(measure(backend, ex, spec, args.runs, args.max_new_tokens))
    if args.transformers:
        backend = load_backend(args.transformers, "transformers")
        for ex in wanted if "lookup" in methods else []:
            rows.append(measure(backend, ex, spec, args.runs, args.max_new_tokens))
        if args.draft and "draft" in methods:
            draft_spec = SpeculativeConfig(method=f"draft:{args.draft}", draft_tokens=min(args.draft_tokens, 5))
            for ex in wanted:
                rows.append(measure(backend, ex, draft_spec, args.runs, args.max_new_tokens))
    print(json.dumps({
        "bench": "speculative", "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor(),
                                            "threads": os.environ.get("WORKBENCH_THREADS", "all"),
                                            "torch_threads": _torch_threads() if args.transformers else None,
                                            "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "seconds": round(time.time() - started, 1), "target": "llama.cpp copy-heavy speed_ratio >= 1.5, same text",
        "rows": rows,
    }, indent=2))


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
