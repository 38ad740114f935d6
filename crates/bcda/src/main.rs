//! The `bcda` binary: every role (server, workers, admin commands) is a
//! subcommand of this one executable.

/// jemalloc instead of the system allocator. Export tasks pass megabyte
/// buffers and thousands of claim models between the async workers and the
/// blocking pool; glibc gives those threads arenas of their own and keeps
/// what they free, so the server's resident memory grew with every task
/// (77 → 105 MB peak from 2,500 to 20,000 beneficiaries). jemalloc returns
/// freed pages and keeps the peak nearly flat (66 → 77 MB), at the same
/// throughput (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    bcda::cli::main()
}
