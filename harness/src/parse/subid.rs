//! `/etc/subuid` and `/etc/subgid` (subuid(5)): `name:start:count` lines.

use std::collections::BTreeMap;

use crate::facts::SubIdRange;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct SubIdError {
    pub line: usize,
    pub problem: String,
}

/// Ranges per user name (or uid, as written), in file order.
pub fn parse(text: &str) -> Result<BTreeMap<String, Vec<SubIdRange>>, SubIdError> {
    let mut out: BTreeMap<String, Vec<SubIdRange>> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let e = |problem: String| SubIdError {
            line: i + 1,
            problem,
        };
        let parts: Vec<&str> = line.split(':').collect();
        if parts.len() != 3 || parts[0].is_empty() {
            return Err(e(format!("expected name:start:count, got {line:?}")));
        }
        let start = parts[1]
            .parse()
            .map_err(|_| e(format!("start {:?} is not a number", parts[1])))?;
        let count = parts[2]
            .parse()
            .map_err(|_| e(format!("count {:?} is not a number", parts[2])))?;
        out.entry(parts[0].to_string())
            .or_default()
            .push(SubIdRange { start, count });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        let m = parse("# comment\ncontainers:200000:268435456\nroot:100000:65536\n\n").unwrap();
        assert_eq!(
            m["containers"],
            vec![SubIdRange {
                start: 200000,
                count: 268435456
            }]
        );
        assert_eq!(parse("containers:x:1").unwrap_err().line, 1);
        assert!(parse("a:1").is_err());
    }

    proptest! {
        #[test]
        fn round_trips(entries in proptest::collection::vec(("[a-z][a-z0-9_-]{0,10}", any::<u64>(), any::<u64>()), 0..8)) {
            let text: String = entries.iter().map(|(n, s, c)| format!("{n}:{s}:{c}\n")).collect();
            let parsed = parse(&text).unwrap();
            prop_assert_eq!(parsed.values().map(Vec::len).sum::<usize>(), entries.len());
            for (n, s, c) in &entries {
                let want = SubIdRange { start: *s, count: *c };
                prop_assert!(parsed[n].contains(&want));
            }
        }

        #[test]
        fn never_panics(s in "(?s).{0,80}") {
            let _ = parse(&s);
        }
    }
}
