-- Offline check-ins' conflicts and envelopes (issue 12). Both WITHOUT ROWID, keyed by random ids or
-- keyed digests, so their rows keep no order of arrival; neither names a voter or a check-in.
CREATE TABLE `offline_conflicts` (
	`id` text NOT NULL,
	`election_id` text NOT NULL,
	`station_id` text NOT NULL,
	`district_id` text NOT NULL,
	`kind` text NOT NULL,
	`check_in_minute` text NOT NULL,
	`synced_minute` text NOT NULL,
	`other_channel` text,
	`other_station_id` text,
	`other_minute` text,
	`envelope_digest` text NOT NULL,
	`state` text NOT NULL,
	`decision` text,
	`decided_by` text,
	`decided_minute` text,
	`reason` text,
	PRIMARY KEY(`election_id`, `id`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE UNIQUE INDEX `offline_conflicts_by_envelope` ON `offline_conflicts` (`envelope_digest`);--> statement-breakpoint
CREATE TABLE `offline_envelopes` (
	`envelope_digest` text PRIMARY KEY NOT NULL,
	`election_id` text NOT NULL,
	`station_id` text NOT NULL,
	`state` text NOT NULL,
	`scan_id` text,
	`serial` integer
) WITHOUT ROWID;
