use clap::Parser;
use runner::{Application, Settings, settings::SERVICE};
use runtime::{CommonArgs, ServiceSettings};

/// Runs guarded, at-most-once corrective actions on Jenkins.
#[derive(Parser)]
#[command(name = "runner", version)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.common.config.as_deref())?;
    let (telemetry, cancel) = runtime::bootstrap(SERVICE, &mut settings.common)?;
    let app = Application::build(settings).await?;
    app.run_until_stopped(cancel).await?;
    telemetry.shutdown();
    Ok(())
}
