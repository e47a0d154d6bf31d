"""ztunnel, ambient mode's node proxy, built with cargo from the source vendored in testbed/vendor.

No registry reachable here serves ztunnel's source (it is not a crate; the Go module proxy does
not serve Rust), so the repository carries upstream's tree at one commit (testbed/vendor/README.md).
The build is upstream's own ``cargo build --release --bin ztunnel`` with its default features
(tls-aws-lc, jemalloc: a C/C++ compiler, make and protoc) and two deliberate changes, each said here:

- the optional git dependency ``boring-rustls-provider`` (only for the tls-boring feature) is
  dropped from Cargo.toml: cargo resolves git dependencies whatever the features, and no git host
  is reachable; cargo re-locks once, removing only that dependency's packages;
- LTO off and 16 codegen units: upstream's release profile (fat LTO, one unit) would take most of
  an hour on two cores; the code is the same, only less optimised across crates.

cargo's target directory lives beside the cache entries, not inside one: cargo keeps it consistent
itself, so an interrupted build resumes instead of restarting, and a new pin rebuilds only what changed.
"""

import hashlib
import os
import pathlib
import shutil
import tarfile

from egress_testbed.install import cache, debian, progress
from egress_testbed.install.errors import InstallError

COMMIT = "62d826530e5ce85764e309170205b293efcbc80b"
"""istio/ztunnel's commit the vendored tarball holds (its master on 2026-12-07)."""

VENDORED = pathlib.Path(__file__).resolve().parents[2] / "vendor" / f"ztunnel-{COMMIT[:8]}.tar.gz"

PROFILE = {"CARGO_PROFILE_RELEASE_LTO": "false", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "16"}
"""The release profile's changes (see the module's docstring): part of the cache key."""

DROPPED_LINES = (
    'boring-rustls-provider = { git = "https://github.com/janrueth/boring-rustls-provider", optional = true } #\n',
    ', "boring-rustls-provider/fips-only"',
)
"""Text removed from Cargo.toml: the git dependency and the tls-boring feature's use of it."""

COMMANDS = {"protoc": "protobuf-compiler", "cc": "build-essential", "make": "make"}
"""Commands the build runs -> their Debian package (build.rs compiles the protos with protoc)."""


def key() -> str:
    """The cache key: the vendored source's content, the manifest edit and the profile."""
    digest = hashlib.sha256(VENDORED.read_bytes())
    digest.update(repr((DROPPED_LINES, sorted(PROFILE.items()))).encode())
    return f"{COMMIT[:8]}-{digest.hexdigest()[:12]}"


def target_dir() -> pathlib.Path:
    """cargo's target directory for every ztunnel build (kept between builds, see the docstring)."""
    return cache.root() / "cargo-target-ztunnel"


def binary() -> pathlib.Path | None:
    """The built binary when the cache holds a complete build, else None (nothing is built)."""
    entry = cache.entry("ztunnel", key())
    return entry / "bin" / "ztunnel" if cache.is_complete(entry) else None


def build() -> pathlib.Path:
    """Build ztunnel into its cache entry (once per key); return the binary's path."""
    entry = cache.entry("ztunnel", key())
    done = binary()
    if done:
        progress.say(f"ztunnel {COMMIT[:8]}: cached in {entry}")
        return done
    cargo = shutil.which("cargo")
    if cargo is None:
        raise InstallError("no cargo on PATH: install Rust (rustup, https://rustup.rs), then run "
                           "ci/setup --ambient again")
    debian.ensure(COMMANDS)
    cache.begin(entry)
    src = _unpack(entry)
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir()), **PROFILE)
    with progress.step(f"ztunnel {COMMIT[:8]}: cargo build --release (about 45 min cold on two cores)") as state:
        result = progress.run_counting([cargo, "build", "--release", "--bin", "ztunnel"], cwd=src, env=env,
                                       state=state, unit="lines of cargo output")
    (entry / "build.log").write_text(result.stdout)
    built = target_dir() / "release" / "ztunnel"
    if result.returncode != 0 or not built.exists():
        raise InstallError(f"cargo build of ztunnel failed: {_last_line(result.stdout)} (full log: "
                           f"{entry / 'build.log'}); check that crates.io is reachable, then run "
                           "ci/setup --ambient again")
    (entry / "bin").mkdir()
    shutil.copy2(built, entry / "bin" / "ztunnel")
    shutil.rmtree(src)  # the target directory keeps what a rebuild needs; the entry keeps the binary and log
    cache.finish(entry)
    return entry / "bin" / "ztunnel"


def _unpack(entry: pathlib.Path) -> pathlib.Path:
    """Unpack the vendored tree into the entry and make the manifest edit (each dropped text must be there)."""
    with tarfile.open(VENDORED) as archive:
        archive.extractall(entry, filter="data")
    src = entry / f"ztunnel-{COMMIT[:8]}"
    manifest = src / "Cargo.toml"
    text = manifest.read_text()
    for dropped in DROPPED_LINES:
        if dropped not in text:
            raise InstallError(f"ztunnel's Cargo.toml no longer has {dropped!r}: update DROPPED_LINES in {__file__} "
                               "for the vendored commit")
        text = text.replace(dropped, "")
    manifest.write_text(text)
    return src


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"
