CREATE TABLE `election_polls` (
	`election_id` text PRIMARY KEY NOT NULL,
	`generation` integer DEFAULT 0 NOT NULL,
	`closed_early_at_ms` integer,
	`closed_early_reason` text,
	`pending` text
);
