//! The remote side of drover: executes host primitives.
//!
//! On a managed host the helper runs [`serve`] on its stdin/stdout and answers the controller's
//! framed requests. The controller's `local` transport calls [`execute`] in-process, so local and
//! remote hosts run the very same primitive code.
//!
//! Everything here is synchronous std code: the helper is a small, single-purpose process.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod exec;
pub mod facts;
mod facts_system;
mod fsops;
mod http;
pub mod jobs;
pub mod users;

use std::io::{BufReader, BufWriter, Read, Write};

use drover_host::HostError;
use drover_proto::{
    read_frame, write_frame, Envelope, HelperInfo, ProtoError, Request, Response, HELLO_ID,
    PROTOCOL_VERSION,
};

pub use drover_host::mode::{resolve_mode, ModeError};
pub use fsops::{backup_name, sha1_file};

/// Why the serve loop stopped other than by a clean end of input or `Shutdown`.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Proto(#[from] ProtoError),
}

/// The helper's own description, as sent in its greeting.
pub fn helper_info() -> HelperInfo {
    HelperInfo {
        version: PROTOCOL_VERSION,
        arch: std::env::consts::ARCH.to_string(),
        pid: std::process::id(),
        euid: rustix::process::geteuid().as_raw(),
    }
}

/// Answers one request. Never panics on any request content; failures are `Response::Error`.
pub fn execute(req: &Request) -> Response {
    fn wrap<T>(r: Result<T, HostError>, f: impl FnOnce(T) -> Response) -> Response {
        match r {
            Ok(v) => f(v),
            Err(e) => Response::Error(e),
        }
    }
    match req {
        Request::Hello { version } if *version == PROTOCOL_VERSION => {
            Response::Hello(helper_info())
        }
        Request::Hello { version } => Response::Error(HostError::Protocol(format!(
            "controller speaks protocol {version}, helper speaks {PROTOCOL_VERSION}"
        ))),
        Request::Stat { path, opts } => wrap(fsops::stat(path, *opts), Response::Stat),
        Request::StatMany { paths, opts } => {
            wrap(fsops::stat_many(paths, *opts), Response::StatMany)
        }
        Request::Read { path } => wrap(fsops::read(path), Response::Read),
        Request::Write(w) => wrap(fsops::write(w), Response::Write),
        Request::Exec(e) => wrap(exec::exec(e), Response::Exec),
        Request::FileOp { op, check } => wrap(fsops::file_op(op, *check), Response::FileOp),
        Request::ListDir { path } => wrap(fsops::list_dir(path), Response::ListDir),
        Request::Facts => Response::facts(&facts::gather()),
        Request::Shutdown => Response::Shutdown,
        Request::StatMime { path, opts } => match fsops::stat(path, *opts) {
            Ok(st) => {
                let mime = st.exists.then(|| exec::file_mime(path)).flatten();
                Response::StatMime(st, mime)
            }
            Err(e) => Response::Error(e),
        },
        Request::JobStart(job) => wrap(jobs::start(job), Response::JobStart),
        Request::JobStatus { dir, jid, cleanup } => {
            wrap(jobs::status(dir, jid, *cleanup), Response::JobStatus)
        }
        Request::Http(r) => wrap(http::request(r), Response::Http),
    }
}

/// Serves requests from `input` until it ends or a `Shutdown` arrives. The helper greets first
/// with an unsolicited `Hello` (id [`HELLO_ID`]).
///
/// Requests are answered in order; the controller may still pipeline, answers carry ids.
pub fn serve(input: impl Read, output: impl Write) -> Result<(), ServeError> {
    let mut input = BufReader::with_capacity(64 * 1024, input);
    let mut output = BufWriter::with_capacity(64 * 1024, output);
    write_frame(
        &mut output,
        &Envelope {
            id: HELLO_ID,
            body: Response::Hello(helper_info()),
        },
    )?;
    loop {
        let req: Envelope<Request> = match read_frame(&mut input) {
            Ok(Some(req)) => req,
            Ok(None) => return Ok(()),
            // A request we cannot decode gets an error answer (id unknown: 0 is reserved for the
            // greeting, so the controller treats it as fatal), then we stop: framing is lost.
            Err(ProtoError::Decode(msg)) => {
                write_frame(
                    &mut output,
                    &Envelope {
                        id: HELLO_ID,
                        body: Response::Error(HostError::Protocol(msg)),
                    },
                )?;
                return Err(ProtoError::Decode("undecodable request".into()).into());
            }
            Err(e) => return Err(e.into()),
        };
        let body = execute(&req.body);
        let stop = matches!(body, Response::Shutdown);
        write_frame(&mut output, &Envelope { id: req.id, body })?;
        if stop {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests;
