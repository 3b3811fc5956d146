//! YAML files as JSON values, for tests that check manifests and workflows.

use saphyr::{LoadableYamlNode, ScalarOwned, YamlOwned};
use serde_json::Value;

/// A YAML document as JSON values (strings stay strings: `"1.33"`, `"on"`).
pub fn yaml(text: &str) -> Value {
    fn conv(y: &YamlOwned) -> Value {
        match y {
            YamlOwned::Value(ScalarOwned::String(s)) => Value::String(s.clone()),
            YamlOwned::Value(ScalarOwned::Boolean(b)) => Value::Bool(*b),
            YamlOwned::Value(ScalarOwned::Integer(i)) => Value::from(*i),
            YamlOwned::Value(ScalarOwned::FloatingPoint(f)) => Value::from(f.into_inner()),
            YamlOwned::Value(ScalarOwned::Null) => Value::Null,
            YamlOwned::Representation(s, _, _) => Value::String(s.clone()),
            YamlOwned::Sequence(seq) => Value::Array(seq.iter().map(conv).collect()),
            YamlOwned::Mapping(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let key = match conv(k) {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, conv(v))
                    })
                    .collect(),
            ),
            _ => Value::Null,
        }
    }
    let docs = YamlOwned::load_from_str(text).expect("the file is YAML");
    conv(docs.first().expect("one YAML document"))
}
