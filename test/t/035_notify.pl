# test/t/035_notify.pl: batchstate.notify_channel, seen from a listening
# session.  One notification per committed create_batch, update_state and
# update_score_and_state, with an exact JSON payload (ids and queues JSON
# must escape, the 8000-byte limit); nothing for a rollback, a lost CAS, a
# failed call, a storage primitive or the setting off; the setting's bounds,
# scopes (SET, SET LOCAL, ALTER DATABASE) and an unprivileged writer.  The
# checks are BatchstateTest::Notify's.
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Notify;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('notify');
my $db = create_db($node, 'batchstate_notify');

BatchstateTest::Notify::run($node, $db);

done_testing();
