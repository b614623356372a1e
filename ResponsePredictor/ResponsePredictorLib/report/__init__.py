"""Pictures for people, one module each (imported from there, so that none loads the others' libraries):

- ``overlay.save_overlay_picture``: slices through the tumor with the scan, its contour and a heatmap;
- ``case_report.case_report``: one case's report.png (overlay, prediction with interval, top contributions);
- ``cohort_report.cohort_report``: a run's index.html with ROC and calibration, or Kaplan-Meier, curves;
- ``curves``: those curves' numbers (scikit-learn, scikit-survival) and plots.
"""
