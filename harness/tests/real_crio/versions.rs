//! One trial per CRI-O build (unpack, start, suite twice, stop, nothing left)
//! and one comparing the builds' results against what the scenarios predict.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use libtest_mimic::{Failed, Trial};
use userns_e2e::facts::{RuntimeName, TargetKind};
use userns_e2e::report::json;
use userns_e2e::report::results::RunResults;
use userns_e2e::scenario::{load, OpenShiftReq, Requirements, Scenario};
use userns_e2e::targets::local::Node;
use userns_e2e::verdict::Verdict;
use userns_e2e::version::Version;

#[derive(Debug, Clone)]
pub struct Ctx {
    pub bin: PathBuf,
    pub repo: PathBuf,
    /// Unpacked builds and node folders: `<base>/<version>/{bin,node}`.
    pub base: PathBuf,
}

/// A CRI-O build in the shared folder.
#[derive(Debug, Clone)]
pub struct Build {
    /// `v1.36.3`
    pub tag: String,
    pub tarball: PathBuf,
    pub sums: PathBuf,
}

/// The builds under `shared` (`v*/crio-v*-linux-amd64.tar.xz`), oldest first.
pub fn builds(shared: &Path) -> Vec<Build> {
    let mut out: Vec<Build> = std::fs::read_dir(shared)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let tag = e.file_name().to_string_lossy().into_owned();
            let tarball = e.path().join(format!("crio-{tag}-linux-amd64.tar.xz"));
            (tag.starts_with('v') && tarball.is_file()).then(|| Build {
                sums: e.path().join("SHA256SUMS"),
                tag,
                tarball,
            })
        })
        .collect();
    out.sort_by_key(|b| Version::parse(&b.tag));
    out
}

impl Ctx {
    fn dir(&self, b: &Build) -> PathBuf {
        self.base.join(&b.tag)
    }

    fn node_dir(&self, b: &Build) -> PathBuf {
        self.dir(b).join("node")
    }

    fn results(&self, b: &Build, run: &str) -> PathBuf {
        self.dir(b).join(format!("{run}.json"))
    }

    fn cli(&self, args: &[&str]) -> Result<Output, Failed> {
        Command::new(&self.bin)
            .args(args)
            .current_dir(&self.repo)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()).into())
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Unpacks a build into `<base>/<version>` and checks it against SHA256SUMS.
fn unpack(ctx: &Ctx, b: &Build) -> Result<PathBuf, Failed> {
    let dir = ctx.dir(b);
    std::fs::create_dir_all(&dir)?;
    let run = |cmd: &mut Command| -> Result<(), Failed> {
        let o = cmd.output()?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!("{cmd:?} failed: {}", text(&o)).into())
        }
    };
    run(Command::new("tar")
        .arg("-xJf")
        .arg(&b.tarball)
        .arg("-C")
        .arg(&dir))?;
    if !b.sums.is_file() {
        return Err(format!("{} has no SHA256SUMS beside it", b.tarball.display()).into());
    }
    run(Command::new("sha256sum")
        .args(["-c", "--quiet"])
        .arg(&b.sums)
        .current_dir(&dir))?;
    Ok(dir)
}

/// Whether a scenario can run on a CRI-O node without a cluster, at `version`:
/// skipping one of those is a failure. The node always has subordinate ids
/// for `containers` (it adds them), so a scenario that needs a node without
/// them (story/03) is for another node.
pub fn applies(req: &Requirements, version: &Version) -> bool {
    let needs_no_subids = req.subids.values().any(|has| !has);
    req.targets
        .as_ref()
        .is_none_or(|t| t.contains(&TargetKind::Local) || t.contains(&TargetKind::Cri))
        && req.runtime.as_ref().is_none_or(|r| *r == RuntimeName::CriO)
        && req.kubernetes.is_none()
        && req.feature_gates.is_empty()
        && !needs_no_subids
        && !matches!(
            req.openshift,
            Some(OpenShiftReq::Present(true)) | Some(OpenShiftReq::Version(_))
        )
        && req
            .runtime_version
            .as_ref()
            .is_none_or(|r| version.satisfies(r))
}

/// Runs the suite through the CLI; checks 0 failed/errored and no skipped
/// scenario that applies to this CRI-O; prints the summary line.
fn suite(ctx: &Ctx, b: &Build, crio: &str, run: &str, threads: Option<&str>) -> Result<(), Failed> {
    let out = ctx.results(b, run);
    let out_s = out.display().to_string();
    let node = ctx.node_dir(b).display().to_string();
    // The local target on the running node (--keep-node: the trial stops it).
    let mut args = vec![
        "run",
        "--target",
        "local",
        "--runtime",
        "cri-o",
        "--crio",
        crio,
        "--node-dir",
        &node,
        "--keep-node",
        "--json",
        &out_s,
        "scenarios/",
    ];
    if let Some(t) = threads {
        args.extend(["--test-threads", t]);
    }
    let o = ctx.cli(&args)?;
    let all = text(&o);
    let summary = all
        .lines()
        .rfind(|l| l.contains(" passed, "))
        .unwrap_or("(no summary line)");
    println!("{} {run}: {summary}", b.tag);
    let r = json::read(&out).map_err(|e| format!("{e}; output:\n{all}"))?;
    let version = r
        .environment
        .runtime
        .as_ref()
        .and_then(|rt| rt.version.clone())
        .ok_or("no runtime version in the results")?;
    let scenarios = load::load_paths(&[ctx.repo.join("scenarios")])
        .map_err(|e| format!("scenarios do not load: {e:?}"))?;
    let mut wrong = Vec::new();
    for res in &r.results {
        match &res.verdict {
            Verdict::Fail { .. } | Verdict::Error { .. } => {
                wrong.push(format!("{}: {:?}", res.id, res.verdict))
            }
            Verdict::Skip { reason } => {
                let s = scenarios.iter().find(|s| s.id == res.id);
                if s.is_some_and(|s| applies(&s.spec.requires, &version)) {
                    wrong.push(format!(
                        "{}: skipped although it applies to CRI-O {version}: {reason}",
                        res.id
                    ));
                }
            }
            Verdict::Pass { .. } => {}
        }
    }
    if !wrong.is_empty() || !o.status.success() {
        return Err(format!(
            "CRI-O {version}, {run} run (exit {}):\n  {}\noutput tail:\n{}",
            o.status,
            wrong.join("\n  "),
            all.lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        )
        .into());
    }
    Ok(())
}

/// Everything of a stopped node that can outlive it; empty when clean.
pub fn leftovers(dir: &Path) -> Vec<String> {
    let d = dir.display().to_string();
    let mut out = Vec::new();
    if let Ok(o) = Command::new("pgrep").args(["-af", &d]).output() {
        out.extend(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.contains("pgrep"))
                .map(|l| format!("process: {l}")),
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    out.extend(
        mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&format!("{d}/")))
            .map(|m| format!("mount: {m}")),
    );
    // CRI-O pins pod network namespaces under namespaces_dir (run/ns).
    for e in std::fs::read_dir(dir.join("run/ns"))
        .into_iter()
        .flatten()
        .flatten()
    {
        out.push(format!("namespace: {}", e.path().display()));
    }
    if let Some(b) = Node::cri_o(dir, None).status().ok().and_then(|s| s.bridge) {
        if Path::new(&format!("/sys/class/net/{b}")).exists() {
            out.push(format!("bridge: {b}"));
        }
    }
    out
}

fn version_trial(ctx: &Ctx, b: &Build) -> Result<(), Failed> {
    let unpacked = unpack(ctx, b)?;
    let node = ctx.node_dir(b).display().to_string();
    let crio = unpacked.display().to_string();
    let base = ["--runtime", "cri-o", "--node-dir", &node];
    let o = ctx.cli(&[&["node", "start", "--crio", &crio][..], &base].concat())?;
    if !o.status.success() {
        return Err(format!("node start failed ({}): {}", o.status, text(&o)).into());
    }
    let runs = suite(ctx, b, &crio, "serial", Some("1"))
        .and_then(|()| suite(ctx, b, &crio, "parallel", None));
    let stop = ctx.cli(&[&["node", "stop"][..], &base].concat())?;
    runs?;
    if !stop.status.success() {
        return Err(format!("node stop failed: {}", text(&stop)).into());
    }
    let left = leftovers(&ctx.node_dir(b));
    if !left.is_empty() {
        return Err(format!("the node left things behind:\n  {}", left.join("\n  ")).into());
    }
    Ok(())
}

/// Maps a `compare` facet (`pod x: uid_map`, `pod x: sysctl k`) to the pod and
/// the expectation field that predicts it.
fn facet_field(what: &str) -> Option<(String, &'static str)> {
    let rest = what.strip_prefix("pod ")?;
    let (pod, facet) = rest.split_once(": ")?;
    let field = match facet {
        "admission" => "admission",
        "scc" => "scc",
        "outcome" => "outcome",
        "uid_map" => "uidMap",
        "gid_map" => "gidMap",
        "id" => "id",
        "host uid" => "hostUid",
        f if f.starts_with("sysctl ") => "sysctls",
        f if f.starts_with("exec ") => "exec",
        _ => return None,
    };
    Some((pod.to_string(), field))
}

/// For each pod of a scenario, the expectation fields whose resolved value
/// differs between the runs' environments: what `cases:` predicts to change.
fn predicted(s: &Scenario, runs: &[RunResults]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for case in &s.spec.pods {
        let name = case.pod.0["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let resolved: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::to_value(userns_e2e::judge::resolve_expect(case, &r.environment))
                    .unwrap_or_default()
            })
            .collect();
        let keys: BTreeSet<String> = resolved
            .iter()
            .filter_map(|v| v.as_object())
            .flat_map(|o| o.keys().cloned())
            .collect();
        for k in keys {
            if resolved.iter().any(|v| v.get(&k) != resolved[0].get(&k)) {
                out.insert((name.clone(), k));
            }
        }
    }
    out
}

fn compare_json(ctx: &Ctx, files: &[PathBuf], out: &Path) -> Result<serde_json::Value, Failed> {
    let out_s = out.display().to_string();
    let mut args = vec!["compare".to_string(), "--json".into(), out_s];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = ctx.cli(&args)?;
    if !o.status.success() {
        return Err(format!("compare failed: {}", text(&o)).into());
    }
    println!("{}", String::from_utf8_lossy(&o.stdout));
    Ok(serde_json::from_str(&std::fs::read_to_string(out)?)?)
}

fn compare_trial(ctx: &Ctx, builds: &[Build]) -> Result<(), Failed> {
    let files: Vec<PathBuf> = builds.iter().map(|b| ctx.results(b, "serial")).collect();
    if let Some(missing) = files.iter().find(|f| !f.is_file()) {
        return Err(format!(
            "{} is missing: the version trials must run first",
            missing.display()
        )
        .into());
    }
    let runs: Vec<RunResults> = files
        .iter()
        .map(|f| json::read(f).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let scenarios = load::load_paths(&[ctx.repo.join("scenarios")])
        .map_err(|e| format!("scenarios do not load: {e:?}"))?;

    // A run compared with itself differs nowhere.
    let same = compare_json(
        ctx,
        &[files[0].clone(), files[0].clone()],
        &ctx.base.join("compare-self.json"),
    )?;
    let rows = same["rows"].as_array().cloned().unwrap_or_default();
    let noisy: Vec<_> = rows
        .iter()
        .filter(|r| r["differences"].as_array().is_some_and(|d| !d.is_empty()))
        .collect();
    if rows.is_empty() || !noisy.is_empty() {
        return Err(format!("a run compared with itself reports differences: {noisy:?}").into());
    }

    let c = compare_json(ctx, &files, &ctx.base.join("compare.json"))?;
    let mut wrong = Vec::new();
    for row in c["rows"].as_array().into_iter().flatten() {
        let id = row["id"].as_str().unwrap_or_default();
        let Some(s) = scenarios.iter().find(|s| s.id == id) else {
            wrong.push(format!("{id}: not a scenario of this suite"));
            continue;
        };
        let want = predicted(s, &runs);
        let mut seen = BTreeSet::new();
        for d in row["differences"].as_array().into_iter().flatten() {
            let what = d["what"].as_str().unwrap_or_default();
            match facet_field(what) {
                Some(f) if want.contains(&(f.0.clone(), f.1.to_string())) => {
                    seen.insert((f.0, f.1.to_string()));
                }
                _ => wrong.push(format!(
                    "{id}: `{what}` differs ({}) but no `cases:` entry predicts it",
                    d["values"]
                )),
            }
        }
        if !want.is_empty() && seen.is_empty() {
            wrong.push(format!(
                "{id}: `cases:` predict a change of {want:?} between versions, but compare reports none"
            ));
        }
        let statuses: BTreeSet<&str> = row["statuses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect();
        if statuses.len() > 1 && s.spec.requires.runtime_version.is_none() {
            wrong.push(format!(
                "{id}: statuses differ between versions ({statuses:?})"
            ));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("\n").into())
    }
}

/// Purges the node folders that added subordinate ids to the host, so the
/// host is left as the tests found it. Returns what went wrong.
pub fn purge_host_changes(ctx: &Ctx, builds: &[Build]) -> Vec<String> {
    let mut wrong = Vec::new();
    for b in builds {
        let node = ctx.node_dir(b);
        if !node.join(".subids-added").exists() {
            continue;
        }
        let n = node.display().to_string();
        match ctx.cli(&[
            "node",
            "stop",
            "--purge",
            "--runtime",
            "cri-o",
            "--node-dir",
            &n,
        ]) {
            Ok(o) if o.status.success() => {}
            Ok(o) => wrong.push(format!("node stop --purge of {n}: {}", text(&o))),
            Err(e) => wrong.push(format!("node stop --purge of {n}: {e:?}")),
        }
    }
    wrong
}

pub fn trials(ctx: &Ctx, builds: Vec<Build>) -> Vec<Trial> {
    let mut out: Vec<Trial> = builds
        .iter()
        .map(|b| {
            let (c, b) = (ctx.clone(), b.clone());
            Trial::test(format!("crio/{}/suite", b.tag), move || {
                version_trial(&c, &b)
            })
        })
        .collect();
    let c = ctx.clone();
    out.push(Trial::test(
        "crio/compare-versions-as-cases-predict",
        move || compare_trial(&c, &builds),
    ));
    out
}
