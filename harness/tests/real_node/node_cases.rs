//! Real-node cases for the node itself and for whole runs through the CLI.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use libtest_mimic::{Failed, Trial};
use userns_e2e::report::json;
use userns_e2e::targets::local::Node;
use userns_e2e::verdict::Verdict;
use userns_e2e::version::Version;

use crate::NodeCtx;

fn cli(ctx: &NodeCtx, args: &[&str]) -> std::process::Output {
    Command::new(&ctx.bin)
        .args(args)
        .current_dir(&ctx.repo)
        .output()
        .expect("run userns-e2e")
}

pub fn trials(ctx: &NodeCtx, kill_dir: PathBuf) -> Vec<Trial> {
    let c = ctx.clone();
    let mut out = vec![Trial::test("node/status-and-idempotent-start", move || {
        let node = Node::new(&c.dir);
        let s = node.status()?;
        let v = s
            .containerd
            .as_deref()
            .and_then(Version::parse)
            .ok_or("no containerd version")?;
        let r = s
            .runc
            .as_deref()
            .and_then(Version::parse)
            .ok_or("no runc version")?;
        if !s.running || v < Version::parse("2.0").unwrap() || r < Version::parse("1.2").unwrap() {
            return Err(format!("status: {s:?}").into());
        }
        if node.start()? != c.socket || node.status()?.pid != s.pid {
            return Err("a second start must reuse the running node".into());
        }
        let o = cli(
            &c,
            &["node", "status", "--node-dir", &c.dir.display().to_string()],
        );
        let text = String::from_utf8_lossy(&o.stdout);
        if !o.status.success() || !text.starts_with("running") || !text.contains(&c.socket) {
            return Err(format!("node status printed: {text}").into());
        }
        Ok(())
    })];
    let c = ctx.clone();
    out.push(Trial::test(
        "run/the-suite-passes-on-the-real-node-serially-and-in-parallel",
        move || {
            for threads in [Some("1"), None] {
                let dir = tempfile::tempdir()?;
                let (j, x, m) = (
                    dir.path().join("r.json"),
                    dir.path().join("j.xml"),
                    dir.path().join("s.md"),
                );
                let (js, xs, ms) = (
                    j.display().to_string(),
                    x.display().to_string(),
                    m.display().to_string(),
                );
                let mut args = vec![
                    "run",
                    "--target",
                    "cri",
                    "--socket",
                    &c.socket,
                    "--json",
                    &js,
                    "--junit",
                    &xs,
                    "--markdown",
                    &ms,
                ];
                if let Some(n) = threads {
                    args.extend(["--test-threads", n]);
                }
                args.push("scenarios/");
                let o = cli(&c, &args);
                let r = json::read(&j)?;
                // The tier's summary line, for the CI log.
                let stderr = String::from_utf8_lossy(&o.stderr);
                let summary = stderr
                    .lines()
                    .rev()
                    .find(|l| l.contains(" passed, "))
                    .unwrap_or("");
                let how = threads.map_or("default threads".to_string(), |n| format!("{n} thread"));
                println!("containerd tier ({how}): {summary}");
                if o.status.code() != Some(0)
                    || r.summary.failed + r.summary.errored > 0
                    || r.summary.passed < 20
                {
                    return Err(format!(
                        "exit {:?}, summary {:?}\n{}",
                        o.status.code(),
                        r.summary,
                        String::from_utf8_lossy(&o.stdout)
                    )
                    .into());
                }
                for p in [&x, &m] {
                    if std::fs::metadata(p)?.len() == 0 {
                        return Err(format!("{} is empty", p.display()).into());
                    }
                }
            }
            Ok(())
        },
    ));
    let c = ctx.clone();
    out.push(Trial::test("run/full-ping-range-is-diagnosed", move || {
        full_ping_range_is_diagnosed(&c)
    }));
    let c = ctx.clone();
    out.push(Trial::test(
        "run/ctrl-c-removes-what-the-run-made",
        move || ctrl_c(&c),
    ));
    let c = ctx.clone();
    out.push(Trial::test(
        "run/two-local-runs-share-one-node",
        move || two_local_runs(&c),
    ));
    let c = ctx.clone();
    out.push(Trial::test(
        "run/runtime-killed-mid-run-gives-errors-and-ends",
        move || killed_mid_run(&c, &kill_dir),
    ));
    out
}

/// Two `run --target local` on one node folder at once (two terminals, two
/// CI jobs on one runner): both pass, neither provisions or starts beside
/// the other, and neither stops the node under the other or under this
/// binary, which holds it as a run too and stops it last (see `main`).
fn two_local_runs(ctx: &NodeCtx) -> Result<(), Failed> {
    let node = Node::new(&ctx.dir);
    let before = node.status()?.pid;
    let out = tempfile::tempdir()?;
    let dir = ctx.dir.display().to_string();
    let spawn = |name: &str| -> Result<std::process::Child, Failed> {
        let json = out.path().join(format!("{name}.json"));
        let err = std::fs::File::create(out.path().join(format!("{name}.err")))?;
        Ok(Command::new(&ctx.bin)
            .args(["run", "--target", "local", "--node-dir", &dir, "--json"])
            .arg(&json)
            .arg("scenarios/host-users")
            .current_dir(&ctx.repo)
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()?)
    };
    let mut runs = [spawn("a")?, spawn("b")?];
    for (name, child) in ["a", "b"].iter().zip(runs.iter_mut()) {
        let status = crate::wait_for_exit(child, Duration::from_secs(600))?;
        let err = std::fs::read_to_string(out.path().join(format!("{name}.err")))?;
        let r = json::read(&out.path().join(format!("{name}.json")))?;
        if status.code() != Some(0)
            || r.summary.passed == 0
            || r.summary.failed + r.summary.errored > 0
        {
            return Err(format!(
                "run {name}: exit {:?}, {:?}\n{err}",
                status.code(),
                r.summary
            )
            .into());
        }
        if err.contains("stopping the local node")
            || !err.contains("the local node keeps running: ")
        {
            return Err(format!("run {name} must leave the node to the others:\n{err}").into());
        }
    }
    let s = node.status()?;
    if !s.running || s.pid != before {
        return Err(format!(
            "the node was stopped or restarted under the test: {s:?} (pid before {before:?})"
        )
        .into());
    }
    let registered = std::fs::read_to_string(ctx.dir.join(".runs"))?;
    if registered.trim() != std::process::id().to_string() {
        return Err(format!("runs still registered besides this binary: {registered:?}").into());
    }
    Ok(())
}

/// Starts a second node, kills its containerd after the first scenario
/// finishes, and checks the run ends with error verdicts and nothing hangs.
/// containerd with the full ping range in a user-namespaced pod: the run
/// fails (exit 1), and the failure carries `ping-group-range-not-mapped`
/// in the JSON results and as `why:` lines on the terminal.
fn full_ping_range_is_diagnosed(ctx: &NodeCtx) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let j = dir.path().join("r.json");
    let js = j.display().to_string();
    let o = cli(
        ctx,
        &[
            "run",
            "--target",
            "cri",
            "--socket",
            &ctx.socket,
            "--json",
            &js,
            "harness/tests/real_node/broken/ping-full-range.yaml",
        ],
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let r = json::read(&j)?;
    let result = r.results.first().ok_or("no result")?;
    let ids: Vec<&str> = result.diagnoses.iter().map(|d| d.id.as_str()).collect();
    if o.status.code() != Some(1)
        || !matches!(result.verdict, Verdict::Fail { .. })
        || ids != ["ping-group-range-not-mapped"]
        || !all.contains("why: [ping-group-range-not-mapped]")
        || !all.contains("fix (node):")
    {
        return Err(format!(
            "exit {:?}, verdict {}, diagnoses {ids:?}\n{all}",
            o.status.code(),
            result.verdict.status()
        )
        .into());
    }
    Ok(())
}

fn killed_mid_run(ctx: &NodeCtx, dir: &std::path::Path) -> Result<(), Failed> {
    let node = Node::new(dir);
    let socket = node.start()?;
    let pid = node.status()?.pid.ok_or("no containerd pid")?;
    let results = tempfile::tempdir()?;
    let j = results.path().join("r.json");
    let mut child = Command::new(&ctx.bin)
        .args([
            "run",
            "--target",
            "cri",
            "--socket",
            &socket,
            "--test-threads",
            "1",
            "--json",
            &j.display().to_string(),
            "scenarios/",
        ])
        .current_dir(&ctx.repo)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    // Wait for the first scenario that really ran, then pull the runtime away.
    for line in lines.by_ref() {
        if line?.ends_with("... ok") {
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    let drain = std::thread::spawn(move || lines.count());
    let status = match crate::wait_for_exit(&mut child, Duration::from_secs(120)) {
        Ok(s) => s,
        Err(e) => {
            let _ = node.stop();
            return Err(format!("after the runtime died: {e}").into());
        }
    };
    let _ = drain.join();
    let stopped = node.stop();
    let left = crate::leftovers(dir);
    crate::purge_unless_kept(dir);
    let r = json::read(&j)?;
    let errors: Vec<&str> = r
        .results
        .iter()
        .filter_map(|x| match &x.verdict {
            Verdict::Error { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    if status.code() != Some(1)
        || errors.is_empty()
        || !errors
            .iter()
            .all(|e| e.contains("runtime unreachable") || e.contains("cannot"))
    {
        return Err(format!(
            "exit {:?}, errors {errors:?}, summary {:?}",
            status.code(),
            r.summary
        )
        .into());
    }
    if r.summary.passed == 0 {
        return Err("the scenario before the kill should have passed".into());
    }
    // A sandbox made before the kill that could not be removed is named.
    for x in &r.results {
        let Some(o) = &x.observation else { continue };
        for id in o.pods.iter().filter_map(|p| p.id.as_ref()) {
            if matches!(x.verdict, Verdict::Error { .. })
                && !o.leftovers.iter().any(|l| l.contains(id.as_str()))
            {
                return Err(format!(
                    "{}: sandbox {id} neither removed nor named: {:?}",
                    x.id, o.leftovers
                )
                .into());
            }
        }
    }
    stopped?;
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    Ok(())
}

/// SIGINT after the first scenario: reports written with the interrupted
/// scenarios marked, exit 130, and no sandbox of the run left.
fn ctrl_c(ctx: &NodeCtx) -> Result<(), Failed> {
    let results = tempfile::tempdir()?;
    let j = results.path().join("r.json");
    let mut child = Command::new(&ctx.bin)
        .args([
            "run",
            "--target",
            "cri",
            "--socket",
            &ctx.socket,
            "--test-threads",
            "1",
            "--json",
            &j.display().to_string(),
            "scenarios/",
        ])
        .current_dir(&ctx.repo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (run_id, _err) = crate::run_id_of(&mut child)?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    for line in lines.by_ref() {
        if line?.ends_with("... ok") {
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let drain = std::thread::spawn(move || lines.count());
    let status = crate::wait_for_exit(&mut child, Duration::from_secs(60))
        .map_err(|e| format!("after Ctrl-C: {e}"))?;
    let _ = drain.join();
    if status.code() != Some(130) {
        return Err(format!("exit {:?} after Ctrl-C, expected 130", status.code()).into());
    }
    let r = json::read(&j).map_err(|e| format!("no reports after Ctrl-C: {e}"))?;
    let interrupted = r
        .results
        .iter()
        .filter(|x| matches!(&x.verdict, Verdict::Error { reason } if reason.starts_with(userns_e2e::runner::INTERRUPTED)))
        .count();
    if interrupted == 0 || r.summary.passed == 0 {
        return Err(format!(
            "after Ctrl-C: {interrupted} interrupted, summary {:?}",
            r.summary
        )
        .into());
    }
    let left = crate::sandboxes_of_run(ctx, &ctx.socket, &run_id)?;
    if !left.is_empty() {
        return Err(format!("sandboxes of run {run_id} left after Ctrl-C: {left:?}").into());
    }
    Ok(())
}
