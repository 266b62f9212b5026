//! Two handles on one Redis namespace are two provider instances.
use super::*;

async fn two() -> Option<(RedisGrantStore, RedisGrantStore)> {
    let a = redis_server::fresh_store().await?;
    let b = a.clone();
    Some((a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_redemptions_of_one_code_admit_exactly_one() {
    let Some((a, b)) = two().await else { return };
    let now = crate::time::now();
    let h = sha256(b"contended code");
    assert!(a.insert_code(h, code(now + 60), now).await.unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move {
            let ok = |_: &CodeRecord| Ok(());
            s.take_code(&h, now, &ok).await.unwrap()
        });
    }
    let (mut won, mut replayed) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(_) => won += 1,
            Err(CodeError::Replayed) => replayed += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!((won, replayed), (1, 31));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_token_rotate_once_and_revoke() {
    let Some((a, b)) = two().await else { return };
    let now = crate::time::now();
    let rt = sha256(b"contended rt");
    assert!(
        a.create_grant("gc", grant(), Some((rt, now + 100)), now)
            .await
            .unwrap()
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16u8 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move {
            let next = Some((sha256(&[i]), now + 100));
            s.refresh(use_refresh(&rt, "c", next, now)).await.unwrap()
        });
    }
    let (mut rotated, mut reused) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(_) => rotated += 1,
            Err(RefreshError::Reused) => reused += 1,
            // Once the grant is revoked, later attempts find nothing.
            Err(RefreshError::Invalid) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(rotated, 1);
    assert!(reused >= 1);
    assert!(b.is_revoked("j", Some("gc"), now).await.unwrap());
}

#[tokio::test]
async fn caps_count_live_entries_only() {
    let Some((a, _)) = two().await else { return };
    let now = crate::time::now();
    let capped = |member: &'static str, expires| redis_ops::Capped {
        index: "test-cap",
        item: member,
        cap: 2,
        member,
        expires,
    };
    let f = [("v", "1".to_owned())];
    assert!(
        a.bounded_insert(capped("x1", now + 1), now, &f)
            .await
            .unwrap()
    );
    assert!(
        a.bounded_insert(capped("x2", now + 60), now, &f)
            .await
            .unwrap()
    );
    assert!(
        !a.bounded_insert(capped("x3", now + 60), now, &f)
            .await
            .unwrap()
    );
    assert!(
        a.bounded_insert(capped("x3", now + 60), now + 1, &f)
            .await
            .unwrap(),
        "an expired entry frees its place"
    );
}

#[tokio::test]
async fn keys_are_shared_and_secrets_are_stored_once() {
    let Some((a, _)) = two().await else { return };
    let b = RedisGrantStore::connect(&redis_server::url(), a.namespace())
        .await
        .unwrap();
    assert_eq!(a.nonce_secret(), b.nonce_secret());
    let (ka, kb) = (
        a.signing_key().await.unwrap(),
        b.signing_key().await.unwrap(),
    );
    assert_eq!(ka.kid(), kb.kid());
    let (ia, ib) = (
        a.id_token_key().await.unwrap(),
        b.id_token_key().await.unwrap(),
    );
    assert_eq!(ia.kid(), ib.kid());
    let other = redis_server::fresh_store().await.unwrap();
    assert_ne!(other.nonce_secret(), a.nonce_secret(), "per namespace");
}

#[tokio::test]
async fn errors_never_show_the_url() {
    let e = RedisGrantStore::connect("redis://:hunter2@127.0.0.1:1/0", "ns")
        .await
        .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(matches!(e, StoreError::Backend(_)), "{e}");
    let e = RedisGrantStore::connect("redis://127.0.0.1:1/0", "bad name")
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Location(_)), "{e}");
}

#[tokio::test]
async fn a_client_registered_at_one_instance_is_known_and_deleted_at_every_other() {
    let Some((a, b)) = two().await else { return };
    assert!(a.insert_client("dyn", "{}", 10).await.unwrap());
    assert_eq!(b.client("dyn").await.unwrap().as_deref(), Some("{}"));
    assert!(b.remove_client("dyn").await.unwrap());
    assert_eq!(a.client("dyn").await.unwrap(), None);
}
