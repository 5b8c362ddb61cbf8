//! Check characters that catch every single-character substitution and every swap of two
//! adjacent characters.
//!
//! Both checks are Damm-style: a running value is folded with each symbol through a totally
//! anti-symmetric quasigroup `x ∘ y`, and the check symbol brings the value back to zero.
//! Because `x ∘ y` is a bijection in each argument, a single changed symbol always changes the
//! result; because `(c ∘ x) ∘ y ≠ (c ∘ y) ∘ x` whenever `x ≠ y`, a swap of two adjacent
//! different symbols always changes it too.
//!
//! * [`label_check`]: over the 39 symbols `0-9 A-Z - . :` (values 0..=38 in that order), with
//!   `x ∘ y = (2·x + y) mod 39`. 2 and 2−1 are both units modulo 39, which gives the two
//!   properties above.
//! * [`group_check`]: over the 32 base32 symbols `A-Z 2-7` (RFC 4648 values 0..=31), in GF(2⁵)
//!   with the polynomial x⁵ + x² + 1, with `x ∘ y = α·x ⊕ y` where α = 2; α and α⊕1 are non-zero.

/// The 39 symbols of the label check, in value order.
pub const LABEL_CHECK_ALPHABET: &[u8; 39] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:";

/// The 32 symbols of the manual-entry group check (RFC 4648 base32), in value order.
pub const GROUP_CHECK_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The value of a label-check symbol, or `None` for a symbol outside the alphabet.
pub fn label_symbol_value(symbol: u8) -> Option<u8> {
    LABEL_CHECK_ALPHABET
        .iter()
        .position(|&s| s == symbol)
        .and_then(|v| u8::try_from(v).ok())
}

fn fold_label(symbols: &[u8]) -> Option<u8> {
    symbols.iter().try_fold(0u8, |acc, &s| {
        let v = label_symbol_value(s)?;
        Some(((2 * u16::from(acc) + u16::from(v)) % 39) as u8)
    })
}

/// The check symbol for `symbols`, or `None` if any symbol is outside the 39-symbol alphabet.
pub fn label_check(symbols: &[u8]) -> Option<u8> {
    let interim = fold_label(symbols)?;
    let value = (39 - (2 * u16::from(interim)) % 39) % 39;
    LABEL_CHECK_ALPHABET.get(usize::from(value)).copied()
}

/// True if `symbols_with_check` (content followed by its check symbol) is consistent.
pub fn label_check_ok(symbols_with_check: &[u8]) -> bool {
    fold_label(symbols_with_check) == Some(0)
}

fn group_symbol_value(symbol: u8) -> Option<u8> {
    GROUP_CHECK_ALPHABET
        .iter()
        .position(|&s| s == symbol)
        .and_then(|v| u8::try_from(v).ok())
}

fn gf32_times_alpha(x: u8) -> u8 {
    let shifted = x << 1;
    if shifted & 0x20 != 0 {
        (shifted ^ 0b10_0101) & 0x1f
    } else {
        shifted
    }
}

fn fold_group(symbols: &[u8]) -> Option<u8> {
    symbols.iter().try_fold(0u8, |acc, &s| {
        Some(gf32_times_alpha(acc) ^ group_symbol_value(s)?)
    })
}

/// The check symbol for a group of base32 symbols, or `None` if one is not base32.
pub fn group_check(symbols: &[u8]) -> Option<u8> {
    let interim = fold_group(symbols)?;
    GROUP_CHECK_ALPHABET
        .get(usize::from(gf32_times_alpha(interim)))
        .copied()
}

/// True if `group_with_check` (base32 symbols followed by their check symbol) is consistent.
pub fn group_check_ok(group_with_check: &[u8]) -> bool {
    fold_group(group_with_check) == Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_catches_all(
        alphabet: &[u8],
        sample: &[u8],
        check: fn(&[u8]) -> Option<u8>,
        ok: fn(&[u8]) -> bool,
    ) {
        let mut full = sample.to_vec();
        full.push(check(sample).unwrap_or(0));
        assert!(ok(&full), "the check of {:?} must verify", sample);
        for i in 0..full.len() {
            for &s in alphabet {
                if s == full[i] {
                    continue;
                }
                let mut bad = full.clone();
                bad[i] = s;
                assert!(!ok(&bad), "substitution at {i} by {} not caught", s as char);
            }
            if i + 1 < full.len() && full[i] != full[i + 1] {
                let mut bad = full.clone();
                bad.swap(i, i + 1);
                assert!(!ok(&bad), "swap at {i} not caught");
            }
        }
    }

    #[test]
    fn label_check_catches_every_substitution_and_adjacent_swap() {
        for sample in [
            &b"VOUCH1:ACME-X1:SN.0001:ABCDEFG"[..],
            b"0",
            b"::--..ZZ99",
            b"A",
        ] {
            assert_catches_all(LABEL_CHECK_ALPHABET, sample, label_check, label_check_ok);
        }
    }

    #[test]
    fn group_check_catches_every_substitution_and_adjacent_swap() {
        for sample in [&b"ABCD"[..], b"7777", b"Q", b"A2B3"] {
            assert_catches_all(GROUP_CHECK_ALPHABET, sample, group_check, group_check_ok);
        }
    }

    #[test]
    fn symbols_outside_the_alphabet_have_no_check() {
        assert_eq!(label_check(b"abc"), None);
        assert_eq!(group_check(b"AB1"), None);
        assert!(!label_check_ok(b"a"));
    }
}
