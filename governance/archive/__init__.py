"""The audit trail archived to S3, one closed UTC day at a time, with a digest chain.

- :mod:`~governance.archive.layout`: keys, the JSON line and digest formats, records;
- :mod:`~governance.archive.bucket`: reading and never-overwriting writes (Object Lock);
- :mod:`~governance.archive.export`: reading and checking a day from the database;
- :mod:`~governance.archive.core`: :class:`AuditArchive`, archiving days in order;
- :mod:`~governance.archive.validate`: recomputing the archive from S3.

Purging archived events from the database is :mod:`governance.archive.purge`; what the
``audit_archive`` DAG calls is :mod:`governance.tasks.audit_archive`.
"""

from governance.archive.bucket import ERR_BAD_DIGEST, ERR_OBJECT_CONFLICT, ArchiveBucket
from governance.archive.core import (
    ERR_DIGEST_CONFLICT,
    ERR_PART_SIZE,
    ERR_PURGED_NO_ARCHIVE,
    ArchiveResult,
    AuditArchive,
    DayResult,
)
from governance.archive.export import (
    ERR_DB_CHAIN,
    PROBLEM_ALTERED,
    PROBLEM_EARLIER,
    PROBLEM_GAP,
    PROBLEM_LATER,
    PROBLEM_LINK,
    PROBLEM_MISSING,
)
from governance.archive.layout import (
    AUDIT_PREFIX,
    DIGEST_FORMAT,
    DIGESTS_PREFIX,
    ERR_BAD_DATE,
    EVENTS_PREFIX,
    GENESIS,
    PARALLEL_MIN_EVENTS,
    PART_SIZE,
    ArchiveConflictError,
    ArchiveError,
    ChainPoint,
    PartInfo,
    closed_until,
    day_bounds,
    day_prefix,
    digest_bytes,
    digest_key,
    event_line,
    parse_day,
    parse_digest_key,
    parse_part_key,
    part_key,
    sha256_hex,
    utc_today,
)
from governance.archive.validate import Problem, ValidationReport, validate_archive

__all__ = [
    "AUDIT_PREFIX",
    "DIGESTS_PREFIX",
    "DIGEST_FORMAT",
    "ERR_BAD_DATE",
    "ERR_BAD_DIGEST",
    "ERR_DB_CHAIN",
    "ERR_DIGEST_CONFLICT",
    "ERR_OBJECT_CONFLICT",
    "ERR_PART_SIZE",
    "ERR_PURGED_NO_ARCHIVE",
    "EVENTS_PREFIX",
    "GENESIS",
    "PARALLEL_MIN_EVENTS",
    "PART_SIZE",
    "PROBLEM_ALTERED",
    "PROBLEM_EARLIER",
    "PROBLEM_GAP",
    "PROBLEM_LATER",
    "PROBLEM_LINK",
    "PROBLEM_MISSING",
    "ArchiveBucket",
    "ArchiveConflictError",
    "ArchiveError",
    "ArchiveResult",
    "AuditArchive",
    "ChainPoint",
    "DayResult",
    "PartInfo",
    "Problem",
    "ValidationReport",
    "closed_until",
    "day_bounds",
    "day_prefix",
    "digest_bytes",
    "digest_key",
    "event_line",
    "parse_day",
    "parse_digest_key",
    "parse_part_key",
    "part_key",
    "sha256_hex",
    "utc_today",
    "validate_archive",
]
