//! `deploy/`: least privilege, proven on the source. The ClusterRole is
//! exactly the kube target's permission table (`targets/kube/rbac.rs`); each
//! row's calls are in the target's source, and every API type the source
//! uses has a row; the roles it may `bind` are the ones the suite binds. The
//! Job and the Sonobuoy plugin run command lines the real parser accepts, as
//! the ServiceAccount the binding names, and the plugin validates against a
//! schema written from Sonobuoy's Go types (`tests/fixtures/sonobuoy/`).

#[path = "support/yaml.rs"]
mod yaml;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::Value;
use userns_e2e::targets::kube::rbac::{BINDABLE_ROLES, NON_RESOURCE_URLS, PERMISSIONS};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn manifest(name: &str) -> Value {
    let p = repo().join("deploy").join(name);
    yaml::yaml(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// (group, resource, verb, resourceName) of every rule, one per verb and
/// name (`None`: every object), so that a rule may be split in the table by
/// what the run needs and stay one rule in the file.
type Grant = (String, String, String, Option<String>);

/// Each verb × name of a rule.
fn grants(group: &str, resource: &str, verbs: &[String], names: &[String]) -> Vec<Grant> {
    let names: Vec<Option<String>> = if names.is_empty() {
        vec![None]
    } else {
        names.iter().cloned().map(Some).collect()
    };
    verbs
        .iter()
        .flat_map(|v| {
            names
                .iter()
                .map(move |n| (group.into(), resource.into(), v.clone(), n.clone()))
        })
        .collect()
}

#[test]
fn clusterrole_is_exactly_the_kube_targets_permissions() {
    let role = manifest("clusterrole.yaml");
    assert_eq!(role["kind"], "ClusterRole");
    let mut in_file: BTreeSet<Grant> = BTreeSet::new();
    let mut urls_in_file = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        let verbs = strings(&rule["verbs"]);
        if let Some(urls) = rule.get("nonResourceURLs") {
            for u in strings(urls) {
                for v in &verbs {
                    urls_in_file.insert((u.clone(), v.clone()));
                }
            }
            continue;
        }
        let names = strings(&rule["resourceNames"]);
        for g in strings(&rule["apiGroups"]) {
            for r in strings(&rule["resources"]) {
                for grant in grants(&g, &r, &verbs, &names) {
                    assert!(in_file.insert(grant.clone()), "{grant:?} twice");
                }
            }
        }
    }
    let mut table: BTreeSet<Grant> = BTreeSet::new();
    let owned = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    for p in PERMISSIONS {
        for grant in grants(p.group, p.resource, &owned(p.verbs), &owned(p.names)) {
            assert!(
                table.insert(grant.clone()),
                "{grant:?} in two rows of rbac.rs"
            );
        }
    }
    let missing: Vec<_> = table.difference(&in_file).collect();
    let extra: Vec<_> = in_file.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "deploy/clusterrole.yaml lacks {missing:?} and grants more than the kube target uses: {extra:?}"
    );
    let urls: BTreeSet<(String, String)> = NON_RESOURCE_URLS
        .iter()
        .flat_map(|u| {
            u.verbs
                .iter()
                .map(move |v| (u.url.to_string(), v.to_string()))
        })
        .collect();
    assert_eq!(urls_in_file, urls);
    // Wildcards are never least privilege.
    let text = std::fs::read_to_string(repo().join("deploy/clusterrole.yaml")).unwrap();
    assert!(!text.contains('*'), "a wildcard in the ClusterRole");
}

/// The kube target's source, without the table itself.
fn kube_source() -> String {
    let dir = repo().join("harness/src/targets/kube");
    let mut text = String::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "rs") && p.file_name().unwrap() != "rbac.rs" {
            text.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    text
}

#[test]
fn every_rule_is_used_and_every_api_the_target_calls_has_a_rule() {
    let src = kube_source();
    for p in PERMISSIONS {
        for call in p.calls {
            assert!(
                src.contains(call),
                "{}/{}: the call {call:?} is not in targets/kube (a rule nothing needs?)",
                p.group,
                p.resource
            );
        }
    }
    for u in NON_RESOURCE_URLS {
        assert!(src.contains(&format!("{:?}", u.url)), "{}", u.url);
    }
    // The API types the source uses: Api<T> (typed), and the dynamic ones by kind.
    let typed = regex::Regex::new(r"Api<(?:[a-z_0-9]+::)*([A-Za-z]+)>").unwrap();
    let dynamic = regex::Regex::new(r#"gvk\(\s*"([^"]*)",\s*"[^"]*",\s*"([A-Za-z]+)""#).unwrap();
    let mut kinds: BTreeSet<String> = typed
        .captures_iter(&src)
        .map(|c| c[1].to_string())
        .collect();
    kinds.extend(
        dynamic
            .captures_iter(&src)
            .map(|c| format!("{}/{}", &c[1], &c[2])),
    );
    kinds.remove("DynamicObject");
    // Each kind → the resource of its rule; `None`: a review of one's own
    // access or identity, which every authenticated user may make
    // (system:basic-user), as the scenario's account or the harness.
    let resource_of = |kind: &str| -> Option<(&str, &str)> {
        match kind {
            "Namespace" => Some(("", "namespaces")),
            "ServiceAccount" => Some(("", "serviceaccounts")),
            "RoleBinding" => Some(("rbac.authorization.k8s.io", "rolebindings")),
            "Pod" => Some(("", "pods")),
            "KubeEvent" => Some(("", "events")),
            "Node" => Some(("", "nodes")),
            "ConfigMap" => Some(("", "configmaps")),
            "security.openshift.io/SecurityContextConstraints" => {
                Some(("security.openshift.io", "securitycontextconstraints"))
            }
            "config.openshift.io/ClusterVersion" => {
                Some(("config.openshift.io", "clusterversions"))
            }
            "SelfSubjectAccessReview" | "SelfSubjectReview" => None,
            other => panic!(
                "targets/kube uses the API type {other}: add its rule to rbac.rs and deploy/clusterrole.yaml"
            ),
        }
    };
    for k in &kinds {
        if let Some((g, r)) = resource_of(k) {
            assert!(
                PERMISSIONS.iter().any(|p| p.group == g && p.resource == r),
                "{k}: no rule for {g}/{r}"
            );
        }
    }
    assert!(
        kinds.contains("Namespace") && kinds.contains("Pod"),
        "{kinds:?}"
    );
}

#[test]
fn bindable_roles_are_the_roles_the_suite_binds() {
    let scenarios = userns_e2e::scenario::load::load_paths(&[repo().join("scenarios")])
        .unwrap_or_else(|e| panic!("{e:?}"));
    // `--as` binds edit.
    let mut bound: BTreeSet<String> = BTreeSet::from(["edit".to_string()]);
    for s in &scenarios {
        match &s.spec.account {
            Some(userns_e2e::scenario::Account::User { role, also, .. })
            | Some(userns_e2e::scenario::Account::ServiceAccount { role, also, .. }) => {
                bound.insert(role.clone());
                bound.extend(also.iter().cloned());
            }
            None => {}
        }
    }
    let table: BTreeSet<String> = BINDABLE_ROLES.iter().map(|s| s.to_string()).collect();
    assert_eq!(bound, table);
    // The rules that allow binding them name exactly these.
    let granted: BTreeSet<String> = PERMISSIONS
        .iter()
        .filter(|p| p.resource == "clusterroles" && p.verbs.contains(&"bind"))
        .flat_map(|p| p.names.iter().map(|n| n.to_string()))
        .collect();
    assert_eq!(granted, table);
}

/// `userns-e2e` + args through the real parser and the checks the command
/// makes before it touches a system, with the kube target that the pod's
/// in-cluster detection gives.
fn parses(args: &[String]) {
    let mut argv = vec!["userns-e2e".to_string()];
    for (i, a) in args.iter().enumerate() {
        argv.push(a.clone());
        if i == 0 && a == "run" {
            argv.extend(["--target".to_string(), "kube".to_string()]);
        }
    }
    let cli =
        userns_e2e::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let host = userns_e2e::cli::preflight::Host {
        root: false,
        cwd: repo(),
        absolute_paths: false,
    };
    userns_e2e::cli::preflight::check(&cli, &host).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
}

#[test]
fn job_runs_the_suite_as_the_bound_service_account() {
    let sa = manifest("serviceaccount.yaml");
    let binding = manifest("clusterrolebinding.yaml");
    let role = manifest("clusterrole.yaml");
    let job = manifest("job.yaml");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
    let subjects = binding["subjects"].as_array().unwrap();
    assert!(subjects.iter().any(|s| s["kind"] == "ServiceAccount"
        && s["name"] == sa["metadata"]["name"]
        && s["namespace"] == sa["metadata"]["namespace"]));
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(job["metadata"]["namespace"], sa["metadata"]["namespace"]);
    assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
    let c = &pod["containers"][0];
    let args = strings(&c["args"]);
    parses(&args);
    // The suite where the image puts it.
    let containerfile = std::fs::read_to_string(repo().join("deploy/Containerfile")).unwrap();
    let suite = args.last().unwrap();
    assert!(containerfile.contains(suite.as_str()), "{suite}");
    // Reports go to a mounted folder.
    let out = args.iter().skip_while(|a| *a != "--out").nth(1).unwrap();
    assert!(c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["mountPath"] == out.as_str()));
}

#[test]
fn sonobuoy_plugin_validates_against_sonobuoys_plugin_schema() {
    let plugin = manifest("sonobuoy-plugin.yaml");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("harness/tests/fixtures/sonobuoy/plugin.schema.json"))
            .unwrap(),
    )
    .unwrap();
    let errors = |schema: &Value, v: &Value| -> Vec<String> {
        jsonschema::validator_for(schema)
            .unwrap()
            .iter_errors(v)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect()
    };
    assert_eq!(errors(&schema, &plugin), Vec::<String>::new());
    // spec and podSpec against Kubernetes' own types (k8s-openapi's schemas),
    // with no field those types do not have.
    let container =
        serde_json::to_value(schemars::schema_for!(k8s_openapi::api::core::v1::Container)).unwrap();
    let pod_spec =
        serde_json::to_value(schemars::schema_for!(k8s_openapi::api::core::v1::PodSpec)).unwrap();
    for (value, schema) in [
        (&plugin["spec"], &container),
        (&plugin["podSpec"], &pod_spec),
    ] {
        assert_eq!(errors(schema, value), Vec::<String>::new());
        for k in value.as_object().unwrap().keys() {
            assert!(schema["properties"].get(k).is_some(), "unknown field {k}");
        }
    }
    let config = &plugin["sonobuoy-config"];
    assert_eq!(config["driver"], "Job");
    assert_eq!(config["plugin-name"], "userns-e2e");
    assert_eq!(config["result-format"], "junit");
    // A wrong driver fails the schema (the loader would refuse it).
    let mut broken = plugin.clone();
    broken["sonobuoy-config"]["driver"] = "CronJob".into();
    assert!(!errors(&schema, &broken).is_empty());
    // The command: `run --sonobuoy`, and the results folder mounted where
    // Sonobuoy's default results dir is.
    let mut args = strings(&plugin["spec"]["command"]);
    assert_eq!(args.remove(0), "userns-e2e");
    args.extend(strings(&plugin["spec"]["args"]));
    parses(&args);
    assert!(args.contains(&"--sonobuoy".to_string()));
    assert!(plugin["spec"]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["mountPath"] == userns_e2e::cli::incluster::SONOBUOY_DEFAULT_RESULTS_DIR));
    // It runs as the ServiceAccount the binding names in Sonobuoy's namespace.
    let binding = manifest("clusterrolebinding.yaml");
    assert!(binding["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == plugin["podSpec"]["serviceAccountName"]
            && s["namespace"] == "sonobuoy"));
}

/// Every manifest is a valid object of its kind: Kubernetes' own types
/// (k8s-openapi's schemas), and nothing at the top of `spec`/`metadata` that
/// the type does not have.
#[test]
fn manifests_are_valid_kubernetes_objects() {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    use k8s_openapi::api::{batch::v1::Job, core::v1::Namespace, core::v1::ServiceAccount};
    let cases = [
        (
            "namespace.yaml",
            serde_json::to_value(schemars::schema_for!(Namespace)).unwrap(),
        ),
        (
            "serviceaccount.yaml",
            serde_json::to_value(schemars::schema_for!(ServiceAccount)).unwrap(),
        ),
        (
            "clusterrole.yaml",
            serde_json::to_value(schemars::schema_for!(ClusterRole)).unwrap(),
        ),
        (
            "clusterrolebinding.yaml",
            serde_json::to_value(schemars::schema_for!(ClusterRoleBinding)).unwrap(),
        ),
        (
            "job.yaml",
            serde_json::to_value(schemars::schema_for!(Job)).unwrap(),
        ),
    ];
    for (file, schema) in cases {
        let v = manifest(file);
        let errors: Vec<String> = jsonschema::validator_for(&schema)
            .unwrap()
            .iter_errors(&v)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{file}: {errors:#?}");
        for k in v.as_object().unwrap().keys() {
            assert!(
                schema["properties"].get(k).is_some(),
                "{file}: unknown field {k}"
            );
        }
    }
    // Typed parse as well: what kubectl would send is what these types hold.
    let job: Job = serde_json::from_value(manifest("job.yaml")).unwrap();
    let pod = job.spec.unwrap().template.spec.unwrap();
    let sc = pod.containers[0].security_context.clone().unwrap();
    // The Job's own pod meets Pod Security `restricted` (its namespace enforces it).
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.unwrap().drop, Some(vec!["ALL".to_string()]));
    assert_eq!(pod.security_context.unwrap().run_as_non_root, Some(true));
    assert_eq!(
        manifest("namespace.yaml")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
}
