use std::path::PathBuf;

/// Flags every binary accepts (flatten into the service's clap parser).
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// TOML settings file, applied over the built-in defaults and under the environment.
    #[arg(long, short = 'c', env = "RUNBOOKS_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
}
