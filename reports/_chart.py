"""A bar chart drawn on the server as SVG, with the same numbers as a table: no JavaScript, no
library, readable by a screen reader. The SVG is one image (``role="img"``) named by its
``<title>`` and described by its ``<desc>``, which says every number; the table gives them again,
each linking to the cases behind it. The links are in the table only: a link inside an image is
hidden from assistive technology, and a link in a visually hidden table would take keyboard
focus where nobody sees it, so a hidden table has none."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from reports.filters import CaseFilter

__all__ = ["Bar", "bar_chart"]

# The GOV.UK Design System's colours: bars in its blue, text and axes in its text colour.
_BAR = "#1d70b8"
_TEXT = "#0b0c0c"
_GRID = "#b1b4b6"
_WIDTH, _HEIGHT = 720, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 16, 16, 64


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar (short)
    long_label: str  # in the description and the table
    value: int
    case_filter: CaseFilter


def _ticks(top: int) -> list[int]:
    """Whole-number gridlines up to at least ``top``: about five of them."""
    step = max(1, -(-top // 5))
    return list(range(0, max(top, 1) + step, step))


def bar_chart(
    bars: Sequence[Bar],
    *,
    chart_id: str,
    title: str,
    value_heading: str,
    label_heading: str,
    href: Callable[[CaseFilter], str] | None = None,
    table_visually_hidden: bool = False,
) -> str:
    """An HTML fragment: a ``<div>`` with the SVG chart and a table of the same data.

    ``href`` makes each of the table's values a link to the cases behind it (the page's URL of
    the case list for that filter). ``table_visually_hidden``: the table is for screen readers
    only (GOV.UK's ``govuk-visually-hidden``), and then has no links (see the module)."""
    ident = escape(chart_id, quote=True)
    ticks = _ticks(max((b.value for b in bars), default=0))
    scale_top = ticks[-1] or 1
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    slot = plot_w / max(len(bars), 1)
    description = "; ".join(f"{b.long_label}: {b.value}" for b in bars) or "no data"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{ident}-title {ident}-desc" '
        f'font-family="arial, sans-serif" font-size="14">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]
    for tick in ticks:
        y = _TOP + plot_h - plot_h * tick / scale_top
        parts.append(
            f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_WIDTH - _RIGHT}" y2="{y:.1f}" '
            f'stroke="{_GRID}" stroke-width="1" aria-hidden="true"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 8}" y="{y + 5:.1f}" text-anchor="end" fill="{_TEXT}" '
            f'aria-hidden="true">{tick}</text>'
        )
    for i, bar in enumerate(bars):
        height = plot_h * bar.value / scale_top
        x = _LEFT + i * slot + slot * 0.15
        y = _TOP + plot_h - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{height:.1f}" '
            f'fill="{_BAR}"/>'
        )
        centre = _LEFT + i * slot + slot / 2
        parts.append(
            f'<text x="{centre:.1f}" y="{_HEIGHT - _BOTTOM + 18}" text-anchor="middle" '
            f'fill="{_TEXT}" aria-hidden="true">{escape(bar.label)}</text>'
        )
    parts.append(
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_WIDTH - _RIGHT}" y2="{_TOP + plot_h}" '
        f'stroke="{_TEXT}" stroke-width="2" aria-hidden="true"/>'
    )
    parts.append("</svg>")
    hidden = " govuk-visually-hidden" if table_visually_hidden else ""
    rows = []
    for bar in bars:
        value = str(bar.value)
        if href is not None and not table_visually_hidden:
            link = escape(href(bar.case_filter), quote=True)
            value = f'<a class="govuk-link" href="{link}">{value}</a>'
        rows.append(
            f'<tr class="govuk-table__row"><th scope="row" class="govuk-table__header">'
            f'{escape(bar.long_label)}</th><td class="govuk-table__cell '
            f'govuk-table__cell--numeric">{value}</td></tr>'
        )
    table = (
        f'<table class="govuk-table{hidden}" id="{ident}-table">'
        f'<caption class="govuk-table__caption govuk-table__caption--s">{escape(title)}</caption>'
        f'<thead class="govuk-table__head"><tr class="govuk-table__row">'
        f'<th scope="col" class="govuk-table__header">{escape(label_heading)}</th>'
        f'<th scope="col" class="govuk-table__header govuk-table__header--numeric">'
        f"{escape(value_heading)}</th></tr></thead>"
        f'<tbody class="govuk-table__body">{"".join(rows)}</tbody></table>'
    )
    return f'<div class="cme-chart" id="{ident}">{"".join(parts)}{table}</div>'
