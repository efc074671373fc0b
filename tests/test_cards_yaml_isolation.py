"""The card loader's YAML rules stay inside the card loader."""

import yaml

from governance.cards import parse_card_text


def test_card_loader_does_not_change_yaml_safe_load():
    text = "flag: false\nanswer: yes\nday: 2026-11-27\n"
    assert parse_card_text(text.encode()) == {"flag": False, "answer": "yes", "day": "2026-11-27"}
    plain = yaml.safe_load(text)
    assert plain["flag"] is False and plain["answer"] is True
    assert plain["day"].isoformat() == "2026-11-27"
