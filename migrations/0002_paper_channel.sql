CREATE TABLE `check_ins` (
	`election_id` text NOT NULL,
	`check_in_id` text NOT NULL,
	`station_id` text NOT NULL,
	`district_id` text NOT NULL,
	`recorded_at` text NOT NULL,
	PRIMARY KEY(`election_id`, `check_in_id`)
);
--> statement-breakpoint
CREATE INDEX `check_ins_by_station` ON `check_ins` (`election_id`,`station_id`);--> statement-breakpoint
CREATE TABLE `reconciliation_differences` (
	`election_id` text NOT NULL,
	`station_id` text NOT NULL,
	`kind` text NOT NULL,
	`contest_id` text DEFAULT '' NOT NULL,
	`option_id` text DEFAULT '' NOT NULL,
	`system_count` integer NOT NULL,
	`station_count` integer,
	`first_seen_at` text NOT NULL,
	`last_seen_at` text NOT NULL,
	`resolved_at` text,
	PRIMARY KEY(`election_id`, `station_id`, `kind`, `contest_id`, `option_id`)
);
--> statement-breakpoint
CREATE TABLE `result_sheets` (
	`election_id` text NOT NULL,
	`station_id` text NOT NULL,
	`payload_sha256` text NOT NULL,
	`payload_text` text NOT NULL,
	`totals_json` text NOT NULL,
	`submitted_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	PRIMARY KEY(`election_id`, `station_id`)
);
--> statement-breakpoint
CREATE TABLE `sheet_signing_keys` (
	`kid` text PRIMARY KEY NOT NULL,
	`election_id` text NOT NULL,
	`public_jwk` text NOT NULL,
	`qr_key_id` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`revoked_at` text
);
--> statement-breakpoint
CREATE INDEX `sheet_signing_keys_by_election` ON `sheet_signing_keys` (`election_id`,`qr_key_id`);--> statement-breakpoint
CREATE TABLE `station_districts` (
	`station_id` text NOT NULL,
	`district_id` text NOT NULL,
	PRIMARY KEY(`station_id`, `district_id`)
);
--> statement-breakpoint
CREATE TABLE `station_keys` (
	`kid` text PRIMARY KEY NOT NULL,
	`station_id` text NOT NULL,
	`public_jwk` text NOT NULL,
	`qr_key_id` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`revoked_at` text
);
--> statement-breakpoint
CREATE INDEX `station_keys_by_station` ON `station_keys` (`station_id`);--> statement-breakpoint
CREATE INDEX `station_keys_by_qr_key_id` ON `station_keys` (`qr_key_id`);--> statement-breakpoint
CREATE TABLE `station_serial_ranges` (
	`station_id` text NOT NULL,
	`first_serial` integer NOT NULL,
	`last_serial` integer NOT NULL,
	PRIMARY KEY(`station_id`, `first_serial`)
);
--> statement-breakpoint
CREATE INDEX `station_serial_ranges_by_first` ON `station_serial_ranges` (`first_serial`);--> statement-breakpoint
CREATE TABLE `stations` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`revoked_at` text
);
--> statement-breakpoint
CREATE INDEX `cast_vote_records_by_station` ON `cast_vote_records` (`election_id`,`station_id`);