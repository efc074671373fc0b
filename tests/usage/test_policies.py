"""The usage policy file: the demo file loads, bad files are refused with the key and the fix
named, and an edit is picked up by the next read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import yaml

from governance.errors import GovernanceError
from governance.usage.policies import (
    ERR_DUPLICATE_ID,
    ERR_NO_ACCESS_POLICY,
    ERR_PII_RETENTION,
    ERR_QUOTA_EMPTY,
    AccessControlPolicy,
    ContentFilterPolicy,
    DataRetentionPolicy,
    ModelRef,
    UsageQuotaPolicy,
    current_policies,
    load_policies,
)
from tests.usage.conftest import POLICIES


def demo() -> dict:
    return yaml.safe_load(POLICIES.read_text())


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "usage.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def refused(tmp_path: Path, data: dict) -> str:
    with pytest.raises(GovernanceError) as err:
        load_policies(write(tmp_path, data))
    return str(err.value)


def test_demo_file_has_the_four_kinds_with_the_seed_values() -> None:
    loaded = load_policies(POLICIES)
    by_id = {p.id: p for p in loaded.file.policies}
    assert {type(p) for p in by_id.values()} >= {
        AccessControlPolicy,
        UsageQuotaPolicy,
        ContentFilterPolicy,
        DataRetentionPolicy,
    }
    quota = by_id["standard_quota"]
    assert isinstance(quota, UsageQuotaPolicy)
    assert quota.config.limits() == [("hour", 1000), ("day", 10000)]
    content = by_id["content_safety"]
    assert isinstance(content, ContentFilterPolicy)
    assert content.config.block_categories == ["hate", "violence", "sexual"]
    pii = by_id["no_pii_retention"]
    assert isinstance(pii, DataRetentionPolicy) and pii.config.max_retention_days == 0
    assert loaded.sha256 == hashlib.sha256(POLICIES.read_bytes()).hexdigest()


def test_applies_to_selects_by_name_version_id_and_tier() -> None:
    loaded = load_policies(POLICIES)
    scorer = ModelRef(id="m-1", name="credit-scorer", version="1.2.0", risk_level="HIGH", status="DEPLOYED")
    other = ModelRef(id="m-2", name="doc-tagger", version="1.0.0", risk_level="LOW", status="DEPLOYED")
    assert "credit_scorer_quota" in [p.id for p in loaded.for_model(scorer)]
    assert "credit_scorer_quota" not in [p.id for p in loaded.for_model(other)]


def test_unknown_key_names_the_key_the_place_and_the_known_keys(tmp_path: Path) -> None:
    data = demo()
    data["policies"][1]["config"]["requests_per_minute"] = 5
    msg = refused(tmp_path, data)
    assert "policies[1] (id standard_quota).config" in msg
    assert "unknown key 'requests_per_minute'" in msg and "requests_per_hour" in msg


def test_unknown_top_level_and_policy_keys(tmp_path: Path) -> None:
    data = demo()
    data["limit"] = {}
    assert "unknown key 'limit'" in refused(tmp_path, data) and "policies" in refused(tmp_path, data)
    data = demo()
    data["policies"][0]["priority"] = 1
    msg = refused(tmp_path, data)
    assert "policies[0] (id access_control)" in msg and "unknown key 'priority'" in msg and "applies_to" in msg


def test_bad_type_severity_and_tier(tmp_path: Path) -> None:
    data = demo()
    data["policies"][0]["type"] = "rate_limit"
    assert "type must be one of access_control, usage_quota, content_filter, data_retention" in refused(tmp_path, data)
    data = demo()
    data["policies"][0]["severity"] = "urgent"
    assert "policies[0] (id access_control).severity" in refused(tmp_path, data)
    data = demo()
    data["policies"][2]["applies_to"]["risk_tiers"] = ["EXTREME"]
    assert "applies_to.risk_tiers.0" in refused(tmp_path, data)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["policies"].__setitem__(0, {**d["policies"][1], "id": "only_quota"}), ERR_NO_ACCESS_POLICY),
        (lambda d: d["policies"][2].__setitem__("id", "standard_quota"), ERR_DUPLICATE_ID.format(id="standard_quota")),
        (lambda d: d["policies"][1].__setitem__("config", {}), ERR_QUOTA_EMPTY),
    ],
)
def test_consistency_rules(tmp_path: Path, edit, message: str) -> None:
    data = demo()
    edit(data)
    assert message in refused(tmp_path, data)


def test_pii_is_never_retained(tmp_path: Path) -> None:
    data = demo()
    pii = next(p for p in data["policies"] if p["id"] == "no_pii_retention")
    pii["config"]["max_retention_days"] = 7
    assert ERR_PII_RETENTION.format(value=7) in refused(tmp_path, data)


def test_unknown_content_category_and_group(tmp_path: Path) -> None:
    data = demo()
    content = next(p for p in data["policies"] if p["type"] == "content_filter")
    content["config"]["block_categories"] = ["violence", "spam"]
    assert "'spam' not known to the builtin classifier" in refused(tmp_path, data)
    data = demo()
    data["policies"][0]["config"]["allow"][0]["groups"] = ["nobody"]
    assert "the group 'nobody'" in refused(tmp_path, data)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "usage.yaml"
    path.write_text("policies: [unclosed")
    with pytest.raises(GovernanceError, match="not valid YAML"):
        load_policies(path)
    with pytest.raises(GovernanceError, match="cannot read"):
        current_policies(tmp_path / "absent.yaml")


def test_current_policies_rereads_an_edited_file(tmp_path: Path) -> None:
    path = write(tmp_path, demo())
    first = current_policies(path)
    assert current_policies(path) is first  # unchanged: no re-read
    data = demo()
    data["limits"]["max_input_bytes"] = 10
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    os.utime(path, ns=(first_mtime := path.stat().st_mtime_ns, first_mtime + 1_000_000))
    second = current_policies(path)
    assert second.limits.max_input_bytes == 10 and second.sha256 != first.sha256
