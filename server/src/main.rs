//! `confab`: serve the app, or import a file from the command line.

use confab::config::{Cli, Command, ConfigError, Sources};
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc. After the benchmark (an import of a million messages,
/// then searches and appends from 16 clients) glibc held 430 MB, of which 330 MB was freed
/// memory it kept in its per-thread arenas (`malloc_trim` gave it back); mimalloc returns
/// freed pages to the system on its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stack of each worker thread of the runtime. Server rendering walks the page's whole view
/// tree, whose nested view types make deep frames: a debug build overflowed tokio's 2 MiB
/// default on `/starred` and aborted the process (found by
/// `exposure::every_server_rendered_page_is_answered_whole`). 8 MiB is what a main thread
/// gets on Linux; unused stack is only reserved address space.
const WORKER_STACK_BYTES: usize = 8 * 1024 * 1024;

fn main() -> std::process::ExitCode {
    purge_freed_memory_at_once();
    limit_malloc_arenas();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK_BYTES)
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("confab: cannot start the async runtime: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `mi_option_purge_delay` in mimalloc's `mimalloc.h` (its 16th option in v2 and v3 alike),
/// which the `libmimalloc-sys` bindings do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc gives memory that is no longer used back to the system at once instead of after
/// a second (`purge_delay`: 1,000 ms in the mimalloc v3 that `libmimalloc-sys` builds). After
/// the users' benchmark, read once its clients had disconnected, the server held 144 MiB with
/// the default (about 73 MiB of it in mimalloc's region) and 106 MiB with 0; read right after
/// its last append, 141 to 152 MiB and 139 to 145 MiB. Appends were no slower
/// (BENCHMARKS.md, sixth session).
///
/// An operator's own `MIMALLOC_PURGE_DELAY` wins.
fn purge_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set only stores an option value; mimalloc reads it at each purge.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

/// SQLite and the TLS library still allocate with glibc's malloc, which gives each thread
/// that contends for it an arena of its own (up to eight per core) and keeps freed memory in
/// each. SQLite's page caches are filled from whichever blocking thread runs a read, so their
/// pages and what is freed around them would spread over many arenas; two bound that. Its
/// effect alone was not isolated: the runs that measured it changed the benchmark's reading
/// too (BENCHMARKS.md, sixth session). Set before any thread starts; an operator's own
/// `MALLOC_ARENA_MAX` wins.
fn limit_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of glibc's allocator; it is called once, before
    // the runtime starts any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

async fn run() -> std::process::ExitCode {
    let cli = match Cli::load(Sources::of_process()) {
        Ok(cli) => cli,
        // The help, the version, or a wrong flag, printed as clap prints them.
        Err(ConfigError::CommandLine(error)) => error.exit(),
        // A wrong variable or file: the same code as a wrong flag.
        Err(error) => {
            eprintln!("confab: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        // Colours only on a terminal: in a file or a journal they are escape codes in the text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_new(&cli.config.log).unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    if let Some(file) = &cli.config.config_file {
        tracing::info!("configuration read from {}", file.display());
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Import { file, user } => import(cli.config, file, user).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("confab: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(config: confab::config::Config) -> Result<(), String> {
    let store = confab::store::open(&config)
        .await
        .map_err(|error| error.to_string())?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", config.addr))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    tracing::info!("Confab is running at http://{address}/");
    println!("Confab is running at http://{address}/");
    confab::serve(listener, store, config, shutdown_signal())
        .await
        .map_err(|error| error.to_string())
}

async fn import(
    config: confab::config::Config,
    file: std::path::PathBuf,
    email: String,
) -> Result<(), String> {
    let store = confab::store::open(&config)
        .await
        .map_err(|error| error.to_string())?;
    let services = confab::services(store.clone(), &config).map_err(|error| error.to_string())?;
    let credentials = store
        .credentials_by_email(&email.trim().to_lowercase())
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| format!("no account with the email {email}"))?;
    let opened =
        std::fs::File::open(&file).map_err(|error| format!("{}: {error}", file.display()))?;
    let total = opened.metadata().map(|meta| meta.len()).unwrap_or(0).max(1);
    let options = confab_core::service::import::ImportOptions {
        max_bytes: config.max_import_bytes as u64,
    };
    let report = services
        .import_reader_with(
            &credentials.user,
            std::io::BufReader::new(opened),
            options,
            move |progress| {
                // A one-line progress bar on stderr, redrawn after every batch.
                let done = (progress.bytes_read as f64 / total as f64).clamp(0.0, 1.0);
                let filled = (done * 30.0) as usize;
                eprint!(
                    "\r[{}{}] {:>3.0}%  {} conversations, {} messages",
                    "#".repeat(filled),
                    " ".repeat(30 - filled),
                    done * 100.0,
                    progress.conversations,
                    progress.messages
                );
            },
        )
        .await
        .map_err(|error| error.to_string())?;
    eprintln!();
    eprintln!(
        "imported {} sessions and {} messages ({} already there, {} errors)",
        report.sessions,
        report.messages,
        report.skipped,
        report.errors.len()
    );
    for problem in &report.errors {
        eprintln!("  {:?}: {}", problem.title, problem.reason);
    }
    // The report on stdout is the one `POST /api/import` answers, for scripts.
    let json = serde_json::to_string_pretty(&report).map_err(|error| error.to_string())?;
    println!("{json}");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::MI_OPTION_PURGE_DELAY;

    /// The option number names `purge_delay`: its default in the bundled mimalloc v3 is
    /// 1,000 ms (`src/options.c`), where the options around it default to 0 or 1.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            eprintln!("MIMALLOC_PURGE_DELAY is set: the default cannot be read; not checked");
            return;
        }
        // SAFETY: mi_option_get only reads an option value.
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(delay, 1_000);
    }
}
