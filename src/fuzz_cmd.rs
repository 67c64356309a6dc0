//! `chainstorm fuzz` and `chainstorm fuzz replay`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use chainstorm::endpoint::{Endpoint, EndpointConfig};
use chainstorm::fuzzer::campaign::{self, Campaign};
use chainstorm::trust::{ChainVerifier, TimedVerifier, TrustProfile};

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chainstorm::ui::fuzz::{draw_fuzz, FuzzView};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::cli::{FuzzArgs, FuzzCommand};

/// Runs the verb.
pub fn fuzz(a: FuzzArgs) -> Result<ExitCode> {
    if let Some(FuzzCommand::Replay { file, target }) = &a.replay {
        loopback_or_allowed(*target, a.allow_remote)?;
        let bytes =
            std::fs::read(file).with_context(|| format!("{}: cannot read", file.display()))?;
        // The metadata next to the bytes says which layer the case is for.
        let meta: serde_json::Value = std::fs::read_to_string(file.with_extension("json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let is_mqtt = meta["layer"] == "mqtt";
        let mqtt = if is_mqtt {
            Some(mqtt_config(&a)?)
        } else {
            None
        };
        let case = campaign::AnyCase {
            op: meta["operator"].as_str().unwrap_or("replay").into(),
            detail: meta["detail"].as_str().unwrap_or_default().into(),
            bytes,
            mqtt: is_mqtt,
            may_wait: false,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let class = rt.block_on(campaign::send_case(
            &case,
            *target,
            &a.sni,
            mqtt.as_ref(),
            Duration::from_secs_f64(a.timeout_s),
        ));
        let bytes = case.bytes;
        outln!("{} ({} bytes) -> {class}", file.display(), bytes.len());
        return Ok(ExitCode::SUCCESS);
    }
    if a.concurrency == 0 || a.health_every == 0 {
        bail!("--concurrency and --health-every must be > 0");
    }
    // The embedded endpoint runs on its own runtime and threads.
    let endpoint_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (target, endpoint) = if a.target == "embedded" {
        let pki = crate::commands::load_pki(None)?;
        let h = endpoint_rt.block_on(Endpoint::start(
            EndpointConfig::mqtt("127.0.0.1:0".parse()?),
            &pki,
        ))?;
        (h.addrs()[0].1, Some(h))
    } else {
        let t: std::net::SocketAddr = a.target.parse().with_context(|| {
            format!("--target {:?}: expected `embedded` or HOST:PORT", a.target)
        })?;
        loopback_or_allowed(t, a.allow_remote)?;
        (t, None)
    };
    let second = match &a.differential {
        None => None,
        Some(t) => {
            let t: std::net::SocketAddr = t
                .parse()
                .with_context(|| format!("--differential {t:?}: expected HOST:PORT"))?;
            loopback_or_allowed(t, a.allow_remote)?;
            Some(t)
        }
    };
    let out = chainstorm::results::create_run_dir(&a.output, "fuzz")?;
    let c = Campaign {
        target,
        sni: a.sni.clone(),
        cases: a.cases,
        duration: a.duration_s.map(Duration::from_secs_f64),
        concurrency: a.concurrency,
        seed: a.seed,
        timeout: Duration::from_secs_f64(a.timeout_s),
        health_every: a.health_every,
        out: out.clone(),
        mqtt: if a.mqtt { Some(mqtt_config(&a)?) } else { None },
        second,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let every = Duration::from_secs_f64(a.progress_s.max(0.0));
    let mut last = std::time::Instant::now();
    let total = a.cases;
    // Ctrl-C / SIGTERM stop the campaign after the current batch; the
    // report and everything found so far are still written.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        rt.spawn(async move {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            eprintln!("chainstorm fuzz: stopping after this batch, then writing results");
            stop.store(true, Ordering::SeqCst);
        });
    }
    let live = !a.no_tui && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let mut view = FuzzView::new(target.to_string(), total);
    let mut terminal = if live { Some(ratatui::init()) } else { None };
    let result = rt.block_on(campaign::run_with(c, |r| {
        if let Some(t) = terminal.as_mut() {
            view.update(r);
            let _ = t.draw(|f| draw_fuzz(f, &view));
            // q, Esc or Ctrl-C (raw mode delivers it as a key) stop the campaign.
            while event::poll(Duration::ZERO).unwrap_or(false) {
                if let Ok(Event::Key(k)) = event::read() {
                    let ctrl_c =
                        k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                    if k.kind == KeyEventKind::Press
                        && (ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc))
                    {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            }
        } else if !every.is_zero() && last.elapsed() >= every {
            // A progress line on stderr; stdout keeps the final report.
            last = std::time::Instant::now();
            eprintln!("{}", r.progress(total));
        }
        !stop.load(Ordering::SeqCst)
    }));
    if terminal.take().is_some() {
        ratatui::restore();
    }
    let report = result.context("fuzz campaign")?;
    if let Some(h) = endpoint {
        let counters = h.counters().snapshot();
        endpoint_rt.block_on(h.shutdown(Duration::from_secs(2)));
        eprintln!(
            "embedded endpoint: {} accepted, {} handshakes, {} unknown names, {} failed handshakes",
            counters.accepted,
            counters.handshakes_total(),
            counters.unknown_name,
            counters.handshake_failed
        );
    }
    let mut text = format!(
        "{} cases in {:.1}s ({:.0} cases/s), {} classes, {} findings; results in {}\n",
        report.cases,
        report.seconds,
        report.cases_per_s,
        report.classes.len(),
        report.findings.len(),
        out.display()
    );
    for (k, n) in &report.classes {
        text.push_str(&format!("  {k:<60} {n}\n"));
    }
    if report.stopped_early {
        text.push_str("  stopped early (key or signal); the report covers the cases that ran\n");
    }
    for (k, n) in &report.divergent {
        text.push_str(&format!("  DIVERGENT {k:<60} {n}\n"));
    }
    for f in &report.findings {
        text.push_str(&format!(
            "  FINDING {} {} {} ({})\n",
            f.id, f.kind, f.operator, f.detail
        ));
    }
    outln!("{text}");
    let dist = &report.classes;
    if let Some(p) = &a.write_baseline {
        std::fs::write(p, serde_json::to_string_pretty(&dist)?)
            .with_context(|| format!("{}: cannot write", p.display()))?;
    }
    if let Some(p) = &a.baseline {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
        let base: std::collections::BTreeMap<String, u64> = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a baseline", p.display()))?;
        if &base != dist {
            let mut diff = String::from("class distribution differs from the baseline:\n");
            let keys: std::collections::BTreeSet<&String> =
                base.keys().chain(dist.keys()).collect();
            for k in keys {
                let (b, n) = (
                    base.get(k).copied().unwrap_or(0),
                    dist.get(k).copied().unwrap_or(0),
                );
                if b != n {
                    diff.push_str(&format!("  {k}: baseline {b}, now {n}\n"));
                }
            }
            outln!("{diff}");
            return Ok(ExitCode::from(1));
        }
        outln!("class distribution matches the baseline");
    }
    Ok(if report.findings.iter().any(|f| f.kind == "target_down") {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The client configuration of MQTT cases: a real handshake, verified with
/// the chosen trust profile against the PKI the endpoint serves.
fn mqtt_config(a: &FuzzArgs) -> Result<std::sync::Arc<rustls::ClientConfig>> {
    let pki = crate::commands::load_pki(a.pki.as_deref())?;
    let profile = TrustProfile::resolve(&a.profile, &pki)
        .with_context(|| format!("--profile {}", a.profile))?;
    let verifier = TimedVerifier::new(std::sync::Arc::new(ChainVerifier::new(
        std::sync::Arc::new(profile),
    )));
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .dangerous()
    .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
    .with_no_client_auth();
    Ok(std::sync::Arc::new(cfg))
}

/// Traffic goes to loopback only, unless the user said otherwise.
fn loopback_or_allowed(t: std::net::SocketAddr, allow_remote: bool) -> Result<()> {
    if !t.ip().is_loopback() && !allow_remote {
        bail!("{t} is outside 127.0.0.0/8 and ::1; pass --allow-remote");
    }
    Ok(())
}
