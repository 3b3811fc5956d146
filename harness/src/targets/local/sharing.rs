//! Runs that share one node folder (two terminals, or two CI jobs on one
//! self-hosted runner): provisioning and starting happen under an exclusive
//! lock on `DIR/.lock`, each run registers its pid in `DIR/.runs`, and only
//! the last run to leave stops the node. Without the lock the second run's
//! provisioning collided with the first's (`apt/lists/lock`) or started a
//! second containerd on the first one's socket, and the first run's stop
//! pulled the node from under the second.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::NodeError;

/// The lock file and the registry of runs.
fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join(".lock"), dir.join(".runs"))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs `f` holding the node folder's lock, with the pids of the runs that
/// use the node (dead ones already dropped); `f` returns the new list.
/// The lock is released when the file closes, also when `f` fails.
pub fn with_runs<T>(
    dir: &Path,
    f: impl FnOnce(Vec<u32>) -> Result<(Vec<u32>, T), NodeError>,
) -> Result<T, NodeError> {
    let existed = dir.exists();
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let (lock_path, runs_path) = paths(dir);
    let lock: File = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    lock.lock().map_err(io(&lock_path))?;
    let mut runs_file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&runs_path)
        .map_err(io(&runs_path))?;
    let mut text = String::new();
    runs_file
        .read_to_string(&mut text)
        .map_err(io(&runs_path))?;
    let runs: Vec<u32> = text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|p| alive(*p))
        .collect();
    let (runs, out) = match f(runs) {
        Ok(done) => done,
        Err(e) => {
            // A folder made only for the lock (a start that failed before
            // provisioning anything) is not left behind as a node folder.
            if !existed && only_our_files(dir) {
                let _ = std::fs::remove_dir_all(dir);
            }
            return Err(e);
        }
    };
    let text: String = runs.iter().map(|p| format!("{p}\n")).collect();
    runs_file
        .set_len(0)
        .and_then(|_| runs_file.rewind())
        .and_then(|_| runs_file.write_all(text.as_bytes()))
        .map_err(io(&runs_path))?;
    Ok(out)
}

fn only_our_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .all(|e| matches!(e.file_name().to_str(), Some(".lock" | ".runs")))
    })
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Registers this process as a run of the node in `dir`, starting it
/// (provisioning first) under the lock; returns what `start` returns.
pub fn join<T>(dir: &Path, start: impl FnOnce() -> Result<T, NodeError>) -> Result<T, NodeError> {
    let me = std::process::id();
    with_runs(dir, |mut runs| {
        let out = start()?;
        if !runs.contains(&me) {
            runs.push(me);
        }
        Ok((runs, out))
    })
}

/// What [`leave`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// This was the last run: the node was stopped.
    Stopped,
    /// Other runs still use the node; it keeps running.
    OthersRemain(usize),
    /// Kept running as asked (`--keep-node`).
    Kept,
}

/// Unregisters this process; the last run stops the node with `stop`
/// (unless `keep`).
pub fn leave(
    dir: &Path,
    keep: bool,
    stop: impl FnOnce() -> Result<(), NodeError>,
) -> Result<Left, NodeError> {
    let me = std::process::id();
    with_runs(dir, |mut runs| {
        runs.retain(|p| *p != me);
        let left = match (runs.len(), keep) {
            (0, false) => {
                stop()?;
                Left::Stopped
            }
            (0, true) => Left::Kept,
            (n, _) => Left::OthersRemain(n),
        };
        Ok((runs, left))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry drops runs whose process is gone, and the last run
    /// (and only it) stops the node.
    #[test]
    fn the_last_run_stops_the_node() {
        let dir = tempfile::tempdir().unwrap();
        let stops = std::cell::Cell::new(0);
        let stop = || {
            stops.set(stops.get() + 1);
            Ok(())
        };
        // Another live run (pid 1 always exists) and a dead one.
        std::fs::write(dir.path().join(".runs"), "1\n999999999\n").unwrap();
        join(dir.path(), || Ok(())).unwrap();
        let runs = std::fs::read_to_string(dir.path().join(".runs")).unwrap();
        assert_eq!(runs, format!("1\n{}\n", std::process::id()));
        assert_eq!(
            leave(dir.path(), false, stop).unwrap(),
            Left::OthersRemain(1)
        );
        assert_eq!(stops.get(), 0);
        // Alone now: leaving stops it, unless it is kept.
        std::fs::write(dir.path().join(".runs"), "").unwrap();
        join(dir.path(), || Ok(())).unwrap();
        assert_eq!(leave(dir.path(), true, stop).unwrap(), Left::Kept);
        join(dir.path(), || Ok(())).unwrap();
        assert_eq!(leave(dir.path(), false, stop).unwrap(), Left::Stopped);
        assert_eq!(stops.get(), 1);
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".runs")).unwrap(),
            ""
        );
    }

    /// A start that fails registers nothing and releases the lock; a folder
    /// made only for the lock is removed again.
    #[test]
    fn a_failed_start_registers_nothing() {
        let parent = tempfile::tempdir().unwrap();
        let fresh = parent.path().join("node");
        let r: Result<(), _> = join(&fresh, || Err(NodeError::NoSocket("x".into())));
        assert!(r.is_err() && !fresh.exists());
        let dir = tempfile::tempdir().unwrap();
        let r: Result<(), _> = join(dir.path(), || Err(NodeError::NoSocket("x".into())));
        assert!(r.is_err());
        join(dir.path(), || Ok(())).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".runs")).unwrap(),
            format!("{}\n", std::process::id())
        );
    }
}
