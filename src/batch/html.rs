//! `report.html`: the class in one self-contained page an instructor opens
//! in a browser (no network, no external scripts, styles or fonts). The
//! score distribution as a histogram, a students × checks grid coloured by
//! outcome, the pass rate per check (worst first), and each student's full
//! report (`report.txt`) one click away; the table sorts by student, score
//! or status; the page reads printed and on a phone.
//!
//! Built with maud, which escapes every value it is given: ids, names,
//! messages and reports come from submissions and rosters. Control
//! characters are removed as well (a container's ANSI escapes). The one
//! script is ours, inline, and reads only the table it sorts.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::gradebook::Batch;
use super::store::Row;
use crate::report::printable;

/// The page's own style: a grid that scrolls sideways on a phone, colours
/// that survive printing.
const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
th.sortable { cursor: pointer; text-decoration: underline dotted; }
td.pass { background: #c8f0c8; } td.fail { background: #f6c4c4; } td.none { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: 12px; background: #4a7bd0; vertical-align: middle; }
.hist { display: flex; align-items: flex-end; gap: 4px; height: 140px; }
.hist div { background: #4a7bd0; width: 28px; position: relative; }
.hist span { position: absolute; bottom: -1.4rem; font-size: 11px; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .5rem; }
@media print { th.sortable { text-decoration: none; } details { break-inside: avoid; } details:not([open]) pre { display: none; } }
@media (max-width: 600px) { body { margin: .3rem; } th, td { padding: 1px 3px; } }
* { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
"#;

/// Sorts the students table by the clicked column (text or number).
const SCRIPT: &str = r#"
document.querySelectorAll('#students th.sortable').forEach(function (th, _) {
  th.addEventListener('click', function () {
    var table = document.getElementById('students');
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var numeric = th.dataset.kind === 'number';
    var down = th.dataset.order !== 'asc';
    th.dataset.order = down ? 'asc' : 'desc';
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.key, y = b.cells[col].dataset.key;
      var d = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return down ? d : -d;
    });
    rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
  });
});
// A student's link opens their report.
function openReport() {
  var target = location.hash && document.getElementById(location.hash.slice(1));
  if (target && target.tagName === 'DETAILS') { target.open = true; }
}
window.addEventListener('hashchange', openReport);
openReport();
"#;

/// Text from a submission, without control characters, at most `limit`
/// characters.
fn clean(text: &str, limit: usize) -> String {
    let text = printable(text);
    let mut out: String = text.chars().take(limit).collect();
    if text.chars().count() > limit {
        out.push_str("\n… (cut)");
    }
    out
}

fn percent(points: u32, max: u32) -> f64 {
    if max == 0 {
        0.0
    } else {
        f64::from(points) * 100.0 / f64::from(max)
    }
}

/// Students per tenth of the score (the last bin holds 100 %).
fn histogram(rows: &[Row]) -> [usize; 10] {
    let mut bins = [0usize; 10];
    for r in rows {
        let bin = ((percent(r.total, r.max) / 10.0) as usize).min(9);
        bins[bin] += 1;
    }
    bins
}

/// (exercise, check, passed, graded) per check, worst pass rate first.
fn pass_rates(batch: &Batch) -> Vec<(String, String, usize, usize)> {
    let mut rates = Vec::new();
    for e in &batch.exercises {
        for c in &e.checks {
            let marks = batch
                .students
                .iter()
                .flat_map(|r| &r.checks)
                .filter(|m| m.exercise == e.id && &m.check == c);
            let (passed, graded) =
                marks.fold((0, 0), |(p, g), m| (p + usize::from(m.passed), g + 1));
            rates.push((e.id.clone(), c.clone(), passed, graded));
        }
    }
    rates.sort_by(|a, b| {
        let rate = |r: &(String, String, usize, usize)| r.2 as f64 / r.3.max(1) as f64;
        rate(a).total_cmp(&rate(b))
    });
    rates
}

/// The grid's cell of `row` for one check.
fn cell(row: &Row, exercise: &str, check: &str) -> Markup {
    match row
        .checks
        .iter()
        .find(|m| m.exercise == exercise && m.check == check)
    {
        Some(m) if m.passed => html! { td.pass title=(check) { "✓" } },
        Some(_) => html! { td.fail title=(check) { "✗" } },
        None => html! { td.none title=(check) { "·" } },
    }
}

/// The score distribution, a bar per tenth.
fn histogram_section(rows: &[Row]) -> Markup {
    let bins = histogram(rows);
    let tallest = bins.iter().copied().max().unwrap_or(0).max(1);
    html! {
        h2 { "Scores" }
        div.hist id="histogram" {
            @for (i, n) in bins.iter().enumerate() {
                div data-count=(n) title=(format!("{}–{} %: {n} students", i * 10, i * 10 + 10))
                    style=(format!("height: {}%", n * 100 / tallest)) {
                    span { (i * 10) }
                }
            }
        }
    }
}

/// Every check's pass rate, worst first.
fn checks_section(batch: &Batch) -> Markup {
    html! {
        h2 { "Pass rate per check, worst first" }
        table id="checks" {
            thead { tr { th { "exercise" } th { "check" } th { "passed" } th { "" } } }
            tbody {
                @for (exercise, check, passed, graded) in pass_rates(batch) {
                    tr {
                        td { (exercise) } td { (check) }
                        td.num { (passed) "/" (graded) }
                        td { span.bar style=(format!("width: {}px", passed * 120 / graded.max(1))) {} }
                    }
                }
            }
        }
    }
}

/// The students × checks grid, sortable by its first three columns.
fn grid_section(batch: &Batch) -> Markup {
    let columns: Vec<(&str, &str)> = batch
        .exercises
        .iter()
        .flat_map(|e| e.checks.iter().map(move |c| (e.id.as_str(), c.as_str())))
        .collect();
    html! {
        h2 { "Students × checks" }
        div.scroll {
            table id="students" {
                thead {
                    tr {
                        th.sortable data-kind="text" { "student" }
                        th.sortable data-kind="number" { "score" }
                        th.sortable data-kind="text" { "status" }
                        @for (exercise, check) in &columns {
                            th title=(format!("{exercise}: {check}")) { (check) }
                        }
                    }
                }
                tbody {
                    @for row in &batch.students {
                        tr.student data-student=(row.student.id) {
                            td data-key=(row.student.id) {
                                a href=(format!("#report-{}", row.folder)) { (row.student.id) }
                            }
                            td.num data-key=(format!("{:.3}", percent(row.total, row.max))) {
                                (row.total) "/" (row.max)
                            }
                            td data-key=(row.status.as_str()) { (row.status.as_str()) }
                            @for (exercise, check) in &columns {
                                (cell(row, exercise, check))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Each student's report, closed until asked for.
fn reports_section(rows: &[Row], reports: &BTreeMap<String, String>) -> Markup {
    html! {
        h2 { "Reports" }
        @for row in rows {
            details id=(format!("report-{}", row.folder)) {
                summary {
                    (row.student.id) " — " (row.total) "/" (row.max) " (" (row.status.as_str()) ")"
                    @if !row.message.is_empty() { ": " (clean(&row.message, 300)) }
                }
                pre { (clean(reports.get(&row.folder).map_or("no report", String::as_str), 64 * 1024)) }
            }
        }
    }
}

/// The page. `reports` maps a student's folder to their `report.txt`.
pub(crate) fn report_html(batch: &Batch, reports: &BTreeMap<String, String>) -> String {
    let rows = &batch.students;
    let mean = if rows.is_empty() {
        0.0
    } else {
        rows.iter().map(|r| percent(r.total, r.max)).sum::<f64>() / rows.len() as f64
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "dockgrade: class report" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "Class report" }
                p id="overview" {
                    (rows.len()) " students, "
                    (batch.exercises.len()) " exercises, mean score "
                    (format!("{mean:.1}")) " %"
                }
                (histogram_section(rows))
                (checks_section(batch))
                (grid_section(batch))
                (reports_section(rows, reports))
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    page.into_string()
}
