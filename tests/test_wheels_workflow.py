"""The wheel workflow (.github/workflows/wheels.yml): five platforms' abi3 wheels and an sdist,
each wheel installed and tested without a Rust toolchain, and publishing only from a tag."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (it is in the test extra): the wheel workflow goes unchecked")

REPO = Path(__file__).resolve().parents[1]
WORKFLOW: dict[Any, Any] = yaml.safe_load((REPO / ".github/workflows/wheels.yml").read_text())
JOBS: dict[str, Any] = WORKFLOW["jobs"]
TARGETS = {("linux", "x86_64"), ("linux", "aarch64"), ("macos", "x86_64"), ("macos", "aarch64"),
           ("windows", "x86_64")}
SMOKE = ['python -c "import seqrnn; print(seqrnn.__version__)"', "python -m seqrnn demo"]


def uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(action + "@")


def maturin(job: str, command: str = "build") -> list[dict[str, Any]]:
    """The job's maturin-action steps that run ``command``."""
    return [s["with"] for s in JOBS[job]["steps"] if uses(s, "PyO3/maturin-action")
            and s["with"].get("command", "build") == command]


def test_triggers_and_permissions() -> None:
    on = WORKFLOW.get("on", WORKFLOW.get(True))  # PyYAML reads the bare key `on` as True
    assert on is not None and set(JOBS) >= {"build", "sdist", "test", "publish"}, \
        "expected `on` and the jobs build, sdist, test and publish"
    assert on["push"] == {"tags": ["v*"]}, "expected a push of a tag v* to trigger the workflow"
    assert "pull_request" in on and "workflow_dispatch" in on, \
        "expected pull requests and manual dispatch to trigger it too"
    assert WORKFLOW["permissions"] == {"contents": "read"}, "expected read-only permissions"


def test_actions_are_pinned_by_major_version() -> None:
    for job in JOBS.values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@(release/)?v\d+", step["uses"]), \
                    f"expected owner/action@vN, got {step['uses']}"


def test_build_matrix_is_the_five_targets() -> None:
    platforms = JOBS["build"]["strategy"]["matrix"]["platform"]
    os_of = {"ubuntu": "linux", "macos": "macos", "windows": "windows"}
    arch_of = {"x64": "x86_64", "x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}
    found = [(os_of[p["runner"].split("-")[0]], arch_of[p["target"]]) for p in platforms]
    assert sorted(found) == sorted(TARGETS), f"expected one wheel for each of {TARGETS}"
    assert set(JOBS["build"]["strategy"]["matrix"]) == {"platform"}, \
        "expected no per-interpreter matrix: the abi3 wheel serves every CPython >= 3.10"


def test_builds_are_release_abi3_wheels() -> None:
    builds = maturin("build")
    assert builds, "expected the build job to run PyO3/maturin-action"
    for build in builds:
        args = build["args"].split()
        assert "--release" in args and "--out" in args, f"expected --release --out dist: {args}"
        assert not {"-i", "--interpreter", "--find-interpreter"} & set(args), \
            f"expected one interpreter per platform (abi3), got {args}"
        assert str(build.get("manylinux")) in {"2_28", "2014"}, \
            "expected manylinux 2_28 or 2014 on Linux (Rust >= 1.89 needs glibc >= 2.17)"


def test_binding_crate_is_abi3() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    crate = tomllib.loads((REPO / "rust/python/Cargo.toml").read_text())
    assert "abi3-py310" in crate["dependencies"]["pyo3"]["features"], \
        "expected the binding crate's pyo3 to have the feature abi3-py310"


def test_sdist_is_built_and_uploaded() -> None:
    assert maturin("sdist", "sdist"), "expected an sdist job running `maturin sdist`"
    assert any(uses(s, "actions/upload-artifact") for s in JOBS["sdist"]["steps"]), \
        "expected the sdist to be uploaded"


def test_every_wheel_is_installed_and_smoke_tested() -> None:
    test = JOBS["test"]
    assert test["needs"] == "build", "expected the test job to need the build job"
    built = {p["name"] for p in JOBS["build"]["strategy"]["matrix"]["platform"]}
    platforms = {p["name"]: p for p in test["strategy"]["matrix"]["platform"]}
    assert set(platforms) == built, "expected each built platform's wheel to be tested"
    steps = test["steps"]
    assert [s["with"]["name"] for s in steps if uses(s, "actions/download-artifact")] == \
        ["dist-${{ matrix.platform.name }}"], "expected each test to fetch its platform's wheel"
    installs = [s for s in steps if "dist/*.whl" in s.get("run", "")]
    assert installs and "--only-binary=:all:" in installs[0]["run"], \
        "expected the wheel to be installed with binaries only (no Rust toolchain)"
    smoke = [s for s in steps if all(c in s.get("run", "") for c in SMOKE) and "if" not in s]
    assert smoke, f"expected an unconditional smoke test running {SMOKE}"
    assert platforms["linux-x86_64"]["suite"], "expected the pytest suite on Linux x86_64"
    assert any("pytest -q tests" in s.get("run", "") and s.get("if") == "matrix.platform.suite"
               for s in steps), "expected a pytest step on the platforms marked suite"


def test_linux_x86_64_runs_the_portable_kernels_too() -> None:
    steps = [s for s in JOBS["test"]["steps"] if s.get("env", {}).get("SEQRNN_MAX_ISA")]
    assert [s["env"]["SEQRNN_MAX_ISA"] for s in steps] == ["generic"], \
        "expected one test step with SEQRNN_MAX_ISA=generic"
    assert all(c in steps[0]["run"] for c in [*SMOKE, "pytest -q tests"]), \
        "expected the generic step to run the smoke test and the pytest suite"
    platforms = {p["name"]: p for p in JOBS["test"]["strategy"]["matrix"]["platform"]}
    assert steps[0]["if"] == "matrix.platform.generic" and platforms["linux-x86_64"]["generic"], \
        "expected the generic step to run on Linux x86_64"


def test_publish_needs_everything_and_runs_only_on_tags() -> None:
    publish = JOBS["publish"]
    assert set(publish["needs"]) >= {"build", "test", "sdist"}, \
        "expected publishing to need the build, test and sdist jobs"
    assert "startsWith(github.ref, 'refs/tags/v')" in publish["if"], \
        f"expected publishing only on tags v*, got if: {publish['if']}"
    assert publish["permissions"] == {"id-token": "write"}, \
        "expected trusted publishing's id-token: write and no other permission"
    assert any(uses(s, "pypa/gh-action-pypi-publish") for s in publish["steps"]), \
        "expected pypa/gh-action-pypi-publish"
