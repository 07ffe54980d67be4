//! The console's promises without a browser: its headers, cookies, CSRF checks and login
//! limits (a guesser behind a shared address locks only the prefixes it tried).

mod console_common;

use console_common::*;

#[tokio::test]
async fn the_console_is_safe_by_default() {
    let s = stack().await;
    let login = s
        .http
        .get(format!("{}/console/login", s.console))
        .send()
        .await
        .unwrap();
    let csp = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let pre = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        pre.contains("HttpOnly") && pre.contains("SameSite=Strict"),
        "{pre}"
    );
    let csrf_cookie = pre.split(';').next().unwrap().to_string();
    let html = login.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    // Not logged in: the console sends people to the form.
    let r = s
        .http
        .get(format!("{}/console", s.console))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["location"].to_str().unwrap()
        ),
        (303, "/console/login")
    );

    let post = |form: Vec<(&'static str, String)>, cookie: String, origin: Option<&'static str>| {
        let mut req = s
            .http
            .post(format!("{}/console/login", s.console))
            .header("cookie", cookie)
            .form(&form);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    // Without the form's CSRF token, or from another site: refused, nobody logged in.
    let r = post(
        vec![("token", token("otto")), ("csrf", "x".into())],
        csrf_cookie.clone(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let r = post(
        vec![("token", token("otto")), ("csrf", csrf.clone())],
        csrf_cookie.clone(),
        Some("https://evil.example"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    // A right token logs in: a session cookie that scripts cannot read, Secure behind TLS.
    let r = s
        .http
        .post(format!("{}/console/login", s.console))
        .header("cookie", csrf_cookie.clone())
        .header("x-forwarded-proto", "https")
        .form(&[("token", token("vera")), ("csrf", csrf.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("rb_console="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/console"] {
        assert!(session.contains(flag), "{flag}: {session}");
    }
    // A viewer sees the console but the orchestrator refuses her acknowledgement.
    let cookie = session.split(';').next().unwrap().to_string();
    let page = s
        .http
        .get(format!("{}/console", s.console))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(
        body.contains("id=\"principal\">vera<"),
        "logged in as herself"
    );
    let csrf2 = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = s
        .http
        .post(format!("{}/console/incidents/1/acknowledge", s.console))
        .header("cookie", &cookie)
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a button without its CSRF token does nothing"
    );
    let r = s
        .http
        .post(format!("{}/console/incidents/1/acknowledge", s.console))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf2.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = s
        .http
        .get(format!("{}/console", s.console))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"flash\" class=\"flash error\""),
        "the refusal is shown"
    );

    // Wrong tokens: the prefix tried is locked after 3, a colleague's token still works
    // from the same (gateway) address.
    let guess = format!("{}0000", &token("otto")[..12]);
    for _ in 0..3 {
        let r = post(
            vec![("token", guess.clone()), ("csrf", csrf.clone())],
            csrf_cookie.clone(),
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = post(
        vec![("token", token("otto")), ("csrf", csrf.clone())],
        csrf_cookie.clone(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        429,
        "the tried prefix waits, even with the right token"
    );
    assert!(r.headers().contains_key("retry-after"));
    let r = post(
        vec![("token", token("anna")), ("csrf", csrf.clone())],
        csrf_cookie.clone(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        303,
        "a colleague behind the same address is not locked out"
    );
}
