//! stub
#![allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessFormat { NginxCombined, NginxCommon, IngressNginx, EnvoyText }
impl AccessFormat { pub fn name(self) -> &'static str { "x" } }
pub type Range = (u32, u32);
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccessFields { pub client: Option<Range>, pub user: Option<Range>, pub time: Option<Range>, pub method: Option<Range>, pub path: Option<Range>, pub protocol: Option<Range>, pub status: Option<u32>, pub bytes: Option<u64>, pub bytes_received: Option<u64>, pub duration_ms: Option<f64>, pub referer: Option<Range>, pub user_agent: Option<Range>, pub forwarded_for: Option<Range>, pub request_id: Option<Range>, pub authority: Option<Range>, pub upstream: Option<Range>, pub upstream_status: Option<Range>, pub response_flags: Option<Range>, pub upstream_cluster: Option<Range>, pub route_name: Option<Range> }
pub fn parse(_f: AccessFormat, _l: &[u8], _o: &mut AccessFields) -> bool { false }
