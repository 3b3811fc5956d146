//! The dependency rules of ARCHITECTURE.md's code map, checked on the source:
//! a folder that must never import another fails here when it does.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `crate::<module>` paths used in the files under `folder`.
fn imports_of(folder: &str, forbidden: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let root = src.join(folder);
    if root.is_dir() {
        rust_files(&root, &mut files);
    } else {
        files.push(src.join(format!("{folder}.rs")));
    }
    let mut found = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            for m in forbidden {
                if line.contains(&format!("crate::{m}::")) || line.contains(&format!("crate::{m};"))
                {
                    found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn folders_import_only_what_the_code_map_allows() {
    let rules: &[(&str, &[&str])] = &[
        ("targets", &["cli", "judge", "report"]),
        ("judge", &["cli", "targets"]),
        ("diagnose", &["cli", "targets"]),
        ("scenario", &["cli", "targets", "judge", "report"]),
        ("parse", &["cli", "targets", "judge", "report", "scenario"]),
        ("plan", &["cli", "targets", "judge"]),
        ("observation", &["cli", "targets", "judge"]),
        ("report", &["cli", "targets"]),
        ("compare", &["cli", "targets"]),
        ("runner", &["cli"]),
        ("progress", &["cli", "targets"]),
        ("requirements", &["cli", "targets"]),
        ("cluster", &["cli", "targets"]),
        ("citations", &["cli", "targets", "judge", "report"]),
    ];
    let broken: Vec<String> = rules
        .iter()
        .flat_map(|(folder, forbidden)| imports_of(folder, forbidden))
        .collect();
    assert!(
        broken.is_empty(),
        "imports against ARCHITECTURE.md:\n{}",
        broken.join("\n")
    );
}
