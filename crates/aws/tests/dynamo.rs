//! The DynamoDB lease store against moto_server on 127.0.0.1, started by each test.
//!
//! moto comes from `bash scripts/python-tools` (into `.venv`); set `MOTO_SERVER` to use another binary. When
//! it is missing these tests fail, they do not skip.

mod moto;

use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use logtrim_aws::drill::{self, DrillConfig, DrillReport};
use logtrim_aws::{DynamoLeaseStore, aws_config};
use logtrim_core::Priority;
use logtrim_core::budget::{Accountant, BudgetSpec, KB, LeaseKey, LicenseZone, MB, Timestamp};
use moto::Moto;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn store(endpoint: &str) -> DynamoLeaseStore {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(logtrim_aws::aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "static",
        ))
        .load()
        .await;
    DynamoLeaseStore::from_sdk_config(&conf, "logtrim-budget")
}

/// A fixed-offset zone where it is now between 08:00 and 16:00, so no test run straddles the licence
/// day's midnight; and that day's key.
fn midday_zone() -> (String, String) {
    let now = Timestamp::now();
    for h in -12i32..=12 {
        // POSIX sign convention: Etc/GMT+5 is UTC-5.
        let name = if h == 0 {
            "Etc/GMT".to_string()
        } else if h > 0 {
            format!("Etc/GMT-{h}")
        } else {
            format!("Etc/GMT+{}", -h)
        };
        let zone = LicenseZone::new(&name).unwrap();
        let day = zone.day(now);
        let hours = day.elapsed(now).as_hours();
        if (8..16).contains(&hours) {
            return (name, day.key());
        }
    }
    unreachable!("some offset puts now between 08:00 and 16:00")
}

fn spec(name: &str, zone: &str, limit: u64, chunk: u64) -> BudgetSpec {
    BudgetSpec {
        name: name.into(),
        chunk,
        pacing: false,
        fallback_share: 0.25,
        ..BudgetSpec::new(limit, LicenseZone::new(zone).unwrap())
    }
}

fn sum(reports: &[DrillReport], f: impl Fn(&DrillReport) -> u64) -> u64 {
    reports.iter().map(f).sum()
}

/// The checks shared by the thread and process runs.
fn check_shared_budget(reports: &[DrillReport], counted: u64, kept_in_store: u64, limit: u64, chunk: u64) {
    let n = reports.len() as u64;
    let kept = sum(reports, DrillReport::kept_total);
    let non_critical = kept - sum(reports, |r| r.kept.get(Priority::Critical));
    eprintln!(
        "kept {kept} (non-critical {non_critical}), store counted {counted}, store kept {kept_in_store}, limit {limit}, {n} × chunk {chunk}"
    );
    for r in reports {
        assert!(r.flushed && r.connected_at_end, "{r:?}");
        assert_eq!(r.kept.get(Priority::Critical), r.offered.get(Priority::Critical), "every critical record is kept");
    }
    assert_eq!(kept_in_store, kept, "the store's kept total is every byte kept");
    assert!(
        counted >= kept && counted - kept <= n * chunk,
        "counted {counted} vs kept {kept}: within one chunk per participant"
    );
    assert!(non_critical <= limit + n * chunk, "limit respected within one chunk per participant");
    assert!(non_critical >= limit * 9 / 10, "and mostly used: {non_critical}");
    // Shed in priority order: the lower the priority, the smaller the share kept.
    let share = |p: Priority| sum(reports, |r| r.kept.get(p)) as f64 / sum(reports, |r| r.offered.get(p)) as f64;
    let (low, normal, high) = (share(Priority::Low), share(Priority::Normal), share(Priority::High));
    eprintln!("kept share: low {low:.3}, normal {normal:.3}, high {high:.3}");
    assert!(low < normal && normal < high && high <= 1.0);
}

#[test]
fn concurrent_threads_share_one_budget() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let (zone, day) = midday_zone();
    let (limit, chunk) = (MB, 32 * KB);
    let rt = runtime();
    let admin = rt.block_on(store(&endpoint));
    rt.block_on(admin.create_table()).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (endpoint, spec) = (endpoint.clone(), spec("threads", &zone, limit, chunk));
            thread::spawn(move || {
                runtime().block_on(async {
                    let store = store(&endpoint).await;
                    let mut acc = Accountant::new(spec, Timestamp::now());
                    drill::run(&mut acc, &store, &DrillConfig { records: 2000, seed: i + 1, ..DrillConfig::default() })
                        .await
                })
            })
        })
        .collect();
    let reports: Vec<DrillReport> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let totals = rt.block_on(admin.totals(&LeaseKey { budget: "threads".into(), day })).unwrap();
    check_shared_budget(&reports, totals.counted, totals.kept, limit, chunk);
}

#[test]
fn concurrent_processes_share_one_budget() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let (zone, day) = midday_zone();
    let (limit, chunk) = (MB, 32 * KB); // as passed on the command line below
    let rt = runtime();
    let admin = rt.block_on(store(&endpoint));
    rt.block_on(admin.create_table()).unwrap();
    let children: Vec<_> = (0..4)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_budget-participant"))
                .args(["--endpoint", &endpoint, "--table", "logtrim-budget", "--budget", "processes"])
                .args(["--limit", "1MB", "--chunk", "32KB", "--records", "2000", "--seed", &(i + 10).to_string()])
                .args(["--zone", &zone])
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start budget-participant")
        })
        .collect();
    let reports: Vec<DrillReport> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "participant failed: {}", String::from_utf8_lossy(&out.stderr));
            DrillReport::from_lines(&String::from_utf8_lossy(&out.stdout))
        })
        .collect();
    let totals = rt.block_on(admin.totals(&LeaseKey { budget: "processes".into(), day })).unwrap();
    check_shared_budget(&reports, totals.counted, totals.kept, limit, chunk);
}

/// moto is killed two seconds into the run and restarted (empty) three seconds later: the participants fall
/// back to their local share, keep working, and once the table is back report what they kept meanwhile.
#[test]
fn losing_the_store_falls_back_and_recovers() {
    let mut moto = Moto::start();
    let endpoint = moto.endpoint();
    let (zone, day) = midday_zone();
    let (limit, chunk) = (50 * MB, 64 * KB);
    let rt = runtime();
    let admin = rt.block_on(store(&endpoint));
    rt.block_on(admin.create_table()).unwrap();
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let (endpoint, spec) = (endpoint.clone(), spec("outage", &zone, limit, chunk));
            thread::spawn(move || {
                runtime().block_on(async {
                    let store = store(&endpoint).await;
                    let mut acc = Accountant::new(spec, Timestamp::now());
                    let cfg = DrillConfig {
                        records: u64::MAX,
                        seed: i + 20,
                        duration: Some(Duration::from_secs(12)),
                        pause: Duration::from_millis(2),
                    };
                    drill::run(&mut acc, &store, &cfg).await
                })
            })
        })
        .collect();
    thread::sleep(Duration::from_secs(2));
    moto.kill();
    thread::sleep(Duration::from_secs(3));
    moto.restart();
    rt.block_on(admin.create_table()).unwrap();
    let reports: Vec<DrillReport> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let totals = rt.block_on(admin.totals(&LeaseKey { budget: "outage".into(), day })).unwrap();
    let in_fallback = sum(&reports, |r| r.kept_in_fallback);
    let kept = sum(&reports, DrillReport::kept_total);
    eprintln!("{reports:#?}\nkept {kept}, kept in fallback {in_fallback}, new table {totals:?}");
    for r in &reports {
        assert!(r.saw_fallback, "fell back: {r:?}");
        assert!(r.store_failures > 0);
        assert!(r.kept_in_fallback > 0, "kept working on the local share");
        // The local share: a quarter of what was left, plus half a chunk on credit.
        assert!(r.kept_in_fallback <= limit / 4 + chunk / 2);
        assert!(r.connected_at_end && r.flushed, "recovered: {r:?}");
        assert_eq!(r.kept.get(Priority::Critical), r.offered.get(Priority::Critical));
    }
    // The restarted moto lost the table; after recovery it holds everything kept since the outage began.
    assert!(totals.kept >= in_fallback && totals.kept <= kept, "{totals:?}");
    // The old table's leases are gone with it: the new count trails what was kept by at most the chunks the
    // participants held when it vanished (a real table keeps its items, so this gap is moto's restart).
    assert!(totals.counted.abs_diff(totals.kept) <= 2 * chunk, "{totals:?}");
}
