//! confab-core's integration tests: one binary, each module a suite named as its file (run one
//! with `cargo test -p confab-core --test it sqlite_store::`). The conformance stories run on
//! both backends: `sqlite_store` and `mongo_store` (which needs `CONFAB_TEST_MONGODB_URL`).

mod conformance;
mod import_support;

mod import_corpus;
mod import_formats;
mod import_memory;
mod mongo_store;
mod sqlite_store;
