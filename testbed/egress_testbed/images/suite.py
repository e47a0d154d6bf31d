"""The suite's own image, assembled as deploy/Containerfile describes it but with no Docker and
no registry: Debian bookworm's python3 (the Containerfile's base, python:3.11-slim-bookworm,
is the same Python line on the same Debian), the project's wheel built from the files the
Containerfile copies, its dependencies as PyPI wheels for that Python, the console script the
wheel declares, the non-root user 10001 and its state folder. The Containerfile's ENTRYPOINT,
CMD, USER and ENV are this image's config (tests/unit/test_deploy_image.py holds them equal).

Three layers, each cached: the base (debootstrap), the dependencies (keyed by the wheel's
requirements), the suite (keyed by the content of its sources): an edit rebuilds the last one only.
"""

import email.parser
import hashlib
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile

from egress_testbed.images import debian, layers, oci
from egress_testbed.install import cache, progress
from egress_testbed.install.errors import InstallError

ROOT = pathlib.Path(__file__).resolve().parents[3]
SOURCES = ("pyproject.toml", "README.md", "egress_conformance")
"""What the Containerfile's first stage copies to build the wheel; nothing else goes in."""
PACKAGES = ("ca-certificates", "python3")
PYTHON = "3.11"
"""bookworm's python3, the Containerfile base's line: the dependencies' wheels are chosen for it."""
GLIBC_MINOR = 36
"""bookworm's glibc 2.36: the newest manylinux wheels the image can load."""
SITE_PACKAGES = f"usr/local/lib/python{PYTHON}/dist-packages"
"""Where Debian's python3 finds what pip installs for it (its sys.path, not /usr/lib's)."""
UID = 10001
COMMAND = "egress-conformance"
HOME = "/home/conformance"
CONFIG: dict[str, object] = {
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", f"HOME={HOME}",
            f"EGRESS_CONFORMANCE_STATE={HOME}/state"],
    "User": str(UID),
    "WorkingDir": HOME,
    "Entrypoint": [COMMAND],
    "Cmd": ["run", "--provider", "existing", "--profile", "core", "--profile", "extended", "--report-dir", "/reports"],
}
REPOSITORY = "egress.local/egress-conformance"


def source_key() -> str:
    """A digest of every file the wheel is built from (compiled files left out)."""
    sha = hashlib.sha256()
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            sha.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return sha.hexdigest()[:12]


def build() -> tuple[str, pathlib.Path]:
    """The image's pinned name and its OCI archive, built from this checkout (cached by content)."""
    if not (ROOT / "pyproject.toml").is_file():
        raise InstallError(f"the suite's image is built from a checkout of the repository; {ROOT} is not one")
    key = source_key()
    version = _project_version()
    name = f"{REPOSITORY}:{version}-{key}"
    entry = cache.entry("image-egress-conformance", key)
    archive = entry / "image.tar"
    if cache.is_complete(entry):
        return name, archive
    with tempfile.TemporaryDirectory(prefix="egress-suite-wheel-") as scratch:
        wheel = _wheel(pathlib.Path(scratch))
        base = debian.base_layer(PACKAGES)
        dependencies = _dependencies_layer(_requirements(wheel))
        suite = layers.cached("egress-conformance", key, lambda root: _lay_out_suite(root, wheel, base))
        cache.begin(entry)
        with progress.step(f"image {name}"):
            oci.write_archive(archive, name, [base, dependencies, suite], CONFIG)
        cache.finish(entry)
    _prune(keep=key)
    return name, archive


def _prune(keep: str) -> None:
    """Remove the images of earlier checkouts (each archive holds the whole ~350 MB image), all
    but this one and the newest other (another checkout may be between its build and its import);
    the base and dependencies layers stay, shared by all."""
    others = sorted((e for e in cache.root().glob("image-egress-conformance-*") if not e.name.endswith(f"-{keep}")),
                    key=lambda e: e.stat().st_mtime, reverse=True)
    for stale in others[1:]:
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(cache.entry("image-layer-egress-conformance", stale.name.rpartition("-")[2]),
                      ignore_errors=True)


def _project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def _wheel(out: pathlib.Path) -> pathlib.Path:
    """The wheel, built as the Containerfile's first stage builds it: from a copy of SOURCES only."""
    context = out / "context"
    context.mkdir()
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, context / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(origin, context / name)
    with progress.step("the suite's wheel (pip wheel --no-deps)"):
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--wheel-dir", str(out),
                                 str(context)], capture_output=True, text=True)
    if result.returncode != 0:
        raise InstallError(f"building the suite's wheel failed: {result.stderr.strip()[-300:]}")
    found = sorted(out.glob("egress_conformance-*.whl"))
    if len(found) != 1:
        raise InstallError(f"building the suite's wheel left {len(found)} wheels in {out}, not one")
    return found[0]


def _requirements(wheel: pathlib.Path) -> list[str]:
    """The wheel's own Requires-Dist, without the optional extras (local mesh, dev)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.parser.Parser().parsestr(archive.read(metadata).decode())
    return sorted(r for r in message.get_all("Requires-Dist") or [] if "extra ==" not in r)


def _dependencies_layer(requirements: list[str]) -> pathlib.Path:
    key = hashlib.sha256("\n".join([PYTHON, *requirements]).encode()).hexdigest()[:12]

    def install(root: pathlib.Path) -> None:
        with progress.step(f"the suite's dependencies for Python {PYTHON} (pip, wheels only)"):
            _pip_install(root, requirements)

    return layers.cached("egress-conformance-deps", key, install)


def _pip_install(root: pathlib.Path, what: list[str], *extra: str) -> None:
    # Wheels chosen for the image's Python and glibc, not this machine's: bookworm has glibc 2.36, and pip
    # takes a manylinux tag literally (no older one implied), so every one it may use is named.
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC_MINOR, 16, -1)] + ["manylinux2014_x86_64"]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check",
         "--target", str(root / SITE_PACKAGES), "--only-binary=:all:", "--implementation", "cp",
         "--python-version", PYTHON, *(f"--platform={p}" for p in platforms), *extra, *what],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise InstallError(f"pip could not install {' '.join(what)} for the image: {result.stderr.strip()[-400:]}; "
                           "check that PyPI is reachable")
    if sys.version_info[:2] == tuple(int(n) for n in PYTHON.split(".")):
        # Compiled here because uid 10001 cannot write __pycache__ there; by hash, as the layer's times are 0.
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                        str(root / SITE_PACKAGES)], check=True, capture_output=True)


def _lay_out_suite(root: pathlib.Path, wheel: pathlib.Path, base: pathlib.Path) -> None:
    """The wheel installed, its console script, and the user the Containerfile adds with useradd."""
    _pip_install(root, [str(wheel)], "--no-deps")
    shutil.rmtree(root / SITE_PACKAGES / "bin", ignore_errors=True)  # scripts with this machine's python's path
    script = root / "usr/local/bin" / COMMAND
    script.parent.mkdir(parents=True)
    module, function = console_script(wheel).split(":")
    script.write_text(f"#!/usr/bin/python3\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n")
    script.chmod(0o755)
    (root / "etc").mkdir()
    with tarfile.open(base) as tar:
        for name, line in (("passwd", f"conformance:x:{UID}:{UID}::{HOME}:/bin/sh\n"),
                           ("group", f"conformance:x:{UID}:\n")):
            member = tar.extractfile(f"./etc/{name}")
            assert member is not None, f"the base layer lacks /etc/{name}"
            (root / "etc" / name).write_bytes(member.read() + line.encode())
            (root / "etc" / name).chmod(0o644)
    home = root / HOME.lstrip("/")
    (home / "state").mkdir(parents=True)
    for path in (home, home / "state"):
        shutil.chown(path, UID, UID)
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)


def console_script(wheel: pathlib.Path) -> str:
    """``module:function`` of the wheel's ``egress-conformance`` console script."""
    with zipfile.ZipFile(wheel) as archive:
        points = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        for line in archive.read(points).decode().splitlines():
            name, _, target = (part.strip() for part in line.partition("="))
            if name == COMMAND:
                return target
    raise InstallError(f"the wheel {wheel.name} declares no console script {COMMAND}")
