//! `chainstorm serve`: the mock endpoint in its own process.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use chainstorm::endpoint::rotation::Rotation;
use chainstorm::endpoint::{
    ConnackRefusal, Delay, Endpoint, EndpointConfig, EndpointSettings, Faults, KeyPreference,
    ListenerConfig, ListenerMode, MqttLimits, MtlsMode, NoAlpn, Outage, SecurityPolicy,
};
use chainstorm::pki::{regions, ChainKind};

use crate::args::ServeArgs;

fn config(a: &ServeArgs) -> Result<EndpointConfig> {
    let mut listeners = Vec::new();
    let mut add = |addrs: &[std::net::SocketAddr], mode| {
        for addr in addrs {
            listeners.push(ListenerConfig { addr: *addr, mode });
        }
    };
    add(&a.listen, ListenerMode::Mqtt);
    add(&a.listen_alpn, ListenerMode::MqttAlpn);
    add(&a.listen_tls_only, ListenerMode::TlsOnly);
    if listeners.is_empty() {
        listeners.push(ListenerConfig {
            addr: "127.0.0.1:8883".parse().expect("literal address"),
            mode: ListenerMode::Mqtt,
        });
    }
    let broken_chain = match &a.broken_chain {
        None => None,
        Some(n) => Some(
            ChainKind::from_name(n)
                .with_context(|| format!("--broken-chain: unknown chain {n:?}"))?,
        ),
    };
    let faults = Faults {
        seed: a.seed,
        handshake_delay: a.handshake_delay_ms.map(|ms| Delay::Fixed { ms }),
        connack_delay: a.connack_delay_ms.map(|ms| Delay::Fixed { ms }),
        refuse_rate: a.refuse_rate,
        reset_rate: a.reset_rate,
        stall_rate: a.stall_rate,
        connack_refusal: (a.connack_refusal_rate > 0.0).then_some(ConnackRefusal {
            rate: a.connack_refusal_rate,
            code_v311: a.connack_refusal_code_v311,
            code_v5: a.connack_refusal_code_v5,
        }),
        account_connect_rate: a.account_connect_rate,
        client_connect_rate: a.client_connect_rate,
        broken_chain,
        outage: a
            .outage_after_s
            .zip(a.outage_duration_s)
            .map(|(after_s, duration_s)| Outage {
                after_s,
                duration_s,
            }),
        pause: None,
    };
    let rotation = Rotation {
        weights: match &a.rotation_weights {
            Some(w) => [w[0], w[1], w[2], w[3]],
            None => Rotation::default().weights,
        },
        switch_after_s: a.rotate_after_s,
        switch_to: a.rotate_to,
        starfield_cross: !a.no_starfield_cross,
        starfield_cross_share: a.starfield_cross_share,
        class2_cross: a.class2_cross,
        seed: 0,
    };
    let settings = EndpointSettings {
        mtls: match a.mtls.as_str() {
            "optional" => MtlsMode::Optional,
            "required" => MtlsMode::Required,
            _ => MtlsMode::Off,
        },
        security_policy: SecurityPolicy::from_name(&a.security_policy).with_context(|| {
            format!("--security-policy: unknown policy {:?}", a.security_policy)
        })?,
        key_preference: if a.prefer_ecc {
            KeyPreference::PreferEcc
        } else {
            KeyPreference::PreferRsa
        },
        resumption: a.resumption,
        faults,
        rotation,
    };
    settings.validate()?;
    Ok(EndpointConfig {
        listeners,
        account_prefix: a.account_prefix.clone(),
        require_sni: !a.allow_no_sni,
        settings,
        mqtt: MqttLimits {
            client_id_must_match_cn: a.client_id_must_match_cn,
            ..MqttLimits::default()
        },
        handshake_timeout_s: a.handshake_timeout_s,
        reuse_port: a.reuse_port,
        no_alpn: if a.no_alpn_close {
            NoAlpn::Close
        } else {
            NoAlpn::Silent
        },
    })
}

/// Runs `serve` until Ctrl-C, SIGTERM or `--duration-s`.
pub fn serve(a: ServeArgs) -> Result<ExitCode> {
    if a.security_policy == "list" {
        outln!("{}", SecurityPolicy::table());
        return Ok(ExitCode::SUCCESS);
    }
    let cfg = config(&a)?;
    let pki = chainstorm::pki::PkiBundle::load_or_cache(a.pki.as_deref())?;
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let _signals = {
        let stop = stop.clone();
        chainstorm::signal::Signals::install(move |_| stop.notify_one())
            .context("installing the signal handlers")?
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    rt.block_on(async move {
        let (soft, _) = chainstorm::runner::limits::raise_nofile();
        // Accepts would otherwise stall at each doubling of the table.
        chainstorm::runner::limits::reserve_fd_table(soft);
        let handle = Endpoint::start(cfg.clone(), &pki).await?;
        let prefix = cfg.account_prefix.as_deref().unwrap_or("<any-prefix>");
        for (mode, addr) in handle.addrs() {
            eprintln!("listening on {addr} ({})", mode.label());
        }
        eprintln!("security policy {}, mTLS {:?}, resumption {}", cfg.settings.security_policy.name(), cfg.settings.mtls, cfg.settings.resumption);
        let ats = match cfg.settings.faults.broken_chain {
            Some(b) => format!("BROKEN chain {}", b.name()),
            None => "ATS RSA (Amazon RSA 2048 M01 + Amazon Root CA 1 cross-signed by Starfield G2) or ATS ECC (Amazon ECDSA 256 M01), by what the client offers".to_string(),
        };
        eprintln!("  {}  -> legacy chain (Symantec Class 3 Secure Server CA - G4 -> VeriSign G5)", regions::endpoint_host(prefix, "<region>", false));
        eprintln!("      regions: {}", regions::VERISIGN_REGIONS.join(", "));
        eprintln!("  {}  -> {ats}", regions::endpoint_host(prefix, "<region>", true));
        eprintln!("      regions: every region above plus {}", regions::ATS_ONLY_REGIONS.join(", "));
        let counters = handle.counters();
        let page = chainstorm::live::Page::default();
        let _metrics = match a.metrics_listen {
            None => None,
            Some(addr) => Some(
                chainstorm::live::MetricsServer::start(addr, page.clone())
                    .with_context(|| format!("--metrics-listen {addr}"))?,
            ),
        };
        let mut metrics_tick = tokio::time::interval(Duration::from_secs(1));
        let started = Instant::now();
        let interval = Duration::from_secs_f64(a.interval_s.max(0.1));
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        let mut last = counters.snapshot();
        let deadline = a.duration_s.map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = counters.snapshot();
                    let hs = now.handshakes_total() - last.handshakes_total();
                    eprintln!(
                        "t={:>6.1}s handshakes/s={:>7.0} total={} sessions={} failed_hs={} unknown_name={} refused={} reset={} stalled={} accept_errors={}",
                        started.elapsed().as_secs_f64(),
                        hs as f64 / interval.as_secs_f64(),
                        now.handshakes_total(),
                        now.sessions_open,
                        now.handshake_failed,
                        now.unknown_name,
                        now.refused,
                        now.reset,
                        now.stalled,
                        now.accept_errors,
                    );
                    last = now;
                }
                _ = metrics_tick.tick(), if a.metrics_listen.is_some() => {
                    page.set(counters.snapshot().to_prometheus());
                }
                _ = stop.notified() => break,
                _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
            }
        }
        eprintln!("stopping: {} connections live", handle.live_connections());
        handle.shutdown(Duration::from_secs(5)).await;
        let s = counters.snapshot();
        let text = serde_json::to_string_pretty(&s)?;
        outln!("{text}");
        Ok::<_, anyhow::Error>(())
    })?;
    // Stopping on a signal is how serve normally ends: exit 0.
    Ok(ExitCode::SUCCESS)
}
