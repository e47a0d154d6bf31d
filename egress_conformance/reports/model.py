"""The conformance report as typed data: verdicts and results as string enums, and each
part of the document (step, test, profile, mesh, report) as a frozen dataclass whose
``to_dict`` gives the saved report's fields, names and order, and whose ``from_dict``
reads them back, also from reports written before later fields existed.
"""

import dataclasses
import enum

API_VERSION = "egress-conformance.dev/v1alpha1"
KIND = "ConformanceReport"


class Verdict(enum.StrEnum):
    """What one step of a test found."""

    PASSED = "passed"
    FAILED = "failed"
    OBSERVED = "observed"
    """A fact recorded (the starting policy), not an expectation checked."""


class Result(enum.StrEnum):
    """A test's result, in the order a profile's summary counts them."""

    PASSED = "passed"
    FAILED = "failed"
    INFRASTRUCTURE_ERROR = "infrastructure-error"
    """The mesh under test broke (a component down, the API unreachable): a fault of the
    infrastructure, not an egress verdict."""
    SKIPPED = "skipped"
    NOT_SUPPORTED = "not-supported"
    NOT_RUN = "not-run"


class RunResult(enum.StrEnum):
    """A profile's or the whole run's result."""

    SUCCESS = "success"
    PARTIAL = "partial"
    FAILURE = "failure"
    NOT_RUN = "not run"
    INFRASTRUCTURE_ERROR = "infrastructure-error"
    """No egress expectation failed, but the mesh broke under a test."""


class MeshWideChanges(enum.StrEnum):
    """Whether the run may change the mesh-wide policy (which decides the scopes it claims)."""

    ALLOWED = "allowed"
    NOT_ALLOWED = "not allowed"


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a test with its verdict and evidence. A step with a ``check`` waited for
    requests to agree and carries their timing and observation; one without is a fact read
    from the API."""

    name: str
    verdict: Verdict
    detail: str = ""
    evidence: str | None = None
    check: str | None = None
    attempts: int | None = None
    seconds: float | None = None
    started: str | None = None
    """ISO time a waited step began (reports written before the access-log evidence have none,
    nor ``ended``), or the time an API step read the API back (none in reports before that)."""
    ended: str | None = None
    observation: dict | None = None

    @property
    def waited(self) -> bool:
        return self.check is not None

    def to_dict(self) -> dict:
        if not self.waited:
            fields: dict[str, object] = {"step": self.name, "verdict": self.verdict.value, "detail": self.detail}
            if self.started is not None:
                fields["started"] = self.started  # when the API was read (reports before it have none)
            return fields | {"evidence": self.evidence}
        fields = {"step": self.name, "check": self.check, "verdict": self.verdict.value, "detail": self.detail,
                  "attempts": self.attempts, "seconds": self.seconds}
        if self.started is not None:
            fields |= {"started": self.started, "ended": self.ended}
        return fields | {"evidence": self.evidence, "observation": self.observation}

    @classmethod
    def from_dict(cls, fields: dict) -> "Step":
        return cls(fields["step"], Verdict(fields["verdict"]), fields.get("detail", ""),
                   evidence=fields.get("evidence"), check=fields.get("check"), attempts=fields.get("attempts"),
                   seconds=fields.get("seconds"), started=fields.get("started"), ended=fields.get("ended"),
                   observation=fields.get("observation"))


@dataclasses.dataclass(frozen=True)
class TestResult:
    """One scenario's result, why, and the steps that led to it. ``scope`` and ``manifests``
    are None in reports written before scopes existed; ``evidence`` is the folder of a
    failed test's evidence."""

    __test__ = False  # a report record, not a pytest test class

    name: str
    description: str
    profile: str
    scope: str | None
    features: tuple[str, ...]
    manifests: tuple[str, ...] | None
    result: Result
    reason: str = ""
    steps: tuple[Step, ...] = ()
    evidence: str | None = None

    def to_dict(self) -> dict:
        fields: dict[str, object] = {"name": self.name, "description": self.description, "profile": self.profile}
        if self.scope is not None:
            fields["scope"] = self.scope
        fields["features"] = [str(f) for f in self.features]  # plain names (a Feature is a str with a level)
        if self.manifests is not None:
            fields["manifests"] = list(self.manifests)
        fields |= {"result": self.result.value, "reason": self.reason, "steps": [s.to_dict() for s in self.steps]}
        if self.evidence is not None:
            fields["evidence"] = self.evidence
        return fields

    @classmethod
    def from_dict(cls, fields: dict) -> "TestResult":
        manifests = fields.get("manifests")
        return cls(fields["name"], fields.get("description", ""), fields["profile"], scope=fields.get("scope"),
                   features=tuple(fields.get("features", ())),
                   manifests=None if manifests is None else tuple(manifests), result=Result(fields["result"]),
                   reason=fields.get("reason", ""), steps=tuple(Step.from_dict(s) for s in fields.get("steps", ())),
                   evidence=fields.get("evidence"))


@dataclasses.dataclass(frozen=True)
class Profile:
    """A profile's result over the tests of the claimed scopes, with a count per test result."""

    name: str
    result: RunResult
    summary: dict[Result, int]
    """Kept as written: reports older than infrastructure errors do not count them."""
    tests: tuple[TestResult, ...]

    def to_dict(self) -> dict:
        return {"name": self.name, "result": self.result.value,
                "summary": {result.value: count for result, count in self.summary.items()},
                "tests": [t.to_dict() for t in self.tests]}

    @classmethod
    def from_dict(cls, fields: dict) -> "Profile":
        return cls(fields["name"], RunResult(fields["result"]),
                   {Result(result): count for result, count in fields["summary"].items()},
                   tuple(TestResult.from_dict(t) for t in fields["tests"]))


_MESH_KEYS = {"provider": "provider", "cluster": "cluster", "kubernetes_version": "kubernetesVersion",
              "istio_version": "istioVersion", "revision": "revision", "mesh_config": "meshConfig",
              "starting_policy": "startingPolicy", "mesh_wide_changes": "meshWideChanges"}
"""The saved name of each field of a reached mesh, in the saved order."""


@dataclasses.dataclass(frozen=True)
class MeshUnderTest:
    """What the run tested, or, when it never reached the mesh, why (``not_run``). Fields a
    report of an older version did not record are None."""

    provider: str | None = None
    kubernetes_version: str | None = None
    istio_version: str | None = None
    revision: str | None = None
    mesh_config: str | None = None
    """The mesh ConfigMap as namespace/name."""
    starting_policy: str | None = None
    mesh_wide_changes: MeshWideChanges | None = None
    not_run: str | None = None
    cluster: str | None = None
    """Which cluster: the kind cluster, the kubeconfig's context, or the API server's address."""

    @classmethod
    def never_reached(cls, reason: str) -> "MeshUnderTest":
        return cls(not_run=reason)

    @property
    def reached(self) -> bool:
        return self.not_run is None

    def to_dict(self) -> dict:
        if not self.reached:
            return {"notRun": self.not_run}
        return {key: _plain(getattr(self, field)) for field, key in _MESH_KEYS.items()
                if getattr(self, field) is not None}

    @classmethod
    def from_dict(cls, fields: dict) -> "MeshUnderTest":
        if "notRun" in fields:
            return cls.never_reached(fields["notRun"])
        known = {field: fields[key] for field, key in _MESH_KEYS.items() if key in fields}
        if "mesh_wide_changes" in known:
            known["mesh_wide_changes"] = MeshWideChanges(known["mesh_wide_changes"])
        return cls(**known)


@dataclasses.dataclass(frozen=True)
class Report:
    """The whole report: which mesh, which scopes the claim covers (None in reports written
    before claims were scoped), the run's result, where failed tests' evidence is (None in a
    report written by hand, as tests do), the profiles, and the findings: what the run saw
    about the mesh that is not a verdict (someone's ServiceEntry that already opens a test's
    host, a check the run's rights did not allow)."""

    date: str
    mesh: MeshUnderTest
    claimed_scopes: tuple[str, ...] | None
    result: RunResult
    evidence_directory: str | None
    profiles: tuple[Profile, ...]
    findings: tuple[str, ...] = ()

    def tests(self) -> list[TestResult]:
        """Every test of every profile."""
        return [test for profile in self.profiles for test in profile.tests]

    def to_dict(self) -> dict:
        fields = {"apiVersion": API_VERSION, "kind": KIND, "date": self.date, "mesh": self.mesh.to_dict()}
        if self.claimed_scopes is not None:
            fields["claim"] = {"scopes": list(self.claimed_scopes)}
        fields["result"] = self.result.value
        if self.evidence_directory is not None:
            fields["evidenceDirectory"] = self.evidence_directory
        if self.findings:
            fields["findings"] = list(self.findings)
        return fields | {"profiles": [p.to_dict() for p in self.profiles]}

    @classmethod
    def from_dict(cls, fields: dict) -> "Report":
        """The report a loaded document holds; raises ValueError, with what is wrong, on a
        document that is not one (another kind, truncated, an unknown result)."""
        kind = fields.get("kind") if isinstance(fields, dict) else None
        if kind != KIND:
            raise ValueError(f"not a {KIND} (kind: {kind})")
        if fields.get("result") not in tuple(RunResult) or not isinstance(fields.get("profiles"), list):
            raise ValueError(f"a {KIND} without a valid result and profiles (truncated or edited?)")
        try:
            claim = fields.get("claim")
            return cls(fields["date"], MeshUnderTest.from_dict(fields["mesh"]),
                       None if claim is None else tuple(claim["scopes"]), RunResult(fields["result"]),
                       fields.get("evidenceDirectory"), tuple(Profile.from_dict(p) for p in fields["profiles"]),
                       tuple(fields.get("findings") or ()))
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise ValueError(f"a {KIND} with a missing or invalid field ({type(err).__name__}: {err})") from None


def _plain(value):
    """A string enum as its plain string: the YAML dumper writes only built-in types."""
    return value.value if isinstance(value, enum.Enum) else value
