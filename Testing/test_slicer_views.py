"""Which scan the slice views show (views.py) as the parameter node changes, with Slicer's real
parameterNodeWrapper (5.10.0 and 5.12.3) on slicer-core: the panel's list follows the rows of other
scans, and a row's results never outlive its volume (the nodes themselves stay in the scene)."""

from __future__ import annotations

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core is not installed (pip install slicer-core)")

from panel_stand_ins import FakeComboBox, tumor_heatmap  # noqa: E402


@pytest.fixture
def parameters(slicer_python, scene, monkeypatch):
    from ResponsePredictorLib.slicer_module.parameters import ResponsePredictorParameterNode

    monkeypatch.setattr(slicer, "mrmlScene", scene, raising=False)
    logic = type("ResponsePredictorLogic", (slicer_python.scripted.ScriptedLoadableModuleLogic,), {})()
    return ResponsePredictorParameterNode(logic.getParameterNode())


@pytest.fixture
def case(parameters, scene, sample):
    """The primary CT, a PET in row 2 with its results as a run leaves them (scan_display.show_scans,
    recorded in the row), and a second PET."""
    from ResponsePredictorLib.slicer_module import nodes, scan_display
    from ResponsePredictorLib.slicer_module.other_scans import ScanOutputs

    ct = nodes.volume_to_node(sample[0], scene, "CT")
    pet, later = (nodes.volume_to_node(sample[0].with_array(sample[0].array + shift), scene, name)
                  for shift, name in ((5, "PET AC"), (7, "PET later")))
    parameters.inputVolume = ct
    parameters.scan2.name, parameters.scan2.volume = "PET", pet
    shown = scan_display.show_scans({"PET": ScanOutputs(sample[1], tumor_heatmap(sample[1]), carried=True)},
                                    {"PET": scan_display.ScanNodes(pet)})["PET"]
    parameters.scan2.outputSegmentation, parameters.scan2.outputHeatmap = shown.segmentation, shown.heatmap
    return ct, pet, later, shown


def follower(parameters, combo):
    """The module's observer, as ResponsePredictor.py adds it: follow_scans on each ModifiedEvent."""
    from ResponsePredictorLib.slicer_module import views

    import vtk

    return parameters.AddObserver(vtk.vtkCommand.ModifiedEvent,
                                  lambda caller, event: views.follow_scans(combo, parameters))


def test_results_name_the_scan_they_were_made_over(case):
    from ResponsePredictorLib.slicer_module.scan_display import SCAN_REFERENCE, made_over

    ct, pet, later, shown = case
    for node in (shown.segmentation, shown.heatmap):
        assert node.GetNodeReference(SCAN_REFERENCE) is pet
        assert made_over(node, pet) and not made_over(node, later) and not made_over(node, None)
    unmarked = shown.heatmap.GetScene().AddNewNodeByClass("vtkMRMLScalarVolumeNode", "from an older scene")
    assert not made_over(unmarked, pet) and not made_over(None, pet)


def test_the_list_follows_a_renamed_row_and_keeps_the_chosen_scan(parameters, case):
    from ResponsePredictorLib.slicer_module import views

    ct, pet, later, shown = case
    combo = FakeComboBox("shownScanComboBox")
    views.follow_scans(combo, parameters)
    assert combo.items == ["CT (primary)", "PET: PET AC"] and combo.enabled and combo.currentIndex == 0
    follower(parameters, combo)
    combo.currentIndex = 1  # the user chose the PET
    parameters.scan2.name = "FDG"
    assert combo.items == ["CT (primary)", "FDG: PET AC"] and combo.currentIndex == 1
    assert parameters.scan2.outputHeatmap is shown.heatmap  # the same volume: its results stay
    assert views.show_scan(pet.GetScene(), parameters, combo.currentText)  # the entry still shows its scan
    parameters.heatmapOpacity = 0.3  # a change that lists nothing new leaves the list as it is
    assert combo.currentIndex == 1
    parameters.scan2.name = ""  # no longer a scan: the primary alone, nothing to choose
    assert combo.items == ["CT (primary)"] and combo.currentIndex == 0 and not combo.enabled


def test_a_row_given_another_volume_forgets_its_results_and_shows_none_over_it(parameters, case, scene):
    from ResponsePredictorLib.slicer_module import views

    ct, pet, later, shown = case
    combo = FakeComboBox("shownScanComboBox")
    follower(parameters, combo)
    parameters.scan2.volume = later  # as the row's selector writes it
    row = parameters.scan2
    assert row.outputHeatmap is None and row.outputSegmentation is None and row.name == "PET"
    # Forgotten, not deleted: a node in the scene is the user's to remove.
    assert scene.GetNodeByID(shown.heatmap.GetID()) is shown.heatmap
    assert scene.GetNodeByID(shown.segmentation.GetID()) is shown.segmentation
    assert combo.items == ["CT (primary)", "PET: PET later"]
    views_shown = [scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode") for _ in range(2)]
    assert views.show_scan(scene, parameters, "PET: PET later")
    assert {(view.GetBackgroundVolumeID(), view.GetForegroundVolumeID()) for view in views_shown} == {
        (later.GetID(), None)}
    parameters.scan2.volume = pet  # back to the PET: what was forgotten stays forgotten
    assert parameters.scan2.outputHeatmap is None


def test_results_from_a_scene_without_the_mark_are_not_shown_over_the_row(parameters, case, scene):
    """A heatmap recorded without naming its scan (a scene saved before the mark) is forgotten as the
    panel opens on it: it cannot be told to be the row volume's."""
    from ResponsePredictorLib.slicer_module import views
    from ResponsePredictorLib.slicer_module.scan_display import SCAN_REFERENCE

    ct, pet, later, shown = case
    shown.heatmap.RemoveNodeReferenceIDs(SCAN_REFERENCE)
    combo = FakeComboBox("shownScanComboBox")
    views.follow_scans(combo, parameters)
    assert parameters.scan2.outputHeatmap is None and parameters.scan2.outputSegmentation is shown.segmentation
    (choice,) = [choice for choice in views.scan_choices(parameters) if choice.scan is pet]
    assert choice.heatmap is None
