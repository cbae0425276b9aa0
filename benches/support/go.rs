//! Helpers shared by the benchmarks that run the Go programs in
//! `benches/go` (included with `#[path]`; not a bench target itself).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Cargo's target directory: a bench binary is `<target>/<profile>/deps/<name>-*`.
pub(crate) fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Builds `benches/go` into the target directory; `Err` says why not.
pub(crate) fn build_go(target: &Path) -> Result<PathBuf, String> {
    let bin = target.join("go-bench").join("goro-bench");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches")
        .join("go");
    let out = match Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("go: not installed".to_string());
        }
        Err(e) => return Err(format!("go: cannot run: {e}")),
    };
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "go build failed: {}",
            why.trim().replace('\n', " ")
        ));
    }
    Ok(bin)
}
