"""One S3 path: evaluation data, artifacts and bias-audit predictions on ``s3://`` are read with
the same settings as the archive and the reports (:func:`governance.s3.resolve_settings`).

Two ways a deployment configures S3 without any ``GOVERNANCE_S3_ENDPOINT_URL`` / ``AWS_*``
variable, both on a real SeaweedFS:

* the embedded default: the local server ``make run`` keeps in ``GOVERNANCE_DATA_DIR``
  (found from the data folder alone);
* the Airflow connection ``governance_s3``, here given as ``AIRFLOW_CONN_GOVERNANCE_S3`` (JSON
  and URI form), with no embedded data folder. The connection is read when Airflow's task SDK is
  loaded, i.e. inside a task: the tests import ``airflow.sdk`` to be in that situation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from governance.config import S3Settings
from governance.s3 import ensure_bucket, make_client, settings_for
from tests.conftest_s3 import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.s3

REPO = Path(__file__).resolve().parent.parent
INCLUDE = REPO / "include"
EVAL_CSV = INCLUDE / "demo" / "eval" / "credit-scorer.csv"
ARTIFACT = INCLUDE / "demo" / "artifacts" / "credit-scorer.pkl"
DATA_BUCKET = "ml-data"
EVAL_KEY = "credit-scorer/1.2.0/eval.csv"
ARTIFACT_KEY = "credit-scorer/1.2.0/model.pkl"
PREDICTIONS_KEY = "predictions/credit-scorer/2026-03-01/predictions.parquet"
PREDICTION_ROWS = 3000
PROTECTED = ["sex", "race", "age_band"]

# Everything that could point boto3 / pyarrow (the AWS C++ SDK) at S3 or give them credentials.
S3_ENV = (
    "GOVERNANCE_S3_ENDPOINT_URL",
    "GOVERNANCE_S3_BUCKET",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AIRFLOW_CONN_GOVERNANCE_S3",
)


def clear_s3_env(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """No S3 variable at all, no ~/.aws files, no instance metadata: only what the test configures."""
    for name in S3_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass(frozen=True)
class Uploaded:
    eval_uri: str
    artifact_uri: str
    artifact_sha256: str
    predictions_uri: str
    predictions_local: Path


def upload_inputs(settings: S3Settings, bucket: str, tmp: Path) -> Uploaded:
    """The demo evaluation CSV, the demo artifact and a demo predictions Parquet file in ``bucket``."""
    import hashlib

    from governance.embedded.demo_predictions import demo_predictions_bytes

    client = make_client(settings)
    ensure_bucket(client, bucket=bucket, endpoint=settings.endpoint_url or "")
    client.put_object(Bucket=bucket, Key=EVAL_KEY, Body=EVAL_CSV.read_bytes())
    client.put_object(Bucket=bucket, Key=ARTIFACT_KEY, Body=ARTIFACT.read_bytes())
    parquet = demo_predictions_bytes(model_name="credit-scorer", rows=PREDICTION_ROWS, disparity=True)
    client.put_object(Bucket=bucket, Key=PREDICTIONS_KEY, Body=parquet)
    local = tmp / "predictions.parquet"
    local.write_bytes(parquet)
    return Uploaded(
        eval_uri=f"s3://{bucket}/{EVAL_KEY}",
        artifact_uri=f"s3://{bucket}/{ARTIFACT_KEY}",
        artifact_sha256=hashlib.sha256(ARTIFACT.read_bytes()).hexdigest(),
        predictions_uri=f"s3://{bucket}/{PREDICTIONS_KEY}",
        predictions_local=local,
    )


def card_on_s3(uploaded: Uploaded) -> Any:
    from governance.cards import parse_card_text, validate_card

    doc = parse_card_text((INCLUDE / "model_cards" / "high_credit_scorer.yaml").read_bytes())
    doc["evaluation"] = {**doc["evaluation"], "dataset_uri": uploaded.eval_uri}
    doc["artifact"] = {**doc["artifact"], "uri": uploaded.artifact_uri, "sha256": uploaded.artifact_sha256}
    doc["explainability_uri"] = uploaded.artifact_uri
    doc["predictions_location"] = uploaded.predictions_uri
    return validate_card(doc)


def assert_reads_eval_data(uploaded: Uploaded) -> None:
    """The checks' real reading paths on ``s3://``: the source loader, the GX evaluation check
    and the artifact check of a card whose files are all in S3."""
    from governance.checks import artifact as art
    from governance.checks import expectations as ex
    from governance.checks.base import open_source, resolve_uri, source_exists

    source = resolve_uri(uploaded.eval_uri, field="evaluation.dataset_uri")
    assert source_exists(source) == (True, None)
    with open_source(source) as handle:
        assert handle.read() == EVAL_CSV.read_bytes()

    card = card_on_s3(uploaded)
    result = ex.check_evaluation_data(card, include_dir=INCLUDE)
    assert result.passed, result.reasons
    assert result.details["rows"] == 600
    integrity, scan = art.check_artifact(card, include_dir=INCLUDE)
    assert integrity.passed and scan.passed, (integrity.reasons, scan.reasons)


def assert_reads_predictions(uploaded: Uploaded) -> None:
    """The bias audit (public API, a file and its folder) and the nightly's column probe on ``s3://``."""
    from governance.bias import audit, optional_columns

    kwargs: dict[str, Any] = {"label": "label", "prediction": "prediction", "protected": PROTECTED}
    on_s3 = audit(uploaded.predictions_uri, **kwargs).to_dict()
    assert sum(g["count"] for g in on_s3["attributes"]["sex"]["groups"].values()) == PREDICTION_ROWS
    assert on_s3["attributes"] == audit(uploaded.predictions_local, **kwargs).to_dict()["attributes"]
    assert on_s3["attributes"]["age_band"]["bias_detected"] is True  # the demo's built-in disparity
    folder = uploaded.predictions_uri.rsplit("/", 1)[0]
    assert audit(folder, **kwargs).to_dict()["attributes"] == on_s3["attributes"]
    assert optional_columns(uploaded.predictions_uri, PROTECTED) == ("score", "timestamp")


# --------------------------------------------------------------------------- (a) embedded default


@pytest.fixture(scope="module")
def embedded_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    """A data folder laid out by the embedded default (``make run``), its SeaweedFS running."""
    from governance.embedded.ports import free_port
    from governance.embedded.s3server import LocalS3Error, LocalS3Server

    data_dir = tmp_path_factory.mktemp("governance-data")
    with pytest.MonkeyPatch.context() as mp:
        clear_s3_env(mp, data_dir)
        try:
            server = LocalS3Server.for_embedded_default(data_dir=data_dir, s3_port=free_port())
        except LocalS3Error as exc:  # no weed binary: the package is a dev dependency
            pytest.fail(str(exc))
    server.start()
    try:
        yield data_dir, server
    finally:
        server.stop(grace=0.5)


@pytest.fixture
def embedded_only(
    embedded_data_dir: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Uploaded]:
    """Only the data folder says where S3 is; the test data uploaded with the server's own keys."""
    data_dir, server = embedded_data_dir
    clear_s3_env(monkeypatch, tmp_path)
    monkeypatch.setenv("GOVERNANCE_DATA_DIR", str(data_dir))
    admin = settings_for(
        endpoint_url=server.endpoint_url,
        bucket=DATA_BUCKET,
        access_key_id=server.access_key,
        secret_access_key=server.secret_key,
    )
    return server, upload_inputs(admin, DATA_BUCKET, tmp_path)


def test_embedded_default_reads_s3_eval_data(embedded_only: tuple[Any, Uploaded]) -> None:
    assert_reads_eval_data(embedded_only[1])


def test_embedded_default_reads_s3_predictions(embedded_only: tuple[Any, Uploaded]) -> None:
    assert_reads_predictions(embedded_only[1])


def test_embedded_default_is_what_the_checks_report(embedded_only: tuple[Any, Uploaded]) -> None:
    from governance.compliance import evaluators as cc

    server = embedded_only[0]
    outcome = cc.encryption_at_rest(_ctx())  # type: ignore[arg-type]
    assert outcome.evidence["s3_endpoint"] == server.endpoint_url
    assert outcome.reasons == [cc.ERR_ENC_S3.format(endpoint=server.endpoint_url)]


# --------------------------------------------------------------------------- (b) Airflow connection


def _connection_json(settings: S3Settings) -> str:
    return json.dumps(
        {
            "conn_type": "aws",
            "login": ACCESS_KEY,
            "password": SECRET_KEY,
            "extra": {"endpoint_url": settings.endpoint_url, "bucket": settings.bucket},
        }
    )


def _connection_uri(settings: S3Settings) -> str:
    query = urlencode({"endpoint_url": settings.endpoint_url, "bucket": settings.bucket})
    return f"aws://{quote(ACCESS_KEY, safe='')}:{quote(SECRET_KEY, safe='')}@/?{query}"


@pytest.fixture
def connection_only(
    request: pytest.FixtureRequest, s3_settings: S3Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> S3Settings:
    """Only ``AIRFLOW_CONN_GOVERNANCE_S3`` says where S3 is: no S3 env, an empty data folder."""
    import airflow.sdk  # noqa: F401  (inside a task the SDK is loaded; the connection is read then)

    clear_s3_env(monkeypatch, tmp_path)
    empty = tmp_path / "no-embedded-data"
    empty.mkdir()
    monkeypatch.setenv("GOVERNANCE_DATA_DIR", str(empty))
    form = _connection_uri if request.param == "uri" else _connection_json
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_S3", form(s3_settings))
    return s3_settings


@pytest.mark.parametrize("connection_only", ["json", "uri"], indirect=True)
def test_airflow_connection_reads_s3_eval_data(connection_only: S3Settings, tmp_path: Path) -> None:
    from governance.s3 import resolve_settings

    assert resolve_settings().endpoint_url == connection_only.endpoint_url
    assert_reads_eval_data(upload_inputs(connection_only, connection_only.bucket, tmp_path))


@pytest.mark.parametrize("connection_only", ["json", "uri"], indirect=True)
def test_airflow_connection_reads_s3_predictions(connection_only: S3Settings, tmp_path: Path) -> None:
    assert_reads_predictions(upload_inputs(connection_only, connection_only.bucket, tmp_path))


@pytest.mark.parametrize("connection_only", ["json"], indirect=True)
def test_airflow_connection_is_what_the_checks_report(connection_only: S3Settings) -> None:
    from governance.checks import security as sec
    from governance.compliance import evaluators as cc
    from tests.checks.conftest import make_card

    outcome = cc.encryption_at_rest(_ctx())  # type: ignore[arg-type]
    assert outcome.evidence["s3_endpoint"] == connection_only.endpoint_url
    card = make_card(predictions_location=f"s3://{connection_only.bucket}/preds/")
    finding = sec._uri_finding(card)
    assert finding.evidence["classified"]["predictions_location"] == "governance bucket"


def _ctx() -> SimpleNamespace:
    from sqlalchemy.engine import make_url

    store = SimpleNamespace(engine=SimpleNamespace(url=make_url("sqlite+pysqlcipher://:key@/gov.db")))
    return SimpleNamespace(store=store, encrypted_at_rest=None)
