//! What a stranger on the internet can make Confab show or tell: a link cannot put words on
//! the sign-in page, and errors name no database internals.

mod support;

use std::process::Command;

use reqwest::StatusCode;
use support::TestApp;

/// The text of the sign-in page's provider error, without Leptos' hydration markers.
fn provider_error(html: &str) -> Option<String> {
    let start = html.find("provider-error")?;
    let text_start = start + html.get(start..)?.find('>')? + 1;
    let text_end = text_start + html.get(text_start..)?.find("</p>")?;
    let text = html.get(text_start..text_end)?.replace("<!>", "");
    Some(text)
}

#[tokio::test]
async fn a_link_cannot_put_words_on_the_sign_in_page() {
    let app = TestApp::spawn().await;
    let known = app.client().get("/?auth_error=denied").await;
    assert_eq!(known.status(), StatusCode::OK);
    let html = known.text().await.unwrap();
    assert_eq!(
        provider_error(&html).as_deref(),
        Some("Sign-in failed: the sign-in was cancelled or refused at the provider."),
        "{html}"
    );

    let forged = "Your%20account%20is%20locked.%20Call%20%2B1%20555%200100%20<b>now</b>";
    let page = app.client().get(&format!("/?auth_error={forged}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert_eq!(
        provider_error(&html).as_deref(),
        Some("Sign-in failed: the sign-in could not be completed; try again."),
        "{html}"
    );
    assert!(!html.contains("locked"), "{html}");

    let plain = app.client().get("/").await.text().await.unwrap();
    assert_eq!(provider_error(&plain), None, "no error without a code");
}

/// What `confab serve` prints when it cannot open the database at `url`.
fn start_up_error(url: &str) -> (Option<i32>, String, String) {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_confab"))
        .arg("serve")
        .env("CONFAB_DATABASE_URL", url)
        .env("CONFAB_DATA_DIR", data.path())
        .env("CONFAB_ADDR", "127.0.0.1:0")
        .env("CONFAB_LOG", "info")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_refused_database_url_is_not_printed_with_its_password() {
    let (code, stdout, stderr) =
        start_up_error("postgres://confab:s3cret-pass@db.example.com/confab");
    assert_eq!(code, Some(1));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "confab: database error: unsupported database URL scheme postgres://: use mongodb://... or sqlite:PATH\n"
    );

    let (code, stdout, stderr) = start_up_error("confab:s3cret-pass@db.example.com");
    assert_eq!(code, Some(1));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "confab: database error: unsupported database URL: use mongodb://... or sqlite:PATH\n"
    );
}

#[test]
fn a_malformed_mongodb_url_is_not_printed_with_its_password() {
    for url in [
        "mongodb://confab:s3cret-pass@db.example.com:notaport/confab",
        "mongodb://confab:s3cret-pass@/confab",
        "mongodb://confab:s3cret-pass@db.example.com/confab?unknownOption=s3cret-pass",
        "mongodb+srv://confab:s3cret-pass@db.example.com:27017/confab",
    ] {
        let (code, stdout, stderr) = start_up_error(url);
        assert_eq!(code, Some(1), "{url}: {stderr}");
        assert_eq!(stdout, "", "{url}");
        assert!(
            stderr.starts_with("confab: database error: invalid MongoDB URL: "),
            "{url}: {stderr}"
        );
        assert!(!stderr.contains("s3cret"), "{url}: {stderr}");
    }
}
