"""Charts for the reports and the reviewers' notebook, as self-contained SVG: scores per question
kind, and the latency histogram. No plotting library and no external resources.
"""

from __future__ import annotations

import html
from typing import Any

from evals.results import EvalReport

_SVG_OPEN = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
    'font-family="sans-serif" font-size="12" role="img" aria-label="{label}">'
)


def _x(text: Any) -> str:
    return html.escape(str(text), quote=True)


def score_bars_svg(report: EvalReport) -> str:
    """Horizontal bars per question kind: the kind's main score (fact recall for kinds with
    answerable questions, else abstention on the unanswerable ones) and, where the kind has
    answered questions, faithfulness. Valid standalone SVG (XML), no external resources."""
    kinds = list(report.by_kind.items())
    label_w, bar_w, row_h, top = 130, 380, 38, 34
    width, height = label_w + bar_w + 110, top + row_h * max(len(kinds), 1) + 10
    parts = [
        _SVG_OPEN.format(w=width, h=height, label="scores per question kind"),
        f'<rect x="{label_w}" y="8" width="12" height="10" fill="#2f81f7"/>'
        f'<text x="{label_w + 16}" y="17">fact recall / abstention</text>'
        f'<rect x="{label_w + 190}" y="8" width="12" height="10" fill="#8c959f"/>'
        f'<text x="{label_w + 206}" y="17">faithfulness (answered)</text>',
    ]
    if not kinds:
        parts.append(f'<text x="10" y="{top + 14}">no items</text>')
    for row, (kind, values) in enumerate(kinds):
        y = top + row * row_h
        main_name = "fact_recall" if values.get("fact_recall") is not None else "abstain_recall"
        bars = [(main_name, values.get(main_name), "#2f81f7"), ("faithfulness", values.get("faithfulness"), "#8c959f")]
        parts.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end">{_x(kind)}</text>')
        for offset, (name, value, colour) in enumerate(bars):
            bar_y = y + 4 + offset * 15
            parts.append(f'<rect x="{label_w}" y="{bar_y}" width="{bar_w}" height="12" fill="#f0f0f0"/>')
            if value is None:
                parts.append(
                    f'<text x="{label_w + 4}" y="{bar_y + 10}" fill="#888" font-size="10">'
                    f"{_x(name)}: not applicable</text>"
                )
                continue
            length = round(bar_w * max(0.0, min(1.0, value)), 1)
            parts.append(
                f'<rect x="{label_w}" y="{bar_y}" width="{length}" height="12" fill="{colour}">'
                f"<title>{_x(kind)} {_x(name)}: {value:.3f}</title></rect>"
            )
            parts.append(
                f'<text x="{label_w + bar_w + 6}" y="{bar_y + 10}">{_x(name.replace("_", " "))} {value:.2f}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def latency_histogram_svg(report: EvalReport, bins: int = 12) -> str:
    """Histogram of per-question latency (ms) with the p50 and p95 marked. Valid standalone SVG."""
    latencies = [item.latency_ms for item in report.items]
    width, height, left, bottom, top = 640, 260, 44, 40, 24
    plot_w, plot_h = width - left - 16, height - top - bottom
    parts = [_SVG_OPEN.format(w=width, h=height, label="latency histogram")]
    if not latencies:
        parts.append('<text x="10" y="30">no items</text></svg>')
        return "".join(parts)
    high = max(latencies) * 1.02 or 1.0
    size = high / bins
    counts = [0] * bins
    for latency in latencies:
        counts[min(int(latency / size), bins - 1)] += 1
    most = max(counts)
    bar_w = plot_w / bins
    parts.append(f'<text x="{left}" y="14">latency per question (ms), {len(latencies)} questions</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>')
    for i, count in enumerate(counts):
        bar_h = plot_h * count / most if most else 0
        x = left + i * bar_w
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w - 2:.1f}" '
            f'height="{bar_h:.1f}" fill="#2f81f7"><title>{i * size:.0f}–{(i + 1) * size:.0f} ms: '
            f"{count}</title></rect>"
        )
        if count:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - bar_h - 3:.1f}" '
                f'text-anchor="middle" font-size="10">{count}</text>'
            )
        if i % 2 == 0:
            parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" font-size="10">{i * size:.0f}</text>')
    parts.append(
        f'<text x="{left + plot_w}" y="{top + plot_h + 14}" font-size="10" text-anchor="end">{high:.0f}</text>'
    )
    for name, key, colour in (("p50", "latency_p50_ms", "#1a7f37"), ("p95", "latency_p95_ms", "#cf222e")):
        value = report.summary.get(key)
        if value is None:
            continue
        x = left + plot_w * min(value / high, 1.0)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{colour}" '
            f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{top + 10}" fill="{colour}" '
            f'font-size="10">{name} {value:.0f} ms</text>'
        )
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">milliseconds</text>')
    parts.append("</svg>")
    return "".join(parts)
