"""A classroom under load: 30 browser sessions click Generate at the same instant against one fresh server.

Drives the class with ``bench/classroom.py``'s ``run_classroom`` (the same code the
benchmark reports from). Checks: no error in any session, every session gets the
full greedy answer to its own prompt, queued sessions see their place, the server
survives and its memory stays bounded (the model is loaded once, not per session).
"""

from __future__ import annotations

import pytest

from bench.classroom import prompt_for, run_classroom
from tests.conftest import real_backend
from tests.e2e.harness import alive, memory_kib, serve
from workbench.backends import DEFAULT_MODEL
from workbench.decoding import DecodingConfig

pytestmark = pytest.mark.e2e

SESSIONS = 30  # a class
MAX_NEW = 6  # a short answer each: 30 of them queue on one model
#: Growth of the server's memory allowed for 30 sessions after the model is loaded. One more copy
#: of the model's weights and KV cache (4096-token window) alone is several hundred MiB.
RSS_GROWTH_MIB = 300


@pytest.fixture(scope="module")
def class_server(browser, tmp_path_factory):
    """A server of its own, so its memory is the class's alone."""
    with serve(tmp_path_factory.mktemp("classroom-server")) as srv:
        yield srv


def test_thirty_sessions_generate_at_once(browser, class_server, record_property):
    backend = real_backend(DEFAULT_MODEL)
    cfg = DecodingConfig(max_new_tokens=MAX_NEW)
    expected = [backend.complete(prompt_for(i), cfg).text for i in range(SESSIONS)]

    out = run_classroom(browser, class_server, SESSIONS, MAX_NEW, expected)
    summary, results = out["summary"], out["results"]
    for key in ("time_to_first_token_s", "time_to_completion_s", "all_answered_s", "server_rss_mib"):
        record_property(key, summary[key])
    print(summary)

    problems = {r["session"]: r["problems"] for r in results if r["problems"]}
    assert problems == {}, f"errors in sessions: {problems}"
    assert summary["completed"] == SESSIONS
    wrong = [(r["session"], r["text"], r["expected"]) for r in results if not r["correct"]]
    assert wrong == [], "sessions got another answer than the greedy one to their own prompt"
    cut = [r["session"] for r in results
           if not r["summary"] or not (r["summary"].startswith(f"{MAX_NEW} tokens in") or "finish: stop" in r["summary"])]
    assert cut == [], "sessions whose summary line is missing or whose answer was cut short"

    # Queued sessions show their place: all 30 clicked at once, so most of them wait, some behind others.
    assert summary["saw_queue_position"] >= SESSIONS // 2
    assert summary["max_queue_position"] >= 2
    for r in results:
        if r["queue"] is not None:
            assert r["queueAt"] <= r["first"], "the queue message came after the answer had started"

    assert alive(class_server)
    rss = summary["server_rss_mib"]
    assert rss["after_class"] - rss["after_warmup"] < RSS_GROWTH_MIB, f"server memory grew: {rss}"
    assert memory_kib(class_server.pid) / 1024 < rss["after_warmup"] + RSS_GROWTH_MIB
