//! The phones' own XML services (reference §5.9): the directory behind the
//! Directories button, its search, and the menu behind the Services button,
//! as Cisco IP Phone XML objects in ISO-8859-1, the character set the 7940
//! reads. No I/O: the HTTP server passes the site and the base URL
//! (`http://host:port`) the phone used.

use crate::site::{DirectoryEntry, Site};

/// The content type of every object.
pub const CONTENT_TYPE: &str = "text/xml; charset=ISO-8859-1";

/// The directory, one page at a time (`?page=N`, from 1).
pub const DIRECTORY: &str = "/services/directory";
/// The search form (`CiscoIPPhoneInput`).
pub const SEARCH: &str = "/services/directory/search";
/// The search results (`?q=TEXT&page=N`).
pub const RESULTS: &str = "/services/directory/results";
/// The services menu.
pub const MENU: &str = "/services/menu";

/// Most `DirectoryEntry` one `CiscoIPPhoneDirectory` may hold (Cisco's
/// Services Application Development Notes, OL-20949-01 p. 3-7).
pub const MAX_PAGE_SIZE: usize = 32;
/// Most `MenuItem` of a `CiscoIPPhoneMenu`.
const MAX_MENU_ITEMS: usize = 100;
/// Most `InputItem` of a `CiscoIPPhoneInput`.
const MAX_INPUT_ITEMS: usize = 5;

/// One XML object, ready to send with `CONTENT_TYPE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlObject {
    /// ISO-8859-1.
    pub body: Vec<u8>,
    /// The value of the HTTP `Refresh` header: `0; url=` the next directory
    /// page, which the phone fetches when the user presses Next.
    pub refresh: Option<String>,
}

/// Every entry of the site's directory, sorted by name then number: each
/// configured line of every listed phone (named by its display name, else
/// the phone's description, else its number) and each `[[directory]]` entry.
pub fn directory(site: &Site) -> Vec<DirectoryEntry> {
    let lines = site.phones.iter().flat_map(|phone| {
        phone.lines.iter().map(|line| DirectoryEntry {
            name: (line.display.clone())
                .or_else(|| phone.description.clone())
                .unwrap_or_else(|| line.name.clone()),
            number: line.name.clone(),
        })
    });
    let mut entries: Vec<DirectoryEntry> = lines
        .chain(site.services.directory.iter().cloned())
        .collect();
    entries.sort_by_cached_key(|entry| (entry.name.to_lowercase(), entry.number.clone()));
    entries.dedup();
    entries
}

/// Page `page` (from 1; past the end, the last) of the directory.
pub fn directory_page(site: &Site, base: &str, page: usize) -> XmlObject {
    let entries = directory(site);
    let prompt = format!("{} entries", entries.len());
    let next = |page: usize| format!("{base}{DIRECTORY}?page={page}");
    listing(site, &site.name, &prompt, &entries, page, next)
}

/// The search form: one field whose text the results look for in names and
/// numbers.
pub fn search(base: &str) -> XmlObject {
    let mut xml = Writer::new("CiscoIPPhoneInput");
    xml.text(Field::Title, "Search directory");
    xml.text(Field::Prompt, "Enter part of a name or number");
    xml.text(Field::Url, &format!("{base}{RESULTS}"));
    input_items(
        &mut xml,
        &[InputItem {
            display_name: "Name or number",
            param: "q",
            // Plain ASCII: letters and digits (reference §5.9).
            flags: "A",
        }],
    );
    xml.finish(None)
}

/// Page `page` of the directory entries whose name or number holds `query`,
/// in any case.
pub fn search_results(site: &Site, base: &str, query: &str, page: usize) -> XmlObject {
    let query = query.trim();
    let wanted = query.to_lowercase();
    let found: Vec<DirectoryEntry> = directory(site)
        .into_iter()
        .filter(|entry| {
            entry.name.to_lowercase().contains(&wanted) || entry.number.contains(&wanted)
        })
        .collect();
    let prompt = match found.len() {
        0 => format!("Nothing holds {query:?}"),
        count => format!("{count} found"),
    };
    let title = format!("Search: {query}");
    let next = |page: usize| format!("{base}{RESULTS}?q={}&page={page}", query_value(query));
    listing(site, &title, &prompt, &found, page, next)
}

/// The services menu: the directory, its search, then each `[[service]]`.
pub fn menu(site: &Site, base: &str) -> XmlObject {
    let own = [
        ("Directory".to_string(), format!("{base}{DIRECTORY}")),
        ("Search directory".to_string(), format!("{base}{SEARCH}")),
    ];
    let configured = (site.services.menu.iter()).map(|s| (s.name.clone(), s.url.clone()));
    let items: Vec<(String, String)> = own.into_iter().chain(configured).collect();
    menu_items(&site.name, "Select a service", &items)
}

/// A `CiscoIPPhoneMenu` of at most `MAX_MENU_ITEMS` (name, URL) items.
fn menu_items(title: &str, prompt: &str, items: &[(String, String)]) -> XmlObject {
    let mut xml = Writer::new("CiscoIPPhoneMenu");
    xml.text(Field::Title, title);
    xml.text(Field::Prompt, prompt);
    for (name, url) in items.iter().take(MAX_MENU_ITEMS) {
        xml.open("MenuItem");
        xml.text(Field::ItemName, name);
        xml.text(Field::Url, url);
        xml.close("MenuItem");
    }
    xml.finish(None)
}

/// One field of a `CiscoIPPhoneInput`.
struct InputItem {
    display_name: &'static str,
    param: &'static str,
    flags: &'static str,
}

/// At most `MAX_INPUT_ITEMS` `InputItem`, with empty defaults.
fn input_items(xml: &mut Writer, items: &[InputItem]) {
    for item in items.iter().take(MAX_INPUT_ITEMS) {
        xml.open("InputItem");
        xml.text(Field::DisplayName, item.display_name);
        xml.text(Field::QueryStringParam, item.param);
        xml.text(Field::DefaultValue, "");
        xml.text(Field::InputFlags, item.flags);
        xml.close("InputItem");
    }
}

/// One page of `entries` as a `CiscoIPPhoneDirectory`, with a `Refresh` to
/// `next(page + 1)` when more follow.
fn listing(
    site: &Site,
    title: &str,
    prompt: &str,
    entries: &[DirectoryEntry],
    page: usize,
    next: impl Fn(usize) -> String,
) -> XmlObject {
    let size = site.services.page_size.clamp(1, MAX_PAGE_SIZE);
    let pages = entries.len().div_ceil(size).max(1);
    let page = page.clamp(1, pages);
    let mut xml = Writer::new("CiscoIPPhoneDirectory");
    xml.text(Field::Title, title);
    match pages {
        1 => xml.text(Field::Prompt, prompt),
        _ => xml.text(Field::Prompt, &format!("Page {page} of {pages}")),
    }
    for entry in entries.iter().skip((page - 1) * size).take(size) {
        xml.open("DirectoryEntry");
        xml.text(Field::EntryName, &entry.name);
        xml.text(Field::Telephone, &entry.number);
        xml.close("DirectoryEntry");
    }
    xml.finish((page < pages).then(|| format!("0; url={}", next(page + 1))))
}

/// `text` percent-encoded for a query string.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The elements with text, and the characters the phone shows of each
/// (reference §5.9 and the SDK; the 32 of Title, Prompt, the directory's
/// Name and Telephone and the input's fields, and the 256 of URL, are the
/// commonly quoted limits, not confirmed in a source [M]).
#[derive(Debug, Clone, Copy)]
enum Field {
    Title,
    Prompt,
    /// A `DirectoryEntry`'s `Name`.
    EntryName,
    Telephone,
    /// A `MenuItem`'s `Name`.
    ItemName,
    Url,
    DisplayName,
    QueryStringParam,
    DefaultValue,
    InputFlags,
}

impl Field {
    fn tag(self) -> &'static str {
        match self {
            Field::Title => "Title",
            Field::Prompt => "Prompt",
            Field::EntryName | Field::ItemName => "Name",
            Field::Telephone => "Telephone",
            Field::Url => "URL",
            Field::DisplayName => "DisplayName",
            Field::QueryStringParam => "QueryStringParam",
            Field::DefaultValue => "DefaultValue",
            Field::InputFlags => "InputFlags",
        }
    }

    fn limit(self) -> usize {
        match self {
            Field::ItemName => 64,
            Field::Url => 256,
            _ => 32,
        }
    }
}

/// Writes one object: elements one a line, text as the phone can show it.
struct Writer {
    root: &'static str,
    body: Vec<u8>,
    depth: usize,
}

impl Writer {
    fn new(root: &'static str) -> Writer {
        let mut writer = Writer {
            root,
            body: b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n".to_vec(),
            depth: 0,
        };
        writer.open(root);
        writer
    }

    fn indent(&mut self) {
        self.body.extend(std::iter::repeat_n(b' ', 2 * self.depth));
    }

    fn open(&mut self, tag: &str) {
        self.indent();
        self.body.extend(format!("<{tag}>\n").bytes());
        self.depth += 1;
    }

    fn close(&mut self, tag: &str) {
        self.depth -= 1;
        self.indent();
        self.body.extend(format!("</{tag}>\n").bytes());
    }

    fn text(&mut self, field: Field, text: &str) {
        let tag = field.tag();
        self.indent();
        self.body.extend(format!("<{tag}>").bytes());
        let shown: String = phone_text(text).chars().take(field.limit()).collect();
        self.body.extend(escaped(&shown).chars().map(|c| c as u8));
        self.body.extend(format!("</{tag}>\n").bytes());
    }

    fn finish(mut self, refresh: Option<String>) -> XmlObject {
        let root = self.root;
        self.close(root);
        XmlObject {
            body: self.body,
            refresh,
        }
    }
}

/// `text` in characters the phone can show: ISO-8859-1 (é stays é),
/// typographic quotes and dashes as their ASCII kin, combining accents
/// dropped (the letter stays), anything else outside ISO-8859-1 as `?`, and
/// no control character but CR, LF and TAB.
pub fn phone_text(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' | '\n' | '\r' => shown.push(c),
            '\u{0300}'..='\u{036F}' | '\u{200B}'..='\u{200F}' | '\u{FEFF}' => {}
            c if c.is_control() => {}
            '\u{2018}' | '\u{2019}' | '\u{201A}' => shown.push('\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' => shown.push('"'),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => shown.push('-'),
            '\u{2026}' => shown.push_str("..."),
            '\u{20AC}' => shown.push_str("EUR"),
            c if u32::from(c) <= 0xFF => shown.push(c),
            _ => shown.push('?'),
        }
    }
    shown
}

fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::{
        FirmwareTargets, Line, Phone, PhoneServices, Secret, Service, SipTarget, TargetProtocol,
    };
    use crate::Model;

    const BASE: &str = "http://10.0.0.1:8080";

    fn line(name: &str, display: Option<&str>) -> Line {
        Line {
            name: name.into(),
            display: display.map(str::to_string),
            authname: None,
            password: Secret::new("pw"),
            label: None,
        }
    }

    fn entry(name: &str, number: &str) -> DirectoryEntry {
        DirectoryEntry {
            name: name.into(),
            number: number.into(),
        }
    }

    fn site() -> Site {
        let phone = |mac: &str, model, description: Option<&str>, lines| Phone {
            mac: mac.parse().unwrap(),
            model,
            protocol: TargetProtocol::Sip,
            description: description.map(str::to_string),
            lines,
            params: Vec::new(),
            current: None,
        };
        Site {
            name: "Head office".into(),
            clock: None,
            ntp: None,
            server: "10.0.0.1".parse().unwrap(),
            sip: SipTarget::Registrar { port: 5060 },
            firmware: FirmwareTargets::default(),
            defaults: Vec::new(),
            dialplan: Vec::new(),
            rings: Vec::new(),
            ladder: Default::default(),
            phones: vec![
                phone(
                    "0018B9000001",
                    Model::Cp7940,
                    Some("Reception"),
                    vec![line("1001", None), line("1002", Some("Zoë Night line"))],
                ),
                phone(
                    "0018B9000002",
                    Model::Cp7960,
                    None,
                    vec![
                        line("1003", Some("Björn & Ola <Sales>")),
                        line("1004", None),
                    ],
                ),
            ],
            services: PhoneServices {
                http: Some("10.0.0.1:8080".parse().unwrap()),
                directory: vec![entry("Pizza Roma", "0301234567"), entry("Café 東京", "555")],
                menu: vec![Service {
                    name: "Weather".into(),
                    url: "http://10.0.0.9/weather.xml".into(),
                }],
                page_size: 32,
            },
        }
    }

    /// The body as text: each ISO-8859-1 byte is the character of that number.
    fn latin1(object: &XmlObject) -> String {
        object.body.iter().map(|&b| char::from(b)).collect()
    }

    /// Parses `object` with a real XML parser and returns the text of every
    /// `tag` element, in order.
    fn texts(object: &XmlObject, tag: &str) -> Vec<String> {
        use quick_xml::events::Event;
        let xml = latin1(object);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n"));
        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut inside, mut found) = (false, Vec::<String>::new());
        loop {
            let event = reader.read_event().expect("well-formed XML");
            match event {
                Event::Start(e) if e.name().as_ref() == tag => {
                    inside = true;
                    found.push(String::new());
                }
                Event::Text(t) if inside => found.last_mut().unwrap().push_str(&t.into_inner()),
                Event::GeneralRef(r) if inside => {
                    let entity = quick_xml::escape::resolve_predefined_entity(&r.into_inner());
                    found
                        .last_mut()
                        .unwrap()
                        .push_str(entity.expect("a predefined entity"));
                }
                Event::End(_) => inside = false,
                Event::Eof => return found,
                _ => {}
            }
        }
    }

    #[test]
    fn the_directory_lists_every_line_and_entry_sorted() {
        let site = site();
        let listed: Vec<(String, String)> = (directory(&site).into_iter())
            .map(|e| (e.name, e.number))
            .collect();
        let expected = [
            ("1004", "1004"),
            ("Björn & Ola <Sales>", "1003"),
            ("Café 東京", "555"),
            ("Pizza Roma", "0301234567"),
            ("Reception", "1001"),
            ("Zoë Night line", "1002"),
        ];
        let expected: Vec<(String, String)> = (expected.iter())
            .map(|(name, number)| (name.to_string(), number.to_string()))
            .collect();
        assert_eq!(listed, expected);
        let object = directory_page(&site, BASE, 1);
        insta::assert_snapshot!("directory", latin1(&object));
        assert_eq!(object.refresh, None);
        assert_eq!(
            texts(&object, "Telephone"),
            expected.iter().map(|e| e.1.clone()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_line_listed_twice_is_listed_once() {
        let mut site = site();
        site.services.directory.push(entry("Reception", "1001"));
        assert_eq!(directory(&site).len(), 6);
    }

    #[test]
    fn pages_follow_each_other_by_the_refresh_header() {
        let mut site = site();
        site.services.page_size = 4;
        let first = directory_page(&site, BASE, 1);
        let second = directory_page(&site, BASE, 2);
        insta::assert_snapshot!("directory-page-1-of-2", latin1(&first));
        insta::assert_snapshot!("directory-page-2-of-2", latin1(&second));
        assert_eq!(
            first.refresh.as_deref(),
            Some("0; url=http://10.0.0.1:8080/services/directory?page=2")
        );
        assert_eq!(second.refresh, None);
        assert_eq!(texts(&first, "Telephone").len(), 4);
        assert_eq!(texts(&second, "Telephone"), ["1001", "1002"]);
        // Out of range: the nearest page.
        assert_eq!(directory_page(&site, BASE, 0), first);
        assert_eq!(directory_page(&site, BASE, 99), second);
    }

    #[test]
    fn a_page_never_holds_more_than_32_entries() {
        let mut site = site();
        site.services.page_size = 50;
        site.services.directory = (0..70)
            .map(|n| entry(&format!("Extension {n:02}"), &format!("2{n:03}")))
            .collect();
        let first = directory_page(&site, BASE, 1);
        assert_eq!(texts(&first, "Telephone").len(), MAX_PAGE_SIZE);
        assert_eq!(texts(&first, "Prompt"), ["Page 1 of 3"]);
        let last = directory_page(&site, BASE, 3);
        let lines = 4;
        assert_eq!(
            texts(&last, "Telephone").len(),
            lines + 70 - 2 * MAX_PAGE_SIZE
        );
    }

    #[test]
    fn search_asks_for_one_ascii_field() {
        let object = search(BASE);
        insta::assert_snapshot!("search", latin1(&object));
        assert_eq!(texts(&object, "QueryStringParam"), ["q"]);
        assert_eq!(texts(&object, "InputFlags"), ["A"]);
        assert_eq!(
            texts(&object, "URL"),
            ["http://10.0.0.1:8080/services/directory/results"]
        );
    }

    #[test]
    fn results_hold_names_and_numbers_that_match() {
        let site = site();
        let found = |query: &str| texts(&search_results(&site, BASE, query, 1), "Telephone");
        assert_eq!(found("björn"), ["1003"]);
        assert_eq!(found(" RECEPT "), ["1001"]);
        assert_eq!(found("100"), ["1004", "1003", "1001", "1002"]);
        assert!(found("nobody").is_empty());
        insta::assert_snapshot!("results", latin1(&search_results(&site, BASE, "o", 1)));
        insta::assert_snapshot!(
            "results-none",
            latin1(&search_results(&site, BASE, "xyz", 1))
        );
    }

    #[test]
    fn results_pages_carry_the_query() {
        let mut site = site();
        site.services.page_size = 1;
        site.services.directory.push(entry("Öl & Brot", "777"));
        let next = |query| search_results(&site, BASE, query, 1).refresh;
        let url = "0; url=http://10.0.0.1:8080/services/directory/results?q=";
        assert_eq!(next("ö"), Some(format!("{url}%C3%B6&page=2")));
        assert_eq!(next(" & "), Some(format!("{url}%26&page=2")));
        assert_eq!(next("brot"), None);
        let first = search_results(&site, BASE, " & ", 1);
        assert_eq!(texts(&first, "Title"), ["Search: &"]);
    }

    #[test]
    fn the_menu_offers_the_directory_its_search_and_the_services() {
        let object = menu(&site(), BASE);
        insta::assert_snapshot!("menu", latin1(&object));
        assert_eq!(
            texts(&object, "URL"),
            [
                "http://10.0.0.1:8080/services/directory",
                "http://10.0.0.1:8080/services/directory/search",
                "http://10.0.0.9/weather.xml",
            ]
        );
    }

    #[test]
    fn text_is_iso_8859_1_without_control_characters() {
        let mut site = site();
        site.name = "Zoë\u{1}\u{7f}\u{85} “Büro” – 東京\u{65}\u{301}…".into();
        let object = menu(&site, BASE);
        let title = "<Title>Zo\u{eb} &quot;B\u{fc}ro&quot; - ??e...</Title>";
        let title: Vec<u8> = title.chars().map(|c| c as u8).collect();
        assert!(
            object.body.windows(title.len()).any(|w| w == title),
            "{}",
            latin1(&object)
        );
        // é is the one byte 0xE9, never UTF-8's two.
        assert!(!object.body.windows(2).any(|w| w == [0xC3, 0xAB]));
        assert_eq!(phone_text("a\tb\r\nc\u{0}d\u{1b}"), "a\tb\r\ncd");
    }

    #[test]
    fn markup_in_names_is_escaped() {
        let object = directory_page(&site(), BASE, 1);
        let xml = latin1(&object);
        assert!(
            xml.contains("<Name>Björn &amp; Ola &lt;Sales&gt;</Name>"),
            "{xml}"
        );
        assert!(texts(&object, "Name").contains(&"Björn & Ola <Sales>".to_string()));
    }

    /// A long text of `field`, written alone.
    fn written(field: Field, text: &str) -> String {
        let mut xml = Writer::new("CiscoIPPhoneText");
        xml.text(field, text);
        texts(&xml.finish(None), field.tag()).remove(0)
    }

    fn cut_to(field: Field, limit: usize) {
        let long: String = "é".repeat(limit + 10);
        assert_eq!(written(field, &long).chars().count(), limit, "{field:?}");
        assert_eq!(
            written(field, &long[..2 * limit]),
            long[..2 * limit],
            "{field:?}"
        );
        // The limit counts what the phone shows, not the escapes.
        assert_eq!(written(field, &"&".repeat(limit + 1)), "&".repeat(limit));
    }

    #[test]
    fn title_is_cut_to_32() {
        cut_to(Field::Title, 32);
    }

    #[test]
    fn prompt_is_cut_to_32() {
        cut_to(Field::Prompt, 32);
    }

    #[test]
    fn directory_name_is_cut_to_32() {
        cut_to(Field::EntryName, 32);
    }

    #[test]
    fn telephone_is_cut_to_32() {
        cut_to(Field::Telephone, 32);
    }

    #[test]
    fn menu_item_name_is_cut_to_64() {
        cut_to(Field::ItemName, 64);
    }

    #[test]
    fn url_is_cut_to_256() {
        cut_to(Field::Url, 256);
    }

    #[test]
    fn input_fields_are_cut_to_32() {
        for field in [
            Field::DisplayName,
            Field::QueryStringParam,
            Field::DefaultValue,
            Field::InputFlags,
        ] {
            cut_to(field, 32);
        }
    }

    #[test]
    fn a_menu_holds_at_most_100_items() {
        let items: Vec<(String, String)> = (0..150)
            .map(|n| (format!("Item {n}"), format!("http://10.0.0.9/{n}")))
            .collect();
        let object = menu_items("Many", "Choose", &items);
        let names = texts(&object, "Name");
        assert_eq!(names.len(), MAX_MENU_ITEMS);
        assert_eq!(names.last().map(String::as_str), Some("Item 99"));
    }

    #[test]
    fn an_input_holds_at_most_5_items() {
        let item = InputItem {
            display_name: "Field",
            param: "f",
            flags: "N",
        };
        let items: Vec<InputItem> = (0..7).map(|_| InputItem { ..item }).collect();
        let mut xml = Writer::new("CiscoIPPhoneInput");
        input_items(&mut xml, &items);
        assert_eq!(
            texts(&xml.finish(None), "InputFlags").len(),
            MAX_INPUT_ITEMS
        );
    }
}
