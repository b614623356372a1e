"""ResponsePredictor engine, and the Slicer module's side of it.

Every module here but ``slicer_module`` needs neither Qt nor Slicer: it works from a plain Python
console or a terminal. ``slicer_module`` talks to Slicer (its MRML, its installers); only the module
file, ``ResponsePredictor.py`` beside this package, talks to Qt.
"""

__version__ = "0.1.0"
