//! `bcda client`: the ACO's side of BCDA.

pub mod summary;
