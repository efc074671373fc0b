"""Artifact checks: SHA-256 integrity against the card, and an unsafe-pickle scan (picklescan).

The artifact is read once (local file, ``file://``, include-relative path, or ``s3://`` through
boto3) and both checks run over the same bytes. The pickle scan never loads the artifact: picklescan
disassembles the pickle opcodes and lists the globals the stream would import; a global that can
execute code (``os.system``, ``builtins.eval``, ``subprocess.*``…) is *dangerous* and fails the check.
Globals picklescan does not know (e.g. a scikit-learn class) are *suspicious*: the check passes and the
security reviewer sees them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

from governance.cards import ModelCard
from governance.checks.base import CheckResult, SourceError, open_source, resolve_uri

CHECK_ARTIFACT_INTEGRITY = "artifact_integrity"
CHECK_PICKLE_SCAN = "pickle_scan"
HASH_CHUNK = 1024 * 1024

ERR_SHA_MISMATCH = (
    "artifact.sha256: {uri} hashes to {actual}, but the card declares {declared} "
    "(the file changed after the card was written, or the card names the wrong file)"
)
ERR_DANGEROUS_GLOBALS = (
    "artifact: unsafe pickle: {uri} imports {globals} when loaded, which can execute arbitrary code; "
    "do not load it, rebuild the artifact from trusted code or ship safetensors/ONNX"
)
ERR_SCAN_INCOMPLETE = (
    "artifact: {uri} could not be fully parsed as a pickle (a truncated or crafted stream); "
    "treat it as unsafe and rebuild it"
)
ERR_NOT_SCANNED = "artifact: not scanned: {problem}"
ERR_SCANNER = "artifact: the pickle scanner failed on {uri}: {problem}"

PICKLE_FORMATS = frozenset({"pickle", "pkl", "joblib", "cloudpickle", "dill", "pytorch", "torch", "pt", "pth", "ckpt"})
"""Formats whose loaders unpickle, i.e. run code chosen by whoever wrote the file."""
SAFE_FORMATS = frozenset({"safetensors", "onnx", "gguf", "pmml", "json", "tflite"})
"""Formats that hold data only: loading them does not execute code from the file."""
PARTLY_SAFE_FORMATS = frozenset({"keras", "h5", "hdf5", "savedmodel", "numpy", "npy", "npz", "zip"})
"""Formats that can embed code or pickles in some modes (Keras Lambda layers, numpy allow_pickle, zips)."""

EXTENSION_FORMATS = {
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "joblib",
    ".dat": "pickle",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".bin": "pytorch",
    ".ckpt": "pytorch",
    ".safetensors": "safetensors",
    ".onnx": "onnx",
    ".gguf": "gguf",
    ".pmml": "pmml",
    ".json": "json",
    ".tflite": "tflite",
    ".keras": "keras",
    ".h5": "h5",
    ".npy": "numpy",
    ".npz": "npz",
    ".zip": "zip",
}


@dataclass(frozen=True, kw_only=True)
class FormatRisk:
    """What loading the artifact's format implies: ``executes_code`` is None when unknown."""

    format: str
    declared: bool
    executes_code: bool | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "declared": self.declared,
            "executes_code": self.executes_code,
            "note": self.note,
        }


def format_risk(card: ModelCard) -> FormatRisk:
    """The artifact format (declared, else inferred from the file extension) and its code-execution risk."""
    declared = (card.artifact.format or "").strip().lower()
    suffix = Path(card.artifact.uri.rstrip("/")).suffix.lower()
    fmt = declared or EXTENSION_FORMATS.get(suffix, "unknown")
    if fmt in PICKLE_FORMATS:
        return FormatRisk(
            format=fmt,
            declared=bool(declared),
            executes_code=True,
            note="pickle-based: loading the file runs code chosen by whoever wrote it",
        )
    if fmt in SAFE_FORMATS:
        return FormatRisk(
            format=fmt, declared=bool(declared), executes_code=False, note="data-only format: loading runs no code"
        )
    if fmt in PARTLY_SAFE_FORMATS:
        return FormatRisk(
            format=fmt,
            declared=bool(declared),
            executes_code=None,
            note="can embed code or pickles in some modes (e.g. Keras Lambda layers, numpy allow_pickle)",
        )
    return FormatRisk(
        format=fmt,
        declared=bool(declared),
        executes_code=None,
        note="format not declared and not recognised from the file name; assume it may execute code",
    )


def _scanner_version() -> str:
    try:
        return f"picklescan {version('picklescan')}"
    except PackageNotFoundError:
        return "picklescan"


def _sha256(handle: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _scan(handle: IO[bytes], *, where: str, suffix: str, uri: str) -> CheckResult:
    from picklescan.scanner import SafetyLevel, scan_bytes

    details: dict[str, Any] = {"scanner": _scanner_version()}
    try:
        result = scan_bytes(handle, where, suffix or None)
    except Exception as exc:  # picklescan raises for malformed zips/torch files among others
        details["error"] = f"{type(exc).__name__}: {exc}"
        return CheckResult(
            name=CHECK_PICKLE_SCAN,
            passed=False,
            reasons=[ERR_SCANNER.format(uri=uri, problem=details["error"])],
            details=details,
        )
    found = sorted(
        {(g.module, g.name, g.safety.value) for g in result.globals},
        key=lambda g: (g[2] != SafetyLevel.Dangerous.value, g[0], g[1]),
    )
    dangerous = [f"{m}.{n}" for m, n, s in found if s == SafetyLevel.Dangerous.value]
    suspicious = [f"{m}.{n}" for m, n, s in found if s == SafetyLevel.Suspicious.value]
    details.update(
        globals=[{"module": m, "name": n, "safety": s} for m, n, s in found],
        dangerous_globals=dangerous,
        suspicious_globals=suspicious,
        issues=result.issues_count,
        scan_error=result.scan_err,
    )
    reasons = []
    if dangerous:
        reasons.append(ERR_DANGEROUS_GLOBALS.format(uri=uri, globals=", ".join(dangerous)))
    if result.scan_err:
        reasons.append(ERR_SCAN_INCOMPLETE.format(uri=uri))
    return CheckResult(name=CHECK_PICKLE_SCAN, passed=not reasons, reasons=reasons, details=details)


def check_artifact(card: ModelCard, *, include_dir: Path | None = None) -> tuple[CheckResult, CheckResult]:
    """(integrity, pickle scan) of the card's artifact, reading it once."""
    uri = card.artifact.uri
    base: dict[str, Any] = {"uri": uri}
    try:
        source = resolve_uri(uri, field="artifact.uri", include_dir=include_dir)
        base["resolved"] = source.where
        with open_source(source) as handle:
            actual, size = _sha256(handle)
            handle.seek(0)
            scan = _scan(handle, where=source.where, suffix=source.suffix, uri=uri)
    except SourceError as exc:
        return (
            CheckResult(name=CHECK_ARTIFACT_INTEGRITY, passed=False, reasons=[str(exc)], details=dict(base)),
            CheckResult(
                name=CHECK_PICKLE_SCAN,
                passed=False,
                reasons=[ERR_NOT_SCANNED.format(problem=exc)],
                details={**base, "scanner": _scanner_version()},
            ),
        )
    declared = card.artifact.sha256.lower()
    integrity_details = {**base, "size_bytes": size, "sha256_declared": declared, "sha256_actual": actual}
    reasons = [] if actual == declared else [ERR_SHA_MISMATCH.format(uri=uri, actual=actual, declared=declared)]
    integrity = CheckResult(
        name=CHECK_ARTIFACT_INTEGRITY, passed=not reasons, reasons=reasons, details=integrity_details
    )
    scan = CheckResult(name=scan.name, passed=scan.passed, reasons=scan.reasons, details={**base, **scan.details})
    return integrity, scan
