"""Versions of every entity in a production: what the spec said at each commit, who committed it and why.

A commit splits the (validated) spec into entities and compares each one's canonical content
with its latest version in the catalog:

    series:<id>                 everything production-wide (seed, backend, delivery, style, look, …)
                                and the ids of its episodes, characters and locations, in order
    episode:<ep>                the episode's own fields and its scene ids
    scene:<ep>/<sc>             the scene's own fields and its shot ids
    shot:<ep>/<sc>/<sh>         the shot as written
    character:<id>  location:<id>
    style:<id>                  a style family's content (built in, or a styles/*.json file)
    asset:<sha256>              a file the spec names (reference image, LoRA, LUT, style file,
                                watermark logo), kept under .reelforge/assets/<sha256><suffix>

Canonical content is what the spec *says* (fields as written, not filled-in defaults, so a new
spec field in a later reelforge bumps nothing), plus the SHA-256 of every file it names: editing
a reference image in place is a new version of the character. An entity whose content is
unchanged keeps its version; a removed one gets a tombstone version (no content). Assets are
immutable by content hash: each has exactly one version.

Cross-references are tables, so a coordinator can ask "where is Mara cast?":
`entity_refs` (a version's references: cast, a scene's location, the style a level sets, the files
it names) and `shot_states` (each shot's resolved style, where it was set, its location and its
length, written only when they change). A render links to the commit it rendered
(`render_commits`), so every delivered frame traces to exact entity versions.

Every version written appends one change-log entry (records.changelog) in the commit's own
transaction, then one for the commit itself.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import (
    func,
    select,
    text,
)
from sqlalchemy.orm import Session

from reelforge.records.audit import check_render, shot_state_record
from reelforge.records.changelog import append_entry, write_checkpoint
from reelforge.records.entities import (
    RecordsError,
    UnknownEntity,
    UnknownVersion,
    parse_entity,
)
from reelforge.spec.json_problems import FileProblem, indexed_objects, json_path, parse_json, read_text
from reelforge.spec.styles import load_families, lora_path
from reelforge.store.assets import AssetChanged, keep_asset
from reelforge.store.catalog import Catalog, in_chunks, utc_now
from reelforge.store.hashing import cached_file_sha256, file_sha256
from reelforge.store.schema import (
    CommitRecord,
    EntityRef,
    EntityVersion,
    RenderCommit,
    RenderRecord,
    RenderShotNode,
    ShotState,
)

AUTO_REASON = "auto-commit before render"


# --------------------------------------------------------------------------- errors


class RemovalRefused(RecordsError):
    """The spec removes entities (or files) that other entities still reference."""

    def __init__(self, spec: Path, removals: dict[str, list[str]], notes: dict[str, str] | None = None):
        self.removals = removals  # removed entity or file → referrers ("shot:x ($.episodes[0]…cast[1])")
        lines = [f"{spec}: cannot commit: it removes what other entities still reference"]
        for removed, referrers in removals.items():
            note = (notes or {}).get(removed)
            lines.append(f"  {removed}{f' ({note})' if note else ''} is still referenced by:")
            lines += [f"    {referrer}" for referrer in referrers]
        lines.append("remove those references first, or put it back")
        super().__init__("\n".join(lines))


def canonical(content: object) -> tuple[str, str]:
    """Canonical JSON text of a content and its SHA-256 (sorted keys, no spaces, UTF-8)."""
    data = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return data, hashlib.sha256(data.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- the spec as entities


@dataclass(frozen=True)
class FileUse:
    """A file an entity names: `field` inside the entity, `where` in the spec (for messages)."""

    entity: str
    field: str
    where: str
    path: Path
    kind: str  # image | lora | lut | style | logo


@dataclass
class Snapshot:
    """The spec's state as entities: contents, references, named files and each shot's resolved state."""

    contents: dict[str, dict] = field(default_factory=dict)
    refs: dict[str, dict[str, str]] = field(default_factory=dict)  # entity → {field: target}
    files: list[FileUse] = field(default_factory=list)
    shots: dict[str, tuple[str, str, str, int]] = field(default_factory=dict)  # style, style_from, location, frames

    def add(self, entity: str, content: dict) -> None:
        self.contents[entity] = content
        self.refs.setdefault(entity, {})


def _written(model, drop: tuple[str, ...] = ()) -> dict:
    """A model's fields as written in the spec (defaults left out), without its children."""
    return {k: v for k, v in model.model_dump(mode="json", exclude_unset=True).items() if k not in drop}


def _spec_file(value: str, root: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def _look_lut(snap: Snapshot, entity: str, level, where: str, root: Path) -> None:
    if level.look is not None and isinstance(level.look.lut, str):
        snap.files.append(FileUse(entity, "look.lut", f"{where}.look.lut", _spec_file(level.look.lut, root), "lut"))


def snapshot(production, root: Path) -> Snapshot:
    """Split a validated Production into entities (hierarchy order), before any file is hashed."""
    snap = Snapshot()
    series = f"series:{production.series.id}"
    content = _written(production, drop=("characters", "locations", "episodes"))
    content.update(episodes=[e.id for e in production.episodes], characters=[c.id for c in production.characters],
                   locations=[loc.id for loc in production.locations])
    snap.add(series, content)
    snap.refs[series]["style.preset"] = f"style:{production.style.preset}"
    _look_lut(snap, series, production, "$", root)
    watermark = production.delivery.watermark
    if watermark is not None and watermark.logo:
        snap.files.append(FileUse(series, "delivery.watermark.logo", "$.delivery.watermark.logo",
                                  _spec_file(watermark.logo, root), "logo"))
    fps = production.delivery.fps
    for e, episode in enumerate(production.episodes):
        ep, ep_at = f"episode:{episode.id}", f"$.episodes[{e}]"
        snap.add(ep, {**_written(episode, drop=("scenes",)), "scenes": [s.id for s in episode.scenes]})
        if episode.style is not None:
            snap.refs[ep]["style.preset"] = f"style:{episode.style.preset}"
        _look_lut(snap, ep, episode, ep_at, root)
        for s, scene in enumerate(episode.scenes):
            sc, sc_at = f"scene:{episode.id}/{scene.id}", f"{ep_at}.scenes[{s}]"
            snap.add(sc, {**_written(scene, drop=("shots",)), "shots": [t.id for t in scene.shots]})
            snap.refs[sc]["location"] = f"location:{scene.location}"
            if scene.style is not None:
                snap.refs[sc]["style.preset"] = f"style:{scene.style.preset}"
            _look_lut(snap, sc, scene, sc_at, root)
            for t, shot in enumerate(scene.shots):
                sh = f"shot:{episode.id}/{scene.id}/{shot.id}"
                snap.add(sh, _written(shot))
                for i, who in enumerate(shot.cast):
                    snap.refs[sh][f"cast[{i}]"] = f"character:{who}"
                if shot.style is not None:
                    snap.refs[sh]["style.preset"] = f"style:{shot.style.preset}"
                _look_lut(snap, sh, shot, f"{sc_at}.shots[{t}]", root)
                # The style a shot renders with: the nearest level that sets one (as plan_shot resolves it).
                style_from = next(owner for owner, level in ((sh, shot), (sc, scene), (ep, episode), (series, None))
                                  if level is None or level.style is not None)
                style = (shot.style or scene.style or episode.style or production.style).preset
                snap.shots[sh] = (f"style:{style}", style_from, f"location:{scene.location}", shot.frame_count(fps))
    for c, character in enumerate(production.characters):
        ch, at = f"character:{character.id}", f"$.characters[{c}]"
        snap.add(ch, _written(character))
        for j, value in enumerate(character.references):
            snap.files.append(FileUse(ch, f"references[{j}]", f"{at}.references[{j}]", _spec_file(value, root), "image"))
        if character.ip_adapter_image is not None:
            snap.files.append(FileUse(ch, "ip_adapter_image", f"{at}.ip_adapter_image",
                                      _spec_file(character.ip_adapter_image, root), "image"))
        if character.lora is not None:
            snap.files.append(FileUse(ch, "lora.path", f"{at}.lora.path", _spec_file(character.lora.path, root), "lora"))
    for location in production.locations:
        snap.add(f"location:{location.id}", _written(location))
    families = load_families(root)
    for family_id, loaded in sorted(families.families.items()):
        st = f"style:{family_id}"
        source = "built-in" if loaded.builtin else _shown(loaded.file, root)
        snap.add(st, {"source": source, "family": _written(loaded.family)})
        if not loaded.builtin:  # built-in families are recorded by content; a production's own file is kept too
            snap.files.append(FileUse(st, "file", source, loaded.file, "style"))
        if loaded.family.lora is not None:
            snap.files.append(FileUse(st, "lora.path", f"{source}: $.lora.path", lora_path(loaded.file, loaded.family.lora),
                                      "lora"))
    return snap


def _shown(path: Path, root: Path) -> str:
    """A file as the records name it: relative to the production when inside it."""
    try:
        return Path(path).absolute().relative_to(root.absolute()).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- assets


def keep_file(use: FileUse, root: Path) -> tuple[str, Path]:
    """Keep this version of a named file under `.reelforge/assets/<sha256><suffix>`: (sha256, kept path).

    Small files are read whole (the copy plan/cast and plan/look keep too: one file per content).
    A LoRA is hashed like a checkpoint (cached by size and mtime, it can be hundreds of MB) and
    copied in a stream, checked against that hash.
    """
    if use.kind != "lora":
        kept = keep_asset(use.path, root.resolve())
        return kept.stem, kept
    sha = cached_file_sha256(use.path)
    try:
        return sha, keep_asset(use.path, root.resolve(), sha256=sha)
    except AssetChanged:
        raise RecordsError(f"{use.path} changed while it was being kept; commit again") from None


def _keep_files(snap: Snapshot, root: Path) -> tuple[dict[str, dict], list[FileUse]]:
    """Hash and keep every named file; fill in the owners' `file_sha256` and references.

    Returns the assets' contents (by entity) and the uses whose file is gone or unreadable.
    """
    assets: dict[str, dict] = {}
    missing: list[FileUse] = []
    for use in snap.files:
        if not use.path.is_file():
            missing.append(use)
            continue
        try:
            sha, kept = keep_file(use, root)
        except OSError:
            missing.append(use)
            continue
        snap.contents[use.entity].setdefault("file_sha256", {})[use.field] = sha
        snap.refs[use.entity][use.field] = f"asset:{sha}"
        assets.setdefault(f"asset:{sha}", {"sha256": sha, "kind": use.kind, "size": kept.stat().st_size,
                                          "name": _shown(use.path, root), "stored": _shown(kept, root.resolve())})
    return assets, missing


# --------------------------------------------------------------------------- reading versions


def _latest_rows(session: Session, commit_id: int | None = None, kinds: Iterable[str] | None = None
                 ) -> dict[str, EntityVersion]:
    """Each entity's latest version (tombstones included), as of `commit_id` (default: now)."""
    latest = select(EntityVersion.entity, func.max(EntityVersion.version).label("v"))
    if commit_id is not None:
        latest = latest.where(EntityVersion.commit_id <= commit_id)
    if kinds is not None:
        latest = latest.where(EntityVersion.kind.in_(list(kinds)))
    latest = latest.group_by(EntityVersion.entity).subquery()
    query = select(EntityVersion).join(latest, (EntityVersion.entity == latest.c.entity)
                                       & (EntityVersion.version == latest.c.v))
    return {row.entity: row for row in session.scalars(query)}


def state_at(session: Session, commit_id: int | None = None, kinds: Iterable[str] | None = None
             ) -> dict[str, EntityVersion]:
    """The live entities (no tombstones) and their versions as of a commit (default: the latest)."""
    return {name: row for name, row in _latest_rows(session, commit_id, kinds).items() if not row.deleted}


def shot_states(session: Session, commit_id: int | None = None) -> dict[str, ShotState]:
    """Each shot's resolved state (style, where it is set, location, frames) as of a commit."""
    latest = select(ShotState.shot, func.max(ShotState.commit_id).label("c"))
    if commit_id is not None:
        latest = latest.where(ShotState.commit_id <= commit_id)
    latest = latest.group_by(ShotState.shot).subquery()
    query = select(ShotState).join(latest, (ShotState.shot == latest.c.shot) & (ShotState.commit_id == latest.c.c))
    return {row.shot: row for row in session.scalars(query) if not row.removed}


# --------------------------------------------------------------------------- committing


@dataclass(frozen=True)
class CommitResult:
    commit_id: int | None  # the new commit; when nothing changed, the latest one (None: none yet)
    created: bool  # False: the spec's state is already recorded, nothing was written
    versions: dict[str, int]  # entity → its new version (tombstones included), in hierarchy order
    removed: tuple[str, ...]  # entities given a tombstone
    new_assets: tuple[str, ...]  # asset entities stored for the first time
    spec_sha256: str
    at: str | None = None
    names: dict[str, str] = field(default_factory=dict)  # new asset → the file it was kept from


def commit_spec(catalog: Catalog, production, spec_path: str | Path, *, actor: str, reason: str,
                auto: bool = False, identity=None) -> CommitResult:
    """Record the spec's current state: a new version for every entity whose content changed.

    `production` is the validated spec (spec.load.load_production). Files it names are kept
    by content hash first; a file that is gone is refused with the entities that still name it.
    Everything else — the commit row, versions, references, shot states and one change-log entry
    per new version plus one for the commit — is written in one transaction, with a change-log
    checkpoint signed by `identity` (trust.identity.Identity) when one is given.
    """
    spec_path = Path(spec_path)
    root = spec_path.absolute().parent
    if not reason.strip():
        raise RecordsError("a commit needs a reason (-m \"what changed and why\")")
    snap = snapshot(production, root)
    assets, missing = _keep_files(snap, root)
    if missing:
        raise _missing_files(catalog, spec_path, missing)
    spec_sha = file_sha256(spec_path)
    contents = {**assets, **snap.contents}  # assets first: the log records an upload before its use
    with catalog.session() as session:
        # One commit at a time (a render's auto-commit may race a user's): take SQLite's write
        # lock before reading the latest versions, so two commits never pick the same number.
        session.execute(text("BEGIN IMMEDIATE"))
        latest = _latest_rows(session)
        planned: list[tuple[str, int, dict | None, EntityVersion | None]] = []
        for entity, content in contents.items():
            previous = latest.get(entity)
            if previous is not None and (entity.startswith("asset:") or
                                         previous.content_sha256 == canonical(content)[1]):
                continue  # unchanged (an asset never changes: its name is its content)
            planned.append((entity, previous.version + 1 if previous else 1, content, previous))
        removed = [(entity, row.version + 1, None, row) for entity, row in latest.items()
                   if entity not in contents and not row.deleted and row.kind != "asset"]
        planned += removed
        last_id = session.scalar(select(func.max(CommitRecord.id)))
        if not planned:
            session.rollback()
            return CommitResult(last_id, False, {}, (), (), spec_sha)
        at = utc_now()
        record = CommitRecord(actor=actor, at=at, reason=reason, spec_sha256=spec_sha, auto=auto)
        session.add(record)
        session.flush()
        for entity, version, content, _ in planned:
            data, sha = canonical(content) if content is not None else (None, None)
            session.add(EntityVersion(entity=entity, version=version, kind=entity.partition(":")[0],
                                      commit_id=record.id, content_json=data, content_sha256=sha))
        session.flush()
        refs = {entity: dict(snap.refs[entity]) for entity, _, content, _ in planned
                if content is not None and snap.refs.get(entity)}
        for entity, version, content, _ in planned:
            if content is not None:
                session.add_all(EntityRef(entity=entity, version=version, field=name, target=target)
                                for name, target in refs.get(entity, {}).items())
        states = _record_shot_states(session, record.id, snap, last_id)
        for entity, version, content, previous in planned:
            append_entry(session, actor=actor, kind="asset" if entity.startswith("asset:") else "commit",
                         entity=entity, version=version, before=previous.content if previous else None,
                         after=content, reason=reason, at=at)
        versions = {entity: version for entity, version, _, _ in planned}
        append_entry(session, actor=actor, kind="commit", entity=f"commit:{record.id}", version=None, before=None,
                     after={"commit": record.id, "spec_sha256": spec_sha, "auto": auto, "versions": versions,
                            "shot_states": {row.shot: shot_state_record(row) for row in states}, "refs": refs},
                     reason=reason, at=at)
        if identity is not None:
            write_checkpoint(session, identity, at)
        session.commit()
    new_assets = tuple(e for e, _, _, p in planned if e.startswith("asset:") and p is None)
    return CommitResult(record.id, True, versions, tuple(e for e, _, _, _ in removed), new_assets, spec_sha, at,
                        {e: assets[e]["name"] for e in new_assets})


def _record_shot_states(session: Session, commit_id: int, snap: Snapshot, previous_commit: int | None
                        ) -> list[ShotState]:
    """Add a shot state row where a shot's resolved state changed (or it was removed); the rows added,
    which the commit's change-log entry records so `log verify` can check them."""
    before = shot_states(session, previous_commit) if previous_commit is not None else {}
    added = []
    for shot, (style, style_from, location, frames) in snap.shots.items():
        old = before.get(shot)
        if old is None or (old.style, old.style_from, old.location, old.frames) != (style, style_from, location, frames):
            added.append(ShotState(commit_id=commit_id, shot=shot, style=style, style_from=style_from,
                                   location=location, frames=frames, removed=False))
    for shot in sorted(before.keys() - snap.shots.keys()):
        added.append(ShotState(commit_id=commit_id, shot=shot, style=None, style_from=None, location=None,
                               frames=None, removed=True))
    session.add_all(added)
    return added


def _missing_files(catalog: Catalog, spec: Path, missing: list[FileUse]) -> RemovalRefused:
    """A named file that is gone: refuse, listing who names it and the version last committed."""
    removals: dict[str, list[str]] = {}
    notes: dict[str, str] = {}
    with catalog.session() as session:
        latest = state_at(session)
        for use in missing:
            name = _shown(use.path, spec.absolute().parent)
            removals.setdefault(name, []).append(f"{use.entity} ({use.where})")
            row = latest.get(use.entity)
            sha = (row.content or {}).get("file_sha256", {}).get(use.field) if row is not None else None
            asset = latest.get(f"asset:{sha}") if sha else None
            if asset is not None:
                notes[name] = f"gone; the version last committed is kept as {asset.content['stored']}"
            else:
                notes.setdefault(name, "no such file" if not use.path.exists() else "not a readable file")
    return RemovalRefused(spec, removals, notes)


def check_removals(catalog: Catalog, spec_path: str | Path) -> None:
    """Refuse a spec that removes a committed character, location or style family others still use.

    Runs on the raw JSON before validation (which would only say "unknown character"), so the
    message can say what was removed and list every referrer by entity and JSON path.
    """
    spec_path = Path(spec_path)
    try:  # read as the loader reads it: a file too large or too deep is refused before parsing
        raw = parse_json(read_text(spec_path))
    except FileProblem:
        return  # the loader reports an unreadable spec
    if not isinstance(raw, dict):
        return
    with catalog.session() as session:
        live = set(state_at(session, kinds=("character", "location", "style")))
    if not live:
        return
    present = {f"character:{c.get('id')}" for c in _dicts(raw.get("characters"))}
    present |= {f"location:{loc.get('id')}" for loc in _dicts(raw.get("locations"))}
    present |= {f"style:{name}" for name in load_families(spec_path.absolute().parent).names}
    removals: dict[str, list[str]] = {}
    for target, referrer, where in _raw_references(raw):
        if target in live and target not in present:
            removals.setdefault(target, []).append(f"{referrer} ({where})")
    if removals:
        raise RemovalRefused(spec_path, removals)


def _dicts(items) -> list[dict]:
    return [item for _, item in indexed_objects(items)]




def _raw_references(raw: dict) -> list[tuple[str, str, str]]:
    """(target, referrer, JSON path) for cast, locations and styles, from JSON of any shape."""
    found = []

    def style(node: dict, referrer: str, where: str) -> None:
        preset = node.get("style", {}).get("preset") if isinstance(node.get("style"), dict) else None
        if isinstance(preset, str):
            found.append((f"style:{preset}", referrer, f"{where}.style.preset"))

    series = raw.get("series", {}).get("id") if isinstance(raw.get("series"), dict) else None
    style(raw, f"series:{series}", "$")
    for e, episode in indexed_objects(raw.get("episodes")):
        ep_at = f"$.episodes[{e}]"
        style(episode, f"episode:{episode.get('id')}", ep_at)
        for s, scene in indexed_objects(episode.get("scenes")):
            sc, sc_at = f"{episode.get('id')}/{scene.get('id')}", f"{ep_at}.scenes[{s}]"
            style(scene, f"scene:{sc}", sc_at)
            if isinstance(scene.get("location"), str):
                found.append((f"location:{scene['location']}", f"scene:{sc}", f"{sc_at}.location"))
            for t, shot in indexed_objects(scene.get("shots")):
                sh, sh_at = f"shot:{sc}/{shot.get('id')}", f"{sc_at}.shots[{t}]"
                style(shot, sh, sh_at)
                for i, who in enumerate(shot.get("cast") if isinstance(shot.get("cast"), list) else []):
                    if isinstance(who, str):
                        found.append((f"character:{who}", sh, f"{sh_at}.cast[{i}]"))
    return found


# --------------------------------------------------------------------------- renders


def link_render(session: Session, render_id: int, commit_id: int) -> None:
    """Record that a render was made from this commit (in the render's own transaction)."""
    session.add(RenderCommit(render_id=render_id, commit_id=commit_id))


def render_versions(catalog: Catalog, render_id: int, frames: bool = False) -> dict:
    """What a render used: its commit and, per shot, the entity versions, assets and frames.

    Raises UnknownEntity for a render that is not recorded.
    """
    with catalog.session() as session:
        render = session.get(RenderRecord, render_id)
        if render is None:
            raise UnknownEntity(f"no render #{render_id} is recorded")
        link = session.get(RenderCommit, render_id)
        result: dict = {"render": render.id, "kind": render.kind, "episode": render.episode_id,
                        "output": render.output_path, "output_sha256": render.output_sha256,
                        "started_at": render.started_at, "commit": None, "shots": []}
        live: dict[str, EntityVersion] = {}
        states: dict[str, ShotState] = {}
        if link is not None:
            commit = session.get(CommitRecord, link.commit_id)
            result["commit"] = _commit_summary(commit)
            live = state_at(session, commit.id)
            states = shot_states(session, commit.id)
        refs = _refs_of(session, live.values())
        series = next((name for name in live if name.startswith("series:")), None)

        def at(entity: str) -> str | None:
            return f"{entity}@{live[entity].version}" if entity in live else None

        farm_nodes: dict[int, list[str]] = {}  # a farm render: which nodes rendered each shot
        for node in session.scalars(select(RenderShotNode).where(RenderShotNode.render_id == render_id)):
            farm_nodes.setdefault(node.position, []).append(f"{node.host} ({node.address}, node {node.node_id[:8]})")
        for shot in render.shots:
            entity = f"shot:{shot.shot_path}"
            episode, scene, _ = shot.shot_path.split("/")
            row: dict = {"shot": at(entity) or entity, "job_key": shot.job_key, "first_frame": shot.first_frame,
                         "frames": shot.frame_count}
            if shot.position in farm_nodes:
                row["rendered_on"] = farm_nodes[shot.position]
            if entity in live:
                state = states.get(entity)
                used = [entity, f"scene:{episode}/{scene}", f"episode:{episode}", series]
                used += [target for name, target in sorted(refs.get(entity, {}).items()) if name.startswith("cast[")]
                if state is not None:
                    used += [state.location, state.style]
                    row["style_from"] = state.style_from
                used = [u for u in dict.fromkeys(used) if u in live]
                row["versions"] = [at(u) for u in used]
                row["assets"] = sorted({target for u in used for target in refs.get(u, {}).values()
                                        if target.startswith("asset:")})
            if frames:
                row["frame_sha256"] = shot.frame_hashes
            result["shots"].append(row)
        audit = check_render(session, render_id)  # what this prints, against the render's change-log entry
        result["records"] = {"entry": audit.entry_seq,
                             "state": "tampered" if not audit.ok else "not checkable" if audit.note else "checked",
                             "problem": audit.problems[0] if audit.problems else audit.note}
        return result


def _refs_of(session: Session, rows: Iterable[EntityVersion]) -> dict[str, dict[str, str]]:
    """The references of these entity versions: entity → {field: target}."""
    wanted = {(row.entity, row.version) for row in rows}
    found: dict[str, dict[str, str]] = {}
    names = sorted({entity for entity, _ in wanted})
    for chunk in in_chunks(names):
        for ref in session.scalars(select(EntityRef).where(EntityRef.entity.in_(chunk))):
            if (ref.entity, ref.version) not in wanted:
                continue
            found.setdefault(ref.entity, {})[ref.field] = ref.target
    return found


# --------------------------------------------------------------------------- history, show, diff


@dataclass(frozen=True)
class HistoryRow:
    version: int
    at: str
    actor: str
    reason: str
    commit_id: int
    change: str  # created | changed | removed | restored
    auto: bool


def _resolve(session: Session, name: str) -> str:
    """The entity's full name (an asset may be given by a unique prefix of its hash), or UnknownEntity."""
    kind, rest = parse_entity(name)
    if session.scalar(select(func.count()).select_from(EntityVersion).where(EntityVersion.entity == name)):
        return name
    known = list(session.scalars(select(EntityVersion.entity).where(EntityVersion.kind == kind).distinct()))
    if kind == "asset" and len(rest) >= 6:
        matches = [entity for entity in known if entity.startswith(name)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UnknownEntity(f"'{name}' matches {len(matches)} assets; give more of the hash")
    if not session.scalar(select(func.count()).select_from(CommitRecord)):
        raise UnknownEntity("no commits are recorded yet: run `reelforge commit SPEC -m REASON` first")
    ids = [entity.partition(":")[2] for entity in known]  # compare ids: the shared "kind:" would match anything
    close = [f"{kind}:{match}" for match in difflib.get_close_matches(rest, ids, n=3, cutoff=0.6)]
    hint = f"; did you mean {', '.join(close)}?" if close else (
        f"; known {kind} entities: {', '.join(sorted(known)[:12])}{' …' if len(known) > 12 else ''}" if known
        else f"; no {kind} has been committed")
    raise UnknownEntity(f"no entity '{name}' in the records{hint}")


def history(catalog: Catalog, name: str) -> tuple[str, list[HistoryRow]]:
    """An entity's versions, oldest first (its full name, the rows)."""
    with catalog.session() as session:
        entity = _resolve(session, name)
        query = (select(EntityVersion, CommitRecord).join(CommitRecord, CommitRecord.id == EntityVersion.commit_id)
                 .where(EntityVersion.entity == entity).order_by(EntityVersion.version))
        rows, previous = [], None
        for version, commit in session.execute(query):
            change = ("removed" if version.deleted else "created" if previous is None
                      else "restored" if previous.deleted else "changed")
            rows.append(HistoryRow(version.version, commit.at, commit.actor, commit.reason, commit.id, change,
                                   commit.auto))
            previous = version
        return entity, rows


def get_version(catalog: Catalog, name: str, number: int | None = None) -> tuple[str, EntityVersion, CommitRecord]:
    """One version of an entity (default: the latest): (full name, version row, its commit)."""
    with catalog.session() as session:
        entity = _resolve(session, name)
        numbers = list(session.scalars(select(EntityVersion.version).where(EntityVersion.entity == entity)
                                       .order_by(EntityVersion.version)))
        number = numbers[-1] if number is None else number
        if number not in numbers:
            span = "version 1" if numbers == [1] else f"versions 1–{numbers[-1]}"
            raise UnknownVersion(f"{entity} has {span}; there is no version {number}")
        row = session.get(EntityVersion, (entity, number))
        return entity, row, session.get(CommitRecord, row.commit_id)


ABSENT = object()  # a field that a version does not have


@dataclass(frozen=True)
class Change:
    path: str  # JSON path inside the entity's content, e.g. $.wardrobe.top, $.cast[1]
    old: object  # ABSENT where the field is new
    new: object  # ABSENT where the field was removed


def diff_contents(old: object, new: object) -> list[Change]:
    """Every field that differs between two contents, as JSON paths (objects by key, lists by index)."""
    changes: list[Change] = []

    def walk(a: object, b: object, loc: tuple) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in list(a) + [k for k in b if k not in a]:
                walk(a.get(key, ABSENT), b.get(key, ABSENT), loc + (key,))
        elif isinstance(a, list) and isinstance(b, list):
            for index in range(max(len(a), len(b))):
                walk(a[index] if index < len(a) else ABSENT, b[index] if index < len(b) else ABSENT, loc + (index,))
        elif a is ABSENT or b is ABSENT or type(a) is not type(b) or a != b:
            changes.append(Change(json_path(loc), a, b))

    walk(old, new, ())
    return changes


def diff_versions(catalog: Catalog, name: str, v1: int, v2: int) -> tuple[str, EntityVersion, EntityVersion,
                                                                         list[Change]]:
    entity, first, _ = get_version(catalog, name, v1)
    _, second, _ = get_version(catalog, entity, v2)
    old = first.content if not first.deleted else ABSENT
    new = second.content if not second.deleted else ABSENT
    if old is ABSENT or new is ABSENT:  # a tombstone: the whole entity appeared or went
        return entity, first, second, [] if old is new else [Change("$", old, new)]
    return entity, first, second, diff_contents(old, new)


def commit_details(catalog: Catalog, commit_id: int) -> dict:
    """A commit and the versions it wrote."""
    with catalog.session() as session:
        commit = session.get(CommitRecord, commit_id)
        if commit is None:
            last = session.scalar(select(func.max(CommitRecord.id)))
            raise UnknownEntity(f"no commit #{commit_id}" + (f"; commits are #1–#{last}" if last else
                                                               "; none are recorded yet"))
        rows = session.scalars(select(EntityVersion).where(EntityVersion.commit_id == commit_id))
        return {**_commit_summary(commit),
                "versions": {row.entity: row.version for row in rows},
                "removed": sorted(row.entity for row in session.scalars(
                    select(EntityVersion).where(EntityVersion.commit_id == commit_id,
                                                EntityVersion.content_json.is_(None))))}


def _commit_summary(commit: CommitRecord) -> dict:
    return {"commit": commit.id, "actor": commit.actor, "at": commit.at, "reason": commit.reason,
            "spec_sha256": commit.spec_sha256, "auto": commit.auto}


# --------------------------------------------------------------------------- cross-references


@dataclass(frozen=True)
class Referrer:
    entity: str
    version: int
    field: str


def referrers(catalog: Catalog, name: str, commit_id: int | None = None) -> tuple[str, list[Referrer]]:
    """Who refers to an entity, as of a commit (default: the latest): live versions only."""
    with catalog.session() as session:
        entity = _resolve(session, name)
        live = state_at(session, commit_id)
        found = [Referrer(ref.entity, ref.version, ref.field)
                 for ref in session.scalars(select(EntityRef).where(EntityRef.target == entity)
                                            .order_by(EntityRef.entity, EntityRef.field))
                 if ref.entity in live and live[ref.entity].version == ref.version]
        return entity, found


@dataclass(frozen=True)
class Casting:
    character: str
    shots: tuple[tuple[str, int], ...]  # (shot, frames), in spec order

    @property
    def frames(self) -> int:
        return sum(frames for _, frames in self.shots)


def casting(catalog: Catalog, commit_id: int | None = None) -> dict[str, Casting]:
    """Which characters appear in which shots, how many shots and frames, as of a commit."""
    with catalog.session() as session:
        live = state_at(session, commit_id)
        states = shot_states(session, commit_id)
        order = _shot_order(live)
        cast: dict[str, list[tuple[str, int]]] = {name: [] for name in live if name.startswith("character:")}
        for ref in session.scalars(select(EntityRef).where(EntityRef.field.like("cast[%"))):
            row = live.get(ref.entity)
            if row is not None and row.version == ref.version and ref.target in cast:
                cast[ref.target].append((ref.entity, states[ref.entity].frames if ref.entity in states else 0))
        return {name: Casting(name, tuple(sorted(shots, key=lambda s: order.get(s[0], len(order)))))
                for name, shots in sorted(cast.items())}


def _shot_order(live: dict[str, EntityVersion]) -> dict[str, int]:
    """Shots in playback order: series → episodes → scenes → shots, as the contents list them."""
    order: dict[str, int] = {}
    series = next((row for name, row in live.items() if name.startswith("series:")), None)
    if series is None:
        return order
    for episode in series.content.get("episodes", []):
        ep = live.get(f"episode:{episode}")
        for scene in (ep.content.get("scenes", []) if ep else []):
            sc = live.get(f"scene:{episode}/{scene}")
            for shot in (sc.content.get("shots", []) if sc else []):
                order[f"shot:{episode}/{scene}/{shot}"] = len(order)
    return order


def shots_using(catalog: Catalog, name: str, commit_id: int | None = None) -> list[tuple[str, int]]:
    """Shots whose resolved style or location is this entity: (shot, frames), in playback order."""
    with catalog.session() as session:
        entity = _resolve(session, name)
        states = shot_states(session, commit_id)
        order = _shot_order(state_at(session, commit_id))
        found = [(shot, state.frames or 0) for shot, state in states.items() if entity in (state.style, state.location)]
        return sorted(found, key=lambda s: order.get(s[0], len(order)))
