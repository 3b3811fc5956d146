//! The host id picture as inline SVG, two panels over the whole page width:
//! a logarithmic overview of host ids (0 … 2³²) with the node's ranges
//! shaded behind, one bar per pod range (one row each, labelled), and red
//! bands on both rows of every overlap; below it a linear panel zoomed on
//! the span where the pods are, where slots that sit side by side on the
//! logarithmic axis (65536–262143 for a local run) are told apart.
//!
//! Logarithmic because the ids that matter span 1 to 2³²−1: the host's
//! own ids, 65536-aligned kubelet slots, CRI-O's `containers` range from
//! 200000, OpenShift project uids near 10⁹. Each bar's label sits on its own
//! line under the bar, starting where the bar does (moved left when it would
//! run off the page), so labels never share a line.

use std::fmt::Write;

use super::escape as e;
use super::ranges::{NodeRange, Overlap, PodRange};

const LEFT: f64 = 10.0;
/// The drawing's own width; the SVG scales to the page (`width="100%"`).
const TOTAL_WIDTH: f64 = 1200.0;
const WIDTH: f64 = TOTAL_WIDTH - 2.0 * LEFT;
const AXIS_H: f64 = 30.0;
/// A strip or a bar, and the label line under it.
const ROW_H: f64 = 32.0;
const BAR_H: f64 = 12.0;
/// Rows of the zoomed panel (bars only; the overview labels them).
const ZOOM_ROW_H: f64 = 10.0;
const ZOOM_BAR_H: f64 = 7.0;
/// Width of one character of the labels (13px monospace), to keep a label
/// on the drawing.
const CHAR_W: f64 = 8.0;
/// Bars narrower than this on the axis are widened so they can be seen.
const MIN_BAR: f64 = 2.0;
const BITS: f64 = 32.0;

/// Where host id `id` sits on the logarithmic axis.
pub fn x(id: u64) -> f64 {
    LEFT + WIDTH * ((id as f64) + 1.0).log2() / BITS
}

fn span(start: u64, end: u64, min: f64) -> (f64, f64) {
    let (a, b) = (x(start), x(end));
    (a, (b - a).max(min))
}

/// Where a label of `text` starts when it belongs to something starting at
/// `at`: there, or moved left so that it ends on the drawing.
fn label_x(at: f64, text: &str) -> f64 {
    let width = text.chars().count() as f64 * CHAR_W;
    at.min(LEFT + WIDTH - width).max(LEFT)
}

/// A tick label's anchor: centred, unless that would run off the drawing.
fn anchor(tx: f64, text: &str) -> &'static str {
    let half = text.chars().count() as f64 * CHAR_W / 2.0;
    if tx - half < LEFT {
        "start"
    } else if tx + half > LEFT + WIDTH {
        "end"
    } else {
        "middle"
    }
}

/// A gridline down a panel of `height` and its tick label.
fn tick(s: &mut String, tx: f64, text: &str, height: f64) {
    let _ = write!(
        s,
        r#"<line class="grid" x1="{tx:.1}" x2="{tx:.1}" y1="18" y2="{height:.1}"/><text class="tick" x="{tx:.1}" y="13" text-anchor="{}">{text}</text>"#,
        anchor(tx, text)
    );
}

fn axis_line(s: &mut String) {
    let _ = write!(
        s,
        r#"<line class="axis" x1="{LEFT}" x2="{:.1}" y1="20" y2="20"/>"#,
        LEFT + WIDTH
    );
}

pub fn svg(pods: &[PodRange], nodes: &[NodeRange], overlaps: &[Overlap]) -> String {
    let mut s = overview(pods, nodes, overlaps);
    if let Some(z) = zoom(pods, overlaps) {
        s.push_str(&z);
    }
    s
}

fn overview(pods: &[PodRange], nodes: &[NodeRange], overlaps: &[Overlap]) -> String {
    let top = AXIS_H + ROW_H * nodes.len() as f64 + 6.0;
    let rows = pods.len().max(1) as f64;
    let height = top + rows * ROW_H + 8.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="host-ids" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {TOTAL_WIDTH} {height}" width="100%" role="img" aria-label="host id ranges of the pods of this run, logarithmic">"#
    );
    // Ticks every 4 doublings, and gridlines through every row.
    for k in (0..=32).step_by(4) {
        let id: u64 = if k == 0 { 0 } else { 1u64 << k };
        let tx = if k == 0 { LEFT } else { x(id - 1) };
        tick(&mut s, tx, &id.to_string(), height);
    }
    axis_line(&mut s);
    for (i, n) in nodes.iter().enumerate() {
        let (nx, nw) = span(n.start, n.start.saturating_add(n.count), 1.0);
        let sy = AXIS_H + ROW_H * i as f64;
        let _ = write!(
            s,
            r#"<rect class="node-range {k}" x="{nx:.1}" y="{top:.1}" width="{nw:.1}" height="{:.1}"/><rect class="node-strip {k}" data-start="{}" data-count="{}" x="{nx:.1}" y="{sy:.1}" width="{nw:.1}" height="{BAR_H}"><title>{l}</title></rect><text class="strip-label" x="{:.1}" y="{:.1}">{l}</text>"#,
            rows * ROW_H,
            n.start,
            n.count,
            label_x(nx, &n.label),
            sy + BAR_H + 14.0,
            k = n.kind,
            l = e(&n.label),
        );
    }
    if pods.is_empty() {
        let _ = write!(
            s,
            r#"<text class="empty" x="{LEFT}" y="{:.1}">no pod got host ids of its own in this run</text>"#,
            top + BAR_H
        );
    }
    let clashing: std::collections::BTreeSet<usize> =
        overlaps.iter().flat_map(|o| [o.a, o.b]).collect();
    for (i, p) in pods.iter().enumerate() {
        let (bx, bw) = span(p.start, p.end(), MIN_BAR);
        let y = top + ROW_H * i as f64;
        let last = p.end().saturating_sub(1);
        let class = if clashing.contains(&i) {
            "bar clash"
        } else {
            "bar"
        };
        let label = format!(
            "{} / {}: {} (host {}–{last})",
            p.scenario,
            p.pod,
            p.line(),
            p.start
        );
        let _ = write!(
            s,
            r#"<rect class="{class}" data-scenario="{sc}" data-pod="{pod}" data-inside="{}" data-start="{}" data-length="{}" x="{bx:.2}" y="{y:.1}" width="{bw:.2}" height="{BAR_H}"><title>{sc} / {pod}: uid_map {map}</title></rect><text class="bar-label" x="{:.1}" y="{:.1}">{}</text>"#,
            p.inside,
            p.start,
            p.length,
            label_x(bx, &label),
            y + BAR_H + 14.0,
            e(&label),
            sc = e(&p.scenario),
            pod = e(&p.pod),
            map = e(&p.map),
        );
    }
    // One group per overlap: a red band on each of the two rows, joined by
    // a line, so the rows between them are not marked.
    for o in overlaps {
        let (ox, ow) = span(o.start, o.end, 4.0);
        let (ra, rb) = (top + ROW_H * o.a as f64, top + ROW_H * o.b as f64);
        let (a, b) = (&pods[o.a], &pods[o.b]);
        let (a, b) = (
            format!("{} / {}", e(&a.scenario), e(&a.pod)),
            format!("{} / {}", e(&b.scenario), e(&b.pod)),
        );
        let _ = write!(
            s,
            r#"<g class="overlap" data-a="{a}" data-b="{b}" data-start="{}" data-end="{}"><title>host ids {}–{} used by {a} and {b} at the same time</title>"#,
            o.start,
            o.end,
            o.start,
            o.end - 1,
        );
        for y in [ra, rb] {
            let _ = write!(
                s,
                r#"<rect class="band" x="{:.2}" y="{:.1}" width="{:.2}" height="{:.1}"/>"#,
                ox - 1.0,
                y - 2.0,
                ow + 2.0,
                BAR_H + 4.0
            );
        }
        let _ = write!(
            s,
            r#"<line class="link" x1="{:.2}" x2="{:.2}" y1="{:.1}" y2="{:.1}"/></g>"#,
            ox + ow + 3.0,
            ox + ow + 3.0,
            ra + BAR_H / 2.0,
            rb + BAR_H / 2.0
        );
    }
    s.push_str("</svg>");
    s
}

/// A step of 1, 2 or 5 × 10ᵏ that cuts `span` into at most `most` parts.
fn nice_step(span: u64, most: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let s = step.saturating_mul(m);
            if span / s.max(1) <= most {
                return s.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// The linear panel over `[min start, max end)` of the pods' ranges, padded;
/// `None` without pods.
fn zoom(pods: &[PodRange], overlaps: &[Overlap]) -> Option<String> {
    let lo = pods.iter().map(|p| p.start).min()?;
    let hi = pods.iter().map(PodRange::end).max()?;
    let pad = ((hi - lo) / 20).max(1);
    let (lo, hi) = (lo.saturating_sub(pad), hi.saturating_add(pad));
    let zx = |id: u64| LEFT + WIDTH * (id.saturating_sub(lo)) as f64 / (hi - lo) as f64;
    let top = AXIS_H;
    let height = top + ZOOM_ROW_H * pods.len() as f64 + 8.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="host-ids-zoom" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {TOTAL_WIDTH} {height}" width="100%" role="img" aria-label="host id ranges of the pods, linear from {lo} to {hi}">"#
    );
    let step = nice_step(hi - lo, 6);
    let mut t = lo.div_ceil(step) * step;
    while t <= hi {
        tick(&mut s, zx(t), &t.to_string(), height);
        t += step;
    }
    axis_line(&mut s);
    let clashing: std::collections::BTreeSet<usize> =
        overlaps.iter().flat_map(|o| [o.a, o.b]).collect();
    for (i, p) in pods.iter().enumerate() {
        let (bx, bw) = (zx(p.start), (zx(p.end()) - zx(p.start)).max(MIN_BAR));
        let class = if clashing.contains(&i) {
            "zbar clash"
        } else {
            "zbar"
        };
        let _ = write!(
            s,
            r#"<rect class="{class}" x="{bx:.2}" y="{:.1}" width="{bw:.2}" height="{ZOOM_BAR_H}"><title>{} / {}: {}</title></rect>"#,
            top + ZOOM_ROW_H * i as f64,
            e(&p.scenario),
            e(&p.pod),
            p.line()
        );
    }
    s.push_str("</svg>");
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_is_logarithmic_from_0_to_2_to_the_32() {
        assert_eq!(x(0), LEFT);
        assert!((x(u32::MAX as u64) - (LEFT + WIDTH)).abs() < 1e-6);
        // Every doubling gets the same width.
        let d1 = x(131071) - x(65535);
        let d2 = x((1 << 30) - 1) - x((1 << 29) - 1);
        assert!((d1 - d2).abs() < 1e-6, "{d1} {d2}");
    }

    #[test]
    fn labels_stay_on_the_drawing_and_ticks_are_round() {
        assert_eq!(label_x(100.0, "abc"), 100.0);
        let long = "x".repeat(40);
        assert!(
            (label_x(LEFT + WIDTH - 10.0, &long) + 40.0 * CHAR_W - (LEFT + WIDTH)).abs() < 1e-6
        );
        assert_eq!(anchor(LEFT, "0"), "start");
        assert_eq!(anchor(LEFT + WIDTH, "4294967296"), "end");
        assert_eq!(anchor(LEFT + WIDTH / 2.0, "65536"), "middle");
        assert_eq!(nice_step(196608, 6), 50000);
        assert_eq!(nice_step(1000, 6), 200);
    }
}
