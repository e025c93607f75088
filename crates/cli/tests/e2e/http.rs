//! `uri` and `get_url` against a real HTTP server on the loopback interface, started by the
//! test (a few routes, one connection at a time, `Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use sha2::Digest;

use crate::support::{run, write_tree, LOCAL_INVENTORY};

const FILE: &str = "hello from http\n";

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

fn handle(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let len: usize = header("content-length").parse().unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = reader.read_exact(&mut body);
    let text = |s: &str| vec![("Content-Type", s.to_string())];
    match path.as_str() {
        "/file.txt" => respond(&mut stream, "200 OK", &text("text/plain"), FILE.as_bytes()),
        "/json" => respond(
            &mut stream,
            "200 OK",
            &[
                ("Content-Type", "application/json".into()),
                ("Set-Cookie", "session=abc; Path=/".into()),
            ],
            br#"{"name": "drover", "n": 3}"#,
        ),
        "/redirect" => respond(
            &mut stream,
            "302 Found",
            &[("Location", "/file.txt".into())],
            b"",
        ),
        "/echo" => {
            let echo = serde_json::json!({
                "method": method,
                "content_type": header("content-type"),
                "agent": header("user-agent"),
                "body": String::from_utf8_lossy(&body),
            });
            respond(
                &mut stream,
                "200 OK",
                &text("application/json"),
                echo.to_string().as_bytes(),
            );
        }
        "/auth" => {
            // "user:pw"
            if header("authorization") == "Basic dXNlcjpwdw==" {
                respond(&mut stream, "200 OK", &text("text/plain"), b"secret");
            } else {
                respond(
                    &mut stream,
                    "401 Unauthorized",
                    &[("WWW-Authenticate", "Basic realm=\"drover\"".into())],
                    b"",
                );
            }
        }
        "/SHA256SUMS" => {
            let digest = hex(&sha2::Sha256::digest(FILE.as_bytes()));
            let list = format!("0000  other.txt\n{digest}  file.txt\n");
            respond(&mut stream, "200 OK", &text("text/plain"), list.as_bytes());
        }
        _ => respond(&mut stream, "404 Not Found", &text("text/plain"), b"no"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves until the test process ends; answers the base URL.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || handle(stream));
        }
    });
    format!("http://{addr}")
}

const PLAY: &str = r#"
- hosts: local
  gather_facts: false
  tasks:
    - uri: url={{ base }}/json
      register: j
    - assert:
        that:
          - j.status == 200
          - j.json.name == 'drover'
          - j.content_type == 'application/json'
          - j.cookies.session == 'abc'
          - j is not changed
          - j.msg == 'OK (26 bytes)'
          - j.content is not defined
    - uri: url={{ base }}/redirect return_content=true
      register: r
    - assert:
        that:
          - r.redirected
          - r.url is search('/file.txt$')
          - r.content == 'hello from http\n'
    - uri:
        url: "{{ base }}/echo"
        method: POST
        body_format: json
        body: {a: 1}
      register: e
    - assert:
        that:
          - e.json.method == 'POST'
          - e.json.content_type == 'application/json'
          - (e.json.body | from_json).a == 1
          - e.json.agent == 'ansible-httpget'
    - uri:
        url: "{{ base }}/echo"
        method: POST
        body_format: form-urlencoded
        body: {name: a b, x: "&"}
      register: f
    - assert:
        that:
          - f.json.body == 'name=a+b&x=%26'
          - f.json.content_type == 'application/x-www-form-urlencoded'
    - uri: url={{ base }}/missing
      register: m
      ignore_errors: true
    - assert:
        that:
          - m is failed
          - m.status == 404
          - "m.msg == 'Status code was 404 and not [200]: HTTP Error 404: Not Found'"
    - uri:
        url: "{{ base }}/missing"
        status_code: [200, 404]
    - uri: url={{ base }}/auth url_username=user url_password=pw return_content=true
      register: a
    - assert:
        that: a.content == 'secret'
    - uri: url=http://127.0.0.1:1/
      register: refused
      ignore_errors: true
    - assert:
        that:
          - refused is failed
          - refused.status == -1
    - uri: url={{ base }}/json dest={{ root }}/saved.json
      register: saved
    - assert:
        that:
          - saved is changed
          - (lookup('file', root ~ '/saved.json') | from_json).name == 'drover'

    - get_url: url={{ base }}/file.txt dest={{ root }}/f.txt mode=0640
      register: g1
    - get_url: url={{ base }}/file.txt dest={{ root }}/f.txt mode=0640
      register: g2
    - get_url: url={{ base }}/file.txt dest={{ root }}/f.txt mode=0640 force=true
      register: g3
    - stat: path={{ root }}/f.txt
      register: st
    - assert:
        that:
          - g1 is changed
          - g1.status_code == 200
          - g2 is not changed
          - g2.msg == 'file already exists'
          - g3 is not changed
          - st.stat.mode == '0640'
          - lookup('file', root ~ '/f.txt') == 'hello from http'
    - get_url:
        url: "{{ base }}/file.txt"
        dest: "{{ root }}/g.txt"
        checksum: "sha256:{{ base }}/SHA256SUMS"
      register: sum_ok
    - get_url:
        url: "{{ base }}/file.txt"
        dest: "{{ root }}/h.txt"
        checksum: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
      register: sum_bad
      ignore_errors: true
    - stat: path={{ root }}/h.txt
      register: h
    - file: path={{ root }}/dir state=directory
    - get_url: url={{ base }}/file.txt dest={{ root }}/dir/
      register: into_dir
    - get_url: url={{ base }}/missing dest={{ root }}/missing.txt
      register: g404
      ignore_errors: true
    - assert:
        that:
          - sum_ok is changed
          - sum_bad is failed
          - sum_bad.msg is search('did not match')
          - not h.stat.exists
          - into_dir.dest == root ~ '/dir/file.txt'
          - g404 is failed
          - g404.msg == 'Request failed'
          - g404.status_code == 404
"#;

#[test]
fn uri_and_get_url_against_a_real_server() {
    let base = serve();
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[("inventory.ini", LOCAL_INVENTORY), ("site.yml", PLAY)],
    );
    let root = dir.path().join("out");
    std::fs::create_dir_all(&root).expect("mkdir");
    let r = run(
        &[
            "playbook",
            "-i",
            "inventory.ini",
            "site.yml",
            "-e",
            &format!("base={base}"),
            "-e",
            &format!("root={}", root.display()),
        ],
        dir.path(),
    );
    assert_eq!(r.code, 0, "{}", r.all());
    // The password never shows.
    assert!(!r.all().contains("url_password=pw"), "{}", r.all());
    // No temporary download is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&root)
        .expect("readdir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("drover-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
