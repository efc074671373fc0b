"""Assert that a message was built from a named error constant (not a copy of its text)."""

from __future__ import annotations

import re

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def fragments(template: str) -> list[str]:
    """The literal parts of a ``str.format`` template, e.g. ``"{path}: is missing{hint}"`` →
    ``[": is missing"]`` (blank parts dropped)."""
    return [part for part in _PLACEHOLDER.split(template) if part.strip()]


def assert_mentions(message: str, template: str) -> None:
    """Every literal part of ``template`` occurs in ``message``, in order."""
    pos = 0
    for part in fragments(template):
        found = message.find(part, pos)
        assert found >= 0, f"{part!r} (from the constant {template!r}) not in message:\n{message}"
        pos = found + len(part)
