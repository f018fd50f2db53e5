//! stub
#![allow(missing_docs)]
#[derive(Debug, Clone)]
pub struct PathTrie(Vec<Vec<String>>);
impl PathTrie { pub fn new(p: &[Vec<String>]) -> PathTrie { PathTrie(p.to_vec()) } pub fn is_empty(&self) -> bool { self.0.is_empty() } }
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Raw { Null, Bool(bool), Num(f64), Str { start: u32, end: u32, escaped: bool }, Object { start: u32, end: u32 }, Array { start: u32, end: u32 } }
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonError { Bad }
pub fn scan(_input: &[u8], _trie: &PathTrie, _found: &mut impl FnMut(u16, Raw)) -> Result<(), JsonError> { Err(JsonError::Bad) }
pub fn unescape(body: &[u8], out: &mut Vec<u8>) -> Result<(), JsonError> { out.extend_from_slice(body); Ok(()) }
