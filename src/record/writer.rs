//! The JSON-lines file writer behind recordings and shadow mismatches: a
//! thread that appends the lines it is handed to the current file of a
//! folder, rotates files by size, keeps the folder's files under a total
//! when told to (the oldest are deleted), and flushes when idle, so no
//! request ever waits for a disk.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::clock::iso;
use crate::ids;

/// How often an idle writer flushes and asks for its periodic line.
const TICK: Duration = Duration::from_millis(200);

/// How large a file grows before the next one starts, and how much the
/// folder's files of this prefix may hold in all.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub file_bytes: u64,
    pub folder_bytes: Option<u64>,
}

/// What the writer reports, and the line it may add now and then.
pub struct Hooks {
    pub written: Box<dyn Fn() + Send>,
    pub dropped: Box<dyn Fn() + Send>,
    /// Asked every tick and once at the end: a line to append (the shadow's
    /// tally), or `None`.
    pub tick: Box<dyn FnMut() -> Option<Vec<u8>> + Send>,
}

fn new_file(dir: &Path, prefix: &str, writer: &str, seq: u32) -> std::io::Result<BufWriter<File>> {
    let stamp = iso(crate::clock::Clock::System.now())
        .replace([':', '-'], "")
        .replace('.', "");
    // The writer's own token: a reload's new writer never appends to the
    // file of the one it replaces.
    let path = dir.join(format!(
        "{prefix}-{stamp}-{}-{writer}-{seq:04}.jsonl",
        std::process::id()
    ));
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    Ok(BufWriter::new(file))
}

struct Files<'a> {
    dir: &'a Path,
    prefix: &'a str,
    writer: String,
    current: Option<BufWriter<File>>,
    written: u64,
    seq: u32,
    limits: Limits,
}

impl Files<'_> {
    fn append(&mut self, line: &[u8], hooks: &Hooks) {
        if self.current.is_none() {
            match new_file(self.dir, self.prefix, &self.writer, self.seq) {
                Ok(f) => {
                    self.current = Some(f);
                    self.written = 0;
                    self.seq += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, dir = %self.dir.display(), "cannot open a file to write to");
                    (hooks.dropped)();
                    return;
                }
            }
        }
        let f = self.current.as_mut().expect("opened above");
        if f.write_all(line).and_then(|_| f.write_all(b"\n")).is_err() {
            (hooks.dropped)();
            return;
        }
        (hooks.written)();
        self.written += line.len() as u64 + 1;
        if self.written >= self.limits.file_bytes
            && let Some(mut f) = self.current.take()
        {
            let _ = f.flush();
            self.trim();
        }
    }

    /// Deletes this prefix's oldest files (names sort by time) until the
    /// folder holds at most `folder_bytes` of them; the file being written
    /// is never deleted.
    fn trim(&self) {
        let Some(max) = self.limits.folder_bytes else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(self.dir) else {
            return;
        };
        let mut files: Vec<(String, u64)> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                let name = e.file_name().into_string().ok()?;
                let ours = name.starts_with(&format!("{}-", self.prefix)) && name.ends_with(".jsonl");
                ours.then(|| Some((name, e.metadata().ok()?.len())))?
            })
            .collect();
        files.sort();
        let mut total: u64 = files.iter().map(|(_, n)| n).sum();
        for (name, size) in files {
            if total <= max {
                break;
            }
            if std::fs::remove_file(self.dir.join(&name)).is_ok() {
                total = total.saturating_sub(size);
            }
        }
    }

    fn flush(&mut self) {
        if let Some(f) = self.current.as_mut() {
            let _ = f.flush();
        }
    }
}

/// Runs until the end marker (an empty line) or until every sender is
/// gone; the last tick's line is written before it returns.
pub fn write_lines(rx: Receiver<Vec<u8>>, dir: &Path, prefix: &str, limits: Limits, mut hooks: Hooks) {
    let mut files = Files {
        dir,
        prefix,
        writer: ids::prefixed_hex("w", 4),
        current: None,
        written: 0,
        seq: 0,
        limits: Limits {
            file_bytes: limits.file_bytes.max(1),
            ..limits
        },
    };
    let mut last_tick = Instant::now();
    loop {
        match rx.recv_timeout(TICK) {
            Ok(line) if line.is_empty() => break,
            Ok(line) => files.append(&line, &hooks),
            Err(RecvTimeoutError::Timeout) => files.flush(),
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            if let Some(line) = (hooks.tick)() {
                files.append(&line, &hooks);
            }
        }
    }
    if let Some(line) = (hooks.tick)() {
        files.append(&line, &hooks);
    }
    files.flush();
}
