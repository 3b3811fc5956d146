//! What the kubelet does with a pod, for the parts that matter here: pod →
//! sandbox and container configs. Pure functions; fields that cannot be
//! honoured are errors naming the field, never silently dropped.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodSecurityContext, SecurityContext};
use serde_json::Value;

use super::proto;

/// The CRI namespace pods are created in.
pub const NAMESPACE: &str = "userns-e2e";

/// Fields the emulation honours, per object. Anything else set is refused.
const POD_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const META_KEYS: &[&str] = &["name", "namespace", "labels", "annotations"];
const SPEC_KEYS: &[&str] = &[
    "containers",
    "runtimeClassName",
    "securityContext",
    "hostUsers",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "hostname",
    "restartPolicy",
    "terminationGracePeriodSeconds",
];
const POD_SC_KEYS: &[&str] = &[
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "supplementalGroups",
    "fsGroup",
    "sysctls",
];
const CONTAINER_KEYS: &[&str] = &[
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "env",
    "workingDir",
    "securityContext",
];
const CONTAINER_SC_KEYS: &[&str] = &[
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "capabilities",
    "privileged",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
];
const ENV_KEYS: &[&str] = &["name", "value"];

fn unsupported_in(value: &Value, allowed: &[&str], path: &str, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (k, v) in map {
            if !allowed.contains(&k.as_str()) && !v.is_null() {
                out.push(format!("{path}.{k}"));
            }
        }
    }
}

/// Every set field of `pod` that the cri target cannot honour, as field paths.
pub fn unsupported_fields(pod: &Pod) -> Vec<String> {
    let v = serde_json::to_value(pod).unwrap_or(Value::Null);
    let mut out = Vec::new();
    unsupported_in(&v, POD_KEYS, "pod", &mut out);
    unsupported_in(&v["metadata"], META_KEYS, "metadata", &mut out);
    let spec = &v["spec"];
    unsupported_in(spec, SPEC_KEYS, "spec", &mut out);
    unsupported_in(
        &spec["securityContext"],
        POD_SC_KEYS,
        "spec.securityContext",
        &mut out,
    );
    for (i, c) in spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let p = format!("spec.containers[{i}]");
        unsupported_in(c, CONTAINER_KEYS, &p, &mut out);
        unsupported_in(
            &c["securityContext"],
            CONTAINER_SC_KEYS,
            &format!("{p}.securityContext"),
            &mut out,
        );
        for (j, e) in c["env"].as_array().into_iter().flatten().enumerate() {
            unsupported_in(e, ENV_KEYS, &format!("{p}.env[{j}]"), &mut out);
        }
    }
    out.retain(|p| p != "pod.status");
    out
}

/// The API server's validation of host namespaces with `hostUsers: false`
/// (kubernetes pkg/apis/core/validation), which the cri target plays.
pub fn validation_errors(pod: &Pod) -> Vec<String> {
    let Some(spec) = &pod.spec else {
        return vec!["spec: Required value".into()];
    };
    let mut out = Vec::new();
    if spec.host_users == Some(false) {
        let why = "when `pod.Spec.HostUsers` is false";
        if spec.host_network == Some(true) {
            out.push(format!("spec.hostNetwork: Forbidden: {why}"));
        }
        if spec.host_pid == Some(true) {
            out.push(format!("spec.HostPID: Forbidden: {why}"));
        }
        if spec.host_ipc == Some(true) {
            out.push(format!("spec.HostIPC: Forbidden: {why}"));
        }
    }
    out
}

fn ns_mode(host: Option<bool>) -> i32 {
    if host == Some(true) {
        proto::NamespaceMode::Node as i32
    } else {
        proto::NamespaceMode::Pod as i32
    }
}

/// How the user namespace is requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Userns {
    /// `hostUsers: false`: mode POD with this host base and length.
    Pod { base: u32, length: u32 },
    /// Mode NODE, as the kubelet sends once its gate is on.
    Node,
    /// No user-namespace options at all (older kubelets): CRI-O falls back to its annotation.
    Unset,
}

fn userns_option(u: Userns) -> Option<proto::UserNamespace> {
    match u {
        Userns::Unset => None,
        Userns::Node => Some(proto::UserNamespace {
            mode: proto::NamespaceMode::Node as i32,
            uids: vec![],
            gids: vec![],
        }),
        Userns::Pod { base, length } => {
            let m = proto::IdMapping {
                host_id: base,
                container_id: 0,
                length,
            };
            Some(proto::UserNamespace {
                mode: proto::NamespaceMode::Pod as i32,
                uids: vec![m],
                gids: vec![m],
            })
        }
    }
}

fn namespace_options(
    pod_spec: &k8s_openapi::api::core::v1::PodSpec,
    u: Userns,
) -> proto::NamespaceOption {
    proto::NamespaceOption {
        network: ns_mode(pod_spec.host_network),
        pid: if pod_spec.host_pid == Some(true) {
            proto::NamespaceMode::Node as i32
        } else {
            proto::NamespaceMode::Container as i32
        },
        ipc: ns_mode(pod_spec.host_ipc),
        target_id: String::new(),
        userns_options: userns_option(u),
    }
}

/// Pod → sandbox config.
pub fn sandbox_config(
    pod: &Pod,
    uid: &str,
    labels: &HashMap<String, String>,
    userns: Userns,
    log_dir: &str,
) -> proto::PodSandboxConfig {
    let spec = pod.spec.clone().unwrap_or_default();
    let psc = spec.security_context.clone().unwrap_or_default();
    let mut all_labels: HashMap<String, String> = pod
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    all_labels.extend(labels.clone());
    let name = pod.metadata.name.clone().unwrap_or_default();
    proto::PodSandboxConfig {
        metadata: Some(proto::PodSandboxMetadata {
            name: name.clone(),
            uid: uid.to_string(),
            namespace: NAMESPACE.into(),
            attempt: 0,
        }),
        hostname: if spec.host_network == Some(true) {
            String::new()
        } else {
            spec.hostname.clone().unwrap_or(name)
        },
        log_directory: log_dir.to_string(),
        labels: all_labels,
        // Passed through unchanged, so CRI-O sees its userns-mode annotation.
        annotations: pod
            .metadata
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        linux: Some(proto::LinuxPodSandboxConfig {
            cgroup_parent: String::new(),
            security_context: Some(proto::LinuxSandboxSecurityContext {
                namespace_options: Some(namespace_options(&spec, userns)),
                run_as_user: psc.run_as_user.map(|value| proto::Int64Value { value }),
                run_as_group: psc.run_as_group.map(|value| proto::Int64Value { value }),
                readonly_rootfs: false,
                supplemental_groups: supplemental_groups(&psc),
                privileged: spec
                    .containers
                    .iter()
                    .any(|c| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true)),
            }),
            sysctls: psc
                .sysctls
                .iter()
                .flatten()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect(),
        }),
    }
}

/// The kubelet adds fsGroup to every container's supplemental groups.
fn supplemental_groups(psc: &PodSecurityContext) -> Vec<i64> {
    let mut g = psc.supplemental_groups.clone().unwrap_or_default();
    if let Some(fs) = psc.fs_group {
        if !g.contains(&fs) {
            g.push(fs);
        }
    }
    g
}

/// The effective user: container securityContext over pod securityContext.
pub fn effective_run_as(c: &Container, psc: &PodSecurityContext) -> (Option<i64>, Option<i64>) {
    let csc = c.security_context.as_ref();
    (
        csc.and_then(|s| s.run_as_user).or(psc.run_as_user),
        csc.and_then(|s| s.run_as_group).or(psc.run_as_group),
    )
}

/// The kubelet's runAsNonRoot check when the uid is known from the pod
/// (images here run as root when no uid is given).
pub fn run_as_non_root_error(c: &Container, psc: &PodSecurityContext) -> Option<String> {
    let non_root = c
        .security_context
        .as_ref()
        .and_then(|s| s.run_as_non_root)
        .or(psc.run_as_non_root)
        == Some(true);
    if !non_root {
        return None;
    }
    match effective_run_as(c, psc).0 {
        Some(0) => Some("container's runAsUser breaks non-root policy".into()),
        None => Some("container has runAsNonRoot and image will run as root".into()),
        _ => None,
    }
}

/// Container → container config.
pub fn container_config(
    pod: &Pod,
    c: &Container,
    labels: &HashMap<String, String>,
    userns: Userns,
) -> proto::ContainerConfig {
    let spec = pod.spec.clone().unwrap_or_default();
    let psc = spec.security_context.clone().unwrap_or_default();
    let csc: SecurityContext = c.security_context.clone().unwrap_or_default();
    let (uid, gid) = effective_run_as(c, &psc);
    let privileged = csc.privileged == Some(true);
    proto::ContainerConfig {
        metadata: Some(proto::ContainerMetadata {
            name: c.name.clone(),
            attempt: 0,
        }),
        image: Some(proto::ImageSpec {
            image: c.image.clone().unwrap_or_default(),
            user_specified_image: c.image.clone().unwrap_or_default(),
        }),
        // Kubernetes `command` overrides the entrypoint, `args` the cmd.
        command: c.command.clone().unwrap_or_default(),
        args: c.args.clone().unwrap_or_default(),
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: c
            .env
            .iter()
            .flatten()
            .map(|e| proto::KeyValue {
                key: e.name.clone(),
                value: e.value.clone().unwrap_or_default(),
            })
            .collect(),
        labels: labels.clone(),
        annotations: HashMap::new(),
        log_path: format!("{}.log", c.name),
        linux: Some(proto::LinuxContainerConfig {
            security_context: Some(proto::LinuxContainerSecurityContext {
                capabilities: csc.capabilities.as_ref().map(|caps| proto::Capability {
                    add_capabilities: caps.add.clone().unwrap_or_default(),
                    drop_capabilities: caps.drop.clone().unwrap_or_default(),
                }),
                privileged,
                namespace_options: Some(namespace_options(&spec, userns)),
                run_as_user: uid.map(|value| proto::Int64Value { value }),
                run_as_group: gid.map(|value| proto::Int64Value { value }),
                readonly_rootfs: csc.read_only_root_filesystem == Some(true),
                supplemental_groups: supplemental_groups(&psc),
                // allowPrivilegeEscalation defaults to true; privileged implies it.
                no_new_privs: !privileged && csc.allow_privilege_escalation == Some(false),
            }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn host_users_false_becomes_mode_pod_with_identical_maps() {
        let p = pod(
            serde_json::json!({"metadata": {"name": "p", "annotations": {"io.kubernetes.cri-o.userns-mode": "auto"}}, "spec": {"hostUsers": false, "containers": [{"name": "c", "image": "busybox"}]}}),
        );
        let labels = crate::targets::labels::for_scenario("run1", "host-users/x")
            .into_iter()
            .collect();
        let s = sandbox_config(
            &p,
            "uid",
            &labels,
            Userns::Pod {
                base: 131072,
                length: 65536,
            },
            "/tmp",
        );
        let u = s
            .linux
            .unwrap()
            .security_context
            .unwrap()
            .namespace_options
            .unwrap()
            .userns_options
            .unwrap();
        assert_eq!(u.mode, proto::NamespaceMode::Pod as i32);
        assert_eq!(u.uids, u.gids);
        assert_eq!(
            (u.uids[0].container_id, u.uids[0].host_id, u.uids[0].length),
            (0, 131072, 65536)
        );
        assert_eq!(s.annotations["io.kubernetes.cri-o.userns-mode"], "auto");
        assert_eq!(s.labels[crate::targets::labels::SCENARIO], "host-users_x");
    }

    #[test]
    fn run_as_user_precedence_and_privileges() {
        let p = pod(
            serde_json::json!({"metadata": {"name": "p"}, "spec": {"securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 200}, "containers": [
                {"name": "a", "image": "i"},
                {"name": "b", "image": "i", "securityContext": {"runAsUser": 2000, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}
            ]}}),
        );
        let spec = p.spec.clone().unwrap();
        let a = container_config(&p, &spec.containers[0], &HashMap::new(), Userns::Node);
        let b = container_config(&p, &spec.containers[1], &HashMap::new(), Userns::Node);
        let sa = a.linux.unwrap().security_context.unwrap();
        let sb = b.linux.unwrap().security_context.unwrap();
        assert_eq!(
            (
                sa.run_as_user.unwrap().value,
                sa.run_as_group.unwrap().value
            ),
            (1000, 3000)
        );
        assert_eq!(
            (
                sb.run_as_user.unwrap().value,
                sb.run_as_group.unwrap().value
            ),
            (2000, 3000)
        );
        assert!(!sa.no_new_privs && sb.no_new_privs);
        assert_eq!(sb.capabilities.unwrap().drop_capabilities, vec!["ALL"]);
        assert_eq!(sa.supplemental_groups, vec![200]);
    }

    #[test]
    fn unsupported_fields_are_named() {
        let p = pod(
            serde_json::json!({"metadata": {"name": "p"}, "spec": {"volumes": [{"name": "v", "emptyDir": {}}], "containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}, "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}]}}),
        );
        assert_eq!(
            unsupported_fields(&p),
            vec![
                "spec.volumes",
                "spec.containers[0].resources",
                "spec.containers[0].securityContext.seccompProfile"
            ]
        );
    }

    #[test]
    fn host_namespaces_with_user_namespaces_are_invalid() {
        let p = pod(
            serde_json::json!({"metadata": {"name": "p"}, "spec": {"hostUsers": false, "hostNetwork": true, "hostPID": true, "containers": [{"name": "c"}]}}),
        );
        assert_eq!(
            validation_errors(&p),
            vec![
                "spec.hostNetwork: Forbidden: when `pod.Spec.HostUsers` is false",
                "spec.HostPID: Forbidden: when `pod.Spec.HostUsers` is false"
            ]
        );
    }

    #[test]
    fn run_as_non_root() {
        let p = pod(
            serde_json::json!({"metadata": {"name": "p"}, "spec": {"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "c"}]}}),
        );
        let spec = p.spec.unwrap();
        assert_eq!(
            run_as_non_root_error(&spec.containers[0], &spec.security_context.unwrap()).unwrap(),
            "container has runAsNonRoot and image will run as root"
        );
    }
}
