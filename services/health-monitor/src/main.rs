use clap::Parser;
use health_monitor::{Application, Settings, settings::SERVICE};
use runtime::{CommonArgs, ServiceSettings};

/// Watches every service, keeps the event log and the audit trail, exports metrics.
#[derive(Parser)]
#[command(name = "health-monitor", version)]
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
