"""``generate`` and ``models``: complete a prompt; list the models and their backends."""

from __future__ import annotations

import json
import sys

from workbench.cli.common import add_decoding_args, add_model_args, backend_from_args, decoding_from_args


def register(sub) -> None:
    p = sub.add_parser("generate", help="complete a prompt with a local model")
    add_model_args(p)
    p.add_argument("--prompt", required=True, help="the exact text sent to the model ('-' reads stdin)")
    p.add_argument("--chat", action="store_true", help="wrap the prompt as one user turn in the model's chat template")
    p.add_argument("--json", action="store_true", help="print one JSON record per sample")
    add_decoding_args(p)
    p.set_defaults(run=run_generate)

    m = sub.add_parser("models", help="list the models and the backend each uses")
    m.add_argument("--json", action="store_true")
    m.set_defaults(run=run_models)


def run_generate(args) -> int:
    cfg = decoding_from_args(args)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    backend = backend_from_args(args)
    if args.chat:
        prompt = backend.format_chat([{"role": "user", "content": prompt}])
    if args.json:
        for i, gen in enumerate(backend.generate([prompt], cfg)[0]):
            record = {"model": backend.spec.id, "backend": backend.name, "prompt": prompt, "sample": i,
                      "decoding": cfg.to_dict(), "text": gen.text, "prompt_tokens": gen.prompt_tokens,
                      "completion_tokens": gen.completion_tokens, "finish_reason": gen.finish_reason,
                      "seconds": round(gen.seconds, 4), "tokens_per_second": round(gen.tokens_per_second, 2),
                      "seed": gen.seed}
            print(json.dumps(record, ensure_ascii=False))
        return 0
    if cfg.n == 1:
        stream = backend.stream(prompt, cfg)
        for piece in stream:
            print(piece, end="", flush=True)
        print()
        print(f"[{backend.spec.id} · {backend.name}] {stream.generation.summary()}", file=sys.stderr)
        return 0
    for i, gen in enumerate(backend.generate([prompt], cfg)[0]):
        print(f"--- sample {i} (seed {gen.seed}) ---")
        print(gen.text)
        print(f"[{backend.spec.id} · {backend.name}] {gen.summary()}", file=sys.stderr)
    return 0


def run_models(args) -> int:
    from workbench.backends import EMBEDDED, choose_backend, resolve_model
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
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['id']:<24} {r['kind']:<5} {r['backend']:<13} {r['description']}")
    print("any local .gguf file or Hugging Face model folder can be given with --model PATH")
    return 0
