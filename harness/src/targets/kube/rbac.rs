//! What the kube target's own identity (a ServiceAccount in the cluster, a
//! kubeconfig user outside) must be allowed: one row per API call the target
//! makes, with the code that makes it and how much the run needs it.
//! `deploy/clusterrole.yaml` is exactly these rules (`tests/deploy.rs`
//! compares them, and checks that each row's `calls` are in this folder's
//! source and that every API type the source uses has a row); the preflight
//! (`preflight.rs`) asks the API server for each of them before a run.
//!
//! Calls made as an impersonated account (the scenario's user or
//! ServiceAccount) are that account's business, except where the target
//! falls back to its own identity (a scenario without an account and no
//! `--as`): those rows are here too.

use super::Platform;

/// How much a run needs a rule: what the code does when the call is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Without it scenarios fail, or are judged on wrong facts, for a reason
    /// that is not theirs: the target is unusable.
    Required,
    /// Required on these platforms; elsewhere the call is never made.
    On(&'static [Platform]),
    /// Its refusal loses one source of something another source gives (said
    /// here): the run goes on, and says what it lost.
    Fallback(&'static str),
}

impl Need {
    /// Whether a run on `platform` cannot be trusted without the rule.
    pub fn required_on(self, platform: Platform) -> bool {
        match self {
            Need::Required => true,
            Need::On(platforms) => platforms.contains(&platform),
            Need::Fallback(_) => false,
        }
    }
}

/// One rule: `verbs` on `resource` of API `group` (`""`: core), limited to
/// `names` when not empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub group: &'static str,
    /// As RBAC and the API server's refusals spell it (`pods/exec`).
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    pub names: &'static [&'static str],
    /// The one namespace the call is made in, if it is always the same
    /// (`None`: any; the harness makes its own).
    pub namespace: Option<&'static str>,
    /// Text in `targets/kube/*.rs` that makes the call.
    pub calls: &'static [&'static str],
    pub why: &'static str,
    pub need: Need,
}

/// A rule on a path of the API server that is not a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonResource {
    pub url: &'static str,
    pub verbs: &'static [&'static str],
    pub why: &'static str,
    pub need: Need,
}

/// OpenShift's API, with or without ClusterVersion.
const OPENSHIFT: &[Platform] = &[Platform::OpenShift, Platform::MicroShift];

/// The default role of a scenario's account and `--as`'s.
const EDIT: &str = "edit";
/// The `use` of the anyuid SCC; only scenarios that require OpenShift bind it.
const ANYUID: &str = "system:openshift:scc:anyuid";

/// The ClusterRoles a scenario's account may be bound to by the suite
/// (`as: {…, role}` and `also:`): the harness must be allowed to `bind`
/// them.
pub const BINDABLE_ROLES: &[&str] = &[EDIT, ANYUID];

/// The rule that lets the harness bind `roles` to a scenario's account.
const fn bind(roles: &'static [&'static str], need: Need) -> Permission {
    Permission {
        group: "rbac.authorization.k8s.io",
        resource: "clusterroles",
        verbs: &["bind"],
        names: roles,
        namespace: None,
        calls: &["kind: \"ClusterRole\".into()"],
        why: "a RoleBinding may only grant a ClusterRole its creator holds or may `bind`",
        need,
    }
}

/// Every rule the kube target needs.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        group: "",
        resource: "namespaces",
        verbs: &["create", "delete", "list"],
        names: &[],
        namespace: None,
        calls: &[
            "retry(\"create namespace\"",
            "retry(\"delete namespace\"",
            "api: Api<Namespace>",
            ".list(&ListParams::default().labels(",
        ],
        why: "one labelled namespace per scenario, deleted after; cleanup and Ctrl-C list the run's",
        need: Need::Required,
    },
    Permission {
        group: "",
        resource: "namespaces",
        verbs: &["get", "watch"],
        names: &[],
        namespace: None,
        calls: &[".get(name)", "await_condition(api, name, cond)"],
        why: "OpenShift assigns each namespace its uid range (`${ns.uidRangeStart}`): read back, watched for until it is there",
        // `prepare` reads the range only on OpenShift.
        need: Need::On(OPENSHIFT),
    },
    Permission {
        group: "",
        resource: "serviceaccounts",
        verbs: &["create"],
        names: &[],
        namespace: None,
        calls: &["retry(\"create serviceaccount\""],
        why: "a scenario's `as: {serviceAccount: …}` is created in its namespace",
        need: Need::Required,
    },
    Permission {
        group: "rbac.authorization.k8s.io",
        resource: "rolebindings",
        verbs: &["create"],
        names: &[],
        namespace: None,
        calls: &["retry(\"create rolebinding\""],
        why: "the scenario's account gets its role (and `also:` roles) in its namespace",
        need: Need::Required,
    },
    bind(&[EDIT], Need::Required),
    // Bound only by scenarios that require OpenShift.
    bind(&[ANYUID], Need::On(OPENSHIFT)),
    Permission {
        group: "",
        resource: "users",
        verbs: &["impersonate"],
        names: &[],
        namespace: None,
        calls: &["h.insert(\"Impersonate-User\", v)"],
        why: "pods are created as the scenario's user (`as: {user: …}`, `--as`)",
        need: Need::Required,
    },
    Permission {
        group: "",
        resource: "groups",
        verbs: &["impersonate"],
        names: &[],
        namespace: None,
        calls: &["h.append(\"Impersonate-Group\", v)"],
        why: "with the user's groups (system:authenticated), so SCCs and Pod Security judge it as that user",
        need: Need::Required,
    },
    Permission {
        group: "",
        resource: "serviceaccounts",
        verbs: &["impersonate"],
        names: &[],
        namespace: None,
        calls: &["system:serviceaccount:"],
        why: "pods are created as the scenario's ServiceAccount",
        need: Need::Required,
    },
    Permission {
        group: "",
        resource: "pods",
        verbs: &["create", "get", "watch"],
        names: &[],
        namespace: None,
        calls: &[
            "retry(\"create pod\"",
            "retry(\"get pod\"",
            ".watch(",
            "dry_run: true",
        ],
        why: "pods of scenarios without an account, the gate's server-side dry run in `default`, and watching every pod until it settles",
        need: Need::Required,
    },
    Permission {
        group: "",
        resource: "pods/exec",
        verbs: &["create", "get"],
        names: &[],
        namespace: None,
        calls: &[".exec(pod, command.to_vec(), &params)"],
        why: "the maps, `id` and sysctls are read inside the container (websocket exec: `get` before Kubernetes 1.31, `create` after)",
        // Both: the verb the server checks depends on its version, which
        // the table does not follow release by release.
        need: Need::Required,
    },
    Permission {
        group: "",
        resource: "pods/log",
        verbs: &["get"],
        names: &[],
        namespace: None,
        calls: &["pods.logs(&pod.name, &lp)"],
        why: "the container's logs when exec fails",
        // Evidence only: no verdict reads the logs.
        need: Need::Fallback("a failed exec still records its error, without the container's logs"),
    },
    Permission {
        group: "",
        resource: "events",
        verbs: &["list", "watch"],
        names: &[],
        namespace: None,
        calls: &["api: Api<KubeEvent>", "events_api"],
        why: "sandbox failures show only as events",
        // Without them a pod whose sandbox fails waits out its timeout and
        // is judged as pending.
        need: Need::Required,
    },
    Permission {
        group: "",
        resource: "nodes",
        verbs: &["list"],
        names: &[],
        namespace: None,
        calls: &["nodes.list(&ListParams::default())"],
        why: "runtime, version, kernel and runtime handlers of the nodes (facts)",
        need: Need::Required,
    },
    Permission {
        group: "",
        resource: "nodes/proxy",
        verbs: &["get"],
        names: &[],
        namespace: None,
        calls: &["/proxy/metrics"],
        why: "the kubelet's feature gates from its metrics, through the API server",
        need: Need::Fallback(
            "the gates are read from a server-side dry run, else the API server's metrics",
        ),
    },
    Permission {
        group: "security.openshift.io",
        resource: "securitycontextconstraints",
        verbs: &["list"],
        names: &[],
        namespace: None,
        calls: &["\"securitycontextconstraints\""],
        why: "OpenShift's SCCs with priority and userNamespaceLevel (facts, `requires: {sccs}`)",
        need: Need::On(OPENSHIFT),
    },
    Permission {
        group: "config.openshift.io",
        resource: "clusterversions",
        verbs: &["get"],
        names: &["version"],
        namespace: None,
        calls: &["\"ClusterVersion\"", "api.get(\"version\")"],
        why: "OpenShift's version",
        // The version's only source where ClusterVersion is served; MicroShift
        // has none (its ConfigMap below is read instead).
        need: Need::On(&[Platform::OpenShift]),
    },
    Permission {
        group: "",
        resource: "configmaps",
        verbs: &["get"],
        names: &["microshift-version"],
        namespace: Some("kube-public"),
        calls: &["cms.get(\"microshift-version\")"],
        why: "MicroShift's version (it has no ClusterVersion)",
        // Read only where ClusterVersion is not served.
        need: Need::On(&[Platform::MicroShift]),
    },
];

/// Non-resource URLs the target reads.
pub const NON_RESOURCE_URLS: &[NonResource] = &[NonResource {
    url: "/metrics",
    verbs: &["get"],
    why: "the API server's own feature gates when no kubelet answers",
    // The last of the gate's three sources.
    need: Need::Fallback(
        "the gates are read from the kubelet's metrics, else a server-side dry run",
    ),
}];
