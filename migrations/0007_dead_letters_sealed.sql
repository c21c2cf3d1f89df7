-- Dead letters keep nothing of a message in clear (security review H4): the body becomes a JWE to
-- the offline dead-letter key, named by an HMAC of the body instead of its SHA-256 (which anyone
-- could match against a guessed ballot), beside the fields an operator triages by.
-- Rows from before this migration lose their clear body and get a random id: a ballot among them
-- was sent back to its ballot queue when it arrived (workers/tally/dead-letters.ts), so no
-- accepted ballot depends on the copy dropped here.
CREATE TABLE `dead_letters_new` (
	`letter_id` text PRIMARY KEY NOT NULL,
	`election_id` text,
	`kind` text,
	`queue` text NOT NULL,
	`attempts` integer NOT NULL,
	`body_jwe` text,
	`parses` integer NOT NULL,
	`deliveries` integer NOT NULL,
	`first_seen` text NOT NULL,
	`last_seen` text NOT NULL
);
--> statement-breakpoint
INSERT INTO `dead_letters_new` (`letter_id`, `election_id`, `kind`, `queue`, `attempts`, `body_jwe`, `parses`, `deliveries`, `first_seen`, `last_seen`)
SELECT 'legacy-' || lower(hex(randomblob(16))),
	CASE WHEN json_valid(`body_json`) AND json_type(`body_json`, '$.electionId') = 'text' THEN json_extract(`body_json`, '$.electionId') END,
	CASE WHEN json_valid(`body_json`) AND json_type(`body_json`, '$.kind') = 'text' THEN substr(json_extract(`body_json`, '$.kind'), 1, 32) END,
	'ballots-dlq', 0, NULL, `parses`, `deliveries`, `first_seen`, `last_seen`
FROM `dead_letters`;
--> statement-breakpoint
DROP TABLE `dead_letters`;
--> statement-breakpoint
ALTER TABLE `dead_letters_new` RENAME TO `dead_letters`;
