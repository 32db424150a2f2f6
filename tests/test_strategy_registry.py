"""The one registry of strategies and selectors: parser, CLI help and pages read the same names."""

from workbench.cli import build_parser
from workbench.evaluate import BASES, STRATEGIES, parse_strategy_name
from workbench.evaluate.registry import help_text, kinds
from workbench.retrieval import SELECTOR_KINDS, SELECTORS


def test_every_base_parses_and_maps_to_a_known_selector():
    for kind in kinds(include_aliases=True):
        name = kind.base + ("4" if kind.takes_k else "5" if kind.samples else "")
        parsed = parse_strategy_name(name)
        assert parsed.base == kind.base
        assert parsed.k == (4 if kind.takes_k else 0)
        assert kind.selector in (None, "autocot", *SELECTOR_KINDS)
    assert BASES == {k: v.selector for k, v in STRATEGIES.items()}


def test_one_vocabulary_strategy_labels_are_the_selector_labels():
    assert STRATEGIES["diverse"].label == STRATEGIES["cluster"].label == SELECTOR_KINDS["cluster"].label == "diverse"
    assert STRATEGIES["knn"].label == SELECTOR_KINDS["knn"].label == "nearest"
    assert STRATEGIES["balanced"].label == SELECTOR_KINDS["label_balanced"].label == "balanced"
    assert [k.base for k in kinds()].count("cluster") == 0  # an alias is not listed twice


def test_selector_descriptions_come_from_the_registry():
    assert SELECTORS == {n: k.description for n, k in SELECTOR_KINDS.items()}


def test_the_cli_help_lists_every_base_from_the_registry():
    text = help_text()
    for kind in kinds():
        assert f"{kind.base}" in text and kind.description in text
    parser = build_parser()
    eval_parser = parser._subparsers._group_actions[0].choices["eval"]
    help_of = {a.dest: a.help for a in eval_parser._actions}
    assert "zero: zero-shot: the query alone" in help_of["strategies"]


def test_needs_index_follows_the_selector():
    assert not STRATEGIES["zero"].needs_index and not STRATEGIES["manualcot"].needs_index
    assert STRATEGIES["knn"].needs_index and STRATEGIES["autocot"].needs_index
