//! The host id picture as inline SVG: a logarithmic axis of host ids
//! (0 … 2³²), the node's ranges shaded behind, one bar per pod range (one
//! row each, labelled), and red bands on both rows of every overlap.
//!
//! Logarithmic because the ids that matter span 1 to 2³²−1: the host's
//! own ids, 65536-aligned kubelet slots, CRI-O's `containers` range from
//! 200000, OpenShift project uids near 10⁹. Each bar has its own row and its
//! numbers in its label, so slots that sit close on the axis stay apart.

use std::fmt::Write;

use super::escape as e;
use super::ranges::{NodeRange, Overlap, PodRange};

const LEFT: f64 = 10.0;
const WIDTH: f64 = 760.0;
const LABELS_X: f64 = LEFT + WIDTH + 12.0;
const TOTAL_WIDTH: f64 = 1360.0;
const AXIS_H: f64 = 34.0;
const STRIP_H: f64 = 14.0;
const ROW_H: f64 = 16.0;
const BAR_H: f64 = 12.0;
/// Bars narrower than this on the axis are widened so they can be seen.
const MIN_BAR: f64 = 2.0;
const BITS: f64 = 32.0;

/// Where host id `id` sits on the axis.
pub fn x(id: u64) -> f64 {
    LEFT + WIDTH * ((id as f64) + 1.0).log2() / BITS
}

fn span(start: u64, end: u64, min: f64) -> (f64, f64) {
    let (a, b) = (x(start), x(end));
    (a, (b - a).max(min))
}

pub fn svg(pods: &[PodRange], nodes: &[NodeRange], overlaps: &[Overlap]) -> String {
    let top = AXIS_H + STRIP_H * nodes.len() as f64 + 6.0;
    let rows = pods.len().max(1) as f64;
    let height = top + rows * ROW_H + 8.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg id="host-ids" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {TOTAL_WIDTH} {height}" width="{TOTAL_WIDTH}" height="{height}" role="img" aria-label="host id ranges of the pods of this run">"#
    );
    // Ticks every 4 doublings, and gridlines through every row.
    for k in (0..=32).step_by(4) {
        let id: u64 = if k == 0 { 0 } else { 1u64 << k };
        let tx = if k == 0 { LEFT } else { x(id - 1) };
        let anchor = match k {
            0 => "start",
            32 => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            r#"<line class="grid" x1="{tx:.1}" x2="{tx:.1}" y1="18" y2="{height:.1}"/><text class="tick" x="{tx:.1}" y="12" text-anchor="{anchor}">{id}</text>"#
        );
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{LEFT}" x2="{:.1}" y1="22" y2="22"/>"#,
        LEFT + WIDTH
    );
    for (i, n) in nodes.iter().enumerate() {
        let (nx, nw) = span(n.start, n.start.saturating_add(n.count), 1.0);
        let sy = AXIS_H + STRIP_H * i as f64;
        let _ = write!(
            s,
            r#"<rect class="node-range {k}" x="{nx:.1}" y="{top:.1}" width="{nw:.1}" height="{:.1}"/><rect class="node-strip {k}" data-start="{}" data-count="{}" x="{nx:.1}" y="{sy:.1}" width="{nw:.1}" height="{:.1}"><title>{l}</title></rect><text class="strip-label" x="{LABELS_X}" y="{:.1}">{l}</text>"#,
            rows * ROW_H,
            n.start,
            n.count,
            STRIP_H - 3.0,
            sy + STRIP_H - 4.0,
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
        let _ = write!(
            s,
            r#"<rect class="{class}" data-scenario="{sc}" data-pod="{pod}" data-inside="{}" data-start="{}" data-length="{}" x="{bx:.2}" y="{y:.1}" width="{bw:.2}" height="{BAR_H}"><title>{sc} / {pod}: uid_map {map}</title></rect><text class="bar-label" x="{LABELS_X}" y="{:.1}">{sc} / {pod}: {line} (host {}–{last})</text>"#,
            p.inside,
            p.start,
            p.length,
            y + BAR_H - 2.0,
            p.start,
            sc = e(&p.scenario),
            pod = e(&p.pod),
            map = e(&p.map),
            line = p.line(),
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
}
