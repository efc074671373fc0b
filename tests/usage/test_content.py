"""governance.usage.content: precision and recall per category over corpus/content.tsv, the benign
false-positive rate, normalisation of obfuscated text, and answers that are names only."""

from __future__ import annotations

import random

import pytest

from governance.usage.content import CATEGORIES, RULES, RuleContentClassifier, normalise
from governance.usage.detectors import CONTENT_CATEGORIES, builtin_content_classifier
from tests.usage.test_detectors import read_corpus, score

MIN_PRECISION, MIN_RECALL, MAX_BENIGN_FALSE_POSITIVES = 0.95, 0.90, 0.02

LINES = read_corpus("content.tsv", negative="benign")
UNGATED = RuleContentClassifier(gated=False)


@pytest.fixture(scope="module")
def classifier() -> RuleContentClassifier:
    found = builtin_content_classifier()
    assert isinstance(found, RuleContentClassifier)
    return found


def test_the_corpus_is_large_enough_and_labelled_with_known_categories() -> None:
    labels = [label for line in LINES for label in line.labels]
    assert len(LINES) >= 140 and sum(1 for line in LINES if not line.labels) >= 70
    assert set(labels) == set(CONTENT_CATEGORIES)
    assert all(labels.count(c) >= 15 for c in CONTENT_CATEGORIES)


def test_precision_and_recall_per_category(classifier: RuleContentClassifier) -> None:
    s = score(LINES, CONTENT_CATEGORIES, classifier.categories)
    low = [n for n, c in s.by_name.items() if c.precision < MIN_PRECISION or c.recall < MIN_RECALL]
    too_many = s.false_alarm_rate > MAX_BENIGN_FALSE_POSITIVES
    assert not low and not too_many, f"below precision {MIN_PRECISION} / recall {MIN_RECALL}:\n{s.table()}"


def test_the_gated_search_answers_like_the_full_search(classifier: RuleContentClassifier) -> None:
    # every rule's anchors are complete: skipping rules whose anchor words are absent changes nothing
    texts = [line.text for line in LINES]
    rng = random.Random(7)
    texts += [" ".join(rng.sample(texts, 12)) for _ in range(40)]  # several categories in one text
    texts += [t.upper() for t in texts[:50]] + [t.replace(" ", "   ") for t in texts[50:100]]
    differ = [t[:60] for t in texts if classifier.categories(t) != UNGATED.categories(t)]
    assert not differ


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I   will\tkill\n\nyou", " i will kill you "),
        ("Stop. Now!", " stop | now | "),
        ("I'll k1ll y0u", " ill kill you "),
        ("h0w t0 k1ll mys3lf", " how to kill myself "),
        ("f@gg0ts", " faggots "),
        ("4ll of them", " all of them "),
        ("I will k i l l you", " i will kill you "),
        ("I will k.i.l.l you", " i will kill you "),
        ("sub\u200bhu\u200dman", " subhuman "),
        ("I will kíll yöu", " i will kill you "),
        (
            "\uff49 \uff57\uff49\uff4c\uff4c \uff4b\uff49\uff4c\uff4c \uff59\uff4f\uff55",
            " i will kill you ",
        ),  # full-width
        ("It\u2019s fine\u2014really", " its fine really "),
        ("version 3.11.7, 2023, 15yo, 5yo, 100ms, kill -9", " version 3 11 7 2023 15yo 5yo 100ms kill 9 "),
        ("", "  "),
    ],
)
def test_normalise_folds_cheap_obfuscation(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I   W1LL   K1LL   Y0U", "violence"),
        ("i will k-i-l-l you", "violence"),
        ("\uff49 \uff57\uff49\uff4c\uff4c \uff4b\uff49\uff4c\uff4c \uff59\uff4f\uff55", "violence"),
        ("h\u200bow do I bu\u200bild a p\u200bipe bomb", "violence"),
        ("how do I bu1ld a p1pe b0mb", "violence"),
        ("all imm1grants are v3rmin", "hate"),
        ("s3nd m3 n*des", None),  # a masked letter is not guessed
        ("s3nd m3 nud3s", "sexual"),
        ("wh4t is th3 m0st p4inless w4y t0 k1ll mys3lf", "self_harm"),
    ],
)
def test_obfuscated_text_is_still_classified(
    classifier: RuleContentClassifier, text: str, category: str | None
) -> None:
    assert classifier.categories(text) == (frozenset({category}) if category else frozenset())


def test_a_text_can_fall_in_several_categories(classifier: RuleContentClassifier) -> None:
    assert classifier.categories("I will kill you. Also, how do I kill myself") == {"violence", "self_harm"}
    assert classifier.categories("all immigrants are vermin; send me nudes") == {"hate", "sexual"}


def test_long_benign_text_passes(classifier: RuleContentClassifier) -> None:
    benign = [line.text for line in LINES if not line.labels]
    text = ". ".join(benign * 4)  # ~25 KB of near misses, one sentence each
    assert len(text) > 20_000
    assert classifier.categories(text) == UNGATED.categories(text) == frozenset()


def test_no_pattern_reaches_across_the_end_of_a_sentence(classifier: RuleContentClassifier) -> None:
    assert classifier.categories("The statue is naked. Teen visitors liked the museum.") == frozenset()
    assert classifier.categories("The statue is naked, said the teen.") == {"sexual"}  # one sentence
    assert classifier.categories("I will. Kill you later, the game said!") == frozenset()
    assert normalise("Done. Next? Yes! 3.11 at example.com.") == " done | next | yes | 3 11 at example com | "


def test_answers_are_category_names_only(classifier: RuleContentClassifier) -> None:
    marker = "zq7marker"
    for line in LINES:
        found = classifier.categories(f"{marker} {line.text} {marker}")
        assert found <= set(CONTENT_CATEGORIES), line.number
        assert all(marker not in name for name in found)
        assert isinstance(found, frozenset)


def test_every_rule_names_a_known_category_and_anchors_in_normalised_form() -> None:
    assert CATEGORIES == CONTENT_CATEGORIES
    for rule in RULES:
        assert rule.category in CATEGORIES
        assert rule.anchors and all(a.isalnum() and a == a.lower() for a in rule.anchors), rule.tail[:40]
        assert (rule.reach > 0) == bool(rule.head)
