"""First use inside Slicer: ask, then install what ``installation`` finds missing, through Slicer's installers.

``installation`` decides what is missing and the pip steps (no Slicer there); this file runs them
with Slicer's own tools: the consent dialog, the PyTorch extension's installer for torch (it picks
the build for the machine's GPU), ``slicer.packaging.pip_ensure`` (Slicer 5.12 and later) or
``slicer.util.pip_install`` (5.10, and any step with pip options such as an offline wheel folder).
"""

from __future__ import annotations

import slicer

from . import installation


def missing_dependencies() -> list[str]:
    """Requirements not installed yet (torch included), as text."""
    missing = [str(requirement) for requirement in installation.missing_requirements()]
    return missing + ([str(installation.TORCH)] if installation.torch_missing() else [])


def require_dependencies() -> None:
    """Refuse to start a run while packages are missing, saying what to do: a run started from the
    Python console in a fresh Slicer would otherwise fail on an import (psutil) halfway."""
    missing = missing_dependencies()
    if missing:
        raise RuntimeError(f"ResponsePredictor needs Python packages that are not installed yet ({', '.join(missing)}): "
                           "run slicer.util.getModuleLogic('ResponsePredictor').installDependencies() first.")


def install_dependencies(confirm: bool = True, wheel_folder: str | None = None) -> None:
    """Install what is missing, after the user agrees when ``confirm``; offline from ``wheel_folder``."""
    missing, torch = installation.missing_requirements(), installation.torch_missing()
    if not missing and not torch:
        return
    problem = installation.unsupported_platform()
    if problem:
        raise RuntimeError(problem)
    if confirm and not slicer.util.confirmOkCancelDisplay(installation.consent_text(missing, torch, wheel_folder),
                                                          "ResponsePredictor - Install Python packages"):
        raise RuntimeError("The Python packages were not installed (declined); the analysis needs them.")
    if torch and not wheel_folder:
        install_torch()
    with installation.pip_steps(missing, wheel_folder, with_torch=torch and bool(wheel_folder)) as steps:
        ran = [pip_install(step) for step in steps]
    still = missing_dependencies()
    if still and not all(ran):
        raise RuntimeError(f"Slicer runs in testing mode, which installs no packages: {', '.join(still)} is missing. "
                           "Install them in Slicer started without testing mode.")
    if still:
        raise RuntimeError(f"pip ran, but {', '.join(still)} is still missing. Its messages are in the Python console "
                           "(View, Python Console): fix what they say (no internet, a proxy, disk space), then press "
                           "Install again; without the internet, choose a folder of wheels first.")


def install_torch() -> None:
    """torch through the PyTorch extension (EXTENSION_DEPENDS), which asks the user which build."""
    try:
        import PyTorchUtils
    except ImportError:
        raise RuntimeError("torch is missing and the PyTorch extension is not installed: install 'PyTorch' from the "
                           "Extension Manager, restart Slicer and try again.") from None
    if PyTorchUtils.PyTorchUtilsLogic().installTorch(
            askConfirmation=True, torchVersionRequirement=installation.TORCH_VERSION_REQUIREMENT) is None:
        raise RuntimeError("torch was not installed (its installation was declined or failed); the segmentation "
                           "needs it. Press Install again, or install torch in the PyTorch Utils module.")


def pip_install(step: installation.PipStep) -> bool:
    """Run one pip step; False when Slicer's testing mode skipped it."""
    try:
        from slicer.packaging import pip_ensure  # Slicer 5.12 and later: checks, then installs what is missing
    except ImportError:
        pip_ensure = None
    if pip_ensure is not None and step.plain:
        from packaging.requirements import Requirement

        # skip_in_testing stays at its default (True): Slicer's testing mode leaves its Python as it is.
        pip_ensure([Requirement(text) for text in step.requirements], constraints=str(step.constraints),
                   prompt_install=False, requester="ResponsePredictor")
        return not slicer.app.testingEnabled()
    slicer.util.pip_install(step.arguments())
    return True
