"""Process analytics on the diagram: per BPMN element, how often it ran and how long cases stayed.

Computed only from the audit trail's ``element_entered`` / ``element_left`` rows
(``engine/element_trail.py``), never from workflow states, so the figures are exactly what the
audit trail says:

* a *visit* is one SpiffWorkflow task of the element: from its ``element_entered`` to its
  ``element_left`` (still open if there is none yet);
* a *run* is what a case experienced at the element: one visit, except at elements whose visits
  can run side by side (a parallel or inclusive join waited for by several branches, the
  instances of a multi-instance activity — known from the element's kind in the diagram): there
  the overlapping visits of one case are one run, from the first entry to the last exit. Visits
  one after another (a loop, even when the next pass begins the instant the last one ended) are
  separate runs;
* a run belongs to the period if it began in it (Europe/Berlin days, both ends included);
* median and 90th percentile: linear interpolation between the sorted durations of the finished
  runs (``(n - 1) · q``, as ``numpy.percentile``'s default);
* small numbers: an element that ran for fewer than :data:`MIN_CASES` cases shows no count
  (``suppressed``) and no times; times also need :data:`MIN_CASES` cases with a finished run;
* counts are published rounded to the nearest multiple of :data:`ROUND_TO` (0 stays 0), so no
  count can be recovered by subtracting neighbours (gateway minus one branch, start minus end);
  open runs of 1 … 4 show "< 5", and when 1 … 4 runs are finished the open count is withheld
  (runs minus open would give it).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.element_trail import ENTERED, LEFT
from engine.errors import InvalidSubmissionError, NotFoundError, NotPermittedError
from engine.persistence.models import AuditEvent, ProcessDefinition, ProcessInstance
from engine.projection import BERLIN
from engine.read_models import Actor
from engine.xml_safety import parse_xml

#: Fewer cases than this in a cell: the count shows "< 5" and no times (re-identification).
MIN_CASES = 5
#: Roles that see the analytics (the figures of the whole network, no personal data).
ROLES = ("Koordination", "Steuerungsgruppe")
#: Published run counts are rounded to the nearest multiple of this (so no two can be subtracted
#: to recover a suppressed count of 1 … 4).
ROUND_TO = 5
#: Default period: this many days up to today.
DEFAULT_DAYS = 365
#: Heat classes (by median time, relative to the longest median shown).
HEAT_CLASSES = 5
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
#: Flow nodes shown in the table, with a German word for their kind.
ELEMENT_KINDS = {
    "startEvent": "Startereignis",
    "endEvent": "Endereignis",
    "intermediateCatchEvent": "Zwischenereignis (wartet)",
    "intermediateThrowEvent": "Zwischenereignis (sendet)",
    "boundaryEvent": "Randereignis",
    "task": "Aufgabe",
    "userTask": "Aufgabe",
    "manualTask": "Aufgabe",
    "serviceTask": "Systemschritt",
    "scriptTask": "Systemschritt",
    "businessRuleTask": "Entscheidungstabelle",
    "sendTask": "Nachricht senden",
    "receiveTask": "Nachricht empfangen",
    "callActivity": "Teilprozess",
    "subProcess": "Teilprozess",
    "exclusiveGateway": "Verzweigung",
    "inclusiveGateway": "Verzweigung",
    "parallelGateway": "Parallele Verzweigung",
    "eventBasedGateway": "Ereignisverzweigung",
    "complexGateway": "Verzweigung",
}
#: Elements whose SpiffWorkflow tasks of one case may be active side by side: joins waited for by
#: several branches (plus any element with ``multiInstanceLoopCharacteristics``).
JOINING_KINDS = frozenset({"parallelGateway", "inclusiveGateway", "complexGateway"})
PERIOD_HINT = "Bitte ein Datum im Format JJJJ-MM-TT angeben, z. B. 2026-01-31."
#: Dates outside these years are refused (the audit trail has nothing there; no date overflow).
FIRST_YEAR, LAST_YEAR = 2000, 2100
#: The longest period one can ask for (three years), so a request never reads the whole trail.
MAX_PERIOD_DAYS = 3 * 365 + 1


@dataclass(frozen=True)
class Period:
    von: date
    bis: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.von, time(0), BERLIN).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after ``bis`` (Berlin)."""
        return datetime.combine(self.bis + timedelta(days=1), time(0), BERLIN).astimezone(UTC)


@dataclass(frozen=True)
class ElementFigures:
    """Figures of one element; counts and times are None when suppressed or unknown."""

    element_id: str
    name: str
    kind: str
    runs: int | None
    open_runs: int | None
    median_seconds: float | None
    p90_seconds: float | None
    suppressed: bool
    heat: int | None  # 0 … HEAT_CLASSES - 1, by median; None without times
    open_small: bool = False  # 1 … 4 runs still open: shown as "< 5" (open_runs is None)


@dataclass(frozen=True)
class VersionChoice:
    definition_id: int
    version: int


@dataclass(frozen=True)
class ProcessChoice:
    process_key: str
    name: str


@dataclass(frozen=True)
class ProcessAnalytics:
    process_key: str
    process_name: str
    versions: tuple[VersionChoice, ...]
    version: int | None  # None: all versions
    definition_id: int  # the diagram shown (the chosen or the newest version)
    period: Period
    elements: tuple[ElementFigures, ...]
    heat_bounds: tuple[float, ...]  # upper bound (seconds) of each heat class but the last
    min_cases: int = MIN_CASES
    round_to: int = ROUND_TO


@dataclass
class _Visit:
    instance_id: int
    element_id: str
    entered: datetime
    left: datetime | None = None


# --- access and input ---------------------------------------------------------------------------
def require_access(actor: Actor) -> None:
    if not any(actor.has_role(role) for role in ROLES):
        raise NotPermittedError("Die Prozessauswertung sehen nur die Koordination und die Steuerungsgruppe.")


def parse_period(von: str | None, bis: str | None, now: datetime) -> Period:
    """The period from ``JJJJ-MM-TT`` texts (empty: the last year up to today, Berlin)."""
    today = now.astimezone(BERLIN).date()
    errors: dict[str, str] = {}
    end = _parse_date(bis, "bis", errors) or today
    start = _parse_date(von, "von", errors) or end - timedelta(days=DEFAULT_DAYS)
    if not errors and start > end:
        errors["von"] = "Der Beginn liegt nach dem Ende des Zeitraums. Bitte die Daten tauschen."
    elif not errors and (end - start).days >= MAX_PERIOD_DAYS:
        errors["von"] = "Der Zeitraum ist länger als drei Jahre. Bitte einen späteren Beginn wählen."
    if errors:
        raise InvalidSubmissionError("Der Zeitraum ist ungültig. " + PERIOD_HINT, errors)
    return Period(start, end)


def _parse_date(text: str | None, field: str, errors: dict[str, str]) -> date | None:
    if not text or not text.strip():
        return None
    try:
        parsed = date.fromisoformat(text.strip())
    except ValueError:
        errors[field] = f"„{text[:40]}“ ist kein Datum. {PERIOD_HINT}"
        return None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        errors[field] = f"Bitte ein Datum zwischen {FIRST_YEAR} und {LAST_YEAR} angeben."
        return None
    return parsed


def parse_version(text: str | None) -> int | None:
    """The chosen version number; empty or ``alle`` means every version."""
    if not text or text.strip() in ("", "alle"):
        return None
    if not re.fullmatch(r"[0-9]{1,6}", text.strip()):
        raise InvalidSubmissionError(
            "Bitte eine Versionsnummer oder „alle“ wählen.", {"version": "Keine gültige Versionsnummer."}
        )
    return int(text.strip())


# --- use cases (the caller opens the session) -----------------------------------------------------
def process_choices(session: Session) -> list[ProcessChoice]:
    """Every deployed process (newest version's name), by name."""
    latest: dict[str, str] = {}
    for key, name in session.execute(
        select(ProcessDefinition.process_key, ProcessDefinition.name).order_by(ProcessDefinition.version)
    ):
        latest[key] = name
    return sorted((ProcessChoice(k, n) for k, n in latest.items()), key=lambda c: c.name.casefold())


def process_analytics(
    session: Session, process_key: str, period: Period, version: int | None
) -> ProcessAnalytics:
    definitions = session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_key == process_key)
        .order_by(ProcessDefinition.version)
    ).all()
    if not definitions:
        raise NotFoundError(f"Den Prozess „{process_key[:100]}“ gibt es nicht.", process=process_key)
    chosen = [d for d in definitions if version is None or d.version == version]
    if not chosen:
        raise NotFoundError(f"Version {version} dieses Prozesses gibt es nicht.", process=process_key)
    shown = chosen[-1]
    catalogue = element_catalogue(shown.bpmn_xml, process_key)
    visits = load_visits(session, [d.id for d in chosen], period)
    parallel = frozenset().union(*(parallel_elements(d.bpmn_xml, process_key) for d in chosen))
    runs = runs_by_element(visits, parallel)
    figures = element_figures(catalogue, runs)
    bounds = heat_bounds([f.median_seconds for f in figures if f.median_seconds is not None])
    return ProcessAnalytics(
        process_key,
        shown.name,
        tuple(VersionChoice(d.id, d.version) for d in definitions),
        version,
        shown.id,
        period,
        tuple(_with_heat(f, bounds) for f in figures),
        bounds,
    )


# --- the steps ------------------------------------------------------------------------------------
def element_catalogue(bpmn_xml: str, process_key: str) -> list[tuple[str, str, str]]:
    """``(id, name, kind)`` of every flow node of the process (embedded subprocesses included),
    in document order."""
    root = parse_xml(bpmn_xml, filename=f"{process_key}.bpmn")
    found: list[tuple[str, str, str]] = []
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        for node in process.iter():
            if not isinstance(node.tag, str):
                continue
            local = etree.QName(node).localname
            if local in ELEMENT_KINDS and node.get("id"):
                name = " ".join((node.get("name") or "").split())
                found.append((str(node.get("id")), name, ELEMENT_KINDS[local]))
    return found


def load_visits(session: Session, definition_ids: Sequence[int], period: Period) -> list[_Visit]:
    """Visits of the versions' instances that began in the period (with their exits, if any).

    Reads the ``element_entered`` rows inside the period only, then the ``element_left`` rows of
    the versions since the period's start; exits of tasks not entered in the period are dropped
    here. (A sub-select or join on the unindexed ``task_id`` made PostgreSQL compare every row
    with every row: 100 times slower.)"""
    start, end = period.start, period.end
    of_versions = ProcessInstance.definition_id.in_(definition_ids)
    visits: dict[str, _Visit] = {}
    for task_id, instance_id, element_id, at in session.execute(
        select(AuditEvent.task_id, AuditEvent.instance_id, AuditEvent.element_id, AuditEvent.at)
        .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
        .where(
            of_versions,
            AuditEvent.action == ENTERED,
            AuditEvent.at >= start,
            # The upper bound as an expression, not an index range: with a closed range on the
            # ``at`` index PostgreSQL AND-ed it into every per-case lookup (1.7 s instead of 8 ms).
            func.coalesce(AuditEvent.at, start) < end,
        )
    ):
        if task_id and element_id and instance_id is not None:
            visits[task_id] = _Visit(instance_id, element_id, _aware(at))
    if not visits:
        return []
    for task_id, at in session.execute(
        select(AuditEvent.task_id, AuditEvent.at)
        .join(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
        .where(of_versions, AuditEvent.action == LEFT, AuditEvent.at >= start)
    ):
        if task_id in visits:
            visits[task_id].left = _aware(at)
    return list(visits.values())


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def parallel_elements(bpmn_xml: str, process_key: str) -> frozenset[str]:
    """Ids of the elements whose visits of one case can run side by side: joining gateways and
    multi-instance activities. Only their overlapping visits are merged into one run."""
    root = parse_xml(bpmn_xml, filename=f"{process_key}.bpmn")
    found: set[str] = set()
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        for node in process.iter():
            if not isinstance(node.tag, str) or not node.get("id"):
                continue
            local = etree.QName(node).localname
            multi = node.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics") is not None
            if local in ELEMENT_KINDS and (local in JOINING_KINDS or multi):
                found.add(str(node.get("id")))
    return frozenset(found)


def runs_by_element(
    visits: Iterable[_Visit], parallel: frozenset[str] = frozenset()
) -> dict[str, list[_Visit]]:
    """One run per visit; at a ``parallel`` element the overlapping visits of one case are one run
    (a loop's next pass, which begins when the last one ended, stays a run of its own elsewhere)."""
    grouped: dict[tuple[int, str], list[_Visit]] = defaultdict(list)
    for visit in visits:
        grouped[(visit.instance_id, visit.element_id)].append(visit)
    runs: dict[str, list[_Visit]] = defaultdict(list)
    for (instance_id, element_id), group in grouped.items():
        group.sort(key=lambda v: v.entered)
        current: _Visit | None = None
        for visit in group:
            if element_id in parallel and current is not None and _overlaps(current, visit):
                if current.left is not None:
                    current.left = None if visit.left is None else max(current.left, visit.left)
                continue
            current = _Visit(instance_id, element_id, visit.entered, visit.left)
            runs[element_id].append(current)
    return runs


def _overlaps(current: _Visit, visit: _Visit) -> bool:
    return current.left is None or visit.entered <= current.left


def element_figures(
    catalogue: Sequence[tuple[str, str, str]], runs: dict[str, list[_Visit]]
) -> list[ElementFigures]:
    return [_figures(element, name, kind, runs.get(element, [])) for element, name, kind in catalogue]


def _figures(element_id: str, name: str, kind: str, runs: list[_Visit]) -> ElementFigures:
    cases = {r.instance_id for r in runs}
    if 0 < len(cases) < MIN_CASES:
        return ElementFigures(element_id, name, kind, None, None, None, None, True, None)
    finished = [r for r in runs if r.left is not None]
    durations = sorted((r.left - r.entered).total_seconds() for r in finished if r.left is not None)
    timed = len({r.instance_id for r in finished}) >= MIN_CASES
    open_runs, open_small = open_figure(len(runs), len(finished))
    return ElementFigures(
        element_id,
        name,
        kind,
        rounded(len(runs)),
        open_runs,
        quantile(durations, 0.5) if timed else None,
        quantile(durations, 0.9) if timed else None,
        False,
        None,
        open_small,
    )


def rounded(count: int) -> int:
    """A published count: 0 stays 0, everything else to the nearest multiple of :data:`ROUND_TO`.

    So the difference of any two published counts is a multiple of 5 and never reveals a
    suppressed count (1 … 4) — e.g. a gateway passed 10 times minus the branch taken 7 times."""
    return ROUND_TO * ((count + ROUND_TO // 2) // ROUND_TO)


def open_figure(runs: int, finished: int) -> tuple[int | None, bool]:
    """(published open runs, whether they are 1 … 4 and shown as "< 5").

    Open runs of 1 … 4 show "< 5"; when the finished runs are 1 … 4 the open count is withheld
    (``None``), since runs minus open runs would give the small finished count."""
    still_open = runs - finished
    if 0 < still_open < MIN_CASES:
        return None, True
    if 0 < finished < MIN_CASES:
        return None, False
    return rounded(still_open), False


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks of sorted ``values``."""
    if not values:
        raise ValueError("quantile of nothing")
    position = (len(values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


def heat_bounds(medians: Sequence[float]) -> tuple[float, ...]:
    """Equal steps up to the longest median: upper bounds of the classes but the last."""
    longest = max(medians, default=0.0)
    if longest <= 0:
        return ()
    return tuple(longest * (i + 1) / HEAT_CLASSES for i in range(HEAT_CLASSES - 1))


def _with_heat(figures: ElementFigures, bounds: tuple[float, ...]) -> ElementFigures:
    if figures.median_seconds is None:
        return figures
    return replace(figures, heat=sum(1 for bound in bounds if figures.median_seconds > bound))


__all__ = [
    "MIN_CASES",
    "ROUND_TO",
    "ElementFigures",
    "Period",
    "ProcessAnalytics",
    "ProcessChoice",
    "VersionChoice",
    "parse_period",
    "parse_version",
    "process_analytics",
    "process_choices",
    "quantile",
    "require_access",
]
