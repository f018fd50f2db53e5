//! Labelled log files in the shapes of real ones, for measuring template mining.
//!
//! The real samples that show these shapes (Loghub's HDFS, Hadoop, OpenStack, ZooKeeper and Apache error
//! logs; Grafana's Kafka, Vault, Kubernetes klog, logfmt and Drone JSON captures; syslog) may not be
//! copied here, so each generator writes lines of its own with the same layout and the same quirks —
//! headers of timestamps, pids, levels, thread names with spaces and nested brackets, negative block
//! ids, `ip:port` with a leading slash, lists of ids of any length, paths that differ in words, host
//! names with and without digits, events that differ in one word (`VM Started`, `VM Paused`), values
//! without digits (user names, topics), `key=value` pairs, JSON app logs — and labels each line with the
//! template that wrote it. A template is an event: its fixed text with holes for values; events whose
//! text differs in a word are different templates.
//!
//! Some lines are hard on purpose, as real logs are: a user name drawn from three names is, to the
//! labels, a value, though nothing in three words tells a value from three events.

use crate::corpus::Rng;

/// One labelled file.
#[derive(Clone, Debug)]
pub struct Shape {
    /// What it imitates.
    pub name: &'static str,
    /// The lines, without newlines.
    pub lines: Vec<String>,
    /// The template of each line.
    pub labels: Vec<&'static str>,
}

/// A template: its label, its weight, what the header is given (a level, a component), and how the
/// message is written.
type Template = (&'static str, u64, &'static str, fn(&mut Rng) -> String);

/// Draws `n` lines from weighted templates, each behind the header `head` writes.
fn draw(name: &'static str, seed: u64, n: usize, templates: &[Template], head: fn(&mut Rng, &str) -> String) -> Shape {
    let mut rng = Rng(seed ^ 0x05ee_d0f5_a9e5);
    let total: u64 = templates.iter().map(|t| t.1).sum();
    let (mut lines, mut labels) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let mut x = rng.below(total);
        let t = templates.iter().find(|t| {
            if x < t.1 {
                return true;
            }
            x -= t.1;
            false
        });
        let (label, _, level, body) = t.expect("weights cover the draw");
        let h = head(&mut rng, level);
        let b = body(&mut rng);
        lines.push(if h.is_empty() { b } else { format!("{h}{b}") });
        labels.push(*label);
    }
    Shape { name, lines, labels }
}

fn ip(r: &mut Rng) -> String {
    format!("10.{}.{}.{}", r.range(250, 251), r.below(256), r.range(1, 254))
}

fn port(r: &mut Rng) -> u64 {
    r.range(1024, 65_000)
}

/// A block id, negative half the time.
fn blk(r: &mut Rng) -> String {
    let id = r.range(1 << 40, 1 << 62);
    if r.chance(500) { format!("blk_-{id}") } else { format!("blk_{id}") }
}

fn time_hms(r: &mut Rng) -> String {
    format!("{:02}:{:02}:{:02}", r.below(24), r.below(60), r.below(60))
}

const HOSTS: &[&str] = &["buildbox", "MININT-FN5", "msra-sa-41", "msra-sa-39", "ci-runner", "04DN8IQ"];
const USERS: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];

/// HDFS DataNode and NameNode: `081109 203615 148 INFO dfs.Component: …`.
pub fn hdfs(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("receiving", 30, "INFO", |r| format!("dfs.DataNode$DataXceiver: Receiving block {} src: /{}:{} dest: /{}:{}", blk(r), ip(r), port(r), ip(r), 50010)),
        ("received", 30, "INFO", |r| format!("dfs.DataNode$PacketResponder: Received block {} of size {} from /{}", blk(r), r.range(1, 1 << 26), ip(r))),
        ("responder", 30, "INFO", |r| format!("dfs.DataNode$PacketResponder: Responder {} for block {} closing", r.below(3), blk(r))),
        ("stored", 30, "INFO", |r| format!("dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: {}:50010 is added to {} size {}", ip(r), blk(r), r.range(1, 1 << 26))),
        ("deleting", 25, "INFO", |r| {
            let disk = *r.pick(&["hdfs", "data", "spare"]);
            let sub = if r.chance(500) { format!("subdir{}/", r.below(64)) } else { String::new() };
            let b = blk(r);
            format!("dfs.FSDataset: Deleting block {b} file /mnt/{disk}/current/{sub}{b}")
        }),
        ("ask-delete", 5, "INFO", |r| {
            let list: Vec<String> = (0..r.range(1, 9)).map(|_| blk(r)).collect();
            format!("dfs.FSNamesystem: BLOCK* ask {}:50010 to delete {}", ip(r), list.join(" "))
        }),
        ("allocate", 12, "INFO", |r| {
            let job = *r.pick(&["rand", "sortrand", "randtxt", "wordcount"]);
            format!("dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /user/root/{job}/_temporary/_task_200811092030_0001_m_{:06}_0/part-{:05}. {}", r.below(999), r.below(999), blk(r))
        }),
        ("serve-failed", 8, "WARN", |r| format!("dfs.DataNode$DataXceiver: {}:50010:Got exception while serving {} to /{}:", ip(r), blk(r), ip(r))),
        ("verified", 3, "INFO", |r| format!("dfs.DataBlockScanner: Verification succeeded for {}", blk(r))),
    ];
    draw("hdfs", seed, n, T, |r, level| format!("0811{:02} {:02}{:02}{:02} {} {level} ", r.range(9, 11), r.below(24), r.below(60), r.below(60), r.range(10, 900)))
}

/// A Hadoop MapReduce application master: log4j with thread names of several words.
pub fn hadoop(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("progress", 30, "INFO", |r| {
            let kind = *r.pick(&["m", "r"]);
            format!("org.apache.hadoop.mapred.TaskAttemptListenerImpl: Progress of TaskAttempt attempt_1445144423722_0020_{kind}_{:06}_{} is : {}.{}", r.below(20), r.below(2), r.below(2), r.below(1000))
        }),
        ("address-change", 25, "WARN", |r| {
            let h = *r.pick(HOSTS);
            let p = *r.pick(&[8030, 9000]);
            format!("org.apache.hadoop.ipc.Client: Address change detected. Old: {h}/{}:{p} New: {h}:{p}", ip(r))
        }),
        ("lease", 20, "WARN", |r| format!("org.apache.hadoop.hdfs.LeaseRenewer: Failed to renew lease for [DFSClient_NONMAPREDUCE_{}_1] for {} seconds.  Will retry shortly ...", r.range(1 << 20, 1 << 30), r.below(4000))),
        ("resolved", 8, "INFO", |r| format!("org.apache.hadoop.yarn.util.RackResolver: Resolved {}.fareast.corp.example.com to /default-rack", r.pick(HOSTS))),
        ("headroom", 10, "INFO", |r| format!("org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: Recalculating schedule, headroom=<memory:{}, vCores:{}>", r.below(1 << 14), r.below(64))),
        ("retrying", 10, "INFO", |r| format!("org.apache.hadoop.ipc.Client: Retrying connect to server: {}:8030. Already tried {} time(s); retry policy is RetryUpToMaximumCountWithFixedSleep(maxRetries=10, sleepTime=1000 MILLISECONDS)", r.pick(HOSTS), r.below(10))),
        ("new-unassigned", 4, "INFO", |r| format!("org.apache.hadoop.mapreduce.v2.app.job.impl.TaskAttemptImpl: attempt_1445144423722_0020_m_{:06}_0 TaskAttempt Transitioned from NEW to UNASSIGNED", r.below(20))),
        ("assigned-running", 4, "INFO", |r| format!("org.apache.hadoop.mapreduce.v2.app.job.impl.TaskAttemptImpl: attempt_1445144423722_0020_m_{:06}_0 TaskAttempt Transitioned from ASSIGNED to RUNNING", r.below(20))),
        ("running-succeeded", 4, "INFO", |r| format!("org.apache.hadoop.mapreduce.v2.app.job.impl.TaskAttemptImpl: attempt_1445144423722_0020_m_{:06}_0 TaskAttempt Transitioned from RUNNING to SUCCEEDED", r.below(20))),
        ("rm-error", 8, "ERROR", |_| "org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: ERROR IN CONTACTING RM.".to_string()),
        ("container-assigned", 5, "INFO", |r| format!("org.apache.hadoop.mapreduce.v2.app.rm.RMContainerAllocator: Assigned container container_1445144423722_0020_01_{:06} to attempt_1445144423722_0020_m_{:06}_0", r.below(40), r.below(20))),
    ];
    draw("hadoop", seed, n, T, |r, level| {
        let thread = match r.below(5) {
            0 => "main".to_string(),
            1 => "AsyncDispatcher event handler".to_string(),
            2 => format!("IPC Server handler {} on 62270", r.below(30)),
            3 => "RMCommunicator Allocator".to_string(),
            _ => format!("ContainerLauncher #{}", r.below(9)),
        };
        format!("2015-10-18 {},{:03} {level} [{thread}] ", time_hms(r), r.below(1000))
    })
}

/// OpenStack nova: a file-name prefix, a request context in brackets, wsgi request lines in app logs.
pub fn openstack(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("get", 45, "nova.osapi_compute.wsgi.server", |r| {
            let path = match r.below(3) {
                0 => format!("/v2/{}/servers/detail", r.hex(32)),
                1 => format!("/v2/{}/flavors/{}", r.hex(32), r.below(10)),
                _ => "/latest/meta-data/".to_string(),
            };
            format!("{} \"GET {path} HTTP/1.1\" status: {} len: {} time: 0.{:07}", ip(r), r.pick(&[200, 200, 404]), r.range(200, 2000), r.below(10_000_000))
        }),
        ("post", 8, "nova.osapi_compute.wsgi.server", |r| {
            format!("{} \"POST /v2/{}/os-server-external-events HTTP/1.1\" status: {} len: {} time: 0.{:07}", ip(r), r.hex(32), r.pick(&[200, 202]), r.range(200, 2000), r.below(10_000_000))
        }),
        ("vm-started", 5, "nova.compute.manager", |r| format!("[instance: {}] VM Started (Lifecycle Event)", r.uuid())),
        ("vm-paused", 5, "nova.compute.manager", |r| format!("[instance: {}] VM Paused (Lifecycle Event)", r.uuid())),
        ("vm-resumed", 8, "nova.compute.manager", |r| format!("[instance: {}] VM Resumed (Lifecycle Event)", r.uuid())),
        ("vm-stopped", 5, "nova.compute.manager", |r| format!("[instance: {}] VM Stopped (Lifecycle Event)", r.uuid())),
        ("took-spawn", 5, "nova.compute.manager", |r| format!("[instance: {}] Took {}.{:02} seconds to spawn the instance on the hypervisor.", r.uuid(), r.below(30), r.below(100))),
        ("took-build", 5, "nova.compute.manager", |r| format!("[instance: {}] Took {}.{:02} seconds to build instance.", r.uuid(), r.below(30), r.below(100))),
        ("image-checking", 6, "nova.virt.libvirt.imagecache", |r| format!("image {} at (/var/lib/nova/instances/_base/{}): checking", r.uuid(), r.hex(40))),
        ("active-base", 6, "nova.virt.libvirt.imagecache", |r| format!("Active base files: /var/lib/nova/instances/_base/{}", r.hex(40))),
        ("claim", 4, "nova.compute.claims", |r| format!("[instance: {}] Attempting claim: memory {} MB, disk {} GB, vcpus {} CPU", r.uuid(), r.pick(&[512, 2048]), r.pick(&[1, 20]), r.range(1, 4))),
    ];
    draw("openstack", seed, n, T, |r, component| {
        let ctx = if r.chance(300) { "[-]".to_string() } else { format!("[req-{} {} {} - - -]", r.uuid(), r.hex(32), r.hex(32)) };
        let file = if component.contains("wsgi") { "nova-api.log.1.2017-05-16_13:53:08" } else { "nova-compute.log.1.2017-05-16_13:55:31" };
        format!("{file} 2017-05-16 {}.{:03} {} INFO {component} {ctx} ", time_hms(r), r.below(1000), r.range(2000, 30_000))
    })
}

/// ZooKeeper: a dash between the time and the level, nested brackets for the thread.
pub fn zookeeper(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("notification", 15, "INFO", |r| format!("Notification time out: {}", r.pick(&[400, 800, 1600, 3200, 6400, 60000]))),
        ("conn-request", 20, "INFO", |r| format!("Received connection request /{}:{}", ip(r), port(r))),
        ("broken", 20, "WARN", |r| format!("Connection broken for id {}, my id = {}, error = ", r.range(1, 3), r.range(1, 3))),
        ("leaving", 20, "WARN", |_| "Send worker leaving thread".to_string()),
        ("interrupted", 15, "WARN", |_| "Interrupted while waiting for message on queue".to_string()),
        ("expiring", 5, "INFO", |r| format!("Expiring session 0x{}, timeout of {}ms exceeded", r.hex(15), r.pick(&[10000, 20000]))),
        ("accepted", 5, "INFO", |r| format!("Accepted socket connection from /{}:{}", ip(r), port(r))),
    ];
    draw("zookeeper", seed, n, T, |r, level| {
        let thread = match r.below(3) {
            0 => format!("QuorumPeer[myid={}]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774", r.range(1, 3)),
            1 => format!("/{}:3888:QuorumCnxManager$Listener@493", ip(r)),
            _ => format!("SendWorker:{}:QuorumCnxManager$SendWorker@688", r.range(1 << 30, 1 << 37)),
        };
        format!("2015-07-29 {},{:03} - {level:<5} [{thread}] - ", time_hms(r), r.below(1000))
    })
}

/// Apache httpd's error log: a bracketed date with day and month names.
pub fn apache_error(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("found-child", 40, "notice", |r| format!("jk2_init() Found child {} in scoreboard slot {}", r.range(1000, 30_000), r.below(12))),
        ("init-ok", 25, "notice", |_| "workerEnv.init() ok /etc/httpd/conf/workers2.properties".to_string()),
        ("error-state", 25, "error", |r| format!("mod_jk child workerEnv in error state {}", r.range(6, 9))),
        ("forbidden", 5, "error", |r| format!("[client {}] Directory index forbidden by rule: /var/www/{}/", ip(r), r.pick(&["html", "html/static", "icons", "cgi-bin", "manual"]))),
        ("cant-find", 5, "error", |r| format!("jk2_init() Can't find child {} in scoreboard", r.range(1000, 30_000))),
    ];
    draw("apache-error", seed, n, T, |r, level| {
        let day = *r.pick(&["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]);
        let month = *r.pick(&["Nov", "Dec", "Jan"]);
        format!("[{day} {month} {:02} {} 2005] [{level}] ", r.range(1, 28), time_hms(r))
    })
}

/// Kafka brokers: a bracketed time, then a bracketed component with `key=value` context.
pub fn kafka(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("rolled", 30, "LocalLog", |r| format!("Rolled new log segment at offset {} in {} ms. (kafka.log.LocalLog)", r.below(1 << 30), r.below(20))),
        ("snapshot", 30, "ProducerStateManager", |r| format!("Wrote producer snapshot at offset {} with {} producer ids in {} ms. (kafka.log.ProducerStateManager)", r.below(1 << 30), r.below(5), r.below(20))),
        ("deleting", 20, "UnifiedLog", |r| format!("Deleting segment LogSegment(baseOffset={}, size={}, lastModifiedTime={}, largestRecordTimestamp=Some({})) due to retention size breach. (kafka.log.LocalLog$)", r.below(1 << 30), r.below(1 << 30), r.below(1 << 40), r.below(1 << 40))),
        ("incremented", 20, "UnifiedLog", |r| format!("Incremented log start offset to {} due to segment deletion (kafka.log.UnifiedLog)", r.below(1 << 30))),
    ];
    draw("kafka", seed, n, T, |r, component| {
        let topic = *r.pick(&["orders", "payments-events", "audit", "clicks", "inventory-changes", "mimir-dev-aggregations"]);
        format!("[2024-05-07 {},{:03}] INFO [{component} partition={topic}-{}, dir=/bitnami/kafka/data] ", time_hms(r), r.below(1000), r.below(32))
    })
}

/// HashiCorp Vault: an RFC 3339 time, a bracketed level, two spaces, a subsystem.
pub fn vault(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("revoked", 40, "INFO", |r| format!("expiration: revoked lease: lease_id=auth/kubernetes/login/h{}", r.hex(40))),
        ("mounted", 15, "INFO", |r| {
            let t = *r.pick(&["kv", "pki", "transit", "database", "ssh"]);
            format!("core: successfully mounted: type={t} version=\"\" path={t}/ namespace=\"ID: root. Path: \"")
        }),
        ("lock", 10, "INFO", |_| "core: acquired lock, enabling active operation".to_string()),
        ("rollback", 25, "DEBUG", |r| format!("rollback: attempting rollback: path={}/", r.pick(&["auth/token", "secret", "sys", "identity", "cubbyhole", "pki"]))),
        ("tls", 10, "ERROR", |r| format!("core: error during forwarded RPC request: error=\"rpc error: code = Canceled desc = context canceled\" remote_address={}:{}", ip(r), port(r))),
    ];
    draw("vault", seed, n, T, |r, level| format!("2024-05-07T{}.{:03}Z [{level}]  ", time_hms(r), r.below(1000)))
}

/// Kubernetes components in klog, structured: a quoted message and `key=value` pairs.
pub fn klog(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("probe", 30, "I", |r| {
            let result = *r.pick(&["success", "failure"]);
            format!("\"Probe result\" probeType=\"Readiness\" pod=\"{}/{}-{}\" result=\"{result}\"", r.pick(&["shop", "web"]), r.pick(&["cart", "checkout"]), r.alnum(5))
        }),
        ("sync", 30, "I", |r| format!("\"Syncing iptables rules\" ipFamily=\"IPv4\" numServices={} numEndpoints={}", r.range(40, 400), r.range(80, 1200))),
        ("evicted", 10, "I", |r| format!("\"Evicted pod\" pod=\"{}/{}\" reason=\"LowNodeUtilization\" strategy=\"LowNodeUtilization\"", r.pick(&["shop", "web"]), r.alnum(10))),
        ("watch", 15, "W", |r| format!("{}: watch of *v1.{} ended with: very short watch", r.pick(&["k8s.io/client-go/informers/factory.go:160", "pkg/mod/k8s.io/client-go@v0.31.2/tools/cache/reflector.go:561"]), r.pick(&["Pod", "Node", "Namespace"]))),
        ("failed-list", 15, "E", |r| format!("\"Failed to list\" err=\"the server could not find the requested resource\" resource=\"{}\"", r.pick(&["pods", "nodes", "leases"]))),
    ];
    draw("klog", seed, n, T, |r, sev| {
        let file = *r.pick(&["file.go:169", "descheduler.go:402", "reflector.go:368", "proxier.go:805"]);
        format!("{sev}0507 {}.{:06}       1 {file}] ", time_hms(r), r.below(1_000_000))
    })
}

/// logfmt services: the message is a quoted value among `key=value` pairs.
pub fn logfmt(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("push", 60, "debug", |r| {
            let rpc = *r.pick(&["/push.v1.PusherService/Push", "/ingester.v1.IngesterService/Push"]);
            format!("caller=http.go:194 msg=\"POST {rpc} ({}) {}.{}µs\"", r.pick(&[200, 200, 400]), r.below(900), r.below(1000))
        }),
        ("tenant", 20, "info", |r| format!("caller=distributor.go:651 msg=\"pushing to ingester\" tenant={} ingester={}", r.pick(&["12272", "29", "acme", "globex", "initech"]), r.pick(&["ingester-zone-a-1", "ingester-zone-b-4"]))),
        ("limit", 10, "warn", |r| format!("caller=limits.go:88 msg=\"ingestion rate limit exceeded\" tenant={} limit={} burst={}", r.pick(&["acme", "globex"]), r.below(100_000), r.below(200_000))),
        ("ring", 10, "info", |r| format!("caller=ring.go:321 msg=\"ring topology changed\" old_state={} new_state={}", r.pick(&["ACTIVE", "LEAVING"]), r.pick(&["ACTIVE", "JOINING"]))),
    ];
    draw("logfmt", seed, n, T, |r, level| format!("level={level} ts=2024-05-13T{}.{:09}Z ", time_hms(r), r.below(1_000_000_000)))
}

/// JSON application logs (one object a line): the message is `msg`.
pub fn json_app(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("completed", 35, "debug", |r| {
            format!(r#""msg":"request completed","method":"{}","request":"/api/repos/{}/builds/{}","status":{}"#, r.pick(&["GET", "POST"]), r.pick(USERS), r.below(9999), r.pick(&[200, 200, 404]))
        }),
        ("queue", 25, "debug", |r| format!(r#""msg":"manager: request queue item","arch":"{}","os":"linux""#, r.pick(&["amd64", "arm64"]))),
        ("received", 20, "info", |r| format!(r#""msg":"trigger: received","commit":"{}","event":"{}""#, r.hex(40), r.pick(&["push", "pull_request", "tag"]))),
        ("no-build", 10, "warn", |r| format!(r#""msg":"api: cannot find build","build":{},"error":"sql: no rows in result set""#, r.below(9999))),
        ("cron", 10, "info", |r| format!(r#""msg":"cron: executing job","id":{}"#, r.below(100))),
    ];
    let mut s = draw("json", seed, n, T, |r, level| format!(r#"{{"level":"{level}","time":"2024-04-09T{}Z","#, time_hms(r)));
    for l in &mut s.lines {
        l.push('}');
    }
    s
}

/// syslog: a time, a host, a program; some values are words.
pub fn syslog(seed: u64, n: usize) -> Shape {
    const T: &[Template] = &[
        ("auth-failure", 35, "sshd(pam_unix)", |r| {
            let host = if r.chance(500) { ip(r) } else { (*r.pick(&["csnsu.nsuok.edu", "zummit.com", "massive.example.org", "troi.example.net", "lib.example.edu.pl"])).to_string() };
            format!("authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost={host}")
        }),
        ("session-opened", 15, "sshd(pam_unix)", |r| format!("session opened for user {} by (uid={})", r.pick(USERS), r.pick(&[0, 509]))),
        // Three user names: a value to the labels, and nothing to tell it from three events.
        ("session-closed", 15, "su(pam_unix)", |r| format!("session closed for user {}", r.pick(&["cyrus", "news", "test"]))),
        ("check-pass", 15, "sshd(pam_unix)", |_| "check pass; user unknown".to_string()),
        ("connection", 15, "ftpd", |r| {
            let (day, mon) = (*r.pick(&["Mon", "Sun", "Sat"]), *r.pick(&["Jun", "Jul"]));
            format!("connection from {} () at {day} {mon} {:2} {} 2005", ip(r), r.range(1, 28), time_hms(r))
        }),
        ("startup", 5, "cups", |_| "cupsd startup succeeded".to_string()),
    ];
    draw("syslog", seed, n, T, |r, program| {
        let mon = *r.pick(&["Jun", "Jul"]);
        format!("{mon} {:2} {} combo {program}[{}]: ", r.range(1, 28), time_hms(r), r.range(1000, 32_000))
    })
}

/// Every shape, `n` lines each.
pub fn all(seed: u64, n: usize) -> Vec<Shape> {
    vec![
        hdfs(seed, n),
        hadoop(seed, n),
        openstack(seed, n),
        zookeeper(seed, n),
        apache_error(seed, n),
        kafka(seed, n),
        vault(seed, n),
        klog(seed, n),
        logfmt(seed, n),
        json_app(seed, n),
        syslog(seed, n),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_is_labelled_line_by_line_and_reproducible() {
        for s in all(1, 500) {
            assert_eq!(s.lines.len(), 500, "{}", s.name);
            assert_eq!(s.labels.len(), 500);
            assert!(s.lines.iter().all(|l| !l.contains('\n') && !l.is_empty()));
            let distinct: std::collections::HashSet<_> = s.labels.iter().collect();
            assert!(distinct.len() >= 4, "{}: {} templates", s.name, distinct.len());
        }
        assert_eq!(hadoop(3, 50).lines, hadoop(3, 50).lines);
        assert_ne!(hadoop(3, 50).lines, hadoop(4, 50).lines);
        for l in &json_app(2, 50).lines {
            assert!(serde_json::from_str::<serde_json::Value>(l).is_ok(), "{l}");
        }
    }
}
