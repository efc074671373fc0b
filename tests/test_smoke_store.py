from governance.cards import load_card


def test_register_and_verify(store, demo_card_path):
    reg = store.register(load_card(demo_card_path), owner="owner")
    assert reg.risk.level.value == "HIGH"
    result = store.audit.verify()
    assert result.ok and result.count == 1
