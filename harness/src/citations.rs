//! Citations: what a scenario's `cites` (or any other list of citations,
//! e.g. a diagnosis catalog's) may name, and whether each one resolves for a
//! reader of this repository.
//!
//! A citation resolves when it names a fact of the project's facts document
//! (`FACTS.md#story-5`, an `<a id>` in `docs/FACTS.md`), an upstream source
//! listed in that document's Sources table (`cri-o/cri-o
//! server/sandbox_run_linux.go:133-137 (cri-o#7540)`), or is a URL. Several
//! may be joined with `; `. Pure: the document is embedded in the binary, so
//! every user checks against the same facts the suite was written from.

use std::collections::BTreeSet;
use std::sync::LazyLock;

/// The project's facts document, as shipped.
pub const FACTS_MD: &str = include_str!("../../docs/FACTS.md");

/// The ids and sources one facts document defines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactsIndex {
    /// Ids of facts (`story-5`).
    pub ids: BTreeSet<String>,
    /// Upstream sources (`cri-o/cri-o server/sandbox_run_linux.go`).
    pub sources: Vec<String>,
}

impl FactsIndex {
    /// Reads a facts document: every `<a id="…">` is a fact id; every
    /// backticked name in the first column of the table under `## Sources` is
    /// a source.
    pub fn parse(text: &str) -> FactsIndex {
        let mut index = FactsIndex::default();
        let mut rest = text;
        while let Some(at) = rest.find("<a id=\"") {
            rest = &rest[at + 7..];
            if let Some(end) = rest.find('"') {
                index.ids.insert(rest[..end].to_string());
            }
        }
        let mut in_sources = false;
        for line in text.lines() {
            if line.starts_with("## ") {
                in_sources = line.trim() == "## Sources";
                continue;
            }
            let Some(cell) = line
                .strip_prefix('|')
                .and_then(|l| l.split('|').next())
                .filter(|_| in_sources)
            else {
                continue;
            };
            index.sources.extend(
                cell.split('`')
                    .skip(1)
                    .step_by(2)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
        }
        index
    }

    /// The facts document of this project (`docs/FACTS.md`).
    pub fn project() -> &'static FactsIndex {
        static INDEX: LazyLock<FactsIndex> = LazyLock::new(|| FactsIndex::parse(FACTS_MD));
        &INDEX
    }
}

/// Checks one citation (possibly several joined by `; `); the error says
/// which part names nothing and what it could have been.
pub fn check(cite: &str, index: &FactsIndex) -> Result<(), String> {
    for part in parts(cite).into_iter().filter(|p| !p.is_empty()) {
        check_one(part, index)?;
    }
    Ok(())
}

/// `cite` split at each `; ` outside parentheses and backticks: a remark
/// such as `(addToMappingsIfMissing; minimum_mappable_uid)` is one part.
fn parts(cite: &str) -> Vec<&str> {
    let (mut out, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
    for (i, c) in cite.char_indices() {
        match c {
            '`' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ';' if !quoted && depth <= 0 && cite[i + 1..].starts_with(' ') => {
                out.push(cite[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(cite[start..].trim());
    out
}

fn check_one(part: &str, index: &FactsIndex) -> Result<(), String> {
    if part.starts_with("https://") || part.starts_with("http://") {
        return Ok(());
    }
    if let Some(rest) = part.strip_prefix("FACTS.md#") {
        let id = rest.split(|c: char| c.is_whitespace()).next().unwrap_or("");
        if index.ids.contains(id) {
            return Ok(());
        }
        let known: Vec<String> = index.ids.iter().cloned().collect();
        let hint = crate::scenario::recover::did_you_mean(id, &known)
            .map(|s| format!("; did you mean `FACTS.md#{s}`?"))
            .unwrap_or_default();
        return Err(format!(
            "`{part}` cites `FACTS.md#{id}`, which is no fact of docs/FACTS.md{hint}"
        ));
    }
    // A source, then a boundary: `…/validation.go:3938` or `… (validateHostUsers)`;
    // the tag it was read at may follow the repository (`cri-o/cri-o v1.33.13 server/…`).
    let untagged = untag(part);
    let part = untagged.as_str();
    let names_source = index.sources.iter().any(|s| {
        // A source that is a folder (`diagnoses/`) covers the files in it.
        part.strip_prefix(s.as_str()).is_some_and(|after| {
            after.is_empty() || s.ends_with('/') || after.starts_with([' ', ':', '/', ','])
        })
    });
    if names_source {
        return Ok(());
    }
    Err(format!(
        "`{part}` names neither a fact of docs/FACTS.md (`FACTS.md#<id>`), a source listed in its Sources table, nor a URL"
    ))
}

/// `owner/repo vX.Y.Z rest` without the tag: `owner/repo rest`.
fn untag(part: &str) -> String {
    let mut words = part.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some(repo), Some(tag), Some(rest))
            if repo.contains('/')
                && tag.strip_prefix('v').is_some_and(|v| {
                    v.split('.')
                        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                }) =>
        {
            format!("{repo} {rest}")
        }
        _ => part.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_document_defines_facts_and_sources() {
        let i = FactsIndex::project();
        assert!(i.ids.contains("story-5") && i.ids.contains("k8s-kubelet-range"));
        assert!(i
            .sources
            .contains(&"cri-o/cri-o server/sandbox_run_linux.go".to_string()));
        assert!(i.sources.contains(&"cri-o#7540".to_string()));
    }

    #[test]
    fn what_resolves_and_what_does_not() {
        let i = FactsIndex::project();
        for ok in [
            "FACTS.md#story-5",
            "FACTS.md#story-10 (two pods get disjoint ranges)",
            "FACTS.md#story-10; kubernetes/kubernetes pkg/kubelet/userns/userns_manager.go",
            "cri-o/cri-o server/sandbox_run_linux.go:133-137 (cri-o#7540)",
            "openshift/apiserver-library-go pkg/securitycontextconstraints/sccadmission admission.go",
            "https://github.com/cri-o/cri-o/issues/10341",
            "cri-o/cri-o v1.33.13 server/sandbox_run_linux.go:133-147 (uidmapping)",
            "diagnoses/",
            "diagnoses/ping-group-range-not-mapped.yaml",
        ] {
            assert_eq!(check(ok, i), Ok(()), "{ok}");
        }
        let e = check("FACTS.md#story-55", i).unwrap_err();
        assert!(e.contains("no fact of docs/FACTS.md"), "{e}");
        let e = check("FACTS.md#stroy-5", i).unwrap_err();
        assert!(e.contains("did you mean `FACTS.md#story-5`?"), "{e}");
        assert!(check("FACTS.md The story 5", i).is_err());
        assert!(check("cri-o/cri-o server/nonexistent.go", i).is_err());
        // A source's name must end where the source does.
        assert!(check("cri-o/cri-o server/sandbox_run_linux.gone", i).is_err());
        assert!(check("FACTS.md#story-5; see the blog", i).is_err());
        // A remark in parentheses or backticks is not split.
        assert_eq!(
            check(
                "cri-o/cri-o server/sandbox_run_linux.go (addToMappingsIfMissing; minimum_mappable_uid)",
                i
            ),
            Ok(())
        );
    }
}
