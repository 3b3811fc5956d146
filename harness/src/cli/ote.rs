//! `ote info | list | run-test | run-suite | images`: the scenarios as an
//! OpenShift test extension, the contract `openshift-tests` (openshift/origin)
//! runs external test binaries by.
//!
//! The JSON shapes follow the Go types of openshift-eng/openshift-tests-extension,
//! read at commit 2fd5b2fa422100cb3df9fa9a2feac691fc10b628, field by field
//! (each type below cites its file and lines). How origin invokes and parses
//! (openshift/origin `pkg/test/extensions/binary.go`, read at
//! 0001afe05741f24bb22b7497f7988af5948ffcf0):
//! - `info`: JSON from the first line starting with `{` (after trimming) to
//!   the last `}` of stdout (`TestBinary.Info`, binary.go:239-263);
//! - `list -o jsonl` plus its environment flags: every stdout line starting
//!   with `{` is one spec; a last line without its newline is dropped
//!   (`TestBinary.ListTests`, binary.go:292-316);
//! - `run-test -n NAME… -o jsonl`: every line starting with `{` is one
//!   result; a result for a name not asked for is failed (binary.go:373-376),
//!   a name without a result is failed ("external binary did not produce a
//!   result", binary.go:385-395), and the exit code is ignored
//!   (binary.go:351) (`TestBinary.RunTests`);
//! - `images`: stdout is unmarshalled as it is, a JSON array
//!   (`TestBinary.ListImages`, binary.go:405-412), so nothing else may be
//!   printed there; `type Image` is binary.go:151-156.
//!
//! Logs and progress go to stderr; stdout carries only the JSON.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::target_args::TargetArgs;
use crate::exit::{CliError, Status};
use crate::facts::TargetKind;
use crate::report::results::ScenarioResult;
use crate::runner::Selection;
use crate::scenario::Scenario;
use crate::verdict::Verdict;

/// `extension.CurrentExtensionAPIVersion` (pkg/extension/types.go:10).
pub const API_VERSION: &str = "v1.1";
/// Every spec's name starts with this; the scenario id follows.
pub const NAME_PREFIX: &str = "[sig-node][userns-e2e] ";
/// `flags.DefaultExtension` (pkg/flags/component.go:7): the component
/// `--component` selects when not given.
pub const DEFAULT_COMPONENT: &str = "default";
/// The suite holding every scenario.
pub const ALL_SUITE: &str = "userns-e2e/all";

// ---------------------------------------------------------------- the types

/// `extension.Extension` (pkg/extension/types.go:13-26): what `info` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extension {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub source: Source,
    pub component: Component,
    pub suites: Vec<Suite>,
    pub images: Vec<Image>,
}

/// `extension.Source` (pkg/extension/types.go:29-38).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub commit: String,
    pub build_date: String,
    pub git_tree_state: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_url: String,
}

/// `extension.Component` (pkg/extension/types.go:41-48); `Kind` is `type` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    pub product: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
}

impl Component {
    /// `Component.Identifier()` (pkg/extension/extension.go:163-165): every
    /// spec's `source`, and what suite qualifiers select on.
    pub fn identifier(&self) -> String {
        format!("{}:{}:{}", self.product, self.kind, self.name)
    }
}

/// `extension.Suite` (pkg/extension/types.go:66-84). `testTimeout` (a Go
/// `time.Duration`, nanoseconds) and `count`/`parallelism` are left to the
/// parent suite, so they are never written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub qualifiers: Vec<String>,
    /// `ClusterStability` (types.go:50-62): `Stable` or `Disruptive`.
    #[serde(
        default,
        rename = "clusterStability",
        skip_serializing_if = "Option::is_none"
    )]
    pub cluster_stability: Option<String>,
}

/// `extension.Image` (pkg/extension/types.go:86-94), as origin reads it
/// (binary.go:151-156 at 0001afe0, `type Image`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub index: i64,
    pub registry: String,
    pub name: String,
    pub version: String,
}

/// `sets.Empty` (pkg/util/sets/empty.go:21): a labels set is a Go
/// `map[string]Empty` (pkg/util/sets/set.go:25) without its own JSON
/// marshalling, so it is a JSON object whose values are `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// `extensiontests.ExtensionTestSpec` (pkg/extension/extensiontests/types.go:24-72),
/// its JSON fields; `Run`, `RunParallel`, `Timeout` and the hooks are `json:"-"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionTestSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub original_name: String,
    pub labels: BTreeMap<String, Empty>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub resources: Resources,
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_locations: Vec<String>,
    pub lifecycle: Lifecycle,
    /// `omitempty` on a Go struct omits nothing: always written.
    pub environment_selector: EnvironmentSelector,
}

/// `extensiontests.Resources` (types.go:74-79).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub isolation: Isolation,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub memory: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub duration: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timeout: String,
}

/// `extensiontests.Isolation` (types.go:81-86).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Isolation {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflict: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taint: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub toleration: Vec<String>,
}

/// `extensiontests.EnvironmentSelector` (types.go:88-91).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentSelector {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub include: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub exclude: String,
}

/// `extensiontests.Lifecycle` (types.go:11-14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    Informing,
    Blocking,
}

/// `extensiontests.Result` (types.go:99-103).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OteResult {
    Passed,
    Skipped,
    Failed,
}

/// `extensiontests.ExtensionTestResult` (types.go:105-115): one `run-test` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionTestResult {
    pub name: String,
    pub lifecycle: Lifecycle,
    /// Milliseconds (`duration.Milliseconds()`, extensiontests/spec.go:617).
    pub duration: i64,
    /// `dbtime.DBTime` (pkg/dbtime/time.go): `2006-01-02 15:04:05.000000 UTC`;
    /// a nil pointer is `null`.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub result: OteResult,
    pub output: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Details>,
}

/// `extensiontests.Details` (types.go:121-124).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Details {
    pub name: String,
    pub value: serde_json::Value,
}

// ------------------------------------------------------- scenarios → specs

/// This binary's component: `openshift:userns-e2e:userns-e2e`.
pub fn component() -> Component {
    Component {
        product: "openshift".into(),
        kind: "userns-e2e".into(),
        name: "userns-e2e".into(),
    }
}

/// What `info` prints: the build, the component, one suite of every
/// scenario and one per topic, the test image.
pub fn extension(scenarios: &[Scenario]) -> Extension {
    let component = component();
    let source_is = format!("source == {:?}", component.identifier());
    let mut suites = vec![Suite {
        name: ALL_SUITE.into(),
        description:
            "Every userns-e2e scenario: what the cluster does with user-namespaced pods (informing)"
                .into(),
        parents: Vec::new(),
        qualifiers: vec![source_is.clone()],
        cluster_stability: Some("Stable".into()),
    }];
    let topics: std::collections::BTreeSet<&str> =
        scenarios.iter().map(|s| s.topic.as_str()).collect();
    for topic in topics {
        suites.push(Suite {
            name: format!("userns-e2e/{topic}"),
            description: format!("The userns-e2e scenarios of the topic {topic}"),
            parents: vec![ALL_SUITE.into()],
            qualifiers: vec![format!(
                "({source_is}) && (labels.exists(l, l == {:?}))",
                topic_label(topic)
            )],
            cluster_stability: Some("Stable".into()),
        });
    }
    Extension {
        api_version: API_VERSION.into(),
        source: Source {
            commit: env!("USERNS_E2E_GIT_COMMIT").into(),
            build_date: env!("USERNS_E2E_BUILD_DATE").into(),
            git_tree_state: env!("USERNS_E2E_GIT_TREE_STATE").into(),
            source_url: env!("USERNS_E2E_SOURCE_URL").into(),
        },
        component,
        suites,
        images: images(),
    }
}

/// The images the scenarios' pods use on a cluster (`${image.busybox}`),
/// from the kube target's default.
pub fn images() -> Vec<Image> {
    let image = crate::targets::kube::DEFAULT_CLUSTER_IMAGE;
    let (repo, version) = image.rsplit_once(':').unwrap_or((image, "latest"));
    let (registry, name) = repo.rsplit_once('/').unwrap_or(("", repo));
    vec![Image {
        index: 0,
        registry: registry.into(),
        name: name.into(),
        version: version.into(),
    }]
}

fn topic_label(topic: &str) -> String {
    format!("topic:{topic}")
}

/// A spec's name: stable, from the scenario's id.
pub fn spec_name(id: &str) -> String {
    format!("{NAME_PREFIX}{id}")
}

/// The labels of a scenario: its topic and each requirement, as
/// `requires:<field>=<value>` (maps one entry each, `requires:<field>.<key>=<value>`).
pub fn labels(scenario: &Scenario) -> BTreeMap<String, Empty> {
    let mut out = BTreeMap::new();
    out.insert(topic_label(&scenario.topic), Empty {});
    let requires = serde_json::to_value(&scenario.spec.requires).unwrap_or_default();
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    for (field, value) in requires.as_object().into_iter().flatten() {
        match value {
            serde_json::Value::Null => {}
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.insert(format!("requires:{field}.{k}={}", text(v)), Empty {});
                }
            }
            serde_json::Value::Array(a) if a.is_empty() => {}
            v => {
                out.insert(format!("requires:{field}={}", text(v)), Empty {});
            }
        }
    }
    out
}

/// One scenario as a spec.
pub fn spec(scenario: &Scenario, source: &str) -> ExtensionTestSpec {
    let mut tags = BTreeMap::new();
    tags.insert("scenario".to_string(), scenario.id.clone());
    ExtensionTestSpec {
        name: spec_name(&scenario.id),
        original_name: String::new(),
        labels: labels(scenario),
        tags,
        resources: Resources {
            timeout: scenario
                .spec
                .timeout
                .map(|t| humantime::format_duration(t).to_string())
                .unwrap_or_default(),
            isolation: Isolation {
                // `serial: true` scenarios run alone (e.g. CRI-O's shared `auto` allocator).
                mode: if scenario.spec.serial {
                    "exclusive".into()
                } else {
                    String::new()
                },
                ..Isolation::default()
            },
            ..Resources::default()
        },
        source: source.to_string(),
        code_locations: vec![scenario.file.display().to_string()],
        lifecycle: Lifecycle::Informing,
        environment_selector: EnvironmentSelector::default(),
    }
}

/// `dbtime.DBTime`'s format (pkg/dbtime/time.go): `2006-01-02 15:04:05.000000 UTC`.
pub fn db_time(t: SystemTime) -> String {
    let rfc = humantime::format_rfc3339_micros(t).to_string();
    // 2026-12-04T14:55:01.123456Z → 2026-12-04 14:55:01.123456 UTC
    format!("{} UTC", rfc.trim_end_matches('Z').replacen('T', " ", 1))
}

/// A scenario's result as a `run-test` line.
pub fn result_of(
    r: &ScenarioResult,
    started: SystemTime,
    facts_label: &str,
) -> ExtensionTestResult {
    let end = started + std::time::Duration::from_millis(r.duration_ms);
    let mut details = vec![Details {
        name: "target".into(),
        value: serde_json::Value::String(facts_label.into()),
    }];
    let (result, output, error) = match &r.verdict {
        Verdict::Pass { .. } => (OteResult::Passed, String::new(), String::new()),
        Verdict::Skip { reason } => {
            details.push(Details {
                name: "skipReason".into(),
                value: serde_json::Value::String(reason.clone()),
            });
            (
                OteResult::Skipped,
                format!("skipped: {reason}"),
                String::new(),
            )
        }
        Verdict::Fail { reason, diff, .. } => (
            OteResult::Failed,
            format!("{reason}\n{diff}"),
            reason.clone(),
        ),
        Verdict::Error { reason } => (
            OteResult::Failed,
            format!("error: {reason}"),
            format!("error: {reason}"),
        ),
    };
    if let Some(o) = &r.observation {
        if !o.leftovers.is_empty() {
            details.push(Details {
                name: "leftovers".into(),
                value: serde_json::json!(o.leftovers),
            });
        }
    }
    ExtensionTestResult {
        name: spec_name(&r.id),
        lifecycle: Lifecycle::Informing,
        duration: r.duration_ms as i64,
        start_time: Some(db_time(started)),
        end_time: Some(db_time(end)),
        result,
        output,
        error,
        details,
    }
}

/// A failed line for a requested name the harness could not run.
pub fn failed(name: &str, error: String) -> ExtensionTestResult {
    let now = db_time(SystemTime::now());
    ExtensionTestResult {
        name: name.to_string(),
        lifecycle: Lifecycle::Informing,
        duration: 0,
        start_time: Some(now.clone()),
        end_time: Some(now),
        result: OteResult::Failed,
        output: error.clone(),
        error,
        details: Vec::new(),
    }
}

// --------------------------------------------------------------- commands

#[derive(Debug, clap::Args)]
pub struct OteArgs {
    #[command(subcommand)]
    pub command: OteCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum OteCommand {
    /// Print the extension's metadata (JSON): build, component, suites, images.
    Info(Common),
    /// List the scenarios as test specs (`-o jsonl`: one per line).
    List(ListArgs),
    /// Run scenarios by spec name on the cluster (kubeconfig rules, or in-cluster).
    RunTest(RunTestArgs),
    /// Run every scenario of a suite on the cluster.
    RunSuite(RunSuiteArgs),
    /// Print the images the scenarios' pods use (JSON array).
    Images(Common),
}

/// What every `ote` command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The suite folder (in the image: /usr/share/userns-e2e/scenarios);
    /// without it, ./scenarios when it exists, else the suite built into the binary.
    #[arg(long, env = "USERNS_E2E_SCENARIOS")]
    pub scenarios: Option<PathBuf>,
    /// The component (`--component` of the extension contract).
    #[arg(long, default_value = DEFAULT_COMPONENT)]
    pub component: String,
}

impl Common {
    fn check(&self) -> Result<(), CliError> {
        let ours = component().identifier();
        if self.component == DEFAULT_COMPONENT || self.component == ours {
            Ok(())
        } else {
            Err(CliError::Usage(format!(
                "component not found: {} (this binary has {DEFAULT_COMPONENT:?} = {ours:?})",
                self.component
            )))
        }
    }

    fn load(&self) -> Result<Vec<Scenario>, CliError> {
        self.check()?;
        let folder = self
            .scenarios
            .clone()
            .or_else(|| Some(PathBuf::from("scenarios")).filter(|p| p.is_dir()));
        match folder {
            Some(dir) => super::validate::load(&[dir]),
            None => crate::scenario::load::load_embedded().map_err(|errors| {
                for e in &errors {
                    eprintln!("error: {e}");
                }
                CliError::Input(format!("{} error(s) in the built-in suite", errors.len()))
            }),
        }
    }
}

/// `-o`: `json` (an indented array, the default) or `jsonl` (pkg/flags/output.go).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    #[default]
    Json,
    Jsonl,
}

/// `list`'s flags: the suite, the output, and the environment flags origin
/// passes (pkg/flags/environment.go:30-75). No spec has an environment
/// selector, so they select nothing away; they are accepted, not ignored silently.
/// What `list` lists (pkg/cmd/cmdlist/list.go:119-130: `list` is `list tests`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ListWhat {
    #[default]
    Tests,
    Suites,
    Components,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// tests (default), suites or components.
    #[arg(value_enum, default_value_t)]
    pub what: ListWhat,
    #[command(flatten)]
    pub common: Common,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
    /// Only the specs of this suite (its name, as `info` lists it).
    #[arg(long)]
    pub suite: Option<String>,
    #[arg(long = "api-group")]
    pub api_group: Vec<String>,
    #[arg(long)]
    pub architecture: Option<String>,
    #[arg(long = "external-connectivity")]
    pub external_connectivity: Option<String>,
    #[arg(long = "feature-gate")]
    pub feature_gate: Vec<String>,
    #[arg(long)]
    pub fact: Vec<String>,
    #[arg(long)]
    pub network: Option<String>,
    #[arg(long = "network-stack")]
    pub network_stack: Option<String>,
    #[arg(long = "optional-capability")]
    pub optional_capability: Vec<String>,
    #[arg(long)]
    pub platform: Option<String>,
    #[arg(long)]
    pub topology: Option<String>,
    #[arg(long)]
    pub upgrade: Option<String>,
    #[arg(long)]
    pub version: Option<String>,
}

/// How the scenarios reach the cluster under `run-test`/`run-suite`: the
/// kube target, found by the usual kubeconfig rules (KUBECONFIG,
/// ~/.kube/config, in-cluster) unless given. Environment variables, because
/// origin passes no flags of ours.
#[derive(Debug, Clone, clap::Args)]
pub struct Cluster {
    /// kubeconfig file (default: the usual rules, then in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    #[arg(long)]
    pub context: Option<String>,
    /// Impersonate this user for scenarios that name no account (as `run
    /// --as`; default `test`, as the suite is run on OpenShift: origin's
    /// identity is a cluster admin). An empty value: the harness's own identity.
    #[arg(long = "as", env = "USERNS_E2E_AS", default_value = "test")]
    pub as_user: String,
    /// Test image the nodes can pull.
    #[arg(long, env = "USERNS_E2E_IMAGE")]
    pub image: Option<String>,
    /// Per-pod settle timeout (as `run --timeout`).
    #[arg(long, env = "USERNS_E2E_TIMEOUT", value_parser = crate::scenario::load::parse_timeout)]
    pub timeout: Option<std::time::Duration>,
    /// `-c`/`--max-concurrency` (pkg/flags/concurrency.go): scenarios at once.
    #[arg(short = 'c', long = "max-concurrency")]
    pub max_concurrency: Option<usize>,
}

impl Cluster {
    fn target(&self) -> TargetArgs {
        use clap::FromArgMatches;
        // The defaults of every target flag, then the kube ones set.
        let matches = <TargetArgs as clap::Args>::augment_args(clap::Command::new("x"))
            .no_binary_name(true)
            .get_matches_from(Vec::<String>::new());
        let mut t = TargetArgs::from_arg_matches(&matches)
            .unwrap_or_else(|e| unreachable!("TargetArgs' defaults parse: {e}"));
        t.target = Some(TargetKind::Kube);
        t.kubeconfig = self.kubeconfig.clone();
        t.context = self.context.clone();
        t.as_user = Some(self.as_user.clone()).filter(|u| !u.is_empty());
        t.image = self.image.clone();
        t
    }
}

#[derive(Debug, clap::Args)]
pub struct RunTestArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub cluster: Cluster,
    /// A spec name (repeatable), `[sig-node][userns-e2e] <scenario id>`.
    #[arg(short = 'n', long = "names")]
    pub names: Vec<String>,
    /// One more name, as upstream's `run-test NAME`.
    pub name: Option<String>,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
}

#[derive(Debug, clap::Args)]
pub struct RunSuiteArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub cluster: Cluster,
    /// The suite's name, as `info` lists it.
    pub suite: String,
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
    /// Also write the results as JUnit here (`--junit-path`, runsuite.go:142).
    #[arg(short = 'j', long = "junit-path")]
    pub junit_path: Option<PathBuf>,
}

pub fn ote(args: OteArgs) -> Result<Status, CliError> {
    match args.command {
        OteCommand::Info(c) => {
            let scenarios = c.load()?;
            print_json(&extension(&scenarios), Output::Json)
        }
        OteCommand::Images(c) => {
            c.check()?;
            // Compact, one line: origin unmarshals stdout as it is.
            super::print_stdout(&(to_json(&images(), false)? + "\n"));
            Ok(Status::Ok)
        }
        OteCommand::List(a) => {
            let scenarios = a.common.load()?;
            match a.what {
                ListWhat::Tests => print_json(&specs_of(&scenarios, a.suite.as_deref())?, a.output),
                ListWhat::Suites => print_json(&extension(&scenarios).suites, a.output),
                ListWhat::Components => print_json(&[component()], a.output),
            }
        }
        OteCommand::RunTest(a) => {
            let mut names = a.names.clone();
            names.extend(a.name.clone());
            if names.is_empty() {
                return Err(CliError::Usage(
                    "must specify at least one test (-n NAME)".into(),
                ));
            }
            let scenarios = a.common.load()?;
            let lines = run_names(&scenarios, &names, &a.cluster);
            emit(&lines, a.output)
        }
        OteCommand::RunSuite(a) => {
            let scenarios = a.common.load()?;
            let specs = specs_of(&scenarios, Some(&a.suite))?;
            let names: Vec<String> = specs.into_iter().map(|s| s.name).collect();
            let lines = run_names(&scenarios, &names, &a.cluster);
            if let Some(p) = &a.junit_path {
                super::incluster::write_file(p, &junit_of(&a.suite, &lines)?)?;
            }
            emit(&lines, a.output)
        }
    }
}

/// The specs, all or those of a suite (its topic's label).
pub fn specs_of(
    scenarios: &[Scenario],
    suite: Option<&str>,
) -> Result<Vec<ExtensionTestSpec>, CliError> {
    let source = component().identifier();
    let all = scenarios.iter().map(|s| spec(s, &source));
    match suite {
        None | Some(ALL_SUITE) => Ok(all.collect()),
        Some(name) => {
            let topic = name
                .strip_prefix("userns-e2e/")
                .filter(|t| scenarios.iter().any(|s| s.topic == *t))
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "couldn't find suite {name:?} (`userns-e2e ote info` lists them)"
                    ))
                })?;
            let label = topic_label(topic);
            Ok(all.filter(|s| s.labels.contains_key(&label)).collect())
        }
    }
}

/// Runs the named specs through `run`'s path on the kube target: one line
/// per requested name, in the order asked (a name twice gets one line).
pub fn run_names(
    scenarios: &[Scenario],
    names: &[String],
    cluster: &Cluster,
) -> Vec<ExtensionTestResult> {
    let mut wanted: Vec<&str> = Vec::new();
    for n in names {
        if !wanted.contains(&n.as_str()) {
            wanted.push(n);
        }
    }
    let by_name: BTreeMap<String, &Scenario> =
        scenarios.iter().map(|s| (spec_name(&s.id), s)).collect();
    let selected: Vec<Scenario> = wanted
        .iter()
        .filter_map(|n| by_name.get(*n).map(|s| (*s).clone()))
        .collect();
    let mut ran: BTreeMap<String, ExtensionTestResult> = BTreeMap::new();
    let mut broke: Option<String> = None;
    if !selected.is_empty() {
        match execute(&selected, cluster) {
            Ok(lines) => ran = lines.into_iter().map(|l| (l.name.clone(), l)).collect(),
            Err(e) => broke = Some(crate::targets::chain(&e)),
        }
    }
    wanted
        .iter()
        .map(|n| match (by_name.contains_key(*n), ran.remove(*n), &broke) {
            (_, Some(line), _) => line,
            (false, None, _) => failed(
                n,
                format!(
                    "no such test: {n:?} (`userns-e2e ote list` names every test; names are {NAME_PREFIX:?} and a scenario id)"
                ),
            ),
            (true, None, Some(why)) => failed(n, format!("the scenario could not run: {why}")),
            (true, None, None) => failed(n, "the run gave no result for this scenario".into()),
        })
        .collect()
}

/// Progress on stderr: stdout is the extension's JSON.
struct ToStderr;

impl crate::progress::Progress for ToStderr {
    fn finished(&self, r: &ScenarioResult) {
        eprintln!("test {} ... {}", r.id, r.verdict.status());
    }
}

fn execute(selected: &[Scenario], cluster: &Cluster) -> Result<Vec<ExtensionTestResult>, CliError> {
    let rt = super::runtime()?;
    let selection = Selection {
        test_threads: cluster.max_concurrency,
        ..Selection::default()
    };
    let executed = super::run::execute(
        &rt,
        &cluster.target(),
        cluster.timeout,
        selected,
        &selection,
        Arc::new(ToStderr),
    );
    // The run's start on the wall clock: its duration and each scenario's
    // start are measured from the same instant, which ended just now.
    let ended = SystemTime::now();
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    let (results, _interrupted) = executed?;
    let wall = ended
        .checked_sub(std::time::Duration::from_millis(results.duration_ms))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let label = results.environment.label();
    Ok(results
        .results
        .iter()
        .map(|r| {
            let started = wall + std::time::Duration::from_millis(r.start_ms.unwrap_or(0));
            result_of(r, started, &label)
        })
        .collect())
}

fn to_json<T: Serialize>(v: &T, pretty: bool) -> Result<String, CliError> {
    let text = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    };
    text.map_err(|e| CliError::Usage(format!("internal: cannot write JSON: {e}")))
}

fn print_json<T: Serialize>(v: &T, output: Output) -> Result<Status, CliError> {
    let text = match output {
        Output::Json => to_json(v, true)? + "\n",
        Output::Jsonl => {
            let value = serde_json::to_value(v)
                .map_err(|e| CliError::Usage(format!("internal: cannot write JSON: {e}")))?;
            match value {
                serde_json::Value::Array(items) => {
                    let mut out = String::new();
                    for i in &items {
                        out.push_str(&to_json(i, false)?);
                        out.push('\n');
                    }
                    out
                }
                other => to_json(&other, false)? + "\n",
            }
        }
    };
    super::print_stdout(&text);
    Ok(Status::Ok)
}

/// Prints the result lines; a failed one makes the exit code 1 (origin
/// ignores it; a person running the command sees it).
fn emit(lines: &[ExtensionTestResult], output: Output) -> Result<Status, CliError> {
    print_json(&lines, output)?;
    Ok(if lines.iter().any(|l| l.result == OteResult::Failed) {
        Status::Failed
    } else {
        Status::Ok
    })
}

/// `run-suite --junit-path`: the results as JUnit, one case per spec.
fn junit_of(suite: &str, lines: &[ExtensionTestResult]) -> Result<String, CliError> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut s = TestSuite::new(suite);
    for l in lines {
        let status = match l.result {
            OteResult::Passed => TestCaseStatus::success(),
            OteResult::Skipped => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(l.output.as_str());
                st
            }
            OteResult::Failed => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(l.error.as_str());
                st
            }
        };
        let mut case = TestCase::new(l.name.as_str(), status);
        case.set_time(std::time::Duration::from_millis(l.duration.max(0) as u64));
        if !l.output.is_empty() {
            case.set_system_out(l.output.as_str());
        }
        s.add_test_case(case);
    }
    let mut report = Report::new("userns-e2e");
    report.add_test_suite(s);
    report.to_string().map_err(|e| CliError::Report {
        what: "JUnit",
        source: crate::report::ReportError::Junit(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_time_has_the_go_layout() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_764_860_101_123_456);
        assert_eq!(db_time(t), "2025-12-04 14:55:01.123456 UTC");
    }

    #[test]
    fn images_come_from_the_kube_default() {
        let i = &images()[0];
        assert_eq!(
            format!("{}/{}:{}", i.registry, i.name, i.version),
            crate::targets::kube::DEFAULT_CLUSTER_IMAGE
        );
    }

    #[test]
    fn run_test_impersonates_test_unless_told_otherwise() {
        use clap::Parser;
        let target = |extra: &[&str]| {
            let mut argv = vec!["userns-e2e", "ote", "run-test", "-n", "x"];
            argv.extend(extra);
            match crate::cli::Cli::try_parse_from(argv).unwrap().command {
                crate::cli::Command::Ote(OteArgs {
                    command: OteCommand::RunTest(a),
                }) => a.cluster.target(),
                other => panic!("{other:?}"),
            }
        };
        let t = target(&[]);
        assert_eq!(t.as_user.as_deref(), Some("test"));
        assert_eq!(t.kind(), TargetKind::Kube);
        assert_eq!(target(&["--as", ""]).as_user, None);
        assert_eq!(target(&["--as", "alice"]).as_user.as_deref(), Some("alice"));
    }

    #[test]
    fn in_cluster_needs_the_service_and_the_token() {
        use crate::targets::kube::in_cluster_from;
        assert!(in_cluster_from(Some("10.0.0.1"), true));
        assert!(!in_cluster_from(Some("10.0.0.1"), false));
        assert!(!in_cluster_from(None, true));
        assert!(!in_cluster_from(Some(""), true));
    }
}
