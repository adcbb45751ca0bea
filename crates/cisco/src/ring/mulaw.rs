//! G.711 µ-law: 16-bit linear samples to the 8-bit codes phones play, and
//! back. The encoder follows the ITU-T G.191 reference code: the sample is
//! reduced to 14 bits, negative values by one's complement (so -1..-4 are
//! negative zero, as 0..3 are positive zero), biased by 33, and coded as a
//! 3-bit segment and a 4-bit step, all bits inverted.

/// Positive zero, the code of silence. Negative zero is 0x7F.
pub const SILENCE: u8 = 0xFF;

/// The largest magnitude a code stands for (0x80 and 0x00).
pub const PEAK: i16 = 32_124;

/// Whether `code` is one of the two zeros (0xFF, 0x7F).
pub fn is_zero(code: u8) -> bool {
    code & 0x7F == 0x7F
}

/// The µ-law code of a 16-bit linear sample.
pub fn encode(sample: i16) -> u8 {
    let positive = sample >= 0;
    let magnitude = if positive { sample } else { !sample };
    let biased = ((i32::from(magnitude) >> 2) + 33).min(0x1FFF);
    // Segment 1..=8: one more than the bit length of biased / 64.
    let segment = 1 + (32 - ((biased >> 6) as u32).leading_zeros());
    let step = 15 - ((biased >> segment) & 0x0F) as u8;
    let code = ((8 - segment as u8) << 4) | step;
    if positive {
        code | 0x80
    } else {
        code
    }
}

/// The 16-bit linear value a µ-law code stands for.
pub fn decode(code: u8) -> i16 {
    let code = !code;
    let exponent = (code >> 4) & 0x07;
    let mantissa = i32::from(code & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    // At most 32 124: it fits.
    let magnitude = magnitude as i16;
    if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values worked out by hand from G.711's segment table (16-bit scale:
    /// segment e has steps of 8 << e, starting at (132 << e) - 132).
    #[test]
    fn known_codes() {
        let table: [(i16, u8); 16] = [
            (0, 0xFF),      // positive zero
            (3, 0xFF),      // still inside the zero step [0, 3]
            (4, 0xFE),      // first step of segment 0: 8 ± 4
            (8, 0xFE),      //
            (-1, 0x7F),     // negative zero covers -1..-4
            (-4, 0x7F),     //
            (-5, 0x7E),     // -8 ± 4
            (100, 0xF2),    // segment 0, step 13 (104)
            (1_000, 0xCE),  // segment 3 (steps of 64 from 924), step 1 (988)
            (-1_000, 0x4E), // the same, negative
            (4_000, 0xAF),  // segment 5 starts at 4 092 (steps of 256), ± 128
            (8_000, 0xA0),  // last step of segment 5: 7 932, ± 128
            (16_000, 0x90), // last step of segment 6: 15 996, ± 256
            (32_124, 0x80), // the largest code
            (32_767, 0x80), // clipped
            (-32_768, 0x00),
        ];
        for (sample, code) in table {
            assert_eq!(encode(sample), code, "{sample}: {:#04x}", encode(sample));
        }
        assert_eq!(decode(0x80), PEAK);
        assert_eq!(decode(0x00), -PEAK);
        assert_eq!(decode(0xFF), 0);
        assert_eq!(decode(0x7F), 0);
        assert_eq!(decode(0xCE), 988);
        assert_eq!(decode(0xAF), 4_092);
        assert_eq!(decode(0xA0), 7_932);
        assert_eq!(decode(0x90), 15_996);
    }

    #[test]
    fn decode_then_encode_gives_every_code_back() {
        for code in 0..=255u8 {
            let expected = if code == 0x7F { SILENCE } else { code };
            assert_eq!(encode(decode(code)), expected, "{code:#04x}");
        }
    }

    /// Every 16-bit sample lands on the code whose value is nearest within
    /// half a step (G.711's decision intervals), and larger samples never
    /// get smaller values.
    #[test]
    fn every_sample_within_half_a_step() {
        let mut previous = i16::MIN;
        for sample in i16::MIN..=i16::MAX {
            let code = encode(sample);
            let value = decode(code);
            let exponent = (!code >> 4) & 0x07;
            let half_step = 4i32 << exponent;
            let error = (i32::from(value) - i32::from(sample)).abs();
            let clipped = i32::from(sample).abs() > i32::from(PEAK);
            assert!(clipped || error <= half_step, "{sample} -> {value}");
            assert!(value >= previous, "{sample}");
            previous = value;
        }
        assert!(is_zero(encode(0)) && is_zero(encode(-2)) && !is_zero(encode(5)));
    }
}
