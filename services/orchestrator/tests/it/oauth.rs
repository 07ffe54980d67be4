//! The orchestrator as an OAuth 2.1 resource server: access tokens of a configured issuer
//! (a stand-in on loopback, keys generated at its start) name the person, the policy gives
//! roles by principal and group, and anything not issued for this server is refused with a
//! challenge that points MCP clients at the protected resource metadata (RFC 9728).

use crate::common::*;
use serde_json::{Value, json};
use testkit::oidc::FakeIssuer;

const RESOURCE: &str = "https://runbooks.test/mcp";
const METADATA: &str = "https://runbooks.test/.well-known/oauth-protected-resource/mcp";

async fn with_issuer(
    tweak: impl FnOnce(&mut orchestrator::settings::Settings),
) -> (Orch, FakeIssuer) {
    let issuer = FakeIssuer::start().await;
    let url = issuer.url().to_string();
    let o = Orch::start_with(|s| {
        s.own.oidc.issuer = Some(url);
        s.own.oidc.resource = Some(RESOURCE.into());
        tweak(s);
    })
    .await;
    (o, issuer)
}

async fn me(o: &Orch, token: &str) -> (u16, Value, Option<String>) {
    let r = o
        .http
        .get(format!("{}/api/me", o.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap_or(Value::Null), challenge)
}

#[tokio::test]
async fn an_access_token_names_the_person_and_the_policy_gives_roles_by_group() {
    let (o, issuer) = with_issuer(|_| {}).await;
    let mut claims = issuer.claims("ana", RESOURCE);
    claims["groups"] = json!(["sre", "with space"]);
    let (s, body, _) = me(&o, &issuer.token(&claims)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["principal"], "oidc:ana");
    assert_eq!(body["roles"], json!(["operator", "approver"]));
    assert_eq!(body["development_token"], false);

    // Another person without a group: no role, so not even reading.
    let token = issuer.token(&issuer.claims("bob", RESOURCE));
    let (s, _, _) = me(&o, &token).await;
    assert_eq!(s, 200);
    let r = o
        .http
        .get(format!("{}/api/incidents", o.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // The principal claim is configurable (the e-mail here).
    let (o2, issuer2) = with_issuer(|s| s.own.oidc.principal_claim = "email".into()).await;
    let mut claims = issuer2.claims("1234-5678", RESOURCE);
    claims["email"] = json!("viewer@example.com");
    let (s, body, _) = me(&o2, &issuer2.token(&claims)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        (body["principal"].as_str(), &body["roles"]),
        (Some("oidc:viewer@example.com"), &json!(["viewer"]))
    );

    // Static tokens keep working beside the issuer's.
    let (s, body, _) = me(&o, &token_of("olga")).await;
    assert_eq!((s, body["principal"].as_str()), (200, Some("olga")));

    // And /mcp takes the same token: an MCP session as oidc:ana.
    let r = o
        .http
        .post(format!("{}/mcp", o.base))
        .bearer_auth(issuer.token(&{
            let mut c = issuer.claims("ana", RESOURCE);
            c["groups"] = json!(["sre"]);
            c
        }))
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "curl", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().await.unwrap().contains("\"runbooks\""));
}

#[tokio::test]
async fn tokens_not_issued_for_this_server_are_refused_with_a_challenge() {
    let (o, issuer) = with_issuer(|_| {}).await;
    let now = chrono::Utc::now().timestamp();
    let good = issuer.claims("ana", RESOURCE);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let cases = [
        (
            "wrong audience",
            issuer.token(&with("aud", json!("https://other.test/mcp"))),
            "audience",
        ),
        (
            "expired",
            issuer.token(&with("exp", json!(now - 3600))),
            "expired",
        ),
        (
            "wrong issuer",
            issuer.token(&with("iss", json!("https://evil.test"))),
            "another issuer",
        ),
        (
            "unknown key",
            issuer.token_from_unknown_key("rotated-away", &good),
            "does not publish",
        ),
        (
            "not yet valid",
            issuer.token(&with("nbf", json!(now + 3600))),
            "not valid yet",
        ),
    ];
    for (what, token, says) in cases {
        let (s, body, challenge) = me(&o, &token).await;
        assert_eq!(s, 401, "{what}: {body}");
        let challenge = challenge.expect("WWW-Authenticate");
        assert!(
            challenge.contains(&format!("resource_metadata=\"{METADATA}\"")),
            "{what}: {challenge}"
        );
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{what}: {body}"
        );
    }
    // A forged signature: the claims of a good token, the signature of another.
    let a = issuer.token(&good);
    let b = issuer.token(&with("sub", json!("root")));
    let forged = format!(
        "{}.{}",
        b.rsplit_once('.').unwrap().0,
        a.rsplit_once('.').unwrap().1
    );
    let (s, body, _) = me(&o, &forged).await;
    assert_eq!(s, 401, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("signature"),
        "{body}"
    );
    // No token at all: where to get one, no error code (RFC 6750 §3.1).
    let r = o
        .http
        .get(format!("{}/api/me", o.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.headers()["www-authenticate"].to_str().unwrap(),
        format!("Bearer resource_metadata=\"{METADATA}\"")
    );
}

#[tokio::test]
async fn the_protected_resource_metadata_names_the_issuer_and_needs_no_token() {
    let (o, issuer) = with_issuer(|_| {}).await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let r = o
            .http
            .get(format!("{}{path}", o.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["resource"], RESOURCE);
        assert_eq!(doc["authorization_servers"], json!([issuer.url()]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }
    // Without an issuer there is nothing to advertise.
    let plain = Orch::start().await;
    let r = plain
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource",
            plain.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = plain
        .http
        .get(format!("{}/api/me", plain.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn made_up_key_ids_do_not_make_the_server_flood_the_issuer() {
    let (o, issuer) = with_issuer(|_| {}).await;
    let good = issuer.token(&issuer.claims("ana", RESOURCE));
    assert_eq!(me(&o, &good).await.0, 200);
    assert_eq!(issuer.jwks_fetches(), 1);
    for i in 0..10 {
        let t = issuer.token_from_unknown_key(&format!("kid-{i}"), &issuer.claims("ana", RESOURCE));
        assert_eq!(me(&o, &t).await.0, 401);
    }
    // refresh_min_secs (30 s): the keys were fetched once more at most.
    assert!(
        issuer.jwks_fetches() <= 2,
        "{} fetches",
        issuer.jwks_fetches()
    );
    assert_eq!(me(&o, &good).await.0, 200, "cached keys still verify");
}

#[tokio::test]
async fn an_issuer_that_cannot_be_reached_is_a_503_not_a_bad_token() {
    let (o, issuer) = with_issuer(|_| {}).await;
    issuer.set_down(true);
    let token = issuer.token(&issuer.claims("ana", RESOURCE));
    let (s, body, _) = me(&o, &token).await;
    assert_eq!(s, 503, "{body}");
    issuer.set_down(false);
    // The first fetch failed, so the next token fetches again at once.
    let (o2, issuer2) = with_issuer(|s| s.own.oidc.refresh_min_secs = 0).await;
    assert_eq!(
        me(&o2, &issuer2.token(&issuer2.claims("ana", RESOURCE)))
            .await
            .0,
        200
    );
    drop(o);
}

#[tokio::test]
async fn bad_oidc_settings_stop_the_start_naming_the_key() {
    for (vars, named) in [
        (
            vec![("RUNBOOKS__OIDC__ISSUER", "https://issuer.test")],
            "oidc.resource",
        ),
        (
            vec![
                ("RUNBOOKS__OIDC__ISSUER", "https://issuer.test"),
                ("RUNBOOKS__OIDC__RESOURCE", "https://runbooks.test/mcp"),
                ("RUNBOOKS__OIDC__JWKS_URL", "ftp://issuer.test/keys"),
            ],
            "oidc.jwks_url",
        ),
        (vec![("RUNBOOKS__OIDC__ISSUER", "not a url")], "oidc.issuer"),
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_orchestrator"))
            .arg("mcp")
            .envs(vars.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{vars:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{vars:?}: {stderr}");
    }
}
