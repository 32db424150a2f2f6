"""The one registry of strategies, selectors and orders: parser, CLI help and pages read the same names.

The expected names below are written by hand on purpose: a strategy, selector or order registered (or dropped)
without the CLI help, the Evaluate page and these lists following fails here."""

import re

import pytest

from tests.conftest import ROOT
from workbench.cli import build_parser, main
from workbench.evaluate.registry import STRATEGIES, help_text, kinds
from workbench.evaluate.strategies import BASES, parse_strategy_name
from workbench.retrieval.orders import ORDERS
from workbench.retrieval.selectors.registry import SELECTOR_KINDS, SELECTOR_REGISTRY, SELECTORS, needs_index

#: Strategy bases as the CLI help and the Evaluate page list them, with the number each takes (K demos, N samples).
EXPECTED_BASES = {"zero": "", "random": "K", "knn": "K", "diverse": "K", "bm25": "K", "mmr": "K", "balanced": "K",
                  "zscot": "", "manualcot": "K", "autocot": "K", "sc": "N"}
#: Second names the parser accepts but pickers do not list.
EXPECTED_ALIASES = {"cluster": "diverse"}
#: The selector of every base (aliases included).
EXPECTED_SELECTOR_OF = {"zero": None, "random": "random", "knn": "knn", "diverse": "cluster", "cluster": "cluster",
                        "bm25": "bm25", "mmr": "mmr", "balanced": "label_balanced", "zscot": None,
                        "manualcot": "fixed", "autocot": "autocot", "sc": None}
#: Every selector with the word the pages show for it, in picker order.
EXPECTED_SELECTORS = {"random": "random", "knn": "nearest", "bm25": "BM25", "mmr": "MMR", "cluster": "diverse",
                      "label_balanced": "balanced", "fixed": "hand-picked", "autocot": "Auto-CoT"}
#: The selectors the Demonstrations page and prompt-set files pick (Auto-CoT's are built before a run).
EXPECTED_PICKABLE = ["random", "knn", "bm25", "mmr", "cluster", "label_balanced", "fixed"]
#: Selectors whose demonstrations need the pool embedded and indexed (hand-picked ones travel with the strategy).
EXPECTED_NEEDING_INDEX = {"random", "knn", "bm25", "mmr", "cluster", "label_balanced", "autocot"}
#: The Evaluate page's strategy options.
EXPECTED_PAGE_OPTIONS = ["zero-shot (zero)", "random", "nearest (knn)", "diverse", "BM25 (bm25)", "MMR (mmr)",
                         "balanced", "Zero-shot-CoT (zscot)", "Manual-CoT (manualcot)", "Auto-CoT (autocot)",
                         "self-consistency (sc)"]
EXPECTED_ORDERS = ["similar_last", "similar_first", "random", "as_selected", "label_interleaved", "global-entropy",
                  "local-entropy"]


def test_the_registries_hold_the_expected_names_in_order():
    assert [k.base for k in kinds()] == list(EXPECTED_BASES)
    assert {k.base: k.alias_of for k in kinds(include_aliases=True) if k.alias_of} == EXPECTED_ALIASES
    assert set(STRATEGIES) == set(EXPECTED_BASES) | set(EXPECTED_ALIASES)
    assert list(SELECTOR_REGISTRY) == list(EXPECTED_SELECTORS)
    assert list(SELECTOR_KINDS) == list(SELECTORS) == EXPECTED_PICKABLE
    assert list(ORDERS) == EXPECTED_ORDERS


def test_every_base_parses_and_maps_to_a_known_selector():
    for kind in kinds(include_aliases=True):
        name = kind.base + ("4" if kind.takes_k else "5" if kind.samples else "")
        parsed = parse_strategy_name(name)
        assert parsed.base == kind.base
        assert parsed.k == (4 if kind.takes_k else 0)
        assert kind.selector in (None, *SELECTOR_REGISTRY)
    assert BASES == EXPECTED_SELECTOR_OF


def test_one_vocabulary_the_words_pages_show():
    assert {name: kind.label for name, kind in SELECTOR_REGISTRY.items()} == EXPECTED_SELECTORS
    for base in ("random", "knn", "diverse", "cluster", "bm25", "mmr", "balanced"):  # a selector's word, no other
        assert STRATEGIES[base].label == EXPECTED_SELECTORS[EXPECTED_SELECTOR_OF[base]]
    assert [k.base for k in kinds()].count("cluster") == 0  # an alias is not listed twice


def test_the_eval_help_names_every_strategy(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = " ".join(re.sub(r"-\n\s+", "-", capsys.readouterr().out).split())  # argparse wraps lines (at hyphens too)
    listed = text.split("comma-separated names: ", 1)[1].split("; modifiers", 1)[0]
    assert [entry.split(":", 1)[0] for entry in listed.split("; ")] == [b + n for b, n in EXPECTED_BASES.items()]
    for base, number in EXPECTED_BASES.items():
        assert f"{base}{number}: {STRATEGIES[base].description}" in listed


def test_the_cli_help_lists_every_base_from_the_registry():
    text = help_text()
    for kind in kinds():
        assert f"{kind.base}" in text and kind.description in text
    parser = build_parser()
    eval_parser = parser._subparsers._group_actions[0].choices["eval"]
    help_of = {a.dest: a.help for a in eval_parser._actions}
    assert "zero: zero-shot: the query alone" in help_of["strategies"]


def test_the_evaluate_page_offers_every_strategy():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "views/5_Evaluate.py"), default_timeout=120).run()
    assert not at.exception
    assert at.multiselect(key="ev_strategies").options == EXPECTED_PAGE_OPTIONS


def test_needs_index_follows_the_selector():
    assert not STRATEGIES["zero"].needs_index and not STRATEGIES["manualcot"].needs_index
    assert STRATEGIES["knn"].needs_index and STRATEGIES["autocot"].needs_index
    assert {name for name, kind in SELECTOR_REGISTRY.items() if kind.needs_index} == EXPECTED_NEEDING_INDEX
    for name in EXPECTED_SELECTORS:
        assert needs_index(name, k=4, demos_in_hand=False) == (name in EXPECTED_NEEDING_INDEX)
        assert not needs_index(name, k=0, demos_in_hand=name == "autocot")  # none asked for, or already built
    assert needs_index("autocot", k=0, demos_in_hand=False)  # still to be built: the pool is clustered
    assert not needs_index(None, k=4, demos_in_hand=False)


def test_a_strategy_asks_its_selector_what_it_needs():
    """What the runner asks of a strategy (index? demonstrations per query, carried, or still to build?) comes
    from its selector's registry entry, for every kind of selector."""
    import dataclasses

    from workbench.data import load_sample
    from workbench.evaluate.formats import default_spec
    from workbench.evaluate.strategies import make_strategy
    from workbench.evaluate.strategies import needs_index as strategies_need_index

    ds = load_sample("arithmetic")
    spec = default_spec(ds)

    def facts(name: str, **changes) -> tuple[bool, bool, bool, bool]:
        s = dataclasses.replace(make_strategy(name, spec, ds), **changes)
        return s.needs_index, s.chooses_per_query, s.carries_demos, s.demos_to_build

    assert facts("zero") == (False, False, False, False)
    assert facts("zscot") == (False, False, False, False)
    assert facts("knn4") == facts("random2") == facts("bm25_3") == (True, True, False, False)
    assert facts("knn4", k=0) == (False, False, False, False)
    assert facts("manualcot2") == (False, False, True, False)
    assert facts("autocot4") == (True, False, True, True)
    assert facts("autocot4", demos=tuple(ds)[:4]) == (False, False, True, False)
    assert strategies_need_index([make_strategy("zero", spec, ds), make_strategy("knn4", spec, ds)])
    assert not strategies_need_index([make_strategy("zero", spec, ds), make_strategy("manualcot2", spec, ds)])
    assert make_strategy("knn4", spec, ds).order == "similar_last"
    assert [make_strategy(n, spec, ds).order for n in ("random4", "balanced4", "manualcot2", "autocot4")] == [
        "as_selected"] * 4
