//! `Nginx`: Debian's nginx as a child process, on a free local port, running the README's
//! configuration block (read from README.md, so the documented configuration is the tested
//! one) in front of a Confab server.

use std::fs::File;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::Client_;

/// What the README's block listens on and proxies to; the test replaces both.
const README_LISTEN: &str = "listen 80;";
const README_UPSTREAM: &str = "proxy_pass http://127.0.0.1:3000;";
/// How long nginx may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// nginx running the README's configuration, stopped on drop.
pub struct Nginx {
    /// `http://127.0.0.1:PORT`: the address browsers reach Confab at.
    pub address: String,
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Nginx {
    /// A local port free right now, for nginx to listen on (chosen before Confab starts, whose
    /// public URL it is).
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port()
    }

    /// Starts nginx on `port` with the README's block, proxying to `upstream`
    /// (`http://127.0.0.1:PORT`), and waits until it accepts connections.
    pub fn start(port: u16, upstream: &str) -> Nginx {
        let binary = binary();
        let dir = tempfile::tempdir().expect("nginx directory");
        let config = dir.path().join("nginx.conf");
        std::fs::write(&config, configuration(dir.path(), port, upstream))
            .expect("write nginx.conf");
        let log = dir.path().join("stderr.log");
        let prefix = format!("{}/", dir.path().display());
        let globals = format!(
            "daemon off; master_process off; pid {}/nginx.pid; error_log stderr;",
            dir.path().display()
        );
        let child = Command::new(&binary)
            .args(["-p", &prefix, "-c"])
            .arg(&config)
            .args(["-g", &globals])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("nginx log"))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        let mut nginx = Nginx {
            address: format!("http://127.0.0.1:{port}"),
            child,
            log,
            _dir: dir,
        };
        nginx.wait_until_listening(port);
        nginx
    }

    /// A browser-like client of Confab through nginx whose connections come from `source`
    /// (an address of 127.0.0.0/8): nginx sees each such client at its own address.
    pub fn client_from(&self, source: &str) -> Client_ {
        Client_::browser_from(&self.address, source)
    }

    fn wait_until_listening(&mut self, port: u16) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited ({status}) at start:\n{}", self.output());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            if started.elapsed() > START_TIMEOUT {
                panic!(
                    "nginx did not listen on {port} within {START_TIMEOUT:?}:\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What nginx wrote to stderr.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx's binary; a missing one fails the test with the command that installs it (as a
/// missing FerretDB does): a skipped proxy test would prove nothing.
fn binary() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")]);
    for directory in candidates {
        let binary = directory.join("nginx");
        if binary.is_file() {
            return binary;
        }
    }
    panic!("nginx is not installed: run `.ci/install-tools test` (or `apt-get install -y nginx`)")
}

/// The README's nginx block, listening on `port` and proxying to `upstream`, inside the
/// `events` and `http` contexts that Debian's main nginx.conf would give it, with every file
/// nginx writes kept in `dir`.
fn configuration(dir: &Path, port: u16, upstream: &str) -> String {
    let block = readme_block();
    assert!(
        block.contains(README_LISTEN) && block.contains(README_UPSTREAM),
        "README's nginx block no longer has `{README_LISTEN}` and `{README_UPSTREAM}`:\n{block}"
    );
    let upstream_host = upstream
        .strip_prefix("http://")
        .expect("upstream is http://HOST:PORT");
    let block = block
        .replace(README_LISTEN, &format!("listen 127.0.0.1:{port};"))
        .replace(
            README_UPSTREAM,
            &format!("proxy_pass http://{upstream_host};"),
        );
    let dir = dir.display();
    format!(
        "events {{ worker_connections 64; }}\n\
         http {{\n\
         access_log off;\n\
         client_body_temp_path {dir}/client_body;\n\
         proxy_temp_path {dir}/proxy;\n\
         fastcgi_temp_path {dir}/fastcgi;\n\
         uwsgi_temp_path {dir}/uwsgi;\n\
         scgi_temp_path {dir}/scgi;\n\
         {block}\n\
         }}\n"
    )
}

/// The one ```` ```nginx ```` block of README.md.
fn readme_block() -> String {
    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let text = std::fs::read_to_string(readme).expect("README.md");
    let start = text
        .find("```nginx\n")
        .expect("README.md has an ```nginx block")
        + "```nginx\n".len();
    let length = text[start..]
        .find("```")
        .expect("README.md's nginx block ends");
    text[start..start + length].to_owned()
}
