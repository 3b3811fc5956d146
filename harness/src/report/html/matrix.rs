//! The comparison page (`compare --html`): scenarios × runs as a coloured
//! grid; in a row whose verdicts or observed behaviour differ, each cell
//! opens what this run observed for every differing fact.

use std::fmt::Write;

use super::{escape as e, filter, shell};
use crate::compare::{Comparison, Row};

fn cell(r: &Row, run: usize) -> String {
    let status = r.statuses.get(run).map(String::as_str).unwrap_or("absent");
    let status = e(status);
    if !r.changed() {
        return format!("<td class=\"cell {status}\">{status}</td>");
    }
    let mut d = String::new();
    if r.statuses.windows(2).any(|w| w[0] != w[1]) {
        let _ = write!(
            d,
            "<li>verdict: <b>{status}</b> (runs: {})</li>",
            e(&r.statuses.join(", "))
        );
    }
    for diff in &r.differences {
        let _ = write!(
            d,
            "<li>{}: <code>{}</code></li>",
            e(&diff.what),
            e(diff.values.get(run).map(String::as_str).unwrap_or("—"))
        );
    }
    format!("<td class=\"cell changed {status}\"><details><summary>{status}</summary><ul>{d}</ul></details></td>")
}

pub fn page(c: &Comparison) -> String {
    let mut b = String::from("<h1>userns-e2e comparison</h1>\n");
    let n_changed = c.rows.iter().filter(|r| r.changed()).count();
    let _ = writeln!(
        b,
        "<p>{} scenarios × {} runs; {n_changed} differ (outlined cells open what each run observed). Allocator slots, ids and timings are not compared.</p>",
        c.rows.len(),
        c.labels.len()
    );
    let flags = [
        ("yes".to_string(), n_changed),
        ("no".to_string(), c.rows.len() - n_changed),
    ];
    b.push_str("<p>");
    b.push_str(&filter("changed", "differs", &flags));
    b.push_str(
        "<span id=\"shown\"></span></p>\n<table class=\"matrix\"><thead><tr><th>scenario</th>",
    );
    for l in &c.labels {
        let _ = write!(b, "<th>{}</th>", e(l));
    }
    b.push_str("</tr></thead><tbody>\n");
    for r in &c.rows {
        let flag = if r.changed() { "yes" } else { "no" };
        let _ = write!(
            b,
            "<tr data-row data-changed=\"{flag}\"><td><code>{}</code></td>",
            e(&r.id)
        );
        for i in 0..c.labels.len() {
            b.push_str(&cell(r, i));
        }
        b.push_str("</tr>\n");
    }
    b.push_str("</tbody></table>\n<p class=\"legend\"><span class=\"pass\">pass</span> <span class=\"fail\">fail</span> <span class=\"error\">error</span> <span class=\"skip\">skip</span> <span class=\"absent\">absent</span> (the run did not hold the scenario)</p>\n");
    shell("userns-e2e comparison", &b)
}
