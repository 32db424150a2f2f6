"""A ``promptfooconfig.yaml`` -> a :class:`~workbench.interop.plan.Plan`: its prompts x its providers (named
``PROMPT @ PROVIDER``, each with the provider's model and decoding, ``defaultTest``'s assertions and threshold and
``evaluateOptions.repeat``) on its tests. The file is read bounded (:func:`workbench.safeload.load_document`,
1 MB), every ``file://`` inside its folder; anything promptfoo has that the workbench does not run is one line
naming it, and the keys that change nothing here are noted once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from workbench.data import Pool
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, DataError
from workbench.evaluate.strategies import Strategy
from workbench.interop.paths import is_file_ref, read_inside
from workbench.interop.plan import Plan
from workbench.interop.promptfoo.cases import read_cases
from workbench.interop.promptfoo.prompts import allowed, read_prompts
from workbench.interop.promptfoo.providers import DEFAULT_BUDGET, read_providers
from workbench.interop.promptfoo.schema import EVALUATE_NOTED, EvaluateOptions, TestCase, check_top_keys, validated
from workbench.judging.registry import build_checks
from workbench.judging.verdicts import check_threshold
from workbench.safeload import MAX_DOCUMENT_BYTES, load_document, read_text

#: Decoding of a config without providers (its prompts run on --model): greedy, the embedded models' budget.
NO_PROVIDER = DecodingConfig(max_new_tokens=DEFAULT_BUDGET["workbench"])
#: The config formats read (promptfoo reads YAML and JSON configs).
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")
#: The most values a config (or its tests file) may have with its YAML aliases expanded: real configs share
#: assertions with ``&name`` / ``*name``; a "billion laughs" is refused from its anchors' sizes.
MAX_ALIAS_NODES = 100_000


def _document(path: Path) -> Any:
    """The parsed config file, bounded: a file over 1 MB, not UTF-8, or malformed is one line."""
    if path.suffix.lower() not in CONFIG_SUFFIXES:
        raise ConfigError(f"{path.name}: a promptfoo config is a YAML or JSON file ({', '.join(CONFIG_SUFFIXES)}).")
    text = read_text(path, missing=f"promptfoo config {path} does not exist", max_bytes=MAX_DOCUMENT_BYTES)
    data = load_document(text, path.name, fmt="json" if path.suffix.lower() == ".json" else "yaml",
                         what="promptfoo configs", max_alias_nodes=MAX_ALIAS_NODES)
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: a promptfoo config is a mapping (prompts, providers, tests, ...).")
    return data


def _default_test(value: Any, folder: Path, source: str) -> TestCase | None:
    """``defaultTest``: inline, or a ``file://`` YAML/JSON test case."""
    if value is None:
        return None
    if is_file_ref(value):
        suffix = Path(value).suffix.lower()
        if suffix not in CONFIG_SUFFIXES:
            raise ConfigError(f"{source}: defaultTest {value} must be a YAML or JSON file.")
        text = read_inside(value.strip(), folder, "defaultTest", max_bytes=MAX_DOCUMENT_BYTES)
        value = load_document(text, value, fmt="json" if suffix == ".json" else "yaml", what="test files")
    return TestCase.read(value, f"{source}: defaultTest")


def _repeat(value: Any, source: str) -> tuple[int, tuple[str, ...]]:
    """``evaluateOptions``: (repeat, notes)."""
    if value is None:
        return 1, ()
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: evaluateOptions must be a mapping.")
    unknown = sorted(set(map(str, value)) - set(EvaluateOptions.model_fields))
    if unknown:
        raise ConfigError(f"{source}: evaluateOptions.{unknown[0]} is not supported by the workbench; remove it "
                          f"(supported: {', '.join(EvaluateOptions.model_fields)}).")
    options = validated(EvaluateOptions, value, f"{source}: evaluateOptions")
    notes = tuple(f"{source}: evaluateOptions.{k} is not used here ({why}); ignored." for k, why in
                  EVALUATE_NOTED.items() if getattr(options, k) is not None)
    repeat = 1 if options.repeat is None else options.repeat
    if repeat < 1:
        raise ConfigError(f"{source}: evaluateOptions.repeat must be 1 or more, not {repeat}.")
    return repeat, notes


def _has_placeholder(check: Any) -> bool:
    value = check.get("value") if isinstance(check, dict) else check
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, str) and "{{" in v for v in values)


def load_plan(path: str | os.PathLike) -> Plan:
    """The :class:`Plan` of a promptfoo config file, or one ConfigError/DataError line."""
    path = Path(path)
    source = path.name
    folder = path.parent
    try:
        config = _document(path)
        notes = check_top_keys(config, source)
        prompts = read_prompts(config.get("prompts"), folder)
        providers = read_providers(config["providers"], folder) if config.get("providers") is not None else ()
        default = _default_test(config.get("defaultTest"), folder, source)
        repeat, more = _repeat(config.get("evaluateOptions"), source)
        default_asserts = list(default.assert_ or []) if default else []
        per_item = any(_has_placeholder(c) for c in default_asserts)  # {{ var }}: filled per test
        checks = () if per_item else build_checks(default_asserts, f"{source}: defaultTest")
        threshold = check_threshold(default.threshold if default else None, f"{source}: defaultTest")
        items = read_cases(config.get("tests"), default, folder, default_asserts if per_item else ())
    except DataError as err:
        raise ConfigError(str(err)) from None
    notes = (*notes, *(f"{source}: provider {p.label}: prompts is not used, as promptfoo keys a {{ID: {{label, "
                       "prompts}} entry's prompts by its id and looks them up by its label: every prompt runs on it "
                       "(write {id, label, prompts} to limit it)" for p in providers if p.ignored),
             *(f"{source}: {note}" for p in providers for note in p.notes))
    for provider in providers:
        unknown = [n for n in provider.prompts or () if not any(allowed(p, (n,)) for p in prompts)]
        if unknown or provider.prompts == ():
            what = f"lists prompt {unknown[0][:60]!r}, which no prompt is" if unknown else "lists no prompt"
            raise ConfigError(f"{source}: provider {provider.label} {what}; its prompts name prompt labels "
                              f"({', '.join(repr(p.key[:40]) for p in prompts)}).")
    strategies = []
    for prompt in prompts:
        for provider in providers or (None,):
            if provider is not None and not allowed(prompt, provider.prompts):
                continue
            strategies.append(Strategy(
                name=prompt.label if provider is None else f"{prompt.label} @ {provider.label}",
                spec=prompt.spec if provider is None or provider.chat is None else
                prompt.spec.replace(as_chat=provider.chat),  # the endpoint decides, as in promptfoo
                decoding=provider.decoding if provider is not None else NO_PROVIDER,
                checks=checks, threshold=threshold, repeat=repeat,
                model=None if provider is None else provider.ref))
    description = config.get("description")
    name = description.strip() if isinstance(description, str) and description.strip() else source
    return Plan(source=source, dataset=Pool(name=name, examples=tuple(items)), strategies=tuple(strategies),
                models=tuple(dict.fromkeys(p.ref for p in providers)), notes=(*notes, *more))
