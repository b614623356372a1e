"""``responsepredictor segment IMAGE --seed X,Y,Z [--seed ...] [--negative X,Y,Z ...] [--roi X0,Y0,Z0,X1,Y1,Z1]
[--previous-mask MASK] -o MASK``: tumor segmentation from clicks on the tumor, clicks on what is not tumor,
and a box, correcting an earlier mask."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine_status import report_progress
from ..errors import InputError
from ..volume import read_mask, read_volume, write_volume


PREVIOUS_MASK_ADVICE = "Give the mask segmented from this scan (the last one written for it)."


def coordinates(count: int):
    """An argparse type: ``count`` comma-separated numbers (mm)."""

    def parse(text: str) -> tuple[float, ...]:
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            values = ()
        if len(values) != count:
            raise argparse.ArgumentTypeError(f"expected {count} comma-separated numbers in mm, got {text!r}")
        return values

    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "segment",
        help="segment the tumor at a click or in a box (MONAI network)",
        description="Segment the tumor at seed points or inside a box with a MONAI model, corrected by points that "
        "are not tumor, and write the mask on the image's own grid. The first seed (or the box) decides the region "
        "the model sees; further seeds add tumor it missed, --negative points remove what it wrongly added. "
        "Coordinates are millimetres in the image's physical space, LPS (as SimpleITK and DICOM; Slicer shows RAS: "
        "negate x and y).",
    )
    parser.add_argument("image", type=Path, help="image file (NRRD, NIfTI, MHA) or DICOM series folder")
    parser.add_argument("--seed", type=coordinates(3), action="append", metavar="X,Y,Z",
                        help="a point on the tumor (mm, LPS); repeat for more")
    parser.add_argument("--negative", type=coordinates(3), action="append", metavar="X,Y,Z",
                        help="a point that is not tumor (mm, LPS), for a model that takes them; repeat for more")
    parser.add_argument("--previous-mask", type=Path, metavar="MASK",
                        help="the mask these points correct (the one made without the newest point), for a model that is "
                        "shown it; without it the points are replayed in a fixed order: the box or first seed, the "
                        "further seeds, then the not-tumor points")
    parser.add_argument("--roi", type=coordinates(6), metavar="X0,Y0,Z0,X1,Y1,Z1", help="two opposite box corners (mm, LPS)")
    parser.add_argument("--whole-volume", action="store_true",
                        help="sliding-window inference over the whole scan (the seed, if any, guides a guided model)")
    parser.add_argument("--model", help="catalog id, model folder, MONAI bundle or weights file (default: the catalog's default)")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu or cuda")
    parser.add_argument("--modality", help="the image's modality (CT, MR, PET): warns when the model was made for another")
    parser.add_argument("--series", help="DICOM SeriesInstanceUID when the image folder holds several series")
    parser.add_argument("--offline", action="store_true", help="never download model weights")
    parser.add_argument("--probability", type=Path, metavar="PROB.nrrd", help="also write the tumor probability (x 255, uint8)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output mask (NRRD, NIfTI or MHA)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    # Said before the model loads (seconds), as bad input: the command line parsed, but cannot be followed.
    if args.whole_volume and (args.roi or args.previous_mask):
        raise InputError("--whole-volume takes optional --seed and --negative points, not a --roi or a --previous-mask")
    if not args.whole_volume and not args.seed and not args.roi:
        raise InputError("show the tumor: give --seed X,Y,Z (a point on it) or --roi (a box around it)")
    report_progress("load", 0.0, "Loading the segmentation model")
    # torch and MONAI load here, not when the command line starts (seconds for every other command).
    from ..catalog import check_modality, load_model
    from ..segment.inference import Segmenter

    model = load_model(args.model, device="cpu", allow_download=not args.offline)
    warning = check_modality(model.spec, args.modality)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    segmenter = Segmenter(model.spec, model.network, device=args.device)
    report_progress("read", 0.3, "Reading the scan")
    image = read_volume(args.image, series_uid=args.series)
    previous = None
    if args.previous_mask and not model.spec.previous_mask_channel:
        print(f"warning: {model.spec.id} {model.spec.version} is not shown a previous mask; --previous-mask is "
              "not used", file=sys.stderr)
    elif args.previous_mask:
        previous = read_mask(args.previous_mask, image, advice=PREVIOUS_MASK_ADVICE)
    report_progress("segment", 0.4, "Segmenting the tumor")
    if args.whole_volume:
        result = segmenter.segment_volume(image, seed=args.seed, negative=args.negative, probability=bool(args.probability))
    else:
        result = segmenter.segment_roi(image, seed=args.seed, box=args.roi, negative=args.negative,
                                       previous=previous, probability=bool(args.probability))
    for message in result.warnings:
        print(f"warning: {message}", file=sys.stderr)
    report_progress("write", 0.95, "Writing the tumor mask")
    write_volume(result.mask, args.output)
    if args.probability:
        write_volume(result.probability, args.probability)
    voxels = int(result.mask.array.sum())
    volume_ml = voxels * float(result.mask.spacing[0] * result.mask.spacing[1] * result.mask.spacing[2]) / 1000
    seconds = sum(result.timings.values())
    print(f"tumor: {voxels} voxels ({volume_ml:.1f} ml) -> {args.output} in {seconds:.1f} s "
          f"with {model.spec.id} {model.spec.version} on {segmenter.device}")
