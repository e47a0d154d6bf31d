"""Record where set-up put each component, in the file the suite's local provider reads
(egress_conformance.installed: its place and shape are defined there, once)."""

import dataclasses
import json

from egress_conformance import installed, versions


def save(paths: installed.Layout, release: versions.IstioRelease) -> None:
    """Record the layout of a finished set-up for one Istio release."""
    installed.record(release).write_text(json.dumps({k: str(v) for k, v in dataclasses.asdict(paths).items()},
                                                    indent=2))
