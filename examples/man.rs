//! Writes the manual pages connector(1) and connector-<command>(1) into a directory,
//! from the same clap definition the binary parses (scripts/package-deb uses it):
//!
//!     cargo run --release --example man -- DIR
//!
//! An example rather than a subcommand of the connector, so that the binary and its
//! shell completions carry no packaging-only command. It includes src/cli.rs itself
//! instead of linking the library, so it needs no DuckDB at build or run time.

#[allow(dead_code)]
#[path = "../src/cli.rs"]
mod cli;

use clap::CommandFactory;

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: cargo run --example man -- DIR");
        std::process::exit(2);
    };
    if let Err(e) = clap_mangen::generate_to(cli::Cli::command(), &dir) {
        eprintln!("man: cannot write the manual pages into {}: {e}", std::path::Path::new(&dir).display());
        std::process::exit(1);
    }
}
