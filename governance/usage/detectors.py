"""governance.usage.detectors: the interface of the usage detectors, and how a deployment swaps them.

The usage policies ask two questions of a request's input and of the model's output: which
content categories it falls in (``content_filter``) and which kinds of personal data it holds
(``data_retention``). Each answer is a set of names, never a piece of the text: the names go
into decisions, the audit trail and logs, where PII must never appear.

- :class:`ContentClassifier`: ``categories(text) -> frozenset[str]``. The built-in one
  (:func:`builtin_content_classifier`, ``governance.usage.content``) is rule-based and knows
  :data:`CONTENT_CATEGORIES`.
- :class:`PIIDetector`: ``kinds(text) -> frozenset[str]``. The built-in one
  (:func:`builtin_pii_detector`, ``governance.usage.pii``) is regular expressions plus
  validators and knows :data:`PII_KINDS`.

Both built-ins run offline (nothing is downloaded, no network) and fast (well under a
millisecond for a typical request), but they are baselines. A deployment that wants a real
moderation model or a better PII engine names a factory in its usage policy file
(``classifier: mycompany.safety:make_classifier``, ``detector: mycompany.privacy:make_detector``):
:func:`load_content_classifier` / :func:`load_pii_detector` import the module, call the factory
once per spec (the object is cached and shared between threads, so it must be thread-safe) and
check that the object has the method. Every answer of a plug-in is checked to be a set of short
lower-case names (:data:`NAME_PATTERN`); anything else (a plug-in that returns matched text, say)
raises :class:`~governance.errors.GovernanceError` instead of reaching the audit trail.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Iterable
from typing import Protocol, cast

from governance.errors import GovernanceError

CONTENT_CATEGORIES: tuple[str, ...] = ("hate", "violence", "sexual", "self_harm")
"""The categories the built-in content classifier knows."""
PII_KINDS: tuple[str, ...] = ("email", "phone", "payment_card", "us_ssn", "iban", "ip_address")
"""The kinds of personal data the built-in PII detector knows."""

BUILTIN = "builtin"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""What a category or kind name returned by a classifier or detector must look like."""

# how the error messages name the two kinds of plug-in, and the example spec they give
CONTENT_PLUGIN = "content_filter classifier"
CONTENT_EXAMPLE = "mycompany.safety:make_classifier"
PII_PLUGIN = "data_retention detector"
PII_EXAMPLE = "mycompany.privacy:make_detector"

ERR_PLUGIN_SPEC = "{what} {spec!r} is not 'builtin' or 'package.module:factory' (e.g. {example})"
ERR_PLUGIN_IMPORT = (
    "{what} {spec!r}: module {module!r} cannot be imported ({error}); install the package that provides it "
    "or correct the module path"
)
ERR_PLUGIN_FACTORY = (
    "{what} {spec!r}: module {module!r} has no callable {factory!r}; name a function (or class) that takes no "
    "arguments and returns the object"
)
ERR_PLUGIN_CALL = "{what} {spec!r}: {factory}() failed ({error}); it must take no arguments and return the object"
ERR_PLUGIN_SHAPE = (
    "{what} {spec!r}: {factory}() returned {type}, which has no {method}(text) method; return an object with "
    "{method}(text: str) -> frozenset[str]"
)
ERR_PLUGIN_RESULT = (
    "{what} {spec!r} answered with {type} (expected a set of names like {example_name!r}: lower-case letters, "
    "digits and '_', at most 64 characters); fix the plug-in so that it returns names, never text"
)

_SPEC = re.compile(r"(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):(?P<factory>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")


class ContentClassifier(Protocol):
    """Names the content categories a text falls in."""

    def categories(self, text: str) -> frozenset[str]:
        """The categories found in ``text`` (names only, never any of the text)."""
        ...


class PIIDetector(Protocol):
    """Names the kinds of personal data a text holds."""

    def kinds(self, text: str) -> frozenset[str]:
        """The PII kinds found in ``text`` (names only, never any of the text)."""
        ...


_lock = threading.RLock()  # re-entrant: a plug-in's factory may load another detector
_builtins: dict[str, object] = {}
_content_plugins: dict[str, ContentClassifier] = {}
_pii_plugins: dict[str, PIIDetector] = {}


def builtin_content_classifier() -> ContentClassifier:
    """The built-in rule-based classifier (one per process, built on first use)."""
    with _lock:
        found = _builtins.get("content")
        if found is None:
            from governance.usage.content import RuleContentClassifier

            found = _builtins["content"] = RuleContentClassifier()
    return cast(ContentClassifier, found)


def builtin_pii_detector() -> PIIDetector:
    """The built-in PII detector (one per process, built on first use)."""
    with _lock:
        found = _builtins.get("pii")
        if found is None:
            from governance.usage.pii import RegexPIIDetector

            found = _builtins["pii"] = RegexPIIDetector()
    return cast(PIIDetector, found)


def load_content_classifier(spec: str) -> ContentClassifier:
    """The classifier ``spec`` names: ``builtin`` or ``package.module:factory`` (``factory()``
    returns an object with ``categories(text)``). Loaded once per spec; raises
    :class:`GovernanceError` (``ERR_PLUGIN_*``) when the spec is wrong."""
    if spec.strip() == BUILTIN:
        return builtin_content_classifier()
    with _lock:
        found = _content_plugins.get(spec)
        if found is None:
            plugin = _load(spec, what=CONTENT_PLUGIN, example=CONTENT_EXAMPLE, method="categories")
            found = _content_plugins[spec] = _CheckedClassifier(plugin, spec)
    return found


def load_pii_detector(spec: str) -> PIIDetector:
    """The PII detector ``spec`` names: ``builtin`` or ``package.module:factory`` (``factory()``
    returns an object with ``kinds(text)``). Loaded once per spec; raises
    :class:`GovernanceError` (``ERR_PLUGIN_*``) when the spec is wrong."""
    if spec.strip() == BUILTIN:
        return builtin_pii_detector()
    with _lock:
        found = _pii_plugins.get(spec)
        if found is None:
            plugin = _load(spec, what=PII_PLUGIN, example=PII_EXAMPLE, method="kinds")
            found = _pii_plugins[spec] = _CheckedDetector(plugin, spec)
    return found


def _load(spec: str, *, what: str, example: str, method: str) -> object:
    parsed = _SPEC.fullmatch(spec.strip())
    if parsed is None:
        raise GovernanceError(ERR_PLUGIN_SPEC.format(what=what, spec=spec, example=example))
    module_name, factory_path = parsed.group("module"), parsed.group("factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise GovernanceError(ERR_PLUGIN_IMPORT.format(what=what, spec=spec, module=module_name, error=exc)) from exc
    factory: object = module
    for part in factory_path.split("."):
        factory = getattr(factory, part, None)
    if not callable(factory):
        raise GovernanceError(ERR_PLUGIN_FACTORY.format(what=what, spec=spec, module=module_name, factory=factory_path))
    try:
        plugin = factory()
    except Exception as exc:
        raise GovernanceError(
            ERR_PLUGIN_CALL.format(what=what, spec=spec, factory=factory_path, error=f"{type(exc).__name__}: {exc}")
        ) from exc
    if not callable(getattr(plugin, method, None)):
        raise GovernanceError(
            ERR_PLUGIN_SHAPE.format(
                what=what, spec=spec, factory=factory_path, type=type(plugin).__name__, method=method
            )
        )
    return plugin


def _names(answer: object, *, what: str, spec: str, example_name: str) -> frozenset[str]:
    """``answer`` as a frozenset of names, or GovernanceError (the answer itself is never put in
    the message: it could hold the text)."""
    if isinstance(answer, (set, frozenset, list, tuple)):
        items: Iterable[object] = answer
        if all(isinstance(i, str) and NAME_PATTERN.fullmatch(i) for i in items):
            return frozenset(cast(Iterable[str], answer))
    raise GovernanceError(
        ERR_PLUGIN_RESULT.format(what=what, spec=spec, type=_shape(answer), example_name=example_name)
    )


def _shape(answer: object) -> str:
    """A description of ``answer`` that holds none of its content."""
    if isinstance(answer, (set, frozenset, list, tuple)):
        return f"a {type(answer).__name__} holding something other than names"
    return f"a {type(answer).__name__}"


class _CheckedClassifier:
    """A plug-in classifier whose answers are checked to be names."""

    def __init__(self, plugin: object, spec: str) -> None:
        self._categories = cast(Callable[[str], object], plugin.categories)  # type: ignore[attr-defined]
        self._spec = spec

    def categories(self, text: str) -> frozenset[str]:
        return _names(self._categories(text), what=CONTENT_PLUGIN, spec=self._spec, example_name="violence")


class _CheckedDetector:
    """A plug-in PII detector whose answers are checked to be names."""

    def __init__(self, plugin: object, spec: str) -> None:
        self._kinds = cast(Callable[[str], object], plugin.kinds)  # type: ignore[attr-defined]
        self._spec = spec

    def kinds(self, text: str) -> frozenset[str]:
        return _names(self._kinds(text), what=PII_PLUGIN, spec=self._spec, example_name="email")
