"""The production's catalog: jobs and renders, in SQLite through SQLAlchemy.

It answers "which jobs made this file, in which environment?" — what `verify`
needs to re-render a delivery without trusting today's spec. It lives in
`.reelforge/catalog.sqlite` (WAL mode, so a reader never blocks a render); its
tables, with those of the change log and the versions, are in store/schema.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self, TypeVar

from sqlalchemy import URL, create_engine, event, select
from sqlalchemy.orm import Session

from reelforge.store.catalog_faults import check_integrity, watch_errors
from reelforge.store.schema import (
    Base,
    DeliveryMarkKey,
    DeliveryRecord,
    JobRecord,
    LocalizedDelivery,
    NamedDeliveryRecord,
    RenderEnergy,
    RenderRecord,
    RenderShot,
)

T = TypeVar("T")
SQL_PARAMETERS = 500  # values bound in one `IN (...)`: SQLite caps the parameters of one statement


def in_chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """`values` in slices small enough for one `IN (...)` each."""
    for start in range(0, len(values), SQL_PARAMETERS):
        yield values[start:start + SQL_PARAMETERS]


MAIN = "main"  # the name the main `delivery` goes by (`--delivery main`, records and manifests)


def main_delivery(render_id=RenderRecord.id):
    """SQL: the render is of the main `delivery` (not a named one: another shape or codec of the same shots).

    The review room, the cut, approvals, a shot's status and `verify SHOT` mean the main delivery."""
    return render_id.not_in(select(NamedDeliveryRecord.render_id))


def main_picture(render_id=RenderRecord.id):
    """SQL: the render is a picture of the main delivery: neither a named delivery nor a language delivery
    (which carries a picture's frames again)."""
    return main_delivery(render_id) & render_id.not_in(select(LocalizedDelivery.render_id))


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Catalog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # URL.create, not an f-string: a '?' or '%' in the folder name must stay part of the path.
        self.path = path
        self.engine = create_engine(URL.create("sqlite", database=str(path)))
        watch_errors(self.engine, path)  # a full disk, a read-only folder, a damaged file: said of this file

        @event.listens_for(self.engine, "connect")
        def _pragmas(connection, _record):  # WAL: readers (verify, a web view) never block a render
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        self._create_missing_tables()

    def _create_missing_tables(self) -> None:
        """Create every table and trigger of store/schema.py the file lacks, safe against another process.

        `create_all` checks for a table and then creates it: two processes starting on a new production
        both see it missing and one fails ("table jobs already exists"). So the check and the creation
        run inside one `BEGIN IMMEDIATE` transaction (SQLite's write lock; the second waits its busy
        timeout, then finds the tables made). A complete catalog is only read: opening one to look at it
        takes no write lock and changes nothing.
        """
        with self.engine.connect() as connection:
            present = set(connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table'").scalars())
            if present >= set(Base.metadata.tables):
                return
            connection.rollback()  # end the read, then take the write lock
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            Base.metadata.create_all(connection)
            connection.commit()

    def check(self) -> None:
        """CatalogDamaged unless SQLite's quick_check finds the file intact (store/catalog_faults.py)."""
        check_integrity(self.engine, self.path)

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
        """The latest episode render of the main delivery that contains this shot."""
        query = select(RenderRecord).join(RenderShot).where(RenderShot.shot_path == shot_path,
                                                            RenderRecord.kind == "episode", main_delivery())
        return self._latest(query)

    def _latest(self, query) -> RenderRecord | None:
        with self.session() as session:
            record = session.scalars(query.order_by(RenderRecord.id.desc())).first()
            if record is not None:
                _ = record.shots  # load before the session closes
            return record

    def delivery_name(self, render_id: int) -> str | None:
        """The named delivery a render was (spec `deliveries`); None: the main delivery."""
        with self.session() as session:
            row = session.get(NamedDeliveryRecord, render_id)
            return row.name if row is not None else None

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

    def mark_key_id(self, render_id: int) -> str | None:
        """The fingerprint of the key this delivery's mark was made with; None: unmarked, or marked before
        keying (with the public pattern)."""
        with self.session() as session:
            row = session.get(DeliveryMarkKey, render_id)
            return row.key_id if row else None

    def mark_key_ids(self) -> set[str]:
        """The fingerprints of every key a recorded delivery's mark was made with."""
        with self.session() as session:
            return set(session.scalars(select(DeliveryMarkKey.key_id).distinct()))

    def has_public_pattern_marks(self) -> bool:
        """Whether any delivery was marked before keying (a mark id, no key recorded): trace then also
        tries the public pattern."""
        query = (select(DeliveryRecord.render_id).outerjoin(DeliveryMarkKey)
                 .where(DeliveryRecord.mark_id.is_not(None), DeliveryMarkKey.render_id.is_(None)).limit(1))
        with self.session() as session:
            return session.execute(query).first() is not None

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
