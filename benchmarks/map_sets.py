"""Sets of voxel-wise feature maps that the map benchmarks time and the real-data tests check.

``CT_MODEL_MAPS`` are the twelve inputs with voxel-wise maps of the NSCLC radiomics + clinical model
(ct preset: the original image and LoG sigma 1, 2 and 3 mm), the default model's inputs until its
training rule chose tumor volume alone: a realistic set of a radiomics model's maps, kept fixed.
"""

ISSUE_FEATURES = ["original_firstorder_Mean", "original_firstorder_Entropy", "original_glcm_Contrast",
                  "original_glcm_JointEntropy"]
CT_MODEL_MAPS = [
    "original_firstorder_Maximum", "original_firstorder_Median", "original_glcm_Correlation", "original_glcm_Imc1",
    "original_gldm_DependenceVariance", "log-sigma-1-0-mm-3D_glcm_Imc1", "log-sigma-1-0-mm-3D_glcm_MCC",
    "log-sigma-1-0-mm-3D_gldm_DependenceVariance", "log-sigma-2-0-mm-3D_glrlm_RunEntropy",
    "log-sigma-2-0-mm-3D_gldm_DependenceNonUniformityNormalized", "log-sigma-3-0-mm-3D_firstorder_Kurtosis",
    "log-sigma-3-0-mm-3D_glszm_GrayLevelNonUniformity",
]
