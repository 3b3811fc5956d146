//! Property tests of every parser of outside text: no input makes one panic,
//! and where a printed form exists, printing an accepted value and parsing it
//! again gives the same value.
//!
//! The properties live in one table so the soak (an ignored test, see
//! README's Development section) runs the very same ones for a duration.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::parse::{idmap, subid, uid_range, userns_mode};
use crate::scenario::matchers::{LineMatch, MapExpect, TextMatch, ValueMatch};
use crate::version::{Version, VersionReq};

/// Runs `test` on `cases` values of `strategy`; a panic inside `test` is
/// caught by proptest and reported, shrunk, as a failure.
fn check<S: Strategy>(
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> Result<(), String>
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases,
        // the soak runs in batches; a saved seed file would only replay old ones
        failure_persistence: None,
        ..Config::default()
    });
    runner.run(&strategy, test).map_err(|e| e.to_string())
}

/// Any text, weighted towards what breaks parsers: non-ASCII characters
/// next to ASCII separators, digits and numbers near 2^32 and 2^64.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "(?s).{0,8}",
        "[0-9]{1,21}",
        Just("4294967295".to_string()),
        Just("4294967296".to_string()),
        Just("18446744073709551615".to_string()),
        "[ :;,=/.+\\-${}\\n\\t]",
        "[éß€😀\u{0301}\u{200b}]",
        "(auto|private|size|uidmapping|gidmapping|keep-id|map-to-root|any|host|not-host)",
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

/// Numbers near the edges of u32 and u64, where sums overflow.
fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..=3,
        (u32::MAX as u64 - 3)..=(u32::MAX as u64 + 3),
        (u64::MAX - 3)..=u64::MAX,
        any::<u64>(),
    ]
}

fn edge_u32() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=3, (u32::MAX - 3)..=u32::MAX, any::<u32>()]
}

/// If `parse(s)` accepts, its printed form parses back to the same value.
fn reparses<T, E>(
    s: &str,
    parse: impl Fn(&str) -> Result<T, E>,
    print: impl Fn(&T) -> String,
) -> Result<(), TestCaseError>
where
    T: PartialEq + std::fmt::Debug,
    E: std::fmt::Debug,
{
    if let Ok(v) = parse(s) {
        let printed = print(&v);
        match parse(&printed) {
            Ok(again) => prop_assert_eq!(again, v, "printed as {:?}", printed),
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "{s:?} parsed, but its printed form {printed:?} does not: {e:?}"
                )))
            }
        }
    }
    Ok(())
}

// ---- userns-mode annotation ----

fn userns_mapping() -> impl Strategy<Value = userns_mode::Mapping> {
    (1..=u32::MAX)
        .prop_flat_map(|size| {
            let room = u32::MAX - size;
            (0..=room, 0..=room, Just(size))
        })
        .prop_map(|(container, host, size)| userns_mode::Mapping {
            container,
            host,
            size,
        })
}

fn userns_value() -> impl Strategy<Value = userns_mode::UsernsMode> {
    use userns_mode::{Mode, UsernsMode};
    (
        prop_oneof![Just(Mode::Auto), Just(Mode::Private)],
        proptest::option::of(1..=u32::MAX),
        proptest::collection::vec(userns_mapping(), 0..3),
        proptest::collection::vec(userns_mapping(), 0..3),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(mode, size, uid_mappings, gid_mappings, keep_id, map_to_root)| UsernsMode {
                mode,
                size,
                uid_mappings,
                gid_mappings,
                keep_id,
                map_to_root: map_to_root && !keep_id,
            },
        )
        .prop_filter("private needs mappings", |m| {
            m.mode == Mode::Auto || !m.uid_mappings.is_empty() || !m.gid_mappings.is_empty()
        })
}

fn userns_text(cases: u32) -> Result<(), String> {
    check(cases, text(), |s| {
        reparses(&s, userns_mode::parse, |v| v.to_string())
    })
}

fn userns_near_misses(cases: u32) -> Result<(), String> {
    let mapping = (edge_u32(), edge_u32(), edge_u32()).prop_map(|(a, b, c)| format!("{a}:{b}:{c}"));
    let option = (
        "(size|uidmapping|gidmapping|keep-id|map-to-root|[a-zé]{0,4})",
        prop_oneof![
            proptest::collection::vec(mapping, 1..3).prop_map(|v| v.join(",")),
            edge_u32().prop_map(|n| n.to_string()),
            "(true|false|[0-9a-zé:,]{0,12})",
        ],
    )
        .prop_map(|(k, v)| format!("{k}={v}"));
    let value = (
        "(auto|private|[a-zé]{0,3})",
        proptest::option::of(proptest::collection::vec(option, 0..4)),
    )
        .prop_map(|(mode, opts)| match opts {
            Some(o) => format!("{mode}:{}", o.join(";")),
            None => mode,
        });
    check(cases, value, |s| {
        reparses(&s, userns_mode::parse, |v| v.to_string())
    })
}

fn userns_round_trip(cases: u32) -> Result<(), String> {
    check(cases, userns_value(), |m| {
        prop_assert_eq!(userns_mode::parse(&m.to_string()), Ok(m));
        Ok(())
    })
}

// ---- id maps ----

fn idmap_line() -> impl Strategy<Value = idmap::IdMapLine> {
    let max = u32::MAX as u64;
    prop_oneof![1u64..=max, (max - 3)..=max, 1u64..=65536]
        .prop_flat_map(move |length| {
            let room = max - length;
            (
                prop_oneof![0..=room, Just(room)],
                prop_oneof![0..=room, Just(room)],
                Just(length),
            )
        })
        .prop_map(|(inside, outside, length)| idmap::IdMapLine {
            inside,
            outside,
            length,
        })
}

fn idmap_text(cases: u32) -> Result<(), String> {
    let lines = proptest::collection::vec(
        prop_oneof![
            (edge_u64(), edge_u64(), edge_u64()).prop_map(|(a, b, c)| format!("{a} {b} {c}")),
            text(),
        ],
        0..5,
    )
    .prop_map(|v| v.join("\n"));
    check(cases, prop_oneof![text(), lines], |s| {
        reparses(&s, idmap::parse, |m| m.to_string())
    })
}

fn idmap_round_trip(cases: u32) -> Result<(), String> {
    check(
        cases,
        proptest::collection::vec(idmap_line(), 1..5),
        |lines| {
            let m = idmap::IdMap(lines);
            prop_assert_eq!(idmap::parse(&m.to_string()), Ok(m.clone()));
            // and through the results file's form (a list of strings)
            let json = serde_json::to_value(&m).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back: idmap::IdMap =
                serde_json::from_value(json).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back, m);
            Ok(())
        },
    )
}

// ---- uid ranges ----

fn uid_range_text(cases: u32) -> Result<(), String> {
    let near = (edge_u64(), edge_u64()).prop_map(|(a, b)| format!("{a}/{b}"));
    check(cases, prop_oneof![text(), near], |s| {
        reparses(&s, uid_range::parse, |r| r.to_string())
    })
}

fn uid_range_round_trip(cases: u32) -> Result<(), String> {
    let range = (1..=u32::MAX)
        .prop_flat_map(|size| (0..=u32::MAX - (size - 1), Just(size)))
        .prop_map(|(start, size)| uid_range::UidRange { start, size });
    check(cases, range, |r| {
        prop_assert_eq!(uid_range::parse(&r.to_string()), Ok(r));
        prop_assert!(r.end() <= u32::MAX as u64);
        Ok(())
    })
}

// ---- subordinate id files (no printed form: the property is that every
// written line is read back) ----

fn subid_text(cases: u32) -> Result<(), String> {
    let lines = proptest::collection::vec(
        prop_oneof![
            ("[a-zé0-9_-]{0,6}", edge_u64(), edge_u64())
                .prop_map(|(n, s, c)| format!("{n}:{s}:{c}")),
            text(),
        ],
        0..5,
    )
    .prop_map(|v| v.join("\n"));
    check(cases, prop_oneof![text(), lines], |s| {
        let _ = subid::parse(&s);
        Ok(())
    })
}

fn subid_round_trip(cases: u32) -> Result<(), String> {
    let entry = ("[a-z][a-z0-9_-]{0,10}", edge_u64())
        .prop_flat_map(|(n, start)| (Just(n), Just(start), 0..=u64::MAX - start));
    check(cases, proptest::collection::vec(entry, 0..8), |entries| {
        let text: String = entries
            .iter()
            .map(|(n, s, c)| format!("{n}:{s}:{c}\n"))
            .collect();
        let parsed = subid::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed.values().map(Vec::len).sum::<usize>(), entries.len());
        for (n, s, c) in &entries {
            let want = crate::facts::SubIdRange {
                start: *s,
                count: *c,
            };
            prop_assert!(parsed[n].contains(&want));
        }
        Ok(())
    })
}

// ---- versions and version requirements ----

fn version_text(cases: u32) -> Result<(), String> {
    let near = (
        "[vV]?",
        proptest::collection::vec(edge_u64(), 1..5),
        "[-+~.a-zé0-9]{0,6}",
    )
        .prop_map(|(v, n, tail)| {
            let nums: Vec<String> = n.iter().map(u64::to_string).collect();
            format!("{v}{}{tail}", nums.join("."))
        });
    check(cases, prop_oneof![text(), near], |s| {
        reparses(
            &s,
            |t| Version::parse(t).ok_or("not a version"),
            |v| v.to_string(),
        )
    })
}

fn version_req_text(cases: u32) -> Result<(), String> {
    let comparator = (
        "(>=|<=|>|<|=|~|\\^|)",
        proptest::collection::vec(edge_u64(), 1..4),
        "(|\\.\\*|-rc\\.1|é)",
    )
        .prop_map(|(op, n, tail)| {
            let nums: Vec<String> = n.iter().map(u64::to_string).collect();
            format!("{op}{}{tail}", nums.join("."))
        });
    let req = proptest::collection::vec(comparator, 1..4).prop_map(|v| v.join(", "));
    check(cases, prop_oneof![text(), req], |s| {
        reparses(&s, VersionReq::parse, |r| r.to_string())
    })
}

// ---- matchers ----

/// `${name}` forms with arbitrary tails: where the reported panic was.
fn matcher_text() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("subuid.containers.start".to_string()),
        Just("ns.uidRangeStart".to_string()),
        "[a-zé.]{0,8}",
    ];
    let template =
        (name, "(}|)", text()).prop_map(|(n, close, tail)| format!("${{{n}{close}{tail}"));
    let offset = (
        "(\\+|-|)",
        prop_oneof![edge_u64().prop_map(|n| n.to_string()), text()],
    )
        .prop_map(|(s, n)| format!("${{subuid.containers.start}}{s}{n}"));
    let range = (
        proptest::option::of(edge_u64()),
        proptest::option::of(edge_u64()),
    )
        .prop_map(|(a, b)| {
            let show = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
            format!("{}..{}", show(a), show(b))
        });
    prop_oneof![text(), template, offset, range]
}

fn value_matcher_text(cases: u32) -> Result<(), String> {
    check(cases, matcher_text(), |s| {
        reparses(&s, |t| t.parse::<ValueMatch>(), |v| v.to_string())
    })
}

fn line_matcher_text(cases: u32) -> Result<(), String> {
    let line = proptest::collection::vec(matcher_text(), 0..5).prop_map(|v| v.join(" "));
    check(cases, line, |s| {
        reparses(&s, |t| t.parse::<LineMatch>(), |v| v.to_string())
    })
}

/// Arbitrary JSON, as a scenario's YAML can produce for a matcher field.
fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        edge_u64().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        matcher_text().prop_map(Value::String),
        // long non-ASCII text: error messages cut it to a length
        "[é😀a]{55,70}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let key = prop_oneof![
            "(inside|outside|length|min|max|multipleOf|ordered|contains|matches)",
            "[a-zé]{0,4}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(key, inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Matchers decoded from JSON never panic; an accepted one encodes to JSON
/// that decodes to the same matcher.
fn matcher_json(cases: u32) -> Result<(), String> {
    fn again<T>(v: serde_json::Value) -> Result<(), TestCaseError>
    where
        T: TryFrom<serde_json::Value> + serde::Serialize + PartialEq + std::fmt::Debug,
        T::Error: std::fmt::Debug,
    {
        if let Ok(m) = T::try_from(v) {
            let json = serde_json::to_value(&m).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let back = T::try_from(json.clone())
                .map_err(|e| TestCaseError::fail(format!("{json} does not decode: {e:?}")))?;
            prop_assert_eq!(back, m);
        }
        Ok(())
    }
    check(cases, json(), |v| {
        again::<ValueMatch>(v.clone())?;
        again::<LineMatch>(v.clone())?;
        again::<MapExpect>(v.clone())?;
        again::<TextMatch>(v)
    })
}

// ---- template expressions ----

fn templates_text(cases: u32) -> Result<(), String> {
    let values = crate::templates::placeholders();
    check(cases, (matcher_text(), json()), move |(s, v)| {
        let refs = crate::templates::references(&s);
        let out = crate::templates::substitute_str(&s, &values);
        // every reference found is what substitution needs, and text
        // without `${` comes back unchanged
        if !s.contains("${") {
            prop_assert_eq!(out, Ok(s.clone()));
            prop_assert_eq!(refs, Ok(vec![]));
        }
        let _ = crate::templates::substitute_value(&v, &values);
        Ok(())
    })
}

/// Text with references to known templates substitutes to the text with
/// their values, whatever surrounds them.
fn templates_round_trip(cases: u32) -> Result<(), String> {
    let values = crate::templates::placeholders();
    let names: Vec<String> = values.keys().cloned().collect();
    let plain = "[^$]{0,8}";
    let parts = proptest::collection::vec((plain, proptest::sample::select(names)), 0..4);
    check(cases, (parts, plain), move |(parts, last)| {
        let mut text = String::new();
        let mut want = String::new();
        for (before, name) in &parts {
            text.push_str(&format!("{before}${{{name}}}"));
            want.push_str(before);
            want.push_str(&values[name]);
        }
        text.push_str(&last);
        want.push_str(&last);
        prop_assert_eq!(crate::templates::substitute_str(&text, &values), Ok(want));
        let found = crate::templates::references(&text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(found.len(), parts.len());
        Ok(())
    })
}

// ---- the scenario loader ----

/// The suite's own files, the seeds of the mutation property.
fn suite_files() -> Vec<Vec<u8>> {
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")];
    let mut out = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for p in entries.flatten().map(|e| e.path()) {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml") {
                out.extend(std::fs::read(&p).ok());
            }
        }
    }
    out.sort();
    out
}

fn loader_bytes(cases: u32) -> Result<(), String> {
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        text().prop_map(String::into_bytes),
    ];
    check(cases, bytes, |b| {
        let _ = crate::scenario::load::load_bytes(Path::new("fuzz.yaml"), b);
        Ok(())
    })
}

/// One edit of a file: where (a fraction of its length) and what.
#[derive(Debug, Clone)]
enum Edit {
    Insert(f64, Vec<u8>),
    Delete(f64, usize),
    Replace(f64, u8),
    /// a line copied elsewhere (indentation mistakes, duplicate keys)
    CopyLine(f64, f64),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = 0.0f64..1.0;
    let insert = prop_oneof![
        text().prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 1..4),
        "(\n  |: |- |\\[|\\]|\\{|\\}|&a |\\*a|\"|'|#|\t|é|😀|\\$\\{)".prop_map(String::into_bytes),
    ];
    prop_oneof![
        (at.clone(), insert).prop_map(|(a, b)| Edit::Insert(a, b)),
        (at.clone(), 1usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (at.clone(), any::<u8>()).prop_map(|(a, b)| Edit::Replace(a, b)),
        (at.clone(), at).prop_map(|(a, b)| Edit::CopyLine(a, b)),
    ]
}

fn apply(file: &mut Vec<u8>, e: &Edit) {
    let pos = |f: f64, len: usize| ((len as f64 * f) as usize).min(len);
    match e {
        Edit::Insert(f, b) => {
            let i = pos(*f, file.len());
            file.splice(i..i, b.iter().copied());
        }
        Edit::Delete(f, n) => {
            let i = pos(*f, file.len());
            let j = (i + n).min(file.len());
            file.drain(i..j);
        }
        Edit::Replace(f, b) => {
            if !file.is_empty() {
                let i = pos(*f, file.len() - 1);
                file[i] = *b;
            }
        }
        Edit::CopyLine(from, to) => {
            let lines: Vec<Vec<u8>> = file.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
            let line = lines[pos(*from, lines.len() - 1)].clone();
            let at = pos(*to, lines.len() - 1);
            let mut out = lines;
            out.insert(at, line);
            *file = out.join(&b'\n');
        }
    }
}

fn loader_mutations(cases: u32) -> Result<(), String> {
    let files = suite_files();
    if files.is_empty() {
        return Err("no scenario files found under scenarios/".into());
    }
    let n = files.len();
    let strategy = (0..n, proptest::collection::vec(edit(), 1..4));
    check(cases, strategy, move |(i, edits)| {
        let mut file = files[i].clone();
        for e in &edits {
            apply(&mut file, e);
        }
        let _ = crate::scenario::load::load_bytes(Path::new("mutated.yaml"), file);
        Ok(())
    })
}

/// Every property, by the parser group the soak reports.
type Property = (&'static str, &'static str, fn(u32) -> Result<(), String>);

const PROPERTIES: &[Property] = &[
    ("userns-mode", "arbitrary text", userns_text),
    ("userns-mode", "near misses", userns_near_misses),
    ("userns-mode", "round trip", userns_round_trip),
    ("idmap", "arbitrary text", idmap_text),
    ("idmap", "round trip", idmap_round_trip),
    ("uid-range", "arbitrary text", uid_range_text),
    ("uid-range", "round trip", uid_range_round_trip),
    ("subid", "arbitrary text", subid_text),
    ("subid", "round trip", subid_round_trip),
    ("version", "versions", version_text),
    ("version", "requirements", version_req_text),
    ("matchers", "value text", value_matcher_text),
    ("matchers", "line text", line_matcher_text),
    ("matchers", "json", matcher_json),
    ("templates", "arbitrary text", templates_text),
    ("templates", "round trip", templates_round_trip),
    ("loader", "arbitrary bytes", loader_bytes),
    ("loader", "mutated suite files", loader_mutations),
];

/// Cases per property in an ordinary test run (proptest's default).
const CASES: u32 = 256;

macro_rules! properties {
    ($($test:ident => $property:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                if let Err(e) = $property(CASES) {
                    panic!("{e}");
                }
            }
        )*
    };
}

properties! {
    userns_mode_text_never_panics_and_reparses => userns_text,
    userns_mode_near_misses_never_panic_and_reparse => userns_near_misses,
    userns_mode_round_trips => userns_round_trip,
    idmap_text_never_panics_and_reparses => idmap_text,
    idmap_round_trips => idmap_round_trip,
    uid_range_text_never_panics_and_reparses => uid_range_text,
    uid_range_round_trips => uid_range_round_trip,
    subid_text_never_panics => subid_text,
    subid_lines_read_back => subid_round_trip,
    version_text_never_panics_and_reparses => version_text,
    version_req_text_never_panics_and_reparses => version_req_text,
    value_matcher_text_never_panics_and_reparses => value_matcher_text,
    line_matcher_text_never_panics_and_reparses => line_matcher_text,
    matcher_json_never_panics_and_reencodes => matcher_json,
    template_text_never_panics => templates_text,
    template_references_substitute => templates_round_trip,
    loader_never_panics_on_bytes => loader_bytes,
    loader_never_panics_on_mutated_suite_files => loader_mutations,
}

/// The soak: every property, group by group, for `USERNS_E2E_SOAK_SECS`
/// seconds per group (`USERNS_E2E_SOAK_GROUP` picks one group), in batches
/// of fresh random cases; prints the cases run per property.
#[test]
#[ignore = "runs for USERNS_E2E_SOAK_SECS per parser group"]
fn soak() {
    let secs: u64 = std::env::var("USERNS_E2E_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let only = std::env::var("USERNS_E2E_SOAK_GROUP").ok();
    let mut groups: Vec<&str> = PROPERTIES.iter().map(|p| p.0).collect();
    groups.dedup();
    let mut failures = Vec::new();
    for group in groups {
        if only.as_deref().is_some_and(|o| o != group) {
            continue;
        }
        let props: Vec<&Property> = PROPERTIES.iter().filter(|p| p.0 == group).collect();
        let mut counts = vec![0u64; props.len()];
        let deadline = Instant::now() + Duration::from_secs(secs);
        'group: while Instant::now() < deadline {
            for (i, (_, name, run)) in props.iter().enumerate() {
                match run(CASES) {
                    Ok(()) => counts[i] += u64::from(CASES),
                    Err(e) => {
                        failures.push(format!("{group} / {name}: {e}"));
                        break 'group;
                    }
                }
            }
        }
        for ((_, name, _), n) in props.iter().zip(&counts) {
            println!("soak {group:12} {name:24} {n:>10} cases");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
