//! Where a test's data lives: a SQLite directory, or a MongoDB database of its own on the
//! server named by `CONFAB_TEST_MONGODB_URL`.

use std::sync::atomic::{AtomicUsize, Ordering};

use confab::config::Config;

/// A storage backend to run a test on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded store, in a temporary directory.
    Sqlite,
    /// MongoDB (FerretDB under `make test`), a fresh database per test data.
    Mongo,
}

/// One test's data: kept across restarts of the server that uses it. The temporary directory
/// (and so a SQLite database) is deleted when this is dropped; a MongoDB database is left for
/// the test server's owner to throw away (each has a unique name).
pub struct TestData {
    pub backend: Backend,
    /// The data directory (`CONFAB_DATA_DIR`), used by SQLite and by nothing else.
    pub dir: tempfile::TempDir,
    /// With [`Backend::Mongo`], the URL of this data's own database.
    pub database_url: Option<String>,
}

impl TestData {
    /// Empty data on `backend`. Panics when MongoDB is asked for and
    /// `CONFAB_TEST_MONGODB_URL` is not set.
    pub fn fresh(backend: Backend) -> TestData {
        TestData {
            backend,
            dir: tempfile::tempdir().expect("temp dir"),
            database_url: match backend {
                Backend::Sqlite => None,
                Backend::Mongo => Some(mongodb_url(&unique_database_name())),
            },
        }
    }

    /// Points `config` at this data.
    pub fn apply(&self, config: &mut Config) {
        config.data_dir = self.dir.path().to_owned();
        config.database_url = self.database_url.clone().map(Into::into);
    }

    /// The environment variables that point a `confab` process at this data.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("CONFAB_DATA_DIR", self.dir.path().display().to_string())];
        if let Some(url) = &self.database_url {
            env.push(("CONFAB_DATABASE_URL", url.clone()));
        }
        env
    }
}

/// `confab_test_{pid}_{n}`: unique within this test binary's run, and between binaries that
/// run at the same time.
fn unique_database_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "confab_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The URL of `database` on the test MongoDB server (its hosts and options, our database).
pub fn mongodb_url(database: &str) -> String {
    let base = std::env::var("CONFAB_TEST_MONGODB_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "CONFAB_TEST_MONGODB_URL is not set: run `make test`, or start FerretDB with \
                 `.ci/ferretdb start DIR` and export the URL it prints"
            )
        });
    let (scheme, rest) = base
        .trim()
        .split_once("://")
        .expect("CONFAB_TEST_MONGODB_URL is a mongodb:// URL");
    let hosts = rest.split(['/', '?']).next().unwrap_or(rest);
    let options = rest
        .split_once('?')
        .map(|(_, options)| format!("?{options}"))
        .unwrap_or_default();
    format!("{scheme}://{hosts}/{database}{options}")
}
