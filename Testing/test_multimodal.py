"""Cases of several scans: the other scans' features, the carried mask, shells, missing scans, refusals,
models trained on the fused table and their heatmaps over each scan. Synthetic volumes only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ResponsePredictorLib.cohort import read_manifest, run_cohort
from ResponsePredictorLib.cohort.manifest import ManifestError
from ResponsePredictorLib.errors import InputError, MaskError, SettingsError
from ResponsePredictorLib.features import FeatureExtractor
from ResponsePredictorLib.features.columns import check_scan_name, column_origin
from ResponsePredictorLib.features.recipe import FeatureRecipe, modality_preset, table_recipe
from ResponsePredictorLib.pipeline import CaseInput, Pipeline, PipelineSettings, read_record, write_case
from ResponsePredictorLib.pipeline.case import ScanInput
from ResponsePredictorLib.predict import BinaryModel, BinaryOutcome, load_model, save_model
from ResponsePredictorLib.volume import Volume, write_volume
from predict_synthetic import SMALL_GRIDS

LIGHT = {"imageType": {"Original": {}}, "featureClass": {"firstorder": None, "shape": None, "glcm": ["Contrast"]},
         "setting": {"binWidth": 25, "label": 1}}
PET_LIGHT = {**LIGHT, "setting": {"binWidth": 0.5, "label": 1}}
AXES = (1, 0, 0, 0, 1, 0, 0, 0, 1)
CENTRE = np.array([5.0, 20.0, 30.0])  # the tumor's centre in LPS mm, on every scan


def ball_on(spacing, size, origin, radius, inside, outside, seed=0, noise=5.0) -> tuple[Volume, Volume]:
    """A scan on its own grid with a ball of ``radius`` mm at CENTRE, and the ball's mask."""
    rng = np.random.default_rng(seed)
    k, j, i = np.indices(size[::-1])
    points = [origin[a] + spacing[a] * index for a, index in enumerate((i, j, k))]
    ball = sum((p - c) ** 2 for p, c in zip(points, CENTRE)) <= radius**2
    image = np.where(ball, inside, outside) + rng.normal(0, noise, ball.shape)
    return Volume(image.astype(np.float32), spacing, origin, AXES), Volume(ball.astype(np.uint8), spacing, origin, AXES)


def ct_case(seed=0, radius=7.0):
    return ball_on((1.0, 1.0, 1.5), (40, 40, 30), (-15.0, 0.0, 8.0), radius, 40.0, -700.0, seed, 30.0)


def pet_case(seed=0, radius=7.0, uptake=8.0):
    return ball_on((3.0, 3.0, 3.0), (16, 16, 16), (-17.0, -2.0, 7.0), radius, uptake, 1.0, seed, 0.3)


def pipeline(**options) -> Pipeline:
    return Pipeline(None, feature_settings=LIGHT, heatmap=None, report=False, scan_settings={"PET": PET_LIGHT},
                    **options)


def test_a_scan_with_its_own_mask_has_the_features_of_that_scan_alone():
    ct, ct_mask = ct_case()
    pet, pet_mask = pet_case()
    result = pipeline().run(CaseInput("c", ct, ct_mask, scans={"PET": ScanInput(pet, pet_mask)}))
    alone = FeatureExtractor(PET_LIGHT).extract(pet, pet_mask).features
    assert {f"PET_{name}": value for name, value in alone.items()} == {
        name: value for name, value in result.features.items() if name.startswith("PET_")}
    assert result.features["original_shape_VoxelVolume"] == FeatureExtractor(LIGHT).extract(ct, ct_mask).features[
        "original_shape_VoxelVolume"]
    assert result.scans["PET"].mask_source == "own mask"


def test_a_scan_without_a_mask_gets_the_primary_mask_carried():
    ct, ct_mask = ct_case()
    pet, pet_mask = pet_case()
    result = pipeline().run(CaseInput("c", ct, ct_mask, scans={"PET": ScanInput(pet)}))
    carried = result.scans["PET"]
    assert carried.mask_source == "carried from the primary scan" and carried.mask.same_grid(pet)
    ct_volume = ct_mask.array.sum() * np.prod(ct.spacing)
    assert carried.mask.array.sum() * np.prod(pet.spacing) == pytest.approx(ct_volume, rel=0.15)
    assert result.provenance["scans"]["PET"]["mask_source"] == "carried from the primary scan"


def test_a_missing_scan_is_recorded_and_the_case_is_done(tmp_path):
    ct, ct_mask = ct_case()
    result = pipeline().run(CaseInput("c", ct, ct_mask, scans={"PET": None}))
    assert result.provenance["scans"] == {"PET": {"status": "missing"}}
    assert any("No PET scan" in warning for warning in result.warnings)
    assert not any(name.startswith("PET_") for name in result.features)
    write_case(result, tmp_path / "c")
    assert read_record(tmp_path / "c")["status"] == "done"


def test_a_tumor_outside_the_other_scan_is_refused():
    ct, ct_mask = ct_case()
    pet, _ = ball_on((3.0, 3.0, 3.0), (5, 16, 16), (-17.0, -2.0, 7.0), 7.0, 8.0, 1.0)  # ends at x = -2 mm
    with pytest.raises(MaskError, match="reaches outside the PET scan"):
        pipeline().run(CaseInput("c", ct, ct_mask, scans={"PET": ScanInput(pet)}))


def test_other_frames_of_reference_are_refused(tmp_path):
    from ResponsePredictorLib.dicom_export import write_dicom_series

    ct, ct_mask = ct_case()
    pet, _ = pet_case()
    as_integers = ct.with_array(np.round(ct.array).astype(np.int16))
    write_dicom_series(as_integers, tmp_path / "ct", frame_of_reference_uid="1.2.3.4")
    write_dicom_series(as_integers, tmp_path / "ct_same", frame_of_reference_uid="1.2.3.4")
    write_dicom_series(as_integers, tmp_path / "ct_other", frame_of_reference_uid="1.2.3.5")
    settings = {"CT2": LIGHT}
    runner = Pipeline(None, feature_settings=LIGHT, heatmap=None, report=False, scan_settings=settings)
    mask = write_volume(ct_mask, tmp_path / "mask.nrrd")
    done = runner.run(CaseInput("c", tmp_path / "ct", mask, scans={"CT2": ScanInput(tmp_path / "ct_same")}))
    assert done.scans["CT2"].status == "done"
    with pytest.raises(InputError, match="another DICOM frame of reference"):
        runner.run(CaseInput("c", tmp_path / "ct", mask, scans={"CT2": ScanInput(tmp_path / "ct_other")}))


def test_a_dicom_scan_of_another_modality_than_its_name_is_refused(tmp_path):
    from ResponsePredictorLib.dicom_export import write_dicom_series

    ct, ct_mask = ct_case()
    write_dicom_series(ct.with_array(np.round(ct.array).astype(np.int16)), tmp_path / "ct")
    with pytest.raises(InputError, match="DICOM CT series, but its feature settings are for PT"):
        pipeline().run(CaseInput("c", ct, ct_mask, scans={"PET": ScanInput(tmp_path / "ct")}))


def test_shells_on_every_scan_with_their_prefixes_and_no_shape():
    ct, ct_mask = ct_case()
    pet, pet_mask = pet_case()
    result = pipeline(peritumoral=(3.0,)).run(CaseInput("c", ct, ct_mask, scans={"PET": ScanInput(pet, pet_mask)}))
    shells = {column_origin(name).group for name in result.features if column_origin(name).shell_mm}
    assert shells == {"primary scan peri3mm", "PET peri3mm"}
    assert "peri3mm_original_firstorder_Mean" in result.features
    assert not any("peri3mm_original_shape" in name for name in result.features)
    # The CT's shell around a dense ball in air is air.
    assert result.features["peri3mm_original_firstorder_Mean"] == pytest.approx(-700, abs=10)


def test_the_body_limits_a_ct_shell_only():
    ct, ct_mask = ct_case()
    pet, pet_mask = pet_case()
    # The tumor at the skin: soft tissue (0 HU) up to x = CENTRE's, air beyond.
    x = ct.origin[0] + ct.spacing[0] * np.arange(ct.shape[2])
    tissue = np.where(x[None, None, :] <= CENTRE[0], 0.0, -1000.0)
    ct = ct.with_array(np.where(ct_mask.array > 0, ct.array, tissue).astype(np.float32))
    case = CaseInput("c", ct, ct_mask, scans={"PET": ScanInput(pet, pet_mask)})
    plain = pipeline(peritumoral=(3.0,)).run(case)
    body = pipeline(peritumoral=(3.0,), peritumoral_body=True, primary_modality="ct").run(case)
    assert plain.features["peri3mm_original_firstorder_Mean"] == pytest.approx(-500, abs=100)  # half air
    assert body.features["peri3mm_original_firstorder_Mean"] == pytest.approx(0, abs=1)  # tissue only
    assert body.features["PET_peri3mm_original_firstorder_Mean"] == plain.features["PET_peri3mm_original_firstorder_Mean"]


def test_the_manifest_reads_other_scans(tmp_path):
    (tmp_path / "m.csv").write_text("case,image,mask,image_PET,mask_PET,image_MR_T1,age\n"
                                    "a,ct.nrrd,m.nrrd,pet.nrrd,pm.nrrd,mr.nrrd,61\n"
                                    "b,ct.nrrd,m.nrrd,,,mr.nrrd,70\n")
    manifest = read_manifest(tmp_path / "m.csv")
    assert manifest.scans == ["PET", "MR_T1"] and manifest.carried == ["age"]
    first, second = manifest.cases
    assert first.scans["PET"] == ScanInput(tmp_path / "pet.nrrd", tmp_path / "pm.nrrd")
    assert first.scans["MR_T1"] == ScanInput(tmp_path / "mr.nrrd") and second.scans["PET"] is None
    assert first.extra == {"age": "61"}


def test_a_mask_column_without_its_scan_is_an_ordinary_column(tmp_path):
    (tmp_path / "m.csv").write_text("case,image,mask,mask_volume\na,ct.nrrd,m.nrrd,12.5\n")
    manifest = read_manifest(tmp_path / "m.csv")
    assert manifest.scans == [] and manifest.cases[0].extra == {"mask_volume": "12.5"}


@pytest.mark.parametrize("header, row, message", [
    ("case,image,mask,image_PET,mask_PET", "a,ct.nrrd,m.nrrd,,pm.nrrd", "mask_PET is given without its scan"),
    ("case,image,mask,image_2PET", "a,ct.nrrd,m.nrrd,p.nrrd", "use a letter"),
    ("case,image,mask,image_original", "a,ct.nrrd,m.nrrd,p.nrrd", "holds a word of the feature names"),
])
def test_bad_scan_columns_are_refused(tmp_path, header, row, message):
    (tmp_path / "m.csv").write_text(f"{header}\n{row}\n")
    with pytest.raises(ManifestError, match=message):
        read_manifest(tmp_path / "m.csv")


def test_a_cohort_records_missing_scans_in_its_table(tmp_path):
    rows = ["case,image,mask,image_PET,mask_PET"]
    for case, with_pet in (("a", True), ("b", False)):
        ct, ct_mask = ct_case(seed=len(rows))
        pet, pet_mask = pet_case(seed=len(rows))
        paths = [write_volume(volume, tmp_path / f"{case}_{name}.nrrd")
                 for name, volume in (("ct", ct), ("m", ct_mask), ("pet", pet), ("pm", pet_mask))]
        rows.append(",".join([case, paths[0].name, paths[1].name] + ([paths[2].name, paths[3].name] if with_pet else ["", ""])))
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    settings = PipelineSettings(model=None, heatmap=None, report=False, params=str(_light_file(tmp_path)),
                                scan_params=(("PET", str(_light_file(tmp_path, PET_LIGHT, "pet.yaml"))),))
    summary = run_cohort(tmp_path / "m.csv", tmp_path / "out", settings, workers=1, progress_bar=False)
    table = pd.read_csv(summary.results, keep_default_na=False).set_index("case")
    assert list(table["status"]) == ["done", "done"]
    assert table.loc["a", "missing_scans"] == "" and table.loc["b", "missing_scans"] == "PET"
    assert table.loc["b", "PET_original_firstorder_Mean"] == "" and table.loc["a", "PET_original_firstorder_Mean"] != ""
    assert (tmp_path / "out" / "cases" / "a" / "scans" / "PET" / "mask.nrrd").is_file()


def _light_file(folder, settings=LIGHT, name="light.yaml"):
    import yaml

    path = folder / name
    path.write_text(yaml.safe_dump(settings))
    return path


# -- models of the fused table ---------------------------------------------------------------------------------------

def fused_model(folder):
    """A binary model whose outcome follows the PET tumor's uptake, trained on cases computed by the pipeline."""
    features, outcomes = [], []
    rng = np.random.default_rng(4)
    runner = pipeline()
    for index in range(36):
        uptake = float(rng.uniform(3, 12))
        ct, ct_mask = ct_case(seed=index, radius=float(rng.uniform(5, 8)))
        pet, pet_mask = pet_case(seed=index, radius=7.0, uptake=uptake)
        result = runner.run(CaseInput(f"c{index}", ct, ct_mask, scans={"PET": ScanInput(pet, pet_mask)}))
        features.append(result.features)
        outcomes.append(int(uptake + rng.normal(0, 1.5) > 7.5))
    table = pd.DataFrame(features, index=pd.Index([f"c{i}" for i in range(36)], name="case"))
    table = table[[name for name in table.columns if name.endswith("firstorder_Mean") or "VoxelVolume" in name]]
    model = BinaryModel(learner="logistic", param_grid=SMALL_GRIDS["logistic"], n_bootstrap=0, inner_folds=3)
    model.fit(table, np.array(outcomes))
    recipe = table_recipe(table.columns, LIGHT, {"PET": PET_LIGHT})
    save_model(model, BinaryOutcome("uptake_high"), folder, {}, "", LIGHT, feature_recipe=recipe.to_dict())
    return load_model(folder)


def test_a_model_of_the_fused_table_records_its_scans_and_maps_over_them(tmp_path):
    saved = fused_model(tmp_path / "model")
    assert saved.feature_recipe["scans"] == {"PET": PET_LIGHT}
    runner = Pipeline(saved, heatmap="contribution", report=False)  # the scans' settings come from the model
    assert runner.recipe.scans == {"PET": PET_LIGHT}
    ct, ct_mask = ct_case(seed=99)
    pet, pet_mask = pet_case(seed=99, uptake=11.0)
    result = runner.run(CaseInput("new", ct, ct_mask, scans={"PET": ScanInput(pet, pet_mask)}))
    assert result.prediction["probability"] > 0.5
    assert "PET_original_firstorder_Mean" in result.contributions
    heatmap = result.scans["PET"].heatmap
    assert heatmap is not None and heatmap.volume.same_grid(pet) and np.any(heatmap.volume.array[pet_mask.array > 0])
    write_case(result, tmp_path / "case")
    assert {"scans/PET/mask.nrrd", "scans/PET/heatmap.nrrd", "scans/PET/heatmap.json"} <= set(
        read_record(tmp_path / "case")["files"])
    # Without the PET scan the model takes its features as unknown, and says so once.
    lacking = runner.run(CaseInput("no-pet", ct, ct_mask))
    assert sum("No PET scan" in warning for warning in lacking.warnings) == 1 and lacking.prediction


def test_a_model_with_recorded_scans_refuses_other_shells(tmp_path):
    saved = fused_model(tmp_path / "model")
    with pytest.raises(SettingsError, match="records the settings of its scans"):
        Pipeline(saved, heatmap=None, report=False, peritumoral=(5.0,))


# -- names ------------------------------------------------------------------------------------------------------------

def test_column_origins_and_scan_names():
    assert column_origin("MR_T1_peri2.5mm_log-sigma-1-0-mm-3D_glcm_Imc1").group == "MR_T1 peri2.5mm"
    assert column_origin("peri5mm_original_firstorder_Mean").group == "primary scan peri5mm"
    assert column_origin("original_shape_MeshVolume").group == "primary scan tumor"
    assert column_origin("age").group == "clinical"
    assert check_scan_name("MR_T1") == "MR_T1"
    for bad in ("T1__x", "1PET", "PET-CT", "peri5mm", "CT_log"):
        with pytest.raises(SettingsError):
            check_scan_name(bad)
    assert [modality_preset(name) for name in ("PET", "pt_ac", "CT", "MR_T1", "T2_FLAIR")] == ["pet", "pet", "ct", "mr", "mr"]
    with pytest.raises(SettingsError, match="names no modality"):
        modality_preset("SCAN2")


def test_a_table_recipe_is_read_from_its_columns():
    columns = ["original_shape_MeshVolume", "PET_original_firstorder_Mean", "peri5mm_original_firstorder_Mean",
               "MR_T1_peri10mm_original_glcm_Contrast", "age"]
    recipe = table_recipe(columns, LIGHT, {"PET": PET_LIGHT})
    assert list(recipe.scans) == ["PET", "MR_T1"] and recipe.scans["PET"] == PET_LIGHT
    assert recipe.peritumoral_mm == (5.0, 10.0)
    assert table_recipe(["original_shape_MeshVolume", "age"], LIGHT, {}) is None
    with pytest.raises(SettingsError, match="no columns of"):
        table_recipe(columns, LIGHT, {"CT": LIGHT})
    assert FeatureRecipe.from_dict(LIGHT, recipe.to_dict()) == recipe


# -- command line ---------------------------------------------------------------------------------------------------

def test_train_records_the_scans_and_shells_of_a_fused_table(tmp_path):
    from ResponsePredictorLib.cli import EXIT_INPUT, EXIT_OK, main
    from test_predict_cli import FAST

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"case": [f"c{i}" for i in range(60)], "original_shape_MeshVolume": rng.lognormal(8, 1, 60),
                          "PET_original_firstorder_Mean": rng.normal(5, 2, 60),
                          "peri5mm_original_firstorder_Mean": rng.normal(0, 1, 60)})
    table["responder"] = (table["PET_original_firstorder_Mean"] + rng.normal(0, 1, 60) > 5).astype(int)
    table.to_csv(tmp_path / "table.csv", index=False)
    common = ["train", str(tmp_path / "table.csv"), "--outcome", "responder", *FAST, "--preset", "ct"]
    assert main([*common, "--scan-params", f"PET={_light_file(tmp_path, PET_LIGHT, 'pet.yaml')}", "-o",
                 str(tmp_path / "model")]) == EXIT_OK
    recipe = load_model(tmp_path / "model").feature_recipe
    assert recipe["scans"] == {"PET": PET_LIGHT} and recipe["peritumoral_mm"] == [5.0]
    assert recipe["primary_modality"] == "ct"
    assert main([*common, "--scan-preset", "MR=mr", "-o", str(tmp_path / "other")]) == EXIT_INPUT  # no MR columns


def test_features_command_adds_the_other_scans_and_shells(tmp_path):
    from ResponsePredictorLib.cli import EXIT_OK, main

    ct, ct_mask = ct_case()
    pet, _ = pet_case()
    paths = {name: write_volume(volume, tmp_path / f"{name}.nrrd") for name, volume in
             (("ct", ct), ("mask", ct_mask), ("pet", pet))}
    assert main(["features", str(paths["ct"]), str(paths["mask"]), "--params", str(_light_file(tmp_path)),
                 "--scan", f"PET={paths['pet']}", "--scan-params", f"PET={_light_file(tmp_path, PET_LIGHT, 'pet.yaml')}",
                 "--peritumoral", "3", "-o", str(tmp_path / "f.csv")]) == EXIT_OK
    columns = set(pd.read_csv(tmp_path / "f.csv").columns)
    assert {"original_firstorder_Mean", "PET_original_firstorder_Mean", "peri3mm_original_firstorder_Mean",
            "PET_peri3mm_original_firstorder_Mean"} <= columns


def test_a_model_with_recorded_scans_refuses_deep_features_it_was_not_trained_on(tmp_path):
    from test_deep_features import tiny_model

    saved = fused_model(tmp_path / "model")
    with pytest.raises(SettingsError, match="not trained on deep features"):
        Pipeline(saved, heatmap=None, report=False, deep_features=tiny_model())
