"""Agreement with promptfoo itself (issue 27), on a small config: 2 ``{{ var }}`` prompts x 2 tests run by promptfoo
(``openai:completion:gemma-3-270m`` at ``workbench serve``'s llama-server) and by ``workbench eval --config`` on
the same server and in-process: the same prompts, outputs, verdicts and scores, and exactly these outputs.

The real check needs Node, promptfoo (``npm i promptfoo@0.119.0``; found as :func:`bench.promptfoo_agreement.
find_promptfoo` says: ``PROMPTFOO_BIN``, PATH, /work/promptfoo) and llama-server; where one is absent it is skipped
at collection, in milliseconds. The comparison's own rules are tested without them. The full bench (2 x 6 tests,
timed): ``python -m bench.promptfoo_agreement``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.promptfoo_agreement import (
    MODEL,
    PROMPTS,
    TESTS,
    Row,
    compare,
    config,
    find_promptfoo,
    one_round,
    serve,
    write_config,
)

PROMPTFOO = find_promptfoo()
#: France and Germany: a pass on both prompts, and a test with three assertions that scores 2/3 on the first.
SMALL_TESTS = (TESTS[0], TESTS[3])
#: What gemma-3-270m answers, greedy, 12 tokens, stopped at a newline: (prompt, test) -> output, passed, score.
EXPECTED = {(0, 0): (" The capital of France is Paris.", True, 1.0),
            (0, 1): (" The capital of Germany is 100 million euros.", False, 2 / 3),
            (1, 0): (" Paris", True, 1.0),
            (1, 1): (" Berlin", True, 1.0)}


@pytest.mark.slow
@pytest.mark.skipif(PROMPTFOO is None, reason="needs Node and promptfoo (npm i promptfoo@0.119.0 in /work/promptfoo, "
                                              "or PROMPTFOO_BIN naming its executable)")
def test_promptfoo_and_workbench_agree_on_a_small_config(tmp_path: Path) -> None:
    from tests.llama_server_fixtures import engine_binary, model_path

    engine_binary()  # skips, saying how to build it, where llama-server is not built
    model_path(MODEL)
    server = serve(parallel=2, log=tmp_path / "serve.log")
    try:
        server_cfg = write_config(tmp_path, "promptfooconfig.yaml",
                                  config(f"openai:completion:{MODEL}", server.base_url, tests=SMALL_TESTS))
        (tmp_path / "local").mkdir()
        local_cfg = write_config(tmp_path / "local", "promptfooconfig.yaml",
                                 config(f"workbench:{MODEL}", None, tests=SMALL_TESTS))
        result = one_round(PROMPTFOO, server_cfg, local_cfg, tmp_path, "t")
    finally:
        server.stop()
    assert server.process.returncode is not None
    got = {k: (r.output, r.passed, round(r.score, 6)) for k, r in result.promptfoo.items()}
    assert got == {k: (o, p, round(s, 6)) for k, (o, p, s) in EXPECTED.items()}
    assert {k: r.prompt for k, r in result.promptfoo.items()} == {
        (p, t): PROMPTS[p].replace("{{country}}", c).replace("{{ country }}", c)
        for p in range(2) for t, c in enumerate(("France", "Germany"))}
    for other, name in ((result.served, "workbench"), (result.inprocess, "workbench_inprocess")):
        c = compare(result.promptfoo, other, ("promptfoo", name))
        assert c["differences"] == [] and c["missing"] == []
        assert (c["tests"], c["prompts_equal"], c["outputs_equal"], c["verdicts_equal"], c["scores_equal"]) == (4,) * 5
    assert result.version == "0.119.0"


def test_compare_names_each_difference_and_its_reason() -> None:
    same = Row("Q: France?", " Paris", True, 1.0)
    a = {(0, 0): same, (0, 1): same, (0, 2): same, (1, 0): same}
    b = {(0, 0): same,
         (0, 1): Row("Q: France?", " Paris is", True, 1.0),  # cut at another place
         (0, 2): Row("Q: France?", " Paris", False, 0.0),  # same text, other verdict
         (1, 1): same}  # (1, 0) missing, (1, 1) extra
    c = compare(a, b, ("promptfoo", "workbench"))
    assert (c["tests"], c["outputs_equal"], c["verdicts_equal"], c["scores_equal"]) == (5, 2, 2, 2)
    assert c["missing"] == [[1, 0], [1, 1]]
    assert [(d["prompt"], d["test"], d["reason"]) for d in c["differences"]] == [
        (0, 1, "stop or length: one output is a prefix of the other"),
        (0, 2, "assertion rule: same output, different verdict")]
    assert c["differences"][1]["workbench"] == {"output": " Paris", "passed": False, "score": 0.0}


def test_scores_equal_within_the_stored_rounding_only() -> None:
    a = {(0, 0): Row("p", "x", False, 2 / 3)}
    assert compare(a, {(0, 0): Row("p", "x", False, 0.666667)}, ("a", "b"))["differences"] == []
    c = compare(a, {(0, 0): Row("p", "x", False, 0.6667)}, ("a", "b"))
    assert c["scores_equal"] == 0
    assert c["differences"][0]["reason"] == "assertion rule: same output and verdict, different score"


def test_a_named_promptfoo_that_is_not_there_is_not_replaced_by_another(tmp_path: Path) -> None:
    assert find_promptfoo(str(tmp_path / "nowhere"), env={}) is None
    assert find_promptfoo(str(tmp_path), env={}) is None  # a folder without node_modules/.bin/promptfoo
