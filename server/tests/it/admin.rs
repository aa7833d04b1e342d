//! The administrator at work (issue 14): the user list, invitations into a closed instance,
//! disabling and enabling accounts, password reset links, deleting accounts, the sign-up
//! policy kept across restarts and the audit log, through the REST API on both backends.

use crate::support::{Client_, TestApp};
use chrono::{Duration, Utc};
use confab_core::store::{AuthSessionRecord, StoredInvitation};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

const PASSWORD: &str = "a good password";

/// The status and whole JSON body of an answer.
async fn answer(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    (status, body)
}

fn error(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message } })
}

/// The signed-in user of `client`, as `/api/auth/me` shows it.
async fn me(client: &Client_) -> Value {
    client.get_json("/api/auth/me").await["user"].clone()
}

/// A user of the admin list with nothing done yet.
fn listed(user: &Value) -> Value {
    json!({
        "id": user["id"],
        "email": user["email"],
        "name": user["name"],
        "role": user["role"],
        "createdAt": user["createdAt"],
        "disabled": false,
        "disabledAt": null,
        "messageCount": 0,
        "lastActiveAt": null,
    })
}

/// Bob's browser is signed out, and his (first) password no longer signs in.
async fn signed_out_for_good(bob: &Client_) {
    assert_eq!(
        bob.get("/api/auth/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bob.login("bob@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Signs `client` in and answers its sign-in's key and record as stored: what a sign-in that
/// is still being saved would write.
async fn signed_in_record(
    app: &TestApp,
    client: &Client_,
    email: &str,
    password: &str,
) -> (String, AuthSessionRecord) {
    let response = client.login(email, password).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .expect("ASCII")
        .to_owned();
    let session_id = cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .expect("name=value");
    let key = confab_core::auth::tokens::hash_session_id(&session_id);
    let record = app
        .store
        .load_auth_session(&key)
        .await
        .unwrap()
        .expect("the sign-in is stored");
    (key, record)
}

/// A password reset link for the account `user_id`, made by `admin`: the whole answer.
async fn reset_link(admin: &Client_, user_id: &str) -> Value {
    let (status, link) = answer(
        admin
            .post(
                &format!("/api/admin/users/{user_id}/password-reset"),
                json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    link
}

fn denied_disabled() -> Value {
    error(
        "account_disabled",
        "this account is disabled; ask an administrator",
    )
}

both_backends!(
    only_administrators_reach_the_admin_routes,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let ada_id = me(&ada).await["id"].as_str().unwrap().to_owned();
        let users = format!("/api/admin/users/{ada_id}");
        let refused = error(
            "admin_required",
            "only an administrator of this instance may do this",
        );
        let anonymous = app.client();
        let calls: Vec<(&str, String, Option<Value>)> = vec![
            ("GET", "/api/admin/users".into(), None),
            ("POST", format!("{users}/disable"), None),
            ("POST", format!("{users}/enable"), None),
            ("POST", format!("{users}/password-reset"), None),
            ("DELETE", users.clone(), None),
            ("GET", "/api/admin/invitations".into(), None),
            ("POST", "/api/admin/invitations".into(), Some(json!({}))),
            ("DELETE", "/api/admin/invitations/some-id".into(), None),
            ("GET", "/api/admin/settings".into(), None),
            (
                "PUT",
                "/api/admin/settings".into(),
                Some(json!({ "signup": "closed" })),
            ),
            ("GET", "/api/admin/audit".into(), None),
        ];
        for (method, path, body) in calls {
            for (client, status, expected) in [
                (&bob, StatusCode::FORBIDDEN, refused.clone()),
                (
                    &anonymous,
                    StatusCode::UNAUTHORIZED,
                    error("unauthorized", "authentication required"),
                ),
            ] {
                let mut request = client.request(method.parse().unwrap(), &path);
                if let Some(body) = &body {
                    request = request.json(body);
                }
                let got = answer(request.send().await.expect("request")).await;
                assert_eq!(got, (status, expected), "{method} {path}");
            }
        }
        // The UI's server functions are adapters over the same service: refused alike.
        use app::server_fns::{
            AdminAudit, AdminCreateInvitation, AdminCreatePasswordReset, AdminDeleteUser,
            AdminDisableUser, AdminEnableUser, AdminGetSettings, AdminListInvitations,
            AdminListUsers, AdminRevokeInvitation, AdminSetSignup,
        };
        use leptos::server_fn::ServerFn;
        let id = [("id", ada_id.as_str())];
        let functions: Vec<(&str, &[(&str, &str)])> = vec![
            (AdminGetSettings::PATH, &[]),
            (AdminSetSignup::PATH, &[("signup", "closed")]),
            (AdminListUsers::PATH, &[]),
            (AdminDisableUser::PATH, &id),
            (AdminEnableUser::PATH, &id),
            (AdminDeleteUser::PATH, &id),
            (AdminCreateInvitation::PATH, &[]),
            (AdminListInvitations::PATH, &[]),
            (AdminRevokeInvitation::PATH, &[("id", "some-id")]),
            (AdminCreatePasswordReset::PATH, &id),
            (AdminAudit::PATH, &[]),
        ];
        for (path, form) in functions {
            for (client, status, expected) in [
                (
                    &bob,
                    StatusCode::FORBIDDEN,
                    (
                        "admin_required",
                        "only an administrator of this instance may do this",
                    ),
                ),
                (
                    &anonymous,
                    StatusCode::UNAUTHORIZED,
                    ("unauthorized", "authentication required"),
                ),
            ] {
                let expected = app::error::AppError::new(expected.0, expected.1);
                let response = client
                    .request(reqwest::Method::POST, path)
                    .form(form)
                    .send()
                    .await
                    .expect("request");
                let response_status = response.status();
                // The server functions' typed error: the REST API's status, code and sentence.
                let error: app::error::AppError = response.json().await.expect("typed error");
                assert_eq!((response_status, error), (status, expected), "{path}");
            }
        }
        // Nothing was done: the policy is still open, Ada still there, nothing audited.
        assert_eq!(
            ada.get_json("/api/admin/settings").await,
            json!({ "signup": "open" })
        );
        assert_eq!(
            ada.get_json("/api/admin/audit").await,
            json!({ "entries": [], "nextCursor": null })
        );
    }
);

both_backends!(
    the_user_list_counts_messages_and_shows_last_activity,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let carol = app.user("carol@example.com").await;
        let first = bob.message(None, "user", "first question").await;
        let session = first["session"]["id"].as_str().unwrap().to_owned();
        bob.message(Some(&session), "assistant", "first answer")
            .await;
        let last = bob.message(Some(&session), "user", "second question").await;
        let before = Utc::now();
        let signed_in = app.client();
        signed_in.sign_in("carol@example.com", PASSWORD).await;
        let after = Utc::now();

        let page = ada.get_json("/api/admin/users?limit=2").await;
        let cursor = page["nextCursor"].as_str().expect("a next page").to_owned();
        let mut bob_listed = listed(&me(&bob).await);
        bob_listed["messageCount"] = json!(3);
        bob_listed["lastActiveAt"] = last["message"]["createdAt"].clone();
        assert_eq!(
            page,
            json!({
                "users": [listed(&me(&ada).await), bob_listed],
                "nextCursor": cursor,
            })
        );
        let rest = ada
            .get_json(&format!("/api/admin/users?limit=2&cursor={cursor}"))
            .await;
        let carol_active = rest["users"][0]["lastActiveAt"]
            .as_str()
            .expect("carol signed in")
            .to_owned();
        let at: chrono::DateTime<Utc> = carol_active.parse().unwrap();
        assert!(at >= before - Duration::milliseconds(1) && at <= after);
        let mut carol_listed = listed(&me(&carol).await);
        carol_listed["lastActiveAt"] = json!(carol_active);
        assert_eq!(rest, json!({ "users": [carol_listed], "nextCursor": null }));
        assert_eq!(
            answer(ada.get("/api/admin/users?cursor=bogus").await).await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                error("invalid_cursor", "the cursor is not one this server gave")
            )
        );
    }
);

both_backends!(
    invitations_open_a_closed_instance_once,
    |backend| async move {
        let app = TestApp::spawn_with_on(backend, |config| {
            config.signup = confab::config::Signup::Closed
        })
        .await;
        let ada = app.user("ada@example.com").await;
        let (status, created) = answer(
            ada.post(
                "/api/admin/invitations",
                json!({ "email": "Carol@Example.com" }),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let token = created["token"].as_str().expect("token").to_owned();
        assert!(token.len() > 40);
        let invitation = created["invitation"].clone();
        let created_at: chrono::DateTime<Utc> =
            invitation["createdAt"].as_str().unwrap().parse().unwrap();
        let expires_at: chrono::DateTime<Utc> =
            invitation["expiresAt"].as_str().unwrap().parse().unwrap();
        assert_eq!(expires_at - created_at, Duration::days(7));
        assert_eq!(
            created,
            json!({
                "invitation": {
                    "id": invitation["id"],
                    "email": "carol@example.com",
                    "createdBy": "ada@example.com",
                    "createdAt": invitation["createdAt"],
                    "expiresAt": invitation["expiresAt"],
                    "usedAt": null,
                    "usedBy": null,
                    "status": "pending",
                },
                "token": token,
                "link": format!("{}/?invitation={token}", app.address),
            })
        );

        let signup = |email: &str, invitation: Option<&str>| {
            let client = app.client();
            let body = json!({ "email": email, "password": PASSWORD, "invitation": invitation });
            async move {
                (
                    answer(client.post("/api/auth/signup", body).await).await,
                    client,
                )
            }
        };
        let ((status, body), _) = signup("dave@example.com", None).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::FORBIDDEN,
                error(
                    "forbidden",
                    "sign-up is closed on this instance; ask an administrator for an account"
                )
            )
        );
        let ((status, body), _) = signup("dave@example.com", Some(&token)).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::FORBIDDEN,
                error(
                    "invitation_email_mismatch",
                    "this invitation is for another email address"
                )
            )
        );
        let ((status, body), carol) = signup("carol@example.com", Some(&token)).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["user"]["email"], "carol@example.com");
        assert_eq!(me(&carol).await, body["user"], "signed in");
        let ((status, body), _) = signup("carol2@example.com", Some(&token)).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::FORBIDDEN,
                error(
                    "invitation_used",
                    "this invitation was used already; ask an administrator for a new one"
                )
            )
        );

        // An expired invitation, and a revoked one.
        StoredInvitation::store_expired(&*app.store, "old-invitation", "cfb_old")
            .await
            .unwrap();
        let ((status, body), _) = signup("late@example.com", Some("cfb_old")).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::FORBIDDEN,
                error(
                    "invitation_expired",
                    "this invitation has expired; ask an administrator for a new one"
                )
            )
        );
        let (_, revoked) = answer(ada.post("/api/admin/invitations", json!({})).await).await;
        let revoked_id = revoked["invitation"]["id"].as_str().unwrap().to_owned();
        assert_eq!(revoked["invitation"]["email"], Value::Null);
        let gone = ada
            .delete(&format!("/api/admin/invitations/{revoked_id}"))
            .await;
        assert_eq!(answer(gone).await, (StatusCode::NO_CONTENT, Value::Null));
        let ((status, body), _) = signup("eve@example.com", revoked["token"].as_str()).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::FORBIDDEN,
                error(
                    "invitation_invalid",
                    "this invitation is not valid; ask an administrator for a new one"
                )
            )
        );
        assert_eq!(
            answer(
                ada.delete(&format!("/api/admin/invitations/{revoked_id}"))
                    .await
            )
            .await,
            (StatusCode::NOT_FOUND, error("not_found", "not found"))
        );

        let carol_id = me(&carol).await["id"].clone();
        let list = ada.get_json("/api/admin/invitations").await;
        let used_at = list["invitations"][0]["usedAt"].clone();
        assert!(used_at.is_string());
        assert_eq!(
            list,
            json!({ "invitations": [
                {
                    "id": invitation["id"],
                    "email": "carol@example.com",
                    "createdBy": "ada@example.com",
                    "createdAt": invitation["createdAt"],
                    "expiresAt": invitation["expiresAt"],
                    "usedAt": used_at,
                    "usedBy": carol_id,
                    "status": "used",
                },
                {
                    "id": "old-invitation",
                    "email": null,
                    "createdBy": "ada@example.com",
                    "createdAt": list["invitations"][1]["createdAt"],
                    "expiresAt": list["invitations"][1]["expiresAt"],
                    "usedAt": null,
                    "usedBy": null,
                    "status": "expired",
                },
            ]})
        );
    }
);

both_backends!(
    a_disabled_account_is_signed_out_everywhere_until_enabled,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let bob_id = me(&bob).await["id"].as_str().unwrap().to_owned();
        let other_browser = app.client();
        assert_eq!(
            other_browser
                .login("bob@example.com", PASSWORD)
                .await
                .status(),
            StatusCode::OK
        );
        let (_, created) = answer(bob.post("/api/tokens", json!({ "name": "script" })).await).await;
        let mut script = app.client();
        script.token = created["token"].as_str().map(str::to_owned);
        assert_eq!(script.get("/api/auth/me").await.status(), StatusCode::OK);

        let disabled = ada
            .post(&format!("/api/admin/users/{bob_id}/disable"), json!({}))
            .await;
        assert_eq!(
            answer(disabled).await,
            (StatusCode::NO_CONTENT, Value::Null)
        );
        for client in [&bob, &other_browser, &script] {
            assert_eq!(
                answer(client.get("/api/auth/me").await).await,
                (
                    StatusCode::UNAUTHORIZED,
                    error("unauthorized", "authentication required")
                )
            );
        }
        assert_eq!(
            answer(bob.login("bob@example.com", PASSWORD).await).await,
            (StatusCode::FORBIDDEN, denied_disabled())
        );
        assert_eq!(
            answer(bob.login("bob@example.com", "not the password").await).await,
            (
                StatusCode::UNAUTHORIZED,
                error("bad_credentials", "invalid email or password")
            )
        );
        let users = ada.get_json("/api/admin/users").await;
        assert_eq!(users["users"][1]["disabled"], true);
        assert!(users["users"][1]["disabledAt"].is_string());

        let enabled = ada
            .post(&format!("/api/admin/users/{bob_id}/enable"), json!({}))
            .await;
        assert_eq!(answer(enabled).await, (StatusCode::NO_CONTENT, Value::Null));
        assert_eq!(
            bob.login("bob@example.com", PASSWORD).await.status(),
            StatusCode::OK
        );
        assert_eq!(me(&bob).await["id"], bob_id.as_str());
        assert_eq!(script.get("/api/auth/me").await.status(), StatusCode::OK);
        let users = ada.get_json("/api/admin/users").await;
        assert_eq!(users["users"][1]["disabled"], false);
        assert_eq!(users["users"][1]["disabledAt"], Value::Null);
    }
);

both_backends!(
    a_reset_link_sets_a_new_password_once,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let bob_id = me(&bob).await["id"].as_str().unwrap().to_owned();
        let link = reset_link(&ada, &bob_id).await;
        let token = link["token"].as_str().expect("token").to_owned();
        let expires_at: chrono::DateTime<Utc> =
            link["expiresAt"].as_str().unwrap().parse().unwrap();
        let valid_for = expires_at - Utc::now();
        assert!(valid_for > Duration::hours(23) && valid_for <= Duration::hours(24));
        assert_eq!(
            link,
            json!({
                "userId": bob_id,
                "token": token,
                "link": format!("{}/reset-password?token={token}", app.address),
                "expiresAt": link["expiresAt"],
            })
        );

        let stranger = app.client();
        let reset = |password: &str| {
            stranger.post(
                "/api/auth/password-reset",
                json!({ "token": token, "password": password }),
            )
        };
        assert_eq!(
            answer(reset("short").await).await,
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                error("weak_password", "the password needs at least 8 characters")
            )
        );
        assert_eq!(
            answer(reset("a new good password").await).await,
            (StatusCode::NO_CONTENT, Value::Null)
        );
        signed_out_for_good(&bob).await;
        assert_eq!(
            bob.login("bob@example.com", "a new good password")
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            answer(reset("yet another password").await).await,
            (
                StatusCode::FORBIDDEN,
                error(
                    "reset_token_invalid",
                    "this password reset link is not valid or was used already; ask an administrator for a new one"
                )
            )
        );
    }
);

both_backends!(
    deleting_accounts_and_the_last_administrator,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let ada_user = me(&ada).await;
        let ada_id = ada_user["id"].as_str().unwrap().to_owned();
        let bob_id = me(&bob).await["id"].as_str().unwrap().to_owned();
        bob.message(None, "user", "soon gone").await;

        let last_admin = (
            StatusCode::FORBIDDEN,
            error(
                "last_admin",
                "the only administrator cannot be disabled or deleted",
            ),
        );
        assert_eq!(
            answer(ada.delete(&format!("/api/admin/users/{ada_id}")).await).await,
            last_admin
        );
        assert_eq!(
            answer(
                ada.post(&format!("/api/admin/users/{ada_id}/disable"), json!({}))
                    .await
            )
            .await,
            last_admin
        );

        assert_eq!(
            answer(ada.delete(&format!("/api/admin/users/{bob_id}")).await).await,
            (StatusCode::NO_CONTENT, Value::Null)
        );
        signed_out_for_good(&bob).await;
        assert_eq!(
            ada.get_json("/api/admin/users").await,
            json!({ "users": [listed(&ada_user)], "nextCursor": null })
        );
        assert_eq!(
            answer(ada.delete(&format!("/api/admin/users/{bob_id}")).await).await,
            (StatusCode::NOT_FOUND, error("not_found", "not found"))
        );
    }
);

both_backends!(the_stored_policy_outlives_a_restart, |backend| async move {
    let mut app = TestApp::spawn_on(backend).await;
    let mut ada = app.user("ada@example.com").await;
    assert_eq!(
        answer(
            ada.put("/api/admin/settings", json!({ "signup": "closed" }))
                .await
        )
        .await,
        (StatusCode::OK, json!({ "signup": "closed" }))
    );
    assert_eq!(
        answer(
            ada.put("/api/admin/settings", json!({ "signup": "ajar" }))
                .await
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    app.restart().await;
    ada.follow(&app.address);
    assert_eq!(
        ada.get_json("/api/admin/settings").await,
        json!({ "signup": "closed" })
    );
    assert_eq!(
        answer(app.client().signup("bob@example.com", PASSWORD).await).await,
        (
            StatusCode::FORBIDDEN,
            error(
                "forbidden",
                "sign-up is closed on this instance; ask an administrator for an account"
            )
        )
    );
    assert_eq!(
        answer(
            ada.put("/api/admin/settings", json!({ "signup": "open" }))
                .await
        )
        .await,
        (StatusCode::OK, json!({ "signup": "open" }))
    );
    app.client().sign_up("bob@example.com", PASSWORD).await;
});

both_backends!(
    the_audit_log_names_every_action_newest_first,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let ada_id = me(&ada).await["id"].as_str().unwrap().to_owned();
        let bob_id = me(&bob).await["id"].as_str().unwrap().to_owned();
        let (_, invitation) = answer(
            ada.post(
                "/api/admin/invitations",
                json!({ "email": "carol@example.com", "expiresInHours": 2 }),
            )
            .await,
        )
        .await;
        let invitation_id = invitation["invitation"]["id"].as_str().unwrap().to_owned();
        let expires = invitation["invitation"]["expiresAt"].as_str().unwrap();
        let expires: chrono::DateTime<Utc> = expires.parse().unwrap();
        for (path, expected) in [
            (format!("/api/admin/invitations/{invitation_id}"), "DELETE"),
            (format!("/api/admin/users/{bob_id}/disable"), "POST"),
            (format!("/api/admin/users/{bob_id}/enable"), "POST"),
            (format!("/api/admin/users/{bob_id}/password-reset"), "POST"),
            (format!("/api/admin/users/{bob_id}"), "DELETE"),
        ] {
            let response = if expected == "DELETE" {
                ada.delete(&path).await
            } else {
                ada.post(&path, json!({})).await
            };
            assert!(response.status().is_success(), "{path}");
        }
        ada.put("/api/admin/settings", json!({ "signup": "closed" }))
            .await;

        let mut entries = Vec::new();
        let mut path = "/api/admin/audit?limit=3".to_owned();
        loop {
            let page = ada.get_json(&path).await;
            entries.extend(page["entries"].as_array().unwrap().iter().cloned());
            match page["nextCursor"].as_str() {
                Some(cursor) => path = format!("/api/admin/audit?limit=3&cursor={cursor}"),
                None => break,
            }
        }
        let entry = |action: &str, target: &str, email: Value, detail: Value| {
            json!({
                "actorId": ada_id,
                "actorEmail": "ada@example.com",
                "action": action,
                "targetId": target,
                "targetEmail": email,
                "detail": detail,
            })
        };
        let without_id_and_time: Vec<Value> = entries
            .iter()
            .map(|entry| {
                let mut entry = entry.clone();
                let object = entry.as_object_mut().unwrap();
                assert!(object.remove("id").unwrap().is_string());
                assert!(object.remove("at").unwrap().is_string());
                entry
            })
            .collect();
        let bob_email = json!("bob@example.com");
        assert_eq!(
            without_id_and_time,
            [
                entry("signup_policy", "signup", Value::Null, json!("closed")),
                entry("delete_user", &bob_id, bob_email.clone(), Value::Null),
                entry(
                    "password_reset_link",
                    &bob_id,
                    bob_email.clone(),
                    Value::Null
                ),
                entry("enable_user", &bob_id, bob_email.clone(), Value::Null),
                entry("disable_user", &bob_id, bob_email.clone(), Value::Null),
                entry(
                    "revoke_invitation",
                    &invitation_id,
                    json!("carol@example.com"),
                    Value::Null
                ),
                entry(
                    "invite",
                    &invitation_id,
                    json!("carol@example.com"),
                    json!(format!("expires {}", expires.to_rfc3339()))
                ),
            ]
        );
    }
);

both_backends!(
    a_sign_in_saved_after_the_sweep_ends_at_its_next_request,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let bob_id = me(&bob).await["id"].as_str().unwrap().to_owned();
        let late = app.client();
        let (key, record) = signed_in_record(&app, &late, "bob@example.com", PASSWORD).await;
        assert_eq!(
            ada.post(&format!("/api/admin/users/{bob_id}/disable"), json!({}))
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        // As if Bob's sign-in was being saved while the administrator disabled him: it lands
        // after the sweep of his sign-ins.
        assert!(app.store.load_auth_session(&key).await.unwrap().is_none());
        app.store.save_auth_session(&key, record).await.unwrap();
        assert_eq!(
            answer(late.get("/api/auth/me").await).await,
            (
                StatusCode::UNAUTHORIZED,
                error("unauthorized", "authentication required")
            )
        );
        // Ended for good: enabling the account does not bring that sign-in back.
        assert_eq!(
            ada.post(&format!("/api/admin/users/{bob_id}/enable"), json!({}))
                .await
                .status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            late.get("/api/auth/me").await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert!(app.store.load_auth_session(&key).await.unwrap().is_none());
    }
);

both_backends!(
    a_reset_ends_a_sign_in_saved_meanwhile_and_the_api_tokens,
    |backend| async move {
        let app = TestApp::spawn_on(backend).await;
        let ada = app.user("ada@example.com").await;
        let bob = app.user("bob@example.com").await;
        let bob_id = me(&bob).await["id"].as_str().unwrap().to_owned();
        let mut script = app.client();
        script.token = Some(bob.new_api_token("backup script").await);
        assert_eq!(me(&script).await["id"], bob_id.as_str());

        // Bob signs in on a second browser with his old password; its session record is the
        // one a sign-in still on its way would save.
        let late = app.client();
        let (key, record) = signed_in_record(&app, &late, "bob@example.com", PASSWORD).await;

        let link = reset_link(&ada, &bob_id).await;
        assert_eq!(
            answer(
                app.client()
                    .post(
                        "/api/auth/password-reset",
                        json!({ "token": link["token"], "password": "a new good password" }),
                    )
                    .await
            )
            .await,
            (StatusCode::NO_CONTENT, Value::Null)
        );
        // The reset swept the sign-ins it found; the late one lands after the sweep.
        assert!(app.store.load_auth_session(&key).await.unwrap().is_none());
        app.store.save_auth_session(&key, record).await.unwrap();
        assert_eq!(
            late.get("/api/auth/me").await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert!(
            app.store.load_auth_session(&key).await.unwrap().is_none(),
            "the stale sign-in is deleted when it is refused"
        );
        signed_out_for_good(&bob).await;
        // The reset took the account back: its API tokens are gone, the cached one too.
        assert_eq!(
            script.get("/api/auth/me").await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert!(app.store.list_tokens(&bob_id).await.unwrap().is_empty());

        // A sign-in with the new password holds.
        let fresh = app.client();
        assert_eq!(
            fresh
                .login("bob@example.com", "a new good password")
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(me(&fresh).await["id"], bob_id.as_str());
        assert_eq!(me(&fresh).await["id"], bob_id.as_str());
    }
);
