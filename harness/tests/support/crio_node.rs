//! How the tests address the harness's local CRI-O node on the command line.

/// `COMMAND --target local --runtime cri-o --crio CRIO --node-dir NODE`.
pub fn args<'a>(command: &'a str, crio: &'a str, node: &'a str) -> Vec<&'a str> {
    vec![
        command,
        "--target",
        "local",
        "--runtime",
        "cri-o",
        "--crio",
        crio,
        "--node-dir",
        node,
    ]
}

/// `node stop --purge` of the node in `node`: stopped, and what it added to
/// the host (its `containers` subid lines) taken back.
pub fn purge_args(node: &str) -> Vec<&str> {
    vec![
        "node",
        "stop",
        "--purge",
        "--runtime",
        "cri-o",
        "--node-dir",
        node,
    ]
}
