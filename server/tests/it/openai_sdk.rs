//! The official `openai` Python package, pointed at Confab, works unchanged and its
//! conversation appears in Confab.

use std::process::Command;
use std::time::Duration;

use confab_testdata::ChildProcess;
use serde_json::{json, Value};

use crate::support::TestApp;

#[tokio::test]
async fn the_python_openai_sdk_works_unchanged() {
    let provider = fake_openai::spawn().await;
    let app = TestApp::spawn_with_provider(&provider).await;
    let ada = app.user("ada@example.com").await;
    let secret = ada.new_api_token("python").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/openai_sdk.py");
    let base = app.address.clone();
    let mut command = Command::new("python3");
    command.arg(script).arg(base).arg(secret);
    let output = ChildProcess::spawn("python3", command, "")
        .finish(Duration::from_secs(120))
        .await;
    let stderr = &output.stderr;
    assert!(
        output.status.success(),
        "the SDK script failed (is the `openai` package installed? `.ci/install-tools test` installs it):\n{stderr}"
    );
    let result: Value = serde_json::from_str(&output.stdout).expect("one JSON line");
    assert_eq!(result["plain"], "Echo: hello from python");
    assert_eq!(result["streamed"], "Echo: stream this");
    assert!(result["streamUsage"].as_i64().unwrap() > 0);
    assert!(result["models"]
        .as_array()
        .unwrap()
        .contains(&json!("fake-model")));

    let session = result["session"].as_str().unwrap();
    let page = ada.messages(session).await;
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        contents,
        [
            "hello from python",
            "Echo: hello from python",
            "stream this",
            "Echo: stream this"
        ]
    );
}
