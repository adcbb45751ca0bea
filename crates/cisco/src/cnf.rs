//! The `.cnf` syntax of SIPDefault.cnf and SIP<MAC>.cnf (reference §4.1):
//! one `name: value` per line, an optional `; comment` after it, `#` for a
//! comment line, values bare or in double quotes, spaces around the colon
//! tolerated.

/// One `name: value` of a .cnf file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    pub name: String,
    /// The value without its quotes.
    pub value: String,
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct CnfError {
    pub line: usize,
    pub problem: String,
}

/// Parses a whole file; the first malformed line is an error.
pub fn parse(text: &str) -> Result<Vec<Entry>, CnfError> {
    parse_lines(text).collect()
}

/// Parses each line on its own: an entry or the line's error, for readers
/// of hand-made files that keep going past a bad line. Blank and comment
/// lines yield nothing.
pub fn parse_lines(text: &str) -> impl Iterator<Item = Result<Entry, CnfError>> + '_ {
    // CR LF, LF and a lone CR (files saved on old Macs) all end a line.
    text.split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
        .enumerate()
        .filter_map(|(index, raw)| parse_line(index + 1, raw).transpose())
}

fn parse_line(line: usize, raw: &str) -> Result<Option<Entry>, CnfError> {
    let error = |problem: &str| CnfError {
        line,
        problem: problem.to_string(),
    };
    let content = raw.trim();
    if content.is_empty() || content.starts_with('#') || content.starts_with(';') {
        return Ok(None);
    }
    let (name, rest) = content
        .split_once(':')
        .ok_or_else(|| error("expected name: value"))?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(error("a parameter name holds only letters, digits and _"));
    }
    let rest = rest.trim_start();
    let (value, quoted) = if let Some(inner) = rest.strip_prefix('"') {
        let end = inner
            .find('"')
            .ok_or_else(|| error("the quoted value has no closing quote"))?;
        let after = inner[end + 1..].trim();
        if !after.is_empty() && !after.starts_with(';') && !after.starts_with('#') {
            return Err(error("unexpected text after the quoted value"));
        }
        (inner[..end].to_string(), true)
    } else {
        let end = rest.find([';', '#']).unwrap_or(rest.len());
        (rest[..end].trim().to_string(), false)
    };
    Ok(Some(Entry {
        line,
        name: name.to_string(),
        value,
        quoted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cisco_sample_syntax() {
        let text = "# Image Version\r\nimage_version: P0S3-8-12-00\r\n\
                    proxy1_port:\"5060\"\n\
                    cnf_join_enable : 1  ; comment\n\
                    line1_name: \"\"\n\
                    phone_label: \"Head office\" ; shown top right\n\
                    \n   ; indented comment\n";
        let entries = parse(text).unwrap();
        let pairs: Vec<(&str, &str, bool)> = entries
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str(), e.quoted))
            .collect();
        assert_eq!(
            pairs,
            [
                ("image_version", "P0S3-8-12-00", false),
                ("proxy1_port", "5060", true),
                ("cnf_join_enable", "1", false),
                ("line1_name", "", true),
                ("phone_label", "Head office", true),
            ]
        );
        assert_eq!(entries[2].line, 4);
    }

    #[test]
    fn every_line_ending_ends_a_line() {
        let entries = parse("a: 1\r\nb: 2\nc: \"3\"\rd: 4").unwrap();
        let pairs: Vec<(&str, usize)> =
            entries.iter().map(|e| (e.value.as_str(), e.line)).collect();
        assert_eq!(pairs, [("1", 1), ("2", 2), ("3", 3), ("4", 4)]);
    }

    #[test]
    fn malformed_lines() {
        assert_eq!(parse("a b c").unwrap_err().line, 1);
        assert!(parse("x: \"open")
            .unwrap_err()
            .problem
            .contains("closing quote"));
        assert!(parse("na me: 1").is_err());
        assert!(parse("x: \"a\" b").is_err());
    }

    #[test]
    fn each_line_on_its_own() {
        let results: Vec<_> = parse_lines("a: 1\nnot a setting\n# c\nb : \"2\"\n").collect();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].as_ref().unwrap().name, "a");
        assert_eq!(results[1].as_ref().unwrap_err().line, 2);
        assert_eq!(results[2].as_ref().unwrap().value, "2");
    }
}
