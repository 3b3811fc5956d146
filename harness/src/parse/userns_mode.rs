//! CRI-O's user-namespace annotation value (`io.kubernetes.cri-o.userns-mode`,
//! and `userns-mode.crio.io` from CRI-O 1.35): `<mode>[:k=v;k=v…]`.
//!
//! Used to lint scenarios: an invalid value is still sent as written, because
//! a scenario may want to see CRI-O refuse it.

use std::fmt;

/// Annotation keys, old first. The new key wins when both are set (CRI-O ≥ 1.35).
pub const ANNOTATION_KEYS: &[&str] = &["io.kubernetes.cri-o.userns-mode", "userns-mode.crio.io"];

/// Size CRI-O's `auto` mode uses when `size` is not given.
pub const DEFAULT_AUTO_SIZE: u32 = 65536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ids taken from the `containers` user's subordinate ranges.
    Auto,
    /// Explicit mappings only.
    Private,
}

/// `container:host:size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernsMode {
    pub mode: Mode,
    pub size: Option<u32>,
    pub uid_mappings: Vec<Mapping>,
    pub gid_mappings: Vec<Mapping>,
    pub keep_id: bool,
    pub map_to_root: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsernsModeError(pub String);

fn bad(msg: impl Into<String>) -> UsernsModeError {
    UsernsModeError(msg.into())
}

fn parse_u32(what: &str, text: &str) -> Result<u32, UsernsModeError> {
    text.trim().parse().map_err(|_| {
        bad(format!(
            "invalid {what} {text:?}: not an unsigned 32-bit number"
        ))
    })
}

fn parse_mappings(key: &str, text: &str) -> Result<Vec<Mapping>, UsernsModeError> {
    text.split(',')
        .map(|m| {
            let parts: Vec<&str> = m.split(':').collect();
            if parts.len() != 3 {
                return Err(bad(format!(
                    "invalid {key} {m:?}: expected container:host:size"
                )));
            }
            let mapping = Mapping {
                container: parse_u32(key, parts[0])?,
                host: parse_u32(key, parts[1])?,
                size: parse_u32(key, parts[2])?,
            };
            if mapping.size == 0 {
                return Err(bad(format!("invalid {key} {m:?}: size 0")));
            }
            // The kernel refuses an extent whose first id + size wraps its u32
            // (kernel/user_namespace.c, map_write); u64 sums of two u32
            // cannot overflow.
            let limit = u64::from(u32::MAX);
            if u64::from(mapping.container) + u64::from(mapping.size) > limit
                || u64::from(mapping.host) + u64::from(mapping.size) > limit
            {
                return Err(bad(format!(
                    "invalid {key} {m:?}: the range passes 4294967295"
                )));
            }
            Ok(mapping)
        })
        .collect()
}

fn parse_bool(key: &str, text: &str) -> Result<bool, UsernsModeError> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(format!(
            "invalid {key} value {text:?}: expected true or false"
        ))),
    }
}

pub fn parse(value: &str) -> Result<UsernsMode, UsernsModeError> {
    let (mode, options) = match value.split_once(':') {
        Some((m, o)) => (m, Some(o)),
        None => (value, None),
    };
    let mode = match mode {
        "auto" => Mode::Auto,
        "private" => Mode::Private,
        other => {
            return Err(bad(format!(
                "invalid userns mode {other:?}: expected auto or private"
            )))
        }
    };
    let mut out = UsernsMode {
        mode,
        size: None,
        uid_mappings: vec![],
        gid_mappings: vec![],
        keep_id: false,
        map_to_root: false,
    };
    for option in options
        .into_iter()
        .flat_map(|o| o.split(';'))
        .filter(|o| !o.is_empty())
    {
        let (key, val) = option
            .split_once('=')
            .ok_or_else(|| bad(format!("invalid option {option:?}: expected key=value")))?;
        match key {
            "size" => {
                let size = parse_u32("size", val)?;
                if size == 0 {
                    return Err(bad("invalid size 0"));
                }
                out.size = Some(size);
            }
            "uidmapping" => out.uid_mappings.extend(parse_mappings(key, val)?),
            "gidmapping" => out.gid_mappings.extend(parse_mappings(key, val)?),
            "keep-id" => out.keep_id = parse_bool(key, val)?,
            "map-to-root" => out.map_to_root = parse_bool(key, val)?,
            other => return Err(bad(format!("unknown option {other:?} (known: size, uidmapping, gidmapping, keep-id, map-to-root)"))),
        }
    }
    if out.keep_id && out.map_to_root {
        return Err(bad("keep-id and map-to-root cannot be used together"));
    }
    if out.mode == Mode::Private && out.uid_mappings.is_empty() && out.gid_mappings.is_empty() {
        return Err(bad("userns requested but no userns mappings configured"));
    }
    Ok(out)
}

impl UsernsMode {
    /// The number of ids `auto` asks for.
    pub fn effective_size(&self) -> u32 {
        self.size.unwrap_or(DEFAULT_AUTO_SIZE)
    }
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.container, self.host, self.size)
    }
}

impl fmt::Display for UsernsMode {
    /// The canonical annotation text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.mode {
            Mode::Auto => "auto",
            Mode::Private => "private",
        })?;
        let join = |m: &[Mapping]| {
            m.iter()
                .map(Mapping::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut opts = Vec::new();
        if let Some(s) = self.size {
            opts.push(format!("size={s}"));
        }
        if !self.uid_mappings.is_empty() {
            opts.push(format!("uidmapping={}", join(&self.uid_mappings)));
        }
        if !self.gid_mappings.is_empty() {
            opts.push(format!("gidmapping={}", join(&self.gid_mappings)));
        }
        if self.keep_id {
            opts.push("keep-id=true".into());
        }
        if self.map_to_root {
            opts.push("map-to-root=true".into());
        }
        if !opts.is_empty() {
            write!(f, ":{}", opts.join(";"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        let m = parse("auto:size=65536;map-to-root=true").unwrap();
        assert_eq!(
            (m.mode, m.size, m.map_to_root),
            (Mode::Auto, Some(65536), true)
        );
        assert_eq!(parse("auto").unwrap().effective_size(), 65536);
        let m = parse("auto:uidmapping=0:100000:65536,65536:300000:1;gidmapping=0:100000:65536")
            .unwrap();
        assert_eq!(m.uid_mappings.len(), 2);
        assert_eq!(
            parse("auto:keep-id=true;map-to-root=true").unwrap_err().0,
            "keep-id and map-to-root cannot be used together"
        );
        assert_eq!(
            parse("private").unwrap_err().0,
            "userns requested but no userns mappings configured"
        );
        assert!(parse("host")
            .unwrap_err()
            .0
            .starts_with("invalid userns mode"));
        assert!(parse("auto:size=abc")
            .unwrap_err()
            .0
            .contains("invalid size"));
        assert!(parse("auto:color=red")
            .unwrap_err()
            .0
            .contains("unknown option \"color\""));
        assert!(parse("auto:uidmapping=1:2")
            .unwrap_err()
            .0
            .contains("container:host:size"));
        assert!(parse("private:uidmapping=0:200000:65536").is_ok());
    }

    /// Overflow: container + size and host + size stay within 2^32.
    #[test]
    fn mappings_end_at_2_32() {
        assert!(parse("private:uidmapping=0:4294901759:65536").is_ok());
        assert!(parse("private:uidmapping=0:4294901760:65536")
            .unwrap_err()
            .0
            .contains("passes 4294967295"));
        assert!(parse("private:gidmapping=4294967295:0:2").is_err());
        assert!(parse("private:uidmapping=0:0:4294967296").is_err());
    }
}
