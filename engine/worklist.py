"""Meine Aufgaben: worklist queries over the projection tables (no workflow is restored here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import distinct, func, select, union_all
from sqlalchemy.orm import Session

from engine.directory import effective_identity
from engine.persistence.models import ProcessDefinition, TaskCandidate, User, UserTask
from engine.projection import BERLIN, overdue
from engine.read_models import Actor, TaskSummary, WorklistPage

VIEWS = ("meine", "gruppe", "alle", "erledigt")
SORTS = ("faelligkeit", "prioritaet", "erstellt")
STATES = ("", "ueberfaellig", "heute", "ohne_frist")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class WorklistQuery:
    view: str = "alle"
    process_key: str = ""
    state: str = ""
    due_from: date | None = None
    due_to: date | None = None
    sort: str = "faelligkeit"
    page: int = 1
    per_page: int = 20

    def normalised(self) -> WorklistQuery:
        return WorklistQuery(
            view=self.view if self.view in VIEWS else "alle",
            process_key=self.process_key,
            state=self.state if self.state in STATES else "",
            due_from=self.due_from,
            due_to=self.due_to,
            sort=self.sort if self.sort in SORTS else "faelligkeit",
            page=max(1, self.page),
            per_page=min(MAX_PER_PAGE, max(1, self.per_page)),
        )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, BERLIN)


def _filtered(stmt: Any, due_col: Any, process_col: Any, q: WorklistQuery, now: datetime) -> Any:
    if q.process_key:
        stmt = stmt.where(process_col == q.process_key)
    if q.state == "ueberfaellig":
        stmt = stmt.where(due_col < now)
    elif q.state == "heute":
        today = now.astimezone(BERLIN).date()
        stmt = stmt.where(due_col < _day_start(date.fromordinal(today.toordinal() + 1)))
    elif q.state == "ohne_frist":
        stmt = stmt.where(due_col.is_(None))
    if q.due_from:
        stmt = stmt.where(due_col >= _day_start(q.due_from))
    if q.due_to:
        stmt = stmt.where(due_col < _day_start(date.fromordinal(q.due_to.toordinal() + 1)))
    return stmt


def _order(q: WorklistQuery, due: Any, priority: Any, created: Any) -> list[Any]:
    if q.sort == "prioritaet":
        return [priority.desc(), due.asc().nulls_last(), created.asc()]
    if q.sort == "erstellt":
        return [created.desc()]
    return [due.asc().nulls_last(), priority.desc(), created.asc()]


def _group_ids(keys: set[str], q: WorklistQuery, now: datetime) -> Any:
    """Claimable tasks: candidate rows exist only for open, unassigned tasks."""
    stmt = select(
        TaskCandidate.task_id.label("task_id"),
        func.min(TaskCandidate.due_at).label("due"),
        func.max(TaskCandidate.priority).label("priority"),
        func.min(TaskCandidate.created_at).label("created"),
    ).where(TaskCandidate.key.in_(sorted(keys)))
    stmt = _filtered(stmt, TaskCandidate.due_at, TaskCandidate.process_key, q, now)
    return stmt.group_by(TaskCandidate.task_id)


def _mine_ids(ids: set[int], q: WorklistQuery, now: datetime, *, done: bool = False) -> Any:
    stmt = select(
        UserTask.id.label("task_id"),
        UserTask.due_at.label("due"),
        UserTask.priority.label("priority"),
        UserTask.created_at.label("created"),
    )
    if done:
        stmt = stmt.where(UserTask.completed_by_id.in_(ids), UserTask.status == "completed")
    else:
        stmt = stmt.where(UserTask.assignee_id.in_(ids), UserTask.status == "open")
    return _filtered(stmt, UserTask.due_at, UserTask.process_key, q, now)


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def _ids_for(view: str, ids: set[int], keys: set[str], q: WorklistQuery, now: datetime) -> Any:
    if view == "meine":
        return _mine_ids(ids, q, now)
    if view == "gruppe":
        return _group_ids(keys, q, now)
    if view == "erledigt":
        return _mine_ids(ids, q, now, done=True)
    union = _mine_ids(ids, q, now).union_all(_group_ids(keys, q, now)).subquery()
    return select(union.c.task_id, union.c.due, union.c.priority, union.c.created)


def worklist(
    session: Session, actor: Actor, query: WorklistQuery, now: datetime, process_names: dict[str, str]
) -> WorklistPage:
    q = query.normalised()
    ids, keys = effective_identity(session, actor, now)
    mine, mine_late = _mine_counts(session, ids, now)
    group, group_late = _group_counts(session, keys, now)
    counts = {"meine": mine, "gruppe": group, "ueberfaellig": mine_late + group_late}
    if q.view == "erledigt":
        base = _mine_ids(ids, q, now, done=True).subquery()
        page_ids = session.scalars(
            select(base.c.task_id)
            .order_by(base.c.created.desc(), base.c.task_id)
            .limit(q.per_page)
            .offset((q.page - 1) * q.per_page)
        ).all()
        total = _count(session, select(base.c.task_id))
    else:
        page_ids = _page_ids(session, ids, keys, q, now)
        if q.process_key or q.state or q.due_from or q.due_to:
            total = _count(session, select(_ids_for(q.view, ids, keys, q, now).subquery().c.task_id))
        else:  # assigned and claimable tasks never overlap: candidate rows exist only while unclaimed
            total = {"meine": mine, "gruppe": group, "alle": mine + group}[q.view]
    tasks = summaries(session, list(page_ids), now, process_names)
    return WorklistPage(q.view, tuple(tasks), total, q.page, q.per_page, counts)


def _page_ids(session: Session, ids: set[int], keys: set[str], q: WorklistQuery, now: datetime) -> list[str]:
    """One page of open tasks: the first n = page * per_page of each source, merged.

    A task's candidate rows share their sort values and a key occurs once per task, so a task
    among the overall first n is among the first n rows of each of its keys; per-key ``LIMIT n``
    reads walk the covering index instead of grouping every candidate row of the user.
    """
    n = q.page * q.per_page
    parts: list[Any] = []
    if q.view in ("meine", "alle"):
        stmt = _mine_ids(ids, q, now)
        order = _order(q, UserTask.due_at, UserTask.priority, UserTask.created_at)
        parts.append(select(stmt.order_by(*order, UserTask.id).limit(n).subquery()))
    if q.view in ("gruppe", "alle"):
        tc = TaskCandidate
        for key in sorted(keys):
            stmt = select(
                tc.task_id.label("task_id"),
                tc.due_at.label("due"),
                tc.priority.label("priority"),
                tc.created_at.label("created"),
            ).where(tc.key == key)
            stmt = _filtered(stmt, tc.due_at, tc.process_key, q, now)
            order = _order(q, tc.due_at, tc.priority, tc.created_at)
            parts.append(select(stmt.order_by(*order, tc.task_id).limit(n).subquery()))
    combined: Any = parts[0] if len(parts) == 1 else union_all(*parts)
    rows = combined.subquery()
    merged = (
        select(
            rows.c.task_id,
            func.min(rows.c.due).label("due"),
            func.max(rows.c.priority).label("priority"),
            func.min(rows.c.created).label("created"),
        )
        .group_by(rows.c.task_id)
        .subquery()
    )
    order = [*_order(q, merged.c.due, merged.c.priority, merged.c.created), merged.c.task_id]
    return list(
        session.scalars(
            select(merged.c.task_id).order_by(*order).limit(q.per_page).offset((q.page - 1) * q.per_page)
        ).all()
    )


def _mine_counts(session: Session, ids: set[int], now: datetime) -> tuple[int, int]:
    sub = _mine_ids(ids, WorklistQuery(), now).subquery()
    total, late = session.execute(select(func.count(), func.count().filter(sub.c.due < now))).one()
    return int(total), int(late or 0)


def _group_counts(session: Session, keys: set[str], now: datetime) -> tuple[int, int]:
    """Claimable tasks and how many are overdue, in one index-only statement: rows of tasks with
    a single candidate key are counted directly, only the rest need ``DISTINCT``."""
    tc = TaskCandidate
    late = tc.due_at < now
    row = session.execute(
        select(
            func.count().filter(~tc.multi),
            func.count().filter(~tc.multi, late),
            func.count(distinct(tc.task_id)).filter(tc.multi),
            func.count(distinct(tc.task_id)).filter(tc.multi, late),
        ).where(tc.key.in_(sorted(keys)))
    ).one()
    return int(row[0] or 0) + int(row[2] or 0), int(row[1] or 0) + int(row[3] or 0)


def summaries(
    session: Session, task_ids: list[str], now: datetime, process_names: dict[str, str]
) -> list[TaskSummary]:
    """Task summaries in the order of ``task_ids``."""
    if not task_ids:
        return []
    rows = session.execute(
        select(UserTask, User.username, User.display_name)
        .outerjoin(User, User.id == UserTask.assignee_id)
        .where(UserTask.id.in_(task_ids))
    ).all()
    by_id = {r[0].id: r for r in rows}
    return [
        summary(by_id[i][0], by_id[i][1], by_id[i][2], now, process_names) for i in task_ids if i in by_id
    ]


def summary(
    row: UserTask,
    assignee: str | None,
    assignee_name: str | None,
    now: datetime,
    process_names: dict[str, str],
) -> TaskSummary:
    return TaskSummary(
        id=row.id,
        instance_id=row.instance_id,
        process_key=row.process_key,
        process_name=process_names.get(row.process_key, row.process_key),
        element_id=row.element_id,
        name=row.name,
        context_label=row.context_label,
        status=row.status,
        assignee=assignee,
        assignee_name=assignee_name,
        priority=row.priority,
        due_at=row.due_at,
        created_at=row.created_at,
        completed_at=row.completed_at,
        overdue=row.status == "open" and overdue(row.due_at, now),
    )


def process_names(session: Session) -> dict[str, str]:
    rows = session.execute(
        select(ProcessDefinition.process_key, ProcessDefinition.name).order_by(ProcessDefinition.version)
    ).all()
    return {key: name for key, name in rows}


def open_tasks_of_instance(
    session: Session, instance_id: int, now: datetime, names: dict[str, str]
) -> list[TaskSummary]:
    ids = session.scalars(
        select(UserTask.id)
        .where(UserTask.instance_id == instance_id, UserTask.status == "open")
        .order_by(UserTask.created_at)
    ).all()
    return summaries(session, list(ids), now, names)


__all__ = [
    "SORTS",
    "STATES",
    "VIEWS",
    "WorklistQuery",
    "open_tasks_of_instance",
    "process_names",
    "summaries",
    "summary",
    "worklist",
]
