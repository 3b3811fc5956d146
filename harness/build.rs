//! Compiles the CRI proto with protox (pure Rust), so building needs no protoc;
//! lists the diagnosis catalog (`../diagnoses/*.yaml`) for embedding, so a new
//! entry file is in the binary without editing code.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/cri_v1.proto");
    let fds = protox::compile(["proto/cri_v1.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(fds)?;
    embed_diagnoses()
}

fn embed_diagnoses() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../diagnoses");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    let mut out = String::from("[\n");
    for n in &names {
        let path = dir.join(n).canonicalize()?;
        println!("cargo:rerun-if-changed={}", path.display());
        out.push_str(&format!(
            "    ({n:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push(']');
    let out_dir = std::env::var("OUT_DIR")?;
    std::fs::write(Path::new(&out_dir).join("diagnoses.rs"), out)?;
    Ok(())
}
