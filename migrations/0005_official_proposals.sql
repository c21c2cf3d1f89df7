CREATE TABLE `official_proposals` (
	`id` text PRIMARY KEY NOT NULL,
	`role` text NOT NULL,
	`display_name` text NOT NULL,
	`public_jwk` text NOT NULL,
	`proposed_by` text NOT NULL,
	`proposed_at` text NOT NULL
);
