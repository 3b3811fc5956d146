//! Self-contained HTML reports (inline CSS, SVG and a few lines of script;
//! nothing fetched, so a page opened from a CI artifact works offline):
//! the run page (`run --html`) and the comparison page (`compare --html`).
//! Pure functions of results; every text from results is escaped.

pub mod axis;
pub mod matrix;
pub mod ranges;
pub mod scenarios;
pub mod why;

use std::fmt::Write;

use super::results::RunResults;

pub use matrix::page as compare_page;

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters (e.g. a runtime's ANSI colours) are not text.
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1f24;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.4em 0 .4em}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa}code,pre{font:12px/1.35 ui-monospace,monospace}pre{white-space:pre-wrap;margin:.3em 0;background:#f6f8fa;padding:.4em}
.facts td:first-child{font-weight:600}.counts span{margin-right:1em;font-weight:600}
.pass{background:#dafbe1}.fail{background:#ffd8d3}.error{background:#fff1c2}.skip{background:#eaeef2}.absent{background:#fff;color:#8c959f}
.banner{border:2px solid #cf222e;background:#ffebe9;padding:.5em;font-weight:600}
#script-errors{color:#cf222e}
svg{max-width:100%;height:auto;font:13px ui-monospace,monospace;display:block}
svg .grid{stroke:#eaeef2}svg .axis{stroke:#57606a}svg .tick{fill:#57606a;font-size:12px}
svg .node-range{opacity:.18}svg .node-strip{opacity:.6}
svg .host{fill:#8c959f}svg .containers{fill:#2da44e}svg .kubelet{fill:#0969da}svg .shared{fill:#bf8700}
svg .bar,svg .zbar{fill:#6639ba}svg .bar.clash,svg .zbar.clash{fill:#cf222e}
svg .overlap .band{fill:#cf222e;fill-opacity:.35;stroke:#cf222e;stroke-width:1.5}svg .overlap .link{stroke:#cf222e;stroke-width:2;stroke-dasharray:3 2}
.legend span.sw{display:inline-block;width:1em;height:.8em;margin:0 .3em 0 1em;vertical-align:middle}
.matrix td.cell{text-align:center;min-width:6em}.matrix td.changed{outline:2px solid #bf8700;outline-offset:-2px}
details>summary{cursor:pointer}
.why{border-left:3px solid #bf8700;padding:0 .6em;margin:.4em 0}.why p.warning b{color:#9a6700}
.catalog dt{font-weight:600;margin-top:.6em}.catalog dd{margin-left:1.2em}
"#;

/// Filters rows by `select[data-filter=K]` against the rows' `data-K`; sets
/// `data-script="ran"` on <html> so a headless browser can tell it ran.
const SCRIPT: &str = r#"
(function(){
  var selects=document.querySelectorAll('select[data-filter]');
  function apply(){
    var rows=document.querySelectorAll('tr[data-row]'),shown=0;
    for(var i=0;i<rows.length;i++){
      var ok=true;
      for(var j=0;j<selects.length;j++){
        var v=selects[j].value,k=selects[j].getAttribute('data-filter');
        if(v&&rows[i].getAttribute('data-'+k)!==v){ok=false;}
      }
      rows[i].hidden=!ok;if(ok){shown++;}
    }
    var c=document.getElementById('shown');if(c){c.textContent=shown+' shown';}
  }
  for(var j=0;j<selects.length;j++){selects[j].addEventListener('change',apply);}
  apply();
  document.documentElement.setAttribute('data-script','ran');
})();
"#;

/// Script errors are written into the page, where `--dump-dom` shows them.
const ONERROR: &str = r#"window.onerror=function(m,s,l,c){var u=document.getElementById('script-errors');var li=document.createElement('li');li.textContent=m+' (line '+l+':'+c+')';u.appendChild(li);};"#;

/// The page around a body.
pub fn shell(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n<script>{ONERROR}</script>\n</head>\n<body>\n<ul id=\"script-errors\"></ul>\n{body}\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        escape(title)
    )
}

/// A `<select data-filter=key>` over the given values.
pub fn filter(key: &str, label: &str, values: &[(String, usize)]) -> String {
    let mut s = format!(
        "<label>{} <select data-filter=\"{key}\"><option value=\"\">all</option>",
        escape(label)
    );
    for (v, n) in values {
        let _ = write!(s, "<option value=\"{0}\">{0} ({n})</option>", escape(v));
    }
    s.push_str("</select></label> ");
    s
}

/// The run page: environment and counts, the host id picture, the scenarios.
pub fn run_page(results: &RunResults) -> String {
    let env = &results.environment;
    let mut b = String::new();
    let _ = writeln!(b, "<h1>userns-e2e: {}</h1>", escape(&env.label()));
    let mut facts: Vec<(&str, String)> = vec![
        ("target", format!("{} ({})", env.target, env.endpoint)),
        (
            "runtime",
            env.runtime
                .as_ref()
                .map(|r| {
                    if r.shown_version() == r.reported_version {
                        r.shown()
                    } else {
                        format!("{} (reported as {:?})", r.shown(), r.reported_version)
                    }
                })
                .unwrap_or_else(|| "unknown".into()),
        ),
    ];
    if let Some(k) = &env.kubernetes {
        facts.push(("Kubernetes", k.to_string()));
    }
    if let Some(o) = &env.openshift {
        facts.push((
            "OpenShift",
            o.version
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "(version unknown)".into()),
        ));
    }
    let kernels: Vec<String> = env.nodes.iter().filter_map(|n| n.kernel.clone()).collect();
    if !kernels.is_empty() {
        facts.push(("kernel", kernels.join(", ")));
    }
    // What the target could not read or check: its facts are partial.
    for w in env.warnings() {
        facts.push(("warning", w));
    }
    facts.push((
        "run",
        format!(
            "{} · started {} · {:.1} s · {}",
            results.run_id.as_deref().unwrap_or("(id not recorded)"),
            results.started_at,
            results.duration_ms as f64 / 1000.0,
            results.tool
        ),
    ));
    b.push_str("<table class=\"facts\">");
    for (k, v) in facts {
        let _ = write!(b, "<tr><td>{k}</td><td>{}</td></tr>", escape(&v));
    }
    b.push_str("</table>\n");
    let s = &results.summary;
    let _ = writeln!(
        b,
        "<p class=\"counts\"><span class=\"pass\">{} passed</span><span class=\"fail\">{} failed</span><span class=\"error\">{} errored</span><span class=\"skip\">{} skipped</span></p>",
        s.passed, s.failed, s.errored, s.skipped
    );
    b.push_str(&host_ids(results));
    b.push_str(&scenarios::section(results));
    b.push_str(&why::catalog_section(results));
    shell(&format!("userns-e2e: {}", env.label()), &b)
}

/// The host id section: overlap banner, the SVG, the legend, overlap notes.
fn host_ids(results: &RunResults) -> String {
    let pods = ranges::pod_ranges(results);
    let nodes = ranges::node_ranges(&results.environment);
    let overlaps = ranges::overlaps(&pods);
    let mut b = String::from("<h2>Host ids of the pods</h2>\n");
    if !overlaps.is_empty() {
        let _ = writeln!(
            b,
            "<p class=\"banner\" id=\"overlap-banner\">{} overlap(s): pods that existed at the same time share host ids (red bands below).</p>",
            overlaps.len()
        );
    }
    b.push_str(&axis::svg(&pods, &nodes, &overlaps));
    let timed = results.results.iter().any(|r| r.start_ms.is_some());
    let _ = writeln!(
        b,
        "<p class=\"legend\">Host ids on a <b>logarithmic</b> axis from 0 to 2<sup>32</sup> (every doubling equally wide; ticks every 16×), so ranges from the host's own ids to OpenShift project uids near 10<sup>9</sup> fit on one line. One row per <code>uid_map</code> line whose host start is not 0, labelled under the bar <i>scenario / pod: inside host length</i>; bars narrower than 2 px are widened. Under it, the same rows on a <b>linear</b> axis zoomed on the span where the pods are, so neighbouring slots are told apart.\
<br><span class=\"sw\" style=\"background:#8c959f\"></span>host's own ids<span class=\"sw\" style=\"background:#2da44e\"></span><code>containers</code> subordinate ids (CRI-O <code>auto</code>)<span class=\"sw\" style=\"background:#0969da\"></span>kubelet allocation range (its <code>kubelet</code> subuid entry, else 65536 up to 2<sup>32</sup> with slots at random)<span class=\"sw\" style=\"background:#bf8700\"></span>ids both the kubelet and <code>containers</code> may hand out<span class=\"sw\" style=\"background:#6639ba\"></span>pod range<span class=\"sw\" style=\"background:#cf222e\"></span>overlap\
<br>An overlap is two pods sharing host ids while both existed: pods of one scenario always coexist; pods of different scenarios coexist when the scenarios' time windows intersect{}.</p>",
        if timed {
            ""
        } else {
            " (these results carry no start times, so only pods of one scenario are compared)"
        }
    );
    let in_host = ranges::host_namespace_pods(results);
    if in_host > 0 {
        let _ = writeln!(
            b,
            "<p>{in_host} pod(s) ran in the host user namespace (<code>0 0 4294967295</code>); they have no range of their own and are not drawn.</p>"
        );
    }
    if !overlaps.is_empty() {
        b.push_str("<ul class=\"overlaps\">");
        for o in &overlaps {
            let (a, c) = (&pods[o.a], &pods[o.b]);
            let _ = write!(
                b,
                "<li class=\"overlap-note\">host ids {}–{}: <b>{} / {}</b> ({}) and <b>{} / {}</b> ({})</li>",
                o.start,
                o.end - 1,
                escape(&a.scenario),
                escape(&a.pod),
                a.line(),
                escape(&c.scenario),
                escape(&c.pod),
                c.line()
            );
        }
        b.push_str("</ul>\n");
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>\u{1b}[0m"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;\\u{1b}[0m"
        );
    }
}
