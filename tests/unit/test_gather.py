"""Gatherer: concurrent callers share one batch call, each gets its own result, errors reach every caller."""

from __future__ import annotations

import threading
import time

import pytest

from assistant.knowledge.gather import Gatherer


def test_a_lone_call_goes_straight_through() -> None:
    calls: list[list[int]] = []
    g = Gatherer(lambda items: calls.append(list(items)) or [i * 10 for i in items])
    assert g(3) == 30
    assert calls == [[3]]


def test_callers_that_arrive_during_a_call_share_the_next_one() -> None:
    entered, release = threading.Event(), threading.Event()
    calls: list[list[int]] = []

    def run_many(items: list[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:  # hold the first call until the others have queued
            entered.set()
            release.wait(5)
        return [i * i for i in items]

    g: Gatherer[int, int] = Gatherer(run_many)
    results: dict[int, int] = {}
    first = threading.Thread(target=lambda: results.__setitem__(1, g(1)))
    first.start()
    assert entered.wait(5)
    others = [threading.Thread(target=lambda i=i: results.__setitem__(i, g(i))) for i in range(2, 8)]
    for t in others:
        t.start()
    deadline = time.monotonic() + 5
    while len(g._queue) < 6 and time.monotonic() < deadline:
        time.sleep(0.005)
    release.set()
    for t in [first, *others]:
        t.join(5)
    assert results == {i: i * i for i in range(1, 8)}
    assert calls[0] == [1]
    assert sorted(calls[1]) == list(range(2, 8)), "the six waiting callers share one call"
    assert g.calls == 2 and g.items == 7


def test_max_batch_splits_what_is_queued() -> None:
    entered, release = threading.Event(), threading.Event()
    calls: list[list[int]] = []

    def run_many(items: list[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:
            entered.set()
            release.wait(5)
        return list(items)

    g: Gatherer[int, int] = Gatherer(run_many, max_batch=2)
    threads = [threading.Thread(target=g, args=(0,))]
    threads[0].start()
    assert entered.wait(5)
    threads += [threading.Thread(target=g, args=(i,)) for i in range(1, 6)]
    for t in threads[1:]:
        t.start()
    deadline = time.monotonic() + 5
    while len(g._queue) < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    release.set()
    for t in threads:
        t.join(5)
    assert [len(c) for c in calls] == [1, 2, 2, 1]
    assert sorted(i for c in calls for i in c) == list(range(6))


def test_an_error_reaches_every_caller_of_its_batch_and_the_next_call_works() -> None:
    fail = True

    def run_many(items: list[int]) -> list[int]:
        if fail:
            raise ValueError("broken")
        return items

    g: Gatherer[int, int] = Gatherer(run_many)
    with pytest.raises(ValueError, match="broken"):
        g(1)
    fail = False
    assert g(2) == 2


def test_a_result_count_that_does_not_match_is_an_error() -> None:
    g: Gatherer[int, int] = Gatherer(lambda items: [])
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        g(1)
