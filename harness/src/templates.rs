//! Template values (`${name}`) that scenario files use in pods and
//! expectations, filled from probed facts. The set of names is fixed here, so
//! validation can reject an unknown name before anything runs.

use std::collections::BTreeMap;

use serde_json::Value;

/// Whether a template stands for a number or a string: a pod field written as
/// exactly `"${ns.uidRangeStart}"` becomes a JSON number after substitution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Int,
    Str,
}

/// A known template name.
#[derive(Debug, Clone, Copy)]
pub struct TemplateDef {
    pub name: &'static str,
    pub kind: TemplateKind,
}

/// Every template name a scenario may use.
pub const KNOWN: &[TemplateDef] = &[
    // a busybox-like test image with sh, id, cat, sleep
    TemplateDef {
        name: "image.busybox",
        kind: TemplateKind::Str,
    },
    // an image whose entrypoint sleeps forever
    TemplateDef {
        name: "image.pause",
        kind: TemplateKind::Str,
    },
    // runtime name as reported (containerd, cri-o)
    TemplateDef {
        name: "runtime.name",
        kind: TemplateKind::Str,
    },
    // runtime version, normalised (`2.1.9` for `v2.1.9` or `2.1.9+unknown`)
    TemplateDef {
        name: "runtime.version",
        kind: TemplateKind::Str,
    },
    // the namespace made for this scenario (kube)
    TemplateDef {
        name: "ns.name",
        kind: TemplateKind::Str,
    },
    // start of the namespace's openshift.io/sa.scc.uid-range (OpenShift)
    TemplateDef {
        name: "ns.uidRangeStart",
        kind: TemplateKind::Int,
    },
    // size of the namespace's openshift.io/sa.scc.uid-range (OpenShift)
    TemplateDef {
        name: "ns.uidRangeSize",
        kind: TemplateKind::Int,
    },
    // last uid of the namespace's openshift.io/sa.scc.uid-range (OpenShift)
    TemplateDef {
        name: "ns.uidRangeEnd",
        kind: TemplateKind::Int,
    },
    // first subordinate uid of the user `containers` on the node
    TemplateDef {
        name: "subuid.containers.start",
        kind: TemplateKind::Int,
    },
    // number of subordinate uids of `containers`
    TemplateDef {
        name: "subuid.containers.count",
        kind: TemplateKind::Int,
    },
    // first subordinate gid of the user `containers` on the node
    TemplateDef {
        name: "subgid.containers.start",
        kind: TemplateKind::Int,
    },
    // ids per pod of the kubelet's user-namespace allocator (65536 unless configured)
    TemplateDef {
        name: "node.idsPerPod",
        kind: TemplateKind::Int,
    },
];

pub fn lookup(name: &str) -> Option<&'static TemplateDef> {
    KNOWN.iter().find(|d| d.name == name)
}

/// Template values available to one scenario.
pub type Templates = BTreeMap<String, String>;

/// The values every target has: its test images, ids per pod, and the
/// runtime and subordinate ids its facts report.
pub fn run_values(
    busybox: &str,
    pause: &str,
    ids_per_pod: u32,
    facts: &crate::facts::Facts,
) -> Templates {
    let mut t = Templates::new();
    t.insert("image.busybox".into(), busybox.into());
    t.insert("image.pause".into(), pause.into());
    t.insert("node.idsPerPod".into(), ids_per_pod.to_string());
    if let Some(r) = &facts.runtime {
        t.insert("runtime.name".into(), r.reported_name.clone());
        t.insert("runtime.version".into(), r.shown_version());
    }
    let node = facts.nodes.first();
    let containers = |m: Option<&BTreeMap<String, Vec<crate::facts::SubIdRange>>>| {
        m.and_then(|m| m.get("containers"))
            .and_then(|v| v.first())
            .copied()
    };
    if let Some(r) = containers(node.and_then(|n| n.subuids.as_ref())) {
        t.insert("subuid.containers.start".into(), r.start.to_string());
        t.insert("subuid.containers.count".into(), r.count.to_string());
    }
    if let Some(r) = containers(node.and_then(|n| n.subgids.as_ref())) {
        t.insert("subgid.containers.start".into(), r.start.to_string());
    }
    t
}

/// Names referenced as `${name}` in `text`, in order. An unterminated `${`
/// yields an error message.
pub fn references(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated template reference in {text:?}"))?;
        out.push(after[..end].trim());
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// Replaces every `${name}` in `text`; unknown or missing values are errors.
pub fn substitute_str(text: &str, values: &Templates) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated template reference in {text:?}"))?;
        let name = after[..end].trim();
        let value = values
            .get(name)
            .ok_or_else(|| format!("template value `{name}` is not available on this target"))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Substitutes templates throughout a JSON value (a pod). A string that is
/// exactly one reference to an integer template becomes a number.
pub fn substitute_value(value: &Value, values: &Templates) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => {
            let refs = references(s)?;
            if refs.len() == 1 && s.trim() == format!("${{{}}}", refs[0]) {
                let name = refs[0];
                let text = substitute_str(s, values)?;
                match lookup(name).map(|d| d.kind) {
                    Some(TemplateKind::Int) => Value::Number(
                        text.parse::<i64>()
                            .map_err(|_| {
                                format!("template `{name}` should be a number, got {text:?}")
                            })?
                            .into(),
                    ),
                    _ => Value::String(text),
                }
            } else {
                Value::String(substitute_str(s, values)?)
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_value(v, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute_value(v, values)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Stand-in values for every known template, used to type-check pods at
/// validation time without a target.
pub fn placeholders() -> Templates {
    KNOWN
        .iter()
        .map(|d| {
            let v = match d.kind {
                TemplateKind::Int => "1000000000".to_string(),
                TemplateKind::Str => format!("placeholder-{}", d.name.replace('.', "-")),
            };
            (d.name.to_string(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn substitutes_numbers_and_strings() {
        let mut t = Templates::new();
        t.insert("ns.uidRangeStart".into(), "1000650000".into());
        t.insert("image.busybox".into(), "busybox:latest".into());
        let pod = json!({"a": "${ns.uidRangeStart}", "b": "img=${image.busybox}", "c": ["${image.busybox}"]});
        let out = substitute_value(&pod, &t).unwrap();
        assert_eq!(
            out,
            json!({"a": 1000650000, "b": "img=busybox:latest", "c": ["busybox:latest"]})
        );
    }

    #[test]
    fn missing_and_unterminated() {
        let t = Templates::new();
        assert!(substitute_str("${ns.name}", &t)
            .unwrap_err()
            .contains("ns.name"));
        assert!(references("${oops").is_err());
        assert_eq!(references("a ${x} b ${ y }").unwrap(), vec!["x", "y"]);
    }
}
