"""governance.audit: the append-only, hash-chained audit trail.

Altering, deleting, inserting or reordering any event breaks the chain, and
:meth:`AuditTrail.verify` names the first event where it breaks. One module per concern:

- :mod:`governance.audit.chain`: the hash format (canonical bytes, SHA-256 links from
  :data:`GENESIS_HASH`), timestamps, the event dataclasses;
- :mod:`governance.audit.append`: appends (in the caller's transaction or batched in one of
  their own) and the chain's head lock, :func:`lock_head`, which the store takes too;
- :mod:`governance.audit.verify`: the chain walk (sequential, or over several processes) and
  the problems it names;
- :mod:`governance.audit.query`: keyset-paged queries, the ordered stream of events, the head;
- :mod:`governance.audit.trail`: :class:`AuditTrail`, one object over an engine for all of it.

The public names of these modules are re-exported here.
"""

from governance.audit.append import COPY_MIN, ERR_CONFLICT, ERR_EMPTY_FIELD, EVENT_INFERENCE, lock_head
from governance.audit.chain import (
    ERR_BAD_TIME,
    ERR_NO_HEAD,
    GENESIS_HASH,
    TS_FORMAT,
    AuditEvent,
    NewEvent,
    canonical_bytes,
    canonical_details,
    compute_hash,
    format_ts,
    parse_time,
    utc_now,
)
from governance.audit.query import ERR_BAD_CURSOR, ERR_BAD_LIMIT, ERR_BAD_ORDER, MAX_QUERY_LIMIT, Page
from governance.audit.trail import AuditTrail
from governance.audit.verify import (
    MSG_ALTERED,
    MSG_BEYOND_HEAD,
    MSG_EMPTY_BUT_HEAD,
    MSG_GAP,
    MSG_HEAD_MISMATCH,
    MSG_LINK,
    MSG_MOVED,
    MSG_REORDERED,
    MSG_REPLACED,
    MSG_START,
    MSG_TRUNCATED,
    MSG_UNREADABLE,
    PARALLEL_VERIFY_MIN,
    PROBLEM_ALTERED,
    PROBLEM_DELETED,
    PROBLEM_INSERTED,
    PROBLEM_REORDERED,
    PROBLEM_TRUNCATED,
    VERIFY_CHUNK,
    VerifyResult,
)

__all__ = [
    "COPY_MIN",
    "ERR_BAD_CURSOR",
    "ERR_BAD_LIMIT",
    "ERR_BAD_ORDER",
    "ERR_BAD_TIME",
    "ERR_CONFLICT",
    "ERR_EMPTY_FIELD",
    "ERR_NO_HEAD",
    "EVENT_INFERENCE",
    "GENESIS_HASH",
    "MAX_QUERY_LIMIT",
    "MSG_ALTERED",
    "MSG_BEYOND_HEAD",
    "MSG_EMPTY_BUT_HEAD",
    "MSG_GAP",
    "MSG_HEAD_MISMATCH",
    "MSG_LINK",
    "MSG_MOVED",
    "MSG_REORDERED",
    "MSG_REPLACED",
    "MSG_START",
    "MSG_TRUNCATED",
    "MSG_UNREADABLE",
    "PARALLEL_VERIFY_MIN",
    "PROBLEM_ALTERED",
    "PROBLEM_DELETED",
    "PROBLEM_INSERTED",
    "PROBLEM_REORDERED",
    "PROBLEM_TRUNCATED",
    "TS_FORMAT",
    "VERIFY_CHUNK",
    "AuditEvent",
    "AuditTrail",
    "NewEvent",
    "Page",
    "VerifyResult",
    "canonical_bytes",
    "canonical_details",
    "compute_hash",
    "format_ts",
    "lock_head",
    "parse_time",
    "utc_now",
]
