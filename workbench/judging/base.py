"""The judging concept: a :class:`JudgeKind` is a registered way to judge an output (``contains``, ``regex``,
``llm-rubric``, the number format's comparison, ...); a :class:`Check` is one kind built with its value,
threshold, weight and metric, validated before any model call; a :class:`Case` is what a check sees of one item.

A kind implements two primitives: :meth:`JudgeKind.prepare` (validate and compile the value and threshold,
raising one :class:`~workbench.errors.ConfigError` line) and :meth:`JudgeKind.evaluate` (the verdict on one case
as a :class:`Finding`). Negation, weights, errors and the record of the verdict are :meth:`Check.run`'s, once for
every kind.

    >>> from workbench.judging.registry import build_check
    >>> from workbench.data import Example
    >>> check = build_check({"type": "not-icontains", "value": "paris"})
    >>> check.run(Case(output="It is Rome.", item=Example(id="1", input="Capital?", answer="Rome"))).passed
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.data import Example
from workbench.errors import ConfigError, WorkbenchError
from workbench.evaluate.records import CheckVerdict

if TYPE_CHECKING:
    from workbench.judging.tools import JudgeTools

#: The longest output a check reads (characters); the rest is cut before any check runs (a run-away output
#: cannot make a check slow or big). 200,000 characters is far past any context window's worth of text.
MAX_CHECKED_CHARS = 200_000


@dataclass(frozen=True)
class Case:
    """One item's output, as a check sees it."""

    output: str  # the model's final text (for label scoring: the label it chose)
    item: Example  # the dataset row: gold answer, choices, its own assertions
    extracted: str | None = None  # the answer the format's extraction rule read (None: none found)
    fmt: str = "free"  # the strategy's answer format (an AnswerFormat value)
    labels: tuple[str, ...] = ()  # the label set (labels) or the choice letters (choice)
    prompt: str = ""  # the exact prompt the model was given
    seconds: float | None = None  # the item's wall time (``latency``)
    style: str = "lenient"  # the extraction style whose comparison a format check uses (workbench.answers)


@dataclass(frozen=True)
class Finding:
    """A kind's verdict before negation and weighting."""

    passed: bool  # the check holds
    score: float  # in [0, 1]
    reason: str  # one line
    reply: str | None = None  # a model-graded check: the judge's full reply


class CheckError(WorkbenchError):
    """A check could not judge this output (a judge reply it cannot read, a check over its time or size bound):
    the item's verdict records it as an error and the run goes on."""

    def __init__(self, message: str, reply: str | None = None):
        super().__init__(message)
        self.reply = reply  # the judge's reply it could not read (kept with the error verdict)


@dataclass(frozen=True)
class JudgeKind:
    """One way of judging an output, registered by name (see :mod:`workbench.judging.registry`)."""

    name: str  # the type users write (promptfoo's name where promptfoo has one)
    description: str  # one line for help, docs and the page's picker
    value: str = "required"  # "required", "optional" or "none": whether the check takes a ``value``
    threshold_range: tuple[float, float] | None = None  # allowed thresholds (None: the kind takes no threshold)
    default_threshold: float | None = None  # the threshold when none is given (promptfoo's default)
    graded: bool = False  # it asks a judge model (its calls go through the response cache)
    negatable: bool = True  # "not-" + name is a check too
    reads_gold: bool = False  # with no value, it compares with the item's gold answer
    written: bool = True  # users write it in ``assert:`` lists; False: a file reader builds it (an lm-eval task's
    # exact_match), so the pickers, ``--help`` and the schema do not offer it, while stored runs still rebuild it

    def prepare(self, value: Any, threshold: float | None, options: Mapping[str, Any]) -> Any:
        """The validated, compiled parameters this kind evaluates with (default: the value as given).
        Raise :class:`~workbench.errors.ConfigError` with one line for a bad value."""
        return value

    def evaluate(self, params: Any, case: Case, threshold: float | None, tools: JudgeTools | None) -> Finding:
        """The verdict on one case (raise :class:`CheckError` for one it cannot judge)."""
        raise NotImplementedError

    def shown(self, value: Any) -> str | None:
        """The value as one line of text for tables (None: no value)."""
        if value is None:
            return None
        text = value if isinstance(value, str) else repr(value)
        return text if len(text) <= 200 else text[:199] + "…"


@dataclass(frozen=True)
class Check:
    """One validated check: a kind, its value and parameters, negation, threshold, weight and metric."""

    kind: JudgeKind
    value: Any = None  # as written (text, a list of texts, a JSON Schema, a rubric)
    negate: bool = False  # "not-" before the type: the verdict is inverted
    threshold: float | None = None  # the kind's threshold (None: its default, or none)
    weight: float = 1.0  # its share of the weighted score (0: shown, but not part of the score)
    metric: str | None = None  # a named score column
    options: Mapping[str, Any] = field(default_factory=dict, compare=False)  # kind options (judge prompt, provider)
    params: Any = field(default=None, compare=False, repr=False)  # the kind's prepared value (a compiled regex)

    @property
    def type(self) -> str:
        """The type as written: "not-contains" for a negated ``contains``."""
        return ("not-" if self.negate else "") + self.kind.name

    def to_dict(self) -> dict[str, Any]:
        """The check as promptfoo writes it (what :func:`~workbench.judging.registry.build_check` reads back)."""
        out: dict[str, Any] = {"type": self.type}
        if self.value is not None:
            out["value"] = self.value
        for name in ("threshold", "metric"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.weight != 1.0:
            out["weight"] = self.weight
        out.update(self.options)
        return out

    def run(self, case: Case, tools: JudgeTools | None = None) -> CheckVerdict:
        """This check's verdict on ``case``; a check that cannot judge it is a failed verdict with its error."""
        if len(case.output) > MAX_CHECKED_CHARS:
            from dataclasses import replace

            case = replace(case, output=case.output[:MAX_CHECKED_CHARS])
        threshold = self.threshold if self.threshold is not None else self.kind.default_threshold
        shown = self.kind.shown(self.value)
        try:
            found = self.kind.evaluate(self.params, case, threshold, tools)
        except (CheckError, ConfigError) as err:
            return CheckVerdict(self.type, False, 0.0, "could not judge", self.weight, self.metric,
                                error=str(err).splitlines()[0] if str(err) else type(err).__name__, value=shown,
                                reply=getattr(err, "reply", None))
        except Exception as err:  # a bug or a case no kind foresaw: this item's error; no check aborts a run
            said = str(err).splitlines()[0][:200] if str(err) else ""
            return CheckVerdict(self.type, False, 0.0, "could not judge", self.weight, self.metric,
                                error=f"the check failed: {type(err).__name__}{': ' + said if said else ''}",
                                value=shown)
        passed, score, reason = found.passed, min(1.0, max(0.0, float(found.score))), found.reason
        if self.negate:
            passed, score, reason = not passed, 1.0 - score, f"not: {reason}"
        return CheckVerdict(self.type, passed, round(score, 6), reason, self.weight, self.metric,
                            reply=found.reply, value=shown)
