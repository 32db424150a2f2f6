"""The backend contract: subclasses implement primitives only; what a backend cannot do is declared."""

import inspect

import pytest

from tests.server_fixtures import FakeServer, completion_reply, fake_openai
from workbench.backends.base import Backend
from workbench.backends.hf import TransformersBackend
from workbench.backends.llamacpp_backend import LlamaCppBackend
from workbench.backends.openai.backend import OpenAICompatBackend
from workbench.backends.openai.config import ServerConfig
from workbench.backends.openai.connect import connect
from workbench.backends.records import Capabilities

#: The validated public methods every caller uses; only Backend defines them.
PUBLIC = ("tokenize", "count_tokens", "generate", "generate_configs", "complete", "stream", "next_token_logits",
          "next_token_distribution", "score", "score_details", "format_chat", "close")
BACKENDS = (LlamaCppBackend, TransformersBackend, OpenAICompatBackend)


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
def test_no_backend_overrides_a_public_validated_method(cls):
    overridden = [name for name in PUBLIC if name in vars(cls)]
    assert overridden == []
    assert all(inspect.isfunction(getattr(Backend, name)) for name in PUBLIC)


@pytest.mark.parametrize("cls", BACKENDS, ids=lambda c: c.__name__)
def test_no_lock_is_reassigned_after_the_base_made_it(cls):
    source = inspect.getsource(cls)
    assert "self.lock =" not in source


def test_a_server_declares_what_it_cannot_do():
    with FakeServer(fake_openai(lambda body: completion_reply(" ok"))) as fake:
        backend = connect(ServerConfig(fake.url, "fake", max_concurrency=3))
        caps = backend.capabilities
        assert (caps.full_logits, caps.beam_search, caps.top_logprobs, caps.concurrent) == (False, False, True, 3)
        assert backend.tokenize("one two three") == [1, 2, 3]  # the server's own ids, through the primitive


def test_in_process_backends_can_do_everything_by_default():
    assert LlamaCppBackend.capabilities == TransformersBackend.capabilities == Capabilities()
    assert not hasattr(OpenAICompatBackend, "generate_many")  # the alias of generate is gone


def test_a_queued_caller_hears_its_place_again_and_can_leave_the_queue():
    """on_wait is called again while a caller waits (a page redraws its queue line there; that is where
    Streamlit stops a session whose user pressed Stop): raising there leaves the queue without the lock."""
    import threading
    import time

    from workbench.backends.lock import WAIT_POLL_S, ModelLock

    lock, calls, outcome = ModelLock(), [], []

    class Stopped(Exception):
        pass

    def queued() -> None:
        def on_wait(position: int) -> None:
            calls.append(position)
            if len(calls) == 3:
                raise Stopped

        try:
            with lock.hold(on_wait):
                outcome.append("held")
        except Stopped:
            outcome.append("left")

    with lock.hold():
        t = threading.Thread(target=queued)
        t0 = time.monotonic()
        t.start()
        t.join(10)
        assert outcome == ["left"] and calls == [1, 1, 1]
        assert time.monotonic() - t0 >= 2 * WAIT_POLL_S * 0.9
        assert lock.waiting == 0 and lock.busy
    assert not lock.busy
    with lock.hold(lambda position: pytest.fail("the lock is free; nobody should queue")):
        pass
