//! A loopback file mirror for tests: GET of a file under its folder, 404
//! otherwise, and an index page (`/`) naming the folder's files, as a mirror's
//! directory listing would. Every request path is recorded.

#[path = "loopback.rs"]
mod loopback;

use std::path::{Path, PathBuf};

use loopback::{Loopback, Request, Response};

pub struct Server {
    pub url: String,
    server: Loopback,
}

impl Server {
    /// Serves `root` on 127.0.0.1 (a free port) until dropped.
    pub fn start(root: &Path) -> Server {
        let root = root.to_path_buf();
        let server = Loopback::start(move |r| answer(r, &root));
        Server {
            url: server.url.clone(),
            server,
        }
    }

    /// The paths asked for so far.
    pub fn requests(&self) -> Vec<String> {
        self.server
            .requests()
            .into_iter()
            .map(|r| r.split_once(' ').map_or(r.clone(), |(_, t)| t.to_string()))
            .collect()
    }
}

fn answer(r: &Request, root: &Path) -> Response {
    let path = r.target.as_str();
    let file: PathBuf = root.join(path.trim_start_matches('/'));
    if path == "/" {
        let mut names: Vec<String> = std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let links: String = names
            .iter()
            .map(|n| format!("<a href=\"{n}\">{n}</a>\n"))
            .collect();
        Response {
            status: "200 OK",
            content_type: "text/html",
            body: format!("<html><body>\n{links}</body></html>\n").into_bytes(),
        }
    } else if !path.contains("..") && file.is_file() {
        Response {
            status: "200 OK",
            content_type: "application/octet-stream",
            body: std::fs::read(&file).unwrap_or_default(),
        }
    } else {
        Response {
            status: "404 Not Found",
            content_type: "text/plain",
            body: b"not found\n".to_vec(),
        }
    }
}
