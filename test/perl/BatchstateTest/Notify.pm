# test/perl/BatchstateTest/Notify.pm: run by test/t/060_notify.pl.
# A listening session checks what batchstate.notify_channel sends: one
# notification per committed create_batch / update_state /
# update_score_and_state, an exact JSON payload, and nothing at all for a
# rollback, a lost CAS, a failed call, a storage primitive or the setting off.
#
# How "nothing" is proven: after each step a third connection sends a
# sentinel NOTIFY; notifications reach a listener in commit order, so what
# arrives before the sentinel is exactly what the step sent.
#
#   BatchstateTest::Notify::run(NODE, DB)   DB has batchstate; Test::More checks
package BatchstateTest::Notify;

use strict;
use warnings;

use BatchstateTest;
use DBI;
use IO::Select;
use JSON::PP;
use Test::More;

my ($node, $db, $L, $W, $S, $sel);
my $seq = 0;

sub connect_db
{
	my ($user) = @_;
	my $dbh = dbi_connect($node, $db, $user, { pg_enable_utf8 => 1 })
	  or die "cannot connect to $db: $DBI::errstr\n";
	$dbh->do("SET client_min_messages = warning");
	return $dbh;
}

# check(COND, NAME, DIAG...): ok(COND, NAME), the DIAG lines on a failure
sub check
{
	my ($cond, $name, @diag) = @_;
	ok($cond, $name) or diag(join("\n", grep { defined } @diag));
	return $cond;
}

sub show
{
	my ($v) = @_;
	return 'undef' unless defined $v;
	(my $s = $v) =~ s/([^\x20-\x7e])/sprintf('\\x{%x}', ord $1)/ge;
	return "'$s'";
}

# Run SQL that must succeed; die (a broken test, not a check) otherwise.
sub must
{
	my ($dbh, $sql, @bind) = @_;
	my $sth = $dbh->prepare($sql);
	$sth->execute(@bind) or die "unexpected error in: $sql\n  " . $dbh->errstr . "\n";
	my $row = $sth->{NUM_OF_FIELDS} ? $sth->fetchrow_arrayref : undef;
	my @row = $row ? @$row : ();
	$sth->finish;
	return wantarray ? @row : $row[0];
}

# Run SQL that must fail; return its SQLSTATE ('' when it succeeded).
sub sqlstate_of
{
	my ($dbh, $sql, @bind) = @_;
	my $sth = $dbh->prepare($sql);
	my $rv  = $sth->execute(@bind);
	$sth->finish if $rv;
	return $rv ? '' : $dbh->state;
}

# Everything the listener received up to a fresh sentinel: [channel, pid, payload].
sub collect
{
	my $tag = 'sentinel-' . ++$seq;
	must($S, 'SELECT pg_notify(?, ?)', 'bs_sentinel', $tag);
	my @got;
	my $deadline = time + 15;
	while (1)
	{
		while (my $n = $L->pg_notifies)
		{
			my ($channel, $pid, $payload) = @$n;
			if ($channel eq 'bs_sentinel')
			{
				return \@got if $payload eq $tag;
				next;
			}
			push @got, [ $channel, $pid, $payload ];
		}
		die "no sentinel notification within 15 s\n" if time > $deadline;
		$sel->can_read(0.5);
	}
}

sub none
{
	my ($name) = @_;
	my $got = collect();
	check(@$got == 0, $name,
		map { "unexpected: channel $_->[0], payload " . show($_->[2]) } @$got);
}

my $json = JSON::PP->new->canonical;

# Check one notification against the expected channel, sender and fields.
sub check_note
{
	my ($name, $note, $channel, $pid, %want) = @_;
	unless (check(defined $note, "$name: a notification arrived"))
	{
		return;
	}
	my ($ch, $from, $payload) = @$note;
	is($ch,   $channel, "$name: on channel \"$channel\"");
	is($from, $pid,     "$name: sent by the writer's backend");
	my $obj;
	# DBD::Pg hands out characters with pg_enable_utf8; bytes otherwise
	my $decoder = utf8::is_utf8($payload) ? JSON::PP->new : JSON::PP->new->utf8;
	eval { $obj = $decoder->decode($payload); 1 }
	  or return check(0, "$name: the payload is JSON", 'payload: ' . show($payload), $@);
	ok(ref $obj eq 'HASH', "$name: the payload is a JSON object")
	  or return;
	is(join(',', sort keys %$obj), 'id,previous_state,queue,state,version',
		"$name: payload keys are exactly id, queue, previous_state, state, version");
	for my $k (qw(id queue previous_state state version))
	{
		is($obj->{$k}, $want{$k}, "$name: $k");
	}
	# types: previous_state null (not "null"), version a number (not "2")
	my $canon = $json->encode({ %want, version => 0 + $want{version} });
	is($json->encode($obj), $canon, "$name: payload types (null, number)");
}

sub expect_notes
{
	my ($name, $channel, @want) = @_;
	my $got = collect();
	is(scalar @$got, scalar @want, "$name: " . scalar(@want) . ' notification(s)');
	for my $i (0 .. $#want)
	{
		check_note(@want > 1 ? "$name #" . ($i + 1) : $name,
			$got->[$i], $channel, $W->{pg_pid}, %{ $want[$i] });
	}
}

sub note_of
{
	my ($id, $queue, $prev, $state, $version) = @_;
	return { id => $id, queue => $queue, previous_state => $prev,
		state => $state, version => $version };
}

sub run
{
	($node, $db) = @_;
	$L = connect_db();    # the listener
	$W = connect_db();    # the writer
	$S = connect_db();    # sends the sentinels
	$sel = IO::Select->new($L->{pg_socket});

	must($L, 'LISTEN bs_sentinel');

	note("the setting");
	# the setting exists once the library is loaded
	must($W, "SELECT batchstate.is_valid_state('created')");
	my ($setting, $context, $vartype, $boot) = must($W,
		"SELECT setting, context, vartype, boot_val FROM pg_settings WHERE name = 'batchstate.notify_channel'");
	is($vartype, 'string', 'batchstate.notify_channel is a string setting');
	is($context, 'user',   'batchstate.notify_channel is settable by any user (PGC_USERSET)');
	is($boot,    '',       "batchstate.notify_channel defaults to ''");
	is($setting, '',       'batchstate.notify_channel is empty in a new session');

	note("off by default");
	must($L, 'LISTEN bs_events');
	must($W, "SELECT batchstate.create_batch('off-1', 'q')");
	must($W, "SELECT batchstate.update_state('off-1', 1, 'scored')");
	none('setting empty: create and move send nothing');

	note("create");
	must($W, "SET batchstate.notify_channel = 'bs_events'");
	must($W, "SELECT batchstate.create_batch('b1', 'q1')");
	expect_notes('create_batch with defaults', 'bs_events',
		note_of('b1', 'q1', undef, 'created', 1));

	must($W, "SELECT batchstate.create_batch('b2', 'q1', 'scored', '{lr1,lr2}', '{b1}', 0.25, 7)");
	expect_notes('create_batch in scored at version 7', 'bs_events',
		note_of('b2', 'q1', undef, 'scored', 7));

	must($W, "SELECT batchstate.create_batch('b3', 'q1', 'failed')");
	expect_notes('create_batch in a terminal state', 'bs_events',
		note_of('b3', 'q1', undef, 'failed', 1));

	note("moves");
	must($W, "SELECT batchstate.update_state('b1', 1, 'scored')");
	expect_notes('update_state created -> scored', 'bs_events',
		note_of('b1', 'q1', 'created', 'scored', 2));

	must($W, "SELECT batchstate.update_score_and_state('b1', 2, 0.75, 'speculating')");
	expect_notes('update_score_and_state scored -> speculating', 'bs_events',
		note_of('b1', 'q1', 'scored', 'speculating', 3));

	must($W, "SELECT batchstate.update_state('b1', 3, 'speculating')");
	expect_notes('update_state to the same state (a version bump)', 'bs_events',
		note_of('b1', 'q1', 'speculating', 'speculating', 4));

	note("update_batch (1.3): the same payload as update_state");
	must($W, "SELECT batchstate.create_batch('u1', 'q1', 'creating', '{lr9}')");
	must($W, "SELECT batchstate.update_batch('u1', 1, 'created', dependencies => '{b1}')");
	expect_notes('create in creating, then update_batch to created with its dependencies', 'bs_events',
		note_of('u1', 'q1', undef, 'creating', 1),
		note_of('u1', 'q1', 'creating', 'created', 2));
	must($W, "SELECT batchstate.update_batch('u1', 2, 'created', '{lr9,lr10}', NULL, 0.5)");
	expect_notes('update_batch to the same state, new contains and score (a version bump)', 'bs_events',
		note_of('u1', 'q1', 'created', 'created', 3));
	is(must($W, "SELECT batchstate.update_batch('u1', 2, 'failed')"), 0,
		'update_batch with a stale version returns false');
	is(sqlstate_of($W, "SELECT batchstate.update_batch('u1', 3, 'creating')"), '55000',
		'update_batch into creating raises 55000');
	none('a lost or refused update_batch sends nothing');
	must($W, "SELECT batchstate.update_batch('u1', 3, 'failed')");
	expect_notes('update_batch to a terminal state', 'bs_events',
		note_of('u1', 'q1', 'created', 'failed', 4));

	must($W, "SELECT batchstate.update_state('b1', 4, 'merging')");
	must($W, "SELECT batchstate.update_state('b1', 5, 'succeeded')");
	expect_notes('two moves, merging then succeeded (terminal), in order', 'bs_events',
		note_of('b1', 'q1', 'speculating', 'merging', 5),
		note_of('b1', 'q1', 'merging', 'succeeded', 6));

	note("transactions");
	$W->begin_work;
	must($W, "SELECT batchstate.create_batch('t1', 'q2')");
	must($W, "SELECT batchstate.update_state('t1', 1, 'speculating')");
	none('inside an open transaction: nothing is delivered before commit');
	$W->commit;
	expect_notes('create and move in one transaction: both at commit, in order', 'bs_events',
		note_of('t1', 'q2', undef, 'created', 1),
		note_of('t1', 'q2', 'created', 'speculating', 2));

	$W->begin_work;
	must($W, "SELECT batchstate.create_batch('rb-1', 'q2')");
	must($W, "SELECT batchstate.update_state('t1', 2, 'merging')");
	$W->rollback;
	none('rolled-back create and move send nothing');
	is(must($W, "SELECT version FROM batchstate.batch WHERE id = 't1'"), 2,
		'the rolled-back move left t1 at version 2');

	$W->begin_work;
	must($W, "SELECT batchstate.update_state('t1', 2, 'merging')");
	must($W, 'SAVEPOINT s');
	must($W, "SELECT batchstate.create_batch('sp-1', 'q2')");
	must($W, 'ROLLBACK TO SAVEPOINT s');
	$W->commit;
	expect_notes('a create rolled back to a savepoint is not sent, the rest is', 'bs_events',
		note_of('t1', 'q2', 'speculating', 'merging', 3));

	note("calls that change nothing");
	is(must($W, "SELECT batchstate.update_state('t1', 1, 'failed')"), 0,
		'update_state with a stale version returns false');
	is(must($W, "SELECT batchstate.update_score_and_state('t1', 9, 0.5, 'failed')"), 0,
		'update_score_and_state with a stale version returns false');
	none('a lost CAS (false) sends nothing');

	$W->begin_work;
	is(must($W, "SELECT batchstate.update_state('t1', 2, 'failed')"), 0,
		'a lost CAS inside a committed transaction returns false');
	$W->commit;
	none('a lost CAS inside a committed transaction sends nothing');

	is(sqlstate_of($W, "SELECT batchstate.update_state('t1', 3, 'scored')"), '55000',
		'merging -> scored raises 55000');
	is(sqlstate_of($W, "SELECT batchstate.update_score_and_state('b1', 6, 0.5, 'failed')"), '55000',
		'a move out of a terminal state raises 55000');
	is(sqlstate_of($W, "SELECT batchstate.update_state('nope', 1, 'scored')"), 'P0002',
		'update_state of a missing batch raises P0002');
	is(sqlstate_of($W, "SELECT batchstate.create_batch('t1', 'q2')"), '23505',
		'create_batch of a taken id raises 23505');
	is(sqlstate_of($W, "SELECT batchstate.update_state('t1', 3, 'bogus')"), '22023',
		'update_state to an unknown state raises 22023');
	is(sqlstate_of($W, "SELECT batchstate.update_state('t1', 2147483647, 'failed')"), '22003',
		'update_state at the largest version raises 22003');
	none('failed calls (55000, P0002, 23505, 22023, 22003) send nothing');

	# a move that succeeded but whose transaction then failed
	$W->begin_work;
	must($W, "SELECT batchstate.update_state('t1', 3, 'cancelling')");
	sqlstate_of($W, 'SELECT 1/0');
	$W->rollback;
	none('a move in a transaction that later fails sends nothing');

	note("storage primitives and repair functions");
	must($W, "SELECT batchstate.batch_create('p1', 'q3', 'created')");
	must($W, "SELECT batchstate.batch_update_state('p1', 1, 2, 'scored')");
	must($W, "SELECT batchstate.batch_update_score_and_state('p1', 2, 3, 0.5, 'speculating')");
	must($W, "SELECT batchstate.membership_add('q3', 'created', 'p1')");
	must($W, "SELECT batchstate.membership_remove('q3', 'created', 'p1')");
	must($W, "SELECT batchstate.ensure_membership('p1')");
	must($W, "SELECT batchstate.membership_add('q3', 'merging', 'p1')");
	must($W, "SELECT * FROM batchstate.reconcile()");
	must($W, "SELECT count(*) FROM batchstate.list_active('q3')");
	must($W, "SELECT count(*) FROM batchstate.verify()");
	none('batch_create, batch_update_*, membership_*, ensure_membership, reconcile, list, verify send nothing');

	note("switching off");
	must($W, "SET batchstate.notify_channel = ''");
	must($W, "SELECT batchstate.create_batch('off-2', 'q')");
	must($W, "SELECT batchstate.update_state('off-2', 1, 'scored')");
	none("set to '': nothing is sent");
	must($W, "SET batchstate.notify_channel = 'bs_events'");
	must($W, 'RESET batchstate.notify_channel');
	must($W, "SELECT batchstate.update_state('off-2', 2, 'failed')");
	none('after RESET: nothing is sent');

	$W->begin_work;
	must($W, "SET LOCAL batchstate.notify_channel = 'bs_events'");
	must($W, "SELECT batchstate.create_batch('local-1', 'q')");
	$W->commit;
	must($W, "SELECT batchstate.update_state('local-1', 1, 'scored')");
	expect_notes('SET LOCAL covers its transaction only', 'bs_events',
		note_of('local-1', 'q', undef, 'created', 1));

	note("JSON escaping");
	must($W, "SET batchstate.notify_channel = 'bs_events'");
	my @odd = (
		[ q{quote"d},                 q{q"ueue} ],
		[ q{back\slash\\},            q{\\} ],
		[ qq{tab\tnew\nline\rcr},     qq{q\x01ctl} ],
		[ qq{caf\x{e9}/\x{65e5}\x{672c}/\x{1f680}}, qq{\x{fc}ber} ],
		[ q{it's {"a":[1]} </script>}, q{'} ],
	);
	for my $pair (@odd)
	{
		my ($id, $queue) = @$pair;
		must($W, 'SELECT batchstate.create_batch(?, ?)', $id, $queue);
		must($W, "SELECT batchstate.update_state(?, 1, 'scored')", $id);
		expect_notes('id ' . show($id) . ' queue ' . show($queue), 'bs_events',
			note_of($id, $queue, undef, 'created', 1),
			note_of($id, $queue, 'created', 'scored', 2));
	}

	# the largest ids: 1024 bytes each, id and queue of characters JSON must escape
	for my $case ([ 'quotes', '"' ], [ 'backslashes', '\\' ], [ 'control characters', "\x01" ])
	{
		my ($what, $ch) = @$case;
		my $id    = $ch x 1023 . 'i';
		my $queue = $ch x 1023 . 'q';
		my $state = sqlstate_of($W, 'SELECT batchstate.create_batch(?, ?)', $id, $queue);
		is($state, '', "create_batch with a 1024-byte id and queue of $what succeeds with notifications on")
		  or diag('error: ' . $W->errstr);
		my $got = collect();
		is(scalar @$got, $state eq '' ? 1 : 0,
			"1024-byte id and queue of $what: one notification for a committed create");
		if (@$got)
		{
			my $obj = eval { JSON::PP->new->decode($got->[0][2]) };
			# quotes and backslashes escape to 2 bytes: both fit.  Control
			# characters escape to 6: 12 kB would pass NOTIFY's 8000-byte limit,
			# so the documented fallback leaves the queue out and keeps the id.
			if ($ch eq "\x01")
			{
				ok($obj && $obj->{id} eq $id && !exists $obj->{queue}
					  && $obj->{state} eq 'created' && $obj->{version} == 1,
					"1024-byte id and queue of $what: over the limit, the payload keeps the id and leaves the queue out");
			}
			else
			{
				ok($obj && $obj->{id} eq $id && $obj->{queue} eq $queue,
					"1024-byte id and queue of $what: the payload carries both in full");
			}
		}
	}

	note("channel names");
	my $long63 = 'c' x 63;
	my $long64 = 'c' x 64;
	is(sqlstate_of($W, "SET batchstate.notify_channel = '$long64'"), '22023',
		'SET to a 64-byte channel name raises 22023');
	is(sqlstate_of($W, 'SELECT set_config(?, ?, false)', 'batchstate.notify_channel', $long64), '22023',
		'set_config to a 64-byte channel name raises 22023');
	is(sqlstate_of($W, "SET batchstate.notify_channel = '" . ("\x{e9}" x 32) . "'"), '22023',
		'SET to a 32-character, 64-byte channel name raises 22023 (bytes count)');
	is(must($W, 'SHOW batchstate.notify_channel'), 'bs_events',
		'a rejected value leaves the setting as it was');
	is(sqlstate_of($W, "ALTER DATABASE $db SET batchstate.notify_channel = '$long64'"), '22023',
		'ALTER DATABASE SET to a 64-byte channel name raises 22023');

	# before the library is loaded the server keeps any value as a placeholder;
	# the check runs when the library loads: a warning, and the value is dropped
	my $F = connect_db();
	is(sqlstate_of($F, "SET batchstate.notify_channel = '$long64'"), '',
		'a new session accepts a 64-byte value before the library is loaded (a placeholder)');
	my @warnings;
	{
		local $SIG{__WARN__} = sub { push @warnings, $_[0] };
		must($F, "SELECT batchstate.create_batch('placeholder-1', 'q')");
	}
	check((grep { /invalid value for parameter "batchstate.notify_channel"/ } @warnings),
		'loading the library warns about the 64-byte placeholder value', @warnings);
	is(must($F, 'SHOW batchstate.notify_channel'), '',
		'loading the library drops the 64-byte placeholder value');
	$F->disconnect;
	none('a dropped 64-byte placeholder value sends nothing');

	must($L, qq{LISTEN "$long63"});
	must($W, "SET batchstate.notify_channel = '$long63'");
	must($W, "SELECT batchstate.create_batch('long-channel', 'q')");
	expect_notes('a 63-byte channel name works', $long63,
		note_of('long-channel', 'q', undef, 'created', 1));

	must($L, 'LISTEN "Mixed Case"');
	must($W, q{SET batchstate.notify_channel = 'Mixed Case'});
	must($W, "SELECT batchstate.update_state('long-channel', 1, 'scored')");
	expect_notes('the channel name is used verbatim (case, spaces)', 'Mixed Case',
		note_of('long-channel', 'q', 'created', 'scored', 2));

	note("ALTER DATABASE ... SET");
	must($W, "SET batchstate.notify_channel = ''");
	must($S, "ALTER DATABASE $db SET batchstate.notify_channel = 'bs_db'");
	must($L, 'LISTEN bs_db');
	my $W1 = $W;
	$W = connect_db();    # a new session picks up the database default
	is(must($W, 'SHOW batchstate.notify_channel'), 'bs_db',
		'a new session has the channel set with ALTER DATABASE (before the library loads)');
	must($W, "SELECT batchstate.create_batch('db-1', 'q4')");
	must($W, "SELECT batchstate.update_score_and_state('db-1', 1, 1, 'scored')");
	expect_notes('the database default channel', 'bs_db',
		note_of('db-1', 'q4', undef, 'created', 1),
		note_of('db-1', 'q4', 'created', 'scored', 2));
	must($W1, "SELECT batchstate.update_state('db-1', 2, 'failed')");
	none('an older session that set the channel empty still sends nothing');
	must($W, "SET batchstate.notify_channel = ''");
	must($W, "SELECT batchstate.create_batch('db-2', 'q4')");
	none("a session may switch the database default off with SET ''");
	must($S, "ALTER DATABASE $db RESET batchstate.notify_channel");
	$W->disconnect;
	$W = connect_db();
	must($W, "SELECT batchstate.create_batch('db-3', 'q4')");
	none('after ALTER DATABASE RESET a new session sends nothing');
	$W1->disconnect;

	note("an unprivileged writer");
	# PGC_USERSET: any role with the writer grants may turn it on
	must($S, 'DROP ROLE IF EXISTS bs_notify_writer');
	must($S, 'CREATE ROLE bs_notify_writer LOGIN');
	must($S, 'GRANT USAGE ON SCHEMA batchstate TO bs_notify_writer');
	must($S, 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA batchstate TO bs_notify_writer');
	my $U = connect_db('bs_notify_writer');
	must($U, "SET batchstate.notify_channel = 'bs_events'");
	must($U, "SELECT batchstate.create_batch('user-1', 'q5')");
	my $got = collect();
	is(scalar @$got, 1, 'a non-superuser writer sends a notification');
	check_note('a non-superuser writer', $got->[0], 'bs_events', $U->{pg_pid},
		%{ note_of('user-1', 'q5', undef, 'created', 1) });
	$U->disconnect;
	must($S, 'DROP OWNED BY bs_notify_writer');
	must($S, 'DROP ROLE bs_notify_writer');

	$_->disconnect for ($W, $L, $S);
	return;
}

1;
