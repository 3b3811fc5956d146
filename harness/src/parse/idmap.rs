//! `/proc/<pid>/uid_map` and `gid_map` text (see user_namespaces(7)): lines of
//! three unsigned 32-bit-range numbers, `inside outside length`.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdMapLine {
    pub inside: u64,
    pub outside: u64,
    pub length: u64,
}

/// A parsed id map. Serialized as a list of `"inside outside length"` strings
/// so results files read like the kernel's file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct IdMap(pub Vec<IdMapLine>);

impl IdMap {
    /// The map of the initial user namespace: no user namespace at all.
    pub fn host() -> IdMap {
        IdMap(vec![IdMapLine {
            inside: 0,
            outside: 0,
            length: 4294967295,
        }])
    }

    pub fn is_host(&self) -> bool {
        *self == IdMap::host()
    }

    /// Host ids covered, as half-open ranges `[outside, outside+length)`.
    pub fn host_ranges(&self) -> impl Iterator<Item = std::ops::Range<u64>> + '_ {
        self.0
            .iter()
            .map(|l| l.outside..l.outside.saturating_add(l.length))
    }

    /// The same map with its lines ordered by inside id. A map means the
    /// same in any line order (the kernel keeps the order it was given, and
    /// runtimes changed theirs between versions), so this is how it is shown
    /// and compared.
    pub fn sorted(&self) -> IdMap {
        let mut lines = self.0.clone();
        lines.sort();
        IdMap(lines)
    }
}

/// Parse errors name the line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("id map line {line}: {problem}")]
pub struct IdMapError {
    pub line: usize,
    pub problem: String,
}

/// The kernel writes at most 340 lines (since Linux 4.15) with values below 2^32.
const MAX_LINES: usize = 340;
const MAX_VALUE: u64 = u32::MAX as u64;

pub fn parse(text: &str) -> Result<IdMap, IdMapError> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let err = |problem: String| IdMapError {
            line: i + 1,
            problem,
        };
        let fields: Vec<&str> = raw.split_whitespace().collect();
        if fields.len() != 3 {
            return Err(err(format!(
                "expected 3 fields, found {}: {raw:?}",
                fields.len()
            )));
        }
        let mut nums = [0u64; 3];
        for (n, f) in nums.iter_mut().zip(&fields) {
            *n = f
                .parse()
                .map_err(|_| err(format!("{f:?} is not an unsigned number")))?;
            if *n > MAX_VALUE {
                return Err(err(format!("{n} is above 4294967295")));
            }
        }
        if nums[2] == 0 {
            return Err(err("length 0".into()));
        }
        // The kernel refuses an extent whose first id + length wraps its u32
        // (kernel/user_namespace.c, map_write: `first + count <= first`), so
        // such a line is not a real map. The values are below 2^32 here, so
        // these u64 sums cannot overflow.
        for (what, first) in [("inside", nums[0]), ("outside", nums[1])] {
            if first + nums[2] > MAX_VALUE {
                return Err(err(format!(
                    "{what} {first} + length {} passes 4294967295",
                    nums[2]
                )));
            }
        }
        lines.push(IdMapLine {
            inside: nums[0],
            outside: nums[1],
            length: nums[2],
        });
        if lines.len() > MAX_LINES {
            return Err(err(format!("more than {MAX_LINES} lines")));
        }
    }
    if lines.is_empty() {
        return Err(IdMapError {
            line: 1,
            problem: "empty map".into(),
        });
    }
    Ok(IdMap(lines))
}

impl std::str::FromStr for IdMap {
    type Err = IdMapError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl fmt::Display for IdMapLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.length)
    }
}

impl fmt::Display for IdMap {
    /// The kernel's layout, one line per entry (without the column padding).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{l}")?;
        }
        Ok(())
    }
}

impl TryFrom<Vec<String>> for IdMap {
    type Error = IdMapError;
    fn try_from(v: Vec<String>) -> Result<Self, Self::Error> {
        parse(&v.join("\n"))
    }
}

impl From<IdMap> for Vec<String> {
    fn from(m: IdMap) -> Self {
        m.0.iter().map(|l| l.to_string()).collect()
    }
}

impl schemars::JsonSchema for IdMap {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IdMap".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "array",
            "description": "Lines of /proc/<pid>/uid_map or gid_map: \"inside outside length\"",
            "items": {"type": "string", "pattern": "^[0-9]+ [0-9]+ [0-9]+$"},
            "minItems": 1
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_layout() {
        let m = parse("         0     131072      65536\n").unwrap();
        assert_eq!(
            m.0,
            vec![IdMapLine {
                inside: 0,
                outside: 131072,
                length: 65536
            }]
        );
        assert!(parse("0 0 4294967295").unwrap().is_host());
        let two = parse("65535 396607 1\n0 200000 65535\n").unwrap();
        assert_eq!(two.sorted().to_string(), "0 200000 65535\n65535 396607 1");
        assert_eq!(parse("0 1").unwrap_err().line, 1);
        assert!(parse("").is_err());
        assert!(parse("0 0 4294967296").is_err());
    }

    /// Overflow: a line whose first id + length passes 2^32 - 1 is refused,
    /// as the kernel refuses it.
    #[test]
    fn extents_end_below_2_32() {
        assert!(parse("4294967294 0 1").is_ok());
        assert!(parse("4294967295 0 1")
            .unwrap_err()
            .problem
            .contains("inside"));
        assert!(parse("1 0 4294967295")
            .unwrap_err()
            .problem
            .contains("inside 1"));
        assert!(parse("0 4294967295 2")
            .unwrap_err()
            .problem
            .contains("outside"));
        assert_eq!(
            IdMap::host().host_ranges().next(),
            Some(0..4294967295),
            "host ranges are u64 sums"
        );
    }
}
