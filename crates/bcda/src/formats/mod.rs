//! CMS file formats: CCLF attribution packages, 1-800-MEDICARE opt-out
//! files, CSV attribution, and their file names. Pure parsing and writing;
//! no database.
