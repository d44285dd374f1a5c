"""How a render's files are delivered: invisible mark (and its key), visible watermark, signing identity, who renders.

Resolved and checked before rendering starts (a missing logo or an unusable signing chain is
bad input, not a failure halfway through a season), and recorded with each delivery so that
`verify` can re-create its unsigned bytes (`recorded_options`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from reelforge.media.encode import EncodeSettings
from reelforge.media.watermark import WatermarkError, WatermarkSpec, recipe_record
from reelforge.records.actors import current_actor
from reelforge.store.assets import keep_asset
from reelforge.store.paths import SPEC_NAME, ProductionPaths
from reelforge.trust.identity import (
    MARK_KEY,
    CredentialsError,
    Identity,
    create_identity,
    default_identity_folder,
    load_identity,
    load_or_create_mark_secret,
    read_mark_secret,
)
from reelforge.trust.mark import PUBLIC_PATTERN, MarkKey
from reelforge.trust.mark_keys import key_problem


class DeliveryError(Exception):
    """A delivery setting cannot be honoured (a missing logo, an unusable signing chain): exit 2."""


@dataclass(frozen=True)
class DeliveryOptions:
    """How one render's files are delivered; recorded with the render so verify can redo it."""

    mark: bool = False  # give each delivery its own invisible mark
    mark_id: int | None = None  # the mark of the delivery in hand (set per delivery by the engine)
    mark_key: MarkKey | None = None  # the production's mark key: needed with `mark` or `mark_id`
    watermark: WatermarkSpec | None = None
    identity: Identity | None = None  # None: deliver unsigned (library use)
    tsa_url: str | None = None
    actor: str = ""

    def __post_init__(self) -> None:
        if (self.mark or self.mark_id is not None) and self.mark_key is None:
            raise ValueError("a marked delivery needs the production's mark key (see production_mark_key)")

    def watermark_record(self, settings: EncodeSettings, root: Path | None = None) -> dict | None:
        """The watermark as given (to apply it again) and the recipe its bytes depend on.

        The logo is named relative to the production (it is kept in `.reelforge/assets/`).
        """
        if self.watermark is None:
            return None
        w = self.watermark
        logo = None
        if w.logo is not None:
            kept = Path(w.logo).resolve()
            logo = str(kept.relative_to(root)) if root and kept.is_relative_to(root) else str(kept)
        return {"spec": {"text": w.text, "logo": logo, "position": w.position, "opacity": w.opacity},
                "recipe": recipe_record(w, settings)}


def watermark_from_record(record: dict | None, root: Path) -> WatermarkSpec | None:
    """The WatermarkSpec a delivery recorded (for verify), or None; a relative logo is under `root`."""
    if not record:
        return None
    spec = record["spec"]
    return WatermarkSpec(text=spec["text"], logo=root / spec["logo"] if spec["logo"] else None,
                         position=spec["position"], opacity=spec["opacity"])


def recorded_options(delivery, root: Path, mark_key_id: str | None) -> DeliveryOptions:
    """The options a recorded delivery (catalog DeliveryRecord) was assembled with: its mark (and the key it was
    made with: `mark_key_id` as recorded, None for a mark made before keying) and watermark, to re-create its
    unsigned bytes; plain options when there is no record."""
    if delivery is None:
        return DeliveryOptions()
    watermark = watermark_from_record(json.loads(delivery.watermark_json or "null"), root)
    if not delivery.mark_id:
        return DeliveryOptions(watermark=watermark)
    return DeliveryOptions(mark_id=int(delivery.mark_id, 16), mark_key=recorded_mark_key(root, mark_key_id),
                           watermark=watermark)


def production_mark_key(root: Path, announce=None) -> MarkKey:
    """The production's mark key, made on its first marked render (kept in its identity folder, 0600).

    Also for a production signed with a studio's chain or not signed: the key belongs to the production."""
    folder = default_identity_folder(root)
    try:
        problem = key_problem(folder / MARK_KEY, read_mark_secret(folder), ProductionPaths(root / SPEC_NAME).catalog)
        if problem is not None:  # never a new key in place of a lost one
            raise DeliveryError(f"mark: {problem}")
        secret, created = load_or_create_mark_secret(folder)
    except CredentialsError as exc:
        raise DeliveryError(f"mark: {exc}") from None
    except OSError as exc:
        raise DeliveryError(f"mark: {folder / MARK_KEY}: cannot create the mark key: {exc.strerror or exc}") from None
    if created and announce:
        announce(f"created this production's mark key {folder / MARK_KEY}: back it up (without it, its marked "
                 "deliveries can no longer be traced)")
    return MarkKey(secret)


def recorded_mark_key(root: Path, key_id: str | None) -> MarkKey:
    """The key a recorded mark was made with: the production's own (checked against the recorded fingerprint),
    or the public pattern for a mark made before keying (`key_id` None). DeliveryError when it is gone."""
    if key_id is None:
        return PUBLIC_PATTERN
    path = default_identity_folder(root) / MARK_KEY
    try:
        secret = read_mark_secret(path.parent)
    except CredentialsError as exc:
        raise DeliveryError(f"mark: {exc}") from None
    if secret is None:
        raise DeliveryError(f"{path}: the mark key is missing; this delivery was marked with key {key_id}: "
                            "restore mark.key from your backup")
    key = MarkKey(secret)
    if key.key_id != key_id:
        raise DeliveryError(f"{path}: this is mark key {key.key_id}, but the delivery was marked with key {key_id}: "
                            "restore that mark.key from your backup")
    return key


def signing_identity(production, root: Path, announce=None) -> Identity:
    """The identity that signs this production's files: the studio's own chain, or the production's.

    A production made by hand (not by `reelforge init`) gets its identity on first render.
    """
    try:
        if production.signing is not None:
            resolve = lambda value: Path(value) if Path(value).is_absolute() else root / value  # noqa: E731
            return load_identity(chain=resolve(production.signing.chain), key=resolve(production.signing.key),
                                 trust_anchor=resolve(production.signing.trust_anchor))
        folder = default_identity_folder(root)
        if not (folder / "chain.pem").exists():
            identity = create_identity(folder, production.series.id)
            if announce:
                announce(f"created this production's signing identity in {folder}")
            return identity
        return load_identity(folder)
    except CredentialsError as exc:
        raise DeliveryError(f"signing: {exc}") from None


def watermark_spec(watermark, root: Path, where: str = "$.delivery.watermark") -> WatermarkSpec | None:
    """A spec's visible watermark (spec.delivery.VisibleWatermark, or None) resolved: its logo checked and kept
    in `.reelforge/assets/`; DeliveryError naming `where` when it cannot be used."""
    if watermark is None:
        return None
    try:
        spec = WatermarkSpec.from_delivery(watermark, root)
        if spec.logo is not None:
            spec = dataclasses.replace(spec, logo=keep_asset(spec.logo, root))
    except WatermarkError as exc:
        raise DeliveryError(f"{where}: {exc}") from None
    except OSError as exc:
        raise DeliveryError(f"{where}.logo: {watermark.logo}: {exc.strerror or exc}") from None
    return spec


def delivery_options(production, root: Path, mark: bool, actor: str | None = None, sign: bool = True,
                     announce=None) -> DeliveryOptions:
    """Everything a render needs to deliver its files, resolved (and checked) before rendering starts."""
    watermark = watermark_spec(production.delivery.watermark, root)
    identity = signing_identity(production, root, announce) if sign else None
    tsa = production.signing.tsa_url if production.signing is not None else None
    marked = mark or production.delivery.mark
    mark_key = production_mark_key(root, announce) if marked else None
    return DeliveryOptions(mark=marked, mark_key=mark_key, watermark=watermark, identity=identity, tsa_url=tsa,
                           actor=actor or current_actor())
