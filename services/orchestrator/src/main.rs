use std::path::PathBuf;

use clap::{Parser, Subcommand};
use orchestrator::settings::SERVICE;
use orchestrator::{Application, Settings, rules};
use runtime::CommonArgs;

/// Stores logs, detects incidents with rules, tracks actions and serves the REST API.
#[derive(Parser)]
#[command(name = "orchestrator", version)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Work with rules files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate a rules file.
    Check { file: PathBuf },
    /// Show, for every rule, whether a log matches and which condition failed if not.
    Test {
        file: PathBuf,
        #[arg(long, value_name = "LOG.json")]
        log: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Rules {
            command: RulesCommand::Check { file },
        }) => {
            println!("{}", rules::check_file(&file)?);
            Ok(())
        }
        Some(Command::Rules {
            command: RulesCommand::Test { file, log },
        }) => {
            println!("{}", rules::test_file(&file, &log)?);
            Ok(())
        }
        Some(Command::Migrate) => {
            let settings = Settings::load(cli.common.config.as_deref())?;
            runtime::install_crypto_provider();
            let pool = store::connect(&settings.common.database).await?;
            store::migrate(&pool).await?;
            println!(
                "migrations applied to {}",
                settings.common.database.redacted_url()
            );
            Ok(())
        }
        Some(Command::Serve) | None => {
            let mut settings = Settings::load(cli.common.config.as_deref())?;
            let (telemetry, cancel) = runtime::bootstrap(SERVICE, &mut settings.common)?;
            let app = Application::build(settings).await?;
            app.run_until_stopped(cancel).await?;
            telemetry.shutdown();
            Ok(())
        }
    }
}
