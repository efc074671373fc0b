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
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, ValidationError, field_validator
from pydantic_core import ErrorDetails

from governance._pydantic import StrictModel
from governance.errors import CardValidationError

MAX_CARD_BYTES = 256 * 1024
MAX_TEXT = 5_000
MAX_SHORT = 200
MAX_URI = 2_048
MAX_LIST = 50
MAX_DEPTH = 16
"""Deepest nesting of mappings/lists a card may have (a real card needs 4)."""
SUBMITTER_FIELDS = frozenset({"owner", "submitted_by", "submitter", "owner_email", "created_by", "author"})
"""Fields that would name the submitter: the card must not, the authenticated user is the owner."""

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
ERR_EMPTY_CARD = "card is empty; write its fields as a mapping (example: 'name: credit-scorer')"
ERR_TOO_DEEP = "card is nested more than {limit} levels deep (line {line}); a model card needs at most 4"
ERR_KEY_NOT_TEXT = "key {key} (line {line}) is not text; field names and metric names must be text"
ERR_BINARY = "binary values (!!binary, line {line}) are not allowed in a model card; point to a file instead"
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
# per-field problems found by the schema; {path} is e.g. card.evaluation.dataset_uri
ERR_MISSING = "{path}: required field is missing{hint}"
ERR_UNKNOWN_FIELD = "{path}: unknown field; allowed fields here: {allowed}"
ERR_SUBMITTER_FIELD = (
    "{path}: a model card must not name its submitter; the owner is the authenticated user who "
    "submits it (remove this field)"
)
ERR_ENUM = "{path}: {value!r} is not allowed; choose one of {expected}"
ERR_WRONG_TYPE = "{path}: {msg}, got {kind} {value!r}{hint}"
ERR_TEXT_TOO_LONG = "{path}: text is {length} characters long; the limit is {limit} (keep long documents in files)"
ERR_EMPTY_TEXT = "{path}: must not be empty{hint}"
ERR_TOO_FEW = "{path}: needs at least {min} item(s), got {actual}{hint}"
ERR_TOO_MANY = "{path}: allows at most {max} items, got {actual}"
ERR_NOT_FINITE = "{path}: must be a finite number, got {value}"

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
    if not text.isprintable():  # show control characters as escapes, not raw bytes
        text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    dupes = [v for v in values if v in seen or seen.add(v)]  # type: ignore[func-returns-value]
    if dupes:
        raise ValueError(ERR_DUPLICATES.format(value=", ".join(sorted({str(d) for d in dupes}))))
    return values


class _CardModel(StrictModel):
    """Card fields also strip surrounding whitespace and refuse NaN / infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


class Metric(_CardModel):
    """One evaluation metric: its measured value and the threshold it must reach."""

    value: StrictFloat = Field(json_schema_extra={"examples": [0.91]})
    threshold: StrictFloat | None = Field(default=None, json_schema_extra={"examples": [0.85]})
    higher_is_better: StrictBool = True

    def meets_threshold(self) -> bool:
        if self.threshold is None:
            return True
        return self.value >= self.threshold if self.higher_is_better else self.value <= self.threshold


class Evaluation(_CardModel):
    dataset_uri: Uri = Field(json_schema_extra={"examples": ["file:///data/eval/credit.csv"]})
    label_column: ShortText = Field(default="label", json_schema_extra={"examples": ["label"]})
    metrics: dict[Annotated[str, Field(min_length=1, max_length=64)], Metric] = Field(
        min_length=1, max_length=MAX_LIST, json_schema_extra={"examples": [{"auc": {"value": 0.91}}]}
    )

    _uri = field_validator("dataset_uri")(_check_uri)


class Artifact(_CardModel):
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


class ModelCard(_CardModel):
    """What a model owner declares about one model version."""

    name: str = Field(json_schema_extra={"examples": ["credit-scorer"], "pattern": NAME_RE.pattern})
    version: str = Field(json_schema_extra={"examples": ["1.2.0"], "pattern": SEMVER_RE.pattern})
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
    """Safe YAML loader that refuses anchors/aliases (alias bombs), duplicate keys, keys that
    are not text, binary values and nesting deeper than :data:`MAX_DEPTH`."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise CardValidationError([ERR_ALIAS.format(line=event.start_mark.line + 1)])
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise CardValidationError([ERR_ALIAS.format(line=event.start_mark.line + 1)])
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:  # the composer recurses: stop before Python's stack does
                raise CardValidationError([ERR_TOO_DEEP.format(limit=MAX_DEPTH, line=event.start_mark.line + 1)])
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise CardValidationError(
                    [ERR_KEY_NOT_TEXT.format(key=_clip(repr(key)), line=key_node.start_mark.line + 1)]
                )
            if key in seen:
                raise CardValidationError([ERR_DUPLICATE_KEY.format(key=_clip(key), line=key_node.start_mark.line + 1)])
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 turns 'yes'/'no'/'on'/'off' into booleans and dates into date objects; keep the
# card's scalars as JSON would see them: only true/false are booleans, timestamps stay text.
# (A copy: the resolver table is otherwise shared with yaml.SafeLoader, and editing it in
# place would change how every yaml.safe_load in the process reads booleans.)
_NoAliasLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_NoAliasLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _refuse_binary(loader: yaml.SafeLoader, node: Any) -> Any:
    raise CardValidationError([ERR_BINARY.format(line=node.start_mark.line + 1)])


_NoAliasLoader.add_constructor("tag:yaml.org,2002:binary", _refuse_binary)


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
    if doc is None:
        raise CardValidationError([ERR_EMPTY_CARD])
    if not isinstance(doc, dict):
        raise CardValidationError([ERR_NOT_MAPPING.format(kind=type(doc).__name__)])
    return doc


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def _descend(loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """Walk ``loc`` through the schema: (info of its last field, model of the mapping at ``loc``).

    List indices are skipped, and so are the keys of a mapping of models (the metric name in
    ``evaluation.metrics.<name>.value``). (None, None) where ``loc`` leaves the schema.
    """
    node: Any = ModelCard  # a model class, ("mapping", value model), or None
    info: Any = None
    for part in loc:
        if isinstance(part, int):
            continue
        if isinstance(node, tuple):  # a key of a mapping of models
            node = node[1]
            continue
        if node is None:
            return None, None
        info = node.model_fields.get(part)
        if info is None:
            return None, None
        ann = info.annotation
        if _is_model(ann):
            node = ann
        elif get_origin(ann) is dict and _is_model(get_args(ann)[-1]):
            node = ("mapping", get_args(ann)[-1])
        else:
            node = None
    return info, node if _is_model(node) else None


def _example_for(loc: tuple[Any, ...]) -> Any:
    """The example value the schema declares for the field at ``loc``, if any."""
    info, _ = _descend(loc)
    if info is None or not isinstance(info.json_schema_extra, dict):
        return None
    examples = info.json_schema_extra.get("examples")
    return examples[0] if examples else None


def _format_error(err: ErrorDetails) -> str:
    loc = tuple(err.get("loc", ()))
    path = "card" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
        return f"{path}: {msg}"
    example = _example_for(loc)
    hint = f" (expected e.g. {json.dumps(example)})" if example is not None else ""
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "missing":
        return ERR_MISSING.format(path=path, hint=hint)
    if kind == "extra_forbidden":
        if len(loc) == 1 and str(loc[0]).lower() in SUBMITTER_FIELDS:
            return ERR_SUBMITTER_FIELD.format(path=path)
        return ERR_UNKNOWN_FIELD.format(path=path, allowed=", ".join(_allowed_fields(loc[:-1])))
    if kind == "enum":
        return ERR_ENUM.format(path=path, value=_clip(got), expected=ctx.get("expected", ""))
    if kind.endswith("_type") or kind in ("bool_parsing", "float_parsing", "int_parsing"):
        return ERR_WRONG_TYPE.format(path=path, msg=msg.lower(), kind=type(got).__name__, value=_clip(got), hint=hint)
    if kind == "string_too_long":
        return ERR_TEXT_TOO_LONG.format(path=path, length=len(str(got)), limit=ctx.get("max_length"))
    if kind == "string_too_short":
        return ERR_EMPTY_TEXT.format(path=path, hint=hint)
    if kind == "too_short":
        return ERR_TOO_FEW.format(path=path, min=ctx.get("min_length"), actual=ctx.get("actual_length"), hint=hint)
    if kind == "too_long":
        return ERR_TOO_MANY.format(path=path, max=ctx.get("max_length"), actual=ctx.get("actual_length"))
    if kind == "finite_number":
        return ERR_NOT_FINITE.format(path=path, value=got)
    return f"{path}: {msg[0].lower() + msg[1:] if msg else msg}{hint}"


def _allowed_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed in the mapping at ``loc`` (the parent of an unknown field)."""
    _, model = _descend(loc)
    return sorted(getattr(model, "model_fields", {}))


def validate_card(doc: dict[str, Any]) -> ModelCard:
    """Validate a parsed card; raises :class:`CardValidationError` listing every problem."""
    if not isinstance(doc, dict):
        raise CardValidationError([ERR_NOT_MAPPING.format(kind=type(doc).__name__)])
    try:
        return ModelCard.model_validate(doc)
    except ValidationError as exc:
        raise CardValidationError([_format_error(e) for e in exc.errors()]) from None


def missing_required_fields(doc: Any) -> list[str]:
    """Paths of the required fields ``doc`` lacks, at the top level and inside the mappings it
    gives (``artifact.sha256``, ``evaluation.metrics.auc.value``), in schema order; ``[]`` when
    none is missing or ``doc`` is not a mapping. The same fields :func:`validate_card` reports
    with :data:`ERR_MISSING`, without the other problems."""
    if not isinstance(doc, dict):
        return []
    try:
        ModelCard.model_validate(doc)
    except ValidationError as exc:
        return [
            "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".")
            for e in exc.errors()
            if e.get("type") == "missing"
        ]
    return []


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


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = _inline_refs(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
            rest = {k: _inline_refs(v, defs) for k, v in node.items() if k != "$ref"}
            return {**target, **rest}
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def card_field_schemas() -> dict[str, tuple[dict[str, Any], bool]]:
    """Per top-level card field: (self-contained JSON schema, required?) for trigger forms."""
    schema = card_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    out: dict[str, tuple[dict[str, Any], bool]] = {}
    for name, prop in schema["properties"].items():
        prop = _inline_refs(prop, defs)
        prop.pop("default", None)
        out[name] = (prop, name in required)
    return out
