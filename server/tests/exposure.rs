//! What a stranger on the internet can make Confab show or tell: a link cannot put words on
//! the sign-in page, and errors name no database internals.

mod support;

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
