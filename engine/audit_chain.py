"""The hash chain over the audit trail: sealing and verification.

Use cases insert audit rows **unsealed** (``chain_seq`` and ``chain_hash`` empty), in their own
transaction, without looking at any other row — so parallel transactions (web processes, Celery
workers) never race for "the previous entry". The sealer takes a database-wide lock and gives every
committed, still unsealed row, in id order, the next position and

    chain_hash = SHA-256(previous chain_hash + "\\n" + canonical(entry))

where ``canonical`` is a fixed JSON form of the entry including its id and position. A row whose
transaction commits late (lower id, later commit) is simply sealed in a later round: the chain's
order is ``chain_seq``, not ``id``. The last position and hash are also kept in
``audit_chain_head``, so deleting the newest sealed entries leaves a visible gap before the next one.

The window: a row is protected from the moment it is sealed — right after its commit in embedded
mode (:func:`seal_after_commit`), within one job interval in distributed mode (periodic job
``seal_audit_trail``), and always before ``hilfenetz audit verify``. Until then an unsealed row can
be changed by someone with database rights without the chain noticing; the triggers of migration
0015 refuse UPDATE/DELETE of rows for the application's own database user in any case.

A plain hash chain proves that nobody changed the past *without recomputing every later hash*.
Someone with full database rights can recompute; against that, export the head now and then
(``hilfenetz audit verify --write-anchor FILE``) to a place the database administrator cannot write,
and compare later (``--anchor FILE``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Result, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from engine.persistence.database import exclusive
from engine.persistence.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
SEAL_LOCK = "hilfenetz.audit_seal"
SEAL_BATCH = 2000
_UNSEALED = "hilfenetz.audit_unsealed"
_CONTENT = (
    AuditEvent.id,
    AuditEvent.at,
    AuditEvent.actor_id,
    AuditEvent.actor_name,
    AuditEvent.actor_org,
    AuditEvent.action,
    AuditEvent.instance_id,
    AuditEvent.task_id,
    AuditEvent.element_id,
    AuditEvent.detail,
)


def note_unsealed(session: Session) -> None:
    """Mark the session: it wrote audit rows, seal them once it committed (embedded mode)."""
    session.info[_UNSEALED] = True


def take_unsealed_note(session: Session) -> bool:
    """True (once) when the session wrote audit rows since the last call."""
    return bool(session.info.pop(_UNSEALED, False))


def _timestamp(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def canonical(row: Any, seq: int) -> str:
    """The fixed text form of one entry that its hash covers (id and position included)."""
    return json.dumps(
        {
            "id": row.id,
            "seq": seq,
            "at": _timestamp(row.at),
            "actor_id": row.actor_id,
            "actor_name": row.actor_name,
            "actor_org": row.actor_org,
            "action": row.action,
            "instance_id": row.instance_id,
            "task_id": row.task_id,
            "element_id": row.element_id,
            "detail": row.detail if row.detail is not None else {},
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def chain_hash(previous: str, row: Any, seq: int) -> str:
    return hashlib.sha256(f"{previous}\n{canonical(row, seq)}".encode()).hexdigest()


# --- sealing -------------------------------------------------------------------------------------
_EVENTS = cast(Table, AuditEvent.__table__)
_HEAD = cast(Table, AuditChainHead.__table__)
_SET_SEAL = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("b_id"))
    .values(chain_seq=bindparam("b_seq"), chain_hash=bindparam("b_hash"))
)


def _head(session: Session) -> tuple[int, str] | None:
    row = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
    return (int(row.seq), str(row.hash)) if row is not None else None


def seal(session: Session, now: datetime, limit: int = SEAL_BATCH) -> int:
    """Seal up to ``limit`` committed unsealed rows in id order; the caller commits.

    Takes the database-wide seal lock first (PostgreSQL advisory lock; SQLite writers queue
    anyway), so the head read next is the one the last sealer committed. Core statements only:
    this runs after every audited commit.
    """
    conn = session.connection()
    exclusive(conn, SEAL_LOCK)
    rows = conn.execute(
        select(*_CONTENT).where(AuditEvent.chain_seq.is_(None)).order_by(AuditEvent.id).limit(limit)
    ).all()
    if not rows:
        return 0
    head = _head(session)
    seq, previous = head or (0, GENESIS)
    sealed = []
    for row in rows:
        seq += 1
        previous = chain_hash(previous, row, seq)
        sealed.append({"b_id": row.id, "b_seq": seq, "b_hash": previous})
    conn.execute(_SET_SEAL, sealed)
    values = {"seq": seq, "hash": previous, "sealed_at": now}
    if head is None:
        conn.execute(insert(_HEAD).values(id=1, **values))
    else:
        conn.execute(update(_HEAD).where(_HEAD.c.id == 1).values(**values))
    return len(rows)


# --- verification --------------------------------------------------------------------------------
KIND_TEXT = {
    "changed": "verändert (Inhalt oder Hash passt nicht mehr)",
    "inserted": "eingefügt (Eintrag ohne gültigen Platz in der Kette)",
    "reordered": "umgestellt (Reihenfolge vertauscht)",
    "anchor": "nach dem Export des Ankers neu berechnet (Hash weicht vom Anker ab)",
}


@dataclass(frozen=True)
class ChainBreak:
    """The first entry at which the chain no longer holds."""

    kind: str  # changed | deleted | inserted | reordered | anchor
    seq: int
    event_id: int | None

    @property
    def message(self) -> str:
        if self.kind == "deleted":
            after = f" (vor Eintrag Nr. {self.event_id})" if self.event_id is not None else " (am Ende)"
            return f"Audit-Kette gebrochen: der Eintrag an Position {self.seq}{after} wurde gelöscht."
        where = f"Eintrag Nr. {self.event_id}" if self.event_id is not None else "der Eintrag"
        return f"Audit-Kette gebrochen an Position {self.seq}: {where} wurde {KIND_TEXT[self.kind]}."


@dataclass(frozen=True)
class ChainReport:
    sealed: int
    unsealed: int
    head_seq: int
    head_hash: str
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None

    @property
    def summary(self) -> str:
        if self.broken is not None:
            return (
                f"{self.broken.message} Bitte den Datenschutzbeauftragten informieren und den Eintrag "
                "mit der Datensicherung vergleichen."
            )
        return (
            f"Audit-Kette intakt: {self.sealed} versiegelte Einträge, {self.unsealed} noch nicht "
            f"versiegelt. Kopf: Position {self.head_seq}, Hash {self.head_hash}."
        )


def _sealed_rows(session: Session) -> Result[Any]:
    """The sealed rows in chain order, streamed (the caller closes the result)."""
    query = (
        select(*_CONTENT, AuditEvent.chain_seq, AuditEvent.chain_hash)
        .where(AuditEvent.chain_seq.is_not(None))
        .order_by(AuditEvent.chain_seq, AuditEvent.id)
        .execution_options(yield_per=2000)
    )
    return session.execute(query)


def _classify(previous: str, row: Any, following: Any | None) -> str:
    """Why ``row`` does not continue the chain: reordered, inserted or changed."""
    if following is not None:
        if following.chain_hash == chain_hash(previous, following, row.chain_seq) and (
            row.chain_hash == chain_hash(following.chain_hash, row, following.chain_seq)
        ):
            return "reordered"  # the two entries swapped places
        if following.chain_hash in (
            chain_hash(previous, following, following.chain_seq),
            chain_hash(previous, following, following.chain_seq - 1),
        ):
            return "inserted"  # the chain goes on as if this row were not there
    return "changed"


def find_break(rows: Iterable[Any], head: tuple[int, str]) -> tuple[ChainBreak | None, int, str]:
    """Walk the sealed rows in chain order; the first break, and the last position and hash seen."""
    expected, previous, before, previous_id = 1, GENESIS, GENESIS, None
    iterator = iter(rows)
    row = next(iterator, None)
    while row is not None:
        following = next(iterator, None)
        if row.chain_seq > expected:
            return ChainBreak("deleted", expected, row.id), expected - 1, previous
        if row.chain_seq < expected:
            return ChainBreak("inserted", row.chain_seq, row.id), expected - 1, previous
        if row.chain_hash != chain_hash(previous, row, row.chain_seq):
            if previous_id is not None and row.chain_hash == chain_hash(before, row, row.chain_seq - 1):
                return ChainBreak("inserted", row.chain_seq - 1, previous_id), expected - 1, previous
            kind = _classify(previous, row, following)
            return ChainBreak(kind, row.chain_seq, row.id), expected - 1, previous
        if row.chain_seq == head[0] and row.chain_hash != head[1]:  # recomputed after sealing
            return ChainBreak("changed", row.chain_seq, row.id), expected - 1, previous
        before, previous, previous_id = previous, row.chain_hash, row.id
        expected += 1
        row = following
    last = expected - 1
    if head[0] > last:
        return ChainBreak("deleted", last + 1, None), last, previous
    return None, last, previous


def verify(session: Session) -> ChainReport:
    """Recompute the whole chain (the caller seals first). The head is read before the rows: on
    PostgreSQL each statement sees the newest commits, so the rows then reach at least the head."""
    head = _head(session) or (0, GENESIS)
    unsealed = session.scalar(select(func.count()).where(AuditEvent.chain_seq.is_(None))) or 0
    rows = _sealed_rows(session)
    try:
        broken, last, previous = find_break(rows, head)
    finally:
        rows.close()  # a break ends the walk early: release the server-side cursor
    return ChainReport(sealed=last, unsealed=unsealed, head_seq=last, head_hash=previous, broken=broken)


def check_anchor(session: Session, anchor: dict[str, Any]) -> ChainBreak | None:
    """An exported head (``{"seq": n, "hash": h}``) must still be the hash at position n."""
    seq = int(anchor["seq"])
    if seq == 0:
        return None
    row = session.execute(
        select(AuditEvent.id, AuditEvent.chain_hash).where(AuditEvent.chain_seq == seq)
    ).first()
    if row is None:
        return ChainBreak("deleted", seq, None)
    if row.chain_hash != anchor["hash"]:
        return ChainBreak("anchor", seq, row.id)
    return None


__all__ = [
    "GENESIS",
    "ChainBreak",
    "ChainReport",
    "canonical",
    "chain_hash",
    "check_anchor",
    "find_break",
    "note_unsealed",
    "seal",
    "take_unsealed_note",
    "verify",
]
