//! Error lines reduced to their shape: numbers, ids, hashes, paths, URLs and addresses are
//! masked so that repeats of one failure (another build number, another temp dir, another
//! request id) compare equal. Used to group a report's log lines and to match incidents
//! against earlier ones.

/// Longest normalised text kept.
pub const MAX_LEN: usize = 300;

/// The shape of `line`: lowercase, masked, whitespace collapsed, at most [`MAX_LEN`]
/// characters.
pub fn normalize(line: &str) -> String {
    let mut out = String::with_capacity(line.len().min(MAX_LEN + 16));
    for token in line.split_whitespace() {
        if out.chars().count() >= MAX_LEN {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        // Keep surrounding punctuation (quotes, brackets, a trailing colon) and mask the core.
        let start = token
            .find(|c: char| c.is_alphanumeric() || matches!(c, '/' | '\\' | '~' | '.'))
            .unwrap_or(token.len());
        let end = token
            .rfind(|c: char| c.is_alphanumeric() || matches!(c, '/' | '\\'))
            .map(|i| i + token[i..].chars().next().map_or(1, char::len_utf8))
            .unwrap_or(start)
            .max(start);
        out.push_str(&token[..start].to_lowercase());
        mask(&token[start..end], &mut out);
        out.push_str(&token[end..].to_lowercase());
    }
    if out.chars().count() > MAX_LEN {
        out = out.chars().take(MAX_LEN).collect();
    }
    out
}

fn mask(core: &str, out: &mut String) {
    if core.is_empty() {
        return;
    }
    let lower = core.to_lowercase();
    let masked = if lower.contains("://") {
        "<url>"
    } else if is_uuid(&lower) {
        "<uuid>"
    } else if lower.contains('@') && lower.contains('.') && !lower.starts_with('@') {
        "<email>"
    } else if is_path(&lower) {
        "<path>"
    } else if is_hex_id(&lower) {
        "<hex>"
    } else {
        mask_numbers(&lower, out);
        return;
    };
    out.push_str(masked);
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `/var/lib/x`, `src/main.rs:42`, `C:\build\out`, `~/cache`, `./gradlew` — but not a
/// lone slash or a ratio such as `3/5`.
fn is_path(s: &str) -> bool {
    let seps = s.matches(['/', '\\']).count();
    if seps == 0 || s.len() < 2 {
        return false;
    }
    let letters = s.chars().any(|c| c.is_alphabetic());
    letters && (s.starts_with(['/', '\\', '~', '.']) || seps >= 1 && s.contains(['.', '/']))
}

/// A git SHA or another hexadecimal id: 7+ hex characters with at least one digit and
/// one letter, or `0x…`.
fn is_hex_id(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("0x") {
        return !rest.is_empty() && rest.chars().all(|c| c.is_ascii_hexdigit());
    }
    s.len() >= 7
        && s.chars().all(|c| c.is_ascii_hexdigit())
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_alphabetic())
}

/// Every run of digits (with the `.`, `:` or `,` between digits: versions, IPs, times,
/// decimals) becomes `<n>`.
fn mask_numbers(s: &str, out: &mut String) {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], '.' | ':' | ',')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            out.push_str("<n>");
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn repeats_of_one_failure_compare_equal() {
        let a = normalize(
            "ERROR: Build #1234 failed after 12.5s in /var/lib/jenkins/workspace/deploy-prod@2 (request 3f2a9c1e-aaaa-4bbb-8ccc-1234567890ab)",
        );
        let b = normalize(
            "error: build #77 failed after 3s in /tmp/ws/other (request 00000000-1111-2222-3333-444444444444)",
        );
        assert_eq!(a, b);
        assert_eq!(
            a,
            "error: build #<n> failed after <n>s in <path> (request <uuid>)"
        );
    }

    #[test]
    fn masks_hashes_urls_addresses_and_emails() {
        assert_eq!(
            normalize(
                "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 by dev@example.com broke https://ci.example.com/job/x/41/"
            ),
            "commit <hex> by <email> broke <url>"
        );
        assert_eq!(
            normalize("connect 10.0.0.12:5432 refused at 2026-11-29T10:00:00Z"),
            "connect <n> refused at <n>-<n>-<n>t<n>z"
        );
        assert_eq!(normalize("ptr 0xdeadBEEF"), "ptr <hex>");
    }

    #[test]
    fn words_stay_and_whitespace_collapses() {
        assert_eq!(
            normalize("  Tests   FAILED:\tNullPointerException  "),
            "tests failed: nullpointerexception"
        );
        // Words that merely look like hex stay words.
        assert_eq!(normalize("decade added"), "decade added");
        assert_eq!(normalize("3/5 tests"), "<n>/<n> tests");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn output_is_bounded() {
        let long = "word ".repeat(500);
        assert!(normalize(&long).chars().count() <= super::MAX_LEN);
        let one = "x".repeat(5000);
        assert_eq!(normalize(&one).chars().count(), super::MAX_LEN);
    }
}
