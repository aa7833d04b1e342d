//! `Nginx`: Debian's nginx running the README's configuration block (read from README.md, so
//! the documented configuration is the tested one) in front of a Confab server.

use std::path::Path;
use std::process::Command;

use super::proxy::{binary, readme_block, ProxyProcess};

/// What the README's block listens on and proxies to; the test replaces both.
const README_LISTEN: &str = "listen 80;";
const README_UPSTREAM: &str = "proxy_pass http://127.0.0.1:3000;";

/// nginx with the README's configuration.
pub struct Nginx;

impl Nginx {
    /// Starts nginx on `port` with the README's block, proxying to `upstream`
    /// (`http://127.0.0.1:PORT`), and waits until it accepts connections.
    pub fn start(port: u16, upstream: &str) -> ProxyProcess {
        let dir = tempfile::tempdir().expect("nginx directory");
        let config = dir.path().join("nginx.conf");
        std::fs::write(&config, configuration(dir.path(), port, upstream))
            .expect("write nginx.conf");
        let prefix = format!("{}/", dir.path().display());
        let globals = format!(
            "daemon off; master_process off; pid {}/nginx.pid; error_log stderr;",
            dir.path().display()
        );
        let mut command = Command::new(binary("nginx"));
        command
            .args(["-p", &prefix, "-c"])
            .arg(&config)
            .args(["-g", &globals]);
        ProxyProcess::spawn("nginx", command, dir, port)
    }
}

/// The README's nginx block, listening on `port` and proxying to `upstream`, inside the
/// `events` and `http` contexts that Debian's main nginx.conf would give it, with every file
/// nginx writes kept in `dir`.
fn configuration(dir: &Path, port: u16, upstream: &str) -> String {
    let block = readme_block("nginx");
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
