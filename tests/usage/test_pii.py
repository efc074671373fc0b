"""governance.usage.pii: precision and recall per kind over corpus/pii.tsv, the validators (Luhn and
issuer prefixes, SSN ranges, IBAN mod 97 and lengths, IPv4/IPv6 edges), phone numbers and their
near misses, and answers that are kind names only (nothing logged, nothing raised)."""

from __future__ import annotations

import logging
import random
import string

import pytest

from governance.usage.detectors import PII_KINDS, builtin_pii_detector
from governance.usage.pii import (
    IBAN_LENGTHS,
    KINDS,
    RegexPIIDetector,
    card_network,
    iban_valid,
    is_ip_address,
    is_payment_card,
    luhn_valid,
    names_a_host,
    ssn_valid,
)
from tests.usage.test_detectors import read_corpus, score

MIN_PRECISION, MIN_RECALL, MAX_NONE_FALSE_POSITIVES = 0.95, 0.90, 0.02
LINES = read_corpus("pii.tsv", negative="none")


@pytest.fixture(scope="module")
def detector() -> RegexPIIDetector:
    found = builtin_pii_detector()
    assert isinstance(found, RegexPIIDetector)
    return found


# ----------------------------------------------------------------------------- the corpus


def test_the_corpus_is_large_enough_and_labelled_with_known_kinds() -> None:
    labels = [label for line in LINES for label in line.labels]
    assert len(LINES) >= 120 and sum(1 for line in LINES if not line.labels) >= 50
    assert set(labels) == set(PII_KINDS) == set(KINDS)
    assert all(labels.count(k) >= 12 for k in PII_KINDS)


def test_precision_and_recall_per_kind(detector: RegexPIIDetector) -> None:
    s = score(LINES, PII_KINDS, detector.kinds)
    low = [n for n, k in s.by_name.items() if k.precision < MIN_PRECISION or k.recall < MIN_RECALL]
    too_many = s.false_alarm_rate > MAX_NONE_FALSE_POSITIVES
    assert not low and not too_many, f"below precision {MIN_PRECISION} / recall {MIN_RECALL}:\n{s.table()}"


# ----------------------------------------------------------------------------- validators


def luhn_complete(body: str) -> str:
    """``body`` with the check digit that makes it Luhn-valid (computed here independently: the
    digit d such that the doubled-alternate sum of body + d is a multiple of 10)."""
    for d in "0123456789":
        digits = [int(c) for c in body + d]
        total = sum(digits[-1::-2]) + sum(sum(divmod(2 * x, 10)) for x in digits[-2::-2])
        if total % 10 == 0:
            return body + d
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("79927398713", True),  # the textbook example
        ("79927398710", False),
        ("4111111111111111", True),
        ("4111111111111112", False),
        ("0", True),
        ("", False),
        ("4111 1111 1111 1111", False),  # digits only
        ("٤١١١١١١١١١١١١١١١", False),  # Arabic-Indic digits are not card digits
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("prefix", "length", "network"),
    [
        ("4", 16, "visa"),
        ("4", 13, "visa"),
        ("4", 19, "visa"),
        ("4", 15, None),
        ("51", 16, "mastercard"),
        ("55", 16, "mastercard"),
        ("56", 16, "maestro"),
        ("2221", 16, "mastercard"),
        ("2720", 16, "mastercard"),
        ("2721", 16, None),
        ("2220", 16, None),
        ("34", 15, "amex"),
        ("37", 15, "amex"),
        ("37", 16, None),
        ("6011", 16, "discover"),
        ("65", 16, "discover"),
        ("3528", 16, "jcb"),
        ("3589", 16, "jcb"),
        ("3590", 16, None),
        ("36", 14, "diners"),
        ("62", 16, "unionpay"),
        ("1", 16, None),
        ("9", 16, None),
        ("0", 16, None),
    ],
)
def test_card_networks_by_prefix_and_length(prefix: str, length: int, network: str | None) -> None:
    rng = random.Random(prefix + str(length))
    number = luhn_complete(prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1)))
    assert len(number) == length and luhn_valid(number)
    assert card_network(number) == network
    assert is_payment_card(number) is (network is not None)
    broken = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not is_payment_card(broken)  # one digit off: Luhn fails, not a card


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("512-34-8765", True),
        ("512 34 8765", True),
        ("512348765", True),
        ("001-01-0001", True),
        ("899-99-9999", True),
        ("665-12-3456", True),
        ("667-12-3456", True),
        ("000-12-3456", False),
        ("666-12-3456", False),
        ("900-12-3456", False),
        ("999-12-3456", False),
        ("123-00-4567", False),
        ("123-45-0000", False),
        ("078-05-1120", False),
        ("219-09-9999", False),
        ("219-09-9998", True),
        ("12-345-6789", True),  # separators are ignored by the validator; the detector wants 3-2-4
        ("5123-48765", True),
        ("51234876", False),
        ("5123487650", False),
        ("abc-de-fghi", False),
    ],
)
def test_ssn_ranges(number: str, valid: bool) -> None:
    assert ssn_valid(number) is valid


EXAMPLE_IBANS = [
    "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "CH93 0076 2011 6238 5295 7",
    "NO93 8601 1117 947",
]


def mod97_iban(country: str, bban: str) -> str:
    """An IBAN for ``bban`` with its check digits computed here (98 - mod 97 of the rearranged number)."""
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


@pytest.mark.parametrize("iban", EXAMPLE_IBANS)
def test_published_example_ibans_are_valid_and_one_change_breaks_them(iban: str) -> None:
    assert iban_valid(iban) and iban_valid(iban.replace(" ", "")) and iban_valid(iban.lower())
    compact = iban.replace(" ", "")
    last = compact[-1]
    changed = compact[:-1] + ("0" if last != "0" else "1")
    assert not iban_valid(changed)  # mod 97 catches every single-character change
    swapped = compact[:2] + compact[3] + compact[2] + compact[4:]
    assert swapped == compact or not iban_valid(swapped)
    assert not iban_valid(compact + "0") and not iban_valid(compact[:-1])  # the country's length


def test_every_country_length_with_computed_check_digits() -> None:
    rng = random.Random(97)
    for country, length in IBAN_LENGTHS.items():
        bban = "".join(rng.choice(string.digits + string.ascii_uppercase) for _ in range(length - 4))
        iban = mod97_iban(country, bban)
        assert len(iban) == length and iban_valid(iban), iban
        assert not iban_valid(mod97_iban(country, bban + "1")), country  # one longer: wrong length
    assert not iban_valid(mod97_iban("XX", "1234567890123456"))  # no such country
    assert not iban_valid("DE89 3704 0044 0532 0130 0!")
    assert not iban_valid("")


@pytest.mark.parametrize(
    ("text", "valid", "host"),
    [
        ("203.0.113.42", True, True),
        ("255.255.255.255", True, False),
        ("255.255.255.0", True, False),  # a netmask
        ("0.0.0.0", True, False),
        ("127.0.0.1", True, False),
        ("224.0.0.251", True, False),
        ("10.0.0.5", True, True),  # private addresses identify a machine on a network
        ("256.0.0.1", False, False),
        ("999.1.1.1", False, False),
        ("01.2.3.4", False, False),
        ("1.2.3", False, False),
        ("1.2.3.4.5", False, False),
        ("2001:db8::1", True, True),
        ("fe80::1ff:fe23:4567:890a", True, True),
        ("::ffff:192.0.2.128", True, True),
        ("::ffff:127.0.0.1", True, False),
        ("::1", True, False),
        ("::", True, False),
        ("ff02::1", True, False),
        ("2001:db8:::1", False, False),
        ("12:30:45", False, False),
        ("00:1a:2b:3c:4d:5e", False, False),
    ],
)
def test_ip_addresses(text: str, valid: bool, host: bool) -> None:
    assert is_ip_address(text) is valid
    assert names_a_host(text) is host


def test_the_detector_agrees_with_ipaddress_on_dotted_quads(detector: RegexPIIDetector) -> None:
    rng = random.Random(4)
    parts = ["0", "1", "9", "10", "99", "100", "127", "192", "223", "224", "239", "240", "255", "256", "300", "01"]
    for _ in range(500):
        quad = ".".join(rng.choice(parts) for _ in range(4))
        assert (detector.kinds(f"host {quad} is up") == {"ip_address"}) is names_a_host(quad), quad


# ----------------------------------------------------------------------------- the detector on text


@pytest.mark.parametrize(
    "text",
    [
        "+44 20 7946 0958",
        "+49 30 901820",
        "+33 1 42 68 53 00",
        "+81 3-1234-5678",
        "+7 495 123-45-67",
        "+86 10 6552 9988",
        "0044 20 7946 0958",
        "(212) 555-0123",
        "212-555-0123",
        "212.555.0123",
        "1-800-555-0199",
        "call me on 2125550123",
        "202-555-0143 2024",  # the year after it is not part of the number
    ],
)
def test_phone_numbers(detector: RegexPIIDetector, text: str) -> None:
    assert detector.kinds(text) == {"phone"}


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01",
        "on 12/01/2026",
        "Python 3.11.7",
        "order 12345",
        "order 2125550123",
        "the id 2125550123",
        "ISBN 978-3-16-148410-0",
        "ISBN-10: 0-306-40615-2",
        "$1,234,567.89",
        "€2.125.550.123",
        "pi is 3.141592653",
        "+1 000 000 0000",
        "555-1234",
        "(123) 456-7890",
        "10 20 30 40 50 60 70",
        "2020 2021 2022 2023",
        "1717171717",
        "3.1415926535",
    ],
)
def test_phone_near_misses(detector: RegexPIIDetector, text: str) -> None:
    assert "phone" not in detector.kinds(text)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("alice@example.com", True),
        ("ALICE@EXAMPLE.COM", True),
        ("a.b+tag@mail.example.co.uk.", True),
        ("<bob@example.org>", True),
        ("jörg@bücher.example", True),
        ("user@localhost", False),
        ("icon@2x.png", False),
        (".alice@example.com", False),  # a local part does not start with a dot
        ("alice.@example.com", False),
        ("al..ice@example.com", False),
        ("@mention", False),
        ("a@b", False),
        ("name@example.c", False),
    ],
)
def test_email_addresses(detector: RegexPIIDetector, text: str, found: bool) -> None:
    assert (detector.kinds(text) == {"email"}) is found


def test_ssn_needs_separators_or_a_keyword(detector: RegexPIIDetector) -> None:
    assert detector.kinds("SSN 512348765") == {"us_ssn"}
    assert detector.kinds("social security number: 512-34-8765") == {"us_ssn"}
    assert detector.kinds("ref 512348765") == frozenset()
    assert detector.kinds("SSN 666348765") == frozenset()


def test_iban_followed_by_more_words_and_digits_inside_an_iban(detector: RegexPIIDetector) -> None:
    assert detector.kinds("pay DE89 3704 0044 0532 0130 00 EUR 12 today") == {"iban"}
    assert detector.kinds("pay DE89370400440532013000.") == {"iban"}
    assert detector.kinds("XDE89370400440532013000") == frozenset()  # inside a longer word


def test_several_kinds_in_one_text(detector: RegexPIIDetector) -> None:
    text = (
        "mail alice@example.com, call +44 20 7946 0958, card 4111 1111 1111 1111, SSN 512-34-8765, "
        "IBAN DE89370400440532013000, from 203.0.113.9"
    )
    assert detector.kinds(text) == set(PII_KINDS)


def test_answers_are_kind_names_only_and_nothing_is_logged(
    detector: RegexPIIDetector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rng = random.Random(11)
    texts = [line.text for line in LINES]
    texts += [" ".join(rng.sample(texts, 8)) for _ in range(30)]
    for text in texts:
        found = detector.kinds(text)
        assert isinstance(found, frozenset) and found <= set(PII_KINDS)
        assert not any(name in text and name not in PII_KINDS for name in found)
    assert caplog.records == []


def test_garbage_never_raises(detector: RegexPIIDetector) -> None:
    rng = random.Random(5)
    alphabet = "0123456789 +-().@:abcdefABCDEF\u00a0\u0663"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert detector.kinds(text) <= set(PII_KINDS)
    assert detector.kinds("9" * 5000) == frozenset()
    assert detector.kinds("+" * 100 + "(" * 100) == frozenset()
