"""Stop frees the model at once: a stream closed mid-way hands the lock to the next caller within a second.

On the real default model (gemma-3-270m through llama.cpp), as the app uses it: one session's thread consumes a
long stream and stops when asked (the page's Stop reruns the script, which interrupts the consuming thread at its
next page update; ``ui.streaming.stream_completion`` then closes the stream), while another session's thread waits
in the model's queue.
"""

from __future__ import annotations

import threading
import time

import pytest

from workbench.decoding import DecodingConfig

#: A generation far longer than the test lets it run.
LONG = DecodingConfig(max_new_tokens=400)
#: How soon the next session must get the model after a Stop.
RELEASE_S = 1.0


def test_a_stopped_stream_frees_the_model_for_the_next_session_within_a_second(gemma):
    stream = gemma.stream("Once upon a time, in a small village by the sea,", LONG)
    got: list[str] = []
    started, stop, finished = threading.Event(), threading.Event(), threading.Event()

    def first_session() -> None:
        try:
            for piece in stream:
                got.append(piece)
                if len(got) >= 3:
                    started.set()
                if stop.is_set():
                    break  # the page's rerun interrupting write_stream
        finally:
            stream.close()
            finished.set()

    queued: list[int] = []
    acquired_at: list[float] = []

    def second_session() -> None:
        with gemma.lock.hold(on_wait=queued.append):
            acquired_at.append(time.perf_counter())

    a = threading.Thread(target=first_session, daemon=True)
    a.start()
    assert started.wait(120), "the first session never got its first tokens"
    b = threading.Thread(target=second_session, daemon=True)
    b.start()
    deadline = time.monotonic() + 10
    while not queued and time.monotonic() < deadline:
        time.sleep(0.01)
    assert queued and set(queued) == {1}, "the second session must be first in the queue while the first one streams"
    assert gemma.lock.busy and gemma.lock.waiting == 1

    stopped_at = time.perf_counter()
    stop.set()
    b.join(timeout=10)
    assert acquired_at, "the second session never got the model"
    waited = acquired_at[0] - stopped_at
    print(f"the next session got the model {waited * 1000:.0f} ms after Stop ({len(got)} pieces streamed)")
    assert waited < RELEASE_S, f"the model was freed {waited:.2f} s after Stop"
    assert finished.wait(5)
    assert stream.generation is None, "the first stream ran to its end instead of stopping"
    assert len(got) < LONG.max_new_tokens
    assert not gemma.lock.busy


def test_the_model_works_normally_after_a_stop(gemma):
    stream = gemma.stream("One, two, three,", LONG)
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()
    gen = gemma.complete("One, two, three, four,", DecodingConfig(max_new_tokens=4))
    assert "five" in gen.text
    assert gen.completion_tokens >= 1


@pytest.mark.parametrize("pieces_before_stop", [0, 1])
def test_a_stream_closed_before_or_at_its_first_token_frees_the_model(gemma, pieces_before_stop):
    stream = gemma.stream("The capital of France is", LONG)
    it = iter(stream)
    for _ in range(pieces_before_stop):
        next(it)
    stream.close()
    with gemma.lock.hold(on_wait=lambda position: pytest.fail("the model is still held after close()")):
        pass
