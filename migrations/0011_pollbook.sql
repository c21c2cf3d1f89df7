CREATE TABLE `paper_cancellations` (
	`election_id` text NOT NULL,
	`station_id` text NOT NULL,
	`cancellation_id` text NOT NULL,
	`serial` integer NOT NULL,
	PRIMARY KEY(`election_id`, `station_id`, `cancellation_id`)
);
--> statement-breakpoint
DROP INDEX `voters_by_district`;--> statement-breakpoint
ALTER TABLE `voters` ADD `pollbook_id` text;--> statement-breakpoint
CREATE INDEX `voters_by_district` ON `voters` (`election_id`,`district_id`,`pollbook_id`);