"""Which Slicer the module runs in, and what it says when that Slicer is too old.

Slicer 5.10 is the oldest supported: its Python is 3.12 (Slicer 5.8 and older ship Python 3.9, which
cannot even parse the engine; the engine itself needs Python 3.11 or later). The module file imports this file first, before anything else of
the engine, so it must stay importable by any Python 3: standard library only, no syntax newer
than Python 3.6, no type hints evaluated at run time.
"""

MINIMUM_SLICER = (5, 10)
# What the engine itself needs (pyproject.toml's requires-python). Slicer 5.10 and 5.12 ship 3.12;
# Slicer 5.8 and older ship 3.9, refused here even where the application's version cannot be asked.
MINIMUM_PYTHON = (3, 11)


def slicer_version(app):
    """(major, minor) of the running Slicer application, or None outside it (slicer-core, tests)."""
    major, minor = getattr(app, "majorVersion", None), getattr(app, "minorVersion", None)
    if isinstance(major, int) and isinstance(minor, int):
        return (major, minor)
    return None


def unsupported_reason(python_version, slicer_version_=None):
    """None when this Python and Slicer can run the module, else the sentence to show the user.

    ``python_version``: (major, minor), e.g. ``sys.version_info[:2]``; ``slicer_version_``: from
    ``slicer_version(slicer.app)``, None when there is no application to ask.
    """
    problems = []
    if slicer_version_ is not None and tuple(slicer_version_[:2]) < MINIMUM_SLICER:
        problems.append("this is Slicer {}.{}".format(*slicer_version_[:2]))
    if tuple(python_version[:2]) < MINIMUM_PYTHON:
        problems.append("its Python is {}.{} (ResponsePredictor needs {}.{} or later)".format(
            *python_version[:2], *MINIMUM_PYTHON))
    if not problems:
        return None
    return ("ResponsePredictor needs 3D Slicer {}.{} or later, but {}. Install a current Slicer from "
            "https://download.slicer.org and install ResponsePredictor there from the Extensions "
            "Manager.").format(*MINIMUM_SLICER, " and ".join(problems))
