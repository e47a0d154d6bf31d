"""One image layer built once: a directory filled by the caller, tarred into the cache entry
``image-layer-<role>-<key>`` and reused while that key holds."""

import pathlib
import tempfile
from collections.abc import Callable

from egress_testbed.images import oci
from egress_testbed.install import cache


def cached(role: str, key: str, fill: Callable[[pathlib.Path], None]) -> pathlib.Path:
    """The layer's tar; ``fill(root)`` writes the layer's files under ``root`` when it must be built."""
    entry = cache.entry(f"image-layer-{role}", key)
    out = entry / "layer.tar"
    if cache.is_complete(entry):
        return out
    cache.begin(entry)
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        fill(root)
        oci.layer_from_directory(root, out)
    cache.finish(entry)
    return out
