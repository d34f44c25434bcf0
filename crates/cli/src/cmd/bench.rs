//! `edgellm bench`: prompt processing (pp) and generation (tg) speed,
//! measured like llama-bench: random tokens, no tokenization or sampling in
//! the timed region, one warm-up run, mean ± sd over repetitions.

use crate::progress::model_path;
use anyhow::Result;
use clap::Args;
use edgellm_engine::sampler::Rng;
use edgellm_engine::{LoadedModel, Session};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// A catalog name or a path to a .gguf file.
    pub model: String,
    /// Prompt lengths to test (comma-separated; 0 skips).
    #[arg(
        short = 'p',
        long = "n-prompt",
        value_delimiter = ',',
        default_value = "512"
    )]
    pub n_prompt: Vec<usize>,
    /// Generation lengths to test (comma-separated; 0 skips).
    #[arg(
        short = 'n',
        long = "n-gen",
        value_delimiter = ',',
        default_value = "128"
    )]
    pub n_gen: Vec<usize>,
    /// Context depths to test at (comma-separated): that many tokens are in
    /// the KV cache, untimed, before each test (llama-bench's `-d`).
    #[arg(
        short = 'd',
        long = "n-depth",
        value_delimiter = ',',
        default_value = "0"
    )]
    pub n_depth: Vec<usize>,
    /// Thread counts to test (comma-separated).
    #[arg(short = 't', long, value_delimiter = ',')]
    pub threads: Vec<usize>,
    /// Repetitions of each test.
    #[arg(short = 'r', long, default_value_t = 5)]
    pub repetitions: usize,
    /// Prompt tokens per forward batch.
    #[arg(short = 'b', long, default_value_t = 512)]
    pub batch: usize,
    /// Print llama-bench-compatible JSON records instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Measure continuous batching instead: aggregate generation speed with
    /// this many concurrent streams (comma-separated, e.g. 1,2,4,8), each
    /// generating `-n` tokens, through the server's engine.
    #[arg(long, value_delimiter = ',')]
    pub streams: Vec<usize>,
    /// After each generation test, measure this machine's read bandwidth
    /// (STREAM-like, same thread count) and print the decode roofline: bytes
    /// read per token (every weight matrix once, plus the KV cache read at
    /// the test's mean depth) × tokens/s ÷ bandwidth.
    #[arg(long)]
    pub roofline: bool,
}

/// One result, with llama-bench's field names.
#[derive(Serialize, Debug)]
struct Record {
    build_commit: &'static str,
    cpu_info: String,
    backends: &'static str,
    model_filename: String,
    model_type: String,
    model_size: u64,
    model_n_params: u64,
    n_batch: usize,
    n_threads: usize,
    n_prompt: usize,
    n_gen: usize,
    n_depth: usize,
    test_time: String,
    avg_ns: u64,
    stddev_ns: u64,
    avg_ts: f64,
    stddev_ts: f64,
    samples_ns: Vec<u64>,
    samples_ts: Vec<f64>,
    peak_rss_bytes: u64,
    simd: &'static str,
}

pub fn run(a: BenchArgs) -> Result<()> {
    anyhow::ensure!(a.repetitions > 0, "--repetitions must be at least 1");
    anyhow::ensure!(a.batch > 0, "--batch must be at least 1");
    let path = model_path(&a.model)?;
    let loaded = LoadedModel::load(&path)?;
    if !a.streams.is_empty() {
        return bench_streams(&a, loaded);
    }
    let m = &loaded.model;
    let threads = if a.threads.is_empty() {
        vec![edgellm_engine::default_threads()]
    } else {
        a.threads.clone()
    };
    anyhow::ensure!(
        threads.iter().all(|&t| t > 0),
        "thread counts must be at least 1"
    );
    let n_params: u64 = m.file.tensors().iter().map(|t| t.n_elements).sum();
    let model_size: u64 = m.file.tensors().iter().map(|t| t.n_bytes).sum();
    let model_type = format!(
        "{} {} {}",
        m.hp.arch,
        m.file.get_str("general.size_label").unwrap_or(""),
        m.file
            .get_u32("general.file_type")
            .and_then(file_type_name)
            .unwrap_or_else(|| m.layers[0].gate.ty.name())
    );
    let max_depth = a.n_depth.iter().max().copied().unwrap_or(0);
    let n_ctx = max_depth
        + a.n_prompt.iter().max().copied().unwrap_or(0)
        + a.n_gen.iter().max().copied().unwrap_or(0);
    anyhow::ensure!(n_ctx > 0, "nothing to measure: -p and -n are both 0");
    anyhow::ensure!(
        n_ctx <= m.hp.n_ctx_train,
        "-d + -p + -n = {n_ctx} exceeds the model's context of {}",
        m.hp.n_ctx_train
    );
    let mut records = Vec::new();
    if !a.json {
        println!("| model                          |       size |     params | backend | threads |          test |             t/s |");
        println!("| ------------------------------ | ---------: | ---------: | ------- | ------: | ------------: | --------------: |");
    }
    let mut rng = Rng::new(1234);
    for &nt in &threads {
        let mut session = Session::new(Arc::clone(m), n_ctx, nt, a.batch)?;
        let tests = a
            .n_prompt
            .iter()
            .filter(|&&p| p > 0)
            .map(|&p| (p, 0))
            .chain(a.n_gen.iter().filter(|&&n| n > 0).map(|&n| (0, n)));
        let tests: Vec<(usize, usize)> = tests.collect();
        for (depth, (np, ng)) in a
            .n_depth
            .iter()
            .flat_map(|&d| tests.iter().map(move |&t| (d, t)))
        {
            let n_vocab = m.hp.n_vocab as u64;
            let mut tokens: Vec<u32> = (0..depth + np.max(ng))
                .map(|_| (rng.next_u64() % n_vocab) as u32)
                .collect();
            if let Some(bos) = loaded.tokenizer.bos() {
                tokens[0] = bos;
            }
            let mut samples_ns = Vec::with_capacity(a.repetitions);
            let (context, tokens) = tokens.split_at(depth);
            for rep in 0..=a.repetitions {
                session.clear();
                if !context.is_empty() {
                    session.feed(context)?;
                }
                let t0 = Instant::now();
                if np > 0 {
                    session.feed(&tokens[..np])?;
                } else {
                    for &t in &tokens[..ng] {
                        session.decode_step(t)?;
                    }
                }
                let ns = t0.elapsed().as_nanos() as u64;
                if rep > 0 {
                    samples_ns.push(ns); // rep 0 is the warm-up
                }
            }
            let n_tok = (np + ng) as f64;
            let samples_ts: Vec<f64> = samples_ns
                .iter()
                .map(|&ns| n_tok * 1e9 / ns as f64)
                .collect();
            let (avg_ts, stddev_ts) = mean_sd(&samples_ts);
            let ns_f: Vec<f64> = samples_ns.iter().map(|&v| v as f64).collect();
            let (avg_ns, stddev_ns) = mean_sd(&ns_f);
            let mut test = if np > 0 {
                format!("pp{np}")
            } else {
                format!("tg{ng}")
            };
            if depth > 0 {
                test.push_str(&format!(" @ d{depth}"));
            }
            if !a.json {
                println!(
                    "| {:<30} | {:>6.2} MiB | {:>8.2} M | CPU     | {:>7} | {:>13} | {:>7.2} ± {:>5.2} |",
                    model_type,
                    model_size as f64 / (1 << 20) as f64,
                    n_params as f64 / 1e6,
                    nt,
                    test,
                    avg_ts,
                    stddev_ts
                );
            }
            if a.roofline && ng > 0 {
                let weights: usize = m.matrices().map(|w| w.view(&m.file).data.len()).sum();
                let kv_per_pos = 2 * m.hp.n_layer * m.hp.kv_dim() * 2; // K and V, f16
                let per_token = weights + kv_per_pos * (depth + ng / 2);
                let pool = edgellm_kernels::pool::ThreadPool::new(nt);
                let bw = edgellm_kernels::membench::read_bandwidth(&pool, 1 << 30, 5);
                let used = per_token as f64 * avg_ts;
                let line = format!(
                    "roofline {test}, {nt} thread(s): {:.1} MB/token × {avg_ts:.2} t/s = {:.2} GB/s of {:.2} GB/s measured read bandwidth ({:.0}%)",
                    per_token as f64 / 1e6,
                    used / 1e9,
                    bw / 1e9,
                    100.0 * used / bw
                );
                if a.json {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
            }
            records.push(Record {
                build_commit: env!("CARGO_PKG_VERSION"),
                cpu_info: cpu_name(),
                backends: "CPU",
                model_filename: path.display().to_string(),
                model_type: model_type.clone(),
                model_size,
                model_n_params: n_params,
                n_batch: a.batch,
                n_threads: nt,
                n_prompt: np,
                n_gen: ng,
                n_depth: depth,
                test_time: format!("{:?}", std::time::SystemTime::now()),
                avg_ns: avg_ns as u64,
                stddev_ns: stddev_ns as u64,
                avg_ts,
                stddev_ts,
                samples_ns,
                samples_ts,
                peak_rss_bytes: peak_rss(),
                simd: edgellm_kernels::quant::simd_level(),
            });
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    }
    Ok(())
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, 0.0);
    }
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Peak resident set size of this process (Linux VmHWM), 0 where unknown.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
        })
        .unwrap_or_default()
}

/// llama.cpp's names for `general.file_type` (its `llama_ftype`).
fn file_type_name(ft: u32) -> Option<&'static str> {
    Some(match ft {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K - Medium",
        11 => "Q3_K - Small",
        12 => "Q3_K - Medium",
        13 => "Q3_K - Large",
        14 => "Q4_K - Small",
        15 => "Q4_K - Medium",
        16 => "Q5_K - Small",
        17 => "Q5_K - Medium",
        18 => "Q6_K",
        32 => "BF16",
        _ => return None,
    })
}

/// Aggregate decode speed of N concurrent streams through a [`Runner`]
/// (continuous batching: one pass over the weights per step for all).
fn bench_streams(a: &BenchArgs, loaded: LoadedModel) -> Result<()> {
    use edgellm_engine::{Event, Options, Request, Runner, RunnerConfig};
    let n_gen = a.n_gen.iter().copied().max().unwrap_or(128);
    anyhow::ensure!(n_gen > 0, "-n must be at least 1");
    anyhow::ensure!(
        a.streams.iter().all(|&s| s > 0),
        "stream counts must be at least 1"
    );
    let threads = a
        .threads
        .first()
        .copied()
        .unwrap_or_else(edgellm_engine::default_threads);
    let loaded = Arc::new(loaded);
    // A prompt whose greedy continuation does not end: counting.
    let prompt = loaded
        .tokenizer
        .encode("1, 2, 3, 4, 5, 6, 7, 8,", true, true)?;
    let opts = Options {
        temperature: 0.0,
        num_predict: n_gen as i64,
        num_ctx: prompt.len() + n_gen + 8,
        seed: Some(1),
        ..Options::default()
    };
    println!("| streams | aggregate t/s | per stream t/s | vs 1 stream |");
    println!("| ------: | ------------: | -------------: | ----------: |");
    let mut base = None;
    for &n in &a.streams {
        let runner = Runner::start(
            Arc::clone(&loaded),
            RunnerConfig {
                n_parallel: n,
                queue: n,
                n_threads: threads,
                n_batch: a.batch.max(n),
                prefill_chunk: 64,
            },
        );
        let mut best = 0.0f64;
        for rep in 0..=a.repetitions {
            let mut rxs = Vec::with_capacity(n);
            for i in 0..n {
                let (tx, rx) = std::sync::mpsc::channel();
                let mut p = prompt.clone();
                // Distinct prompts: no stream shares another's cache.
                p.push(p[p.len() - 1 - (i % 3)]);
                runner.submit(Request {
                    prompt: p,
                    opts: opts.clone(),
                    load_duration: Default::default(),
                    constraint: None,
                    sink: Box::new(tx),
                })?;
                rxs.push(rx);
            }
            let (mut tokens, mut longest) = (0usize, 0f64);
            for rx in rxs {
                for ev in rx {
                    match ev {
                        Event::Done(c) => {
                            tokens += c.stats.eval_count;
                            longest = longest.max(c.stats.eval_duration.as_secs_f64());
                            break;
                        }
                        Event::Failed(e) => return Err(e.into()),
                        Event::Text(_) => {}
                    }
                }
            }
            if rep > 0 && longest > 0.0 {
                best = best.max(tokens as f64 / longest);
            }
        }
        let base_ts = *base.get_or_insert(best);
        println!(
            "| {:>7} | {:>13.2} | {:>14.2} | {:>10.2}x |",
            n,
            best,
            best / n as f64,
            best / base_ts
        );
    }
    Ok(())
}
