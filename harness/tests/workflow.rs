//! The GitHub workflow and `action.yml`, rehearsed without Docker, kind, a
//! runner or the network.
//!
//! Both files are read with a YAML library. Every job runs once per matrix
//! leg (the workflow's `matrix.include`, or the JSON list a job computes from
//! clusters/kind-crio/versions.txt, whose script runs here as it would
//! there), in order of `needs`. Each `run:` script runs in bash in a scratch
//! checkout, with `env`, `matrix.*`, `vars.*` (unset: their defaults apply) and
//! the step's `env:` filled in, and with stand-ins on PATH: the harness binary
//! records its argument list (and whether `sudo` ran it) and writes the
//! report files it is asked for; `cargo run -- ARGS` runs it with ARGS;
//! `cargo build`, docker and kind do nothing. upload-artifact and
//! download-artifact move files between the jobs' checkouts as they would.
//!
//! Each recorded command line then goes through the real CLI parser
//! (`Cli::try_parse_from`) and the command's own pre-flight checks
//! (`cli::preflight::check`, with root only under sudo and paths relative to
//! the checkout); `cluster up kind-crio` is run for real with `--dry-run` and
//! its plan checked against versions.txt; a kind leg may not use the local
//! node. Every finding names the job, the step and the leg.

#[path = "support/versions_txt.rs"]
mod versions_txt;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use saphyr::{LoadableYamlNode, ScalarOwned, YamlOwned};
use serde_json::Value;
use userns_e2e::cli::preflight::{self, Host};
use userns_e2e::cli::{Cli, Command as CliCommand};
use userns_e2e::facts::TargetKind;
use versions_txt::Row;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the repository")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A YAML document as JSON values (strings stay strings: `"1.33"`, `"on"`).
fn yaml(text: &str) -> Value {
    fn conv(y: &YamlOwned) -> Value {
        match y {
            YamlOwned::Value(ScalarOwned::String(s)) => Value::String(s.clone()),
            YamlOwned::Value(ScalarOwned::Boolean(b)) => Value::Bool(*b),
            YamlOwned::Value(ScalarOwned::Integer(i)) => Value::from(*i),
            YamlOwned::Value(ScalarOwned::FloatingPoint(f)) => Value::from(f.into_inner()),
            YamlOwned::Value(ScalarOwned::Null) => Value::Null,
            YamlOwned::Representation(s, _, _) => Value::String(s.clone()),
            YamlOwned::Sequence(seq) => Value::Array(seq.iter().map(conv).collect()),
            YamlOwned::Mapping(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let key = match conv(k) {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, conv(v))
                    })
                    .collect(),
            ),
            _ => Value::Null,
        }
    }
    let docs = YamlOwned::load_from_str(text).expect("the file is YAML");
    conv(docs.first().expect("one YAML document"))
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn versions_txt() -> (String, Vec<Row>) {
    let (releases, rows) = versions_txt::read(&repo());
    (releases.first().cloned().unwrap_or_default(), rows)
}

/// `${{ … }}` with the contexts a rehearsal knows; the rest is empty.
#[derive(Debug, Clone, Default)]
struct Ctx {
    values: BTreeMap<String, String>,
}

impl Ctx {
    fn term(&self, t: &str) -> String {
        let t = t.trim();
        if let Some(lit) = t.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            return lit.replace("''", "'");
        }
        if let Some(inner) = t
            .strip_prefix("fromJSON(")
            .and_then(|r| r.strip_suffix(')'))
        {
            return self.expr(inner);
        }
        self.values.get(t).cloned().unwrap_or_default()
    }

    /// `a || 'b'`: the first that is not empty; anything else is unknown.
    fn expr(&self, e: &str) -> String {
        // `||` outside quotes and parentheses.
        let (mut depth, mut quoted, mut start) = (0i32, false, 0);
        let mut terms = Vec::new();
        let b = e.as_bytes();
        for i in 0..b.len() {
            match b[i] {
                b'\'' => quoted = !quoted,
                b'(' if !quoted => depth += 1,
                b')' if !quoted => depth -= 1,
                b'|' if !quoted && depth == 0 && b.get(i + 1) == Some(&b'|') && i >= start => {
                    terms.push(&e[start..i]);
                    start = i + 2;
                }
                _ => {}
            }
        }
        terms.push(&e[start..]);
        terms
            .into_iter()
            .map(|t| self.term(t))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    }

    fn fill(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 3..];
            let end = after.find("}}").expect("an expression ends with }}");
            out.push_str(&self.expr(&after[..end]));
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values.insert(key.into(), value.into());
    }
}

/// One command line a step gave the harness.
#[derive(Debug, Clone)]
struct Invocation {
    job: String,
    step: String,
    leg: String,
    sudo: bool,
    args: Vec<String>,
    /// The checkout the step ran in (relative paths resolve there).
    cwd: PathBuf,
}

impl Invocation {
    fn place(&self) -> String {
        format!(
            "job `{}`, step \"{}\", leg {}: `userns-e2e {}`{}",
            self.job,
            self.step,
            self.leg,
            self.args.join(" "),
            if self.sudo { " (sudo)" } else { "" }
        )
    }
}

#[derive(Debug, Default)]
struct Rehearsal {
    invocations: Vec<Invocation>,
    findings: Vec<String>,
    /// Artifacts by name: (path inside the artifact, bytes).
    artifacts: BTreeMap<String, Vec<(PathBuf, Vec<u8>)>>,
    /// The scratch checkouts, kept until the command lines are judged.
    checkouts: Vec<Checkout>,
}

const HARNESS_STUB: &str = r#"#!/bin/bash
# Stands in for userns-e2e: records the command line, writes the reports asked for.
printf '%s\0' "${REHEARSAL_SUDO:-0}" "$#" "$@" >> "$REHEARSAL_LOG"
while [ $# -gt 0 ]; do
  case $1 in
    --json|--junit|--markdown|--html) [ $# -gt 1 ] && mkdir -p "$(dirname "$2")" && echo '{}' > "$2"; shift ;;
  esac
  shift
done
exit 0
"#;

const STUBS: [(&str, &str); 4] = [
    ("sudo", "#!/bin/bash\nwhile [[ ${1:-} == -* ]]; do shift; done\nREHEARSAL_SUDO=1 exec \"$@\"\n"),
    (
        "cargo",
        "#!/bin/bash\n[ \"${1:-}\" = run ] || exit 0\nwhile [ $# -gt 0 ] && [ \"$1\" != -- ]; do shift; done\nshift\nexec \"$REHEARSAL_HARNESS\" \"$@\"\n",
    ),
    ("docker", "#!/bin/bash\nexit 0\n"),
    ("kind", "#!/bin/bash\nexit 0\n"),
];

/// A scratch checkout: the repository's files linked in, `reports/` a real
/// folder (steps write into it) and the harness binary a stand-in.
#[derive(Debug)]
struct Checkout {
    _dir: tempfile::TempDir,
    root: PathBuf,
    stubs: PathBuf,
    temp: PathBuf,
}

impl Checkout {
    fn new() -> Checkout {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("checkout");
        std::fs::create_dir_all(root.join("target/release")).unwrap();
        std::fs::create_dir_all(root.join("reports")).unwrap();
        for e in std::fs::read_dir(repo()).unwrap().flatten() {
            let name = e.file_name();
            if name == "target" || name == "reports" || name == ".git" {
                continue;
            }
            std::os::unix::fs::symlink(e.path(), root.join(&name)).unwrap();
        }
        for e in std::fs::read_dir(repo().join("reports")).unwrap().flatten() {
            std::os::unix::fs::symlink(e.path(), root.join("reports").join(e.file_name())).unwrap();
        }
        let stubs = dir.path().join("stubs");
        std::fs::create_dir_all(&stubs).unwrap();
        let exe = |p: &Path, text: &str| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(p, text).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        exe(&root.join("target/release/userns-e2e"), HARNESS_STUB);
        for (name, text) in STUBS {
            exe(&stubs.join(name), text);
        }
        let temp = dir.path().join("runner-temp");
        std::fs::create_dir_all(&temp).unwrap();
        Checkout {
            root,
            stubs,
            temp,
            _dir: dir,
        }
    }
}

/// Files an upload-artifact `path:` names, with their paths inside the artifact.
fn collect(root: &Path, path: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for line in path.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let p = root.join(line);
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    if e.path().is_dir() {
                        stack.push(e.path());
                    } else {
                        let rel = e.path().strip_prefix(&p).unwrap().to_path_buf();
                        out.push((rel, std::fs::read(e.path()).unwrap_or_default()));
                    }
                }
            }
        } else if line.contains('*') {
            // A pattern in the last component (`comparison.*`).
            let pattern = p.file_name().unwrap().to_string_lossy().into_owned();
            let dir = p.parent().unwrap_or(root);
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if wildcard(&pattern, &name) {
                    out.push((name.into(), std::fs::read(e.path()).unwrap_or_default()));
                }
            }
        } else if p.is_file() {
            out.push((
                p.file_name().unwrap().into(),
                std::fs::read(&p).unwrap_or_default(),
            ));
        }
    }
    out
}

/// `*` matches any run of characters.
fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| wildcard(tail, &name[head.len() + i..]))
        }
    }
}

/// The recorded command lines: sudo flag, argument count, arguments.
fn read_log(log: &Path) -> Vec<(bool, Vec<String>)> {
    let bytes = std::fs::read(log).unwrap_or_default();
    let mut fields = bytes
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let mut out = Vec::new();
    while let Some(sudo) = fields.next() {
        let Some(n) = fields.next().and_then(|n| n.parse::<usize>().ok()) else {
            break;
        };
        out.push((sudo == "1", fields.by_ref().take(n).collect()));
    }
    out
}

impl Rehearsal {
    /// Runs `steps` (a job's or a composite action's) in `co`.
    fn steps(&mut self, job: &str, leg: &str, steps: &[Value], ctx: &mut Ctx, co: &Checkout) {
        for (i, step) in steps.iter().enumerate() {
            let name = step["name"]
                .as_str()
                .map(str::to_string)
                .or_else(|| step["uses"].as_str().map(str::to_string))
                .unwrap_or_else(|| format!("step {}", i + 1));
            let mut step_ctx = ctx.clone();
            let mut env: BTreeMap<String, String> = ctx
                .values
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("env.").map(|k| (k.to_string(), v.clone())))
                .collect();
            for (k, v) in step["env"].as_object().into_iter().flatten() {
                let v = ctx.fill(&str_of(v));
                step_ctx.set(format!("env.{k}"), v.clone());
                env.insert(k.clone(), v);
            }
            let with = |k: &str| step_ctx.fill(&str_of(&step["with"][k]));
            if let Some(uses) = step["uses"].as_str() {
                if uses.starts_with("actions/upload-artifact@") {
                    let files = collect(&co.root, &with("path"));
                    self.artifacts
                        .entry(with("name"))
                        .or_default()
                        .extend(files);
                } else if uses.starts_with("actions/download-artifact@") {
                    let pattern = with("pattern");
                    let merge = with("merge-multiple") == "true";
                    let into = co.root.join(with("path"));
                    for (aname, files) in &self.artifacts {
                        if !wildcard(&pattern, aname) {
                            continue;
                        }
                        let base = if merge {
                            into.clone()
                        } else {
                            into.join(aname)
                        };
                        for (rel, bytes) in files {
                            let dest = base.join(rel);
                            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
                            std::fs::write(dest, bytes).unwrap();
                        }
                    }
                }
                continue;
            }
            let Some(script) = step["run"].as_str() else {
                continue;
            };
            let script_file = co.temp.join(format!("step-{i}.sh"));
            std::fs::write(&script_file, step_ctx.fill(script)).unwrap();
            let log = co.temp.join("invocations");
            let output = co.temp.join("github-output");
            let _ = std::fs::remove_file(&log);
            std::fs::write(&output, "").unwrap();
            let path = format!(
                "{}:{}",
                co.stubs.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let out = Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script_file)
                .current_dir(&co.root)
                .env_clear()
                .envs(&env)
                .env("PATH", path)
                .env("HOME", &co.temp)
                .env("REHEARSAL_LOG", &log)
                .env(
                    "REHEARSAL_HARNESS",
                    co.root.join("target/release/userns-e2e"),
                )
                .env("GITHUB_OUTPUT", &output)
                .env("GITHUB_STEP_SUMMARY", co.temp.join("summary.md"))
                .env("GITHUB_ENV", co.temp.join("github-env"))
                .env("RUNNER_TEMP", &co.temp)
                .output()
                .expect("bash runs");
            if !out.status.success() {
                self.findings.push(format!(
                    "job `{job}`, step \"{name}\", leg {leg}: the script fails here ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            if let Some(id) = step["id"].as_str() {
                for line in std::fs::read_to_string(&output).unwrap_or_default().lines() {
                    if let Some((k, v)) = line.split_once('=') {
                        ctx.set(format!("steps.{id}.outputs.{k}"), v);
                    }
                }
            }
            for (sudo, args) in read_log(&log) {
                self.invocations.push(Invocation {
                    job: job.into(),
                    step: name.clone(),
                    leg: leg.into(),
                    sudo,
                    args,
                    cwd: co.root.clone(),
                });
            }
        }
    }
}

/// The matrix legs of a job: `matrix.include`, or the cross product of its
/// keys (a `${{ fromJSON(…) }}` value is a list computed by another job).
fn legs(job: &Value, ctx: &Ctx) -> Vec<BTreeMap<String, String>> {
    let matrix = &job["strategy"]["matrix"];
    let Some(m) = matrix.as_object() else {
        return vec![BTreeMap::new()];
    };
    let mut out = vec![BTreeMap::new()];
    for (k, v) in m.iter().filter(|(k, _)| *k != "include" && *k != "exclude") {
        let values: Vec<String> = match v {
            Value::Array(a) => a.iter().map(str_of).collect(),
            Value::String(s) => match serde_json::from_str::<Value>(&ctx.fill(s)) {
                Ok(Value::Array(a)) => a.iter().map(str_of).collect(),
                other => panic!("matrix.{k}: {s} is not a JSON list here: {other:?}"),
            },
            other => panic!("matrix.{k}: {other}"),
        };
        out = out
            .into_iter()
            .flat_map(|leg| {
                values.iter().map(move |val| {
                    let mut l = leg.clone();
                    l.insert(k.clone(), val.clone());
                    l
                })
            })
            .collect();
    }
    if let Some(include) = m.get("include").and_then(Value::as_array) {
        if m.len() == 1 {
            out.clear();
        }
        for inc in include {
            out.push(
                inc.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), str_of(v)))
                    .collect(),
            );
        }
    }
    out
}

fn leg_name(leg: &BTreeMap<String, String>) -> String {
    if leg.is_empty() {
        return "(no matrix)".into();
    }
    leg.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn needs(job: &Value) -> Vec<String> {
    match &job["needs"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(str_of).collect(),
        _ => Vec::new(),
    }
}

/// Runs every job of `workflow` and every leg, then `action` with its inputs
/// left at their defaults and with all of them given.
fn rehearse(workflow: &str, action: &str) -> Rehearsal {
    let wf = yaml(workflow);
    let mut r = Rehearsal::default();
    let mut base = Ctx::default();
    base.set("github.event_name", "push");
    base.set("github.repository", "owner/userns-e2e");
    for (k, v) in wf["env"].as_object().into_iter().flatten() {
        let v = base.fill(&str_of(v));
        base.set(format!("env.{k}"), v);
    }
    let jobs = wf["jobs"].as_object().expect("jobs");
    let mut done: BTreeSet<String> = BTreeSet::new();
    while done.len() < jobs.len() {
        let ready: Vec<&String> = jobs
            .iter()
            .filter(|(id, job)| !done.contains(*id) && needs(job).iter().all(|n| done.contains(n)))
            .map(|(id, _)| id)
            .collect();
        assert!(!ready.is_empty(), "jobs whose needs never finish: {jobs:?}");
        for id in ready {
            let job = &jobs[id.as_str()];
            let mut outputs: BTreeMap<String, String> = BTreeMap::new();
            for leg in legs(job, &base) {
                let mut ctx = base.clone();
                for (k, v) in &leg {
                    ctx.set(format!("matrix.{k}"), v.clone());
                }
                let co = Checkout::new();
                ctx.set("github.workspace", co.root.display().to_string());
                ctx.set("runner.temp", co.temp.display().to_string());
                for (k, v) in job["env"].as_object().into_iter().flatten() {
                    let v = ctx.fill(&str_of(v));
                    ctx.set(format!("env.{k}"), v);
                }
                let steps = job["steps"].as_array().cloned().unwrap_or_default();
                r.steps(id, &leg_name(&leg), &steps, &mut ctx, &co);
                for (k, v) in job["outputs"].as_object().into_iter().flatten() {
                    outputs.insert(k.clone(), ctx.fill(&str_of(v)));
                }
                r.checkouts.push(co);
            }
            for (k, v) in outputs {
                base.set(format!("needs.{id}.outputs.{k}"), v);
            }
            done.insert(id.clone());
        }
    }
    let act = yaml(action);
    let steps = act["runs"]["steps"].as_array().cloned().unwrap_or_default();
    let examples = [
        ("kubeconfig", "kubeconfig.yaml"),
        ("context", "kind-crio-1.33"),
        ("scenarios", "scenarios/story"),
        ("args", "--as test --timeout 60s"),
    ];
    for (leg, given) in [
        ("inputs at their defaults", false),
        ("every input given", true),
    ] {
        let co = Checkout::new();
        let mut ctx = base.clone();
        ctx.set("github.action_path", co.root.display().to_string());
        for (k, v) in act["inputs"].as_object().into_iter().flatten() {
            let example = examples.iter().find(|(n, _)| n == k).map(|(_, e)| *e);
            let value = match (given, example) {
                (true, Some(e)) => e.to_string(),
                _ => str_of(&v["default"]),
            };
            ctx.set(format!("inputs.{k}"), value);
        }
        r.steps("action.yml", leg, &steps, &mut ctx, &co);
        r.checkouts.push(co);
    }
    judge(&mut r);
    r
}

/// The CLI's verdict on every command line, and the kind plans.
fn judge(r: &mut Rehearsal) {
    let (release, rows) = versions_txt();
    let kind_jobs: BTreeSet<String> = r
        .invocations
        .iter()
        .filter(|i| i.args.starts_with(&["cluster".into(), "up".into()]))
        .map(|i| i.job.clone())
        .collect();
    for inv in &r.invocations {
        let place = inv.place();
        let cli = match Cli::try_parse_from(
            std::iter::once("userns-e2e".to_string()).chain(inv.args.clone()),
        ) {
            Ok(cli) => cli,
            Err(e) => {
                r.findings.push(format!(
                    "{place}: the CLI refuses it: {}",
                    e.to_string().lines().next().unwrap_or_default()
                ));
                continue;
            }
        };
        let host = Host {
            root: inv.sudo,
            cwd: inv.cwd.clone(),
            absolute_paths: false,
        };
        if let Err(e) = preflight::check(&cli, &host) {
            let why = chain(&e);
            r.findings.push(format!(
                "{place}: refused before it touches the runner (exit {}): {why}",
                userns_e2e::exit::code(&Err(e))
            ));
        }
        let local = match &cli.command {
            CliCommand::Node(_) => true,
            CliCommand::Run(a) => a.target.kind() == TargetKind::Local,
            CliCommand::Cleanup(a) => a.target.kind() == TargetKind::Local,
            _ => false,
        };
        if local && kind_jobs.contains(&inv.job) {
            r.findings.push(format!(
                "{place}: a kind leg has no local CRI-O node (the runner has no CRI-O): \
                 local-node commands belong in the hosted CRI-O job"
            ));
        }
        if inv
            .args
            .starts_with(&["cluster".into(), "up".into(), "kind-crio".into()])
        {
            if let Some(f) = check_plan(inv, &release, &rows) {
                r.findings.push(format!("{place}: {f}"));
            }
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(&format!(": {c}"));
        cause = c.source();
    }
    out
}

/// Runs `cluster up kind-crio … --dry-run` and checks its plan against versions.txt.
fn check_plan(inv: &Invocation, release: &str, rows: &[Row]) -> Option<String> {
    let mut args = inv.args.clone();
    if !args.iter().any(|a| a == "--dry-run") {
        args.push("--dry-run".into());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_userns-e2e"))
        .args(&args)
        .output()
        .expect("the harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Some(format!(
            "`cluster up … --dry-run` exits {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let minor = value("--crio").unwrap_or_default();
    let gate = value("--userns-gate").unwrap_or_else(|| "on".into());
    let Some(row) = rows
        .iter()
        .find(|r| r.minor == minor.trim_start_matches('v'))
    else {
        return Some(format!("CRI-O {minor} is not a row of versions.txt"));
    };
    if !row.legs.contains(&gate) {
        return Some(format!(
            "versions.txt has no gate-{gate} leg for CRI-O {minor}"
        ));
    }
    let want = format!(
        "# kind-crio: CRI-O {} with UserNamespacesSupport {gate}, kind {release} node image {}",
        row.minor, row.image
    );
    (!stdout.lines().any(|l| l == want)).then(|| {
        format!(
            "the plan does not say `{want}`; it begins: {}",
            stdout.lines().next().unwrap_or_default()
        )
    })
}

fn findings_text(r: &Rehearsal) -> String {
    r.findings
        .iter()
        .map(|f| format!("  - {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn current() -> Rehearsal {
    rehearse(
        &read(".github/workflows/conformance.yml"),
        &read("action.yml"),
    )
}

#[test]
fn every_command_of_the_workflow_and_the_action_passes_the_cli() {
    let r = current();
    assert!(
        r.findings.is_empty(),
        "the workflow rehearsal found:\n{}",
        findings_text(&r)
    );
    assert!(
        r.invocations.iter().any(|i| i.job == "action.yml"),
        "action.yml ran the harness"
    );
}

#[test]
fn the_kind_legs_are_exactly_versions_txt() {
    let (_, rows) = versions_txt();
    let r = current();
    let want: BTreeSet<(String, String)> = rows
        .iter()
        .flat_map(|r| r.legs.iter().map(|g| (r.minor.clone(), g.clone())))
        .collect();
    let got: BTreeSet<(String, String)> = r
        .invocations
        .iter()
        .filter(|i| {
            i.args
                .starts_with(&["cluster".into(), "up".into(), "kind-crio".into()])
        })
        .map(|i| {
            let v = |f: &str| {
                let p = i.args.iter().position(|a| a == f).unwrap();
                i.args[p + 1].clone()
            };
            (v("--crio"), v("--userns-gate"))
        })
        .collect();
    assert_eq!(got, want, "kind legs of the workflow vs versions.txt");
}

/// The hosted CRI-O job: every minor of versions.txt at its latest patch,
/// as root, the default node and both variants, each with its reports; and
/// the compare job gets every leg's results.
#[test]
fn the_hosted_job_runs_every_crio_minor_with_the_variants_and_compare_sees_all_legs() {
    let (_, rows) = versions_txt();
    let r = current();
    let value = |i: &Invocation, f: &str| {
        i.args
            .iter()
            .position(|a| a == f)
            .and_then(|p| i.args.get(p + 1))
            .cloned()
    };
    let local_runs: Vec<&Invocation> = r
        .invocations
        .iter()
        .filter(|i| {
            i.args.first().map(String::as_str) == Some("run")
                && i.args.windows(2).any(|w| w == ["--target", "local"])
        })
        .collect();
    for row in &rows {
        let patch = row
            .patch
            .clone()
            .unwrap_or_else(|| panic!("versions.txt: no patch release for {}", row.minor));
        assert!(patch.starts_with(&format!("{}.", row.minor)), "{patch}");
        let runs: Vec<&&Invocation> = local_runs
            .iter()
            .filter(|i| value(i, "--crio").as_deref() == Some(patch.as_str()))
            .collect();
        let variant = |i: &Invocation| {
            if i.args.iter().any(|a| a == "--hide-subids") {
                "hide-subids"
            } else if i.args.iter().any(|a| a == "--crio-conf") {
                "crio-conf"
            } else {
                "default"
            }
        };
        let variants: BTreeSet<&str> = runs.iter().map(|i| variant(i)).collect();
        assert_eq!(
            variants,
            BTreeSet::from(["default", "crio-conf", "hide-subids"]),
            "CRI-O {patch} on the runner"
        );
        for i in &runs {
            assert!(i.sudo, "{}: the local node needs root", i.place());
            assert!(
                value(i, "--junit").is_some() && value(i, "--json").is_some(),
                "{}: JUnit and JSON",
                i.place()
            );
            if variant(i) == "default" {
                assert!(
                    value(i, "--html").is_some() && value(i, "--markdown").is_some(),
                    "{}: HTML and the summary",
                    i.place()
                );
            }
        }
    }
    let compare = r
        .invocations
        .iter()
        .find(|i| i.args.first().map(String::as_str) == Some("compare"))
        .expect("a compare job");
    let compared: BTreeSet<String> = compare
        .args
        .iter()
        .filter_map(|a| {
            Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .collect();
    for i in r.invocations.iter().filter(|i| {
        i.args.first().map(String::as_str) == Some("run")
            && i.job != "action.yml"
            && value(i, "--markdown").is_some()
    }) {
        let json = value(i, "--json").expect("a results file");
        let name = Path::new(&json)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            compared.contains(&name),
            "{}: its {name} does not reach `compare` ({:?})",
            i.place(),
            compare.args
        );
    }
}

/// The workflow as it was before issue 20 fails the rehearsal: the kind legs
/// ran the local node's variants with `--crio 1.33` on a runner with no CRI-O.
#[test]
fn the_workflow_of_before_issue_20_is_refused_naming_job_step_and_leg() {
    let r = rehearse(
        &read("harness/tests/fixtures/workflow/conformance-before-issue-20.yml"),
        &read("action.yml"),
    );
    let text = findings_text(&r);
    eprintln!("the rehearsal of the old workflow:\n{text}");
    assert!(
        r.findings.iter().any(|f| f.starts_with(
            "job `crio`, step \"Run on the node variants\", leg crio=1.33 gate=on: `userns-e2e node stop --runtime cri-o --crio 1.33` (sudo)"
        ) && f.contains("a kind leg has no local CRI-O node")),
        "{text}"
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.contains("--crio 1.33 does not exist")),
        "{text}"
    );
}

/// Changes of the workflow and the action that the rehearsal must catch.
#[test]
fn an_argument_the_cli_refuses_or_a_local_command_in_a_kind_leg_is_found() {
    let workflow = read(".github/workflows/conformance.yml");
    let action = read("action.yml");
    let cases: [(&str, String, String, &str); 5] = [
        (
            "an unknown flag in a kind leg",
            workflow.replacen("--context \"kind-$LEG\"", "--context \"kind-$LEG\" --no-such-flag", 1),
            action.clone(),
            "the CLI refuses it: error: unexpected argument '--no-such-flag'",
        ),
        (
            "the hosted run without sudo",
            workflow.replace(
                "sudo --preserve-env=XDG_CACHE_HOME ./target/release/userns-e2e run",
                "./target/release/userns-e2e run",
            ),
            action.clone(),
            "needs root",
        ),
        (
            "a local-node command in a kind leg",
            workflow.replacen(
                "      - name: Delete the cluster",
                "      - name: Stop a node\n        run: sudo ./target/release/userns-e2e node stop --runtime cri-o\n\n      - name: Delete the cluster",
                1,
            ),
            action.clone(),
            "a kind leg has no local CRI-O node",
        ),
        (
            "a kind leg versions.txt does not have",
            workflow.replacen("{ crio: \"1.36\", gate: \"on\" }", "{ crio: \"1.36\", gate: \"off\" }", 1),
            action.clone(),
            "cannot be turned off",
        ),
        (
            "the action running the local node",
            workflow.clone(),
            action.replace("target_args=(--target kube)", "target_args=(--target local)"),
            "job `action.yml`, step \"Run the suite\", leg inputs at their defaults",
        ),
    ];
    for (what, wf, act, expected) in cases {
        assert!(
            wf != workflow || act != action,
            "{what}: the change applies"
        );
        let r = rehearse(&wf, &act);
        assert!(
            r.findings.iter().any(|f| f.contains(expected)),
            "{what}: expected a finding with {expected:?}, got:\n{}",
            findings_text(&r)
        );
    }
}
