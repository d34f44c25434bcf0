//! Test support shared by the store's and the CLI's tests: a real HTTP/1.1 server on
//! 127.0.0.1 serving Ollama-registry-style manifests and blobs (with `Range`, optional
//! throttling and dropped connections), and a small valid GGUF.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgellm_gguf::{GgmlType, GgufWriter, Value};
use sha2::{Digest, Sha256};

#[derive(Default)]
pub struct State {
    /// Path → body.
    pub routes: HashMap<String, Vec<u8>>,
    /// Per path: for each upcoming request, send at most this many body bytes, then hang up.
    pub cuts: HashMap<String, VecDeque<usize>>,
    /// Per path: pause this long per 64 KiB chunk of body.
    pub throttle: HashMap<String, Duration>,
    /// Every request: (path, requested range start).
    pub log: Vec<(String, Option<u64>)>,
}

pub struct Server {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &state);
                });
            }
        });
        Server { url, state }
    }

    pub fn set(&self, path: &str, body: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), body);
    }

    pub fn cut(&self, path: &str, after_bytes: &[usize]) {
        self.state
            .lock()
            .unwrap()
            .cuts
            .insert(path.to_string(), after_bytes.iter().copied().collect());
    }

    pub fn throttle(&self, path: &str, per_chunk: Duration) {
        self.state
            .lock()
            .unwrap()
            .throttle
            .insert(path.to_string(), per_chunk);
    }

    pub fn log(&self) -> Vec<(String, Option<u64>)> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn requests_for(&self, path: &str) -> Vec<Option<u64>> {
        self.log()
            .into_iter()
            .filter(|(p, _)| p == path)
            .map(|(_, r)| r)
            .collect()
    }

    /// Serve `blobs` and a manifest for `ns/model:tag` the way an Ollama registry does.
    /// Returns the manifest bytes.
    pub fn publish(&self, ns: &str, model: &str, tag: &str, layers: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let config = br#"{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"20.48K","file_type":"F32","architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
        let entry = |media: &str, body: &[u8]| {
            let digest = sha256(body);
            self.set(&format!("/v2/{ns}/{model}/blobs/{digest}"), body.to_vec());
            format!(
                r#"{{"mediaType":"{media}","digest":"{digest}","size":{}}}"#,
                body.len()
            )
        };
        let config_json = entry("application/vnd.docker.container.image.v1+json", &config);
        let layers: Vec<String> = layers.iter().map(|(m, b)| entry(m, b)).collect();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{config_json},"layers":[{}]}}"#,
            layers.join(",")
        )
        .into_bytes();
        self.set(
            &format!("/v2/{ns}/{model}/manifests/{tag}"),
            manifest.clone(),
        );
        manifest
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap().to_string();
    let mut range_start = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range_start = value
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|v| v.strip_suffix('-'))
                    .and_then(|s| s.parse::<u64>().ok());
            }
        }
    }
    let (body, cut, throttle) = {
        let mut state = state.lock().unwrap();
        state.log.push((path.clone(), range_start));
        let cut = state.cuts.get_mut(&path).and_then(VecDeque::pop_front);
        let throttle = state.throttle.get(&path).copied();
        (state.routes.get(&path).cloned(), cut, throttle)
    };
    let Some(body) = body else {
        stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    let total = body.len();
    let start = match range_start {
        Some(start) if (start as usize) < total => start as usize,
        Some(_) => {
            let head = format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes())?;
            return Ok(());
        }
        None => 0,
    };
    let status = if range_start.is_some() {
        "206 Partial Content"
    } else {
        "200 OK"
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n",
        total - start
    );
    if range_start.is_some() {
        head.push_str(&format!(
            "Content-Range: bytes {start}-{}/{total}\r\n",
            total - 1
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    let end = cut.map_or(total, |n| (start + n).min(total));
    for chunk in body[start..end].chunks(64 << 10) {
        if let Some(pause) = throttle {
            std::thread::sleep(pause);
        }
        stream.write_all(chunk)?;
    }
    stream.flush()?;
    if end < total {
        // Simulate a dropped connection.
        stream.shutdown(std::net::Shutdown::Both)?;
    }
    Ok(())
}

/// A small but valid GGUF (`n_floats` F32 weights) with the metadata `list` and `show` read.
pub fn tiny_gguf(n_floats: usize, template: &str) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add_kv("general.architecture", Value::from("llama"));
    w.add_kv("general.file_type", Value::U32(0));
    w.add_kv("llama.context_length", Value::U32(256));
    w.add_kv("llama.embedding_length", Value::U32(64));
    w.add_kv("tokenizer.chat_template", Value::from(template));
    w.add_kv(
        "tokenizer.ggml.tokens",
        Value::Array(edgellm_gguf::Array::String(
            (0..100).map(|i| format!("t{i}")).collect(),
        )),
    );
    let data: Vec<u8> = (0..n_floats)
        .flat_map(|i| (i as f32 * 0.001).to_le_bytes())
        .collect();
    w.add_tensor("token_embd.weight", &[n_floats as u64], GgmlType::F32, data);
    w.to_bytes().unwrap()
}
