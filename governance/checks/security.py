"""What a security reviewer must see before signing off a model, with a severity per finding.

:func:`security_findings` turns the card and its :class:`AutomatedCheckReport` into
:class:`SecurityFindings`: the pickle scan, artifact integrity, the risk of the artifact's format
(pickle-based formats run code on load; safetensors/ONNX do not), how personal data is handled and
which URIs point outside the governed storage. ``to_markdown()`` is the body of the security review
task in Airflow's Required Actions; ``to_dict()`` is stored as evidence.

Severity guide: CRITICAL — do not approve (code execution, tampered artifact); HIGH — blocking until
explained (unverified artifact, personal data without a minimisation statement); MEDIUM — needs the
reviewer's judgement; LOW / INFO — for the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from governance.cards import ModelCard
from governance.checks.artifact import CHECK_ARTIFACT_INTEGRITY, CHECK_PICKLE_SCAN, format_risk
from governance.checks.automated import AutomatedCheckReport
from governance.checks.base import jsonable, uri_scheme
from governance.s3 import resolve_settings

FINDING_PICKLE_SCAN = "pickle_scan"
FINDING_INTEGRITY = "artifact_integrity"
FINDING_FORMAT = "artifact_format"
FINDING_PII = "personal_data"
FINDING_URIS = "external_uris"

MSG_SCAN_MISSING = "The pickle scan did not run; nothing is known about what loading the artifact executes."
MSG_SCAN_DANGEROUS = "Loading the artifact would import {globals}, which can execute arbitrary code. Do not load it."
MSG_SCAN_INCOMPLETE = "The pickle stream could not be fully parsed (truncated or crafted); treat it as unsafe."
MSG_SCAN_FAILED = "The artifact could not be scanned: {reason}"
MSG_SCAN_SUSPICIOUS = (
    "The artifact imports globals the scanner does not classify: {globals}. Confirm each is an expected "
    "model class from a trusted library."
)
MSG_SCAN_CLEAN = "No code-executing import found ({count} globals imported{names})."
MSG_INTEGRITY_MISSING = "Artifact integrity was not checked."
MSG_INTEGRITY_MISMATCH = (
    "The artifact's SHA-256 is {actual}, not the {declared} the card declares: the file is not the one described."
)
MSG_INTEGRITY_UNREADABLE = "The artifact's SHA-256 could not be verified: {reason}"
MSG_INTEGRITY_OK = "SHA-256 {sha} matches the card ({size} bytes)."
MSG_FORMAT = "Format '{format}'{inferred}: {note}."
MSG_FORMAT_PICKLE_ADVICE = " The scan lowers this risk but cannot remove it; prefer safetensors or ONNX."
MSG_PII_NONE = "The card declares no personal data."
MSG_PII_MINIMISED = "Personal data is processed; minimisation declared: {statement}"
MSG_PII_UNMINIMISED = "Personal data is processed but the card declares no data-minimisation statement."
MSG_URIS_EXTERNAL = "{count} URI(s) point outside the governed storage and can change after approval: {uris}"
MSG_URIS_OTHER_BUCKETS = "{count} URI(s) are in S3 buckets other than the governance bucket '{bucket}': {uris}"
MSG_URIS_GOVERNED = "Every URI is in the include folder, a local path or the governance bucket."

URI_FIELDS = ("evaluation.dataset_uri", "artifact.uri", "explainability_uri", "predictions_location")


class Severity(StrEnum):
    INFO = "INFO"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


BLOCKING = frozenset({Severity.HIGH, Severity.CRITICAL})


@dataclass(frozen=True, kw_only=True)
class Finding:
    id: str
    title: str
    severity: Severity
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity.value,
            "summary": self.summary,
            "evidence": jsonable(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            id=str(data["id"]),
            title=str(data["title"]),
            severity=Severity(data["severity"]),
            summary=str(data["summary"]),
            evidence=dict(data.get("evidence") or {}),
        )


@dataclass(frozen=True, kw_only=True)
class SecurityFindings:
    model: str
    findings: list[Finding]

    @property
    def highest(self) -> Severity:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=Severity.INFO)

    @property
    def blocking(self) -> bool:
        """True when any finding is HIGH or CRITICAL."""
        return any(f.severity in BLOCKING for f in self.findings)

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for f in self.findings if f.severity == s) for s in reversed(Severity)}

    def finding(self, finding_id: str) -> Finding | None:
        return next((f for f in self.findings if f.id == finding_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "highest_severity": self.highest.value,
            "blocking": self.blocking,
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SecurityFindings:
        return cls(model=str(data["model"]), findings=[Finding.from_dict(f) for f in data.get("findings") or []])

    def to_markdown(self) -> str:
        counts = ", ".join(f"{n} {s.lower()}" for s, n in self.counts().items() if n)
        verdict = (
            "**Blocking findings: do not approve until each HIGH/CRITICAL finding is resolved or explained.**"
            if self.blocking
            else "No blocking finding."
        )
        lines = [
            f"### Security findings: {_md(self.model)}",
            "",
            f"Highest severity **{self.highest.value}** ({counts}). {verdict}",
            "",
            "| Severity | Finding | Details |",
            "| --- | --- | --- |",
        ]
        ordered = sorted(self.findings, key=lambda f: -f.severity.rank)
        lines += [f"| {f.severity.value} | {_md(f.title)} | {_md(f.summary)} |" for f in ordered]
        return "\n".join(lines)


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _short(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _pickle_finding(report: AutomatedCheckReport) -> Finding:
    title = "Unsafe-pickle scan"
    check = report.check(CHECK_PICKLE_SCAN)
    if check is None:
        return Finding(id=FINDING_PICKLE_SCAN, title=title, severity=Severity.HIGH, summary=MSG_SCAN_MISSING)
    d = check.details
    evidence: dict[str, Any] = {
        k: d.get(k) for k in ("scanner", "dangerous_globals", "suspicious_globals", "scan_error") if k in d
    }
    dangerous = list(d.get("dangerous_globals") or [])
    suspicious = list(d.get("suspicious_globals") or [])
    if dangerous:
        summary = MSG_SCAN_DANGEROUS.format(globals=_short(dangerous))
        return Finding(
            id=FINDING_PICKLE_SCAN, title=title, severity=Severity.CRITICAL, summary=summary, evidence=evidence
        )
    if d.get("scan_error"):
        return Finding(
            id=FINDING_PICKLE_SCAN, title=title, severity=Severity.HIGH, summary=MSG_SCAN_INCOMPLETE, evidence=evidence
        )
    if not check.passed:
        summary = MSG_SCAN_FAILED.format(reason="; ".join(check.reasons) or "unknown")
        return Finding(id=FINDING_PICKLE_SCAN, title=title, severity=Severity.HIGH, summary=summary, evidence=evidence)
    if suspicious:
        summary = MSG_SCAN_SUSPICIOUS.format(globals=_short(suspicious))
        return Finding(
            id=FINDING_PICKLE_SCAN, title=title, severity=Severity.MEDIUM, summary=summary, evidence=evidence
        )
    names = [f"{g['module']}.{g['name']}" for g in d.get("globals") or []]
    summary = MSG_SCAN_CLEAN.format(count=len(names), names=f": {_short(names)}" if names else "")
    return Finding(id=FINDING_PICKLE_SCAN, title=title, severity=Severity.INFO, summary=summary, evidence=evidence)


def _integrity_finding(report: AutomatedCheckReport) -> Finding:
    title = "Artifact integrity (SHA-256)"
    check = report.check(CHECK_ARTIFACT_INTEGRITY)
    if check is None:
        return Finding(id=FINDING_INTEGRITY, title=title, severity=Severity.HIGH, summary=MSG_INTEGRITY_MISSING)
    d = check.details
    evidence: dict[str, Any] = {
        k: d.get(k) for k in ("uri", "resolved", "sha256_declared", "sha256_actual", "size_bytes") if k in d
    }
    if check.passed:
        summary = MSG_INTEGRITY_OK.format(sha=d.get("sha256_actual"), size=d.get("size_bytes"))
        return Finding(id=FINDING_INTEGRITY, title=title, severity=Severity.INFO, summary=summary, evidence=evidence)
    if d.get("sha256_actual"):
        summary = MSG_INTEGRITY_MISMATCH.format(actual=d["sha256_actual"], declared=d.get("sha256_declared"))
        return Finding(
            id=FINDING_INTEGRITY, title=title, severity=Severity.CRITICAL, summary=summary, evidence=evidence
        )
    summary = MSG_INTEGRITY_UNREADABLE.format(reason="; ".join(check.reasons) or "unknown")
    return Finding(id=FINDING_INTEGRITY, title=title, severity=Severity.HIGH, summary=summary, evidence=evidence)


def _format_finding(card: ModelCard) -> Finding:
    risk = format_risk(card)
    summary = MSG_FORMAT.format(
        format=risk.format, inferred="" if risk.declared else " (inferred from the file name)", note=risk.note
    )
    if risk.executes_code is False:
        severity = Severity.INFO
    else:
        severity = Severity.MEDIUM
        if risk.executes_code:
            summary += MSG_FORMAT_PICKLE_ADVICE
    return Finding(
        id=FINDING_FORMAT, title="Artifact format", severity=severity, summary=summary, evidence=risk.to_dict()
    )


def _pii_finding(card: ModelCard) -> Finding:
    title = "Personal data"
    evidence = {
        "processes_pii": card.processes_pii,
        "data_minimisation": card.data_minimisation,
        "compliance_requirements": [r.value for r in card.compliance_requirements],
        "protected_attributes": list(card.protected_attributes),
    }
    if not card.processes_pii:
        return Finding(id=FINDING_PII, title=title, severity=Severity.INFO, summary=MSG_PII_NONE, evidence=evidence)
    if card.data_minimisation is None:
        return Finding(
            id=FINDING_PII, title=title, severity=Severity.HIGH, summary=MSG_PII_UNMINIMISED, evidence=evidence
        )
    summary = MSG_PII_MINIMISED.format(statement=card.data_minimisation)
    return Finding(id=FINDING_PII, title=title, severity=Severity.LOW, summary=summary, evidence=evidence)


def card_uris(card: ModelCard) -> dict[str, str]:
    values = {
        "evaluation.dataset_uri": card.evaluation.dataset_uri,
        "artifact.uri": card.artifact.uri,
        "explainability_uri": card.explainability_uri,
        "predictions_location": card.predictions_location,
    }
    return {k: v for k, v in values.items() if v}


def _uri_finding(card: ModelCard) -> Finding:
    title = "Where the model's files live"
    bucket = resolve_settings().bucket  # the bucket really used, however configured
    external: list[str] = []
    other_buckets: list[str] = []
    classified: dict[str, str] = {}
    for name, uri in card_uris(card).items():
        scheme = uri_scheme(uri)
        if scheme in ("http", "https", "gs"):
            kind = "external"
            external.append(f"{name}={uri}")
        elif scheme == "s3":
            in_bucket = uri[len("s3://") :].split("/", 1)[0]
            kind = "governance bucket" if in_bucket == bucket else f"S3 bucket {in_bucket}"
            if in_bucket != bucket:
                other_buckets.append(f"{name}={uri}")
        elif scheme == "file" or uri.startswith("/"):
            kind = "local path"
        else:
            kind = "include folder"
        classified[name] = kind
    evidence = {"uris": card_uris(card), "classified": classified, "governance_bucket": bucket}
    if external:
        summary = MSG_URIS_EXTERNAL.format(count=len(external), uris=_short(external))
        severity = Severity.MEDIUM
    elif other_buckets:
        summary = MSG_URIS_OTHER_BUCKETS.format(count=len(other_buckets), bucket=bucket, uris=_short(other_buckets))
        severity = Severity.LOW
    else:
        summary, severity = MSG_URIS_GOVERNED, Severity.INFO
    return Finding(id=FINDING_URIS, title=title, severity=severity, summary=summary, evidence=evidence)


def security_findings(card: ModelCard, automated: AutomatedCheckReport) -> SecurityFindings:
    """Summarise what the security reviewer must see for ``card``, from its automated-check report."""
    return SecurityFindings(
        model=f"{card.name} {card.version}",
        findings=[
            _pickle_finding(automated),
            _integrity_finding(automated),
            _format_finding(card),
            _pii_finding(card),
            _uri_finding(card),
        ],
    )
