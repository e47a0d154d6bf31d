"""A test's steps on one time axis, to scale: the geometry the report page draws as inline SVG.

What the report records decides what is drawn: each API step (a write read back, the starting
policy read) at the time it read the API; each waited step as a bar from its first to its last
observation, with its attempts and its verdict at the end. When the sidecar applied the change
and when each single observation happened are not recorded, so they are not drawn. Steps of
reports older than these times are counted as untimed. Pure: steps in, positions out.
"""

import dataclasses
import datetime

from egress_conformance.reports.model import Step

WIDTH = 960
"""The drawing's width in SVG units (it scales to the page)."""
LABEL_WIDTH = 340
"""Room for the step names at the left."""
ROW = 22
"""Height of one step's lane."""
AXIS = 26
"""Height of the time axis under the lanes."""
NICE_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)
"""Tick intervals in seconds, the first that gives at most MAX_TICKS ticks is used."""
MAX_TICKS = 10


@dataclasses.dataclass(frozen=True)
class Lane:
    """One step's row: a bar (waited steps; ``width`` > 0) or a point (API steps; ``width`` 0)."""

    index: int
    label: str
    kind: str  # "api" or "wait"
    verdict: str
    x: float
    width: float
    y: float
    title: str


@dataclasses.dataclass(frozen=True)
class Timeline:
    lanes: tuple[Lane, ...]
    ticks: tuple[tuple[float, str], ...]
    seconds: float
    """From the first to the last recorded time."""
    untimed: int
    """Steps without any recorded time (not drawn)."""
    width: int = WIDTH
    height: float = AXIS
    plot_left: float = LABEL_WIDTH
    plot_right: float = WIDTH - 16

    @property
    def drawn(self) -> bool:
        return bool(self.lanes)


def of_steps(steps: tuple[Step, ...] | list[Step]) -> Timeline:
    timed = [(i, s, _at(s.started), _at(s.ended)) for i, s in enumerate(steps, 1) if _at(s.started) is not None]
    if not timed:
        return Timeline((), (), 0.0, len(steps))
    start = min(begin for _, _, begin, _ in timed if begin is not None)
    end = max(finish or begin for _, _, begin, finish in timed if begin is not None)
    seconds = max((end - start).total_seconds(), 0.001)
    right = WIDTH - 16
    scale = (right - LABEL_WIDTH) / seconds
    lanes = []
    for row, (index, step, begin, finish) in enumerate(timed):
        assert begin is not None
        x = LABEL_WIDTH + (begin - start).total_seconds() * scale
        width = ((finish - begin).total_seconds() * scale) if finish and step.waited else 0.0
        lanes.append(Lane(index, step.name, "wait" if step.waited else "api", step.verdict.value, round(x, 1),
                          round(max(width, 0.0), 1), row * ROW, _title(step, (begin - start).total_seconds())))
    return Timeline(tuple(lanes), _ticks(seconds, scale), round(seconds, 2), len(steps) - len(timed),
                    height=len(lanes) * ROW + AXIS)


def _ticks(seconds: float, scale: float) -> tuple[tuple[float, str], ...]:
    interval = next((n for n in NICE_STEPS if seconds / n <= MAX_TICKS), NICE_STEPS[-1])
    ticks, at = [], 0.0
    while at <= seconds + 1e-9:
        ticks.append((round(LABEL_WIDTH + at * scale, 1), f"{at:g}s"))
        at += interval
    return tuple(ticks)


def _title(step: Step, offset: float) -> str:
    """The tooltip: what the lane stands for, in words."""
    if not step.waited:
        return f"{step.name}: {step.verdict} at +{offset:.2f}s ({step.detail})"
    return (f"{step.name}: {step.verdict} after {step.attempts} attempts in {step.seconds}s, "
            f"from +{offset:.2f}s")


def _at(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
