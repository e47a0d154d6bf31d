"""OCI image archives written from directories, with no registry and no image builder:
uncompressed tar layers (so a layer's digest is its diff ID), a config, a manifest and an
index whose annotations name the image, which is what `ctr images import` reads."""

import hashlib
import json
import pathlib
import shutil
import subprocess
import tarfile
import tempfile

LAYER = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def layer_from_directory(directory: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """A reproducible tar of ``directory`` (sorted names, fixed times, numeric owners kept)."""
    subprocess.run(["tar", "--sort=name", "--mtime=@0", "--numeric-owner", "--format=gnu", "-C", str(directory),
                    "-cf", str(out), "."], check=True, capture_output=True)
    return out


def write_archive(out: pathlib.Path, name: str, layers: list[pathlib.Path], config: dict) -> pathlib.Path:
    """Write the OCI image ``name`` (e.g. ``egress.local/curl:1``) made of ``layers`` (tar
    files, lowest first) and the image ``config`` (Entrypoint, Cmd, Env, User, WorkingDir)."""
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        root = pathlib.Path(scratch)
        blobs = root / "blobs" / "sha256"
        blobs.mkdir(parents=True)
        layer_descriptors = []
        for layer in layers:
            digest, size = _digest(layer)
            target = blobs / digest
            if not target.exists():
                shutil.copyfile(layer, target)
            layer_descriptors.append({"mediaType": LAYER, "digest": f"sha256:{digest}", "size": size})
        image_config = {
            "architecture": "amd64", "os": "linux", "config": config,
            "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in layer_descriptors]},
        }
        config_descriptor = _blob(blobs, json.dumps(image_config, sort_keys=True).encode(), CONFIG)
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST, "config": config_descriptor,
                    "layers": layer_descriptors}
        manifest_descriptor = _blob(blobs, json.dumps(manifest, sort_keys=True).encode(), MANIFEST)
        manifest_descriptor["annotations"] = {"io.containerd.image.name": name,
                                              "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]}
        (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [manifest_descriptor]}))
        (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        temp = out.with_suffix(".tmp")
        with tarfile.open(temp, "w") as archive:
            for path in sorted(root.rglob("*")):
                archive.add(path, arcname=str(path.relative_to(root)), recursive=False)
        temp.replace(out)
    return out


def _digest(path: pathlib.Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest(), path.stat().st_size


def _blob(blobs: pathlib.Path, data: bytes, media_type: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}
