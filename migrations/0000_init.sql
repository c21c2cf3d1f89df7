CREATE TABLE `elections` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`definition_json` text NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	`opens_at` text NOT NULL,
	`closes_at` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `official_keys` (
	`kid` text PRIMARY KEY NOT NULL,
	`official_id` text NOT NULL,
	`public_jwk` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`revoked_at` text
);
--> statement-breakpoint
CREATE INDEX `official_keys_by_official` ON `official_keys` (`official_id`);--> statement-breakpoint
CREATE TABLE `officials` (
	`id` text PRIMARY KEY NOT NULL,
	`role` text NOT NULL,
	`display_name` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`revoked_at` text
);
--> statement-breakpoint
CREATE TABLE `security_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`election_id` text,
	`kind` text NOT NULL,
	`detail_json` text NOT NULL,
	`at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `security_events_by_election` ON `security_events` (`election_id`,`at`);--> statement-breakpoint
CREATE TABLE `voters` (
	`election_id` text NOT NULL,
	`voter_key` text NOT NULL,
	`district_id` text NOT NULL,
	PRIMARY KEY(`election_id`, `voter_key`)
);
--> statement-breakpoint
CREATE INDEX `voters_by_district` ON `voters` (`election_id`,`district_id`);