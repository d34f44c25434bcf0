//! Hand-built blocks whose values are worked out by hand in the comments:
//! one per type, plus the type table itself.

use edgellm_kernels::quant::{
    dequantize_row, get_scale_min_k4, pack_scale_min_k4, quantize_row, reference, QuantType,
};

const F16_1: [u8; 2] = [0x00, 0x3c];
const F16_HALF: [u8; 2] = [0x00, 0x38];
const F16_QUARTER: [u8; 2] = [0x00, 0x34];
const F16_NEG1: [u8; 2] = [0x00, 0xbc];

/// Dequantizes one hand-built row with both the reference and the dispatched kernel.
fn deq(ty: QuantType, bytes: &[u8]) -> Vec<f32> {
    let n = bytes.len() / ty.type_size() * ty.block_size();
    let mut a = vec![0f32; n];
    reference::dequantize_row_ref(ty, bytes, &mut a);
    let mut b = vec![0f32; n];
    dequantize_row(ty, bytes, &mut b);
    assert_eq!(
        a,
        b,
        "{}: dispatched dequantize differs from ref",
        ty.name()
    );
    a
}

#[test]
fn type_table_matches_ggml() {
    let table = [
        (QuantType::F32, 0, "F32", 1, 4, QuantType::F32),
        (QuantType::F16, 1, "F16", 1, 2, QuantType::F16),
        (QuantType::Q4_0, 2, "Q4_0", 32, 18, QuantType::Q8_0),
        (QuantType::Q4_1, 3, "Q4_1", 32, 20, QuantType::Q8_1),
        (QuantType::Q5_0, 6, "Q5_0", 32, 22, QuantType::Q8_0),
        (QuantType::Q5_1, 7, "Q5_1", 32, 24, QuantType::Q8_1),
        (QuantType::Q8_0, 8, "Q8_0", 32, 34, QuantType::Q8_0),
        (QuantType::Q8_1, 9, "Q8_1", 32, 36, QuantType::Q8_1),
        (QuantType::Q2_K, 10, "Q2_K", 256, 84, QuantType::Q8_K),
        (QuantType::Q3_K, 11, "Q3_K", 256, 110, QuantType::Q8_K),
        (QuantType::Q4_K, 12, "Q4_K", 256, 144, QuantType::Q8_K),
        (QuantType::Q5_K, 13, "Q5_K", 256, 176, QuantType::Q8_K),
        (QuantType::Q6_K, 14, "Q6_K", 256, 210, QuantType::Q8_K),
        (QuantType::Q8_K, 15, "Q8_K", 256, 292, QuantType::Q8_K),
        (QuantType::BF16, 30, "BF16", 1, 2, QuantType::BF16),
    ];
    for (ty, id, name, bs, ts, vt) in table {
        assert_eq!(ty as u32, id);
        assert_eq!(QuantType::from_ggml_id(id), Some(ty));
        assert_eq!(ty.name(), name);
        assert_eq!(ty.block_size(), bs, "{name}");
        assert_eq!(ty.type_size(), ts, "{name}");
        assert_eq!(ty.vec_dot_type(), vt, "{name}");
        assert_eq!(ty.row_bytes(bs * 3), ts * 3, "{name}");
    }
    for id in [4, 5, 16, 29, 31, 39, 1000] {
        assert_eq!(QuantType::from_ggml_id(id), None, "id {id}");
    }
}

#[test]
#[should_panic]
fn row_bytes_rejects_partial_blocks() {
    QuantType::Q4_K.row_bytes(255);
}

#[test]
fn q4_0_block() {
    // d = 0.5; byte j = j | (15 − j) << 4 → w[j] = (j − 8)·0.5, w[16 + j] = (7 − j)·0.5.
    let mut b = F16_HALF.to_vec();
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let y = deq(QuantType::Q4_0, &b);
    assert_eq!(
        [y[0], y[3], y[8], y[15], y[16], y[31]],
        [-4.0, -2.5, 0.0, 3.5, 3.5, -4.0]
    );
}

#[test]
fn q4_1_block() {
    // d = 0.5, m = −1; same nibbles → w[j] = 0.5·j − 1, w[16 + j] = 0.5·(15 − j) − 1.
    let mut b = [F16_HALF, F16_NEG1].concat();
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    let y = deq(QuantType::Q4_1, &b);
    assert_eq!([y[0], y[5], y[16], y[31]], [-1.0, 1.5, 6.5, -1.0]);
}

#[test]
fn q5_0_block() {
    // d = 1, qh bits 0 and 31 set, byte j = j | j << 4:
    // w0 = (0|16) − 16 = 0, w1 = 1 − 16 = −15, w16 = 0 − 16 = −16, w31 = (15|16) − 16 = 15.
    let mut b = F16_1.to_vec();
    b.extend(0x8000_0001u32.to_le_bytes());
    b.extend((0..16u8).map(|j| j | (j << 4)));
    let y = deq(QuantType::Q5_0, &b);
    assert_eq!([y[0], y[1], y[16], y[31]], [0.0, -15.0, -16.0, 15.0]);
}

#[test]
fn q5_1_block() {
    // d = 0.5, m = 1, qh bits 1 and 16: w0 = 1, w1 = 17·0.5 + 1 = 9.5, w16 = 16·0.5 + 1 = 9, w17 = 1.5.
    let mut b = [F16_HALF, F16_1].concat();
    b.extend(0x0001_0002u32.to_le_bytes());
    b.extend((0..16u8).map(|j| j | (j << 4)));
    let y = deq(QuantType::Q5_1, &b);
    assert_eq!([y[0], y[1], y[16], y[17]], [1.0, 9.5, 9.0, 1.5]);
}

#[test]
fn q8_0_block() {
    // d = 0.25, q[j] = j − 16.
    let mut b = F16_QUARTER.to_vec();
    b.extend((0..32i32).map(|j| (j - 16) as i8 as u8));
    let y = deq(QuantType::Q8_0, &b);
    assert_eq!([y[0], y[16], y[31]], [-4.0, 0.0, 3.75]);
}

#[test]
fn q8_1_block() {
    // d = 0.25, s ignored by dequantization, q[j] = 16 − j.
    let mut b = [F16_QUARTER, F16_1].concat();
    b.extend((0..32i32).map(|j| (16 - j) as i8 as u8));
    let y = deq(QuantType::Q8_1, &b);
    assert_eq!([y[0], y[16], y[31]], [4.0, 0.0, -3.75]);
}

#[test]
fn q8_k_block() {
    // d = 0.5 (f32), q[i] = i − 128 (so −128..127), bsums ignored by dequantization.
    let mut b = 0.5f32.to_le_bytes().to_vec();
    b.extend((0..256i32).map(|i| (i - 128) as i8 as u8));
    b.extend([0u8; 32]);
    let y = deq(QuantType::Q8_K, &b);
    assert_eq!([y[0], y[128], y[255]], [-64.0, 0.0, 63.5]);
}

#[test]
fn q2_k_block() {
    // scales[g] = g | (15 − g) << 4 → group g: scale g, min 15 − g; d = 1, dmin = 0.5.
    // Every qs byte 0b11_10_01_00 → weight 128h + 32k + l has q = k.
    // w = g·k − 0.5·(15 − g):
    //   w0 (g0,k0) = −7.5; w40 (g2,k1) = 2 − 6.5 = −4.5; w200 (g12,k2) = 24 − 1.5 = 22.5; w255 (g15,k3) = 45.
    let mut b: Vec<u8> = (0..16u8).map(|g| g | ((15 - g) << 4)).collect();
    b.extend([0xE4u8; 64]);
    b.extend(F16_1);
    b.extend(F16_HALF);
    let y = deq(QuantType::Q2_K, &b);
    assert_eq!([y[0], y[40], y[200], y[255]], [-7.5, -4.5, 22.5, 45.0]);
}

#[test]
fn q3_k_block() {
    // Stored 6-bit scales s_g = 24 + g (so signed scale g − 8):
    //   scales[0..8] = lo4(s_g) | lo4(s_{g+8}) << 4  = 0x08, 0x19, 0x2A, 0x3B, 0x4C, 0x5D, 0x6E, 0x7F
    //   scales[8..12]: bits 2·(g/4) of byte 8 + g%4 = hi2(s_g): 1,1,2,2 → 0b10_10_01_01 = 0xA5
    // hmask all set except bit 0 of hmask[0] (weight 0 gets −4); qs all 0b00_01_10_11 (q = 3 − k).
    //   w0: g0 (−8)·(3 − 4) = 8;  w1: (−8)·3 = −24;  w32 (k1, g2): (−6)·2 = −12;
    //   w130 (h1 k0, g8): 0·3 = 0;  w150 (g9): 1·3 = 3;  w255 (k3, q = 0): 0.
    let mut b = vec![0xFFu8; 32];
    b[0] = 0xFE;
    b.extend([0x1Bu8; 64]);
    b.extend([
        0x08, 0x19, 0x2A, 0x3B, 0x4C, 0x5D, 0x6E, 0x7F, 0xA5, 0xA5, 0xA5, 0xA5,
    ]);
    b.extend(F16_1);
    let y = deq(QuantType::Q3_K, &b);
    assert_eq!(
        [y[0], y[1], y[32], y[130], y[150], y[255]],
        [8.0, -24.0, -12.0, 0.0, 3.0, 0.0]
    );
}

/// Scales [1, 2, 3, 63, 17, 33, 48, 5] and mins [0, 1, 62, 3, 20, 40, 7, 63] packed by hand:
/// bytes 0..4 = sc[j] | (sc[j+4] >> 4) << 6, bytes 4..8 = m[j] | (m[j+4] >> 4) << 6,
/// bytes 8..12 = (sc[j+4] & 15) | (m[j+4] & 15) << 4.
const K4_SCALES: [u8; 12] = [
    0x41, 0x82, 0xC3, 0x3F, 0x40, 0x81, 0x3E, 0xC3, 0x41, 0x81, 0x70, 0xF5,
];
const K4_SC: [u8; 8] = [1, 2, 3, 63, 17, 33, 48, 5];
const K4_M: [u8; 8] = [0, 1, 62, 3, 20, 40, 7, 63];

#[test]
fn k4_scale_packing_round_trips() {
    for j in 0..8 {
        assert_eq!(
            get_scale_min_k4(j, &K4_SCALES),
            (K4_SC[j], K4_M[j]),
            "j = {j}"
        );
    }
    assert_eq!(pack_scale_min_k4(&K4_SC, &K4_M), K4_SCALES);
}

#[test]
fn q4_k_block() {
    // d = 1, dmin = 0.5, every qs byte 0x73 (low nibble 3 → even groups, high 7 → odd groups).
    // w = sc·q − 0.5·m per group of 32:
    //   g0 3, g1 14 − 0.5 = 13.5, g2 9 − 31 = −22, g3 441 − 1.5 = 439.5,
    //   g4 51 − 10 = 41, g5 231 − 20 = 211, g6 144 − 3.5 = 140.5, g7 35 − 31.5 = 3.5.
    let mut b = [F16_1, F16_HALF].concat();
    b.extend(K4_SCALES);
    b.extend([0x73u8; 128]);
    let y = deq(QuantType::Q4_K, &b);
    let per_group: Vec<f32> = (0..8).map(|g| y[32 * g + 5]).collect();
    assert_eq!(
        per_group,
        [3.0, 13.5, -22.0, 439.5, 41.0, 211.0, 140.5, 3.5]
    );
}

#[test]
fn q5_k_block() {
    // As Q4_K, plus qh[l] = (l even) | 0x80: fifth bit for group 0 at even l, and for group 7 everywhere.
    //   w0 = 1·(3 + 16) = 19, w1 = 3, w64 (g2) = −22, w224 = w255 (g7) = 5·(7 + 16) − 31.5 = 83.5.
    let mut b = [F16_1, F16_HALF].concat();
    b.extend(K4_SCALES);
    b.extend((0..32u8).map(|l| u8::from(l % 2 == 0) | 0x80));
    b.extend([0x73u8; 128]);
    let y = deq(QuantType::Q5_K, &b);
    assert_eq!(
        [y[0], y[1], y[64], y[224], y[255]],
        [19.0, 3.0, -22.0, 83.5, 83.5]
    );
}

#[test]
fn q6_k_block() {
    // d = 0.5, scales[g] = g − 8; ql all 0x21 (low 1, high 2); qh all 0b11_10_01_00 (bits 2k.. = k).
    // Weight 128h + 32k + l: q = {1, 17, 34, 50}[k] → q − 32 = {−31, −15, 2, 18}.
    //   w0 (g0) = 0.5·−8·−31 = 124; w40 (k1, g2) = 0.5·−6·−15 = 45; w70 (k2, g4) = 0.5·−4·2 = −4;
    //   w144 (h1 k0 l16, g9) = 0.5·1·−31 = −15.5; w255 (g15) = 0.5·7·18 = 63.
    let mut b = vec![0x21u8; 128];
    b.extend([0xE4u8; 64]);
    b.extend((0..16i32).map(|g| (g - 8) as i8 as u8));
    b.extend(F16_HALF);
    let y = deq(QuantType::Q6_K, &b);
    assert_eq!(
        [y[0], y[40], y[70], y[144], y[255]],
        [124.0, 45.0, -4.0, -15.5, 63.0]
    );
}

#[test]
fn float_types() {
    // 0x3F808000 = 1 + 2⁻⁸ and 0x3F818000 = 1 + 3·2⁻⁸ sit exactly halfway between two bf16 values.
    let x = [
        1.0f32,
        -2.5,
        65504.0,
        f32::from_bits(0x3F80_8000),
        f32::from_bits(0x3F81_8000),
        0.0,
    ];
    let mut h = vec![0u8; 12];
    quantize_row(QuantType::F16, &x, &mut h);
    assert_eq!(&h[..4], &[0x00, 0x3c, 0x00, 0xc1]);
    assert_eq!(&h[4..6], &[0xff, 0x7b]); // largest finite f16
    let mut b = vec![0u8; 12];
    quantize_row(QuantType::BF16, &x, &mut b);
    // 1.00390625 = 0x3F808000 is a tie → even 0x3F80; 1.01171875 = 0x3F818000 → even 0x3F82.
    assert_eq!(&b[..2], &[0x80, 0x3f]);
    assert_eq!(&b[6..10], &[0x80, 0x3f, 0x82, 0x3f]);
    assert_eq!(deq(QuantType::BF16, &b)[1], -2.5);
    assert_eq!(deq(QuantType::F16, &h)[1], -2.5);
    let mut f = vec![0u8; 24];
    quantize_row(QuantType::F32, &x, &mut f);
    assert_eq!(deq(QuantType::F32, &f), x);
}
