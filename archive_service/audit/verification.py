"""Chain verification: recompute the chain, compare it with its anchors, name every tampering.

Someone with write access to the database can still rebuild the whole chain after a point, or
cut its tail: only the chain heads kept in write-once storage
(:mod:`archive_service.audit.anchors`) reveal that, so verification compares with them too.
Those anchors carry an RFC 3161 timestamp over the head hash and are written at least every
anchoring window while events arrive, so verification also expects every event older than that
window (:class:`AnchoringWindow`) to be covered by one — a log whose anchors were removed, or
never written, fails instead of looking like a shorter, intact log.
Verification tells the kinds of tampering apart by where each event's hash says it was written:
a renumbered event still matches its hash at its old position, which its ``prev_hash`` link
gives away.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive_service.audit.chain import (
    GENESIS_HASH,
    Checkpoint,
    digest,
    format_time,
    hashed_values,
)
from archive_service.db import AuditEvent

#: Kinds of :class:`ChainProblem`, each naming one way the log was tampered with.
PROBLEM_KINDS = (
    "edited",  # content changed (or rewritten and re-hashed)
    "deleted",  # events missing from the chain
    "inserted",  # an event that is not part of the chain
    "reordered",  # an event moved to another position
    "tail_cut",  # events after a checkpoint are gone
    "rewritten_before_checkpoint",  # the chain no longer passes through a checkpoint
    "unanchored",  # events older than the anchoring window that no valid anchor covers
    "bad_checkpoint",  # a checkpoint object that cannot be read
    "forged_anchor",  # a checkpoint without a valid TSA timestamp over the head it names
    "hidden_anchor",  # a delete marker over a checkpoint (S3 DELETE without a version id)
)


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    kind: str  # one of PROBLEM_KINDS
    message: str


@dataclass(frozen=True)
class AnchoringWindow:
    """What verification expects of the anchors: every event older than ``allowance`` at
    ``now`` is covered by a valid anchor (one whose seq is at least the event's)."""

    now: dt.datetime
    #: The anchoring interval plus a grace for the TSA round trip and clock differences.
    allowance: dt.timedelta


@dataclass(frozen=True)
class LateAnchoring:
    """Events first covered by an anchor later than the window allows (not a failure: a process
    killed before its next anchor, or a TSA that did not answer; they were open to rewriting
    until ``anchored_at``)."""

    first_seq: int
    last_seq: int
    anchored_at: dt.datetime
    #: From the oldest of these events to ``anchored_at``.
    delay: dt.timedelta


@dataclass(frozen=True)
class ChainReport:
    events: int
    head_seq: int
    head_hash: str
    problems: tuple[ChainProblem, ...]
    #: How many checkpoints the chain was compared with.
    checkpoints: int = 0
    last_checkpoint: Checkpoint | None = None
    #: Ranges of events anchored late (notes, not problems).
    late: tuple[LateAnchoring, ...] = ()

    @property
    def intact(self) -> bool:
        return not self.problems


#: How far from its stored position a renumbered event is looked for when no link places it.
_SEARCH_DISTANCE = 16


@dataclass
class _Link:
    """One stored event reduced to what verification needs (the whole log may not fit)."""

    seq: int
    hash: str
    prev_hash: str
    #: The position its hash was computed for; None when no position explains its content.
    written_as: int | None
    #: Hashed values, kept only while ``written_as`` is still unknown.
    values: dict[str, Any] | None = None
    inserted: bool = False
    #: ``occurred_at`` as a POSIX timestamp (the anchoring window is judged by it).
    occurred: float = 0.0

    @property
    def place(self) -> int:
        """Where the event belongs: where it was written, or (if edited) where it is."""
        return self.seq if self.written_as is None else self.written_as


def _load_links(events: Iterable[AuditEvent]) -> list[_Link]:
    links = []
    for event in events:
        values = hashed_values(event)
        link = _Link(event.seq, event.hash, event.prev_hash, event.seq)
        if digest(values) != event.hash:
            link.written_as, link.values = None, values
        link.occurred = _posix(event.occurred_at)
        links.append(link)
    return links


def _posix(value: dt.datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


def _written_as(link: _Link, predecessor_place: int | None) -> int | None:
    """The position this event's hash was computed for, if its content is unchanged."""
    assert link.values is not None
    if predecessor_place is not None:
        candidates = [predecessor_place + 1]
    else:
        distances = range(1, _SEARCH_DISTANCE + 1)
        candidates = [link.seq + d * sign for d in distances for sign in (1, -1)]
    for candidate in candidates:
        if candidate >= 1 and digest({**link.values, "seq": candidate}) == link.hash:
            return candidate
    return None


def _place_moved_events(links: list[_Link]) -> None:
    """Find where each event whose hash does not fit its position was written.

    A renumbered (reordered, or shifted by an insertion or deletion) event still matches its hash
    at its original position, which its predecessor's position tells: follow ``prev_hash`` links
    back to an event already placed, then place the events on the way forward.
    """
    by_hash = {link.hash: link for link in links}
    placed: dict[str, int] = {GENESIS_HASH: 0}
    placed.update({link.hash: link.seq for link in links if link.values is None})
    for start in links:
        path: list[_Link] = []
        link: _Link | None = start
        while link is not None and link.hash not in placed and link not in path:
            path.append(link)
            link = by_hash.get(link.prev_hash)
        for link in reversed(path):
            link.written_as = _written_as(link, placed.get(link.prev_hash))
            link.values = None
            placed[link.hash] = link.place


def _mark_inserted(links: list[_Link]) -> None:
    """Of several events written for one position, those nothing links to were inserted."""
    linked = {link.prev_hash for link in links}
    by_place: dict[int, list[_Link]] = {}
    for link in links:
        if link.written_as is not None:
            by_place.setdefault(link.written_as, []).append(link)
    for rivals in by_place.values():
        if len(rivals) < 2:
            continue
        unlinked = [link for link in rivals if link.hash not in linked]
        if len(unlinked) == len(rivals):  # at the head nothing links to either: keep the first
            unlinked = unlinked[1:]
        for link in unlinked:
            link.inserted = True


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for n in numbers:
        if ranges and ranges[-1][1] == n - 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return ranges


def _span(first: int, last: int) -> str:
    return f"event #{first}" if first == last else f"events #{first}–#{last}"


def _chain_problems(links: list[_Link]) -> list[ChainProblem]:
    problems = [
        ChainProblem(link.seq, "edited", "the stored hash does not match the event's content")
        for link in links
        if link.written_as is None
    ]
    problems += [
        ChainProblem(
            link.seq,
            "inserted",
            f"event #{link.seq} is not part of the chain: another event written as "
            f"#{link.written_as} is the one its successor links to",
        )
        for link in links
        if link.inserted
    ]
    genuine = [link for link in links if not link.inserted]
    by_place = {link.place: link for link in genuine}
    present = sorted(by_place)
    missing = sorted(set(range(1, present[-1] + 1)) - set(present)) if present else []
    problems += [
        ChainProblem(first, "deleted", f"{_span(first, last)} missing from the chain")
        for first, last in _ranges(missing)
    ]
    for link in genuine:
        predecessor = by_place.get(link.place - 1)
        if link.place == 1 and link.prev_hash != GENESIS_HASH:
            problems.append(
                ChainProblem(link.seq, "edited", "the first event does not start the chain")
            )
        elif predecessor is not None and link.prev_hash != predecessor.hash:
            problems.append(
                ChainProblem(
                    predecessor.seq,
                    "edited",
                    f"event #{predecessor.seq} was rewritten and its hash recomputed: event "
                    f"#{link.seq} still links to the original",
                )
            )
    problems += _reordered(genuine)
    return problems


def _reordered(genuine: list[_Link]) -> list[ChainProblem]:
    """Events out of order: placed after a later event (or before an earlier one) and moved."""
    places = [link.place for link in genuine]
    highest_before = list(accumulate([0, *places[:-1]], max))
    lowest_after = list(accumulate([math.inf, *reversed(places[1:])], min))[::-1]
    return [
        ChainProblem(
            link.seq, "reordered", f"event stored as #{link.seq} was written as #{link.place}"
        )
        for i, link in enumerate(genuine)
        if link.written_as not in (None, link.seq)
        and (link.place < highest_before[i] or link.place > lowest_after[i])
    ]


def _checkpoint_problems(
    links: list[_Link], checkpoints: Sequence[Checkpoint]
) -> list[ChainProblem]:
    """Compare the stored chain with the heads written to write-once storage."""
    head_seq = links[-1].seq if links else 0
    hash_at = {link.seq: link.hash for link in links}
    problems = []
    beyond = [cp for cp in checkpoints if cp.seq > head_seq]
    if beyond:
        latest = max(beyond, key=lambda cp: cp.seq)
        problems.append(
            ChainProblem(
                head_seq + 1,
                "tail_cut",
                f"the checkpoint of {format_time(latest.written_at)} records event "
                f"#{latest.seq}, but the log ends at #{head_seq}: "
                f"{_span(head_seq + 1, latest.seq)} were cut off",
            )
        )
    differing = sorted(
        (cp for cp in checkpoints if cp.seq <= head_seq and hash_at.get(cp.seq) != cp.hash),
        key=lambda cp: cp.seq,
    )
    if differing:
        first = differing[0]
        later = f"; {len(differing) - 1} later checkpoints differ too" if len(differing) > 1 else ""
        problems.append(
            ChainProblem(
                first.seq,
                "rewritten_before_checkpoint",
                f"the checkpoint of {format_time(first.written_at)} records event #{first.seq} "
                f"with hash {first.hash[:16]}…, the log now has "
                f"{(hash_at.get(first.seq) or 'no such event')[:16]}…{later}",
            )
        )
    return problems


def _anchoring(
    links: list[_Link], checkpoints: Sequence[Checkpoint], window: AnchoringWindow
) -> tuple[list[ChainProblem], list[LateAnchoring]]:
    """Events older than the window that no checkpoint covers (problems), and events whose
    first covering checkpoint came later than the window allows (notes).

    Only checkpoints the chain still passes through count: one that disagrees with the log is
    already a problem of its own and proves nothing about the events it no longer matches.
    """
    hash_at = {link.seq: link.hash for link in links}
    matching = sorted(
        (cp for cp in checkpoints if hash_at.get(cp.seq) == cp.hash), key=lambda cp: cp.seq
    )
    # earliest[i]: the earliest time any checkpoint at matching[i].seq or later was written.
    earliest = list(accumulate((_posix(cp.written_at) for cp in reversed(matching)), min))[::-1]
    cutoff = (window.now - window.allowance).timestamp()
    allowance = window.allowance.total_seconds()
    uncovered: list[int] = []
    late: list[LateAnchoring] = []
    index = 0
    for link in links:
        while index < len(matching) and matching[index].seq < link.seq:
            index += 1
        if index == len(matching):
            if link.occurred < cutoff:
                uncovered.append(link.seq)
            continue
        delay = earliest[index] - link.occurred
        if delay <= allowance:
            continue
        anchored_at = dt.datetime.fromtimestamp(earliest[index], dt.UTC)
        if late and late[-1].anchored_at == anchored_at and late[-1].last_seq == link.seq - 1:
            late[-1] = replace(late[-1], last_seq=link.seq)
        else:
            late.append(LateAnchoring(link.seq, link.seq, anchored_at, dt.timedelta(seconds=delay)))
    problems = [
        ChainProblem(
            first,
            "unanchored",
            f"{_span(first, last)} are older than the anchoring window "
            f"({_seconds(window.allowance)}) but no valid anchor the log still matches covers "
            "them: they were rewritten since (see the other problems), or anchors were removed "
            "or never written (the process that appended them was killed and has not started "
            "again, or no time-stamping service answered)",
        )
        for first, last in _ranges(uncovered)
    ]
    return problems, late


def _seconds(span: dt.timedelta) -> str:
    return f"{span.total_seconds():g} s"


def verify_events(
    events: Iterable[AuditEvent],
    checkpoints: Sequence[Checkpoint] = (),
    window: AnchoringWindow | None = None,
) -> ChainReport:
    """Recompute the chain over events ordered by ``seq`` and name every kind of tampering.

    :param checkpoints: chain heads from write-once storage; without them a cut tail (or a tail
        rewritten from some point on) looks like a shorter, intact log.
    :param window: when given, every event older than the window must be covered by one of
        ``checkpoints`` (which must then be only the ones whose timestamps verified, with
        ``written_at`` the timestamp's time).
    """
    links = _load_links(events)
    _place_moved_events(links)
    _mark_inserted(links)
    problems = _chain_problems(links) + _checkpoint_problems(links, checkpoints)
    late: list[LateAnchoring] = []
    if window is not None:
        unanchored, late = _anchoring(links, checkpoints, window)
        problems += unanchored
    problems.sort(key=lambda p: (p.seq, PROBLEM_KINDS.index(p.kind)))
    head = links[-1] if links else None
    return ChainReport(
        events=len(links),
        head_seq=head.seq if head else 0,
        head_hash=head.hash if head else GENESIS_HASH,
        problems=tuple(problems),
        checkpoints=len(checkpoints),
        last_checkpoint=max(checkpoints, key=lambda cp: cp.seq) if checkpoints else None,
        late=tuple(late),
    )


def verify_chain(
    session: Session,
    checkpoints: Sequence[Checkpoint] = (),
    window: AnchoringWindow | None = None,
) -> ChainReport:
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(1000)
    return verify_events(events, checkpoints, window)
