//! The commit couponbridge was built from, for `--version` and
//! `couponbridge_build_info{commit}`: `COUPONBRIDGE_COMMIT` when it is set
//! (the Dockerfile passes it, as its build context has no `.git`), else
//! `git rev-parse --short=12 HEAD`, else `unknown`. A checkout without git
//! (a source tarball, a vendored copy) still builds.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Builds again when HEAD moves: the worktree's HEAD, the branch it names
/// and the packed refs (a branch can live in either).
fn watch_head() {
    let Some(dir) = git(&["rev-parse", "--git-dir"]).map(PathBuf::from) else {
        return;
    };
    let common = git(&["rev-parse", "--git-common-dir"]).map_or_else(|| dir.clone(), PathBuf::from);
    let head = dir.join("HEAD");
    println!("cargo:rerun-if-changed={}", head.display());
    if let Some(branch) = std::fs::read_to_string(&head)
        .ok()
        .and_then(|h| h.strip_prefix("ref: ").map(|r| r.trim().to_owned()))
    {
        for base in [&dir, &common] {
            let file = base.join(&branch);
            if file.exists() {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
    }
    let packed = common.join("packed-refs");
    if Path::new(&packed).exists() {
        println!("cargo:rerun-if-changed={}", packed.display());
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=COUPONBRIDGE_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    let given = std::env::var("COUPONBRIDGE_COMMIT")
        .ok()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let commit = match given {
        Some(c) => c,
        None => {
            watch_head();
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned())
        }
    };
    // One printable token: it goes into a label value and a version line.
    let commit: String = commit
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    let commit = if commit.is_empty() {
        "unknown".to_owned()
    } else {
        commit
    };
    println!("cargo:rustc-env=COUPONBRIDGE_COMMIT={commit}");
}
