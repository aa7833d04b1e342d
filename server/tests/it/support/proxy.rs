//! `ProxyProcess`: a reverse proxy (Debian's nginx or Caddy) running as a child process on a
//! free loopback port in front of a Confab server, stopped on drop. `Nginx` and `Caddy` write
//! its configuration from the README's block for it.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use confab_testdata::ChildProcess;
use tempfile::TempDir;

use super::Client_;

/// How long a proxy may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A reverse proxy as a child process, stopped on drop.
pub struct ProxyProcess {
    /// `http://127.0.0.1:PORT`: the address browsers reach Confab at.
    pub address: String,
    process: ChildProcess,
    /// Its files; removed after the process is stopped (fields drop in order).
    _dir: TempDir,
}

impl ProxyProcess {
    /// A local port free right now, for the proxy to listen on (chosen before Confab starts,
    /// whose public URL it is).
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port()
    }

    /// Runs `command` (the proxy `name`, its files in `dir`) and waits until it accepts
    /// connections on `port`.
    pub fn spawn(name: &'static str, command: Command, dir: TempDir, port: u16) -> Self {
        let mut proxy = ProxyProcess {
            address: format!("http://127.0.0.1:{port}"),
            process: ChildProcess::spawn(name, command, ""),
            _dir: dir,
        };
        proxy.wait_until_listening(port);
        proxy
    }

    /// A browser-like client of Confab through the proxy whose connections come from `source`
    /// (an address of 127.0.0.0/8): the proxy sees each such client at its own address.
    pub fn client_from(&self, source: &str) -> Client_ {
        Client_::browser_from(&self.address, source)
    }

    fn wait_until_listening(&mut self, port: u16) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.process.exited() {
                self.process.fail(&format!("exited ({status}) at start"));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if started.elapsed() > START_TIMEOUT {
                self.process.fail(&format!(
                    "did not listen on {port} within {START_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The binary `name` on PATH or in `/usr/sbin`; a missing one fails the test with the command
/// that installs it (as a missing FerretDB does): a skipped proxy test would prove nothing.
pub fn binary(name: &str) -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")]);
    for directory in candidates {
        let binary = directory.join(name);
        if binary.is_file() {
            return binary;
        }
    }
    panic!("{name} is not installed: run `.ci/install-tools test` (or `apt-get install -y {name}`)")
}

/// The one ```` ```LANGUAGE ```` block of README.md (a proxy's documented configuration, which
/// the proxy tests run as written).
pub fn readme_block(language: &str) -> String {
    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let text = std::fs::read_to_string(readme).expect("README.md");
    let fence = format!("```{language}\n");
    let start = text
        .find(&fence)
        .unwrap_or_else(|| panic!("README.md has no {fence:?} block"))
        + fence.len();
    let length = text[start..]
        .find("```")
        .unwrap_or_else(|| panic!("README.md's {language} block does not end"));
    text[start..start + length].to_owned()
}
