//! Deciding from a pod and its events whether it has settled, and how.
//! Pure, so every branch is tested without an API server.

use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};

use crate::observation::{Event, Outcome};

/// Waiting reasons that will not resolve by themselves.
pub const STUCK_REASONS: &[&str] = &[
    "CreateContainerError",
    "CreateContainerConfigError",
    "RunContainerError",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CrashLoopBackOff",
];

/// Event reasons that mean the sandbox could not be made.
pub const SANDBOX_FAILURES: &[&str] = &["FailedCreatePodSandBox"];

pub fn events_of(list: &[KubeEvent]) -> Vec<Event> {
    list.iter()
        .map(|e| Event {
            kind: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
        })
        .collect()
}

/// `Some(outcome)` once the pod will not change by waiting; `None` while it may.
pub fn settle(pod: &Pod, events: &[Event]) -> Option<Outcome> {
    let status = pod.status.as_ref();
    let statuses = status
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    for cs in &statuses {
        let state = cs.state.as_ref();
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.clone().unwrap_or_default();
            if STUCK_REASONS.contains(&reason.as_str()) {
                return Some(Outcome::ContainerWaiting {
                    container: cs.name.clone(),
                    reason,
                    message: w.message.clone().unwrap_or_default(),
                });
            }
        }
        if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            return Some(Outcome::ContainerTerminated {
                container: cs.name.clone(),
                exit_code: t.exit_code,
                reason: t.reason.clone().unwrap_or_default(),
                message: t.message.clone().unwrap_or_default(),
            });
        }
    }
    let wanted = pod.spec.as_ref().map(|s| s.containers.len()).unwrap_or(0);
    let running = statuses
        .iter()
        .filter(|cs| cs.state.as_ref().and_then(|s| s.running.as_ref()).is_some())
        .count();
    if wanted > 0 && running == wanted {
        return Some(Outcome::Running);
    }
    // A sandbox failure shows only as an Event; the pod stays Pending.
    if let Some(e) = events
        .iter()
        .rev()
        .find(|e| SANDBOX_FAILURES.contains(&e.reason.as_str()))
    {
        return Some(Outcome::SandboxFailed {
            reason: e.reason.clone(),
            message: e.message.clone(),
        });
    }
    None
}

/// What a pod that never settled looked like last.
pub fn pending(pod: &Pod) -> Outcome {
    let waiting = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| {
            cs.iter()
                .find_map(|c| c.state.as_ref().and_then(|s| s.waiting.clone()))
        });
    match waiting {
        Some(w) => Outcome::Pending {
            reason: w.reason,
            message: w.message,
        },
        None => {
            let cond = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.status == "False").cloned());
            Outcome::Pending {
                reason: cond.as_ref().and_then(|c| c.reason.clone()),
                message: cond.and_then(|c| c.message),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(statuses: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Pending", "containerStatuses": statuses}
        }))
        .unwrap()
    }

    #[test]
    fn running_waiting_terminated_pending() {
        let running = pod(
            serde_json::json!([{"name": "c", "image": "busybox", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2026-11-22T10:00:00Z"}}}]),
        );
        assert_eq!(settle(&running, &[]), Some(Outcome::Running));
        let stuck = pod(
            serde_json::json!([{"name": "c", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CreateContainerError", "message": "setup user: cannot set uid to unmapped user in user namespace"}}}]),
        );
        assert_eq!(
            settle(&stuck, &[]),
            Some(Outcome::ContainerWaiting {
                container: "c".into(),
                reason: "CreateContainerError".into(),
                message: "setup user: cannot set uid to unmapped user in user namespace".into()
            })
        );
        let creating = pod(
            serde_json::json!([{"name": "c", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]),
        );
        assert_eq!(settle(&creating, &[]), None);
        assert_eq!(
            pending(&creating),
            Outcome::Pending {
                reason: Some("ContainerCreating".into()),
                message: None
            }
        );
        let done = pod(
            serde_json::json!([{"name": "c", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]),
        );
        assert!(matches!(
            settle(&done, &[]),
            Some(Outcome::ContainerTerminated { exit_code: 1, .. })
        ));
    }

    #[test]
    fn sandbox_failure_from_events_only() {
        let p = pod(serde_json::json!(null));
        let ev = vec![
            Event {
                kind: "Normal".into(),
                reason: "Scheduled".into(),
                message: "assigned".into(),
            },
            Event {
                kind: "Warning".into(),
                reason: "FailedCreatePodSandBox".into(),
                message:
                    "Failed to create pod sandbox: rpc error: could not find enough available IDs"
                        .into(),
            },
        ];
        assert_eq!(settle(&p, &ev[..1]), None);
        assert_eq!(
            settle(&p, &ev),
            Some(Outcome::SandboxFailed {
                reason: "FailedCreatePodSandBox".into(),
                message:
                    "Failed to create pod sandbox: rpc error: could not find enough available IDs"
                        .into()
            })
        );
    }
}
