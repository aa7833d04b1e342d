//! Authentication: password hashing, API token secrets, sign-in sessions stored through the
//! `Store`, login rate limiting and the `CurrentUser` extractor.

pub mod current_user;
pub mod password;
pub mod rate_limit;
pub mod session_store;
pub mod tokens;

pub use current_user::CurrentUser;

/// The key under which a sign-in session holds the user id.
pub const SESSION_USER_KEY: &str = "user_id";
