CREATE TABLE `cast_vote_records` (
	`cvr_id` text PRIMARY KEY NOT NULL,
	`election_id` text NOT NULL,
	`ballot_style_id` text NOT NULL,
	`district_id` text NOT NULL,
	`channel` text NOT NULL,
	`station_id` text,
	`marks_json` text NOT NULL,
	`retracted` integer DEFAULT 0 NOT NULL,
	`recorded_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `cast_vote_records_by_election` ON `cast_vote_records` (`election_id`,`district_id`);--> statement-breakpoint
CREATE TABLE `receipts` (
	`tracking_code` text PRIMARY KEY NOT NULL,
	`election_id` text NOT NULL,
	`commitment` text NOT NULL,
	`status` text NOT NULL,
	`recorded_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `receipts_by_election` ON `receipts` (`election_id`,`status`);