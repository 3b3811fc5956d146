//! Matchers that scenario files use for numbers, id-map lines and text.
//! They are parsed when the file is loaded, so a bad matcher is reported with
//! its place in the file, not when the scenario runs.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A number in an id-map line or a host uid.
///
/// YAML forms: `65536`; `any`; `${template}` (optionally `${template}+N` or
/// `-N`); `A..B` (inclusive; either end may be left out); or a map
/// `{min: 65536, max: ..., multipleOf: 65536}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "RawValueMatch")]
pub enum ValueMatch {
    Exact(u64),
    Any,
    Template {
        name: String,
        offset: i64,
    },
    Range {
        min: Option<u64>,
        max: Option<u64>,
        multiple_of: Option<u64>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum RawValueMatch {
    Int(u64),
    Text(String),
    Range(RangeSpec),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RangeSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multiple_of: Option<u64>,
}

impl TryFrom<RawValueMatch> for ValueMatch {
    type Error = String;
    fn try_from(raw: RawValueMatch) -> Result<Self, String> {
        match raw {
            RawValueMatch::Int(n) => Ok(ValueMatch::Exact(n)),
            RawValueMatch::Text(t) => t.parse(),
            RawValueMatch::Range(r) => {
                if r.multiple_of == Some(0) {
                    return Err("multipleOf must be at least 1".into());
                }
                if let (Some(a), Some(b)) = (r.min, r.max) {
                    if a > b {
                        return Err(format!("min {a} is above max {b}"));
                    }
                }
                Ok(ValueMatch::Range {
                    min: r.min,
                    max: r.max,
                    multiple_of: r.multiple_of,
                })
            }
        }
    }
}

impl From<ValueMatch> for RawValueMatch {
    fn from(v: ValueMatch) -> Self {
        match v {
            ValueMatch::Exact(n) => RawValueMatch::Int(n),
            ValueMatch::Range {
                min,
                max,
                multiple_of,
            } => RawValueMatch::Range(RangeSpec {
                min,
                max,
                multiple_of,
            }),
            other => RawValueMatch::Text(other.to_string()),
        }
    }
}

impl std::str::FromStr for ValueMatch {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t == "any" {
            return Ok(ValueMatch::Any);
        }
        if let Some(rest) = t.strip_prefix("${") {
            let end = rest
                .find('}')
                .ok_or_else(|| format!("unterminated template in {t:?}"))?;
            let name = rest[..end].trim().to_string();
            if crate::templates::lookup(&name).is_none() {
                return Err(format!("unknown template value `{name}`"));
            }
            let tail = rest[end + 1..].trim();
            let offset = if tail.is_empty() {
                0
            } else {
                template_offset(tail).map_err(|e| format!("{e} after the template in {t:?}"))?
            };
            return Ok(ValueMatch::Template { name, offset });
        }
        if let Some((a, b)) = t.split_once("..") {
            let parse = |s: &str| -> Result<Option<u64>, String> {
                let s = s.trim();
                if s.is_empty() {
                    Ok(None)
                } else {
                    s.parse()
                        .map(Some)
                        .map_err(|_| format!("not a number: {s:?} in range {t:?}"))
                }
            };
            let (min, max) = (parse(a)?, parse(b)?);
            if let (Some(a), Some(b)) = (min, max) {
                if a > b {
                    return Err(format!("range {t:?} is empty"));
                }
            }
            return Ok(ValueMatch::Range {
                min,
                max,
                multiple_of: None,
            });
        }
        t.parse::<u64>().map(ValueMatch::Exact).map_err(|_| {
            format!("{t:?} is not a number, `any`, `${{template}}`, or a range `A..B`")
        })
    }
}

/// `+N` or `-N` after a template. The sign is matched as a char (never by
/// byte index: the text is the user's and may start with any character), and
/// N is plain digits, so `+-5` or `+0x5` are refused rather than read oddly.
fn template_offset(tail: &str) -> Result<i64, String> {
    let (sign, digits) = if let Some(n) = tail.strip_prefix('+') {
        (1, n)
    } else if let Some(n) = tail.strip_prefix('-') {
        (-1, n)
    } else {
        return Err("expected `+N` or `-N`".into());
    };
    let digits = digits.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{digits:?} is not a number"));
    }
    // Ids are below 2^32, so an offset beyond that can never match: refuse
    // it here rather than overflow when the judge adds it to a value.
    let n: u32 = digits
        .parse()
        .map_err(|_| format!("{digits} is above 4294967295"))?;
    Ok(sign * i64::from(n))
}

impl fmt::Display for ValueMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueMatch::Exact(n) => write!(f, "{n}"),
            ValueMatch::Any => f.write_str("any"),
            ValueMatch::Template { name, offset: 0 } => write!(f, "${{{name}}}"),
            ValueMatch::Template { name, offset } if *offset > 0 => {
                write!(f, "${{{name}}}+{offset}")
            }
            ValueMatch::Template { name, offset } => write!(f, "${{{name}}}{offset}"),
            ValueMatch::Range {
                min,
                max,
                multiple_of,
            } => {
                let lo = min.map(|n| n.to_string()).unwrap_or_default();
                let hi = max.map(|n| n.to_string()).unwrap_or_default();
                match multiple_of {
                    Some(m) if min.is_none() && max.is_none() => write!(f, "a multiple of {m}"),
                    Some(m) => write!(f, "{lo}..{hi} and a multiple of {m}"),
                    None => write!(f, "{lo}..{hi}"),
                }
            }
        }
    }
}

impl JsonSchema for ValueMatch {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ValueMatch".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawValueMatch::json_schema(generator)
    }
}

/// One line of `/proc/<pid>/uid_map`: inside, outside (host), length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "RawLine")]
pub struct LineMatch {
    pub inside: ValueMatch,
    pub outside: ValueMatch,
    pub length: ValueMatch,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum RawLine {
    /// `"0 ${subuid.containers.start} 65536"`
    Text(String),
    /// `[0, {multipleOf: 65536}, 65536]`
    Triple([ValueMatch; 3]),
    /// `{inside: 0, outside: any, length: 65536}`
    Fields(LineFields),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LineFields {
    inside: ValueMatch,
    outside: ValueMatch,
    length: ValueMatch,
}

impl From<LineMatch> for RawLine {
    fn from(l: LineMatch) -> Self {
        RawLine::Fields(LineFields {
            inside: l.inside,
            outside: l.outside,
            length: l.length,
        })
    }
}

impl std::str::FromStr for LineMatch {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 3 {
            return Err(format!(
                "an id-map line has three fields (inside outside length), got {}: {text:?}",
                parts.len()
            ));
        }
        Ok(LineMatch {
            inside: parts[0].parse()?,
            outside: parts[1].parse()?,
            length: parts[2].parse()?,
        })
    }
}

impl fmt::Display for LineMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.length)
    }
}

impl JsonSchema for LineMatch {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LineMatch".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawLine::json_schema(generator)
    }
}

/// Expectation on a whole id map.
///
/// YAML forms: `host` (exactly `0 0 4294967295`: no user namespace);
/// `not-host` (anything else); or a list of lines, matched in order, with no
/// extra lines allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "RawMap")]
pub enum MapExpect {
    Host,
    NotHost,
    /// The lines in any order: a map means the same whatever order its
    /// lines were written in.
    Lines(Vec<LineMatch>),
    /// The lines in exactly this order (`{ordered: [...]}`), for a scenario
    /// about the order itself.
    Ordered(Vec<LineMatch>),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum RawMap {
    /// `host`, `not-host`, or lines separated by newlines (any order).
    Text(String),
    /// Lines in any order.
    Lines(Vec<LineMatch>),
    /// Lines in exactly this order.
    Ordered(OrderedLines),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct OrderedLines {
    ordered: Vec<LineMatch>,
}

impl TryFrom<RawMap> for MapExpect {
    type Error = String;
    fn try_from(raw: RawMap) -> Result<Self, String> {
        match raw {
            RawMap::Text(t) => {
                match t.trim() {
                    "host" => Ok(MapExpect::Host),
                    "not-host" => Ok(MapExpect::NotHost),
                    other => {
                        let lines = other
                            .lines()
                            .filter(|l| !l.trim().is_empty())
                            .map(str::parse)
                            .collect::<Result<Vec<_>, _>>()?;
                        if lines.is_empty() {
                            return Err("an id-map expectation needs `host`, `not-host` or at least one line".into());
                        }
                        Ok(MapExpect::Lines(lines))
                    }
                }
            }
            RawMap::Lines(lines) if lines.is_empty() => {
                Err("an id-map expectation needs at least one line".into())
            }
            RawMap::Lines(lines) => Ok(MapExpect::Lines(lines)),
            RawMap::Ordered(o) if o.ordered.is_empty() => {
                Err("an ordered id-map expectation needs at least one line".into())
            }
            RawMap::Ordered(o) => Ok(MapExpect::Ordered(o.ordered)),
        }
    }
}

impl From<MapExpect> for RawMap {
    fn from(m: MapExpect) -> Self {
        match m {
            MapExpect::Host => RawMap::Text("host".into()),
            MapExpect::NotHost => RawMap::Text("not-host".into()),
            MapExpect::Lines(l) => RawMap::Lines(l),
            MapExpect::Ordered(ordered) => RawMap::Ordered(OrderedLines { ordered }),
        }
    }
}

impl fmt::Display for MapExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapExpect::Host => f.write_str("0 0 4294967295 (host)"),
            MapExpect::NotHost => f.write_str("anything but 0 0 4294967295 (not the host)"),
            MapExpect::Lines(lines) | MapExpect::Ordered(lines) => {
                for (i, l) in lines.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{l}")?;
                }
                Ok(())
            }
        }
    }
}

impl JsonSchema for MapExpect {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MapExpect".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawMap::json_schema(generator)
    }
}

/// Text expectation. A plain string must equal the observed text after
/// trimming and collapsing whitespace; `{contains: …}` and `{matches: regex}`
/// are the other forms.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "RawText")]
pub enum TextMatch {
    Equals(String),
    Contains(String),
    Matches(regex::Regex),
}

impl PartialEq for TextMatch {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TextMatch::Equals(a), TextMatch::Equals(b))
            | (TextMatch::Contains(a), TextMatch::Contains(b)) => a == b,
            (TextMatch::Matches(a), TextMatch::Matches(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
enum RawText {
    Equals(String),
    Other(TextForm),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
enum TextForm {
    Contains(String),
    Matches(String),
}

impl TryFrom<RawText> for TextMatch {
    type Error = String;
    fn try_from(raw: RawText) -> Result<Self, String> {
        match raw {
            RawText::Equals(s) => Ok(TextMatch::Equals(s)),
            RawText::Other(TextForm::Contains(s)) => Ok(TextMatch::Contains(s)),
            RawText::Other(TextForm::Matches(s)) => regex::Regex::new(&s)
                .map(TextMatch::Matches)
                .map_err(|e| format!("bad regular expression: {e}")),
        }
    }
}

impl From<TextMatch> for RawText {
    fn from(t: TextMatch) -> Self {
        match t {
            TextMatch::Equals(s) => RawText::Equals(s),
            TextMatch::Contains(s) => RawText::Other(TextForm::Contains(s)),
            TextMatch::Matches(r) => RawText::Other(TextForm::Matches(r.as_str().to_string())),
        }
    }
}

impl fmt::Display for TextMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextMatch::Equals(s) => write!(f, "{s:?}"),
            TextMatch::Contains(s) => write!(f, "contains {s:?}"),
            TextMatch::Matches(r) => write!(f, "matches /{}/", r.as_str()),
        }
    }
}

impl JsonSchema for TextMatch {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TextMatch".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawText::json_schema(generator)
    }
}

// Matchers are decoded from a JSON value by hand rather than through serde's
// untagged enums, whose only error is "did not match any variant": these say
// what is wrong with the value.

fn describe_json(v: &serde_json::Value) -> String {
    let text = v.to_string();
    // Cut by characters, not bytes: the value is the user's text and a byte
    // index may fall inside a multi-byte character.
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

impl TryFrom<serde_json::Value> for ValueMatch {
    type Error = String;
    fn try_from(v: serde_json::Value) -> Result<Self, String> {
        match v {
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(ValueMatch::Exact)
                .ok_or_else(|| format!("{n} is not an unsigned integer")),
            serde_json::Value::String(s) => s.parse(),
            serde_json::Value::Object(_) => {
                let r: RangeSpec = serde_json::from_value(v)
                    .map_err(|e| format!("{e} (a range is {{min, max, multipleOf}})"))?;
                RawValueMatch::Range(r).try_into()
            }
            other => Err(format!(
                "{} is not a number, `any`, `${{template}}`, `A..B` or {{min, max, multipleOf}}",
                describe_json(&other)
            )),
        }
    }
}

impl TryFrom<serde_json::Value> for LineMatch {
    type Error = String;
    fn try_from(v: serde_json::Value) -> Result<Self, String> {
        match v {
            serde_json::Value::String(s) => s.parse(),
            serde_json::Value::Array(items) if items.len() == 3 => {
                let mut it = items.into_iter().map(ValueMatch::try_from);
                let (a, b, c) = (it.next(), it.next(), it.next());
                match (a, b, c) {
                    (Some(inside), Some(outside), Some(length)) => Ok(LineMatch { inside: inside?, outside: outside?, length: length? }),
                    _ => Err("an id-map line has three fields".into()),
                }
            }
            serde_json::Value::Array(items) => Err(format!("an id-map line has three fields (inside, outside, length), got {}", items.len())),
            serde_json::Value::Object(mut m) => {
                let mut take = |k: &str| m.remove(k).ok_or_else(|| format!("an id-map line needs `{k}`")).and_then(ValueMatch::try_from);
                let line = LineMatch { inside: take("inside")?, outside: take("outside")?, length: take("length")? };
                if let Some(k) = m.keys().next() {
                    return Err(format!("unknown field `{k}` in an id-map line (inside, outside, length)"));
                }
                Ok(line)
            }
            other => Err(format!("{} is not an id-map line: write \"0 131072 65536\", [0, any, 65536] or {{inside, outside, length}}", describe_json(&other))),
        }
    }
}

fn map_lines(items: Vec<serde_json::Value>) -> Result<Vec<LineMatch>, String> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, l)| LineMatch::try_from(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

impl TryFrom<serde_json::Value> for MapExpect {
    type Error = String;
    fn try_from(v: serde_json::Value) -> Result<Self, String> {
        match v {
            serde_json::Value::String(s) => RawMap::Text(s).try_into(),
            serde_json::Value::Array(items) => RawMap::Lines(map_lines(items)?).try_into(),
            serde_json::Value::Object(mut o) if o.len() == 1 && o.contains_key("ordered") => {
                match o.remove("ordered") {
                    Some(serde_json::Value::Array(items)) => RawMap::Ordered(OrderedLines {
                        ordered: map_lines(items)?,
                    })
                    .try_into(),
                    _ => Err("`ordered` takes a list of id-map lines".into()),
                }
            }
            other => Err(format!(
                "{} is not an id-map expectation: write `host`, `not-host`, a list of lines (any order) or {{ordered: [lines]}}",
                describe_json(&other)
            )),
        }
    }
}

impl TryFrom<serde_json::Value> for TextMatch {
    type Error = String;
    fn try_from(v: serde_json::Value) -> Result<Self, String> {
        match v {
            serde_json::Value::String(s) => Ok(TextMatch::Equals(s)),
            serde_json::Value::Number(n) => Ok(TextMatch::Equals(n.to_string())),
            serde_json::Value::Object(_) => {
                let form: TextForm = serde_json::from_value(v).map_err(|e| {
                    format!("{e} (text matchers: a string, {{contains: …}} or {{matches: regex}})")
                })?;
                RawText::Other(form).try_into()
            }
            other => Err(format!(
                "{} is not a text matcher: a string, {{contains: …}} or {{matches: regex}}",
                describe_json(&other)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> Result<ValueMatch, String> {
        s.parse()
    }

    /// Byte slicing: user text is cut by characters, never inside one.
    #[test]
    fn non_ascii_text_is_an_error_not_a_panic() {
        for s in [
            "${subuid.containers.start}é",
            "${subuid.containers.start}😀1",
            "${subuid.containers.start}+é",
            "${subuid.containers.start}-\u{0301}5",
        ] {
            assert!(value(s).is_err(), "{s}");
        }
        assert!(value("${subuid.containers.start}é")
            .unwrap_err()
            .contains("expected `+N` or `-N`"));
        // `["a` puts every `é` at an odd byte, so byte 60 falls inside one
        let long = serde_json::json!([format!("a{}", "é".repeat(70))]);
        let e = ValueMatch::try_from(long).unwrap_err();
        assert!(e.contains('…'), "{e}");
    }

    /// Overflow: an offset is a number of ids, below 2^32; nothing wider
    /// reaches the judge's sums.
    #[test]
    fn template_offsets_are_ids() {
        let t = |offset| ValueMatch::Template {
            name: "subuid.containers.start".into(),
            offset,
        };
        assert_eq!(value("${subuid.containers.start} + 5"), Ok(t(5)));
        assert_eq!(
            value("${subuid.containers.start}-4294967295"),
            Ok(t(-4294967295))
        );
        assert!(value("${subuid.containers.start}+4294967296")
            .unwrap_err()
            .contains("above 4294967295"));
        assert!(value("${subuid.containers.start}+9223372036854775808").is_err());
        assert!(value("${subuid.containers.start}+-5").is_err());
        assert!(value("${subuid.containers.start}+").is_err());
    }

    /// Out-of-range index: a line with too few or too many fields.
    #[test]
    fn short_lines_are_errors() {
        assert!("0 1".parse::<LineMatch>().is_err());
        assert!("".parse::<LineMatch>().is_err());
        assert!("0 1 2 3".parse::<LineMatch>().is_err());
        let two = serde_json::json!([0, 1]);
        assert!(LineMatch::try_from(two).unwrap_err().contains("got 2"));
    }
}
