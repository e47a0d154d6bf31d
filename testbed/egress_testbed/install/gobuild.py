"""Builds Go binaries from public modules through a small wrapper module.

k8s.io/kubernetes replaces its staging modules with local paths, so ``go install
pkg@version`` refuses it; a wrapper that requires it and points each staging
module at its published version builds fine. The same wrapper shape builds
etcd (from the Kubernetes module graph) and Istio.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess

from egress_conformance import versions
from egress_testbed.install import cache, progress
from egress_testbed.install.errors import InstallError


def go_binary() -> str:
    """Path of a usable Go toolchain, or an InstallError saying how to get one."""
    go = shutil.which("go")
    if go is None:
        raise InstallError(
            "no Go toolchain on PATH: install Go >= %d.%d (https://go.dev/doc/install or Debian's golang) "
            "and run set-up again" % versions.GO_MINIMUM
        )
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    match = re.match(r"go(\d+)\.(\d+)", out)
    if not match or (int(match[1]), int(match[2])) < versions.GO_MINIMUM:
        raise InstallError(
            f"Go toolchain at {go} is {out or 'unknown'}; Go >= %d.%d is needed: upgrade it and run set-up again"
            % versions.GO_MINIMUM
        )
    return go


def staging_modules(kubernetes_gomod: str) -> list[str]:
    """The modules that k8s.io/kubernetes's go.mod replaces with ./staging paths.

    Derived, not hard-coded: the list changes between Kubernetes releases.
    """
    pattern = re.compile(r"^\s*(?:replace\s+)?(\S+)\s+=>\s+\./staging/", re.MULTILINE)
    return sorted(set(pattern.findall(kubernetes_gomod)))


def download_gomod(module: str, version: str) -> str:
    """The go.mod text of module@version, fetched through the module proxy."""
    return pathlib.Path(_download(module, version)["GoMod"]).read_text()


def download_module(module: str, version: str) -> pathlib.Path:
    """The unpacked source of module@version (read-only, in Go's module cache), fetched
    through the module proxy: for files a module ships beside its code (e.g. CRDs)."""
    return pathlib.Path(_download(module, version)["Dir"])


def _download(module: str, version: str) -> dict:
    go = go_binary()
    result = subprocess.run(
        [go, "mod", "download", "-json", f"{module}@{version}"], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise InstallError(
            f"cannot download {module}@{version} (GOPROXY={_goproxy()}): "
            f"{_last_line(result.stdout + result.stderr)}; check that the Go module proxy is reachable"
        )
    return json.loads(result.stdout)


def cached(name: str, version: str) -> pathlib.Path | None:
    """The bin directory of a complete build, or None when it still has to be built."""
    entry = cache.entry(name, version)
    if cache.is_complete(entry):
        progress.say(f"{name} {version}: cached in {entry}")
        return entry / "bin"
    return None


def build(
    *,
    name: str,
    version: str,
    requires: dict[str, str],
    replaces: dict[str, str],
    packages: dict[str, list[str]],
    ldflags: str = "",
    renames: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    sources: dict[str, str] | None = None,
) -> pathlib.Path:
    """Build ``packages`` into the cache entry ``name-version``; return its bin directory.

    A complete entry is returned at once. ``requires`` and ``replaces`` map module
    path to version for the wrapper's go.mod. ``env`` adds variables to the go
    commands' environment (CGO_ENABLED=...); ``sources`` are extra files of the
    wrapper module (relative path -> text), e.g. a small main built as ``./name``.
    """
    done = cached(name, version)
    if done:
        return done
    entry = cache.entry(name, version)
    go = go_binary()
    cache.begin(entry)
    src = entry / "src"
    src.mkdir()
    (src / "go.mod").write_text(_wrapper_gomod(name, requires, replaces))
    for relative, text in (sources or {}).items():
        (src / relative).parent.mkdir(parents=True, exist_ok=True)
        (src / relative).write_text(text)
    # Packages of the wrapper itself ("./x") need no tools.go import to be resolved.
    imports = "\n".join(f'\t_ "{p}"' for group in packages.values() for p in group if not p.startswith("./"))
    (src / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n")
    env = dict(os.environ, **(env or {}))
    with progress.step(f"{name} {version}: resolving modules") as state:
        result = progress.run_counting([go, "mod", "tidy"], cwd=src, env=env, state=state, unit="modules")
    if result.returncode != 0:
        raise InstallError(
            f"go mod tidy for {name} failed (GOPROXY={_goproxy()}): {_last_line(result.stdout)}; "
            "check that the Go module proxy is reachable, then run set-up again"
        )
    for tags, group in packages.items():
        argv = [go, "build", "-v", "-trimpath", "-o", str(entry / "bin") + "/", "-tags", tags,
                "-ldflags", ("-s -w " + ldflags).strip(), *group]
        binaries = ", ".join((renames or {}).get(_binary_name(p), _binary_name(p)) for p in group)
        with progress.step(f"{name} {version}: compiling {binaries}") as state:
            result = progress.run_counting(argv, cwd=src, env=env, state=state, unit="packages compiled")
        if result.returncode != 0:
            log = entry / "build.log"
            log.write_text(result.stdout)
            raise InstallError(f"go build of {binaries} failed: {_last_line(result.stdout)} (full log: {log})")
    for built, wanted in (renames or {}).items():
        (entry / "bin" / built).rename(entry / "bin" / wanted)
    cache.finish(entry)
    return entry / "bin"


def _wrapper_gomod(name: str, requires: dict[str, str], replaces: dict[str, str]) -> str:
    lines = [f"module egress-conformance.local/build/{name}", "", "go %d.%d" % versions.GO_MINIMUM, ""]
    lines += [f"require {module} {version}" for module, version in requires.items()]
    lines += [f"replace {module} => {module} {version}" for module, version in replaces.items()]
    return "\n".join(lines) + "\n"


def _binary_name(package: str) -> str:
    parts = package.split("/")
    # go names a major-version module's binary after the element before /vN.
    return parts[-2] if re.fullmatch(r"v\d+", parts[-1]) else parts[-1]


def _goproxy() -> str:
    return subprocess.run(["go", "env", "GOPROXY"], capture_output=True, text=True).stdout.strip()


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"
