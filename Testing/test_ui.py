"""The panel's Resources/UI/ResponsePredictor.ui checked with Qt (PySide6) and against the module file.

Qt parses the file as Slicer will; Slicer's own widget classes (qMRMLNodeComboBox, ctk...) are not
in PySide6, so the loader builds their declared base classes and keeps every name and property.
Their properties are checked against the Q_PROPERTY declarations in Slicer's headers at 5.10.0 and
5.12.3, and the parameter node's fields (slicer_module/parameters.py) against the bound widgets.
"""

from __future__ import annotations

import ast
import os
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO_ROOT

UI_FILE = REPO_ROOT / "ResponsePredictor" / "Resources" / "UI" / "ResponsePredictor.ui"
MODULE_FILE = REPO_ROOT / "ResponsePredictor" / "ResponsePredictor.py"
PARAMETERS_FILE = REPO_ROOT / "ResponsePredictor" / "ResponsePredictorLib" / "slicer_module" / "parameters.py"
MODULE_TREE = ast.parse(MODULE_FILE.read_text())
PARAMETERS_TREE = ast.parse(PARAMETERS_FILE.read_text())
XML = ET.parse(UI_FILE)

# Which widget class binds which kind of parameter (Slicer's GUI connectors, plus the module's own
# for the segment ID).
NODE_WIDGET, CHOICE_WIDGET = "qMRMLNodeComboBox", "QComboBox"
# Members of a row of other scans that runs fill and the panel does not show (parameters.OtherScan).
RECORDED_ONLY = {"outputSegmentation", "outputHeatmap"}


def xml_widgets() -> dict[str, ET.Element]:
    return {widget.get("name"): widget for widget in XML.iter("widget")}


def parameter_names() -> dict[str, str]:
    """SlicerParameterName -> the class of the widget that carries it."""
    names = {}
    for widget in XML.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                name = prop.find("string").text
                assert name not in names, f"{name} is bound twice"
                names[name] = widget.get("class")
    return names


def decorated_classes(decorator: str) -> dict[str, dict[str, str]]:
    """The classes of parameters.py with ``decorator`` -> their fields -> annotations, as written."""
    return {node.name: {item.target.id: ast.unparse(item.annotation) for item in node.body
                        if isinstance(item, ast.AnnAssign)}
            for node in PARAMETERS_TREE.body if isinstance(node, ast.ClassDef)
            and any(ast.unparse(decorator_node) == decorator for decorator_node in node.decorator_list)}


def parameter_fields() -> dict[str, str]:
    """The parameter node wrapper's fields -> their annotations; a parameter pack's members by their
    dotted names ("scan1.name"), as the .ui binds them."""
    (wrapper,) = decorated_classes("parameterNodeWrapper").values()
    packs = decorated_classes("parameterPack")
    fields = {}
    for name, annotation in wrapper.items():
        if annotation in packs:
            fields.update({f"{name}.{member}": inner for member, inner in packs[annotation].items()})
        else:
            fields[name] = annotation
    return fields


def shown_fields() -> dict[str, str]:
    """The fields the panel shows: all but what runs record in the rows of other scans."""
    return {name: annotation for name, annotation in parameter_fields().items()
            if not ("." in name and name.rpartition(".")[2] in RECORDED_ONLY)}


def test_ui_loads_in_qt_with_every_widget():
    pytest.importorskip("PySide6", reason="PySide6 is not installed")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QFile
    from PySide6.QtUiTools import QUiLoader
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication.instance() or QApplication([])
    loader = QUiLoader()
    file = QFile(str(UI_FILE))
    assert file.open(QFile.ReadOnly)
    try:
        root = loader.load(file)
    finally:
        file.close()
    assert root is not None, loader.errorString()
    loaded = {widget.objectName(): widget for widget in root.findChildren(QWidget)}
    for name in set(xml_widgets()) - {root.objectName()}:
        assert name in loaded, f"Qt did not create {name}"
    # Dynamic properties survive loading: connectGui finds the widgets by them.
    bound = {widget.property("SlicerParameterName"): name for name, widget in loaded.items()
             if widget.property("SlicerParameterName")}
    assert set(bound) == set(parameter_names())
    assert loaded["predictionLabel"].font().pointSize() == 16
    del app


def test_every_widget_the_module_names_exists():
    used = {node.attr for node in ast.walk(MODULE_TREE)
            if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "self.ui"}
    assert {"applyButton", "cancelButton", "progressBar", "predictionLabel", "clearTumorButton", "seedSelector"} <= used
    missing = used - set(xml_widgets())
    assert not missing, f"the module uses widgets the .ui lacks: {sorted(missing)}"


def test_parameter_names_match_parameter_node_fields_both_ways():
    names, fields = parameter_names(), shown_fields()
    assert {"scan1.name", "scan3.segmentation", "peritumoral"} <= set(fields)
    assert set(names) == set(fields), (
        f"in the .ui only: {sorted(set(names) - set(fields))}; in the parameter node only: {sorted(set(fields) - set(names))}"
    )


def test_each_parameter_sits_in_a_widget_that_can_hold_its_type():
    names, fields = parameter_names(), shown_fields()
    for name, annotation in fields.items():
        widget = names[name]
        if "vtkMRML" in annotation:
            expected = NODE_WIDGET
        elif "Choice" in annotation:
            expected = CHOICE_WIDGET
        elif "ModelReference" in annotation:
            expected = "ctkPathLineEdit"  # parameters.ModelFolderConnector: a folder shown, a reference kept
        elif "float" in annotation:
            expected = "ctkSliderWidget"
        elif name == "segmentId":
            expected = "qMRMLSegmentSelectorWidget"  # the module's own connector (segment IDs)
        elif annotation == "str":
            expected = "QLineEdit"  # Slicer's QLineEditToStrConnector
        elif annotation == "bool":
            expected = "QCheckBox"  # Slicer's QCheckBoxToBoolConnector
        else:
            raise AssertionError(f"no widget rule for {name}: {annotation}")
        assert widget == expected, f"{name} ({annotation}) is in a {widget}, needs a {expected}"


def test_node_selectors_accept_the_parameter_node_types():
    fields = parameter_fields()
    for name, widget in xml_widgets().items():
        bound = [p.find("string").text for p in widget.findall("property") if p.get("name") == "SlicerParameterName"]
        node_types = [s.text for p in widget.findall("property") if p.get("name") == "nodeTypes" for s in p.iter("string")]
        if bound and node_types:
            assert all(node_type in fields[bound[0]] for node_type in node_types), name


def test_every_node_selector_gets_the_scene():
    # The module sets the scene on the panel's root widget; each selector takes it through a connection.
    connections = {(c.findtext("sender"), c.findtext("signal"), c.findtext("receiver"), c.findtext("slot"))
                   for c in XML.iter("connection")}
    selectors = [name for name, widget in xml_widgets().items() if widget.get("class") == NODE_WIDGET]
    assert "scan3SegmentationSelector" in selectors
    for name in selectors:
        assert ("ResponsePredictor", "mrmlSceneChanged(vtkMRMLScene*)", name, "setMRMLScene(vtkMRMLScene*)") \
            in connections, f"{name} never gets the scene"


def test_custom_widgets_are_declared():
    declared = {custom.find("class").text for custom in XML.iter("customwidget")}
    used = {widget.get("class") for widget in XML.iter("widget") if not widget.get("class").startswith("Q")}
    assert used <= declared, f"undeclared custom widgets: {used - declared}"


def widget_properties(name: str) -> dict[str, str]:
    widget = xml_widgets()[name]
    return {prop.get("name"): "".join(prop.itertext()).strip() for prop in widget.findall("property")}


def test_deep_features_are_a_checkbox_of_the_predict_section_and_the_results_say_how_they_were_made():
    sections = {name: {child.get("name") for child in widget.iter("widget")}
                for name, widget in xml_widgets().items() if widget.get("class") == "ctkCollapsibleButton"}
    assert "deepFeaturesCheckBox" in sections["predictCollapsibleButton"]
    assert widget_properties("deepFeaturesCheckBox")["text"] == (
        "Add deep features (the segmentation network's view of the tumor)")
    assert parameter_names()["deepFeatures"] == "QCheckBox"
    assert "analysisLabel" in sections["resultsCollapsibleButton"]


def test_the_tumor_click_is_one_point_with_its_own_delete_button():
    place = widget_properties("seedPlaceWidget")
    assert place.get("buttonsVisible") != "false"  # the place and delete buttons show
    assert place["placeMultipleMarkups"].endswith("ForcePlaceSingleMarkup")
    assert place["deleteAllControlPointsOptionVisible"] == "true"
    assert widget_properties("clearTumorButton")["text"]
    connections = {(c.findtext("sender"), c.findtext("signal"), c.findtext("receiver")) for c in XML.iter("connection")}
    assert ("seedSelector", "currentNodeChanged(vtkMRMLNode*)", "seedPlaceWidget") in connections


# Slicer's widget classes in the .ui and their headers in Slicer's source.
SLICER_HEADERS = {
    "qMRMLNodeComboBox": "Libs/MRML/Widgets/qMRMLNodeComboBox.h",
    "qSlicerMarkupsPlaceWidget": "Modules/Loadable/Markups/Widgets/qSlicerMarkupsPlaceWidget.h",
    "qMRMLSegmentSelectorWidget": "Libs/MRML/Widgets/qMRMLSegmentSelectorWidget.h",
}
QWIDGET_PROPERTIES = {"toolTip", "geometry", "enabled", "visible"}


@pytest.mark.parametrize("tag", ["v5.10.0", "v5.12.3"])
def test_slicer_widgets_have_the_properties_the_ui_sets(tag):
    import re

    from slicer_python import slicer_file

    for class_name, header in SLICER_HEADERS.items():
        declared = set(re.findall(r"Q_PROPERTY\(\S+\s+(\w+)", slicer_file(tag, header))) | QWIDGET_PROPERTIES
        for widget in XML.iter("widget"):
            if widget.get("class") != class_name:
                continue
            for prop in widget.findall("property"):
                if prop.get("stdset") != "0":  # dynamic properties (SlicerParameterName) need no declaration
                    assert prop.get("name") in declared, f"{widget.get('name')}: {class_name} has no {prop.get('name')}"
