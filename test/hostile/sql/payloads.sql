-- payloads.sql: a session that listens on the channel it notifies, with
-- three hostile ids, each created and moved once.  psql prints each
-- notification after the statement that committed it; payloads.pl checks
-- them against the ID lines (hex of the UTF-8 bytes of id and queue).
\set ON_ERROR_STOP 1
\pset format unaligned
\pset tuples_only on
SELECT hostile.reset();
LISTEN hostile_payloads;
SET batchstate.notify_channel = hostile_payloads;
CREATE TEMP TABLE ids (n int, id text, queue text);
INSERT INTO ids VALUES
    -- quotes, backslash, a control character, a tab, Latin-1, a non-BMP
    -- character, markup and U+2028 (JSON-legal, JavaScript-hostile)
    (0, E'q1/"quote\\back\x01ctl\t\u00e9\U0001F642</x>\u2028', 'q1'),
    -- 1024 control characters: 6 KB once escaped; with the queue the
    -- payload would pass NOTIFY's 8000-byte limit
    (1, repeat(E'\x01', 1024), repeat(E'\x02', 1024)),
    -- 1024 bytes of four-byte characters, and 1024 quotes as the queue:
    -- 3 kB escaped, the queue stays
    (2, repeat(U&'\+01F642', 256), repeat('"', 1024));
SELECT 'ID|' || n || '|' || encode(convert_to(id, 'UTF8'), 'hex') || '|'
       || encode(convert_to(queue, 'UTF8'), 'hex')
FROM ids ORDER BY n;
SELECT (batchstate.create_batch((SELECT id FROM ids WHERE n = 0), 'q1')).version;
SELECT batchstate.update_state((SELECT id FROM ids WHERE n = 0), 1, 'scored');
SELECT (batchstate.create_batch((SELECT id FROM ids WHERE n = 1), (SELECT queue FROM ids WHERE n = 1))).version;
SELECT batchstate.update_score_and_state((SELECT id FROM ids WHERE n = 1), 1, 1, 'failed');
SELECT (batchstate.create_batch((SELECT id FROM ids WHERE n = 2), (SELECT queue FROM ids WHERE n = 2), 'merging')).version;
SELECT batchstate.update_state((SELECT id FROM ids WHERE n = 2), 1, 'succeeded');
