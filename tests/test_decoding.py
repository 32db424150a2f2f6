"""DecodingConfig validation and presets: exact messages for each bad value."""

from __future__ import annotations

import pytest

from workbench.decoding import PRESETS, SAMPLER_ORDERS, DecodingConfig, describe_order, parse_sampler_order, preset
from workbench.errors import ConfigError


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"temperature": -0.5}, "temperature must be >= 0"),
        ({"top_p": 0}, r"top_p must be in \(0, 1\]"),
        ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
        ({"top_k": -1}, "top_k must be >= 0"),
        ({"min_p": 1.0}, r"min_p must be in \[0, 1\)"),
        ({"typical_p": 0}, r"typical_p must be in \(0, 1\]"),
        ({"repetition_penalty": 0}, "repetition_penalty must be > 0"),
        ({"no_repeat_ngram_size": -2}, "no_repeat_ngram_size must be >= 0"),
        ({"num_beams": 0}, "num_beams must be between 1 and 16"),
        ({"max_new_tokens": 0}, "max_new_tokens must be at least 1"),
        ({"n": 3}, "need sampling on"),
        ({"n": 0, "do_sample": True}, "n must be between 1 and 64"),
        ({"do_sample": True, "temperature": 0}, "temperature 0 with sampling"),
        ({"do_sample": True, "num_beams": 2}, "beam search with sampling"),
        ({"seed": -1}, "seed must be a whole number"),
        ({"stop": ("",)}, "stop strings must be non-empty"),
        ({"top_k": 2.5}, "top_k must be a whole number"),
        ({"temperature": "hot"}, "temperature must be a number"),
        ({"do_sample": True, "temperature": float("inf")}, "temperature must be a finite number"),
        ({"repetition_penalty": float("inf")}, "repetition_penalty must be a finite number"),
        ({"top_p": float("nan")}, "top_p must be a finite number"),
        ({"sampler_order": ("top_k", "warmth")}, "Unknown sampler.*warmth"),
        ({"sampler_order": ("top_k", "top_k")}, "names a sampler twice"),
        ({"sampler_order": 5}, "sampler_order must be a list"),
    ],
)
def test_bad_values_say_what_to_change(changes, message):
    with pytest.raises(ConfigError, match=message) as info:
        DecodingConfig(**changes)
    assert "\n" not in str(info.value)


def test_defaults_are_greedy_and_hashable():
    cfg = DecodingConfig()
    assert cfg.greedy and cfg.n == 1 and cfg.num_beams == 1
    assert hash(cfg) == hash(DecodingConfig())


def test_stop_list_becomes_tuple_and_round_trips():
    cfg = DecodingConfig(stop=["\n\n", "Q:"], do_sample=True, temperature=0.7, seed=3)
    assert cfg.stop == ("\n\n", "Q:")
    assert DecodingConfig.from_dict(cfg.to_dict()) == cfg


def test_from_dict_names_unknown_keys():
    with pytest.raises(ConfigError, match=r"Unknown decoding setting.*temprature"):
        DecodingConfig.from_dict({"temprature": 0.7})


def test_replace_validates_again():
    with pytest.raises(ConfigError):
        DecodingConfig().replace(top_p=0)


def test_check_fits():
    cfg = DecodingConfig(max_new_tokens=100)
    cfg.check_fits(prompt_tokens=900, context_window=1024)
    with pytest.raises(ConfigError, match="lower max_new_tokens to 24"):
        cfg.check_fits(prompt_tokens=1000, context_window=1024)
    with pytest.raises(ConfigError, match="shorten the prompt or drop demonstrations"):
        cfg.check_fits(prompt_tokens=1030, context_window=1024)
    with pytest.raises(ConfigError, match="beyond the model's context window"):
        DecodingConfig(max_new_tokens=5000).check_fits(prompt_tokens=10, context_window=4096)


def test_presets():
    assert set(PRESETS) == {"Greedy", "Precise", "Balanced", "Creative"}
    assert preset("greedy").greedy
    assert preset("Creative", seed=5).seed == 5
    assert PRESETS["Precise"].temperature < PRESETS["Balanced"].temperature < PRESETS["Creative"].temperature
    with pytest.raises(ConfigError, match="Unknown preset 'wild'; choose one of: Greedy"):
        preset("wild")


def test_sampler_order_names_libraries_or_lists_and_round_trips():
    assert parse_sampler_order("llama.cpp") == ("top_k", "typical_p", "top_p", "min_p", "temperature")
    assert parse_sampler_order("HF") == SAMPLER_ORDERS["transformers"]
    assert parse_sampler_order("native") == () == parse_sampler_order("")
    # Names left out keep their Hugging Face position after the named ones.
    assert parse_sampler_order("min_p > temperature") == ("min_p", "temperature", "top_k", "top_p", "typical_p")
    cfg = DecodingConfig(do_sample=True, sampler_order="llama.cpp")
    assert cfg.to_dict()["sampler_order"] == list(SAMPLER_ORDERS["llama.cpp"])
    assert DecodingConfig.from_dict(cfg.to_dict()) == cfg
    assert DecodingConfig().order_on(SAMPLER_ORDERS["llama.cpp"]) == SAMPLER_ORDERS["llama.cpp"]
    assert cfg.order_on(SAMPLER_ORDERS["transformers"]) == SAMPLER_ORDERS["llama.cpp"]
    assert describe_order(SAMPLER_ORDERS["llama.cpp"], SAMPLER_ORDERS["llama.cpp"]) == (
        "top_k → typical_p → top_p → min_p → temperature (llama.cpp order, native)")
    assert describe_order(SAMPLER_ORDERS["transformers"], SAMPLER_ORDERS["llama.cpp"]) == (
        "temperature → top_k → top_p → min_p → typical_p (transformers order)")


def test_vllms_order_is_a_library_order_of_its_own():
    assert parse_sampler_order("vLLM") == SAMPLER_ORDERS["vllm"] == ("temperature", "min_p", "top_k", "top_p",
                                                                    "typical_p")
    assert describe_order(SAMPLER_ORDERS["vllm"]) == "temperature → min_p → top_k → top_p → typical_p (vllm order)"
    with pytest.raises(ConfigError, match=r"or a library's order: transformers / llama.cpp / vllm\.$"):
        parse_sampler_order("top_q")
    # Only the samplers a config turns on count: with min-p off, vLLM's order samples as Hugging Face's.
    on = DecodingConfig(do_sample=True, temperature=0.7, top_k=40, top_p=0.9)
    assert on.samplers_on(SAMPLER_ORDERS["vllm"]) == on.samplers_on(SAMPLER_ORDERS["transformers"]) == (
        "temperature", "top_k", "top_p")
    assert on.replace(min_p=0.05).samplers_on(SAMPLER_ORDERS["vllm"]) == ("temperature", "min_p", "top_k", "top_p")
