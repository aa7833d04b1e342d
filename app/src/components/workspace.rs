//! The signed-in frame the pages share (sidebar + conversation pane), the layout route that
//! keeps it mounted, the gate that shows the sign-in forms otherwise, and the keyboard
//! shortcuts.

use leptos::prelude::*;
use leptos_router::components::Outlet;
use leptos_router::hooks::use_navigate;

use super::auth::{use_auth, AuthPanel};
use super::drawer::{use_drawer, DrawerFrame};
use super::session_list::{SessionSelect, SessionSidebar};
use crate::client;
use crate::state::error_text;

/// Its children when someone is signed in, the sign-in forms otherwise.
#[component]
pub fn SignedIn(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    view! {
        <Transition fallback=|| view! { <p class="muted center">"Loading…"</p> }>
            {move || auth.user.get().map(|user| match user {
                Ok(Some(_)) => children().into_any(),
                Ok(None) => view! { <AuthPanel/> }.into_any(),
                Err(error) => view! { <p class="form-error center" role="alert">{error_text(&error)}</p> }.into_any(),
            })}
        </Transition>
    }
}

/// The view of the layout route around `/`, `/new`, `/c/{id}`, `/import` and `/starred`. Mounted once for
/// all of them: moving between conversations changes only the `<Outlet/>`, so the sidebar is
/// not rebuilt (no flash, its scroll position and loaded pages kept).
#[component]
pub fn WorkspaceLayout() -> impl IntoView {
    view! {
        <SignedIn>
            <Workspace>
                <Outlet/>
            </Workspace>
        </SignedIn>
    }
}

/// The sidebar beside a page (on narrow screens, in a drawer over it, and the session selector
/// above the page).
#[component]
pub fn Workspace(children: Children) -> impl IntoView {
    let drawer = use_drawer();
    view! {
        <div class="workspace">
            <DrawerFrame>
                <SessionSidebar/>
            </DrawerFrame>
            // Out of reach while the drawer is over it.
            <section class="conversation-pane" aria-label="Conversation" inert=move || drawer.is_open.get()>
                <SessionSelect/>
                {children()}
            </section>
        </div>
    }
}

/// Ctrl+Shift+O: new chat. Ctrl+K or "/": search.
#[component]
pub fn Shortcuts() -> impl IntoView {
    let navigate = use_navigate();
    let handle = window_event_listener(leptos::ev::keydown, move |event| {
        let control = event.ctrl_key() || event.meta_key();
        let key = event.key();
        if control && event.shift_key() && key.eq_ignore_ascii_case("o") {
            event.prevent_default();
            navigate("/new", Default::default());
            client::after(std::time::Duration::from_millis(50), || {
                client::focus("composer-input")
            });
        } else if (control && key.eq_ignore_ascii_case("k"))
            || (key == "/" && !control && !client::typing_in_field())
        {
            event.prevent_default();
            client::focus("search");
        }
    });
    on_cleanup(move || handle.remove());
}
