# test/t/020_hostile.pl: batchstate against hostile callers: a schema of
# shadow tables, shadow operators and a shadow collation ahead of
# pg_catalog changes no result; no-grant, reader and writer roles in
# read-write and read-only transactions get exactly their rights; every
# function fed NULLs, empty strings, unknown states, INT_MIN/INT_MAX, NaN
# and infinite scores, 2-D arrays, arrays with NULLs, 1 MB strings,
# 100k-element arrays and non-ASCII text answers with the documented
# SQLSTATE or succeeds, never XX000, never a crash, nothing written on
# error; NOTIFY payloads of hostile ids are exact JSON.  The checks are
# BatchstateTest::Hostile's (test/hostile/ holds their SQL and corpus).
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Hostile;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = start_node('hostile');

BatchstateTest::Hostile::run($node);

done_testing();
