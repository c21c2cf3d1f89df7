ALTER TABLE `voters` ADD `pollbook_id` text;--> statement-breakpoint
DROP INDEX `voters_by_district`;--> statement-breakpoint
CREATE INDEX `voters_by_district` ON `voters` (`election_id`,`district_id`,`pollbook_id`);
