//! Before any scenario: may the kube target's own identity make every call
//! of [`rbac`]'s table? One SelfSubjectAccessReview per verb (and resource
//! name) of each rule, asked as the harness itself, never impersonated, all
//! at once. [`decide`] says what the refusals mean on the platform (pure);
//! [`check`] asks.
//!
//! A refused rule the run needs makes the target unusable, every such rule
//! named; a refused rule with another source is named and the run goes on.
//! A server that cannot answer the reviews leaves it to its own 403s.

use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use kube::Client;

use super::rbac::{self, Need};
use super::Platform;
use crate::facts::PERMISSIONS_UNCHECKED;

/// What one review asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// A resource as the API server's refusals spell it (`pods/exec`), in
    /// `group` (`""`: core); one object when `name` is set.
    Resource {
        group: &'static str,
        resource: &'static str,
        name: Option<&'static str>,
        namespace: Option<&'static str>,
    },
    /// A path that is not a resource (`/metrics`).
    Url(&'static str),
}

/// One review: may the harness `verb` `object`?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    pub verb: &'static str,
    pub object: Object,
    pub need: Need,
    pub why: &'static str,
}

impl Question {
    /// `may not get nodes/proxy — <why>`: the rule in the words of the API
    /// server's own refusals.
    pub fn refusal(&self) -> String {
        let what = match self.object {
            Object::Resource {
                group,
                resource,
                name,
                ..
            } => {
                let mut w = resource.to_string();
                if let Some(n) = name {
                    w.push_str(&format!(" \"{n}\""));
                }
                if !group.is_empty() {
                    w.push_str(&format!(" in API group {group}"));
                }
                w
            }
            Object::Url(url) => url.to_string(),
        };
        format!("may not {} {what} — {}", self.verb, self.why)
    }

    /// The review that asks it.
    pub fn review(&self) -> SelfSubjectAccessReview {
        let verb = Some(self.verb.to_string());
        let spec = match self.object {
            Object::Resource {
                group,
                resource,
                name,
                namespace,
            } => {
                // A review names a subresource apart: `pods/exec` is pods + exec.
                let (resource, subresource) = match resource.split_once('/') {
                    Some((r, s)) => (r, Some(s.to_string())),
                    None => (resource, None),
                };
                SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        verb,
                        group: Some(group.to_string()),
                        resource: Some(resource.to_string()),
                        subresource,
                        name: name.map(str::to_string),
                        namespace: namespace.map(str::to_string),
                        ..ResourceAttributes::default()
                    }),
                    ..SelfSubjectAccessReviewSpec::default()
                }
            }
            Object::Url(path) => SelfSubjectAccessReviewSpec {
                non_resource_attributes: Some(NonResourceAttributes {
                    path: Some(path.to_string()),
                    verb,
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
        };
        SelfSubjectAccessReview {
            spec,
            ..SelfSubjectAccessReview::default()
        }
    }
}

/// Every question the table asks: each verb of each rule, once per
/// resource name (a rule without names: once, for any object).
pub fn questions() -> Vec<Question> {
    let mut out = Vec::new();
    for p in rbac::PERMISSIONS {
        let names: Vec<Option<&'static str>> = if p.names.is_empty() {
            vec![None]
        } else {
            p.names.iter().copied().map(Some).collect()
        };
        for &verb in p.verbs {
            for &name in &names {
                out.push(Question {
                    verb,
                    object: Object::Resource {
                        group: p.group,
                        resource: p.resource,
                        name,
                        namespace: p.namespace,
                    },
                    need: p.need,
                    why: p.why,
                });
            }
        }
    }
    for u in rbac::NON_RESOURCE_URLS {
        for &verb in u.verbs {
            out.push(Question {
                verb,
                object: Object::Url(u.url),
                need: u.need,
                why: u.why,
            });
        }
    }
    out
}

/// What the refusals mean on a platform.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Rules this run needs, one line each: any makes the target unusable.
    pub missing: Vec<String>,
    /// Rules with another source, one line each: the run goes on.
    pub warnings: Vec<String>,
}

/// Sorts the `refused` questions by what the run on `platform` needs.
pub fn decide(platform: Platform, refused: &[Question]) -> Decision {
    let mut d = Decision::default();
    for q in refused {
        match q.need {
            Need::Fallback(instead) => d
                .warnings
                .push(format!("{}; instead, {instead}", q.refusal())),
            need if need.required_on(platform) => d.missing.push(q.refusal()),
            // The shipped role serves OpenShift and MicroShift alike: on one
            // of them, say that the other's rule is missing, and that this
            // cluster does not need it. Plain Kubernetes never reads them.
            _ if platform != Platform::Kubernetes => d
                .warnings
                .push(format!("{}; not needed on this cluster", q.refusal())),
            _ => {}
        }
    }
    d
}

/// The harness's own identity lacks rules the run needs.
#[derive(Debug, PartialEq, Eq)]
pub struct MissingPermissions {
    /// The user the server knows the harness as, when it said.
    pub identity: Option<String>,
    pub missing: Vec<String>,
    /// Refused rules the run could do without, named too so that one fix
    /// grants everything.
    pub also: Vec<String>,
}

impl std::fmt::Display for MissingPermissions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = self
            .identity
            .as_deref()
            .unwrap_or("the harness's own identity");
        writeln!(f, "{who} lacks permissions the run needs:")?;
        for line in &self.missing {
            writeln!(f, "  {line}")?;
        }
        if !self.also.is_empty() {
            writeln!(f, "also missing, though the run could go on without them:")?;
            for line in &self.also {
                writeln!(f, "  {line}")?;
            }
        }
        write!(
            f,
            "fix: apply deploy/clusterrole.yaml and bind it to {who} (deploy/clusterrolebinding.yaml binds the userns-e2e ServiceAccount), or grant these rules"
        )
    }
}

impl std::error::Error for MissingPermissions {}

/// How long all reviews may take together: a server that answers the
/// version but not these must not hold the run.
const BOUND: Duration = Duration::from_secs(10);

/// Asks every question as `client`'s identity. `Ok`: the run may go on,
/// with lines for the facts' `unreadable` (rules it goes on without, or why
/// nothing could be checked).
pub async fn check(client: &Client, platform: Platform) -> Result<Vec<String>, MissingPermissions> {
    let questions = questions();
    let refused = match tokio::time::timeout(BOUND, refused(client, &questions)).await {
        Ok(Ok(r)) => r,
        Ok(Err(why)) => return Ok(vec![format!("{PERMISSIONS_UNCHECKED}{why}")]),
        Err(_) => {
            return Ok(vec![format!(
                "{PERMISSIONS_UNCHECKED}the SelfSubjectAccessReviews got no answer within {}s",
                BOUND.as_secs()
            )])
        }
    };
    let d = decide(platform, &refused);
    if d.missing.is_empty() {
        return Ok(d.warnings);
    }
    Err(MissingPermissions {
        identity: whoami(client).await,
        missing: d.missing,
        also: d.warnings,
    })
}

/// The questions the server said no to; `Err` when any review failed,
/// since a partial answer cannot say what is missing.
async fn refused(client: &Client, questions: &[Question]) -> Result<Vec<Question>, String> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let pp = PostParams::default();
    let answers = join_all(questions.iter().map(|q| {
        let review = q.review();
        let (api, pp) = (&api, &pp);
        async move { api.create(pp, &review).await }
    }))
    .await;
    let mut out = Vec::new();
    for (q, answer) in questions.iter().zip(answers) {
        let review = answer.map_err(|e| super::unreadable("SelfSubjectAccessReview", &e))?;
        let status = review
            .status
            .ok_or("a SelfSubjectAccessReview came back without a status")?;
        if !status.allowed {
            out.push(*q);
        }
    }
    Ok(out)
}

/// The user the server knows the harness as (SelfSubjectReview, Kubernetes
/// 1.28+); `None` when it does not say.
async fn whoami(client: &Client) -> Option<String> {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let (pp, review) = (PostParams::default(), SelfSubjectReview::default());
    let review = tokio::time::timeout(Duration::from_secs(5), api.create(&pp, &review))
        .await
        .ok()?
        .ok()?;
    review.status?.user_info?.username
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The question of the table's rule on `resource` with `verb`.
    fn asked(verb: &str, resource: &str) -> Question {
        questions()
            .into_iter()
            .find(|q| {
                q.verb == verb
                    && match q.object {
                        Object::Resource { resource: r, .. } => r == resource,
                        Object::Url(u) => u == resource,
                    }
            })
            .unwrap_or_else(|| panic!("{verb} {resource} is not in the table"))
    }

    #[test]
    fn a_missing_required_rule_is_named_with_its_verb_resource_and_why() {
        let d = decide(
            Platform::Kubernetes,
            &[asked("list", "nodes"), asked("create", "pods/exec")],
        );
        assert_eq!(
            d.missing,
            [
                "may not list nodes — runtime, version, kernel and runtime handlers of the nodes (facts)",
                "may not create pods/exec — the maps, `id` and sysctls are read inside the container (websocket exec: `get` before Kubernetes 1.31, `create` after)",
            ]
        );
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn a_missing_fallback_rule_is_a_warning_saying_what_stands_in() {
        let d = decide(
            Platform::OpenShift,
            &[asked("get", "nodes/proxy"), asked("get", "/metrics")],
        );
        assert!(d.missing.is_empty(), "{:?}", d.missing);
        assert_eq!(
            d.warnings,
            [
                "may not get nodes/proxy — the kubelet's feature gates from its metrics, through the API server; instead, the gates are read from a server-side dry run, else the API server's metrics",
                "may not get /metrics — the API server's own feature gates when no kubelet answers; instead, the gates are read from the kubelet's metrics, else a server-side dry run",
            ]
        );
    }

    #[test]
    fn the_platform_is_told_by_the_api_groups_the_facts_read() {
        let of = |groups: &[&str]| {
            Platform::of(&groups.iter().map(|g| g.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(of(&["apps"]), Platform::Kubernetes);
        assert_eq!(of(&[]), Platform::Kubernetes);
        assert_eq!(of(&["security.openshift.io"]), Platform::MicroShift);
        assert_eq!(
            of(&["security.openshift.io", "config.openshift.io"]),
            Platform::OpenShift
        );
    }

    #[test]
    fn an_openshift_rule_is_not_needed_elsewhere() {
        let sccs = asked("list", "securitycontextconstraints");
        assert_eq!(decide(Platform::Kubernetes, &[sccs]), Decision::default());
        for p in [Platform::OpenShift, Platform::MicroShift] {
            assert_eq!(
                decide(p, &[sccs]).missing,
                ["may not list securitycontextconstraints in API group security.openshift.io — OpenShift's SCCs with priority and userNamespaceLevel (facts, `requires: {sccs}`)"]
            );
        }
    }

    #[test]
    fn each_openshift_needs_the_version_source_it_reads() {
        let cv = asked("get", "clusterversions");
        let cm = asked("get", "configmaps");
        let both = [cv, cm];
        // Without either, OpenShift and MicroShift both lack their version.
        assert_eq!(
            decide(Platform::OpenShift, &both).missing,
            ["may not get clusterversions \"version\" in API group config.openshift.io — OpenShift's version"]
        );
        assert_eq!(
            decide(Platform::MicroShift, &both).missing,
            ["may not get configmaps \"microshift-version\" — MicroShift's version (it has no ClusterVersion)"]
        );
        // The other platform's source is never read: named, not needed.
        let named = |p, q: Question| {
            let d = decide(p, &[q]);
            assert!(d.missing.is_empty(), "{d:?}");
            assert_eq!(
                d.warnings,
                [format!("{}; not needed on this cluster", q.refusal())]
            );
        };
        named(Platform::OpenShift, cm);
        named(Platform::MicroShift, cv);
        assert_eq!(decide(Platform::Kubernetes, &both), Decision::default());
    }

    #[test]
    fn the_bind_of_anyuid_is_needed_only_on_openshift_and_edit_everywhere() {
        let binds: Vec<Question> = questions()
            .into_iter()
            .filter(|q| q.verb == "bind")
            .collect();
        let d = decide(Platform::Kubernetes, &binds);
        assert_eq!(d.missing.len(), 1);
        assert!(d.missing[0].starts_with(
            "may not bind clusterroles \"edit\" in API group rbac.authorization.k8s.io"
        ));
        assert_eq!(decide(Platform::MicroShift, &binds).missing.len(), 2);
    }

    #[test]
    fn every_verb_and_name_of_every_rule_is_asked() {
        let q = questions();
        let grants: usize = rbac::PERMISSIONS
            .iter()
            .map(|p| p.verbs.len() * p.names.len().max(1))
            .sum::<usize>()
            + rbac::NON_RESOURCE_URLS
                .iter()
                .map(|u| u.verbs.len())
                .sum::<usize>();
        assert_eq!(q.len(), grants);
        assert!(q.len() > 20, "{}", q.len());
    }

    #[test]
    fn a_review_splits_the_subresource_and_keeps_name_and_namespace() {
        let exec = asked("create", "pods/exec").review();
        let a = exec.spec.resource_attributes.unwrap();
        assert_eq!(
            (
                a.verb.as_deref(),
                a.group.as_deref(),
                a.resource.as_deref(),
                a.subresource.as_deref(),
                a.namespace,
                a.name
            ),
            (
                Some("create"),
                Some(""),
                Some("pods"),
                Some("exec"),
                None,
                None
            )
        );
        let cm = asked("get", "configmaps").review();
        let a = cm.spec.resource_attributes.unwrap();
        assert_eq!(a.namespace.as_deref(), Some("kube-public"));
        assert_eq!(a.name.as_deref(), Some("microshift-version"));
        assert_eq!(a.subresource, None);
        let metrics = asked("get", "/metrics").review();
        assert!(metrics.spec.resource_attributes.is_none());
        let n = metrics.spec.non_resource_attributes.unwrap();
        assert_eq!(
            (n.path.as_deref(), n.verb.as_deref()),
            (Some("/metrics"), Some("get"))
        );
    }

    #[test]
    fn the_error_names_the_identity_every_rule_and_the_fix() {
        let e = MissingPermissions {
            identity: Some("system:serviceaccount:userns-e2e:userns-e2e".into()),
            missing: vec![
                "may not list nodes — x".into(),
                "may not watch events — y".into(),
            ],
            also: vec!["may not get /metrics — z".into()],
        };
        assert_eq!(
            e.to_string(),
            "system:serviceaccount:userns-e2e:userns-e2e lacks permissions the run needs:\n  may not list nodes — x\n  may not watch events — y\nalso missing, though the run could go on without them:\n  may not get /metrics — z\nfix: apply deploy/clusterrole.yaml and bind it to system:serviceaccount:userns-e2e:userns-e2e (deploy/clusterrolebinding.yaml binds the userns-e2e ServiceAccount), or grant these rules"
        );
        let unknown = MissingPermissions {
            identity: None,
            also: Vec::new(),
            ..e
        };
        assert!(unknown
            .to_string()
            .starts_with("the harness's own identity lacks permissions the run needs:\n  may not list nodes — x\n"));
    }
}
