//! `phoneprov explain`: the real binary looks up what a user typed from the
//! phone's screen in the diagnostics catalog.

use phoneprov_cisco::diagnosis;

use crate::harness::{assert_contains, assert_exit, run_binary};

fn explain(args: &[&str], code: i32) -> String {
    let args = [&["explain"], args].concat();
    assert_exit(&run_binary(&args), code, &args.join(" "))
}

#[test]
fn explain_finds_a_message_typed_with_typos() {
    let invalid = explain(&["protocol", "aplication", "invalid"], 0);
    assert_contains(
        &invalid,
        &[
            "Protocol Application Invalid  (protocol-application-invalid)",
            "What it means:",
            "Fix:",
            "phoneprov firmware import",
            "How phoneprov sees it:",
        ],
    );
    assert_contains(
        &explain(&["tftp timout"], 0),
        &["TFTP Timeout  (tftp-timeout)", "phoneprov doctor"],
    );
    assert_contains(
        &explain(&["W210"], 0),
        &["W210 TFTP Error : buffer full", "SIPDefault.cnf"],
    );
    assert_contains(
        &explain(&["Option", "66"], 0),
        &["Not in phoneprov's events:", "unverified"],
    );
}

#[test]
fn explain_lists_the_candidates_of_an_ambiguous_message() {
    let both = explain(&["TFTP Error"], 0);
    assert_contains(
        &both,
        &["fits several messages", "file-not-found", "transfer-failed"],
    );
    assert!(!both.contains("What it means"), "{both}");
}

#[test]
fn explain_fails_on_an_unknown_message_and_lists_what_it_knows() {
    let unknown = explain(&["the", "phone", "smells", "of", "smoke"], 1);
    assert_contains(&unknown, &["no message like \"the phone smells of smoke\""]);
    let list = explain(&["--list"], 0);
    for d in diagnosis::catalog() {
        assert_contains(&unknown, &[&d.id]);
        assert_contains(&list, &[&d.id, &d.title]);
    }
}

#[test]
fn explain_help_shows_an_example() {
    assert_contains(
        &explain(&["--help"], 0),
        &["Examples:", "phoneprov explain \"tftp timout\"", "--list"],
    );
    let nothing = explain(&[], 2);
    assert_contains(&nothing, &["required"]);
}
