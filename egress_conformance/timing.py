"""Every timing number of the suite, in one documented object, overridable by pytest options."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Timing:
    consecutive: int = 3
    """How many observations in a row must agree before a state counts as reached.
    One good answer right after a config change can be a stale one; three in a
    row across at least ``interval`` each is the sidecar's settled state."""

    interval: float = 0.5
    """Seconds between two agreeing observations when they carry no config generation (a
    sidecar that does not show its xDS update counters): without evidence, time is all
    that tells a settled answer from a stale one."""

    settled_interval: float = 0.0
    """Seconds between two agreeing observations that carry the sidecar's config generation.
    They count as agreeing only if the same generation answered each one (before and after
    its request), so the streak proves a settled configuration by evidence, not by time;
    each observation is still a fresh request."""

    retry_interval: float = 0.05
    """Seconds before observing again after a mismatch ("not yet"): short, since a push
    reaches the sidecar in about a tenth of a second and one observation already costs
    several round trips."""

    convergence_timeout: float = 60.0
    """Seconds to wait for a state (config pushed to the sidecar and behaviour matching)
    before failing with the last observation."""

    request_timeout: float = 5.0
    """curl's --max-time for one request; hitting it is the outcome 'timeout'."""

    progress_every: float = 10.0
    """While a wait lasts longer than this, say every this many seconds what it is still waiting for."""
