"""Model registry: ids, local paths and the messages for models that cannot be used."""

from __future__ import annotations

import json

import pytest

from workbench.backends import EMBEDDED, choose_backend, load_backend, resolve_model
from workbench.backends.policy import ALLOWED_MODELS_ENV, ALLOWED_SERVERS_ENV, CLASSROOM_ENV, ModelPolicy, is_loopback
from workbench.backends.registry import ModelSpec
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, ModelError


def test_embedded_models_resolve_to_files():
    for model_id in EMBEDDED:
        spec = resolve_model(model_id)
        assert spec.is_gguf and spec.path.endswith(".gguf")
    assert resolve_model("smollm2-135m-instruct").is_chat
    assert not resolve_model("gemma-3-270m").is_chat


def test_unknown_id_lists_the_known_ones():
    with pytest.raises(ModelError, match=r"Unknown model 'gpt-9'.*gemma-3-270m, smollm2-135m-instruct"):
        resolve_model("gpt-9")


def test_empty_model_name():
    with pytest.raises(ModelError, match="No model given"):
        resolve_model("  ")


def test_local_paths_are_checked(tmp_path):
    txt = tmp_path / "weights.txt"
    txt.write_text("x")
    with pytest.raises(ModelError, match="is not a GGUF file"):
        resolve_model(str(txt))
    folder = tmp_path / "model"
    folder.mkdir()
    with pytest.raises(ModelError, match=r"has no config\.json"):
        resolve_model(str(folder))
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelError, match="only safetensors or GGUF"):
        resolve_model(str(folder))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    spec = resolve_model(str(folder))
    assert spec.is_chat and not spec.is_gguf


def test_corrupt_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelError, match=r"broken\.gguf") as info:
        load_backend(str(bad), "llama.cpp")
    assert "\n" not in str(info.value)


def test_choose_backend():
    gguf = ModelSpec("m", "/x/m.gguf", False)
    folder = ModelSpec("d", "/x/d", False)
    assert choose_backend(gguf, "llama.cpp") == "llama.cpp"
    assert choose_backend(gguf, "transformers") == "transformers"
    assert choose_backend(folder) == "transformers"
    with pytest.raises(ModelError, match=r"llama\.cpp needs a GGUF file"):
        choose_backend(folder, "llama.cpp")
    with pytest.raises(ModelError, match="Unknown backend 'vllm'"):
        choose_backend(gguf, "vllm")


def test_bad_thread_count_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WORKBENCH_THREADS", "two")
    with pytest.raises(ConfigError, match=r"WORKBENCH_THREADS must be a whole number .* not 'two'"):
        load_backend("smollm2-135m-instruct", "llama.cpp")
    monkeypatch.setenv("WORKBENCH_THREADS", "1")
    assert load_backend("smollm2-135m-instruct", "llama.cpp").complete("1, 2, 3,", DecodingConfig(max_new_tokens=2)).text


# ---- a classroom server: pinned models and servers --------------------------------------------

@pytest.mark.parametrize(("address", "exposed"), [("127.0.0.1", False), ("localhost", False), ("::1", False),
                                                  ("127.0.0.2", False), ("0.0.0.0", True), ("", True),
                                                  (None, True), ("192.168.1.5", True), ("::", True)])
def test_pinned_by_default_when_served_beyond_loopback(address, exposed):
    assert is_loopback(address) is not exposed
    policy = ModelPolicy.from_env(address, {})
    assert policy.pinned is exposed
    assert policy.models == tuple(EMBEDDED) and policy.servers == ()


def test_classroom_switch_and_allow_lists_override_the_default():
    assert not ModelPolicy.from_env("0.0.0.0", {CLASSROOM_ENV: "0"}).pinned
    assert ModelPolicy.from_env("127.0.0.1", {CLASSROOM_ENV: "1"}).pinned
    listed = ModelPolicy.from_env("127.0.0.1", {ALLOWED_MODELS_ENV: " gemma-3-270m , /srv/m.gguf,"})
    assert listed.pinned and listed.models == ("gemma-3-270m", "/srv/m.gguf")
    with pytest.raises(ConfigError, match=f"{CLASSROOM_ENV} must be 1 .* or 0 .*got 'maybe'"):
        ModelPolicy.from_env("0.0.0.0", {CLASSROOM_ENV: "maybe"})


def test_unpinned_allows_anything():
    ModelPolicy().check("/etc/passwd")
    ModelPolicy().check("http://169.254.169.254/v1#x", "openai-compatible")


def test_pinned_refusal_is_the_same_whether_or_not_the_path_exists(tmp_path):
    real = tmp_path / "real.gguf"
    real.write_bytes(b"GGUF")
    policy = ModelPolicy.from_env("0.0.0.0", {})
    messages = set()
    for model in (str(real), str(tmp_path / "missing.gguf")):
        with pytest.raises(ModelError) as info:
            policy.check(model)
        messages.add(str(info.value))
    assert messages == {"This server loads only the models it allows; pick one of: gemma-3-270m, "
                        f"smollm2-135m-instruct (the teacher sets them with {ALLOWED_MODELS_ENV})."}
    policy.check("gemma-3-270m")
    allowed = ModelPolicy.from_env("0.0.0.0", {ALLOWED_MODELS_ENV: str(real)})
    allowed.check(str(tmp_path / "." / "real.gguf"))  # the same path spelled differently
    with pytest.raises(ModelError):
        allowed.check("gemma-3-270m")  # an explicit list replaces the embedded default


def test_pinned_servers_only_the_allowed_ones():
    with pytest.raises(ModelError, match=r"only the OpenAI-compatible servers it allows \(none\)"):
        ModelPolicy(pinned=True).check("http://169.254.169.254/latest#x", "openai-compatible")
    with pytest.raises(ModelError, match="servers it allows"):  # a server URL under a local backend too
        ModelPolicy(pinned=True).check("http://evil.example/v1#m", "auto")
    policy = ModelPolicy.from_env("0.0.0.0", {ALLOWED_SERVERS_ENV: "http://gpu:8000/v1, http://tgi/v1#llama#TGI_KEY"})
    policy.check("http://gpu:8000/v1/#any-model", "openai-compatible")
    policy.check("http://tgi/v1#llama#TGI_KEY", "openai-compatible")
    for ref in ("http://gpu:8000/v1#m#AWS_SECRET_ACCESS_KEY",  # a key variable the teacher did not name
                "http://tgi/v1#other#TGI_KEY", "http://gpu:8001/v1#m", "http://gpu:8000/v1.evil#m"):
        with pytest.raises(ModelError, match="servers it allows"):
            policy.check(ref, "openai-compatible")


def test_pinned_servers_read_no_tokenizer_file_but_the_teachers():
    policy = ModelPolicy.from_env("0.0.0.0", {
        ALLOWED_SERVERS_ENV: "http://ollama:11434/v1#llama3#tokenizer=/srv/tok, http://gpu:8000/v1"})
    for ok in ("http://ollama:11434/v1#llama3", "http://ollama:11434/v1#llama3#tokenizer=/srv/tok",
               "http://ollama:11434/v1#llama3#tokenizer=approximate", "http://gpu:8000/v1#m#scoring=forced"):
        policy.check(ok, "openai-compatible")
    for bad in ("http://ollama:11434/v1#llama3#tokenizer=/etc/passwd",  # any local file, read by this machine
                "http://gpu:8000/v1#m#tokenizer=/home/teacher/model.gguf"):
        with pytest.raises(ModelError, match="servers it allows"):
            policy.check(bad, "openai-compatible")
