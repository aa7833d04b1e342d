//! Confab's user interface: Leptos components rendered on the server and hydrated in the
//! browser, reaching the data through server functions.

#![recursion_limit = "512"]

pub mod client;
pub mod components;
pub mod error;
pub mod markdown;
pub mod pages;
pub mod server_fns;
pub mod state;
pub mod words;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::auth::provide_auth();
    view! {
        <Stylesheet id="leptos" href="/pkg/confab.css"/>
        <Title text="Confab"/>
        <Router>
            <Frame/>
        </Router>
    }
}

/// Everything inside the router. The shared state is provided here, not in `App`: the open
/// conversation is the one the URL names.
#[component]
fn Frame() -> impl IntoView {
    state::provide_state(components::auth::use_auth());
    components::drawer::provide_drawer();
    view! {
        <components::workspace::Shortcuts/>
        <components::header::Header/>
        <main class="main">
            // Whole pages are rendered before they are sent (SsrMode::Async): readable at once,
        // without waiting for the WASM, and usable with JavaScript off.
        <Routes fallback=|| view! { <pages::not_found::NotFound/> }>
                // The signed-in pages share one layout: the sidebar stays mounted (with its
                // scroll position and the pages it has loaded) while the page beside it
                // changes. The administration has its own gate, so it stays outside.
                <ParentRoute path=path!("") view=components::workspace::WorkspaceLayout ssr=SsrMode::Async>
                    <Route path=path!("/") view=pages::home::HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/new") view=pages::home::NewChatPage ssr=SsrMode::Async/>
                    <Route path=path!("/c/:id") view=pages::chat::ChatPage ssr=SsrMode::Async/>
                    <Route path=path!("/import") view=pages::import::ImportPage ssr=SsrMode::Async/>
                    <Route path=path!("/starred") view=pages::starred::StarredPage ssr=SsrMode::Async/>
                </ParentRoute>
                <Route path=path!("/admin") view=pages::admin::AdminPage ssr=SsrMode::Async/>
                <Route path=path!("/reset-password") view=pages::reset_password::ResetPasswordPage ssr=SsrMode::Async/>
            </Routes>
        </main>
        <components::toasts::ToastRegion/>
    }
}
