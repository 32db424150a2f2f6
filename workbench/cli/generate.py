"""``generate`` and ``models``: complete a prompt; list the models and their backends."""

from __future__ import annotations

import json
import sys

from workbench.cli.common import (
    add_decoding_args,
    add_model_args,
    backend_from_args,
    decoding_from_args,
    read_stdin,
    shown,
    shown_json,
)

#: What a completion may print raw on a terminal: line breaks and tabs (every other control character escaped).
TEXT = "\n\t"


def register(sub) -> None:
    p = sub.add_parser("generate", help="complete a prompt with a local model")
    add_model_args(p)
    p.add_argument("--prompt", required=True, help="the exact text sent to the model ('-' reads stdin)")
    p.add_argument("--chat", action="store_true", help="wrap the prompt as one user turn in the model's chat template")
    p.add_argument("--json", action="store_true", help="print one JSON record per sample")
    add_decoding_args(p)
    g = p.add_argument_group("speculative decoding (draft several tokens, verify them in one pass)")
    g.add_argument("--speculative", metavar="METHOD",
                   help="prompt-lookup (n-gram drafts copied from the prompt; both backends) or draft:MODEL "
                        "(a small model drafts; transformers assisted generation)")
    g.add_argument("--draft-tokens", type=int, default=None, help="tokens drafted per verification step (default 10)")
    g.add_argument("--ngram-size", type=int, default=None, help="longest n-gram looked up (prompt-lookup; default 2)")
    g.add_argument("--compare", action="store_true",
                   help="also run plain decoding of the same prompt and print the speed ratio")
    p.set_defaults(run=run_generate)

    m = sub.add_parser("models", help="list the models and the backend each uses")
    m.add_argument("--json", action="store_true")
    m.set_defaults(run=run_models)


def run_generate(args) -> int:
    cfg = decoding_from_args(args)
    spec = _speculative_from_args(args)
    if spec is not None:
        from workbench.speculative.runs import check_decoding

        check_decoding(cfg, spec)  # before loading anything
    prompt = read_stdin("The --prompt text") if args.prompt == "-" else args.prompt
    backend = backend_from_args(args)
    if args.chat:
        prompt = backend.format_chat([{"role": "user", "content": prompt}])
    if spec is not None:
        return _run_speculative(args, backend, prompt, cfg, spec)
    if args.json:
        for i, gen in enumerate(backend.generate([prompt], cfg)[0]):
            record = {"model": backend.spec.id, "backend": backend.name, "prompt": prompt, "sample": i,
                      "decoding": cfg.to_dict(), "text": gen.text, "prompt_tokens": gen.prompt_tokens,
                      "completion_tokens": gen.completion_tokens, "finish_reason": gen.finish_reason,
                      "seconds": round(gen.seconds, 4), "tokens_per_second": round(gen.tokens_per_second, 2),
                      "seed": gen.seed}
            print(shown_json(record))
        return 0
    if cfg.n == 1:
        stream = backend.stream(prompt, cfg)
        for piece in stream:
            print(shown(piece, keep=TEXT), end="", flush=True)
        print()
        print(f"[{shown(backend.spec.id)} · {backend.name}] {stream.generation.summary()}", file=sys.stderr)
        return 0
    for i, gen in enumerate(backend.generate([prompt], cfg)[0]):
        print(f"--- sample {i} (seed {gen.seed}) ---")
        print(shown(gen.text, keep=TEXT))
        print(f"[{shown(backend.spec.id)} · {backend.name}] {gen.summary()}", file=sys.stderr)
    return 0


def _speculative_from_args(args):
    """The SpeculativeConfig of the flags, None without --speculative (speculative flags alone are an error)."""
    from workbench.errors import ConfigError
    from workbench.speculative.records import SpeculativeConfig

    if args.speculative is None:
        given = [f for f, v in (("--draft-tokens", args.draft_tokens), ("--ngram-size", args.ngram_size),
                                ("--compare", args.compare or None)) if v is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} needs --speculative prompt-lookup or --speculative draft:MODEL.")
        return None
    changes = {k: v for k, v in (("draft_tokens", args.draft_tokens), ("ngram_size", args.ngram_size)) if v is not None}
    return SpeculativeConfig(method=args.speculative.strip(), **changes)


def _run_speculative(args, backend, prompt: str, cfg, spec) -> int:
    from workbench.speculative.runs import assisted, check_settings, compare, trace

    check_settings(backend, cfg, spec)
    record: dict = {"model": backend.spec.id, "backend": backend.name, "speculative": spec.method,
                    "draft_tokens": spec.draft_tokens, "ngram_size": spec.ngram_size, "decoding": cfg.to_dict()}
    if args.compare:
        cmp = compare(backend, prompt, cfg, spec)
        text = cmp.speculative.text
        record.update(text=text, same_text_as_plain=cmp.same_text,
                      plain_tokens_per_second=round(cmp.plain.tokens_per_second, 2),
                      speculative_tokens_per_second=round(cmp.speculative.tokens_per_second, 2),
                      speed_ratio=round(cmp.speed_ratio, 3), speculative_implementation=cmp.speculative.label)
        traced = cmp.trace
    elif spec.draft_model is not None:
        gen = assisted(backend, prompt, cfg, spec)  # the draft model's assisted generation, one run
        text, traced = gen.text, None
        record.update(text=text, tokens_per_second=round(gen.tokens_per_second, 2))
    else:
        traced = trace(backend, prompt, cfg, spec)
        text = traced.text
        record.update(text=text, tokens_per_second=round(traced.tokens_per_second, 2))
    if traced is not None:
        record.update(acceptance_rate=round(traced.acceptance_rate, 4), drafted=traced.drafted,
                      accepted=traced.accepted, target_passes=traced.target_passes,
                      passes_saved=traced.passes_saved, origins=traced.counts)
    if args.json:
        print(shown_json(record))
        return 0
    print(shown(text, keep=TEXT))
    where = f"[{shown(backend.spec.id)} · {backend.name} · {shown(spec.method)}, {spec.draft_tokens} draft tokens]"
    if traced is not None:
        c = traced.counts
        print(f"{where} acceptance rate {traced.acceptance_rate:.0%} ({traced.accepted} of {traced.drafted} drafted "
              f"tokens); {traced.target_passes} target passes for {len(traced.tokens)} tokens "
              f"({traced.passes_saved} saved); origins: {c['accepted']} accepted, {c['rejected']} at rejected "
              f"drafts, {c['target']} from the target", file=sys.stderr)
    else:
        print(f"{where} acceptance rate: not reported by transformers' assisted generation", file=sys.stderr)
    if args.compare:
        same = "same text" if cmp.same_text else "DIFFERENT text"
        print(f"{where} speed: {cmp.speculative.tokens_per_second:.1f} tokens/s speculative vs "
              f"{cmp.plain.tokens_per_second:.1f} plain = {cmp.speed_ratio:.2f}x ({same}; "
              f"{cmp.speculative.label})", file=sys.stderr)
    return 0


def run_models(args) -> int:
    from workbench.backends import EMBEDDED, backend_kinds, choose_backend, resolve_model
    from workbench.errors import ModelError

    rows = []
    for model_id, m in EMBEDDED.items():
        try:
            spec = resolve_model(model_id)
            rows.append({"id": model_id, "kind": "chat" if m.is_chat else "base", "backend": choose_backend(spec),
                         "installed": True, "path": spec.path, "description": m.description})
        except ModelError as err:
            rows.append({"id": model_id, "kind": "chat" if m.is_chat else "base", "backend": "-",
                         "installed": False, "path": str(err), "description": m.description})
    kinds = backend_kinds()  # built in, and any a plugin registered
    rows += [{"id": name, "kind": "backend", "backend": name, "installed": True, "path": "",
              "description": kind.description} for name, kind in kinds.items()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        if r["kind"] != "backend":
            print(f"{r['id']:<24} {r['kind']:<5} {r['backend']:<13} {r['description']}")
    print("any local .gguf file or Hugging Face model folder can be given with --model PATH")
    print("backends (--backend NAME):")
    for name, kind in kinds.items():
        print(f"  {name:<22} {kind.description}")
    return 0
