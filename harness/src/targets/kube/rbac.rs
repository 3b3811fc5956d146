//! What the kube target's own identity (a ServiceAccount in the cluster, a
//! kubeconfig user outside) must be allowed: one row per API call the target
//! makes, with the code that makes it. `deploy/clusterrole.yaml` is exactly
//! these rules (`tests/deploy.rs` compares them, and checks that each row's
//! `calls` are in this folder's source and that every API type the source
//! uses has a row).
//!
//! Calls made as an impersonated account (the scenario's user or
//! ServiceAccount) are that account's business, except where the target
//! falls back to its own identity (a scenario without an account and no
//! `--as`): those rows are here too.

/// One rule: `verbs` on `resource` of API `group` (`""`: core), limited to
/// `names` when not empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub group: &'static str,
    pub resource: &'static str,
    pub verbs: &'static [&'static str],
    pub names: &'static [&'static str],
    /// Text in `targets/kube/*.rs` that makes the call.
    pub calls: &'static [&'static str],
    pub why: &'static str,
}

/// The ClusterRoles a scenario's account may be bound to by the suite
/// (`as: {…, role}` and `also:`): the harness must be allowed to `bind`
/// them. `edit` is the default role and `--as`'s.
pub const BINDABLE_ROLES: &[&str] = &["edit", "system:openshift:scc:anyuid"];

/// Every rule the kube target needs.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        group: "",
        resource: "namespaces",
        verbs: &["create", "delete", "get", "list", "watch"],
        names: &[],
        calls: &[
            "retry(\"create namespace\"",
            "retry(\"delete namespace\"",
            "api: Api<Namespace>",
            ".get(name)",
            ".list(&ListParams::default().labels(",
            "await_condition(api, name, cond)",
        ],
        why: "one labelled namespace per scenario, its uid range read back (and watched for until OpenShift assigns it), deleted after; cleanup and Ctrl-C list the run's",
    },
    Permission {
        group: "",
        resource: "serviceaccounts",
        verbs: &["create"],
        names: &[],
        calls: &["retry(\"create serviceaccount\""],
        why: "a scenario's `as: {serviceAccount: …}` is created in its namespace",
    },
    Permission {
        group: "rbac.authorization.k8s.io",
        resource: "rolebindings",
        verbs: &["create"],
        names: &[],
        calls: &["retry(\"create rolebinding\""],
        why: "the scenario's account gets its role (and `also:` roles) in its namespace",
    },
    Permission {
        group: "rbac.authorization.k8s.io",
        resource: "clusterroles",
        verbs: &["bind"],
        names: BINDABLE_ROLES,
        calls: &["kind: \"ClusterRole\".into()"],
        why: "a RoleBinding may only grant a ClusterRole its creator holds or may `bind`",
    },
    Permission {
        group: "",
        resource: "users",
        verbs: &["impersonate"],
        names: &[],
        calls: &["h.insert(\"Impersonate-User\", v)"],
        why: "pods are created as the scenario's user (`as: {user: …}`, `--as`)",
    },
    Permission {
        group: "",
        resource: "groups",
        verbs: &["impersonate"],
        names: &[],
        calls: &["h.append(\"Impersonate-Group\", v)"],
        why: "with the user's groups (system:authenticated), so SCCs and Pod Security judge it as that user",
    },
    Permission {
        group: "",
        resource: "serviceaccounts",
        verbs: &["impersonate"],
        names: &[],
        calls: &["system:serviceaccount:"],
        why: "pods are created as the scenario's ServiceAccount",
    },
    Permission {
        group: "",
        resource: "pods",
        verbs: &["create", "get", "watch"],
        names: &[],
        calls: &[
            "retry(\"create pod\"",
            "retry(\"get pod\"",
            ".watch(",
            "dry_run: true",
        ],
        why: "pods of scenarios without an account, the gate's server-side dry run in `default`, and watching every pod until it settles",
    },
    Permission {
        group: "",
        resource: "pods/exec",
        verbs: &["create", "get"],
        names: &[],
        calls: &[".exec(pod, command.to_vec(), &params)"],
        why: "the maps, `id` and sysctls are read inside the container (websocket exec: `get` before Kubernetes 1.31, `create` after)",
    },
    Permission {
        group: "",
        resource: "pods/log",
        verbs: &["get"],
        names: &[],
        calls: &["pods.logs(&pod.name, &lp)"],
        why: "the container's logs when exec fails",
    },
    Permission {
        group: "",
        resource: "events",
        verbs: &["list", "watch"],
        names: &[],
        calls: &["api: Api<KubeEvent>", "events_api"],
        why: "sandbox failures show only as events",
    },
    Permission {
        group: "",
        resource: "nodes",
        verbs: &["list"],
        names: &[],
        calls: &["nodes.list(&ListParams::default())"],
        why: "runtime, version, kernel and runtime handlers of the nodes (facts)",
    },
    Permission {
        group: "",
        resource: "nodes/proxy",
        verbs: &["get"],
        names: &[],
        calls: &["/proxy/metrics"],
        why: "the kubelet's feature gates from its metrics, through the API server",
    },
    Permission {
        group: "security.openshift.io",
        resource: "securitycontextconstraints",
        verbs: &["list"],
        names: &[],
        calls: &["\"securitycontextconstraints\""],
        why: "OpenShift's SCCs with priority and userNamespaceLevel (facts, `requires: {sccs}`)",
    },
    Permission {
        group: "config.openshift.io",
        resource: "clusterversions",
        verbs: &["get"],
        names: &["version"],
        calls: &["\"ClusterVersion\"", "api.get(\"version\")"],
        why: "OpenShift's version",
    },
    Permission {
        group: "",
        resource: "configmaps",
        verbs: &["get"],
        names: &["microshift-version"],
        calls: &["cms.get(\"microshift-version\")"],
        why: "MicroShift's version (it has no ClusterVersion)",
    },
];

/// Non-resource URLs the target reads.
pub const NON_RESOURCE_URLS: &[(&str, &[&str], &str)] = &[(
    "/metrics",
    &["get"],
    "the API server's own feature gates when no kubelet answers",
)];
