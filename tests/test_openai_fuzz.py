"""Fuzz the server-reply parser: for random bytes and random JSON shapes the only outcomes are a
parsed reply or a WorkbenchError (one line), never another exception, never more than a bounded time."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server_fixtures import FakeServer, fake_openai, raw_reply, sse_reply
from workbench.backends.openai.client import retry_after
from workbench.backends.openai.config import ServerConfig
from workbench.backends.openai.connect import connect
from workbench.backends.openai.replies import (
    ChatCompletion,
    Completion,
    Detokenized,
    ModelList,
    Props,
    StreamEvent,
    Tokens,
    iter_sse_data,
    parse_reply,
)
from workbench.decoding import DecodingConfig
from workbench.errors import WorkbenchError

#: Every reply shape the backend reads.
REPLIES = (ModelList, Tokens, Detokenized, Completion, StreamEvent, ChatCompletion, Props)
#: The field names servers use, so random shapes come close to real ones.
FIELDS = ("data", "id", "owned_by", "max_model_len", "meta", "n_ctx", "tokens", "text", "prompt", "content",
          "choices", "finish_reason", "logprobs", "tokens", "token_logprobs", "top_logprobs", "usage",
          "prompt_tokens", "completion_tokens", "message", "error", "chat_template",
          "default_generation_settings", "object", "text_offset", "logprob", "bytes", "token")
#: Per example, all parsing included (generous: a bound, not a timing claim).
BOUND = settings(deadline=timedelta(seconds=2), max_examples=300,
                 suppress_health_check=[HealthCheck.too_slow])

leaves = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**30), max_value=10**30)
          | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20) | st.sampled_from(FIELDS))
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8),
                                                                 inner, max_size=5),
    max_leaves=30,
)


def _parsed_or_one_line_error(model, raw) -> None:
    try:
        reply = parse_reply(model, raw, "/fuzz", "http://fuzz/v1")
    except WorkbenchError as err:
        assert "\n" not in str(err) and str(err).startswith("The server at http://fuzz/v1 ")
        return
    assert isinstance(reply, model)


@BOUND
@given(value=json_values, model=st.sampled_from(REPLIES))
def test_random_json_shapes_parse_or_are_one_error(value, model):
    _parsed_or_one_line_error(model, json.dumps(value))


@BOUND
@given(raw=st.binary(max_size=200), model=st.sampled_from(REPLIES))
def test_random_bytes_parse_or_are_one_error(raw, model):
    _parsed_or_one_line_error(model, raw)


@BOUND
@given(choices=st.lists(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4), max_size=3),
       usage=json_values)
def test_near_valid_completions_parse_or_are_one_error(choices, usage):
    _parsed_or_one_line_error(Completion, json.dumps({"choices": choices, "usage": usage}))


@pytest.mark.parametrize("depth", [10, 1000, 100_000])
def test_deep_nesting_is_one_error_or_parsed(depth):
    _parsed_or_one_line_error(Completion, "[" * depth + "]" * depth)
    _parsed_or_one_line_error(Completion, '{"choices": ' + "[" * depth + "]" * depth + "}")


@BOUND
@given(lines=st.lists(st.binary(max_size=30) | st.sampled_from([b"\n", b"data: [DONE]\n", b": ping\n"]),
                      max_size=12))
def test_random_event_streams_give_data_or_one_error(lines):
    try:
        events = list(iter_sse_data(lines, "http://fuzz/v1"))
    except WorkbenchError as err:
        assert "\n" not in str(err)
        return
    assert all(isinstance(e, str) for e in events)


@BOUND
@given(header=st.none() | st.text(max_size=20) | st.floats().map(str))
def test_retry_after_is_always_a_finite_bounded_wait(header):
    wait = retry_after(header, 0.5, 8.0)
    assert math.isfinite(wait) and 0.0 <= wait <= 8.0


#: Whole requests are slower (a loopback round trip each): fewer examples.
THROUGH_A_SERVER = settings(deadline=timedelta(seconds=10), max_examples=40,
                            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@THROUGH_A_SERVER
@given(completion=json_values | st.fixed_dictionaries({"choices": st.lists(json_values, max_size=2)}),
       event=json_values)
def test_a_server_answering_anything_gives_a_generation_or_one_error(completion, event):
    reply = {"value": raw_reply(json.dumps(completion).encode())}

    def completions(body):
        return sse_reply(event) if body.get("stream") else reply["value"]

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", deadline_s=5))
        cfg = DecodingConfig(max_new_tokens=4)
        for call in (lambda: backend.complete("Hello there", cfg).text,
                     lambda: backend.stream("Hello there", cfg).text(),
                     lambda: backend.next_token_distribution("Hello there", top=3)):
            try:
                call()
            except WorkbenchError as err:
                assert "\n" not in str(err)


@THROUGH_A_SERVER
@given(echo=json_values | st.fixed_dictionaries({
    "choices": st.lists(st.fixed_dictionaries({"text": st.text(max_size=4), "logprobs": json_values}),
                        min_size=1, max_size=1),
    "usage": json_values}))
def test_any_echo_reply_gives_scores_or_one_error(echo):
    """Echo scoring's check reads whatever the server sends: scores (echo or the forced fallback), or one line."""
    forced = {"tokens": ["w"], "token_logprobs": [-1.5], "top_logprobs": [{"w": -1.5}]}

    def completions(body):
        return raw_reply(json.dumps(echo).encode()) if body.get("echo") else \
            raw_reply(json.dumps({"choices": [{"text": "w", "logprobs": forced}]}).encode())

    with FakeServer(fake_openai(completions)) as fake:
        backend = connect(ServerConfig(fake.url, "fake", deadline_s=5, scoring="echo", max_retries=0))
        try:
            scores = backend.score("Hello there", [" friend", " old friend"])
        except WorkbenchError as err:
            assert "\n" not in str(err)
            return
        assert len(scores) == 2 and all(x <= 0.01 for x in scores)  # log-probabilities (-inf is an answer; NaN is not)
        assert backend.scoring.startswith(("echo (", "forced ("))
