"""The Slicer module's side of the engine, one room each.

``nodes``: MRML nodes to and from the engine's Volumes (the only file that imports Slicer's MRML);
``display``: a case's results as segmentation, table and heatmap nodes and their display;
``background``: the engine run in a separate process, its progress and its results read back;
``installation``: what Slicer's Python lacks on first use and the pip steps that install it.
"""
