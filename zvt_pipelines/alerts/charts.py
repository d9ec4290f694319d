"""A small PNG line chart of an alert's recent prices (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

import io

from zvt_pipelines.alerts.alert import Alert


def price_chart_png(
    alert: Alert, width: float = 4.0, height: float = 2.0, dpi: int = 80
) -> bytes | None:
    """The alert's recent prices (with the threshold as a dashed line when it is a price near
    that range) as PNG bytes.

    None when there are fewer than two prices to draw. Uses an explicit Figure rather than
    pyplot, so it is thread-safe and leaves no global figure state behind.
    """
    if len(alert.recent_prices) < 2:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(range(len(alert.recent_prices)), alert.recent_prices, color="#1f77b4", linewidth=1.2)
    low, high = min(alert.recent_prices), max(alert.recent_prices)
    if alert.threshold is not None and 0.8 * low <= alert.threshold <= 1.2 * high:
        axes.axhline(alert.threshold, color="#d62728", linestyle="--", linewidth=0.8)
    axes.set_title(alert.instrument or alert.title, fontsize=8)
    axes.tick_params(labelsize=6)
    axes.set_xticks([])
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
