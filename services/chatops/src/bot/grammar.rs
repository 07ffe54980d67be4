//! The `/devops` grammar, which needs no LLM, and the commands both it and the model's tool
//! calls produce.

use domain::Severity;

use super::validate::{self, JobAllowlist};

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    Incidents {
        severity: Option<Severity>,
    },
    Incident {
        id: i64,
    },
    Ack {
        id: i64,
    },
    Resolve {
        id: i64,
        note: Option<String>,
    },
    Restart {
        job: String,
        build: i64,
    },
    Rollback {
        job: String,
        build: Option<i64>,
    },
    Stop {
        job: String,
        build: i64,
    },
    Approve {
        action: i64,
    },
    Deny {
        action: i64,
        reason: Option<String>,
    },
    Status,
    /// The post-mortem of an incident (by the incident's id).
    Postmortem {
        incident: i64,
    },
}

pub const USAGE: &str = "\
`/devops help` — this list
`/devops incidents [critical|high|medium|low]` — active incidents
`/devops incident <id>` — one incident
`/devops ack <id>` — acknowledge an incident
`/devops resolve <id> [note]` — resolve an incident
`/devops restart <job> <build>` — rebuild a build
`/devops rollback <job> [build]` — roll a job back
`/devops stop <job> <build>` — stop a running build
`/devops approve <action>` / `/devops deny <action> [reason]` — decide on an action
`/devops status` — health of the Runbooks services
`/devops postmortem <incident>` — an incident's post-mortem (written if it has none yet)
Or mention me: `@devops-bot reinicia el build 123 del job deploy-prod`";

impl Command {
    /// A short name (metrics, audit).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Help => "help",
            Command::Incidents { .. } => "incidents",
            Command::Incident { .. } => "incident",
            Command::Ack { .. } => "ack",
            Command::Resolve { .. } => "resolve",
            Command::Restart { .. } => "restart",
            Command::Rollback { .. } => "rollback",
            Command::Stop { .. } => "stop",
            Command::Approve { .. } => "approve",
            Command::Deny { .. } => "deny",
            Command::Status => "status",
            Command::Postmortem { .. } => "postmortem",
        }
    }

    /// Whether it changes something (answered in the channel rather than privately).
    pub fn changes_something(&self) -> bool {
        !matches!(
            self,
            Command::Help
                | Command::Incidents { .. }
                | Command::Incident { .. }
                | Command::Status
                | Command::Postmortem { .. }
        )
    }

    /// What the bot understood, in words.
    pub fn describe(&self) -> String {
        use crate::slack::text::escape;
        match self {
            Command::Help => "show the help".into(),
            Command::Incidents { severity: None } => "list the active incidents".into(),
            Command::Incidents { severity: Some(s) } => format!("list the active {s} incidents"),
            Command::Incident { id } => format!("show incident #{id}"),
            Command::Ack { id } => format!("acknowledge incident #{id}"),
            Command::Resolve { id, note: None } => format!("resolve incident #{id}"),
            Command::Resolve { id, note: Some(n) } => {
                format!("resolve incident #{id} with the note “{}”", escape(n))
            }
            Command::Restart { job, build } => format!("restart build #{build} of `{job}`"),
            Command::Rollback { job, build: None } => format!("roll back `{job}`"),
            Command::Rollback {
                job,
                build: Some(b),
            } => format!("roll back `{job}` to build #{b}"),
            Command::Stop { job, build } => format!("stop build #{build} of `{job}`"),
            Command::Approve { action } => format!("approve action #{action}"),
            Command::Deny { action, .. } => format!("deny action #{action}"),
            Command::Status => "show the health of the services".into(),
            Command::Postmortem { incident } => {
                format!("show the post-mortem of incident #{incident}")
            }
        }
    }

    /// The checks every source of commands shares: jobs inside the allow-list.
    pub fn check(&self, allow: &JobAllowlist) -> Result<(), String> {
        match self {
            Command::Restart { job, .. }
            | Command::Rollback { job, .. }
            | Command::Stop { job, .. } => allow.check(job),
            _ => Ok(()),
        }
    }
}

/// Parses `/devops` text (or a mention that follows the grammar).
pub fn parse(text: &str) -> Result<Command, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(first) = words.first() else {
        return Ok(Command::Help);
    };
    let verb = first.to_lowercase();
    let args = &words[1..];
    let rest = |from: usize| args.get(from..).map(|w| w.join(" ")).unwrap_or_default();
    let arg = |i: usize, what: &str| -> Result<&str, String> {
        args.get(i)
            .copied()
            .ok_or_else(|| format!("`{verb}` needs {what}"))
    };
    let exact = |n: usize, usage: &str| -> Result<(), String> {
        if args.len() > n {
            Err(format!(
                "too many words for `{verb}`; usage: `/devops {usage}`"
            ))
        } else {
            Ok(())
        }
    };
    let cmd = match verb.as_str() {
        "help" | "ayuda" => Command::Help,
        "incidents" => {
            exact(1, "incidents [severity]")?;
            let severity = match args.first() {
                None => None,
                Some(s) if s.eq_ignore_ascii_case("all") => None,
                Some(s) => Some(s.to_lowercase().parse::<Severity>()?),
            };
            Command::Incidents { severity }
        }
        "incident" => {
            exact(1, "incident <id>")?;
            Command::Incident {
                id: validate::number("the incident id", arg(0, "an incident id")?)?,
            }
        }
        "ack" => {
            exact(1, "ack <id>")?;
            Command::Ack {
                id: validate::number("the incident id", arg(0, "an incident id")?)?,
            }
        }
        "resolve" => Command::Resolve {
            id: validate::number("the incident id", arg(0, "an incident id")?)?,
            note: validate::note(&rest(1))?,
        },
        "restart" | "stop" => {
            exact(2, &format!("{verb} <job> <build>"))?;
            let job = validate::job(arg(0, "a job and a build number")?)?;
            let build = validate::number("the build", arg(1, "a build number after the job")?)?;
            if verb == "restart" {
                Command::Restart { job, build }
            } else {
                Command::Stop { job, build }
            }
        }
        "rollback" => {
            exact(2, "rollback <job> [build]")?;
            Command::Rollback {
                job: validate::job(arg(0, "a job")?)?,
                build: args
                    .get(1)
                    .map(|b| validate::number("the build", b))
                    .transpose()?,
            }
        }
        "approve" => {
            exact(1, "approve <action>")?;
            Command::Approve {
                action: validate::number("the action id", arg(0, "an action id")?)?,
            }
        }
        "deny" => Command::Deny {
            action: validate::number("the action id", arg(0, "an action id")?)?,
            reason: validate::note(&rest(1))?,
        },
        "status" => {
            exact(0, "status")?;
            Command::Status
        }
        "postmortem" => {
            exact(1, "postmortem <incident>")?;
            Command::Postmortem {
                incident: validate::number("the incident id", arg(0, "an incident id")?)?,
            }
        }
        other => {
            return Err(format!(
                "unknown command `{}`",
                crate::slack::text::escape(&crate::slack::text::clip(other, 40))
            ));
        }
    };
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses() {
        let cases = [
            ("", Command::Help),
            ("help", Command::Help),
            ("incidents", Command::Incidents { severity: None }),
            (
                "incidents critical",
                Command::Incidents {
                    severity: Some(Severity::Critical),
                },
            ),
            ("incident 12", Command::Incident { id: 12 }),
            ("ack #12", Command::Ack { id: 12 }),
            ("resolve 12", Command::Resolve { id: 12, note: None }),
            (
                "resolve 12 fixed the disk",
                Command::Resolve {
                    id: 12,
                    note: Some("fixed the disk".into()),
                },
            ),
            (
                "restart deploy-prod 123",
                Command::Restart {
                    job: "deploy-prod".into(),
                    build: 123,
                },
            ),
            (
                "RESTART team/app #7",
                Command::Restart {
                    job: "team/app".into(),
                    build: 7,
                },
            ),
            (
                "rollback deploy-prod",
                Command::Rollback {
                    job: "deploy-prod".into(),
                    build: None,
                },
            ),
            (
                "rollback deploy-prod 40",
                Command::Rollback {
                    job: "deploy-prod".into(),
                    build: Some(40),
                },
            ),
            (
                "stop deploy-prod 41",
                Command::Stop {
                    job: "deploy-prod".into(),
                    build: 41,
                },
            ),
            ("approve 5", Command::Approve { action: 5 }),
            (
                "deny 5 not now",
                Command::Deny {
                    action: 5,
                    reason: Some("not now".into()),
                },
            ),
            ("status", Command::Status),
            ("postmortem 3", Command::Postmortem { incident: 3 }),
            ("postmortem #12", Command::Postmortem { incident: 12 }),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        for (text, says) in [
            ("restart deploy-prod", "needs a build number"),
            ("restart deploy-prod abc", "positive number"),
            ("restart ../etc 1", "not a job name"),
            ("incidents urgent", "unknown Severity"),
            ("incident", "needs an incident id"),
            ("status now", "too many words"),
            ("reboot x", "unknown command `reboot`"),
            ("ack 0", "positive number"),
            ("postmortem", "needs an incident id"),
            ("postmortem 3 4", "too many words"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
