"""Size of the marching-cubes (3D) or marching-squares (2D) mesh of a mask, as pyradiomics 3.0.1 measures it.

pyradiomics walks every cell (2x2x2 cube or 2x2 square) of the mask padded by one voxel and adds up, per mesh
element, its area or length and the signed volume (area) that it spans with the origin. Those sums are
computed here without building the mesh:

- an element's area or length depends on its cell's case (which corners are inside) alone, so the total is
  a per-case value times the number of cells of that case;
- the signed volume spanned by a triangle a, b, c of a cube at position P is multilinear:
  det(P+a, P+b, P+c) = det(a, b, c) + P . (a x b + b x c + c x a), and a segment's signed area
  P+a x P+b = a x b + P x (b - a) likewise, so the total is per-case constants times the number of cells
  plus per-case vectors dotted with the sum of those cells' positions.

Keeping the position term matters: pyradiomics' 128-case table plus complement flip does not always close
the surface at ambiguous faces, and then the signed volume depends on where the origin is. Positions are
the padded array's indices, pyradiomics' origin. Volumes and areas scale with the voxel size, so the
position terms are evaluated in index units (exact: sums of integers and multiples of 1/8) and scaled once.

Mesh vertices (for the diameters) are the midpoints of grid edges whose two voxels differ, each once;
they are given in doubled index coordinates so that they are exact integers.
"""

from __future__ import annotations

import numpy as np

from .tables import (
    CUBE_CORNERS,
    CUBE_EDGES,
    CUBE_TRIANGLES,
    SQUARE_CORNERS,
    SQUARE_EDGES,
    SQUARE_SEGMENTS,
)


def _case_elements(table, corners, edges) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every mesh element of every case as (case, sign, vertices [n, k, dim] in index units).

    Cases past the end of the table are looked up as their complement with the sign flipped, which is how
    pyradiomics halves its cube table (a case with the last corner inside)."""
    n_cases = 2 ** len(corners)
    corners = np.asarray(corners, dtype=float)
    midpoints = np.array([(corners[a] + corners[b]) / 2 for a, b in edges])
    cases, signs, vertices = [], [], []
    for case in range(n_cases):
        base, sign = (case, 1.0) if case < len(table) else (case ^ (n_cases - 1), -1.0)
        for element in table[base]:
            cases.append(case)
            signs.append(sign)
            vertices.append(midpoints[list(element)])
    return np.array(cases), np.array(signs), np.array(vertices)


def _per_case(cases: np.ndarray, values: np.ndarray, n_cases: int) -> np.ndarray:
    """Sum element values (rows of ``values``) per case."""
    values = values.reshape(len(cases), -1)
    return np.stack([np.bincount(cases, weights=column, minlength=n_cases) for column in values.T], axis=1)


_TRI_CASE, _TRI_SIGN, _TRI = _case_elements(CUBE_TRIANGLES, CUBE_CORNERS, CUBE_EDGES)
_SEG_CASE, _SEG_SIGN, _SEG = _case_elements(SQUARE_SEGMENTS, SQUARE_CORNERS, SQUARE_EDGES)


def _signed_volume_terms() -> tuple[np.ndarray, np.ndarray]:
    """Per cube case: sum of det(a, b, c) and of a x b + b x c + c x a over its triangles (times 6 the volume)."""
    a, b, c = _TRI[:, 0], _TRI[:, 1], _TRI[:, 2]
    det = np.einsum("ij,ij->i", np.cross(a, b), c)
    normal = np.cross(a, b) + np.cross(b, c) + np.cross(c, a)
    return _per_case(_TRI_CASE, _TRI_SIGN * det, 256)[:, 0], _per_case(_TRI_CASE, _TRI_SIGN[:, None] * normal, 256)


def _signed_area_terms() -> tuple[np.ndarray, np.ndarray]:
    """Per square case: sum of a x b and of the vector v with P x (b - a) = P . v (times 2 the area)."""
    a, b = _SEG[:, 0], _SEG[:, 1]
    cross = a[:, 0] * b[:, 1] - b[:, 0] * a[:, 1]
    step = b - a
    linear = np.stack([step[:, 1], -step[:, 0]], axis=1)
    return _per_case(_SEG_CASE, _SEG_SIGN * cross, 16)[:, 0], _per_case(_SEG_CASE, _SEG_SIGN[:, None] * linear, 16)


_VOLUME_CONSTANT, _VOLUME_LINEAR = _signed_volume_terms()
_SURFACE_CONSTANT, _SURFACE_LINEAR = _signed_area_terms()


def pad(mask: np.ndarray) -> np.ndarray:
    """The mask with one empty voxel on every side, as pyradiomics pads it (its indices are the mesh's origin)."""
    return np.pad(np.asarray(mask, dtype=bool), 1)


def _cell_cases(padded: np.ndarray, corners) -> np.ndarray:
    """Case index (bit b set when corner b is inside) of every cell of the padded mask."""
    cells = tuple(n - 1 for n in padded.shape)
    cases = np.zeros(cells, dtype=np.uint8)
    for bit, offset in enumerate(corners):
        corner = padded[tuple(slice(o, o + n) for o, n in zip(offset, cells))]
        cases |= corner.view(np.uint8) << np.uint8(bit)
    return cases


def _case_counts(padded: np.ndarray, corners) -> tuple[np.ndarray, np.ndarray]:
    """Per case: the number of cells and the sum of their positions (index units); only cells the surface
    crosses, the others have no mesh elements."""
    cases = _cell_cases(padded, corners)
    n_cases = 2 ** len(corners)
    crossed = (cases != 0) & (cases != n_cases - 1)
    positions = np.nonzero(crossed)
    which = cases[crossed]
    counts = np.bincount(which, minlength=n_cases).astype(float)
    sums = np.stack([np.bincount(which, weights=p, minlength=n_cases) for p in positions], axis=1)
    return counts, sums


def _element_sizes(vertices: np.ndarray, cases: np.ndarray, spacing: np.ndarray, n_cases: int) -> np.ndarray:
    """Per case: total area (triangles) or length (segments) of its elements, in mm units."""
    scaled = vertices * spacing
    if scaled.shape[1] == 3:
        size = 0.5 * np.linalg.norm(np.cross(scaled[:, 0] - scaled[:, 2], scaled[:, 1] - scaled[:, 2]), axis=1)
    else:
        size = np.linalg.norm(scaled[:, 1] - scaled[:, 0], axis=1)
    return _per_case(cases, size, n_cases)[:, 0]


def mesh_area_volume(padded: np.ndarray, spacing: np.ndarray) -> tuple[float, float]:
    """Surface area (mm2) and signed mesh volume (mm3) of a padded 3D mask; spacing in array (z, y, x) order."""
    counts, sums = _case_counts(padded, CUBE_CORNERS)
    area = counts @ _element_sizes(_TRI, _TRI_CASE, spacing, 256)
    six_volume = counts @ _VOLUME_CONSTANT + np.sum(sums * _VOLUME_LINEAR)
    return float(area), float(six_volume / 6 * np.prod(spacing))


def mesh_perimeter_surface(padded: np.ndarray, spacing: np.ndarray) -> tuple[float, float]:
    """Perimeter (mm) and signed mesh surface (mm2) of a padded 2D mask; spacing in array (y, x) order."""
    counts, sums = _case_counts(padded, SQUARE_CORNERS)
    perimeter = counts @ _element_sizes(_SEG, _SEG_CASE, spacing, 16)
    two_surface = counts @ _SURFACE_CONSTANT + np.sum(sums * _SURFACE_LINEAR)
    return float(perimeter), float(two_surface / 2 * np.prod(spacing))


def crossing_vertices(padded: np.ndarray) -> np.ndarray:
    """Mesh vertices [n, ndim] in doubled index coordinates: midpoints of grid edges between an inside and an
    outside voxel. pyradiomics stores exactly these (each once) for its diameters."""
    parts = []
    for axis in range(padded.ndim):
        low = [slice(None)] * padded.ndim
        high = [slice(None)] * padded.ndim
        low[axis], high[axis] = slice(None, -1), slice(1, None)
        coords = 2 * np.stack(np.nonzero(padded[tuple(low)] != padded[tuple(high)]), axis=1)
        coords[:, axis] += 1
        parts.append(coords)
    return np.concatenate(parts)
