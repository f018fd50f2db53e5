//! Kubernetes metadata from a container log file's name, and the per-file parts of every record and
//! HEC event, rendered once when the file is opened rather than per record.
//!
//! Kubelet names `/var/log/containers` entries `<pod>_<namespace>_<container>-<container id>.log`
//! (Fluent Bit's kubernetes filter reads the same regex). Pod and namespace names cannot contain `_`,
//! so the first two underscores split them off; the id is the 64 hex digits after the last `-`.

use std::path::Path;

use logtrim_core::record::parts::Members;
use logtrim_formats::template;

/// What the file name says about its container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodMeta {
    /// Pod name.
    pub pod: String,
    /// Namespace.
    pub namespace: String,
    /// Container name.
    pub container: String,
    /// Container id (64 hex digits).
    pub container_id: String,
}

impl PodMeta {
    /// Parses a `/var/log/containers` file name; `None` when it does not have kubelet's shape.
    pub fn from_file_name(name: &str) -> Option<PodMeta> {
        let stem = name.strip_suffix(".log")?;
        let (rest, id) = stem.rsplit_once('-')?;
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut it = rest.splitn(3, '_');
        let (pod, ns, container) = (it.next()?, it.next()?, it.next()?);
        if pod.is_empty() || ns.is_empty() || container.is_empty() {
            return None;
        }
        Some(PodMeta { pod: pod.into(), namespace: ns.into(), container: container.into(), container_id: id.into() })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Var {
    Node,
    Namespace,
    Pod,
    Container,
    ContainerId,
    Stream,
    File,
}

type Part = template::Part<Var>;

/// A metadata template: alternatives separated by `|`, each literal text with placeholders
/// `{node}`, `{namespace}`, `{pod}`, `{container}`, `{container_id}`, `{stream}`, `{file}`. The first
/// alternative whose placeholders are all known and non-empty wins; none: the key is left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Template {
    alts: Vec<Vec<Part>>,
}

/// What placeholders resolve to for one file and stream.
pub struct Context<'a> {
    /// The node name.
    pub node: &'a str,
    /// The file's pod metadata, if its name has it.
    pub pod: Option<&'a PodMeta>,
    /// `stdout` or `stderr`.
    pub stream: &'a str,
    /// The file's path.
    pub file: &'a str,
}

impl Template {
    /// Parses a template; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Template, String> {
        let alts = template::parse(text, |name| {
            Ok(match name {
                "node" => Var::Node,
                "namespace" => Var::Namespace,
                "pod" => Var::Pod,
                "container" => Var::Container,
                "container_id" => Var::ContainerId,
                "stream" => Var::Stream,
                "file" => Var::File,
                other => {
                    return Err(format!(
                        "unknown placeholder {other:?} (known: node, namespace, pod, container, container_id, stream, file)"
                    ));
                }
            })
        })?;
        Ok(Template { alts })
    }

    /// The first alternative that resolves.
    pub fn render(&self, cx: &Context<'_>) -> Option<String> {
        'alt: for alt in &self.alts {
            let mut s = String::new();
            for p in alt {
                let v = match p {
                    Part::Lit(l) => l.as_str(),
                    Part::Var(Var::Node) => cx.node,
                    Part::Var(Var::Stream) => cx.stream,
                    Part::Var(Var::File) => cx.file,
                    Part::Var(v) => match (cx.pod, v) {
                        (Some(m), Var::Namespace) => &m.namespace,
                        (Some(m), Var::Pod) => &m.pod,
                        (Some(m), Var::Container) => &m.container,
                        (Some(m), Var::ContainerId) => &m.container_id,
                        _ => "",
                    },
                };
                if v.is_empty() && matches!(p, Part::Var(_)) {
                    continue 'alt;
                }
                s.push_str(v);
            }
            if !s.is_empty() {
                return Some(s);
            }
        }
        None
    }
}

/// Appends `s` as a JSON string, quotes included.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    logtrim_core::record::json::push_json_str(out, s.as_bytes());
}

/// The compiled HEC metadata templates.
#[derive(Clone, Debug)]
pub struct Templates {
    host: Template,
    source: Template,
    sourcetype: Template,
    index: Template,
    fields: Vec<(String, Template)>,
}

impl Templates {
    /// Compiles the `hec` section's templates (validated with the configuration).
    pub fn new(h: &crate::config::Hec) -> Result<Templates, String> {
        Ok(Templates {
            host: Template::parse(&h.host)?,
            source: Template::parse(&h.source)?,
            sourcetype: Template::parse(&h.sourcetype)?,
            index: Template::parse(&h.index)?,
            fields: h.fields.iter().map(|(k, t)| Ok((k.clone(), Template::parse(t)?))).collect::<Result<_, String>>()?,
        })
    }
}

/// The per-file byte strings spliced into every record and HEC event of that file.
#[derive(Clone, Debug, Default)]
pub struct FileMeta {
    /// What the record of a line has besides its parts: `{"kubernetes":{…}}`, or `{}` when the name has no
    /// pod metadata. Its [`Members::tail`] closes a record written as JSON.
    pub members: Members,
    /// Per stream (stdout, stderr): the HEC event's metadata members, each followed by a comma.
    pub hec_prefix: [Vec<u8>; 2],
    /// The file name of the path the glob matched: the file's series in the ledger ([`crate::ledger`]).
    pub name: std::sync::Arc<str>,
}

impl FileMeta {
    /// Renders the metadata of the file at `path` on node `node`.
    pub fn new(path: &Path, node: &str, t: &Templates) -> FileMeta {
        let file = path.to_string_lossy();
        let pod = path.file_name().and_then(|n| n.to_str()).and_then(PodMeta::from_file_name);
        let mut object = b"{".to_vec();
        if let Some(m) = &pod {
            object.extend_from_slice(b"\"kubernetes\":{\"pod_name\":");
            push_json_str(&mut object, &m.pod);
            object.extend_from_slice(b",\"namespace_name\":");
            push_json_str(&mut object, &m.namespace);
            object.extend_from_slice(b",\"container_name\":");
            push_json_str(&mut object, &m.container);
            object.extend_from_slice(b",\"docker_id\":");
            push_json_str(&mut object, &m.container_id);
            if !node.is_empty() {
                object.extend_from_slice(b",\"host\":");
                push_json_str(&mut object, node);
            }
            object.push(b'}');
        }
        object.push(b'}');
        // JSON written here, with one key that is not a record part: it cannot be refused.
        let members = Members::new(&object).unwrap_or_default();
        let prefix = |stream: &str| render_prefix(&Context { node, pod: pod.as_ref(), stream, file: &file }, t, None);
        let name = path.file_name().map_or_else(|| file.clone(), |n| n.to_string_lossy());
        FileMeta { members, hec_prefix: [prefix("stdout"), prefix("stderr")], name: std::sync::Arc::from(&*name) }
    }
}

/// The metadata members of a summary event (`summarize:`), each followed by a comma: `host` from its
/// template, `source` `logtrim` and `sourcetype` `logtrim:summary` (what the Lambda sends, so one search
/// finds the summaries of both), and `index` and `fields` from the templates that resolve with no file
/// behind them (`{node}` or a literal alternative such as the `k8s` of `k8s-{namespace}|k8s`).
pub fn summary_prefix(node: &str, t: &Templates) -> Vec<u8> {
    render_prefix(&Context { node, pod: None, stream: "", file: "" }, t, Some(("logtrim", "logtrim:summary")))
}

/// `"host":…,"source":…,"sourcetype":…,"index":…,"fields":{…},` for `cx`, leaving out what does not
/// resolve; `fixed` replaces the source and sourcetype templates.
fn render_prefix(cx: &Context<'_>, t: &Templates, fixed: Option<(&str, &str)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, t) in [("host", &t.host), ("source", &t.source), ("sourcetype", &t.sourcetype), ("index", &t.index)] {
        let v = match (key, fixed) {
            ("source", Some((source, _))) => Some(source.to_string()),
            ("sourcetype", Some((_, sourcetype))) => Some(sourcetype.to_string()),
            _ => t.render(cx),
        };
        if let Some(v) = v {
            push_json_str(&mut out, key);
            out.push(b':');
            push_json_str(&mut out, &v);
            out.push(b',');
        }
    }
    let mut first = true;
    for (name, tpl) in &t.fields {
        if let Some(v) = tpl.render(cx) {
            out.extend_from_slice(if first { b"\"fields\":{" } else { b"," });
            first = false;
            push_json_str(&mut out, name);
            out.push(b':');
            push_json_str(&mut out, &v);
        }
    }
    if !first {
        out.extend_from_slice(b"},");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn file_names() {
        let m = PodMeta::from_file_name(&format!("web-7d9f_shop_nginx-proxy-{ID}.log")).unwrap();
        assert_eq!((m.pod.as_str(), m.namespace.as_str(), m.container.as_str()), ("web-7d9f", "shop", "nginx-proxy"));
        assert_eq!(m.container_id, ID);
        assert!(PodMeta::from_file_name("syslog.log").is_none());
        assert!(PodMeta::from_file_name(&format!("web_shop_c-{}.log", &ID[1..])).is_none());
        assert!(PodMeta::from_file_name(&format!("web_shop-{ID}.log")).is_none());
    }

    #[test]
    fn file_meta_renders_templates_once() {
        let h = crate::config::Hec {
            fields: [("ns".to_string(), "{namespace}".to_string()), ("s".to_string(), "{stream}".to_string())].into(),
            index: "k8s-{namespace}|k8s".into(),
            ..Default::default()
        };
        let t = Templates::new(&h).unwrap();
        let fm = FileMeta::new(Path::new(&format!("/var/log/containers/web_shop_nginx-{ID}.log")), "node-1", &t);
        let rec = [&br#"{"log":"x""#[..], fm.members.tail()].concat();
        let v: serde_json::Value = serde_json::from_slice(&rec).unwrap();
        assert_eq!(v["kubernetes"]["namespace_name"], "shop");
        assert_eq!(v["kubernetes"]["host"], "node-1");
        let ev = [&b"{"[..], &fm.hec_prefix[1], b"\"event\":1}"].concat();
        let v: serde_json::Value = serde_json::from_slice(&ev).unwrap();
        assert_eq!(v["host"], "node-1");
        assert_eq!(v["source"], "shop/web/nginx");
        assert_eq!(v["sourcetype"], "kube:container:nginx");
        assert_eq!(v["index"], "k8s-shop");
        assert_eq!(v["fields"], serde_json::json!({"ns": "shop", "s": "stderr"}));
        // No pod metadata: the fallbacks.
        let fm = FileMeta::new(Path::new("/var/log/odd.log"), "", &t);
        assert_eq!(fm.members.tail(), b"}");
        let ev = [&b"{"[..], &fm.hec_prefix[0], b"\"event\":1}"].concat();
        let v: serde_json::Value = serde_json::from_slice(&ev).unwrap();
        assert_eq!(v, serde_json::json!({"source": "/var/log/odd.log", "sourcetype": "kube:container", "index": "k8s", "fields": {"s": "stdout"}, "event": 1}));
        assert!(Template::parse("{bogus}").is_err());
        // A summary event: no file behind it, so only what resolves without one.
        let ev = [&b"{"[..], &summary_prefix("node-1", &t), b"\"event\":1}"].concat();
        let v: serde_json::Value = serde_json::from_slice(&ev).unwrap();
        assert_eq!(v, serde_json::json!({"host": "node-1", "source": "logtrim", "sourcetype": "logtrim:summary", "index": "k8s", "event": 1}));
    }
}
