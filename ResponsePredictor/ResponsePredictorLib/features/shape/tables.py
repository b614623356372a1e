"""Marching cubes and marching squares look-up tables.

Marching cubes (``CUBE_TRIANGLES``): the classic public-domain triangle table of the marching-cubes
algorithm (W. E. Lorensen and H. E. Cline, "Marching cubes: a high resolution 3D surface construction
algorithm", SIGGRAPH 1987) as published by Paul Bourke, "Polygonising a scalar field" (May 1994,
http://paulbourke.net/geometry/polygonise/), where the table is credited to Cory Gene Bloyd. The rows
below are that table's ``triTable`` (Bloyd's ``a2iTriangleConnectionTable``), rows 0-127, each row's
edge triples unchanged and in order, only without the -1 terminators. Source of the text: Bloyd's
"Marching Cubes Example Program" (``marchingsource.cpp``, "This code is public domain.", distributed from
Bourke's page), in the copy kept in the public GitHub repository cou929/polygonise (commit fddecc8);
the ``triTable`` of Bourke's own ``Polygonise`` code, as reproduced in takjn/sfs4gr
(``libs/marchingcubes.cpp``, commit 786877e), was checked to be identical row for row.

pyradiomics 3.0.1 uses a variant of the same table. Per case, its triangles are cyclic rotations of
these (same area, same signed volume) except in 15 cases (30, 45, 51, 53, 60, 75, 83, 85, 86, 89, 92,
101, 105, 106, 120), where one quadrilateral of the surface is split along its other diagonal. Each of
those quadrilaterals is planar (its two triangulations have the same oriented outline), and stays planar
under any voxel spacing (an affine map), so area and signed volume are again the same; the agreement
tests in ``Testing/test_shape.py`` check this on every cube configuration.

Only the first 128 cube cases are listed: a case whose last corner is inside is looked up as its
complement, with the volume's sign flipped (see ``mesh``), as pyradiomics does.

Marching squares (``SQUARE_SEGMENTS``) is derived below from its definition.

Coordinates are (z, y, x) voxel-index offsets, the numpy order of a SimpleITK array.
"""

# Corners of a marching cube in Bourke's / Bloyd's numbering, as (x, y, z) offsets (Bloyd's
# ``a2fVertexOffset``): 0-3 go round the z = 0 face, 4-7 round the z = 1 face above them.
_BOURKE_CORNERS_XYZ: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0),
    (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1),
)

# The same corners, same numbering, as (z, y, x) offsets into a numpy array: only the axis order of each
# offset changes, so the table's corner and edge numbers are used as they are, no renumbering. Bit b of a
# case index is set when corner b is inside the ROI (Bourke sets it when the corner's value is below the
# iso-level).
CUBE_CORNERS: tuple[tuple[int, int, int], ...] = tuple(
    (z, y, x) for x, y, z in _BOURKE_CORNERS_XYZ
)

# Cube edges as pairs of corners (Bourke's edge numbering, Bloyd's ``a2iEdgeConnection``); a mesh vertex
# sits halfway along an edge whose ends differ.
CUBE_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 0),
    (4, 5), (5, 6), (6, 7), (7, 4),
    (0, 4), (1, 5), (2, 6), (3, 7),
)

# Bourke's triTable, rows 0-127 (case index in the comment): consecutive edge triples are triangles.
_TRI_TABLE: tuple[tuple[int, ...], ...] = (
    (),  # 0
    (0, 8, 3),  # 1
    (0, 1, 9),  # 2
    (1, 8, 3, 9, 8, 1),  # 3
    (1, 2, 10),  # 4
    (0, 8, 3, 1, 2, 10),  # 5
    (9, 2, 10, 0, 2, 9),  # 6
    (2, 8, 3, 2, 10, 8, 10, 9, 8),  # 7
    (3, 11, 2),  # 8
    (0, 11, 2, 8, 11, 0),  # 9
    (1, 9, 0, 2, 3, 11),  # 10
    (1, 11, 2, 1, 9, 11, 9, 8, 11),  # 11
    (3, 10, 1, 11, 10, 3),  # 12
    (0, 10, 1, 0, 8, 10, 8, 11, 10),  # 13
    (3, 9, 0, 3, 11, 9, 11, 10, 9),  # 14
    (9, 8, 10, 10, 8, 11),  # 15
    (4, 7, 8),  # 16
    (4, 3, 0, 7, 3, 4),  # 17
    (0, 1, 9, 8, 4, 7),  # 18
    (4, 1, 9, 4, 7, 1, 7, 3, 1),  # 19
    (1, 2, 10, 8, 4, 7),  # 20
    (3, 4, 7, 3, 0, 4, 1, 2, 10),  # 21
    (9, 2, 10, 9, 0, 2, 8, 4, 7),  # 22
    (2, 10, 9, 2, 9, 7, 2, 7, 3, 7, 9, 4),  # 23
    (8, 4, 7, 3, 11, 2),  # 24
    (11, 4, 7, 11, 2, 4, 2, 0, 4),  # 25
    (9, 0, 1, 8, 4, 7, 2, 3, 11),  # 26
    (4, 7, 11, 9, 4, 11, 9, 11, 2, 9, 2, 1),  # 27
    (3, 10, 1, 3, 11, 10, 7, 8, 4),  # 28
    (1, 11, 10, 1, 4, 11, 1, 0, 4, 7, 11, 4),  # 29
    (4, 7, 8, 9, 0, 11, 9, 11, 10, 11, 0, 3),  # 30
    (4, 7, 11, 4, 11, 9, 9, 11, 10),  # 31
    (9, 5, 4),  # 32
    (9, 5, 4, 0, 8, 3),  # 33
    (0, 5, 4, 1, 5, 0),  # 34
    (8, 5, 4, 8, 3, 5, 3, 1, 5),  # 35
    (1, 2, 10, 9, 5, 4),  # 36
    (3, 0, 8, 1, 2, 10, 4, 9, 5),  # 37
    (5, 2, 10, 5, 4, 2, 4, 0, 2),  # 38
    (2, 10, 5, 3, 2, 5, 3, 5, 4, 3, 4, 8),  # 39
    (9, 5, 4, 2, 3, 11),  # 40
    (0, 11, 2, 0, 8, 11, 4, 9, 5),  # 41
    (0, 5, 4, 0, 1, 5, 2, 3, 11),  # 42
    (2, 1, 5, 2, 5, 8, 2, 8, 11, 4, 8, 5),  # 43
    (10, 3, 11, 10, 1, 3, 9, 5, 4),  # 44
    (4, 9, 5, 0, 8, 1, 8, 10, 1, 8, 11, 10),  # 45
    (5, 4, 0, 5, 0, 11, 5, 11, 10, 11, 0, 3),  # 46
    (5, 4, 8, 5, 8, 10, 10, 8, 11),  # 47
    (9, 7, 8, 5, 7, 9),  # 48
    (9, 3, 0, 9, 5, 3, 5, 7, 3),  # 49
    (0, 7, 8, 0, 1, 7, 1, 5, 7),  # 50
    (1, 5, 3, 3, 5, 7),  # 51
    (9, 7, 8, 9, 5, 7, 10, 1, 2),  # 52
    (10, 1, 2, 9, 5, 0, 5, 3, 0, 5, 7, 3),  # 53
    (8, 0, 2, 8, 2, 5, 8, 5, 7, 10, 5, 2),  # 54
    (2, 10, 5, 2, 5, 3, 3, 5, 7),  # 55
    (7, 9, 5, 7, 8, 9, 3, 11, 2),  # 56
    (9, 5, 7, 9, 7, 2, 9, 2, 0, 2, 7, 11),  # 57
    (2, 3, 11, 0, 1, 8, 1, 7, 8, 1, 5, 7),  # 58
    (11, 2, 1, 11, 1, 7, 7, 1, 5),  # 59
    (9, 5, 8, 8, 5, 7, 10, 1, 3, 10, 3, 11),  # 60
    (5, 7, 0, 5, 0, 9, 7, 11, 0, 1, 0, 10, 11, 10, 0),  # 61
    (11, 10, 0, 11, 0, 3, 10, 5, 0, 8, 0, 7, 5, 7, 0),  # 62
    (11, 10, 5, 7, 11, 5),  # 63
    (10, 6, 5),  # 64
    (0, 8, 3, 5, 10, 6),  # 65
    (9, 0, 1, 5, 10, 6),  # 66
    (1, 8, 3, 1, 9, 8, 5, 10, 6),  # 67
    (1, 6, 5, 2, 6, 1),  # 68
    (1, 6, 5, 1, 2, 6, 3, 0, 8),  # 69
    (9, 6, 5, 9, 0, 6, 0, 2, 6),  # 70
    (5, 9, 8, 5, 8, 2, 5, 2, 6, 3, 2, 8),  # 71
    (2, 3, 11, 10, 6, 5),  # 72
    (11, 0, 8, 11, 2, 0, 10, 6, 5),  # 73
    (0, 1, 9, 2, 3, 11, 5, 10, 6),  # 74
    (5, 10, 6, 1, 9, 2, 9, 11, 2, 9, 8, 11),  # 75
    (6, 3, 11, 6, 5, 3, 5, 1, 3),  # 76
    (0, 8, 11, 0, 11, 5, 0, 5, 1, 5, 11, 6),  # 77
    (3, 11, 6, 0, 3, 6, 0, 6, 5, 0, 5, 9),  # 78
    (6, 5, 9, 6, 9, 11, 11, 9, 8),  # 79
    (5, 10, 6, 4, 7, 8),  # 80
    (4, 3, 0, 4, 7, 3, 6, 5, 10),  # 81
    (1, 9, 0, 5, 10, 6, 8, 4, 7),  # 82
    (10, 6, 5, 1, 9, 7, 1, 7, 3, 7, 9, 4),  # 83
    (6, 1, 2, 6, 5, 1, 4, 7, 8),  # 84
    (1, 2, 5, 5, 2, 6, 3, 0, 4, 3, 4, 7),  # 85
    (8, 4, 7, 9, 0, 5, 0, 6, 5, 0, 2, 6),  # 86
    (7, 3, 9, 7, 9, 4, 3, 2, 9, 5, 9, 6, 2, 6, 9),  # 87
    (3, 11, 2, 7, 8, 4, 10, 6, 5),  # 88
    (5, 10, 6, 4, 7, 2, 4, 2, 0, 2, 7, 11),  # 89
    (0, 1, 9, 4, 7, 8, 2, 3, 11, 5, 10, 6),  # 90
    (9, 2, 1, 9, 11, 2, 9, 4, 11, 7, 11, 4, 5, 10, 6),  # 91
    (8, 4, 7, 3, 11, 5, 3, 5, 1, 5, 11, 6),  # 92
    (5, 1, 11, 5, 11, 6, 1, 0, 11, 7, 11, 4, 0, 4, 11),  # 93
    (0, 5, 9, 0, 6, 5, 0, 3, 6, 11, 6, 3, 8, 4, 7),  # 94
    (6, 5, 9, 6, 9, 11, 4, 7, 9, 7, 11, 9),  # 95
    (10, 4, 9, 6, 4, 10),  # 96
    (4, 10, 6, 4, 9, 10, 0, 8, 3),  # 97
    (10, 0, 1, 10, 6, 0, 6, 4, 0),  # 98
    (8, 3, 1, 8, 1, 6, 8, 6, 4, 6, 1, 10),  # 99
    (1, 4, 9, 1, 2, 4, 2, 6, 4),  # 100
    (3, 0, 8, 1, 2, 9, 2, 4, 9, 2, 6, 4),  # 101
    (0, 2, 4, 4, 2, 6),  # 102
    (8, 3, 2, 8, 2, 4, 4, 2, 6),  # 103
    (10, 4, 9, 10, 6, 4, 11, 2, 3),  # 104
    (0, 8, 2, 2, 8, 11, 4, 9, 10, 4, 10, 6),  # 105
    (3, 11, 2, 0, 1, 6, 0, 6, 4, 6, 1, 10),  # 106
    (6, 4, 1, 6, 1, 10, 4, 8, 1, 2, 1, 11, 8, 11, 1),  # 107
    (9, 6, 4, 9, 3, 6, 9, 1, 3, 11, 6, 3),  # 108
    (8, 11, 1, 8, 1, 0, 11, 6, 1, 9, 1, 4, 6, 4, 1),  # 109
    (3, 11, 6, 3, 6, 0, 0, 6, 4),  # 110
    (6, 4, 8, 11, 6, 8),  # 111
    (7, 10, 6, 7, 8, 10, 8, 9, 10),  # 112
    (0, 7, 3, 0, 10, 7, 0, 9, 10, 6, 7, 10),  # 113
    (10, 6, 7, 1, 10, 7, 1, 7, 8, 1, 8, 0),  # 114
    (10, 6, 7, 10, 7, 1, 1, 7, 3),  # 115
    (1, 2, 6, 1, 6, 8, 1, 8, 9, 8, 6, 7),  # 116
    (2, 6, 9, 2, 9, 1, 6, 7, 9, 0, 9, 3, 7, 3, 9),  # 117
    (7, 8, 0, 7, 0, 6, 6, 0, 2),  # 118
    (7, 3, 2, 6, 7, 2),  # 119
    (2, 3, 11, 10, 6, 8, 10, 8, 9, 8, 6, 7),  # 120
    (2, 0, 7, 2, 7, 11, 0, 9, 7, 6, 7, 10, 9, 10, 7),  # 121
    (1, 8, 0, 1, 7, 8, 1, 10, 7, 6, 7, 10, 2, 3, 11),  # 122
    (11, 2, 1, 11, 1, 7, 10, 6, 1, 6, 7, 1),  # 123
    (8, 9, 6, 8, 6, 7, 9, 1, 6, 11, 6, 3, 1, 3, 6),  # 124
    (0, 9, 1, 11, 6, 7),  # 125
    (7, 8, 0, 7, 0, 6, 3, 11, 0, 11, 6, 0),  # 126
    (7, 11, 6),  # 127
)

# Triangles (as three cube edges) of cases 0-127. With the corners as (z, y, x) offsets, each triangle's
# normal (b - a) x (c - a) points out of the ROI (towards the outside ends of its three edges).
CUBE_TRIANGLES: tuple[tuple[tuple[int, int, int], ...], ...] = tuple(
    tuple(zip(row[0::3], row[1::3], row[2::3])) for row in _TRI_TABLE
)

# Corners of a marching square (y, x), going round the square; bit b of a case index is set when corner
# b is inside the ROI.
SQUARE_CORNERS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 1), (1, 0))

# Square edges as pairs of corners: edge k runs from corner k to the next corner round the square.
SQUARE_EDGES: tuple[tuple[int, int], ...] = tuple((k, (k + 1) % 4) for k in range(4))


def _square_segments(case: int) -> tuple[tuple[int, int], ...]:
    """Perimeter segments of one marching-squares case, as (entry edge, exit edge).

    Going round the square (corner order), the inside corners form runs of consecutive corners. Each run
    is cut off by one segment: from the midpoint of the edge that enters the run (the edge ending at its
    first corner) to the midpoint of the edge that leaves it (the edge starting at its last corner). So
    the segments are consistently oriented, the inside always on the same side. No run (case 0) or one
    run without an end (case 15, all inside) gives no segment. In the two saddle cases (5: corners 0 and
    2, 10: corners 1 and 3) each inside corner is a run of its own, so the two diagonal corners are cut
    off separately, not joined (pyradiomics makes the same choice). Segments are listed by entry edge.
    """
    inside = [bool(case >> k & 1) for k in range(4)]
    segments = []
    for first in range(4):
        if inside[first] and not inside[first - 1]:  # a run starts here (corner -1 is corner 3)
            last = first
            while inside[(last + 1) % 4]:
                last = (last + 1) % 4
            segments.append(((first - 1) % 4, last))
    return tuple(sorted(segments))


# Perimeter segments (as two square edges, consistently oriented) of all 16 square cases.
SQUARE_SEGMENTS: tuple[tuple[tuple[int, int], ...], ...] = tuple(_square_segments(case) for case in range(16))
