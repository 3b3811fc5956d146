//! Diagnoses end to end on the newest CRI-O build, through the CLI:
//! `doctor` on the normal node (ready, exit 0); the deliberately broken
//! scenarios of `broken/` (each fails, and its result carries the catalog
//! entry its `cites` names, also under the failure on the terminal); the node
//! started with `--hide-subids` (the subids diagnosis on a failing scenario,
//! and `doctor` exiting 1 with the subids row and its fix). Nothing of the
//! node may be left afterwards.

use std::collections::BTreeMap;
use std::path::Path;

use libtest_mimic::Failed;
use userns_e2e::report::json;
use userns_e2e::verdict::Verdict;

use crate::versions::{self, text, Build, Ctx};

/// Scenario id → the catalog id its first `diagnoses/<id>.yaml` cite names.
fn expected(broken: &Path) -> Result<BTreeMap<String, String>, Failed> {
    let scenarios = userns_e2e::scenario::load::load_paths(&[broken.to_path_buf()])
        .map_err(|e| format!("{e:?}"))?;
    Ok(scenarios
        .into_iter()
        .filter_map(|s| {
            let id = s.spec.cites.iter().find_map(|c| {
                c.strip_prefix("diagnoses/")
                    .and_then(|c| c.strip_suffix(".yaml"))
                    .map(str::to_string)
            })?;
            Some((s.id, id))
        })
        .collect())
}

/// Runs `broken/` paths on the node as `flags` shape it; every scenario that
/// ran must fail with its expected diagnosis; returns how many did.
fn broken_run(
    ctx: &Ctx,
    b: &Build,
    crio: &str,
    flags: &[&str],
    paths: &[&str],
    name: &str,
) -> Result<usize, Failed> {
    let out = ctx.dir(b).join(format!("{name}.json"));
    let out_s = out.display().to_string();
    let o = ctx.on_node(
        b,
        crio,
        "run",
        &[flags, &["--json", &out_s], paths].concat(),
    )?;
    let all = text(&o);
    if o.status.code() != Some(1) {
        return Err(format!("{name}: expected exit 1, got {}:\n{all}", o.status).into());
    }
    let want = expected(&ctx.repo.join("harness/tests/real_crio/broken"))?;
    let r = json::read(&out)?;
    let mut failed = 0;
    for res in &r.results {
        if matches!(res.verdict, Verdict::Skip { .. }) {
            continue;
        }
        let Some(id) = want.get(&res.id) else {
            return Err(format!("{name}: {} has no diagnoses/ cite", res.id).into());
        };
        if !matches!(res.verdict, Verdict::Fail { .. }) {
            return Err(format!("{name}: {} did not fail: {:?}", res.id, res.verdict).into());
        }
        let got: Vec<&str> = res.diagnoses.iter().map(|d| d.id.as_str()).collect();
        if !got.contains(&id.as_str()) {
            return Err(format!("{name}: {} diagnosed {got:?}, expected {id}", res.id).into());
        }
        // The terminal shows it under the failure too.
        if !all.contains(&format!("why: [{id}]")) {
            return Err(format!("{name}: no `why: [{id}]` in the output:\n{all}").into());
        }
        failed += 1;
    }
    println!("{} {name}: {failed} broken setups diagnosed", b.tag);
    Ok(failed)
}

/// `doctor --json` on the node; returns its exit code and the parsed table.
fn doctor(
    ctx: &Ctx,
    b: &Build,
    crio: &str,
    flags: &[&str],
) -> Result<(Option<i32>, serde_json::Value, String), Failed> {
    let o = ctx.on_node(b, crio, "doctor", &[flags, &["--json"]].concat())?;
    let table: serde_json::Value = serde_json::from_slice(&o.stdout)
        .map_err(|e| format!("doctor --json: {e}: {}", text(&o)))?;
    Ok((o.status.code(), table, text(&o)))
}

fn row<'a>(table: &'a serde_json::Value, check: &str) -> Result<&'a serde_json::Value, Failed> {
    table["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["check"] == check))
        .ok_or_else(|| format!("no row {check} in {table}").into())
}

fn steps(
    ctx: &Ctx,
    b: &Build,
    crio: &str,
    stop: &dyn Fn() -> Result<(), Failed>,
) -> Result<(), Failed> {
    // The normal node: ready, and every broken setup diagnosed.
    let (code, table, all) = doctor(ctx, b, crio, &[])?;
    if code != Some(0) || table["ready"] != true {
        return Err(format!("doctor on the normal node: exit {code:?}\n{all}").into());
    }
    if row(&table, "subids containers")?["status"] != "ok"
        || row(&table, "probe host-users-false")?["status"] != "ok"
    {
        return Err(format!("doctor rows on the normal node:\n{all}").into());
    }
    let n = broken_run(
        ctx,
        b,
        crio,
        &[],
        &["harness/tests/real_crio/broken"],
        "broken",
    )?;
    if n < 4 {
        return Err(format!("only {n} broken setups ran on the normal node").into());
    }
    // The node whose CRI-O sees no subordinate ids for `containers`.
    stop()?;
    let (code, table, all) = doctor(ctx, b, crio, &["--hide-subids"])?;
    let subids = row(&table, "subids containers")?;
    if code != Some(1)
        || table["ready"] != false
        || subids["status"] != "fail"
        || subids["diagnosis"]["id"] != "crio-no-subids-for-containers"
        || !subids["diagnosis"]["fix"]["node"]
            .as_str()
            .is_some_and(|f| f.contains("containers:"))
    {
        return Err(format!("doctor --hide-subids: exit {code:?}\n{all}").into());
    }
    let n = broken_run(
        ctx,
        b,
        crio,
        &["--hide-subids"],
        &["harness/tests/real_crio/broken/annotation-without-subids.yaml"],
        "broken-hide-subids",
    )?;
    if n != 1 {
        return Err(format!("annotation-without-subids ran {n} times").into());
    }
    Ok(())
}

fn trial(ctx: &Ctx, b: &Build) -> Result<(), Failed> {
    let crio = versions::unpack(ctx, b)?.display().to_string();
    let node = ctx.node_dir(b).display().to_string();
    let stop = || -> Result<(), Failed> {
        let o = ctx.cli(&["node", "stop", "--runtime", "cri-o", "--node-dir", &node])?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!("node stop: {}", text(&o)).into())
        }
    };
    let result = steps(ctx, b, &crio, &stop);
    let stopped = stop();
    result?;
    stopped?;
    let left = versions::leftovers(&ctx.node_dir(b));
    if !left.is_empty() {
        return Err(format!("the node left things behind:\n  {}", left.join("\n  ")).into());
    }
    Ok(())
}

/// One trial, on the newest build.
pub fn trials(ctx: &Ctx, builds: &[Build]) -> Vec<libtest_mimic::Trial> {
    builds
        .last()
        .map(|b| {
            let (c, b) = (ctx.clone(), b.clone());
            libtest_mimic::Trial::test(format!("crio/{}/diagnoses-and-doctor", b.tag), move || {
                trial(&c, &b)
            })
        })
        .into_iter()
        .collect()
}
