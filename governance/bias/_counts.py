"""Streaming aggregation of predictions into per-group confusion counts.

One pass over the record batches. Each protected column is dictionary-encoded, its
batch-local codes are mapped to stable global codes, and every row becomes one integer
``key = mixed_radix(group codes) * 4 + y_true * 2 + y_pred``; ``numpy.bincount`` over the
keys gives the confusion counts. While the product of all group cardinalities is small the
counts are kept for the *joint* space of all protected columns (one bincount per batch
serves every attribute and every intersection, which are then exact marginals); when it
grows too large, the joint counts are marginalised once and each attribute is counted on
its own from then on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from governance.bias._source import AuditInputError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

ERR_BINARY_MISSING = (
    "{role} column {column!r} has {count} missing value(s) (null or NaN), the first at row "
    "{row}; every row needs a 0/1 {role}: drop or impute those rows before auditing"
)
ERR_BINARY_VALUES = (
    "{role} column {column!r} must hold only 0/1 (or true/false); found {values} (first at "
    "row {row}): map it to 0/1 first, with 1 for the favourable outcome"
)
ERR_BINARY_TYPE = "{role} column {column!r} has type {type}; expected boolean, integer or floating 0/1 values"
ERR_PROTECTED_TYPE = (
    "protected column {column!r} has type {type}; expected string, categorical (dictionary), integer or boolean values"
)
ERR_SCORE_TYPE = "score column {column!r} has type {type}; expected integer or floating values"
ERR_SCORE_MISSING = (
    "score column {column!r} has {count} missing value(s) (null or NaN), the first at row "
    "{row}; drop or impute them, or audit without --score"
)
ERR_TOO_MANY_GROUPS = (
    "attribute {attribute!r} has {groups} groups, more than the {limit} an audit supports; "
    "audit coarser categories (e.g. age bands instead of ages)"
)

MISSING_GROUP = "(missing)"
"""Label of the group holding rows whose protected value is null."""

MAX_JOINT_BINS = 1 << 18
"""Largest joint key space (all protected columns x 4 confusion cells) counted in one pass."""
MAX_GROUPS = 1 << 16
"""Most groups one attribute (or intersection) may have."""


@dataclass(frozen=True, kw_only=True)
class CountTable:
    """Confusion counts of one attribute (or intersection): ``counts[g, y_true, y_pred]``."""

    attribute: str
    columns: tuple[str, ...]
    group_labels: list[str]
    counts: np.ndarray
    score_sums: np.ndarray | None


@dataclass(frozen=True, kw_only=True)
class Spec:
    """An attribute to report: a single protected column or an intersection of several."""

    name: str
    columns: tuple[str, ...]


class ConfusionCounter:
    """Accumulates confusion counts from record batches laid out as
    ``[label, prediction, *group_columns, score?, timestamp?]``."""

    def __init__(
        self,
        *,
        specs: Sequence[Spec],
        group_columns: Sequence[str],
        label: str,
        prediction: str,
        score: str | None,
        timestamp: str | None,
    ) -> None:
        self.specs = list(specs)
        self.group_columns = list(group_columns)
        self.label = label
        self.prediction = prediction
        self.score = score
        self.timestamp = timestamp
        self.rows = 0
        self.batches = 0
        self.time_min: Any = None
        self.time_max: Any = None
        ncols = len(self.group_columns)
        self._values: list[dict[Any, int]] = [{} for _ in range(ncols)]
        self._order: list[list[Any]] = [[] for _ in range(ncols)]
        self._last_dictionary: list[tuple[pa.Array, np.ndarray | None] | None] = [None] * ncols
        self._spec_axes = [tuple(self.group_columns.index(c) for c in s.columns) for s in specs]
        self._joint: np.ndarray | None = None
        self._joint_scores: np.ndarray | None = None
        self._per_spec: list[np.ndarray | None] | None = None
        self._per_spec_scores: list[np.ndarray | None] | None = None

    # ------------------------------------------------------------------ batches
    def add(self, batch: pa.RecordBatch) -> None:
        import numpy as np

        n = batch.num_rows
        if n == 0:
            return
        offset = self.rows
        y = self._binary(batch.column(0), role="label", column=self.label, offset=offset)
        p = self._binary(batch.column(1), role="prediction", column=self.prediction, offset=offset)
        yp = np.left_shift(y, 1)
        np.bitwise_or(yp, p, out=yp)
        ncols = len(self.group_columns)
        codes = [self._codes(j, batch.column(2 + j)) for j in range(ncols)]
        extra = 2 + ncols
        scores = None
        if self.score is not None:
            scores = self._scores(batch.column(extra), offset=offset)
            extra += 1
        if self.timestamp is not None:
            self._track_time(batch.column(extra))
        sizes = [len(order) for order in self._order]
        self._check_sizes(sizes)
        if self._per_spec is None and math.prod(sizes) * 4 > MAX_JOINT_BINS:
            self._split_joint()
        if self._per_spec is None:
            self._joint, self._joint_scores = self._accumulate(
                self._joint, self._joint_scores, codes, sizes, yp, scores
            )
        else:
            for i, axes in enumerate(self._spec_axes):
                counts, sums = self._accumulate(
                    self._per_spec[i],
                    None if self._per_spec_scores is None else self._per_spec_scores[i],
                    [codes[a] for a in axes],
                    [sizes[a] for a in axes],
                    yp,
                    scores,
                )
                self._per_spec[i] = counts
                if self._per_spec_scores is not None:
                    self._per_spec_scores[i] = sums
        self.rows += n
        self.batches += 1

    @staticmethod
    def _accumulate(
        counts: np.ndarray | None,
        score_sums: np.ndarray | None,
        codes: list[np.ndarray],
        sizes: list[int],
        yp: np.ndarray,
        scores: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        import numpy as np

        nbins = math.prod(sizes) * 4
        dtype = np.uint8 if nbins <= 1 << 8 else np.uint16 if nbins <= 1 << 16 else np.uint32
        key: np.ndarray = codes[0].astype(dtype)
        for c, radix in zip(codes[1:], sizes[1:], strict=True):
            key *= radix
            key += c.astype(dtype, copy=False)
        key <<= 2
        key |= yp
        shape = (*sizes, 2, 2)
        batch_counts = np.bincount(key, minlength=nbins).reshape(shape)
        counts = batch_counts if counts is None else _grow(counts, shape) + batch_counts
        if scores is not None:
            batch_sums = np.bincount(key, weights=scores, minlength=nbins).reshape(shape)
            score_sums = batch_sums if score_sums is None else _grow(score_sums, shape) + batch_sums
        return counts, score_sums

    def _check_sizes(self, sizes: list[int]) -> None:
        for spec, axes in zip(self.specs, self._spec_axes, strict=True):
            groups = math.prod(sizes[a] for a in axes)
            if groups > MAX_GROUPS:
                raise AuditInputError(ERR_TOO_MANY_GROUPS.format(attribute=spec.name, groups=groups, limit=MAX_GROUPS))

    def _split_joint(self) -> None:
        """Leave joint counting: marginalise once, count each attribute on its own from now."""
        joint, joint_scores = self._joint, self._joint_scores
        self._per_spec = [None if joint is None else _marginal(joint, a) for a in self._spec_axes]
        if self.score is not None:
            self._per_spec_scores = [
                None if joint_scores is None else _marginal(joint_scores, a) for a in self._spec_axes
            ]
        self._joint = None
        self._joint_scores = None

    # ------------------------------------------------------------------ columns
    def _codes(self, j: int, arr: pa.Array) -> np.ndarray:
        """Global integer group codes of one protected column in one batch."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not pa.types.is_dictionary(arr.type):
            value_type = arr.type
            if not (
                pa.types.is_string(value_type)
                or pa.types.is_large_string(value_type)
                or pa.types.is_string_view(value_type)
                or pa.types.is_integer(value_type)
                or pa.types.is_boolean(value_type)
            ):
                raise AuditInputError(ERR_PROTECTED_TYPE.format(column=self.group_columns[j], type=value_type))
            arr = pc.dictionary_encode(arr)
        remap = self._remap(j, arr.dictionary)
        indices = arr.indices
        if indices.null_count:
            idx = indices.fill_null(0).to_numpy()
        else:
            idx = indices.to_numpy()
        codes = idx if remap is None else remap[idx]
        if arr.null_count:
            missing = self._code(j, None)
            mask = arr.is_null().to_numpy(zero_copy_only=False)
            codes = np.where(mask, missing, codes)
        return codes

    def _remap(self, j: int, dictionary: pa.Array) -> np.ndarray | None:
        """Batch dictionary position -> global code; ``None`` when it is the identity."""
        import numpy as np

        last = self._last_dictionary[j]
        if last is not None and (last[0] is dictionary or last[0].equals(dictionary)):
            return last[1]
        remap = np.fromiter((self._code(j, v) for v in dictionary.to_pylist()), dtype=np.int64, count=len(dictionary))
        result = None if np.array_equal(remap, np.arange(len(remap))) else remap
        self._last_dictionary[j] = (dictionary, result)
        return result

    def _code(self, j: int, value: Any) -> int:
        index = self._values[j]
        code = index.get(value)
        if code is None:
            code = len(self._order[j])
            index[value] = code
            self._order[j].append(value)
        return code

    def _binary(self, arr: pa.Array, *, role: str, column: str, offset: int) -> np.ndarray:
        """The 0/1 values of ``arr`` as uint8, or a clear error naming the column and row."""
        import numpy as np
        import pyarrow as pa

        kind = arr.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
            arr = arr.cast(kind)
        if not (pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise AuditInputError(ERR_BINARY_TYPE.format(role=role, column=column, type=arr.type))
        if arr.null_count:
            first = int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])
            raise AuditInputError(
                ERR_BINARY_MISSING.format(role=role, column=column, count=arr.null_count, row=offset + first)
            )
        if pa.types.is_boolean(kind):
            return arr.to_numpy(zero_copy_only=False).view(np.uint8)
        values = arr.to_numpy()
        if pa.types.is_integer(kind):
            unsigned = values.view(values.dtype.str.replace("i", "u"))
            if unsigned.max() <= 1:
                return unsigned.astype(np.uint8, copy=False)
            bad = unsigned > 1
        else:
            bad = (values != 0) & (values != 1)
            if not bad.any():
                return values.astype(np.uint8)
            nan = np.isnan(values)
            if nan.any():
                raise AuditInputError(
                    ERR_BINARY_MISSING.format(
                        role=role,
                        column=column,
                        count=int(nan.sum()),
                        row=offset + int(np.flatnonzero(nan)[0]),
                    )
                )
        found = ", ".join(repr(v.item()) for v in np.unique(values[bad])[:5])
        raise AuditInputError(
            ERR_BINARY_VALUES.format(role=role, column=column, values=found, row=offset + int(np.flatnonzero(bad)[0]))
        )

    def _scores(self, arr: pa.Array, *, offset: int) -> np.ndarray:
        import numpy as np
        import pyarrow as pa

        assert self.score is not None
        if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
            raise AuditInputError(ERR_SCORE_TYPE.format(column=self.score, type=arr.type))
        if arr.null_count:
            bad = arr.is_null().to_numpy(zero_copy_only=False)
        else:
            values = arr.to_numpy().astype(np.float64, copy=False)
            bad = np.isnan(values)
        if bad.any():
            raise AuditInputError(
                ERR_SCORE_MISSING.format(
                    column=self.score, count=int(bad.sum()), row=offset + int(np.flatnonzero(bad)[0])
                )
            )
        return values

    def _track_time(self, arr: pa.Array) -> None:
        import pyarrow.compute as pc

        if len(arr) == arr.null_count:
            return
        bounds = pc.min_max(arr)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if self.time_min is None or low < self.time_min:
            self.time_min = low
        if self.time_max is None or high > self.time_max:
            self.time_max = high

    # ------------------------------------------------------------------ results
    def tables(self) -> list[CountTable]:
        """Per attribute: groups (sorted by value, missing last), counts[g, y, p], score sums."""
        import numpy as np

        sizes = [len(order) for order in self._order]
        result = []
        for i, (spec, axes) in enumerate(zip(self.specs, self._spec_axes, strict=True)):
            if self._per_spec is None:
                counts = _marginal(self._joint, axes) if self._joint is not None else None
                sums = _marginal(self._joint_scores, axes) if self._joint_scores is not None else None
            else:
                counts = self._per_spec[i]
                sums = None if self._per_spec_scores is None else self._per_spec_scores[i]
            shape = (*(sizes[a] for a in axes), 2, 2)
            counts = np.zeros(shape, dtype=np.int64) if counts is None else _grow(counts, shape)
            sums = None if sums is None else _grow(sums, shape)
            # Sort every axis by value so reports do not depend on the order rows arrived in.
            perms = [_sort_order(self._order[a]) for a in axes]
            counts = counts[np.ix_(*perms)] if perms else counts
            sums = None if sums is None else sums[np.ix_(*perms)]
            label_axes = [[_label(self._order[a][k]) for k in perm] for a, perm in zip(axes, perms, strict=True)]
            labels = ["*".join(parts) for parts in _product(label_axes)]
            result.append(
                CountTable(
                    attribute=spec.name,
                    columns=spec.columns,
                    group_labels=labels,
                    counts=counts.reshape(len(labels), 2, 2),
                    score_sums=None if sums is None else sums.reshape(len(labels), 4).sum(axis=1),
                )
            )
        return result


def _grow(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    if arr.shape == shape:
        return arr
    return np.pad(arr, [(0, new - old) for old, new in zip(arr.shape, shape, strict=True)])


def _marginal(joint: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Sum out every group axis not in ``axes``; keep ``axes`` in the given order + (y, p)."""
    import numpy as np

    ngroup = joint.ndim - 2
    drop = tuple(a for a in range(ngroup) if a not in axes)
    summed = joint.sum(axis=drop) if drop else joint
    kept = [a for a in range(ngroup) if a in axes]
    order = [kept.index(a) for a in axes] + [len(kept), len(kept) + 1]
    return np.ascontiguousarray(np.transpose(summed, order))


def _sort_order(values: list[Any]) -> list[int]:
    """Positions of ``values`` in sorted order; the missing group (``None``) goes last."""
    present = [k for k, v in enumerate(values) if v is not None]
    absent = [k for k, v in enumerate(values) if v is None]
    return sorted(present, key=lambda k: values[k]) + absent


def _label(value: Any) -> str:
    return MISSING_GROUP if value is None else str(value)


def _product(axes: list[list[str]]) -> list[list[str]]:
    import itertools

    return [list(combo) for combo in itertools.product(*axes)]
