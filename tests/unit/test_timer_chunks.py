"""Timer ids of one scheduler round are grouped into ``fire_timers`` messages only in a backlog."""

from __future__ import annotations

from engine.distributed import TIMER_CHUNK, TIMER_SPREAD, timer_chunks


def test_nothing_due_publishes_nothing():
    assert timer_chunks([]) == []


def test_a_few_due_timers_go_one_per_message_so_all_workers_take_part():
    ids = list(range(1, TIMER_SPREAD + 1))
    assert timer_chunks(ids) == [[i] for i in ids]


def test_a_backlog_is_grouped_without_losing_or_reordering_an_id():
    ids = list(range(100, 200))
    chunks = timer_chunks(ids)
    assert [i for chunk in chunks for i in chunk] == ids
    assert len(chunks) >= TIMER_SPREAD
    assert {len(c) for c in chunks[:-1]} == {100 // TIMER_SPREAD}


def test_a_large_backlog_never_puts_more_than_the_limit_into_one_message():
    ids = list(range(10_000))
    chunks = timer_chunks(ids)
    assert max(len(c) for c in chunks) == TIMER_CHUNK
    assert len(chunks) == 10_000 // TIMER_CHUNK
    assert sorted(i for chunk in chunks for i in chunk) == ids
