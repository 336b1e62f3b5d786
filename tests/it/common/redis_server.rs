//! A real `redis-server` per test, on a free loopback port, killed on drop.
//!
//! Readiness is read from the server's own log line ("Ready to accept
//! connections"), not guessed with a sleep.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct RedisServer {
    child: Child,
    pub port: u16,
    extra: Vec<String>,
    /// Its working directory: whatever it writes (a replica's RDB, an
    /// append-only file) goes there, not into the checkout.
    _dir: tempfile::TempDir,
}

fn spawn(port: u16, dir: &std::path::Path, extra: &[String]) -> Result<Child, String> {
    let port_text = port.to_string();
    let dir_text = dir.to_str().expect("a UTF-8 temp path").to_owned();
    let mut args = vec![
        "--dir",
        dir_text.as_str(),
        "--port",
        port_text.as_str(),
        "--bind",
        "127.0.0.1",
        "--daemonize",
        "no",
        "--loglevel",
        "notice",
    ];
    if !extra.iter().any(|a| a == "--sentinel" || a == "--appendonly") {
        // No disk: these servers live as long as one test.
        args.extend(["--save", "", "--appendonly", "no"]);
    }
    let mut child = Command::new("redis-server")
        .args(extra)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server is not runnable ({e}); install it: apt-get install -y redis-server"))?;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent && (line.contains("Ready to accept connections") || line.contains("Sentinel ID is")) {
                let _ = tx.send(Ok(()));
                sent = true;
            } else if !sent && (line.contains("Address already in use") || line.contains("Could not create")) {
                let _ = tx.send(Err(line));
                sent = true;
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(())) => Ok(child),
        Ok(Err(line)) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(line)
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err("redis-server did not report readiness".into())
        }
    }
}

impl RedisServer {
    pub fn start() -> RedisServer {
        // A port can be taken between probing and binding; try a few.
        let mut last_err = String::new();
        for _ in 0..5 {
            match Self::start_on(free_port()) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("could not start redis-server: {last_err}");
    }

    pub fn start_on(port: u16) -> Result<RedisServer, String> {
        Self::start_with(port, &[])
    }

    /// A server with extra arguments (cluster mode, replication, sentinel,
    /// `--appendonly yes`). Without `--appendonly` it writes nothing to disk.
    pub fn start_with(port: u16, extra: &[&str]) -> Result<RedisServer, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let child = spawn(port, dir.path(), &extra)?;
        Ok(RedisServer {
            child,
            port,
            extra,
            _dir: dir,
        })
    }

    /// A server with extra arguments on a free port.
    pub fn start_on_free(extra: &[&str]) -> RedisServer {
        let mut last_err = String::new();
        for _ in 0..5 {
            match Self::start_with(free_port(), extra) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("could not start redis-server: {last_err}");
    }

    /// `kill -9`, then the same server again: same port, same directory
    /// (its append-only file, if any), same arguments.
    pub fn crash_and_restart(&mut self) {
        self.stop();
        self.child = spawn(self.port, self._dir.path(), &self.extra).expect("redis-server restarts");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops the server (to test what happens when Redis goes away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs (apt-get install -y redis-tools)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `check` until it holds: a readiness wait on the servers' own
/// state, not a timing assumption.
fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting for {what}");
}

/// Waits until the replica on `port` has its link to the primary up.
pub fn wait_link_up(port: u16) {
    until("the replica's link to its primary", || {
        cli(port, &["info", "replication"]).contains("master_link_status:up")
    });
}

/// Whether a key containing `fragment` is on the server at `port` now.
pub fn exists_on(port: u16, fragment: &str) -> bool {
    !cli(port, &["--scan", "--pattern", &format!("*{fragment}*")])
        .trim()
        .is_empty()
}

/// A three-master Redis Cluster on free ports.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<RedisServer> = (0..3)
            .map(|i| {
                let conf = dir.path().join(format!("nodes-{i}.conf"));
                let conf = conf.to_str().unwrap();
                RedisServer::start_with(
                    free_port(),
                    &["--cluster-enabled", "yes", "--cluster-config-file", conf],
                )
                .unwrap()
            })
            .collect();
        let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        for n in &nodes {
            until("the cluster to be ready", || {
                cli(n.port, &["cluster", "info"]).contains("cluster_state:ok")
            });
        }
        RedisCluster { nodes, _dir: dir }
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// A master, its replica, and one sentinel watching them as `mymaster`.
pub struct RedisSentinel {
    /// Kept running: after the failover it is the demoted master.
    _master: RedisServer,
    pub replica: RedisServer,
    pub sentinel: RedisServer,
    _dir: tempfile::TempDir,
}

impl RedisSentinel {
    pub fn start() -> RedisSentinel {
        let dir = tempfile::tempdir().unwrap();
        let master = RedisServer::start();
        let replica =
            RedisServer::start_with(free_port(), &["--replicaof", "127.0.0.1", &master.port.to_string()]).unwrap();
        until("the replica to sync", || {
            cli(replica.port, &["info", "replication"]).contains("master_link_status:up")
        });
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "sentinel monitor mymaster 127.0.0.1 {} 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n",
                master.port
            ),
        )
        .unwrap();
        let sentinel = RedisServer::start_with(free_port(), &[conf.to_str().unwrap(), "--sentinel"]).unwrap();
        until("the sentinel to see the replica", || {
            cli(sentinel.port, &["sentinel", "replicas", "mymaster"]).contains(&replica.port.to_string())
        });
        RedisSentinel {
            _master: master,
            replica,
            sentinel,
            _dir: dir,
        }
    }

    /// Promotes the replica and waits until the sentinel names it.
    pub fn failover(&self) {
        // Until Sentinel has the replica's INFO it answers NOGOODSLAVE.
        until("the sentinel to accept the failover", || {
            cli(self.sentinel.port, &["sentinel", "failover", "mymaster"]).trim() == "OK"
        });
        let replica = self.replica.port.to_string();
        until("the failover", || {
            cli(self.sentinel.port, &["sentinel", "get-master-addr-by-name", "mymaster"]).contains(&replica)
        });
    }

    /// Waits until `key` has reached the replica.
    pub fn wait_replicated(&self, key: &str) {
        until("the key to reach the replica", || {
            !cli(self.replica.port, &["--scan", "--pattern", key]).trim().is_empty()
        });
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
