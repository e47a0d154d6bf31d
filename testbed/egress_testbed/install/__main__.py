"""``python -m egress_testbed.install [--istio VERSION]``: install everything the
local mesh needs, for the default Istio release or the one named."""

import argparse
import sys
import time

from egress_conformance import installed, versions
from egress_testbed.install import cache, components, debian, layout, progress, ztunnel
from egress_testbed.install.errors import InstallError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m egress_testbed.install", description=__doc__)
    parser.add_argument("--istio", default=versions.ISTIO_DEFAULT,
                        help=f"Istio release ({', '.join(versions.ISTIO_RELEASES)}) or istio.io/istio pseudo-version")
    parser.add_argument("--ambient", action="store_true",
                        help="also build ztunnel (ambient mode's node proxy) from testbed/vendor: "
                             "about 45 min cold, cached after")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        release = versions.istio(args.istio)
    except ValueError as err:
        print(f"set-up failed: {err}", file=sys.stderr)
        return 2
    try:
        with cache.locked("set-up", "another set-up is installing into the same cache"):
            _install(release)
        if args.ambient:
            # its own lock: the build's tens of minutes must not hold every other checkout's set-up
            with cache.locked("ztunnel", "another set-up is building ztunnel"):
                ztunnel.build()
    except InstallError as err:
        print(f"set-up failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("set-up interrupted: the unfinished component will be rebuilt on the next run", file=sys.stderr)
        return 130
    progress.say(f"local mesh components (Istio {release.label}) ready in {time.monotonic() - started:.0f}s")
    return 0


def _install(release: versions.IstioRelease) -> None:
    debian.ensure_commands()
    paths = installed.Layout(
        kubernetes_bin=components.kubernetes(),
        istio_bin=components.istio(release),
        istio_source=components.istio_source(release),
        envoy=components.envoy(),
    )
    layout.save(paths, release)
    components.actionlint()  # lints ci/templates in the project's own tests


if __name__ == "__main__":
    sys.exit(main())
