"""Assembly: the unsigned delivery of an episode (or a range clip), before it is signed.

    shot segments ─▶ joined by stream copy, or, with an invisible mark, every frame re-encoded
                     from the store with the delivery's mark embedded
                  ─▶ the visible watermark: the documented ffmpeg recipe (media/watermark.py), if asked for

in the delivery's format throughout (`EncodeSettings`: H.264 or HEVC in MP4, ProRes or DNxHR in MOV):
the marked re-encode is a segment encoder of those settings, the watermark re-encodes with the same
codec, pix_fmt and profile (`encoder_args`) into the same container.

Every step is deterministic, so the *unsigned* delivery has fixed bytes that `verify` re-creates
and compares with the recorded hash; signing (deliver/sign.py) comes after, always last. The
store keeps the unmarked frames: a mark belongs to one delivery, never to the shot.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from reelforge.deliver.options import DeliveryError, DeliveryOptions
from reelforge.media.encode import EncodeSettings, SegmentEncoder, concat_segments
from reelforge.media.watermark import apply_watermark
from reelforge.store.frames import CorruptFrame, FrameStore, frame_hash
from reelforge.store.paths import WORK_PREFIX
from reelforge.trust.mark import MarkEmbedder, MarkKey


def encode_marked(target: Path, frames: Iterable[tuple[str, object]], store: FrameStore, settings: EncodeSettings,
                  mark_id: int, key: MarkKey) -> None:
    """Re-encode a delivery's frames (from the store, each re-hashed) with the invisible mark embedded under `key`."""
    embedder = MarkEmbedder(mark_id, settings.width, settings.height, key=key)
    encoder = SegmentEncoder(target, settings)
    try:
        for index, (digest, frame) in enumerate(frames):
            if frame is None:
                if not store.check(digest):  # non-destructive: verify must leave the store as it found it
                    raise DeliveryError(f"stored frame {digest[:16]}… is missing or damaged; render again to "
                                        "repair the store")
                try:
                    frame = store.get(digest)
                except CorruptFrame:
                    raise DeliveryError(f"stored frame {digest[:16]}… is damaged; render again to repair the "
                                        "store") from None
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
    joined = workdir / f"{WORK_PREFIX}joined-{os.getpid()}{settings.suffix}"
    if options.mark_id is not None:
        encode_marked(joined, ((digest, None) for digest in frame_hashes), store, settings, options.mark_id,
                      options.mark_key)
    else:
        concat_segments(segments, joined, settings.fps)
    if options.watermark is not None:
        apply_watermark(joined, target, options.watermark, settings)
        joined.unlink(missing_ok=True)
    else:
        joined.replace(target)
    return target
