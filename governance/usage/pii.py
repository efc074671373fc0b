"""governance.usage.pii: the built-in PII detector (offline: regular expressions, then validators).

``RegexPIIDetector().kinds(text)`` names the kinds of :data:`KINDS` found in ``text``, and
nothing else: no matched text is returned, kept, logged or put in an exception.

Each kind is a cheap candidate expression followed by a validator, so that a number that only
looks like PII is not reported:

- ``email``: an RFC 5322-ish address (letters, digits and ``._%+-`` before the ``@``, no
  leading, trailing or doubled dot) at a dotted domain whose last label is 2-63 letters (or
  ``xn--`` punycode); ``name@2x.png`` (an image file name) is not an address. No DNS, no
  public-suffix list.
- ``phone``: 7-15 digits with separators, a ``+`` / ``00`` country code or parentheses; each
  candidate is parsed by ``phonenumbers`` (offline metadata) with region ``US`` and kept only
  when ``is_valid_number``: any region with a ``+`` prefix, US numbers without one. Digits
  without separators count only after a word like "call", "phone" or "tel"; dates, dotted
  versions, IP addresses, amounts and numbers after "order", "ISBN", "invoice", "ticket" … do not.
- ``payment_card``: 13-19 digits, optionally grouped by spaces or dashes, Luhn-valid and with a
  known issuer prefix and length (:func:`card_network`).
- ``us_ssn``: ``AAA-GG-SSSS`` with dashes or spaces (nine plain digits only right after "SSN" or
  "social security"), outside the ranges never issued (area 000, 666, 900-999; group 00;
  serial 0000) and not one of the well-known advertising numbers (078-05-1120, 219-09-9999).
- ``iban``: two letters, two check digits and the account part, written without spaces or in
  groups of four (the last group shorter); the length of the country (:data:`IBAN_LENGTHS`,
  from the SWIFT IBAN registry) and ISO 7064 mod 97-10. ``python-stdnum`` is not a dependency;
  the check is a few lines (:func:`iban_valid`).
- ``ip_address``: IPv4 (four parts, each 0-255 without leading zeros, ``1.2.3`` and
  ``1.2.3.4.5`` are not addresses; the rules of :mod:`ipaddress`, which the tests hold the fast
  check here to) and IPv6 (validated by :mod:`ipaddress`). Addresses that name no one are not
  reported: loopback (127.0.0.1, ::1), unspecified (0.0.0.0, ::), multicast
  and reserved (so netmasks like 255.255.255.0 are not PII), nor a dotted number after
  "version", "build", "chapter", "section" ….

Speed: one scan finds every number-shaped candidate (IBAN, SSN, card, IPv4, phone; its first
character class is ``[+(0-9]``, so ``re`` skips letters quickly); e-mail addresses are looked for
only around an ``@`` followed by a dotted domain, IPv6 addresses only in text with ``::`` or seven
colons, bare SSNs only after their keyword. The validators run only on candidates, and stop at
the first valid one of each kind. About 0.01-0.03 ms for 100 bytes and 0.3-0.5 ms for 4 KB of
prose with or without PII, ~1 ms for 4 KB made only of number-like near misses
(``benchmarks/usage_detectors.py``; the target is 5 ms for 4 KB).

Limits: formats that are not written down here are not found (national phone numbers of other
countries without ``+``, SSNs without separators and without the keyword, card numbers split
over lines, obfuscated addresses like "alice at example dot com"); a valid-looking number that
is not PII (a Luhn-valid test card, a documentation IP address) is reported. The candidate
expressions were tuned on ``tests/usage/corpus/pii.tsv``, whose figures are therefore agreement
with those lines, not accuracy on real traffic. A deployment that needs more brings its own
detector through ``governance.usage.detectors.load_pii_detector``.
"""

from __future__ import annotations

import ipaddress
import re

import phonenumbers

EMAIL = "email"
PHONE = "phone"
PAYMENT_CARD = "payment_card"
US_SSN = "us_ssn"
IBAN = "iban"
IP_ADDRESS = "ip_address"
KINDS: tuple[str, ...] = (EMAIL, PHONE, PAYMENT_CARD, US_SSN, IBAN, IP_ADDRESS)
"""The kinds this detector reports (``detectors.PII_KINDS`` is the same tuple)."""

# ----------------------------------------------------------------------------- validators


def luhn_valid(digits: str) -> bool:
    """Whether the string of digits ``digits`` passes the Luhn (mod 10) check."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# (network, lowest prefix, highest prefix, allowed lengths); prefixes compare on as many
# leading digits as they have
_CARD_RANGES: tuple[tuple[str, int, int, frozenset[int]], ...] = (
    ("visa", 4, 4, frozenset({13, 16, 19})),
    ("mastercard", 51, 55, frozenset({16})),
    ("mastercard", 2221, 2720, frozenset({16})),
    ("amex", 34, 34, frozenset({15})),
    ("amex", 37, 37, frozenset({15})),
    ("discover", 6011, 6011, frozenset(range(16, 20))),
    ("discover", 644, 649, frozenset(range(16, 20))),
    ("discover", 65, 65, frozenset(range(16, 20))),
    ("discover", 622126, 622925, frozenset(range(16, 20))),
    ("unionpay", 62, 62, frozenset(range(16, 20))),
    ("jcb", 3528, 3589, frozenset(range(16, 20))),
    ("diners", 300, 305, frozenset(range(14, 20))),
    ("diners", 36, 36, frozenset(range(14, 20))),
    ("diners", 38, 39, frozenset(range(14, 20))),
    ("maestro", 50, 50, frozenset(range(12, 20))),
    ("maestro", 56, 58, frozenset(range(12, 20))),
    ("maestro", 6304, 6304, frozenset(range(12, 20))),
    ("maestro", 6759, 6763, frozenset(range(12, 20))),
    ("mir", 2200, 2204, frozenset({16, 17, 18, 19})),
    ("rupay", 60, 60, frozenset({16})),
    ("rupay", 81, 82, frozenset({16})),
)


def card_network(digits: str) -> str | None:
    """The card network whose issuer prefix and length ``digits`` has (``visa``,
    ``mastercard``, ``amex``, ``discover``, ``unionpay``, ``jcb``, ``diners``, ``maestro``,
    ``mir``, ``rupay``), or None. The Luhn check is :func:`luhn_valid`."""
    if not digits.isdigit() or not digits.isascii():
        return None
    for network, low, high, lengths in _CARD_RANGES:
        if len(digits) in lengths and low <= int(digits[: len(str(low))]) <= high:
            return network
    return None


def is_payment_card(digits: str) -> bool:
    """Whether ``digits`` (digits only) is a card number: Luhn-valid with a known prefix and length."""
    return card_network(digits) is not None and luhn_valid(digits)


_SSN_ADVERTISING = frozenset({"078051120", "219099999"})


def ssn_valid(number: str) -> bool:
    """Whether ``number`` (``AAA-GG-SSSS``, ``AAA GG SSSS`` or nine digits) is a US social security
    number that can have been issued: not area 000, 666 or 900-999, not group 00, not serial
    0000, not an advertising number (078-05-1120, 219-09-9999)."""
    digits = number.replace("-", "").replace(" ", "")
    if len(digits) != 9 or not digits.isdigit() or not digits.isascii():
        return False
    area, group, serial = int(digits[:3]), digits[3:5], digits[5:]
    if area == 0 or area == 666 or area >= 900 or group == "00" or serial == "0000":
        return False
    return digits not in _SSN_ADVERTISING


IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
"""IBAN length per country (SWIFT IBAN registry; the countries that use IBANs)."""


def iban_valid(text: str) -> bool:
    """Whether ``text`` (spaces allowed, any case) is an IBAN: a country of :data:`IBAN_LENGTHS`,
    that country's length, letters and digits only, and ISO 7064 mod 97-10 (the number
    rearranged, letters as 10-35, modulo 97 is 1)."""
    iban = text.replace(" ", "").upper()
    if not iban.isascii() or not iban.isalnum() or IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    if not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def is_ip_address(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address (:mod:`ipaddress` rules: IPv4 parts 0-255 without
    leading zeros). Whether it is reported as PII is :func:`names_a_host`."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def names_a_host(text: str) -> bool:
    """Whether ``text`` is an IP address that can point at someone's machine: valid, and not
    loopback, unspecified, multicast or reserved (the netmasks 255.x.x.x are reserved); an IPv4
    address mapped into IPv6 (``::ffff:192.0.2.128``) is judged as the IPv4 address."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:192.0.2.128 is 192.0.2.128
    return not (address.is_loopback or address.is_unspecified or address.is_multicast or address.is_reserved)


# ----------------------------------------------------------------------------- candidates

# each expression starts with its first character class and a look-behind after that character
# checks what precedes it (re can then skip to candidate characters quickly)
_EMAIL = re.compile(
    r"[\w%+-](?<![\w.%+-][\w%+-])[\w.%+-]{0,63}@"
    r"((?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59}))(?![\w-]|\.[^\W_])",
)
_DOMAIN = re.compile(r"[^\W_][\w-]*\.[^\W_]")
_IMAGE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff"})
# one scan finds the numbers: the rest of an IBAN after its two letters, an SSN shape, a card
# shape (13-19 digits), an IPv4 shape, or else a phone-number shape (the first alternative that
# fits a candidate wins, and its characters are no other candidate's)
_NUMBERS = re.compile(
    r"[+(\d](?:"
    r"(?<=[A-Za-z]{2}\d)(?<![A-Za-z0-9][A-Za-z]{2}\d)"
    r"(?P<iban>\d(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)(?![A-Za-z0-9]))"
    r"|(?<=\d)(?<![\w.,$-]\d)(?P<ssn>\d\d(?P<sep>[- ])\d\d(?P=sep)\d{4}(?![\w]|[.,-]\d))"
    r"|(?<=\d)(?<![\w.,$-]\d)(?P<card>(?:[ -]?\d){12,18}(?![\w]|[.,-]\d))"
    r"|(?<=\d)(?<![\w.:]\d)(?P<ipv4>\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\w|\.\d))"
    r"|(?<![\w+.,/$#@-][+(\d])(?P<phone>(?:[ ().\-\u00a0]{0,2}\d){6,15}(?![\w]|[.,-]\d))"
    r")"
)
_SSN_KEYWORD = re.compile(
    r"(?:ssn|ss#|social security(?: number| no\.?| #)?)\W{0,4}(?:(?:is|was|number|no\.?|#)\W{1,3})?"
    r"(\d{9}|\d{3}([- ])\d\d\2\d{4})(?!\w)",
    re.IGNORECASE,
)
_IPV6 = re.compile(
    r"[0-9A-Fa-f:](?<![\w:.][0-9A-Fa-f:])[0-9A-Fa-f]{0,3}:(?:[0-9A-Fa-f]{0,4}:){0,6}"
    r"(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?![\w:]|\.\w)"
)
_DOTTED_US = re.compile(r"\(?\d{3}\)?\.\d{3}\.\d{4}")
_DATE = re.compile(r"\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4}")
_WORD = re.compile(r"[A-Za-z]+")
# the last words before a candidate: these make it a phone number even without separators …
_PHONE_WORDS = frozenset("call phone tel telephone mobile cell fax whatsapp sms text reach dial ring".split())
# … and these make it some other number
_NOT_PHONE_WORDS = frozenset(
    "isbn issn order invoice ticket account acct ref reference tracking serial sku case build version ver release "
    "patent zip postcode id".split()
)
# a dotted number after one of these words is a version or a section number, not an address
_VERSION_CONTEXT = re.compile(
    r"(?:version|ver|release|build|firmware|driver|v|chapter|ch|section|sec|clause|article|art|paragraph|para|figure"
    r"|fig|table|step|item|rule|\u00a7)\W{0,2}\Z",
    re.IGNORECASE,
)
_CONTEXT = 30  # characters before a candidate read for its context
_PHONE_RETRIES = 2  # a candidate that is not a number is tried again without its last group
_NOT_DIGITS = str.maketrans("", "", " ().-\u00a0+")


def _is_phone(text: str, m: re.Match[str]) -> bool:
    candidate = m.group().strip(" ().-\u00a0")
    if candidate.startswith("00") and not candidate.startswith("000"):
        candidate = "+" + candidate[2:]
    words: set[str] | None = None  # the last words before the candidate, read when needed
    for _ in range(_PHONE_RETRIES + 1):
        digits = candidate.translate(_NOT_DIGITS)
        if len(digits) < 7 or not digits.isdigit():
            return False
        if candidate.startswith("+"):
            if len(digits) <= 15 and _valid_number(candidate, international=True):
                return True
        elif _nanp_shaped(digits) and ("." not in candidate or _DOTTED_US.fullmatch(candidate)):
            # a dotted number is a version, a decimal or a date unless it is 3.3.4
            if words is None:
                before = text[max(0, m.start() - _CONTEXT) : m.start()]
                words = {w.lower() for w in _WORD.findall(before)[-3:]}
            if words.isdisjoint(_NOT_PHONE_WORDS) and not _DATE.fullmatch(candidate):
                # a bare run of digits is an id of some kind unless called a phone number
                if (digits != candidate or not words.isdisjoint(_PHONE_WORDS)) and _valid_number(
                    candidate, international=False
                ):
                    return True
        if " " not in candidate:
            return False
        candidate = candidate.rsplit(" ", 1)[0].rstrip(" ().-\u00a0")
    return False


def _valid_number(candidate: str, *, international: bool) -> bool:
    try:
        number = phonenumbers.parse(candidate, "US")
    except phonenumbers.NumberParseException:
        return False
    if international:
        return phonenumbers.is_valid_number(number)
    return phonenumbers.is_valid_number_for_region(number, "US")


def _nanp_shaped(digits: str) -> bool:
    """Whether ``digits`` has the shape of a North American number: ten digits (eleven with a
    leading 1), area code and exchange not starting with 0 or 1."""
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return len(digits) == 10 and digits[0] not in "01" and digits[3] not in "01"


class RegexPIIDetector:
    """The built-in PII detector (see the module docstring). Stateless and safe to share between
    threads."""

    def __init__(self) -> None:
        # load phonenumbers' metadata for the default region now, not on the first request
        phonenumbers.is_valid_number(phonenumbers.parse("+1 202 555 0143", "US"))

    def kinds(self, text: str) -> frozenset[str]:
        """The kinds of :data:`KINDS` found in ``text`` (names only)."""
        found: set[str] = set()
        if "@" in text and _has_email(text):
            found.add(EMAIL)
        if ("::" in text or text.count(":") >= 7) and _has_ipv6(text):
            found.add(IP_ADDRESS)
        for m in _NUMBERS.finditer(text):
            kind = m.lastgroup
            if kind == "iban":
                if IBAN not in found and _has_iban(text[m.start() - 2 : m.end()]):
                    found.add(IBAN)
            elif kind == "ssn":
                if US_SSN not in found and ssn_valid(m.group()):
                    found.add(US_SSN)
            elif kind == "card":
                if PAYMENT_CARD not in found and is_payment_card(m.group().replace(" ", "").replace("-", "")):
                    found.add(PAYMENT_CARD)
                elif PHONE not in found and _is_phone(text, m):  # 13-15 digits: "0044 20 7946 0958"
                    found.add(PHONE)
            elif kind == "ipv4":
                if IP_ADDRESS not in found and _ipv4_names_a_host(m.group()):
                    if not _VERSION_CONTEXT.search(text, max(0, m.start() - _CONTEXT), m.start()):
                        found.add(IP_ADDRESS)
            elif PHONE not in found and _is_phone(text, m):
                found.add(PHONE)
        if US_SSN not in found:
            lower = text.lower()
            if "ssn" in lower or "ss#" in lower or "social security" in lower:
                if any(ssn_valid(m.group(1)) for m in _SSN_KEYWORD.finditer(text)):
                    found.add(US_SSN)
        return frozenset(found)


def _ipv4_names_a_host(candidate: str) -> bool:
    """:func:`names_a_host` for a dotted-quad candidate, without building an address object:
    four parts 0-255 without leading zeros, and not 0.0.0.0, 127/8, 224/4 (multicast) or
    240/4 (reserved)."""
    parts = candidate.split(".")
    if len(parts) != 4 or any(len(p) > 1 and p[0] == "0" for p in parts):
        return False
    first, *rest = (int(p) for p in parts)
    if first > 255 or any(p > 255 for p in rest):
        return False
    if first == 0 and not any(rest):
        return False
    return first != 127 and first < 224


def _has_email(text: str) -> bool:
    at = text.find("@")
    while at != -1:
        # only the neighbourhood of an "@" followed by a dotted domain is searched (a local part
        # has at most 64 characters)
        if not _DOMAIN.match(text, at + 1):
            at = text.find("@", at + 1)
            continue
        m = _EMAIL.search(text, max(0, at - 65), at + 256)
        while m is not None and m.start() <= at:
            if m.end() > at and _email_valid(m):
                return True
            m = _EMAIL.search(text, m.end(), at + 256)
        at = text.find("@", at + 1)
    return False


def _email_valid(m: re.Match[str]) -> bool:
    local = m.group()[: m.group().index("@")]
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    return m.group(1).rsplit(".", 1)[-1].lower() not in _IMAGE_SUFFIXES


def _has_ipv6(text: str) -> bool:
    for m in _IPV6.finditer(text):
        candidate = m.group()
        # "::" alone, times (12:30:45), MAC addresses and "a::b" (C++ names) are not addresses
        if ("::" in candidate or candidate.count(":") == 7) and any(ch.isdigit() for ch in candidate):
            if names_a_host(candidate):
                return True
    return False


def _has_iban(candidate: str) -> bool:
    """Whether ``candidate`` (an IBAN-shaped run, maybe followed by more words) starts with an IBAN
    that ends at the end of a word."""
    length = IBAN_LENGTHS.get(candidate[:2].upper())
    if length is None:
        return False
    seen = 0
    for i, ch in enumerate(candidate):
        if ch != " ":
            seen += 1
            if seen == length:
                end = i + 1
                return (end == len(candidate) or candidate[end] == " ") and iban_valid(candidate[:end])
    return False
