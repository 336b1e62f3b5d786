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
}

impl RedisServer {
    pub fn start() -> RedisServer {
        // A port can be taken between probing and binding; try a few.
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            match Self::start_on(port) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("could not start redis-server: {last_err}");
    }

    pub fn start_on(port: u16) -> Result<RedisServer, String> {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "notice",
            ])
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
                if !sent && line.contains("Ready to accept connections") {
                    let _ = tx.send(Ok(()));
                    sent = true;
                } else if !sent && (line.contains("Address already in use") || line.contains("Could not create")) {
                    let _ = tx.send(Err(line));
                    sent = true;
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Ok(())) => Ok(RedisServer { child, port }),
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

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops the server (to test what happens when Redis goes away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
