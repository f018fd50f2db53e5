//! Starts moto_server on a free 127.0.0.1 port and stops it on drop.
//!
//! moto_server runs werkzeug's dev server with `threaded=True`, and moto's DynamoDB applies an `UpdateItem`
//! as an unlocked read-modify-write: two concurrent `ADD`s to one item can lose an update (seen here: the
//! store's totals fell short of what the participants were granted). DynamoDB itself applies updates to an
//! item atomically, so the tests run moto's own `main` with `threaded=False`: one request at a time, which is
//! the per-item atomicity the lease protocol relies on. The interpreter is the one next to `moto_server`.

/// Runs moto_server's `main` with werkzeug's `run_simple` forced to serve one request at a time.
const SERIAL_MOTO: &str = "import sys, moto.server as s; rs = s.run_simple; \
s.run_simple = lambda *a, **k: rs(*a, **{**k, 'threaded': False}); s.main(sys.argv[1:])";

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    python: PathBuf,
    port: u16,
    child: Option<Child>,
    log: PathBuf,
}

fn moto_bin() -> PathBuf {
    let bin = std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server"));
    assert!(
        bin.exists(),
        "moto_server not found at {}: run `bash scripts/python-tools` (installs moto[server] into .venv) or set MOTO_SERVER",
        bin.display()
    );
    bin
}

impl Moto {
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::env::temp_dir().join(format!("logtrim-moto-{}-{port}.log", std::process::id()));
        let bin = moto_bin();
        let python = bin.with_file_name("python3");
        assert!(python.exists(), "no python3 next to {}", bin.display());
        let mut m = Moto { python, port, child: None, log };
        m.restart();
        m
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server (its state is lost).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let log = File::create(&self.log).unwrap();
        let child = Command::new(&self.python)
            .args(["-c", SERIAL_MOTO, "-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.python.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("moto_server exited with {status}: {}", std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "moto_server did not listen on port {} within 60 s", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}
