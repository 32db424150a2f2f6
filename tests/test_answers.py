"""Answer extraction, normalisation, voting and intervals on hand-made model outputs."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.answers import (
    ANSWER_TRIGGERS,
    AnswerFormat,
    Extraction,
    Vote,
    extract,
    extract_choice,
    extract_free_text,
    extract_label,
    extract_number,
    extract_yes_no,
    is_correct,
    majority_vote,
    normalise,
    wilson_interval,
)
from workbench.errors import ConfigError

# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I have 3 apples and 5 pears, so 8", "8"),
        ("The answer is $1,250.50.", "1250.5"),
        ("The answer is 8.", "8"),
        ("Total: 8.00", "8"),
        ("She paid $12.", "12"),
        ("1,000,000 people live there.", "1000000"),
        ("The temperature fell to -4.5 degrees.", "-4.5"),
        ("It costs -$5.00 after the refund.", "-5"),
        ("5-3=2", "2"),  # a hyphen after a digit is subtraction, not a sign
        ("He sold 10 - 3 of them", "3"),
        ("x = .5", "0.5"),
        ("That is 50% of 40, which is 20.", "20"),
        ("There were 28 bales, now there are 54, so he stored 54 - 28 = 26 bales.\n", "26"),
        ("The numbers 1,2345 are odd", "2345"),
        ("GPT4 says nothing numeric", None),
        ("No numbers here.", None),
        ("", None),
        ("-0", "0"),
    ],
)
def test_extract_number_last(text, expected):
    assert extract_number(text) == expected


def test_extract_number_first_after_trigger_takes_first_number_after_the_last_trigger():
    text = "Q: 3 apples and 5 pears. A: First 3 + 5 = 8. The answer is 8. Q: Tom has 2 cats and gets 10 more."
    assert extract_number(text, mode="first_after_trigger", trigger="The answer is") == "8"
    assert extract_number(text, mode="last") == "10"
    # The trigger is matched case-insensitively, and the last occurrence wins.
    text2 = "the answer is 4? No. Recount: 6 plus 1. So the answer is 7, and 9 is wrong."
    assert extract_number(text2, mode="first_after_trigger", trigger="The answer is") == "7"


def test_extract_number_trigger_absent_falls_back_to_last_number():
    assert extract_number("3 + 5 = 8", mode="first_after_trigger", trigger="The answer is") == "8"
    # Trigger present but no number after it: the last number in the whole text.
    got = extract("3 + 5 = 8. The answer is unclear.", "number", trigger="The answer is")
    assert (got.answer, got.rule) == ("8", "last_number")


def test_extract_number_first_after_trigger_without_trigger_means_whole_text_follows_it():
    # Zero-shot-CoT's second step: the prompt ended with the trigger; the output begins right after it.
    assert extract_number(" 39.\n\nQ: A pet store had 13 cats and 5 dogs.", mode="first_after_trigger") == "39"


def test_extract_number_rejects_unknown_mode():
    with pytest.raises(ConfigError, match="first_after_trigger"):
        extract_number("8", mode="first")


# --------------------------------------------------------------------------- yes / no


@pytest.mark.parametrize(
    ("text", "expected", "rule"),
    [
        ("Yes. College commencements happen in December, when frost is common.", "yes", "leading_yes_no"),
        ("No, the Spice Girls had five members.", "no", "leading_yes_no"),
        ("There is no frost in May, so the answer is yes.", "yes", "answer_phrase"),
        ('Answer: "No"', "no", "answer_phrase"),
        ("The coin was flipped twice, so it is still heads up. Yes.", "yes", "last_yes_no"),
        ("Whitney flips it and Benito flips it: no, wait, that makes two flips. YES", "yes", "last_yes_no"),
        ("Nobody knows; it is not obvious.", None, "no_yes_no"),  # "Nobody" is not "no"
        ("maybe", None, "no_yes_no"),
    ],
)
def test_extract_yes_no_rules(text, expected, rule):
    assert extract(text, AnswerFormat.YES_NO) == Extraction(raw=text, answer=expected, rule=rule)
    assert extract_yes_no(text) == expected


def test_extract_yes_no_after_trigger():
    text = "Two people flipped the coin. Therefore, the answer (Yes or No) is Yes. No further flips."
    got = extract(text, "yes_no", trigger=ANSWER_TRIGGERS[AnswerFormat.YES_NO])
    assert (got.answer, got.rule) == ("yes", "yes_no_after_trigger")
    assert extract_yes_no(text, trigger="the answer (yes or no) is") == "yes"


# --------------------------------------------------------------------------- choices


@pytest.mark.parametrize(
    ("text", "expected", "rule"),
    [
        ("(C)", "C", "leading_letter"),
        ("C.", "C", "leading_letter"),
        ("E", "E", "leading_letter"),
        ("B) library", "B", "leading_letter"),
        ("The answer is C.", "C", "answer_phrase"),
        ("Because people keep money there, the answer: B", "B", "answer_phrase"),  # not the B of "Because"
        ("The Answer is (D) mall", "D", "answer_phrase"),
        ("answer: option B", "B", "answer_phrase"),
        ("A bank keeps money safe, so (A) is right.", "A", "bracketed_letter"),
        ("Options (A) bank and (B) library; I pick (B).", "B", "bracketed_letter"),
        ("Between bank and mall, E is best.", "E", "last_letter"),
        ("A revolving door is used at a bank.", None, "no_choice"),  # article "A", not a choice
        ("the answer is a bank", None, "no_choice"),  # lower-case "a" is a word
        ("I think Dave went to Edinburgh.", None, "no_choice"),
    ],
)
def test_extract_choice_rules(text, expected, rule):
    assert extract(text, AnswerFormat.CHOICE) == Extraction(raw=text, answer=expected, rule=rule)
    assert extract_choice(text) == expected


def test_extract_choice_after_kojima_trigger_takes_first_letter():
    text = (
        "Let's think step by step. A revolving door controls who goes in. "
        "Therefore, among A through E, the answer is (A) bank, not (D) mall."
    )
    got = extract(text, "choice", trigger=ANSWER_TRIGGERS[AnswerFormat.CHOICE])
    assert (got.answer, got.rule) == ("A", "choice_after_trigger")


def test_extract_choice_respects_letter_set():
    assert extract_choice("The answer is D.", letters="ABC") is None
    assert extract("The answer is D.", "choice", labels="ABCD").answer == "D"
    with pytest.raises(ConfigError, match="capital letters"):
        extract_choice("C", letters="abc")


def test_extract_choice_after_trigger_in_prompt():
    got = extract(" (B) library. Q: next question (A) or (C)?", "choice", after_trigger=True)
    assert (got.answer, got.rule) == ("B", "choice_after_trigger")


# --------------------------------------------------------------------------- labels


SST2 = ("positive", "negative")
TREC = ("abbreviation", "entity", "description", "human", "location", "number")


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("Positive", SST2, "positive"),
        (" negative\n\nReview: a charming film", SST2, "negative"),
        ("Sentiment: NEGATIVE. It is not positive at all.", SST2, "negative"),
        ("This review is positive, not negative.", SST2, "positive"),
        ("It is a positively great film", SST2, None),  # whole words only
        ("location", TREC, "location"),
        ("The question asks for a number (a distance).", TREC, "number"),
        ("The answer type is human", TREC, "human"),
    ],
)
def test_extract_label_first_label_word(text, labels, expected):
    assert extract_label(text, labels) == expected


def test_extract_label_synonyms_map_to_labels_and_keep_label_spelling():
    syn = {"great": "positive", "terrible": "negative"}
    got = extract("This movie is great, not terrible.", "label", labels=["Positive", "Negative"], synonyms=syn)
    assert got == Extraction(raw="This movie is great, not terrible.", answer="Positive", rule="first_label")
    assert extract_label("Terrible acting.", SST2, synonyms=syn) == "negative"


def test_extract_label_prefers_longest_word_at_same_position():
    labels = ("positive", "very positive")
    assert extract_label("Very positive review", labels) == "very positive"


def test_extract_label_after_trigger():
    text = "Negative words appear, but overall the answer is positive."
    assert extract_label(text, SST2) == "negative"
    got = extract(text, "label", labels=SST2, trigger="the answer is")
    assert (got.answer, got.rule) == ("positive", "label_after_trigger")


def test_extract_label_errors():
    with pytest.raises(ConfigError, match="at least one label"):
        extract_label("positive", [])
    with pytest.raises(ConfigError, match="not one of the labels"):
        extract_label("great", SST2, synonyms={"great": "good"})


# --------------------------------------------------------------------------- free text


@pytest.mark.parametrize(
    ("text", "trigger", "expected", "rule"),
    [
        (' "yajo".\n\nQ: Take the last letters of "Lucky Mireya"', None, "yajo", "free_first_line"),
        ("\n\n  **Paris**  \nThe capital of France.", None, "Paris", "free_first_line"),
        ("Whitney -> y, Erika -> a. Therefore, the answer is yajo.", "Therefore, the answer is", "yajo",
         "free_after_trigger"),
        ("y a j o", "the answer is", "y a j o", "free_first_line"),  # trigger absent: whole text
        ("   \n ", None, None, "no_text"),
    ],
)
def test_extract_free_text(text, trigger, expected, rule):
    assert extract(text, AnswerFormat.FREE, trigger=trigger) == Extraction(raw=text, answer=expected, rule=rule)
    assert extract_free_text(text, trigger=trigger) == expected


# --------------------------------------------------------------------------- dispatch, triggers


def test_extract_number_trap_and_rule_names():
    assert extract("I have 3 apples and 5 pears, so 8", "number") == Extraction(
        raw="I have 3 apples and 5 pears, so 8", answer="8", rule="last_number"
    )
    text = "I have 3 apples and 5 pears. The answer is 8. Then 10 more arrive."
    got = extract(text, AnswerFormat.NUMBER, trigger="the answer is")
    assert (got.answer, got.rule) == ("8", "first_number_after_trigger")
    assert extract("none", "number") == Extraction(raw="none", answer=None, rule="no_number")


def test_extraction_is_frozen():
    got = extract("8", "number")
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.answer = "9"


def test_answer_triggers_are_kojimas():
    assert ANSWER_TRIGGERS[AnswerFormat.NUMBER] == "Therefore, the answer (arabic numerals) is"
    assert ANSWER_TRIGGERS[AnswerFormat.CHOICE] == "Therefore, among A through E, the answer is"
    assert ANSWER_TRIGGERS[AnswerFormat.YES_NO] == "Therefore, the answer (Yes or No) is"
    assert ANSWER_TRIGGERS[AnswerFormat.FREE] == "Therefore, the answer is"
    assert set(ANSWER_TRIGGERS) == set(AnswerFormat)


def test_unknown_format_is_rejected():
    with pytest.raises(ValueError):
        extract("8", "float")


# --------------------------------------------------------------------------- normalise, is_correct


@pytest.mark.parametrize(
    ("answer", "fmt", "expected"),
    [
        ("1,250.50", "number", "1250.5"),
        ("$8.00", "number", "8"),
        (" -3 ", "number", "-3"),
        ("8.", "number", "8"),
        ("eight", "number", "eight"),
        ("Yes.", "yes_no", "yes"),
        ("(c)", "choice", "C"),
        ("C.", "choice", "C"),
        ("  Positive ", "label", "positive"),
        ('"New   York".', "free", "new york"),
        (None, "number", None),
    ],
)
def test_normalise(answer, fmt, expected):
    assert normalise(answer, fmt) == expected


@pytest.mark.parametrize(
    ("pred", "gold", "fmt", "expected"),
    [
        ("8.0", "8", "number", True),
        ("1250.5", "1,250.50", "number", True),
        ("9.43", "9.430", "number", True),
        ("8", "9", "number", False),
        ("-5", "5", "number", False),
        (None, "8", "number", False),
        ("yes", "Yes", "yes_no", True),
        ("no", "yes", "yes_no", False),
        ("c", "C", "choice", True),
        ("Positive", "positive", "label", True),
        ("yajo.", "yajo", "free", True),
        ("yajc", "yajo", "free", False),
    ],
)
def test_is_correct(pred, gold, fmt, expected):
    assert is_correct(pred, gold, fmt) is expected


def test_extract_then_is_correct_on_dataset_style_gold():
    got = extract("Debby had 32, her sister 42: 74 - 35 = 39. The answer is 39.", "number", trigger="The answer is")
    assert is_correct(got.answer, "39", "number")


# --------------------------------------------------------------------------- vote, interval


def test_majority_vote_counts_ties_and_none():
    vote = majority_vote(["8", "7", None, "7", "8", "9"])
    assert vote == Vote(winner="8", counts=(("8", 2), ("7", 2), ("9", 1)), agreement=0.4)


def test_majority_vote_clear_winner():
    vote = majority_vote(["7", "8", "8", "8", None])
    assert vote == Vote(winner="8", counts=(("8", 3), ("7", 1)), agreement=0.75)


def test_majority_vote_nothing_to_count():
    assert majority_vote([None, None]) == Vote(winner=None, counts=(), agreement=0.0)
    assert majority_vote([]) == Vote(winner=None, counts=(), agreement=0.0)


@pytest.mark.parametrize(
    ("correct", "total", "expected"),
    [
        (8, 10, (0.4902, 0.9433)),
        (50, 100, (0.4038, 0.5962)),
        (0, 10, (0.0, 0.2775)),
        (10, 10, (0.7225, 1.0)),
        (0, 0, (0.0, 1.0)),
    ],
)
def test_wilson_interval(correct, total, expected):
    low, high = wilson_interval(correct, total)
    assert (round(low, 4), round(high, 4)) == expected


def test_wilson_interval_z_and_errors():
    # z=1 (about 68%) is narrower than the default 95%.
    assert tuple(round(x, 4) for x in wilson_interval(8, 10, z=1.0)) == (0.6491, 0.8964)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)
