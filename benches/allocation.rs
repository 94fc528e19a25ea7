//! Allocation at scale: 100,000 participants, 20 site visits, 3–5 ranks each.
//!
//! Run with `cargo bench --bench allocation`. Popularity is skewed (Zipf-like), so the
//! favourite visits overflow and most of the work is rearranging, and so are countries
//! (thirty, the largest about a quarter of everybody), so balancing has work to do.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use rallypoint::domain::allocation::{allocate, Options, Participant, Plan, Visit};

const PARTICIPANTS: usize = 100_000;
const VISITS: usize = 20;
const COUNTRIES: usize = 30;

fn main() {
    let (visits, participants) = instance(0x5EED);
    let configurations = [
        (
            "registration order",
            Options {
                balance_countries: false,
                seed: None,
            },
        ),
        (
            "balanced countries",
            Options {
                balance_countries: true,
                seed: None,
            },
        ),
    ];

    let mut criterion = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .configure_from_args();
    let mut group = criterion.benchmark_group("allocate 100k participants x 20 visits");
    for (name, options) in &configurations {
        group.bench_function(*name, |b| {
            b.iter(|| allocate(black_box(&visits), black_box(&participants), options))
        });
    }
    group.finish();
    criterion.final_summary();

    println!();
    for (name, options) in &configurations {
        let reset = reset_peak_memory();
        let started = Instant::now();
        let plan = allocate(&visits, &participants, options);
        let elapsed = started.elapsed();
        let peak = peak_memory_kib().map_or("unknown".to_owned(), |kib| format!("{} MiB", kib / 1024));
        let scope = if reset { "this run" } else { "whole process" };
        println!("{name}: one run {elapsed:.2?}, peak RSS ({scope}) {peak}");
        describe(&plan);
    }
    println!("\nrerun with: cargo bench --bench allocation");
}

fn describe(plan: &Plan) {
    let stats = &plan.stats;
    println!(
        "  by rank {:?}, unplaced {}, country spread {}",
        stats.by_rank, stats.unplaced, stats.country_spread
    );
}

/// A fixed pseudo-random instance: capacities of 4,000–6,000 seats (about 96,000 in all,
/// so a few thousand people stay out), rankings drawn without replacement with visit v
/// weighted 1 / (v + 1)^0.8.
fn instance(seed: u64) -> (Vec<Visit>, Vec<Participant>) {
    let mut random = SplitMix64(seed);
    let visits = (0..VISITS)
        .map(|_| Visit {
            capacity: 4_000 + random.below(2_001) as u32,
        })
        .collect();
    let popularity: Vec<f64> = (0..VISITS).map(|v| 1.0 / (v as f64 + 1.0).powf(0.8)).collect();
    let country_weight: Vec<f64> = (0..COUNTRIES).map(|c| 1.0 / (c as f64 + 1.0)).collect();
    let participants = (0..PARTICIPANTS)
        .map(|_| {
            let mut weights = popularity.clone();
            let ranks = 3 + random.below(3) as usize;
            let ranked = (0..ranks)
                .map(|_| {
                    let visit = random.pick(&weights);
                    weights[visit] = 0.0;
                    visit
                })
                .collect();
            let country = random.pick(&country_weight);
            Participant {
                ranked,
                country: [b'A' + (country / 26) as u8, b'A' + (country % 26) as u8],
            }
        })
        .collect();
    (visits, participants)
}

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Close enough to uniform in `0..bound` for generating test data.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// An index drawn with probability proportional to its weight.
    fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut point = (self.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        for (index, &weight) in weights.iter().enumerate() {
            if point < weight {
                return index;
            }
            point -= weight;
        }
        weights.iter().rposition(|&w| w > 0.0).expect("some weight")
    }
}

/// Resets the kernel's peak-RSS mark (`VmHWM`) so the next reading covers one run.
fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `VmHWM` from /proc/self/status: the peak resident set size, in KiB (Linux only).
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
