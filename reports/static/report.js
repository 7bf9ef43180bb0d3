// Click (or Enter on) a header of a .sortable table to sort its rows by that column.
// Cells carry their numeric value in data-sort; text sorts as text. The first click puts the
// better values first when the column has a direction (data-better), else ascending.
(function () {
  "use strict";

  function key(row, col) {
    var cell = row.cells[col];
    var raw = cell ? cell.getAttribute("data-sort") : "";
    var num = raw === "" || raw === null ? NaN : Number(raw);
    return { num: num, text: raw || "" };
  }

  function compare(a, b, ascending) {
    var aNum = !isNaN(a.num), bNum = !isNaN(b.num);
    var result;
    if (aNum && bNum) result = a.num - b.num;
    else if (aNum !== bNum) return aNum ? -1 : 1; // blanks always last
    else result = a.text.localeCompare(b.text);
    return ascending ? result : -result;
  }

  function sortBy(th) {
    var table = th.closest("table");
    var col = Number(th.getAttribute("data-col"));
    var current = th.getAttribute("aria-sort");
    var ascending;
    if (current === "ascending") ascending = false;
    else if (current === "descending") ascending = true;
    else ascending = th.getAttribute("data-better") !== "higher";
    table.querySelectorAll("th.sort").forEach(function (other) {
      other.setAttribute("aria-sort", "none");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, index) { row._order = index; });
    rows.sort(function (a, b) {
      return compare(key(a, col), key(b, col), ascending) || a._order - b._order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  document.querySelectorAll("table.sortable th.sort").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(th); }
    });
  });
})();
