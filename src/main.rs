use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    couponbridge::cli::run(couponbridge::cli::Cli::parse())
}
