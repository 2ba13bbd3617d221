//! Writes the manual pages connector(1) and connector-<command>(1) into a directory,
//! from the same clap definition the binary parses (scripts/package-deb uses it):
//!
//!     cargo run --release --example man -- DIR
//!
//! An example rather than a subcommand of the connector, so that the binary and its
//! shell completions carry no packaging-only command.
//!
//! connector(1) gets, besides what clap_mangen renders, the sections a manual page
//! of an installed program has: ENVIRONMENT, FILES (the Debian package's layout),
//! EXIT STATUS (from the --help text) and SEE ALSO.

use connector::cli;
use connector::settings::{self, Setting, WhenUnset};

use std::path::Path;

use clap::CommandFactory;
use roff::{bold, italic, roman, Roff};

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: cargo run --example man -- DIR");
        std::process::exit(2);
    };
    let dir = Path::new(&dir);
    if let Err(e) = write_pages(dir) {
        eprintln!("man: cannot write the manual pages into {}: {e}", dir.display());
        std::process::exit(1);
    }
}

fn write_pages(dir: &Path) -> std::io::Result<()> {
    // The command pages as clap_mangen makes them; connector.1 is then replaced.
    clap_mangen::generate_to(cli::Cli::command(), dir)?;
    let mut command = cli::Cli::command().disable_help_subcommand(true);
    command.build();
    let after_help = command.get_after_help().expect("the connector's --help has an epilogue").to_string();
    // The epilogue is the settings note, then the exit-code list (src/error.rs).
    let (settings_note, exit_codes) =
        after_help.split_once("Exit codes:").expect("the --help epilogue lists the exit codes after 'Exit codes:'");
    let exit_codes: Vec<String> = exit_codes
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (code, meaning) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            format!("{code} {};", meaning.trim())
        })
        .collect();
    let exit_codes = exit_codes.join(" ");

    let man = clap_mangen::Man::new(command);
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    page.extend(extra_sections(settings_note.trim(), exit_codes.trim()).render().into_bytes());
    man.render_version_section(&mut page)?;
    std::fs::write(dir.join("connector.1"), page)
}

fn extra_sections(settings_note: &str, exit_codes: &str) -> Roff {
    let mut roff = Roff::new();
    let entry = |roff: &mut Roff, term: roff::Inline, text: &str| {
        roff.control("TP", []).text([term]).text([roman(text)]);
    };

    roff.control("SH", ["ENVIRONMENT"]);
    roff.text([roman(format!(
        "{settings_note} The documentation is in /usr/share/doc/polyteia-db-connector/. Every variable:"
    ))]);
    // One entry per setting, from its definition (src/settings.rs joins the areas' lists).
    for setting in settings::ALL.iter() {
        entry(&mut roff, bold(setting.name), &environment_entry(setting));
    }

    roff.control("SH", ["FILES"]);
    entry(
        &mut roff,
        italic("/etc/polyteia-db-connector/common.env"),
        "Settings shared by every job of the systemd service, read first.",
    );
    entry(
        &mut roff,
        italic("/etc/polyteia-db-connector/JOB.env"),
        "Settings of one job, read by polyteia-db-connector@JOB.service after common.env (its values win); polyteia-db-connector@JOB.timer runs it daily.",
    );
    entry(
        &mut roff,
        italic("/etc/polyteia-db-connector/credentials/JOB/"),
        "pak and db-password, the job's secrets, readable by root only; systemd hands them to the run.",
    );
    entry(&mut roff, italic("/usr/lib/polyteia-db-connector/"), "The DuckDB library and extensions.");

    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(format!(
        "{exit_codes} systemd shows the code as status=CODE in systemctl status and the journal."
    ))]);

    roff.control("SH", ["SEE ALSO"]);
    roff.text([
        bold("systemctl"),
        roman("(1), "),
        bold("journalctl"),
        roman("(1), /usr/share/doc/polyteia-db-connector/debian.md, /usr/share/doc/polyteia-db-connector/README.md"),
    ]);
    roff
}

/// A setting's doc line, its default and, for a secret, its `_FILE` variant.
fn environment_entry(setting: &Setting) -> String {
    // Kept as written: a doc line may start with a value (postgres, debug, …).
    let mut text = format!("{}.", setting.doc);
    match setting.default {
        WhenUnset::Required("") => text.push_str(" Required."),
        WhenUnset::Required(when) => text.push_str(&format!(" Required {when}.")),
        WhenUnset::Value(value) | WhenUnset::Described(value) => text.push_str(&format!(" Default: {value}.")),
        WhenUnset::Unset => {}
    }
    if let Some(file) = setting.file_variant() {
        text.push_str(&format!(" Or {file}: a file holding it."));
    }
    text.replace('`', "")
}
