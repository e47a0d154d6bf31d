"""The simulated external host's image: go-httpbin (the image Istio's samples/httpbin runs),
built statically from the Go module proxy at the tag the public image carries, so the node
runs the binary that kind and existing clusters pull. The image holds that one binary at the
public image's path, /bin/go-httpbin."""

import pathlib
import shutil

from egress_conformance import versions
from egress_testbed.images import layers
from egress_testbed.install import gobuild

MODULE = "github.com/mccutchen/go-httpbin/v2"
BINARY = "/bin/go-httpbin"


def layer() -> pathlib.Path:
    def place(root: pathlib.Path) -> None:
        built = gobuild.build(name="go-httpbin", version=versions.GO_HTTPBIN, requires={MODULE: versions.GO_HTTPBIN},
                              replaces={}, packages={"": [f"{MODULE}/cmd/go-httpbin"]}, env={"CGO_ENABLED": "0"})
        target = root / BINARY.lstrip("/")
        target.parent.mkdir(parents=True)
        shutil.copy2(built / "go-httpbin", target)

    return layers.cached("go-httpbin", versions.GO_HTTPBIN, place)
