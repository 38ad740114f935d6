//! The domain's shared vocabulary: small value types that several layers
//! use (the store persists them, the export engine reads and writes them),
//! so none of those layers has to import another for them. Nothing here
//! does I/O.

pub mod task;
