//! Request paths the way Jenkins (Stapler) reads them: `/job/<a>/job/<b>/...`
//! with each segment percent-decoded after splitting on `/`.

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Root,
    CrumbIssuer,
    QueueItem(i64),
    /// `/queue/api/json`: the items waiting.
    Queue,
    Job {
        job: String,
        rest: JobRoute,
    },
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobRoute {
    Page,
    Api,
    Build,
    BuildWithParameters,
    BuildPage(i64),
    BuildApi(i64),
    Stop(i64),
    Other,
}

pub(crate) fn route(raw_path: &str) -> Route {
    let mut segments: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    match segments.as_slice() {
        [] | ["api", "json"] => return Route::Root,
        ["crumbIssuer", "api", "json"] => return Route::CrumbIssuer,
        ["queue", "api", "json"] => return Route::Queue,
        ["queue", "item", id, "api", "json"] => {
            return id.parse().map_or(Route::Unknown, Route::QueueItem);
        }
        _ => {}
    }
    let mut names = Vec::new();
    let mut rest = segments.as_slice();
    while let ["job", name, tail @ ..] = rest {
        if name.is_empty() {
            return Route::Unknown;
        }
        names.push(decode(name));
        rest = tail;
    }
    if names.is_empty() {
        return Route::Unknown;
    }
    let job = names.join("/");
    let rest = match rest {
        [] => JobRoute::Page,
        ["api", "json"] => JobRoute::Api,
        ["build"] => JobRoute::Build,
        ["buildWithParameters"] => JobRoute::BuildWithParameters,
        [n] => number(n).map_or(JobRoute::Other, JobRoute::BuildPage),
        [n, "api", "json"] => number(n).map_or(JobRoute::Other, JobRoute::BuildApi),
        [n, "stop"] => number(n).map_or(JobRoute::Other, JobRoute::Stop),
        _ => JobRoute::Other,
    };
    Route::Job { job, rest }
}

fn number(s: &str) -> Option<i64> {
    s.parse().ok().filter(|n| *n > 0)
}

/// Percent-decodes one path segment; `+` stays a plus, as in any URL path.
pub(crate) fn decode(segment: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes a job name into its URL path (`team/app` -> `/job/team/job/app`),
/// escaping everything but unreserved characters.
pub(crate) fn job_path(job: &str) -> String {
    let mut path = String::new();
    for segment in job.split('/') {
        path.push_str("/job/");
        for byte in segment.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                path.push(byte as char);
            } else {
                path.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    path
}

/// Standard base64, for comparing `Authorization: Basic` headers.
pub(crate) fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/api/json"), Route::Root);
        assert_eq!(route("/crumbIssuer/api/json"), Route::CrumbIssuer);
        assert_eq!(route("/queue/item/12/api/json"), Route::QueueItem(12));
        assert_eq!(
            route("/job/team/job/app/7/api/json"),
            Route::Job {
                job: "team/app".into(),
                rest: JobRoute::BuildApi(7)
            }
        );
        assert_eq!(
            route("/job/my%20app/buildWithParameters"),
            Route::Job {
                job: "my app".into(),
                rest: JobRoute::BuildWithParameters
            }
        );
        assert_eq!(
            route("/job/a%2Fb/3/stop"),
            Route::Job {
                job: "a/b".into(),
                rest: JobRoute::Stop(3)
            }
        );
        assert_eq!(route("/job//build"), Route::Unknown);
        assert_eq!(route("/nope"), Route::Unknown);
    }

    #[test]
    fn decoding_and_encoding() {
        assert_eq!(decode("a%20b+c%zz%4"), "a b+c%zz%4");
        assert_eq!(job_path("team/my app"), "/job/team/job/my%20app");
        assert_eq!(base64(b"bob:s3cret"), "Ym9iOnMzY3JldA==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
