use chatops::{Application, Settings, settings::SERVICE};
use clap::Parser;
use runtime::{CommonArgs, ServiceSettings};

/// Posts incidents to Slack and lets people act through @devops-bot and /devops.
#[derive(Parser)]
#[command(name = "chatops", version)]
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
