use std::process::ExitCode;

use clap::Parser;

/// mimalloc: per-thread free lists instead of glibc's locked arenas, which
/// cost ~20% of the CPU under load (benches/profile.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    couponbridge::cli::run(couponbridge::cli::Cli::parse())
}
