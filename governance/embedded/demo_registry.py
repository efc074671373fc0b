"""Demo models in the registry, so the nightly reports have something to show on a fresh laptop.

:func:`seed_demo_registry` registers every demo card of ``include/model_cards/`` as owned by
``owner`` and moves the two demo models that have prediction logs and protected attributes
(the credit scorer and the product recommender) through REVIEW_PENDING → APPROVED → DEPLOYED
as ``governance-demo`` (approved by ``governance-demo``, reason ``demo data``), then writes
their deterministic prediction logs where their cards' ``predictions_location`` points. The
credit scorer's log has a built-in age disparity, so the nightly bias audit raises its flag.

**Versions.** The demo user submits the very same cards through ``model_submission``, and a
name + version can be registered only once. So the seeded versions carry a SemVer pre-release
tag: the card's ``1.2.0`` is seeded as ``1.2.0-demo`` (:data:`DEMO_VERSION_SUFFIX`). That
never collides with a submitted card, is plainly a demo build wherever a version is shown,
and sorts *before* ``1.2.0`` under SemVer precedence, so the user's submission is the newer
release of the same model.

Idempotent: a second call finds the registered versions, moves them only as far as they still
need to go (a model someone has since deprecated or retired is left alone), and rewrites no
prediction log whose bytes are already right.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from governance.lifecycle import ModelStatus

if TYPE_CHECKING:
    from governance.store.repository import GovernanceStore, ModelRecord

DEMO_OWNER = "owner"
DEMO_ACTOR = "governance-demo"
DEMO_REASON = "demo data"
DEMO_VERSION_SUFFIX = "-demo"
DEMO_DEPLOYED = ("credit-scorer", "product-recommender")
"""Demo models taken to DEPLOYED (both have ``predictions_location`` and protected attributes)."""

_PATH_TO_DEPLOYED = (ModelStatus.REVIEW_PENDING, ModelStatus.APPROVED, ModelStatus.DEPLOYED)


def demo_version(version: str, *, suffix: str = DEMO_VERSION_SUFFIX) -> str:
    """``1.2.0`` → ``1.2.0-demo``; build metadata stays last (``1.2.0+b1`` → ``1.2.0-demo+b1``)."""
    core, plus, build = version.partition("+")
    if "-" in core and suffix.startswith("-"):  # already a pre-release: add an identifier
        core = core + "." + suffix[1:]
    else:
        core = core + suffix
    return core + plus + build


def _steps_to_deployed(status: ModelStatus) -> tuple[ModelStatus, ...]:
    if status == ModelStatus.DEVELOPMENT:
        return _PATH_TO_DEPLOYED
    if status in _PATH_TO_DEPLOYED:
        return _PATH_TO_DEPLOYED[_PATH_TO_DEPLOYED.index(status) + 1 :]
    return ()  # deprecated or retired since: leave it


def _register(store: GovernanceStore, card: Any, *, owner: str) -> tuple[ModelRecord, bool]:
    from governance.errors import AlreadyRegisteredError

    try:
        return store.register(card, owner=owner).model, True
    except AlreadyRegisteredError:
        return store.find(f"{card.name}:{card.version}"), False


def seed_demo_registry(
    *,
    store: GovernanceStore,
    include_dir: Path,
    version_suffix: str = DEMO_VERSION_SUFFIX,
    deploy: Iterable[str] = DEMO_DEPLOYED,
    owner: str = DEMO_OWNER,
    actor: str = DEMO_ACTOR,
    write_predictions: bool = True,
) -> list[dict[str, Any]]:
    """Register the demo cards under demo versions and deploy ``deploy`` (see the module docstring).

    The store must be migrated. Returns one entry per card: ``model_id``, ``name``,
    ``version``, ``status``, ``registered`` (new this call) and ``predictions`` (the log file
    written for a deployed model, else ``None``).
    """
    from governance.cards import load_card, validate_card
    from governance.embedded.demo_predictions import DEMO_DISPARITY, demo_predictions_path, write_predictions_atomic

    to_deploy = set(deploy)
    seeded = []
    for card_file in sorted((include_dir / "model_cards").glob("*.yaml")):
        original = load_card(card_file)
        doc = original.model_dump(mode="json")
        doc["version"] = demo_version(original.version, suffix=version_suffix)
        card = validate_card(doc)
        model, registered = _register(store, card, owner=owner)
        predictions = None
        if card.name in to_deploy:
            for target in _steps_to_deployed(model.status):
                model = store.transition(
                    model.id,
                    target,
                    actor=actor,
                    reason=DEMO_REASON,
                    approved_by=[actor] if target == ModelStatus.APPROVED else None,
                )
            if write_predictions and card.predictions_location and card.protected_attributes:
                path = demo_predictions_path(card.predictions_location, include_dir=include_dir)
                if path is not None:
                    write_predictions_atomic(path, model_name=card.name, disparity=card.name in DEMO_DISPARITY)
                    predictions = str(path)
        seeded.append(
            {
                "model_id": model.id,
                "name": model.name,
                "version": model.version,
                "status": model.status.value,
                "registered": registered,
                "predictions": predictions,
            }
        )
    return seeded


def seed_demo_registry_from_config() -> list[str]:
    """The embedded default's seeding: migrate the configured governance database, seed it
    from the configured include folder, and return one line per demo model to print."""
    from governance import config
    from governance.store import GovernanceStore, migrate

    store = GovernanceStore.from_url(config.db_url())
    try:
        migrate(store.engine)
        seeded = seed_demo_registry(store=store, include_dir=config.include_dir())
    finally:
        store.engine.dispose()
    return [
        f"{m['name']} {m['version']} ({m['model_id']}): {m['status']}"
        + (f", predictions {m['predictions']}" if m["predictions"] else "")
        for m in seeded
    ]
