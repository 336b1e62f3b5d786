//! Which files a `shadow-report` reads.

use std::path::PathBuf;

/// The files named: a file as it is, a folder as its `*.jsonl` files by
/// name. A path that cannot be read is an error.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if !meta.is_dir() {
            out.push(path.clone());
            continue;
        }
        let mut found = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))? {
            let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "jsonl") && p.is_file() {
                found.push(p);
            }
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}
