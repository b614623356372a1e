"""A spy for leak tests: which rows reach a fitting step during cross-validation, and never a test fold's."""

from __future__ import annotations

from typing import Any

from ResponsePredictorLib.predict import validation as validation_module


def spy_fits(monkeypatch: Any, fitted: type) -> list[int]:
    """Patch ``fitted.fit`` and the outer-fold fit so that a test case of the running outer fold reaching
    ``fitted.fit`` fails the test; returns the list that receives the row count of every fit."""
    held_out: set[str] = set()
    fits: list[int] = []
    fit_fold, fit = validation_module._fit_fold, fitted.fit

    def spy_fold(model, X, y, train, test):
        held_out.clear()
        held_out.update(X.index[test])
        return fit_fold(model, X, y, train, test)

    def spy_fit(self, table, y=None):
        assert not held_out & set(table.index), f"a test case reached {fitted.__name__}"
        fits.append(len(table))
        return fit(self, table, y)

    monkeypatch.setattr(validation_module, "_fit_fold", spy_fold)
    monkeypatch.setattr(fitted, "fit", spy_fit)
    return fits
