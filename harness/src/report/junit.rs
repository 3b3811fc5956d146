//! JUnit XML through quick-junit: testsuites → one testsuite per run →
//! one testcase per scenario. Validates against `reports/junit-10.xsd`.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::results::RunResults;
use crate::verdict::Verdict;

/// `containerd-2.1.9`: runtime and version, safe in a classname.
fn runtime_tag(results: &RunResults) -> String {
    let raw = match &results.environment.runtime {
        Some(r) => format!("{}-{}", r.reported_name, r.shown_version()),
        None => "unknown-runtime".into(),
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn render(results: &RunResults) -> Result<String, super::ReportError> {
    let env = &results.environment;
    let mut report = Report::new("userns-e2e");
    let mut suite = TestSuite::new(format!("userns-e2e ({})", env.label()));
    suite.set_time(Duration::from_millis(results.duration_ms));
    let mut props = vec![
        Property::new("started", results.started_at.clone()),
        Property::new("target", env.target.to_string()),
        Property::new("endpoint", env.endpoint.clone()),
    ];
    if let Some(r) = &env.runtime {
        props.push(Property::new("runtime", r.reported_name.clone()));
        props.push(Property::new("runtime.version", r.shown_version()));
        props.push(Property::new(
            "runtime.reportedVersion",
            r.reported_version.clone(),
        ));
    }
    if let Some(k) = &env.kubernetes {
        props.push(Property::new("kubernetes", k.to_string()));
    }
    if let Some(o) = &env.openshift {
        props.push(Property::new(
            "openshift",
            o.version
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "yes".into()),
        ));
    }
    if let Some(k) = env.nodes.first().and_then(|n| n.kernel.clone()) {
        props.push(Property::new("kernel", k));
    }
    suite.add_properties(props);
    let tag = runtime_tag(results);
    for r in &results.results {
        let status = match &r.verdict {
            Verdict::Pass { .. } => TestCaseStatus::success(),
            Verdict::Fail { reason, diff, .. } => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                // The diff first, then why and what to change.
                s.set_message(reason.as_str())
                    .set_type("expectation")
                    .set_description(format!(
                        "{diff}\n\n{}",
                        super::diagnoses::text(&r.diagnoses, true)
                    ));
                s
            }
            Verdict::Error { reason } => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(reason.as_str())
                    .set_type("target")
                    .set_description(super::diagnoses::text(&r.diagnoses, true));
                s
            }
            Verdict::Skip { reason } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(reason.as_str());
                s
            }
        };
        let mut case = TestCase::new(r.id.as_str(), status);
        let topic = if r.topic.is_empty() {
            "scenarios"
        } else {
            r.topic.as_str()
        };
        case.set_classname(format!(
            "userns-e2e.{tag}.{}",
            topic.replace(['.', '/'], "_")
        ));
        case.set_time(Duration::from_millis(r.duration_ms));
        let mut out = format!(
            "{}\nfile: {}\ncites: {}\n",
            r.description,
            r.file,
            r.cites.join("; ")
        );
        if let Some(o) = &r.observation {
            out.push('\n');
            out.push_str(&super::evidence::render(o));
        }
        // A passing pod that is unsafe: its warnings beside the evidence
        // (a failure has them in its failure text).
        if !r.verdict.is_failure() && !r.diagnoses.is_empty() {
            out.push('\n');
            out.push_str(&super::diagnoses::text(&r.diagnoses, false));
        }
        case.set_system_out(out);
        // Objects the scenario could not remove, so `cleanup` can be aimed at them.
        if let Some(o) = r.observation.as_ref().filter(|o| !o.leftovers.is_empty()) {
            case.set_system_err(format!("left behind:\n  {}\n", o.leftovers.join("\n  ")));
        }
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.to_string().map_err(super::ReportError::Junit)
}
