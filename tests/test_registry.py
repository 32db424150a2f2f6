"""Model registry: ids, local paths and the messages for models that cannot be used."""

from __future__ import annotations

import json

import pytest

from workbench.backends import EMBEDDED, choose_backend, load_backend, resolve_model
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
