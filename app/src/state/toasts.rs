//! Notices in the corner (toasts): errors, confirmations, and the buttons some of them carry.

use std::time::Duration;

use confab_core::api::UnsavedReply;
use leptos::prelude::*;

use crate::client;

/// Errors are announced at once (role="alert"); the rest politely (role="status").
#[derive(Clone, Debug, PartialEq)]
pub enum ToastKind {
    Error,
    Info,
}

/// One notice in the corner.
#[derive(Clone)]
pub struct Toast {
    pub id: u64,
    pub text: String,
    pub kind: ToastKind,
    /// A button on the notice. Plain data rather than a closure: the page that raised the
    /// notice may be gone (unmounted, its owner disposed) when the button is pressed.
    pub action: Option<ToastAction>,
}

/// What a notice's button does.
#[derive(Clone, Debug, PartialEq)]
pub enum ToastAction {
    /// Undo a deletion: the server restores the session, and it is listed again.
    RestoreSession(String),
    /// Undo the deletion of a selection: the server restores all of it in one request.
    RestoreSessions(Vec<String>),
    /// A reply streamed in full but the server could not save it: save its text again, into
    /// the stored reply `unsaved` names (or, from a server that names none, as a new reply).
    SaveReply {
        session_id: String,
        parent_id: Option<String>,
        text: String,
        unsaved: Option<UnsavedReply>,
    },
}

/// The notices shown, each dismissed by itself after its time.
#[derive(Clone, Copy)]
pub struct Toasts {
    pub list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    pub(super) fn new() -> Toasts {
        Toasts {
            list: RwSignal::new(Vec::new()),
            next: StoredValue::new(1),
        }
    }

    /// Shows a notice for `lasts`; returns its id (for `dismiss`).
    pub fn push(
        &self,
        text: impl Into<String>,
        kind: ToastKind,
        action: Option<ToastAction>,
        lasts: Duration,
    ) -> u64 {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|list| {
            list.push(Toast {
                id,
                text: text.into(),
                kind,
                action,
            })
        });
        let toasts = *self;
        client::after(lasts, move || toasts.dismiss(id));
        id
    }

    /// An error, shown long enough to be read (8 s).
    pub fn error(&self, text: impl Into<String>) {
        self.push(text, ToastKind::Error, None, Duration::from_secs(8));
    }

    /// A confirmation (4 s).
    pub fn info(&self, text: impl Into<String>) {
        self.push(text, ToastKind::Info, None, Duration::from_secs(4));
    }

    /// Takes a notice away (its close button, its action, its time).
    pub fn dismiss(&self, id: u64) {
        self.list.update(|list| list.retain(|toast| toast.id != id));
    }
}

/// The notices, from context.
pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}
