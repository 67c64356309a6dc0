//! One function per verb. Library errors become `anyhow` here and only here.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use chainstorm::pki::{self, describe_cert, PkiBundle, PkiConfig, Role};
use chainstorm::trust::TrustProfile;

use crate::cli::{
    Command, CompareArgs, PkiCommand, PkiInitArgs, PkiShowArgs, ProfilesArgs, RunArgs,
};

/// Appends a line to the process's stdout buffer (see [`flush_stdout`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        crate::commands::OUT.with(|b| {
            use std::fmt::Write as _;
            let mut b = b.borrow_mut();
            let _ = writeln!(b, $($arg)*);
        })
    }};
}

thread_local! {
    pub(crate) static OUT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Writes what the verb printed. A closed pipe (`| head`) is not an error
/// worth a panic: the reader has what it wanted.
pub fn flush_stdout() {
    use std::io::Write as _;
    let text = OUT.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// Runs a verb.
pub fn dispatch(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Pki(PkiCommand::Init(a)) => pki_init(a),
        Command::Pki(PkiCommand::Show(a)) => pki_show(a),
        Command::Profiles(a) => profiles(a),
        Command::Run(a) => run(a),
        Command::Serve(a) => crate::serve::serve(a),
        Command::Compare(a) => compare(a),
        Command::Report(a) => report(a),
        Command::Probe(a) => crate::probe_cmd::probe(a),
        Command::Merge(a) => merge(a),
        Command::Fuzz(a) => crate::fuzz_cmd::fuzz(a),
    }
}

fn parse_time(flag: &str, s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).with_context(|| {
        format!("{flag}: {s:?} is not an RFC 3339 time such as 2019-04-16T23:59:59Z")
    })
}

fn pki_init(a: PkiInitArgs) -> Result<ExitCode> {
    if !pki::regions::is_known(&a.region) {
        bail!("--region: unknown region {:?}", a.region);
    }
    if a.out.join(pki::store::MANIFEST).exists() && !a.force {
        bail!(
            "{} already holds a PKI; pass --force to replace it",
            a.out.display()
        );
    }
    let mut config = PkiConfig {
        primary_region: a.region.clone(),
        ..PkiConfig::default()
    };
    if let Some(s) = &a.legacy_leaf_not_before {
        config.legacy_leaf_not_before = Some(parse_time("--legacy-leaf-not-before", s)?);
    }
    if let Some(s) = &a.legacy_intermediate_not_after {
        config.legacy_intermediate_not_after = parse_time("--legacy-intermediate-not-after", s)?;
    }
    let t = Instant::now();
    let bundle = PkiBundle::generate(config)?;
    let gen = t.elapsed();
    let manifest = bundle.write_to(&a.out)?;
    outln!(
        "wrote {} certificates to {} in {:.2}s (manifest: {})",
        manifest.files.len(),
        a.out.display(),
        gen.as_secs_f64(),
        a.out.join(pki::store::MANIFEST).display()
    );
    if a.devices > 0 {
        let dir = a.out.join("devices");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let ca = bundle.device_ca();
        let t = Instant::now();
        let mut minted = Vec::with_capacity(a.devices as usize);
        for i in 0..a.devices {
            minted.push(ca.mint(&format!("device-{i:06}"))?);
        }
        let secs = t.elapsed().as_secs_f64();
        for d in &minted {
            let cert = pem::encode(&pem::Pem::new("CERTIFICATE", d.cert.as_ref().to_vec()));
            std::fs::write(dir.join(format!("{}.pem", d.client_id)), cert)?;
            let key = pem::encode(&pem::Pem::new("PRIVATE KEY", d.key.secret_der().to_vec()));
            write_private(&dir.join(format!("{}.key", d.client_id)), key.as_bytes())?;
        }
        outln!(
            "minted {} device certificates (P-256) in {:.3}s: {:.0} certs/s",
            a.devices,
            secs,
            f64::from(a.devices) / secs
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

fn pki_show(a: PkiShowArgs) -> Result<ExitCode> {
    let manifest = pki::store::read_manifest(&a.dir.join(pki::store::MANIFEST))?;
    let mut rows = Vec::new();
    for f in &manifest.files {
        let path = a.dir.join(&f.cert);
        let pem_text =
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let block =
            pem::parse(&pem_text).with_context(|| format!("{}: bad PEM", path.display()))?;
        let s = describe_cert(block.contents()).with_context(|| path.display().to_string())?;
        rows.push((f.role, s));
    }
    if a.json {
        let out: Vec<_> = rows
            .iter()
            .map(|(r, s)| serde_json::json!({"role": r, "certificate": s}))
            .collect();
        let text = serde_json::to_string_pretty(&out)?;
        outln!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "PKI {} (generated {})",
        a.dir.display(),
        manifest.generated_at
    );
    for (role, s) in rows {
        outln!("\n{}", role.name());
        outln!("  subject    {}", s.subject);
        outln!("  issuer     {}", s.issuer);
        outln!("  key        {}   signature {}", s.key, s.signature);
        outln!(
            "  validity   {} .. {}",
            s.not_before.date(),
            s.not_after.date()
        );
        outln!("  sha256     {}", s.sha256);
        outln!("  spki256    {}", s.spki_sha256);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn load_pki(dir: Option<&std::path::Path>) -> Result<PkiBundle> {
    match dir {
        Some(d) => Ok(PkiBundle::load(d)?),
        None => {
            let cache = pki::store::default_cache_dir();
            let (b, _) = PkiBundle::load_or_generate(&cache, &PkiConfig::default())
                .with_context(|| format!("PKI cache {}", cache.display()))?;
            Ok(b)
        }
    }
}

fn profiles(a: ProfilesArgs) -> Result<ExitCode> {
    let bundle = load_pki(a.pki.as_deref())?;
    let mut out = Vec::new();
    for (name, _) in chainstorm::trust::BUILTIN {
        if *name == "pem:PATH" || *name == "system" {
            continue;
        }
        let p = TrustProfile::resolve(name, &bundle)?;
        out.push(p);
    }
    if a.json {
        let v: Vec<_> = out
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name,
                    "description": p.description,
                    "anchors": p.anchor_names(),
                    "policies": p.policies.iter().map(|x| serde_json::json!({"name": x.name, "description": x.description})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&v)?;
        outln!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    for p in &out {
        outln!("{:<22} {}", p.name, p.description);
        let anchors = p.anchor_names();
        if anchors.len() > 6 {
            outln!("{:<22}   trusts {} roots", "", anchors.len());
        } else {
            outln!("{:<22}   trusts {}", "", anchors.join("; "));
        }
        for pol in &p.policies {
            outln!("{:<22}   distrusts [{}] {}", "", pol.name, pol.description);
        }
    }
    outln!("{:<22} the operating system's root store", "system");
    outln!("{:<22} every certificate of a PEM bundle", "pem:PATH");
    let _ = Role::ALL;
    Ok(ExitCode::SUCCESS)
}

fn run(a: RunArgs) -> Result<ExitCode> {
    use std::sync::atomic::{AtomicU8, Ordering};
    use std::sync::Arc;

    use chainstorm::engine::Control;
    use chainstorm::runner::{self, RunOptions};

    if let Some(d) = a.duration_s {
        if !d.is_finite() || d <= 0.0 {
            bail!("--duration-s must be > 0");
        }
    }
    use std::io::IsTerminal;
    // The TUI when stdout and stdin are a terminal, unless asked otherwise.
    let tui =
        !a.no_tui && !a.json && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let (ui_tx, ui_rx) = std::sync::mpsc::sync_channel(4);
    let opts = RunOptions {
        allow_remote: a.allow_remote,
        output_dir: a.output.clone(),
        progress: !a.quiet && !tui,
        ui: tui.then_some(ui_tx),
        duration: a.duration_s.map(std::time::Duration::from_secs_f64),
        devices: a.devices,
        pki: None,
        max_rate: a.max_rate,
        shard: match &a.shard {
            None => None,
            Some(s) => Some(runner::parse_shard(s).map_err(|e| anyhow::anyhow!("--shard: {e}"))?),
        },
    };
    let scenario = runner::prepare(&a.scenario, &opts)?;
    let control = Control::new();
    // Ctrl-C and SIGTERM stop arrivals and drain; results are still written.
    let signal = Arc::new(AtomicU8::new(0));
    {
        let (control, signal) = (control.clone(), signal.clone());
        std::thread::Builder::new()
            .name("chainstorm-signals".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(mut term) =
                        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    else {
                        return;
                    };
                    let sig = tokio::select! {
                        _ = tokio::signal::ctrl_c() => 2,
                        _ = term.recv() => 15,
                    };
                    signal.store(sig, Ordering::SeqCst);
                    eprintln!(
                        "chainstorm: stopping (signal {sig}): draining, then writing results"
                    );
                    control.stop();
                });
            })
            .context("starting the signal thread")?;
    }
    let outcome = if tui {
        let header = runner::ui_header(&scenario);
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let worker = {
            let (control, done) = (control.clone(), done.clone());
            std::thread::Builder::new()
                .name("chainstorm-run".into())
                .spawn(move || {
                    let r = runner::run_scenario(scenario, opts, control);
                    done.store(true, Ordering::SeqCst);
                    r
                })
                .context("starting the run thread")?
        };
        let ui_result = chainstorm::ui::run(header, ui_rx, control.clone(), done);
        if ui_result.is_err() {
            // The run goes on headless if the terminal fails; stop it cleanly.
            control.stop();
        }
        let outcome = worker
            .join()
            .map_err(|_| anyhow::anyhow!("the run thread panicked"))??;
        ui_result.context("terminal UI")?;
        outcome
    } else {
        drop(ui_rx);
        runner::run_scenario(scenario, opts, control)?
    };
    if a.json {
        let text = serde_json::to_string_pretty(&outcome.summary)?;
        outln!("{text}");
    } else {
        let text = runner::render(&outcome);
        outln!("{text}");
    }
    let sig = signal.load(Ordering::SeqCst);
    Ok(if sig != 0 {
        ExitCode::from(128 + sig)
    } else if outcome.summary.verdict != "pass" {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn compare(a: CompareArgs) -> Result<ExitCode> {
    use chainstorm::results::compare::{self, Rules};
    use chainstorm::results::Summary;

    let mut rules = match &a.rules {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read", p.display()))?;
            toml::from_str::<Rules>(&text).map_err(|e| {
                let at = e
                    .span()
                    .map(|s| {
                        let before = &text[..s.start];
                        format!(
                            ":{}:{}",
                            before.matches('\n').count() + 1,
                            before
                                .rsplit('\n')
                                .next()
                                .map(|l| l.chars().count())
                                .unwrap_or(0)
                                + 1
                        )
                    })
                    .unwrap_or_default();
                anyhow::anyhow!(
                    "{}{at}: {}",
                    p.display(),
                    e.message().trim().replace('\n', "; ")
                )
            })?
        }
        None => Rules::default(),
    };
    for r in &a.max_regression {
        let (k, v) = r
            .split_once('=')
            .with_context(|| format!("--max-regression {r:?}: expected PHASE.STAT=PCT"))?;
        rules
            .max_regression
            .insert(k.trim().to_string(), v.trim().to_string());
    }
    if let Some(f) = &a.max_failure_rate {
        rules.max_failure_rate = Some(f.clone());
    }
    rules.noise_aware |= a.noise_aware;
    let (parsed, max_fr) = rules.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    let (new_path, base_paths) = a.runs.split_last().expect("clap requires two runs");
    let new = Summary::read(new_path).map_err(|e| anyhow::anyhow!(e))?;
    let bases = base_paths
        .iter()
        .map(|p| Summary::read(p).map_err(|e| anyhow::anyhow!(e)))
        .collect::<Result<Vec<_>>>()?;
    let c = compare::compare(&bases, &new, &parsed, max_fr, rules.noise_aware);
    let ruled_only = !a.all && !parsed.is_empty();
    let text = match a.format.as_str() {
        "md" => compare::render_markdown(&c, ruled_only),
        "junit" => compare::render_junit(&c),
        _ => compare::render_text(&c, ruled_only),
    };
    outln!("{text}");
    Ok(if c.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn report(a: crate::cli::ReportArgs) -> Result<ExitCode> {
    let out = chainstorm::results::report::report(&a.run).map_err(|e| anyhow::anyhow!(e))?;
    outln!("{}", out.text);
    for s in &out.svgs {
        outln!("wrote {}", s.display());
    }
    outln!("wrote {}", out.html.display());
    Ok(ExitCode::SUCCESS)
}

fn merge(a: crate::cli::MergeArgs) -> Result<ExitCode> {
    let m = chainstorm::runner::merge::merge(&a.runs, &a.output).map_err(|e| anyhow::anyhow!(e))?;
    let text = if a.json {
        serde_json::to_string_pretty(&m.summary)?
    } else {
        format!(
            "{}\nresults: {}\n",
            chainstorm::results::human_summary(&m.summary),
            m.dir.display()
        )
    };
    outln!("{text}");
    Ok(if m.summary.verdict == "pass" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
