-- Fair scheduling: a counter of which job a worker served last (the
-- highest number: most recently), so idle workers serve jobs round robin
-- (the one served longest ago first) instead of draining the oldest job's
-- tasks before a newer job gets any. A counter rather than a time, so the
-- order holds however coarse or frozen the clock is.
ALTER TABLE jobs ADD COLUMN last_served INTEGER;
CREATE INDEX jobs_by_last_served ON jobs (last_served);
