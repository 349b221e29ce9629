# test/t/025_memory.pl: batchstate keeps a backend's memory flat: 100,000
# calls of each of the 22 functions in one session leave the backend's
# memory contexts within 1 MB of where they were, both after each statement
# and inside it; listing 100,000 live batches holds at most work_mem and
# leaves nothing behind (MEMORY_BIG=1: a million of each).  The session and
# its checks are BatchstateTest::Memory's.
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Memory;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('memory');

BatchstateTest::Memory::run($node);

done_testing();
