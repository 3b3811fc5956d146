//! YAML → JSON value, keeping where every value came from.
//!
//! Built on saphyr-parser's event stream so that every mapping key and
//! sequence item has a line and column, and so that input is bounded: depth,
//! node count (alias bombs included) and size are limited before anything
//! is deserialized.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Nesting deeper than this is not a scenario.
pub const MAX_DEPTH: usize = 64;
/// Values in one document, counting every alias expansion.
pub const MAX_NODES: usize = 200_000;

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    fn of(span: &Span) -> Location {
        Location {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// A parsed document: the value and, for each path (`pods[0].pod.spec`), the
/// place of its key (mapping entries) or item (sequence elements).
#[derive(Debug, Default)]
pub struct Document {
    pub value: Value,
    pub locations: HashMap<String, Location>,
}

impl Document {
    /// The location of `path`, or of its nearest ancestor that has one.
    pub fn locate(&self, path: &str) -> Option<Location> {
        let mut p = path;
        loop {
            if let Some(l) = self.locations.get(p) {
                return Some(*l);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
            if p.is_empty() {
                return None;
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub location: Option<Location>,
    pub message: String,
}

fn err(location: Option<Location>, message: impl Into<String>) -> YamlError {
    YamlError {
        location,
        message: message.into(),
    }
}

/// Appends a mapping key to a path.
pub fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Appends a sequence index to a path.
pub fn join_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

enum Frame {
    Seq {
        path: String,
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        path: String,
        map: Map<String, Value>,
        key: Option<(String, Location)>,
        anchor: usize,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    nodes: usize,
    /// Node count at the start of each open collection, for alias accounting.
    starts: Vec<usize>,
    doc: Document,
    done: Option<Value>,
}

impl Builder {
    fn count(&mut self, n: usize, at: Location) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(err(
                Some(at),
                format!(
                    "document too large: more than {MAX_NODES} values (alias expansion included)"
                ),
            ));
        }
        Ok(())
    }

    /// The path a new value at the current position gets, and records its location.
    fn next_path(&mut self, at: Location) -> Result<Option<String>, YamlError> {
        match self.stack.last_mut() {
            None => Ok(Some(String::new())),
            Some(Frame::Seq { path, items, .. }) => {
                let p = join_index(path, items.len());
                self.doc.locations.insert(p.clone(), at);
                Ok(Some(p))
            }
            Some(Frame::Map {
                path,
                key: Some((k, _)),
                ..
            }) => Ok(Some(join_key(path, k))),
            // A key position: the caller handles keys.
            Some(Frame::Map { key: None, .. }) => Ok(None),
        }
    }

    fn push_value(&mut self, value: Value, at: Location) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                if self.done.is_some() {
                    return Err(err(
                        Some(at),
                        "more than one YAML document; a scenario file holds exactly one",
                    ));
                }
                self.done = Some(value);
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, path, .. }) => match key.take() {
                Some((k, _)) => {
                    map.insert(k, value);
                }
                None => {
                    let k = match value {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return Err(err(Some(at), "mapping keys must be plain scalars")),
                    };
                    if map.contains_key(&k) {
                        return Err(err(Some(at), format!("duplicate key `{k}`")));
                    }
                    self.doc.locations.insert(join_key(path, &k), at);
                    *key = Some((k, at));
                }
            },
        }
        Ok(())
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema.
fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let t = text.strip_prefix('+').unwrap_or(text);
    if let Ok(i) = t.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = t.parse::<u64>() {
        return Value::Number(u.into());
    }
    if let Some(h) = t.strip_prefix("0x") {
        if let Ok(u) = u64::from_str_radix(h, 16) {
            return Value::Number(u.into());
        }
    }
    if let Some(o) = t.strip_prefix("0o") {
        if let Ok(u) = u64::from_str_radix(o, 8) {
            return Value::Number(u.into());
        }
    }
    let looks_numeric = t
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.' || c == '-');
    if looks_numeric {
        if let Ok(f) = t.parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                return Value::Number(n);
            }
        }
    }
    Value::String(text.to_string())
}

/// Parses one YAML document.
pub fn parse(text: &str) -> Result<Document, YamlError> {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        starts: Vec::new(),
        doc: Document::default(),
        done: None,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            err(
                Some(Location {
                    line: e.marker().line(),
                    column: e.marker().col() + 1,
                }),
                format!("invalid YAML: {}", e.info()),
            )
        })?;
        let at = Location::of(&span);
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                if b.done.is_some() {
                    return Err(err(
                        Some(at),
                        "more than one YAML document; a scenario file holds exactly one",
                    ));
                }
            }
            Event::Alias(id) => {
                let (value, n) = b
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| err(Some(at), "alias to an unknown anchor"))?;
                b.count(n, at)?;
                b.next_path(at)?;
                b.push_value(value, at)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                b.count(1, at)?;
                b.next_path(at)?;
                let as_string =
                    style != ScalarStyle::Plain || tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if as_string {
                    Value::String(text.into_owned())
                } else {
                    plain_scalar(&text)
                };
                if anchor > 0 {
                    b.anchors.insert(anchor, (value.clone(), 1));
                }
                b.push_value(value, at)?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                b.count(1, at)?;
                if b.stack.len() >= MAX_DEPTH {
                    return Err(err(
                        Some(at),
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                    ));
                }
                let path = match b.next_path(at)? {
                    Some(p) => p,
                    None => return Err(err(Some(at), "mapping keys must be plain scalars")),
                };
                b.starts.push(b.nodes);
                b.stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        path,
                        items: Vec::new(),
                        anchor,
                    }
                } else {
                    Frame::Map {
                        path,
                        map: Map::new(),
                        key: None,
                        anchor,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let start = b.starts.pop().unwrap_or(0);
                let (value, anchor) = match b.stack.pop() {
                    Some(Frame::Seq { items, anchor, .. }) => (Value::Array(items), anchor),
                    Some(Frame::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    None => return Err(err(Some(at), "unbalanced YAML structure")),
                };
                if anchor > 0 {
                    b.anchors
                        .insert(anchor, (value.clone(), b.nodes - start + 1));
                }
                b.push_value(value, at)?;
            }
        }
    }
    b.doc.value = b.done.take().unwrap_or(Value::Null);
    Ok(b.doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_locations() {
        let doc = parse("a: 1\nb:\n  - x\n  - {c: true, d: '7'}\n").unwrap();
        assert_eq!(
            doc.value,
            serde_json::json!({"a": 1, "b": ["x", {"c": true, "d": "7"}]})
        );
        assert_eq!(doc.locations["a"], Location { line: 1, column: 1 });
        assert_eq!(doc.locations["b[1]"], Location { line: 4, column: 5 });
        assert_eq!(doc.locate("b[1].d.nothing"), Some(doc.locations["b[1].d"]));
    }

    #[test]
    fn limits() {
        let deep = "[".repeat(100_000);
        let e = parse(&deep).unwrap_err();
        assert!(
            e.message.contains("nesting") || e.message.contains("recursion"),
            "{e:?}"
        );
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        assert!(parse(bomb).unwrap_err().message.contains("too large"));
        assert!(parse("a: 1\na: 2\n")
            .unwrap_err()
            .message
            .contains("duplicate key `a`"));
        assert!(parse("a: 1\n---\nb: 2\n")
            .unwrap_err()
            .message
            .contains("more than one"));
        assert!(parse("a: [1, 2").is_err());
    }
}
