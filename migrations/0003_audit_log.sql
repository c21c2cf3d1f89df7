CREATE TABLE `log_receipts` (
	`tracking_code` text PRIMARY KEY NOT NULL,
	`election_id` text NOT NULL,
	`leaf_index` integer NOT NULL,
	`logged_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `log_receipts_by_election` ON `log_receipts` (`election_id`,`leaf_index`);