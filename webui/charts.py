"""Small server-side SVG line charts (no JavaScript library, nothing from a CDN)."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape


def _fmt(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def line_chart(points: list[tuple[datetime, float]], *, title: str, unit: str = "",
               width: int = 520, height: int = 160) -> Markup:
    """An SVG chart of ``points`` (oldest first); an empty frame when there are none."""
    pad_l, pad_r, pad_t, pad_b = 48, 8, 18, 22
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    parts = [f'<svg class="chart" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
             f'<text x="{pad_l}" y="12">{escape(title)}</text>',
             f'<line class="axis" x1="{pad_l}" y1="{pad_t + h}" x2="{pad_l + w}" '
             f'y2="{pad_t + h}"/>',
             f'<line class="axis" x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + h}"/>']
    values = [float(v) for _, v in points]
    if len(points) >= 2:
        t0, t1 = points[0][0].timestamp(), points[-1][0].timestamp()
        span = (t1 - t0) or 1.0
        top = max(max(values), 1e-9)
        coords = " ".join(
            f"{pad_l + (t.timestamp() - t0) / span * w:.1f},"
            f"{pad_t + h - (float(v) / top) * h:.1f}" for t, v in points)
        parts.append(f'<polyline class="line" points="{coords}"/>')
        parts.append(f'<text x="2" y="{pad_t + 8}">{_fmt(top)}{escape(unit)}</text>')
        parts.append(f'<text x="2" y="{pad_t + h}">0</text>')
        parts.append(f'<text x="{pad_l}" y="{height - 4}">'
                     f'{points[0][0].strftime("%m-%d %H:%M")}</text>')
        parts.append(f'<text x="{pad_l + w - 70}" y="{height - 4}">'
                     f'{points[-1][0].strftime("%m-%d %H:%M")}</text>')
    else:
        parts.append(f'<text x="{pad_l + 10}" y="{pad_t + h / 2}">no data</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only
