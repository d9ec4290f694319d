"""How the portfolio tables are shown: markdown tables and small PNG bar charts.

matplotlib is imported only when a chart is drawn.
"""

from __future__ import annotations

import io
import math
from decimal import Decimal

import pandas as pd


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:,.4f}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def markdown_table(frame: pd.DataFrame, index: bool = False) -> str:
    """A GitHub markdown table of `frame` (floats to 4 places, money to 2, NaN blank)."""
    shown = frame.reset_index() if index else frame
    lines = [
        "| " + " | ".join(str(c) for c in shown.columns) + " |",
        "|" + "---|" * len(shown.columns),
    ]
    lines += [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in shown.itertuples(index=False)
    ]
    return "\n".join(lines)


def bar_chart_png(values: pd.DataFrame | pd.Series, title: str, ylabel: str) -> bytes:
    """A (grouped) bar chart: one group per index label, one bar per column, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(6.0, 2.6), dpi=80)
    try:
        values.plot.bar(ax=axis, rot=0, width=0.8)
        axis.set_title(title, fontsize=9)
        axis.set_ylabel(ylabel, fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(axis="y", alpha=0.3)
        if isinstance(values, pd.DataFrame):
            axis.legend(fontsize=7)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(figure)
