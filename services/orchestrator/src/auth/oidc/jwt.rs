//! JWT access tokens checked against an issuer's keys (RFC 7519, JWS RFC 7515, JWK RFC 7517):
//! the signature with one of the issuer's published keys (RS256 or ES256 only: never `none`,
//! never an HMAC that would make the public key a shared secret), then the claims the
//! resource server relies on — issuer, audience (RFC 8707: this server's resource URL),
//! expiry and not-before. Pure: the keys come from [`super::jwks`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Why a token is refused. The text goes back to the client in `error_description`: it
/// names what failed, never a key or a claim value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is not a signed JWT")]
    Malformed,
    #[error("the token's algorithm {0:?} is not accepted (RS256, ES256)")]
    Algorithm(String),
    #[error("the token was signed with a key the issuer does not publish")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token was issued by another issuer")]
    Issuer,
    #[error("the token is not meant for this server (audience)")]
    Audience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
}

/// One public key of the issuer, decoded from its JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// The uncompressed point `04 || x || y` of a P-256 key.
    P256(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: Option<String>,
    pub key: PublicKey,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// The signing keys of a JWK Set document; keys of other types, curves or uses are skipped
/// (an issuer may publish encryption keys beside its signing keys).
pub fn parse_jwks(document: &[u8]) -> Result<Vec<Jwk>, String> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<Value>,
    }
    let set: Set = serde_json::from_slice(document).map_err(|e| format!("not a JWK set: {e}"))?;
    let mut keys = Vec::new();
    for raw in set.keys {
        let Ok(raw) = serde_json::from_value::<RawJwk>(raw) else {
            continue;
        };
        if raw.usage.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let b64 = |v: &Option<String>| v.as_deref().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
        let key = match (raw.kty.as_str(), raw.crv.as_deref()) {
            ("RSA", _) => match (b64(&raw.n), b64(&raw.e)) {
                (Some(n), Some(e)) => PublicKey::Rsa { n, e },
                _ => continue,
            },
            ("EC", Some("P-256")) => match (b64(&raw.x), b64(&raw.y)) {
                (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                    let mut point = vec![4u8];
                    point.extend(x);
                    point.extend(y);
                    PublicKey::P256(point)
                }
                _ => continue,
            },
            _ => continue,
        };
        keys.push(Jwk { kid: raw.kid, key });
    }
    Ok(keys)
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// A token split and decoded, its signature not yet checked.
pub struct Unverified {
    alg: String,
    pub kid: Option<String>,
    signed: String,
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

pub fn decode(token: &str) -> Result<Unverified, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let part = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed);
    let header: Header = serde_json::from_slice(&part(h)?).map_err(|_| JwtError::Malformed)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&part(p)?).map_err(|_| JwtError::Malformed)?;
    Ok(Unverified {
        alg: header.alg,
        kid: header.kid,
        signed: format!("{h}.{p}"),
        signature: part(s)?,
        claims,
    })
}

impl Unverified {
    /// The claims once the signature verifies with the key the header names (or the only
    /// key of the right type when the header names none).
    pub fn verify(self, keys: &[Jwk]) -> Result<Map<String, Value>, JwtError> {
        let rsa = match self.alg.as_str() {
            "RS256" => true,
            "ES256" => false,
            other => return Err(JwtError::Algorithm(other.to_string())),
        };
        let fits = |k: &&Jwk| matches!(k.key, PublicKey::Rsa { .. }) == rsa;
        let candidates: Vec<&Jwk> = keys.iter().filter(fits).collect();
        let key = match &self.kid {
            Some(kid) => candidates
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid.as_str())),
            None if candidates.len() == 1 => candidates.first(),
            None => None,
        }
        .ok_or(JwtError::UnknownKey)?;
        let message = self.signed.as_bytes();
        let ok = match &key.key {
            PublicKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, &self.signature)
                .is_ok(),
            PublicKey::P256(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, &self.signature)
                .is_ok(),
        };
        if ok {
            Ok(self.claims)
        } else {
            Err(JwtError::Signature)
        }
    }
}

/// What a verified token must also say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub now: i64,
    pub leeway_secs: i64,
}

/// Issuer, audience, expiry (required) and not-before (when present).
pub fn check_claims(claims: &Map<String, Value>, want: &Expected<'_>) -> Result<(), JwtError> {
    if claims.get("iss").and_then(Value::as_str) != Some(want.issuer) {
        return Err(JwtError::Issuer);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == want.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(want.audience)),
        _ => false,
    };
    if !audience_ok {
        return Err(JwtError::Audience);
    }
    let time = |name| claims.get(name).and_then(Value::as_f64).map(|t| t as i64);
    let exp = time("exp").ok_or(JwtError::MissingClaim("exp"))?;
    if want.now >= exp + want.leeway_secs {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = time("nbf")
        && want.now + want.leeway_secs < nbf
    {
        return Err(JwtError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // RFC 7515, appendix A.2: a JWS signed with RS256 and the public key it was made with.
    const RFC7515_A2_TOKEN: &str = concat!(
        "eyJhbGciOiJSUzI1NiJ9",
        ".",
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
        ".",
        "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
    );
    const RFC7515_A2_JWKS: &str = r#"{"keys":[{"kty":"RSA",
      "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
      "e":"AQAB"}]}"#;

    fn expected(now: i64) -> Expected<'static> {
        Expected {
            issuer: "https://issuer.example",
            audience: "https://runbooks.example/mcp",
            now,
            leeway_secs: 60,
        }
    }

    #[test]
    fn rs256_signature_of_the_rfc_example_verifies_and_a_changed_byte_does_not() {
        let keys = parse_jwks(RFC7515_A2_JWKS.as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        let claims = decode(RFC7515_A2_TOKEN).unwrap().verify(&keys).unwrap();
        assert_eq!(claims["iss"], "joe");
        // The payload with one claim changed: same signature, refused.
        let forged = RFC7515_A2_TOKEN.replacen("eyJpc3MiOiJqb2Ui", "eyJpc3MiOiJqb2Yi", 1);
        assert_eq!(
            decode(&forged).unwrap().verify(&keys).unwrap_err(),
            JwtError::Signature
        );
    }

    #[test]
    fn none_and_hmac_algorithms_are_refused_before_any_key_is_looked_at() {
        for alg in ["none", "HS256"] {
            let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg }).to_string());
            let token = format!("{header}.e30.");
            let keys = parse_jwks(RFC7515_A2_JWKS.as_bytes()).unwrap();
            assert_eq!(
                decode(&token).unwrap().verify(&keys).unwrap_err(),
                JwtError::Algorithm(alg.into())
            );
        }
        assert_eq!(decode("a.b").err(), Some(JwtError::Malformed));
        assert_eq!(decode("a.b.c.d").err(), Some(JwtError::Malformed));
    }

    #[test]
    fn jwks_skips_encryption_keys_unknown_types_and_short_points() {
        let doc = json!({"keys": [
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "EC", "crv": "P-256", "kid": "k1",
             "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])},
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("k1"));
        assert!(parse_jwks(b"[]").is_err());
    }

    #[test]
    fn claims_issuer_audience_expiry_and_not_before() {
        let good = json!({"iss": "https://issuer.example", "aud": ["other", "https://runbooks.example/mcp"],
                          "exp": 1_000, "nbf": 900});
        let claims = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(check_claims(&claims(good.clone()), &expected(950)), Ok(()));
        // Within the leeway either side.
        assert_eq!(
            check_claims(&claims(good.clone()), &expected(1_059)),
            Ok(())
        );
        assert_eq!(check_claims(&claims(good.clone()), &expected(841)), Ok(()));
        assert_eq!(
            check_claims(&claims(good.clone()), &expected(1_060)),
            Err(JwtError::Expired)
        );
        assert_eq!(
            check_claims(&claims(good.clone()), &expected(800)),
            Err(JwtError::NotYetValid)
        );
        let mut wrong = good.clone();
        wrong["iss"] = json!("https://issuer.example/");
        assert_eq!(
            check_claims(&claims(wrong), &expected(950)),
            Err(JwtError::Issuer)
        );
        let mut wrong = good.clone();
        wrong["aud"] = json!("https://runbooks.example");
        assert_eq!(
            check_claims(&claims(wrong), &expected(950)),
            Err(JwtError::Audience)
        );
        let mut wrong = good;
        wrong.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            check_claims(&claims(wrong), &expected(950)),
            Err(JwtError::MissingClaim("exp"))
        );
    }
}
