//! The reports, the prompt and the summaries of three fixed sets of facts, compared with
//! the files in `tests/golden/`. The prompt's JSON is the stored facts' shape: a change to
//! it shows here. After an intended change of wording, `UPDATE_GOLDEN=1 cargo test -p
//! postmortem --test golden` rewrites the files; review their diff.

mod fixtures;

use std::path::PathBuf;

use postmortem::llm::{parse, prompt};
use postmortem::{Facts, Report};

const WHY: &str = "the LLM is disabled (ollama.enabled = false)";

fn check(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap();
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1);
        panic!("{name} differs (first at line {line:?}):\n--- got\n{got}\n--- want\n{want}");
    }
}

fn all(name: &str, f: &Facts) {
    let t = Report::template(f, WHY);
    check(&format!("{name}.template.md"), &t.markdown);
    check(&format!("{name}.summary.txt"), &t.summary);
    assert_eq!(
        t.title,
        f.incident.title.chars().take(200).collect::<String>()
    );
    check(&format!("{name}.prompt.txt"), &prompt(f, "n0nce"));
    let n = parse(fixtures::LLM_ANSWER).unwrap();
    let l = Report::narrated(f, &n, "llama3.2");
    check(&format!("{name}.llm.md"), &l.markdown);
    assert_eq!(l.summary, "The build broke.");
    assert_eq!(l.title, t.title);
}

#[test]
fn a_build_fixed_by_an_action() {
    all("fixed_by_action", &fixtures::fixed_by_action());
}

#[test]
fn an_open_api_incident_without_logs_or_commits() {
    all("open_api", &fixtures::open_api());
}

#[test]
fn a_manual_resolution_with_commits_from_the_logs() {
    all("by_hand", &fixtures::by_hand());
}

#[test]
fn untrusted_text_never_starts_a_line_of_the_report() {
    // Everything the facts carry from logs, commits and people ends up quoted: no line of
    // the report is a heading unless it is one of ours.
    for f in [fixtures::fixed_by_action(), fixtures::by_hand()] {
        let md = Report::template(&f, WHY).markdown;
        let headings: Vec<&str> = md.lines().filter(|l| l.starts_with('#')).collect();
        assert_eq!(
            headings.len(),
            1 + postmortem::SECTIONS.len(),
            "{headings:?}"
        );
        for s in postmortem::SECTIONS {
            assert!(headings.contains(&format!("## {s}").as_str()), "{s}");
        }
    }
}

#[test]
fn long_titles_and_summaries_are_cut() {
    let mut f = fixtures::open_api();
    f.incident.title = "x".repeat(5000);
    let r = Report::template(&f, WHY);
    assert_eq!(r.title.chars().count(), 200);
    assert!(r.summary.chars().count() <= postmortem::SUMMARY_CHARS);
    let answer = fixtures::LLM_ANSWER.replace("The build broke.", &"y".repeat(5000));
    let r = Report::narrated(&f, &parse(&answer).unwrap(), "m");
    assert_eq!(r.summary.chars().count(), postmortem::SUMMARY_CHARS);
    assert_eq!(r.title.chars().count(), 200);
}
