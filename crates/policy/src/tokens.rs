//! Bearer tokens of the REST API and `/mcp`. Configured by their SHA-256 only
//! (`name:role+role:sha256hex`), so the configuration never holds a usable secret; a bare
//! token is accepted as a development shortcut (an admin named after its hash).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{Role, Roles};

/// A configured token: who it is and the hash of its secret.
#[derive(Clone)]
pub struct TokenEntry {
    pub name: String,
    pub roles: Roles,
    hash: [u8; 32],
    /// Configured as a bare secret (development).
    pub bare: bool,
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("bare", &self.bare)
            .finish_non_exhaustive()
    }
}

pub fn sha256(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A principal name a token may carry: short, printable, no separators of our formats.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// Parses one entry. `what` names it in errors (`api.tokens[2]`); the secret of a bare
/// token never appears in an error.
pub fn parse_entry(entry: &str, what: &str) -> Result<TokenEntry, String> {
    let entry = entry.trim();
    if entry.is_empty() {
        return Err(format!("{what}: empty entry"));
    }
    if !entry.contains(':') {
        let hash = sha256(entry);
        return Ok(TokenEntry {
            name: format!("dev-{}", &hex::encode(hash)[..8]),
            roles: Roles::of([Role::Admin]),
            hash,
            bare: true,
        });
    }
    let parts: Vec<&str> = entry.split(':').collect();
    let [name, roles, hash] = parts[..] else {
        return Err(format!(
            "{what}: expected `name:role+role:sha256hex` (or a bare token for development)"
        ));
    };
    if !valid_name(name) {
        return Err(format!(
            "{what}: name `{name}` must be 1..=64 of letters, digits, `.`, `_`, `-`, `@`"
        ));
    }
    let roles = if roles.trim().is_empty() {
        Roles::none()
    } else {
        Roles::of(
            roles
                .split('+')
                .map(|r| {
                    r.parse::<Role>()
                        .map_err(|e| format!("{what} ({name}): {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let bytes = hex::decode(hash.trim())
        .ok()
        .filter(|b| b.len() == 32)
        .ok_or_else(|| format!("{what} ({name}): the hash must be 64 hex characters (SHA-256)"))?;
    let mut h = [0u8; 32];
    h.copy_from_slice(&bytes);
    Ok(TokenEntry {
        name: name.to_string(),
        roles,
        hash: h,
        bare: false,
    })
}

/// Every configured token.
#[derive(Clone, Debug, Default)]
pub struct TokenSet {
    entries: Vec<TokenEntry>,
}

impl TokenSet {
    /// From `api.tokens` entries and the lines of `api.tokens_file` (blank lines and `#`
    /// comments skipped).
    pub fn parse(entries: &[String], file: Option<(&str, &str)>) -> Result<TokenSet, String> {
        let mut out = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            out.push(parse_entry(e, &format!("api.tokens[{i}]"))?);
        }
        if let Some((path, text)) = file {
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                out.push(parse_entry(line, &format!("{path}:{}", n + 1))?);
            }
        }
        let mut names = std::collections::HashSet::new();
        for e in &out {
            if !names.insert(e.name.clone()) {
                return Err(format!("api.tokens: the name `{}` is used twice", e.name));
            }
        }
        Ok(TokenSet { entries: out })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[TokenEntry] {
        &self.entries
    }

    /// The entry whose hash matches the presented secret. Every entry is compared, in
    /// constant time, so the answer's timing says nothing about which one (or how much)
    /// matched.
    pub fn find(&self, presented: &str) -> Option<&TokenEntry> {
        let h = sha256(presented);
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.hash.ct_eq(&h)) {
                found = Some(e);
            }
        }
        found
    }

    /// The entry whose secret has this SHA-256 (what a trusted console relays for a person
    /// who logged in with their token); compared like [`TokenSet::find`].
    pub fn find_sha256(&self, hash: &[u8; 32]) -> Option<&TokenEntry> {
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.hash.ct_eq(hash)) {
                found = Some(e);
            }
        }
        found
    }
}

/// A fresh random token and the configuration line for it.
pub fn new_token(name: &str, roles: &Roles) -> Result<(String, String), String> {
    if !valid_name(name) {
        return Err(format!(
            "name `{name}` must be 1..=64 of letters, digits, `.`, `_`, `-`, `@`"
        ));
    }
    if roles.is_empty() {
        return Err("give at least one --role (viewer, operator, approver, admin)".into());
    }
    let secret: [u8; 32] = rand::random();
    let token = format!("rbk_{}", hex::encode(secret));
    let roles_text: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let line = format!(
        "{name}:{}:{}",
        roles_text.join("+"),
        hex::encode(sha256(&token))
    );
    Ok((token, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_match_by_hash() {
        let (token, line) = new_token("ana", &Roles::of([Role::Operator, Role::Approver])).unwrap();
        assert!(!line.contains(&token), "the line holds the hash only");
        let set = TokenSet::parse(&[line], None).unwrap();
        let e = set.find(&token).unwrap();
        assert_eq!(e.name, "ana");
        assert!(e.roles.has(Role::Approver) && !e.roles.has(Role::Admin));
        assert!(set.find("wrong").is_none());
        assert!(set.find(&token[..token.len() - 1]).is_none());
        assert_eq!(set.find_sha256(&sha256(&token)).unwrap().name, "ana");
        assert!(set.find_sha256(&sha256("wrong")).is_none());
    }

    #[test]
    fn a_bare_token_is_a_development_admin_named_by_its_hash() {
        let set = TokenSet::parse(&["secret".into()], None).unwrap();
        let e = set.find("secret").unwrap();
        assert!(e.bare && e.roles.has(Role::Admin));
        assert_eq!(
            e.name,
            format!("dev-{}", &hex::encode(sha256("secret"))[..8])
        );
    }

    #[test]
    fn bad_entries_name_the_entry_and_never_echo_secrets() {
        for (entry, want) in [
            ("ana:operator", "expected `name:role+role:sha256hex`"),
            ("ana:boss:00", "unknown role `boss`"),
            ("ana:operator:abc", "64 hex characters"),
            ("a b:operator:00", "name `a b`"),
        ] {
            let e = TokenSet::parse(
                &["ok:viewer:".to_string() + &"0".repeat(64), entry.into()],
                None,
            )
            .unwrap_err();
            assert!(e.contains("api.tokens[1]") && e.contains(want), "{e}");
        }
        let file = "# ops\n\nbob:viewer:".to_string() + &"1".repeat(64) + "\nbroken:line\n";
        let e = TokenSet::parse(&[], Some(("tokens.txt", &file))).unwrap_err();
        assert!(e.starts_with("tokens.txt:4"), "{e}");
        let two = [
            "x:viewer:".to_string() + &"0".repeat(64),
            "x:admin:".to_string() + &"1".repeat(64),
        ];
        assert!(
            TokenSet::parse(&two, None)
                .unwrap_err()
                .contains("used twice")
        );
    }
}
