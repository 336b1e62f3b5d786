//! The command line: `--seconds N`, `--seed N`, `--workers N`, `--pace-ms N`.

pub struct Args {
    pub seconds: u64,
    pub seed: u64,
    pub workers: usize,
    pub pace_ms: u64,
}

pub fn parse_args() -> Args {
    let mut a = Args {
        seconds: 60,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1),
        workers: 32,
        pace_ms: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = |name: &str| -> u64 {
            let v = inline.clone().or_else(|| it.next()).unwrap_or_default();
            v.parse().unwrap_or_else(|_| {
                eprintln!("soak: {name} needs a number, not {v:?}");
                std::process::exit(64);
            })
        };
        match name.as_str() {
            "--seconds" => a.seconds = value("--seconds"),
            "--seed" => a.seed = value("--seed"),
            "--workers" => a.workers = value("--workers") as usize,
            "--pace-ms" => a.pace_ms = value("--pace-ms"),
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            other => eprintln!("soak: ignoring argument {other}"),
        }
    }
    a.seconds = a.seconds.clamp(10, 3_600);
    a.workers = a.workers.clamp(1, 512);
    a
}
