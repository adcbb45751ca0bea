//! Reading the recording a ring is made from: a WAV file (PCM 8, 16, 24 or
//! 32-bit integer, or 32-bit float), any rate, any number of channels,
//! mixed down to one channel.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use hound::{SampleFormat, WavReader};

use super::RingError;

/// What the import accepts, for messages.
pub const ACCEPTED: &str =
    "WAV (PCM 8, 16, 24 or 32-bit integer, or 32-bit float; any sample rate; mono or stereo)";

/// A recording, mixed down to one channel.
pub struct Recording {
    pub rate: u32,
    pub channels: u16,
    /// e.g. `16-bit integer`.
    pub encoding: String,
    /// Frames in the whole file.
    pub frames: u64,
    /// The first frames (as many as were asked for), from -1.0 to 1.0.
    pub mono: Vec<f32>,
}

/// Reads the first `max_seconds` of the WAV file at `path`.
pub fn read(path: &Path, max_seconds: f64) -> Result<Recording, RingError> {
    let io = |source| RingError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut head = [0u8; 12];
    let mut file = File::open(path).map_err(io)?;
    let got = read_up_to(&mut file, &mut head).map_err(io)?;
    if got < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(RingError::NotWav {
            path: path.display().to_string(),
            looks_like: sniff(&head[..got]),
        });
    }
    let file = File::open(path).map_err(io)?;
    let wav_problem = |problem: String| RingError::Wav {
        path: path.display().to_string(),
        problem,
    };
    let mut reader = WavReader::new(BufReader::new(file)).map_err(|e| wav_problem(explain(e)))?;
    let spec = reader.spec();
    let channels = spec.channels;
    if channels == 0 || !(1_000..=384_000).contains(&spec.sample_rate) {
        return Err(wav_problem(format!(
            "{} channels at {} Hz is not a recording phoneprov can use",
            channels, spec.sample_rate
        )));
    }
    let frames = u64::from(reader.duration());
    let max_frames = (max_seconds * f64::from(spec.sample_rate)).ceil() as u64;
    let wanted =
        usize::try_from(max_frames.min(frames)).unwrap_or(usize::MAX) * usize::from(channels);
    let samples: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => {
            let full_scale = (1u64 << (bits - 1)) as f32;
            reader
                .samples::<i32>()
                .take(wanted)
                .map(|s| s.map(|s| s as f32 / full_scale))
                .collect::<Result<_, _>>()
        }
        (SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .take(wanted)
            .collect::<Result<_, _>>(),
        (format, bits) => {
            return Err(wav_problem(format!(
                "{bits}-bit {} samples are not supported; phoneprov reads {ACCEPTED}",
                match format {
                    SampleFormat::Int => "integer",
                    SampleFormat::Float => "float",
                }
            )))
        }
    }
    .map_err(|e| wav_problem(explain(e)))?;
    let mono = samples
        .chunks_exact(usize::from(channels))
        .map(|frame| frame.iter().sum::<f32>() / f32::from(channels))
        .collect();
    Ok(Recording {
        rate: spec.sample_rate,
        channels,
        encoding: format!(
            "{}-bit {}",
            spec.bits_per_sample,
            match spec.sample_format {
                SampleFormat::Int => "integer",
                SampleFormat::Float => "float",
            }
        ),
        frames,
        mono,
    })
}

fn read_up_to(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buffer.len() {
        match file.read(&mut buffer[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// What a file that is not a WAV seems to be, from its first bytes.
fn sniff(head: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
        Some("MP3")
    } else if starts(b"OggS") {
        Some("Ogg")
    } else if starts(b"fLaC") {
        Some("FLAC")
    } else if starts(b"FORM") {
        Some("AIFF")
    } else if starts(b"RF64") {
        Some("RF64 (a WAV over 4 GiB)")
    } else if head.len() >= 8 && &head[4..8] == b"ftyp" {
        Some("MP4/M4A")
    } else if starts(b"RIFF") {
        Some("a RIFF file that is not a WAV")
    } else {
        None
    }
}

/// A hound error in words, with what to do about it.
fn explain(error: hound::Error) -> String {
    match error {
        hound::Error::Unsupported => format!(
            "its encoding is not supported (a compressed WAV: µ-law, A-law, ADPCM…); phoneprov reads {ACCEPTED}; convert it with e.g. `sox in.wav -b 16 out.wav`"
        ),
        hound::Error::IoError(e) => e.to_string(),
        other => format!("it is damaged or not a WAV file: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hound::{WavSpec, WavWriter};

    fn spec(channels: u16, rate: u32, bits: u16, format: SampleFormat) -> WavSpec {
        WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        }
    }

    #[test]
    fn each_sample_format_reads_to_the_same_scale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        // Half scale, then minus half scale, in every format.
        let cases: [(u16, SampleFormat, [i32; 2]); 4] = [
            (8, SampleFormat::Int, [64, -64]),
            (16, SampleFormat::Int, [16_384, -16_384]),
            (24, SampleFormat::Int, [4_194_304, -4_194_304]),
            (32, SampleFormat::Int, [1 << 30, -(1 << 30)]),
        ];
        for (bits, format, values) in cases {
            let mut writer = WavWriter::create(&path, spec(1, 8_000, bits, format)).unwrap();
            for value in values {
                match bits {
                    8 => writer.write_sample(value as i8).unwrap(),
                    16 => writer.write_sample(value as i16).unwrap(),
                    _ => writer.write_sample(value).unwrap(),
                }
            }
            writer.finalize().unwrap();
            let recording = read(&path, 1.0).unwrap();
            assert_eq!(recording.mono, vec![0.5, -0.5], "{bits}-bit");
            assert_eq!(recording.encoding, format!("{bits}-bit integer"));
        }
        let mut writer =
            WavWriter::create(&path, spec(2, 48_000, 32, SampleFormat::Float)).unwrap();
        for value in [0.25f32, 0.75, -1.0, 0.0, 0.5, 0.5] {
            writer.write_sample(value).unwrap();
        }
        writer.finalize().unwrap();
        let recording = read(&path, 1.5 / 48_000.0).unwrap();
        assert_eq!(
            (recording.rate, recording.channels, recording.frames),
            (48_000, 2, 3)
        );
        assert_eq!(
            recording.mono,
            vec![0.5, -0.5],
            "stereo mixed down, first 2 frames"
        );
    }

    #[test]
    fn other_files_are_refused_with_what_they_look_like() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&[u8], Option<&str>); 4] = [
            (b"ID3\x04\0\0\0\0\0\0\0\0\0\0", Some("MP3")),
            (b"OggS\0\x02\0\0\0\0\0\0\0\0", Some("Ogg")),
            (b"\0\0\0\x20ftypM4A \0\0", Some("MP4/M4A")),
            (b"hello", None),
        ];
        for (bytes, looks_like) in cases {
            let path = dir.path().join("in.bin");
            std::fs::write(&path, bytes).unwrap();
            match read(&path, 1.0) {
                Err(RingError::NotWav { looks_like: l, .. }) => assert_eq!(l, looks_like),
                Err(other) => panic!("{other}"),
                Ok(_) => panic!("accepted {bytes:?}"),
            }
        }
        // A WAV header over µ-law data (format 7): a WAV, but not one we read.
        let mut ulaw =
            b"RIFF\x2e\0\0\0WAVEfmt \x12\0\0\0\x07\0\x01\0\x40\x1f\0\0\x40\x1f\0\0\x01\0\x08\0\0\0"
                .to_vec();
        ulaw.extend_from_slice(b"data\x02\0\0\0\xff\xff");
        let path = dir.path().join("ulaw.wav");
        std::fs::write(&path, ulaw).unwrap();
        let error = read(&path, 1.0).err().unwrap().to_string();
        assert!(
            error.contains("not supported") && error.contains("sox"),
            "{error}"
        );
    }
}
