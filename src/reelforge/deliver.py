"""Delivery: what happens to an assembled episode (or range clip) before it lands in renders/.

    frames ─▶ assemble: shot segments joined by stream copy, or, with an invisible mark,
              every frame re-encoded with the delivery's mark embedded
           ─▶ visible watermark: the documented ffmpeg recipe (media/watermark.py), if asked for
           ─▶ sign: C2PA Content Credentials (trust/credentials.py), always last

Every step before signing is deterministic, so the *unsigned* delivery has fixed bytes that
`verify` re-creates and compares with the recorded hash; the signature (fresh ids and nonces
each time) is checked on its own. The store keeps the unmarked frames: a mark belongs to one
delivery, never to the shot.
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reelforge.media.encode import EncodeSettings, SegmentEncoder, concat_segments
from reelforge.store.frames import FrameStore, frame_hash


class DeliveryError(Exception):
    """A delivery setting cannot be honoured (a missing logo, an unusable signing chain): exit 2."""


@dataclass(frozen=True)
class DeliveryOptions:
    """How one render's files are delivered; recorded with the render so verify can redo it."""

    mark: bool = False  # give each delivery its own invisible mark
    mark_id: int | None = None  # the mark of the delivery in hand (set per delivery by the engine)
    watermark: object | None = None  # media.watermark.WatermarkSpec
    identity: object | None = None  # trust.identity.Identity; None: deliver unsigned (library use)
    tsa_url: str | None = None
    actor: str = ""

    def watermark_record(self, settings: EncodeSettings, root: Path | None = None) -> dict | None:
        """The watermark as given (to apply it again) and the recipe its bytes depend on.

        The logo is named relative to the production (it is kept in `.reelforge/assets/`).
        """
        if self.watermark is None:
            return None
        from reelforge.media.watermark import recipe_record

        w = self.watermark
        logo = None
        if w.logo is not None:
            kept = Path(w.logo).resolve()
            logo = str(kept.relative_to(root)) if root and kept.is_relative_to(root) else str(kept)
        return {"spec": {"text": w.text, "logo": logo, "position": w.position, "opacity": w.opacity},
                "recipe": recipe_record(w, crf=settings.crf, preset=settings.preset, threads=settings.threads)}


def watermark_from_record(record: dict | None, root: Path):
    """The WatermarkSpec a delivery recorded (for verify), or None; a relative logo is under `root`."""
    if not record:
        return None
    from reelforge.media.watermark import WatermarkSpec

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


def current_actor() -> str:
    """Who is rendering: REELFORGE_ACTOR, else the login name."""
    try:
        return os.environ.get("REELFORGE_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def signing_identity(production, root: Path, announce=None):
    """The identity that signs this production's files: the studio's own chain, or the production's.

    A production made by hand (not by `reelforge init`) gets its identity on first render.
    """
    from reelforge.trust.identity import (
        CredentialsError,
        create_identity,
        default_identity_folder,
        load_identity,
    )

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
        from reelforge.media.watermark import WatermarkError, WatermarkSpec

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


def keep_asset(path: Path, root: Path) -> Path:
    """Copy a file the delivery depends on (a logo) into `.reelforge/assets/` under its content hash.

    The recorded watermark then names a file that cannot move or change under it, so `verify`
    can apply exactly the same logo months later; the record holds the path relative to the
    production, never a user's home folder.
    """
    from reelforge.store.atomic import write_bytes

    data = Path(path).read_bytes()
    kept = root / ".reelforge" / "assets" / f"{hashlib.sha256(data).hexdigest()}{Path(path).suffix.lower()}"
    if not kept.exists():
        kept.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(kept, data)
    return kept


def frame_manifest_sha256(shots: Sequence[tuple[str, int, list[str]]]) -> str:
    """One hash over every delivered frame, in order: (shot path, first frame, frame hashes) per shot."""
    payload = json.dumps([[path, first, hashes] for path, first, hashes in shots], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def encode_marked(target: Path, frames: Iterable[tuple[str, object]], store: FrameStore, settings: EncodeSettings,
                  mark_id: int) -> None:
    """Re-encode a delivery's frames (from the store, each re-hashed) with the invisible mark embedded."""
    from reelforge.trust.mark import MarkEmbedder

    embedder = MarkEmbedder(mark_id, settings.width, settings.height)
    encoder = SegmentEncoder(target, settings)
    try:
        for index, (digest, frame) in enumerate(frames):
            if frame is None:
                if not store.check(digest):  # non-destructive: verify must leave the store as it found it
                    raise DeliveryError(f"stored frame {digest[:16]}… is missing or damaged; render again to "
                                        "repair the store")
                frame = store.get(digest)
            if frame_hash(frame) != digest:  # never mark (and sign) a frame that is not the one recorded
                raise DeliveryError(f"stored frame {digest[:16]}… is damaged; render again to repair the store")
            encoder.add_rgb(embedder.embed(frame, index))
    except BaseException:
        encoder.abort()
        raise
    encoder.close()


def assemble(target: Path, segments: list[Path], frame_hashes: list[str], store: FrameStore,
             settings: EncodeSettings, options: DeliveryOptions, workdir: Path) -> Path:
    """The unsigned delivery at `target`: joined segments or a marked re-encode, then the watermark."""
    joined = workdir / f"incoming-joined-{os.getpid()}.mp4"
    if options.mark_id is not None:
        encode_marked(joined, ((digest, None) for digest in frame_hashes), store, settings, options.mark_id)
    else:
        concat_segments(segments, joined, settings.fps)
    if options.watermark is not None:
        from reelforge.media.watermark import apply_watermark

        apply_watermark(joined, target, options.watermark, crf=settings.crf, preset=settings.preset,
                        threads=settings.threads)
        joined.unlink(missing_ok=True)
    else:
        joined.replace(target)
    return target


def sign(unsigned: Path, target: Path, options: DeliveryOptions, assertion: dict, title: str) -> dict | None:
    """Sign `unsigned` into `target` (the last step); returns the credentials summary, or None unsigned."""
    if options.identity is None:
        unsigned.replace(target)
        return None
    from reelforge.trust.credentials import read_credentials, sign_file, summarize

    extra = []
    if options.mark_id is not None:
        from reelforge.trust.mark import soft_binding_assertion

        extra.append(soft_binding_assertion(options.mark_id))
    sign_file(unsigned, target, options.identity, assertion=assertion, title=title,
              extra_assertions=extra, tsa_url=options.tsa_url)
    unsigned.unlink(missing_ok=True)
    store = read_credentials(target)
    return summarize(store) if store else None
