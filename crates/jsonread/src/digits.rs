//! Digits eight at a time (SWAR: one 64-bit word holds eight ASCII bytes), for the number
//! reader: most of a coordinate's seventeen digits are read in two steps instead of seventeen.

/// The eight bytes at `at`, if there are eight, as a little-endian word.
#[inline(always)]
pub(crate) fn word(bytes: &[u8], at: usize) -> Option<u64> {
    bytes.get(at..at + 8).map(|w| u64::from_le_bytes(w.try_into().expect("eight bytes")))
}

/// All eight bytes of `w` are ASCII digits.
#[inline(always)]
pub(crate) fn eight_digits(w: u64) -> bool {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // '0'..='9' are 0x30..=0x39: the high nibble is 3, and adding 6 keeps it 3.
    (w & HIGH) | ((w.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4) == 0x3333_3333_3333_3333
}

/// The value of eight ASCII digits (the first byte the most significant), in three
/// multiplications instead of eight.
#[inline(always)]
pub(crate) fn eight_digits_value(w: u64) -> u64 {
    const LOW_BYTES: u64 = 0x0000_00FF_0000_00FF;
    let w = w - 0x3030_3030_3030_3030;
    // Pairs of digits: each even byte becomes 10 * digit + next digit.
    let w = w.wrapping_mul(10) + (w >> 8);
    // Pairs into fours (100 * high + low), fours into the eight, in the high half.
    ((w & LOW_BYTES).wrapping_mul(100 + (1_000_000 << 32)) + ((w >> 16) & LOW_BYTES).wrapping_mul(1 + (10_000 << 32)))
        >> 32
}

/// Reads the run of ASCII digits starting at `from` into `sum` (wrapping); returns its end.
/// Eight digits at a time while there are eight (coordinates have up to 17).
#[inline(always)]
pub(crate) fn sum_digits(bytes: &[u8], from: usize, sum: &mut u64) -> usize {
    let mut i = from;
    let mut s = *sum;
    while let Some(w) = word(bytes, i).filter(|&w| eight_digits(w)) {
        s = s.wrapping_mul(100_000_000).wrapping_add(eight_digits_value(w));
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        s = s.wrapping_mul(10).wrapping_add(u64::from(digit));
        i += 1;
    }
    *sum = s;
    i
}

/// The end of the run of ASCII digits starting at `from`.
#[inline]
pub(crate) fn digits_end(bytes: &[u8], from: usize) -> usize {
    let rest = &bytes[from.min(bytes.len())..];
    from + rest.iter().position(|d| !d.is_ascii_digit()).unwrap_or(rest.len())
}
