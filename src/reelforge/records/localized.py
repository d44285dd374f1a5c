"""The record of a language delivery: which picture it carries and exactly what text was muxed in.

A language delivery (`renders/<episode>.<lang>.mp4`) is a render record of its own (signed,
with its own unsigned hash) whose video packets are those of a picture delivery. This table
links the two and keeps every cue, chapter and title as muxed, so `verify` can re-create the
unsigned file from the recorded picture and text alone, whatever today's spec says.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from reelforge.store.catalog import Base


class LocalizedDelivery(Base):
    __tablename__ = "localized_deliveries"
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"), primary_key=True)
    picture_render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"), index=True)
    language: Mapped[str] = mapped_column(String, index=True)  # BCP 47, as declared in the spec
    burned_titles: Mapped[bool] = mapped_column(Boolean)  # titles drawn into a re-encoded picture (--burn-titles)
    text_json: Mapped[str] = mapped_column(Text)  # localize.EpisodeText.record(): what was muxed
    webvtt_sha256: Mapped[str] = mapped_column(String(64))
    srt_sha256: Mapped[str] = mapped_column(String(64))
