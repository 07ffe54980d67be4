use std::path::PathBuf;

use clap::{Parser, Subcommand};
use domain::{ActionType, Channel};
use orchestrator::auth::{self, Role};
use orchestrator::settings::SERVICE;
use orchestrator::{Application, Settings};
use runtime::{CommonArgs, ServiceSettings};

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
    /// Work with runbooks files.
    Runbooks {
        #[command(subcommand)]
        command: RunbooksCommand,
    },
    /// Work with the action policy.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Serve MCP over stdin/stdout (Claude Desktop), as `mcp:<mcp.stdio_principal>`.
    Mcp,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy file and list what it says.
    Check { file: PathBuf },
    /// Show the decision on one request and the clause that made it (exit 1 when refused).
    Explain {
        /// The policy file (default: RUNBOOKS__POLICY__PATH, else the shipped policy).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Who asks: a token name, `slack:U123`, `rule:<name>`, `amqp:<user>`.
        #[arg(long)]
        principal: String,
        /// Roles held besides the policy's mapping (e.g. those of the principal's token).
        #[arg(long = "role", value_parser = parse_role)]
        roles: Vec<Role>,
        /// Groups of the principal (`slack-group:S0OPS`).
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long)]
        action: ActionType,
        #[arg(long)]
        job: String,
        /// api, slack, mcp, rule or system.
        #[arg(long, default_value = "api")]
        channel: Channel,
        /// The caller asks for an approval.
        #[arg(long)]
        ask_approval: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a token: prints it once, and the configuration line holding only its hash.
    New {
        name: String,
        #[arg(long = "role", value_parser = parse_role, required = true)]
        roles: Vec<Role>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
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

#[derive(Subcommand)]
enum RunbooksCommand {
    /// Validate a runbooks file.
    Check { file: PathBuf },
    /// Print the path a run would take against scripted outcomes; touches nothing.
    Test {
        file: PathBuf,
        #[arg(long)]
        runbook: String,
        /// Outcomes in order, e.g. 'build=FAILURE,build=SUCCESS' (keys: action, build, logs).
        #[arg(long, default_value = "")]
        simulate: String,
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
        Some(Command::Runbooks {
            command: RunbooksCommand::Check { file },
        }) => {
            println!("{}", runbooks::check_file(&file)?);
            Ok(())
        }
        Some(Command::Runbooks {
            command:
                RunbooksCommand::Test {
                    file,
                    runbook,
                    simulate,
                },
        }) => {
            println!("{}", runbooks::test_file(&file, &runbook, &simulate)?);
            Ok(())
        }
        Some(Command::Policy {
            command: PolicyCommand::Check { file },
        }) => {
            print!(
                "{}",
                auth::cli::check_file(&file).map_err(anyhow::Error::msg)?
            );
            Ok(())
        }
        Some(Command::Policy {
            command:
                PolicyCommand::Explain {
                    file,
                    principal,
                    roles,
                    groups,
                    action,
                    job,
                    channel,
                    ask_approval,
                },
        }) => {
            let file = file.or_else(|| {
                std::env::var_os("RUNBOOKS__POLICY__PATH")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            });
            let q = auth::cli::Explain {
                principal: &principal,
                roles: &roles,
                groups: &groups,
                action,
                job: &job,
                channel,
                ask_approval,
            };
            let (text, allowed) =
                auth::cli::explain(file.as_deref(), &q).map_err(anyhow::Error::msg)?;
            print!("{text}");
            if !allowed {
                std::process::exit(1);
            }
            Ok(())
        }
        Some(Command::Token {
            command: TokenCommand::New { name, roles },
        }) => {
            print!(
                "{}",
                auth::cli::token_new(&name, &roles).map_err(anyhow::Error::msg)?
            );
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
        Some(Command::Mcp) => {
            let settings = Settings::load(cli.common.config.as_deref())?;
            orchestrator::mcp::stdio::init_logging(&settings);
            orchestrator::mcp::stdio::run(settings).await?;
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
