//! The `bcda` binary: every role (server, workers, admin commands) is a
//! subcommand of this one executable.

fn main() -> std::process::ExitCode {
    bcda::cli::main()
}
