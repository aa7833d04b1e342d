//! Users, sign-in sessions and API tokens.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{doc, Binary};

use super::documents::{
    email_key, from_bson_time, stored_time, to_bson_time, AuthSessionDoc, IdOnly, TokenDoc,
    UserDoc, FIRST_ADMIN_SLOT,
};
use super::errors::{db_error, is_duplicate_key};
use super::Collections;
use crate::ids::new_id;
use crate::model::{ApiToken, User, UserRole};
use crate::store::{
    role_for_new_user, AuthSessionRecord, NewIdentity, NewUser, StoreError, StoreResult,
    TokenHolder, UserCredentials,
};

pub async fn user_exists(collections: &Collections, id: &str) -> StoreResult<bool> {
    Ok(collections
        .users
        .clone_with_type::<IdOnly>()
        .find_one(doc! { "_id": id })
        .projection(doc! { "_id": 1 })
        .await
        .map_err(db_error)?
        .is_some())
}

pub async fn create_user(
    collections: &Collections,
    new: &NewUser,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    create_user_with_id(collections, &new_id(), new, now).await
}

pub async fn create_user_with_id(
    collections: &Collections,
    id: &str,
    new: &NewUser,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    let existing = collections
        .users
        .count_documents(doc! {})
        // Only whether there is one: the first account is the admin.
        .limit(1)
        .await
        .map_err(db_error)?;
    let mut role = role_for_new_user(i64::try_from(existing).unwrap_or(i64::MAX));
    let document = loop {
        let document = UserDoc {
            id: id.to_owned(),
            email: new.email.clone(),
            email_key: email_key(&new.email),
            name: new.name.clone(),
            role: role.as_str().to_owned(),
            password_hash: new.password_hash.clone(),
            created_at: to_bson_time(now),
            admin_slot: if role == UserRole::Admin {
                FIRST_ADMIN_SLOT.to_owned()
            } else {
                id.to_owned()
            },
            disabled_at: None,
            last_sign_in_at: None,
        };
        match collections.users.insert_one(&document).await {
            Ok(_) => break document,
            Err(error) if is_duplicate_key(&error) && role == UserRole::Admin => {
                // Either the email is taken, or another first account won the admin slot
                // between our count and our insert: then this one is an ordinary account.
                if credentials_by_email(collections, &new.email)
                    .await?
                    .is_some()
                {
                    return Err(db_error(error));
                }
                tracing::info!("another account became the admin first");
                role = UserRole::User;
            }
            Err(error) => return Err(db_error(error)),
        }
    };
    let user = document.to_user()?;
    if let Some(identity) = &new.identity {
        link_new_user(collections, &user, identity, now).await?;
    }
    Ok(user)
}

/// Links the identity a user was just created with. Without a transaction the user exists for
/// a moment without it; when the identity cannot be linked the user is removed again, so
/// that no account made through a provider stays without the account it was made for.
async fn link_new_user(
    collections: &Collections,
    user: &User,
    identity: &NewIdentity,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let linked = insert_identity(
        collections,
        &user.id,
        &identity.provider,
        &identity.subject,
        identity.email.as_deref(),
        to_bson_time(now),
    )
    .await;
    let failure = match linked {
        Ok(true) => return Ok(()),
        // A sign-in running at the same time may have found the new user by email and linked
        // this very identity to it.
        Ok(false)
            if user_by_identity(collections, &identity.provider, &identity.subject)
                .await?
                .is_some_and(|linked| linked.id == user.id) =>
        {
            return Ok(());
        }
        Ok(false) => {
            StoreError::Duplicate("the provider's account is linked to another user".into())
        }
        Err(error) => error,
    };
    collections
        .users
        .delete_one(doc! { "_id": &user.id })
        .await
        .map_err(db_error)?;
    Err(failure)
}

pub async fn user_by_id(collections: &Collections, id: &str) -> StoreResult<Option<User>> {
    collections
        .users
        .find_one(doc! { "_id": id })
        .await
        .map_err(db_error)?
        .map(|document| document.to_user())
        .transpose()
}

pub async fn active_credentials_by_id(
    collections: &Collections,
    id: &str,
) -> StoreResult<Option<UserCredentials>> {
    collections
        .users
        .find_one(doc! { "_id": id })
        .await
        .map_err(db_error)?
        .filter(|document| document.disabled_at.is_none())
        .map(credentials)
        .transpose()
}

fn credentials(document: UserDoc) -> StoreResult<UserCredentials> {
    Ok(UserCredentials {
        user: document.to_user()?,
        password_hash: document.password_hash,
        disabled_at: document.disabled_at.map(from_bson_time),
    })
}

pub async fn credentials_by_email(
    collections: &Collections,
    email: &str,
) -> StoreResult<Option<UserCredentials>> {
    collections
        .users
        .find_one(doc! { "email_key": email_key(email) })
        .await
        .map_err(db_error)?
        .map(credentials)
        .transpose()
}

/// Deletes what gives access first (sign-ins, tokens), then the chats, then the account, and
/// sweeps once more after the account is gone for anything a request that was already past
/// its authentication wrote meanwhile. A delete that fails half-way leaves the account in
/// place, so running it again finishes it.
pub async fn delete_user(collections: &Collections, id: &str) -> StoreResult<bool> {
    if !user_exists(collections, id).await? {
        return Ok(false);
    }
    delete_owned(collections, id).await?;
    let deleted = collections
        .users
        .delete_one(doc! { "_id": id })
        .await
        .map_err(db_error)?;
    delete_owned(collections, id).await?;
    Ok(deleted.deleted_count > 0)
}

async fn delete_owned(collections: &Collections, user_id: &str) -> StoreResult<()> {
    let owned = doc! { "user_id": user_id };
    collections
        .identities
        .delete_many(owned.clone())
        .await
        .map_err(db_error)?;
    collections
        .auth_sessions
        .delete_many(owned.clone())
        .await
        .map_err(db_error)?;
    collections
        .api_tokens
        .delete_many(owned.clone())
        .await
        .map_err(db_error)?;
    collections
        .password_resets
        .delete_many(owned.clone())
        .await
        .map_err(db_error)?;
    collections
        .messages
        .delete_many(owned.clone())
        .await
        .map_err(db_error)?;
    collections
        .chat_sessions
        .delete_many(owned.clone())
        .await
        .map_err(db_error)?;
    super::tags::delete_user_tags(collections, user_id).await?;
    super::folders::delete_user_folders(collections, user_id).await?;
    // By `_id` (the user id), its only index; `user_id` routes it.
    collections
        .user_totals
        .delete_many(doc! { "_id": user_id, "user_id": user_id })
        .await
        .map_err(db_error)?;
    Ok(())
}

pub async fn save_auth_session(
    collections: &Collections,
    key: &str,
    record: AuthSessionRecord,
) -> StoreResult<()> {
    // Like the SQLite backend's foreign key: a user that does not exist is not recorded.
    let user_id = match record.user_id {
        Some(user_id) if user_exists(collections, &user_id).await? => Some(user_id),
        _ => None,
    };
    let document = AuthSessionDoc {
        key: key.to_owned(),
        user_id,
        data: Binary {
            subtype: BinarySubtype::Generic,
            bytes: record.data,
        },
        expires_at: to_bson_time(record.expires_at),
    };
    replace_or_insert(&collections.auth_sessions, key, &document).await
}

/// Stores `document` under `_id` `key`, replacing what is there. Two upserts of a new key
/// racing each other: one inserts, the other fails on the `_id` index (older servers do not
/// retry that themselves); once more, it replaces.
pub(super) async fn replace_or_insert<T>(
    collection: &mongodb::Collection<T>,
    key: &str,
    document: &T,
) -> StoreResult<()>
where
    T: serde::Serialize + Send + Sync,
{
    for attempt in 0..2 {
        match collection
            .replace_one(doc! { "_id": key }, document)
            .upsert(true)
            .await
        {
            Ok(_) => return Ok(()),
            Err(error) if attempt == 0 && is_duplicate_key(&error) => continue,
            Err(error) => return Err(db_error(error)),
        }
    }
    Ok(())
}

pub async fn load_auth_session(
    collections: &Collections,
    key: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<AuthSessionRecord>> {
    Ok(collections
        .auth_sessions
        .find_one(doc! { "_id": key, "expires_at": { "$gt": to_bson_time(now) } })
        .await
        .map_err(db_error)?
        .map(AuthSessionDoc::into_record))
}

pub async fn delete_expired_auth_sessions(
    collections: &Collections,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let deleted = collections
        .auth_sessions
        .delete_many(doc! { "expires_at": { "$lte": to_bson_time(now) } })
        .await
        .map_err(db_error)?;
    Ok(deleted.deleted_count)
}

/// Stores the token `(id, name, secret_hash)` of `user_id`, made under the credentials stamp
/// `made_under`.
pub async fn create_token(
    collections: &Collections,
    user_id: &str,
    (id, name, secret_hash): (&str, &str, &str),
    made_under: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<ApiToken> {
    if !user_exists(collections, user_id).await? {
        return Err(StoreError::NotFound);
    }
    let document = TokenDoc {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        name: name.to_owned(),
        secret_hash: secret_hash.to_owned(),
        created_at: to_bson_time(now),
        last_used_at: None,
        made_under: made_under.map(str::to_owned),
    };
    collections
        .api_tokens
        .insert_one(&document)
        .await
        .map_err(db_error)?;
    Ok(ApiToken {
        id: id.to_owned(),
        name: name.to_owned(),
        created_at: stored_time(now),
        last_used_at: None,
    })
}

pub async fn list_tokens(collections: &Collections, user_id: &str) -> StoreResult<Vec<ApiToken>> {
    let documents: Vec<TokenDoc> = collections
        .api_tokens
        .find(doc! { "user_id": user_id })
        .sort(doc! { "created_at": 1, "_id": 1 })
        .await
        .map_err(db_error)?
        .try_collect()
        .await
        .map_err(db_error)?;
    Ok(documents.iter().map(TokenDoc::to_token).collect())
}

pub async fn token_holder(
    collections: &Collections,
    secret_hash: &str,
) -> StoreResult<Option<TokenHolder>> {
    let Some(token) = collections
        .api_tokens
        .find_one(doc! { "secret_hash": secret_hash })
        .await
        .map_err(db_error)?
    else {
        return Ok(None);
    };
    Ok(active_credentials_by_id(collections, &token.user_id)
        .await?
        .map(|credentials| TokenHolder {
            credentials,
            made_under: token.made_under,
        }))
}

pub async fn user_by_identity(
    collections: &Collections,
    provider: &str,
    subject: &str,
) -> StoreResult<Option<User>> {
    let found = collections
        .identities
        .find_one(doc! { "_id": super::documents::identity_key(provider, subject) })
        .await
        .map_err(db_error)?;
    match found {
        Some(identity) => user_by_id(collections, &identity.user_id).await,
        None => Ok(None),
    }
}

/// Linking an identity that is linked already changes nothing (the `_id` is unique).
pub async fn link_identity(
    collections: &Collections,
    user_id: &str,
    provider: &str,
    subject: &str,
    email: Option<&str>,
) -> StoreResult<()> {
    if !user_exists(collections, user_id).await? {
        return Err(StoreError::NotFound);
    }
    insert_identity(
        collections,
        user_id,
        provider,
        subject,
        email,
        mongodb::bson::DateTime::now(),
    )
    .await?;
    Ok(())
}

/// False when the provider's account is linked already (to this user or another).
async fn insert_identity(
    collections: &Collections,
    user_id: &str,
    provider: &str,
    subject: &str,
    email: Option<&str>,
    created_at: mongodb::bson::DateTime,
) -> StoreResult<bool> {
    let document = super::documents::IdentityDoc {
        key: super::documents::identity_key(provider, subject),
        user_id: user_id.to_owned(),
        provider: provider.to_owned(),
        subject: subject.to_owned(),
        email: email.map(str::to_owned),
        created_at,
    };
    match collections.identities.insert_one(document).await {
        Ok(_) => Ok(true),
        Err(error) if is_duplicate_key(&error) => Ok(false),
        Err(error) => Err(db_error(error)),
    }
}
