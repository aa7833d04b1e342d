//! An operator configures Confab with a file: the real binary reads `confab.toml` from its
//! working directory, a variable wins over the file, and a misspelt key stops Confab before it
//! serves anyone, naming the key and the file.

use std::path::Path;

use confab_testdata::ChildProcess;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{confab, listening_url, run_to_end};

/// `confab serve` started in `dir` with `variables`; killed when dropped.
struct Running {
    _process: ChildProcess,
    url: String,
}

impl Running {
    async fn start(dir: &Path, variables: &[(&str, &str)]) -> Running {
        let mut command = confab();
        command.arg("serve").current_dir(dir);
        for (name, value) in variables {
            command.env(name, value);
        }
        let mut process = ChildProcess::spawn("confab", command, "");
        let url = listening_url(&mut process).await;
        Running {
            _process: process,
            url,
        }
    }

    /// Signs up with a body of about `size` bytes.
    async fn sign_up_with_a_body_of(&self, size: usize) -> StatusCode {
        reqwest::Client::new()
            .post(format!("{}/api/auth/signup", self.url))
            .json(&json!({
                "email": "ada@example.com",
                "password": "correct horse battery staple",
                "padding": "x".repeat(size),
            }))
            .send()
            .await
            .expect("the request is answered")
            .status()
    }
}

/// The directory Confab runs in, with `confab.toml` holding `settings` and a data directory.
fn directory_with_file(settings: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = format!(
        "addr = \"127.0.0.1:0\"\ndata_dir = {:?}\nlog = \"warn\"\n{settings}",
        dir.path().join("data").display().to_string()
    );
    std::fs::write(dir.path().join("confab.toml"), text).expect("the file is written");
    dir
}

#[tokio::test]
async fn confab_reads_the_file_in_its_directory_and_a_variable_wins_over_it() {
    let dir = directory_with_file("max_body_bytes = 2048\n");
    let from_file = Running::start(dir.path(), &[]).await;
    assert_eq!(
        from_file.sign_up_with_a_body_of(4096).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    drop(from_file);

    let from_variable = Running::start(dir.path(), &[("CONFAB_MAX_BODY_BYTES", "65536")]).await;
    assert_eq!(
        from_variable.sign_up_with_a_body_of(4096).await,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_misspelt_key_stops_confab_naming_the_key_and_the_file() {
    let dir = directory_with_file("max_body_byte = 2048\n");
    let mut command = confab();
    command.arg("serve").current_dir(dir.path());
    let output = run_to_end(command).await;
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        output.stderr,
        "confab: confab.toml: unknown key `max_body_byte`\n"
    );
    assert_eq!(output.stdout, "");
}

#[tokio::test]
async fn the_help_explains_the_file_and_the_variables_named_after_a_provider() {
    let mut command = confab();
    command.arg("--help");
    let output = run_to_end(command).await;
    assert_eq!(output.status.code(), Some(0));
    let help = output.stdout;
    for expected in [
        "--config <PATH>",
        "[env: CONFAB_CONFIG",
        "--github-client-secret <GITHUB_CLIENT_SECRET>",
        "CONFAB_PROVIDER_<NAME>_API_KEY",
        "CONFAB_OIDC_<NAME>_CLIENT_SECRET",
        "[[oidc_providers]]  name, issuer, client_id, client_secret, scopes (a list), display_name",
    ] {
        assert!(help.contains(expected), "{expected} is not in:\n{help}");
    }
}
