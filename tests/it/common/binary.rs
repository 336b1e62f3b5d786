//! The real `couponbridge serve` binary, for what only a process shows:
//! signals, the process-wide tracer, start-up logs. Its config file lives
//! in its own folder; its log (stderr) is kept in a file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use couponbridge::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN};

use super::env::{API_KEY, SECRET_KEY};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A configuration for the binary: listeners on the given ports (admin
/// off when `None`), `store`'s lines, the `shop` tenant on `voucherify`,
/// and `extra` sections appended.
pub fn config(listen: u16, admin: Option<u16>, store: &str, voucherify: &str, extra: &str) -> String {
    let admin = match admin {
        Some(port) => format!("listen = \"127.0.0.1:{port}\""),
        None => "enabled = false".to_owned(),
    };
    format!(
        "[server]\nlisten = \"127.0.0.1:{listen}\"\n[admin]\n{admin}\n[store]\n{store}\n[log]\nformat = \"json\"\n\
         [tenants.shop]\napi_key = \"{API_KEY}\"\nsecret_key = \"{SECRET_KEY}\"\n\
         [tenants.shop.voucherify]\nbase_url = \"{voucherify}\"\napp_id = \"{DEFAULT_APP_ID}\"\napp_token = \"{DEFAULT_APP_TOKEN}\"\n\
         {extra}\n"
    )
}

/// `config` with more `[server]` keys (`"worker_threads = 1\n"`).
pub fn with_server_keys(config: &str, keys: &str) -> String {
    config.replacen("[admin]", &format!("{keys}[admin]"), 1)
}

pub struct Serve {
    child: Child,
    pub base: String,
    pub config: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Written beside, then renamed over: what config management does.
pub fn write(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

impl Serve {
    /// Starts the binary on `text` and waits until `listen` accepts.
    pub async fn start(text: &str, listen: u16) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("couponbridge.toml");
        write(&config, text);
        let log = dir.path().join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_couponbridge"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("couponbridge serve starts");
        let serve = Serve {
            child,
            base: format!("http://127.0.0.1:{listen}"),
            config,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", listen)).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "couponbridge serve never listened:\n{}",
                serve.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        serve
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has `text` (or 15 s); the log then.
    pub async fn wait_log(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let log = self.log();
            if log.contains(text) || Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `kill -HUP`: a reload.
    pub fn hangup(&self) {
        self.signal("-HUP");
    }

    /// `kill -TERM`: a graceful shutdown.
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    fn signal(&self, which: &str) {
        let ok = Command::new("kill")
            .args([which, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {which}");
    }

    /// Waits (20 s at most) for the process to end; how it ended.
    pub async fn exited(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
