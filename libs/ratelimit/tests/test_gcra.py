"""The GCRA arithmetic and the in-process limiter, on a clock the test moves."""

from __future__ import annotations

import pytest

from libs.ratelimit import Bucket, LocalLimiter, Rate
from libs.ratelimit.gcra import evaluate, reserve


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_a_fresh_bucket_admits_its_burst_at_once_then_denies() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(clock)
    bucket = Bucket("k", Rate(per_s=10, burst=3))
    decisions = [limiter.check_now([bucket]) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[3].retry_after_s == pytest.approx(0.1)
    # Full again three intervals after the last admitted unit.
    assert decisions[2].reset_after_s == pytest.approx(0.3)


def test_the_bucket_refills_one_unit_per_interval() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(clock)
    bucket = Bucket("k", Rate(per_s=10, burst=2))
    assert limiter.check_now([bucket]).allowed
    assert limiter.check_now([bucket]).allowed
    assert not limiter.check_now([bucket]).allowed
    clock.advance(0.05)
    denied = limiter.check_now([bucket])
    assert not denied.allowed
    assert denied.retry_after_s == pytest.approx(0.05)
    clock.advance(0.05)
    assert limiter.check_now([bucket]).allowed
    assert not limiter.check_now([bucket]).allowed


def test_over_time_it_admits_rate_times_duration_plus_burst() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(clock)
    bucket = Bucket("k", Rate(per_s=50, burst=20))
    admitted = 0
    for _ in range(2000):  # 200 requests/s offered for 10 s
        admitted += limiter.check_now([bucket]).allowed
        clock.advance(0.005)
    assert admitted == pytest.approx(50 * 10 + 20, abs=1)


def test_a_denial_takes_nothing_from_any_bucket() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(clock)
    wide = Bucket("tenant", Rate(per_s=100, burst=100))
    narrow = Bucket("key", Rate(per_s=1, burst=1))
    first = limiter.check_now([wide, narrow])
    assert first.allowed
    assert first.tightest.bucket == narrow
    second = limiter.check_now([wide, narrow])
    assert not second.allowed
    assert second.tightest.bucket == narrow
    assert second.retry_after_s == pytest.approx(1.0)
    wide_state = next(s for s in second.states if s.bucket == wide)
    assert wide_state.remaining == 99  # only the first request was taken
    assert wide_state.retry_after_s == 0


def test_cost_takes_several_units() -> None:
    outcome = evaluate(None, 0.0, Rate(per_s=1, burst=5), cost=5)
    assert outcome.allowed and outcome.remaining == 0
    assert outcome.new_tat == pytest.approx(5.0)
    too_much = evaluate(None, 0.0, Rate(per_s=1, burst=5), cost=6)
    assert not too_much.allowed
    assert too_much.retry_after_s == pytest.approx(1.0)


def test_reserve_spaces_units_by_the_interval_after_the_burst() -> None:
    rate = Rate(per_s=5, burst=1)
    new_tat, first = reserve(None, 10.0, rate, cost=3)
    assert first == pytest.approx(0.0)
    assert new_tat == pytest.approx(10.6)
    # The next booking starts where the last one ended.
    _, later = reserve(new_tat, 10.0, rate, cost=1)
    assert later == pytest.approx(0.6)


def test_local_reserve_never_refuses_and_waits_grow() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(clock)
    sender = Bucket("sender", Rate(per_s=5, burst=2))
    (booking,) = limiter.reserve_now([(sender, 10)])
    waits = [booking.wait_s(i) for i in range(10)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2:] == pytest.approx([0.2 * i for i in range(1, 9)])


def test_forgetting_full_buckets_keeps_the_limiter_bounded() -> None:
    clock = FakeClock()
    limiter = LocalLimiter(clock, max_keys=10)
    for i in range(10):
        limiter.check_now([Bucket(f"k{i}", Rate(per_s=1, burst=5))])
    clock.advance(60)
    busy = Bucket("busy", Rate(per_s=1, burst=1))
    assert limiter.check_now([busy]).allowed
    assert not limiter.check_now([busy]).allowed


def test_rates_validate() -> None:
    with pytest.raises(ValueError, match="per_s"):
        Rate(per_s=0)
    with pytest.raises(ValueError, match="burst"):
        Rate(per_s=1, burst=0)
