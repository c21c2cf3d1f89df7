CREATE TABLE `dead_letters` (
	`body_sha256` text PRIMARY KEY NOT NULL,
	`body_json` text NOT NULL,
	`parses` integer NOT NULL,
	`deliveries` integer NOT NULL,
	`first_seen` text NOT NULL,
	`last_seen` text NOT NULL
);
