# test/perl/BatchstateTest/Hostile.pm: batchstate against hostile callers,
# BatchstateTest::Hostile::run(NODE) in a database of its own; run by
# test/t/020_hostile.pl, and on an AddressSanitizer build by
# test/t/030_sanitizer.pl.  The SQL it uses lives in test/hostile/.
#
#  1. catalog: no function of the extension is SECURITY DEFINER.
#  2. search_path: every function, run under
#     SET search_path = evil, pg_catalog, batchstate
#     where schema evil (sql/evil.sql) shadows the tables, the text / int4 /
#     float8 / tid / text[] comparison operators and the collation "C",
#     gives the same output as under the default path; in fresh sessions
#     and in sessions whose kept plans were first prepared under the other
#     path; also with temporary tables of the same names, and with
#     batchstate.notify_channel set.  The shadow operators are never called
#     and the shadow tables never touched.
#  3. privileges: a role with no grant gets 42501 "permission denied for
#     schema batchstate" from every function; a reader (USAGE + SELECT) can
#     call every read function in read-write and read-only transactions and
#     gets 42501 from the writes; a writer (USAGE + SELECT, INSERT, UPDATE,
#     DELETE) can call everything; a list prunes only for a writer
#     (BatchstateTest::Hostile::Privileges).
#  4. bad-input corpus (test/hostile/corpus.pl, run by BatchstateTest::Cases):
#     every function, every argument, each bad value: the documented
#     SQLSTATE or success, never XX000, never a crash, nothing written by a
#     failed call; run twice, the second time with
#     batchstate.notify_channel set (moves then take the locking path and
#     build a NOTIFY payload).
#  5. notifications: batchstate.notify_channel's bounds, and the payloads a
#     listening session receives for ids full of quotes, backslashes,
#     control and non-BMP characters: exact JSON, under NOTIFY's 8000 bytes.
#
# Knobs: HOSTILE_BIG_BYTES, the "1 MB" strings (default 1048576);
# HOSTILE_BIG_ELEMS, the "100k" arrays (default 100000).
package BatchstateTest::Hostile;

use strict;
use warnings;

use BatchstateTest;
use BatchstateTest::Cases;
use BatchstateTest::Hostile::Privileges;
use Encode ();
use IPC::Run;
use JSON::PP ();
use PostgreSQL::Test::Utils;
use Test::More;

my $DIR = repo_path('test/hostile');
my $DB = 'batchstate_hostile';
my $EVIL_PATH = 'evil, pg_catalog, batchstate';
my $PLAIN_PATH = '"$user", public';

sub run
{
	my ($node) = @_;
	my $big = $ENV{HOSTILE_BIG_BYTES} // 1048576;
	my $elems = $ENV{HOSTILE_BIG_ELEMS} // 100000;
	note "hostile: database $DB, big strings $big bytes, big arrays $elems elements";
	create_db($node, $DB);
	$node->safe_psql($DB, slurp_file("$DIR/sql/$_")) for qw(evil.sql helpers.sql);
	my $started = value($node, 'SELECT pg_postmaster_start_time()');

	catalog($node);
	search_path($node);
	BatchstateTest::Hostile::Privileges::run($node, $DB);

	note 'bad-input corpus: every function, every argument, each bad value';
	my ($corpus) = run_command([ $^X, "$DIR/corpus.pl", $big, $elems ]);
	my @corpus = read_cases('corpus.pl', $corpus);
	note scalar(@corpus) . ' calls';
	run_cases($node, $DB, \@corpus);
	note 'the corpus again with batchstate.notify_channel set: creates and moves build a NOTIFY payload';
	run_cases($node, $DB, \@corpus,
		label => 'notify', pgoptions => '-c batchstate.notify_channel=hostile');

	notifications($node);
	is(value($node, 'SELECT pg_postmaster_start_time()'), $started,
		'the postmaster was not restarted');
	return;
}

sub value { my ($node, $sql) = @_; return $node->safe_psql($DB, $sql) }

# psql_all(NODE, ARGS..., {ENV}): psql -X -q -v ON_ERROR_STOP=1 on the test
# database, its output and errors together, as a reader sees them
sub psql_all
{
	my ($node, @args) = @_;
	my %env = ref $args[-1] eq 'HASH' ? %{ pop @args } : ();
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local @ENV{ keys %env } = values %env;
	my $out = '';
	IPC::Run::run([ bin_of($node, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', $DB, @args ], '<', \'', '>&', \$out);
	return $out;
}

sub catalog
{
	my ($node) = @_;
	note 'catalog';
	my $ext_functions = q{SELECT p.oid FROM pg_proc p JOIN pg_depend d
	    ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	    AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
	    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'batchstate'};
	is(value($node, "SELECT count(*) FROM ($ext_functions) f"), 30,
		'the extension has the 30 functions of doc/API.md');
	is(value($node, "SELECT coalesce(string_agg(oid::regprocedure::text, ', '), 'none')
	                 FROM pg_proc WHERE prosecdef AND oid IN ($ext_functions)"), 'none',
		'no function of the extension is SECURITY DEFINER');
	return;
}

sub search_path
{
	my ($node) = @_;
	note "search_path: schema evil first (SET search_path = $EVIL_PATH)";
	my $decoys = value($node, 'SELECT evil.md5_decoys()');
	# controls: the traps are live under the evil path
	my @control = split /\n/, value($node, <<"EOF");
SET search_path = $EVIL_PATH;
SELECT hostile.try(\$\$'a'::text = 'b'::text\$\$);
SELECT hostile.try(\$\$1 = 1\$\$);
SELECT hostile.try(\$\$1.5::float8 <> 2\$\$);
SELECT hostile.try(\$\$(SELECT string_agg(x, ',' ORDER BY x COLLATE "C") FROM (VALUES ('B'), ('a')) v(x))\$\$);
SELECT hostile.try(\$\$(SELECT count(*) FROM batch)\$\$);
EOF
	is(substr($control[0] // '', 0, 32), 'P0001: evil text operator called',
		'control: under the evil path an unqualified text = hits the trap');
	is(substr($control[1] // '', 0, 32), 'P0001: evil int4 operator called',
		'control: under the evil path an unqualified int4 = hits the trap');
	is(substr($control[2] // '', 0, 34), 'P0001: evil float8 operator called',
		'control: under the evil path an unqualified float8 <> hits the trap');
	is($control[3], 'ok: a,B', 'control: under the evil path COLLATE "C" is evil\'s (a before B)');
	is($control[4], 'ok: 4', 'control: under the evil path an unqualified batch is evil\'s');
	value($node, "SELECT setval('evil.shadow_calls', 1, false)");

	# calls.sql under PATH in a fresh session (more arguments: the same session)
	my $calls = sub {
		my ($path, @more) = @_;
		return psql_all($node, '-v', "path=$path", '-f', "$DIR/sql/calls.sql", @more);
	};
	my $notify = { PGOPTIONS => '-c batchstate.notify_channel=hostile' };
	my $plain = $calls->($PLAIN_PATH);
	my $evil = $calls->($EVIL_PATH);
	my $evil_plain = $calls->($EVIL_PATH, '-c', "\\set path '$PLAIN_PATH'", '-f', "$DIR/sql/calls.sql");
	my $plain_evil = $calls->($PLAIN_PATH, '-c', "\\set path '$EVIL_PATH'", '-f', "$DIR/sql/calls.sql");
	my $temp = psql_all($node, '-f', "$DIR/sql/temp_shadow.sql", '-v', "path=$EVIL_PATH",
		'-f', "$DIR/sql/calls.sql", '-f', "$DIR/sql/temp_check.sql");
	my $plain_notify = $calls->($PLAIN_PATH, $notify);
	my $evil_notify = $calls->($EVIL_PATH, $notify);

	my $lines = () = $plain =~ /\n/g;
	ok($plain !~ /ERROR/ && $plain =~ m{q2/x},
		"calls.sql runs cleanly under the default path ($lines lines of output)")
	  or diag(join("\n", grep { defined } (split /\n/, $plain)[ 0 .. 39 ]));
	is_text($evil, $plain, 'evil path, fresh session: same output as the default path');
	is_text($evil_plain, $plain . $plain,
		'evil path then default path in one session (plans first prepared under evil)');
	is_text($plain_evil, $plain . $plain,
		'default path then evil path in one session (plans first prepared under the default)');
	is_text($evil_notify, $plain_notify,
		'evil path with batchstate.notify_channel set (every move on the slow path): same output');
	my $temp_decoys = $temp =~ s/([^\n]*)\n\z//s ? $1 : '';
	is_text($temp, $plain,
		'evil path and temporary tables batch, batch_state_membership: same output');
	is($temp_decoys,
		'(q1/b1,q1,{temp},{},0.33,merging,33)|(q1/temp,q1,{temp},{},0.33,created,33)#'
		  . '(q1,created,q1/temp)|(q1,merging,q1/b1)|(q1,succeeded,q1/temp)',
		'the temporary decoy tables are untouched');
	is(value($node, 'SELECT is_called FROM evil.shadow_calls'), 'f',
		'no shadow operator was ever called (evil.shadow_calls unused)');
	is(value($node, 'SELECT evil.md5_decoys()'), $decoys,
		'the shadow tables evil.batch, evil.batch_state_membership are untouched');
	return;
}

sub notifications
{
	my ($node) = @_;
	note 'batchstate.notify_channel: its values, and the payloads of hostile ids';
	my @cases = read_cases("$DIR/notify.tsv");
	run_cases($node, $DB, \@cases);

	# psql prints each notification after the statement that committed it;
	# sql/payloads.sql prints the ids first (hex of their UTF-8 bytes)
	my $out = psql_all($node, '-f', "$DIR/sql/payloads.sql");
	my (%ids, @got);
	for (split /\n/, $out)
	{
		$ids{$1} = [ $2, $3 ] if /^ID\|(\d+)\|(\w+)\|(\w+)$/;
		push @got, $1
		  if /^Asynchronous notification "hostile_payloads" with payload "(.*)" received from server process/;
	}
	is(scalar @got, 6, 'a listening session gets six notifications for three creates and three moves');
	# [id number, queue in the payload?, previous_state, state, version]
	my @want = (
		[ 0, 1, undef, 'created', 1 ], [ 0, 1, 'created', 'scored', 2 ],
		[ 1, 0, undef, 'created', 1 ], [ 1, 0, 'created', 'failed', 2 ],
		[ 2, 1, undef, 'merging', 1 ], [ 2, 1, 'merging', 'succeeded', 2 ]);
	my @why = map { payload_problems($got[$_], $ids{ $want[$_][0] }, @{ $want[$_] }) } 0 .. 5;
	my @names = (
		'an id with quotes, backslash, control, non-BMP and U+2028 characters: exact JSON',
		'a 1024-byte id of control characters (6 kB escaped): JSON without the queue, under 8000 bytes',
		'a 1024-byte id of four-byte characters, a queue of 1024 quotes (2 kB escaped): exact JSON with the queue');
	for my $k (0 .. 2)
	{
		my @bad = grep { $why[$_] } 2 * $k, 2 * $k + 1;
		ok(!@bad, $names[$k]) or diag(map { "notification $_: $why[$_]\n" } @bad);
	}
	return;
}

# payload_problems(PAYLOAD, [ID_HEX, QUEUE_HEX], N, WITH_QUEUE, PREVIOUS,
# STATE, VERSION): what is wrong with one payload, '' when nothing
sub payload_problems
{
	my ($payload, $hex, undef, $with_queue, $prev, $state, $version) = @_;
	$payload //= '';
	my $hex_of = sub { unpack 'H*', Encode::encode('UTF-8', $_[0] // '') };
	my $v = eval { JSON::PP->new->decode(Encode::decode('UTF-8', $payload)) };
	my @why;
	if (!$v) { push @why, "not JSON ($@)"; }
	else
	{
		push @why, 'id differs' unless $hex_of->($v->{id}) eq ($hex->[0] // '-');
		if ($with_queue) { push @why, 'queue differs' unless $hex_of->($v->{queue}) eq ($hex->[1] // '-'); }
		else { push @why, 'queue present' if exists $v->{queue}; }
		push @why, 'previous_state differs' unless ($v->{previous_state} // 'null') eq ($prev // 'null');
		push @why, 'state differs' unless ($v->{state} // '') eq $state;
		push @why, 'version differs' unless ($v->{version} // 0) == $version;
	}
	push @why, 'payload of ' . length($payload) . ' bytes' if length($payload) >= 8000;
	return join(', ', @why);
}

1;
