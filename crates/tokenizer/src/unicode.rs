//! Code point classes and the GPT-2 byte ↔ unicode mapping, with the exact
//! conventions llama.cpp uses (which are not quite Rust's `char` methods).
//!
//! * Categories come from the Unicode General Category; unassigned code points
//!   count as "other" (`\p{C}`), as in llama.cpp's generated table.
//! * "Whitespace" is the Unicode `White_Space` property (25 code points), which
//!   differs from `char::is_whitespace` nowhere, but from C `isspace` and from
//!   Python's `str.isspace` (0x1C..0x1F) in places — hence a table of our own.

use std::sync::OnceLock;

use unicode_general_category::get_general_category;

/// `\p{N}`
pub(crate) const NUMBER: u8 = 1 << 0;
/// `\p{L}`
pub(crate) const LETTER: u8 = 1 << 1;
/// `\p{Z}`
pub(crate) const SEPARATOR: u8 = 1 << 2;
/// `\p{M}`
pub(crate) const MARK: u8 = 1 << 3;
/// `\p{P}`
pub(crate) const PUNCTUATION: u8 = 1 << 4;
/// `\p{S}`
pub(crate) const SYMBOL: u8 = 1 << 5;
/// `\p{C}` (control, format, private use, surrogate, unassigned)
pub(crate) const OTHER: u8 = 1 << 6;
/// Unicode `White_Space`.
pub(crate) const WHITESPACE: u8 = 1 << 7;

/// The Unicode `White_Space` property: the set llama.cpp treats as `\s`.
const WHITE_SPACE: [u32; 25] = [
    0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
    0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
];

/// Code points first assigned in Unicode 16.0 (DerivedAge), inclusive ranges.
/// llama.cpp's class table predates 16.0, so they are unassigned (`\p{C}`) there;
/// the category crate speaks 16.0, hence this list.
const NEW_IN_UNICODE_16: [(u32, u32); 47] = [
    (0x897, 0x897),
    (0x1B4E, 0x1B4F),
    (0x1B7F, 0x1B7F),
    (0x1C89, 0x1C8A),
    (0x2427, 0x2429),
    (0x31E4, 0x31E5),
    (0xA7CB, 0xA7CD),
    (0xA7DA, 0xA7DC),
    (0x105C0, 0x105F3),
    (0x10D40, 0x10D65),
    (0x10D69, 0x10D85),
    (0x10D8E, 0x10D8F),
    (0x10EC2, 0x10EC4),
    (0x10EFC, 0x10EFC),
    (0x11380, 0x11389),
    (0x1138B, 0x1138B),
    (0x1138E, 0x1138E),
    (0x11390, 0x113B5),
    (0x113B7, 0x113C0),
    (0x113C2, 0x113C2),
    (0x113C5, 0x113C5),
    (0x113C7, 0x113CA),
    (0x113CC, 0x113D5),
    (0x113D7, 0x113D8),
    (0x113E1, 0x113E2),
    (0x116D0, 0x116E3),
    (0x11BC0, 0x11BE1),
    (0x11BF0, 0x11BF9),
    (0x11F5A, 0x11F5A),
    (0x13460, 0x143FA),
    (0x16100, 0x16139),
    (0x16D40, 0x16D79),
    (0x18CFF, 0x18CFF),
    (0x1CC00, 0x1CCF9),
    (0x1CD00, 0x1CEB3),
    (0x1E5D0, 0x1E5FA),
    (0x1E5FF, 0x1E5FF),
    (0x1F8B2, 0x1F8BB),
    (0x1F8C0, 0x1F8C1),
    (0x1FA89, 0x1FA89),
    (0x1FA8F, 0x1FA8F),
    (0x1FABE, 0x1FABE),
    (0x1FAC6, 0x1FAC6),
    (0x1FADC, 0x1FADC),
    (0x1FADF, 0x1FADF),
    (0x1FAE9, 0x1FAE9),
    (0x1FBCB, 0x1FBEF),
];

fn is_new_in_unicode_16(cp: u32) -> bool {
    let i = NEW_IN_UNICODE_16.partition_point(|&(_, last)| last < cp);
    i < NEW_IN_UNICODE_16.len() && NEW_IN_UNICODE_16[i].0 <= cp
}

fn category_flags(c: char) -> u8 {
    if is_new_in_unicode_16(c as u32) {
        return OTHER;
    }
    let class = match get_general_category(c).abbreviation().as_bytes()[0] {
        b'N' => NUMBER,
        b'L' => LETTER,
        b'Z' => SEPARATOR,
        b'M' => MARK,
        b'P' => PUNCTUATION,
        b'S' => SYMBOL,
        _ => OTHER,
    };
    if WHITE_SPACE.contains(&(c as u32)) {
        class | WHITESPACE
    } else {
        class
    }
}

/// Flags of the Basic Multilingual Plane, built once (64 KiB); the rest is
/// looked up on demand (rare in practice).
fn bmp_table() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0u32..0x10000)
            .map(|cp| char::from_u32(cp).map_or(OTHER, category_flags))
            .collect()
    })
}

/// Class flags of one code point (never 0).
#[inline]
pub(crate) fn flags(c: char) -> u8 {
    let cp = c as u32;
    if cp < 0x10000 {
        bmp_table()[cp as usize]
    } else {
        category_flags(c)
    }
}

/// Byte → the printable code point GPT-2's byte-level BPE uses for it.
pub(crate) fn byte_to_char_table() -> &'static [char; 256] {
    static TABLE: OnceLock<[char; 256]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = ['\0'; 256];
        let mut n_shifted = 0u32;
        for b in 0..256u32 {
            let printable = (0x21..=0x7E).contains(&b)
                || (0xA1..=0xAC).contains(&b)
                || (0xAE..=0xFF).contains(&b);
            let cp = if printable {
                b
            } else {
                n_shifted += 1;
                255 + n_shifted
            };
            table[b as usize] = char::from_u32(cp).expect("below 0x200");
        }
        table
    })
}

/// Inverse of [`byte_to_char_table`]: code point → byte, `None` when the code
/// point is not one of the 256 images.
#[inline]
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    static TABLE: OnceLock<[i16; 0x144]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [-1i16; 0x144];
        for (b, &c) in byte_to_char_table().iter().enumerate() {
            table[c as usize] = b as i16;
        }
        table
    });
    let cp = c as usize;
    if cp < table.len() && table[cp] >= 0 {
        Some(table[cp] as u8)
    } else {
        None
    }
}

/// Appends the byte-level encoding of `text` (each UTF-8 byte as its image).
pub(crate) fn byte_encode_into(text: &str, out: &mut String) {
    let table = byte_to_char_table();
    for &b in text.as_bytes() {
        out.push(table[b as usize]);
    }
}

/// C `isspace` in the "C" locale (used by llama.cpp's lstrip/rstrip).
#[inline]
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_common_code_points() {
        assert_eq!(flags('a'), LETTER);
        assert_eq!(flags('Я'), LETTER);
        assert_eq!(flags('7'), NUMBER);
        assert_eq!(flags('½'), NUMBER);
        assert_eq!(flags(' '), SEPARATOR | WHITESPACE);
        assert_eq!(flags('\n'), OTHER | WHITESPACE);
        assert_eq!(flags('\u{3000}'), SEPARATOR | WHITESPACE);
        assert_eq!(flags('\u{85}'), OTHER | WHITESPACE);
        assert_eq!(flags('\u{1C}'), OTHER, "0x1C is not White_Space");
        assert_eq!(flags('!'), PUNCTUATION);
        assert_eq!(flags('~'), SYMBOL);
        assert_eq!(flags('\u{301}'), MARK);
        assert_eq!(flags('🦙'), SYMBOL);
        assert_eq!(flags('\u{E000}'), OTHER);
        assert_eq!(flags('\u{378}'), OTHER, "unassigned counts as \\p{{C}}");
        assert_eq!(
            flags('\u{1C89}'),
            OTHER,
            "Unicode 16.0 letters are unassigned in llama.cpp"
        );
        assert_eq!(flags('\u{1C88}'), LETTER);
        assert_eq!(flags('\u{13460}'), OTHER);
        assert_eq!(flags('\u{143FA}'), OTHER);
        assert_eq!(flags('\u{143FB}'), OTHER);
        assert_eq!(flags('\u{1FBCA}'), SYMBOL);
    }

    #[test]
    fn byte_mapping_round_trips() {
        let table = byte_to_char_table();
        assert_eq!(table[b' ' as usize], 'Ġ');
        assert_eq!(table[b'\n' as usize], 'Ċ');
        assert_eq!(table[b'a' as usize], 'a');
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(table[b as usize]), Some(b));
        }
        assert_eq!(char_to_byte('€'), None);
    }
}
