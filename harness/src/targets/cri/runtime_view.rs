//! What the runtime behind a CRI socket itself sees and runs with: its
//! process (the socket's peer), the `/etc` visible in its mount namespace,
//! and, for CRI-O, its effective configuration (`crio status config`, served
//! over HTTP on the same socket as the CRI).

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;

/// How long the configuration endpoint may take before it counts as absent.
const CONFIG_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot connect to {0}")]
    Connect(String, #[source] std::io::Error),
    #[error("HTTP on {0}")]
    Http(String, #[source] hyper::Error),
    #[error("GET /config on {socket} answered {status}")]
    Status {
        socket: String,
        status: http::StatusCode,
    },
    #[error("GET /config on {0} did not answer within {CONFIG_TIMEOUT:?}")]
    Timeout(String),
    #[error("the configuration {0} served is not TOML")]
    Toml(String, #[source] toml::de::Error),
}

/// The pid of the process serving the unix socket at `path` (its peer
/// credentials), when it can be learned.
pub async fn serving_pid(path: &str) -> Option<u32> {
    let stream = tokio::net::UnixStream::connect(path).await.ok()?;
    let pid = stream.peer_cred().ok()?.pid()?;
    u32::try_from(pid).ok()
}

/// `file` (e.g. `etc/subuid`) as the process `pid` sees it: through
/// `/proc/<pid>/root`, which resolves in that process's mount namespace, so a
/// runtime started with another `/etc/subuid` bound over the host's is read
/// faithfully. Without a pid, the host's file.
pub fn seen_by(pid: Option<u32>, file: &str) -> PathBuf {
    match pid {
        Some(pid) => Path::new("/proc")
            .join(pid.to_string())
            .join("root")
            .join(file),
        None => Path::new("/").join(file),
    }
}

/// CRI-O's effective configuration (`GET /config` on its socket, the TOML
/// `crio status config` prints), as JSON.
pub async fn crio_config(path: &str) -> Result<serde_json::Value, ConfigError> {
    match tokio::time::timeout(CONFIG_TIMEOUT, fetch_config(path)).await {
        Ok(r) => r,
        Err(_) => Err(ConfigError::Timeout(path.to_string())),
    }
}

async fn fetch_config(path: &str) -> Result<serde_json::Value, ConfigError> {
    let stream = tokio::net::UnixStream::connect(path)
        .await
        .map_err(|e| ConfigError::Connect(path.to_string(), e))?;
    let http_err = |e| ConfigError::Http(path.to_string(), e);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_err)?;
    let driver = tokio::spawn(conn);
    let req = http::Request::get("/config")
        .header(http::header::HOST, "localhost")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("a GET with a static path and host is a valid request");
    let result = async {
        let resp = sender.send_request(req).await.map_err(http_err)?;
        if !resp.status().is_success() {
            return Err(ConfigError::Status {
                socket: path.to_string(),
                status: resp.status(),
            });
        }
        let body = resp.into_body().collect().await.map_err(http_err)?;
        parse_config(path, &String::from_utf8_lossy(&body.to_bytes()))
    }
    .await;
    driver.abort();
    result
}

/// The TOML of a configuration dump, as JSON (tables become objects).
pub fn parse_config(source: &str, text: &str) -> Result<serde_json::Value, ConfigError> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| ConfigError::Toml(source.to_string(), e))?;
    Ok(serde_json::to_value(table).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_dump_becomes_nested_json() {
        let text = "[crio]\n  root = \"/x\"\n  [crio.runtime]\n    default_sysctls = [\"net.ipv4.ping_group_range=0 2147483647\"]\n    minimum_mappable_uid = -1\n";
        let v = parse_config("t", text).unwrap();
        assert_eq!(v["crio"]["root"], "/x");
        assert_eq!(v["crio"]["runtime"]["minimum_mappable_uid"], -1);
        assert_eq!(
            v["crio"]["runtime"]["default_sysctls"][0],
            "net.ipv4.ping_group_range=0 2147483647"
        );
        let err = parse_config("sock", "[crio\n").unwrap_err();
        assert!(err.to_string().contains("sock"), "{err}");
    }

    #[test]
    fn files_are_read_in_the_runtimes_mount_namespace() {
        assert_eq!(
            seen_by(Some(42), "etc/subuid"),
            Path::new("/proc/42/root/etc/subuid")
        );
        assert_eq!(seen_by(None, "etc/subuid"), Path::new("/etc/subuid"));
    }

    #[tokio::test]
    async fn the_peer_of_a_socket_we_serve_is_this_process() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.sock");
        let _listener = tokio::net::UnixListener::bind(&p).unwrap();
        assert_eq!(
            serving_pid(p.to_str().unwrap()).await,
            Some(std::process::id())
        );
    }
}
