"""The report's content, as a self-contained page and as Markdown."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from simulator.report.content import Table
from simulator.report.template import PAGE

if TYPE_CHECKING:
    from simulator.report.content import Content


def html_page(
    content: Content,
    time_plots: dict[str, str],
    latency_plots: dict[str, str],
) -> str:
    """``report.html``: verdict, tables and inline SVG plots."""
    parts = [_html_table(content.targets, "No targets set.")]
    if content.notes:
        items = "".join(f"<li>{escape(note)}</li>" for note in content.notes)
        parts.append(f'<ul class="notes">{items}</ul>')
    if content.comparison is not None:
        parts.append(_html_table(content.comparison, "Nothing compared."))

    parts.append("<h2>Over simulated time</h2>")
    parts += [_figure(title, svg) for title, svg in time_plots.items()]
    if not time_plots:
        parts.append("<p>The run holds no time series.</p>")

    parts.append("<h2>Latency by endpoint</h2>")
    parts.append(_html_table(content.endpoints, "No endpoints."))
    parts += [_figure(title, svg) for title, svg in latency_plots.items()]

    for table in (content.kpis, content.systems, content.metadata):
        parts.append(_html_table(table, ""))

    verdict_class = {True: "pass", False: "fail", None: "none"}[content.passed]
    return PAGE.substitute(
        title=escape(content.title),
        subtitle=escape(_subtitle(content)),
        verdict=escape(content.verdict),
        verdict_class=verdict_class,
        body="\n".join(parts),
    )


def markdown_summary(content: Content) -> str:
    """``summary.md``: the verdict and the tables that decide it."""
    icon = {True: "✅ ", False: "❌ ", None: ""}[content.passed]
    lines = [
        f"## {content.title}",
        "",
        f"**{icon}{content.verdict}**",
        "",
        _subtitle(content),
        "",
    ]
    lines += _markdown_table(content.targets, "No targets set.")
    if content.comparison is not None:
        failing = _only_failures(content.comparison)
        lines += _markdown_table(
            failing, "No regression against the baseline."
        )
    lines += _markdown_table(content.endpoints, "No endpoints.")
    if content.notes:
        lines += [f"- ⚠️ {note}" for note in content.notes] + [""]
    lines.append("Full report with plots: `report.html` in the run directory.")
    return "\n".join(lines) + "\n"


def _subtitle(content: Content) -> str:
    cells = dict(
        (row[0], row[1]) for row in content.metadata.rows if len(row) > 1
    )
    return (
        f"seed {cells.get('seed', '?')} · git {cells.get('git revision', '?')}"
        f" · machine {cells.get('machine fingerprint', '?')}"
        f" · started {cells.get('started at', '?')}"
    )


def _html_table(table: Table, empty: str) -> str:
    heading = f"<h2>{escape(table.title)}</h2>"
    if not table.rows:
        return f"{heading}<p>{escape(empty)}</p>"
    head = "".join(f"<th>{escape(cell)}</th>" for cell in table.header)
    rows = []
    for cells, status in zip(table.rows, table.status, strict=True):
        css = {True: ' class="pass"', False: ' class="fail"', None: ""}[status]
        body = "".join(f"<td>{escape(cell)}</td>" for cell in cells)
        rows.append(f"<tr{css}>{body}</tr>")
    return (
        f"{heading}<table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _figure(title: str, svg: str) -> str:
    return f'<figure class="plot" aria-label="{escape(title)}">{svg}</figure>'


def _markdown_table(table: Table, empty: str) -> list[str]:
    lines = [f"### {table.title}", ""]
    if not table.rows:
        return [*lines, empty, ""]
    lines.append("| " + " | ".join(table.header) + " |")
    lines.append("|" + "---|" * len(table.header))
    for cells in table.rows:
        lines.append("| " + " | ".join(_md(cell) for cell in cells) + " |")
    return [*lines, ""]


def _only_failures(table: Table) -> Table:
    kept = Table(f"{table.title}: regressions", table.header)
    for cells, status in zip(table.rows, table.status, strict=True):
        if status is False:
            kept.add(*cells, status=status)
    return kept


def _md(cell: str) -> str:
    return cell.replace("|", "\\|")
