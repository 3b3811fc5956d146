//! Every error of a file in one pass, and did-you-mean for unknown fields.
//!
//! serde stops at the first error. To report the others too, the value that
//! caused an error is removed and deserialization is tried again, until it
//! succeeds or an error cannot be stepped over (a missing required field, a
//! wrong type at the top). The names a field could have had come from the
//! scenario format's JSON Schema, which includes `v1.Pod`'s, so the same
//! suggestion serves scenario fields and pod fields.

use std::sync::LazyLock;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// More errors than this in one file are not read further: the file is
/// probably not a scenario at all.
pub const MAX_ERRORS: usize = 50;

/// One error of a recovering deserialization, at a path relative to the
/// value deserialized (`pods[0].expect.uidMap`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: String,
    pub message: String,
}

/// What [`deserialize_all`] made of a value.
#[derive(Debug)]
pub struct Recovered<T> {
    /// The value typed with every erroneous part removed, when that worked.
    pub typed: Option<T>,
    /// The value with the erroneous parts removed.
    pub pruned: Value,
    pub errors: Vec<Found>,
    /// Paths of the parts removed: checks that run later on `typed` should
    /// not report them again (e.g. "must not be empty" for a removed list).
    pub removed: Vec<String>,
}

/// Renders a serde_path_to_error path as the loader's paths are written.
pub fn path_string(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out = super::yaml::join_index(&out, *index),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out = super::yaml::join_key(&out, key)
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Removes the value at `path` from `value`; false when there is none (or the
/// path is the whole value).
fn remove_at(value: &mut Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path
        .iter()
        .filter(|s| !matches!(s, Segment::Unknown))
        .collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut node = value;
    for seg in parents {
        let next = match (seg, node) {
            (Segment::Seq { index }, Value::Array(a)) => a.get_mut(*index),
            (Segment::Map { key } | Segment::Enum { variant: key }, Value::Object(o)) => {
                o.get_mut(key.as_str())
            }
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return false,
        }
    }
    match (last, node) {
        (Segment::Seq { index }, Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        (Segment::Map { key } | Segment::Enum { variant: key }, Value::Object(o)) => {
            o.remove(key.as_str()).is_some()
        }
        _ => false,
    }
}

/// The text between the first pair of backticks after `after`.
fn quoted_after<'a>(message: &'a str, after: &str) -> Option<&'a str> {
    let rest = &message[message.find(after)? + after.len()..];
    let start = rest.find('`')? + 1;
    let len = rest[start..].find('`')?;
    Some(&rest[start..start + len])
}

/// Deserializes `value` as `T`, reporting every error: see the module docs.
pub fn deserialize_all<T: DeserializeOwned>(value: &Value, base: &str) -> Recovered<T> {
    let mut pruned = value.clone();
    let mut errors = Vec::new();
    let mut removed = Vec::new();
    let mut typed = None;
    while errors.len() < MAX_ERRORS {
        let e = match serde_path_to_error::deserialize::<_, T>(&pruned) {
            Ok(t) => {
                typed = Some(t);
                break;
            }
            Err(e) => e,
        };
        let rel = path_string(e.path());
        let mut message = e.inner().to_string();
        if let Some(missing) = quoted_after(&message, "missing field ") {
            // Removing a wrongly typed required field makes it missing; that
            // one was reported already. Either way nothing more can be typed.
            let gone = super::yaml::join_key(&rel, missing);
            if !removed.contains(&gone) {
                errors.push(Found { path: rel, message });
            }
            break;
        }
        if let Some(unknown) = quoted_after(&message, "unknown field ") {
            if let Some(s) = did_you_mean(unknown, &known_fields(&join(base, &rel), true)) {
                message.push_str(&format!("; did you mean `{s}`?"));
            }
        }
        let can_go_on = remove_at(&mut pruned, e.path());
        errors.push(Found {
            path: rel.clone(),
            message,
        });
        if !can_go_on {
            break;
        }
        removed.push(rel);
    }
    Recovered {
        typed,
        pruned,
        errors,
        removed,
    }
}

fn join(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (_, true) => base.to_string(),
        _ if rel.starts_with('[') => format!("{base}{rel}"),
        _ => format!("{base}.{rel}"),
    }
}

/// The nearest known name to `unknown`, as rustc and clap suggest one: the
/// same letters in another case, or a Jaro similarity above 0.8 (clap's
/// measure; a typo of a letter or two in a field name scores above that,
/// another field rarely does).
pub fn did_you_mean<'a>(unknown: &str, known: &'a [String]) -> Option<&'a str> {
    let u = unknown.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::jaro(&u, &k.to_ascii_lowercase()), k))
        .filter(|(score, k)| *score > 0.8 && k.as_str() != unknown)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.as_str())
}

/// The scenario format's JSON Schema, `v1.Pod` included.
static SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    serde_json::to_value(schemars::schema_for!(super::model::ScenarioFile)).unwrap_or_default()
});

/// `node` with `$ref`s followed and `anyOf`/`oneOf`/`allOf` spread out.
fn alternatives<'a>(root: &'a Value, node: &'a Value, out: &mut Vec<&'a Value>, depth: usize) {
    if depth > 16 {
        return;
    }
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        if let Some(target) = root.pointer(r.trim_start_matches('#')) {
            alternatives(root, target, out, depth + 1);
        }
        return;
    }
    let mut split = false;
    for key in ["anyOf", "oneOf", "allOf"] {
        for n in node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            split = true;
            alternatives(root, n, out, depth + 1);
        }
    }
    if !split {
        out.push(node);
    }
}

/// The field names the scenario format allows at `path` (or, with
/// `parent`, in the mapping that holds the last key of `path`).
pub fn known_fields(path: &str, parent: bool) -> Vec<String> {
    let root = &*SCHEMA;
    let mut steps: Vec<Option<&str>> = Vec::new(); // Some(key) or None for an index
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, indexes) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            steps.push(Some(key));
        }
        steps.extend(indexes.matches(']').map(|_| None));
    }
    if parent {
        steps.pop();
    }
    let mut nodes = Vec::new();
    alternatives(root, root, &mut nodes, 0);
    for step in steps {
        let mut next = Vec::new();
        for n in nodes {
            let child = match step {
                Some(k) => n
                    .get("properties")
                    .and_then(|p| p.get(k))
                    .or_else(|| n.get("additionalProperties").filter(|a| a.is_object())),
                None => n.get("items"),
            };
            if let Some(c) = child {
                alternatives(root, c, &mut next, 0);
            }
        }
        nodes = next;
    }
    let mut names: Vec<String> = nodes
        .iter()
        .filter_map(|n| n.get("properties").and_then(Value::as_object))
        .flat_map(|p| p.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn suggestions_for_typos_and_case_but_not_for_strangers() {
        let known = names(&["hostUsers", "hostNetwork", "containers", "securityContext"]);
        assert_eq!(did_you_mean("hostUsrs", &known), Some("hostUsers"));
        assert_eq!(did_you_mean("hostusers", &known), Some("hostUsers"));
        assert_eq!(did_you_mean("containrs", &known), Some("containers"));
        assert_eq!(did_you_mean("volumes", &known), None);
    }

    #[test]
    fn known_fields_reach_into_the_pod_and_the_expectations() {
        let spec = known_fields("pods[0].pod.spec.hostUsrs", true);
        assert!(spec.contains(&"hostUsers".to_string()), "{spec:?}");
        assert!(spec.contains(&"containers".to_string()));
        let c = known_fields("pods[0].pod.spec.containers[1]", false);
        assert!(c.contains(&"imagePullPolicy".to_string()), "{c:?}");
        let e = known_fields("pods[0].expect", false);
        assert!(e.contains(&"uidMap".to_string()), "{e:?}");
        let top = known_fields("", false);
        assert!(top.contains(&"pods".to_string()) && top.contains(&"requires".to_string()));
    }
}
