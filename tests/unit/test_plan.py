"""The read planner: fewest, cheapest requests within the device's limits."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.config.profile import (
    BitPoint,
    BoolPoint,
    ForbiddenRange,
    Function,
    NumericPoint,
    Profile,
    StringPoint,
    register_count,
)
from agent.modbus.plan import (
    AddressRange,
    AnyPoint,
    PlanCost,
    ReadBlock,
    describe_plan,
    gap_between,
    plan_cost,
    plan_for_profile,
    plan_reads,
    split_block,
)

INPUT, HOLDING, COIL = Function.INPUT, Function.HOLDING, Function.COIL
UNIT_COST = PlanCost(per_request=20.0, per_register=1.0)


def num(name: str, address: int, dtype: str = "float32", function: Function = INPUT) -> NumericPoint:
    return NumericPoint.model_validate(
        {"name": name, "function": function, "address": address, "dtype": dtype}
    )


def past_the_end(name: str, address: int, dtype: str) -> NumericPoint:
    """A point the model would refuse (it runs past register 65535), built without validation."""
    return NumericPoint.model_construct(name=name, function=HOLDING, address=address, dtype=dtype)


def text(name: str, address: int, length: int, function: Function = HOLDING) -> StringPoint:
    return StringPoint(name=name, function=function, address=address, dtype="string", length=length)


def bit(name: str, address: int, bit_no: int, function: Function = HOLDING) -> BitPoint:
    return BitPoint(name=name, function=function, address=address, dtype="bits", bit=bit_no)


def coil(name: str, address: int) -> BoolPoint:
    return BoolPoint(name=name, function=COIL, address=address, dtype="bool")


def spans(blocks: Sequence[ReadBlock]) -> list[tuple[str, int, int]]:
    return [(b.function.value, b.start, b.count) for b in blocks]


# --- behaviour on hand-built maps -------------------------------------------------------------------


def test_adjacent_floats_are_read_in_one_request() -> None:
    blocks = plan_reads([num("v1", 0), num("v2", 2), num("v3", 4)])
    assert spans(blocks) == [("input", 0, 6)]
    assert blocks[0].points == ("v1", "v2", "v3")


def test_gap_longer_than_max_gap_splits_the_read() -> None:
    blocks = plan_reads([num("a", 0), num("b", 12)], max_gap=9, cost=PlanCost(1000.0, 1.0))
    assert spans(blocks) == [("input", 0, 2), ("input", 12, 2)]


def test_gap_within_max_gap_is_read_through_when_cheaper() -> None:
    blocks = plan_reads([num("a", 0), num("b", 12)], max_gap=10, cost=UNIT_COST)
    assert spans(blocks) == [("input", 0, 14)]


def test_gap_is_not_read_through_when_a_second_request_is_cheaper() -> None:
    # 30 unused registers cost more than one extra request of 20.
    blocks = plan_reads([num("a", 0), num("b", 32)], max_gap=40, cost=UNIT_COST)
    assert spans(blocks) == [("input", 0, 2), ("input", 32, 2)]


def test_max_registers_caps_every_read() -> None:
    points = [num(f"p{i}", 2 * i) for i in range(70)]  # 140 contiguous registers
    blocks = plan_reads(points, max_registers=125)
    assert sum(b.count for b in blocks) == 140
    assert len(blocks) == 2
    assert all(b.count <= 125 for b in blocks)


def test_limit_splits_at_the_cheapest_place_not_greedily() -> None:
    # Greedy fills the first read (0..5, reading 2 unused registers) and then reads 6..9;
    # the optimum reads 0..1 and 4..9: as many requests, two registers fewer.
    points = [num("a", 0), num("b", 4), num("c", 6), num("d", 8)]
    blocks = plan_reads(points, max_registers=6, max_gap=10, cost=UNIT_COST)
    assert spans(blocks) == [("input", 0, 2), ("input", 4, 6)]


def test_reads_never_cover_a_forbidden_range() -> None:
    forbidden = [ForbiddenRange(function=INPUT, start=3, end=4)]
    blocks = plan_reads([num("a", 0), num("b", 6)], forbidden=forbidden, cost=UNIT_COST)
    assert spans(blocks) == [("input", 0, 2), ("input", 6, 2)]


def test_forbidden_range_in_another_table_does_not_matter() -> None:
    forbidden = [ForbiddenRange(function=HOLDING, start=3, end=4)]
    blocks = plan_reads([num("a", 0), num("b", 6)], forbidden=forbidden, cost=UNIT_COST)
    assert spans(blocks) == [("input", 0, 8)]


def test_bad_range_learned_at_run_time_heals_the_plan() -> None:
    points = [num("a", 0), num("b", 6)]
    before = plan_reads(points, cost=UNIT_COST)
    after = plan_reads(points, cost=UNIT_COST, bad_ranges=[AddressRange(INPUT, 2, 5)])
    assert spans(before) == [("input", 0, 8)]
    assert spans(after) == [("input", 0, 2), ("input", 6, 2)]


@pytest.mark.parametrize(
    ("points", "kwargs", "message"),
    [
        ([text("serial", 0, 64)], {"max_registers": 60}, "'serial' needs 64 registers"),
        ([num("a", 10)], {"forbidden": [AddressRange(INPUT, 11, 11)]}, "'a' .* forbidden or bad"),
        ([num("a", 10)], {"bad_ranges": [AddressRange(INPUT, 10, 10)]}, "'a' .* forbidden or bad"),
        # the profile model refuses such a point (issue 17); the planner still guards against one
        ([num("a", 65535, "uint16"), past_the_end("b", 65535, "uint32")], {}, "'b' runs past"),
        ([num("a", 0), num("a", 4)], {}, "'a' is listed twice"),
    ],
)
def test_unreadable_point_raises_value_error_naming_it(
    points: list[AnyPoint], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        plan_reads(points, **kwargs)  # type: ignore[arg-type]


def test_bits_of_a_status_word_share_the_register_with_its_raw_value() -> None:
    points = [num("status", 10, "uint16", HOLDING), bit("alarm", 10, 3), bit("running", 10, 0)]
    blocks = plan_reads(points)
    assert spans(blocks) == [("holding", 10, 1)]
    assert set(blocks[0].points) == {"status", "alarm", "running"}


def test_overlapping_aliases_are_read_together() -> None:
    # A uint16 alias of the low word of a 32-bit counter.
    blocks = plan_reads([num("energy", 100, "uint32", HOLDING), num("energy_low", 101, "uint16", HOLDING)])
    assert spans(blocks) == [("holding", 100, 2)]


def test_overlap_cluster_wider_than_a_read_is_read_in_parts() -> None:
    points = [text("a", 0, 40), text("b", 30, 40), num("c", 72, "uint16", HOLDING)]
    blocks = plan_reads(points, max_registers=60, cost=UNIT_COST)
    assert spans(blocks) == [("holding", 0, 40), ("holding", 30, 40), ("holding", 72, 1)]


def test_tables_are_planned_separately_in_function_code_order() -> None:
    points = [num("h", 0, "uint16", HOLDING), num("i", 0, "uint16", INPUT), coil("c", 0)]
    assert [b.function for b in plan_reads(points)] == [COIL, HOLDING, INPUT]


def test_coils_use_the_bit_limit_and_read_through_bit_gaps() -> None:
    points = [coil(f"c{i}", i * 100) for i in range(6)]  # 0..500
    assert spans(plan_reads(points, max_bits=2000)) == [("coil", 0, 501)]
    assert spans(plan_reads(points, max_bits=250)) == [("coil", 0, 201), ("coil", 300, 201)]


def test_empty_input_plans_nothing() -> None:
    assert plan_reads([]) == []


def test_offset_of_is_the_index_in_the_response() -> None:
    block = ReadBlock(INPUT, 100, 10, ("a",))
    assert block.offset_of(num("a", 104)) == 4
    with pytest.raises(ValueError, match="'b' is not inside"):
        block.offset_of(num("b", 109))
    with pytest.raises(ValueError, match="'c' is not inside"):
        block.offset_of(num("c", 104, function=HOLDING))


# --- cost model ---------------------------------------------------------------------------------------


def test_rtu_cost_at_9600_baud() -> None:
    char = 11 / 9600
    cost = PlanCost.rtu(9600, turnaround_s=0.005)
    # request 8 bytes, response header + CRC 5 bytes, 3.5 characters of silence after each frame.
    assert cost.per_request == pytest.approx(13 * char + 7 * char + 0.005)
    assert cost.per_register == pytest.approx(2 * char)


def test_rtu_silence_is_fixed_above_19200_baud() -> None:
    char = 11 / 115200
    assert PlanCost.rtu(115200, turnaround_s=0).per_request == pytest.approx(13 * char + 2 * 0.00175)


def test_tcp_default_makes_a_request_worth_twenty_registers() -> None:
    cost = PlanCost.tcp()
    assert cost.per_request / cost.per_register == pytest.approx(20)


def test_slow_bus_reads_through_shorter_gaps_than_fast_tcp() -> None:
    points = [num("a", 0), num("b", 30)]
    assert len(plan_reads(points, max_gap=60, cost=PlanCost.tcp())) == 2
    assert len(plan_reads(points, max_gap=60, cost=PlanCost.rtu(9600, turnaround_s=0.05))) == 1


# --- helpers for the runtime --------------------------------------------------------------------------


def test_split_block_bisects_and_drops_the_middle_gap() -> None:
    points = [num("a", 0), num("b", 2), num("c", 20), num("d", 22)]
    (block,) = plan_reads(points)
    left, right = split_block(block, points)
    assert (left.start, left.count, left.points) == (0, 4, ("a", "b"))
    assert (right.start, right.count, right.points) == (20, 4, ("c", "d"))
    assert gap_between(left, right) == AddressRange(INPUT, 4, 19)


def test_split_block_keeps_overlapping_points_together() -> None:
    points = [num("status", 0, "uint16", HOLDING), bit("alarm", 0, 1)]
    (block,) = plan_reads(points)
    with pytest.raises(ValueError, match="cannot be split"):
        split_block(block, points)


def test_gap_between_touching_blocks_is_none() -> None:
    assert gap_between(ReadBlock(INPUT, 0, 2, ("a",)), ReadBlock(INPUT, 2, 2, ("b",))) is None


def test_plan_for_profile_uses_the_profile_limits_and_subset() -> None:
    profile = Profile(
        id="acme/meter",
        vendor="acme",
        model="meter",
        device_kind="power_meter",
        max_registers_per_read=4,
        forbidden=(ForbiddenRange(function=INPUT, start=10, end=10),),
        points=(num("a", 0), num("b", 3), num("c", 5), num("d", 12)),
    )
    assert spans(plan_for_profile(profile)) == [("input", 0, 2), ("input", 3, 4), ("input", 12, 2)]
    assert spans(plan_for_profile(profile, ["d", "c"])) == [("input", 5, 2), ("input", 12, 2)]
    with pytest.raises(ValueError, match=r"no point.*'zz'"):
        plan_for_profile(profile, ["a", "zz"])


def test_describe_plan_lists_one_row_per_request() -> None:
    table = describe_plan(plan_reads([num("volts", 0), num("amps", 40)], cost=UNIT_COST))
    lines = table.splitlines()
    assert lines[0].split() == ["function", "start", "count", "points"]
    assert lines[1].split() == ["input", "(4)", "0", "2", "volts"]
    assert lines[2].split() == ["input", "(4)", "40", "2", "amps"]
    assert lines[3] == "2 request(s), 4 register(s)/bit(s)"


# --- properties ------------------------------------------------------------------------------------


@st.composite
def point_sets(draw: st.DrawFn, max_points: int = 25, overlap: bool = True) -> list[AnyPoint]:
    count = draw(st.integers(0, max_points))
    points: list[AnyPoint] = []
    for i in range(count):
        address = draw(st.integers(0, 300))
        kind = draw(st.sampled_from(["uint16", "float32", "float64", "string", "bits", "coil"]))
        function = draw(st.sampled_from([INPUT, HOLDING]))
        if kind == "string":
            points.append(text(f"p{i}", address, draw(st.integers(1, 10)), function))
        elif kind == "bits":
            points.append(bit(f"p{i}", address, draw(st.integers(0, 15)), function))
        elif kind == "coil":
            points.append(coil(f"p{i}", address * 10))
        else:
            points.append(num(f"p{i}", address, kind, function))
    if not overlap:
        points = _without_overlaps(points)
    return points


def _without_overlaps(points: list[AnyPoint]) -> list[AnyPoint]:
    kept: list[AnyPoint] = []
    used: set[tuple[Function, int]] = set()
    for p in points:
        cells = {(p.function, a) for a in range(p.address, p.address + register_count(p))}
        if not cells & used:
            kept.append(p)
            used |= cells
    return kept


@st.composite
def limits(draw: st.DrawFn) -> dict[str, object]:
    excluded = [
        AddressRange(draw(st.sampled_from([INPUT, HOLDING, COIL])), start, start + draw(st.integers(0, 5)))
        for start in draw(st.lists(st.integers(0, 3000), max_size=4))
    ]
    return {
        "max_registers": draw(st.integers(10, 125)),
        "max_bits": draw(st.integers(1, 2000)),
        "max_gap": draw(st.integers(0, 40)),
        "forbidden": excluded[:2],
        "bad_ranges": excluded[2:],
        "cost": PlanCost(per_request=draw(st.floats(0.1, 100)), per_register=1.0),
    }


def _readable(points: list[AnyPoint], kw: dict[str, object]) -> list[AnyPoint]:
    """Drop points no read may cover, so properties are checked on plannable input."""
    excluded = [*kw["forbidden"], *kw["bad_ranges"]]  # type: ignore[misc]
    return [
        p
        for p in points
        if not any(
            r.function is p.function and r.start < p.address + register_count(p) and p.address <= r.end
            for r in excluded
        )
    ]


def _limit(function: Function, kw: dict[str, object]) -> int:
    return kw["max_bits"] if function.is_bit else kw["max_registers"]  # type: ignore[return-value]


def _max_gap(function: Function, kw: dict[str, object]) -> int:
    return kw["max_gap"] * 16 if function.is_bit else kw["max_gap"]  # type: ignore[no-any-return,operator]


def _unused_runs(start: int, end: int, points: Sequence[AnyPoint], function: Function) -> Iterator[int]:
    used = {
        a for p in points if p.function is function for a in range(p.address, p.address + register_count(p))
    }
    run = 0
    for address in range(start, end):
        run = 0 if address in used else run + 1
        yield run


def _check_plan(blocks: list[ReadBlock], points: list[AnyPoint], kw: dict[str, object]) -> None:
    by_name = {p.name: p for p in points}
    listed = [name for b in blocks for name in b.points]
    assert sorted(listed) == sorted(by_name), "every point listed exactly once"
    excluded = [*kw["forbidden"], *kw["bad_ranges"]]  # type: ignore[misc]
    for b in blocks:
        assert 1 <= b.count <= _limit(b.function, kw)
        for name in b.points:
            b.offset_of(by_name[name])  # raises unless the whole span is inside
        assert not any(r.function is b.function and r.start < b.end and b.start <= r.end for r in excluded)
        assert max(_unused_runs(b.start, b.end, points, b.function), default=0) <= _max_gap(b.function, kw)


def _naive_cost(points: list[AnyPoint], cost: PlanCost) -> float:
    return sum(cost.of(p.function, register_count(p)) for p in points)


def _greedy_cost(points: list[AnyPoint], kw: dict[str, object]) -> float:
    """Extend the current read while the next point (by address) fits; else start a new one."""
    cost: PlanCost = kw["cost"]  # type: ignore[assignment]
    excluded = [*kw["forbidden"], *kw["bad_ranges"]]  # type: ignore[misc]
    total = 0.0
    for function in {p.function for p in points}:
        current: tuple[int, int] | None = None
        for p in sorted((p for p in points if p.function is function), key=lambda p: p.address):
            end = p.address + register_count(p)
            if current is not None:
                start, new_end = current[0], max(current[1], end)
                fits = new_end - start <= _limit(function, kw)
                fits = fits and p.address - current[1] <= _max_gap(function, kw)
                fits = fits and not any(
                    r.function is function and r.start < new_end and start <= r.end for r in excluded
                )
                if fits:
                    current = (start, new_end)
                    continue
                total += cost.of(function, current[1] - current[0])
            current = (p.address, end)
        if current is not None:
            total += cost.of(function, current[1] - current[0])
    return total


@settings(max_examples=300, deadline=None)
@given(point_sets(), limits())
def test_any_plan_covers_every_point_within_all_limits(points: list[AnyPoint], kw: dict[str, object]) -> None:
    points = _readable(points, kw)
    blocks = plan_reads(points, **kw)  # type: ignore[arg-type]
    _check_plan(blocks, points, kw)
    assert plan_cost(blocks, kw["cost"]) <= _naive_cost(points, kw["cost"]) + 1e-9  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(point_sets(overlap=False), limits())
def test_plan_is_never_dearer_than_greedy(points: list[AnyPoint], kw: dict[str, object]) -> None:
    points = _readable(points, kw)
    blocks = plan_reads(points, **kw)  # type: ignore[arg-type]
    assert plan_cost(blocks, kw["cost"]) <= _greedy_cost(points, kw) + 1e-9  # type: ignore[arg-type]


def _partitions(items: list[AnyPoint]) -> Iterator[list[list[AnyPoint]]]:
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in _partitions(rest):
        yield [[first], *partition]
        for i in range(len(partition)):
            yield [*partition[:i], [first, *partition[i]], *partition[i + 1 :]]


def _brute_force_cost(points: list[AnyPoint], kw: dict[str, object]) -> float:
    """Cheapest of ALL groupings of the points, each group read as its hull."""
    cost: PlanCost = kw["cost"]  # type: ignore[assignment]
    excluded = [*kw["forbidden"], *kw["bad_ranges"]]  # type: ignore[misc]
    best = float("inf")
    for partition in _partitions(points):
        total = 0.0
        for group in partition:
            function = group[0].function
            start = min(p.address for p in group)
            end = max(p.address + register_count(p) for p in group)
            if (
                any(p.function is not function for p in group)
                or end - start > _limit(function, kw)
                or max(_unused_runs(start, end, points, function)) > _max_gap(function, kw)
                or any(r.function is function and r.start < end and start <= r.end for r in excluded)
            ):
                total = float("inf")
                break
            total += cost.of(function, end - start)
        best = min(best, total)
    return best


@settings(max_examples=150, deadline=None)
@given(point_sets(max_points=7, overlap=False), limits())
def test_plan_is_optimal_against_brute_force(points: list[AnyPoint], kw: dict[str, object]) -> None:
    points = _readable(points, kw)
    blocks = plan_reads(points, **kw)  # type: ignore[arg-type]
    assert plan_cost(blocks, kw["cost"]) == pytest.approx(_brute_force_cost(points, kw))  # type: ignore[arg-type]
