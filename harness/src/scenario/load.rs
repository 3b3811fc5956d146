//! Loading scenario files: YAML with line and column, typed checking, template
//! names, and the pod checked against k8s-openapi's `v1.Pod` (which itself
//! ignores unknown fields, so they are found by a round trip).

use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::model::{PodTemplate, Scenario, ScenarioFile};
use super::recover;
use super::yaml::{self, join_index, join_key, Document, Location};
use crate::templates::{self, Templates};

/// Files above this size are refused before parsing.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The longest per-pod timeout a scenario (or `run --timeout`) may ask for.
/// The runner multiplies it by the pod count and targets add it to
/// `Instant::now()`, which panic on overflow; a day is far beyond any pod's
/// settling and keeps those sums small.
pub const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `run --timeout`'s parser: a humantime duration up to [`MAX_TIMEOUT`].
pub fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if d > MAX_TIMEOUT {
        return Err(format!(
            "{text} is above the limit of {}",
            humantime::format_duration(MAX_TIMEOUT)
        ));
    }
    Ok(d)
}

/// A problem with a scenario file, with as much of its place as is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Field path, e.g. `pods[0].pod.spec.containers[0].image`.
    pub path: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(p) = self.path.as_deref().filter(|p| !p.is_empty()) {
            write!(f, "at {p}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

struct Ctx<'a> {
    file: &'a Path,
    doc: &'a Document,
}

impl Ctx<'_> {
    fn error(&self, path: &str, message: impl Into<String>) -> LoadError {
        let loc = self.doc.locate(path);
        LoadError {
            file: self.file.to_path_buf(),
            line: loc.map(|l| l.line),
            column: loc.map(|l| l.column),
            path: Some(path.to_string()),
            message: message.into(),
        }
    }
}

fn plain_error(file: &Path, location: Option<Location>, message: impl Into<String>) -> LoadError {
    LoadError {
        file: file.to_path_buf(),
        line: location.map(|l| l.line),
        column: location.map(|l| l.column),
        path: None,
        message: message.into(),
    }
}

/// Parses and checks one scenario file's text.
pub fn load_str(file: &Path, text: &str) -> Result<ScenarioFile, Vec<LoadError>> {
    let doc = yaml::parse(text).map_err(|e| vec![plain_error(file, e.location, e.message)])?;
    let ctx = Ctx { file, doc: &doc };
    match &doc.value {
        Value::Null => {
            return Err(vec![plain_error(
                file,
                None,
                "empty file: expected a scenario mapping (description, cites, pods …)",
            )])
        }
        Value::Object(_) => {}
        _ => {
            return Err(vec![plain_error(
                file,
                Some(Location { line: 1, column: 1 }),
                "expected a mapping at the top level (description, cites, pods …)",
            )])
        }
    }
    // Every error of the file at once: typing errors (each wrong part is
    // removed and typing goes on), then the checks on what could be typed.
    let r = recover::deserialize_all::<ScenarioFile>(&doc.value, "");
    let mut errors: Vec<LoadError> = r
        .errors
        .iter()
        .map(|f| ctx.error(&f.path, f.message.clone()))
        .collect();
    let Some(spec) = r.typed else {
        return Err(errors);
    };
    let mut checked = Vec::new();
    check_semantics(&ctx, &spec, &mut checked);
    // A removed part is not reported again (`cites: 7` is not also empty).
    errors.extend(checked.into_iter().filter(|e| {
        !e.path.as_deref().is_some_and(|p| {
            r.removed.iter().any(|gone| {
                p == gone
                    || p.starts_with(&format!("{gone}."))
                    || p.starts_with(&format!("{gone}["))
            })
        })
    }));
    if errors.is_empty() {
        Ok(spec)
    } else {
        // In file order, as a reader goes through it.
        errors.sort_by_key(|e| (e.line.unwrap_or(0), e.column.unwrap_or(0)));
        Err(errors)
    }
}

fn check_semantics(ctx: &Ctx, spec: &ScenarioFile, errors: &mut Vec<LoadError>) {
    if spec.description.trim().is_empty() {
        errors.push(ctx.error("description", "must say what the scenario shows"));
    }
    if spec.cites.is_empty() {
        errors.push(ctx.error(
            "cites",
            "must name at least one fact (`FACTS.md#<id>` of docs/FACTS.md, or an upstream source listed there)",
        ));
    }
    // Every citation must resolve for a reader of the repository.
    for (i, cite) in spec.cites.iter().enumerate() {
        if let Err(e) = crate::citations::check(cite, crate::citations::FactsIndex::project()) {
            errors.push(ctx.error(&format!("cites[{i}]"), e));
        }
    }
    if spec.pods.is_empty() {
        errors.push(ctx.error("pods", "needs at least one pod"));
    }
    if spec.timeout.is_some_and(|t| t > MAX_TIMEOUT) {
        errors.push(ctx.error(
            "timeout",
            format!(
                "is above the limit of {}",
                humantime::format_duration(MAX_TIMEOUT)
            ),
        ));
    }
    if spec.across.disjoint_ranges && spec.pods.len() < 2 {
        errors.push(ctx.error("across.disjointRanges", "needs at least two pods"));
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, case) in spec.pods.iter().enumerate() {
        let base = format!("pods[{i}]");
        let pod_path = format!("{base}.pod");
        let before = errors.len();
        check_template_refs(ctx, &pod_path, &case.pod.0, errors);
        if errors.len() > before {
            // Typing the pod needs every template known; the refs are already reported.
            continue;
        }
        for (j, e) in case.expect.exec.iter().flatten().enumerate() {
            for (k, arg) in e.command.iter().enumerate() {
                check_text_refs(
                    ctx,
                    &format!("{base}.expect.exec[{j}].command[{k}]"),
                    arg,
                    errors,
                );
            }
        }
        match check_pod(ctx, &pod_path, &case.pod) {
            Err(e) => errors.extend(e),
            Ok(pod) => {
                let name = pod.metadata.name.clone().unwrap_or_default();
                if !names.insert(name.clone()) {
                    errors.push(ctx.error(
                        &format!("{pod_path}.metadata.name"),
                        format!("pod name `{name}` is used twice in this file"),
                    ));
                }
                let containers: Vec<&str> = pod
                    .spec
                    .iter()
                    .flat_map(|s| s.containers.iter())
                    .map(|c| c.name.as_str())
                    .collect();
                if let Some(probe) = &case.probe {
                    if !containers.contains(&probe.as_str()) {
                        errors.push(ctx.error(
                            &format!("{base}.probe"),
                            format!(
                                "no container named `{probe}` (containers: {})",
                                containers.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
    }
}

fn check_text_refs(ctx: &Ctx, path: &str, text: &str, errors: &mut Vec<LoadError>) {
    match templates::references(text) {
        Err(e) => errors.push(ctx.error(path, e)),
        Ok(refs) => {
            for name in refs {
                if templates::lookup(name).is_none() {
                    let known: Vec<&str> = templates::KNOWN.iter().map(|d| d.name).collect();
                    errors.push(ctx.error(
                        path,
                        format!(
                            "unknown template value `{name}` (known: {})",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
    }
}

fn check_template_refs(ctx: &Ctx, path: &str, value: &Value, errors: &mut Vec<LoadError>) {
    match value {
        Value::String(s) => check_text_refs(ctx, path, s, errors),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| check_template_refs(ctx, &join_index(path, i), v, errors)),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| check_template_refs(ctx, &join_key(path, k), v, errors)),
        _ => {}
    }
}

/// Checks the pod against `v1.Pod`, with stand-in template values.
fn check_pod(ctx: &Ctx, path: &str, pod: &PodTemplate) -> Result<Pod, Vec<LoadError>> {
    let value = templates::substitute_value(&pod.0, &templates::placeholders())
        .map_err(|e| vec![ctx.error(path, e)])?;
    if !value.is_object() {
        return Err(vec![ctx.error(path, "expected a v1.Pod mapping")]);
    }
    let mut errors = Vec::new();
    if value.get("apiVersion").and_then(Value::as_str) != Some("v1") {
        errors.push(ctx.error(&join_key(path, "apiVersion"), "must be `v1`"));
    }
    if value.get("kind").and_then(Value::as_str) != Some("Pod") {
        errors.push(ctx.error(&join_key(path, "kind"), "must be `Pod`"));
    }
    let r = recover::deserialize_all::<Pod>(&value, path);
    errors.extend(r.errors.iter().map(|f| {
        let p = join_key(path, &f.path);
        ctx.error(p.trim_end_matches('.'), f.message.clone())
    }));
    let Some(typed) = r.typed else {
        return Err(errors);
    };
    let round_trip = serde_json::to_value(&typed).unwrap_or(Value::Null);
    unknown_fields(ctx, path, &r.pruned, &round_trip, &mut errors);
    match typed.metadata.name.as_deref() {
        None => errors.push(ctx.error(&join_key(path, "metadata"), "metadata.name is required")),
        Some(n) if !is_dns_label(n) => errors.push(ctx.error(
            &format!("{path}.metadata.name"),
            format!("`{n}` is not a DNS-1123 label (lower-case letters, digits, '-', at most 63)"),
        )),
        _ => {}
    }
    if typed.spec.as_ref().is_none_or(|s| s.containers.is_empty()) {
        errors.push(ctx.error(
            &join_key(path, "spec"),
            "spec.containers needs at least one container",
        ));
    }
    if errors.is_empty() {
        Ok(typed)
    } else {
        Err(errors)
    }
}

/// Keys of `original` that the typed round trip lost: fields `v1.Pod` does
/// not have (null values drop out legitimately and are not reported).
fn unknown_fields(
    ctx: &Ctx,
    path: &str,
    original: &Value,
    round_trip: &Value,
    errors: &mut Vec<LoadError>,
) {
    match (original, round_trip) {
        (Value::Object(o), Value::Object(r)) => {
            for (k, v) in o {
                let p = join_key(path, k);
                match r.get(k) {
                    None if !v.is_null() => {
                        let known = recover::known_fields(&p, true);
                        let hint = recover::did_you_mean(k, &known)
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        errors.push(ctx.error(&p, format!("unknown field `{k}` in v1.Pod{hint}")))
                    }
                    None => {}
                    Some(rv) => unknown_fields(ctx, &p, v, rv, errors),
                }
            }
        }
        (Value::Array(o), Value::Array(r)) => {
            for (i, (v, rv)) in o.iter().zip(r).enumerate() {
                unknown_fields(ctx, &join_index(path, i), v, rv, errors);
            }
        }
        _ => {}
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Reads and checks one file (size, encoding, then [`load_str`]).
pub fn load_file(file: &Path) -> Result<ScenarioFile, Vec<LoadError>> {
    let meta = std::fs::metadata(file)
        .map_err(|e| vec![plain_error(file, None, format!("cannot read: {e}"))])?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(vec![plain_error(
            file,
            None,
            format!(
                "file is {} bytes; scenario files are limited to {MAX_FILE_BYTES}",
                meta.len()
            ),
        )]);
    }
    let bytes = std::fs::read(file)
        .map_err(|e| vec![plain_error(file, None, format!("cannot read: {e}"))])?;
    load_bytes(file, bytes)
}

/// Checks the encoding of a file's bytes, then [`load_str`]. `file` only
/// names the source in errors.
pub fn load_bytes(file: &Path, bytes: Vec<u8>) -> Result<ScenarioFile, Vec<LoadError>> {
    let text = String::from_utf8(bytes).map_err(|e| {
        vec![plain_error(
            file,
            None,
            format!(
                "not UTF-8 text (invalid byte at offset {}); is this a binary file?",
                e.utf8_error().valid_up_to()
            ),
        )]
    })?;
    if text.contains('\0') {
        return Err(vec![plain_error(
            file,
            None,
            "contains NUL bytes; is this a binary file?",
        )]);
    }
    load_str(file, &text)
}

fn is_scenario_file(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return errors.push(plain_error(dir, None, format!("cannot read folder: {e}"))),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, out, errors);
        } else if is_scenario_file(&p) {
            out.push(p);
        }
    }
}

/// Loads files and folders (recursively, `*.yaml`/`*.yml`, sorted). Ids are
/// paths below the folder given, without the extension; every error of every
/// file is returned.
/// The file that marks a suite's root folder.
pub const SUITE_MARKER: &str = "scenario.schema.json";

/// The nearest folder above `file` that holds [`SUITE_MARKER`].
fn suite_root(file: &Path) -> Option<PathBuf> {
    file.parent()?
        .ancestors()
        .find(|d| d.join(SUITE_MARKER).is_file())
        .map(Path::to_path_buf)
}

pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Scenario>, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut found: Vec<(PathBuf, PathBuf)> = Vec::new(); // (root, file)
    for root in paths {
        if root.is_dir() {
            let mut files = Vec::new();
            walk(root, &mut files, &mut errors);
            found.extend(files.into_iter().map(|f| (root.clone(), f)));
        } else if root.is_file() {
            found.push((
                root.parent().map(Path::to_path_buf).unwrap_or_default(),
                root.clone(),
            ));
        } else {
            errors.push(plain_error(root, None, "no such file or folder"));
        }
    }
    if found.is_empty() && errors.is_empty() {
        errors.push(LoadError {
            file: paths.first().cloned().unwrap_or_default(),
            line: None,
            column: None,
            path: None,
            message: "no scenario files (*.yaml) found".into(),
        });
    }
    let mut scenarios = Vec::new();
    for (root, file) in found {
        match load_file(&file) {
            Err(e) => errors.extend(e),
            Ok(spec) => {
                // Ids are relative to the suite (the folder holding the
                // scenario schema), so `run scenarios/annotation` names a
                // scenario `annotation/new-key` as a whole run does, and
                // partial runs line up in `compare`.
                let base = suite_root(&file).unwrap_or(root);
                let rel = file.strip_prefix(&base).unwrap_or(&file).with_extension("");
                let id = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let topic = if rel.components().count() > 1 {
                    id.split('/').next().unwrap_or("").to_string()
                } else {
                    String::new()
                };
                scenarios.push(Scenario {
                    id,
                    file,
                    topic,
                    spec,
                });
            }
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for s in &scenarios {
        if let Some(first) = seen.insert(s.id.clone(), s.file.clone()) {
            errors.push(plain_error(
                &s.file,
                None,
                format!("scenario id `{}` is also used by {}", s.id, first.display()),
            ));
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(errors)
    }
}

/// The suite as the binary carries it: `(path below scenarios/, text)`.
const EMBEDDED: &[(&str, &str)] = &include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));

/// The suite built into the binary, as [`load_paths`] on `scenarios/` gives
/// it (ids, topics; files named `scenarios/<topic>/<name>.yaml`).
pub fn load_embedded() -> Result<Vec<Scenario>, Vec<LoadError>> {
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for (rel, text) in EMBEDDED {
        let file = Path::new("scenarios").join(rel);
        match load_str(&file, text) {
            Err(e) => errors.extend(e),
            Ok(spec) => {
                let id = rel.trim_end_matches(".yaml").to_string();
                scenarios.push(Scenario {
                    topic: id.split('/').next().unwrap_or("").to_string(),
                    id,
                    file,
                    spec,
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(errors)
    }
}

/// Fills templates into a pod and types it, for targets.
pub fn materialize_pod(pod: &PodTemplate, values: &Templates) -> Result<Pod, String> {
    let value = templates::substitute_value(&pod.0, values)?;
    serde_path_to_error::deserialize(value)
        .map_err(|e| format!("pod: at {}: {}", recover::path_string(e.path()), e.inner()))
}

/// Warnings that do not stop a run: CRI-O `userns-mode` values CRI-O will
/// refuse (a scenario may want to see exactly that refusal).
pub fn lint(scenario: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    for (i, case) in scenario.spec.pods.iter().enumerate() {
        let annotations = case
            .pod
            .0
            .pointer("/metadata/annotations")
            .and_then(Value::as_object);
        for key in crate::parse::userns_mode::ANNOTATION_KEYS {
            if let Some(v) = annotations
                .and_then(|a| a.get(*key))
                .and_then(Value::as_str)
            {
                if let Err(e) = crate::parse::userns_mode::parse(v) {
                    out.push(format!(
                        "{}: pods[{i}]: annotation {key}={v:?} will be refused by CRI-O: {e}",
                        scenario.file.display()
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_folder_when_a_topic_is_run_alone() {
        let suite = tempfile::tempdir().unwrap();
        let topic = suite.path().join("annotation");
        std::fs::create_dir(&topic).unwrap();
        std::fs::write(suite.path().join(SUITE_MARKER), "{}").unwrap();
        std::fs::write(topic.join("new-key.yaml"), GOOD).unwrap();
        for root in [
            suite.path().to_path_buf(),
            topic.clone(),
            topic.join("new-key.yaml"),
        ] {
            let s = load_paths(&[root]).unwrap();
            assert_eq!(
                (s[0].id.as_str(), s[0].topic.as_str()),
                ("annotation/new-key", "annotation")
            );
        }
        // Outside a suite: relative to what was given.
        std::fs::remove_file(suite.path().join(SUITE_MARKER)).unwrap();
        assert_eq!(load_paths(&[topic]).unwrap()[0].id, "new-key");
    }

    const GOOD: &str = r#"
description: d
cites: [FACTS.md#story-1]
pods:
  - pod:
      apiVersion: v1
      kind: Pod
      metadata: {name: p}
      spec:
        hostUsers: false
        securityContext: {runAsUser: "${ns.uidRangeStart}"}
        containers: [{name: c, image: "${image.busybox}"}]
    expect:
      uidMap: ["0 ${ns.uidRangeStart} 1"]
"#;

    fn errors(text: &str) -> Vec<String> {
        load_str(Path::new("f.yaml"), text)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn accepts_a_good_file() {
        let spec = load_str(Path::new("f.yaml"), GOOD).unwrap();
        assert_eq!(spec.pods.len(), 1);
    }

    #[test]
    fn unknown_pod_field_is_located() {
        let bad = GOOD.replace(
            "hostUsers: false",
            "hostUsers: false\n        hostUser: true",
        );
        assert_eq!(
            errors(&bad),
            vec!["f.yaml:11:9: at pods[0].pod.spec.hostUser: unknown field `hostUser` in v1.Pod; did you mean `hostUsers`?"]
        );
    }

    #[test]
    fn unknown_top_level_field_and_template() {
        let e = errors(&format!("{GOOD}bogus: 1\n"));
        assert!(
            e[0].starts_with("f.yaml:15:1: at bogus: unknown field `bogus`"),
            "{e:?}"
        );
        let e = errors(&GOOD.replace("${image.busybox}", "${image.nope}"));
        assert!(
            e[0].contains(
                "at pods[0].pod.spec.containers[0].image: unknown template value `image.nope`"
            ),
            "{e:?}"
        );
    }

    #[test]
    fn wrong_types() {
        let e = errors(&GOOD.replace("hostUsers: false", "hostUsers: maybe"));
        assert!(
            e[0].contains("pods[0].pod.spec.hostUsers") && e[0].contains("f.yaml:10:"),
            "{e:?}"
        );
    }

    #[test]
    fn materializes_numbers() {
        let spec = load_str(Path::new("f.yaml"), GOOD).unwrap();
        let mut t = Templates::new();
        t.insert("ns.uidRangeStart".into(), "1000650000".into());
        t.insert("image.busybox".into(), "busybox".into());
        let pod = materialize_pod(&spec.pods[0].pod, &t).unwrap();
        assert_eq!(
            pod.spec.unwrap().security_context.unwrap().run_as_user,
            Some(1000650000)
        );
    }
}
