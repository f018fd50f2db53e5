#!/usr/bin/env bash
# Writes the seed corpora, fuzz/seeds/<target>/, from the repository's own test material: the sample
# records (filters/samples), the rule files (filters/*.yaml, docs/rules.md, the DaemonSet ConfigMap),
# the Lambda's captured Firehose events, and the container log lines, access log lines and expressions
# written in the tests. A few dozen small files per target, named by content hash, so re-running it
# gives the same files and the committed seeds stay reviewable. The fuzzer's own corpora
# (fuzz/corpus/, not committed) grow from these.
#
# Usage: fuzz/seed.sh            (needs python3; run from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf fuzz/seeds
python3 -W ignore::DeprecationWarning - <<'PY'
import base64, glob, gzip, hashlib, json, os, re, struct, zlib

ROOT = os.getcwd()
OUT = os.path.join(ROOT, "fuzz", "seeds")
MAX_FILES = 40
MAX_BYTES = 4096
counts = {}

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_BYTES or counts.get(target, 0) >= MAX_FILES:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    path = os.path.join(d, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        counts[target] = counts.get(target, 0) + 1

def read(p):
    with open(os.path.join(ROOT, p), encoding="utf-8") as f:
        return f.read()

def rust_strings(path):
    """String and byte-string literals of a Rust file, raw (r#"..."#) and plain, roughly unescaped."""
    src = read(path)
    out = []
    for m in re.finditer(r'b?r(#+)"(.*?)"\1', src, re.S):
        out.append(m.group(2))
    for m in re.finditer(r'(?<![r#\w])b?"((?:[^"\\\n]|\\.)*)"', src):
        s = m.group(1)
        try:
            s = bytes(s, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
        except Exception:
            continue
        out.append(s)
    return out

# Sample records: every 250th line of the Kubernetes sample, and their `log` values.
with gzip.open(os.path.join(ROOT, "filters/samples/k8s-sample.jsonl.gz"), "rt", encoding="utf-8") as f:
    sample = [l.rstrip("\n") for l in f]
picked = sample[::250]
logs = []
for l in sample:
    try:
        logs.append(json.loads(l)["log"])
    except Exception:
        pass

# ---- json_scan: records, JSON `log` values, and the corners serde_json is strict about.
for l in picked[:14]:
    put("json_scan", l)
for v in [x for x in logs if x.startswith("{")][::400][:6]:
    put("json_scan", v)
for s in [
    '{}', ' {"a":1} ', '{"a":{"b":1},"a":null}', '{"a":1,"a":2}', '{"log":"\\u00e9\\ud83d\\ude00\\/\\"\\\\"}',
    '{"n":[-0,0.0,1e308,1.7976931348623157e308,2e308,123456789012345678901234567890,5e-324,1E+2]}',
    '{"a":"\\ud800"}', '{"a":"\x01"}', '{"a":01}', '{"a":1}x', '{"a":[1,2,]}', '[1608,{"log":"fluent"}]',
    '{"kubernetes":{"namespace_name":"kube-system","labels":{"app":"x"}},"log":"y"}',
    '{"a":' + '[' * 126 + ']' * 126 + '}', '{"a":' + '[' * 127 + ']' * 127 + '}',
    '{"k":"' + 'x' * 70 + '\\n' + 'y' * 70 + '"}', '{"t":true,"f":false,"z":null}', '{"a" : 1 ,\t"b"\r\n:\n2}',
]:
    put("json_scan", s)

# ---- access_log: access lines from the sample and from the parsers' tests.
access = [x for x in logs if '] "' in x or x.startswith("[") or x.startswith("ACCESS ")]
seen = set()
for x in access:
    shape = re.sub(r"[0-9a-f]", "0", x)[:40]
    if shape not in seen:
        seen.add(shape)
        put("access_log", x)
for p in ["crates/core/src/record/access/nginx.rs", "crates/core/src/record/access/envoy.rs", "crates/core/src/record/access/mod.rs"]:
    for s in rust_strings(p):
        if "HTTP/" in s and len(s) > 40:
            put("access_log", s)

# ---- app_level: text lines of every header shape in the sample and the level tests.
seen = set()
for x in logs:
    if x.startswith("{"):
        continue
    shape = re.sub(r"[A-Za-z]+", "a", re.sub(r"[0-9]+", "0", x))[:24]
    if shape not in seen:
        seen.add(shape)
        put("app_level", x)
for s in rust_strings("crates/core/src/record/level.rs"):
    if len(s) > 12 and " " in s:
        put("app_level", s)
put("app_level", "level=info " + "k=v " * 300 + "level=error")

# ---- container_framing: the target's text form, "#C<cap>\n" or "#D<cap>\n" then the lines.
cri_re = re.compile(r"\d{4}-\d\d-\d\d[Tt][0-9:.+\-Zz]+ (?:stdout|stderr) [PF][^\n\"]*")
cri_lines = []
for p in ["crates/formats/tests/reader.rs", "crates/formats/src/container.rs", "crates/formats/src/cri.rs", "crates/formats/src/detect.rs"]:
    for s in rust_strings(p):
        for line in s.split("\n"):
            if cri_re.fullmatch(line):
                cri_lines.append(line)
for i in range(0, len(cri_lines), 4):
    for cap in (16, 64, 1024):
        put("container_framing", "#C%d\n" % cap + "\n".join(cri_lines[i:i + 6]) + "\n")
def cri(t, stream, tag, msg):
    return "%s %s %s %s" % (t, stream, tag, msg)
t = "2026-11-22T10:00:00.123456789Z"
for i, x in enumerate([x for x in logs if not x.startswith("{")][:8]):
    x = x.replace("\n", " ")
    parts = [x[j:j + 20] for j in range(0, len(x), 20)] or [""]
    lines = [cri(t, "stdout" if i % 2 else "stderr", "P", p) for p in parts[:-1]] + [cri(t, "stdout" if i % 2 else "stderr", "F", parts[-1])]
    put("container_framing", "#C%d\n" % (17 + i * 9) + "\n".join(lines) + "\n")
for i, l in enumerate(picked[:10]):
    rec = json.loads(l)
    msg = rec["log"]
    parts = [msg[j:j + 30] for j in range(0, len(msg), 30)] or [""]
    lines = []
    for k, p in enumerate(parts):
        last = k == len(parts) - 1
        lines.append(json.dumps({"log": p + ("\n" if last else ""), "stream": rec.get("stream", "stdout"), "time": rec.get("time", t)}, ensure_ascii=(i % 2 == 0)))
    put("container_framing", "#D%d\n" % (20 + i * 13) + "\n".join(lines) + "\n")

# ---- firehose_decode: op byte, little-endian u16 cap, data (see the target).
def fh(op, cap, data):
    put("firehose_decode", bytes([op]) + struct.pack("<H", cap) + data)
events = sorted(glob.glob(os.path.join(ROOT, "crates/lambda/tests/fixtures/*.json"))) + [os.path.join(ROOT, "deploy/lambda/events/firehose-k8s.json")]
for p in events:
    raw = open(p, "rb").read()
    if len(raw) + 3 <= MAX_BYTES:
        fh(4, 0xFFFF, raw)
        fh(4, 300, gzip.compress(raw, mtime=0))
    try:
        ev = json.loads(raw)
    except Exception:
        continue
    for r in ev.get("records", [])[:3]:
        data = r.get("data", "")
        fh(3, 0xFFFF, data.encode())
        try:
            dec = base64.b64decode(data)
        except Exception:
            continue
        fh(2, 0xFFFF, dec)
        fh(0, 64, dec)
ndjson = "\n".join(picked[:3]).encode() + b"\n"
fh(0, 200, gzip.compress(ndjson, mtime=0))
fh(0, 0xFFFF, zlib.compress(ndjson))
fh(1, 100, ndjson[:300])
cw = {"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/eks/x", "logStream": "s", "subscriptionFilters": ["f"],
      "logEvents": [{"id": "1", "timestamp": 1795305600000, "message": m} for m in ['{"level":"error","msg":"x"}', "plain text", ' { "a" : 1 } ']]}
fh(2, 0xFFFF, gzip.compress(json.dumps(cw).encode(), mtime=0))
fh(5, 0xFFFF, gzip.compress(json.dumps(cw).encode(), mtime=0))
fh(2, 0xFFFF, json.dumps({"messageType": "CONTROL_MESSAGE", "logEvents": []}).encode())
fh(3, 0xFFFF, base64.b64encode(gzip.compress(json.dumps(cw).encode(), mtime=0)))
fh(3, 0xFFFF, b"SGVsbG8gV29ybGQx=")

# ---- rule_file: the shipped rule files, the docs' YAML blocks, the tests' rule texts.
def yaml_blocks(text):
    return re.findall(r"```yaml\n(.*?)```", text, re.S)
rule_texts = [read(p) for p in sorted(glob.glob("filters/*.yaml"))]
rule_texts += yaml_blocks(read("docs/rules.md")) + yaml_blocks(read("README.md"))
for p in sorted(glob.glob("tests/cli/*.rs")) + ["crates/core/src/rules/load.rs", "crates/core/src/rules/compile.rs"]:
    rule_texts += [s for s in rust_strings(p) if ("rules:" in s or "default:" in s) and "\n" in s]
for s in rule_texts:
    put("rule_file", s)
for parts in [("[", "x", "]"), ("{a: ", "x", "}"), ("(", "a == 1", ")", "rules:\n  - name: r\n    when: ", "\n    action: drop\n"),
                ("not ", "a == 1", "", "rules:\n  - name: r\n    when: ", "\n    action: drop\n"), ("- ", "x", "")]:
    put("rule_file", b"\x01\xff" + b"\x00".join(p.encode() for p in parts))

# ---- rule_expr: every `when:` in those files and the parser's tests.
# Amplified forms (`known::amplify`): \x01, a scale byte, then A \0 B \0 C [\0 P \0 S] for P A*n B C*n S.
for a, b, c in [("(", "a == 1", ")"), ("not ", "a == 1", ""), ("(a == 1 or ", "b == 2", ")"), ("(not ", "exists(x)", ")")]:
    for scale in (b"\x40", b"\xff"):
        put("rule_expr", b"\x01" + scale + a.encode() + b"\x00" + b.encode() + b"\x00" + c.encode())

exprs = []
for s in rule_texts:
    for m in re.finditer(r"when:\s*(.+)", s):
        e = m.group(1).strip()
        if e.startswith(("'", '"')) and e.endswith(e[0]) and len(e) > 1:
            e = e[1:-1].replace("''", "'") if e[0] == "'" else json.loads(e)
        exprs.append(e)
for s in rust_strings("crates/core/src/rules/expr.rs"):
    if any(op in s for op in ("==", ">=", " in ", "contains", "exists(", "matches", " and ", " or ", "not ")) and "\n" not in s:
        exprs.append(s)
for e in dict.fromkeys(exprs):
    put("rule_expr", e)
# ---- hec_template: the Lambda's and the forwarder's default templates, and the docs' examples.
for s in [
    "{time}|{@timestamp}", "{kubernetes.host}|{host}", "{kubernetes.namespace_name}/{kubernetes.pod_name}/{kubernetes.container_name}",
    "kube:container:{kubernetes.container_name}", "k8s:{namespace}:{pod}", "{node}", "{namespace}/{pod}/{container}|{file}",
    "kube:container:{container}", "{ pod }-x|plain", "a{b", "a}b", "{b}}", "x|{ }", "{container_id}@{stream}", "", "  ",
]:
    put("hec_template", s)
for s in rust_strings("crates/forwarder/src/meta.rs") + rust_strings("crates/lambda/src/hec.rs"):
    if "{" in s and "}" in s and len(s) < 120 and "\n" not in s:
        put("hec_template", s)

# ---- forwarder_config: the DaemonSet's configuration, and overrides after NUL bytes (first byte
# of each picks the setting by its index in SETTINGS).
cm = read("deploy/k8s/configmap.yaml")
m = re.search(r"forwarder.yaml: \|\n((?:    .*\n|\n)+)", cm)
fwd = "\n".join(l[4:] for l in m.group(1).split("\n")) if m else ""
put("forwarder_config", fwd)
put("forwarder_config", fwd.encode() + b"\x00\x0c1KiB\x00\x1c250ms\x00\x121.5MB")
put("forwarder_config", b"inputs:\n  paths: [/var/log/containers/*.log]\n  max_line_bytes: 1KiB\nhec:\n  endpoints: [http://127.0.0.1:8088]\n  token: t\n  batch_time: 0.5\n")
put("forwarder_config", b"\x00\x061s\x00\x07 2m \x00\x1b1e3\x00\x0c64KiB\x00\x21off")
for s in rust_strings("crates/forwarder/src/config.rs"):
    if ":" in s and "\n" in s and len(s) > 20:
        put("forwarder_config", s)

for t in sorted(counts):
    print("%-18s %3d seeds" % (t, counts[t]))
PY
