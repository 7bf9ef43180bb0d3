"""The summary tables for a paper: `bench report --format latex|markdown`.

One table per setting: a row per method, two columns per target sparsity — "ΔT ± half-width of
the 95 % interval" (vs the dense multi-task model) with the rank group, and "Δm ± half-width"
(vs the single-task networks) — then the dense multi-task model's own Δm and the null band; a
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
             "± is the half-width of the 95% interval over seeds; (g) is the rank group. "
             "ΔT is measured against the dense multi-task model, Δm against the single-task "
             "networks (– : no single-task runs).")


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_number(text: str) -> str:
    return text.replace("−", "-")


def _latex_note() -> str:
    return (_latex(NULL_NOTE).replace("°", "$^{\\circ}$").replace("±", "$\\pm$")
            .replace("ΔT", "$\\Delta_T$").replace("Δm", "$\\Delta_m$").replace("–", "--"))


def _cell_latex(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "--"
    mean = _latex_number(cell["mean"])
    body = f"${mean}" + (f" \\pm {cell['pm'][2:]}" if cell["pm"] else "") + "$"
    if cell["best"]:
        body = f"\\textbf{{{body}}}"
    mark = "$^{\\circ}$" if cell["flag"] else ""
    return f"{body}{mark} ({cell['group'].replace('–', '--')})"


def _dm_latex(dm: dict[str, Any] | None) -> str:
    if not dm:
        return "--"
    return f"${_latex_number(dm['mean'])}" + (f" \\pm {dm['pm'][2:]}" if dm["pm"] else "") + "$"


def to_latex(leaderboard: dict[str, Any]) -> str:
    """booktabs tables, one per setting (needs \\usepackage{booktabs})."""
    out: list[str] = []
    for view in summaries(leaderboard):
        n = len(view["targets"])
        out += ["\\begin{table}[t]", "\\centering",
                f"\\caption{{{_latex(view['setting'])}: $\\Delta_T$ (\\%, vs dense multi-task) "
                "$\\pm$ 95\\% CI half-width over seeds (rank group), and $\\Delta_m$ (\\%, vs "
                "single-task) $\\pm$ 95\\% CI half-width.}",
                f"\\begin{{tabular}}{{ll{'rr' * n}}}", "\\toprule",
                "Method & Start & " + " & ".join(f"\\multicolumn{{2}}{{c}}{{{t}\\%}}"
                                                  for t in view["targets"]) + " \\\\",
                " & & " + " & ".join(["$\\Delta_T$ vs dense MTL & $\\Delta_m$ vs single-task"] * n)
                + " \\\\",
                "\\midrule"]
        for row in view["rows"]:
            cells = " & ".join(f"{_cell_latex(c)} & {_dm_latex(c and c['dm'])}"
                               for c in row["cells"])
            out.append(f"{_latex(row['method'])} & {_latex(row['start'])} & {cells} \\\\")
        band = view["null_band_text"]
        band_cell = f"$\\pm {band[1:]}$" if band else "--"
        reference = " & ".join(f"ref. & {_dm_latex(dm)}" for dm in view["reference_dm"])
        out += ["\\midrule",
                f"dense multi-task & & {reference} \\\\",
                "null band (dense vs dense) & & " + " & ".join([f"{band_cell} &"] * n) + " \\\\",
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


def _dm_md(dm: dict[str, Any] | None) -> str:
    return f"{dm['mean']} {dm['pm']}".strip() if dm else "–"


def to_markdown(leaderboard: dict[str, Any]) -> str:
    out: list[str] = []
    for view in summaries(leaderboard):
        out += [f"**{_md(view['setting'])}** — ΔT (%, vs dense multi-task) ± 95% CI half-width "
                "over seeds (rank group); Δm (%, vs single-task) ± 95% CI half-width", "",
                "| Method | Start | " + " | ".join(f"{t}% ΔT vs dense multi-task | {t}% Δm vs "
                                                  "single-task" for t in view["targets"]) + " |",
                "|---|---|" + "---:|---:|" * len(view["targets"])]
        for row in view["rows"]:
            cells = " | ".join(f"{_cell_md(c)} | {_dm_md(c and c['dm'])}" for c in row["cells"])
            out.append(f"| {_md(row['method'])} | {row['start']} | {cells} |")
        band = view["null_band_text"] or "–"
        reference = " | ".join(f"ref. | {_dm_md(dm)}" for dm in view["reference_dm"])
        out += [f"| dense multi-task | | {reference} |",
                "| null band (dense vs dense) | | " + " | ".join([f"{band} | "] *
                                                              len(view["targets"])) + " |",
                "", NULL_NOTE, ""]
    return "\n".join(out) if out else "No ranked runs.\n"


def render_paper(leaderboard: dict[str, Any], fmt: str) -> str:
    if fmt == "latex":
        return to_latex(leaderboard)
    if fmt == "markdown":
        return to_markdown(leaderboard)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
