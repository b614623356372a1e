"""Command-line options of the features beyond the primary tumor's radiomics, shared by ``features``, ``run``
and ``train``: the other scans' feature settings, the peritumoral shells and the deep features."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SettingsError
from ..features.columns import check_scan_name
from ..features.recipe import checked_distances, named_settings


@dataclass(frozen=True)
class ScanOptions:
    presets: tuple[tuple[str, str], ...]  # (scan name, preset)
    params: tuple[tuple[str, str], ...]  # (scan name, parameter file)
    peritumoral: tuple[float, ...]
    body: bool
    deep: str | None  # the network of the deep features (a catalog id, a folder, "default"), or None

    def given(self) -> dict[str, Any]:
        """The scans' settings as given: a preset name, or the parameter file's settings."""
        return named_settings(self.presets, self.params)


def add_scan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scan-preset", action="append", default=[], metavar="NAME=PRESET",
                        help="feature preset of the other scan NAME (default: its modality's, from its name: PET -> pet, "
                        "CT -> ct, MR_T1 -> mr); repeat for several scans")
    parser.add_argument("--scan-params", action="append", default=[], metavar="NAME=FILE",
                        help="pyradiomics parameter file of the other scan NAME; repeat for several scans")
    parser.add_argument("--peritumoral", default="", metavar="MM[,MM...]",
                        help="also the features of the tissue around the tumor: the voxels outside it whose centre lies "
                        "within MM millimetres of a tumor voxel's centre (inside the scan), for each MM, on every scan, "
                        "prefixed peri<MM>mm_")
    parser.add_argument("--peritumoral-body", action="store_true",
                        help="limit a CT's peritumoral shells to the body (voxels above -500 HU, holes filled)")
    parser.add_argument("--deep-features", "--deep", nargs="?", const="default", metavar="MODEL", dest="deep_features",
                        help="also the tumor's deep features (columns deep_0, ...): a segmentation network's encoder "
                        "outputs averaged over the tumor; MODEL a catalog id or model folder (default: the shipped "
                        "segmentation network)")


def scan_options(args: argparse.Namespace) -> ScanOptions:
    """The options checked; a ``SettingsError`` says what is wrong."""
    presets = tuple(named_value(text, "--scan-preset") for text in args.scan_preset)
    params = tuple((name, str(Path(value))) for name, value in (named_value(text, "--scan-params") for text in args.scan_params))
    named = [name for name, _ in presets + params]
    twice = sorted({name for name in named if named.count(name) > 1})
    if twice:
        raise SettingsError(f"Settings are given twice for the scan(s) {', '.join(twice)}.")
    distances = checked_distances(part for part in args.peritumoral.split(",") if part.strip())
    if args.peritumoral_body and not distances:
        raise SettingsError("--peritumoral-body limits the shells of --peritumoral MM: give the distances too.")
    return ScanOptions(presets, params, distances, args.peritumoral_body, args.deep_features)


def named_value(text: str, option: str) -> tuple[str, str]:
    """``NAME=VALUE`` as (checked scan name, value)."""
    name, separator, value = text.partition("=")
    if not separator or not value.strip():
        raise SettingsError(f"{option} takes NAME=VALUE (e.g. PET=pet); got {text!r}.")
    return check_scan_name(name.strip()), value.strip()
