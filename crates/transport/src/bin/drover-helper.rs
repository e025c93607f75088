//! A stand-alone helper for the transport's integration tests: serves the RPC on stdin/stdout.
//! Production uploads the `drover` executable itself (`drover __helper`) instead.

fn main() -> std::process::ExitCode {
    match drover_helper::serve(std::io::stdin().lock(), std::io::stdout().lock()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::from(3),
    }
}
