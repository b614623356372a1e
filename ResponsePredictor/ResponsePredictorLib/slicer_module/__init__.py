"""The Slicer module's side of the engine, one room each; ``ResponsePredictor.py`` only wires them to Qt.

MRML: ``nodes`` (MRML nodes to and from the engine's Volumes), ``display`` (a case's results as
segmentation, table and heatmap nodes, never touching a segment the module did not make),
``parameters`` (the parameter node), ``seed`` (the one tumor point a new click moves).
The panel: ``panel`` (what it shows, decided without Qt), ``results`` (starting runs and loading
them into nodes, whatever the panel does meanwhile), ``self_test``.
Background work: ``background`` (one case), ``cohort_run``, ``engine_run`` (the shared lifecycle:
result marker, progress, Cancel), ``process`` (a launched process tree and its log), ``work_folders``
(temporary folders, removed whatever the end), ``models`` (bundled models by id).
First use: ``installation`` (what is missing, the pip steps, Slicer's packages held),
``first_use`` (those steps through Slicer's installers), ``compatibility`` (Slicer 5.10 or later).
"""
