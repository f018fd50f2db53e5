//! What arrives, in the normal case and when HEC answers with errors.

use std::time::Duration;

use crate::support::hec::{Mode, Receiver};
use crate::support::*;

#[test]
fn kept_lines_arrive_and_dropped_lines_do_not() {
    let hec = Receiver::start(TOKEN);
    hec.state.keep_events.store(true, std::sync::atomic::Ordering::Relaxed);
    let s = Setup::new("deliver", &hec.url());
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    // Files written before the start are read from the beginning.
    let mut cri = LogWriter::new(s.log_path("web-1", "shop", "nginx"), false);
    let mut docker = LogWriter::new(s.log_path("api-2", "shop", "app"), true);
    let mut quiet = LogWriter::new(s.log_path("noisy-3", "quiet", "chatter"), false);
    for i in 0..300 {
        for (w, tag) in [(&mut cri, "c"), (&mut docker, "d")] {
            let id = format!("{tag}{i}");
            let drop = i % 3 == 0;
            w.line(&id, drop, 40);
            if drop { dropped.push(id) } else { kept.push(id) }
        }
        let id = format!("q{i}");
        quiet.line(&id, false, 10);
        dropped.push(id);
    }
    let long_cri = cri.split_line("cp0", 3, 5000);
    let long_docker = docker.split_line("dp0", 4, 4000);
    kept.extend(["cp0".to_string(), "dp0".to_string()]);
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    // A file created while running, and more lines.
    let mut late = LogWriter::new(s.log_path("late-4", "shop", "worker"), false);
    for i in 0..200 {
        let id = format!("l{i}");
        late.line(&id, false, 20);
        kept.push(id);
    }
    wait_until(Duration::from_secs(20), "every kept line", Some(&fwd), || hec.ids().len() >= kept.len());
    std::thread::sleep(Duration::from_millis(500));
    let dups = check_delivery(&hec.ids(), &kept, &dropped);
    assert_eq!(dups, 0, "no failures, so no duplicates");

    // Records look like Fluent Bit's kubernetes records, events carry the metadata.
    let raw = hec.state.received.lock().unwrap().raw.clone();
    let ev = raw.iter().find(|v| v["event"]["log"].as_str().is_some_and(|l| l.starts_with("id=c1 "))).unwrap();
    assert_eq!(ev["source"], "shop/web-1/nginx");
    assert_eq!(ev["sourcetype"], "kube:container:nginx");
    assert_eq!(ev["host"], "test-node");
    assert!(ev["time"].as_f64().unwrap() > 1.7e9, "{ev}");
    assert_eq!(ev["event"]["stream"], "stdout");
    assert_eq!(ev["event"]["kubernetes"]["namespace_name"], "shop");
    assert_eq!(ev["event"]["kubernetes"]["container_name"], "nginx");
    assert_eq!(ev["event"]["kubernetes"]["docker_id"], CID);
    assert!(ev["event"]["log"].as_str().unwrap().contains(r#"msg="hello \ world""#), "{ev}");
    let joined = |id: &str| raw.iter().find_map(|v| v["event"]["log"].as_str().filter(|l| l.starts_with(&format!("id={id} "))).map(String::from));
    assert_eq!(joined("cp0").as_deref(), Some(long_cri.as_str()), "CRI P lines joined");
    assert_eq!(joined("dp0").map(|l| l.trim_end().to_string()).as_deref(), Some(long_docker.as_str()), "Docker parts joined");

    // Metrics: per rule, per status, nothing in flight.
    wait_until(Duration::from_secs(5), "per-rule metrics", Some(&fwd), || {
        fwd.metric("logtrim_records_total", r#"rule="drop-quiet-namespace",action="drop""#) == 300.0
    });
    assert_eq!(fwd.metric("logtrim_records_total", r#"rule="drop-quiet-namespace",action="drop""#), 300.0);
    assert_eq!(fwd.metric("logtrim_records_total", r#"rule="drop-marked",action="drop""#), 200.0);
    assert!(fwd.metric("logtrim_hec_requests_total", r#"status="200""#) >= 1.0);
    wait_until(Duration::from_secs(5), "checkpoint lag 0", Some(&fwd), || fwd.metric("logtrim_checkpoint_lag_bytes", "") == 0.0);
    assert_eq!(fwd.get("/healthz").unwrap().0, 200);

    // Hot reload: a broken file is rejected and the running rules stay; a good one takes over.
    std::fs::write(&s.rules, "rules:\n  - name: broken\n    when: log ~~ nonsense\n").unwrap();
    wait_until(Duration::from_secs(10), "rejected reload", Some(&fwd), || fwd.metric("logtrim_rules_reloads_total", r#"result="error""#) == 1.0);
    assert_eq!(fwd.metric("logtrim_rules_last_reload_ok", ""), 0.0);
    assert!(fwd.log_text().contains("Rejected the changed rule file"), "{}", fwd.log_text());
    let more: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
    for id in &more {
        cri.line(id, true, 5);
    }
    std::fs::write(&s.rules, RULES.replace("log contains \"DROP\"", "log contains \"NEVER-MATCHES\"")).unwrap();
    wait_until(Duration::from_secs(10), "accepted reload", Some(&fwd), || fwd.metric("logtrim_rules_reloads_total", r#"result="ok""#) == 1.0);
    std::thread::sleep(Duration::from_millis(500));
    let after: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    for id in &after {
        cri.line(id, true, 5);
    }
    wait_until(Duration::from_secs(10), "lines kept by the new rules", Some(&fwd), || after.iter().all(|id| hec.ids().contains_key(id)));
    assert!(more.iter().all(|id| !hec.ids().contains_key(id)), "lines before the reload were decided by the old rules");
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0));
}

#[test]
fn indexer_acknowledgement_is_awaited() {
    let hec = Receiver::start(TOKEN);
    hec.state.ack.store(true, std::sync::atomic::Ordering::Relaxed);
    *hec.state.ack_delay.lock().unwrap() = Duration::from_millis(700);
    let mut s = Setup::new("ack", &hec.url());
    s.set("LOGTRIM_HEC_ACK", "true");
    let mut w = LogWriter::new(s.log_path("web-1", "shop", "nginx"), false);
    let kept: Vec<String> = (0..500).map(|i| format!("a{i}")).collect();
    for id in &kept {
        w.line(id, false, 30);
    }
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    wait_until(Duration::from_secs(20), "every line", Some(&fwd), || hec.ids().len() >= kept.len());
    // Received but not acknowledged yet: the checkpoint has not moved past it.
    assert!(fwd.metric("logtrim_checkpoint_lag_bytes", "") > 0.0 || fwd.metric("logtrim_hec_acks_pending", "") > 0.0);
    wait_until(Duration::from_secs(10), "acknowledged and committed", Some(&fwd), || {
        fwd.metric("logtrim_checkpoint_lag_bytes", "") == 0.0 && fwd.metric("logtrim_hec_acks_pending", "") == 0.0
    });
    assert!(hec.state.ack_polls.load(std::sync::atomic::Ordering::Relaxed) > 0);
    check_delivery(&hec.ids(), &kept, &[]);
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0));
}

#[test]
fn rejected_batches_go_to_the_dead_letter_directory() {
    let hec = Receiver::start(TOKEN);
    let s = Setup::new("reject", &hec.url());
    let mut w = LogWriter::new(s.log_path("web-1", "shop", "nginx"), false);
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    for (mode, status, tag) in [(Mode::InvalidToken, 403, "t"), (Mode::InvalidData, 400, "v")] {
        hec.set_mode(mode);
        for i in 0..50 {
            w.line(&format!("{tag}{i}"), false, 10);
        }
        wait_until(Duration::from_secs(10), "a rejection", Some(&fwd), || hec.status_count(status) >= 1);
    }
    wait_until(Duration::from_secs(10), "dead letters", Some(&fwd), || fwd.metric("logtrim_dead_letter_events_total", "") >= 100.0);
    hec.set_mode(Mode::Ok);
    // Not retried forever: the checkpoint moves on, and new lines flow.
    for i in 0..10 {
        w.line(&format!("ok{i}"), false, 10);
    }
    wait_until(Duration::from_secs(10), "lines after the rejections", Some(&fwd), || hec.ids().len() == 10);
    let index = std::fs::read_to_string(s.state.join("dead-letter/index.ndjson")).unwrap();
    assert!(index.contains(r#""code":4"#) && index.contains(r#""code":6"#), "{index}");
    let files = std::fs::read_dir(s.state.join("dead-letter")).unwrap().count();
    assert!(files >= 3, "batch files and the index");
    wait_until(Duration::from_secs(5), "checkpoint lag 0", Some(&fwd), || fwd.metric("logtrim_checkpoint_lag_bytes", "") == 0.0);
}

#[test]
fn the_daily_budget_sheds_by_priority_and_is_exported() {
    let hec = Receiver::start(TOKEN);
    let s = Setup::new("budget", &hec.url());
    std::fs::write(
        &s.rules,
        r#"name: budget-e2e
rules:
  - name: critical
    when: log contains "CRIT"
    action: keep
    priority: critical
default:
  action: keep
  priority: normal
budget:
  limit: 30KB
  chunk: 4KB
  time_zone: UTC
  pacing: false
"#,
    )
    .unwrap();
    let mut w = LogWriter::new(s.log_path("web-1", "shop", "nginx"), false);
    let mut fwd = s.start("a");
    fwd.wait_ready(Duration::from_secs(20));
    let normal: Vec<String> = (0..600).map(|i| format!("n{i}")).collect();
    for id in &normal {
        w.line(id, false, 20);
        std::thread::sleep(Duration::from_millis(2));
    }
    // Critical lines after the budget is spent still go through.
    let crit: Vec<String> = (0..30).map(|i| format!("x{i}")).collect();
    for id in &crit {
        w.raw(&format!("2026-11-22T10:00:00.000000001Z stdout F id={id} CRIT payment failed\n"));
    }
    wait_until(Duration::from_secs(20), "the critical lines", Some(&fwd), || crit.iter().all(|id| hec.ids().contains_key(id)));
    wait_until(Duration::from_secs(10), "budget metrics", Some(&fwd), || fwd.metric("logtrim_budget_limit_bytes", "") == 30_000.0);
    let sent = || normal.iter().filter(|id| hec.ids().contains_key(*id)).count() as f64;
    wait_until(Duration::from_secs(10), "each normal line either sent or shed", Some(&fwd), || {
        sent() + fwd.metric("logtrim_shed_records_total", "") == 600.0
    });
    let shed = fwd.metric("logtrim_shed_records_total", "");
    assert!(shed > 100.0, "normal lines beyond 95% of 30 KB are shed: {shed}");
    assert!(fwd.metric("logtrim_budget_spent_bytes", "") >= 28_000.0);
    assert!(fwd.metric("logtrim_budget_shedding_level", "") >= 2.0);
    assert!(fwd.metric("logtrim_budget_shed_records", r#"priority="normal""#) > 100.0);
    assert!(fwd.metric("logtrim_budget_projected_bytes", "") > 0.0);
    assert!(s.state.join("budget.json").exists(), "the durable file store in the state dir");
    fwd.signal("TERM");
    assert_eq!(fwd.wait_exit(Duration::from_secs(10)).0, Some(0));
}
