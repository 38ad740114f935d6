-- Fair scheduling: when a worker last claimed a task of each job, so idle
-- workers serve jobs round robin (the one served longest ago first) instead
-- of draining the oldest job's tasks before a newer job gets any.
ALTER TABLE jobs ADD COLUMN last_claimed_at INTEGER;
