"""``python -m egress_conformance.install``: install everything the local mesh needs."""

import sys
import time

from egress_conformance.install import components, debian, layout, progress
from egress_conformance.install.errors import InstallError


def main() -> int:
    started = time.monotonic()
    try:
        debian.ensure_commands()
        paths = layout.Layout(
            kubernetes_bin=components.kubernetes(),
            istio_bin=components.istio(),
            istio_source=components.istio_source(),
            envoy=components.envoy(),
        )
        layout.save(paths)
    except InstallError as err:
        print(f"set-up failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("set-up interrupted: the unfinished component will be rebuilt on the next run", file=sys.stderr)
        return 130
    progress.say(f"local mesh components ready in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
