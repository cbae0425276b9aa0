//! The write-up of `benches/compare.rs` (its only includer, through
//! `#[path]`): the machine and versions, the markdown table with goro's
//! ratios and the losses, and the SVG bar chart drawn with plotters.

use std::path::Path;
use std::process::Command;

use super::{BUDGET, COMMAND, GORO, MAX_REPS, NOTES, Row, SYSTEMS, Sizes};

/// The first line of `cmd args`' output, or `?`.
pub(crate) fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "?".to_string())
}

pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".to_string())
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_string())
}

/// The locked versions of the peer crates (from `Cargo.lock`).
pub(crate) fn crate_versions() -> String {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"))
        .unwrap_or_default();
    let version = |name: &str| {
        let at = lock.find(&format!("name = \"{name}\"\nversion = \""))?;
        let rest = &lock[at..];
        let v = rest.split('"').nth(3)?;
        Some(format!("{name} {v}"))
    };
    let mut out = vec![format!("goro {}", env!("CARGO_PKG_VERSION"))];
    for name in ["may", "tokio", "crossbeam-channel", "flume", "plotters"] {
        out.push(version(name).unwrap_or_else(|| format!("{name} ?")));
    }
    out.join(", ")
}

fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// goro / peer; bold where goro is slower (or bigger).
fn fmt_ratio(goro: Option<f64>, peer: Option<f64>) -> String {
    match (goro, peer) {
        (Some(a), Some(b)) if b > 0.0 => {
            let r = a / b;
            if r > 1.0 {
                format!("**{r:.2}**")
            } else {
                format!("{r:.2}")
            }
        }
        _ => "-".to_string(),
    }
}

pub(crate) struct Env {
    pub(crate) date: String,
    pub(crate) machine: String,
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) load_before: String,
    pub(crate) load_after: String,
    pub(crate) rustc: String,
    pub(crate) go: String,
    pub(crate) crates: String,
}

pub(crate) fn markdown(rows: &[Row], env: &Env, sz: Sizes, full: bool) -> String {
    let mut md = String::new();
    md.push_str("# goro beside its peers\n\n");
    md.push_str(&format!(
        "Rerun: `{COMMAND}` (from the repository root; writes this file and \
         `docs/bench.svg`; add `GORO_BENCH_FULL=1` for the issues' full sizes).\n\n"
    ));
    md.push_str(&format!(
        "Measured {} on {} ({}, {} cores{}), load average {} before and {} after the run; \
         {}; {}; {}.\n\n",
        env.date,
        env.machine,
        env.cpu,
        env.cores,
        if full { ", full sizes" } else { "" },
        env.load_before,
        env.load_after,
        env.rustc,
        env.go,
        env.crates,
    ));
    md.push_str(&format!(
        "Each cell: one warm-up, then the median of {} to {MAX_REPS} runs (as many as fit \
         in {BUDGET:?}; Go: {} runs after its own warm-up; the sieve: the median of {} runs \
         without warm-up, each in a process of its own, for goro and Go alike); \
         the same size N for every system in a row. goro, Go (GOMAXPROCS), may and tokio \
         use 2 workers except in the 1-worker rows; crossbeam-channel, flume and std \
         run on OS threads (std is `std::sync::mpsc`, and `std::thread` for spawn). \
         Lower is better everywhere; a ratio is goro / peer, **bold** where goro is slower. \
         The machine is shared (see the load): compare within the table, \
         not with another run.\n\n",
        sz.reps, sz.go_reps, sz.sieve_reps
    ));
    md.push_str("![goro / peer per workload](bench.svg)\n\n");
    md.push_str("| workload | unit | N |");
    for s in SYSTEMS {
        md.push_str(&format!(" {s} |"));
    }
    for s in &SYSTEMS[1..] {
        md.push_str(&format!(" goro/{s} |"));
    }
    md.push_str("\n|---|---|---:|");
    for _ in 0..SYSTEMS.len() * 2 - 1 {
        md.push_str("---:|");
    }
    md.push('\n');
    for r in rows {
        md.push_str(&format!("| {} | {} | {} |", r.name, r.unit, r.size));
        for v in r.cells {
            md.push_str(&format!(" {} |", fmt_value(v)));
        }
        for v in &r.cells[1..] {
            md.push_str(&format!(" {} |", fmt_ratio(r.cells[GORO], *v)));
        }
        md.push('\n');
    }
    let notes = NOTES.lock().unwrap();
    if !notes.is_empty() {
        md.push_str("\nMissing cells:\n\n");
        for n in notes.iter() {
            md.push_str(&format!("- {n}\n"));
        }
    }
    md.push_str("\n## Where goro loses in this run (goro / peer above 1)\n\n");
    let mut any = false;
    for r in rows {
        let losses: Vec<String> = (1..SYSTEMS.len())
            .filter_map(|i| {
                let (g, p) = (r.cells[GORO]?, r.cells[i]?);
                (p > 0.0 && g > p).then(|| format!("{} ({:.2}x)", SYSTEMS[i], g / p))
            })
            .collect();
        if !losses.is_empty() {
            any = true;
            md.push_str(&format!("- {}: behind {}\n", r.name, losses.join(", ")));
        }
    }
    if !any {
        md.push_str("- nowhere\n");
    }
    md
}

/// The grouped bar chart: per workload, goro / peer for each peer, on a
/// log scale around 1 (above 1: goro is slower).
pub(crate) fn chart(
    rows: &[Row],
    path: &Path,
    title: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    let colors = [
        RGBColor(0x00, 0x7d, 0x9c), // Go: gopher blue
        RGBColor(0x8e, 0x44, 0xad), // may
        RGBColor(0xe6, 0x7e, 0x22), // tokio
        RGBColor(0x27, 0xae, 0x60), // crossbeam-channel
        RGBColor(0xc0, 0x39, 0x2b), // flume
        RGBColor(0x7f, 0x8c, 0x8d), // std
    ];
    let ratios: Vec<[Option<f64>; 6]> = rows
        .iter()
        .map(|r| {
            let mut out = [None; 6];
            for (i, o) in out.iter_mut().enumerate() {
                if let (Some(g), Some(p)) = (r.cells[GORO], r.cells[i + 1])
                    && g > 0.0
                    && p > 0.0
                {
                    *o = Some(g / p);
                }
            }
            out
        })
        .collect();
    let all = ratios.iter().flatten().flatten().copied();
    let (lo, hi) = all.fold((1.0f64, 1.0f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
    let (lo, hi) = (lo / 1.5, hi * 1.5);

    let width = 220 + 60 * (rows.len() as u32 + 3);
    let root = SVGBackend::new(path, (width, 820)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(190)
        .y_label_area_size(80)
        // Room on the right for the legend, clear of every bar.
        .build_cartesian_2d(0f64..rows.len() as f64 + 2.5, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_label_formatter(&|_| String::new())
        .y_desc("goro time / peer time (log; above 1: goro slower)")
        .y_label_formatter(&|v| {
            let digits = (-v.log10().floor()).max(0.0) as usize;
            format!("{v:.digits$}")
        })
        .draw()?;
    // The line at 1: as fast as goro.
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 1.0), (rows.len() as f64, 1.0)],
        BLACK.stroke_width(2),
    )))?;
    let bar = 0.8 / colors.len() as f64;
    for (p, color) in colors.iter().enumerate() {
        let bars = ratios.iter().enumerate().filter_map(move |(i, rs)| {
            let r = rs[p]?;
            let x0 = i as f64 + 0.1 + p as f64 * bar;
            Some(Rectangle::new([(x0, 1.0), (x0 + bar, r)], color.filled()))
        });
        chart
            .draw_series(bars)?
            .label(SYSTEMS[p + 1])
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    // Workload names under the bars, turned to read downwards.
    let style = TextStyle::from(("sans-serif", 14)).transform(FontTransform::Rotate90);
    for (i, r) in rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, lo));
        root.draw(&Text::new(r.name.clone(), (x - 7, y + 8), style.clone()))?;
    }
    root.present()?;
    Ok(())
}
