//! The fault matrix on the real node: whatever ends a scenario (the target's
//! budget while the runtime is frozen, a panic inside the target, two runs at
//! once), what it made is removed, or named as a leftover.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use libtest_mimic::{Failed, Trial};
use userns_e2e::observation::{ExecResult, HostView, Observation, PodObservation};
use userns_e2e::plan::{ExecPlan, KubeletUserns, ProbePlan};
use userns_e2e::report::json;
use userns_e2e::scenario::{load, Scenario};
use userns_e2e::targets::cri::{CriOptions, CriTarget};
use userns_e2e::targets::lifecycle::{self, PodPlatform};
use userns_e2e::targets::local::Node;
use userns_e2e::targets::{Target, TargetError};
use userns_e2e::templates::Templates;
use userns_e2e::verdict::Verdict;

use crate::NodeCtx;

pub fn trials(ctx: &NodeCtx, freeze_dir: PathBuf) -> Vec<Trial> {
    let c = ctx.clone();
    let mut out = vec![Trial::test(
        "fault/frozen-runtime-past-the-budget-leaves-nothing",
        move || frozen(&c, &freeze_dir),
    )];
    let c = ctx.clone();
    out.push(Trial::test(
        "fault/a-panic-in-the-target-still-removes-the-sandbox",
        move || panics(&c),
    ));
    let c = ctx.clone();
    out.push(Trial::test("fault/two-runs-at-once-both-pass", move || {
        two_runs(&c)
    }));
    out
}

fn run_args(socket: &str, json: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["run", "--target", "cri", "--socket", socket, "--json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.push(json.display().to_string());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// The runtime stops answering (SIGSTOP) for longer than a scenario's budget:
/// the scenario ends with an error, and once the runtime answers again what
/// it made is removed, before the run ends.
fn frozen(ctx: &NodeCtx, dir: &Path) -> Result<(), Failed> {
    let node = Node::new(dir);
    let socket = node.start()?;
    let pid = node.status()?.pid.ok_or("no containerd pid")?;
    let results = tempfile::tempdir()?;
    let j = results.path().join("r.json");
    let args = run_args(
        &socket,
        &j,
        &[
            "--timeout",
            "2s",
            "--test-threads",
            "1",
            "scenarios/host-users",
        ],
    );
    let mut child = Command::new(&ctx.bin)
        .args(&args)
        .current_dir(&ctx.repo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (run_id, err) = crate::run_id_of(&mut child)?;
    std::thread::spawn(move || err.lines().count());
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    for line in lines.by_ref() {
        if line?.ends_with("... ok") {
            break;
        }
    }
    // Frozen for longer than a 1-pod scenario's budget (2s × 3).
    let _ = Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status();
    std::thread::sleep(Duration::from_secs(12));
    let _ = Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status();
    let drain = std::thread::spawn(move || lines.count());
    let status = crate::wait_for_exit(&mut child, Duration::from_secs(240));
    let _ = drain.join();
    let left_in_runtime = crate::sandboxes_of_run(ctx, &socket, &run_id);
    let stopped = node.stop();
    let left = crate::leftovers(dir);
    crate::purge_unless_kept(dir);
    let status = status.map_err(|e| format!("after the freeze: {e}"))?;
    let r = json::read(&j)?;
    let budget_errors = r
        .results
        .iter()
        .filter(|x| matches!(&x.verdict, Verdict::Error { reason } if reason.contains("no result from the target within")))
        .count();
    if status.code() != Some(1) || budget_errors == 0 {
        return Err(format!(
            "exit {:?}, {budget_errors} budget errors, summary {:?}",
            status.code(),
            r.summary
        )
        .into());
    }
    let left_in_runtime = left_in_runtime?;
    if !left_in_runtime.is_empty() {
        return Err(format!("sandboxes of the run left: {left_in_runtime:?}").into());
    }
    stopped?;
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    Ok(())
}

/// A target whose settle step panics, around the real cri target.
struct PanicsInSettle(CriTarget);

#[async_trait]
impl PodPlatform for PanicsInSettle {
    type Scope = <CriTarget as PodPlatform>::Scope;
    type Handle = <CriTarget as PodPlatform>::Handle;

    async fn open(&self, s: &Scenario, p: &ExecPlan) -> Result<Self::Scope, TargetError> {
        self.0.open(s, p).await
    }
    async fn prepare(
        &self,
        scope: &Self::Scope,
        s: &Scenario,
        p: &ExecPlan,
        o: &mut Observation,
    ) -> Result<Templates, TargetError> {
        self.0.prepare(scope, s, p, o).await
    }
    async fn create(
        &self,
        scope: &Self::Scope,
        s: &Scenario,
        p: &ExecPlan,
        i: usize,
        pod: &Pod,
        obs: &mut PodObservation,
    ) -> Result<Option<Self::Handle>, TargetError> {
        self.0.create(scope, s, p, i, pod, obs).await
    }
    async fn settle(
        &self,
        _: &Self::Scope,
        _: &Self::Handle,
        _: Duration,
        _: &mut PodObservation,
    ) -> Result<(), TargetError> {
        panic!("{INJECTED}")
    }
    async fn exec(
        &self,
        scope: &Self::Scope,
        h: &Self::Handle,
        c: &str,
        cmd: Vec<String>,
    ) -> Result<ExecResult, TargetError> {
        self.0.exec(scope, h, c, cmd).await
    }
    async fn host_view(
        &self,
        scope: &Self::Scope,
        h: &Self::Handle,
        c: &str,
    ) -> Option<Result<HostView, TargetError>> {
        self.0.host_view(scope, h, c).await
    }
    async fn close(&self, scope: Self::Scope, o: &mut Observation) -> Vec<String> {
        self.0.close(scope, o).await
    }
    fn describe(&self, scope: &Self::Scope) -> String {
        self.0.describe(scope)
    }
}

/// The panic `PanicsInSettle` injects.
const INJECTED: &str = "injected fault in settle";

/// The injected panic is expected (the lifecycle must turn it into an error
/// verdict), so the default hook's message and backtrace would only make a
/// passing `cargo test` look broken: this hook says so in one line and
/// hands every other panic to the default hook.
fn quiet_injected_panic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied());
            if text == Some(INJECTED) {
                eprintln!("fault/panic: the injected panic in settle happened, as expected");
            } else {
                default(info);
            }
        }));
    });
}

fn panics(ctx: &NodeCtx) -> Result<(), Failed> {
    quiet_injected_panic();
    let text = "description: d\ncites: [FACTS.md#story-1]\npods:\n  - pod:\n      apiVersion: v1\n      kind: Pod\n      metadata: {name: p}\n      spec:\n        hostUsers: false\n        containers: [{name: c, image: \"${image.busybox}\", command: [sleep, \"3600\"]}]\n";
    let spec = load::load_str(Path::new("panic.yaml"), text).map_err(|e| format!("{e:?}"))?;
    let scenario = Scenario {
        id: "fault/panic".into(),
        file: "panic.yaml".into(),
        topic: "fault".into(),
        spec,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let run_id = format!("panic-{}", std::process::id());
    let (executed, left) = rt.block_on(async {
        let target = CriTarget::connect(
            &ctx.socket,
            CriOptions {
                state_dir: ctx.dir.join("cri-tests"),
                ..Default::default()
            },
        )
        .await?;
        let facts = target.facts().await?;
        let plan = ExecPlan {
            templates: target.templates(&facts),
            probes: vec![ProbePlan::default()],
            timeout: Duration::from_secs(30),
            budget: Duration::from_secs(60),
            run_id: run_id.clone(),
            kubelet: KubeletUserns::GateOn,
        };
        let wrapped = PanicsInSettle(target);
        let executed = lifecycle::execute(&wrapped, &scenario, &plan, plan.budget).await;
        let left = wrapped.0.sandboxes_of_run(&run_id).await?;
        Ok::<_, TargetError>((executed, left))
    })?;
    let error = executed.error.ok_or("a panic must give an error")?.chain();
    if !error.contains(&format!("the target panicked: {INJECTED}")) {
        return Err(format!("error: {error}").into());
    }
    if executed
        .observation
        .pods
        .first()
        .and_then(|p| p.id.as_ref())
        .is_none()
    {
        return Err("the sandbox was not created before the panic".into());
    }
    if !left.is_empty() || !executed.observation.leftovers.is_empty() {
        return Err(format!("left: {left:?} {:?}", executed.observation.leftovers).into());
    }
    Ok(())
}

/// Two runs on one node at once: the allocator's locked state keeps their
/// user-namespace slots apart, so both pass and nothing is left.
fn two_runs(ctx: &NodeCtx) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let spawn = |name: &str| {
        let j = dir.path().join(name);
        Command::new(&ctx.bin)
            .args(run_args(
                &ctx.socket,
                &j,
                &["scenarios/host-users", "scenarios/containerd"],
            ))
            .current_dir(&ctx.repo)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|c| (c, j))
    };
    let (mut a, ja) = spawn("a.json")?;
    let (mut b, jb) = spawn("b.json")?;
    let sa = crate::wait_for_exit(&mut a, Duration::from_secs(240))?;
    let sb = crate::wait_for_exit(&mut b, Duration::from_secs(240))?;
    let (ra, rb) = (json::read(&ja)?, json::read(&jb)?);
    if !sa.success() || !sb.success() || ra.summary.passed == 0 || rb.summary.passed == 0 {
        return Err(format!(
            "exits {sa:?} {sb:?}, summaries {:?} {:?}",
            ra.summary, rb.summary
        )
        .into());
    }
    Ok(())
}
