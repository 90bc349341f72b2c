//! `sluice serve`'s settings from a TOML file, environment variables and flags, in rising
//! precedence: a flag beats its `SLUICE_*` variable, which beats the file, which beats the
//! default. Every setting is a `serve` flag (`ServeArgs` in `main.rs`), defined once there:
//! the file's keys are the flags' long names, the variables are the flags' `env`, and
//! `docs/configuration.md` is rendered from the same definitions (a test fails when it
//! differs from the code).
//!
//! ```text
//!  argv + env ─► clap (1st pass) ─► --config FILE? ─► TOML keys for settings clap only
//!  defaulted ─► `--key=value` before argv ─► clap (2nd pass: same parsers, same errors)
//! ```
//!
//! Feeding file values through clap again means a value in the file is checked by exactly
//! the parser its flag uses; nothing is parsed twice by two different rules.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};

/// Largest configuration file read, in bytes: a settings file is a few KiB; anything far
/// larger is a wrong path (a log, a data file), better refused than parsed.
pub const CONFIG_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// `serve` arguments that are not settings: they say what to do with the settings.
const NOT_SETTINGS: &[&str] = &["config", "print_config", "help"];

/// Kafka settings whose values `--print-config` hides (they are credentials).
const SECRET_KEY_PARTS: &[&str] = &["password", "secret", "token", "credentials"];

/// Where a setting's effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    File,
    Default,
}

/// The parsed command line, with each `serve` setting's source.
pub struct Parsed<C> {
    pub cli: C,
    /// Setting id → where its value came from (`serve` only; empty otherwise).
    pub sources: BTreeMap<String, Source>,
    /// The `serve` matches after the file was applied, for `--print-config`.
    pub serve: Option<ArgMatches>,
}

/// Parses the command line of `C`, applying `serve --config FILE` (or `SLUICE_CONFIG`) under
/// the flags and variables. Exits with clap's message on a usage error, as `Parser::parse`.
pub fn parse<C: CommandFactory + FromArgMatches>(args: Vec<OsString>) -> anyhow::Result<Parsed<C>> {
    let first = C::command().get_matches_from(args.clone());
    let Some(("serve", serve)) = first.subcommand() else {
        return Ok(Parsed {
            cli: C::from_arg_matches(&first).unwrap_or_else(|e| e.exit()),
            sources: BTreeMap::new(),
            serve: None,
        });
    };
    let mut from_file = BTreeSet::new();
    let matches = match serve.get_one::<PathBuf>("config") {
        None => first,
        Some(path) => {
            let file = read_file(path)?;
            let command = C::command();
            let serve_command = command
                .find_subcommand("serve")
                .expect("the CLI has a serve subcommand");
            let injected = file_arguments(serve_command, serve, &file, path)?;
            from_file = injected.keys().cloned().collect();
            let argv = with_file_arguments(args, injected.into_values().flatten().collect());
            C::command().get_matches_from(argv)
        }
    };
    let serve = matches
        .subcommand_matches("serve")
        .expect("still the serve subcommand")
        .clone();
    let sources = settings(&C::command())
        .map(|arg| {
            let id = arg.get_id().to_string();
            let source = if from_file.contains(&id) {
                Source::File
            } else {
                match serve.value_source(&id) {
                    Some(ValueSource::CommandLine) => Source::Flag,
                    Some(ValueSource::EnvVariable) => Source::Env,
                    _ => Source::Default,
                }
            };
            (id, source)
        })
        .collect();
    Ok(Parsed {
        cli: C::from_arg_matches(&matches).unwrap_or_else(|e| e.exit()),
        sources,
        serve: Some(serve),
    })
}

/// The `serve` arguments that are settings.
fn settings(command: &Command) -> impl Iterator<Item = &clap::Arg> {
    command
        .find_subcommand("serve")
        .expect("the CLI has a serve subcommand")
        .get_arguments()
        .filter(|a| !NOT_SETTINGS.contains(&a.get_id().as_str()) && a.get_long().is_some())
}

fn read_file(path: &Path) -> anyhow::Result<toml::Table> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("reading configuration file {}", path.display()))?;
    if meta.len() > CONFIG_FILE_BYTES_MAX {
        bail!(
            "configuration file {} is {} bytes; at most {CONFIG_FILE_BYTES_MAX} are read",
            path.display(),
            meta.len()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration file {}", path.display()))?;
    text.parse::<toml::Table>()
        .with_context(|| format!("configuration file {} is not valid TOML", path.display()))
}

/// `--key=value` arguments for the file's settings that no flag or variable set, by id.
fn file_arguments(
    serve_command: &Command,
    serve: &ArgMatches,
    file: &toml::Table,
    path: &Path,
) -> anyhow::Result<BTreeMap<String, Vec<OsString>>> {
    let mut out = BTreeMap::new();
    for (key, value) in file {
        let arg = serve_command
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()))
            .filter(|a| !NOT_SETTINGS.contains(&a.get_id().as_str()));
        let Some(arg) = arg else {
            let known: Vec<&str> = serve_command
                .get_arguments()
                .filter(|a| !NOT_SETTINGS.contains(&a.get_id().as_str()))
                .filter_map(|a| a.get_long())
                .collect();
            bail!(
                "{}: unknown setting `{key}`; settings are: {}",
                path.display(),
                known.join(", ")
            );
        };
        let id = arg.get_id().as_str();
        if !matches!(
            serve.value_source(id),
            None | Some(ValueSource::DefaultValue)
        ) {
            continue; // A flag or a variable set it: they win.
        }
        let values = toml_values(key, value).with_context(|| path.display().to_string())?;
        let flags = values
            .into_iter()
            .map(|v| OsString::from(format!("--{key}={v}")))
            .collect();
        out.insert(id.to_string(), flags);
    }
    Ok(out)
}

/// A TOML value as the flag's text: strings as they are, numbers and booleans spelled out,
/// an array as repeated flags, a table (for `kafka-config`) as `key=value` pairs.
fn toml_values(key: &str, value: &toml::Value) -> anyhow::Result<Vec<String>> {
    Ok(match value {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Integer(i) => vec![i.to_string()],
        toml::Value::Boolean(b) => vec![b.to_string()],
        toml::Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.extend(toml_values(key, item)?);
            }
            out
        }
        toml::Value::Table(table) => {
            let mut out = Vec::with_capacity(table.len());
            for (k, v) in table {
                for v in toml_values(key, v)? {
                    out.push(format!("{k}={v}"));
                }
            }
            out
        }
        other => bail!(
            "setting `{key}`: a {} is not a setting's value (use a string, an integer or a boolean)",
            other.type_str()
        ),
    })
}

/// `argv` with `flags` inserted right after `serve`, so the command line's own flags stay
/// where they were.
fn with_file_arguments(argv: Vec<OsString>, flags: Vec<OsString>) -> Vec<OsString> {
    let serve_at = argv
        .iter()
        .position(|a| a == "serve")
        .expect("the serve subcommand is on the command line");
    let mut out = Vec::with_capacity(argv.len() + flags.len());
    out.extend_from_slice(&argv[..=serve_at]);
    out.extend(flags);
    out.extend_from_slice(&argv[serve_at + 1..]);
    out
}

/// `--print-config`: every setting's effective value as a TOML file `--config` accepts,
/// each with where it came from.
pub fn print_config(
    command: &Command,
    parsed_serve: &ArgMatches,
    sources: &BTreeMap<String, Source>,
) -> String {
    let mut out = String::from(
        "# sluice serve: effective configuration (flag > SLUICE_* variable > file > default)\n",
    );
    for arg in settings(command) {
        let id = arg.get_id().as_str();
        let key = arg.get_long().expect("settings have long names");
        let raw: Vec<String> = parsed_serve
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let source = match sources.get(id).copied().unwrap_or(Source::Default) {
            Source::Flag => format!("--{key}"),
            Source::Env => arg
                .get_env()
                .map_or("env".into(), |e| e.to_string_lossy().into_owned()),
            Source::File => "file".to_string(),
            Source::Default => "default".to_string(),
        };
        let value = if arg.get_action().takes_values() && is_repeatable(arg) {
            let items: Vec<String> = raw.iter().map(|v| toml_text(&redact(v))).collect();
            format!("[{}]", items.join(", "))
        } else {
            match raw.first() {
                Some(v) => toml_text(v),
                None => {
                    let _ = writeln!(out, "# {key} is not set ({source})");
                    continue;
                }
            }
        };
        let _ = writeln!(out, "{key} = {value}  # {source}");
    }
    out
}

fn is_repeatable(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), clap::ArgAction::Append)
}

/// A value as TOML: an integer bare, anything else a quoted string.
fn toml_text(raw: &str) -> String {
    match raw.parse::<i64>() {
        Ok(i) => i.to_string(),
        Err(_) => toml::Value::String(raw.to_string()).to_string(),
    }
}

/// `key=value` with the value hidden when the key names a credential.
fn redact(setting: &str) -> String {
    match setting.split_once('=') {
        Some((key, _))
            if SECRET_KEY_PARTS
                .iter()
                .any(|part| key.to_ascii_lowercase().contains(part)) =>
        {
            format!("{key}=<redacted>")
        }
        _ => setting.to_string(),
    }
}

/// `docs/configuration.md`, rendered from the `serve` flags' definitions (a test of `main`
/// compares it with the file).
#[cfg(test)]
pub fn reference_doc(command: &Command) -> String {
    let mut out = String::from(
        "# Configuration\n\n\
         <!-- Generated from `sluice serve`'s flags (src/main.rs) by `src/config.rs`; \
         `SLUICE_BLESS=1 cargo test --bin sluice config` rewrites it, and that test fails \
         while it differs from the code. Edit the flags' doc comments, not this file. -->\n\n\
         `sluice serve` takes each setting from, in rising precedence: its default, the TOML \
         file named by `--config FILE` (or `SLUICE_CONFIG`), its environment variable, and \
         its flag. In the file, a setting's key is its flag's name without the dashes; \
         `kafka-config` takes a table (`[kafka-config]` then `\"security.protocol\" = \
         \"SASL_SSL\"`) or an array of `\"key=value\"` strings. An unknown key is an error. \
         `sluice serve --print-config` prints the effective values, each with where it came \
         from, as a file `--config` reads (credentials in `kafka-config` are redacted), and \
         exits.\n\n\
         ```toml\n\
         # sluice.toml\n\
         listen = \"0.0.0.0:8088\"\n\
         data-dir = \"/var/lib/sluice\"\n\
         fsync = \"interval:5\"\n\
         ```\n\n\
         | setting (file key, `--flag`) | environment variable | default | meaning |\n\
         |---|---|---|---|\n",
    );
    for arg in settings(command) {
        let key = arg.get_long().expect("settings have long names");
        let env = arg
            .get_env()
            .map_or("—".to_string(), |e| format!("`{}`", e.to_string_lossy()));
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = if default.is_empty() {
            "—".to_string()
        } else {
            format!("`{}`", default.join(","))
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default()
            .replace('\n', " ")
            .replace('|', "\\|");
        let repeat = if is_repeatable(arg) {
            " (repeatable)"
        } else {
            ""
        };
        let _ = writeln!(out, "| `{key}`{repeat} | {env} | {default} | {help} |");
    }
    out.push_str(
        "\nOther `serve` flags: `--config FILE` (`SLUICE_CONFIG`), the file above; \
         `--print-config`, print the effective settings and exit.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_values_spell_settings_as_flags() {
        let table: toml::Table =
            "a = 'x'\nb = 3\nc = true\nd = ['p=1', 'q=2']\n[e]\n'sasl.mechanism' = 'PLAIN'\n"
                .parse()
                .expect("toml");
        assert_eq!(toml_values("a", &table["a"]).expect("a"), ["x"]);
        assert_eq!(toml_values("b", &table["b"]).expect("b"), ["3"]);
        assert_eq!(toml_values("c", &table["c"]).expect("c"), ["true"]);
        assert_eq!(toml_values("d", &table["d"]).expect("d"), ["p=1", "q=2"]);
        assert_eq!(
            toml_values("e", &table["e"]).expect("e"),
            ["sasl.mechanism=PLAIN"]
        );
        let float: toml::Table = "f = 1.5".parse().expect("toml");
        assert!(toml_values("f", &float["f"]).is_err());
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(redact("sasl.password=hunter2"), "sasl.password=<redacted>");
        assert_eq!(redact("security.protocol=SSL"), "security.protocol=SSL");
    }

    #[test]
    fn file_flags_go_right_after_serve() {
        let argv: Vec<OsString> = ["sluice", "serve", "--listen", "x"]
            .iter()
            .map(OsString::from)
            .collect();
        let out = with_file_arguments(argv, vec!["--fsync=never".into()]);
        assert_eq!(out, ["sluice", "serve", "--fsync=never", "--listen", "x"]);
    }
}
