"""Chart images -> tables: the column-scan baseline on charts with known tables, the relaxed cell accuracy by hand,
and data-variable replacement (round trips, ambiguity reported, never picked)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelwise.errors import DataError, ParameterError, ShapeError
from labelwise.generate.charts import (ColumnScanDerenderer, DataVariableReplacer, derender_charts,
                                       relaxed_cell_accuracy)
from labelwise.testing.charts import bar_charts, line_charts


def test_column_scan_reads_clean_bar_charts():
    charts = bar_charts(30, random_state=21)
    tables = derender_charts(charts.images, charts.axes)
    assert list(tables[0].columns) == ["item", "value", "x"] and tables[0].attrs["kind"] == "bar"
    scores = relaxed_cell_accuracy(tables, charts.tables, charts.axes)
    assert scores["count_accuracy"] == 1.0 and scores["relaxed_cell_accuracy"] >= 0.98
    # value labels above the bars: the notes' top-most run reads the label; the run on the baseline does not
    labelled = bar_charts(20, styles={"labels": 1.0}, random_state=22)
    top = relaxed_cell_accuracy(derender_charts(labelled.images, labelled.axes), labelled.tables, labelled.axes)
    base = relaxed_cell_accuracy(derender_charts(labelled.images, labelled.axes, ColumnScanDerenderer(run="baseline")),
                                 labelled.tables, labelled.axes)
    assert top["relaxed_cell_accuracy"] < 0.5 < 0.95 <= base["relaxed_cell_accuracy"]


def test_column_scan_reads_clean_line_charts():
    charts = line_charts(30, random_state=23)
    tables = derender_charts(charts.images, charts.axes, ColumnScanDerenderer(kind="line"))
    assert tables[0].attrs["kind"] == "line"
    scores = relaxed_cell_accuracy(tables, charts.tables, charts.axes)
    assert scores["count_accuracy"] >= 0.9 and scores["relaxed_cell_accuracy"] >= 0.9


def test_relaxed_cell_accuracy_by_hand():
    axes = np.array([[0.0, 100.0, 50.0, 0.0], [0.0, 10.0, 50.0, 0.0]])
    truth = [pd.DataFrame({"value": [10.0, 50.0, 90.0], "x": [10.0, 20.0, 30.0]}),
             pd.DataFrame({"value": [1.0, 2.0], "x": [10.0, 30.0]})]
    predicted = [pd.DataFrame({"value": [14.9, 56.0, 90.0], "x": [11.0, 19.0, 30.0]}),  # 5 % of 100: 5.0
                 pd.DataFrame({"value": [2.0, 1.0, 1.2], "x": [30.0, 40.5, 9.0]})]  # 40.5 is an extra bar
    scores = relaxed_cell_accuracy(predicted, truth, axes)
    assert scores == {"relaxed_cell_accuracy": 4 / 5, "count_accuracy": 1 / 2, "n_charts": 2, "n_cells": 5}
    # without x columns: in order when the counts agree, nothing otherwise
    no_x = [t[["value"]] for t in predicted]
    assert relaxed_cell_accuracy(no_x, [t[["value"]] for t in truth], axes)["relaxed_cell_accuracy"] == 2 / 5
    with pytest.raises(ShapeError):
        relaxed_cell_accuracy(predicted[:1], truth, axes)


def test_derender_charts_errors():
    with pytest.raises(ParameterError, match="predict_values"):
        derender_charts(np.zeros((1, 8, 8, 3)), np.zeros((1, 4)), model=object())
    with pytest.raises(ShapeError):
        derender_charts(np.zeros((2, 8, 8, 3)), np.zeros((1, 4)))
    with pytest.raises(ParameterError):
        derender_charts(np.zeros((1, 8, 8, 3)), [[0, 1, 8, 0]], model=ColumnScanDerenderer(kind="pie"))


def test_data_variable_replacement_by_hand():
    table = pd.DataFrame({"year": ["2016", "2017", "2018", "2019"], "sales": [12.5, 30.0, 27.25, 42.0]})
    dvr = DataVariableReplacer()
    template, bindings = dvr.encode("Sales peaked at 42.0 in 2019", table)
    assert template == "Sales peaked at <C1R3> in <C0R3>"
    assert [(b.text, b.cells, b.status) for b in bindings] == [("42.0", ((3, 1),), "bound"),
                                                                ("2019", ((3, 0),), "bound")]
    assert dvr.decode(template, table) == "Sales peaked at 42.0 in 2019"
    # other forms of a cell: rounded, percent of a fraction, millions; the unit stays in the text
    money = pd.DataFrame({"item": ["a", "b"], "share": [0.45, 0.55], "revenue": [1203456, 98000]})
    text = "b took 55% and a 45 %, with 1.2 M against 98k (98,000 exactly, 98000.0 rounded)."
    template, bindings = dvr.encode(text, money)
    assert template == ("<C0R1> took <C1R1|100:.0f>% and <C0R0> <C1R0|100:.0f> %, with <C2R0|1e-06:.1f> M against "
                        "<C2R1|0.001:.0f>k (<C2R1|1:,.0f> exactly, <C2R1|1:.1f> rounded).")
    assert dvr.decode(template, money) == text
    # 1.2 M is 1,203,456 within 1 %; 1.3 M is not (8 % off), so it stays as text, unmatched
    _, b = dvr.encode("1.3 M", money)
    assert [x.status for x in b] == ["unmatched"]


def test_ambiguous_matches_are_reported_not_picked():
    table = pd.DataFrame({"city": ["Oslo", "Bergen", "Oslo"], "temp": [7.0, 7.0, 3.5]})
    template, bindings = DataVariableReplacer().encode("Oslo had 7.0 twice, Bergen 3.5", table)
    assert template == "Oslo had 7.0 twice, <C0R1> <C1R2>"
    status = {b.text: (b.status, b.cells) for b in bindings}
    assert status["Oslo"] == ("ambiguous", ((0, 0), (2, 0)))
    assert status["7.0"] == ("ambiguous", ((0, 1), (1, 1)))
    with pytest.raises(DataError, match="already holds a cell reference"):
        DataVariableReplacer().encode("see <C0R1>", table)
    with pytest.raises(DataError, match="outside the table"):
        DataVariableReplacer().decode("<C5R0>", table)


def test_round_trip_on_a_thousand_synthetic_summaries():
    rng = np.random.default_rng(0)
    dvr = DataVariableReplacer()
    bound = ambiguous = 0
    for k in range(1000):
        n = int(rng.integers(3, 8))
        labels = [f"item{j}" for j in rng.choice(40, n, replace=False)]
        values = np.round(rng.uniform(0, 200, n), int(rng.integers(0, 3)))
        if k % 10 == 0:
            values[1] = values[0]  # a repeated value: must be reported, not picked
        table = pd.DataFrame({"label": labels, "value": values})
        i, j = int(np.argmax(values)), int(np.argmin(values))
        text = (f"{labels[i]} is highest at {values[i]}, {labels[j]} lowest at {values[j]:.1f}; "
                f"{labels[0]} and {labels[1]} had {values[0]} and {values[1]} out of {n} items.")
        template, bindings = dvr.encode(text, table)
        assert dvr.decode(template, table) == text
        bound += sum(b.status == "bound" for b in bindings)
        ambiguous += sum(b.status == "ambiguous" for b in bindings)
        if k % 10 == 0:
            assert any(b.status == "ambiguous" and b.text == str(values[0]) for b in bindings)
    assert bound > 5000 and ambiguous >= 100
