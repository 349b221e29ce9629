# test/t/045_dump.pl: pg_dump and restore of a database using batchstate.
# A database with batches in every state, memberships and deliberate drift
# is dumped in plain, custom and directory format and restored into fresh
# databases.  Each copy must hold the same rows (row by row), the same
# extension version and catalog (grants included), report the same drift
# from verify() (kept, not silently repaired), and still work.  A dump
# taken at the oldest release (BASE_VERSION, installed as it was released,
# from git history) restores as the default version.
# SEED (integer), SCALE (batches), JOBS (parallel dump and restore).
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Catalog;
use BatchstateTest::Install;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'not a git checkout: the released install scripts come from its history'
  unless git_ok('rev-parse', '--git-dir');

my $seed = $ENV{SEED} // 777;
my $scale = $ENV{SCALE} // 500;
my $jobs = $ENV{JOBS} // 2;
my $base = $ENV{BASE_VERSION} // '1.0';
my $db = 'batchstate_dump';
my $role = 'batchstate_dump_reader';
my $tmp = PostgreSQL::Test::Utils::tempdir;
note "dump: SEED=$seed SCALE=$scale JOBS=$jobs";

my $node = start_node('dump',
	install_path => release_install(PostgreSQL::Test::Utils::tempdir . '/pg')->{path});
my $q = sub { $node->safe_psql(@_) };
local $ENV{PGOPTIONS} = '-c client_min_messages=warning';

# --- the source database -------------------------------------------------------
create_db($node, $db);
$q->('postgres', "CREATE ROLE $role NOLOGIN");
workload($node, $db, $seed, $scale);
# a grant on the extension's tables is the user's own and must survive too
$q->($db, "GRANT USAGE ON SCHEMA batchstate TO $role;
	GRANT SELECT ON batchstate.batch, batchstate.batch_state_membership TO $role");
my $src = snapshot($node, $db);
my $src_catalog = catalog($node, $db);
is(scalar(split /\n/, $src->{verify}), 6, 'the source has drift to preserve');
is($q->($db, 'SELECT count(DISTINCT state) FROM batchstate.batch'), 8,
	'the source has batches in all 8 states');

# --- pg_dump ----------------------------------------------------------------------
$node->command_ok([ 'pg_dump', '-d', $db, '-Fp', '-f', "$tmp/dump.sql" ], 'pg_dump, plain format');
$node->command_ok([ 'pg_dump', '-d', $db, '-Fc', '-f', "$tmp/dump.custom" ], 'pg_dump, custom format');
$node->command_ok([ 'pg_dump', '-d', $db, '-Fd', '-j', $jobs, '-f', "$tmp/dump.dir" ],
	"pg_dump, directory format with $jobs jobs");
my $plain = -e "$tmp/dump.sql" ? slurp_file("$tmp/dump.sql") : '';
my $count = sub { my ($re) = @_; my $n = () = $plain =~ /$re/g; return $n };
is($count->(qr/^CREATE EXTENSION IF NOT EXISTS batchstate WITH SCHEMA batchstate;$/m), 1,
	'the plain dump creates the extension');
is($count->(qr/^CREATE FUNCTION batchstate\./m), 0,
	'the plain dump has no function of the extension (CREATE EXTENSION makes them)');
is($count->(qr/^CREATE TABLE batchstate\./m), 0,
	"the plain dump has no CREATE TABLE of the extension's tables");
is($count->(qr/^COPY batchstate\.(batch|batch_state_membership) /m), 2,
	'the plain dump carries the rows of both tables');

# --- restore ------------------------------------------------------------------------
create_db($node, "${db}_$_", extension => 0) for qw(plain custom directory);
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', "${db}_plain", '-f', "$tmp/dump.sql" ],
	'restore the plain dump with psql (ON_ERROR_STOP)');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', "${db}_custom", "$tmp/dump.custom" ],
	'restore the custom dump with pg_restore --exit-on-error');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-j', $jobs, '-d', "${db}_directory", "$tmp/dump.dir" ],
	"restore the directory dump with pg_restore -j $jobs --exit-on-error");

# catalog_same(A, B, LA, LB): one check for a whole catalog comparison
sub catalog_same
{
	my ($a, $b, $la, $lb) = @_;
	my @all = catalog_diff($a, $b, $la, $lb);
	my @bad = grep { @{ $_->[1] } } @all;
	ok(!@bad, "catalog of $la = catalog of $lb ("
		  . (@bad ? scalar(@bad) . ' of ' . scalar(@all) . ' objects differ' : scalar(@all) . ' objects') . ')')
	  or diag(join("\n", map { ("$_->[0]:", @{ $_->[1] }) } @bad));
	return;
}

for my $kind (qw(plain custom directory))
{
	my $d = "${db}_$kind";
	note "the $kind copy";
	my $copy = snapshot($node, $d);
	is($copy->{version}, $src->{version}, "$kind: extension version as in the source");
	is_text($copy->{batch}, $src->{batch}, "$kind: batch rows equal the source (row by row)");
	is_text($copy->{membership}, $src->{membership}, "$kind: membership rows equal the source (row by row)");
	is_text($copy->{verify}, $src->{verify}, "$kind: verify() reports the same drift (kept, not repaired)");
	catalog_same(catalog($node, $d), $src_catalog, $kind, 'source');
	is($q->($d, "SELECT has_table_privilege('$role', 'batchstate.batch', 'SELECT')
		AND NOT has_table_privilege('$role', 'batchstate.batch', 'INSERT')"), 't',
		"$kind: the reader's grant survived");

	# 1.3: the membership rows' since came along, and the GIN index answers
	for my $read (
		[ 'queue_stats()', 'SELECT * FROM batchstate.queue_stats()' ],
		[ 'stuck_batches', q{SELECT id FROM batchstate.stuck_batches('q0', '0', VARIADIC batchstate.non_terminal_states())} ],
		[ 'the dependents of every batch',
		  q{SELECT b.id, d.id FROM batchstate.batch b, batchstate.dependents_of(b.queue, b.id, true) d ORDER BY 1, 2} ],
		[ 'the batches holding every land request',
		  q{SELECT c, h.id FROM (SELECT DISTINCT queue, unnest(contains) AS c FROM batchstate.batch) r,
		    batchstate.batches_containing(r.queue, r.c, true) h ORDER BY 1, 2} ])
	{
		is_text($q->($d, $read->[1]), $q->($db, $read->[1]), "$kind: $read->[0] as in the source");
	}

	# behaviour: a lifecycle, the rules, and the repair
	$q->($d, "SELECT batchstate.create_batch('restored/1', 'q0', 'created', '{lr-r}', '{}', 0.1)");
	is($q->($d, "SELECT state || ' ' || version FROM batchstate.batch_get('restored/1')"), 'created 1',
		"$kind: create_batch works");
	is(sqlstate($node, $d, "SELECT batchstate.create_batch('q0/batch/3', 'q0')"), '23505',
		"$kind: a taken id raises 23505");
	is($q->($d, "SELECT batchstate.update_state('restored/1', 1, 'speculating')"), 't', "$kind: update_state works");
	is($q->($d, "SELECT batchstate.update_score_and_state('restored/1', 2, 0.8, 'merging')"), 't',
		"$kind: update_score_and_state works");
	is($q->($d, "SELECT batchstate.update_state('restored/1', 2, 'failed')"), 'f',
		"$kind: a stale version returns false");
	is(sqlstate($node, $d, "SELECT batchstate.update_state('restored/1', 3, 'scored')"), '55000',
		"$kind: a forbidden move raises 55000");
	is($q->($d, "SELECT batchstate.update_state(id, version, 'failed') FROM batchstate.batch WHERE id = 'q0/batch/3'"),
		't', "$kind: a restored batch moves on from its restored version");
	is($q->($d, "SELECT string_agg(id, ',') FROM batchstate.list_batches('q0', 'merging') WHERE id LIKE 'restored/%'"),
		'restored/1', "$kind: list_batches sees the new batch");
	$q->($d, "SELECT batchstate.create_batch('restored/2', 'q0', 'creating', '{lr-r2}')");
	is($q->($d, "SELECT batchstate.update_batch('restored/2', 1, 'created', dependencies => '{restored/1}')"), 't',
		"$kind: update_batch works");
	is($q->($d, "SELECT string_agg(id, ',') FROM batchstate.dependents_of('q0', 'restored/1')"), 'restored/2',
		"$kind: dependents_of finds the new dependent");
	is($q->($d, "SELECT batchstate.update_state('restored/1', 3, 'succeeded')"), 't',
		"$kind: update_state to a terminal state works");
	is($q->($d, "SELECT added || ' ' || removed FROM batchstate.reconcile()"), '2 4',
		"$kind: reconcile() repairs the preserved drift (2 added, 4 removed)");
	is($q->($d, 'SELECT count(*) FROM batchstate.verify()'), 0, "$kind: verify() is empty afterwards");
}

# --- a dump of the oldest release restores as the default version --------------------
my $current = control_version();
my $old = create_db($node, "${db}_old", extension => 0);
$q->($old, "CREATE EXTENSION batchstate VERSION '$base'");
workload($node, $old, $seed, 60);
my $before = snapshot($node, $old, 1);
$node->command_ok([ 'pg_dump', '-d', $old, '-Fc', '-f', "$tmp/old.custom" ], "pg_dump of a $base database");
create_db($node, "${db}_old_restored", extension => 0);
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', "${db}_old_restored", "$tmp/old.custom" ],
	"pg_restore of the $base dump");
my $after = snapshot($node, "${db}_old_restored", 1);
is($after->{version}, $current,
	"the $base dump restores as default_version $current (pg_dump records no version)");
is_text($after->{batch}, $before->{batch}, "the $base dump: batch rows intact");
is_text($after->{membership}, $before->{membership}, "the $base dump: membership rows intact");
is_text($after->{verify}, $before->{verify}, "the $base dump: same drift");

done_testing();
