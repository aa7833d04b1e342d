//! `Caddy`: Debian's Caddy running the README's Caddyfile block (read from README.md, so the
//! documented configuration is the tested one) in front of a Confab server. The README's site
//! is a domain, for which Caddy would obtain a certificate; here it is served over plain HTTP
//! on a loopback port, which leaves the `reverse_proxy` directive, the part that concerns
//! Confab, as written.

use std::process::Command;

use super::proxy::{binary, readme_block, ProxyProcess};

/// What the README's block serves and proxies to; the test replaces both.
const README_SITE: &str = "chat.example.com {";
const README_UPSTREAM: &str = "reverse_proxy 127.0.0.1:3000 {";

/// Caddy with the README's configuration.
pub struct Caddy;

impl Caddy {
    /// Starts Caddy on `port` with the README's block, proxying to `upstream`
    /// (`http://127.0.0.1:PORT`), and waits until it accepts connections.
    pub fn start(port: u16, upstream: &str) -> ProxyProcess {
        let dir = tempfile::tempdir().expect("caddy directory");
        let config = dir.path().join("Caddyfile");
        std::fs::write(&config, configuration(port, upstream)).expect("write Caddyfile");
        let mut command = Command::new(binary("caddy"));
        command
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&config)
            // Caddy keeps its state under these; none of it may touch the user's own.
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CONFIG_HOME", dir.path().join("config"));
        ProxyProcess::spawn("caddy", command, dir, port)
    }
}

/// The README's Caddyfile block serving `http://127.0.0.1:{port}` and proxying to `upstream`,
/// after global options that let several Caddys run at once (no admin endpoint on :2019).
fn configuration(port: u16, upstream: &str) -> String {
    let block = readme_block("caddyfile");
    assert!(
        block.contains(README_SITE) && block.contains(README_UPSTREAM),
        "README's Caddyfile block no longer has `{README_SITE}` and `{README_UPSTREAM}`:\n{block}"
    );
    let upstream_host = upstream
        .strip_prefix("http://")
        .expect("upstream is http://HOST:PORT");
    let block = block
        .replace(README_SITE, &format!("http://127.0.0.1:{port} {{"))
        .replace(
            README_UPSTREAM,
            &format!("reverse_proxy {upstream_host} {{"),
        );
    format!("{{\n    admin off\n}}\n\n{block}")
}
