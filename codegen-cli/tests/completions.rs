//! `eventmap completions <shell>` and `eventmap man`: each generates, for every shell, with
//! the subcommands and options of the command; the bash script is valid bash, the man page
//! valid roff (rendered by `man` when the machine has it).

use std::path::Path;
use std::process::{Command, Output};

fn eventmap(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventmap"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run eventmap")
}

fn stdout_of(args: &[&str]) -> String {
    let out = eventmap(Path::new("."), args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "eventmap {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The subcommands every completion script and the man page must know.
const SUBCOMMANDS: &[&str] = &[
    "check",
    "generate",
    "docs",
    "permissions",
    "schema",
    "completions",
    "man",
];

#[test]
fn completions_generate_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _eventmap"),
        ("zsh", "#compdef eventmap"),
        ("fish", "complete -c eventmap"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[eventmap]"),
    ] {
        let script = stdout_of(&["completions", shell]);
        assert!(
            script.contains(marker),
            "{shell}: no `{marker}` in\n{script}"
        );
        for subcommand in SUBCOMMANDS {
            assert!(
                script.contains(subcommand),
                "{shell}: `{subcommand}` missing"
            );
        }
        // Options and their values are completed too.
        assert!(
            script.contains("--mappings"),
            "{shell}: `--mappings` missing"
        );
        assert!(
            script.contains("github"),
            "{shell}: the `--format` values missing"
        );
    }
}

#[test]
fn bash_completion_is_valid_bash_and_completes_subcommands() {
    let script = stdout_of(&["completions", "bash"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("eventmap.bash");
    std::fs::write(&path, &script).expect("write");
    // Source the script and ask it what `eventmap ch<TAB>` completes to.
    let probe = format!(
        "source {}; COMP_WORDS=(eventmap ch); COMP_CWORD=1; COMP_LINE='eventmap ch'; COMP_POINT=11; _eventmap eventmap ch eventmap; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replies = String::from_utf8_lossy(&out.stdout);
    assert_eq!(replies.trim(), "check", "{replies}");
}

#[test]
fn unknown_shell_is_refused() {
    let out = eventmap(Path::new("."), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));
}

#[test]
fn man_page_on_stdout() {
    let page = stdout_of(&["man"]);
    assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
    assert!(page.contains(".TH eventmap 1"), "{page}");
    for subcommand in SUBCOMMANDS {
        assert!(page.contains(subcommand), "`{subcommand}` missing");
    }
    assert!(
        page.contains("Exit codes: 0 ok, 1 problems found"),
        "{page}"
    );
}

#[test]
fn man_pages_into_a_folder_one_per_subcommand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("man/man1");
    let out = eventmap(
        Path::new("."),
        &["man", "--out", out_dir.to_str().expect("UTF-8")],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for subcommand in SUBCOMMANDS {
        let page = out_dir.join(format!("eventmap-{subcommand}.1"));
        let text = std::fs::read_to_string(&page)
            .unwrap_or_else(|err| panic!("{}: {err}", page.display()));
        assert!(
            text.contains(&format!(".TH eventmap-{subcommand} 1")),
            "{text}"
        );
    }
    let main = out_dir.join("eventmap.1");
    assert!(main.is_file());
    // Rendered by man(1) where the machine has it: the page is valid roff.
    match Command::new("man")
        .env("MANWIDTH", "100")
        .args(["-l", "-P", "cat"])
        .arg(out_dir.join("eventmap-check.1"))
        .output()
    {
        Ok(rendered) => {
            assert!(
                rendered.status.success(),
                "{}",
                String::from_utf8_lossy(&rendered.stderr)
            );
            let text = String::from_utf8_lossy(&rendered.stdout);
            assert!(text.contains("--against <REV|DIR>"), "{text}");
        }
        Err(err) => eprintln!("man(1) cannot run ({err}): the pages are not rendered"),
    }
}
