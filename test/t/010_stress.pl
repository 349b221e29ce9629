# test/t/010_stress.pl: 4 clients x 5000 random operations (valid and
# invalid, seeded: STRESS_SEED) against an independent model of the
# outcome: every successful compare-and-set in the versions, only
# documented SQLSTATEs, reads that never go back in time, final tables equal
# to the model, verify() empty after the repairs.  The load and the checks
# are BatchstateTest::Stress's (its header lists the knobs, among them
# STRESS_SABOTAGE, which corrupts the result on purpose to show the checks
# fail).
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Stress;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('stress');
my $db = create_db($node, 'batchstate_stress');

BatchstateTest::Stress::run($node, $db);

done_testing();
