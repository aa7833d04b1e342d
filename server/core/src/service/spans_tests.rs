//! The service methods run in spans named after them, with the ids they act on; a client's
//! mistake is logged at DEBUG, never at ERROR, and no secret is logged.

use std::sync::Arc;

use confab_testdata::CapturedLog;

use crate::service::{ServiceConfig, ServiceError, Services};
use crate::store::sqlite::{SqliteOptions, SqliteStore};
use crate::store::DynStore;

#[tokio::test]
async fn a_service_method_logs_in_its_span_and_a_client_mistake_is_not_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: DynStore = Arc::new(
        SqliteStore::open(SqliteOptions::new(dir.path().join("confab.db"))).expect("open store"),
    );
    let services = Services::new(store, ServiceConfig::default());
    let captured = CapturedLog::default();
    let subscriber = captured.subscriber(tracing::Level::DEBUG);
    // This test's runtime has one thread, so everything below logs to `captured`.
    let _logging = tracing::subscriber::set_default(subscriber);

    let user = services
        .signup("spans@example.com", "a secret password", None, "test")
        .await
        .expect("signup");
    let missing = crate::ids::new_id();
    let error = services
        .get_session(&user, &missing)
        .await
        .expect_err("no such session");
    assert!(matches!(error, ServiceError::NotFound), "{error:?}");
    let wrong = services
        .login("spans@example.com", "a wrong secret", "test")
        .await
        .expect_err("a wrong password");
    assert!(matches!(wrong, ServiceError::BadCredentials), "{wrong:?}");

    let logged = captured.text();
    let span = format!("get_session{{user_id={} session_id={missing}}}", user.id);
    let line = logged
        .lines()
        .find(|line| line.contains(&span))
        .unwrap_or_else(|| panic!("{span} in {logged}"));
    assert!(line.contains(" DEBUG "), "{line}");
    assert!(
        line.ends_with("confab_core::service::chat: error=not found"),
        "{line}"
    );
    assert!(
        logged.lines().any(|line| line.contains(" DEBUG login: ")
            && line.contains("error=invalid email or password")),
        "{logged}"
    );
    assert!(!logged.contains(" ERROR "), "{logged}");
    assert!(!logged.contains("secret"), "{logged}");
    assert!(!logged.contains("spans@example.com"), "{logged}");
}
