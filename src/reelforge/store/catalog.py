"""The production's catalog: jobs and renders, in SQLite through SQLAlchemy.

It answers "which jobs made this file, in which environment?" — what `verify`
needs to re-render a delivery without trusting today's spec. It lives in
`.reelforge/catalog.sqlite` (WAL mode, so a reader never blocks a render).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from sqlalchemy import (
    URL,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class JobRecord(Base):
    """A shot job, by key: the full resolved job so it can be rendered again."""

    __tablename__ = "jobs"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    shot_path: Mapped[str] = mapped_column(String, index=True)
    backend: Mapped[str] = mapped_column(String)
    seed: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer)
    job_json: Mapped[str] = mapped_column(Text)
    first_rendered_at: Mapped[str] = mapped_column(String)


class RenderRecord(Base):
    """One delivered file (an episode, or a shot's frame range) and how it was made."""

    __tablename__ = "renders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String)  # "episode" | "shot"
    episode_id: Mapped[str] = mapped_column(String, index=True)
    output_path: Mapped[str] = mapped_column(String)
    output_sha256: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[str] = mapped_column(String)
    finished_at: Mapped[str] = mapped_column(String)
    seconds: Mapped[float] = mapped_column()
    frames: Mapped[int] = mapped_column(Integer)
    shots_rendered: Mapped[int] = mapped_column(Integer)
    shots_reused: Mapped[int] = mapped_column(Integer)
    encode_json: Mapped[str] = mapped_column(Text)
    environment_json: Mapped[str] = mapped_column(Text)
    shots: Mapped[list[RenderShot]] = relationship(order_by="RenderShot.position", cascade="all, delete-orphan")


class RenderShot(Base):
    """A shot inside a render, in playback order."""

    __tablename__ = "render_shots"
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    shot_path: Mapped[str] = mapped_column(String)
    job_key: Mapped[str] = mapped_column(ForeignKey("jobs.key"))
    first_frame: Mapped[int] = mapped_column(Integer)  # first frame of the shot used (a range render)
    frame_count: Mapped[int] = mapped_column(Integer)
    frame_hashes_json: Mapped[str] = mapped_column(Text)
    segment_sha256: Mapped[str] = mapped_column(String(64))
    reused: Mapped[bool] = mapped_column()

    @property
    def frame_hashes(self) -> list[str]:
        return json.loads(self.frame_hashes_json)


class RenderEnergy(Base):
    """The energy a render used (see reelforge.energy): totals for queries, the full reading as JSON.

    Its own table, so catalogs made before it existed just gain it on the next open.
    """

    __tablename__ = "render_energy"
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"), primary_key=True)
    device: Mapped[str] = mapped_column(String)
    seconds: Mapped[float] = mapped_column()
    kwh_total: Mapped[float] = mapped_column()
    kwh_measured: Mapped[float] = mapped_column()
    kwh_estimated: Mapped[float] = mapped_column()
    reading_json: Mapped[str] = mapped_column(Text)


class DeliveryRecord(Base):
    """How a render's file was delivered: its unsigned stream, its signature, its marks, who made it.

    A signed file differs on every signing, so `verify` re-creates the *unsigned* stream and
    compares it with `unsigned_sha256`; the signature is checked on its own. A delivery with an
    invisible mark records the mark id, so `trace` can answer with this render.
    """

    __tablename__ = "deliveries"
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"), primary_key=True)
    unsigned_sha256: Mapped[str] = mapped_column(String(64))
    signed: Mapped[bool] = mapped_column()
    mark_id: Mapped[str | None] = mapped_column(String(16), index=True, nullable=True)  # 16 hex digits
    rendered_by: Mapped[str] = mapped_column(String)
    watermark_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    credentials_json: Mapped[str | None] = mapped_column(Text, nullable=True)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Catalog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # URL.create, not an f-string: a '?' or '%' in the folder name must stay part of the path.
        self.engine = create_engine(URL.create("sqlite", database=str(path)))

        @event.listens_for(self.engine, "connect")
        def _pragmas(connection, _record):  # WAL: readers (verify, a web view) never block a render
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        import reelforge.records.changelog  # noqa: F401 - the change log's tables (they import Base from here)
        import reelforge.records.localized  # noqa: F401 - language deliveries (their table imports Base too)
        import reelforge.records.versions  # noqa: F401 - commits, entity versions, cross-references, render → commit

        Base.metadata.create_all(self.engine)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def close(self) -> None:
        """Close its pooled connections: a long-lived process (the Open Studio) opens one per request."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def record_job(self, session: Session, key: str, job_json: dict) -> None:
        """Record a job by key; a re-render updates where its model files are now (paths are not keyed)."""
        existing = session.get(JobRecord, key)
        if existing is not None:
            recorded = json.loads(existing.job_json)
            if recorded.get("files") != job_json.get("files"):
                existing.job_json = json.dumps({**recorded, "files": job_json.get("files")}, sort_keys=True)
            return
        if existing is None:
            session.add(JobRecord(key=key, shot_path=job_json["shot_path"], backend=job_json["backend"],
                                  seed=job_json["seed"], frames=job_json["frames"],
                                  job_json=json.dumps(job_json, sort_keys=True), first_rendered_at=utc_now()))

    def job(self, key: str) -> dict:
        with self.session() as session:
            return json.loads(session.get(JobRecord, key).job_json)

    def render_for_file(self, sha256: str) -> RenderRecord | None:
        """The latest render whose output had exactly these bytes."""
        return self._latest(select(RenderRecord).where(RenderRecord.output_sha256 == sha256))

    def render_for_path(self, output_path: str) -> RenderRecord | None:
        """The latest render written to this path (used when the file's bytes changed since)."""
        return self._latest(select(RenderRecord).where(RenderRecord.output_path == output_path))

    def render_with_shot(self, shot_path: str) -> RenderRecord | None:
        """The latest episode render that contains this shot."""
        query = select(RenderRecord).join(RenderShot).where(RenderShot.shot_path == shot_path,
                                                            RenderRecord.kind == "episode")
        return self._latest(query)

    def _latest(self, query) -> RenderRecord | None:
        with self.session() as session:
            record = session.scalars(query.order_by(RenderRecord.id.desc())).first()
            if record is not None:
                _ = record.shots  # load before the session closes
            return record

    def record_delivery(self, session: Session, delivery: DeliveryRecord) -> None:
        session.add(delivery)

    def delivery(self, render_id: int) -> DeliveryRecord | None:
        with self.session() as session:
            return session.get(DeliveryRecord, render_id)

    def render_for_mark(self, mark_id: int) -> tuple[RenderRecord, DeliveryRecord] | None:
        """The render whose delivery carries this invisible mark."""
        query = (select(RenderRecord, DeliveryRecord).join(DeliveryRecord, DeliveryRecord.render_id == RenderRecord.id)
                 .where(DeliveryRecord.mark_id == f"{mark_id:016x}").order_by(RenderRecord.id.desc()))
        with self.session() as session:
            row = session.execute(query).first()
            return (row[0], row[1]) if row else None

    def record_energy(self, session: Session, render_id: int, reading) -> None:
        """Add a render's EnergyReading (or its `to_json()` dict); the render row must be flushed first."""
        data = reading.to_json() if hasattr(reading, "to_json") else dict(reading)
        session.add(RenderEnergy(render_id=render_id, device=data["device"], seconds=data["seconds"],
                                 kwh_total=data["kwh_total"], kwh_measured=data["kwh_measured"],
                                 kwh_estimated=data["kwh_estimated"], reading_json=json.dumps(data, sort_keys=True)))

    def energy_rows(self) -> list[dict]:
        """Every render with recorded energy, oldest first, joined with what the report needs of the render."""
        query = (select(RenderRecord, RenderEnergy).join(RenderEnergy, RenderEnergy.render_id == RenderRecord.id)
                 .order_by(RenderRecord.id))
        with self.session() as session:
            return [{"render_id": render.id, "kind": render.kind, "episode_id": render.episode_id,
                     "output_path": render.output_path, "frames": render.frames, "started_at": render.started_at,
                     "fps": json.loads(render.encode_json).get("fps"), "shots_rendered": render.shots_rendered,
                     "shots_reused": render.shots_reused, "device": energy.device, "seconds": energy.seconds,
                     "kwh_total": energy.kwh_total, "kwh_measured": energy.kwh_measured,
                     "kwh_estimated": energy.kwh_estimated, "reading": json.loads(energy.reading_json)}
                    for render, energy in session.execute(query)]


@contextmanager
def existing_catalog(path: Path) -> Iterator[Catalog | None]:
    """The catalog at `path` while in use, closed after; None (and nothing created) when none was recorded yet."""
    if not path.exists():
        yield None
        return
    with Catalog(path) as catalog:
        yield catalog
