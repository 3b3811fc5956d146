//! The diagnosis catalog: one YAML file per entry in `diagnoses/` (repository
//! root), typed here, loaded with the scenario loader's YAML reader (so
//! errors name file:line:column), and embedded in the binary so a user needs
//! no files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::load::LoadError;
use crate::scenario::yaml::{self, Location};
use crate::scenario::Requirements;

/// The file in a catalog folder that marks it as one (like the suite's
/// `scenario.schema.json`), written by `userns-e2e schema --diagnoses`.
pub const CATALOG_MARKER: &str = "diagnosis.schema.json";

/// Whether an entry explains a failure or flags a passing pod that is unsafe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Explains why a scenario (or a doctor row) failed.
    Cause,
    /// A pod that runs but is unsafe or fragile.
    Warning,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Cause => "cause",
            Severity::Warning => "warning",
        })
    }
}

/// A regular expression, compiled when the catalog is loaded (a bad one is
/// a load error with its place, never a panic while matching).
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Pattern {
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
        let text = String::deserialize(d)?;
        regex::Regex::new(&text)
            .map(Pattern)
            .map_err(|e| serde::de::Error::custom(format!("not a regular expression: {e}")))
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl JsonSchema for Pattern {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Pattern".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "regex",
            "description": "A regular expression (Rust regex syntax), searched anywhere in the text",
        })
    }
}

/// Inclusive bounds on a number.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub min: Option<u64>,
    pub max: Option<u64>,
}

impl Bounds {
    pub fn holds(&self, n: u64) -> bool {
        self.min.is_none_or(|m| n >= m) && self.max.is_none_or(|m| n <= m)
    }
}

/// Where the pod ended up, as in the observation's `outcome.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OutcomeState {
    Running,
    ContainerWaiting,
    ContainerTerminated,
    SandboxFailed,
    Pending,
    NotCreated,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutcomeMatch {
    /// The outcome is one of these.
    pub state: Option<Vec<OutcomeState>>,
    pub reason: Option<Pattern>,
    /// Searched in the outcome's message (the runtime's words).
    pub message: Option<Pattern>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AdmissionMatch {
    /// `true`: refused by the API server; `false`: admitted.
    pub refused: Option<bool>,
    /// The refusal's HTTP status (403 SCC / Pod Security / RBAC, 422 validation).
    pub code: Option<u16>,
    /// Searched in the API server's message.
    pub message: Option<Pattern>,
}

/// One id-map line, by bounds on each of its numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineMatch {
    pub inside: Option<Bounds>,
    pub outside: Option<Bounds>,
    pub length: Option<Bounds>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MapMatch {
    /// `true`: the map is the host's (`0 0 4294967295`); `false`: the pod
    /// has its own user namespace.
    pub host: Option<bool>,
    /// Some line of the map fits (e.g. a line mapping host id 0:
    /// `{outside: {max: 0}}` with `host: false`).
    pub line: Option<LineMatch>,
}

/// What must hold of one pod of the scenario (every field given, on the same pod).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodMatch {
    pub admission: Option<AdmissionMatch>,
    /// The admitting SCC (`openshift.io/scc`).
    pub scc: Option<Pattern>,
    pub outcome: Option<OutcomeMatch>,
    /// Searched in every event's message.
    pub event: Option<Pattern>,
    pub uid_map: Option<MapMatch>,
    /// The container process's uid as the host sees it.
    pub host_uid: Option<Bounds>,
    /// Sysctl (dotted name) → pattern over the value read inside.
    #[serde(default)]
    pub sysctls: BTreeMap<String, Pattern>,
    /// `true`: the pod asked for a user namespace through CRI-O's
    /// `userns-mode` annotation (either key); a pattern form is not needed
    /// yet, the mode's words are in the runtime's message.
    pub userns_annotation: Option<bool>,
    /// The pod's `spec.hostUsers` as written (`false`: asks for a user namespace).
    pub host_users: Option<bool>,
    /// `true`: a host range of this pod overlaps a range of a pod that
    /// existed at the same time (this scenario's, or a concurrent one's).
    pub overlaps_live_pod: Option<bool>,
}

/// One way an entry matches: every part given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Match {
    /// What the target must have reported, in the form of a scenario's
    /// `requires` (runtime and version range, `openshift` and its version,
    /// `sccs`, `subids`, `runtimeConfig`, `userNamespaces`, `kernel`,
    /// `sendsNodeUsernsMode` = the kubelet mode the pods were created
    /// under, `featureGates`, `targets`). Unknown facts never hold.
    #[serde(default)]
    pub facts: Requirements,
    /// Some pod of the scenario fits.
    pub pod: Option<PodMatch>,
    /// Searched in the reason of an `error` verdict (the target broke, e.g.
    /// a denial that outlasted the access wait).
    pub error: Option<Pattern>,
}

/// The fix, per platform. At least one is given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fix {
    /// A plain node (your own CRI-O or containerd, and the harness's local node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// kind with CRI-O (`cluster up kind-crio`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// OpenShift (MachineConfig, SCC, annotations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openshift: Option<String>,
}

impl Fix {
    /// `(platform, text)` for each platform the fix names.
    pub fn platforms(&self) -> Vec<(&'static str, &str)> {
        [
            ("node", &self.node),
            ("kind", &self.kind),
            ("openshift", &self.openshift),
        ]
        .into_iter()
        .filter_map(|(p, t)| t.as_deref().map(|t| (p, t.trim())))
        .collect()
    }
}

/// One catalog entry (one file `diagnoses/<id>.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Entry {
    /// The file's stem; how reports and `doctor` name it.
    pub id: String,
    /// One line.
    pub title: String,
    pub severity: Severity,
    /// The ways it matches (any one suffices).
    #[serde(rename = "match")]
    pub matches: Vec<Match>,
    /// Why, in two or three sentences.
    pub cause: String,
    pub fix: Fix,
    /// Upstream evidence: `owner/repo#N` (issue or PR), or
    /// `owner/repo path/file.go:L[-M] @ tag`; a note may follow ` — …`.
    pub cites: Vec<String>,
}

/// The cite forms a catalog accepts: an issue or PR, or file:line at a tag.
fn cite_form() -> regex::Regex {
    // Compiled from a constant; a failure here is a programming error caught by every test.
    regex::Regex::new(
        r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(#[0-9]+| [^ @]+:[0-9]+(-[0-9]+)? @ [^ ]+)( — .+)?$",
    )
    .expect("cite form")
}

/// The catalog, as the binary carries it.
const EMBEDDED: &[(&str, &str)] = &include!(concat!(env!("OUT_DIR"), "/diagnoses.rs"));

/// The embedded catalog. It is checked by the tests, so a load error here is
/// a build defect; it is reported, not hidden.
pub fn embedded() -> Result<Vec<Entry>, Vec<LoadError>> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in EMBEDDED {
        match load_str(&Path::new("diagnoses").join(name), text) {
            Ok(e) => entries.push(e),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// File names of the embedded entries (for the staleness test).
pub fn embedded_names() -> Vec<&'static str> {
    EMBEDDED.iter().map(|(n, _)| *n).collect()
}

fn error_at(file: &Path, loc: Option<Location>, path: &str, message: String) -> LoadError {
    LoadError {
        file: file.to_path_buf(),
        line: loc.map(|l| l.line),
        column: loc.map(|l| l.column),
        path: (!path.is_empty()).then(|| path.to_string()),
        message,
    }
}

/// Parses and checks one entry file's text.
pub fn load_str(file: &Path, text: &str) -> Result<Entry, Vec<LoadError>> {
    let doc = yaml::parse(text).map_err(|e| vec![error_at(file, e.location, "", e.message)])?;
    if !doc.value.is_object() {
        return Err(vec![error_at(
            file,
            Some(Location { line: 1, column: 1 }),
            "",
            "expected a mapping (id, title, severity, match, cause, fix, cites)".into(),
        )]);
    }
    let entry: Entry = serde_path_to_error::deserialize(doc.value.clone()).map_err(|e| {
        let path = crate::scenario::recover::path_string(e.path());
        vec![error_at(
            file,
            doc.locate(&path),
            &path,
            e.inner().to_string(),
        )]
    })?;
    let mut errors = Vec::new();
    let mut fail = |path: &str, message: String| {
        errors.push(error_at(file, doc.locate(path), path, message));
    };
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if entry.id != stem {
        fail(
            "id",
            format!("id {:?} must equal the file name {stem:?}", entry.id),
        );
    }
    if entry.matches.is_empty() {
        fail("match", "at least one way to match is needed".into());
    }
    for (i, m) in entry.matches.iter().enumerate() {
        if m == &Match::default() {
            fail(
                &format!("match[{i}]"),
                "matches everything: give facts, pod or error".into(),
            );
        }
    }
    if entry.fix.platforms().is_empty() {
        fail(
            "fix",
            "give the fix for at least one of node, kind, openshift".into(),
        );
    }
    if entry.cites.is_empty() {
        fail(
            "cites",
            "every entry cites upstream (an issue/PR or file:line @ tag)".into(),
        );
    }
    let form = cite_form();
    for (i, c) in entry.cites.iter().enumerate() {
        if !form.is_match(c) {
            fail(
                &format!("cites[{i}]"),
                format!("{c:?} is neither `owner/repo#N` nor `owner/repo path:line @ tag`"),
            );
        }
    }
    // "Why" in a few sentences, not an essay: reports print it under every failure.
    let plain = entry.cause.replace("e.g. ", "").replace("i.e. ", "");
    let sentences = plain.trim().matches(". ").count() + 1;
    if entry.cause.trim().is_empty() || sentences > 3 {
        fail(
            "cause",
            format!("the cause is one to three sentences (found {sentences})"),
        );
    }
    if errors.is_empty() {
        Ok(entry)
    } else {
        Err(errors)
    }
}

/// Whether `path` is a catalog file or folder (its folder holds [`CATALOG_MARKER`]).
pub fn is_catalog_path(path: &Path) -> bool {
    let dir = if path.is_dir() {
        Some(path)
    } else {
        path.parent()
    };
    dir.is_some_and(|d| d.join(CATALOG_MARKER).is_file())
}

/// Loads entry files and folders (a folder: every `*.yaml` in it), checking
/// that ids are unique.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Entry>, Vec<LoadError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(rd) => {
                    let mut found: Vec<PathBuf> = rd
                        .flatten()
                        .map(|e| e.path())
                        .filter(|f| f.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                        .collect();
                    found.sort();
                    files.extend(found);
                }
                Err(e) => errors.push(error_at(p, None, "", format!("cannot read: {e}"))),
            }
        } else {
            files.push(p.clone());
        }
    }
    let mut entries: Vec<Entry> = Vec::new();
    for f in files {
        match std::fs::read_to_string(&f) {
            Ok(text) => match load_str(&f, &text) {
                Ok(e) if entries.iter().any(|o| o.id == e.id) => {
                    errors.push(error_at(&f, None, "id", format!("duplicate id {}", e.id)))
                }
                Ok(e) => entries.push(e),
                Err(e) => errors.extend(e),
            },
            Err(e) => errors.push(error_at(&f, None, "", format!("cannot read: {e}"))),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

/// The JSON Schema of an entry file (committed as `diagnoses/diagnosis.schema.json`).
pub fn schema_text() -> String {
    let schema = schemars::schema_for!(Entry);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// The embedded catalog, loaded once. The tests load it strictly
/// ([`embedded`]); should a defective build carry a bad entry, matching goes
/// on without the catalog rather than stopping a run.
pub fn shipped() -> &'static [Entry] {
    static CATALOG: std::sync::OnceLock<Vec<Entry>> = std::sync::OnceLock::new();
    CATALOG.get_or_init(|| embedded().unwrap_or_default())
}
