//! One handcrafted corrupt file per class of problem. Each test asserts the
//! parse fails (no panic, no huge allocation) and that the message names the
//! field at fault.

mod common;

use common::*;
use edgellm_gguf::{GgufError, GgufFile};

const HUGE: u64 = 1 << 63;

#[test]
fn small_valid_file_parses() {
    let f = GgufFile::from_bytes(small_valid_file()).unwrap();
    assert_eq!(f.architecture().unwrap(), "llama");
    assert_eq!(f.tensor_bytes("b").unwrap(), &[2; 16]);
}

#[test]
fn bad_magic() {
    let mut b = small_valid_file();
    b[..4].copy_from_slice(b"GGML");
    assert_mentions(&parse_err(b), &["header.magic", "offset 0", "GGML"]);
}

#[test]
fn legacy_ggjt_magic_gets_a_hint() {
    let mut b = small_valid_file();
    b[..4].copy_from_slice(b"tjgg");
    assert_mentions(&parse_err(b), &["header.magic", "pre-GGUF"]);
}

#[test]
fn version_1_is_rejected_with_reason() {
    let b = Raw::header(1, 0, 0).build();
    assert_mentions(
        &parse_err(b),
        &["header.version", "offset 4", "version 1", "32-bit"],
    );
}

#[test]
fn unknown_version() {
    let b = Raw::header(4, 0, 0).build();
    assert_mentions(
        &parse_err(b),
        &["header.version", "version 4", "not supported"],
    );
}

#[test]
fn byte_swapped_version_is_big_endian() {
    let b = Raw::header(0x0300_0000, 0, 0).build();
    assert_mentions(
        &parse_err(b),
        &["header.version", "big-endian GGUF is not supported"],
    );
}

#[test]
fn version_2_is_read() {
    let mut b = small_valid_file();
    b[4] = 2;
    assert_eq!(GgufFile::from_bytes(b).unwrap().version(), 2);
}

#[test]
fn tensor_count_2_pow_63() {
    let b = Raw::header(3, HUGE, 0).build();
    assert_mentions(
        &parse_err(b),
        &["header.tensor_count", "offset 8", "MAX_TENSORS"],
    );
}

#[test]
fn tensor_count_beyond_file_size() {
    // Under the limit, but 1000 entries cannot fit in what is left of the file.
    let b = Raw::header(3, 1000, 0).zeros(100).build();
    assert_mentions(&parse_err(b), &["header.tensor_count", "truncated"]);
}

#[test]
fn kv_count_2_pow_63() {
    let b = Raw::header(3, 0, HUGE).build();
    assert_mentions(
        &parse_err(b),
        &["header.metadata_kv_count", "offset 16", "MAX_KV"],
    );
}

#[test]
fn key_length_2_pow_63() {
    let b = Raw::header(3, 0, 1).u64(HUGE).zeros(16).build();
    assert_mentions(
        &parse_err(b),
        &["metadata kv #0 key length", "offset 24", "MAX_KEY_LEN"],
    );
}

#[test]
fn string_value_length_2_pow_63() {
    let b = Raw::header(3, 0, 1)
        .str("general.name")
        .u32(T_STRING)
        .u64(HUGE)
        .zeros(16)
        .build();
    assert_mentions(
        &parse_err(b),
        &["metadata 'general.name' value length", "MAX_STRING_LEN"],
    );
}

#[test]
fn string_length_past_eof() {
    let b = Raw::header(3, 0, 1)
        .str("general.name")
        .u32(T_STRING)
        .u64(1000)
        .bytes(b"short")
        .build();
    let msg = parse_err(b);
    assert_mentions(
        &msg,
        &[
            "metadata 'general.name' value",
            "truncated",
            "needs 1000 bytes",
        ],
    );
}

#[test]
fn array_count_2_pow_63() {
    let b = Raw::header(3, 0, 1)
        .str("tokenizer.ggml.scores")
        .u32(T_ARRAY)
        .u32(T_U32)
        .u64(HUGE)
        .zeros(64)
        .build();
    assert_mentions(
        &parse_err(b),
        &[
            "metadata 'tokenizer.ggml.scores' value array count",
            "MAX_ARRAY_LEN",
        ],
    );
}

#[test]
fn array_count_beyond_file_size_fails_before_allocating() {
    // 16M strings would need at least 128 MiB; the file has 64 bytes left.
    let b = Raw::header(3, 0, 1)
        .str("tokenizer.ggml.tokens")
        .u32(T_ARRAY)
        .u32(T_STRING)
        .u64(1 << 24)
        .zeros(64)
        .build();
    assert_mentions(
        &parse_err(b),
        &[
            "metadata 'tokenizer.ggml.tokens' value array count",
            "truncated",
        ],
    );
}

#[test]
fn duplicate_key() {
    let b = Raw::header(3, 0, 2)
        .kv_u32("llama.block_count", 1)
        .kv_u32("llama.block_count", 2)
        .build();
    let err = GgufFile::from_bytes(b).unwrap_err();
    assert!(matches!(
        err,
        GgufError::DuplicateKey {
            first_offset: 24,
            ..
        }
    ));
    assert_mentions(
        &err.to_string(),
        &["'llama.block_count'", "duplicate key", "offset 24"],
    );
}

#[test]
fn duplicate_tensor_name() {
    let mut r = Raw::header(3, 2, 0);
    r.tensor("x", &[8], G_F32, 0)
        .tensor("x", &[8], G_F32, 32)
        .pad(32)
        .zeros(64);
    let err = GgufFile::from_bytes(r.build()).unwrap_err();
    assert!(matches!(
        err,
        GgufError::DuplicateTensor {
            index: 1,
            first_index: 0,
            ..
        }
    ));
    assert_mentions(
        &err.to_string(),
        &["tensor 'x'", "tensor info #1", "duplicate tensor name"],
    );
}

#[test]
fn dims_product_overflows() {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("blk.0.attn_q.weight", &[1 << 32, 1 << 32, 2], G_F32, 0)
        .pad(32)
        .zeros(64);
    assert_mentions(
        &parse_err(r.build()),
        &[
            "tensor 'blk.0.attn_q.weight' (tensor info #0 at offset 24)",
            "dims",
            "overflows u64",
        ],
    );
}

#[test]
fn dims_product_above_i64_max() {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[1 << 62, 2], G_F32, 0).pad(32).zeros(64);
    assert_mentions(
        &parse_err(r.build()),
        &["tensor 't'", "dims", "MAX_ELEMENTS"],
    );
}

#[test]
fn n_dims_5() {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[1, 1, 1, 1, 1], G_F32, 0).pad(32).zeros(64);
    assert_mentions(&parse_err(r.build()), &["tensor 't'", "n_dims", "MAX_DIMS"]);
}

#[test]
fn n_dims_2_pow_31_does_not_allocate() {
    let mut r = Raw::header(3, 1, 0);
    r.str("t").u32(1 << 31).zeros(64);
    assert_mentions(&parse_err(r.build()), &["tensor 't'", "n_dims", "MAX_DIMS"]);
}

#[test]
fn row_length_not_a_multiple_of_block_size() {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("q", &[48, 2], G_Q4_0, 0).pad(32).zeros(64);
    assert_mentions(
        &parse_err(r.build()),
        &["tensor 'q'", "ne[0] = 48", "block size 32"],
    );
}

#[test]
fn misaligned_offset() {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[4], G_F32, 8).pad(32).zeros(64);
    assert_mentions(
        &parse_err(r.build()),
        &["tensor 't'", "offset", "not a multiple of the alignment 32"],
    );
}

#[test]
fn out_of_file_offset() {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[4], G_F32, 1 << 40).pad(32).zeros(64);
    assert_mentions(
        &parse_err(r.build()),
        &["tensor 't'", "offset", "beyond the end of the file"],
    );
}

#[test]
fn offset_plus_size_overflows() {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[4], G_F32, u64::MAX - 31).pad(32).zeros(64);
    assert_mentions(
        &parse_err(r.build()),
        &["tensor 't'", "offset", "beyond the end of the file"],
    );
}

#[test]
fn overlapping_tensors() {
    let mut r = Raw::header(3, 2, 0);
    // a: 64 bytes at 0; b: 32 bytes at 32 overlaps a's second half.
    r.tensor("a", &[16], G_F32, 0)
        .tensor("b", &[8], G_F32, 32)
        .pad(32)
        .zeros(64);
    assert_mentions(
        &parse_err(r.build()),
        &["tensor 'b'", "overlaps", "tensor 'a'"],
    );
}

#[test]
fn overlap_with_earlier_long_tensor_is_found() {
    // a spans [0, 128); b [32, 64) and c [64, 96) sit inside it. Sorted by start,
    // c overlaps a, not its neighbour b.
    let mut r = Raw::header(3, 3, 0);
    r.tensor("a", &[32], G_F32, 0)
        .tensor("b", &[8], G_F32, 32)
        .tensor("c", &[8], G_F32, 64)
        .pad(32)
        .zeros(128);
    assert_mentions(&parse_err(r.build()), &["overlaps", "tensor 'a'"]);
}

#[test]
fn empty_tensors_overlap_nothing() {
    let mut r = Raw::header(3, 3, 0);
    r.tensor("a", &[8], G_F32, 0)
        .tensor("empty", &[0, 8], G_F32, 0)
        .tensor("empty2", &[8, 0], G_F32, 32)
        .pad(32)
        .zeros(32);
    let f = GgufFile::from_bytes(r.build()).unwrap();
    assert_eq!(f.tensor("empty").unwrap().n_bytes, 0);
    assert_eq!(f.tensor_bytes("empty2").unwrap(), &[] as &[u8]);
}

#[test]
fn truncated_at_every_prefix() {
    let full = small_valid_file();
    GgufFile::from_bytes(full.clone()).unwrap();
    for len in 0..full.len() {
        let r = std::panic::catch_unwind(|| GgufFile::from_bytes(full[..len].to_vec()));
        match r {
            Ok(Err(_)) => {}
            Ok(Ok(_)) => panic!("prefix of {len} bytes parsed"),
            Err(_) => panic!("prefix of {len} bytes panicked"),
        }
    }
}

#[test]
fn truncated_tensor_data_names_the_tensor() {
    let mut b = small_valid_file();
    b.truncate(b.len() - 1);
    assert_mentions(&parse_err(b), &["tensor 'b'", "beyond the end of the file"]);
}

#[test]
fn array_element_type_99() {
    let b = Raw::header(3, 0, 1)
        .str("x.arr")
        .u32(T_ARRAY)
        .u32(99)
        .u64(1)
        .zeros(8)
        .build();
    let err = GgufFile::from_bytes(b).unwrap_err();
    assert!(matches!(
        err,
        GgufError::UnknownValueType { type_id: 99, .. }
    ));
    assert_mentions(
        &err.to_string(),
        &["metadata 'x.arr' value array element type", "99"],
    );
}

#[test]
fn unknown_value_type() {
    let b = Raw::header(3, 0, 1).str("x.v").u32(13).zeros(8).build();
    assert_mentions(
        &parse_err(b),
        &[
            "metadata 'x.v' value type",
            "unknown metadata value type id 13",
        ],
    );
}

#[test]
fn bool_value_2() {
    let b = Raw::header(3, 0, 1).str("x.flag").u32(T_BOOL).u8(2).build();
    assert_mentions(
        &parse_err(b),
        &["metadata 'x.flag' value", "bool must be 0 or 1, found 2"],
    );
}

#[test]
fn bool_array_element_2() {
    let b = Raw::header(3, 0, 1)
        .str("x.flags")
        .u32(T_ARRAY)
        .u32(T_BOOL)
        .u64(3)
        .bytes(&[0, 1, 2])
        .build();
    assert_mentions(
        &parse_err(b),
        &["metadata 'x.flags' value element #2", "bool must be 0 or 1"],
    );
}

#[test]
fn alignment_0_and_3_and_wrong_type() {
    for a in [0, 3, 48] {
        let b = Raw::header(3, 0, 1).kv_u32("general.alignment", a).build();
        assert_mentions(
            &parse_err(b),
            &[
                "'general.alignment'",
                &format!("alignment {a} is not a nonzero power of two"),
            ],
        );
    }
    let b = Raw::header(3, 0, 1)
        .str("general.alignment")
        .u32(T_I32)
        .u32(32)
        .build();
    assert_mentions(
        &parse_err(b),
        &["'general.alignment'", "expected a u32 value, found i32"],
    );
}

#[test]
fn custom_alignment_is_honoured() {
    let mut r = Raw::header(3, 1, 1);
    r.kv_u32("general.alignment", 64)
        .tensor("t", &[4], G_F32, 0)
        .pad(64)
        .zeros(64);
    let f = GgufFile::from_bytes(r.build()).unwrap();
    assert_eq!(f.alignment(), 64);
    assert_eq!(f.data_offset() % 64, 0);
    let mut r = Raw::header(3, 1, 1);
    r.kv_u32("general.alignment", 64)
        .tensor("t", &[4], G_F32, 32)
        .pad(64)
        .zeros(128);
    assert_mentions(
        &parse_err(r.build()),
        &["not a multiple of the alignment 64"],
    );
}

#[test]
fn unknown_tensor_type() {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("blk.0.ffn_up.weight", &[32], 4, 0)
        .pad(32)
        .zeros(64);
    let err = GgufFile::from_bytes(r.build()).unwrap_err();
    assert!(matches!(err, GgufError::UnknownGgmlType { type_id: 4, .. }));
    assert_mentions(
        &err.to_string(),
        &[
            "tensor 'blk.0.ffn_up.weight' (tensor info #0",
            "ggml_type",
            "unknown ggml type id 4",
        ],
    );
}

#[test]
fn tensor_name_of_64_bytes() {
    let name = "n".repeat(64);
    let mut r = Raw::header(3, 1, 0);
    r.tensor(&name, &[4], G_F32, 0).pad(32).zeros(64);
    assert_mentions(
        &parse_err(r.build()),
        &["tensor info #0 name length", "MAX_NAME_LEN"],
    );
    let name = "n".repeat(63);
    let mut r = Raw::header(3, 1, 0);
    r.tensor(&name, &[4], G_F32, 0).pad(32).zeros(32);
    GgufFile::from_bytes(r.build()).unwrap();
}

#[test]
fn dim_above_i64_max() {
    let mut r = Raw::header(3, 1, 0);
    r.tensor("t", &[u64::MAX], G_F32, 0).pad(32).zeros(64);
    assert_mentions(
        &parse_err(r.build()),
        &["tensor 't'", "ne[0]", "MAX_ELEMENTS"],
    );
}

#[test]
fn invalid_utf8_key_and_string() {
    let b = Raw::header(3, 0, 1)
        .u64(2)
        .bytes(&[0xff, 0xfe])
        .u32(T_U8)
        .u8(0)
        .build();
    assert_mentions(
        &parse_err(b),
        &["metadata kv #0 key", "offset 24", "not valid UTF-8"],
    );
    let b = Raw::header(3, 0, 1)
        .str("general.name")
        .u32(T_STRING)
        .u64(3)
        .bytes(&[b'a', 0xc3, b'b'])
        .build();
    let msg = parse_err(b);
    assert_mentions(&msg, &["metadata 'general.name' value", "not valid UTF-8"]);
}

#[test]
fn arrays_nested_too_deep() {
    let mut r = Raw::header(3, 0, 1);
    r.str("x.deep").u32(T_ARRAY);
    for _ in 0..20 {
        r.u32(T_ARRAY).u64(1);
    }
    r.u32(T_U8).u64(0);
    assert_mentions(
        &parse_err(r.build()),
        &["metadata 'x.deep' value", "MAX_ARRAY_DEPTH"],
    );
}

#[test]
fn deeply_nested_arrays_at_the_limit_parse() {
    // Depth 8 = MAX_ARRAY_DEPTH: the outer array and 7 nested levels.
    let mut r = Raw::header(3, 0, 1);
    r.str("x.deep").u32(T_ARRAY);
    for _ in 0..7 {
        r.u32(T_ARRAY).u64(1);
    }
    r.u32(T_U8).u64(1).u8(7);
    let f = GgufFile::from_bytes(r.build()).unwrap();
    assert_eq!(f.get_array("x.deep").unwrap().len(), 1);
}

#[test]
fn key_names_are_escaped_in_messages() {
    let b = Raw::header(3, 0, 2)
        .kv_u32("evil\u{1b}[31m", 1)
        .kv_u32("evil\u{1b}[31m", 1)
        .build();
    let msg = parse_err(b);
    assert!(!msg.contains('\u{1b}'), "{msg:?}");
    assert_mentions(&msg, &["evil\\u{1b}[31m"]);
}

#[test]
fn architecture_missing_or_wrong_type() {
    let f = GgufFile::from_bytes(Raw::header(3, 0, 0).build()).unwrap();
    assert_mentions(
        &f.architecture().unwrap_err().to_string(),
        &["general.architecture", "missing"],
    );
    let f = GgufFile::from_bytes(
        Raw::header(3, 0, 1)
            .kv_u32("general.architecture", 1)
            .build(),
    )
    .unwrap();
    assert_mentions(
        &f.architecture().unwrap_err().to_string(),
        &[
            "general.architecture",
            "offset 24",
            "expected a string value, found u32",
        ],
    );
}
