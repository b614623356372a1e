"""The module's self-test inside Slicer (ResponsePredictorTest): the bundled case from a click on its tumor,
in a background run, then refined at that click in the interactive segmentation session.

Needs the Slicer application (``slicer.mrmlScene``, the layout, volume rendering) and the engine's
packages; the module's test class skips it in Slicer's testing mode when the packages are missing.
"""

from __future__ import annotations

import json
import time

import numpy as np
import slicer
import vtk

from ..resources import sample_case
from ..session_protocol import Prompts
from . import display, refinement, seed
from .nodes import volume_from_node

SESSION_TIMEOUT_S = 600


def sample_case_from_a_click(test, logic) -> None:
    """Click the sample tumor, run every step in the background, check the nodes (``test``: a TestCase).

    In Slicer's testing mode (the extension factory) nothing is installed: without the engine's
    packages the test says what it skips and returns.
    """
    missing = logic.missingDependencies()
    if missing and slicer.app.testingEnabled():
        test.delayDisplay(f"Skipped the sample case: the engine's packages are missing ({', '.join(missing)}), and "
                          "Slicer's testing mode installs nothing.")
        return
    logic.installDependencies(confirm=True)
    test.delayDisplay("Loading the sample case")
    sample = sample_case()
    scan = slicer.util.loadVolume(str(sample.image))
    truth = slicer.util.arrayFromVolume(slicer.util.loadLabelVolume(str(sample.mask))) > 0
    ijk = np.mean(np.nonzero(truth), axis=1)[::-1]  # the tumor's centre, (i, j, k)
    ijk_to_ras = vtk.vtkMatrix4x4()
    scan.GetIJKToRASMatrix(ijk_to_ras)
    click = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Tumor click")
    seed.make_single_point(click)
    seed.watch(click, lambda action: action())
    click.AddControlPoint(0.0, 0.0, 0.0)  # a first click somewhere, then the click on the tumor moves it
    click.AddControlPoint(*ijk_to_ras.MultiplyPoint([*ijk, 1.0])[:3])
    test.assertEqual(click.GetNumberOfControlPoints(), 1)
    covariates = json.loads(sample.clinical.read_text())

    test.delayDisplay("Segmenting, predicting and explaining (background process)")
    # The default model reads tumor volume alone, which has no contribution map; occlusion maps any model.
    outputs, nodes = logic.process(scan, seed=click, covariates=covariates, device="cpu", heatmapMethod="occlusion",
                                   timeout=900)

    tumor = display.result_segment_id(nodes.segmentation)
    found = slicer.util.arrayFromSegmentBinaryLabelmap(nodes.segmentation, tumor, scan) > 0
    dice = 2 * np.count_nonzero(found & truth) / (np.count_nonzero(found) + np.count_nonzero(truth))
    test.assertGreater(dice, 0.5)
    test.assertEqual(np.count_nonzero(found), np.count_nonzero(outputs.mask.array))
    test.assertIn("survival", outputs.prediction)
    table = nodes.table
    features = {table.GetCellText(row, 1): float(table.GetCellText(row, 2))
                for row in range(table.GetNumberOfRows()) if table.GetCellText(row, 0) == "feature"}
    test.assertEqual(set(features), set(outputs.features))
    test.assertEqual(nodes.heatmap.GetDisplayNode().GetColorNode().GetAttribute(display.COLORMAP_ATTRIBUTE),
                     outputs.heatmap.colormap)
    test.assertIsNotNone(slicer.modules.volumerendering.logic().GetFirstVolumeRenderingDisplayNode(nodes.heatmap))
    composite = slicer.app.layoutManager().sliceWidget("Red").sliceLogic().GetSliceCompositeNode()
    test.assertEqual(composite.GetForegroundVolumeID(), nodes.heatmap.GetID())
    refine_at_the_click(test, scan, click, truth)
    test.delayDisplay("Test passed")


def refine_at_the_click(test, scan, click, truth: np.ndarray) -> None:
    """The interactive session as the panel starts it in Slicer (PythonSlicer in Slicer's startup
    environment, its requests on stdin, which the launcher forwards): a tumor point, the mask back."""
    from ..volume import read_volume

    test.delayDisplay("Refining at the click (interactive segmentation session)")
    session = refinement.start_session(volume_from_node(scan), None, "cpu")
    try:
        session.submit(Prompts((seed.seed_position(click),)))
        deadline, refined = time.monotonic() + SESSION_TIMEOUT_S, []
        while not refined:
            test.assertIsNone(session.poll(), session.log())
            test.assertLess(time.monotonic(), deadline, session.log())
            slicer.app.processEvents()
            refined = session.receive()
            time.sleep(0.05)
        answer = refined[0].answer
        test.assertIsNone(answer.error, session.log())
        found = read_volume(answer.mask).array > 0
        overlap = 2 * np.count_nonzero(found & truth) / (np.count_nonzero(found) + np.count_nonzero(truth))
        test.assertGreater(overlap, 0.5)  # Dice
    finally:
        session.close()
        session.wait(30)
        session.cleanup()
