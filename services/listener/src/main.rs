use clap::Parser;
use listener::{Application, Settings, settings::SERVICE};
use runtime::{CommonArgs, ServiceSettings};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tails Jenkins and API logs from Elasticsearch and publishes them to the `logs` exchange.
#[derive(Parser)]
#[command(name = "listener", version)]
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
