"""Archive pieces that need no server: days and intervals, keys, line format, error translation."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from governance.archive import (
    ERR_BAD_DATE,
    ArchiveError,
    closed_until,
    day_bounds,
    digest_key,
    event_line,
    parse_day,
    parse_digest_key,
    parse_part_key,
    part_key,
)
from governance.embedded.s3server import allocate_ports
from governance.errors import GovernanceError
from governance.s3 import (
    ERR_CREDENTIALS,
    ERR_NO_BUCKET,
    S3AccessError,
    S3BucketMissingError,
    S3CredentialsError,
    S3UnavailableError,
    resolve_settings,
    translate,
)
from governance.tasks.audit_archive import interval_days

DAY = date(2026, 11, 20)


def test_keys_round_trip():
    assert part_key(DAY, 3) == "audit/events/date=2026-11-20/part-0003.jsonl.gz"
    assert digest_key(DAY) == "audit/digests/2026-11-20.json"
    assert parse_part_key(part_key(DAY, 12)) == (DAY, 12)
    assert parse_digest_key(digest_key(DAY)) == DAY
    assert parse_part_key("audit/events/date=2026-13-40/part-0000.jsonl.gz") is None
    assert parse_digest_key("audit/digests/2026-11-20.json.bak") is None


def test_day_bounds_use_the_trails_timestamp_format():
    assert day_bounds(DAY) == ("2026-11-20T00:00:00.000000Z", "2026-11-21T00:00:00.000000Z")


def test_closed_until():
    today = date(2026, 11, 27)
    assert closed_until(None, today=today) == today
    assert closed_until(datetime(2026, 11, 25, 0, 0, tzinfo=UTC), today=today) == date(2026, 11, 25)
    assert closed_until(datetime(2026, 11, 25, 13, 5, tzinfo=UTC), today=today) == date(2026, 11, 25)
    assert closed_until("2026-11-25T23:30:00-02:00", today=today) == date(2026, 11, 26)  # 01:30Z next day
    assert closed_until(date(2027, 1, 1), today=today) == today  # never a day that is not over
    with pytest.raises(GovernanceError):
        closed_until("yesterday", today=today)


def test_parse_day():
    assert parse_day("2026-11-20") == DAY
    with pytest.raises(ArchiveError) as err:
        parse_day("20/11/2026", name="--from")
    assert str(err.value) == ERR_BAD_DATE.format(name="--from", value="20/11/2026")


def test_event_line_equals_json_dumps_on_awkward_text():
    import random
    import string

    rnd = random.Random(7)
    alphabet = string.printable + 'éü✓\u2028\u0000\x7f"\\😀'

    def text() -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))

    for _ in range(2000):
        ev = {
            "id": rnd.randint(0, 10**12),
            "timestamp": text(),
            "event_type": text(),
            "model_id": None if rnd.random() < 0.3 else text(),
            "actor": text(),
            "details": text(),
            "prev_hash": text(),
            "hash": text(),
        }
        line = event_line(
            ev["id"],
            ev["timestamp"],
            ev["event_type"],
            ev["model_id"],
            ev["actor"],
            ev["details"],
            ev["prev_hash"],
            ev["hash"],
        )
        assert line == json.dumps(ev, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    odd = event_line(1.5, "t", "e", None, "a", "d", "p", "h")  # type: ignore[arg-type]  # only a tampered row
    assert json.loads(odd)["id"] == 1.5


def test_event_line_is_sorted_compact_json():
    line = event_line(7, "2026-11-20T01:00:00.000000Z", "model.registered", None, "ö", '{"a":1}', "0" * 64, "f" * 64)
    assert line == json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(line)["details"] == '{"a":1}'  # the hashed text, not a re-serialised object


NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # CronTriggerTimetable (Airflow 3's default for "@daily"): start == end == midnight
        (datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC), (date(2026, 11, 26), 25, 25)),
        # CronDataIntervalTimetable: the interval is the day itself
        (datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC), (date(2026, 11, 26), 25, 25)),
        # a manual run without an interval: everything closed before today
        (None, None, (date(2026, 11, 27), 26, 26)),
        # catch-up over several days at once
        (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC), (date(2026, 11, 23), 20, 22)),
    ],
)
def test_interval_days(start, end, expected):
    days = interval_days(data_interval_start=start, data_interval_end=end, now=NOW)
    until, first, last = expected
    assert (days.until, days.first.day, days.last.day) == (until, first, last)
    assert days.first <= days.last < days.until


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "X")


def test_translate_names_endpoint_and_bucket():
    where = {"endpoint": "http://s3.local:9000", "bucket": "gov", "action": "PutObject"}
    err = translate(_client_error("InvalidAccessKeyId", 403), **where)
    assert isinstance(err, S3CredentialsError)
    assert str(err) == ERR_CREDENTIALS.format(endpoint="http://s3.local:9000", bucket="gov", code="InvalidAccessKeyId")
    err = translate(_client_error("NoSuchBucket", 404), **where)
    assert isinstance(err, S3BucketMissingError)
    assert str(err) == ERR_NO_BUCKET.format(bucket="gov", endpoint="http://s3.local:9000")
    err = translate(EndpointConnectionError(endpoint_url="http://s3.local:9000"), **where)
    assert isinstance(err, S3UnavailableError) and "http://s3.local:9000" in str(err)
    assert isinstance(translate(_client_error("SlowDown", 503), **where), S3UnavailableError)
    other = translate(_client_error("InvalidArgument"), key="audit/x", **where)
    assert type(other) is S3AccessError and "audit/x" in str(other) and "InvalidArgument" in str(other)


def test_settings_come_from_the_environment_outside_airflow(monkeypatch):
    monkeypatch.setenv("GOVERNANCE_S3_ENDPOINT_URL", "http://127.0.0.1:8333")
    monkeypatch.setenv("GOVERNANCE_S3_BUCKET", "from-env")
    monkeypatch.setenv("GOVERNANCE_OBJECT_LOCK_DAYS", "7")
    monkeypatch.delitem(sys.modules, "airflow.sdk", raising=False)  # not inside an Airflow task
    settings = resolve_settings()
    assert (settings.endpoint_url, settings.bucket, settings.object_lock_days) == (
        "http://127.0.0.1:8333",
        "from-env",
        7,
    )


def test_ports_are_distinct_and_avoid_airflows():
    ports = allocate_ports(s3_port=18333)
    values = [p for _, p in ports.items()]
    assert ports.s3 == 18333
    assert len(set(values)) == len(values) == 8
    assert not {8080, 9333, 8888} & set(values)
