#[test]
fn dump_flags() {
    use std::io::Write;
    let mut f = std::fs::File::create("/tmp/uc/rust_flags.bin").unwrap();
    let mut buf = Vec::with_capacity(0x110000);
    for cp in 0u32..0x110000 {
        buf.push(char::from_u32(cp).map_or(0xFF, crate::unicode::flags));
    }
    f.write_all(&buf).unwrap();
}
