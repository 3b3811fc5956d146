//! Lenient version numbers as runtimes and clusters report them
//! (`v1.33.2`, `1.29.5-1`, `2.1.9~ds1`, `4.20`), compared with semver ranges.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A `major.minor.patch` version parsed leniently: a leading `v` and any
/// suffix after the numbers (`-rc.1`, `+deb12`, `~ds1`) are ignored, and
/// missing components are zero, because runtimes and distributions all
/// decorate their versions differently.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub semver::Version);

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let t = text.trim().trim_start_matches(['v', 'V']);
        let mut parts = [0u64; 3];
        let mut count = 0;
        for piece in t.splitn(3, '.') {
            let digits: String = piece.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.is_empty() {
                break;
            }
            parts[count] = digits.parse().ok()?;
            count += 1;
            if digits.len() != piece.len() {
                break;
            }
        }
        (count > 0).then(|| Version(semver::Version::new(parts[0], parts[1], parts[2])))
    }

    pub fn satisfies(&self, req: &VersionReq) -> bool {
        req.0.matches(&self.0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Version::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a version: {text:?}")))
    }
}

/// A semver range such as `>=1.29.5, <1.31`, written in scenario files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionReq(pub semver::VersionReq);

impl VersionReq {
    pub fn parse(text: &str) -> Result<VersionReq, String> {
        semver::VersionReq::parse(text.trim())
            .map(VersionReq)
            .map_err(|e| {
                format!("not a version range ({e}): {text:?}; write e.g. \">=1.29.5, <1.31\"")
            })
    }
}

impl fmt::Display for VersionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for VersionReq {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VersionReq {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        VersionReq::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for VersionReq {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VersionReq".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A semver range, e.g. \">=1.29.5, <1.31\"",
        })
    }
}

impl schemars::JsonSchema for Version {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Version".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "description": "major.minor.patch"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_parsing() {
        assert_eq!(Version::parse("v1.33.2").unwrap().to_string(), "1.33.2");
        assert_eq!(Version::parse("1.29.5-1").unwrap().to_string(), "1.29.5");
        assert_eq!(Version::parse("2.1.9~ds1").unwrap().to_string(), "2.1.9");
        assert_eq!(Version::parse("4.20").unwrap().to_string(), "4.20.0");
        assert!(Version::parse("abc").is_none());
        assert!(Version::parse("").is_none());
    }

    /// Out-of-range index and overflow: extra components are ignored, a
    /// component above u64 is not a version, non-ASCII ends a component.
    #[test]
    fn odd_versions() {
        assert_eq!(Version::parse("1.2.3.4.5").unwrap().to_string(), "1.2.3");
        assert!(Version::parse("18446744073709551616").is_none());
        assert_eq!(Version::parse("1é.2").unwrap().to_string(), "1.0.0");
        assert!(VersionReq::parse(">=1.é").is_err());
    }

    #[test]
    fn ranges() {
        let req = VersionReq::parse(">=1.29.5, <1.30").unwrap();
        assert!(Version::parse("1.29.5").unwrap().satisfies(&req));
        assert!(!Version::parse("1.29.4").unwrap().satisfies(&req));
        assert!(!Version::parse("1.30.0").unwrap().satisfies(&req));
        assert!(VersionReq::parse("banana").is_err());
    }
}
