"""Prompt specs: golden renderings per mode (raw and chat), the token budget, runs, and spec files."""

from __future__ import annotations

import pytest

from workbench.backends import Generation
from workbench.data import Example
from workbench.decoding import DecodingConfig
from workbench.errors import ConfigError, DataError, PromptError
from workbench.prompts import (
    PromptSpec,
    fit_to_window,
    load_spec,
    render,
    reserved_tokens,
    run_prompt,
    starter_specs,
)
from workbench.prompts.files import parse_spec_file
from workbench.prompts.running import answer_prompt, extract_answer, final_trigger, stage_config
from workbench.prompts.spec import next_question_stops
from workbench.reasoning.modes import ANSWER_MAX_NEW_TOKENS

DEMOS = (
    Example("d1", "2 + 2", "4", rationale="2 plus 2 is 4."),
    Example("d2", "3 + 5", "8", rationale="3 plus 5 is 8."),
)
TASK = "Add the numbers."
SMOL_SYSTEM = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"


def text_of(parts):
    return "".join(t for _, t in parts)


# ---- raw completion text ------------------------------------------------------------------------


def test_few_shot_raw_golden():
    r = render(PromptSpec(instruction=TASK), DEMOS, "1 + 6")
    assert r.text == "Add the numbers.\n\nQ: 2 + 2\nA: 4\n\nQ: 3 + 5\nA: 8\n\nQ: 1 + 6\nA:"
    assert r.parts == (
        ("instruction", "Add the numbers."), ("separator", "\n\n"),
        ("demo", "Q: 2 + 2\nA: 4"), ("separator", "\n\n"),
        ("demo", "Q: 3 + 5\nA: 8"), ("separator", "\n\n"),
        ("query", "Q: 1 + 6\nA:"),
    )
    assert r.messages is None and r.tokens is None and r.dropped == 0 and r.demos == DEMOS


def test_zero_and_one_shot_are_the_same_spec_with_fewer_demos():
    spec = PromptSpec()
    assert render(spec, (), "1 + 6").text == "Q: 1 + 6\nA:"
    assert render(spec, DEMOS[:1], "1 + 6").text == "Q: 2 + 2\nA: 4\n\nQ: 1 + 6\nA:"


@pytest.mark.parametrize("mode", ["manual_cot", "auto_cot"])
def test_cot_demos_raw_golden(mode):
    r = render(PromptSpec(reasoning=mode), DEMOS, "1 + 6")
    assert r.text == (
        "Q: 2 + 2\nA: 2 plus 2 is 4. The answer is 4.\n\n"
        "Q: 3 + 5\nA: 3 plus 5 is 8. The answer is 8.\n\n"
        "Q: 1 + 6\nA:" + (" Let's think step by step." if mode == "auto_cot" else "")  # Auto-CoT's test query
    )


def test_zero_shot_cot_raw_golden():
    r = render(PromptSpec(reasoning="zero_shot_cot"), (), "1 + 6")
    assert r.text == "Q: 1 + 6\nA: Let's think step by step."
    assert r.parts == (("query", "Q: 1 + 6\nA:"), ("trigger", " Let's think step by step."))


def test_answer_prefix_then_trigger():
    spec = PromptSpec(query_template="Question: {input}", answer_prefix="\nAnswer:", reasoning="zero_shot_cot",
                      cot_trigger="Let's work it out.")
    r = render(spec, (), "1 + 6")
    assert r.text == "Question: 1 + 6\nAnswer: Let's work it out."
    assert r.parts == (("query", "Question: 1 + 6"), ("prefix", "\nAnswer:"), ("trigger", " Let's work it out."))
    # No space is added after a prefix that ends in whitespace.
    assert render(spec.replace(answer_prefix="\nAnswer:\n"), (), "1 + 6").text == "Question: 1 + 6\nAnswer:\nLet's work it out."


def test_question_alias_choices_and_custom_separator():
    spec = PromptSpec(demo_template="{question} -> {answer}", query_template="{question} ({choices}) ->",
                      separator="\n")
    query = Example("q", "Pick a fruit", "A", choices={"A": "apple", "B": "brick"})
    assert render(spec, DEMOS, query).text == "2 + 2 -> 4\n3 + 5 -> 8\nPick a fruit ((A) apple (B) brick) ->"


def test_hostile_values_are_written_literally():
    demo = Example("h", "{0.__class__}", "{{ ''.__class__.__mro__ }}")
    assert render(PromptSpec(), [demo], "{input}").text == (
        "Q: {0.__class__}\nA: {{ ''.__class__.__mro__ }}\n\nQ: {input}\nA:"
    )


def test_missing_rationale_in_cot_mode_names_the_demo():
    with pytest.raises(PromptError) as err:
        render(PromptSpec(reasoning="manual_cot"), [Example("x7", "1 + 1", "2")], "1 + 6")
    assert str(err.value) == "Demonstration 'x7' has no rationale, which manual_cot needs; write one or set reasoning to none."


def test_empty_query_is_an_error():
    with pytest.raises(PromptError, match="The query is empty"):
        render(PromptSpec(), DEMOS, "  ")


def test_chat_without_backend_is_an_error():
    with pytest.raises(PromptError, match="needs a chat model"):
        render(PromptSpec(), DEMOS, "1 + 6", as_chat=True)


# ---- chat form (SmolLM2's own template) -------------------------------------------------------------


def test_chat_turns_golden(smollm):
    r = render(PromptSpec(instruction=TASK), DEMOS, "1 + 6", smollm)
    assert r.messages == (
        {"role": "user", "content": "Add the numbers.\n\nQ: 2 + 2\nA:"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "Q: 3 + 5\nA:"},
        {"role": "assistant", "content": "8"},
        {"role": "user", "content": "Q: 1 + 6\nA:"},
    )
    assert r.text == SMOL_SYSTEM + (
        "<|im_start|>user\nAdd the numbers.\n\nQ: 2 + 2\nA:<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n"
        "<|im_start|>user\nQ: 3 + 5\nA:<|im_end|>\n"
        "<|im_start|>assistant\n8<|im_end|>\n"
        "<|im_start|>user\nQ: 1 + 6\nA:<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert text_of(r.parts) == r.text
    assert [k for k, _ in r.parts] == ["template", "instruction", "separator", "demo", "template", "demo", "template",
                                       "demo", "template", "demo", "template", "query", "template"]
    assert r.tokens == smollm.count_tokens(r.text)


def test_chat_inline_golden_with_system(smollm):
    r = render(PromptSpec(instruction=TASK, chat_layout="inline", system="Be brief."), DEMOS, "1 + 6", smollm)
    assert r.messages == (
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Add the numbers.\n\nQ: 2 + 2\nA: 4\n\nQ: 3 + 5\nA: 8\n\nQ: 1 + 6\nA:"},
    )
    assert r.text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nAdd the numbers.\n\nQ: 2 + 2\nA: 4\n\nQ: 3 + 5\nA: 8\n\nQ: 1 + 6\nA:<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert r.parts[:2] == (("template", "<|im_start|>system\n"), ("system", "Be brief."))
    assert text_of(r.parts) == r.text


def test_chat_manual_cot_turns_golden(smollm):
    r = render(PromptSpec(reasoning="manual_cot"), DEMOS[:1], "1 + 6", smollm)
    assert r.text == SMOL_SYSTEM + (
        "<|im_start|>user\nQ: 2 + 2\nA:<|im_end|>\n"
        "<|im_start|>assistant\n2 plus 2 is 4. The answer is 4.<|im_end|>\n"
        "<|im_start|>user\nQ: 1 + 6\nA:<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_chat_zero_shot_cot_opens_the_assistant_turn_with_the_trigger(smollm):
    r = render(PromptSpec(reasoning="zero_shot_cot", query_template="Q: {input}"), (), "1 + 6", smollm)
    assert r.text == SMOL_SYSTEM + "<|im_start|>user\nQ: 1 + 6<|im_end|>\n<|im_start|>assistant\nLet's think step by step."
    assert r.parts[-1] == ("trigger", "Let's think step by step.")


def test_chat_content_is_not_evaluated_by_the_chat_template(smollm):
    r = render(PromptSpec(), (), "{{ 7*7 }} {% if true %}x{% endif %}", smollm)
    assert "Q: {{ 7*7 }} {% if true %}x{% endif %}\nA:<|im_end|>" in r.text


def test_raw_text_for_a_chat_model_when_asked(smollm):
    r = render(PromptSpec(), DEMOS, "1 + 6", smollm, as_chat=False)
    assert r.text == "Q: 2 + 2\nA: 4\n\nQ: 3 + 5\nA: 8\n\nQ: 1 + 6\nA:" and r.messages is None


def test_turns_layout_needs_demo_template_to_start_with_query_template(smollm):
    spec = PromptSpec(demo_template="{input} = {answer}")
    with pytest.raises(PromptError, match="start the demonstration template with the query template"):
        render(spec, DEMOS, "1 + 6", smollm)
    assert "2 + 2 = 4" in render(spec.replace(chat_layout="inline"), DEMOS, "1 + 6", smollm).text


def test_base_model_renders_raw_text(gemma):
    r = render(PromptSpec(), DEMOS, "1 + 6", gemma)
    assert r.text == "Q: 2 + 2\nA: 4\n\nQ: 3 + 5\nA: 8\n\nQ: 1 + 6\nA:"
    assert r.tokens == len(gemma.tokenize(r.text))


# ---- the spec -----------------------------------------------------------------------------------


def test_to_dict_from_dict_round_trip():
    spec = PromptSpec(instruction=TASK, reasoning="zero_shot_cot", labels=["a", "b"], stop=["\n"], answer_format="label")
    d = spec.to_dict()
    assert d["labels"] == ["a", "b"] and d["stop"] == ["\n"] and d["answer_trigger"] is None
    assert PromptSpec.from_dict(d) == spec


def test_from_dict_unknown_key_is_named():
    with pytest.raises(PromptError) as err:
        PromptSpec.from_dict({"instruction": "x", "temprature": 1})
    assert str(err.value).startswith("Unknown prompt spec key(s): temprature; known: instruction, demo_template,")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reasoning": "cot"}, "Unknown reasoning mode 'cot'"),
        ({"chat_layout": "mixed"}, "Unknown chat layout 'mixed'"),
        ({"answer_format": "float"}, "Unknown answer format 'float'"),
        ({"answer_format": "label"}, "The answer format 'label' needs labels"),
        ({"query_template": "Q: {answer}"}, "The query template uses unknown placeholder {answer}"),
        ({"query_template": "Q:"}, "The query template must contain {input}"),
        ({"demo_template": "{input.__class__}"}, "not a plain placeholder name"),
        ({"cot_demo_template": "{reason}"}, "unknown placeholder {reason}"),
        ({"reasoning": "zero_shot_cot", "cot_trigger": " "}, "Zero-shot-CoT needs a trigger phrase"),
        ({"stop": "\n"}, "stop must be a list of text"),
        ({"stop": [""]}, "Every entry of stop must be non-empty text"),
        ({"instruction": 3}, "instruction must be text"),
    ],
)
def test_invalid_specs_are_refused(changes, message):
    with pytest.raises(PromptError) as err:
        PromptSpec(**changes)
    assert message in str(err.value)


def test_answer_trigger_follows_the_answer_format():
    assert PromptSpec(answer_format="number").final_answer_trigger == "Therefore, the answer (arabic numerals) is"
    assert PromptSpec(answer_format="yes_no").final_answer_trigger == "Therefore, the answer (Yes or No) is"
    assert PromptSpec(answer_trigger="So:").final_answer_trigger == "So:"


# ---- zero-shot-CoT stages and extraction --------------------------------------------------------------


def test_answer_prompt_golden():
    spec = PromptSpec(reasoning="zero_shot_cot", answer_format="number")
    stage1 = "Q: 1 + 6\nA: Let's think step by step."
    # The reasoning as generated (D9: Kojima et al. concatenate it unstripped), then "\n" and the trigger.
    assert answer_prompt(spec, stage1, " 1 plus 6 is 7.\n\n") == (
        "Q: 1 + 6\nA: Let's think step by step. 1 plus 6 is 7.\n\n\nTherefore, the answer (arabic numerals) is"
    )


def test_stage_config_adds_spec_stops_and_caps_the_answer_step():
    spec = PromptSpec(reasoning="zero_shot_cot", stop=["\nQ:", "\n\n"])
    cfg = DecodingConfig(max_new_tokens=200, stop=("\n\n",))
    assert stage_config(spec, cfg, "reasoning") == cfg.replace(stop=("\n\n", "\nQ:"))
    assert stage_config(spec, cfg, "answer").max_new_tokens == ANSWER_MAX_NEW_TOKENS
    assert stage_config(spec.replace(reasoning="none"), cfg, "answer").max_new_tokens == 200


def test_extract_answer_per_mode():
    # No trigger ended the prompt: "The answer is X" when written, else the last number (Kojima's cleansing).
    plain = PromptSpec(answer_format="number")
    assert extract_answer(plain, " 7 apples, not 9").answer == "9"
    assert extract_answer(plain, " Let me compute: 3 + 5 = 8. The answer is 8.").answer == "8"
    assert extract_answer(plain, " Let me compute: 3 + 5 = 8.").answer == "8"
    # The prompt ended with a trigger (an answer prefix, Zero-shot-CoT's answer step): the first number after it.
    triggered = plain.replace(answer_prefix=" The answer (arabic numerals) is")
    assert extract_answer(triggered, " 7 apples, not 9").answer == "7"
    assert extract_answer(plain.replace(reasoning="zero_shot_cot"), " 7 apples, not 9").answer == "7"
    cot = PromptSpec(reasoning="manual_cot", answer_format="number")
    assert extract_answer(cot, " 1 plus 6 is 7. The answer is 7.").answer == "7"
    label = PromptSpec(answer_format="label", labels=("positive", "negative"))
    assert extract_answer(label, " Negative\n").answer == "negative"


def test_reserved_tokens_covers_the_answer_step(gemma):
    cfg = DecodingConfig(max_new_tokens=50)
    assert reserved_tokens(PromptSpec(), cfg, gemma) == 50
    zs = PromptSpec(reasoning="zero_shot_cot", answer_format="number")
    trigger = gemma.count_tokens("\nTherefore, the answer (arabic numerals) is")
    assert reserved_tokens(zs, cfg, gemma) == 50 + trigger + ANSWER_MAX_NEW_TOKENS


def test_run_prompt_zero_shot_cot_two_stages_on_gemma(gemma):
    spec = PromptSpec(reasoning="zero_shot_cot", answer_format="number")
    run = run_prompt(spec, (), "Tom has 3 apples and buys 4 more. How many apples does he have?", gemma,
                     DecodingConfig(max_new_tokens=12))
    reasoning, answer = run.stages
    assert reasoning.name == "reasoning" and answer.name == "answer"
    assert reasoning.prompt == run.rendered.text
    assert reasoning.prompt.endswith("\nA: Let's think step by step.")
    assert answer.prompt == answer_prompt(spec, reasoning.prompt, reasoning.output)
    assert answer.prompt.endswith("\nTherefore, the answer (arabic numerals) is")
    assert 0 < reasoning.generation.completion_tokens <= 12
    assert 0 < answer.generation.completion_tokens <= ANSWER_MAX_NEW_TOKENS
    assert run.extraction == extract_answer(spec, answer.output)


def test_run_prompt_one_stage_uses_the_runner(gemma):
    calls = []

    def runner(name, prompt, cfg):
        calls.append((name, prompt, cfg.stop))
        return gemma.generate([prompt], cfg)[0][0]

    spec = PromptSpec(stop=["\n"])
    run = run_prompt(spec, DEMOS, "1 + 6", gemma, DecodingConfig(max_new_tokens=4), runner=runner)
    assert calls == [("answer", "Q: 2 + 2\nA: 4\n\nQ: 3 + 5\nA: 8\n\nQ: 1 + 6\nA:", ("\n",))]
    assert len(run.stages) == 1 and "\n" not in run.stages[0].output


def test_run_prompt_refuses_several_samples(gemma):
    with pytest.raises(ConfigError, match="one sample"):
        run_prompt(PromptSpec(), DEMOS, "1 + 6", gemma, DecodingConfig(do_sample=True, n=2))


# ---- token budget with a real tokenizer --------------------------------------------------------------


def long_demos(n: int, words: int = 160) -> list[Example]:
    return [Example(f"long{i}", " ".join(f"word{i}x{j}" for j in range(words)), str(i)) for i in range(n)]


def fewest_drops(spec, demos, query, backend, max_new, order):
    """Brute force: drop demos in ``order`` one at a time until the prompt fits."""
    for d in range(len(demos) + 1):
        gone = set(order[:d])
        text = render(spec, [x for i, x in enumerate(demos) if i not in gone], query).text
        if backend.count_tokens(text) + max_new <= backend.context_window:
            return d
    return None


def test_overflowing_demos_are_dropped_from_the_front(gemma):
    spec, demos = PromptSpec(), long_demos(12)
    assert gemma.count_tokens(render(spec, demos, "1 + 6").text) > gemma.context_window  # it really overflows
    r = fit_to_window(spec, demos, "1 + 6", gemma, max_new_tokens=100)
    expected = fewest_drops(spec, demos, "1 + 6", gemma, 100, list(range(12)))
    assert 0 < r.dropped == expected < 12
    assert r.demos == tuple(demos[expected:])
    assert r.tokens == gemma.count_tokens(r.text) and r.tokens + 100 <= gemma.context_window
    DecodingConfig(max_new_tokens=100).check_fits(r.tokens, gemma.context_window)  # what generate checks


def test_lowest_scored_demos_are_dropped_first(gemma):
    spec, demos = PromptSpec(), long_demos(12)
    scores = [5, 1, 9, 3, 7, 0, 2, 8, 4, 6, 11, 10]
    r = fit_to_window(spec, demos, "1 + 6", gemma, max_new_tokens=100, scores=scores)
    order = sorted(range(12), key=lambda i: scores[i])
    assert r.dropped == fewest_drops(spec, demos, "1 + 6", gemma, 100, order)
    kept = sorted(order[r.dropped:])
    assert r.demos == tuple(demos[i] for i in kept)  # the most relevant survive, in their original order


def test_fitting_prompt_is_unchanged(gemma):
    r = fit_to_window(PromptSpec(), DEMOS, "1 + 6", gemma, max_new_tokens=64)
    assert r.dropped == 0 and r.demos == DEMOS and r.text == render(PromptSpec(), DEMOS, "1 + 6").text


def test_query_alone_too_long_says_to_shorten_it(gemma):
    query = " ".join(f"w{i}" for i in range(3000))
    with pytest.raises(PromptError) as err:
        fit_to_window(PromptSpec(), DEMOS, query, gemma, max_new_tokens=200)
    assert "without demonstrations takes" in str(err.value)
    assert "shorten the query or the instruction" in str(err.value)


def test_budget_errors(gemma):
    with pytest.raises(PromptError, match="leaves no room"):
        fit_to_window(PromptSpec(), DEMOS, "1 + 6", gemma, max_new_tokens=4096)
    with pytest.raises(PromptError, match="2 relevance scores for 1"):
        fit_to_window(PromptSpec(), DEMOS[:1], "1 + 6", gemma, 10, scores=[1.0, 2.0])


def test_run_prompt_fits_before_sending(gemma):
    sent = []

    def runner(name, prompt, cfg):  # records what would be sent; evaluating 4k tokens is slow on 2 cores
        sent.append(prompt)
        return Generation(" 7", gemma.count_tokens(prompt), 1, "stop", 0.0)

    run = run_prompt(PromptSpec(stop=["\n"]), long_demos(12), "1 + 6", gemma, DecodingConfig(max_new_tokens=30),
                     runner=runner)
    assert run.rendered.dropped > 0 and sent == [run.rendered.text]
    assert gemma.count_tokens(sent[0]) + 30 <= gemma.context_window
    assert run.answer == "7"


# ---- spec files -----------------------------------------------------------------------------------


def test_starter_specs_load_and_render():
    starters = starter_specs()
    assert {"sentiment", "arithmetic_cot", "arithmetic_zero_shot_cot", "last_letters", "translation_en_fr"} <= set(
        starters
    )
    arith = starters["arithmetic_cot"]
    assert arith.spec.reasoning == "manual_cot" and len(arith.demos) == 8
    assert all(d.rationale for d in arith.demos)
    assert starters["sentiment"].spec.labels == ("positive", "negative")
    assert starters["arithmetic_zero_shot_cot"].spec.reasoning == "zero_shot_cot"
    for sf in starters.values():
        assert sf.example, sf.name
        assert render(sf.spec, sf.demos, sf.example).text.endswith(":") or sf.spec.reasoning == "zero_shot_cot"


def test_starter_arithmetic_exemplars_are_correct():
    """Each hand-written rationale ends in an equation whose result is the answer."""
    for d in starter_specs()["arithmetic_cot"].demos:
        lhs, rhs = d.rationale.rstrip(".").split(" = ")[-1], d.answer
        assert lhs.split()[0] == rhs, d.id


def test_spec_file_round_trip():
    sf = starter_specs()["sentiment"]
    assert parse_spec_file(sf.to_dict(), "sentiment.yaml") == sf


def write(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nspec: {reasonin: none}\n", "spec.yaml: unknown key 'spec.reasonin'"),
        ("name: x\nextra: 1\n", "spec.yaml: unknown key 'extra'"),
        ("name: x\ndemos: [{question: q}]\n", "spec.yaml: demos.0.answer: Field required."),
        ("name: x\nspec: {reasoning: cot}\n", "spec.yaml: Unknown reasoning mode 'cot'"),
        ("name: x\nspec: {query_template: '{input.__class__}'}\n", "not a plain placeholder name"),
        ("name: [unclosed\n", "spec.yaml line 2: not valid YAML"),
        ("- a\n- b\n", "spec.yaml: expected a mapping"),
        ("!!python/object/apply:os.system ['echo hacked']\n", "the Python tag !!python/object/apply:os.system is refused"),
    ],
)
def test_bad_spec_files_are_one_line_data_errors(tmp_path, text, message):
    with pytest.raises(DataError) as err:
        load_spec(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("written", "shown"), [
    ("yes", "True"), ("true", "True"), ("'0.5'", "'0.5'"), ("high", "'high'"), ("[0.5]", "'[0.5]'"),
    ("2", "2.0"), ("-0.5", "-0.5")])
def test_a_spec_files_threshold_is_a_number_from_0_to_1_never_a_bool_or_text(tmp_path, written, shown):
    with pytest.raises(DataError) as err:
        load_spec(write(tmp_path, f"name: x\nassert: ['contains: a']\nthreshold: {written}\n"))
    assert str(err.value) == f"spec.yaml: the pass threshold must be a number from 0 to 1, not {shown}."
    assert load_spec(write(tmp_path, "name: x\nthreshold: 1\n")).threshold == 1.0


# ---- hostile spec files: the bounded loader of `sets import` (issue 34, items 2 and 14) -------------

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nspec: " + "[" * 5_000 + "]" * 5_000 + "\n", "spec.yaml line 2: nested deeper than 10 levels"),
    ("name: x\ndemos:\n" + "- " * 3_000 + "x\n", "spec.yaml line 3: nested deeper than 10 levels"),
    ("name: x\ndemos:\n" + "".join("  " * i + "- q:\n" for i in range(1, 300)), "nested deeper than 10 levels"),
    ("name: x\nexample: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", "nested deeper than 10 levels"),
    (LAUGHS + "name: *i\n", "spec.yaml line 1: YAML anchors and aliases (&name, *name) are not allowed in spec files"),
    ("name: x\nexample: " + ":".join(["1"] * 100_000) + "\n", "spec.yaml line 2: a number of 199,999 characters"),
    ("name: x\nexample: !!int '" + "7" * 5_000 + "'\n", "spec.yaml line 2: a number of 5,000 characters"),
    ("name: x\nexample: 0x" + "f" * 90 + "\n", "spec.yaml: example: a whole number beyond ±9,223,372,036,854,775,807"),
    ("name: x\nexample: " + "y" * 20_001 + "\n", "spec.yaml: example: text of 20,001 characters; the limit is 20,000"),
    ("name: x\nspec: {stop: [" + "s, " * 1_001 + "]}\n", "spec.yaml: spec.stop: 1,001 items; a spec file may hold at"),
    ("name: x\nname: y\n", "spec.yaml line 2: the key 'name' appears twice in one mapping"),
])
def test_hostile_spec_files_are_refused_by_the_bounded_loader(tmp_path, text, message):
    with pytest.raises(DataError) as err:
        load_spec(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.timeout(60)
def test_a_50_mb_spec_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:
        f.truncate(50_000_000)  # sparse: no 50 MB written
    with pytest.raises(DataError) as err:
        load_spec(path)
    assert str(err.value) == "big.yaml is 50,000,000 bytes, over the 1,000,000-byte limit."


def test_json_spec_files_are_read_as_json(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"name": "J", "demos": [{"question": "q", "answer": "a"}]}', encoding="utf-8")
    assert load_spec(path).demos == (Example("s-1", "q", "a"),)
    path.write_text('{"name": "J", "example": ' + "9" * 5_000 + "}", encoding="utf-8")
    with pytest.raises(DataError, match=r"^s.json: a number has thousands of digits"):
        load_spec(path)
    path.write_text('{"name": "J", "name": "K"}', encoding="utf-8")
    with pytest.raises(DataError, match=r"^s.json: the key 'name' appears twice"):
        load_spec(path)


def test_missing_file_and_defaults(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")
    sf = load_spec(write(tmp_path, "name: Minimal\ndemos: [{question: q, answer: a}]\n"))
    assert sf.spec == PromptSpec() and sf.demos == (Example("spec-1", "q", "a"),)


def test_choice_trigger_uses_the_items_own_letters():
    spec = PromptSpec(answer_format="choice", labels=("A", "B", "C", "D", "E"), reasoning="zero_shot_cot")
    three = Example(id="q", input="Pick one", answer="B", choices={"A": "x", "B": "y", "C": "z"})
    assert final_trigger(spec, three) == "Therefore, among A through C, the answer is"
    assert final_trigger(spec) == "Therefore, among A through E, the answer is"
    assert answer_prompt(spec, "P", " so B ", three) == "P so B \nTherefore, among A through C, the answer is"
    # Letters outside the item's choices are not answers.
    assert extract_answer(spec, " E, or rather B", three).answer == "B"


def test_chain_of_thought_stops_only_where_the_next_question_begins():
    assert next_question_stops(PromptSpec()) == ("\nQ:",)
    assert next_question_stops(PromptSpec(query_template="Input: {input}\nLabel:")) == ("\nInput:",)
    assert next_question_stops(PromptSpec(query_template="{input}")) == ()


def test_zero_shot_cot_answer_step_is_greedy_whatever_the_reasoning_samples():
    spec = PromptSpec(reasoning="zero_shot_cot", answer_format="number")
    cfg = DecodingConfig(do_sample=True, temperature=0.9, seed=4, max_new_tokens=128)
    answer = stage_config(spec, cfg, "answer")
    assert not answer.do_sample and answer.n == 1 and answer.max_new_tokens == ANSWER_MAX_NEW_TOKENS
    assert stage_config(spec, cfg, "reasoning").do_sample


# ---- reasoning modes are registry objects ---------------------------------------------------------

#: Written by hand: a mode added to or dropped from the registry must show here, in the CLI and on the page.
EXPECTED_MODES = ["none", "manual_cot", "zero_shot_cot", "auto_cot"]


def test_the_registry_lists_the_modes_the_cli_help_and_the_parser_use():
    import argparse

    from workbench.cli import prompt as prompt_cli
    from workbench.reasoning import registry

    assert list(registry.names()) == EXPECTED_MODES
    parser = argparse.ArgumentParser()
    prompt_cli.register(parser.add_subparsers())
    top = parser.format_help()
    assert f"reasoning: {', '.join(EXPECTED_MODES)}" in " ".join(top.split())
    sub = parser._subparsers._group_actions[0].choices["prompt"].format_help()
    for mode in registry.MODES:
        assert f"  {mode.name}: {mode.description}" in sub
    for name in EXPECTED_MODES:
        assert PromptSpec(reasoning=name).mode is registry.get(name)
    with pytest.raises(PromptError, match=f"choose one of {', '.join(EXPECTED_MODES)}"):
        PromptSpec(reasoning="tree_of_thought")


def test_every_mode_owns_its_stages_and_their_decoding():
    from workbench.reasoning import registry

    cfg = DecodingConfig(do_sample=True, temperature=0.8, max_new_tokens=100, stop=("\n\n",))
    stages = {m.name: m.stages for m in registry.MODES}
    assert stages == {"none": ("answer",), "manual_cot": ("answer",), "zero_shot_cot": ("reasoning", "answer"),
                      "auto_cot": ("answer",)}
    for mode in registry.MODES:
        spec = PromptSpec(reasoning=mode.name, stop=["\nQ:"])
        last = mode.stage_config(spec, cfg, mode.stages[-1])
        assert last.stop == ("\n\n", "\nQ:")
        assert last.do_sample is not mode.answer_step  # a separate answer step is greedy
        assert spec.demo_template_in_use == (spec.cot_demo_template if mode.rationale_demos else spec.demo_template)


def test_literal_zero_shot_cot_appears_only_in_its_registry_entry():
    """Issue 30: the name is known in one place; every other place asks the registry."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = sorted(str(p.relative_to(root)) for folder in ("workbench", "ui", "views") for p in (root / folder).rglob("*.py")
                   if '"zero_shot_cot"' in p.read_text(encoding="utf-8"))
    assert found == ["workbench/reasoning/modes.py"]


PLAN_AND_SOLVE_TRIGGER = ("Let's first understand the problem and devise a plan to solve the problem. "
                          "Then, let's carry out the plan and solve the problem step by step.")


def plan_and_solve_mode():
    """The README's worked example: Plan-and-Solve (Wang et al. 2023) is Zero-shot-CoT with its own trigger."""
    from dataclasses import dataclass

    from workbench.reasoning.modes import ZeroShotCoT

    @dataclass(frozen=True)
    class PlanAndSolve(ZeroShotCoT):
        trigger: str = PLAN_AND_SOLVE_TRIGGER  # replaces the spec's cot_trigger

        def check(self, spec):
            pass  # brings its own trigger

        def answer_trigger_text(self, spec):
            return self.trigger

    return PlanAndSolve("plan_and_solve", "Plan-and-Solve", "devise a plan, then carry it out (Wang et al. 2023)")


def test_a_new_mode_is_one_class_and_one_registration(monkeypatch):
    from tests.fakes import FakeBackend
    from workbench.consistency import self_consistency
    from workbench.reasoning import registry

    mode = plan_and_solve_mode()
    monkeypatch.setattr(registry, "_BY_NAME", {**registry._BY_NAME, mode.name: mode})  # = one line in MODES
    assert "plan_and_solve" in registry.names() and registry.labels()["plan_and_solve"] == "Plan-and-Solve"
    spec = PromptSpec(reasoning="plan_and_solve", answer_format="number", cot_trigger="")
    assert render(spec, (), "1 + 6").text == f"Q: 1 + 6\nA: {PLAN_AND_SOLVE_TRIGGER}"
    fake = FakeBackend(reply=lambda prompt, seed: " 9" if prompt.endswith(" is") else " Plan: add. 1 plus 6 is 7.")
    run = run_prompt(spec, (), "1 + 6", fake, DecodingConfig(max_new_tokens=20))
    assert [s.name for s in run.stages] == ["reasoning", "answer"]
    assert run.stages[1].prompt.endswith("1 plus 6 is 7.\nTherefore, the answer (arabic numerals) is")
    assert run.answer == "9"
    voted = self_consistency(spec, run.rendered.text, fake, DecodingConfig(do_sample=True, n=3, seed=1))
    assert voted.vote.winner == "9" and [len(p.stages) for p in voted.paths] == [2, 2, 2]


def test_self_consistency_wraps_a_mode_sampling_only_its_first_stage():
    from workbench.reasoning import MANUAL_COT, SELF_CONSISTENCY, ZERO_SHOT_COT

    cfg = DecodingConfig(do_sample=True, temperature=0.7, max_new_tokens=100, seed=3)
    zs = PromptSpec(reasoning="zero_shot_cot", answer_format="number")
    assert SELF_CONSISTENCY.sampled_stage(ZERO_SHOT_COT) == "reasoning"
    sampled = SELF_CONSISTENCY.stage_config(ZERO_SHOT_COT, zs, cfg, "reasoning", 5)
    assert sampled.do_sample and sampled.n == 5 and sampled.max_new_tokens == 100
    answer = SELF_CONSISTENCY.stage_config(ZERO_SHOT_COT, zs, cfg, "answer", 5)
    assert not answer.do_sample and answer.n == 1 and answer.max_new_tokens == ANSWER_MAX_NEW_TOKENS
    assert SELF_CONSISTENCY.sampled_stage(MANUAL_COT) == "answer"
    with pytest.raises(ConfigError, match="turn sampling on"):
        SELF_CONSISTENCY.stage_config(MANUAL_COT, zs, cfg.replace(do_sample=False), "answer", 5)
