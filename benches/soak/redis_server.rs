//! redis-server: a child process with AOF on (`appendfsync always`), killed
//! -9 and restarted on the same port and directory; and the few queries the
//! soak makes of it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use couponbridge::locks::LockRecord;

use crate::settings::TENANT;

/// The redis-server child, reachable from the hard-stop watchdog.
static REDIS_CHILD: Mutex<Option<Child>> = Mutex::new(None);
static REDIS_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

pub struct Redis {
    port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Redis {
    pub fn start() -> Result<Redis, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        *REDIS_DIR.lock().unwrap() = Some(dir.path().to_owned());
        let mut last = String::new();
        // A port can be taken between probing and binding; try a few.
        for _ in 0..5 {
            let port = free_port();
            match spawn_redis(port, dir.path()) {
                Ok(()) => return Ok(Redis { port, dir }),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// SIGKILL: no shutdown save, no AOF rewrite; only what was fsynced.
    pub fn kill9() {
        if let Some(c) = REDIS_CHILD.lock().unwrap().take() {
            kill(c);
        }
    }

    /// For the hard stop, which ends the process without running `Drop`:
    /// kill -9, and delete the directory the `TempDir` would have.
    pub fn kill9_and_remove_dir() {
        Redis::kill9();
        if let Some(dir) = REDIS_DIR.lock().unwrap().take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Starts it again on the same port and directory (it reloads the AOF).
    pub fn restart(&self) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..20 {
            match spawn_redis(self.port, self.dir.path()) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        Redis::kill9();
    }
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts redis-server and waits for its own "Ready to accept connections".
fn spawn_redis(port: u16, dir: &Path) -> Result<(), String> {
    let port_text = port.to_string();
    let dir_text = dir.to_str().ok_or("a non-UTF-8 temp path")?;
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            &port_text,
            "--bind",
            "127.0.0.1",
            "--dir",
            dir_text,
            "--daemonize",
            "no",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--loglevel",
            "notice",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server is not runnable ({e}); benches/soak.sh installs it"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        // Keep reading to the end: a full pipe would block Redis's logging.
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sent {
                continue;
            }
            if line.contains("Ready to accept connections") {
                let _ = tx.send(Ok(()));
                sent = true;
            } else if line.contains("Address already in use")
                || line.contains("Could not create")
                || line.contains("Bad file format")
            {
                let _ = tx.send(Err(line));
                sent = true;
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(())) => {
            *REDIS_CHILD.lock().unwrap() = Some(child);
            Ok(())
        }
        Ok(Err(line)) => {
            kill(child);
            Err(line)
        }
        Err(_) => {
            kill(child);
            Err("redis-server did not report readiness".into())
        }
    }
}

pub async fn redis_conn(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    tokio::time::timeout(Duration::from_secs(2), client.get_multiplexed_async_connection())
        .await
        .ok()?
        .ok()
}

pub async fn dbsize(url: &str) -> Option<i64> {
    let mut c = redis_conn(url).await?;
    redis::cmd("DBSIZE").query_async::<i64>(&mut c).await.ok()
}

pub async fn redis_config(url: &str, key: &str) -> String {
    let Some(mut c) = redis_conn(url).await else {
        return "?".into();
    };
    redis::cmd("CONFIG")
        .arg("GET")
        .arg(key)
        .query_async::<Vec<String>>(&mut c)
        .await
        .ok()
        .and_then(|v| v.get(1).cloned())
        .unwrap_or_else(|| "?".into())
}

/// Every lock record in the store, by reference (SCAN, then GET and HGETALL).
pub async fn all_records(url: &str) -> Result<HashMap<String, LockRecord>, String> {
    let mut c = redis_conn(url).await.ok_or("Redis is unreachable")?;
    let prefix = format!("cb:{{{TENANT}:");
    let keys = scan(&mut c, &format!("{prefix}*}}:lock")).await?;
    let mut out = HashMap::new();
    for chunk in keys.chunks(500) {
        // Both forms of a record, in one round trip (as the store's own
        // `get`): the one a key does not hold answers WRONGTYPE.
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for k in chunk {
            pipe.cmd("GET").arg(k).cmd("HGETALL").arg(k);
        }
        let rows: Vec<redis::Value> = pipe.query_async(&mut c).await.map_err(|e| e.to_string())?;
        let mut rows = rows.into_iter();
        for k in chunk {
            let (Some(get), Some(hgetall)) = (rows.next(), rows.next()) else {
                return Err(format!("{k}: no answer"));
            };
            let fields = record_fields(get, hgetall).map_err(|e| format!("{k}: {e}"))?;
            if fields.is_empty() {
                continue;
            }
            let reference = k
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix("}:lock"))
                .unwrap_or(k)
                .to_owned();
            let rec = LockRecord::from_fields(&fields).map_err(|e| format!("{k}: {e}"))?;
            out.insert(reference, rec);
        }
    }
    Ok(out)
}

/// Every key matching `pattern`.
async fn scan(c: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(2_000)
            .query_async(c)
            .await
            .map_err(|e| e.to_string())?;
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            return Ok(keys);
        }
    }
}

/// A lock record's fields from its key's GET and HGETALL answers. A new
/// lock is a string, its fields packed as a JSON array `[field, value, …]`
/// (one `SET … NX`, src/locks/redis.rs); its first transition makes it a
/// hash.
fn record_fields(get: redis::Value, hgetall: redis::Value) -> Result<HashMap<String, String>, String> {
    match get {
        redis::Value::BulkString(packed) => {
            let flat: Vec<String> = serde_json::from_slice(&packed).map_err(|e| format!("packed record: {e}"))?;
            Ok(flat.chunks_exact(2).map(|kv| (kv[0].clone(), kv[1].clone())).collect())
        }
        _ => redis::from_redis_value(hgetall).map_err(|e| e.to_string()),
    }
}
