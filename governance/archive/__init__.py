"""governance.archive: the audit trail archived to S3, one closed UTC day at a time, with a
digest chain; the public names of the archive (``__all__``).

- :mod:`~governance.archive.layout`: keys and days, the JSON line and digest formats, records;
- :mod:`~governance.archive.bucket`: the S3 bucket: reading, never-overwriting writes, Object Lock;
- :mod:`~governance.archive.export`: reading, checking and storing a day's parts from the database;
- :mod:`~governance.archive.archiver`: :class:`AuditArchive`, archiving days in order (parts, then
  the day's digest) and rechecking archived ones;
- :mod:`~governance.archive.parts` / :mod:`~governance.archive.validate`: recomputing the archive
  from S3, one part / the whole chain;
- :mod:`~governance.archive.pool`: the worker processes for big days;
- :mod:`~governance.archive.purge`: the purge step, deleting archived events from the database.

What the ``audit_archive`` DAG calls is :mod:`governance.tasks.audit_archive`.
"""

from governance.archive.archiver import (
    ERR_DIGEST_CONFLICT,
    ERR_PART_SIZE,
    ERR_PURGED_NO_ARCHIVE,
    ArchiveResult,
    AuditArchive,
    DayResult,
)
from governance.archive.bucket import ERR_BAD_DIGEST, ERR_OBJECT_CONFLICT, ArchiveBucket
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
from governance.archive.parts import Problem
from governance.archive.purge import PurgeRefusedError, PurgeResult, purge_archived
from governance.archive.validate import ValidationReport, validate_archive

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
    "PurgeRefusedError",
    "PurgeResult",
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
    "purge_archived",
    "sha256_hex",
    "utc_today",
    "validate_archive",
]
