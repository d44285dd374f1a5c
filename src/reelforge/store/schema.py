"""Every table of a production's catalog (`.reelforge/catalog.sqlite`), in one SQLAlchemy metadata.

The catalog is one SQLite file shared by the render records (jobs, renders, deliveries, energy),
the change log (entries, states, signers, signed checkpoints: append-only, enforced by
triggers), the versions of every entity (commits, versions, references, shot states, render →
commit links) and language deliveries. Their tables live here, below the code that writes them
(records/, engine/), so opening a catalog creates every table without importing that code.
"""

from __future__ import annotations

import json

from sqlalchemy import (
    DDL,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    String,
    Text,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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


class RenderShotNode(Base):
    """A farm node that rendered (part of) a shot of a render, with that node's environment fingerprint.

    Only farm renders have rows (a local render's shots ran where the render's own environment
    says). Its own table, so catalogs made before the farm existed just gain it on the next open.
    """

    __tablename__ = "render_shot_nodes"
    __table_args__ = (ForeignKeyConstraint(["render_id", "position"],
                                           ["render_shots.render_id", "render_shots.position"]),)
    render_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String, primary_key=True)  # Ray's node id (a split shot: one row a node)
    host: Mapped[str] = mapped_column(String)  # its hostname
    address: Mapped[str] = mapped_column(String)  # its IP address in the cluster
    environment_json: Mapped[str] = mapped_column(Text)

    @property
    def environment(self) -> dict:
        return json.loads(self.environment_json)


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


class DeliveryMarkKey(Base):
    """Which key a marked delivery's invisible mark was made with: the key's public fingerprint (trust/mark.py).

    Every delivery marked since marks were keyed has a row. A delivery with a mark id and no row was
    marked with the public v1 pattern, before keying: verify re-creates it with that pattern, and trace
    accepts a public-pattern read only for such deliveries. Its own table, so catalogs made before keying
    just gain it on the next open (their marked deliveries, all public-pattern ones, have no row).
    """

    __tablename__ = "delivery_mark_keys"
    render_id: Mapped[int] = mapped_column(ForeignKey("deliveries.render_id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16))


# --- the change log (records/changelog.py) ------------------------------------------------------

class LogEntry(Base):
    """One change. `leaf_hash` is the entry's RFC 6962 leaf hash, written once at append time."""

    __tablename__ = "log_entries"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0-based = leaf index
    at: Mapped[str] = mapped_column(String)  # UTC, ISO 8601
    actor: Mapped[str] = mapped_column(String, index=True)
    kind: Mapped[str] = mapped_column(String, index=True)
    entity: Mapped[str] = mapped_column(String, index=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    before_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    after_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))

    def content(self) -> dict:
        """What the leaf hash covers (the states by their hashes), as exported in a proof."""
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "kind": self.kind, "entity": self.entity,
                "version": self.version, "before_sha256": self.before_sha256, "after_sha256": self.after_sha256,
                "reason": self.reason}


class LogState(Base):
    """A before/after state, stored once by the SHA-256 of its canonical JSON."""

    __tablename__ = "log_states"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LogSigner(Base):
    """A certificate chain (PEM, leaf first) that signed checkpoints, stored once by its hash."""

    __tablename__ = "log_signers"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    chain_pem: Mapped[str] = mapped_column(Text)


class LogCheckpoint(Base):
    """A signed (size, root hash, time). Numbered 0, 1, 2, … so a removed checkpoint leaves a gap."""

    __tablename__ = "log_checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(Integer)
    root_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String)
    origin: Mapped[str] = mapped_column(String)
    algorithm: Mapped[str] = mapped_column(String)
    signer_sha256: Mapped[str] = mapped_column(ForeignKey("log_signers.sha256"))
    signature: Mapped[str] = mapped_column(Text)  # base64


for _table in ("log_entries", "log_states", "log_signers", "log_checkpoints"):
    for _action in ("UPDATE", "DELETE"):
        event.listen(Base.metadata.tables[_table], "after_create", DDL(
            f"CREATE TRIGGER IF NOT EXISTS {_table}_no_{_action.lower()} BEFORE {_action} ON {_table} "
            f"BEGIN SELECT RAISE(ABORT, 'the change log is append-only: {_table} rows are never changed'); END"))


# --- entity versions (records/versions.py) ---------------------------------------------------------

class CommitRecord(Base):
    """One recorded state of the spec: who, when (UTC), why, and the spec file's bytes by hash."""

    __tablename__ = "commits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String, index=True)
    at: Mapped[str] = mapped_column(String)
    reason: Mapped[str] = mapped_column(Text)
    spec_sha256: Mapped[str] = mapped_column(String(64))
    auto: Mapped[bool] = mapped_column(Boolean)  # made by a render of an uncommitted spec


class EntityVersion(Base):
    """One version of one entity; `content_json` is None for a tombstone (the entity was removed)."""

    __tablename__ = "entity_versions"
    entity: Mapped[str] = mapped_column(String, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String, index=True)
    commit_id: Mapped[int] = mapped_column(ForeignKey("commits.id"), index=True)
    content_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)

    @property
    def deleted(self) -> bool:
        return self.content_json is None

    @property
    def content(self) -> dict | None:
        return None if self.content_json is None else json.loads(self.content_json)


class EntityRef(Base):
    """What one entity version refers to: `field` is where, inside its content (`cast[1]`, `location`,
    `style.preset`, `references[0]`); `target` an entity id (`character:mara`, `asset:<sha256>`)."""

    __tablename__ = "entity_refs"
    entity: Mapped[str] = mapped_column(String, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    field: Mapped[str] = mapped_column(String, primary_key=True)
    target: Mapped[str] = mapped_column(String, index=True)
    __table_args__ = (ForeignKeyConstraint(["entity", "version"], ["entity_versions.entity", "entity_versions.version"]),)


class ShotState(Base):
    """A shot's inherited, resolved state from `commit_id` on (a row only where it changed).

    `style_from` is the entity that sets the style (the shot, its scene, episode or the series).
    `removed` marks the commit that removed the shot.
    """

    __tablename__ = "shot_states"
    commit_id: Mapped[int] = mapped_column(ForeignKey("commits.id"), primary_key=True)
    shot: Mapped[str] = mapped_column(String, primary_key=True)
    style: Mapped[str | None] = mapped_column(String, nullable=True, index=True)
    style_from: Mapped[str | None] = mapped_column(String, nullable=True)
    location: Mapped[str | None] = mapped_column(String, nullable=True, index=True)
    frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    removed: Mapped[bool] = mapped_column(Boolean)


class RenderCommit(Base):
    """The commit a render was made from: render → exact entity versions."""

    __tablename__ = "render_commits"
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"), primary_key=True)
    commit_id: Mapped[int] = mapped_column(ForeignKey("commits.id"), index=True)


# --- language deliveries (deliver/localize.py) ------------------------------------------------------

class LocalizedDelivery(Base):
    """The record of a language delivery: which picture it carries and exactly what text was muxed in.

    A language delivery (`renders/<episode>.<lang>.mp4`) is a render record of its own (signed,
    with its own unsigned hash) whose video packets are those of a picture delivery. This table
    links the two and keeps every cue, chapter and title as muxed, so `verify` can re-create the
    unsigned file from the recorded picture and text alone, whatever today's spec says.
    """

    __tablename__ = "localized_deliveries"
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"), primary_key=True)
    picture_render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"), index=True)
    language: Mapped[str] = mapped_column(String, index=True)  # BCP 47, as declared in the spec
    burned_titles: Mapped[bool] = mapped_column(Boolean)  # titles drawn into a re-encoded picture (--burn-titles)
    text_json: Mapped[str] = mapped_column(Text)  # localize.EpisodeText.record(): what was muxed
    webvtt_sha256: Mapped[str] = mapped_column(String(64))
    srt_sha256: Mapped[str] = mapped_column(String(64))


# --- named deliveries (spec `deliveries`; engine/pipeline.py) --------------------------------------

class NamedDeliveryRecord(Base):
    """Which named delivery of the spec (`"deliveries": {"vertical": …}`) a render was.

    A render without a row is of the main `delivery`: what the review room plays, the cut is judged
    by, approvals approve and `verify SHOT` proves. A named delivery (a 9:16 cut, a ProRes master) and
    its language deliveries each have a row. Its own table, so catalogs made before named deliveries
    existed just gain it on the next open (every render in them was of the main delivery).
    """

    __tablename__ = "named_deliveries"
    render_id: Mapped[int] = mapped_column(ForeignKey("renders.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String, index=True)
