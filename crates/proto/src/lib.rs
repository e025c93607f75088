//! The framed RPC between the drover controller and its helper on a managed host.
//!
//! A frame is a `u32` big-endian payload length followed by a postcard payload. Every payload is
//! an [`Envelope`]: a request id chosen by the controller and the message. The helper answers
//! each request with a response carrying the same id, so the controller may pipeline several
//! requests on one channel and match answers by id.
//!
//! The helper speaks first: right after it starts it sends an unsolicited [`Response::Hello`] with
//! id [`HELLO_ID`], which tells the controller that the channel is up (and, under `sudo -S`, that
//! no password prompt is pending).
//!
//! Everything read from the network is untrusted: oversized lengths and malformed payloads are
//! typed errors, never panics or unbounded allocations.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use drover_host::{
    DirEntry, ExecOutput, ExecRequest, Facts, FileOp, FileOpOutcome, FileStat, HostError,
    HttpRequest, HttpResponse, JobStart, MimeInfo, StatOptions, WriteOutcome, WriteRequest,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Bumped whenever a message changes shape; both sides must agree exactly.
pub const PROTOCOL_VERSION: u32 = 3;

/// Frames above this size are refused before anything is allocated for them.
pub const MAX_FRAME: u32 = 1 << 30;

/// The id of the helper's unsolicited greeting.
pub const HELLO_ID: u64 = 0;

/// A request or response with the id that pairs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub id: u64,
    pub body: T,
}

/// What the controller asks the helper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    Hello {
        version: u32,
    },
    Stat {
        path: String,
        opts: StatOptions,
    },
    StatMany {
        paths: Vec<String>,
        opts: StatOptions,
    },
    Read {
        path: String,
    },
    Write(WriteRequest),
    Exec(ExecRequest),
    FileOp {
        op: FileOp,
        check: bool,
    },
    ListDir {
        path: String,
    },
    Facts,
    /// Ends the helper's serve loop after this request is answered.
    Shutdown,
    /// `stat` plus the `file` utility's MIME type and charset (see `Host::stat_mime`).
    StatMime {
        path: String,
        opts: StatOptions,
    },
    /// Starts a detached job (`async`); see `Host::job_start`.
    JobStart(JobStart),
    /// Reads (and with `cleanup`, removes) a job's result file; see `Host::job_status`.
    JobStatus {
        dir: String,
        jid: String,
        cleanup: bool,
    },
    Http(HttpRequest),
}

/// Information the helper gives about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelperInfo {
    pub version: u32,
    /// `std::env::consts::ARCH` of the helper build.
    pub arch: String,
    pub pid: u32,
    /// Effective uid the helper runs as, to confirm `become` took effect.
    pub euid: u32,
}

/// What the helper answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Response {
    Hello(HelperInfo),
    Stat(FileStat),
    StatMany(Vec<FileStat>),
    Read(Vec<u8>),
    Write(WriteOutcome),
    Exec(ExecOutput),
    FileOp(FileOpOutcome),
    ListDir(Vec<DirEntry>),
    /// Facts as a JSON object: postcard is not self-describing, so arbitrary JSON values cannot
    /// be carried as a `serde_json::Value` directly.
    Facts(String),
    Shutdown,
    Error(HostError),
    StatMime(FileStat, Option<MimeInfo>),
    /// The started job's result file.
    JobStart(String),
    JobStatus(Option<Vec<u8>>),
    Http(HttpResponse),
}

impl Response {
    /// Builds a `Facts` response.
    pub fn facts(facts: &Facts) -> Response {
        match serde_json::to_string(facts) {
            Ok(json) => Response::Facts(json),
            Err(err) => Response::Error(HostError::Protocol(format!("facts: {err}"))),
        }
    }

    /// Parses the JSON of a `Facts` response.
    pub fn parse_facts(json: &str) -> Result<Facts, HostError> {
        serde_json::from_str(json).map_err(|err| HostError::Protocol(format!("facts: {err}")))
    }

    /// The variant name, for "unexpected response" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Response::Hello(_) => "Hello",
            Response::Stat(_) => "Stat",
            Response::StatMany(_) => "StatMany",
            Response::Read(_) => "Read",
            Response::Write(_) => "Write",
            Response::Exec(_) => "Exec",
            Response::FileOp(_) => "FileOp",
            Response::ListDir(_) => "ListDir",
            Response::Facts(_) => "Facts",
            Response::Shutdown => "Shutdown",
            Response::Error(_) => "Error",
            Response::StatMime(..) => "StatMime",
            Response::JobStart(_) => "JobStart",
            Response::JobStatus(_) => "JobStatus",
            Response::Http(_) => "Http",
        }
    }
}

/// A framing or decoding failure.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("i/o error on the helper channel: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: u64, max: u32 },
    #[error("channel closed in the middle of a frame ({got} of {expected} bytes)")]
    Truncated { got: u64, expected: u64 },
    #[error("malformed message: {0}")]
    Decode(String),
    #[error("cannot encode message: {0}")]
    Encode(String),
}

impl From<ProtoError> for HostError {
    fn from(err: ProtoError) -> HostError {
        match err {
            ProtoError::Io(_) | ProtoError::Truncated { .. } => {
                HostError::Unreachable(err.to_string())
            }
            _ => HostError::Protocol(err.to_string()),
        }
    }
}

/// Serializes `msg` into one complete frame (length prefix included).
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, ProtoError> {
    // Reserve the prefix, then patch it, so the payload is not copied.
    let buf = postcard::to_extend(msg, vec![0u8; 4])
        .map_err(|err| ProtoError::Encode(err.to_string()))?;
    let len = buf.len() - 4;
    let len32 =
        u32::try_from(len)
            .ok()
            .filter(|l| *l <= MAX_FRAME)
            .ok_or(ProtoError::FrameTooLarge {
                len: len as u64,
                max: MAX_FRAME,
            })?;
    let mut buf = buf;
    buf[..4].copy_from_slice(&len32.to_be_bytes());
    Ok(buf)
}

/// Decodes one payload (without its length prefix). Trailing bytes are an error: they mean the
/// two sides disagree on the message shape.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, ProtoError> {
    let (msg, rest) =
        postcard::take_from_bytes(payload).map_err(|err| ProtoError::Decode(err.to_string()))?;
    if !rest.is_empty() {
        return Err(ProtoError::Decode(format!(
            "{} trailing bytes after the message",
            rest.len()
        )));
    }
    Ok(msg)
}

fn check_len(prefix: [u8; 4]) -> Result<u64, ProtoError> {
    let len = u32::from_be_bytes(prefix);
    if len > MAX_FRAME {
        return Err(ProtoError::FrameTooLarge {
            len: u64::from(len),
            max: MAX_FRAME,
        });
    }
    Ok(u64::from(len))
}

/// Reads one payload; `Ok(None)` on a clean end of stream between frames.
pub fn read_payload(r: &mut impl std::io::Read) -> Result<Option<Vec<u8>>, ProtoError> {
    use std::io::Read as _;
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(ProtoError::Truncated {
                    got: got as u64,
                    expected: 4,
                })
            }
            Ok(n) => got += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err.into()),
        }
    }
    let len = check_len(prefix)?;
    // `take` + `read_to_end` grows the buffer with the data actually received, so a lying
    // length prefix cannot make us allocate a gigabyte up front.
    let mut payload = Vec::with_capacity(len.min(64 * 1024) as usize);
    r.take(len).read_to_end(&mut payload)?;
    if (payload.len() as u64) < len {
        return Err(ProtoError::Truncated {
            got: payload.len() as u64,
            expected: len,
        });
    }
    Ok(Some(payload))
}

/// Reads and decodes one message; `Ok(None)` on a clean end of stream.
pub fn read_frame<T: DeserializeOwned>(
    r: &mut impl std::io::Read,
) -> Result<Option<T>, ProtoError> {
    match read_payload(r)? {
        Some(payload) => decode(&payload).map(Some),
        None => Ok(None),
    }
}

/// Encodes and writes one message, then flushes.
pub fn write_frame<T: Serialize>(w: &mut impl std::io::Write, msg: &T) -> Result<(), ProtoError> {
    let frame = encode(msg)?;
    w.write_all(&frame)?;
    w.flush()?;
    Ok(())
}

/// Async twin of [`read_payload`].
pub async fn read_payload_async<R>(r: &mut R) -> Result<Option<Vec<u8>>, ProtoError>
where
    R: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut prefix[got..]).await? {
            0 if got == 0 => return Ok(None),
            0 => {
                return Err(ProtoError::Truncated {
                    got: got as u64,
                    expected: 4,
                })
            }
            n => got += n,
        }
    }
    let len = check_len(prefix)?;
    let mut payload = Vec::with_capacity(len.min(64 * 1024) as usize);
    (&mut *r).take(len).read_to_end(&mut payload).await?;
    if (payload.len() as u64) < len {
        return Err(ProtoError::Truncated {
            got: payload.len() as u64,
            expected: len,
        });
    }
    Ok(Some(payload))
}

/// Async twin of [`read_frame`].
pub async fn read_frame_async<T, R>(r: &mut R) -> Result<Option<T>, ProtoError>
where
    T: DeserializeOwned,
    R: tokio::io::AsyncRead + Unpin,
{
    match read_payload_async(r).await? {
        Some(payload) => decode(&payload).map(Some),
        None => Ok(None),
    }
}

/// Async twin of [`write_frame`].
pub async fn write_frame_async<T, W>(w: &mut W, msg: &T) -> Result<(), ProtoError>
where
    T: Serialize,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let frame = encode(msg)?;
    w.write_all(&frame).await?;
    w.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use drover_host::{Attrs, FileKind, IoKind, Program};
    use std::collections::BTreeMap;

    fn samples() -> Vec<Envelope<Request>> {
        let reqs = vec![
            Request::Hello {
                version: PROTOCOL_VERSION,
            },
            Request::Stat {
                path: "/etc/hosts".into(),
                opts: StatOptions {
                    follow: true,
                    checksum: true,
                },
            },
            Request::StatMany {
                paths: vec!["/a".into(), "/b".into()],
                opts: StatOptions::default(),
            },
            Request::Read { path: "/x".into() },
            Request::Write(WriteRequest {
                path: "/tmp/f".into(),
                content: vec![0, 1, 2, 255],
                attrs: Attrs {
                    mode: Some("u=rw".into()),
                    owner: None,
                    group: Some("0".into()),
                },
                backup: true,
                default_mode: Some(0o600),
                preserve_existing: true,
                validate: Some("true %s".into()),
            }),
            Request::Exec(ExecRequest {
                program: Program::Shell {
                    script: "echo hi".into(),
                    executable: Some("/bin/bash".into()),
                },
                env: BTreeMap::from([("A".to_string(), "b".to_string())]),
                cwd: Some("/".into()),
                stdin: Some(b"in".to_vec()),
                timeout_ms: Some(1500),
            }),
            Request::FileOp {
                op: FileOp::Symlink {
                    path: "/l".into(),
                    src: "/t".into(),
                    force: true,
                    attrs: Attrs::default(),
                },
                check: true,
            },
            Request::ListDir { path: "/".into() },
            Request::Facts,
            Request::Shutdown,
        ];
        reqs.into_iter()
            .enumerate()
            .map(|(i, body)| Envelope { id: i as u64, body })
            .collect()
    }

    fn response_samples() -> Vec<Envelope<Response>> {
        let stat = FileStat {
            exists: true,
            kind: Some(FileKind::File),
            mode: 0o644,
            owner: "root".into(),
            mtime: 1.5,
            checksum: Some("da39a3ee5e6b4b0d3255bfef95601890afd80709".into()),
            ..FileStat::default()
        };
        let mut facts = Facts::new();
        facts.insert("hostname".into(), serde_json::json!("web1"));
        facts.insert(
            "default_ipv4".into(),
            serde_json::json!({"address": "10.0.0.2", "mtu": 1500}),
        );
        vec![
            Response::Hello(HelperInfo {
                version: 1,
                arch: "x86_64".into(),
                pid: 42,
                euid: 0,
            }),
            Response::Stat(stat.clone()),
            Response::StatMany(vec![stat.clone(), FileStat::default()]),
            Response::Read(b"data".to_vec()),
            Response::Write(WriteOutcome {
                backup_file: Some("/f.1.2024~".into()),
            }),
            Response::Exec(ExecOutput {
                rc: -9,
                stdout: b"o".to_vec(),
                stderr: vec![],
                start: 1.0,
                end: 2.0,
            }),
            Response::FileOp(FileOpOutcome {
                changed: true,
                before: FileStat::default(),
                after: stat.clone(),
            }),
            Response::ListDir(vec![DirEntry {
                name: "a".into(),
                stat,
            }]),
            Response::facts(&facts),
            Response::Shutdown,
            Response::Error(HostError::Io {
                path: Some("/x".into()),
                kind: IoKind::NotFound,
                message: "gone".into(),
            }),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, body)| Envelope {
            id: 1000 + i as u64,
            body,
        })
        .collect()
    }

    #[test]
    fn round_trips_every_message_sync() {
        let mut buf = Vec::new();
        for m in samples() {
            write_frame(&mut buf, &m).unwrap();
        }
        for m in response_samples() {
            write_frame(&mut buf, &m).unwrap();
        }
        let mut r = &buf[..];
        for m in samples() {
            let got: Envelope<Request> = read_frame(&mut r).unwrap().unwrap();
            assert_eq!(got, m);
        }
        for m in response_samples() {
            let got: Envelope<Response> = read_frame(&mut r).unwrap().unwrap();
            assert_eq!(got, m);
        }
        assert!(read_frame::<Envelope<Request>>(&mut r).unwrap().is_none());
    }

    #[tokio::test]
    async fn round_trips_async_and_interoperates_with_sync() {
        let mut buf = Vec::new();
        for m in samples() {
            write_frame_async(&mut buf, &m).await.unwrap();
        }
        // Written async, read sync: both framings are the same bytes.
        let mut r = &buf[..];
        for m in samples() {
            let got: Envelope<Request> = read_frame(&mut r).unwrap().unwrap();
            assert_eq!(got, m);
        }
        let mut r = &buf[..];
        for m in samples() {
            let got: Envelope<Request> = read_frame_async(&mut r).await.unwrap().unwrap();
            assert_eq!(got, m);
        }
        assert!(read_frame_async::<Envelope<Request>, _>(&mut r)
            .await
            .unwrap()
            .is_none());
    }

    #[test]
    fn facts_survive_the_json_detour() {
        let mut facts = Facts::new();
        facts.insert("all_ipv4_addresses".into(), serde_json::json!(["10.0.0.1"]));
        facts.insert("processor_vcpus".into(), serde_json::json!(4));
        let Response::Facts(json) = Response::facts(&facts) else {
            panic!("not facts")
        };
        assert_eq!(Response::parse_facts(&json).unwrap(), facts);
        assert!(Response::parse_facts("[1]").is_err());
    }

    /// Every way a stream can be wrong, and the error it must give.
    fn check(input: &[u8], expected: &str) {
        let mut r = input;
        let got = match read_frame::<Envelope<Request>>(&mut r) {
            Ok(Some(_)) => "ok".to_string(),
            Ok(None) => "eof".to_string(),
            Err(ProtoError::FrameTooLarge { .. }) => "too-large".to_string(),
            Err(ProtoError::Truncated { .. }) => "truncated".to_string(),
            Err(ProtoError::Decode(_)) => "decode".to_string(),
            Err(e) => format!("other: {e}"),
        };
        assert_eq!(got, expected, "input {input:?}");
    }

    #[test]
    fn malformed_input_gives_typed_errors() {
        let good = encode(&samples()[1]).unwrap();
        check(&good, "ok");
        check(&[], "eof");
        check(&[0, 0], "truncated");
        check(&good[..good.len() - 1], "truncated");
        check(&[0x7f, 0xff, 0xff, 0xff], "too-large");
        check(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3], "too-large");
        // A length within the cap but no data: no huge allocation, just truncated.
        check(&[0x3f, 0xff, 0xff, 0xff, 1], "truncated");
        check(&[0, 0, 0, 0], "decode");
        check(&[0, 0, 0, 3, 0, 99, 1], "decode");
        // Valid message followed by junk inside the same frame.
        let mut padded = good[4..].to_vec();
        padded.push(0);
        let mut framed = (padded.len() as u32).to_be_bytes().to_vec();
        framed.extend(padded);
        check(&framed, "decode");
    }

    #[test]
    fn garbage_and_truncations_never_panic() {
        // Deterministic pseudo-random garbage (xorshift) plus every truncation of real frames.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..2000 {
            let len = (round % 64) + 1;
            let mut bytes = vec![0u8; 4];
            bytes[3] = len as u8;
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                bytes.push(x as u8);
            }
            let _ = read_frame::<Envelope<Request>>(&mut &bytes[..]);
            let _ = read_frame::<Envelope<Response>>(&mut &bytes[..]);
        }
        for m in samples() {
            let frame = encode(&m).unwrap();
            for cut in 0..frame.len() {
                let r = read_frame::<Envelope<Request>>(&mut &frame[..cut]);
                assert!(
                    matches!(r, Ok(None) | Err(ProtoError::Truncated { .. })),
                    "cut {cut}"
                );
            }
        }
        for m in response_samples() {
            let mut frame = encode(&m).unwrap();
            // Flip each payload byte in turn; decoding may succeed or fail, never panic.
            for i in 4..frame.len() {
                frame[i] ^= 0xa5;
                let _ = read_frame::<Envelope<Response>>(&mut &frame[..]);
                frame[i] ^= 0xa5;
            }
        }
    }

    #[test]
    fn errors_map_to_host_errors() {
        let e: HostError = ProtoError::Truncated {
            got: 1,
            expected: 4,
        }
        .into();
        assert!(matches!(e, HostError::Unreachable(_)));
        let e: HostError = ProtoError::Decode("x".into()).into();
        assert!(matches!(e, HostError::Protocol(_)));
    }
}
