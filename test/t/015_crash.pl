# test/t/015_crash.pl: pg_ctl stop -m immediate in the middle of a
# concurrent load, three times, on a node with fsync and synchronous_commit
# on: after each crash recovery every acknowledged commit is there, nothing
# unacknowledged is, a commit in flight is all there or not at all,
# verify() is empty, and the indexes pass amcheck and a full hash-index
# lookup.  The load and the checks are BatchstateTest::Crash's (CRASH_SEED,
# CRASH_ROUNDS, CRASH_SABOTAGE and the other knobs are in its header).
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Crash;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# durability as a production server has it (the test cluster's default is fsync off)
my $node = start_node('crash', conf => <<'EOC');
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 40
log_min_messages = warning
EOC
my $db = create_db($node, 'batchstate_crash');
$node->safe_psql($db, 'CREATE EXTENSION amcheck');

BatchstateTest::Crash::run($node, $db);

done_testing();
