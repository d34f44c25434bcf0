//! Writer → reader round trips: every value type, nested arrays, tensors of
//! several types with alignment and padding, files on disk, writer refusals.

mod common;

use common::*;
use edgellm_gguf::{limits, Array, GgmlType, GgufError, GgufFile, GgufWriter, Value};

fn all_values() -> Vec<(String, Value)> {
    let v = vec![
        ("general.architecture", Value::from("llama")),
        ("t.u8", Value::U8(250)),
        ("t.i8", Value::I8(-7)),
        ("t.u16", Value::U16(65_000)),
        ("t.i16", Value::I16(-32_000)),
        ("t.u32", Value::U32(4_000_000_000)),
        ("t.i32", Value::I32(-2_000_000_000)),
        ("t.f32", Value::F32(1.5e-5)),
        ("t.bool", Value::Bool(true)),
        ("t.bool_false", Value::Bool(false)),
        ("t.string", Value::from("héllo \u{1F600} \n\"q\"")),
        ("t.empty_string", Value::from("")),
        ("t.u64", Value::U64(u64::MAX)),
        ("t.i64", Value::I64(i64::MIN)),
        ("t.f64", Value::F64(-1e300)),
        ("a.u8", Array::U8(vec![0, 1, 255]).into()),
        ("a.i8", Array::I8(vec![-128, 127]).into()),
        ("a.u16", Array::U16(vec![1, 65535]).into()),
        ("a.i16", Array::I16(vec![-1, 1]).into()),
        ("a.u32", Array::U32(vec![7; 33]).into()),
        ("a.i32", Array::I32(vec![-5, 5, i32::MAX]).into()),
        (
            "a.f32",
            Array::F32(vec![0.0, -0.0, f32::INFINITY, 3.25]).into(),
        ),
        ("a.bool", Array::Bool(vec![true, false, true]).into()),
        (
            "a.string",
            Array::String(vec!["<s>".into(), "".into(), "▁the".into()]).into(),
        ),
        ("a.u64", Array::U64(vec![u64::MAX, 0]).into()),
        ("a.i64", Array::I64(vec![i64::MIN, i64::MAX]).into()),
        ("a.f64", Array::F64(vec![1e-300, 2.5]).into()),
        ("a.empty", Array::U32(vec![]).into()),
        ("a.empty_arrays", Array::Array(vec![]).into()),
        (
            "a.nested",
            Array::Array(vec![
                Array::U8(vec![1, 2]),
                Array::String(vec!["x".into()]),
                Array::Array(vec![Array::F64(vec![1.0]), Array::Bool(vec![])]),
                Array::I32(vec![]),
            ])
            .into(),
        ),
    ];
    v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Deterministic pseudo-random bytes.
fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn tensors() -> Vec<(&'static str, Vec<u64>, GgmlType)> {
    vec![
        ("token_embd.weight", vec![8, 3], GgmlType::F32),
        ("blk.0.attn_q.weight", vec![64, 5], GgmlType::Q4_0),
        ("blk.0.attn_k.weight", vec![32, 3, 2], GgmlType::Q8_0),
        ("blk.0.ffn_up.weight", vec![256, 3], GgmlType::Q4_K),
        ("blk.0.ffn_down.weight", vec![512], GgmlType::Q6_K),
        ("output_norm.weight", vec![7], GgmlType::F16),
        ("scalar", vec![], GgmlType::F32),
        ("empty", vec![0, 4], GgmlType::F32),
        ("ids", vec![3, 1, 1, 2], GgmlType::I8),
        ("bf", vec![5], GgmlType::BF16),
    ]
}

fn build_writer() -> GgufWriter {
    let mut w = GgufWriter::new();
    for (k, v) in all_values() {
        w.add_kv(k, v);
    }
    for (i, (name, dims, ty)) in tensors().into_iter().enumerate() {
        let n: u64 = dims.iter().product();
        let len = ty.row_bytes(n).unwrap() as usize;
        w.add_tensor(name, &dims, ty, bytes(len, i as u8));
    }
    w
}

fn check_file(f: &GgufFile, alignment: u64) {
    assert_eq!(f.version(), 3);
    assert_eq!(f.alignment(), alignment);
    assert_eq!(f.data_offset() % alignment, 0);
    let expected = all_values();
    let got: Vec<_> = f
        .metadata()
        .iter()
        .filter(|(k, _)| k != "general.alignment")
        .cloned()
        .collect();
    assert_eq!(got, expected);
    for (k, v) in &expected {
        assert_eq!(f.get(k), Some(v), "{k}");
    }
    assert_eq!(f.tensors().len(), tensors().len());
    for (i, ((name, dims, ty), t)) in tensors().into_iter().zip(f.tensors()).enumerate() {
        assert_eq!(t.name, name);
        assert_eq!(t.dims, dims);
        assert_eq!(t.ggml_type, ty);
        assert_eq!(t.n_elements, dims.iter().product::<u64>());
        assert_eq!(t.n_bytes, ty.row_bytes(t.n_elements).unwrap());
        assert_eq!(t.offset % alignment, 0, "{name} misaligned");
        assert_eq!((t.offset - f.data_offset()) % alignment, 0);
        assert_eq!(
            f.tensor_data(t),
            bytes(t.n_bytes as usize, i as u8).as_slice()
        );
        assert_eq!(f.tensor(name), Some(t));
    }
    // Tensors are packed in order, each at the next aligned offset.
    let mut next = f.data_offset();
    for t in f.tensors() {
        assert_eq!(t.offset, next);
        next += t.n_bytes.div_ceil(alignment) * alignment;
    }
    assert_eq!(
        f.file_size(),
        next,
        "file ends padded after the last tensor"
    );
}

#[test]
fn every_value_type_and_tensor_round_trips() {
    let out = build_writer().to_bytes().unwrap();
    let f = GgufFile::from_bytes(out.clone()).unwrap();
    check_file(&f, 32);
    assert!(
        f.get("general.alignment").is_none(),
        "default alignment is not written"
    );
    // Padding after each tensor is zeros.
    for t in f.tensors() {
        let end = (t.offset + t.n_bytes) as usize;
        let padded = end.next_multiple_of(32);
        assert!(out[end..padded].iter().all(|&b| b == 0), "{}", t.name);
    }
}

#[test]
fn set_alignment_writes_general_alignment() {
    for a in [1u64, 8, 64, 4096] {
        let mut w = build_writer();
        w.set_alignment(a);
        let f = GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap();
        check_file(&f, a);
        assert_eq!(f.get("general.alignment"), Some(&Value::U32(a as u32)));
    }
}

#[test]
fn alignment_from_a_kv() {
    let mut w = build_writer();
    w.add_kv("general.alignment", Value::U32(128));
    let f = GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap();
    check_file(&f, 128);
    // Agreeing set_alignment is fine.
    w.set_alignment(128);
    assert!(w.to_bytes().is_ok());
}

#[test]
fn rewrite_is_byte_identical() {
    let first = build_writer().to_bytes().unwrap();
    let f = GgufFile::from_bytes(first.clone()).unwrap();
    let second = GgufWriter::from_gguf(&f).to_bytes().unwrap();
    assert_eq!(first, second);
}

#[test]
fn nan_payloads_survive() {
    let nan = f32::from_bits(0x7fc0_1234);
    let mut w = GgufWriter::new();
    w.add_kv("x.nan", Value::F32(nan));
    w.add_kv(
        "x.nans",
        Array::F64(vec![f64::from_bits(0x7ff8_0000_0000_0001)]).into(),
    );
    let f = GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap();
    match f.get("x.nan") {
        Some(Value::F32(x)) => assert_eq!(x.to_bits(), 0x7fc0_1234),
        v => panic!("{v:?}"),
    }
    match f.get_array("x.nans") {
        Some(Array::F64(v)) => assert_eq!(v[0].to_bits(), 0x7ff8_0000_0000_0001),
        v => panic!("{v:?}"),
    }
}

#[test]
fn typed_getters() {
    let f = GgufFile::from_bytes(build_writer().to_bytes().unwrap()).unwrap();
    assert_eq!(f.architecture().unwrap(), "llama");
    assert_eq!(f.get_u32("t.u8"), Some(250));
    assert_eq!(f.get_u32("t.i32"), None, "negative does not fit u32");
    assert_eq!(f.get_u32("t.u64"), None, "u64::MAX does not fit u32");
    assert_eq!(f.get_u64("t.u64"), Some(u64::MAX));
    assert_eq!(f.get_i64("t.i64"), Some(i64::MIN));
    assert_eq!(f.get_i64("t.i16"), Some(-32_000));
    assert_eq!(f.get_f32("t.f32"), Some(1.5e-5));
    assert_eq!(f.get_f32("t.f64"), Some(-1e300_f64 as f32));
    assert_eq!(f.get_f32("t.u16"), Some(65_000.0));
    assert_eq!(f.get_f32("t.string"), None);
    assert_eq!(f.get_bool("t.bool"), Some(true));
    assert_eq!(f.get_bool("t.u8"), None);
    assert_eq!(f.get_str("t.empty_string"), Some(""));
    assert_eq!(f.get_str("missing"), None);
    let toks = f.get_array("a.string").unwrap();
    assert_eq!(toks.as_strings().unwrap()[2], "▁the");
    assert_eq!(toks.type_name(), "string");
    assert_eq!(f.get_array("a.f32").unwrap().as_f32().unwrap()[3], 3.25);
    assert_eq!(f.get_array("a.i32").unwrap().as_i32().unwrap()[0], -5);
    assert_eq!(
        f.get_array("a.u8").unwrap().to_u32_vec(),
        Some(vec![0, 1, 255])
    );
    assert_eq!(f.get("t.bool").unwrap().type_name(), "bool");
    assert_eq!(f.require_u32("t.u16").unwrap(), 65_000);
    let e = f.require_u32("t.string").unwrap_err().to_string();
    assert!(
        e.contains("'t.string'") && e.contains("found string"),
        "{e}"
    );
    assert!(f.metadata_offset("general.architecture") == Some(24));
}

#[test]
fn write_file_then_open_with_mmap_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    build_writer().write_file(&path).unwrap();
    let mapped = GgufFile::open(&path).unwrap();
    check_file(&mapped, 32);
    // Page-aligned base + file alignment = aligned tensor data in memory.
    for t in mapped.tensors() {
        assert_eq!(mapped.tensor_data(t).as_ptr() as usize % 32, 0);
    }
    let read = GgufFile::read(&path).unwrap();
    check_file(&read, 32);
    // Overwrite in place: atomic rename leaves no temporary files behind.
    GgufWriter::new().write_file(&path).unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    assert!(GgufFile::open(&path).unwrap().tensors().is_empty());
    // The old mapping still sees the old file.
    check_file(&mapped, 32);
}

#[test]
fn open_reports_path_on_io_error() {
    let err = GgufFile::open(std::path::Path::new("/nonexistent/x.gguf")).unwrap_err();
    assert!(matches!(err, GgufError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/x.gguf"));
}

#[test]
fn open_empty_file_is_a_truncation_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.gguf");
    std::fs::write(&path, b"").unwrap();
    let msg = GgufFile::open(&path).unwrap_err().to_string();
    assert!(
        msg.contains("header.magic") && msg.contains("truncated"),
        "{msg}"
    );
}

#[test]
fn empty_file_round_trips() {
    let out = GgufWriter::new().to_bytes().unwrap();
    assert_eq!(out.len(), 32, "24-byte header padded to 32");
    let f = GgufFile::from_bytes(out).unwrap();
    assert!(f.metadata().is_empty() && f.tensors().is_empty());
    assert_eq!(f.data_offset(), 32);
}

#[test]
fn hand_built_and_written_files_agree() {
    // The same content through the raw builder and the writer gives the same bytes.
    // (The hand-built file omits the padding after its last tensor; the writer adds it.)
    let raw = small_valid_file();
    let f = GgufFile::from_bytes(raw.clone()).unwrap();
    let mut padded = raw;
    padded.resize(padded.len().next_multiple_of(32), 0);
    assert_eq!(GgufWriter::from_gguf(&f).to_bytes().unwrap(), padded);
}

#[track_caller]
fn writer_err(w: &GgufWriter, needles: &[&str]) {
    let e = w.to_bytes().unwrap_err();
    assert!(matches!(e, GgufError::Writer { .. }), "{e:?}");
    assert_mentions(&e.to_string(), needles);
    let mut sink = Vec::new();
    assert!(w.write_to(&mut sink).is_err());
    assert!(sink.is_empty(), "nothing written for an invalid file");
}

#[test]
fn writer_refuses_what_the_reader_would_reject() {
    let mut w = GgufWriter::new();
    w.add_tensor("t", &[4], GgmlType::F32, vec![0; 15]);
    writer_err(&w, &["tensor 't'", "data is 15 bytes", "needs 16"]);

    let mut w = GgufWriter::new();
    w.add_kv("k", Value::U8(1));
    w.add_kv("k", Value::U8(2));
    writer_err(&w, &["metadata 'k'", "duplicate key"]);

    let mut w = GgufWriter::new();
    w.add_tensor("t", &[4], GgmlType::F32, vec![0; 16]);
    w.add_tensor("t", &[4], GgmlType::F32, vec![0; 16]);
    writer_err(&w, &["tensor 't'", "duplicate tensor name"]);

    let mut w = GgufWriter::new();
    w.add_tensor("n".repeat(64), &[4], GgmlType::F32, vec![0; 16]);
    writer_err(&w, &["fewer than 64"]);

    let mut w = GgufWriter::new();
    w.add_tensor("t", &[1, 1, 1, 1, 1], GgmlType::F32, vec![0; 4]);
    writer_err(&w, &["tensor 't'", "MAX_DIMS"]);

    let mut w = GgufWriter::new();
    w.add_tensor("t", &[32], GgmlType(4), vec![0; 18]);
    writer_err(&w, &["tensor 't'", "unknown ggml type id 4"]);

    let mut w = GgufWriter::new();
    w.add_tensor("t", &[16], GgmlType::Q4_0, vec![0; 9]);
    writer_err(&w, &["tensor 't'", "block size 32"]);

    for a in [0, 3, 1 << 32] {
        let mut w = GgufWriter::new();
        w.set_alignment(a);
        writer_err(&w, &["alignment", "power of two"]);
    }

    let mut w = GgufWriter::new();
    w.add_kv("general.alignment", Value::U32(64));
    w.set_alignment(32);
    writer_err(&w, &["conflicts"]);

    let mut w = GgufWriter::new();
    w.add_kv("general.alignment", Value::U64(64));
    writer_err(&w, &["'general.alignment'", "u32"]);

    let mut deep = Array::U8(vec![]);
    for _ in 0..limits::MAX_ARRAY_DEPTH {
        deep = Array::Array(vec![deep]);
    }
    let mut w = GgufWriter::new();
    w.add_kv("deep", deep.into());
    writer_err(&w, &["metadata 'deep'", "MAX_ARRAY_DEPTH"]);
}

#[test]
fn writer_kv_editing() {
    let mut w = GgufWriter::new();
    w.add_kv("a", Value::U8(1));
    w.add_kv("b", Value::U8(2));
    w.set_kv("a", Value::U8(3));
    w.set_kv("c", Value::U8(4));
    assert_eq!(w.remove_kv("b"), Some(Value::U8(2)));
    let f = GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap();
    let keys: Vec<_> = f
        .metadata()
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    assert_eq!(keys, vec![("a", Value::U8(3)), ("c", Value::U8(4))]);
}

#[test]
fn gguf_file_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<GgufFile>();
    check::<GgufWriter>();
    check::<GgufError>();
}

#[test]
fn vocabulary_sized_arrays_round_trip() {
    // Gemma-3-sized vocabulary: 262,144 tokens, scores and types.
    let n = 262_144;
    let tokens: Vec<String> = (0..n).map(|i| format!("tok{i}")).collect();
    let mut w = GgufWriter::new();
    w.add_kv(
        "tokenizer.ggml.tokens",
        Array::String(tokens.clone()).into(),
    );
    w.add_kv(
        "tokenizer.ggml.scores",
        Array::F32((0..n).map(|i| i as f32).collect()).into(),
    );
    w.add_kv("tokenizer.ggml.token_type", Array::I32(vec![1; n]).into());
    let f = GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap();
    assert_eq!(
        f.get_array("tokenizer.ggml.tokens")
            .unwrap()
            .as_strings()
            .unwrap(),
        tokens
    );
    assert_eq!(f.get_array("tokenizer.ggml.scores").unwrap().len(), n);
    assert_eq!(
        f.get_array("tokenizer.ggml.token_type")
            .unwrap()
            .to_u32_vec()
            .unwrap()[7],
        1
    );
}
