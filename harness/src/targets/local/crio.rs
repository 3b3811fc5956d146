//! The CRI-O flavour of the local node: which `crio` the user gave, which
//! version it is, and which node folder belongs to it. The provisioning itself
//! is `clusters/local/crio.sh`.

use std::path::{Path, PathBuf};

use crate::version::Version;

use super::{bundle, NodeError};

/// Where node folders live by default; CRI-O ones are `node-crio-<version>`
/// beside containerd's `node`, so versions and runtimes can coexist.
pub const NODES_ROOT: &str = "/var/lib/userns-e2e";

/// The oldest CRI-O whose CRI carries user-namespace options (v1.25.0).
pub const MIN_VERSION: &str = "1.25";

/// How a CRI-O node differs from the default one; applied when crio starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct CrioVariant {
    /// A CRI-O config drop-in for the node (repeatable): e.g. a
    /// `[crio.runtime]` table with OpenShift's `default_sysctls`, or
    /// `minimum_mappable_uid`. Copied into the node's conf.d when crio starts.
    #[arg(long = "crio-conf", value_name = "FILE")]
    pub conf: Vec<PathBuf>,
    /// Start crio seeing no subordinate ids for `containers` (a node where
    /// `auto` has no ids to give): it runs in its own mount namespace with
    /// copies of /etc/subuid and /etc/subgid lacking those lines bound over
    /// them. The host's files are not changed.
    #[arg(long)]
    pub hide_subids: bool,
}

impl CrioVariant {
    /// Whether the user asked for anything (then a crio already running with
    /// another variant is an error rather than reused).
    pub fn is_set(&self) -> bool {
        !self.conf.is_empty() || self.hide_subids
    }

    /// Checks the drop-ins exist and makes their paths absolute.
    pub fn resolved(&self) -> Result<CrioVariant, NodeError> {
        let conf = self
            .conf
            .iter()
            .map(|f| {
                std::fs::canonicalize(f)
                    .ok()
                    .filter(|p| p.is_file())
                    .ok_or_else(|| unreadable_conf(f))
            })
            .collect::<Result<_, _>>()?;
        Ok(CrioVariant {
            conf,
            hide_subids: self.hide_subids,
        })
    }

    /// What `crio.sh start` reads (`CRIO_CONF`, `HIDE_SUBIDS`, `VARIANT_SET`).
    pub fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        let mut conf = std::ffi::OsString::new();
        for f in &self.conf {
            conf.push(f.as_os_str());
            conf.push("\n");
        }
        let flag = |b: bool| std::ffi::OsString::from(if b { "1" } else { "0" });
        vec![
            ("CRIO_CONF", conf),
            ("HIDE_SUBIDS", flag(self.hide_subids)),
            ("VARIANT_SET", flag(self.is_set())),
        ]
    }
}

/// A `--crio-conf` that cannot be read.
pub fn unreadable_conf(f: &Path) -> NodeError {
    NodeError::Crio(format!(
        "--crio-conf {} is not a readable file",
        f.display()
    ))
}

/// What `--crio` names: a crio binary or an unpacked CRI-O folder, or a
/// CRI-O release version (`1.36.3`, `v1.36.3`: its upstream bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrioSource {
    Path(PathBuf),
    Release(Version),
}

/// A CRI-O with its path on this machine and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedCrio {
    pub path: PathBuf,
    /// One line for `node status`: the path given, or the bundle's URL and sum.
    pub origin: String,
}

impl CrioSource {
    /// clap's parser for `--crio`: `X.Y.Z` or `vX.Y.Z` exactly is a release
    /// (unless a file of that name exists here), anything else a path.
    pub fn from_arg(text: &str) -> Result<CrioSource, std::convert::Infallible> {
        Ok(match release_version(text) {
            Some(v) if !Path::new(text).exists() => CrioSource::Release(v),
            _ => CrioSource::Path(PathBuf::from(text)),
        })
    }

    /// Checks what can be checked without touching the system: a release is
    /// new enough, a path exists (`exists` says; `None`: cannot tell).
    pub fn check(&self, exists: impl Fn(&Path) -> Option<bool>) -> Result<(), NodeError> {
        match self {
            CrioSource::Release(v) => check_min(v),
            CrioSource::Path(p) if exists(p) == Some(false) => Err(missing(p)),
            CrioSource::Path(_) => Ok(()),
        }
    }

    /// The CRI-O on this machine: the path itself, or the release bundle,
    /// downloaded into the cache when it is not there yet.
    pub fn resolve(&self) -> Result<ResolvedCrio, NodeError> {
        match self {
            CrioSource::Path(p) => Ok(ResolvedCrio {
                path: p.clone(),
                origin: format!(
                    "--crio {}",
                    std::path::absolute(p)
                        .unwrap_or_else(|_| p.clone())
                        .display()
                ),
            }),
            CrioSource::Release(v) => {
                check_min(v)?;
                let b = bundle::fetch(v, &bundle::mirror(), &bundle::cache_root())?;
                Ok(ResolvedCrio {
                    path: b.dir.clone(),
                    origin: b.describe(),
                })
            }
        }
    }
}

impl std::fmt::Display for CrioSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CrioSource::Path(p) => write!(f, "{}", p.display()),
            CrioSource::Release(v) => write!(f, "{v}"),
        }
    }
}

/// `1.36.3` or `v1.36.3`: three numbers, nothing else.
pub fn release_version(text: &str) -> Option<Version> {
    let t = text.strip_prefix('v').unwrap_or(text);
    let parts: Vec<&str> = t.split('.').collect();
    (parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
    .then(|| Version::parse(t))
    .flatten()
}

fn check_min(v: &Version) -> Result<(), NodeError> {
    let min = Version::parse(MIN_VERSION).unwrap_or_else(|| v.clone());
    if *v < min {
        return Err(NodeError::Crio(format!(
            "CRI-O {v} is older than {MIN_VERSION}, the first with user-namespace options in the CRI; point --crio at a newer crio"
        )));
    }
    Ok(())
}

fn missing(given: &Path) -> NodeError {
    NodeError::Crio(format!(
        "--crio {} does not exist: give a crio binary, an unpacked CRI-O release folder, \
         or a CRI-O release version with its patch number (e.g. 1.36.3)",
        given.display()
    ))
}

/// The `crio` binary inside what `--crio` names: the binary itself, an
/// unpacked build (`bin/crio`), or an upstream bundle (`cri-o/bin/crio`).
pub fn binary(given: &Path) -> Result<PathBuf, NodeError> {
    if !given.exists() {
        return Err(missing(given));
    }
    if !given.is_dir() {
        return Ok(given.to_path_buf());
    }
    ["bin/crio", "cri-o/bin/crio", "crio", "usr/bin/crio"]
        .iter()
        .map(|c| given.join(c))
        .find(|c| c.is_file())
        .ok_or_else(|| {
            NodeError::Crio(format!(
                "no crio in {} (looked for bin/crio, cri-o/bin/crio, crio, usr/bin/crio)",
                given.display()
            ))
        })
}

/// The version `crio --version` prints: `crio version 1.36.3` (new) or a
/// `Version: 1.33.13` line (older releases).
pub fn parse_version(text: &str) -> Option<Version> {
    text.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [c, "version", v, ..] if c.eq_ignore_ascii_case("crio") => Version::parse(v),
            ["Version:", v, ..] => Version::parse(v),
            _ => None,
        }
    })
}

/// Runs `crio --version` and checks the result is a usable CRI-O.
pub fn version(given: &Path) -> Result<Version, NodeError> {
    let bin = binary(given)?;
    let out = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .map_err(|e| {
            NodeError::Crio(format!(
                "cannot run {} ({e}); is it executable and built for this machine?",
                bin.display()
            ))
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = parse_version(&text).ok_or_else(|| {
        NodeError::Crio(format!(
            "{} --version printed no CRI-O version (exit {}): {}",
            bin.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })?;
    check_min(&v)?;
    Ok(v)
}

/// The default node folder of a CRI-O version.
pub fn default_dir(root: &Path, version: &Version) -> PathBuf {
    root.join(format!("node-crio-{version}"))
}

/// The CRI-O node folders under `root` (for `node stop`/`status` without
/// `--crio` or `--node-dir`).
pub fn existing_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("node-crio-"))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crio_is_a_release_version_or_a_path() {
        let release = |t: &str| CrioSource::from_arg(t).unwrap();
        let v = Version::parse("1.36.3").unwrap();
        assert_eq!(release("1.36.3"), CrioSource::Release(v.clone()));
        assert_eq!(release("v1.36.3"), CrioSource::Release(v));
        for path in ["1.33", "/usr/bin/crio", "v1.36", "1.36.3-rc.1", "1.36.x"] {
            assert_eq!(release(path), CrioSource::Path(path.into()), "{path}");
        }
        let old = release("1.24.9").check(|_| None).unwrap_err().to_string();
        assert!(old.contains("older than 1.25"), "{old}");
        let gone = release("1.33")
            .check(|_| Some(false))
            .unwrap_err()
            .to_string();
        assert!(
            gone.contains("--crio 1.33 does not exist") && gone.contains("1.36.3"),
            "{gone}"
        );
        assert!(release("1.33").check(|_| None).is_ok());
    }

    #[test]
    fn versions_of_both_output_styles() {
        let new = "crio version 1.36.3\n   GitCommit:      b24632ab\n";
        let old = "INFO[0000] …\nVersion:        1.28.4\nGitCommit: abc\n";
        assert_eq!(parse_version(new), Version::parse("1.36.3"));
        assert_eq!(parse_version(old), Version::parse("1.28.4"));
        assert_eq!(parse_version("containerd v2.1.9"), None);
    }

    #[test]
    fn a_variant_reaches_the_script_as_absolute_checked_paths() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.conf");
        std::fs::write(&f, "[crio.runtime]\n").unwrap();
        let none = CrioVariant::default();
        assert!(!none.is_set());
        let env = none.resolved().unwrap().env();
        assert_eq!(env[0], ("CRIO_CONF", "".into()));
        assert_eq!(env[2], ("VARIANT_SET", "0".into()));
        let v = CrioVariant {
            conf: vec![f.clone()],
            hide_subids: true,
        };
        let env = v.resolved().unwrap().env();
        assert_eq!(
            env[0].1,
            format!("{}\n", f.canonicalize().unwrap().display()).as_str()
        );
        assert_eq!(env[1], ("HIDE_SUBIDS", "1".into()));
        assert_eq!(env[2], ("VARIANT_SET", "1".into()));
        let missing = CrioVariant {
            conf: vec![dir.path().join("nope.conf")],
            hide_subids: false,
        };
        assert!(matches!(
            missing.resolved(),
            Err(NodeError::Crio(m)) if m.contains("nope.conf is not a readable file")
        ));
    }

    #[test]
    fn folders_per_version_and_binary_lookup() {
        let root = tempfile::tempdir().unwrap();
        let v = Version::parse("1.34.11").unwrap();
        assert_eq!(
            default_dir(root.path(), &v),
            root.path().join("node-crio-1.34.11")
        );
        for d in ["node", "node-crio-1.36.3", "node-crio-1.33.13"] {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }
        assert_eq!(
            existing_dirs(root.path()),
            vec![
                root.path().join("node-crio-1.33.13"),
                root.path().join("node-crio-1.36.3")
            ]
        );
        let bundle = root.path().join("bundle");
        std::fs::create_dir_all(bundle.join("cri-o/bin")).unwrap();
        std::fs::write(bundle.join("cri-o/bin/crio"), "").unwrap();
        assert_eq!(binary(&bundle).unwrap(), bundle.join("cri-o/bin/crio"));
        assert!(matches!(
            binary(&root.path().join("node")),
            Err(NodeError::Crio(m)) if m.contains("no crio in")
        ));
        assert!(matches!(
            binary(&root.path().join("absent")),
            Err(NodeError::Crio(m)) if m.contains("does not exist")
        ));
    }
}
