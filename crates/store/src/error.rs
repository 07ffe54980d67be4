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
    /// Connection trouble, deadlock, serialization failure, timeout: try again.
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
            StoreError::Connect { .. } | StoreError::Bus(_) => DbErrorKind::Transient,
            _ => DbErrorKind::Other,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind() == DbErrorKind::Transient
    }
}

/// Sorts a sqlx error by SQLSTATE class. The one place that knows the codes.
pub fn classify(e: &sqlx::Error) -> DbErrorKind {
    match e {
        sqlx::Error::RowNotFound => DbErrorKind::NotFound,
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => DbErrorKind::Transient,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("23505") => DbErrorKind::UniqueViolation,
            // 23xxx integrity, 22xxx data exceptions (e.g. 22021 bad UTF-8 / NUL byte).
            // 54000/54001: a value too large for an index row or a statement (program limits).
            Some(code)
                if code.starts_with("23")
                    || code.starts_with("22")
                    || code == "54000"
                    || code == "54001" =>
            {
                DbErrorKind::InvalidData
            }
            // serialization failure, deadlock, lock timeout, admin shutdown, too many connections,
            // connection exceptions, query cancelled.
            Some("40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" | "53300" | "57014") => {
                DbErrorKind::Transient
            }
            Some(code) if code.starts_with("08") => DbErrorKind::Transient,
            _ => DbErrorKind::Other,
        },
        _ => DbErrorKind::Other,
    }
}
