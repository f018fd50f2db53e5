//! Phase one: a rule file as written. [`load`] reads the YAML ([`yaml`] keeps every node's position), the
//! `when:` conditions are parsed by [`expr`], and the result is the spanned AST of [`ast`] and
//! [`load::RuleFile`]. Every mistake is a positioned [`crate::diag::Diagnostic`]; nothing here runs.

pub mod ast;
pub mod expr;
pub mod load;
pub mod yaml;
