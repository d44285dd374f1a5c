"""The change log as a reader browses it: filters, pages, each entry's change as a compact diff, and its check.

`reelforge log` prints the same entries (oldest first, for a terminal); a browser gets them
newest first, a page at a time. Filters are checked here, so a bad date or kind is the same
clear message wherever it comes from.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from reelforge.app.human_diff import HumanChange, human_changes
from reelforge.records import changelog
from reelforge.records.versions import ABSENT, diff_contents
from reelforge.store.catalog import Catalog
from reelforge.store.paths import ProductionPaths
from reelforge.trust.anchors import production_anchor
from reelforge.trust.identity import CredentialsError, load_anchor

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
SHOWN_CHANGES = 8  # per entry; the rest are counted
VALUE_WIDTH = 80  # characters of a value shown in a diff


class BadFilter(ValueError):
    """A filter value that cannot be used: `field` names it, the message says what is wrong."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def time_bound(text: str, end: bool) -> dt.datetime:
    """A date (the whole day) or an ISO 8601 time (UTC if no offset); `end`: the exclusive upper bound.

    Raises ValueError. The same reading as `reelforge log --since/--until`. An upper bound on the
    last day a datetime can hold (9999-12-31) is the largest datetime: nothing is later.
    """
    if len(text) == 10:
        day = dt.date.fromisoformat(text)
        start, step = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC), dt.timedelta(days=1)
    else:
        start, step = changelog.parse_time(text), dt.timedelta(microseconds=1)
    if not end:
        return start
    try:
        return start + step
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class LogFilter:
    """Which entries to show; None (or empty text) shows all."""

    actor: str | None = None
    entity: str | None = None
    kind: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None  # exclusive
    text: str | None = None  # in the reason, any case

    @property
    def active(self) -> bool:
        return any(value is not None for value in (self.actor, self.entity, self.kind, self.since, self.until,
                                                     self.text))


def parse_filter(actor: str | None = None, entity: str | None = None, kind: str | None = None,
                 since: str | None = None, until: str | None = None, text: str | None = None) -> LogFilter:
    """A LogFilter from text fields (a form, a command line); blank means no filter. Raises BadFilter."""
    def given(value: str | None) -> str | None:
        value = value.strip() if value is not None else None
        return value or None

    actor, entity, kind, since, until, text = map(given, (actor, entity, kind, since, until, text))
    if kind is not None and kind not in changelog.KINDS:
        raise BadFilter("kind", f"{kind!r} is not a kind of change; use one of {', '.join(changelog.KINDS)}")
    bounds = {}
    for name, value, end in (("since", since, False), ("until", until, True)):
        if value is None:
            bounds[name] = None
            continue
        try:
            bounds[name] = time_bound(value, end)
        except ValueError:
            raise BadFilter(name, f"{value!r} is not a date (2026-03-01) or an ISO 8601 time "
                                  "(2026-03-01T14:00:00Z)") from None
    if bounds["since"] is not None and bounds["until"] is not None and bounds["since"] >= bounds["until"]:
        raise BadFilter("until", f"{until!r} is before since {since!r}")
    return LogFilter(actor=actor, entity=entity, kind=kind, since=bounds["since"], until=bounds["until"], text=text)


def parse_page(page: str | None, per_page: str | None) -> tuple[int, int]:
    """(page, entries per page) from text; page 1 is the newest. Raises BadFilter."""
    numbers = {}
    for name, value, default, top in (("page", page, 1, None), ("per_page", per_page, PAGE_SIZE, MAX_PAGE_SIZE)):
        if value is None or not value.strip():
            numbers[name] = default
            continue
        try:
            number = int(value)
        except ValueError:
            raise BadFilter(name, f"{value!r} is not a whole number") from None
        if number < 1 or (top is not None and number > top):
            raise BadFilter(name, "must be 1 or more" + (f" and at most {top}" if top else "") + f", got {number}")
        numbers[name] = number
    return numbers["page"], numbers["per_page"]


@dataclass(frozen=True)
class ShownChange:
    """One field of a compact diff: JSON path, old and new values as short text ('' where absent)."""

    path: str
    old: str
    new: str
    added: bool
    removed: bool


@dataclass(frozen=True)
class EntryView:
    seq: int
    at: str
    actor: str
    kind: str
    entity: str
    version: int | None
    reason: str
    changes: list[ShownChange]  # as JSON paths: behind the details toggle
    more_changes: int  # not shown (past SHOWN_CHANGES)
    plain: list[HumanChange] = field(default_factory=list)  # the same change in words, shown first

    @property
    def commit(self) -> int | None:
        """The commit this is the summary entry of ('commit:12' → 12), else None."""
        kind, _, number = self.entity.partition(":")
        return int(number) if kind == "commit" and number.isdigit() else None

    @property
    def created(self) -> bool:
        return [change.text for change in self.plain] == ["version: created"]

    @property
    def subject(self) -> str:
        """The entity as words: 'shot s01e01/sc01/sh01', 'character mara'."""
        kind, _, name = self.entity.partition(":")
        return f"{kind} {name}" if name else self.entity


@dataclass(frozen=True)
class LogGroup:
    """Entries one act wrote: a commit's summary with the versions it wrote, or a single entry (a render …)."""

    commit: int | None
    at: str
    actor: str
    kind: str
    reason: str
    entries: list[EntryView]  # a commit: the versions it wrote, in log order; else the one entry

    @property
    def head(self) -> EntryView | None:
        return None if self.commit is None else next((e for e in self.entries if e.commit == self.commit), None)

    @property
    def versions(self) -> list[EntryView]:
        """The versions written that changed an entity (new ones are `created`)."""
        return [entry for entry in self.entries if entry.commit is None and not entry.created]

    @property
    def created(self) -> list[EntryView]:
        """The entities this commit wrote for the first time: named in one line, not one each."""
        return [entry for entry in self.entries if entry.commit is None and entry.created]


@dataclass(frozen=True)
class LogPage:
    entries: list[EntryView]  # newest first
    total: int  # entries matching the filter
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def groups(self) -> list[LogGroup]:
        return group_entries(self.entries)


def group_entries(entries: list[EntryView]) -> list[LogGroup]:
    """Newest-first entries grouped by the act that wrote them: a commit's summary entry (`commit:N`) gathers
    the version entries after it written at the same moment by the same actor; anything else stands alone.

    A page boundary can split a commit: its versions on the next page form a group of their own.
    """
    groups: list[LogGroup] = []
    for entry in entries:
        last = groups[-1] if groups else None
        joins = (last is not None and last.kind == "commit" and entry.commit is None
                 and entry.kind in ("commit", "asset") and (entry.at, entry.actor) == (last.at, last.actor))
        if joins:
            last.entries.append(entry)
        elif entry.kind in ("commit", "asset"):
            groups.append(LogGroup(entry.commit, entry.at, entry.actor, "commit", entry.reason, [entry]))
        else:
            groups.append(LogGroup(None, entry.at, entry.actor, entry.kind, entry.reason, [entry]))
    return groups


def _short(value: object) -> str:
    if value is ABSENT:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= VALUE_WIDTH else text[:VALUE_WIDTH - 1] + "…"


def compact_diff(before: object | None, after: object | None) -> tuple[list[ShownChange], int]:
    """The fields that differ between two states (a missing state is an empty one), the first few shown."""
    old = before if before is not None else ({} if isinstance(after, dict) else ABSENT)
    new = after if after is not None else ({} if isinstance(before, dict) else ABSENT)
    if old is ABSENT and new is ABSENT:
        return [], 0
    changes = diff_contents(old, new)
    shown = [ShownChange(c.path, _short(c.old), _short(c.new), c.old is ABSENT, c.new is ABSENT)
             for c in changes[:SHOWN_CHANGES]]
    return shown, max(0, len(changes) - SHOWN_CHANGES)


def log_page(paths: ProductionPaths, where: LogFilter, page: int = 1, per_page: int = PAGE_SIZE) -> LogPage:
    """One page of the entries matching `where`, newest first, with their before/after as compact diffs."""
    if not paths.catalog.exists():
        return LogPage([], 0, page, per_page)
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        rows = changelog.entries(session, entity=where.entity, actor=where.actor, kind=where.kind,
                                 since=where.since, until=where.until)  # an altered time is in no range
        if where.text:
            needle = where.text.casefold()
            rows = [row for row in rows if needle in row.reason.casefold()]
        rows.reverse()
        chosen = rows[(page - 1) * per_page:page * per_page]
        views = []
        for row in chosen:
            plain = []
            try:
                before, after = changelog.state(session, row.before_sha256), changelog.state(session, row.after_sha256)
                changes, more = compact_diff(before, after)
                if row.kind in ("commit", "asset") and not row.entity.startswith("commit:"):
                    plain = human_changes(row.entity, before, after)
            except changelog.LogError as exc:  # a removed state: the verify status says so too
                changes, more = [ShownChange("$", "", str(exc), False, False)], 0
            except ValueError:  # a state overwritten with what is not JSON: the verify status names it
                changes, more = [ShownChange("$", "", "a recorded state no longer reads as JSON", False, False)], 0
            views.append(EntryView(row.seq, row.at, row.actor, row.kind, row.entity, row.version, row.reason,
                                   changes, more, plain))
    return LogPage(views, len(rows), page, per_page)


@dataclass(frozen=True)
class LogStatus:
    """`reelforge log verify` in a sentence: OK, or TAMPERED and where; plus every problem found."""

    ok: bool
    headline: str
    problems: list[str] = field(default_factory=list)
    anchored: bool = True  # checkpoint signatures were checked against the production's anchor
    entries: int = 0
    checkpoints: int = 0


def log_status(paths: ProductionPaths) -> LogStatus:
    """Verify the whole log against the production's trust anchor (as `reelforge log verify` does)."""
    if not paths.catalog.exists():
        return LogStatus(True, f"OK: {paths.root.name} has no change log yet")
    anchor_path = production_anchor(paths)
    try:
        anchor = load_anchor(anchor_path) if anchor_path is not None else None
    except CredentialsError as exc:
        return LogStatus(False, f"cannot check the log: {exc}", [str(exc)], anchored=False)
    with Catalog(paths.catalog) as catalog, catalog.session() as session:
        report = changelog.verify_log(session, anchor)
    return LogStatus(report.ok, report.headline, list(report.problems), anchored=anchor is not None,
                     entries=report.entries, checkpoints=report.checkpoints)
