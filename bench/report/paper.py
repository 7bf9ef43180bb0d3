"""The summary tables for a paper: `bench report --format latex|markdown`.

One table per setting: a row per method, a column per target sparsity, each cell
"ΔT ± half-width of the 95 % interval" and the rank group; the null band in the last row; a
cell whose interval overlaps the null band carries a mark explained under the table.
"""

from __future__ import annotations

from typing import Any

from bench.report.summary import summaries

FORMATS = ("html", "latex", "markdown")
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}
NULL_NOTE = ("° : the interval overlaps the null band (not distinguishable from dense). "
             "± is the half-width of the 95% interval over seeds; (g) is the rank group.")


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_number(text: str) -> str:
    return text.replace("−", "-")


def _latex_note() -> str:
    return _latex(NULL_NOTE).replace("°", "$^{\\circ}$").replace("±", "$\\pm$")


def _cell_latex(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "--"
    mean = _latex_number(cell["mean"])
    body = f"${mean}" + (f" \\pm {cell['pm'][2:]}" if cell["pm"] else "") + "$"
    if cell["best"]:
        body = f"\\textbf{{{body}}}"
    mark = "$^{\\circ}$" if cell["flag"] else ""
    return f"{body}{mark} ({cell['group'].replace('–', '--')})"


def to_latex(leaderboard: dict[str, Any]) -> str:
    """booktabs tables, one per setting (needs \\usepackage{booktabs})."""
    out: list[str] = []
    for view in summaries(leaderboard):
        n = len(view["targets"])
        out += ["\\begin{table}[t]", "\\centering",
                f"\\caption{{{_latex(view['setting'])}: $\\Delta_T$ (\\%) $\\pm$ 95\\% CI "
                "half-width over seeds (rank group).}",
                f"\\begin{{tabular}}{{ll{'r' * n}}}", "\\toprule",
                "Method & Start & " + " & ".join(f"{t}\\%" for t in view["targets"]) + " \\\\",
                "\\midrule"]
        for row in view["rows"]:
            cells = " & ".join(_cell_latex(c) for c in row["cells"])
            out.append(f"{_latex(row['method'])} & {_latex(row['start'])} & {cells} \\\\")
        band = view["null_band_text"]
        band_cell = f"$\\pm {band[1:]}$" if band else "--"
        out += ["\\midrule",
                "null band (dense vs dense) & & " + " & ".join([band_cell] * n) + " \\\\",
                "\\bottomrule", "\\end{tabular}",
                f"\\par\\smallskip{{\\footnotesize {_latex_note()}}}",
                "\\end{table}", ""]
    return "\n".join(out) if out else "% no ranked runs\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _cell_md(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "–"
    body = f"{cell['mean']} {cell['pm']}".strip()
    if cell["best"]:
        body = f"**{body}**"
    return f"{body}{' °' if cell['flag'] else ''} ({cell['group']})"


def to_markdown(leaderboard: dict[str, Any]) -> str:
    out: list[str] = []
    for view in summaries(leaderboard):
        out += [f"**{_md(view['setting'])}** — ΔT (%) ± 95% CI half-width over seeds "
                "(rank group)", "",
                "| Method | Start | " + " | ".join(f"{t}%" for t in view["targets"]) + " |",
                "|---|---|" + "---:|" * len(view["targets"])]
        for row in view["rows"]:
            cells = " | ".join(_cell_md(c) for c in row["cells"])
            out.append(f"| {_md(row['method'])} | {row['start']} | {cells} |")
        band = view["null_band_text"] or "–"
        out += ["| null band (dense vs dense) | | " + " | ".join([band] * len(view["targets"]))
                + " |", "", NULL_NOTE, ""]
    return "\n".join(out) if out else "No ranked runs.\n"


def render_paper(leaderboard: dict[str, Any], fmt: str) -> str:
    if fmt == "latex":
        return to_latex(leaderboard)
    if fmt == "markdown":
        return to_markdown(leaderboard)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
