//! Runs the `slsplay` binary as a user would.
// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn slsplay() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slsplay"));
    command
        .env_remove("SLSPLAY_DATA_DIR")
        .env_remove("SLSPLAY_PORT")
        .env("SLSPLAY_LOG", "info");
    command
}

/// Runs `command`, which must succeed (else the test fails with its stderr).
pub fn succeeds(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A token of the development sign-in for `email`, as `slsplay dev-token` prints it.
pub fn token(data_dir: &Path, email: &str, extra: &[&str]) -> String {
    let output = succeeds(
        slsplay()
            .args(["dev-token", "--email", email, "--data-dir"])
            .arg(data_dir)
            .args(extra),
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub struct Dev {
    child: Child,
    pub port: u16,
    log: mpsc::Receiver<String>,
}

impl Dev {
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[])
    }

    /// Starts `slsplay dev` with extra environment variables.
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn(data_dir, 0, env)
    }

    /// Starts `slsplay dev` on a free port that is also its public URL, as a browser needs it:
    /// the sign-in's issuer and the email links name that address. The URL is returned for
    /// `slsplay dev-token --public-url`.
    pub fn start_public(data_dir: &Path, env: &[(&str, &str)]) -> (Self, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let mut env = env.to_vec();
        env.push(("SLSPLAY_PUBLIC_URL", &url));
        (Self::spawn(data_dir, port, &env), url)
    }

    fn spawn(data_dir: &Path, port: u16, env: &[(&str, &str)]) -> Self {
        let mut child = slsplay()
            .args(["dev", "--port", &port.to_string(), "--data-dir"])
            .arg(data_dir)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .envs(env.iter().copied())
            .spawn()
            .unwrap();
        let (tx, log) = mpsc::channel();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut dev = Self { child, port: 0, log };
        let line = dev.wait_for_log("listening on http://");
        let port = line
            .rsplit_once("http://127.0.0.1:")
            .unwrap()
            .1
            .split_whitespace()
            .next()
            .unwrap();
        dev.port = port.parse().unwrap();
        dev
    }

    pub fn wait_for_log(&self, needle: &str) -> String {
        loop {
            let line = self
                .log
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no log line with `{needle}`"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1;
        (status, serde_json::from_str(body).unwrap())
    }

    pub fn interrupt(mut self) -> std::process::ExitStatus {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.wait_for_log("stopped");
        self.child.wait().unwrap()
    }
}

/// A test that fails before `interrupt` leaves no server behind to slow the others down.
impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
