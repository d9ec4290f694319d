"""Small PNG charts for asset metadata and alerts (matplotlib, imported only when drawing)."""

from __future__ import annotations

import base64
import io

import pandas as pd


def price_chart_png(
    frame: pd.DataFrame, title: str, width: float = 6.0, height: float = 2.2
) -> bytes:
    """A close-price line chart of a candle frame, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(width, height), dpi=80)
    try:
        axis.plot(frame["ts"], frame["close"], linewidth=0.8)
        axis.set_title(title, fontsize=9)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
        figure.autofmt_xdate()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def png_markdown(png: bytes, alt: str = "chart") -> str:
    """Markdown that embeds a PNG inline (how the Dagster UI shows an image in metadata)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
