//! The pool and the error classifier against the local PostgreSQL: what each kind of
//! failure is sorted as, and the server-side timeouts every pooled connection carries.

use std::time::{Duration, Instant};

use sqlx::Connection;
use store::{DatabaseSettings, DbErrorKind, StoreError, classify};
use testkit::proxy::{ProxyMode, TcpProxy};
use testkit::{TestDb, init_tracing};

async fn raise(pool: &sqlx::PgPool, code: &str) -> DbErrorKind {
    let err = sqlx::query(&format!(
        "DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{code}'; END $$"
    ))
    .execute(pool)
    .await
    .unwrap_err();
    classify(&err)
}

#[tokio::test]
async fn server_errors_are_sorted_by_what_the_caller_should_do() {
    init_tracing();
    let db = TestDb::new().await;
    use DbErrorKind::*;
    for (code, kind) in [
        ("57P03", Unavailable),
        ("25006", Unavailable),
        ("08006", Unavailable),
        ("53300", Unavailable),
        ("40001", Transient),
        ("40P01", Transient),
        ("23514", InvalidData),
        ("23505", UniqueViolation),
    ] {
        assert_eq!(raise(db.pool(), code).await, kind, "{code}");
    }
}

#[tokio::test]
async fn a_read_only_database_and_terminated_sessions_are_unavailable() {
    init_tracing();
    let db = TestDb::new().await;
    sqlx::query("CREATE TABLE t (n int)")
        .execute(db.pool())
        .await
        .unwrap();
    // A session that will be cut: the next statement on it fails with 57P01 (or its
    // connection is found closed), both unavailability.
    let mut held = db.pool().acquire().await.unwrap();
    db.set_read_only(true).await;
    let err = sqlx::query("SELECT 1")
        .execute(&mut *held)
        .await
        .unwrap_err();
    assert_eq!(classify(&err), DbErrorKind::Unavailable, "{err}");
    drop(held);

    let err = sqlx::query("INSERT INTO t VALUES (1)")
        .execute(db.pool())
        .await
        .unwrap_err();
    assert_eq!(classify(&err), DbErrorKind::Unavailable, "{err}");
    let text = StoreError::from(err).to_string();
    assert!(text.contains("read-only"), "{text}");
    // Reads still work.
    sqlx::query("SELECT count(*) FROM t")
        .execute(db.pool())
        .await
        .unwrap();
    db.set_read_only(false).await;
    sqlx::query("INSERT INTO t VALUES (1)")
        .execute(db.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_whether_it_refuses_or_fails_fast() {
    init_tracing();
    let db = TestDb::new().await;
    let proxy = TcpProxy::start(db.server_addr()).await;
    let settings = DatabaseSettings {
        url: db.url_through(proxy.port()),
        acquire_timeout_secs: 1,
        connect_timeout_secs: 5,
        create_if_missing: false,
        ..DatabaseSettings::default()
    };
    let pool = store::connect(&settings).await.unwrap();
    sqlx::query("SELECT 1").execute(&pool).await.unwrap();

    proxy.set_mode(ProxyMode::FailFast);
    let started = Instant::now();
    let err = loop {
        // The pool may hand out a connection the proxy has just cut: that fails too.
        match sqlx::query("SELECT 1").execute(&pool).await {
            Err(e) => break e,
            Ok(_) => assert!(started.elapsed() < Duration::from_secs(5)),
        }
    };
    assert_eq!(classify(&err), DbErrorKind::Unavailable, "{err}");

    proxy.set_mode(ProxyMode::Refuse);
    // A connection attempt caught while the port closes is reset rather than refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    let waited = loop {
        let started = Instant::now();
        let err = sqlx::query("SELECT 1").execute(&pool).await.unwrap_err();
        assert_eq!(classify(&err), DbErrorKind::Unavailable, "{err}");
        if matches!(err, sqlx::Error::PoolTimedOut) {
            break started.elapsed();
        }
        assert!(Instant::now() < deadline, "never refused: {err}");
    };
    assert!(
        waited >= Duration::from_millis(900),
        "a refusing server is waited for until the pool gives up"
    );

    proxy.set_mode(ProxyMode::Up);
    sqlx::query("SELECT 1").execute(&pool).await.unwrap();
}

#[tokio::test]
async fn every_pooled_connection_carries_the_configured_timeouts() {
    init_tracing();
    let db = TestDb::new().await;
    let settings = DatabaseSettings {
        statement_timeout_ms: 300,
        lock_timeout_ms: 200,
        idle_in_transaction_timeout_ms: 400,
        ..db.settings.clone()
    };
    let pool = store::connect(&settings).await.unwrap();
    let show = |name: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(&format!("SHOW {name}"))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(show("statement_timeout").await, "300ms");
    assert_eq!(show("lock_timeout").await, "200ms");
    assert_eq!(show("idle_in_transaction_session_timeout").await, "400ms");

    // A statement running too long is cancelled: a failed attempt, worth retrying.
    let err = sqlx::query("SELECT pg_sleep(5)")
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(classify(&err), DbErrorKind::Transient, "{err}");

    // A session idling inside its transaction is ended by the server, releasing its locks:
    // the next waiter gets the lock instead of waiting for ever.
    let mut stuck = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock(42)")
        .execute(&mut *stuck)
        .await
        .unwrap();
    let started = Instant::now();
    let err = sqlx::query("SELECT pg_advisory_xact_lock(42)")
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        classify(&err),
        DbErrorKind::Transient,
        "lock timeout: {err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut other = sqlx::PgConnection::connect(db.url()).await.unwrap();
    let waited = Instant::now();
    sqlx::query("SELECT pg_advisory_lock(42)")
        .execute(&mut other)
        .await
        .unwrap();
    assert!(
        waited.elapsed() < Duration::from_millis(500),
        "the idle transaction's lock is gone"
    );
    let err = sqlx::query("SELECT 1")
        .execute(&mut *stuck)
        .await
        .unwrap_err();
    assert!(
        matches!(
            classify(&err),
            DbErrorKind::Transient | DbErrorKind::Unavailable
        ),
        "{err}"
    );

    // Migrations run without those limits and leave them in place.
    store::migrate(&pool).await.unwrap();
    assert_eq!(show("statement_timeout").await, "300ms");
    assert_eq!(show("lock_timeout").await, "200ms");
}
