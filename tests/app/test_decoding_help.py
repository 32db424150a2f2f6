"""AppTest: where the repetition penalty and the sampler order are set, the help says what each backend does."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def test_the_penalty_and_order_help_name_llama_cpp_pythons_window_and_vllms_order():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240).run()
    assert not at.exception
    penalty = at.number_input(key="home_rep").help
    assert "llama-cpp-python's server: only the tokens it generates, at most the last 64" in penalty
    assert "(its --last_n_tokens_size, set when that server starts; no request can change it), never the prompt" \
        in penalty
    assert "llama-server: the prompt and the output (each request sends repeat_last_n" in penalty
    order = at.selectbox(key="home_order").help
    assert "A vLLM server samples only in its own order (temperature, min-p, top-k, top-p)" in order
