"""Where the benchmarks find a model with radiomic inputs that have voxel-wise maps.

The shipped default model reads tumor volume alone (its training rule's choice), which has no
contribution map; the benchmarks that time a heatmap use the NSCLC radiomics + clinical model kept in
benchmarks/models (see its README).
"""

from pathlib import Path

RADIOMICS_MODEL = Path(__file__).resolve().parent / "models" / "nsclc_radiomics_clinical"
