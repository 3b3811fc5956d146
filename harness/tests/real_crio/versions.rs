//! One trial per CRI-O build (unpack, start, suite twice, stop, nothing left)
//! and one comparing the builds' results against what the scenarios predict.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use libtest_mimic::{Failed, Trial};

use crate::predicted;
use userns_e2e::facts::{RuntimeName, TargetKind};
use userns_e2e::report::json;
use userns_e2e::report::results::RunResults;
use userns_e2e::scenario::{load, OpenShiftReq, Requirements};
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
    pub fn dir(&self, b: &Build) -> PathBuf {
        self.base.join(&b.tag)
    }

    pub fn node_dir(&self, b: &Build) -> PathBuf {
        self.dir(b).join("node")
    }

    fn results(&self, b: &Build, run: &str) -> PathBuf {
        self.dir(b).join(format!("{run}.json"))
    }

    pub fn cli(&self, args: &[&str]) -> Result<Output, Failed> {
        Command::new(&self.bin)
            .args(args)
            .current_dir(&self.repo)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()).into())
    }

    /// `command` through the CLI on the build's local node, which stays up
    /// (the trial stops it).
    pub fn on_node(
        &self,
        b: &Build,
        crio: &str,
        command: &str,
        rest: &[&str],
    ) -> Result<Output, Failed> {
        let node = self.node_dir(b).display().to_string();
        let mut args = crate::crio_node::args(command, crio, &node);
        args.push("--keep-node");
        args.extend(rest);
        self.cli(&args)
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Unpacks a build into `<base>/<version>` and checks it against SHA256SUMS.
pub fn unpack(ctx: &Ctx, b: &Build) -> Result<PathBuf, Failed> {
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
/// one that never runs in any phase of a version's trial is a failure. The
/// phases cover both sides of the node facts scenarios ask for (`subids`,
/// `runtimeConfig`), so those requirements do not make a scenario "for
/// another node".
pub fn applies(req: &Requirements, version: &Version) -> bool {
    req.targets
        .as_ref()
        .is_none_or(|t| t.contains(&TargetKind::Local) || t.contains(&TargetKind::Cri))
        && req.runtime.as_ref().is_none_or(|r| *r == RuntimeName::CriO)
        && req.kubernetes.is_none()
        && req.feature_gates.is_empty()
        && !matches!(
            req.openshift,
            Some(OpenShiftReq::Present(true)) | Some(OpenShiftReq::Version(_))
        )
        && req
            .runtime_version
            .as_ref()
            .is_none_or(|r| version.satisfies(r))
}

/// One run of the suite on a version's node: how the node is started for it.
pub struct Phase {
    /// `serial`, `parallel`, `config`, `no-subids`: the results file's name.
    pub name: &'static str,
    pub threads: Option<&'static str>,
    /// Extra `run` flags that shape the node (`--crio-conf F`, `--hide-subids`).
    pub node_flags: Vec<String>,
}

/// The phases of a version's trial: the default node serially and in
/// parallel, then the node with OpenShift's `default_sysctls` and the
/// `minimum_mappable_uid` guard (the drop-in beside this file), then a node
/// whose crio sees no subordinate ids for `containers`.
pub fn phases(repo: &Path) -> Vec<Phase> {
    let dropin = repo.join("harness/tests/real_crio/openshift-sysctls-and-guard.conf");
    vec![
        Phase {
            name: "serial",
            threads: Some("1"),
            node_flags: Vec::new(),
        },
        Phase {
            name: "parallel",
            threads: None,
            node_flags: Vec::new(),
        },
        Phase {
            name: "config",
            threads: None,
            node_flags: vec!["--crio-conf".into(), dropin.display().to_string()],
        },
        Phase {
            name: "no-subids",
            threads: None,
            node_flags: vec!["--hide-subids".into()],
        },
    ]
}

/// Runs the suite through the CLI on the node as `phase` shapes it; checks 0
/// failed/errored; prints the summary line; returns the runtime's version and
/// the ids of the scenarios that ran (not skipped).
fn suite(
    ctx: &Ctx,
    b: &Build,
    crio: &str,
    phase: &Phase,
) -> Result<(Version, BTreeSet<String>), Failed> {
    let run = phase.name;
    let out = ctx.results(b, run);
    let out_s = out.display().to_string();
    // The local target on the running node (--keep-node: the trial stops it).
    let mut args = vec!["--json", &out_s, "scenarios/"];
    args.extend(phase.node_flags.iter().map(String::as_str));
    if let Some(t) = phase.threads {
        args.extend(["--test-threads", t]);
    }
    let o = ctx.on_node(b, crio, "run", &args)?;
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
    let mut wrong = Vec::new();
    let mut ran = BTreeSet::new();
    for res in &r.results {
        match &res.verdict {
            Verdict::Fail { .. } | Verdict::Error { .. } => {
                wrong.push(format!("{}: {:?}", res.id, res.verdict))
            }
            Verdict::Skip { .. } => {}
            Verdict::Pass { .. } => {
                ran.insert(res.id.clone());
            }
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
    Ok((version, ran))
}

/// The scenarios that apply to CRI-O `version` and ran in no phase, with why
/// each was skipped in the last phase.
fn never_ran(
    ctx: &Ctx,
    b: &Build,
    version: &Version,
    ran: &BTreeSet<String>,
) -> Result<Vec<String>, Failed> {
    let scenarios = load::load_paths(&[ctx.repo.join("scenarios")])
        .map_err(|e| format!("scenarios do not load: {e:?}"))?;
    let last = json::read(&ctx.results(b, "serial")).map_err(|e| e.to_string())?;
    Ok(scenarios
        .iter()
        .filter(|s| applies(&s.spec.requires, version) && !ran.contains(&s.id))
        .map(|s| {
            let why = last
                .results
                .iter()
                .find(|r| r.id == s.id)
                .map(|r| format!("{:?}", r.verdict))
                .unwrap_or_default();
            format!(
                "{}: applies to CRI-O {version} and ran in no phase ({why})",
                s.id
            )
        })
        .collect())
}

/// Everything of a stopped node that can outlive it; empty when clean.
pub fn leftovers(dir: &Path) -> Vec<String> {
    let mut out = crate::leftovers::node_leftovers(&Node::cri_o(dir, None));
    // CRI-O pins pod network namespaces under namespaces_dir (run/ns).
    for e in std::fs::read_dir(dir.join("run/ns"))
        .into_iter()
        .flatten()
        .flatten()
    {
        out.push(format!("namespace: {}", e.path().display()));
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
    let stop = || ctx.cli(&[&["node", "stop"][..], &base].concat());
    let mut ran = BTreeSet::new();
    let mut version = None;
    let mut runs = Ok(());
    for phase in phases(&ctx.repo) {
        // A node shaped otherwise starts anew (crio reads its config and
        // subordinate ids once).
        if !phase.node_flags.is_empty() {
            let o = stop()?;
            if !o.status.success() {
                runs =
                    Err(format!("node stop before the {} phase: {}", phase.name, text(&o)).into());
                break;
            }
        }
        match suite(ctx, b, &crio, &phase) {
            Ok((v, ids)) => {
                version = Some(v);
                ran.extend(ids);
            }
            Err(e) => {
                runs = Err(e);
                break;
            }
        }
    }
    let stopped = stop()?;
    runs?;
    if !stopped.status.success() {
        return Err(format!("node stop failed: {}", text(&stopped)).into());
    }
    let left = leftovers(&ctx.node_dir(b));
    if !left.is_empty() {
        return Err(format!("the node left things behind:\n  {}", left.join("\n  ")).into());
    }
    let version = version.ok_or("no phase ran")?;
    let missing = never_ran(ctx, b, &version, &ran)?;
    if !missing.is_empty() {
        return Err(missing.join("\n").into());
    }
    Ok(())
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
    let mut wrong = predicted::unpredicted(&c, &scenarios, &runs);
    for row in c["rows"].as_array().into_iter().flatten() {
        let id = row["id"].as_str().unwrap_or_default();
        let Some(s) = scenarios.iter().find(|s| s.id == id) else {
            continue;
        };
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
        match ctx.cli(&crate::crio_node::purge_args(&n)) {
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
