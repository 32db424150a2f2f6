"""Continuous batching across callers on llama.cpp (WORKBENCH_SHARED_BATCH): the real gemma-3-270m.

Several threads (a classroom's sessions) generate and stream at once; their sequences are decoded
together, join a running batch, leave it when done or when their stream is closed.
"""

from __future__ import annotations

import threading

import pytest

from tests.test_batch import PROMPTS, one_at_a_time
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError

#: Seconds any wait here may take before the test fails (a hang is a failure, not a stuck suite).
BOUND_S = 120


@pytest.fixture(scope="module")
def shared():
    """gemma-3-270m whose callers share one continuous batch of up to 3 sequences."""
    from workbench.backends import registry
    from workbench.backends.llamacpp import load_llamacpp

    backend = load_llamacpp(registry.resolve_model("gemma-3-270m"), shared_batch=3)
    yield backend
    backend.close()


def in_threads(*calls):
    """Run each call in its own thread at once; their results in order (an exception is re-raised)."""
    out: list = [None] * len(calls)

    def run(i, call):
        try:
            out[i] = call()
        except BaseException as err:  # handed back to the test
            out[i] = err

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND_S)
        assert not t.is_alive(), "a caller of the shared batch hung"
    for r in out:
        if isinstance(r, BaseException):
            raise r
    return out


def test_three_callers_at_once_get_their_own_one_at_a_time_text(shared, gemma):
    cfg = DecodingConfig(max_new_tokens=16)
    alone = [row[0].text for row in one_at_a_time(gemma, PROMPTS[:3], cfg)]
    got = in_threads(*[lambda p=p: shared.generate([p], cfg)[0][0] for p in PROMPTS[:3]])
    assert [g.text for g in got] == alone  # llama.cpp's one-at-a-time text (exact kernels, test_batch)
    assert max(g.batch for g in got) >= 2  # they really were decoded together
    assert shared.shared.running == 0 and shared.shared.waiting == 0


def test_eight_callers_streaming_at_once_get_exactly_their_one_at_a_time_text(gemma):
    """A class's worth of one batch: 8 sessions streaming together, each the text it would get alone."""
    from workbench.backends import registry
    from workbench.backends.llamacpp import load_llamacpp

    cfg = DecodingConfig(max_new_tokens=16)
    alone = [row[0].text for row in one_at_a_time(gemma, PROMPTS, cfg)]
    backend = load_llamacpp(registry.resolve_model("gemma-3-270m"), shared_batch=8)
    try:
        def streamed(p):
            return backend.stream(p, cfg).text()

        got = in_threads(*[lambda p=p: streamed(p) for p in PROMPTS])
        assert backend.shared.running == 0 and backend.shared.waiting == 0
    finally:
        backend.close()
    assert got == alone


def test_a_late_caller_joins_the_running_batch_instead_of_waiting_for_it(shared):
    long_cfg = DecodingConfig(max_new_tokens=48)
    order: list[str] = []
    stream = shared.stream(PROMPTS[4], long_cfg)
    pieces = iter(stream)
    next(pieces)  # the long sequence is decoding now

    def short():
        gen = shared.generate([PROMPTS[5]], DecodingConfig(max_new_tokens=4))[0][0]
        order.append("short")
        return gen

    def finish_long():
        text = "".join(pieces)
        order.append("long")
        return text

    short_gen, _ = in_threads(short, finish_long)
    assert order == ["short", "long"]  # it did not queue behind the 48-token sequence
    assert short_gen.batch == 2 and short_gen.completion_tokens <= 4 + 3
    assert stream.generation is not None and stream.generation.completion_tokens >= 40


def test_streamed_pieces_are_the_text_and_never_show_a_stop_string(shared):
    cfg = DecodingConfig(max_new_tokens=40, stop=("\n",))
    stream = shared.stream("Q: Name three colours, one per line.\nA: Red\n", cfg)
    pieces = list(stream)
    assert "".join(pieces) == stream.generation.text
    assert all("\n" not in p for p in pieces) and len(pieces) >= 2


def test_closing_a_stream_frees_its_slot_for_the_next_caller(shared):
    """A session that goes away mid-batch (Stop, a closed browser) leaves at the next step."""
    streams = [shared.stream(p, DecodingConfig(max_new_tokens=200)) for p in PROMPTS[:3]]
    readers = [iter(s) for s in streams]
    for r in readers:
        next(r)  # all three slots are taken
    for s in streams:
        s.close()
    gen = in_threads(lambda: shared.generate([PROMPTS[6]], DecodingConfig(max_new_tokens=6))[0][0])[0]
    assert not gen.failed and gen.completion_tokens >= 1
    assert shared.shared.running == 0  # the three closed streams' sequences are gone, not decoding on


def test_a_seed_gives_its_sample_whoever_else_is_decoding(shared):
    cfg = DecodingConfig(do_sample=True, temperature=1.0, top_k=40, seed=21, n=2, max_new_tokens=12)
    alone = [g.text for g in shared.generate([PROMPTS[2]], cfg)[0]]
    busy = in_threads(lambda: shared.generate([PROMPTS[2]], cfg)[0],
                      lambda: shared.generate([PROMPTS[7]], DecodingConfig(max_new_tokens=12))[0])
    assert [g.text for g in busy[0]] == alone


def test_the_setting_is_checked_in_one_line(monkeypatch):
    from workbench.backends.llamacpp_shared import shared_batch_size

    monkeypatch.setenv("WORKBENCH_SHARED_BATCH", "lots")
    with pytest.raises(ConfigError, match=r"^WORKBENCH_SHARED_BATCH must be a whole number of sequences from 0 to "
                                          r"64, not 'lots'\.$"):
        shared_batch_size()
    monkeypatch.delenv("WORKBENCH_SHARED_BATCH")
    assert shared_batch_size() == 0  # off unless a server asks for it


def test_closing_the_model_mid_stream_ends_the_stream_in_one_line_and_frees_the_batch():
    from workbench.backends import registry
    from workbench.backends.llamacpp import load_llamacpp
    from workbench.errors import ModelError

    backend = load_llamacpp(registry.resolve_model("gemma-3-270m"), shared_batch=2)
    stream = backend.stream(PROMPTS[0], DecodingConfig(max_new_tokens=400))
    pieces = iter(stream)
    next(pieces)
    backend.close()  # e.g. the server shuts down while a student's text is streaming
    with pytest.raises(ModelError, match=r"^The model was closed while this request ran; load it again to use it\.$"):
        list(pieces)
    assert not backend.shared._thread.is_alive() and backend.shared._engine.closed
    with pytest.raises(ModelError, match="has been closed"):
        backend.generate([PROMPTS[1]], DecodingConfig(max_new_tokens=4))
