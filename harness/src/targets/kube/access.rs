//! Waiting until a fresh RoleBinding takes effect: the authorizer's cache
//! lags behind the API (FACTS.md "OpenShift (MicroShift 5.0)": a pod created
//! right after binding `edit` can be refused "cannot create resource pods";
//! OpenShift's own e2e waits for access the same way).

use std::time::{Duration, Instant};

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use kube::Client;

/// What the wait found.
#[derive(Debug, PartialEq, Eq)]
pub enum Access {
    Allowed {
        after: Duration,
    },
    /// Still denied at the end of the bound; the authorizer's reason.
    Denied {
        reason: String,
    },
    /// The review itself could not be made; the pods are created anyway and
    /// the server's answer to them decides.
    Unknown {
        why: String,
    },
}

/// Asks as the scenario's account (the client impersonates it) whether it may
/// create pods in `ns`, until yes or `bound` has passed.
pub async fn wait_can_create_pods(client: &Client, ns: &str, bound: Duration) -> Access {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(ns.to_string()),
                verb: Some("create".into()),
                resource: Some("pods".into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let start = Instant::now();
    loop {
        let status = match api.create(&PostParams::default(), &review).await {
            Ok(r) => r.status,
            Err(e) => return Access::Unknown { why: e.to_string() },
        };
        let Some(status) = status else {
            return Access::Unknown {
                why: "the SelfSubjectAccessReview came back without a status".into(),
            };
        };
        if status.allowed {
            return Access::Allowed {
                after: start.elapsed(),
            };
        }
        if start.elapsed() >= bound {
            return Access::Denied {
                reason: status.reason.unwrap_or_else(|| "no reason given".into()),
            };
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
