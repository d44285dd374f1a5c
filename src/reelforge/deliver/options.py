"""How a render's files are delivered: invisible mark, visible watermark, signing identity, who renders.

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
from reelforge.trust.identity import CredentialsError, Identity, create_identity, default_identity_folder, load_identity


class DeliveryError(Exception):
    """A delivery setting cannot be honoured (a missing logo, an unusable signing chain): exit 2."""


@dataclass(frozen=True)
class DeliveryOptions:
    """How one render's files are delivered; recorded with the render so verify can redo it."""

    mark: bool = False  # give each delivery its own invisible mark
    mark_id: int | None = None  # the mark of the delivery in hand (set per delivery by the engine)
    watermark: WatermarkSpec | None = None
    identity: Identity | None = None  # None: deliver unsigned (library use)
    tsa_url: str | None = None
    actor: str = ""

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
                "recipe": recipe_record(w, crf=settings.crf, preset=settings.preset, threads=settings.threads)}


def watermark_from_record(record: dict | None, root: Path) -> WatermarkSpec | None:
    """The WatermarkSpec a delivery recorded (for verify), or None; a relative logo is under `root`."""
    if not record:
        return None
    spec = record["spec"]
    return WatermarkSpec(text=spec["text"], logo=root / spec["logo"] if spec["logo"] else None,
                         position=spec["position"], opacity=spec["opacity"])


def recorded_options(delivery, root: Path) -> DeliveryOptions:
    """The options a recorded delivery (catalog DeliveryRecord) was assembled with: its mark and watermark,
    to re-create its unsigned bytes; plain options when there is no record."""
    if delivery is None:
        return DeliveryOptions()
    return DeliveryOptions(mark_id=int(delivery.mark_id, 16) if delivery.mark_id else None,
                           watermark=watermark_from_record(json.loads(delivery.watermark_json or "null"), root))


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


def delivery_options(production, root: Path, mark: bool, actor: str | None = None, sign: bool = True,
                     announce=None) -> DeliveryOptions:
    """Everything a render needs to deliver its files, resolved (and checked) before rendering starts."""
    watermark = None
    if production.delivery.watermark is not None:
        try:
            watermark = WatermarkSpec.from_delivery(production.delivery.watermark, root)
            if watermark.logo is not None:
                watermark = dataclasses.replace(watermark, logo=keep_asset(watermark.logo, root))
        except WatermarkError as exc:
            raise DeliveryError(f"$.delivery.watermark: {exc}") from None
        except OSError as exc:
            raise DeliveryError(f"$.delivery.watermark.logo: {production.delivery.watermark.logo}: "
                                f"{exc.strerror or exc}") from None
    identity = signing_identity(production, root, announce) if sign else None
    tsa = production.signing.tsa_url if production.signing is not None else None
    return DeliveryOptions(mark=mark or production.delivery.mark, watermark=watermark, identity=identity, tsa_url=tsa,
                           actor=actor or current_actor())
