"""governance.usage.detectors: the built-in singletons, the plug-in loader (good specs, every bad
spec → its ERR_PLUGIN_* constant, caching, answers checked to be names), and the corpus scoring
used by test_content.py and test_pii.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from governance.errors import GovernanceError
from governance.usage import content, detectors, pii
from governance.usage.detectors import (
    CONTENT_CATEGORIES,
    CONTENT_EXAMPLE,
    CONTENT_PLUGIN,
    ERR_PLUGIN_CALL,
    ERR_PLUGIN_FACTORY,
    ERR_PLUGIN_IMPORT,
    ERR_PLUGIN_RESULT,
    ERR_PLUGIN_SHAPE,
    ERR_PLUGIN_SPEC,
    PII_EXAMPLE,
    PII_KINDS,
    PII_PLUGIN,
    builtin_content_classifier,
    builtin_pii_detector,
    load_content_classifier,
    load_pii_detector,
)

CORPUS = Path(__file__).parent / "corpus"
HERE = __name__  # the plug-ins below are loaded by their spec, e.g. "tests.usage.test_detectors:make_classifier"

# ----------------------------------------------------------------------------- corpus scoring


@dataclass(frozen=True)
class Line:
    number: int  # line number in the file
    labels: frozenset[str]  # empty: benign / none
    text: str


def read_corpus(name: str, *, negative: str) -> list[Line]:
    """``label<TAB>text`` lines of ``corpus/<name>`` (``#`` lines are comments); ``negative`` is the
    label of lines that must give nothing; other labels are comma-separated names."""
    lines = []
    for number, raw in enumerate((CORPUS / name).read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        label, sep, text = raw.partition("\t")
        assert sep and text.strip(), f"{name}:{number}: expected label<TAB>text"
        labels = frozenset() if label == negative else frozenset(label.split(","))
        lines.append(Line(number, labels, text))
    return lines


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    wrong: list[int] = field(default_factory=list)  # line numbers

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Scores:
    by_name: dict[str, Score]
    negatives: int
    false_alarms: list[int]  # line numbers of negative lines that got a name
    texts: dict[int, str]
    got: dict[int, frozenset[str]]

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / self.negatives if self.negatives else 0.0

    def table(self) -> str:
        rows = [f"{'name':<14} {'prec':>6} {'recall':>6} {'tp':>4} {'fp':>4} {'fn':>4}  wrong lines"]
        for name, s in self.by_name.items():
            rows.append(
                f"{name:<14} {s.precision:>6.3f} {s.recall:>6.3f} {s.tp:>4} {s.fp:>4} {s.fn:>4}  {s.wrong or ''}"
            )
        rows.append(f"negative lines with a false alarm: {len(self.false_alarms)}/{self.negatives} {self.false_alarms}")
        shown = sorted({n for s in self.by_name.values() for n in s.wrong} | set(self.false_alarms))[:20]
        rows += [f"  line {n}: got {sorted(self.got[n])}: {self.texts[n][:60]!r}" for n in shown]
        return "\n".join(rows)


def score(lines: Iterable[Line], names: Iterable[str], predict: Callable[[str], frozenset[str]]) -> Scores:
    by_name = {name: Score() for name in names}
    negatives, false_alarms, texts, got = 0, [], {}, {}
    for line in lines:
        found = predict(line.text)
        texts[line.number], got[line.number] = line.text, found
        assert found <= set(by_name), f"line {line.number}: unknown names {sorted(found - set(by_name))}"
        if not line.labels:
            negatives += 1
            if found:
                false_alarms.append(line.number)
        for name, s in by_name.items():
            want, have = name in line.labels, name in found
            s.tp += want and have
            s.fp += have and not want
            s.fn += want and not have
            if want != have:
                s.wrong.append(line.number)
    return Scores(by_name, negatives, false_alarms, texts, got)


def test_score_counts_and_names_the_wrong_lines() -> None:
    lines = [Line(1, frozenset({"a"}), "x"), Line(2, frozenset(), "y"), Line(3, frozenset({"a", "b"}), "z")]
    answers = {"x": frozenset({"a"}), "y": frozenset({"b"}), "z": frozenset({"a"})}
    s = score(lines, ["a", "b"], answers.__getitem__)
    assert (s.by_name["a"].tp, s.by_name["a"].fp, s.by_name["a"].fn) == (2, 0, 0)
    assert (s.by_name["b"].tp, s.by_name["b"].fp, s.by_name["b"].fn, s.by_name["b"].wrong) == (0, 1, 1, [2, 3])
    assert s.by_name["b"].precision == 0.0 and s.by_name["a"].recall == 1.0
    assert s.negatives == 1 and s.false_alarms == [2] and s.false_alarm_rate == 1.0
    assert "line 2" in s.table() and "line 3" in s.table()


# ----------------------------------------------------------------------------- the built-ins


def test_builtin_names_are_the_detectors_own() -> None:
    assert CONTENT_CATEGORIES == content.CATEGORIES == ("hate", "violence", "sexual", "self_harm")
    assert PII_KINDS == pii.KINDS == ("email", "phone", "payment_card", "us_ssn", "iban", "ip_address")
    assert all(detectors.NAME_PATTERN.fullmatch(n) for n in CONTENT_CATEGORIES + PII_KINDS)


def test_builtins_are_cached_singletons() -> None:
    classifier, detector = builtin_content_classifier(), builtin_pii_detector()
    assert isinstance(classifier, content.RuleContentClassifier) and isinstance(detector, pii.RegexPIIDetector)
    assert builtin_content_classifier() is classifier and builtin_pii_detector() is detector
    assert load_content_classifier("builtin") is classifier and load_content_classifier(" builtin ") is classifier
    assert load_pii_detector("builtin") is detector
    assert classifier.categories("I will kill you") == {"violence"}
    assert detector.kinds("mail alice@example.com") == {"email"}


# ----------------------------------------------------------------------------- plug-ins

calls = {"classifier": 0, "slow": 0}


class KeywordClassifier:
    """A stand-in for a deployment's own classifier."""

    def categories(self, text: str) -> frozenset[str]:
        return frozenset({"spam"}) if "buy now" in text.lower() else frozenset()


def make_classifier() -> KeywordClassifier:
    calls["classifier"] += 1
    return KeywordClassifier()


class Factories:
    @staticmethod
    def detector() -> object:
        class TaxIdDetector:
            def kinds(self, text: str) -> list[str]:  # a list is accepted and becomes a frozenset
                return ["tax_id"] if "tax id" in text else []

        return TaxIdDetector()


def make_slow_classifier() -> KeywordClassifier:
    calls["slow"] += 1
    time.sleep(0.05)
    return KeywordClassifier()


def make_leaky_classifier() -> object:
    class Leaky:
        def categories(self, text: str) -> frozenset[str]:
            return frozenset(text.split())  # returns the text itself: never let it through

    return Leaky()


def make_detector_returning_text() -> object:
    class Leaky:
        def kinds(self, text: str) -> str:
            return "alice@example.com"

    return Leaky()


def make_nothing() -> object:
    return object()


def broken_factory() -> object:
    raise RuntimeError("model file missing")


NOT_CALLABLE = 42


def test_a_plugin_is_loaded_once_per_spec_and_answers() -> None:
    spec = f"{HERE}:make_classifier"
    before = calls["classifier"]
    first = load_content_classifier(spec)
    assert load_content_classifier(spec) is first
    assert calls["classifier"] == before + 1
    assert first.categories("BUY NOW, limited offer") == {"spam"}
    assert first.categories("hello") == frozenset()


def test_a_factory_may_be_an_attribute_path_and_answer_with_a_list() -> None:
    detector = load_pii_detector(f"{HERE}:Factories.detector")
    assert detector.kinds("my tax id is on file") == frozenset({"tax_id"})
    assert detector.kinds("nothing here") == frozenset()


def test_concurrent_loads_of_one_spec_build_it_once() -> None:
    spec, before, got = f"{HERE}:make_slow_classifier", calls["slow"], []
    threads = [threading.Thread(target=lambda: got.append(load_content_classifier(spec))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls["slow"] == before + 1 and len(got) == 8 and all(g is got[0] for g in got)


@pytest.mark.parametrize("spec", ["foo", "", "mycompany.safety", "a:b:c", "mod:", ":factory", "1mod:f", "mod:f()"])
def test_a_spec_that_is_not_module_factory_is_refused(spec: str) -> None:
    with pytest.raises(GovernanceError) as exc:
        load_content_classifier(spec)
    assert str(exc.value) == ERR_PLUGIN_SPEC.format(what=CONTENT_PLUGIN, spec=spec, example=CONTENT_EXAMPLE)
    with pytest.raises(GovernanceError) as exc:
        load_pii_detector(spec)
    assert str(exc.value) == ERR_PLUGIN_SPEC.format(what=PII_PLUGIN, spec=spec, example=PII_EXAMPLE)


def test_the_spec_message_reads_as_documented() -> None:
    # the one place the text is spelled out: what a policy author sees for a typo
    assert ERR_PLUGIN_SPEC.format(what=CONTENT_PLUGIN, spec="foo", example=CONTENT_EXAMPLE) == (
        "content_filter classifier 'foo' is not 'builtin' or 'package.module:factory' "
        "(e.g. mycompany.safety:make_classifier)"
    )


def test_a_module_that_cannot_be_imported_is_refused() -> None:
    spec = "no_such_package_for_governance.safety:make"
    with pytest.raises(GovernanceError) as exc:
        load_content_classifier(spec)
    assert isinstance(exc.value.__cause__, ImportError)
    assert str(exc.value) == ERR_PLUGIN_IMPORT.format(
        what=CONTENT_PLUGIN, spec=spec, module="no_such_package_for_governance.safety", error=exc.value.__cause__
    )


@pytest.mark.parametrize("factory", ["no_such_factory", "NOT_CALLABLE", "Factories.missing"])
def test_a_factory_that_is_missing_or_not_callable_is_refused(factory: str) -> None:
    spec = f"{HERE}:{factory}"
    with pytest.raises(GovernanceError) as exc:
        load_pii_detector(spec)
    assert str(exc.value) == ERR_PLUGIN_FACTORY.format(what=PII_PLUGIN, spec=spec, module=HERE, factory=factory)


def test_a_factory_that_fails_is_refused_and_not_cached() -> None:
    spec = f"{HERE}:broken_factory"
    for _ in range(2):  # not cached: the second load tries again
        with pytest.raises(GovernanceError) as exc:
            load_content_classifier(spec)
        assert str(exc.value) == ERR_PLUGIN_CALL.format(
            what=CONTENT_PLUGIN, spec=spec, factory="broken_factory", error="RuntimeError: model file missing"
        )
        assert isinstance(exc.value.__cause__, RuntimeError)


def test_an_object_without_the_method_is_refused() -> None:
    spec = f"{HERE}:make_nothing"
    with pytest.raises(GovernanceError) as exc:
        load_content_classifier(spec)
    assert str(exc.value) == ERR_PLUGIN_SHAPE.format(
        what=CONTENT_PLUGIN, spec=spec, factory="make_nothing", type="object", method="categories"
    )
    with pytest.raises(GovernanceError) as exc:
        load_pii_detector(f"{HERE}:make_classifier")  # a classifier is not a PII detector
    assert str(exc.value) == ERR_PLUGIN_SHAPE.format(
        what=PII_PLUGIN,
        spec=f"{HERE}:make_classifier",
        factory="make_classifier",
        type="KeywordClassifier",
        method="kinds",
    )


def test_a_plugin_answer_that_is_not_names_is_refused_without_echoing_it() -> None:
    secret = "alice@example.com"
    leaky = load_content_classifier(f"{HERE}:make_leaky_classifier")
    assert leaky.categories("") == frozenset()  # nothing is fine
    with pytest.raises(GovernanceError) as exc:
        leaky.categories(f"write to {secret} now")
    assert str(exc.value) == ERR_PLUGIN_RESULT.format(
        what=CONTENT_PLUGIN,
        spec=f"{HERE}:make_leaky_classifier",
        type="a frozenset holding something other than names",
        example_name="violence",
    )
    assert secret not in str(exc.value)
    text_detector = load_pii_detector(f"{HERE}:make_detector_returning_text")
    with pytest.raises(GovernanceError) as exc:
        text_detector.kinds("anything")
    assert secret not in str(exc.value) and "a str" in str(exc.value)
