//! CRI-O by version number: `--crio 1.36.3` is CRI-O's static release bundle
//! for this machine's architecture, `cri-o.<arch>.v<version>.tar.gz`, whose
//! checksum file `….tar.gz.sha256sum` sits beside it in CRI-O's release
//! artifact storage (or in `USERNS_E2E_CRIO_MIRROR`).
//!
//! A bundle is downloaded once into `<cache>/<version>/` (`cri-o/…` as
//! upstream lays it out, plus `SOURCE`: where it came from and its sha256).
//! Everything is written into a temporary folder beside it first: the
//! tarball is hashed while it streams in and unpacked only when the sum
//! matches, and only the finished folder is renamed into place, so a partial
//! or refused download never becomes a cache hit.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::version::Version;

/// CRI-O's release artifact storage: upstream's default (`scripts/get`:
/// `GCB_URL`/artifacts), where each release's bundles are published.
pub const DEFAULT_MIRROR: &str = "https://storage.googleapis.com/cri-o/artifacts";

/// Overrides [`DEFAULT_MIRROR`]: a folder URL holding bundles under their
/// upstream names (for air-gapped machines).
pub const MIRROR_ENV: &str = "USERNS_E2E_CRIO_MIRROR";

/// The file in a cached version folder that says where the bundle came from.
const SOURCE_FILE: &str = "SOURCE";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("CRI-O publishes no release bundle for {arch} (this machine is {machine})")]
    Arch { arch: String, machine: String },
    #[error("{url} does not exist (HTTP 404): no CRI-O {version} bundle there. {available}")]
    NotFound {
        url: String,
        version: String,
        /// Which versions the mirror lists, or how to find out.
        available: String,
    },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("cannot download {url} (no network, or the mirror is unreachable; set {MIRROR_ENV} to a reachable copy)")]
    Network {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} holds no sha256 sum (expected `<64 hex digits>  <file name>`): {text:?}")]
    BadSum { url: String, text: String },
    #[error("checksum mismatch for {url}: the .sha256sum file says {expected}, the download hashes to {actual}; nothing was kept")]
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("cannot unpack {url}")]
    Unpack {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url} unpacked without cri-o/bin/crio: not a CRI-O release bundle")]
    NotABundle { url: String },
    #[error("the CRI-O cache {}", path.display())]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A release bundle ready to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The cached version folder (holds `cri-o/`).
    pub dir: PathBuf,
    /// The tarball's URL and sha256, as recorded when it was downloaded.
    pub url: String,
    pub sha256: String,
    /// Whether this call downloaded it (false: a cache hit).
    pub downloaded: bool,
}

impl Bundle {
    /// One line for `node status` and the node's records.
    pub fn describe(&self) -> String {
        format!(
            "CRI-O release bundle {} (sha256 {}), cached in {}",
            self.url,
            self.sha256,
            self.dir.display()
        )
    }
}

/// CRI-O's name for an architecture (`scripts/get`: amd64, arm64, ppc64le;
/// the bundles also exist for s390x).
pub fn arch_name(machine: &str) -> Option<&'static str> {
    match machine {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        "powerpc64" | "powerpc64le" | "ppc64le" => Some("ppc64le"),
        "s390x" => Some("s390x"),
        _ => None,
    }
}

/// This machine's bundle architecture.
pub fn arch() -> Result<&'static str, BundleError> {
    let machine = std::env::consts::ARCH;
    arch_name(machine).ok_or_else(|| BundleError::Arch {
        arch: machine.into(),
        machine: machine.into(),
    })
}

/// The bundle's file name: `cri-o.amd64.v1.36.3.tar.gz`.
pub fn tarball_name(arch: &str, version: &Version) -> String {
    format!("cri-o.{arch}.v{version}.tar.gz")
}

/// The mirror in force: `USERNS_E2E_CRIO_MIRROR`, else upstream's storage.
pub fn mirror() -> String {
    std::env::var(MIRROR_ENV)
        .ok()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_MIRROR.to_string())
}

/// `$XDG_CACHE_HOME/userns-e2e/crio`, else `~/.cache/userns-e2e/crio`.
pub fn cache_root() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"));
    base.join("userns-e2e").join("crio")
}

/// The cached bundle of `version`, if a finished one is there.
pub fn cached(cache: &Path, version: &Version) -> Option<Bundle> {
    let dir = cache.join(version.to_string());
    let source = std::fs::read_to_string(dir.join(SOURCE_FILE)).ok()?;
    if !dir.join("cri-o/bin/crio").is_file() {
        return None;
    }
    let get = |k: &str| {
        source
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    Some(Bundle {
        dir,
        url: get("url")?,
        sha256: get("sha256")?,
        downloaded: false,
    })
}

/// The bundle of `version` from `mirror`, downloaded into `cache` unless it
/// is there already.
pub fn fetch(version: &Version, mirror: &str, cache: &Path) -> Result<Bundle, BundleError> {
    if let Some(hit) = cached(cache, version) {
        return Ok(hit);
    }
    let arch = arch()?;
    let base = mirror.trim_end_matches('/');
    let url = format!("{base}/{}", tarball_name(arch, version));
    let sum_url = format!("{url}.sha256sum");
    let client = client(&url)?;

    let expected = {
        let text = get(&client, &sum_url, base, arch, version)?
            .text()
            .map_err(|source| BundleError::Network {
                url: sum_url.clone(),
                source,
            })?;
        parse_sum(&text).ok_or_else(|| BundleError::BadSum {
            url: sum_url.clone(),
            text: text.chars().take(200).collect(),
        })?
    };

    std::fs::create_dir_all(cache).map_err(|source| BundleError::Cache {
        path: cache.to_path_buf(),
        source,
    })?;
    // Dropped (and deleted) on every early return below.
    let partial = tempfile::Builder::new()
        .prefix(&format!(".partial-{version}-"))
        .tempdir_in(cache)
        .map_err(|source| BundleError::Cache {
            path: cache.to_path_buf(),
            source,
        })?;
    eprintln!("downloading CRI-O {version}: {url}");
    let tarball = partial.path().join(tarball_name(arch, version));
    let actual = download(
        get(&client, &url, base, arch, version)?,
        &tarball,
        &url,
        cache,
    )?;
    if actual != expected {
        return Err(BundleError::Checksum {
            url,
            expected,
            actual,
        });
    }
    unpack(&tarball, partial.path()).map_err(|source| BundleError::Unpack {
        url: url.clone(),
        source,
    })?;
    let cache_err = |source| BundleError::Cache {
        path: partial.path().to_path_buf(),
        source,
    };
    std::fs::remove_file(&tarball).map_err(cache_err)?;
    if !partial.path().join("cri-o/bin/crio").is_file() {
        return Err(BundleError::NotABundle { url });
    }
    std::fs::write(
        partial.path().join(SOURCE_FILE),
        format!("url={url}\nsha256={actual}\n"),
    )
    .map_err(cache_err)?;
    let dir = cache.join(version.to_string());
    let kept = partial.keep();
    if let Err(e) = std::fs::rename(&kept, &dir) {
        let _ = std::fs::remove_dir_all(&kept);
        // Another run finished the same version meanwhile: use that one.
        return cached(cache, version).ok_or(BundleError::Cache {
            path: dir,
            source: e,
        });
    }
    eprintln!(
        "CRI-O {version}: sha256 {actual} verified, unpacked into {}",
        dir.display()
    );
    Ok(Bundle {
        dir,
        url,
        sha256: actual,
        downloaded: true,
    })
}

fn client(url: &str) -> Result<reqwest::blocking::Client, BundleError> {
    // The project's TLS stack is rustls with ring (as kube's); a provider
    // installed earlier is kept.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .timeout(Duration::from_secs(15 * 60))
        .user_agent(concat!("userns-e2e/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|source| BundleError::Network {
            url: url.into(),
            source,
        })
}

/// GET `url`; a 404 says which versions the mirror lists.
fn get(
    client: &reqwest::blocking::Client,
    url: &str,
    base: &str,
    arch: &str,
    version: &Version,
) -> Result<reqwest::blocking::Response, BundleError> {
    let response = client
        .get(url)
        .send()
        .map_err(|source| BundleError::Network {
            url: url.into(),
            source,
        })?;
    match response.status().as_u16() {
        200 => Ok(response),
        404 => Err(BundleError::NotFound {
            url: url.into(),
            version: version.to_string(),
            available: available(client, base, arch, version),
        }),
        status => Err(BundleError::Status {
            url: url.into(),
            status,
        }),
    }
}

/// The first word of a `sha256sum` line, when it is a sha256.
pub fn parse_sum(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    (word.len() == 64 && word.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| word.to_ascii_lowercase())
}

/// Streams the response into `path`, returning its sha256.
fn download(
    mut response: reqwest::blocking::Response,
    path: &Path,
    url: &str,
    cache: &Path,
) -> Result<String, BundleError> {
    let cache_err = |source| BundleError::Cache {
        path: cache.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::create(path).map_err(cache_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = response
            .read(&mut buf)
            .map_err(|source| BundleError::Unpack {
                url: url.into(),
                source,
            })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(cache_err)?;
    }
    file.sync_all().map_err(cache_err)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn unpack(tarball: &Path, into: &Path) -> std::io::Result<()> {
    let file = std::fs::File::open(tarball)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive.set_preserve_permissions(true);
    archive.unpack(into)
}

/// The versions of `arch` bundles a mirror lists, as a sentence; or how to
/// find them when no listing answers.
fn available(
    client: &reqwest::blocking::Client,
    base: &str,
    arch: &str,
    version: &Version,
) -> String {
    for listing in listing_urls(base, arch, version) {
        let Ok(response) = client.get(&listing).send() else {
            continue;
        };
        if !response.status().is_success() {
            continue;
        }
        let Ok(text) = response.text() else { continue };
        let versions = listed_versions(&text, arch);
        if !versions.is_empty() {
            let same_minor: Vec<&String> = versions
                .iter()
                .filter(|v| {
                    Version::parse(v).is_some_and(|p| {
                        p.0.major == version.0.major && p.0.minor == version.0.minor
                    })
                })
                .collect();
            let shown: Vec<&String> = if same_minor.is_empty() {
                versions.iter().collect()
            } else {
                same_minor
            };
            return format!(
                "The mirror lists {}{} ({listing}).",
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if versions.len() > shown.len() {
                    format!(" of {} versions", versions.len())
                } else {
                    String::new()
                }
            );
        }
    }
    format!(
        "No listing of the mirror answered; CRI-O's release notes (github.com/cri-o/cri-o releases) \
         name each release's bundles, or check one with `curl -fsI {base}/{}`",
        tarball_name(arch, version)
    )
}

/// Where a listing of the bundles may be: upstream's storage answers a
/// bucket listing (`?prefix=artifacts/cri-o.<arch>.v<major>.<minor>.`) at the
/// folder's parent; a plain mirror may serve an index page of its folder.
pub fn listing_urls(base: &str, arch: &str, version: &Version) -> Vec<String> {
    let mut urls = Vec::new();
    if let Some((parent, folder)) = base.rsplit_once('/') {
        if !parent.ends_with(':') && !parent.ends_with('/') {
            urls.push(format!(
                "{parent}?prefix={folder}/cri-o.{arch}.v{}.{}.",
                version.0.major, version.0.minor
            ));
        }
    }
    urls.push(format!("{base}/"));
    urls
}

/// The versions named by `cri-o.<arch>.v<X.Y.Z>.tar.gz` in a listing, sorted.
pub fn listed_versions(text: &str, arch: &str) -> Vec<String> {
    let prefix = format!("cri-o.{arch}.v");
    let mut found: Vec<Version> = text
        .match_indices(&prefix)
        .filter_map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let v: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let v = v.strip_suffix('.')?;
            (rest[v.len()..].starts_with(".tar.gz") && v.split('.').count() == 3)
                .then(|| Version::parse(v))
                .flatten()
        })
        .collect();
    found.sort();
    found.dedup();
    found.iter().map(Version::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sums_and_listings() {
        let v = Version::parse("v1.36.3").unwrap();
        assert_eq!(tarball_name("amd64", &v), "cri-o.amd64.v1.36.3.tar.gz");
        assert_eq!(arch_name("x86_64"), Some("amd64"));
        assert_eq!(arch_name("aarch64"), Some("arm64"));
        assert_eq!(arch_name("mips"), None);
        let sum = "AB".repeat(32);
        assert_eq!(
            parse_sum(&format!("{sum}  cri-o.amd64.v1.36.3.tar.gz\n")),
            Some(sum.to_lowercase())
        );
        assert_eq!(parse_sum("<html>not found</html>"), None);
        assert_eq!(parse_sum(""), None);
        let xml = "<Key>artifacts/cri-o.amd64.v1.36.2.tar.gz</Key><Key>artifacts/cri-o.amd64.v1.36.2.tar.gz.sha256sum</Key>\
                   <Key>artifacts/cri-o.amd64.v1.36.10.tar.gz</Key><Key>artifacts/cri-o.arm64.v1.36.9.tar.gz</Key>\
                   <Key>artifacts/cri-o.amd64.abcdef.tar.gz</Key>";
        assert_eq!(listed_versions(xml, "amd64"), vec!["1.36.2", "1.36.10"]);
        assert_eq!(
            listing_urls(DEFAULT_MIRROR, "amd64", &v),
            vec![
                format!(
                    "{}?prefix=artifacts/cri-o.amd64.v1.36.",
                    DEFAULT_MIRROR.trim_end_matches("/artifacts")
                ),
                format!("{DEFAULT_MIRROR}/"),
            ]
        );
        assert_eq!(
            listing_urls("http://127.0.0.1:9", "amd64", &v),
            vec!["http://127.0.0.1:9/".to_string()]
        );
    }

    #[test]
    fn the_cache_lives_under_xdg_cache_home_and_only_finished_folders_are_hits() {
        let dir = tempfile::tempdir().unwrap();
        let v = Version::parse("1.36.3").unwrap();
        assert_eq!(cached(dir.path(), &v), None);
        let d = dir.path().join("1.36.3");
        std::fs::create_dir_all(d.join("cri-o/bin")).unwrap();
        std::fs::write(d.join("cri-o/bin/crio"), "").unwrap();
        // Without SOURCE it is not a finished download.
        assert_eq!(cached(dir.path(), &v), None);
        std::fs::write(d.join(SOURCE_FILE), "url=http://x/y\nsha256=ab\n").unwrap();
        let hit = cached(dir.path(), &v).unwrap();
        assert_eq!(
            (hit.url.as_str(), hit.sha256.as_str()),
            ("http://x/y", "ab")
        );
        assert!(!hit.downloaded);
        assert!(cache_root().ends_with("userns-e2e/crio"));
    }
}
