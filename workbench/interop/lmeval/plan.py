"""An lm-evaluation-harness task as a :class:`~workbench.interop.plan.Plan`: its documents as items, its
metrics as strategies, run by the workbench's runner.

Each document becomes an :class:`~workbench.data.Example` whose ``vars`` are its fields plus
``lm_eval_prefix`` (the description and its few-shot examples, drawn as lm-eval draws them, see
:mod:`workbench.interop.lmeval.context`); the prompt is a ``syntax="jinja"`` :class:`PromptSpec` whose query
template is ``{{ lm_eval_prefix }}`` then ``doc_to_text``, so the text sent is lm-eval's context.

* ``multiple_choice``: the document's own choices (``Example.choices``, keys "0", "1", ...; the gold index in
  ``answer``), scored by the ``choices`` answer mode after the prompt and the target delimiter; one strategy
  per metric: ``TASK/acc`` (summed log-likelihoods) and ``TASK/acc_norm`` (per character of the choice), the
  second answered from the response cache.
* ``generate_until``: greedy text until the ``until`` strings (``max_gen_toks`` tokens at most), then each
  filter pipeline and exact_match decide ``correct``: one strategy per filter, ``TASK/exact_match,FILTER``
  (``TASK/exact_match`` with no filter_list), again one generation for all of them through the cache.
"""

from __future__ import annotations

import time
from pathlib import Path

from workbench.data import Example, Pool
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError
from workbench.evaluate.strategies import Strategy
from workbench.interop.lmeval.config import TaskFile, load_task
from workbench.interop.lmeval.context import DocFormat, first_fewshot, sample_fewshot
from workbench.interop.lmeval.documents import load_splits, splits
from workbench.interop.lmeval.scoring import TAKE_FIRST, matching_check
from workbench.interop.plan import Plan
from workbench.prompts.spec import PromptSpec

#: The variable that carries a document's description and few-shot examples into the query template.
PREFIX_VAR = "lm_eval_prefix"
#: The variable that carries ``doc_to_text``'s value when it names a field that is no Jinja identifier.
TEXT_VAR = "lm_eval_text"
#: How each multiple_choice metric compares the choices' log-likelihoods (a Strategy.SCORE_NORMS value).
NORMS = {"acc": "sum", "acc_norm": "char"}
#: The most seconds of template work (doc_to_text, choices, targets, the description and few-shot examples of
#: every document a run uses) before a run starts; past it, one line asks for --limit.
RENDER_BUDGET_S = 30.0


def query_template(task: TaskFile, features: frozenset[str]) -> str:
    """The prefix variable, then ``doc_to_text`` as a template (a field: its variable)."""
    text = task.doc_to_text
    assert isinstance(text, str)
    if text not in features:
        return "{{ " + PREFIX_VAR + " }}" + text
    return "{{ " + PREFIX_VAR + " }}{{ " + (text if text.isidentifier() else TEXT_VAR) + " }}"


def _example(fmt: DocFormat, index: int, doc: dict, prefix: str) -> tuple[Example, bool]:
    """The document as an item, and whether its gold answer is one of its choices (multiple_choice)."""
    task = fmt.task
    if PREFIX_VAR in doc or TEXT_VAR in doc:
        raise ConfigError(f"{task.task}: a document has a field named {PREFIX_VAR} or {TEXT_VAR}, which the "
                          "workbench uses itself; rename it.")
    text, choices, target = fmt.text(doc), fmt.choices(doc), fmt.target(doc)
    values = {**doc, PREFIX_VAR: prefix}
    if task.doc_to_text in fmt.features and not str(task.doc_to_text).isidentifier():
        values[TEXT_VAR] = text
    found = True
    if task.output_type == "multiple_choice":
        assert choices is not None
        gold = target if isinstance(target, int) else choices.index(target) if target in choices else -100
        found = 0 <= gold < len(choices)
        return Example(id=str(index), input=text, answer=str(gold if found else -100),
                       choices={str(i): c for i, c in enumerate(choices)}, vars=values), found
    if choices is not None:
        if not isinstance(target, int) or not 0 <= target < len(choices):
            raise ConfigError(f"{task.task}: doc_to_target gives {target!r}, which is no index of the document's "
                              f"{len(choices)} choices.")
        gold_text = choices[target]
    else:
        gold_text = str(target)
    return Example(id=str(index), input=text, answer=gold_text, vars=values), found


def _strategies(task: TaskFile, spec: PromptSpec) -> list[Strategy]:
    if task.output_type == "multiple_choice":
        return [Strategy(name=f"{task.task}/{m.metric}", spec=spec, answer="choices", score_norm=NORMS[m.metric])
                for m in task.metrics]
    gen = task.generation_kwargs
    decoding = DecodingConfig(max_new_tokens=gen.max_gen_toks if gen else 256,
                              do_sample=bool(gen and gen.do_sample),
                              **({"temperature": gen.temperature} if gen and gen.do_sample else {}))
    filters = task.filter_list or [TAKE_FIRST]
    out = []
    for spec_filter in filters:
        for metric in task.metrics:
            name = f"{task.task}/exact_match" if task.filter_list is None else \
                f"{task.task}/exact_match,{spec_filter.name}"
            out.append(Strategy(name=name, spec=spec, decoding=decoding, checks=(matching_check(spec_filter, metric),)))
    return out


def _until(task: TaskFile) -> tuple[str, ...]:
    """The stop strings: ``until`` (lm-eval's TaskConfig: the fewshot_delimiter when none is given)."""
    until = task.generation_kwargs.until if task.generation_kwargs is not None else None
    if until is None:
        until = [task.fewshot_delimiter]
    return tuple(u for u in ([until] if isinstance(until, str) else until) if u)


def build_plan(task: TaskFile, folder: Path, source: str, notes: list[str], limit: int | None = None) -> Plan:
    """The plan of a validated task whose files are in ``folder``, on its first ``limit`` documents (None: all;
    their few-shot examples are the ones lm-eval draws for them on the whole split)."""
    evaluated, fewshot = splits(task)
    given = task.fewshot_config.samples if task.fewshot_config is not None else None
    if given is not None and task.fewshot_split is None:  # lm-eval: a fewshot_split wins over given samples
        fewshot = None
    wanted = list(dict.fromkeys(s for s in (evaluated, fewshot) if s is not None))
    rows = load_splits(task, folder, wanted)
    docs = rows[evaluated]
    if not docs:
        raise ConfigError(f"{source}: split {evaluated!r} has no documents.")
    features = frozenset(k for d in docs for k in d)
    fmt = DocFormat(task, features)
    pool = rows[fewshot] if fewshot else given if given is not None else []
    sampler = first_fewshot if task.fewshot_config is not None and task.fewshot_config.sampler == "first_n" else \
        sample_fewshot
    shots = sampler(pool, docs, task.num_fewshot, exclude=task.fewshot_split == task.test_split)
    # every document's draw (random only, as lm-eval's sampler draws in document order), then the templates of
    # the documents the run uses: the first ``limit``, within RENDER_BUDGET_S of template work in all
    used = docs if limit is None else docs[:limit]
    start, built = time.monotonic(), []
    for i, (doc, shot) in enumerate(zip(used, shots, strict=False)):
        if time.monotonic() - start > RENDER_BUDGET_S:
            raise ConfigError(f"{source}: rendering the prompts took over {RENDER_BUDGET_S:g} s by document {i + 1} "
                              f"of {len(used)}; run fewer documents (--limit).")
        built.append(_example(fmt, i, doc, fmt.prefix(doc, shot)))
    missing = sum(not found for _, found in built)
    if missing:
        notes = [*notes, f"{source}: {missing} of {len(built)} documents have a gold answer that is not among their "
                         "choices; they count as wrong, as in lm-eval."]
    multiple = task.output_type == "multiple_choice"
    spec = PromptSpec(query_template=query_template(task, features), syntax="jinja",
                      answer_prefix=task.target_delimiter if multiple else "",
                      stop=() if multiple else _until(task))
    return Plan(source=source, dataset=Pool(task.task, tuple(ex for ex, _ in built)),
                strategies=tuple(_strategies(task, spec)), notes=tuple(notes))


def load_plan(path: str | Path, limit: int | None = None) -> Plan:
    """The :class:`Plan` of the lm-eval task YAML at ``path`` (what ``workbench eval --task`` runs) on its first
    ``limit`` documents (None: all): only those are rendered."""
    task, notes, folder = load_task(path)
    return build_plan(task, folder, Path(path).name, notes, limit)
