-- Group/all with `_since`: which beneficiaries a file holds, so that the
-- manifest can tell them apart: 'new' (newly attributed since `_since`:
-- their full history) or 'existing' (changes since `_since`), for a data
-- file and its error file alike. NULL for every other file: other exports,
-- and a job's own files such as v3's warnings-and-info.
ALTER TABLE job_files ADD COLUMN cohort TEXT CHECK (cohort IN ('new', 'existing'));
