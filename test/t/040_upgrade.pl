# test/t/040_upgrade.pl: the upgrade path and the release metadata.
#
# Installs the oldest release (BASE_VERSION, default 1.0) as it was
# released, writes batches, memberships and drift through its API, then
# walks the update path to the control file's default_version one ALTER
# EXTENSION ... UPDATE TO at a time.  After every step the data must be
# untouched (the columns the base release wrote) and the extension's catalog (functions, tables, storage
# parameters, config-dump registration) must equal a fresh CREATE
# EXTENSION ... VERSION of that step.  A bare ALTER EXTENSION UPDATE must
# reach default_version with the catalog of a fresh install of it.  Also
# checks META.json, the Makefile and the installed scripts against the
# control file, and that no released script was edited after its release.
#
# The released install scripts come from git history, each from the commit
# that released its version (BatchstateTest::Install::release_install),
# into a private installation the node runs; the checkout needs only the
# upgrade steps.  SEED (integer), SCALE (batches), BASE_VERSION.
use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Catalog;
use BatchstateTest::Install;
use File::Basename qw(basename);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'not a git checkout: the released install scripts come from its history'
  unless git_ok('rev-parse', '--git-dir');

my $seed = $ENV{SEED} // 4242;
my $scale = $ENV{SCALE} // 300;
my $base = $ENV{BASE_VERSION} // '1.0';
my ($current) = slurp_file(repo_path('batchstate.control')) =~
  /^default_version\s*=\s*'([^']+)'/m;
ok(defined $current, 'batchstate.control has a default_version') or die "no default_version\n";
my %released = map { @$_ } released_versions();
note "upgrade: SEED=$seed SCALE=$scale BASE_VERSION=$base, default_version $current";

# --- the version lives in the control file ------------------------------------
my $sharedir = pg_config('--sharedir');
my ($installed) = slurp_file("$sharedir/extension/batchstate.control") =~
  /^default_version\s*=\s*'([^']+)'/m;
is($installed, $current,
	'the installed control file has the same default_version (make install is current)');
for my $f (map { basename($_) } glob(repo_path('batchstate--*.sql')))
{
	my $same = -e "$sharedir/extension/$f"
	  && slurp_file(repo_path($f)) eq slurp_file("$sharedir/extension/$f");
	ok($same, "$f is installed unchanged");
}
ok(-f repo_path("batchstate--$current.sql"), 'the install script of the default version exists');
my ($mk) = run_command([ 'sh', '-c',
	'printf "bs-print-extversion:\n\t@echo \$(EXTVERSION)\n" | make -s --no-print-directory -C "$1" -f Makefile -f - bs-print-extversion PG_CONFIG=pg_config',
	'sh', repo_path() ]);
is($mk, $current, "the Makefile's EXTVERSION is read from the control file");

# META.json: PGXN meta spec 1.0.0 wants SemVer, so '1.1' is written '1.1.0'
my $semver = join '.', (split(/\./, $current), 0, 0)[ 0 .. 2 ];
my $meta = eval { JSON::PP->new->utf8->decode(slurp_file(repo_path('META.json'))) };
ok($meta, 'META.json parses') or diag($@);
$meta //= {};
my $provides = $meta->{provides}{batchstate} // {};
is($meta->{name}, 'batchstate', 'META.json name');
is($meta->{version}, $semver, "META.json version = control default_version as SemVer ($current -> $semver)");
is($provides->{version}, $semver, 'META.json provides batchstate version = the distribution version');
is($provides->{file}, 'sql/batchstate.sql',
	"META.json provides batchstate file = the source of the default version's install script");
is($meta->{'meta-spec'}{version}, '1.0.0', 'META.json meta-spec version');
is($meta->{license}, 'postgresql', 'META.json license');
is(join(',', ref $meta->{maintainer} ? @{ $meta->{maintainer} } : $meta->{maintainer} // ''),
	'batchstate developers', 'META.json maintainer');
ok($meta->{abstract}, 'META.json has an abstract');
is(eval { $meta->{prereqs}{runtime}{requires}{PostgreSQL} }, '15.0.0',
	'META.json requires PostgreSQL 15 or later');
is(ref $meta->{resources}, 'HASH', 'META.json has resources');
ok($meta->{generated_by}, 'META.json has generated_by');

# Released scripts are frozen: an install or upgrade script whose target
# version is older than default_version must equal its content in the
# commit that released that version.
for my $f (map { basename($_) } glob(repo_path('batchstate--*.sql')))
{
	my ($target) = $f =~ /--([^-]+)\.sql$/;
	next if $target eq $current;
	my $commit = $released{$target};
	if (!$commit) { fail("released script $f: a commit made $target the default version"); next }
	my $at = substr($commit, 0, 10);
	if (!git_ok('cat-file', '-e', "$commit:$f"))
	{
		fail("released script $f was in the commit that released $target ($at)");
		next;
	}
	ok(git_ok('diff', '--quiet', $commit, '--', $f),
		"released script $f is unchanged since $target was released ($at)")
	  or diag(git('diff', '--stat', $commit, '--', $f));
}

# --- the node: the releases as they shipped ------------------------------------
my $inst = release_install(PostgreSQL::Test::Utils::tempdir . '/pg');
my $node = start_node('upgrade', install_path => $inst->{path});
my $q = sub { $node->safe_psql(@_) };
my $version = sub { $q->($_[0], "SELECT extversion FROM pg_extension WHERE extname = 'batchstate'") };

for (split /\n/, $q->('postgres', "SELECT source || '|' || coalesce(path, '')
	FROM pg_extension_update_paths('batchstate') WHERE target = '$current' ORDER BY source COLLATE \"C\""))
{
	my ($v, $p) = split /\|/, $_, 2;
	ok($p ne '', "an update path leads from $v to $current");
}
my $path = $q->('postgres', "SELECT path FROM pg_extension_update_paths('batchstate')
	WHERE source = '$base' AND target = '$current'");
my (undef, @steps) = split /--/, $path;
ok($path ne '', "the path from $base to $current exists") if $base ne $current;
note "path: $path; steps: @steps";

# --- the base release with data ---------------------------------------------------
my $db = create_db($node, 'batchstate_upgrade', extension => 0);
$q->($db, "CREATE EXTENSION batchstate VERSION '$base'");
is($version->($db), $base, "CREATE EXTENSION batchstate VERSION '$base' installs $base");
workload($node, $db, $seed, $scale);
my $before = snapshot($node, $db, 1);
is_text($before->{verify}, join("\n",
		"stale\tq0\tfailed\tq0/batch/6", "stale\tq0\tmerging\tq0/batch/9",
		"dangling\tq1\tcreated\tq0/batch/3", "missing\tq1\tscored\tq1/batch/1",
		"dangling\tq2\tcreated\tdrift/ghost", "missing\tq2\tspeculating\tdrift/no-membership"),
	"the workload's deliberate drift is what verify() reports before the upgrade");
is(scalar(split /\n/, $before->{batch}), $scale + 6, 'the workload wrote every batch');
is($q->($db, 'SELECT count(DISTINCT state) FROM batchstate.batch'), 8, 'the workload covers all 8 states');

my $i = 0;
for my $v (@steps)
{
	$i++;
	note "step $i: ALTER EXTENSION batchstate UPDATE TO '$v'";
	$q->($db, "ALTER EXTENSION batchstate UPDATE TO '$v'");
	is($version->($db), $v, "after UPDATE TO '$v': extversion is $v");
	my $after = snapshot($node, $db, 1);
	is_text($after->{batch}, $before->{batch}, "after UPDATE TO '$v': batch rows are those written (row by row)");
	is_text($after->{membership}, $before->{membership},
		"after UPDATE TO '$v': membership rows are those written (row by row)");
	is_text($after->{verify}, $before->{verify}, "after UPDATE TO '$v': verify() reports the same drift");
	my $fresh = create_db($node, "batchstate_upgrade_v$i", extension => 0);
	$q->($fresh, "CREATE EXTENSION batchstate VERSION '$v'");
	catalog_checks(catalog($node, $db), catalog($node, $fresh), "upgraded-to-$v", "fresh-$v");
}

# --- a bare ALTER EXTENSION UPDATE goes to the default version -------------------------
my $auto = create_db($node, 'batchstate_upgrade_auto', extension => 0);
$q->($auto, "CREATE EXTENSION batchstate VERSION '$base'");
$q->($auto, 'ALTER EXTENSION batchstate UPDATE');
is($version->($auto), $current, 'ALTER EXTENSION batchstate UPDATE reaches default_version');
is(sqlstate($node, $auto, 'ALTER EXTENSION batchstate UPDATE'), '',
	'a second ALTER EXTENSION batchstate UPDATE is a no-op, not an error');
my $fresh = create_db($node, 'batchstate_upgrade_fresh');
is($version->($fresh), $current, 'CREATE EXTENSION batchstate installs default_version');
my $fresh_catalog = catalog($node, $fresh);
catalog_checks(catalog($node, $auto), $fresh_catalog, 'updated', 'fresh');

# every released version updates straight to the default version, and the
# result is a fresh install's
for my $v (grep { $_ ne $base && $_ ne $current } @steps)
{
	my $from = create_db($node, "batchstate_upgrade_from_$v" =~ s/\./_/gr, extension => 0);
	$q->($from, "CREATE EXTENSION batchstate VERSION '$v'");
	workload($node, $from, $seed, 20);
	$q->($from, 'ALTER EXTENSION batchstate UPDATE');
	is($version->($from), $current, "from $v, ALTER EXTENSION batchstate UPDATE reaches $current");
	catalog_checks(catalog($node, $from), $fresh_catalog, "updated-from-$v", 'fresh');
}

# The comparison can fail: two changes made inside a transaction that is
# never committed must show up as exactly two differing objects.
my $mutated = catalog($node, $auto, "BEGIN;\nALTER FUNCTION batchstate.verify(text) VOLATILE;\n"
	  . "ALTER TABLE batchstate.batch_state_membership SET (fillfactor = 70);\n");
is(join(';', map { $_->[0] } grep { @{ $_->[1] } } catalog_diff($mutated, $fresh_catalog, 'mutated', 'fresh')),
	'function batchstate.verify(pg_catalog.text);table batchstate.batch_state_membership',
	'self-test: the comparison sees a changed volatility and a changed reloption');

# --- 1.3 on the upgraded data: the GIN index was built over it, since was set -----------
for my $look (['dependents_of', 'dependencies'], ['batches_containing', 'contains'])
{
	my ($fn, $col) = @$look;
	is($q->($db, qq{SELECT count(*) FROM (SELECT DISTINCT b.queue AS q, x
		FROM batchstate.batch b, unnest(b.$col) AS x) k
		WHERE ARRAY(SELECT id FROM batchstate.$fn(k.q, k.x, true))
		      IS DISTINCT FROM ARRAY(SELECT id FROM batchstate.batch
		                             WHERE queue = k.q AND k.x = ANY ($col) ORDER BY id COLLATE "C")}),
		0, "$fn on the upgraded data equals a scan of the batch rows");
}
is($q->($db, q{SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	WHERE c.relname = 'batch_arrays_gin' AND i.indisvalid}), 1, 'the GIN index over the arrays is built and valid');
is($q->($db, 'SELECT count(DISTINCT since) FROM batchstate.batch_state_membership'), 1,
	'rows filed before the upgrade all carry the time of the upgrade');
is($q->($db, q{SELECT count(*) FROM batchstate.queue_stats() WHERE batches > 0 AND oldest_since IS NULL}), 0,
	'queue_stats answers on the upgraded data');

# --- behaviour after the upgrade --------------------------------------------------------
$q->($db, "SELECT batchstate.create_batch('after/1', 'q0', 'created', '{lr-a}', '{q0/batch/3}', 0.5)");
is($q->($db, "SELECT state || ' ' || version FROM batchstate.batch_get('after/1')"), 'created 1',
	'create_batch after the upgrade');
is($q->($db, "SELECT batchstate.update_state('after/1', 1, 'scored')"), 't', 'update_state after the upgrade');
is($q->($db, "SELECT batchstate.update_score_and_state('after/1', 2, 0.9, 'speculating')"), 't',
	'update_score_and_state after the upgrade');
is($q->($db, "SELECT batchstate.update_state('after/1', 2, 'merging')"), 'f', 'a stale version still returns false');
is(sqlstate($node, $db, "SELECT batchstate.update_state('after/1', 3, 'created')"), '55000',
	'a forbidden move still raises 55000');
is($q->($db, "SELECT string_agg(id, ',') FROM batchstate.list_batches('q0', 'speculating') WHERE id LIKE 'after/%'"),
	'after/1', 'list_batches finds the new batch under its state');
is($q->($db, "SELECT batchstate.update_batch('after/1', 3, 'speculating', dependencies => '{q0/batch/4}')"), 't',
	'update_batch after the upgrade');
is($q->($db, "SELECT string_agg(id, ',') FROM batchstate.dependents_of('q0', 'q0/batch/4') WHERE id LIKE 'after/%'"),
	'after/1', 'dependents_of finds it after the upgrade');
is($q->($db, "SELECT count(*) FROM batchstate.list_active('q1') WHERE id = 'q1/batch/1'"), 0,
	'list_active skips a batch whose membership row is missing (hints only)');
is_text(snapshot($node, $db, 1)->{verify}, $before->{verify}, 'verify() after new moves: still exactly the old drift');
is($q->($db, "SELECT added || ' ' || removed FROM batchstate.reconcile()"), '2 4',
	'reconcile() repairs the drift: 2 added, 4 removed');
is($q->($db, 'SELECT count(*) FROM batchstate.verify()'), 0, 'verify() is empty after reconcile()');
is($q->($db, 'SELECT (SELECT count(*) FROM batchstate.batch_state_membership)
	= (SELECT count(*) FROM batchstate.batch WHERE NOT batchstate.is_terminal(state))'), 't',
	'every non-terminal batch has exactly its one membership row');
my ($columns) = base_columns();
is_text($q->($db, "COPY (SELECT $columns FROM batchstate.batch WHERE id <> 'after/1' ORDER BY id COLLATE \"C\") TO STDOUT"),
	$before->{batch}, 'reconcile() never touches a batch row');

done_testing();
