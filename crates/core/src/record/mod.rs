//! Reading fields out of one record without building a tree.

pub mod access;
pub mod json;
pub mod level;
pub mod parts;
pub mod view;
