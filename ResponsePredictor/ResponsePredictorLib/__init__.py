"""ResponsePredictor engine: the parts of the Slicer extension that need neither Qt nor Slicer.

Every module here works from a plain Python console or a terminal; only ``mrml`` talks to Slicer.
"""

__version__ = "0.1.0"
