"""A run's or a prompt set's strategies and tests written as a promptfoo config that promptfoo runs against the
same model behind an OpenAI-compatible server (``workbench serve``): ``promptfooconfig.yaml`` plus ``tests.csv``.
Pure: data in, text out (the CLI, :mod:`workbench.cli.export`, reads the run or set -- :mod:`.sources` -- and
writes the files; :mod:`.export_checks` writes the assertions).

- **prompts**: one ``{raw, label}`` per distinct prompt. A ``{{ var }}`` spec's query template is written as it
  is; a ``{input}`` spec becomes the Nunjucks text ``{{ input }}``, and its instruction, fixed demonstrations,
  separators and answer prefix are written out as the literal text the workbench sends (raw completion text;
  text holding ``{{``/``{%``/``{#`` inside ``{% raw %}``). Demonstrations chosen per query (knn, bm25, ...),
  label scoring, self-consistency and multi-call reasoning have no promptfoo form: one line refuses them.
- **providers**: ``openai:completion:NAME`` (``openai:chat:NAME`` for a chat model, whose template the server
  applies) with ``config.apiBaseUrl`` -- ``http://127.0.0.1:8080/v1`` for the first model (``workbench serve``'s
  address and model name), 8081, ... for the next, or the server a server reference names -- and the decoding:
  ``temperature`` (0: greedy), ``max_tokens``, ``top_p``, ``stop`` (the decoding's and the spec's), ``seed``.
  A strategy set that is not every prompt on every provider limits each provider with promptfoo's ``prompts``.
- **tests**: ``vars``, the test's assertions and ``threshold`` in ``tests.csv`` with promptfoo's ``__expected``
  columns (``contains: Paris``) and ``__threshold``; a test a cell cannot hold exactly (a weight, a metric, a
  value with surrounding spaces or a comma in a list, a non-text var, a cell a spreadsheet would read as a
  formula) goes into the YAML's ``tests`` whole. Assertions every strategy shares go to ``defaultTest``.
- The answer formats' own checks (``number``, ``choice``, ``yes_no``, ``label``, ``exact``: an item judged
  with no assertion) are not promptfoo types; they are written as the nearest promptfoo assertion on the gold
  answer (:func:`format_assertion`), and the export's notes say so.

    >>> nunjucks_literal("Q: {{x}}")
    '{% raw %}Q: {{x}}{% endraw %}'
    >>> braces_to_nunjucks("Review: {input}\\nSentiment:")
    'Review: {{ input }}\\nSentiment:'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from workbench.csvsafe import neutral, rows_to_csv
from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.errors import DataError
from workbench.evaluate.strategies import Strategy
from workbench.evaluate.variants import model_label
from workbench.interop.promptfoo.cases import summary
from workbench.interop.promptfoo.export_checks import FORMAT_TYPES, assertion_cell, promptfoo_assertions
from workbench.interop.promptfoo.schema import TestCase
from workbench.prompts.rendering import render
from workbench.prompts.spec import PromptSpec
from workbench.sandbox import variables
from workbench.templates import fill

#: The files an export writes, always under these names (inside the chosen folder).
CONFIG_FILE, TESTS_FILE = "promptfooconfig.yaml", "tests.csv"
#: A chat prompt's messages file beside the config (N: the prompt's place among the config's prompts).
PROMPT_FILE = "prompt_{n}.json"
#: Where ``workbench serve`` listens (workbench.engine.DEFAULT_PORT); the n-th model of an export gets port + n.
SERVE_HOST, SERVE_PORT = "127.0.0.1", 8080
#: Decoding settings an OpenAI-compatible provider config has no key for (left at the server's default).
_NO_KEY = ("top_k", "min_p", "typical_p", "repetition_penalty", "no_repeat_ngram_size", "num_beams")


@dataclass(frozen=True)
class Export:
    """What an export writes: the config's text, the tests CSV's text (None: every test is in the YAML), and
    notes (one line each) on what promptfoo will do differently."""

    config: str  # promptfooconfig.yaml (yaml.safe_dump)
    tests_csv: str | None  # tests.csv, or None when no test fits a CSV row
    notes: tuple[str, ...] = ()  # approximations, one line each (shown by the CLI)
    files: tuple[tuple[str, str], ...] = ()  # the other files beside the config, (name, text): chat prompts


# --------------------------------------------------------------------------- prompts

def nunjucks_literal(text: str) -> str:
    """``text`` as Nunjucks (and Jinja) renders it literally: as it is, inside ``{% raw %}`` when it holds
    template syntax, or as a string expression when it even holds ``endraw``.

    >>> nunjucks_literal("plain"), nunjucks_literal('say {% endraw %} "x"')
    ('plain', '{{ "say {% endraw %} \\\\"x\\\\"" }}')
    """
    if not any(s in text for s in ("{{", "{%", "{#")) and not text.endswith("{"):
        return text
    if "endraw" not in text:
        return "{% raw %}" + text + "{% endraw %}"
    quoted = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '{{ "' + quoted + '" }}'


def braces_to_nunjucks(template: str) -> str:
    """A ``{input}`` template as Nunjucks: each placeholder ``{{ name }}``, the literal text (``{{``/``}}`` of the
    braces syntax read as the brace they stand for) kept literal."""
    if "\0" in template:
        raise DataError("A prompt template holds a NUL character; remove it to export the prompt.")
    names = dict.fromkeys(re.findall(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}", template))
    marked = fill(template, {n: f"\0{n}\0" for n in names}, tuple(names), "query template")
    pieces = marked.split("\0")
    return "".join("{{ " + p + " }}" if i % 2 else nunjucks_literal(p) for i, p in enumerate(pieces) if p)


def prompt_text(spec: PromptSpec, demos: Sequence[Example] = ()) -> str:
    """The Nunjucks prompt promptfoo renders into the text the workbench sends a raw model: the instruction,
    the demonstrations and separators as literal text, then the query template, then the answer prefix.

    >>> prompt_text(PromptSpec(instruction="Add.", query_template="Q: {input}\\nA:"), [Example("d", "1+1", "2")])
    'Add.\\n\\nQ: 1+1\\nA: 2\\n\\nQ: {{ input }}\\nA:'
    """
    if spec.messages:
        raise DataError("A chat prompt (messages) has no promptfoo text form here; export a text prompt.")
    query = spec.query_template if spec.syntax == "jinja" else braces_to_nunjucks(spec.query_template)
    probe_vars = dict.fromkeys(variables(spec.query_template) if spec.syntax == "jinja" else (), "x")
    probe = Example(id="probe", input="x", answer="", choices={"A": "x"}, vars=probe_vars or None)
    parts = render(spec, demos, probe, as_chat=False).parts
    return "".join(query if kind == "query" else nunjucks_literal(text) for kind, text in parts)


def messages_json(spec: PromptSpec) -> str:
    """A chat prompt's messages as promptfoo's JSON prompt file: ``[{role, content}]``, each content the
    ``{{ var }}`` template promptfoo renders (src/prompts/processors/json.ts).

    >>> print(messages_json(PromptSpec(syntax="jinja", messages=[("user", "Hi {{ name }}")])))
    [
      {
        "role": "user",
        "content": "Hi {{ name }}"
      }
    ]
    """
    return json.dumps([{"role": role, "content": content} for role, content in spec.messages], indent=2,
                      ensure_ascii=False)


def _refuse_unexportable(s: Strategy) -> None:
    """One line for a strategy promptfoo cannot run as one fixed prompt and one call."""
    why = None
    if s.chooses_per_query:
        why = f"chooses its demonstrations per query ({s.selector})"
    elif s.demos_to_build:
        why = "has Auto-CoT demonstrations that are not built yet (export a run that built them)"
    elif s.answer != "generate":
        why = f"answers by scoring ({s.answer}), which promptfoo does not do"
    elif s.samples > 1:
        why = "votes over several samples (self-consistency)"
    elif s.spec.mode.answer_step:
        why = f"makes several model calls per item ({s.spec.reasoning})"
    if why:
        raise DataError(f"Strategy {s.name!r} {why}; a promptfoo prompt is one fixed text sent once. Export "
                        "zero-shot or fixed-demonstration strategies.")


# --------------------------------------------------------------------------- providers

def provider_entry(ref: str, decoding: DecodingConfig, stops: Sequence[str], port: int, label: str,
                   chat: bool) -> dict[str, Any]:
    """The promptfoo provider for model ``ref`` with ``decoding``: an OpenAI-compatible one on the server a
    server reference names, else on ``workbench serve``'s address at ``port``.

    >>> provider_entry("gemma-3-270m", DecodingConfig(max_new_tokens=8), (), 8080, "gemma-3-270m", False)
    {'id': 'openai:completion:gemma-3-270m', 'label': 'gemma-3-270m', 'config': {'apiBaseUrl': 'http://127.0.0.1:8080/v1', 'temperature': 0, 'max_tokens': 8}}
    """
    if "://" in ref:
        base, _, rest = ref.partition("#")
        name, url = rest.split("#", 1)[0], base.rstrip("/")
    else:
        name = ref if "/" not in ref and "\\" not in ref and not ref.endswith(".gguf") else \
            re.sub(r"\.gguf$", "", model_label(ref))  # workbench serve names a file's model by its stem
        url = f"http://{SERVE_HOST}:{port}/v1"
    config: dict[str, Any] = {"apiBaseUrl": url,
                              "temperature": 0 if decoding.greedy else decoding.temperature,
                              "max_tokens": decoding.max_new_tokens}
    if decoding.top_p != 1.0:
        config["top_p"] = decoding.top_p
    all_stops = list(dict.fromkeys([*decoding.stop, *stops]))
    if all_stops:
        config["stop"] = all_stops
    if not decoding.greedy and decoding.seed is not None:
        config["seed"] = decoding.seed
    return {"id": f"openai:{'chat' if chat else 'completion'}:{name}", "label": label, "config": config}


def _unmapped(decoding: DecodingConfig) -> list[str]:
    """Decoding settings (not at their defaults) an OpenAI provider config cannot carry."""
    default = DecodingConfig()
    return [f"{k}={getattr(decoding, k)}" for k in _NO_KEY if getattr(decoding, k) != getattr(default, k)]


def _is_chat(ref: str) -> bool:
    from workbench.backends.registry import EMBEDDED

    return ref in EMBEDDED and EMBEDDED[ref].is_chat


# --------------------------------------------------------------------------- the config

def _split_name(s: Strategy) -> tuple[str, str]:
    """(prompt label, provider label) of a strategy: ``PROMPT @ MODEL`` names split, else its name and model."""
    if s.model is not None and " @ " in s.name:
        prompt, _, model = s.name.rpartition(" @ ")
        return prompt, model
    return s.name, model_label(s.model) if s.model else ""


def _test_vars(ex: Example, used: Sequence[str], where: str) -> dict[str, Any]:
    """A test's vars: the item's own, plus ``input``/``question``/``choices`` where a prompt reads them."""
    out: dict[str, Any] = dict(ex.vars or {})
    for name in used:
        if name in out:
            continue
        if name in ("input", "question"):
            out[name] = ex.input
        elif name == "choices":
            if not ex.choices:
                raise DataError(f"{where}: a prompt reads {{choices}}, and this test has no choices (a stored "
                                "run keeps no choices: export the prompt set or the dataset's spec instead).")
            out[name] = " ".join(f"({k}) {v}" for k, v in ex.choices.items())  # rendering.choices_text's layout
    return {k: promptfoo_var(v) for k, v in out.items()}


def promptfoo_var(value: Any) -> Any:
    """A var's value written so that promptfoo renders it back to exactly ``value``: promptfoo renders every text
    var as a Nunjucks template before it fills the prompt (src/evaluatorHelpers.ts ``renderPrompt``), so template
    syntax is kept literal. (It also drops a var's final newline, in place, once per prompt it renders: the export
    notes such vars rather than guess how many times.)

    >>> promptfoo_var("{{ x }}"), promptfoo_var("plain"), promptfoo_var(3)
    ('{% raw %}{{ x }}{% endraw %}', 'plain', 3)
    """
    return nunjucks_literal(value) if isinstance(value, str) else value


def _csv_row(vars_: Mapping[str, Any], asserts: Sequence[Mapping[str, Any]], threshold: float | None,
             description: str | None = None) -> dict[str, str] | None:
    """The test as a tests.csv row (vars, ``__description``, ``__expected1..``, ``__threshold``), or None when a
    cell cannot hold it exactly (promptfoo reads every CSV var as text, trims cells, and a spreadsheet must not see
    a formula)."""
    row: dict[str, str] = {}
    for k, v in vars_.items():
        if not isinstance(v, str) or k.startswith("_") or v != v.strip():
            return None  # promptfoo reads a CSV var as trimmed text
        row[k] = v
    if description is not None:
        if description != description.strip():
            return None
        row["__description"] = description
    for n, a in enumerate(asserts, start=1):
        cell = assertion_cell(a)
        if cell is None:
            return None
        row[f"__expected{n}"] = cell
    if threshold is not None:
        row["__threshold"] = repr(float(threshold))
    if any(neutral(v) != v for v in row.values()):
        return None  # a cell a spreadsheet reads as a formula: the YAML holds it exactly
    return row


def description_of(ex: Example, vars_: Mapping[str, Any]) -> str | None:
    """A test's ``description``: the item's input, unless it only repeats its vars (the input the promptfoo import
    makes of a test without one, ``name=value; ...``) or one var's value.

    >>> description_of(Example("1", "Spain, by regex", "", vars={"c": "Spain"}), {"c": "Spain"})
    'Spain, by regex'
    >>> description_of(Example("2", "c=Spain", "", vars={"c": "Spain"}), {"c": "Spain"}) is None
    True
    """
    text = ex.input
    if not text.strip() or text == summary(TestCase(), ex.vars or {}) or text in vars_.values():
        return None
    return text


def export_promptfoo(strategies: Sequence[Strategy], tests: Sequence[Example], description: str) -> Export:
    """promptfoo's config (and tests CSV) for ``strategies`` run on ``tests``; strategies without a model run on
    the model ``workbench serve`` serves first. One DataError line for what promptfoo cannot run."""
    if not strategies:
        raise DataError("Nothing to export: no prompts.")
    notes: list[str] = []
    prompts: dict[str, str] = {}  # label -> Nunjucks text, or a chat prompt's messages JSON
    chats: dict[str, str] = {}  # label -> the chat prompt's templates (the messages' contents)
    providers: dict[tuple, dict[str, Any]] = {}  # (ref, decoding, stops, chat) -> provider entry
    pairs: list[tuple[str, tuple]] = []
    ports: dict[str, int] = {}
    for s in strategies:
        _refuse_unexportable(s)
        label, model = _split_name(s)
        text = messages_json(s.spec) if s.spec.messages else prompt_text(s.spec, s.demos)
        label = _unique(label, {k for k, t in prompts.items() if t != text})  # promptfoo keys prompts by label
        prompts[label] = text
        if s.spec.messages:
            chats[label] = "\n".join(content for _, content in s.spec.messages)
        ref = s.model or ""
        chat = bool(s.spec.messages) or (_is_chat(ref) if ref else False)  # promptfoo sends messages to chat
        key = (ref, s.decoding, tuple(s.spec.stop), chat)
        if key not in providers:
            port = ports.setdefault(ref, SERVE_PORT + len(ports)) if "://" not in ref else 0
            shown = _unique(model or "model", {p["label"] for p in providers.values()})
            providers[key] = provider_entry(ref or "model", s.decoding, s.spec.stop, port, shown, chat)
            if ref and "://" not in ref:
                notes.append(f"start the model first: workbench serve --engine llama-server --model {ref} "
                             f"--port {port}")
            lost = _unmapped(s.decoding)
            if lost:
                notes.append(f"{shown}: {', '.join(lost)} has no OpenAI provider setting; the server's default "
                             "applies under promptfoo")
        pairs.append((label, key))
    if any(not s.model for s in strategies):
        notes.append(f"the strategies without a model go to the model `workbench serve` serves on port "
                     f"{SERVE_PORT} as 'model': edit the provider id to name it")
    provider_list = list(providers.values())
    if len(set(pairs)) != len(prompts) * len(providers):  # not every prompt on every provider
        for key, entry in providers.items():
            entry["prompts"] = [label for label, k in pairs if k == key]
            extra = [p for p in prompts if p not in entry["prompts"] and
                     any(p.startswith(f"{name}:") for name in entry["prompts"])]
            if extra:  # promptfoo's isAllowedPrompt also runs a prompt labelled "NAME: ..." for a listed NAME
                raise DataError(f"Prompt {extra[0]!r} would also run on {entry['label']}, which lists prompt "
                                f"{extra[0].partition(':')[0]!r} (promptfoo runs the prompts labelled NAME or "
                                "'NAME: ...' there); rename one of them.")

    shared = {tuple(json.dumps(c.to_dict(), sort_keys=True, default=str) for c in s.checks) for s in strategies}
    thresholds = {s.threshold for s in strategies}
    repeats = {s.repeat for s in strategies}
    for what, values in (("assertions", shared), ("pass threshold", thresholds), ("repeat", repeats)):
        if len(values) > 1:
            raise DataError(f"The strategies judge with different {what}; promptfoo gives every prompt the same "
                            "defaultTest: export the strategies that share them separately.")
    first = strategies[0]
    native = [c.to_dict() for c in first.checks if c.kind.name not in FORMAT_TYPES]
    per_test = [c.to_dict() for c in first.checks if c.kind.name in FORMAT_TYPES]  # on each test's gold
    default_test: dict[str, Any] = {}
    if native:
        default_test["assert"] = promptfoo_assertions(native, "", "defaultTest")
    if first.threshold is not None:
        default_test["threshold"] = first.threshold

    used = sorted({v for label, t in prompts.items() for v in variables(chats.get(label, t), "prompt")})
    formats = {s.spec.answer_format for s in strategies}
    rows, yaml_tests = [], []
    for ex in tests:
        where = f"test {ex.id!r}"
        own = list(ex.checks or ())
        checks = per_test + own if (first.checks or own) else [{"type": _format_type(first.spec.answer_format)}]
        if not (first.checks or own) and ex.answer.strip() == "":
            checks = []  # nothing to compare with: the test only runs the prompt
        asserts = promptfoo_assertions(checks, ex.answer, where)
        vars_ = _test_vars(ex, used, where)
        about = description_of(ex, vars_)
        row = _csv_row(vars_, asserts, ex.threshold, about)
        if row is not None:
            rows.append(row)
        else:
            test: dict[str, Any] = {"description": about} if about is not None else {}
            test["vars"] = vars_
            if asserts:
                test["assert"] = asserts
            if ex.threshold is not None:
                test["threshold"] = ex.threshold
            yaml_tests.append(test)
    if chats and any(promptfoo_var(v) != v for ex in tests for v in (ex.vars or {}).values()):
        notes.append("a test's var holds template syntax, which promptfoo fills into a chat prompt's messages as "
                     "written ({% raw %} included), and renders only for text prompts")
    if any(isinstance(v, str) and v.endswith("\n") for ex in tests for v in (ex.vars or {}).values()):
        notes.append("a test's var ends with a newline, which promptfoo drops before it renders the prompt")
    if not any(s.checks for s in strategies) and any(not ex.checks for ex in tests):
        notes.append(f"items judged by their answer format ({', '.join(sorted(formats))}) are written as the "
                     "nearest promptfoo assertion on the gold answer (regex / icontains); promptfoo judges the "
                     "whole output, not an extracted answer")
    config: dict[str, Any] = {"description": description,
                              "prompts": [{"id": f"file://{PROMPT_FILE.format(n=n)}", "label": label}
                                          if label in chats else {"raw": t, "label": label}
                                          for n, (label, t) in enumerate(prompts.items(), start=1)],
                              "providers": provider_list}
    if default_test:
        config["defaultTest"] = default_test
    config["tests"] = ([f"file://{TESTS_FILE}"] if rows else []) + yaml_tests
    if first.repeat > 1:
        config["evaluateOptions"] = {"repeat": first.repeat}
    csv_text = None
    if rows:
        columns = list(dict.fromkeys(k for r in rows for k in r if not k.startswith("__")))
        columns += ["__description"] if any("__description" in r for r in rows) else []
        columns += sorted({k for r in rows for k in r if k.startswith("__expected")}, key=lambda k: int(k[10:]))
        columns += ["__threshold"] if any("__threshold" in r for r in rows) else []
        csv_text = rows_to_csv(columns, rows)
    from workbench.promptsets.files import _yaml_dumper  # the safe dumper that writes multi-line text as blocks

    text = yaml.dump(config, Dumper=_yaml_dumper(), sort_keys=False, allow_unicode=True, width=1_000_000,
                     default_flow_style=False)
    files = tuple((PROMPT_FILE.format(n=n), t + "\n") for n, (label, t) in enumerate(prompts.items(), start=1)
                  if label in chats)
    return Export(text, csv_text, tuple(dict.fromkeys(notes)), files)


def _unique(label: str, taken: set[str]) -> str:
    """``label``, or ``label (2)``, ``label (3)``, ... when taken (as the promptfoo import numbers providers)."""
    n, out = 1, label
    while out in taken:
        n += 1
        out = f"{label} ({n})"
    return out


def _format_type(fmt: str) -> str:
    from workbench.judging.formats import FORMAT_JUDGES

    return FORMAT_JUDGES.get(fmt, "exact")
