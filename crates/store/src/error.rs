/// What went wrong with the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to PostgreSQL at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot create database `{name}`: {reason}")]
    CreateDatabase { name: String, reason: String },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error ({kind:?}): {source}")]
    Database {
        kind: DbErrorKind,
        source: sqlx::Error,
    },
    #[error(transparent)]
    Bus(#[from] bus::BusError),
}

/// The classes of database failure callers act on differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A unique key already holds this value.
    UniqueViolation,
    /// CHECK, NOT NULL, foreign key or an invalid value (bad UTF-8, NUL byte...): the
    /// data will never be accepted.
    InvalidData,
    /// The database cannot serve anyone right now: unreachable, connection refused, reset
    /// or closed, pool exhausted, starting up or shutting down, read-only (a failover in
    /// progress), out of resources. Nothing is wrong with the request; wait and try again
    /// without counting it against the request.
    Unavailable,
    /// This statement lost a race (serialization failure, deadlock, lock or statement
    /// timeout): trying it again may work, but it counts as a failed attempt.
    Transient,
    NotFound,
    Other,
}

impl From<sqlx::Error> for StoreError {
    fn from(source: sqlx::Error) -> Self {
        StoreError::Database {
            kind: classify(&source),
            source,
        }
    }
}

impl StoreError {
    pub fn kind(&self) -> DbErrorKind {
        match self {
            StoreError::Database { kind, .. } => *kind,
            StoreError::Connect { .. } | StoreError::Bus(_) => DbErrorKind::Unavailable,
            _ => DbErrorKind::Other,
        }
    }

    /// Worth trying again: [`DbErrorKind::Unavailable`] or [`DbErrorKind::Transient`].
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            DbErrorKind::Transient | DbErrorKind::Unavailable
        )
    }

    pub fn is_unavailable(&self) -> bool {
        self.kind() == DbErrorKind::Unavailable
    }
}

impl DbErrorKind {
    /// What a bus consumer does with a message whose handling failed this way, `reason`
    /// being the error reported: wait for an unavailable database without spending the
    /// message's attempts, dead-letter data that will never be accepted, retry the rest.
    pub fn handler_error(self, reason: impl std::fmt::Display) -> bus::HandlerError {
        match self {
            DbErrorKind::Unavailable => bus::HandlerError::unavailable(reason),
            DbErrorKind::InvalidData => bus::HandlerError::reject(reason),
            _ => bus::HandlerError::retry(reason),
        }
    }
}

/// The one translation of database failures to consumer outcomes (see
/// [`DbErrorKind::handler_error`]).
impl From<StoreError> for bus::HandlerError {
    fn from(e: StoreError) -> Self {
        e.kind().handler_error(e)
    }
}

/// Sorts a sqlx error by what the caller should do about it. The one place that knows the
/// SQLSTATE codes; every service translates database errors through it.
pub fn classify(e: &sqlx::Error) -> DbErrorKind {
    match e {
        sqlx::Error::RowNotFound => DbErrorKind::NotFound,
        // `Protocol`: the server (or whatever answers in its place) said something a
        // PostgreSQL server would not, e.g. a connection closed during the TLS
        // negotiation. Parameters are bound, so no request content can cause it.
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => DbErrorKind::Unavailable,
        sqlx::Error::Database(db) => classify_code(db.code().as_deref().unwrap_or("")),
        _ => DbErrorKind::Other,
    }
}

/// Sorts a SQLSTATE code.
pub fn classify_code(code: &str) -> DbErrorKind {
    match code {
        "23505" => DbErrorKind::UniqueViolation,
        // 23xxx integrity, 22xxx data exceptions (e.g. 22021 bad UTF-8 / NUL byte,
        // 22001 value too long), 54000/54001 program limits (a value too large for an
        // index row or a statement).
        c if c.starts_with("23") || c.starts_with("22") || c == "54000" || c == "54001" => {
            DbErrorKind::InvalidData
        }
        // 08xxx connection exceptions, 53xxx insufficient resources (too many connections,
        // disk full, out of memory), 57P01 admin shutdown, 57P02 crash shutdown, 57P03
        // cannot connect now (starting up), 25006 read-only transaction (a standby, or a
        // primary demoted by a failover), 58xxx system errors (I/O).
        c if c.starts_with("08") || c.starts_with("53") || c.starts_with("58") => {
            DbErrorKind::Unavailable
        }
        // 57P05 idle session timeout: the connection was closed under us.
        "57P01" | "57P02" | "57P03" | "57P05" | "25006" => DbErrorKind::Unavailable,
        // 40001 serialization failure, 40P01 deadlock, 55P03 lock not available
        // (lock_timeout), 57014 query cancelled (statement_timeout), 25P03 our own session
        // idled too long inside its transaction. A statement or transaction that is too
        // slow every time may be the message's doing: these count as attempts.
        "40001" | "40P01" | "55P03" | "57014" | "25P03" => DbErrorKind::Transient,
        _ => DbErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_sort_into_what_to_do() {
        use DbErrorKind::*;
        let cases = [
            ("23505", UniqueViolation),
            ("23503", InvalidData),
            ("22021", InvalidData),
            ("54000", InvalidData),
            ("54001", InvalidData),
            ("08006", Unavailable),
            ("08001", Unavailable),
            ("57P01", Unavailable),
            ("57P02", Unavailable),
            ("57P03", Unavailable),
            ("25006", Unavailable),
            ("53300", Unavailable),
            ("53100", Unavailable),
            ("40001", Transient),
            ("40P01", Transient),
            ("55P03", Transient),
            ("57014", Transient),
            ("25P03", Transient),
            ("57P05", Unavailable),
            ("42601", Other),
            ("", Other),
        ];
        for (code, kind) in cases {
            assert_eq!(classify_code(code), kind, "{code}");
        }
        assert_eq!(classify(&sqlx::Error::PoolTimedOut), Unavailable);
        assert_eq!(
            classify(&sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())),
            Unavailable
        );
        assert_eq!(
            classify(&sqlx::Error::Protocol(
                "unexpected response from SSLRequest: 0x00".into()
            )),
            Unavailable
        );
        assert_eq!(classify(&sqlx::Error::RowNotFound), NotFound);
        assert!(
            bus::HandlerError::from(StoreError::from(sqlx::Error::PoolTimedOut)).is_unavailable()
        );
        assert!(matches!(
            InvalidData.handler_error("bad"),
            bus::HandlerError::Reject(_)
        ));
        assert!(matches!(
            bus::HandlerError::from(StoreError::from(sqlx::Error::ColumnNotFound("x".into()))),
            bus::HandlerError::Retry(_)
        ));
        assert_eq!(classify(&sqlx::Error::ColumnNotFound("x".into())), Other);
    }
}
