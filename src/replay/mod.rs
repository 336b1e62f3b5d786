//! Replay of recorded traffic (work in progress in this commit).

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Recordings: couponbridge's JSON lines or HAR 1.2 files.
    pub files: Vec<PathBuf>,
}

pub async fn run(_args: ReplayArgs) -> ExitCode {
    eprintln!("replay is not available yet");
    ExitCode::from(2)
}
