"""PET voxel values in Bq/ml converted to the standardized uptake value by body weight (SUVbw).

Following the QIBA vendor-neutral SUV computation, for a series whose Units (0054,1001) are BQML::

    SUVbw = C x factor,   factor = PatientWeight [kg] x 1000 [g/kg] / D

with C the voxel's activity concentration (Bq/ml, after RescaleSlope/Intercept) and D the injected
dose, RadionuclideTotalDose [Bq] of RadiopharmaceuticalInformationSequence[0], decayed to the time
the voxels are decay corrected to, as DecayCorrection (0054,1102) says:

- ``START``: the voxels are corrected to the start of the acquisition, so the dose is decayed from
  injection to that same moment: D = dose x 2^(-(scan - injection) / RadionuclideHalfLife [s]).
  The scan time is SeriesDate/SeriesTime, the start of the series: one moment for all its slices,
  as the decay correction's reference is one moment, whereas AcquisitionTime differs between the
  bed positions of a whole-body scan (and, in some exports, between slices). A series time
  rewritten by post-processing, later than the acquisition, would silently inflate the SUV: it is
  refused when the header's AcquisitionTime lies before SeriesTime (QIBA checks the earliest
  acquisition time; any one before the series time shows the rewrite).
  The injection time is RadiopharmaceuticalStartDateTime, or else RadiopharmaceuticalStartTime on
  the SeriesDate. Without dates, times of day are compared within one day, so a scan that ran past
  midnight needs its dates. The scan must not precede the injection.
- ``ADMIN``: the voxels are already corrected back to the administration, so D = dose.
- ``NONE`` or anything else: each bed position decayed for its own time and no single factor
  applies; refused.

Units ``GML`` are already SUVbw (computed by the scanner): the factor is 1 and the values are kept.
Other units (CNTS, PROPCPS, ...) are not activity concentrations and are refused. Every missing or
unusable element needed is a ``DicomSeriesError`` naming it, with what the user can do.
"""

from __future__ import annotations

from datetime import date, datetime, time

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.valuerep import DA, DT, TM

from .errors import DicomSeriesError

_REMEDY = ("Add or correct it in the DICOM headers, or convert the PET to SUV with other software (e.g. 3D Slicer's "
           "PET DICOM extension) and give the scan as NRRD or NIfTI.")


def suv_body_weight_factor(header: Dataset) -> float:
    """The factor that turns a PET series' voxel values into SUV body weight (1 where they already are).

    ``header``: the full header (pixels not needed) of one slice of the series. See the module's
    docstring for the formula and what is refused.
    """
    units = _text(header, "Units", "the unit of the voxel values")
    if units == "GML":
        return 1.0
    if units != "BQML":
        raise DicomSeriesError(
            f"The PET values are in {units} (Units (0054,1001)), not an activity concentration (BQML) or SUV "
            "(GML), so they cannot be converted to SUV. Export the series in Bq/ml or SUV from the scanner, or "
            "give a scan already in SUV as NRRD or NIfTI."
        )
    correction = _text(header, "DecayCorrection", "the decay correction of the voxel values")
    if correction not in ("START", "ADMIN"):
        raise DicomSeriesError(
            f"The PET values are decay corrected to {correction!r} (DecayCorrection (0054,1102)); SUV needs "
            "them corrected to the acquisition start (START) or the administration (ADMIN). Reconstruct or "
            "export them so, or give a scan already in SUV as NRRD or NIfTI."
        )
    weight = _positive(header, "PatientWeight", "the patient's weight (kg)")
    drugs = header.get("RadiopharmaceuticalInformationSequence")
    if not drugs:
        raise _missing("RadiopharmaceuticalInformationSequence", "the injected dose and its time", None)
    drug = drugs[0]
    dose = _positive(drug, "RadionuclideTotalDose", "the injected dose (Bq)")
    if correction == "START":
        half_life = _positive(drug, "RadionuclideHalfLife", "the radionuclide's half life (s)")
        dose *= 2.0 ** (-_seconds_from_injection_to_scan(header, drug) / half_life)
    return weight * 1000.0 / dose


def _seconds_from_injection_to_scan(header: Dataset, drug: Dataset) -> float:
    series_date = _when(header, "SeriesDate", DA, "the series date", required=False)
    scan = (series_date, _when(header, "SeriesTime", TM, "the series time (the scan time)"))
    if "RadiopharmaceuticalStartDateTime" in drug:
        # Local time, as SeriesTime is; an offset from UTC, if any, is the same for both.
        start = _when(drug, "RadiopharmaceuticalStartDateTime", DT, "the injection time").replace(tzinfo=None)
        injection = (start.date(), start.time())
    else:
        injection = (series_date, _when(drug, "RadiopharmaceuticalStartTime", TM, "the injection time"))
    elapsed = _seconds_between(injection, scan)
    if elapsed < 0:
        undated = "" if series_date else " The series has no SeriesDate: a scan past midnight needs the dates."
        raise DicomSeriesError(
            f"The PET series time ({header.SeriesTime}) lies before the injection time, so the dose cannot be "
            f"decayed to the scan.{undated} Correct SeriesDate/SeriesTime or the radiopharmaceutical's start "
            "time, or give a scan already in SUV as NRRD or NIfTI."
        )
    acquired = _when(header, "AcquisitionTime", TM, "the acquisition time", required=False)
    if acquired is not None:
        acquired_date = _when(header, "AcquisitionDate", DA, "the acquisition date", required=False) or series_date
        if _seconds_between(scan, (acquired_date, acquired)) < 0:
            raise DicomSeriesError(
                f"The PET series time ({header.SeriesTime}) is later than the acquisition time "
                f"({header.AcquisitionTime}): the series time was rewritten after the scan and no longer marks "
                "the acquisition start that the decay correction refers to. Give a scan already in SUV as NRRD "
                "or NIfTI."
            )
    return elapsed


def _seconds_between(earlier: tuple[date | None, time], later: tuple[date | None, time]) -> float:
    """Seconds from ``earlier`` to ``later`` (date, time of day); times of day alone where a date is missing."""
    if earlier[0] is None or later[0] is None:
        earlier, later = (date.min, earlier[1]), (date.min, later[1])
    first, second = (datetime.combine(day, clock.replace(tzinfo=None)) for day, clock in (earlier, later))
    return (second - first).total_seconds()


def _tag(keyword: str) -> str:
    return str(Tag(tag_for_keyword(keyword)))


def _missing(keyword: str, what: str, value: object) -> DicomSeriesError:
    found = "is missing" if value in (None, "") else f"is {str(value)!r}, which is not usable"
    return DicomSeriesError(
        f"The PET series' {keyword} {_tag(keyword)}, {what}, {found}; SUV cannot be computed without it. {_REMEDY}"
    )


def _text(dataset: Dataset, keyword: str, what: str) -> str:
    value = str(dataset.get(keyword) or "").strip().upper()
    if not value:
        raise _missing(keyword, what, None)
    return value


def _positive(dataset: Dataset, keyword: str, what: str) -> float:
    value = dataset.get(keyword)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not number > 0:
        raise _missing(keyword, what, value)
    return number


def _when(dataset: Dataset, keyword: str, kind: type, what: str, *, required: bool = True):  # noqa: ANN202
    """A date, time or date-time element parsed (``kind``: DA, TM or DT); None if absent and not required."""
    value = str(dataset.get(keyword) or "").strip()
    if not value:
        if required:
            raise _missing(keyword, what, None)
        return None
    try:
        return kind(value)
    except ValueError:
        raise _missing(keyword, what, value) from None
