"""The Slicer module's side of the engine, one room each; ``ResponsePredictor.py`` only wires them to Qt.

MRML: ``nodes`` (MRML nodes to and from the engine's Volumes), ``display`` (a case's results as
segmentation, table and heatmap nodes, never touching a segment the module did not make),
``scan_display`` (the other scans' carried tumors and heatmaps, each over its scan), ``views`` (which
scan the slice views show, on the user's asking), ``parameters`` (the parameter node), ``seed`` (the
one tumor point a new click moves).
The panel: ``panel`` (what it shows, decided without Qt), ``results`` (starting runs and loading
them into nodes, whatever the panel does meanwhile), ``self_test``.
Background work: ``background`` (one case), ``other_scans`` (a case's other scans: checked, sent, read
back), ``cohort_run``, ``engine_run`` (the shared lifecycle: result marker, progress, Cancel),
``process`` (a launched process tree and its log), ``work_folders`` (temporary folders, removed
whatever the end), ``models`` (bundled models by id).
First use: ``installation`` (what is missing, the pip steps, Slicer's packages held),
``first_use`` (those steps through Slicer's installers), ``compatibility`` (Slicer 5.10 or later).
"""
