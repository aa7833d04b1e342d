//! Chooses the storage backend once, at start-up, from the configuration.

use std::sync::Arc;

use secrecy::ExposeSecret;

use confab_core::store::sqlite::{Durability, SqliteOptions, SqliteStore};
use confab_core::store::{DynStore, StoreError};

use crate::config::{Config, SqliteSync};

pub async fn open(config: &Config) -> Result<DynStore, StoreError> {
    let url = config
        .database_url
        .as_ref()
        .map(ExposeSecret::expose_secret);
    match url.map(str::trim) {
        Some(url) if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") => {
            open_mongo(url).await
        }
        Some(url) if url.starts_with("sqlite:") => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            open_sqlite(config, path.into()).await
        }
        Some(other) if !other.is_empty() => Err(StoreError::Backend(unsupported(other))),
        _ => open_sqlite(config, config.data_dir.join("confab.db")).await,
    }
}

/// Why a database URL is refused, naming its scheme at most: the rest of a URL may hold a
/// password, and this message is printed and logged.
fn unsupported(url: &str) -> String {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme)
        .filter(|scheme| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
    match scheme {
        Some(scheme) => {
            format!("unsupported database URL scheme {scheme}://: use mongodb://... or sqlite:PATH")
        }
        None => "unsupported database URL: use mongodb://... or sqlite:PATH".to_owned(),
    }
}

async fn open_sqlite(config: &Config, path: std::path::PathBuf) -> Result<DynStore, StoreError> {
    let durability = match config.sqlite_sync {
        SqliteSync::Normal => Durability::Normal,
        SqliteSync::Full => Durability::Full,
    };
    let options = SqliteOptions {
        durability,
        ..SqliteOptions::new(path)
    };
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(options))
        .await
        .map_err(|error| StoreError::Backend(error.to_string()))??;
    Ok(Arc::new(store))
}

async fn open_mongo(url: &str) -> Result<DynStore, StoreError> {
    let store = confab_core::store::mongo::MongoStore::connect(url).await?;
    tracing::info!("opened MongoDB store");
    Ok(Arc::new(store))
}
