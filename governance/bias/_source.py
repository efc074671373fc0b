"""Where the predictions come from: a Parquet file or folder (local or ``s3://``), a pandas
DataFrame, a pyarrow Table/RecordBatch or a pyarrow Dataset.

Everything is turned into a stream of Arrow record batches holding only the columns the
audit needs, with the protected attributes kept dictionary-encoded (Parquet
``read_dictionary``) so that grouping is integer arithmetic on the dictionary codes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from governance.errors import GovernanceError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

PredictionsInput: TypeAlias = "str | os.PathLike[str] | pd.DataFrame | pa.Table | pa.RecordBatch | ds.Dataset"
"""What :func:`governance.bias.audit` accepts as its predictions table."""

ERR_NOT_FOUND = (
    "predictions not found: {path} (expected a Parquet file, a folder of Parquet files, or an s3://bucket/key URI)"
)
ERR_UNREADABLE = "could not read predictions from {source}: {reason}"
ERR_MISSING_COLUMN = "column {column!r} ({role}) not found in {source}; available columns: {available}"
ERR_UNSUPPORTED_INPUT = (
    "cannot audit an object of type {type}: pass a Parquet path (str or Path, local or "
    "s3://), a pandas DataFrame, a pyarrow Table/RecordBatch or a pyarrow Dataset"
)
ERR_S3_URI = "{uri} is not a valid S3 URI (expected s3://bucket/key)"

BATCH_ROWS = 1 << 20
"""Rows per record batch when the input is already in memory."""


class AuditInputError(GovernanceError, ValueError):
    """The predictions table or the audit arguments were refused: the message says what,
    where and how to fix it."""


@dataclass(frozen=True, kw_only=True)
class Source:
    """A readable predictions table restricted to the needed columns."""

    description: str
    """Human-readable origin (path/URI or ``<pandas.DataFrame>``), used in messages."""
    schema: pa.Schema
    total_rows: int | None
    """Row count when cheap to know up front (Parquet metadata, in-memory tables)."""
    dataset: ds.Dataset | None
    table: pa.Table | None

    def batches(self, *, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """Yield record batches with exactly ``columns``, in that order."""
        cols = list(columns)
        if self.dataset is not None:
            try:
                yield from self.dataset.to_batches(columns=cols, use_threads=True)
            except (OSError, ValueError) as exc:  # ArrowIOError / ArrowInvalid (bad file)
                raise AuditInputError(ERR_UNREADABLE.format(source=self.description, reason=exc)) from exc
            return
        assert self.table is not None
        yield from self.table.select(cols).to_batches(max_chunksize=BATCH_ROWS)


def s3_filesystem() -> pafs.S3FileSystem:
    """A pyarrow S3 filesystem with the settings every S3 access uses
    (:func:`governance.s3.resolve_settings`: ``GOVERNANCE_S3_ENDPOINT_URL`` / ``AWS_*``, the
    Airflow connection ``governance_s3`` inside a task, or the embedded default's local server),
    so the same code reads AWS S3, MinIO or the local server."""
    from governance.s3 import pyarrow_filesystem, resolve_settings

    return pyarrow_filesystem(resolve_settings())


def open_source(
    table: PredictionsInput,
    *,
    dictionary_columns: Sequence[str],
    filesystem: pafs.FileSystem | None = None,
) -> Source:
    """Resolve ``table`` (path, URI, DataFrame, Table, RecordBatch, Dataset) to a :class:`Source`."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    if isinstance(table, (str, os.PathLike)):
        return _open_path(os.fspath(table), dictionary_columns=dictionary_columns, filesystem=filesystem)
    if isinstance(table, ds.Dataset):
        return Source(
            description="<pyarrow.dataset.Dataset>",
            schema=table.schema,
            total_rows=None,
            dataset=table,
            table=None,
        )
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if isinstance(table, pa.Table):
        return Source(
            description="<pyarrow.Table>",
            schema=table.schema,
            total_rows=table.num_rows,
            dataset=None,
            table=table,
        )
    if _is_pandas_frame(table):
        arrow = pa.Table.from_pandas(table, preserve_index=False)
        return Source(
            description="<pandas.DataFrame>",
            schema=arrow.schema,
            total_rows=arrow.num_rows,
            dataset=None,
            table=arrow,
        )
    raise AuditInputError(ERR_UNSUPPORTED_INPUT.format(type=type(table).__name__))


def _is_pandas_frame(obj: object) -> bool:
    module = type(obj).__module__
    if not module.startswith("pandas"):
        return False
    import pandas as pd

    return isinstance(obj, pd.DataFrame)


def _open_path(path: str, *, dictionary_columns: Sequence[str], filesystem: pafs.FileSystem | None) -> Source:
    import pyarrow.dataset as ds

    if path.startswith("s3://"):
        location = path.removeprefix("s3://").strip("/")
        if not location or location.startswith("/"):
            raise AuditInputError(ERR_S3_URI.format(uri=path))
        fs = filesystem if filesystem is not None else s3_filesystem()
        _check_exists(fs, location, shown=path)
    else:
        location = path
        fs = filesystem
        if fs is None and not Path(path).exists():
            raise AuditInputError(ERR_NOT_FOUND.format(path=path))
        if fs is not None:
            _check_exists(fs, location, shown=path)
    parquet = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=list(dictionary_columns)))
    try:
        dataset = ds.dataset(location, format=parquet, filesystem=fs, partitioning="hive")
        total = dataset.count_rows()
    except (OSError, ValueError) as exc:
        # pyarrow's ArrowInvalid is a ValueError, ArrowIOError an OSError.
        raise AuditInputError(ERR_UNREADABLE.format(source=path, reason=exc)) from exc
    return Source(description=path, schema=dataset.schema, total_rows=total, dataset=dataset, table=None)


def _check_exists(fs: pafs.FileSystem, location: str, *, shown: str) -> None:
    import pyarrow.fs as pafs

    try:
        info = fs.get_file_info(location)
    except OSError as exc:
        raise AuditInputError(ERR_UNREADABLE.format(source=shown, reason=exc)) from exc
    if info.type == pafs.FileType.NotFound:
        raise AuditInputError(ERR_NOT_FOUND.format(path=shown))


def require_columns(source: Source, columns: Sequence[tuple[str, str]]) -> None:
    """Refuse the audit when a needed ``(column, role)`` is absent from the schema."""
    names = set(source.schema.names)
    for column, role in columns:
        if column not in names:
            raise AuditInputError(
                ERR_MISSING_COLUMN.format(
                    column=column,
                    role=role,
                    source=source.description,
                    available=", ".join(source.schema.names) or "(none)",
                )
            )
