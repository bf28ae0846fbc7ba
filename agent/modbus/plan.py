"""Read planning: turn a device's points into the fewest, cheapest Modbus read requests.

Pure: no I/O, no asyncio, no client library. One bus request costs a fixed overhead (frames, silence,
turnaround, round trip) plus time per register carried, so joining two nearby points into one read is
usually cheaper than two reads, up to the device's read limit. `plan_reads` finds the cheapest
partition exactly, by dynamic programming over the points sorted by address.

Overlapping points (a `bits` point inside a status word, a uint16 alias of a 32-bit value's low word)
are merged into one *cluster* that is always read whole. Clusters are disjoint, so a block is a
contiguous run of clusters and the DP over runs is optimal among plans that keep each cluster in one
read (splitting a cluster across two overlapping reads re-reads registers and is not considered). A
cluster wider than the read limit (only possible with odd overlaps) is read as separate groups that
never join a neighbour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from agent.config.profile import (
    BitPoint,
    BoolPoint,
    Function,
    NumericPoint,
    Profile,
    StringPoint,
    register_count,
)

__all__ = [
    "DEFAULT_COST",
    "AddressRange",
    "AnyPoint",
    "PlanCost",
    "ReadBlock",
    "block_cost",
    "describe_plan",
    "gap_between",
    "plan_cost",
    "plan_for_profile",
    "plan_reads",
    "split_block",
]

AnyPoint = NumericPoint | BoolPoint | BitPoint | StringPoint

_RTU_CHAR_BITS = 11  # start + 8 data + parity (or a second stop bit) + stop
_RTU_REQUEST_BYTES = 8  # unit, function, start (2), count (2), CRC (2)
_RTU_RESPONSE_OVERHEAD_BYTES = 5  # unit, function, byte count, CRC (2)
_RTU_FIXED_SILENCE_ABOVE_19200 = 0.00175  # Modbus over serial line spec, section 2.5.1.1


class _Range(Protocol):
    """An inclusive address range in one table (a profile's ForbiddenRange or an AddressRange)."""

    @property
    def function(self) -> Function: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


@dataclass(frozen=True, slots=True)
class AddressRange:
    """Addresses `start`..`end` (inclusive) of one table; e.g. learned from ILLEGAL DATA ADDRESS."""

    function: Function
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: `count` registers (or bits) from `start`, serving the listed points."""

    function: Function
    start: int
    count: int
    points: tuple[str, ...]

    @property
    def end(self) -> int:
        """First address after the block."""
        return self.start + self.count

    def offset_of(self, point: AnyPoint) -> int:
        """Index of the point's first register (or bit) within the block's response."""
        offset = point.address - self.start
        if point.function is not self.function or offset < 0 or offset + register_count(point) > self.count:
            raise ValueError(f"point {point.name!r} is not inside {self}")
        return offset

    def __str__(self) -> str:
        return f"{self.function.value} {self.start}..{self.end - 1} ({self.count})"


@dataclass(frozen=True)
class PlanCost:
    """Bus time of a read: `per_request` + `per_register` x count, in seconds.

    Only the ratio matters to the planner; seconds make the figures meaningful in reports. A coil or
    discrete read costs per_register / 16 per bit (bits are packed, 16 per register's two bytes).
    """

    per_request: float = 0.002
    per_register: float = 0.0001

    @classmethod
    def tcp(cls, round_trip_s: float = 0.002, registers_per_round_trip: float = 20.0) -> PlanCost:
        """Modbus TCP: a request costs a round trip; a register costs a small share of one."""
        return cls(per_request=round_trip_s, per_register=round_trip_s / registers_per_round_trip)

    @classmethod
    def rtu(cls, baud: int, turnaround_s: float = 0.005, char_bits: int = _RTU_CHAR_BITS) -> PlanCost:
        """Modbus RTU at `baud`: frames + CRC + 3.5-character silences + the device's turnaround.

        `char_bits`: bits on the wire per byte (start + data + parity + stop; 11 for the Modbus
        default 8E1 or 8N2, 10 for the common 8N1)."""
        if baud <= 0:
            raise ValueError(f"baud must be positive, got {baud}")
        char_s = char_bits / baud
        silence_s = 3.5 * char_s if baud <= 19200 else _RTU_FIXED_SILENCE_ABOVE_19200
        frames_s = (_RTU_REQUEST_BYTES + _RTU_RESPONSE_OVERHEAD_BYTES) * char_s
        return cls(per_request=frames_s + 2 * silence_s + turnaround_s, per_register=2 * char_s)

    def of(self, function: Function, count: int) -> float:
        """Cost of one read of `count` registers (or bits) from `function`'s table."""
        per_unit = self.per_register / 16 if function.is_bit else self.per_register
        return self.per_request + per_unit * count


DEFAULT_COST = PlanCost.tcp()


@dataclass(frozen=True, slots=True)
class _Cluster:
    """Points read together because they overlap; `start`..`end` exclusive."""

    start: int
    end: int
    names: tuple[str, ...]
    standalone: bool = False  # part of an over-wide cluster: never joined with neighbours


def plan_reads(
    points: Iterable[AnyPoint],
    *,
    max_registers: int = 125,
    max_bits: int = 2000,
    max_gap: int = 32,
    max_bit_gap: int | None = None,
    forbidden: Iterable[_Range] = (),
    bad_ranges: Iterable[_Range] = (),
    cost: PlanCost = DEFAULT_COST,
) -> list[ReadBlock]:
    """The cheapest set of reads covering every point, ordered by function code then address.

    A block never exceeds `max_registers` (`max_bits` for coil/discrete), never reads through more than
    `max_gap` unused registers in a row (`max_bit_gap` bits, default max_gap x 16), and never touches a
    `forbidden` or `bad_ranges` address. A point that no read can cover raises ValueError naming it.
    """
    by_function: dict[Function, list[AnyPoint]] = {}
    seen: set[str] = set()
    for point in points:
        if point.name in seen:
            raise ValueError(f"point {point.name!r} is listed twice")
        seen.add(point.name)
        by_function.setdefault(point.function, []).append(point)
    excluded = [*forbidden, *bad_ranges]
    blocks: list[ReadBlock] = []
    for function in sorted(by_function, key=lambda f: f.code):
        limit = max_bits if function.is_bit else max_registers
        gap = (max_gap * 16 if max_bit_gap is None else max_bit_gap) if function.is_bit else max_gap
        ranges = sorted((r.start, r.end + 1) for r in excluded if r.function is function)
        clusters = _clusters(by_function[function], limit, ranges)
        blocks.extend(_optimal_blocks(function, clusters, limit, gap, ranges, cost))
    return blocks


def plan_for_profile(
    profile: Profile,
    names: Iterable[str] | None = None,
    *,
    cost: PlanCost = DEFAULT_COST,
    bad_ranges: Iterable[_Range] = (),
) -> list[ReadBlock]:
    """Plan the reads of a profile's points (all, or the named subset) within the profile's limits."""
    if names is None:
        points: list[AnyPoint] = list(profile.points)
    else:
        by_name = {p.name: p for p in profile.points}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(f"profile {profile.id} has no point(s) {', '.join(map(repr, unknown))}")
        points = [by_name[n] for n in dict.fromkeys(names)]
    return plan_reads(
        points,
        max_registers=profile.max_registers_per_read,
        max_bits=profile.max_bits_per_read,
        max_gap=profile.max_gap,
        forbidden=profile.forbidden,
        bad_ranges=bad_ranges,
        cost=cost,
    )


def _clusters(points: list[AnyPoint], limit: int, excluded: list[tuple[int, int]]) -> list[_Cluster]:
    """Merge overlapping points; check each can be read at all."""
    spans = sorted((p.address, p.address + register_count(p), p.name) for p in points)
    for start, end, name in spans:
        if end - start > limit:
            raise ValueError(f"point {name!r} needs {end - start} registers; a read holds at most {limit}")
        if end > 65536:
            raise ValueError(f"point {name!r} runs past address 65535")
        if _hits(start, end, excluded):
            raise ValueError(f"point {name!r} ({start}..{end - 1}) lies in a forbidden or bad address range")
    merged: list[list[tuple[int, int, str]]] = []
    for span in spans:
        if merged and span[0] < max(e for _, e, _ in merged[-1]):
            merged[-1].append(span)
        else:
            merged.append([span])
    clusters: list[_Cluster] = []
    for group in merged:
        start, end = group[0][0], max(e for _, e, _ in group)
        if end - start <= limit:
            clusters.append(_Cluster(start, end, tuple(n for _, _, n in group)))
        else:
            clusters.extend(_split_wide_cluster(group, limit))
    return clusters


def _split_wide_cluster(group: list[tuple[int, int, str]], limit: int) -> list[_Cluster]:
    """Greedy groups of an overlap cluster too wide for one read; they stay apart from neighbours."""
    parts: list[_Cluster] = []
    start, end, names = group[0][0], group[0][1], [group[0][2]]
    for s, e, name in group[1:]:
        if max(end, e) - start <= limit:
            end, names = max(end, e), [*names, name]
        else:
            parts.append(_Cluster(start, end, tuple(names), standalone=True))
            start, end, names = s, e, [name]
    parts.append(_Cluster(start, end, tuple(names), standalone=True))
    return parts


def _hits(start: int, end: int, excluded: list[tuple[int, int]]) -> bool:
    """Does [start, end) intersect any excluded [s, e)?"""
    return any(s < end and start < e for s, e in excluded)


def _optimal_blocks(
    function: Function,
    clusters: list[_Cluster],
    limit: int,
    max_gap: int,
    excluded: list[tuple[int, int]],
    cost: PlanCost,
) -> list[ReadBlock]:
    """DP over runs of consecutive clusters: best[j] = cheapest plan for clusters[:j].

    A run is joinable across gap k (between clusters k and k+1) unless the gap is too long, holds an
    excluded address, or touches a standalone cluster. Feasibility only shrinks as a run grows to the
    left, so the inner loop stops at the first infeasible start: O(n x runs that fit) per function.
    """
    joinable = [
        not (a.standalone or b.standalone)
        and b.start - a.end <= max_gap
        and not _hits(a.end, b.start, excluded)
        for a, b in pairwise(clusters)
    ]
    n = len(clusters)
    best = [0.0] + [float("inf")] * n
    run_start = [0] * (n + 1)
    for j in range(1, n + 1):
        end = clusters[j - 1].end
        for i in range(j - 1, -1, -1):
            if end - clusters[i].start > limit:
                break
            candidate = best[i] + cost.of(function, end - clusters[i].start)
            if candidate < best[j]:
                best[j], run_start[j] = candidate, i
            if i > 0 and not joinable[i - 1]:
                break
    blocks: list[ReadBlock] = []
    j = n
    while j > 0:
        i = run_start[j]
        run = clusters[i:j]
        names = tuple(name for cluster in run for name in cluster.names)
        blocks.append(ReadBlock(function, run[0].start, run[-1].end - run[0].start, names))
        j = i
    blocks.reverse()
    return blocks


def split_block(block: ReadBlock, points: Iterable[AnyPoint]) -> tuple[ReadBlock, ReadBlock]:
    """Bisect a block (e.g. one answered with ILLEGAL DATA ADDRESS) into two tighter halves.

    `points` must include the block's points (others are ignored). Overlapping points stay together;
    each half shrinks to its own points, so the unused span between the halves is no longer read.
    """
    listed = set(block.points)
    mine = [p for p in points if p.name in listed]
    missing = listed - {p.name for p in mine}
    if missing:
        raise ValueError(f"split_block needs the points {sorted(missing)} of {block}")
    clusters = _clusters(mine, block.count, [])
    if len(clusters) < 2:
        raise ValueError(f"{block} holds one group of overlapping points and cannot be split")
    half = len(clusters) // 2
    return _hull(block.function, clusters[:half]), _hull(block.function, clusters[half:])


def _hull(function: Function, clusters: Sequence[_Cluster]) -> ReadBlock:
    start, end = clusters[0].start, max(c.end for c in clusters)
    return ReadBlock(function, start, end - start, tuple(n for c in clusters for n in c.names))


def gap_between(left: ReadBlock, right: ReadBlock) -> AddressRange | None:
    """The unread addresses between two halves of a split block, or None if they touch.

    When a block fails but both halves read fine, this is the range the device rejects: pass it to
    `plan_reads(bad_ranges=...)` so the next plan reads around it.
    """
    if left.function is not right.function:
        raise ValueError(f"{left} and {right} are in different tables")
    first, second = sorted((left, right), key=lambda b: b.start)
    if second.start <= first.end:
        return None
    return AddressRange(first.function, first.end, second.start - 1)


def block_cost(block: ReadBlock, cost: PlanCost = DEFAULT_COST) -> float:
    """Bus time of one block under `cost`."""
    return cost.of(block.function, block.count)


def plan_cost(blocks: Iterable[ReadBlock], cost: PlanCost = DEFAULT_COST) -> float:
    """Bus time of a whole plan under `cost`."""
    return sum(block_cost(b, cost) for b in blocks)


def describe_plan(blocks: Sequence[ReadBlock]) -> str:
    """A plain-text table of a plan: one row per request."""
    header = ("function", "start", "count", "points")
    rows = [header] + [
        (f"{b.function.value} ({b.function.code})", str(b.start), str(b.count), ", ".join(b.points))
        for b in blocks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip()
        for row in rows
    ]
    total = sum(b.count for b in blocks)
    lines.append(f"{len(blocks)} request(s), {total} register(s)/bit(s)")
    return "\n".join(lines)
