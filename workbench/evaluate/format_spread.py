"""Format sensitivity (Sclar et al. 2023, "Quantifying Language Models' Sensitivity to Spurious Features in Prompt
Design", FormatSpread): the same prompt in N plausible formats, evaluated on the same items.

A format is a point of a small grammar over a spec's field-named templates (``Input: {input}\\nLabel: {answer}``):
the separator between a field's name and its text (``": "``, ``":\\n"``, ``" - "``, ...), the casing of field
names, the names themselves from a short list of synonyms (Input/Question/Q/Text, Answer/Output/A/Label), the
spacing between fields and between examples, and the numbering of answer choices. :func:`format_specs` rewrites
one :class:`~workbench.prompts.spec.PromptSpec` into N of them (the first is the spec as written, the others drawn
with a seed), each a valid spec; :func:`format_spread` runs them as one strategy each in one stored run (the same
items and the same fixed demonstrations at every format) and reports the spread: the worst and best format, their
exact prompts, and a paired test between them. Picking the best and worst *after* seeing the results inflates
their difference (the paper reports the spread as it is, a range, and so do we: the p of that test is optimistic).

    >>> from workbench.prompts.spec import PromptSpec
    >>> spec = PromptSpec(demo_template="Input: {input}\\nLabel: {answer}", query_template="Input: {input}\\nLabel:")
    >>> s = rewrite(spec, Format(separator=" - ", casing="upper", answer_name="Answer", field_join=" "))
    >>> s.demo_template, s.query_template
    ('INPUT - {input} ANSWER - {answer}', 'INPUT - {input} ANSWER -')
    >>> Format(separator=" - ", casing="upper", answer_name="Answer", field_join=" ").describe()
    "sep ' - '; UPPER; answer 'Answer'; fields ' '"
"""

from __future__ import annotations

import dataclasses
import html
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.data import Pool
from workbench.errors import ConfigError, DataError, PromptError
from workbench.stats import PairedComparison, compare

if TYPE_CHECKING:
    from workbench.backends import Backend
    from workbench.evaluate.runner import EvalRun
    from workbench.evaluate.strategies import Strategy
    from workbench.prompts.spec import PromptSpec
    from workbench.store import Store

#: Separators between a field's name and its text (the paper's grammar: colon, dash, newline variants).
SEPARATORS = (": ", ":\n", " - ", " : ", ":: ", " = ")
#: Casings of field names ("as written" keeps the spec's).
CASINGS = ("as written", "upper", "lower", "title")
#: Names of the field that holds the question (plus the spec's own).
INPUT_NAMES = ("Input", "Question", "Q", "Text")
#: Names of the field that holds the answer (plus the spec's own).
ANSWER_NAMES = ("Answer", "Output", "A", "Label")
#: Spacing between the fields of one example.
FIELD_JOINS = ("\n", " ", "\n\n")
#: Spacing between examples (the spec's ``separator``).
EXAMPLE_JOINS = ("\n\n", "\n", "\n\n\n")
#: Numbering of answer choices (letter-keeping, so the gold letters still match); "(A)" is Kojima's layout.
CHOICE_STYLES = ("(A)", "A.", "A)", "[A]")
#: Formats evaluated when none is said (the paper samples 10 per task in its main figures).
DEFAULT_N = 10
#: The most formats one run may ask for.
MAX_N = 100
#: Draws tried before deciding the grammar has fewer distinct formats than asked.
_TRIES = 2000

#: A field's head at a line's start: its name, then its separator (colon forms or a spaced dash/equals).
_HEAD = re.compile(r"(?m)^([A-Za-z][A-Za-z ]{0,29}?)(:{1,2}[ \t]*\n?|[ \t]+[-=:]{1,2}[ \t]*)")
_QUESTION = re.compile(r"\{(input|question)\}")


@dataclass(frozen=True)
class Format:
    """One point of the grammar; None (or "as written") keeps what the spec wrote."""

    separator: str | None = None  # between a field's name and its text; one of SEPARATORS
    casing: str = "as written"  # of every field name; one of CASINGS
    input_name: str | None = None  # the question field's name; one of INPUT_NAMES
    answer_name: str | None = None  # the answer field's name; one of ANSWER_NAMES
    field_join: str | None = None  # between the fields of one example; one of FIELD_JOINS
    example_join: str | None = None  # between examples (the spec's separator); one of EXAMPLE_JOINS
    choices: str | None = None  # numbering of answer choices; one of CHOICE_STYLES

    def describe(self) -> str:
        """What this format changes, shortly (``as written`` when nothing)."""
        parts = []
        if self.separator is not None:
            parts.append(f"sep {self.separator!r}")
        if self.casing != "as written":
            parts.append({"upper": "UPPER", "lower": "lower", "title": "Title"}[self.casing])
        if self.input_name is not None:
            parts.append(f"input {self.input_name!r}")
        if self.answer_name is not None:
            parts.append(f"answer {self.answer_name!r}")
        if self.field_join is not None:
            parts.append(f"fields {self.field_join!r}")
        if self.example_join is not None:
            parts.append(f"examples {self.example_join!r}")
        if self.choices is not None:
            parts.append(f"choices {self.choices}")
        return "; ".join(parts) or "as written"


@dataclass(frozen=True)
class Field:
    """One ``Name: text`` field of a template."""

    name: str  # as written ("Input")
    sep: str  # as written (": ")
    body: str  # the text after the separator ("{input}"; "" for the query's open answer field)


def fields_of(template: str) -> tuple[tuple[Field, ...], tuple[str, ...]] | None:
    """A template's fields and the spacing between them; None when it does not start with a field name.

    >>> fs, joins = fields_of("Q: {input}\\nA:")
    >>> [(f.name, f.sep, f.body) for f in fs], joins
    ([('Q', ': ', '{input}'), ('A', ':', '')], ('\\n',))
    >>> fields_of("{input}\\n{answer}") is None
    True
    """
    heads = list(_HEAD.finditer(template))
    if not heads or heads[0].start() != 0:
        return None
    fields, joins = [], []
    for h, nxt in zip(heads, [*heads[1:], None], strict=True):
        chunk = template[h.end(): nxt.start() if nxt else len(template)]
        body = chunk.rstrip() if nxt else chunk
        if nxt:
            joins.append(chunk[len(body):])
        fields.append(Field(h[1], h[2], body))
    return tuple(fields), tuple(joins)


def _cased(name: str, casing: str) -> str:
    return {"upper": name.upper(), "lower": name.lower(), "title": name.title()}.get(casing, name)


def _role(f: Field, last: bool, query: bool) -> str | None:
    if _QUESTION.search(f.body):
        return "input"
    if "{answer}" in f.body or (query and last and not f.body.strip()):
        return "answer"
    return None


def _rewrite_template(template: str, fmt: Format, query: bool) -> str:
    parsed = fields_of(template)
    if parsed is None:
        return template
    fields, joins = parsed
    out = []
    for i, f in enumerate(fields):
        last = i == len(fields) - 1
        role = _role(f, last, query)
        name = {"input": fmt.input_name, "answer": fmt.answer_name}.get(role or "") or f.name
        sep = fmt.separator if fmt.separator is not None else f.sep
        if last and query and not f.body:
            sep = sep.rstrip(" \t")  # "Label:" -- the answer brings its own leading space
        out.append(_cased(name, fmt.casing) + sep + f.body)
        if not last:
            out.append(fmt.field_join if fmt.field_join is not None else joins[i])
    return "".join(out)


def _choice_jinja(template: str, style: str, letters: Sequence[str]) -> str:
    """A braces template in Jinja, its ``{choices}`` renumbered from "(A) x" to ``style`` ("A. x")."""
    def sub(m: re.Match[str]) -> str:
        if m[0] in ("{{", "}}"):
            return "{{ '" + m[0][0] + "' }}"
        if m[1] == "choices":
            swaps = "".join(f" | replace('({c}) ', '{style.replace('A', c)} ')" for c in letters)
            return "{{ choices" + swaps + " }}"
        return "{{ " + m[1] + " }}"
    return re.sub(r"\{\{|\}\}|\{(\w+)\}", sub, template)


def _check_spec(spec: PromptSpec) -> None:
    if spec.syntax != "braces" or spec.messages:
        raise ConfigError("Formats rewrite {input}-style templates with field names; this prompt is written in "
                          "Jinja or as chat messages -- give a prompt with templates like 'Input: {input}'.")
    if fields_of(spec.query_template) is None or fields_of(spec.demo_template) is None:
        raise ConfigError(f"The prompt's templates have no field names to vary ({spec.query_template!r} does not "
                          "start like 'Input: {input}'); only the spacing between examples could still vary -- "
                          "write the templates with field names, e.g. 'Input: {input}\\nLabel: {answer}'.")


def _letters(spec: PromptSpec) -> tuple[str, ...]:
    if "{choices}" in spec.query_template and spec.labels and all(len(c) == 1 and c.isalpha() for c in spec.labels):
        return spec.labels
    return ()


def rewrite(spec: PromptSpec, fmt: Format) -> PromptSpec:
    """``spec`` with its demonstration, CoT demonstration and query templates (and example spacing) in ``fmt``;
    validated as every spec is."""
    _check_spec(spec)
    changes: dict[str, Any] = {name: _rewrite_template(getattr(spec, name), fmt, name == "query_template")
                               for name in ("demo_template", "cot_demo_template", "query_template")}
    if fmt.example_join is not None:
        changes["separator"] = fmt.example_join
    letters = _letters(spec)
    if fmt.choices is not None and fmt.choices != "(A)" and letters:
        changes = {k: _choice_jinja(v, fmt.choices, letters) if k.endswith("template") else v
                   for k, v in changes.items()}
        changes["syntax"] = "jinja"
    try:
        return spec.replace(**changes)
    except PromptError as err:
        raise ConfigError(f"The format {fmt.describe()!r} does not make a valid prompt: {err}") from None


def _draw(rng: random.Random, spec: PromptSpec) -> Format:
    """One format, each dimension drawn uniformly (the spec's own value among the choices)."""
    def pick(options: Sequence[Any]) -> Any:
        return rng.choice([None, *options])
    return Format(separator=pick(SEPARATORS), casing=rng.choice(CASINGS), input_name=pick(INPUT_NAMES),
                  answer_name=pick(ANSWER_NAMES), field_join=pick(FIELD_JOINS), example_join=pick(EXAMPLE_JOINS),
                  choices=pick(CHOICE_STYLES[1:]) if _letters(spec) else None)


def _key(spec: PromptSpec) -> tuple[str, ...]:
    return spec.demo_template, spec.query_template, spec.separator


def _plain(spec: PromptSpec, fmt: Format) -> Format:
    """``fmt`` with every choice that changes nothing in this spec's prompt set back to "as written", so its
    name says only what changed (a drawn ": " where the spec already writes ": ")."""
    for f in dataclasses.fields(Format):
        default = f.default
        if getattr(fmt, f.name) != default:
            kept = dataclasses.replace(fmt, **{f.name: default})
            if _key(rewrite(spec, kept)) == _key(rewrite(spec, fmt)):
                fmt = kept
    return fmt


def format_specs(spec: PromptSpec, n: int = DEFAULT_N, seed: int = 0) -> list[tuple[Format, PromptSpec]]:
    """``n`` distinct formats of ``spec``: the spec as written first, then ``n - 1`` drawn with ``seed`` (each
    different in the prompt text it makes). A format that changes nothing the model sees is drawn again.

    >>> from workbench.prompts.spec import PromptSpec
    >>> spec = PromptSpec(demo_template="Input: {input}\\nLabel: {answer}", query_template="Input: {input}\\nLabel:")
    >>> [s.query_template for _, s in format_specs(spec, 3, seed=1)]
    ['Input: {input}\\nLabel:', 'Question: {input}\\n\\nLabel:', 'Input - {input}\\n\\nLabel -']
    """
    if not isinstance(n, int) or n < 2:
        raise ConfigError(f"A format spread needs at least 2 formats, not {n}; give --n 2 or more (default "
                          f"{DEFAULT_N}).")
    if n > MAX_N:
        raise ConfigError(f"--n {n} is more than {MAX_N} formats; give fewer.")
    _check_spec(spec)
    out = [(Format(), spec)]
    seen = {_key(spec)}
    rng = random.Random(seed)
    for _ in range(_TRIES):
        if len(out) == n:
            break
        fmt = _plain(spec, _draw(rng, spec))
        made = rewrite(spec, fmt)
        if _key(made) not in seen:
            seen.add(_key(made))
            out.append((fmt, made))
    if len(out) < n:
        raise ConfigError(f"The prompt has only {len(out)} distinct formats in the grammar, fewer than --n {n}; "
                          "give a smaller --n.")
    return out


def format_name(i: int, fmt: Format) -> str:
    """The strategy name of format ``i`` (``F0 as written``, ``F3 sep ' - '; UPPER``)."""
    return f"F{i} {fmt.describe()}"


def demo_indices(pool: Pool, k: int, seed: int) -> list[int]:
    """Pool positions of the ``k`` fixed random demonstrations (one spare, for an item that is itself one of
    them), the same at every format.

    >>> demo_indices(Pool("p", ()), 0, 0)
    []
    """
    if k < 0:
        raise ConfigError(f"--k must be 0 or more, not {k}.")
    if k and k >= len(pool) + 1:
        raise DataError(f"--k {k} needs {k} demonstrations and the pool {pool.name!r} has {len(pool)}; "
                        "give a smaller --k or a larger --pool.")
    return random.Random(seed).sample(range(len(pool)), min(k + 1, len(pool))) if k else []


def format_strategies(formats: Sequence[tuple[Format, PromptSpec]], pool: Pool, *, k: int = 0,
                      answer: str = "score", seed: int = 0, label_words: Mapping[str, str] | None = None
                      ) -> list[Strategy]:
    """One strategy per format: the same fixed demonstrations, decoding and answer mode; only the format differs.
    Label scoring scores each label after the prompt (``" " + label``, or the label alone when the format's
    query ends in a line break)."""
    from workbench.evaluate.strategies import make_strategy

    picked = tuple(pool[i] for i in demo_indices(pool, k, seed))
    out = []
    for i, (fmt, spec) in enumerate(formats):
        words = label_words
        if answer == "score" and label_words is None and spec.query_template.endswith("\n"):
            words = {lab: lab for lab in spec.labels}
        base = make_strategy("random1", spec, pool, answer=answer, seed=seed, label_words=words)
        out.append(dataclasses.replace(base, name=format_name(i, fmt), k=k, selector="fixed" if k else None,
                                       demos=picked, order="as_selected"))
    return out


@dataclass(frozen=True)
class FormatScore:
    """Accuracy of one format, with its 95% Wilson interval."""

    name: str  # the strategy name (``F2 sep ' - '; UPPER``)
    n: int  # items answered
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: Said wherever the best and worst formats are compared.
HINDSIGHT = ("best and worst are picked after seeing the results, which inflates their difference and makes "
             "the p optimistic (Sclar et al. report the spread as a range, not a test of two formats chosen in "
             "advance)")


@dataclass(frozen=True)
class Spread:
    """The formats' accuracies, the worst and best with their exact prompts, and a paired test between them."""

    scores: tuple[FormatScore, ...]  # in format order (F0 the spec as written)
    best: str  # the most accurate format's name (the first of a tie)
    worst: str  # the least accurate (the first of a tie)
    best_prompt: str  # the exact text sent for the first item in the best format
    worst_prompt: str  # the same item in the worst format
    comparison: PairedComparison  # best − worst on the items both answered (McNemar exact)
    run_id: int | None = None  # the stored run (None: made from records alone)
    status: str = "finished"  # the run's status

    @property
    def spread(self) -> float:
        """Max − min accuracy, the paper's measure."""
        return self.comparison.accuracy_a - self.comparison.accuracy_b

    def line(self) -> str:
        """The spread in one line, with the hindsight caveat."""
        c = self.comparison
        return (f"spread {100 * self.spread:.1f} points over {len(self.scores)} formats ({c.accuracy_b:.1%} to "
                f"{c.accuracy_a:.1%}); best − worst McNemar p = {c.p_value:.3g} on {c.n} items -- {HINDSIGHT}")

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "scores": [s.to_dict() for s in self.scores],
                "best": self.best, "worst": self.worst, "spread": self.spread, "best_prompt": self.best_prompt,
                "worst_prompt": self.worst_prompt, "comparison": self.comparison.to_dict(), "line": self.line()}


def spread_from_records(records: Sequence[Mapping[str, Any]], names: Sequence[str], run_id: int | None = None,
                        status: str = "finished") -> Spread:
    """The spread of a run's records over the formats ``names`` (in format order).

    >>> rows = [{"strategy": s, "item_index": i, "correct": ok, "prompt": f"{s}/{i}"} for s, oks in
    ...         (("F0", (1, 0, 1, 0)), ("F1", (1, 1, 1, 0)), ("F2", (0, 0, 0, 0))) for i, ok in enumerate(oks)]
    >>> s = spread_from_records(rows, ["F0", "F1", "F2"])
    >>> s.best, s.worst, s.spread, s.best_prompt, s.comparison.only_a, s.comparison.p_value
    ('F1', 'F2', 0.75, 'F1/0', 3, 0.25)
    """
    from workbench.evaluate.metrics import summarize

    mine = [r for r in records if r.get("strategy") in names]
    summaries = {s.strategy: s for s in summarize(mine)}
    scores = tuple(FormatScore(n, s.n, s.correct, s.accuracy, s.ci_low, s.ci_high)
                   for n in names if (s := summaries.get(n)) is not None)
    if len(scores) < 2:
        raise DataError(f"The run answered {len(scores)} format(s); a spread needs two or more.")
    best = max(scores, key=lambda s: s.accuracy)  # the first of a tie
    worst = min(scores, key=lambda s: (s.accuracy, s.name == best.name))  # the first of a tie other than best
    outcome = {s.name: {r["item_index"]: bool(r.get("correct")) for r in mine if r["strategy"] == s.name}
               for s in (best, worst)}
    shared = sorted(set(outcome[best.name]) & set(outcome[worst.name]))
    comparison = compare([outcome[best.name][i] for i in shared], [outcome[worst.name][i] for i in shared],
                         best.name, worst.name)

    def first_prompt(name: str) -> str:
        rows = sorted((r for r in mine if r["strategy"] == name), key=lambda r: r["item_index"])
        return str(rows[0].get("prompt") or "") if rows else ""

    return Spread(scores, best.name, worst.name, first_prompt(best.name), first_prompt(worst.name), comparison,
                  run_id, status)


def format_spread(dataset: Pool, pool: Pool | None, backend: Backend, store: Store, *, spec: PromptSpec | None = None,
                  n: int = DEFAULT_N, seed: int = 0, k: int = 0, answer: str | None = None, limit: int | None = None,
                  label_words: Mapping[str, str] | None = None, progress: Callable[[Any], None] | None = None,
                  **options: Any) -> tuple[Spread, EvalRun]:
    """Evaluate ``n`` formats of ``spec`` (default: the dataset's own) in one stored run, and their spread.

    ``answer`` default: label scoring when the spec has labels (cheap: one scoring pass per item), else
    generation. ``options`` go to :func:`~workbench.evaluate.runner.evaluate`."""
    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.runner import evaluate

    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, not {limit}.")
    if len(dataset) == 0:
        raise DataError("The dataset is empty.")
    pool = dataset if pool is None else pool
    spec = spec or default_spec(dataset, pool)
    if answer is None:
        answer = "score" if spec.labels else "generate"
    if answer == "score" and not spec.labels:
        raise ConfigError("Label scoring needs a prompt with labels; this one has none -- use --answer generate.")
    formats = format_specs(spec, n, seed)
    strategies = format_strategies(formats, pool, k=k, answer=answer, seed=seed, label_words=label_words)
    run = evaluate(dataset, pool, strategies, backend, store, limit=limit, progress=progress, **options)
    return spread_from_records(run.records, [s.name for s in strategies], run.run_id, run.status), run


# --------------------------------------------------------------------------- shown


def format_table(spread: Spread) -> str:
    """The spread as plain text: one line per format, then the best and worst prompts and the spread line."""
    rows = [("format", "n", "accuracy", "95% CI")]
    rows += [(s.name, str(s.n), f"{s.accuracy:.1%}", f"{s.ci_low:.1%}–{s.ci_high:.1%}") for s in spread.scores]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += ["", f"best  {spread.best}: the first item's prompt", _indent(spread.best_prompt),
              f"worst {spread.worst}: the first item's prompt", _indent(spread.worst_prompt), "",
              spread.comparison.line(), spread.line()]
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  | " + line for line in text.split("\n"))


def to_html(spread: Spread) -> str:
    """The spread as an HTML section (the table, the two prompts, the test and its caveat); escaped."""
    e = html.escape
    rows = "".join(f"<tr><td>{e(s.name)}</td><td class=\"num\">{s.n}</td><td class=\"num\">{s.accuracy:.1%}</td>"
                   f"<td class=\"num\">{s.ci_low:.1%}–{s.ci_high:.1%}</td></tr>" for s in spread.scores)
    return "\n".join([
        '<h2 id="formats">Format spread (Sclar et al. 2023)</h2>',
        "<p>The same prompt in several formats, on the same items and demonstrations; 95% Wilson intervals.</p>",
        '<table class="formats"><thead><tr><th>format</th><th>n</th><th>accuracy</th><th>95% CI</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>",
        f"<p>Best: {e(spread.best)}</p><pre>{e(spread.best_prompt)}</pre>",
        f"<p>Worst: {e(spread.worst)}</p><pre>{e(spread.worst_prompt)}</pre>",
        f"<p>{e(spread.comparison.line())}</p>", f"<p><b>{e(spread.line())}</b></p>"])


def with_spread(page: str, spread: Spread) -> str:
    """A run's HTML report with the spread's section before its accuracy section (else at the body's end)."""
    section, mark = to_html(spread), '<h2 id="accuracy">'
    if mark in page:
        return page.replace(mark, section + "\n" + mark, 1)
    return page.replace("</body>", section + "\n</body>", 1)
