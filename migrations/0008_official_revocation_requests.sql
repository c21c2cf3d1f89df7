CREATE TABLE `official_revocation_requests` (
	`official_id` text NOT NULL,
	`kid` text DEFAULT '' NOT NULL,
	`requested_by` text NOT NULL,
	`requested_at` text NOT NULL,
	PRIMARY KEY(`official_id`, `kid`)
);
