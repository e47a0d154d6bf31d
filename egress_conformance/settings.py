"""Every timing number of the suite, in one documented object, overridable by pytest options."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Timing:
    consecutive: int = 3
    """How many observations in a row must agree before a state counts as reached.
    One good answer right after a config change can be a stale one; three in a
    row across at least ``interval`` each is the sidecar's settled state."""

    interval: float = 0.5
    """Seconds between two observations while waiting: how far apart agreeing answers are."""

    convergence_timeout: float = 60.0
    """Seconds to wait for a state (config pushed to the sidecar and behaviour matching)
    before failing with the last observation."""

    request_timeout: float = 5.0
    """curl's --max-time for one request; hitting it is the outcome 'timeout'."""

    progress_every: float = 10.0
    """While a wait lasts longer than this, say every this many seconds what it is still waiting for."""
