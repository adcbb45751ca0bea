//! The length rules of a ring (reference §5.5): 240 to 16 080 samples, a
//! whole number of 240-sample blocks, starting and ending at a zero crossing.

use std::fmt;

/// Samples per second of ring audio.
pub const RATE: u32 = 8_000;
/// A ring is a whole number of these blocks (30 ms).
pub const BLOCK: usize = 240;
/// The longest ring: 67 blocks, 2.01 s.
pub const MAX_SAMPLES: usize = 16_080;

/// How far back from the limit a cut looks for a zero crossing (50 ms).
const CUT_SEARCH: usize = 400;
/// The fade-out after a cut (20 ms).
const CUT_FADE: usize = 160;
/// The fades that bring a recording's own first and last sample to zero.
const EDGE_FADE_IN: usize = 16;
const EDGE_FADE_OUT: usize = 40;
/// Samples this small are zero once encoded (|x| < 4 in 16 bits).
const ZERO: f32 = 3.0 / 32_768.0;

/// What was done to the recording to fit the rules, for the operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Adjustment {
    /// The recording was longer than a ring may be.
    Cut {
        seconds: f64,
    },
    FadedIn,
    FadedOut,
    /// Silence added to reach a whole block (or the one-block minimum).
    Padded {
        samples: usize,
    },
}

impl fmt::Display for Adjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Adjustment::Cut { seconds } => write!(
                f,
                "cut from {seconds:.2} s to at most {:.2} s (a ring is at most {MAX_SAMPLES} samples) at a zero crossing, with a {} ms fade-out",
                MAX_SAMPLES as f64 / f64::from(RATE),
                CUT_FADE * 1_000 / RATE as usize
            ),
            Adjustment::FadedIn => write!(
                f,
                "faded in over {} ms so that it starts at a zero crossing",
                EDGE_FADE_IN * 1_000 / RATE as usize
            ),
            Adjustment::FadedOut => write!(
                f,
                "faded out over {} ms so that it ends at a zero crossing",
                EDGE_FADE_OUT * 1_000 / RATE as usize
            ),
            Adjustment::Padded { samples } => write!(
                f,
                "padded with {samples} samples ({:.1} ms) of silence to a whole number of {BLOCK}-sample blocks",
                *samples as f64 * 1_000.0 / f64::from(RATE)
            ),
        }
    }
}

/// Fits 8 kHz `samples` to the rules. `source_seconds` is the length of the
/// whole recording, for the message when it has to be cut (the samples may
/// already stop just past the limit).
pub fn shape(mut samples: Vec<f32>, source_seconds: f64) -> (Vec<f32>, Vec<Adjustment>) {
    let mut adjustments = Vec::new();
    if samples.len() > MAX_SAMPLES {
        let search = MAX_SAMPLES - CUT_SEARCH..=MAX_SAMPLES;
        let cut = search
            .rev()
            .find(|&i| crosses(samples[i - 1], samples[i]))
            .unwrap_or(MAX_SAMPLES);
        samples.truncate(cut);
        fade_out(&mut samples, CUT_FADE);
        adjustments.push(Adjustment::Cut {
            seconds: source_seconds,
        });
    }
    if samples.first().is_some_and(|s| s.abs() > ZERO) {
        let len = EDGE_FADE_IN.min(samples.len());
        for (i, sample) in samples[..len].iter_mut().enumerate() {
            *sample *= raised_cosine(i, len);
        }
        adjustments.push(Adjustment::FadedIn);
    }
    if samples.last().is_some_and(|s| s.abs() > ZERO) {
        fade_out(&mut samples, EDGE_FADE_OUT);
        adjustments.push(Adjustment::FadedOut);
    }
    let target = samples.len().div_ceil(BLOCK).max(1) * BLOCK;
    if target > samples.len() {
        adjustments.push(Adjustment::Padded {
            samples: target - samples.len(),
        });
        samples.resize(target, 0.0);
    }
    (samples, adjustments)
}

/// Whether the signal crosses zero between `a` and `b` (or touches it at `b`).
fn crosses(a: f32, b: f32) -> bool {
    b.abs() <= ZERO || (a > 0.0) != (b > 0.0)
}

/// Fades the last `len` samples to exactly zero.
fn fade_out(samples: &mut [f32], len: usize) {
    let len = len.min(samples.len());
    let start = samples.len() - len;
    for (i, sample) in samples[start..].iter_mut().enumerate() {
        *sample *= raised_cosine(len - 1 - i, len);
    }
}

/// Gain at step `i` of a fade-in of `len` steps: 0 at 0, rising towards 1.
fn raised_cosine(i: usize, len: usize) -> f32 {
    (0.5 - 0.5 * (std::f64::consts::PI * i as f64 / len as f64).cos()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_quiet_recording_is_only_padded() {
        let (out, adjustments) = shape(vec![0.0; 1_000], 0.125);
        assert_eq!(out.len(), 1_200);
        assert_eq!(adjustments, vec![Adjustment::Padded { samples: 200 }]);
        let (out, adjustments) = shape(Vec::new(), 0.0);
        assert_eq!((out.len(), adjustments.len()), (BLOCK, 1));
        let (out, adjustments) = shape(vec![0.0; 2 * BLOCK], 0.06);
        assert_eq!((out.len(), adjustments.len()), (2 * BLOCK, 0));
    }

    #[test]
    fn a_long_recording_is_cut_at_a_zero_crossing_and_faded() {
        // A 100 Hz square wave at half scale: crossings every 40 samples.
        let square: Vec<f32> = (0..20_000)
            .map(|i| if (i / 40) % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let (out, adjustments) = shape(square.clone(), 2.5);
        assert_eq!(out.len(), MAX_SAMPLES);
        assert_eq!(adjustments[0], Adjustment::Cut { seconds: 2.5 });
        assert!(adjustments[0].to_string().contains("2.50 s"));
        // The last crossing at or before 16 080 is at 16 080 itself.
        assert_eq!(out[MAX_SAMPLES - 1], 0.0);
        assert_eq!(
            out[MAX_SAMPLES - CUT_FADE - 1],
            square[MAX_SAMPLES - CUT_FADE - 1]
        );
        assert!(adjustments.contains(&Adjustment::FadedIn));
        assert_eq!(out[0], 0.0);
    }
}
