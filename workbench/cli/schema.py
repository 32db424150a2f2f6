"""``schema``: the JSON Schema (draft 2020-12) of the prompt files, for an editor to check and complete them.

    workbench schema              # a spec file or a prompt set (either)
    workbench schema set > prompts/workbench.schema.json

Put ``# yaml-language-server: $schema=workbench.schema.json`` (a path relative to the YAML file, or a URL) on
the first line of a prompt file and an editor with the YAML language server (VS Code's YAML extension, Neovim,
Helix, ...) checks and completes it. The schema is generated from the models the loaders validate with
(:mod:`workbench.promptsets.schema`).
"""

from __future__ import annotations

import json

from workbench.promptsets.schema import KINDS


def register(sub) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of prompt files (spec, set, or all) for editors",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("kind", nargs="?", choices=KINDS, default="all",
                   help="spec files, prompt sets, or either (default %(default)s)")
    p.set_defaults(run=run)


def run(args) -> int:
    from workbench.promptsets.schema import json_schema

    print(json.dumps(json_schema(args.kind), indent=2, ensure_ascii=False))
    return 0
