//! userns-e2e: a conformance harness for Linux user namespaces on Kubernetes,
//! OpenShift and CRI runtimes.
//!
//! The flow is: scenario files ([`scenario`]) → facts probed from a target
//! ([`facts`], [`target`]) → requirement checks ([`requirements`]) → execution,
//! which yields an [`observation::Observation`] → the pure [`judge`] → results
//! and reports ([`report`]) → comparisons across runs ([`compare`]).

pub mod citations;
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod diagnose;
pub mod exit;
pub mod facts;
pub mod judge;
pub mod observation;
pub mod parse;
pub mod plan;
pub mod progress;
#[cfg(test)]
mod properties;
pub mod report;
pub mod requirements;
pub mod runner;
pub mod scenario;
pub mod targets;
pub mod templates;
pub mod verdict;
pub mod version;
