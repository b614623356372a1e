"""Can Slicer's first use install the module's Python packages everywhere, from wheels, leaving Slicer's own as they are?

For Slicer 5.10.0 and 5.12.3 (both Python 3.12) on Windows, macOS arm64, macOS x86_64 and Linux, pip
resolves what first use installs: torch and torchvision as the PyTorch extension installs them (with
the module's torch version requirement), and ``Resources/requirements.txt``. It resolves them as pip
would inside that Slicer: CPython 3.12 wheels only (a radiologist's machine has no compiler), the
platform tags that Slicer's build accepts on the oldest OS it supports, that platform's environment
markers, and every package Slicer bundles held at its version (``-c``, from the constraints files
read from Slicer's SuperBuild). It is a dry run: pip reads the packages' metadata (PEP 658 files on
PyPI, or HTTP range requests into a wheel where an index has none) and downloads no package. Each
plan is checked again: it must not install a bundled package at another version, nor a package
Slicer builds itself.

    python scripts/check_slicer_requirements.py [--constraints-dir ../shared/slicer]

Prints a table (Slicer version x platform: resolved, or pip's decisive lines) and exits 1 unless every
combination resolves, except where ``installation.unsupported_platform`` says first use cannot work:
there, pip must fail for want of torch (Intel Macs: PyTorch publishes no torch for them past 2.2), and
a plan that resolves fails the check until that function is revisited. Writes nothing into the
repository (pip works in a temporary folder). Needs PyPI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import mac_platforms
from packaging.utils import canonicalize_name

from ResponsePredictorLib.slicer_module.installation import TORCH, requirements_path, unsupported_platform

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS_DIR = Path(os.environ.get("RP_SLICER_DIR", REPO.parent / "shared" / "slicer"))
PYPI = "https://pypi.org/simple"
SLICER_VERSIONS = ("5.10.0", "5.12.3")
PLATFORMS = ("Windows", "macOS arm64", "macOS x86_64", "Linux")
# What the PyTorch extension installs before the requirements (PyTorchUtils: torch<requirement> torchvision).
PYTORCH_EXTENSION = (str(TORCH), "torchvision")
# Slicer's macOS builds run from this macOS on (required_deployment_target in
# CMake/SlicerInitializeOSXVariables.cmake at each tag): pip there accepts wheels for this macOS and older.
MINIMUM_MACOS = {"5.10.0": (13, 0), "5.12.3": (14, 0)}
# Slicer's Linux packages are built on glibc 2.28: any manylinux wheel up to 2.28 runs where they run.
LINUX_TAGS = ([f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)]
              + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"])
# Packages Slicer builds itself. 5.10's constraints file does not name SimpleITK, built there from
# slicer-v2.5.2 (SuperBuild/External_SimpleITK.cmake at v5.10.0); 5.12.3's lists it.
BUILT_BY_SLICER = {"5.10.0": {"simpleitk": "2.5.2"}, "5.12.3": {}}
# VTK, ITK and CTK are Slicer's own builds, without pip metadata: a wheel of them would shadow Slicer's.
NEVER_INSTALLED = ("vtk", "itk", "ctk")
# pip evaluates the environment markers of dependencies (python_version >= "3.12", platform_system ==
# "Linux", sys_platform == "win32") for the Python that runs it, whatever --platform and
# --python-version say; so pip runs here with the markers of Slicer's Python (3.12.10 in both) on the
# target platform, set where pip's vendored packaging computes them.
SLICER_PYTHON_MARKERS = {"python_version": "3.12", "python_full_version": "3.12.10", "implementation_version": "3.12.10",
                         "implementation_name": "cpython", "platform_python_implementation": "CPython"}
PLATFORM_MARKERS = {
    "Windows": {"os_name": "nt", "sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64"},
    "macOS arm64": {"os_name": "posix", "sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
    "macOS x86_64": {"os_name": "posix", "sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64"},
    "Linux": {"os_name": "posix", "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
}
PIP_WITH_MARKERS = (
    "import json, sys; from pip._vendor.packaging import markers; "
    "host, target = markers.default_environment, json.loads(sys.argv.pop(1)); "
    "markers.default_environment = lambda: host() | target; "
    "from pip._internal.cli.main import main; sys.exit(main())"
)


@dataclass
class Outcome:
    slicer: str
    platform: str
    seconds: float
    fetched_bytes: int
    plan: dict[str, str]  # package -> the version pip would install (empty when it failed)
    problems: list[str]  # pip's decisive error lines, or what the plan would do to Slicer's packages

    @property
    def resolved(self) -> bool:
        return not self.problems

    @property
    def unsupported(self) -> str | None:
        markers = PLATFORM_MARKERS[self.platform]
        return unsupported_platform(markers["platform_system"], markers["platform_machine"])

    @property
    def as_expected(self) -> bool:
        """Resolved where the module supports the platform; else failed for want of torch, and only that."""
        if self.unsupported is None:
            return self.resolved
        return any(line.startswith(f"No matching distribution found for {TORCH}") for line in self.problems)

    def status(self) -> str:
        if self.resolved:
            return f"resolved: {len(self.plan)} packages" + (", though unsupported_platform() refuses it" if self.unsupported else "")
        return "unsupported: no torch" if self.as_expected else "FAILED"


def platform_tags(platform: str, slicer: str) -> list[str]:
    """The wheel platform tags pip accepts in that Slicer on that platform (on the oldest OS it supports)."""
    if platform == "Windows":
        return ["win_amd64"]
    if platform == "Linux":
        return LINUX_TAGS
    return list(mac_platforms(MINIMUM_MACOS[slicer], platform.split()[1]))


def constraints_file(slicer: str, constraints_dir: Path) -> Path:
    return constraints_dir / f"slicer-{slicer}-python-constraints.txt"


def bundled_versions(slicer: str, constraints_dir: Path) -> dict[str, str]:
    """Slicer's own packages and their versions: the constraints file's pins and what Slicer builds."""
    pins = {}
    for line in constraints_file(slicer, constraints_dir).read_text().splitlines():
        name, _, pinned = line.split("#", 1)[0].partition("==")
        if pinned.strip():
            pins[canonicalize_name(name.strip())] = pinned.strip()
    return pins | BUILT_BY_SLICER[slicer]


def resolve(slicer: str, platform: str, requirements: Path, constraints_dir: Path, work: Path) -> Outcome:
    """pip's dry-run plan for first use in that Slicer on that platform, checked against Slicer's packages."""
    folder = work / f"{slicer}-{platform.replace(' ', '-')}"
    folder.mkdir()
    bundled = bundled_versions(slicer, constraints_dir)
    constraints = folder / "constraints.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in bundled.items()))
    command = [
        sys.executable, "-c", PIP_WITH_MARKERS, json.dumps(SLICER_PYTHON_MARKERS | PLATFORM_MARKERS[platform]),
        # -vv: pip logs each HTTP response with its size, which gives the bytes fetched.
        "install", "--dry-run", "--isolated", "-vv", "--index-url", PYPI,
        # fast-deps: where an index has no PEP 658 metadata files, read METADATA out of the remote
        # wheel with range requests instead of downloading it (PyPI has them; pip prefers those).
        "--use-feature=fast-deps", "--only-binary=:all:",
        "--python-version", "3.12", "--implementation", "cp", "--abi", "cp312",
        *(option for tag in platform_tags(platform, slicer) for option in ("--platform", tag)),
        "--target", str(folder / "target"), "--report", str(folder / "report.json"),
        *PYTORCH_EXTENSION, "-r", str(requirements), "-c", str(constraints),
    ]
    # No pip configuration file either: the check is about PyPI as Slicer's users meet it.
    environment = os.environ | {"PIP_CONFIG_FILE": os.devnull}
    clock = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    seconds = time.perf_counter() - clock
    fetched = sum(int(size) for size in re.findall(r'HTTP/1\.1" 20[06] (\d+)', done.stdout))
    if done.returncode != 0:
        return Outcome(slicer, platform, seconds, fetched, {}, decisive_lines(done.stdout))
    report = json.loads((folder / "report.json").read_text())
    plan = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]}
    return Outcome(slicer, platform, seconds, fetched, plan, changes_to_slicer(plan, bundled))


def changes_to_slicer(plan: dict[str, str], bundled: dict[str, str]) -> list[str]:
    """What the plan would do to Slicer's own packages (nothing, when it is right)."""
    changed = [f"would install {name} {version}, Slicer has {bundled[name]}"
               for name, version in plan.items() if name in bundled and version != bundled[name]]
    return changed + [f"would install {name} {plan[name]}, which Slicer builds itself"
                      for name in NEVER_INSTALLED if name in plan]


def decisive_lines(output: str) -> list[str]:
    """pip's error lines and the requirements in conflict, without its advice and traceback."""
    lines, in_conflict = [], False
    for line in output.splitlines():
        if line.startswith("ERROR:") and "ResolutionImpossible" not in line:
            lines.append(line.removeprefix("ERROR: "))
        elif line.startswith("The conflict is caused by:"):
            in_conflict = True
        elif in_conflict and line.startswith("    "):
            lines.append(line.strip())
        else:
            in_conflict = False
    return lines or output.strip().splitlines()[-3:]


def print_table(outcomes: list[Outcome]) -> None:
    print(f"First use (PyTorch extension: {' '.join(PYTORCH_EXTENSION)}; then Resources/requirements.txt), "
          f"CPython 3.12 wheels from {PYPI}, Slicer's packages held:")
    width = max(len(platform) for platform in PLATFORMS)
    for outcome in outcomes:
        print(f"  Slicer {outcome.slicer}  {outcome.platform:{width}s}  {outcome.status():24s} "
              f"({outcome.seconds:4.1f} s, {outcome.fetched_bytes / 1e6:5.1f} MB fetched)")
        for problem in outcome.problems:
            print(f"      {problem}")
    print(f"{sum(outcome.resolved for outcome in outcomes)} of {len(outcomes)} resolve; "
          f"{sum(outcome.as_expected for outcome in outcomes)} of {len(outcomes)} as expected.")
    for reason in sorted({outcome.unsupported for outcome in outcomes if outcome.unsupported}):
        print(f"Unsupported: {reason}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requirements", type=Path, default=requirements_path(),
                        help="requirements file (default: the module's Resources/requirements.txt)")
    parser.add_argument("--constraints-dir", type=Path, default=CONSTRAINTS_DIR,
                        help="folder of slicer-<version>-python-constraints.txt (default: $RP_SLICER_DIR or ../shared/slicer)")
    args = parser.parse_args()
    for slicer in SLICER_VERSIONS:
        if not constraints_file(slicer, args.constraints_dir).is_file():
            parser.error(f"{constraints_file(slicer, args.constraints_dir)} not found: give --constraints-dir or set RP_SLICER_DIR")
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="slicer-requirements-") as work, ThreadPoolExecutor(len(PLATFORMS) * 2) as pool:
        jobs = [pool.submit(resolve, slicer, platform, args.requirements.resolve(), args.constraints_dir, Path(work))
                for slicer in SLICER_VERSIONS for platform in PLATFORMS]
        outcomes = [job.result() for job in jobs]
    print_table(outcomes)
    print(f"in {time.perf_counter() - clock:.1f} s")
    return 0 if all(outcome.as_expected for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
