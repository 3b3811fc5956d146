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
        let start: u64 = parts[1]
            .parse()
            .map_err(|_| e(format!("start {:?} is not a number", parts[1])))?;
        let count: u64 = parts[2]
            .parse()
            .map_err(|_| e(format!("count {:?} is not a number", parts[2])))?;
        let _end: u64 = start.checked_add(count).ok_or_else(|| {
            e(format!(
                "start {start} + count {count} passes 18446744073709551615"
            ))
        })?;
        out.entry(parts[0].to_string())
            .or_default()
            .push(SubIdRange { start, count });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Overflow: start + count must fit, so later sums over a range cannot
    /// wrap; out-of-range index: short lines are errors.
    #[test]
    fn ranges_fit_in_u64() {
        assert!(parse("a:18446744073709551614:1").is_ok());
        let e = parse(
            "ok:1:1
a:18446744073709551615:1",
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.problem.contains("passes"));
        assert!(parse("a:18446744073709551616:1").is_err());
        for short in [":", "a:", "::", ":1:1", "é:1"] {
            assert!(parse(short).is_err(), "{short}");
        }
    }
}
