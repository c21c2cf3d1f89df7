CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`election_id` text NOT NULL,
	`rule` text NOT NULL,
	`severity` text NOT NULL,
	`scope` text NOT NULL,
	`summary` text NOT NULL,
	`evidence_json` text NOT NULL,
	`first_seen` text NOT NULL,
	`last_seen` text NOT NULL,
	`count` integer NOT NULL,
	`state` text NOT NULL,
	`acknowledged_by` text,
	`acknowledged_at` text,
	`acknowledged_note` text,
	`closed_by` text,
	`closed_at` text,
	`closed_note` text
);
--> statement-breakpoint
CREATE INDEX `alerts_by_election` ON `alerts` (`election_id`,`state`,`last_seen`);