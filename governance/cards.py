"""Model card schema and validation.

A model card is YAML (or JSON) with the fields of :class:`ModelCard`. Unknown fields are
refused, and every error names the field, says what is wrong and gives an example of a
right value, e.g. ``card.version: '1.x' is not a semantic version (expected e.g. 1.2.0)``.

The card never names its submitter: the owner is the authenticated user who submits it.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from governance.errors import CardValidationError

MAX_CARD_BYTES = 256 * 1024
MAX_TEXT = 5_000
MAX_SHORT = 200
MAX_URI = 2_048
MAX_LIST = 50

SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
URI_RE = re.compile(r"^(s3|file|https?|gs)://\S+$|^/\S*$|^[A-Za-z0-9_][\w.-]*(/[\w.-]+)+/?$")
"""Absolute URIs, absolute paths, or paths relative to the include folder (demo cards)."""

ERR_TOO_LARGE = "card is {size} bytes; the limit is {limit} bytes (keep evidence in files the card points to)"
ERR_NOT_UTF8 = "card is not valid UTF-8 (bad byte at offset {offset}); save the file as UTF-8"
ERR_YAML = "card is not valid YAML: {detail}"
ERR_ALIAS = "YAML anchors and aliases are not allowed in a model card (line {line}); write values out in full"
ERR_DUPLICATE_KEY = "key '{key}' appears twice (line {line}); keep one"
ERR_NOT_MAPPING = "card must be a mapping of field names to values, got {kind} (example: 'name: credit-scorer')"
ERR_NOT_SEMVER = "'{value}' is not a semantic version (expected e.g. 1.2.0)"
ERR_BAD_NAME = (
    "'{value}' is not a valid model name: lowercase letters, digits, '.', '_' or '-', "
    "starting with a letter or digit, at most 100 characters (expected e.g. credit-scorer)"
)
ERR_BAD_SHA = "'{value}' is not a SHA-256 hex digest (expected 64 lowercase hex characters, e.g. {example})"
ERR_BAD_URI = (
    "'{value}' is not a URI (expected e.g. s3://bucket/path, file:///data/eval.csv "
    "or a path relative to the include folder such as demo/eval/credit.csv)"
)
ERR_DUPLICATES = "lists {value} more than once; each entry must be unique"
ERR_METRIC_BELOW = "metric '{metric}' value {value} is below its declared threshold {threshold}"

_EXAMPLE_SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


class Domain(StrEnum):
    """The business domain a model serves. The first four are critical domains."""

    HEALTHCARE = "healthcare"
    FINANCE = "finance"
    LEGAL = "legal"
    SAFETY = "safety"
    EMPLOYMENT = "employment"
    EDUCATION = "education"
    BIOMETRICS = "biometrics"
    CRITICAL_INFRASTRUCTURE = "critical_infrastructure"
    LAW_ENFORCEMENT = "law_enforcement"
    MIGRATION = "migration"
    CUSTOMER_SERVICE = "customer_service"
    MARKETING = "marketing"
    RETAIL = "retail"
    ENTERTAINMENT = "entertainment"
    INTERNAL = "internal"
    OTHER = "other"


class ComplianceRequirement(StrEnum):
    GDPR = "GDPR"
    SOC2 = "SOC2"
    HIPAA = "HIPAA"
    EU_AI_ACT = "EU_AI_ACT"


class ProhibitedPractice(StrEnum):
    """Practices banned by EU AI Act Art. 5. Declaring one makes the model 'prohibited'."""

    SOCIAL_SCORING = "social_scoring"
    SUBLIMINAL_MANIPULATION = "subliminal_manipulation"
    EXPLOITING_VULNERABILITIES = "exploiting_vulnerabilities"
    REALTIME_REMOTE_BIOMETRIC_ID = "realtime_remote_biometric_identification"
    EMOTION_RECOGNITION_WORK_EDUCATION = "emotion_recognition_work_education"
    UNTARGETED_FACE_SCRAPING = "untargeted_face_scraping"
    PREDICTIVE_POLICING_PROFILING = "predictive_policing_profiling"
    SENSITIVE_BIOMETRIC_CATEGORISATION = "sensitive_biometric_categorisation"


ShortText = Annotated[str, Field(min_length=1, max_length=MAX_SHORT)]
LongText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Uri = Annotated[str, Field(min_length=1, max_length=MAX_URI)]


def _check_uri(value: str) -> str:
    if not URI_RE.match(value):
        raise ValueError(ERR_BAD_URI.format(value=_clip(value)))
    return value


def _clip(value: object, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    dupes = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    if dupes:
        raise ValueError(ERR_DUPLICATES.format(value=", ".join(sorted({str(d) for d in dupes}))))
    return values


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Metric(_Strict):
    """One evaluation metric: its measured value and the threshold it must reach."""

    value: float = Field(json_schema_extra={"examples": [0.91]})
    threshold: float | None = Field(default=None, json_schema_extra={"examples": [0.85]})
    higher_is_better: StrictBool = True

    def meets_threshold(self) -> bool:
        if self.threshold is None:
            return True
        return self.value >= self.threshold if self.higher_is_better else self.value <= self.threshold


class Evaluation(_Strict):
    dataset_uri: Uri = Field(json_schema_extra={"examples": ["file:///data/eval/credit.csv"]})
    label_column: ShortText = Field(default="label", json_schema_extra={"examples": ["label"]})
    metrics: dict[Annotated[str, Field(min_length=1, max_length=64)], Metric] = Field(
        min_length=1, max_length=MAX_LIST, json_schema_extra={"examples": [{"auc": {"value": 0.91}}]}
    )

    _uri = field_validator("dataset_uri")(_check_uri)


class Artifact(_Strict):
    uri: Uri = Field(json_schema_extra={"examples": ["s3://models/credit-scorer/1.2.0/model.pkl"]})
    sha256: str = Field(json_schema_extra={"examples": [_EXAMPLE_SHA]})
    format: ShortText | None = Field(default=None, json_schema_extra={"examples": ["pickle"]})

    _uri = field_validator("uri")(_check_uri)

    @field_validator("sha256")
    @classmethod
    def _sha(cls, value: str) -> str:
        if not SHA256_RE.match(value):
            raise ValueError(ERR_BAD_SHA.format(value=_clip(value), example=_EXAMPLE_SHA))
        return value


class ModelCard(_Strict):
    """What a model owner declares about one model version."""

    name: str = Field(json_schema_extra={"examples": ["credit-scorer"]})
    version: str = Field(json_schema_extra={"examples": ["1.2.0"]})
    description: LongText = Field(json_schema_extra={"examples": ["Scores loan applications."]})
    owner_team: ShortText = Field(json_schema_extra={"examples": ["credit-risk-ml"]})
    domain: Domain = Field(json_schema_extra={"examples": ["finance"]})
    user_facing: StrictBool = Field(json_schema_extra={"examples": [True]})
    autonomous: StrictBool = Field(json_schema_extra={"examples": [False]})
    processes_pii: StrictBool = Field(json_schema_extra={"examples": [True]})
    intended_use: LongText = Field(json_schema_extra={"examples": ["Rank applications for review."]})
    limitations: list[LongText] = Field(
        min_length=1, max_length=MAX_LIST, json_schema_extra={"examples": [["Not for applicants under 18."]]}
    )
    evaluation: Evaluation
    artifact: Artifact
    compliance_requirements: list[ComplianceRequirement] = Field(
        default_factory=list, max_length=4, json_schema_extra={"examples": [["GDPR", "EU_AI_ACT"]]}
    )
    protected_attributes: list[ShortText] = Field(
        default_factory=list, max_length=MAX_LIST, json_schema_extra={"examples": [["sex", "race"]]}
    )
    predictions_location: Uri | None = Field(
        default=None, json_schema_extra={"examples": ["s3://governance/predictions/credit-scorer/"]}
    )
    explainability_uri: Uri | None = Field(
        default=None, json_schema_extra={"examples": ["s3://models/credit-scorer/1.2.0/shap.html"]}
    )
    data_minimisation: LongText | None = Field(
        default=None, json_schema_extra={"examples": ["Only income and repayment history are used."]}
    )
    human_oversight: LongText | None = Field(
        default=None, json_schema_extra={"examples": ["Every refusal is reviewed by a credit officer."]}
    )
    prohibited_practices: list[ProhibitedPractice] = Field(
        default_factory=list, max_length=8, json_schema_extra={"examples": [[]]}
    )
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=20, json_schema_extra={"examples": [["credit", "tabular"]]}
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(ERR_BAD_NAME.format(value=_clip(value)))
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if len(value) > 64 or not SEMVER_RE.match(value):
            raise ValueError(ERR_NOT_SEMVER.format(value=_clip(value)))
        return value

    _uris = field_validator("predictions_location", "explainability_uri")(lambda v: v if v is None else _check_uri(v))
    _uniq = field_validator("compliance_requirements", "protected_attributes", "tags", "prohibited_practices")(_unique)

    @property
    def key(self) -> str:
        return f"{self.name}:{self.version}"


# --------------------------------------------------------------------------- parsing


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML loader that refuses anchors/aliases (alias bombs) and duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise CardValidationError([ERR_ALIAS.format(line=event.start_mark.line + 1)])
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise CardValidationError([ERR_ALIAS.format(line=event.start_mark.line + 1)])
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise CardValidationError([ERR_DUPLICATE_KEY.format(key=_clip(key), line=key_node.start_mark.line + 1)])
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 turns 'yes'/'no'/'on'/'off' into booleans and dates into date objects; keep the
# card's scalars as JSON would see them: only true/false are booleans, timestamps stay text.
for _first, _resolvers in list(_NoAliasLoader.yaml_implicit_resolvers.items()):
    _NoAliasLoader.yaml_implicit_resolvers[_first] = [
        (tag, rx) for tag, rx in _resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
_NoAliasLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_card_text(data: bytes | str) -> dict[str, Any]:
    """Decode and parse card YAML/JSON into a mapping; refuses oversize, non-UTF-8, aliases."""
    raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else data
    if len(raw) > MAX_CARD_BYTES:
        raise CardValidationError([ERR_TOO_LARGE.format(size=len(raw), limit=MAX_CARD_BYTES)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CardValidationError([ERR_NOT_UTF8.format(offset=exc.start)]) from None
    try:
        doc = yaml.load(text, Loader=_NoAliasLoader)
    except CardValidationError:
        raise
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise CardValidationError([ERR_YAML.format(detail=_clip(detail, 300))]) from None
    if not isinstance(doc, dict):
        raise CardValidationError([ERR_NOT_MAPPING.format(kind=type(doc).__name__)])
    return doc


def _example_for(loc: tuple[Any, ...]) -> Any:
    """The example value the schema declares for the field at ``loc``, if any."""
    model: Any = ModelCard
    info = None
    for part in loc:
        if isinstance(part, int) or model is None or not hasattr(model, "model_fields"):
            break
        info = model.model_fields.get(part)
        if info is None:
            return None
        ann = info.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    if info is None or not isinstance(info.json_schema_extra, dict):
        return None
    examples = info.json_schema_extra.get("examples")
    return examples[0] if examples else None


def _format_error(err: dict[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    path = "card" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
        return f"{path}: {msg}"
    example = _example_for(loc)
    hint = f" (expected e.g. {json.dumps(example)})" if example is not None else ""
    if kind == "missing":
        return f"{path}: required field is missing{hint}"
    if kind == "extra_forbidden":
        allowed = ", ".join(_allowed_fields(loc[:-1]))
        return f"{path}: unknown field; allowed fields here: {allowed}"
    if kind == "enum":
        expected = err.get("ctx", {}).get("expected", "")
        return f"{path}: {_clip(err.get('input'))!r} is not allowed; choose one of {expected}"
    got = err.get("input")
    if kind.endswith("_type") or kind in ("bool_parsing", "float_parsing", "int_parsing"):
        return f"{path}: {msg.lower()}, got {type(got).__name__} {_clip(got)!r}{hint}"
    return f"{path}: {msg[0].lower() + msg[1:] if msg else msg}{hint}"


def _allowed_fields(loc: tuple[Any, ...]) -> list[str]:
    model: Any = ModelCard
    for part in loc:
        if isinstance(part, int) or not hasattr(model, "model_fields"):
            continue
        info = model.model_fields.get(part)
        ann = info.annotation if info else None
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else model
    return sorted(getattr(model, "model_fields", {}))


def validate_card(doc: dict[str, Any]) -> ModelCard:
    """Validate a parsed card; raises :class:`CardValidationError` listing every problem."""
    if not isinstance(doc, dict):
        raise CardValidationError([ERR_NOT_MAPPING.format(kind=type(doc).__name__)])
    try:
        return ModelCard.model_validate(doc)
    except ValidationError as exc:
        raise CardValidationError([_format_error(e) for e in exc.errors()]) from None


def load_card(source: str | Path | bytes) -> ModelCard:
    """Read, parse and validate a card from a path or raw bytes."""
    if isinstance(source, bytes):
        return validate_card(parse_card_text(source))
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > MAX_CARD_BYTES:
            raise CardValidationError([ERR_TOO_LARGE.format(size=size, limit=MAX_CARD_BYTES)])
        raw = path.read_bytes()
    except OSError as exc:
        raise CardValidationError([f"{path}: cannot read card file: {exc.strerror}"]) from None
    return validate_card(parse_card_text(raw))


def card_json_schema() -> dict[str, Any]:
    """JSON schema of the card (used by the submission DAG's trigger form)."""
    return ModelCard.model_json_schema()
