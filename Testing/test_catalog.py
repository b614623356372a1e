"""The model catalog: weights from the module, the cache, a download or an import; MONAI bundles; bad input.

Everything here runs on tiny networks made on the fly and a local HTTP server on 127.0.0.1; the
real default weights are not needed.
"""

from __future__ import annotations

import json
import pickle
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from ResponsePredictorLib.bundle import BUNDLE_FIELDS, BUNDLE_KEY, export_bundle, load_bundle
from ResponsePredictorLib.bundle_network import BundleError
from ResponsePredictorLib.catalog import check_modality, import_model, load_model
from ResponsePredictorLib.catalog_cache import CACHE_ENV, CacheError
from ResponsePredictorLib.catalog_download import DownloadError
from ResponsePredictorLib.catalog_file import CatalogError, read_catalog
from ResponsePredictorLib.files import sha256_file
from ResponsePredictorLib.cli import EXIT_INPUT, EXIT_OK, main
from ResponsePredictorLib.errors import InputError
from ResponsePredictorLib.segment.network import WeightsError, build_network, save_weights
from ResponsePredictorLib.segment.spec import ModelSpec

MODEL_ID, VERSION = "tiny", "1.0.0"
WEIGHTS_FILE = f"{MODEL_ID}-{VERSION}.safetensors"


def spec_dict(channels=(4, 8), **changes) -> dict:
    return {
        "id": MODEL_ID, "version": VERSION, "modality": "CT", "inference": "roi",
        "network": {"name": "UNet", "args": {"spatial_dims": 3, "in_channels": 2, "out_channels": 2,
                                             "channels": list(channels), "strides": [2], "num_res_units": 1}},
        "spacing": [1.0, 1.0, 1.0], "roi_size": [16, 16, 16], "intensity_window": [-1000, 500],
        "seed_channel": True, "seed_sigma_mm": 3.0, "license": "CC0 (test weights)", **changes,
    }


def make_weights(path: Path, channels=(4, 8), seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    network = build_network(ModelSpec.from_dict(spec_dict(channels))).eval()
    save_weights(network, path)
    return network


def same_outputs(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x = torch.randn(1, 2, 16, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return torch.equal(a(x), b(x))


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A fresh cache per test, and no proxy between urllib and the local server."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def tiny(tmp_path):
    """Test weights, and a writer for a one-model catalog (default url: a closed port) naming them."""

    class Tiny:
        weights = tmp_path / "published" / WEIGHTS_FILE
        network = make_weights(weights)
        data = weights.read_bytes()
        sha256 = sha256_file(weights)
        cache = tmp_path / "cache"
        catalog_dir = tmp_path / "catalog"

        def write_catalog(self, url: str | None = None) -> Path:
            entry = {**spec_dict(), "card": "ModelCards/tiny.md", "weights": {
                "file": WEIGHTS_FILE, "url": url or f"http://127.0.0.1:{closed_port()}/{WEIGHTS_FILE}",
                "sha256": self.sha256, "size": len(self.data)}}
            self.catalog_dir.mkdir(exist_ok=True)
            path = self.catalog_dir / "Models.json"
            path.write_text(json.dumps({"default": MODEL_ID, "models": [entry]}))
            return path

    return Tiny()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Handler(BaseHTTPRequestHandler):
    timeout = 5  # a stuck connection ends by itself

    def do_GET(self):
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        body, announced = route  # announcing more than the body, then closing, is a cut transfer
        self.send_response(200)
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 serving ``routes``: path -> (body, announced Content-Length)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.routes = {}
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


# --- download ---------------------------------------------------------------------------------

def test_download_then_cache_hit_without_network(tiny, server):
    server.routes["/w"] = (tiny.data, len(tiny.data))
    model = load_model(MODEL_ID, catalog=tiny.write_catalog(server.url + "/w"))
    assert model.source.startswith(f"downloaded from {server.url}/w")
    assert files_under(tiny.cache) == [tiny.cache / MODEL_ID / VERSION / WEIGHTS_FILE]
    assert same_outputs(model.network, tiny.network) and not model.network.training
    assert model.weights_sha256 == tiny.sha256

    # Same catalog, its address now a closed port: the cache alone serves the model.
    again = load_model(MODEL_ID, catalog=tiny.write_catalog())
    assert again.source.startswith("cached ") and same_outputs(again.network, tiny.network)


@pytest.mark.parametrize(
    ("served", "message"),
    [
        (lambda data: (bytes(len(data)), len(data)), "sha256 is"),
        (lambda data: (data[: len(data) // 2], len(data)), "interrupted after"),
        (lambda data: (data + b"extra", len(data) + 5), "offers"),
        (None, "HTTP 404"),
    ],
    ids=["wrong-checksum", "interrupted", "wrong-size", "http-error"],
)
def test_failed_download_keeps_nothing(tiny, server, served, message):
    if served:
        server.routes["/w"] = served(tiny.data)
    catalog = tiny.write_catalog(server.url + "/w")
    with pytest.raises(DownloadError) as error:
        load_model(MODEL_ID, catalog=catalog)
    assert message in str(error.value)
    assert "responsepredictor models import FILE" in str(error.value) and "Nothing was kept" in str(error.value)
    assert files_under(tiny.cache) == []


def test_no_server(tiny):
    with pytest.raises(DownloadError, match="cannot be reached .*offline.*models import FILE"):
        load_model(MODEL_ID, catalog=tiny.write_catalog())
    assert files_under(tiny.cache) == []


def test_silent_server_times_out(tiny):
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        catalog = tiny.write_catalog(f"http://127.0.0.1:{silent.getsockname()[1]}/w")
        with pytest.raises(DownloadError, match="0.5 s"):
            load_model(MODEL_ID, catalog=catalog, timeout=0.5)
    assert files_under(tiny.cache) == []


def test_download_not_allowed(tiny):
    with pytest.raises(WeightsError, match="not on this computer.*models import FILE"):
        load_model(MODEL_ID, catalog=tiny.write_catalog(), allow_download=False)


# --- embedded weights, import ---------------------------------------------------------------------

def test_embedded_weights_checked_against_sha256(tiny, caplog):
    catalog = tiny.write_catalog()
    embedded = tiny.catalog_dir / "Models" / WEIGHTS_FILE
    embedded.parent.mkdir()
    embedded.write_bytes(tiny.data)
    model = load_model(None, catalog=catalog)  # None: the catalog's default
    assert model.source == f"embedded {embedded}" and same_outputs(model.network, tiny.network)

    make_weights(embedded, seed=1)  # a valid weights file, but not the published one
    with pytest.raises(WeightsError, match="not on this computer"):
        load_model(MODEL_ID, catalog=catalog, allow_download=False)
    assert f"Ignoring {embedded}: its sha256 does not match" in caplog.text


def test_import_weights_file_into_cache(tiny):
    catalog = tiny.write_catalog()
    model = import_model(tiny.weights, catalog=catalog)
    assert model.source.startswith("cached ") and same_outputs(model.network, tiny.network)
    assert files_under(tiny.cache) == [tiny.cache / MODEL_ID / VERSION / WEIGHTS_FILE]
    assert load_model(MODEL_ID, catalog=catalog, allow_download=False).source.startswith("cached ")
    assert load_model(tiny.weights, catalog=catalog).source == f"file {tiny.weights}"


def test_import_unknown_weights_refused(tiny, tmp_path):
    other = tmp_path / "other.safetensors"
    make_weights(other, seed=7)
    with pytest.raises(CatalogError, match="not the weights file of any model.*model.json"):
        import_model(other, catalog=tiny.write_catalog())
    assert files_under(tiny.cache) == []


def write_model_folder(folder: Path, weights_name: str = "weights.safetensors", **spec_changes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps({**spec_dict(**spec_changes), "weights": {"file": weights_name}}))
    return folder / weights_name


def test_import_model_folder(tmp_path, tiny):
    weights = write_model_folder(tmp_path / "mine")
    network = make_weights(weights, seed=3)
    model = import_model(tmp_path / "mine", catalog=tiny.write_catalog())
    assert model.source == f"model folder {tmp_path / 'mine'}" and same_outputs(model.network, network)
    assert files_under(tiny.cache) == []  # folders are used where they are


def test_unwritable_cache(tiny, server, tmp_path, monkeypatch):
    server.routes["/w"] = (tiny.data, len(tiny.data))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker))  # a file where the cache folder should be
    catalog = tiny.write_catalog(server.url + "/w")
    for attempt in (lambda: load_model(MODEL_ID, catalog=catalog), lambda: import_model(tiny.weights, catalog=catalog)):
        with pytest.raises(CacheError, match=f"Cannot write to the model cache .*Set {CACHE_ENV}"):
            attempt()


# --- MONAI bundles -------------------------------------------------------------------------------

def test_bundle_round_trip(tmp_path, tiny):
    from monai.bundle import verify_net_in_out

    catalog = tiny.write_catalog()
    original = import_model(tiny.weights, catalog=catalog)
    bundle = export_bundle(original, tmp_path / "bundle")
    metadata = json.loads((bundle / "configs" / "metadata.json").read_text())
    required = ("version", "monai_version", "pytorch_version", "numpy_version", "required_packages_version",
                "task", "description", "authors", "copyright", "network_data_format")
    assert all(key in metadata for key in required)
    assert metadata["network_data_format"]["inputs"]["image"]["num_channels"] == 2
    network_def = json.loads((bundle / "configs" / "inference.json").read_text())["network_def"]
    assert network_def["_target_"] == "monai.networks.nets.UNet"
    assert isinstance(torch.load(bundle / "models" / "model.pt", weights_only=True), dict)
    # MONAI's own check: builds network_def and runs an input of the declared shape.
    verify_net_in_out(net_id="network_def", meta_file=str(bundle / "configs" / "metadata.json"),
                      config_file=str(bundle / "configs" / "inference.json"), device="cpu")

    loaded = load_bundle(bundle)
    assert loaded.spec == original.spec and loaded.source == f"MONAI bundle {bundle}"
    assert same_outputs(loaded.network, original.network)
    assert load_model(bundle, catalog=catalog).spec == original.spec
    assert import_model(bundle, catalog=catalog).spec == original.spec

    with pytest.raises(BundleError, match="not an empty folder"):
        export_bundle(original, bundle)


def test_third_party_bundle(tmp_path):
    """A model-zoo style bundle: only network_def is built; the rest of its config is never evaluated."""
    bundle = tmp_path / "zoo_bundle"
    (bundle / "configs").mkdir(parents=True)
    (bundle / "models").mkdir()
    network_def = {"_target_": "UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 2,
                   "channels": [4, 8], "strides": [2], "num_res_units": 1, "norm": "batch"}
    (bundle / "configs" / "inference.json").write_text(json.dumps({
        "imports": ["$import module_that_does_not_exist"],  # would fail if it were evaluated
        "device": "$torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')",
        "network_def": network_def,
        "network": "$@network_def.to(@device)",
        "preprocessing": {"_target_": "Compose", "transforms": [{"_target_": "LoadImaged", "keys": "image"}]},
    }))
    metadata = {"version": "0.4.2", "name": "Zoo spleen", "task": "spleen", "network_data_format": {}}
    (bundle / "configs" / "metadata.json").write_text(json.dumps(metadata))
    torch.manual_seed(5)
    network = build_network(ModelSpec.from_dict({**spec_dict(seed_channel=False), "network": {
        "name": "UNet", "args": {k: v for k, v in network_def.items() if k != "_target_"}}})).eval()
    torch.save(network.state_dict(), bundle / "models" / "model.pt")
    with pytest.raises(BundleError) as error:
        load_bundle(bundle)
    assert f"lacks what ResponsePredictor needs to prepare its input: {', '.join(BUNDLE_FIELDS)}" in str(error.value)
    assert f'"{BUNDLE_KEY}": {{"modality"' in str(error.value)  # an example to copy

    metadata[BUNDLE_KEY] = {"modality": "CT", "spacing": [1.5, 1.5, 2], "roi_size": [16, 16, 16],
                            "intensity_window": [-57, 164], "seed_channel": False}
    (bundle / "configs" / "metadata.json").write_text(json.dumps(metadata))
    loaded = load_bundle(bundle)
    assert (loaded.spec.id, loaded.spec.version, loaded.spec.in_channels) == ("Zoo spleen", "0.4.2", 1)
    x = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded.network(x), network(x))


@pytest.mark.parametrize(
    ("network_def", "message"),
    [
        ("$__import__('pathlib').Path(@marker).touch()", "Python expression"),
        ({"_target_": "pathlib.Path.touch", "self": "@marker"}, "not a network class"),
        ({"_target_": "monai.networks.utils.save_state", "src": {}, "path": "@marker"}, "not a network class"),
        ({"_target_": "UNet", "spatial_dims": "$3"}, "Python expression"),
        ({"_target_": "UNet", "_mode_": "debug"}, "'_mode_' is not supported"),
        ({"_target_": "UNet", "spatial_dims": "@loop"}, "relative or circular"),
        ({"_target_": "DenseNet121", "spatial_dims": 3, "in_channels": 2, "out_channels": 2, "pretrained": True},
         "fetch weights of its own"),
    ],
    ids=["expression", "foreign-target", "monai-function", "expression-arg", "debug-mode", "circular", "pretrained"],
)
def test_bundle_code_is_never_run(tmp_path, tiny, network_def, message):
    bundle = export_bundle(import_model(tiny.weights, catalog=tiny.write_catalog()), tmp_path / "bundle")
    marker = tmp_path / "code-ran"
    config_file = bundle / "configs" / "inference.json"
    config = json.loads(config_file.read_text())
    config.update(network_def=network_def, marker=str(marker), loop="@loop")
    config_file.write_text(json.dumps(config))
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)
    assert not marker.exists()


def test_bundle_network_that_cannot_be_built(tmp_path, tiny):
    bundle = export_bundle(import_model(tiny.weights, catalog=tiny.write_catalog()), tmp_path / "bundle")
    config_file = bundle / "configs" / "inference.json"
    config = json.loads(config_file.read_text())
    config["network_def"]["no_such_argument"] = 1
    config_file.write_text(json.dumps(config))
    with pytest.raises(BundleError, match="cannot build 'network_def': .*no_such_argument"):
        load_bundle(bundle)


def test_bundle_references_to_plain_values_are_inlined(tmp_path, tiny):
    original = import_model(tiny.weights, catalog=tiny.write_catalog())
    bundle = export_bundle(original, tmp_path / "bundle")
    config_file = bundle / "configs" / "inference.json"
    config = json.loads(config_file.read_text())
    config["network_def"].update(_target_="UNet", channels="@sizes::channels")
    config["sizes"] = {"channels": [4, 8]}
    config_file.write_text(json.dumps(config))
    assert same_outputs(load_bundle(bundle).network, original.network)


# --- bad weights ---------------------------------------------------------------------------------

class Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_torch_file_with_objects_refused(tmp_path):
    weights = write_model_folder(tmp_path / "m", "model.pt")
    state = dict(build_network(ModelSpec.from_dict(spec_dict())).state_dict())
    state["extra"] = Payload(tmp_path / "code-ran")
    torch.save(state, weights)
    with pytest.raises(WeightsError, match="pickle"):
        load_model(tmp_path / "m")
    assert not (tmp_path / "code-ran").exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on reading a raw pickle
def test_raw_pickle_renamed_pt_refused(tmp_path):
    weights = write_model_folder(tmp_path / "m", "model.pt")
    weights.write_bytes(pickle.dumps(Payload(tmp_path / "code-ran")))
    with pytest.raises(WeightsError, match="pickle"):
        load_model(tmp_path / "m")
    assert not (tmp_path / "code-ran").exists()


def test_truncated_weights_refused(tmp_path):
    weights = write_model_folder(tmp_path / "m")
    make_weights(weights)
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(WeightsError, match="Cannot read the weights"):
        load_model(tmp_path / "m")


def test_weights_for_another_network_refused(tmp_path):
    weights = write_model_folder(tmp_path / "m")
    make_weights(weights, channels=(8, 16))
    with pytest.raises(WeightsError, match="do not fit the network of tiny"):
        load_model(tmp_path / "m")


def test_missing_weights(tmp_path):
    write_model_folder(tmp_path / "m")
    with pytest.raises(WeightsError, match="weights.safetensors named in .*model.json is missing"):
        load_model(tmp_path / "m")


def test_model_folder_with_one_weights_file_needs_no_name(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(spec_dict()))
    network = make_weights(folder / "anything.safetensors")
    assert same_outputs(load_model(folder).network, network)


# --- catalog ---------------------------------------------------------------------------------------

def test_unknown_model_lists_known_ones(tiny):
    with pytest.raises(CatalogError, match="Unknown model 'nope'.*known: tiny"):
        load_model("nope", catalog=tiny.write_catalog())


def test_not_a_model_folder(tmp_path, tiny):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CatalogError, match="not a model folder"):
        load_model(tmp_path / "empty", catalog=tiny.write_catalog())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"models": [', "not valid JSON \\(line 1"),
        ('[]', "non-empty list 'models'"),
        (lambda e: {"default": "tiny", "models": [{k: v for k, v in e.items() if k != "spacing"}]}, "lacks spacing"),
        (lambda e: {"default": "other", "models": [e]}, "'default' must name one of the models \\(tiny\\)"),
        (lambda e: {"default": "tiny", "models": [e, e]}, "appears twice"),
        (lambda e: {"default": "tiny", "models": [{**e, "weights": {**e["weights"], "sha256": "abc"}}]}, "sha256"),
        (lambda e: {"default": "tiny", "models": [{**e, "weights": {**e["weights"], "file": "../x.safetensors"}}]},
         "plain file name"),
        (lambda e: {"default": "tiny", "models": [{**e, "weights": {**e["weights"], "url": None}}]}, "http"),
        (lambda e: {"default": "tiny", "models": [{k: v for k, v in e.items() if k != "license"}]}, "'license'"),
    ],
    ids=["bad-json", "no-models", "incomplete-spec", "bad-default", "duplicate", "bad-sha", "path-in-name",
         "no-url", "no-license"],
)
def test_malformed_catalog(tiny, text, message):
    path = tiny.write_catalog()
    if callable(text):
        text = json.dumps(text(json.loads(path.read_text())["models"][0]))
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_catalog(path)


def test_modality_warning():
    spec = ModelSpec.from_dict(spec_dict())
    assert check_modality(spec, "CT") is None and check_modality(spec, None) is None
    warning = check_modality(spec, "mr")
    assert "trained on CT" in warning and "this image is MR" in warning
    pet = ModelSpec.from_dict(spec_dict(modality="PET"))
    assert check_modality(pet, "PT") is None  # DICOM's code for PET


def test_shipped_catalog():
    catalog = read_catalog()
    entry = catalog.default()
    assert entry.spec.id == "nsclc-ct-tumor-seeded" and entry.spec.modality == "CT" and entry.spec.seed_channel
    assert "CC BY-NC 4.0" in entry.license
    build_network(entry.spec)
    embedded = catalog.embedded_dir / entry.weights.file
    if embedded.is_file():  # once the trained weights ship, they must be the ones the catalog describes
        assert sha256_file(embedded) == entry.weights.sha256 and embedded.stat().st_size == entry.weights.size
        assert (catalog.embedded_dir / entry.card).is_file()


# --- command line ----------------------------------------------------------------------------------

def test_models_command(tiny, server, tmp_path, capsys):
    server.routes["/w"] = (tiny.data, len(tiny.data))
    catalog = str(tiny.write_catalog(server.url + "/w"))
    assert main(["models", "--catalog", catalog, "list"]) == EXIT_OK
    assert "tiny 1.0.0 (default)" in capsys.readouterr().out
    assert main(["models", "--catalog", catalog, "download", "tiny"]) == EXIT_OK
    assert "downloaded from" in capsys.readouterr().out
    assert main(["models", "--catalog", catalog, "list"]) == EXIT_OK
    assert "weights: cached" in capsys.readouterr().out
    assert main(["models", "--catalog", catalog, "export-bundle", "tiny", str(tmp_path / "b")]) == EXIT_OK
    assert (tmp_path / "b" / "models" / "model.pt").is_file()
    assert main(["models", "--catalog", catalog, "import", str(tmp_path / "b")]) == EXIT_OK
    assert f"--model {tmp_path / 'b'}" in capsys.readouterr().out
    assert main(["models", "--catalog", catalog, "import", str(tiny.weights)]) == EXIT_OK
    assert "--model tiny" in capsys.readouterr().out


def test_models_command_errors(tiny, capsys):
    catalog = str(tiny.write_catalog())
    assert main(["models", "--catalog", catalog, "download", "tiny"]) == EXIT_INPUT
    assert "cannot be reached" in capsys.readouterr().err
    assert main(["models", "--catalog", catalog, "download", "nope"]) == EXIT_INPUT
    assert "Unknown model 'nope'" in capsys.readouterr().err

