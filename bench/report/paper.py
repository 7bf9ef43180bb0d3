"""The summary tables for a paper: `bench report --format latex|markdown`.

One table per setting: a row per method, two columns per target sparsity and budget (rows of
different budgets are never ranked together) — "ΔT ± half-width of the 95 % interval" (vs the
dense multi-task model) with the rank group, and "Δm ± half-width" (vs the single-task
networks) — then the dense multi-task model's own Δm, dense's own interval (the noise floor)
and the minimum detectable difference; a ΔT the test against dense cannot tell from dense
carries a mark explained under the table, and so does a row `bench verify` verified (✓) or
failed (✗).
"""

from __future__ import annotations

from typing import Any

from bench.report.summary import summaries

FORMATS = ("html", "latex", "markdown")
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}
NULL_NOTE = ("° : not distinguishable from dense (t-test against dense's per-seed ΔT, "
             "Holm-corrected). ± is the half-width of the 95% interval over seeds; (g) is the "
             "rank group from pairwise t-tests, Holm-corrected; bold: not significantly worse "
             "than the leader. MDD: the smallest ΔT difference the table detects with 80% "
             "power. ΔT is measured against the dense multi-task model, Δm against the "
             "single-task networks (– : no single-task runs).")


VERIFY_NOTE = ("✓ : verified by `bench verify` (every held-out seed inside the row's 95% "
               "prediction interval); ✗ : a held-out seed outside it.")
_MARKS_MD = {"verified": " ✓", "failed": " ✗"}
_MARKS_LATEX = {"verified": "$^{\\checkmark}$", "failed": "$^{\\times}$"}


def _verified_any(view: dict[str, Any]) -> bool:
    return any(c and c.get("verified") in _MARKS_MD for row in view["rows"] for c in row["cells"])


def _latex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _latex_number(text: str) -> str:
    return text.replace("−", "-")


def _latex_note() -> str:
    return (_latex(NULL_NOTE).replace("°", "$^{\\circ}$").replace("±", "$\\pm$")
            .replace("ΔT", "$\\Delta_T$").replace("Δm", "$\\Delta_m$").replace("–", "--"))


def _latex_verify_note() -> str:
    return (_latex(VERIFY_NOTE).replace("✓", "$\\checkmark$").replace("✗", "$\\times$")
            .replace("`", ""))


def _headers(view: dict[str, Any]) -> list[str]:
    """A column group's title: the target sparsity and the budget its rows share."""
    return [f"{t}% · budget {b}" for t, b in zip(view["targets"], view["budgets"], strict=True)]


def _headers_latex(view: dict[str, Any]) -> list[str]:
    return [f"{t}\\%, budget " + ("--" if b == "–" else f"{b.replace('×', '')}$\\times$")
            for t, b in zip(view["targets"], view["budgets"], strict=True)]


def _cell_latex(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "--"
    mean = _latex_number(cell["mean"])
    body = f"${mean}" + (f" \\pm {cell['pm'][2:]}" if cell["pm"] else "") + "$"
    if cell["best"]:
        body = f"\\textbf{{{body}}}"
    mark = "$^{\\circ}$" if cell["flag"] else ""
    mark += _MARKS_LATEX.get(cell.get("verified") or "", "")
    return f"{body}{mark} ({cell['group'].replace('–', '--')})"


def _dm_latex(dm: dict[str, Any] | None) -> str:
    if not dm:
        return "--"
    return f"${_latex_number(dm['mean'])}" + (f" \\pm {dm['pm'][2:]}" if dm["pm"] else "") + "$"


def to_latex(leaderboard: dict[str, Any]) -> str:
    """booktabs tables, one per setting (needs \\usepackage{booktabs}; amssymb for the mark
    of a verified row)."""
    out: list[str] = []
    for view in summaries(leaderboard):
        n = len(view["targets"])
        out += ["\\begin{table}[t]", "\\centering",
                f"\\caption{{{_latex(view['setting'])}: $\\Delta_T$ (\\%, vs dense multi-task) "
                "$\\pm$ 95\\% CI half-width over seeds (rank group), and $\\Delta_m$ (\\%, vs "
                "single-task) $\\pm$ 95\\% CI half-width.}",
                f"\\begin{{tabular}}{{ll{'rr' * n}}}", "\\toprule",
                "Method & Start & " + " & ".join(f"\\multicolumn{{2}}{{c}}{{{h}}}"
                                                  for h in _headers_latex(view)) + " \\\\",
                " & & " + " & ".join(["$\\Delta_T$ vs dense MTL & $\\Delta_m$ vs single-task"] * n)
                + " \\\\",
                "\\midrule"]
        for row in view["rows"]:
            cells = " & ".join(f"{_cell_latex(c)} & {_dm_latex(c and c['dm'])}"
                               for c in row["cells"])
            out.append(f"{_latex(row['method'])} & {_latex(row['start'])} & {cells} \\\\")
        floor = view["noise_floor_text"]
        floor_cell = f"$\\pm {floor[1:]}$" if floor else "--"
        reference = " & ".join(f"ref. & {_dm_latex(dm)}" for dm in view["reference_dm"])
        out += ["\\midrule",
                f"dense multi-task & & {reference} \\\\",
                "dense 95\\% CI (noise floor) & & " + " & ".join([f"{floor_cell} &"] * n)
                + " \\\\",
                "MDD (80\\% power) & & " + " & ".join(f"${m}$ &" if m != "–" else "-- &"
                                                       for m in view["mdd"]) + " \\\\",
                "\\bottomrule", "\\end{tabular}",
                f"\\par\\smallskip{{\\footnotesize {_latex_note()}"
                + (" " + _latex_verify_note() if _verified_any(view) else "") + "}",
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
    mark = _MARKS_MD.get(cell.get("verified") or "", "")
    return f"{body}{' °' if cell['flag'] else ''}{mark} ({cell['group']})"


def _dm_md(dm: dict[str, Any] | None) -> str:
    return f"{dm['mean']} {dm['pm']}".strip() if dm else "–"


def to_markdown(leaderboard: dict[str, Any]) -> str:
    out: list[str] = []
    for view in summaries(leaderboard):
        out += [f"**{_md(view['setting'])}** — ΔT (%, vs dense multi-task) ± 95% CI half-width "
                "over seeds (rank group); Δm (%, vs single-task) ± 95% CI half-width", "",
                "| Method | Start | " + " | ".join(f"{h} ΔT vs dense multi-task | {h} Δm vs "
                                                  "single-task" for h in _headers(view)) + " |",
                "|---|---|" + "---:|---:|" * len(view["targets"])]
        for row in view["rows"]:
            cells = " | ".join(f"{_cell_md(c)} | {_dm_md(c and c['dm'])}" for c in row["cells"])
            out.append(f"| {_md(row['method'])} | {row['start']} | {cells} |")
        floor = view["noise_floor_text"] or "–"
        reference = " | ".join(f"ref. | {_dm_md(dm)}" for dm in view["reference_dm"])
        out += [f"| dense multi-task | | {reference} |",
                "| dense 95% CI (noise floor) | | " + " | ".join([f"{floor} | "] *
                                                              len(view["targets"])) + " |",
                "| MDD (80% power) | | " + " | ".join(f"{m} | " for m in view["mdd"]) + " |",
                "", NULL_NOTE + (" " + VERIFY_NOTE if _verified_any(view) else ""), ""]
    return "\n".join(out) if out else "No ranked runs.\n"


def render_paper(leaderboard: dict[str, Any], fmt: str) -> str:
    if fmt == "latex":
        return to_latex(leaderboard)
    if fmt == "markdown":
        return to_markdown(leaderboard)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
