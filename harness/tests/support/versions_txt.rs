//! clusters/kind-crio/versions.txt as tests read it, independently of the
//! harness's own parser.

use std::path::Path;

/// One row: a CRI-O minor, its kind node image, the gate legs, and the
/// minor's latest patch release (the hosted CRI-O job's `--crio`).
#[derive(Debug, Clone)]
pub struct Row {
    pub minor: String,
    pub image: String,
    pub legs: Vec<String>,
    #[allow(dead_code)]
    pub patch: Option<String>,
}

impl Row {
    /// The minor as numbers, for comparisons.
    #[allow(dead_code)]
    pub fn minor_pair(&self) -> (u32, u32) {
        let (a, b) = self.minor.split_once('.').expect("a minor is X.Y");
        (a.parse().unwrap(), b.parse().unwrap())
    }
}

/// The `kind-release` lines and the rows of `<repo>/clusters/kind-crio/versions.txt`.
pub fn read(repo: &Path) -> (Vec<String>, Vec<Row>) {
    let p = repo.join("clusters/kind-crio/versions.txt");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut releases = vec![];
    let mut rows = vec![];
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        match f.as_slice() {
            [] => {}
            [c, ..] if c.starts_with('#') => {}
            ["kind-release", r] => releases.push(r.to_string()),
            [minor, image, legs, rest @ ..] if rest.len() <= 1 => rows.push(Row {
                minor: minor.to_string(),
                image: image.to_string(),
                legs: legs.split(',').map(str::to_string).collect(),
                patch: rest.first().map(|p| p.to_string()),
            }),
            other => panic!("versions.txt: unexpected line {other:?}"),
        }
    }
    (releases, rows)
}
