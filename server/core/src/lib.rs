//! Confab's core: the domain model (shared with the browser), and on the server the storage
//! backends, the service layer that owns every rule, and authentication.

pub mod api;
pub mod chat_stream;
pub mod folders;
mod labels;
pub mod model;
#[cfg(feature = "server")]
pub mod provider;
pub mod search_syntax;
pub mod sign_in_failure;
pub mod tags;

#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod gate;
#[cfg(feature = "server")]
pub mod ids;
#[cfg(feature = "server")]
pub mod meter;
#[cfg(feature = "server")]
pub mod service;
#[cfg(feature = "server")]
pub mod store;

#[cfg(test)]
mod tests {
    /// The core knows nothing of HTTP serving: no web framework and no session layer among its
    /// dependencies (`confab-http` holds the adapters). tower and tower-http may still come in
    /// through the HTTP clients (reqwest), which is why only these crates are named.
    #[test]
    fn the_core_depends_on_no_http_server_crate() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = std::process::Command::new(cargo)
            .args(["tree", "--offline", "-p", "confab-core", "-e", "normal"])
            .args(["--prefix", "none", "--format", "{p}"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let tree = String::from_utf8(output.stdout).expect("UTF-8");
        let forbidden: Vec<&str> = tree
            .lines()
            .filter(|line| {
                let name = line.split_whitespace().next().unwrap_or_default();
                [
                    "axum",
                    "axum-core",
                    "tower-sessions",
                    "tower-sessions-core",
                    "leptos_axum",
                ]
                .contains(&name)
            })
            .collect();
        assert!(forbidden.is_empty(), "{forbidden:?}");
        assert!(
            tree.lines().any(|line| line.starts_with("reqwest ")),
            "{tree}"
        );
    }
}
