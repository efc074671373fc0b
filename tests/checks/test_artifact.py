"""Artifact integrity (SHA-256) and the unsafe-pickle scan. Malicious pickles are written, never loaded."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
from pathlib import Path

import pytest

from governance.checks import artifact as art
from governance.checks.base import ERR_NOT_FOUND
from tests.checks.conftest import DEMO_CARDS, INCLUDE, make_card


class _SystemCall:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class _EvalCall:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


class _SubprocessCall:
    def __reduce__(self):
        return (subprocess.check_output, (["id"],))


def _artifact_card(
    tmp_path: Path, data: bytes, *, name: str = "model.pkl", sha: str | None = None, fmt: str = "pickle"
):
    path = tmp_path / name
    path.write_bytes(data)
    artifact = {"uri": str(path), "sha256": sha or hashlib.sha256(data).hexdigest(), "format": fmt}
    return make_card(artifact=artifact)


@pytest.mark.parametrize("card_file", DEMO_CARDS)
def test_demo_artifacts_pass(card_file: str) -> None:
    integrity, scan = art.check_artifact(make_card(card_file), include_dir=INCLUDE)
    assert integrity.passed, integrity.reasons
    assert scan.passed, scan.reasons
    assert integrity.details["sha256_actual"] == integrity.details["sha256_declared"]
    assert scan.details["dangerous_globals"] == []
    assert scan.details["scanner"].startswith("picklescan")


def test_sha_mismatch_fails(tmp_path: Path) -> None:
    data = pickle.dumps({"coef": [0.1, 0.2]})
    wrong = "0" * 64
    card = _artifact_card(tmp_path, data, sha=wrong)
    integrity, scan = art.check_artifact(card, include_dir=INCLUDE)
    assert not integrity.passed
    actual = hashlib.sha256(data).hexdigest()
    assert integrity.reasons == [art.ERR_SHA_MISMATCH.format(uri=card.artifact.uri, actual=actual, declared=wrong)]
    assert scan.passed  # the bytes themselves are a harmless pickle


@pytest.mark.parametrize(
    ("payload", "flagged"),
    [
        (_SystemCall(), "posix.system" if os.name == "posix" else "nt.system"),
        (_EvalCall(), "builtins.eval"),
        (_SubprocessCall(), "subprocess.check_output"),
    ],
)
def test_malicious_pickle_is_flagged_with_its_globals(tmp_path: Path, payload: object, flagged: str) -> None:
    data = pickle.dumps(payload)  # serialising only; the file is never unpickled
    card = _artifact_card(tmp_path, data)
    integrity, scan = art.check_artifact(card, include_dir=INCLUDE)
    assert integrity.passed  # the card's digest matches: integrity alone does not make it safe
    assert not scan.passed
    assert flagged in scan.details["dangerous_globals"]
    assert scan.reasons == [
        art.ERR_DANGEROUS_GLOBALS.format(uri=card.artifact.uri, globals=", ".join(scan.details["dangerous_globals"]))
    ]


def test_malicious_pickle_inside_a_dict_is_flagged(tmp_path: Path) -> None:
    data = pickle.dumps({"weights": [1, 2, 3], "hook": _SystemCall()}, protocol=2)
    _, scan = art.check_artifact(_artifact_card(tmp_path, data), include_dir=INCLUDE)
    assert not scan.passed
    assert any(g.endswith(".system") for g in scan.details["dangerous_globals"])


def test_unknown_class_is_suspicious_but_passes(tmp_path: Path) -> None:
    data = pickle.dumps(Path("model"))  # pathlib classes are not in picklescan's safe list
    _, scan = art.check_artifact(_artifact_card(tmp_path, data), include_dir=INCLUDE)
    assert scan.passed, scan.reasons
    assert scan.details["dangerous_globals"] == []
    assert scan.details["suspicious_globals"]


def test_truncated_pickle_with_dangerous_import_fails(tmp_path: Path) -> None:
    data = pickle.dumps(_SystemCall())[:-3]
    _, scan = art.check_artifact(_artifact_card(tmp_path, data), include_dir=INCLUDE)
    assert not scan.passed
    assert art.ERR_SCAN_INCOMPLETE.format(uri=str(tmp_path / "model.pkl")) in scan.reasons


def test_missing_artifact_fails_both_checks(tmp_path: Path) -> None:
    card = make_card(artifact={"uri": "demo/artifacts/nope.pkl", "sha256": "a" * 64, "format": "pickle"})
    integrity, scan = art.check_artifact(card, include_dir=INCLUDE)
    message = ERR_NOT_FOUND.format(
        field="artifact.uri", uri="demo/artifacts/nope.pkl", where=(INCLUDE / "demo/artifacts/nope.pkl").resolve()
    )
    assert not integrity.passed and integrity.reasons == [message]
    assert not scan.passed and scan.reasons == [art.ERR_NOT_SCANNED.format(problem=message)]


def test_s3_artifact(monkeypatch: pytest.MonkeyPatch) -> None:
    moto = pytest.importorskip("moto")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("GOVERNANCE_S3_ENDPOINT_URL", raising=False)
    good = pickle.dumps({"coef": [1.0]})
    bad = pickle.dumps(_SystemCall())
    with moto.mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="m/1.0.0/model.pkl", Body=good)
        s3.put_object(Bucket="models", Key="m/1.0.0/evil.pkl", Body=bad)
        sha = hashlib.sha256(good).hexdigest()
        card = make_card(artifact={"uri": "s3://models/m/1.0.0/model.pkl", "sha256": sha, "format": "pickle"})
        integrity, scan = art.check_artifact(card, include_dir=INCLUDE)
        assert integrity.passed and scan.passed, (integrity.reasons, scan.reasons)
        assert integrity.details["resolved"] == "s3://models/m/1.0.0/model.pkl"

        card = make_card(artifact={"uri": "s3://models/m/1.0.0/evil.pkl", "sha256": sha, "format": "pickle"})
        integrity, scan = art.check_artifact(card, include_dir=INCLUDE)
        assert not integrity.passed and not scan.passed
        assert any(g.endswith(".system") for g in scan.details["dangerous_globals"])

        card = make_card(artifact={"uri": "s3://models/m/9.9.9/model.pkl", "sha256": sha, "format": "pickle"})
        integrity, _ = art.check_artifact(card, include_dir=INCLUDE)
        assert integrity.reasons == [
            ERR_NOT_FOUND.format(
                field="artifact.uri", uri="s3://models/m/9.9.9/model.pkl", where="s3://models/m/9.9.9/model.pkl"
            )
        ]


@pytest.mark.parametrize(
    ("uri", "declared", "fmt", "executes"),
    [
        ("demo/artifacts/x.pkl", "pickle", "pickle", True),
        ("s3://b/model.safetensors", None, "safetensors", False),
        ("s3://b/model.onnx", "onnx", "onnx", False),
        ("s3://b/model.pt", None, "pytorch", True),
        ("s3://b/model.h5", None, "h5", None),
        ("s3://b/model.weird", None, "unknown", None),
    ],
)
def test_format_risk(uri: str, declared: str | None, fmt: str, executes: bool | None) -> None:
    card = make_card(artifact={"uri": uri, "sha256": "a" * 64, **({"format": declared} if declared else {})})
    risk = art.format_risk(card)
    assert (risk.format, risk.executes_code, risk.declared) == (fmt, executes, declared is not None)
