"""Reading a run's memory as one series, and finding its climbs and resets.

Backends offer memory at different resolutions: the Docker backend samples the cgroup
every 50 ms, an app may log its own RSS in the console, a platform reports 1-minute
averages. The tree asks the same questions of each, so the best series a run has is
picked here and the answers say which one they came from.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from harness.evidence import RunEvidence
from harness.units import MIB

HIGH = "high"
CONSOLE = "console"
MINUTE = "minute"

# A rise is timed from 10 % to 90 % of its height, so a slow start-up ramp before the
# load or a last sample just before the kill does not decide between a climb and a jump.
RISE_LOW = 0.10
RISE_HIGH = 0.90
FALL_TOLERANCE = 0.10  # a fall of a tenth of the rise on the way up is "with falls"
RESET_WINDOW_S = 3.0  # where to look for the low point right after a kill
REGROWTH = 0.25  # growing again: back up by a quarter of the previous rise ...
REGROWTH_MIN_BYTES = 16 * MIB  # ... and by at least this much


@dataclass(frozen=True)
class Series:
    """Memory over time: ``(t, bytes)`` points in time order.

    Attributes:
        resolution: ``high`` (cgroup samples), ``console`` (the app's RSS lines) or
            ``minute`` (1-minute averages).
        label: what the numbers are, for evidence lines (``working set``).
    """

    resolution: str
    label: str
    points: tuple[tuple[float, int], ...]

    def between(self, start: float, end: float) -> list[tuple[float, int]]:
        return [p for p in self.points if start <= p[0] <= end]

    def value_at(self, t: float) -> int | None:
        """The last reading at or before ``t``, else the first one after it."""
        before = [v for pt, v in self.points if pt <= t]
        if before:
            return before[-1]
        return self.points[0][1] if self.points else None


@dataclass(frozen=True)
class Climb:
    """One rise of memory up to a peak (the kill, or the highest point of a run)."""

    start_t: float
    peak_t: float
    base_bytes: int
    peak_bytes: int
    rise_time_s: float  # from 10 % to 90 % of the rise
    points: int
    falls: bool

    @property
    def duration_s(self) -> float:
        return self.peak_t - self.start_t

    @property
    def rise_bytes(self) -> int:
        return self.peak_bytes - self.base_bytes


@dataclass(frozen=True)
class Reset:
    """What memory did after a kill: where it settled, and whether it rose again."""

    kill_t: float
    level_bytes: int | None  # where memory settled once the replacement was up
    later_peak_bytes: int | None
    watched_s: float  # how long after the kill the series goes on
    grows_again: bool


def series_of(evidence: RunEvidence) -> Series | None:
    """The best memory series the run has: samples, else console RSS, else 1-minute averages."""
    readings = [(s.t, s.working_set_bytes if s.working_set_bytes is not None else s.usage_bytes)
                for s in evidence.samples]
    sampled = sorted((t, int(v)) for t, v in readings if v is not None)
    if len(sampled) >= 2:
        return Series(HIGH, "working set", tuple(sampled))
    logged = [(o.t, int(float(o.detail["rss_mb"]) * MIB)) for o in evidence.of("console_logs")
              if o.kind == "progress" and o.detail.get("rss_mb") is not None]
    if len(logged) >= 2:
        return Series(CONSOLE, "RSS logged by the app", tuple(logged))
    minutes = [(t, int(avg)) for t, avg in sorted(evidence.one_minute)]
    if minutes:
        return Series(MINUTE, "1-minute average working set", tuple(minutes))
    return None


def load_start(evidence: RunEvidence) -> float | None:
    """When the scenario began to load the target: its first HTTP or burst step."""
    loads = [t for t, label in evidence.marks if label.split(":")[1:2] in (["http"], ["burst"])]
    return min(loads, default=None)


def find_climb(series: Series, until: float | None, load_t: float | None = None) -> Climb | None:
    """The rise that ends at the highest point before ``until`` (a kill), or of the whole
    series when ``until`` is None.

    The climb starts when the load began (``load_t``) if that was before memory left its
    low level, else where the rise through 10 % of its height began.
    """
    window = [p for p in series.points if until is None or p[0] <= until + 0.05]
    if len(window) < 2:
        return None
    peak_i = max(range(len(window)), key=lambda i: window[i][1])
    up_to_peak = window[: peak_i + 1]
    low = min(v for _, v in up_to_peak)
    peak_t, peak = window[peak_i]
    height = peak - low
    if height <= 0:
        return Climb(window[0][0], peak_t, peak, peak, 0.0, len(window), False)
    low_cross = _last_below(up_to_peak, low + RISE_LOW * height)
    high_cross = _first_above(up_to_peak, low + RISE_HIGH * height)
    start_t = load_t if load_t is not None and load_t <= low_cross else _rise_start(up_to_peak, low_cross)
    base = series.value_at(start_t)
    climbing = [p for p in up_to_peak if p[0] >= start_t]
    return Climb(
        start_t=start_t, peak_t=peak_t, base_bytes=base if base is not None else low, peak_bytes=peak,
        rise_time_s=max(0.0, high_cross - low_cross), points=len(climbing),
        falls=_falls(climbing, FALL_TOLERANCE * height),
    )


def reset_after(series: Series, kill_t: float, next_kill_t: float | None, climb: Climb | None) -> Reset:
    """Where memory settled right after the kill at ``kill_t``, and whether it climbed
    again before the next kill (or the end of the series)."""
    end = next_kill_t if next_kill_t is not None else series.points[-1][0]
    after = series.between(kill_t, end + 0.05)
    watched = max(0.0, series.points[-1][0] - kill_t) if next_kill_t is None else next_kill_t - kill_t
    early = [(t, v) for t, v in after if t <= kill_t + RESET_WINDOW_S]
    if not early:
        return Reset(kill_t, None, None, watched, False)
    # The lowest reading is the master alone, before the replacement has loaded; the
    # median of the first seconds is the level a reader means by "back to".
    level = int(statistics.median(v for _, v in early))
    settled_t = early[-1][0]
    later = [v for t, v in after if t > settled_t]
    later_peak = max(later, default=None)
    previous_rise = climb.peak_bytes - level if climb else 0
    needed = max(REGROWTH_MIN_BYTES, REGROWTH * previous_rise)
    grows = later_peak is not None and later_peak - level >= needed
    return Reset(kill_t, level, later_peak, watched, grows)


def _last_below(points: list[tuple[float, int]], level: float) -> float:
    below = [t for t, v in points if v <= level]
    return below[-1] if below else points[0][0]


def _rise_start(points: list[tuple[float, int]], t: float) -> float:
    """Walk back from ``t`` while each earlier reading is lower: where that rise began."""
    i = next(i for i, p in enumerate(points) if p[0] == t)
    while i > 0 and points[i - 1][1] < points[i][1]:
        i -= 1
    return points[i][0]


def _first_above(points: list[tuple[float, int]], level: float) -> float:
    return next(t for t, v in points if v >= level)


def _falls(points: list[tuple[float, int]], tolerance: float) -> bool:
    """True when memory dropped by more than ``tolerance`` somewhere on the way up."""
    top = 0
    for _, value in points:
        if top - value > tolerance:
            return True
        top = max(top, value)
    return False


def mb(value: float | None) -> str:
    """Bytes as whole MB (MiB, as the rest of the harness prints them)."""
    return "?" if value is None else f"{value / MIB:.0f} MB"
