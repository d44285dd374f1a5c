"""The catalog's records checked against the change log, entry by entry.

`history`, `show` and `show render:N` print the version tables; `verify`, `trace`, `status` and
the studio read a render's rows (renders, render_shots, render_shot_nodes, deliveries, jobs,
render_energy, localized_deliveries). `reelforge log verify` checks them all against the signed
log (records/changelog.py), so it never vouches for a log while the records beside it say
something else; `check_render` checks one render's rows, so `verify` and `trace` never answer
from an edited row. Render entries written before the log covered deliveries (no "rendered_by")
are checked on what they did record and reported as not checkable for the rest (NOT_COVERED).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.plan.jobs import key_of_job
from reelforge.records.entities import ENTITY_KINDS
from reelforge.records.leaves import entry_leaf
from reelforge.records.render_rows import (
    LOCALIZED_COLUMNS,
    NOT_COVERED,
    RENDER_COLUMNS,
    SHOT_COLUMNS,
    RenderRows,
    covers_rows,
    load_render_rows,
    render_record,
)
from reelforge.store.catalog import in_chunks
from reelforge.store.schema import (
    CommitRecord,
    EntityRef,
    EntityVersion,
    JobRecord,
    LogEntry,
    LogState,
    RenderCommit,
    ShotState,
)


def check_records(session: Session, *, with_renders: bool = True) -> list[str]:
    """The version tables against the change log: what `history`, `show` and `show render:N` print must be
    what the log recorded, or `reelforge log verify` would vouch for a log while the records beside it lie.

    Commits (actor, time, reason, spec hash), entity versions (content and the commit that wrote them) and
    render → commit links are compared with their log entries; a row without one was forged (or its entry
    removed, which the tree shows). Renders logged before the render entry named its commit are not linked.
    `with_renders=False`: the version tables only (what `refs` reads), not every render's rows.
    """
    problems: list[str] = []
    logged = list(session.scalars(select(LogEntry).where(LogEntry.kind.in_(("commit", "asset", "render")))))
    wanted = {row.after_sha256 for row in logged if row.after_sha256 and (row.kind == "render" or
                                                                          row.entity.startswith("commit:"))}
    blobs: dict[str, bytes] = {}
    wanted_list = sorted(wanted)
    for chunk in in_chunks(wanted_list):
        blobs.update((digest, data) for digest, data in session.execute(
            select(LogState.sha256, LogState.data).where(LogState.sha256.in_(chunk))))

    def after(row) -> dict:
        try:
            value = json.loads(blobs.get(row.after_sha256) or b"null")
        except ValueError:
            value = None
        return value if isinstance(value, dict) else {}

    versions = {(row.entity, row.version): row for row in logged if row.kind in ("commit", "asset")
                and row.entity.partition(":")[0] in ENTITY_KINDS}
    commits = {row.entity: (row, after(row)) for row in logged if row.entity.startswith("commit:")}
    renders = {after(row).get("render_id"): after(row) for row in logged if row.kind == "render"}
    for commit in session.scalars(select(CommitRecord).order_by(CommitRecord.id)):
        found = commits.get(f"commit:{commit.id}")
        if found is None:
            problems.append(f"commit #{commit.id} has no entry in the change log (forged, or its entry removed)")
            continue
        entry, state = found
        recorded = (entry.actor, entry.at, entry.reason, state.get("spec_sha256"), state.get("auto"))
        if recorded != (commit.actor, commit.at, commit.reason, commit.spec_sha256, commit.auto):
            problems.append(f"commit #{commit.id} was altered: its actor, time, reason or spec hash differ from its "
                            f"change-log entry {entry.seq}")
    for row in session.scalars(select(EntityVersion).order_by(EntityVersion.commit_id, EntityVersion.entity)):
        name = f"{row.entity}@{row.version}"
        entry = versions.get((row.entity, row.version))
        digest = None if row.content_json is None else hashlib.sha256(row.content_json.encode("utf-8")).hexdigest()
        listed = commits.get(f"commit:{row.commit_id}", (None, {}))[1].get("versions", {})
        if entry is None:
            problems.append(f"{name} has no entry in the change log (forged, or its entry removed)")
        elif digest != row.content_sha256 or digest != entry.after_sha256 or listed.get(row.entity) != row.version:
            problems.append(f"{name} was altered: its content or commit differs from its change-log entry {entry.seq}")
    for link in session.scalars(select(RenderCommit).order_by(RenderCommit.render_id)):
        state = renders.get(link.render_id)
        if state is not None and "commit" in state and state["commit"] != link.commit_id:
            problems.append(f"render #{link.render_id} was relinked: it points at commit #{link.commit_id}, its "
                            f"change-log entry at commit #{state['commit']}")
    linked = set(session.scalars(select(RenderCommit.render_id)))
    problems += [f"render #{render_id}'s link to commit #{state['commit']} was removed"
                 for render_id, state in sorted(renders.items(), key=lambda item: str(item[0]))
                 if state.get("commit") is not None and render_id not in linked]
    problems += _commit_row_differences(session, commits)
    if with_renders:
        problems += [problem for audit in check_render_records(session).values() for problem in audit.problems]
    return problems


def shot_state_record(row: ShotState) -> dict:
    """What a commit's change-log entry records of a shot state row it wrote (versions.commit_spec)."""
    return {"style": row.style, "style_from": row.style_from, "location": row.location, "frames": row.frames,
            "removed": row.removed}


def _commit_row_differences(session: Session, commits: dict[str, tuple[LogEntry, dict]]) -> list[str]:
    """The shot states and references each commit wrote, against its entry (entries from before they were
    recorded there have no "shot_states" / "refs": nothing to check them against)."""
    states: dict[int, dict[str, dict]] = {}
    for row in session.scalars(select(ShotState)):
        states.setdefault(row.commit_id, {})[row.shot] = shot_state_record(row)
    versions = {(row.entity, row.version): row.commit_id for row in session.scalars(select(EntityVersion))}
    refs: dict[int, dict[str, dict[str, str]]] = {}
    for ref in session.scalars(select(EntityRef)):
        commit_id = versions.get((ref.entity, ref.version))
        refs.setdefault(commit_id, {}).setdefault(ref.entity, {})[ref.field] = ref.target
    problems = []
    for name, (entry, recorded) in sorted(commits.items(), key=lambda item: item[1][0].seq):
        commit_id = recorded.get("commit")
        if "shot_states" in recorded:
            rows = states.get(commit_id, {})
            for shot in sorted(set(rows) | set(recorded["shot_states"])):
                was, now = recorded["shot_states"].get(shot), rows.get(shot)
                if was == now:
                    continue
                fields = [key for key in (now or was) if (was or {}).get(key) != (now or {}).get(key)]
                problems.append(f"shot_states row of commit #{commit_id}, shot {shot} "
                                f"({', '.join(fields) if was and now else 'added' if now else 'removed'}) "
                                f"differs from its change-log entry {entry.seq}")
        if "refs" in recorded and refs.get(commit_id, {}) != recorded["refs"]:
            problems.append(f"entity_refs rows of commit #{commit_id} differ from its change-log entry {entry.seq}")
    return problems


# --------------------------------------------------------------------------- a render's rows


@dataclass(frozen=True)
class LoggedRender:
    """A render entry: the entry, its recorded state, and whether both still hash as appended."""

    entry: LogEntry
    state: dict
    intact: bool
    again: tuple[int, ...] = ()  # later render entries for the same render id: a render is logged once


@dataclass(frozen=True)
class RenderAudit:
    """One render's rows against its change-log entry. `covered`: the entry records the rows (else NOT_COVERED)."""

    render_id: int
    entry_seq: int | None
    problems: tuple[str, ...]
    covered: bool
    unsigned: str | None = None  # the entry is not yet covered by a signed checkpoint (changelog.entry_coverage)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def note(self) -> str | None:
        """What a reader must be told of an untampered render whose rows the log cannot (yet) vouch for."""
        if self.problems:
            return None
        if self.covered:
            return self.unsigned
        return NOT_COVERED if self.entry_seq is not None else "recorded before the change log: not checkable"


def render_entries(session: Session) -> dict[int, LoggedRender]:
    """Every render entry by the render id it records (one query).

    A render is logged once, in its own transaction: the first entry for an id is its entry. A later
    one for the same id (appended by hand, and signed by whatever command signs next) is kept in
    `again`, so it is reported as forged instead of replacing what was signed.
    """
    found: dict[int, LoggedRender] = {}
    query = (select(LogEntry, LogState.data).outerjoin(LogState, LogState.sha256 == LogEntry.after_sha256)
             .where(LogEntry.kind == "render").order_by(LogEntry.seq))
    for entry, data in session.execute(query):
        if isinstance(data, str):  # a state overwritten with text by hand
            data = data.encode("utf-8", "replace")
        intact = (data is not None and hashlib.sha256(data).hexdigest() == entry.after_sha256
                  and entry_leaf(entry.content()).hex() == entry.leaf_hash)
        try:
            state = json.loads(data) if data is not None else None
        except ValueError:
            state = None
        if isinstance(state, dict) and isinstance(state.get("render_id"), int):
            first = found.get(state["render_id"])
            if first is None:
                found[state["render_id"]] = LoggedRender(entry, state, intact)
            else:
                found[state["render_id"]] = dataclasses.replace(first, again=(*first.again, entry.seq))
    return found


def logged_render_for_mark(logged: dict[int, LoggedRender], mark_hex: str) -> int | None:
    """The latest render whose signed entry records this invisible mark (None: no entry does)."""
    return max((render_id for render_id, found in logged.items() if found.state.get("mark_id") == mark_hex),
               default=None)


def check_render(session: Session, render_id: int, logged: dict[int, LoggedRender] | None = None,
                 rows: RenderRows | None = None, jobs: dict[str, JobRecord] | None = None) -> RenderAudit:
    """One render's rows against its entry: what `verify` and `trace` run before they answer.

    `logged`, `rows` and `jobs` are passed by a caller that loaded them for many renders at once.
    """
    logged = render_entries(session) if logged is None else logged
    if rows is None:
        rows = load_render_rows(session, [render_id]).get(render_id, RenderRows(None))
    found = logged.get(render_id)
    if found is None:
        if rows.render is None:
            return RenderAudit(render_id, None, (f"no render #{render_id} is recorded",), False)
        # Only a render recorded before the log existed has no entry: its id is one of the first (SQLite
        # numbers rows from 1), below every logged render's. Any other row without an entry was forged.
        if render_id < 1 or any(other < render_id for other in logged):
            return RenderAudit(render_id, None, (f"renders row of render #{render_id} has no change-log entry "
                                                 "(forged, or its entry removed)",), False)
        return RenderAudit(render_id, None, (), False)
    seq = found.entry.seq
    if found.again:
        return RenderAudit(render_id, seq, (f"change-log entry {found.again[0]} records render #{render_id} again "
                                            f"(a render is logged once, by entry {seq}): forged",), True)
    if not found.intact:
        return RenderAudit(render_id, seq, (f"change-log entry {seq} (render #{render_id}) was altered: run "
                                            "`reelforge log verify`",), covers_rows(found.state))
    covered = covers_rows(found.state)
    if jobs is None and covered:
        keys = sorted({shot.job_key for shot in rows.shots})
        jobs = {job.key: job for job in session.scalars(select(JobRecord).where(JobRecord.key.in_(keys)))}
    problems = _render_differences(render_id, seq, found.state, rows)
    if covered and not problems:
        problems += _job_differences(render_id, rows, jobs or {})
        problems += _energy_differences(render_id, rows)
    return RenderAudit(render_id, seq, tuple(problems), covered)


def _render_differences(render_id: int, seq: int, recorded: dict, rows: RenderRows) -> list[str]:
    """Each value the entry records that the rows no longer say, named by table and column."""
    of = f"of render #{render_id}"
    differs = f"differs from its change-log entry {seq}"
    if rows.render is None:
        return [f"renders row {of} was removed: change-log entry {seq} records it"]
    now = render_record(rows)
    problems = []
    for key, (table, column) in RENDER_COLUMNS.items():
        if key not in recorded or recorded[key] == now[key]:
            continue
        if key == "localized" and recorded[key] is not None and now[key] is not None:
            problems += [f"{table} row {of} ({LOCALIZED_COLUMNS[name]}) {differs}"
                         for name in LOCALIZED_COLUMNS if recorded[key].get(name) != now[key].get(name)]
        elif key == "localized":
            problems.append(f"{table} row {of} was {'added' if now[key] else 'removed'}: change-log entry {seq} "
                            f"records {'none' if now[key] else 'one'}")
        else:
            problems.append(f"{table} row {of} ({column}) {differs}")
    shots = recorded.get("shots")
    if isinstance(shots, list):
        if len(shots) != len(now["shots"]):
            problems.append(f"render_shots rows {of}: {len(now['shots'])}, change-log entry {seq} records "
                            f"{len(shots)}")
        for was, shot in zip(shots, now["shots"], strict=False):
            for key, column in SHOT_COLUMNS.items():
                if isinstance(was, dict) and key in was and was[key] != shot[key]:
                    problems.append(f"render_shot_nodes rows {of}, shot {shot['shot']} differ from its change-log "
                                    f"entry {seq}" if key == "nodes_sha256" else
                                    f"render_shots row {of}, shot {shot['shot']} ({column}) {differs}")
    return problems


def _job_differences(render_id: int, rows: RenderRows, jobs: dict[str, JobRecord]) -> list[str]:
    """Each shot's job must still be the job its key names: `verify` re-renders from `jobs.job_json`."""
    problems = []
    for shot in rows.shots:
        job = jobs.get(shot.job_key)
        name = f"jobs row {shot.job_key[:12]}… (render #{render_id}, shot {shot.shot_path})"
        if job is None:
            problems.append(f"{name} was removed")
            continue
        try:
            recorded = json.loads(job.job_json)
            derived = key_of_job(recorded) if isinstance(recorded, dict) else None
        except (ValueError, TypeError):
            recorded, derived = {}, None
        if derived != shot.job_key:
            problems.append(f"{name} was altered: its job_json no longer hashes to its key")
        elif (recorded.get("shot_path"), recorded.get("backend"), recorded.get("seed"), recorded.get("frames")) != \
                (shot.shot_path, job.backend, job.seed, job.frames):
            problems.append(f"{name} was altered: its shot, backend, seed or frames differ from its job_json")
    return problems


def _energy_differences(render_id: int, rows: RenderRows) -> list[str]:
    """The energy totals are read from the recorded reading (whose hash the entry holds): they must agree."""
    energy = rows.energy
    if energy is None:
        return []
    try:
        reading = json.loads(energy.reading_json)
    except ValueError:
        reading = {}
    return [f"render_energy row of render #{render_id} ({name}) differs from its recorded reading"
            for name in ("device", "seconds", "kwh_total", "kwh_measured", "kwh_estimated")
            if reading.get(name) != getattr(energy, name)]


def check_render_records(session: Session, render_ids: list[int] | None = None) -> dict[int, RenderAudit]:
    """Many renders' rows against their entries at once (None: every render recorded or logged)."""
    logged = render_entries(session)
    rows = load_render_rows(session, render_ids)
    ids = sorted(set(rows) | (set(logged) if render_ids is None else set()))
    keys = sorted({shot.job_key for found in rows.values() for shot in found.shots})
    jobs: dict[str, JobRecord] = {}
    for chunk in in_chunks(keys):
        jobs.update((job.key, job) for job in session.scalars(select(JobRecord).where(JobRecord.key.in_(chunk))))
    return {render_id: check_render(session, render_id, logged, rows.get(render_id, RenderRows(None)), jobs)
            for render_id in ids}
