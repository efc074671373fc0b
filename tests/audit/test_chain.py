"""The audit trail's hash format (governance.audit.chain): canonical bytes and details."""

from __future__ import annotations

import hashlib
import json
import random

import pytest

from governance.audit import (
    GENESIS_HASH,
    canonical_bytes,
    canonical_details,
    compute_hash,
)


def test_canonical_bytes_is_the_compact_json_array_of_the_fields() -> None:
    rng = random.Random(5)
    alphabet = ["a", "Z", '"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "\u2028", "😀", "/", " ", "{", ","]
    for _ in range(3_000):
        fields = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(6)]
        model_id = None if rng.random() < 0.3 else fields[2]
        event_id = rng.randint(0, 10**15)
        args = (event_id, fields[0], fields[1], model_id, fields[3], fields[4], fields[5])
        expected = json.dumps(list(args), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        assert canonical_bytes(*args) == expected
        assert compute_hash(*args) == hashlib.sha256(expected).hexdigest()


def test_canonical_bytes_of_non_text_values_falls_back_to_json() -> None:
    # only a tampered row can hold such values; they must hash like the general encoder does
    args = (3, 17, "t", 5, "a", "{}", GENESIS_HASH)
    assert canonical_bytes(*args) == json.dumps(list(args), separators=(",", ":")).encode()


def test_canonical_details_is_sorted_compact_and_refuses_nan() -> None:
    assert canonical_details({"b": 1, "a": [1, 2], "é": "ü"}) == '{"a":[1,2],"b":1,"é":"ü"}'
    assert canonical_details(None) == "{}"
    with pytest.raises(ValueError):
        canonical_details({"x": float("nan")})
