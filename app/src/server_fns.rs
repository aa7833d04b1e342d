//! Server functions: the UI's way to the service layer. Each is a thin adapter, exactly like
//! the REST handlers; the rules live in `confab_core::service`.

use crate::error::AppError;
use chrono::{DateTime, Utc};
use confab_core::api::{
    AdminSettings, AuditPage, FolderFilter, FolderPatchInput, Invitation, ModelChoices,
    SessionsBulkAction, SessionsBulkResult, SignInChoices, SignupPolicy, UserPage,
};
use confab_core::model::{
    BranchEntry, BranchPage, Folder, Message, Page, SearchHit, Session, SiblingPlace,
    StarredMessage, User,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A message on the active branch with its place among its alternatives ("‹ 1/2 ›").
pub type MessageView = BranchEntry;

/// A message whose alternatives are not known yet (the next load fills them in).
pub fn single_view(message: Message) -> MessageView {
    BranchEntry {
        message,
        siblings: SiblingPlace {
            count: 1,
            index: 0,
            previous_id: None,
            next_id: None,
        },
    }
}

/// A session with a page of its active branch (`earlier`/`later`: the cursors of the pages
/// above and below).
pub type SessionView = BranchPage;

/// How many messages of a branch one load brings.
pub const MESSAGE_PAGE: usize = 50;

#[cfg(feature = "ssr")]
pub(crate) mod server {
    use confab_core::auth::client::Client;
    use confab_core::model::User;
    use confab_core::service::{ServiceError, Services};
    use confab_http::current_user::resolve;
    use http::request::Parts;

    use crate::error::AppError;
    use leptos::prelude::*;

    pub fn services() -> Result<Services, AppError> {
        use_context::<Services>()
            .ok_or_else(|| to_error(ServiceError::Internal("services are not installed".into())))
    }

    fn parts() -> Result<Parts, AppError> {
        use_context::<Parts>()
            .ok_or_else(|| to_error(ServiceError::Internal("no request context".into())))
    }

    /// The error a server function returns: the code and sentence the REST API gives for the
    /// same service error (`confab_http::error::public_error`, which logs an internal error's
    /// details and hides them), answered with the REST API's status for it (401, 404, 429
    /// with `Retry-After`, …). Without that, server_fn answers every error 500: a wrong
    /// password would be logged as a server failure and counted as one.
    pub fn to_error(error: ServiceError) -> AppError {
        let detail = confab_http::error::public_error(&error);
        answer_status(
            confab_http::error::status_of(&error),
            error.retry_after_secs(),
        );
        AppError::new(detail.code, detail.message)
    }

    /// Answers this server function call with `status` (and `Retry-After`), where a status
    /// is its answer at all (`answered_with_status`): the one place a server function's
    /// failure sets its status, for service errors and for calls it cannot read alike.
    pub fn answer_status(status: http::StatusCode, retry_after_secs: Option<u64>) {
        let Some(response) =
            use_context::<leptos_axum::ResponseOptions>().filter(|_| answered_with_status())
        else {
            return;
        };
        response.set_status(status);
        if let Some(seconds) = retry_after_secs {
            response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
    }

    /// Whether this request is a server function called by a program (the WASM client, a
    /// test), whose answer's status is the error's. A page rendered on the server keeps its
    /// own status, and so does a browser's plain form post, which leptos_axum answers with a
    /// redirect back to the page (a 4xx would leave the browser on a blank answer).
    fn answered_with_status() -> bool {
        let Some(parts) = use_context::<Parts>() else {
            return false;
        };
        let plain_form_post = parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
            && parts.headers.contains_key(http::header::REFERER);
        parts.uri.path().starts_with("/rpc/") && !plain_form_post
    }

    /// The signed-in user, or None.
    pub async fn optional_user() -> Result<Option<User>, AppError> {
        let mut parts = parts()?;
        match resolve(&mut parts, &services()?).await {
            Ok((user, _)) => Ok(Some(user)),
            Err(ServiceError::Unauthorized) => Ok(None),
            Err(error) => Err(to_error(error)),
        }
    }

    pub async fn user() -> Result<User, AppError> {
        optional_user()
            .await?
            .ok_or_else(|| to_error(ServiceError::Unauthorized))
    }

    pub fn session() -> Result<tower_sessions::Session, AppError> {
        parts()?
            .extensions
            .get::<tower_sessions::Session>()
            .cloned()
            .ok_or_else(|| {
                to_error(ServiceError::Internal(
                    "sign-in sessions are not installed".into(),
                ))
            })
    }

    /// The sign-in and sign-up limiters' key for the client, from the [`Client`] the server resolved
    /// (through its trusted proxies), never from the socket: behind a proxy that is the proxy.
    pub fn client_address() -> String {
        parts()
            .ok()
            .and_then(|parts| parts.extensions.get::<Client>().map(Client::address_key))
            .unwrap_or_else(|| "unknown".into())
    }

    #[cfg(test)]
    mod tests {
        use confab_core::service::error::STORAGE_FULL_MESSAGE;
        use confab_core::service::ServiceError;
        use confab_core::store::StoreError;

        use crate::state::error_text;

        /// What a person reads when a server function's write finds the disk full.
        #[test]
        fn a_full_disk_reads_plainly_in_the_ui() {
            let error = super::to_error(ServiceError::from(StoreError::Full));
            assert_eq!(error_text(&error), STORAGE_FULL_MESSAGE);
            assert_eq!(
                STORAGE_FULL_MESSAGE,
                "the server's storage is full, so nothing was saved; try again once space is freed"
            );
        }
    }
}

#[server(prefix = "/rpc")]
pub async fn current_user() -> Result<Option<User>, AppError> {
    server::optional_user().await
}

/// Creates an account and signs it in; `invitation` is the secret of an invitation's link,
/// which lets the account be created while sign-up is closed.
#[server(prefix = "/rpc")]
pub async fn sign_up(
    email: String,
    password: String,
    name: Option<String>,
    // The secret of the invitation link the page was opened with (`?invitation=`), if any.
    #[server(default)] invitation: Option<String>,
) -> Result<User, AppError> {
    let services = server::services()?;
    let signed_in = services
        .signup_with_invitation(
            &email,
            &password,
            name.as_deref(),
            invitation.as_deref(),
            &server::client_address(),
        )
        .await
        .map_err(server::to_error)?;
    confab_http::session::sign_in(&server::session()?, &signed_in)
        .await
        .map_err(server::to_error)?;
    Ok(signed_in.user)
}

#[server(prefix = "/rpc")]
pub async fn sign_in(email: String, password: String) -> Result<User, AppError> {
    let services = server::services()?;
    let signed_in = services
        .authenticate(&email, &password, &server::client_address())
        .await
        .map_err(server::to_error)?;
    confab_http::session::sign_in(&server::session()?, &signed_in)
        .await
        .map_err(server::to_error)?;
    Ok(signed_in.user)
}

#[server(prefix = "/rpc")]
pub async fn sign_out() -> Result<(), AppError> {
    confab_http::session::sign_out(&server::session()?)
        .await
        .map_err(server::to_error)
}

/// Deletes the signed-in account for good once it is proven theirs (the password, or a recent
/// sign-in for an account without one: see `Services::delete_account`), then ends this
/// browser's sign-in; the store has ended the others.
#[server(prefix = "/rpc")]
pub async fn delete_account(password: Option<String>) -> Result<(), AppError> {
    use confab_core::service::accounts::Reauthentication;
    let user = server::user().await?;
    let session = server::session()?;
    let signed_in_at = confab_http::session::signed_in_at(&session)
        .await
        .map_err(server::to_error)?;
    let client = server::client_address();
    let proof = Reauthentication {
        password: password.as_deref(),
        signed_in_at,
        client: &client,
    };
    server::services()?
        .delete_account(&user, proof)
        .await
        .map_err(server::to_error)?;
    confab_http::session::sign_out(&session)
        .await
        .map_err(server::to_error)
}

/// Stops a reply that is streaming: the server cancels the model's request and saves what
/// arrived as `partial`, reason `stopped`. Answers the reply as saved.
#[server(prefix = "/rpc")]
pub async fn stop_reply(id: String) -> Result<Message, AppError> {
    let user = server::user().await?;
    server::services()?
        .stop_reply(&user, &id)
        .await
        .map_err(server::to_error)
}

/// A page of the user's conversations (archived or not), only those carrying `tag` when
/// given, only those directly in a folder (or at the top level: `FolderFilter::Top`) when
/// `folder` is given.
#[server(prefix = "/rpc")]
pub async fn list_sessions(
    cursor: Option<String>,
    archived: bool,
    tag: Option<String>,
    folder: Option<FolderFilter>,
) -> Result<Page<Session>, AppError> {
    let user = server::user().await?;
    server::services()?
        .list_sessions(
            &user,
            confab_core::api::SessionListInput {
                cursor,
                archived: Some(archived),
                tag,
                folder,
                ..Default::default()
            },
        )
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn get_session(id: String) -> Result<Session, AppError> {
    let user = server::user().await?;
    server::services()?
        .get_session(&user, &id)
        .await
        .map(|detail| detail.session)
        .map_err(server::to_error)
}

/// "Continue in a new conversation": a new session holding a copy of the path from the root
/// of `session_id` to `message_id`, linked to its source (`Services::fork_session`, whose
/// errors it answers). Answers the new session.
#[server(prefix = "/rpc")]
pub async fn fork_session(session_id: String, message_id: String) -> Result<Session, AppError> {
    let user = server::user().await?;
    server::services()?
        .fork_session(
            &user,
            &session_id,
            confab_core::api::ForkInput { message_id },
        )
        .await
        .map_err(server::to_error)
}

/// A new, empty conversation, in `folder_id` (one of the user's folders, else not found) or at
/// the top level.
#[server(prefix = "/rpc")]
pub async fn create_session(
    title: Option<String>,
    folder_id: Option<String>,
) -> Result<Session, AppError> {
    let user = server::user().await?;
    server::services()?
        .create_session_in(&user, title.as_deref(), folder_id.as_deref())
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn update_session(
    id: String,
    title: Option<String>,
    pinned: Option<bool>,
    archived: Option<bool>,
) -> Result<Session, AppError> {
    let user = server::user().await?;
    server::services()?
        .update_session(
            &user,
            &id,
            confab_core::api::SessionPatchInput {
                title,
                pinned,
                archived,
                ..Default::default()
            },
        )
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn delete_session(id: String) -> Result<(), AppError> {
    let user = server::user().await?;
    server::services()?
        .delete_session(&user, &id)
        .await
        .map_err(server::to_error)
}

/// One action on many of the user's conversations, in one request (`Services::change_sessions`):
/// `tag` names the tag of the `Tag` and `Untag` actions (and only theirs), `folder_id` the
/// folder `Move` puts them in (`None`: the top level). JSON, as a selection may name a
/// thousand ids.
#[server(prefix = "/rpc", input = server_fn::codec::Json)]
pub async fn bulk_sessions(
    ids: Vec<String>,
    action: SessionsBulkAction,
    tag: Option<String>,
    folder_id: Option<String>,
) -> Result<SessionsBulkResult, AppError> {
    let user = server::user().await?;
    server::services()?
        .change_sessions(
            &user,
            confab_core::api::SessionsBulkInput {
                ids,
                action,
                tag,
                folder_id,
            },
        )
        .await
        .map_err(server::to_error)
}

/// Every folder of the user's (at most 1,000), parents before their children, siblings by
/// name then id, each with its `session_count` (`Services::list_folders`).
#[server(prefix = "/rpc")]
pub async fn list_folders() -> Result<Vec<Folder>, AppError> {
    let user = server::user().await?;
    server::services()?
        .list_folders(&user)
        .await
        .map_err(server::to_error)
}

/// A new folder at the top level or in `parent_id` (`Services::create_folder`; its errors:
/// `invalid_folder`, `folder_too_deep`, `too_many_folders`, not found).
#[server(prefix = "/rpc")]
pub async fn create_folder(name: String, parent_id: Option<String>) -> Result<Folder, AppError> {
    let user = server::user().await?;
    server::services()?
        .create_folder(
            &user,
            confab_core::api::NewFolderInput {
                name,
                parent_id,
                ..Default::default()
            },
        )
        .await
        .map_err(server::to_error)
}

/// Renames, moves or sets the defaults of a folder (`Services::update_folder`; 409
/// `folder_cycle` for a move into its own subtree). `patch` tells "leave as it is" (`None`)
/// from "to the top level / clear" (`Some(None)`) for `parent_id`, `system_prompt` and
/// `model`: as plain server-function arguments an `Option<Option<_>>` would lose the
/// difference, so it travels as one JSON struct (`FolderPatchInput`).
#[server(prefix = "/rpc", input = server_fn::codec::Json)]
pub async fn update_folder(id: String, patch: FolderPatchInput) -> Result<Folder, AppError> {
    let user = server::user().await?;
    server::services()?
        .update_folder(&user, &id, patch)
        .await
        .map_err(server::to_error)
}

/// Deletes a folder: with `delete_contents` every conversation of its subtree goes to the
/// trash and its subfolders are removed, without it they move to its parent. Answers how many
/// conversations went to the trash or moved (`Services::delete_folder`).
#[server(prefix = "/rpc")]
pub async fn delete_folder(id: String, delete_contents: bool) -> Result<u64, AppError> {
    use confab_core::api::FolderContents;
    let user = server::user().await?;
    let contents = if delete_contents {
        FolderContents::Delete
    } else {
        FolderContents::Keep
    };
    server::services()?
        .delete_folder(&user, &id, contents)
        .await
        .map_err(server::to_error)
}

/// The user's tags, each once, in `str` order (`Services::list_tags`).
#[server(prefix = "/rpc")]
pub async fn list_tags() -> Result<Vec<String>, AppError> {
    let user = server::user().await?;
    server::services()?
        .list_tags(&user)
        .await
        .map_err(server::to_error)
}

/// Puts the tag on the conversation; answers it with its tags (`Services::tag_session`).
#[server(prefix = "/rpc")]
pub async fn tag_session(id: String, tag: String) -> Result<Session, AppError> {
    let user = server::user().await?;
    server::services()?
        .tag_session(&user, &id, &tag)
        .await
        .map_err(server::to_error)
}

/// Takes the tag off the conversation; answers it with its tags (`Services::untag_session`).
#[server(prefix = "/rpc")]
pub async fn untag_session(id: String, tag: String) -> Result<Session, AppError> {
    let user = server::user().await?;
    server::services()?
        .untag_session(&user, &id, &tag)
        .await
        .map_err(server::to_error)
}

/// Renames the tag on every conversation carrying it; answers how many (`Services::rename_tag`).
#[server(prefix = "/rpc")]
pub async fn rename_tag(from: String, to: String) -> Result<u64, AppError> {
    let user = server::user().await?;
    server::services()?
        .rename_tag(&user, &from, &to)
        .await
        .map_err(server::to_error)
}

/// Takes the tag off every conversation; answers how many carried it (`Services::delete_tag`).
#[server(prefix = "/rpc")]
pub async fn delete_tag(name: String) -> Result<u64, AppError> {
    let user = server::user().await?;
    server::services()?
        .delete_tag(&user, &name)
        .await
        .map_err(server::to_error)
}

/// Undoes `delete_session` within the retention time and returns the session as it was.
#[server(prefix = "/rpc")]
pub async fn restore_session(id: String) -> Result<Session, AppError> {
    let user = server::user().await?;
    server::services()?
        .restore_session(&user, &id)
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn clear_session(id: String) -> Result<(), AppError> {
    let user = server::user().await?;
    server::services()?
        .clear_session(&user, &id)
        .await
        .map_err(server::to_error)
}

/// A page of the session's active branch, root side first (see `Services::branch_page`): the
/// newest page, the one above `before` or below `after`, optionally one message type only.
#[server(prefix = "/rpc")]
pub async fn load_conversation(
    session_id: String,
    before: Option<String>,
    after: Option<String>,
    message_type: Option<String>,
) -> Result<SessionView, AppError> {
    let user = server::user().await?;
    server::services()?
        .branch_page(
            &user,
            &session_id,
            confab_core::api::BranchInput {
                limit: Some(MESSAGE_PAGE as i64),
                before,
                after,
                message_type,
                ..Default::default()
            },
        )
        .await
        .map_err(server::to_error)
}

/// Opens a conversation at one of its messages (a search hit): switches to its branch when it
/// is on another, and answers the page around it.
#[server(prefix = "/rpc")]
pub async fn open_message(message_id: String) -> Result<SessionView, AppError> {
    let user = server::user().await?;
    server::services()?
        .open_at(&user, &message_id, Some(MESSAGE_PAGE as i64))
        .await
        .map_err(server::to_error)
}

/// Makes the branch through `message_id` the active one (down its newest children) and
/// answers the page around the message.
#[server(prefix = "/rpc")]
pub async fn switch_branch(
    session_id: String,
    message_id: String,
) -> Result<SessionView, AppError> {
    let user = server::user().await?;
    server::services()?
        .switch_branch(
            &user,
            &session_id,
            confab_core::api::SwitchBranchInput {
                message_id,
                limit: Some(MESSAGE_PAGE as i64),
            },
        )
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn search_messages(
    q: String,
    message_type: Option<String>,
) -> Result<Vec<SearchHit>, AppError> {
    if q.trim().is_empty() {
        return Ok(Vec::new());
    }
    let user = server::user().await?;
    server::services()?
        .search(
            &user,
            confab_core::api::SearchInput {
                q,
                message_type: message_type.filter(|slug| !slug.is_empty()),
                limit: Some(20),
                ..Default::default()
            },
        )
        .await
        .map(|page| page.items)
        .map_err(server::to_error)
}

/// Stars the message (`starred`) or takes its star away; answers it as stored.
#[server(prefix = "/rpc")]
pub async fn set_star(id: String, starred: bool) -> Result<Message, AppError> {
    let user = server::user().await?;
    server::services()?
        .set_star(&user, &id, starred)
        .await
        .map_err(server::to_error)
}

/// A page of the Starred view (after `cursor`), the most recently starred first; each
/// message's `content` is only its start (`STARRED_EXCERPT_CHARS` characters, then "…"), as
/// the list shows it.
#[server(prefix = "/rpc")]
pub async fn list_starred(cursor: Option<String>) -> Result<Page<StarredMessage>, AppError> {
    let user = server::user().await?;
    let mut page = server::services()?
        .starred_messages(
            &user,
            confab_core::api::PageInput {
                limit: None,
                cursor,
            },
        )
        .await
        .map_err(server::to_error)?;
    // The list shows the start of each message: a page of whole replies (up to 50 of 256 KiB
    // each) would cross the network for a few lines of each.
    for item in &mut page.items {
        item.message.content = crate::words::excerpt(&item.message.content, STARRED_EXCERPT_CHARS);
    }
    Ok(page)
}

/// Characters of each message `list_starred` sends: enough to recognise it in the list.
pub const STARRED_EXCERPT_CHARS: usize = 280;

#[server(prefix = "/rpc")]
pub async fn list_models() -> Result<ModelChoices, AppError> {
    server::user().await?;
    Ok(server::services()?.providers().models().await)
}

#[server(prefix = "/rpc")]
pub async fn sign_in_options() -> Result<SignInChoices, AppError> {
    server::services()?
        .sign_in_choices()
        .await
        .map_err(server::to_error)
}

/// Sets a new password with the secret of a reset link (no sign-in needed). `confirm` is the
/// password typed a second time: the form sends both, so a typo is caught before the link is
/// used up, with JavaScript off too.
#[server(prefix = "/rpc")]
pub async fn reset_password(
    token: String,
    password: String,
    confirm: String,
) -> Result<(), AppError> {
    if password != confirm {
        return Err(AppError::new(
            "passwords_differ",
            "the two passwords are not the same; type the new password twice",
        ));
    }
    server::services()?
        .reset_password(&token, &password)
        .await
        .map_err(server::to_error)
}

// Administration: each function below is `Services::admin_*` for the signed-in user, who must
// be an administrator (the service refuses anyone else with its sentence).

/// An invitation just created, with the path of its link (`invitation_path`): the page puts
/// its own origin in front, the one the administrator's browser uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedInvitationLink {
    pub invitation: Invitation,
    pub path: String,
}

/// A password reset just created for `user_id`, with the path of its link
/// (`password_reset_path`), valid until `expires_at`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PasswordResetPath {
    pub user_id: String,
    pub path: String,
    pub expires_at: DateTime<Utc>,
}

#[server(prefix = "/rpc")]
pub async fn admin_get_settings() -> Result<AdminSettings, AppError> {
    let user = server::user().await?;
    server::services()?
        .admin_settings(&user)
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn admin_set_signup(signup: SignupPolicy) -> Result<AdminSettings, AppError> {
    let user = server::user().await?;
    server::services()?
        .admin_update_settings(&user, AdminSettings { signup })
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn admin_list_users(cursor: Option<String>) -> Result<UserPage, AppError> {
    let user = server::user().await?;
    let page = confab_core::api::PageInput {
        cursor,
        ..Default::default()
    };
    server::services()?
        .admin_list_users(&user, &page)
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn admin_disable_user(id: String) -> Result<(), AppError> {
    let user = server::user().await?;
    server::services()?
        .admin_disable_user(&user, &id)
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn admin_enable_user(id: String) -> Result<(), AppError> {
    let user = server::user().await?;
    server::services()?
        .admin_enable_user(&user, &id)
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn admin_delete_user(id: String) -> Result<(), AppError> {
    let user = server::user().await?;
    server::services()?
        .admin_delete_user(&user, &id)
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn admin_create_invitation(
    email: Option<String>,
) -> Result<CreatedInvitationLink, AppError> {
    let user = server::user().await?;
    let input = confab_core::api::InvitationInput {
        email,
        ..Default::default()
    };
    let created = server::services()?
        .admin_create_invitation(&user, &input)
        .await
        .map_err(server::to_error)?;
    Ok(CreatedInvitationLink {
        path: confab_core::api::invitation_path(&created.token),
        invitation: created.invitation,
    })
}

#[server(prefix = "/rpc")]
pub async fn admin_list_invitations() -> Result<Vec<Invitation>, AppError> {
    let user = server::user().await?;
    server::services()?
        .admin_list_invitations(&user)
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn admin_revoke_invitation(id: String) -> Result<(), AppError> {
    let user = server::user().await?;
    server::services()?
        .admin_revoke_invitation(&user, &id)
        .await
        .map_err(server::to_error)
}

#[server(prefix = "/rpc")]
pub async fn admin_create_password_reset(id: String) -> Result<PasswordResetPath, AppError> {
    let user = server::user().await?;
    let created = server::services()?
        .admin_create_password_reset(&user, &id)
        .await
        .map_err(server::to_error)?;
    Ok(PasswordResetPath {
        path: confab_core::api::password_reset_path(&created.token),
        user_id: created.user_id,
        expires_at: created.expires_at,
    })
}

#[server(prefix = "/rpc")]
pub async fn admin_audit(cursor: Option<String>) -> Result<AuditPage, AppError> {
    let user = server::user().await?;
    let page = confab_core::api::PageInput {
        cursor,
        ..Default::default()
    };
    server::services()?
        .admin_audit(&user, &page)
        .await
        .map_err(server::to_error)
}
