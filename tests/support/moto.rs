//! A real AWS-compatible server for the AWS adapters: moto, started once per test binary on
//! a free loopback port, and stopped when the test binary exits. It runs through
//! `serial_moto.py`, which explains why one request at a time.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region};

pub struct Moto {
    pub endpoint: String,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The moto server of this test binary, started on first use.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(Moto::start)
}

/// The Python that has moto (and icalendar): `SLSPLAY_TEST_PYTHON`, else the venv `.ci/setup`
/// makes.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("SLSPLAY_TEST_PYTHON") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv-test/bin/python")
}

impl Moto {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("no free port")
            .port();
        let python = python();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("support/serial_moto.py");
        // The child is spawned from a thread that lives as long as the test binary, because
        // PDEATHSIG fires when the spawning *thread* ends: moto then dies with the tests.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut command = Command::new(&python);
            command
                .arg(&script)
                .args(["127.0.0.1", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: prctl is async-signal-safe and touches only the child's own state.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            let child = command.spawn();
            let failed = child
                .as_ref()
                .err()
                .map(|e| format!("cannot start moto with {}: {e} (run .ci/setup)", python.display()));
            tx.send(failed).expect("test thread gone");
            if let Ok(mut child) = child {
                let _ = child.wait();
            }
        });
        if let Some(error) = rx.recv().expect("moto thread died") {
            panic!("{error}");
        }
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_until_ready(port);
        Self { endpoint }
    }

    /// What every AWS client of the tests is built from: moto's address and test credentials.
    pub fn sdk_config(&self) -> aws_types::SdkConfig {
        let credentials = Credentials::new("testing", "testing", None, None, "moto");
        aws_types::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build()
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config())
    }
}

fn wait_until_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request = "GET /moto-api/ HTTP/1.0\r\nHost: localhost\r\n\r\n";
            let mut answer = [0u8; 12];
            if stream.write_all(request.as_bytes()).is_ok() && stream.read(&mut answer).is_ok_and(|n| n > 0) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto did not answer on port {port} within 60 s");
}
