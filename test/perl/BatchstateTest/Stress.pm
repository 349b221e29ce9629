# test/perl/BatchstateTest/Stress.pm: randomized concurrent stress test of
# batchstate with an independent model of the outcome.  Run by
# test/t/010_stress.pl: BatchstateTest::Stress::run(NODE, DB), DB holding
# the extension; one Test::More check per property below.
#
# N client processes (forked, one connection each, autocommit, READ
# COMMITTED) issue M random operations each: creates (new ids, duplicate
# ids, defaults, random queues and states, terminal ones too),
# update_state / update_score_and_state with right, stale, garbage, huge
# and invalid versions and legal and illegal target states, a few
# batch_update_state primitive moves to terminal states (they leave a stale
# membership row behind on purpose, for list_batches to prune), batch_get,
# list_batches, list_active, ensure_membership, verify, reconcile, and
# invalid inputs (NULLs, empty strings, bad scores, unknown states,
# multi-dimensional arrays, over-long keys, version 0 and INT_MAX).  Some
# updates, ensure_membership and reconcile calls run in explicit
# transactions that hold their row locks a few milliseconds (and some of
# those roll back), so that others queue behind them.  A drift injection
# (outside the API: lock the batch, delete its membership row) makes rows
# go missing, for ensure_membership and reconcile to repair while moves
# race them.  Every client logs each call and its outcome (the rows or the
# SQLSTATE).
#
# After the clients end, the logs are checked against a model that does
# not trust the extension: its own copy of the transition policy and of the
# argument rules, and a per-batch chain of successful compare-and-sets
# (versions start at the create's version and each win adds one, so the
# wins on a batch must use each version exactly once).  From the chain the
# state and score at every version are known, so every row any client read
# (batch_get, list_batches) can be checked against it; each client's reads
# must never go back in time; every success must be a legal move from the
# state at its expected version and every 55000 an illegal one; the final
# tables must match the chain exactly; verify() may only show the rows the
# primitive moves left behind and the rows the injection deleted; after one
# list_batches sweep over every state of every queue (which prunes the
# leftovers) reconcile() must add exactly the missing rows and remove
# nothing, and then verify() must be empty, with exactly one membership
# row per non-terminal batch.
#
# Environment (all optional): STRESS_SEED (default 1), STRESS_CLIENTS (4), STRESS_OPS (5000 per
# client), STRESS_TIME_LIMIT (seconds for the load, default 150),
# STRESS_VERBOSE=1 (print every violation, not just the first few),
# STRESS_LOGDIR (keep the client logs, one JSON record per call, there),
# STRESS_SABOTAGE=mode[,mode...] (corrupts the database or the logs after
# the load, to show that the checks can fail; modes: db_version, db_state,
# db_member, db_extra, log_cas, log_55000, log_list, log_sqlstate,
# log_argerror, log_create, log_read; see sabotage_db and sabotage_logs).
package BatchstateTest::Stress;

use strict;
use warnings;
use utf8;

use BatchstateTest;
use DBI;
use Encode ();
use IO::Handle;
use JSON::PP;
use POSIX qw(_exit);
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my ($NODE, $DB);    # set by run
my $SEED = $ENV{STRESS_SEED} // 1;
my $CLIENTS = $ENV{STRESS_CLIENTS} // 4;
my $OPS = $ENV{STRESS_OPS} // 5000;
my $TIME_LIMIT = $ENV{STRESS_TIME_LIMIT} // 150;
my $VERBOSE = $ENV{STRESS_VERBOSE} // 0;
my %SABOTAGE = map { $_ => 1 } grep { length } split /,/, ($ENV{STRESS_SABOTAGE} // '');
for ($SEED, $CLIENTS, $OPS, $TIME_LIMIT) {
	/^\d+$/ or die "STRESS_SEED, STRESS_CLIENTS, STRESS_OPS and STRESS_TIME_LIMIT must be integers\n";
}
$CLIENTS >= 1 && $OPS >= 1 or die "STRESS_CLIENTS and STRESS_OPS must be at least 1\n";

my $INT_MAX = 2147483647;
my $JSON = JSON::PP->new->utf8->canonical;

# --- the model's own policy (API.md's table, written out again) ----------

my @STATES = qw(created scored speculating merging cancelling succeeded failed cancelled);
my %VALID = map { $_ => 1 } @STATES;
my %TERMINAL = map { $_ => 1 } qw(succeeded failed cancelled);
my @NON_TERMINAL = grep { !$TERMINAL{$_} } @STATES;
my @TERMINALS = grep { $TERMINAL{$_} } @STATES;
my %MOVES = (
	created     => [qw(scored speculating cancelling failed)],
	scored      => [qw(speculating cancelling failed)],
	speculating => [qw(merging cancelling failed)],
	merging     => [qw(succeeded failed cancelling)],
	cancelling  => [qw(cancelled succeeded failed)],
);

sub legal_move {
	my ($from, $to) = @_;
	return 0 if $TERMINAL{$from};
	return 1 if $from eq $to;
	return scalar grep { $_ eq $to } @{ $MOVES{$from} };
}

# Queues and ids: mixed case, punctuation and non-ASCII so that an order
# other than byte order would show in list results.
my @QUEUES = ('q1', 'Q2', 'q 3', 'qü');
my @PREFIX = ('b', 'B', 'b-', 'a_', 'Äb', 'b.');
my @BAD_STATES = ('Created', 'unknown', ' created', 'créé', 'succeeded ', 'CANCELLED');
my @ALLOWED_SQLSTATES = qw(22004 22023 22003 P0002 23505 55000);
my %ALLOWED_SQLSTATE = map { $_ => 1 } @ALLOWED_SQLSTATES;

my %SQL = (
	create => 'SELECT id, queue, contains, dependencies, score, state, version'
	  . ' FROM batchstate.create_batch($1::text, $2::text, $3::text, $4::text[], $5::text[], $6::float8, $7::int)',
	create_d => 'SELECT id, queue, contains, dependencies, score, state, version'
	  . ' FROM batchstate.create_batch($1::text, $2::text)',
	upd  => 'SELECT batchstate.update_state($1::text, $2::int, $3::text)',
	upds => 'SELECT batchstate.update_score_and_state($1::text, $2::int, $3::float8, $4::text)',
	# update_batch's arguments in the record: id, version, contains,
	# dependencies, score (each NULL: keep), new state last, as in every CAS
	updb => 'SELECT batchstate.update_batch($1::text, $2::int, $6::text, $3::text[], $4::text[], $5::float8)',
	prim => 'SELECT batchstate.batch_update_state($1::text, $2::int, $3::int, $4::text)',
	get  => 'SELECT id, queue, score, state, version FROM batchstate.batch_get($1::text)',
	list => 'SELECT id, queue, score, state, version'
	  . ' FROM batchstate.list_batches($1::text, VARIADIC $2::text[])',
	active => 'SELECT id, queue, score, state, version FROM batchstate.list_active($1::text)',
	ensure    => 'SELECT batchstate.ensure_membership($1::text)',
	verify    => 'SELECT problem, queue, state, batch_id FROM batchstate.verify($1::text)',
	reconcile => 'SELECT added, removed FROM batchstate.reconcile($1::text)',
);
my %IS_CAS = (upd => 1, upds => 1, updb => 1, prim => 1);
my %TAKES_ID = (upd => 1, upds => 1, updb => 1, prim => 1, get => 1, ensure => 1);

sub connect_db {
	my $dbh = dbi_connect($NODE, $DB, undef, { pg_enable_utf8 => 1 })
	  or die "cannot connect to $DB: $DBI::errstr\n";
	$dbh->do("SET statement_timeout = '30s'") or die $dbh->errstr;
	return $dbh;
}

sub bytes_of {
	my ($s) = @_;
	utf8::encode($s);
	return $s;
}

sub byte_len { return length bytes_of($_[0]) }

sub pick { return $_[ int rand @_ ] }

# ============================================================================
# The clients
# ============================================================================

# One call: its record (op, a = args, and either rows or e = SQLSTATE).
sub run_op {
	my ($dbh, $op, $args) = @_;
	my $sth = $dbh->prepare_cached($SQL{$op}) or die $dbh->errstr;
	my $rec = { op => $op, a => $args };
	if ($sth->execute(@$args)) {
		my $rows = $sth->fetchall_arrayref;
		if ($op =~ /^(upd|upds|updb|prim|ensure)$/) {
			$rec->{r} = $rows->[0][0] ? 't' : 'f';
		}
		else {
			$rec->{rows} = $rows;
		}
	}
	else {
		$rec->{e} = $sth->state || 'none';
		$rec->{m} = $sth->errstr;
		$sth->finish;
	}
	return $rec;
}

sub client_main {
	my ($n, $logfile) = @_;
	srand($SEED * 1000003 + $n * 7919 + 17);
	my $dbh = connect_db();
	open my $log, '>', $logfile or die "$logfile: $!\n";
	my %K;        # id -> { v => version or undef, st => state or undef }
	my @order;    # ids in the order this client learned of them
	my @pending;  # follow-up operations: [op, args] or ['right', id]
	my $long_done = 0;

	my $learn = sub {
		my ($id, $v, $st) = @_;
		push @order, $id unless exists $K{$id};
		$K{$id} = { v => $v, st => $st };
	};
	my $window_id = sub {
		my ($i, $ahead) = @_;
		my $k = int($i / 6) + int(rand($ahead)) - 4;
		$k = int(rand 10) if $k < 0;
		return $PREFIX[ $k % @PREFIX ] . $k;
	};
	my $known_target = sub {
		my ($i) = @_;
		my @recent = grep { exists $K{$_} } @order[ -(@order < 40 ? @order : 40) .. -1 ];
		my @live = grep { !defined $K{$_}{st} || !$TERMINAL{ $K{$_}{st} } } @recent;
		my $r = rand 100;
		return pick(@live) if @live && $r < 75;
		return pick(@recent) if @recent && $r < 88;
		return $window_id->($i, 10);
	};
	my $version_for = sub {
		my ($id) = @_;
		my $v = $K{$id} ? $K{$id}{v} : undef;
		my $r = rand 100;
		if (defined $v) {
			return $v if $r < 70;
			return $v > 1 ? $v - 1 - int(rand(2)) || 1 : 1 if $r < 82;
		}
		return 1 + int(rand 12) if $r < 95;
		return $INT_MAX - int(rand 2);
	};
	my $state_for = sub {
		my ($id) = @_;
		my $st = $K{$id} ? $K{$id}{st} : undef;
		if (defined $st && !$TERMINAL{$st} && rand(100) < 65) {
			return pick(@{ $MOVES{$st} }, $st);
		}
		return pick(@STATES);
	};
	my $score = sub {
		my $r = rand 100;
		return '0' if $r < 5;
		return '1' if $r < 10;
		return sprintf('%.6f', rand);
	};
	my $ids_array = sub {
		my ($prefix) = @_;
		return [ map { "$prefix/" . int(rand 1000) } 1 .. int(rand 4) ];
	};

	# Some updates run in an explicit transaction that holds the batch's
	# lock for a few milliseconds (others queue behind it), then commits or,
	# now and then, rolls back: a rolled-back win must leave no trace.
	my $slow = sub {
		my ($always) = @_;
		return undef if !$always && rand(100) >= 8;
		return { end => rand(100) < 25 ? 'rollback' : 'commit', sleep => (2 + int(rand 9)) / 1000 };
	};

	my $gen = sub {
		my ($i) = @_;
		my $r = rand 100;
		if ($r < 13) {    # a create, usually of a new id
			my $id = rand(100) < 80 ? $window_id->($i, 14) : $known_target->($i);
			if (!$long_done && rand(100) < 3) {
				$long_done = 1;
				$id = "L$n" . ('x' x (1024 - length("L$n")));    # 1024 bytes: the limit
			}
			my $st = rand(100) < 70 ? 'created' : pick(@STATES);
			my $ver = rand(100) < 80 ? 1 : rand(100) < 85 ? 1 + int(rand 5) : $INT_MAX - 2;
			return ['create', [ $id, pick(@QUEUES), $st, $ids_array->('lr'), $ids_array->('dep'), $score->(), $ver ]];
		}
		if ($r < 15) {    # create with the defaults
			return ['create_d', [ $window_id->($i, 14), pick(@QUEUES) ]];
		}
		if ($r < 43) {    # update_state
			my $id = $known_target->($i);
			if (rand(100) < 10) {    # re-read first, then update from what was read
				push @pending, ['right', $id];
				return ['get', [$id]];
			}
			return ['upd', [ $id, $version_for->($id), $state_for->($id) ], $slow->()];
		}
		if ($r < 50) {    # update_score_and_state
			my $id = $known_target->($i);
			return ['upds', [ $id, $version_for->($id), $score->(), $state_for->($id) ], $slow->()];
		}
		if ($r < 55) {    # update_batch: any of the fields, or none
			my $id = $known_target->($i);
			return ['updb', [ $id, $version_for->($id),
					rand(100) < 50 ? $ids_array->('lr') : undef,
					rand(100) < 50 ? $ids_array->('dep') : undef,
					rand(100) < 50 ? $score->() : undef, $state_for->($id) ], $slow->()];
		}
		if ($r < 57) {    # the primitive, straight to a terminal state
			my $id = $known_target->($i);
			my $v = $version_for->($id);
			$v = 1 + int(rand 3) if $v >= $INT_MAX;
			return ['prim', [ $id, $v, $v + 1, pick(@TERMINALS) ]];
		}
		if ($r < 64) {
			return ['get', [ rand(100) < 70 ? $known_target->($i) : $window_id->($i, 10) ]];
		}
		if ($r < 72) {
			my @st = map { pick(@STATES) } 0 .. int(rand 4);    # 1..4 states, duplicates allowed
			@st = () if rand(100) < 3;
			return ['list', [ pick(@QUEUES), \@st ]];
		}
		if ($r < 76) {
			return ['active', [ pick(@QUEUES) ]];
		}
		if ($r < 79) {
			return ['ensure', [ rand(100) < 80 ? $known_target->($i) : $window_id->($i, 10) ], $slow->()];
		}
		if ($r < 80) {
			return ['verify', [ rand(100) < 50 ? undef : pick(@QUEUES) ]];
		}
		if ($r < 80.6) {
			return ['reconcile', [ rand(100) < 50 ? undef : pick(@QUEUES) ], $slow->()];
		}
		if ($r < 82) {    # drift: a membership row goes missing
			return ['drop', [ $known_target->($i) ]];
		}
		return invalid_op($i, $known_target->($i), $window_id->($i, 14));
	};

	for my $i (0 .. $OPS - 1) {
		my $item = @pending ? shift @pending : $gen->($i);
		my ($op, $args, $txn) = @$item;
		if ($op eq 'right') {    # the update after a re-read
			my $id = $args;
			my $v = $K{$id} ? $K{$id}{v} : 1;
			$v = 1 unless defined $v;
			($op, $args) = ('upd', [ $id, $v, $state_for->($id) ]);
		}
		my $rec;
		if ($op eq 'drop') {
			$rec = drop_row($dbh, $args);
		}
		elsif ($txn) {
			# explicit statements: DBD::Pg's commit() can report success
			# for a COMMIT that never reached the server
			$dbh->do('BEGIN') or die $dbh->errstr;
			$rec = run_op($dbh, $op, $args);
			$rec->{txn} = $txn->{end};
			if (!defined $rec->{e}) {
				$dbh->do('SELECT pg_sleep(?)', undef, $txn->{sleep}) or $rec->{ce} = $dbh->state;
			}
			if ($txn->{end} eq 'commit' && !defined $rec->{e} && !defined $rec->{ce}) {
				$dbh->do('COMMIT') or $rec->{ce} = $dbh->state || 'none';
			}
			else {
				$dbh->do('ROLLBACK') or die $dbh->errstr;
			}
		}
		else {
			$rec = run_op($dbh, $op, $args);
		}
		$rec->{c} = $n;
		$rec->{i} = $i;
		print $log $JSON->encode($rec), "\n";

		# what the client learns (it only steers the next choices)
		my $e = $rec->{e} // '';
		if ($op eq 'create' || $op eq 'create_d') {
			if (!$e) { my $row = $rec->{rows}[0]; $learn->($row->[0], $row->[6], $row->[5]) }
			elsif ($e eq '23505') { $learn->($args->[0], undef, undef) unless $K{ $args->[0] } }
		}
		elsif ($IS_CAS{$op}) {
			my ($id, $v) = @$args;
			my $new = $args->[-1];
			if (!$e && $rec->{r} eq 't' && ($rec->{txn} // '') eq 'rollback') { }
			elsif (!$e && $rec->{r} eq 't') { $learn->($id, $op eq 'prim' ? $args->[2] : $v + 1, $new) }
			elsif (!$e && $rec->{r} eq 'f' && rand(100) < 40) {
				push @pending, ['get', [$id]], ['right', $id];
			}
			elsif ($e eq '55000') { $K{$id}{v} = $v if $K{$id} }
			elsif ($e eq 'P0002') { delete $K{$id} }
		}
		elsif (!$e && $rec->{rows} && ($op eq 'get' || $op eq 'list' || $op eq 'active')) {
			$learn->($_->[0], $_->[4], $_->[3]) for @{ $rec->{rows} };
		}
		elsif ($e eq 'P0002' && $op eq 'get') {
			delete $K{ $args->[0] };
		}
		elsif ($op eq 'drop' && defined $rec->{v}) {
			$learn->($args->[0], $rec->{v}, $rec->{st});
			push @pending, ['ensure', [ $args->[0] ], $slow->(1)] if $rec->{r} && rand(100) < 50;
		}
	}
	close $log or die "$logfile: $!\n";
	$dbh->disconnect;
}

# Simulated drift, outside the API: lock the batch as a repair would, then
# delete the membership row under its current state.  The record says at
# which version and state, and whether a row was deleted.
sub drop_row {
	my ($dbh, $args) = @_;
	my ($id) = @$args;
	my $rec = { op => 'drop', a => $args };
	my $fail = sub { $rec->{e} = $dbh->state || 'none'; $rec->{m} = $dbh->errstr; $dbh->do('ROLLBACK'); $rec };
	$dbh->do('BEGIN') or return $fail->();
	my $row = $dbh->selectrow_arrayref(
		'SELECT queue, state, version FROM batchstate.batch WHERE id = $1 FOR NO KEY UPDATE', undef, $id);
	return $fail->() if $dbh->err;
	if ($row) {
		my $n = $dbh->do('DELETE FROM batchstate.batch_state_membership'
			  . ' WHERE queue = $1 AND state = $2 AND batch_id = $3', undef, $row->[0], $row->[1], $id);
		return $fail->() unless defined $n;
		@$rec{qw(q st v r)} = (@$row, $n + 0);
	}
	else {
		$rec->{r} = 'none';
	}
	$dbh->do('COMMIT') or return $fail->();
	return $rec;
}

# A call with exactly one bad argument (the model computes its SQLSTATE).
sub invalid_op {
	my ($i, $id, $new_id) = @_;
	my $q = pick(@QUEUES);
	my $too_long = 'T' x 1025;
	my @cases = (
		sub { ['upd', [ undef, 1, 'scored' ]] },
		sub { ['upd', [ $id, undef, 'scored' ]] },
		sub { ['upd', [ $id, 1, undef ]] },
		sub { ['upd', [ '', 1, 'scored' ]] },
		sub { ['upd', [ $too_long, 1, 'scored' ]] },
		sub { ['upd', [ $id, 0, 'scored' ]] },
		sub { ['upd', [ $id, -5, 'failed' ]] },
		sub { ['upd', [ $id, 1, pick(@BAD_STATES) ]] },
		sub { ['upd', [ $id, 1, '' ]] },
		sub { ['upd', [ $id, $INT_MAX, pick(@STATES) ]] },
		sub { ['upd', [ 'never/' . $i, $INT_MAX, 'scored' ]] },
		sub { ['upds', [ $id, 1, pick('NaN', 'Infinity', '-Infinity', '1.000001', '-0.001', '2'), 'scored' ]] },
		sub { ['upds', [ $id, 1, undef, 'scored' ]] },
		sub { ['upds', [ $id, $INT_MAX, '0.5', 'failed' ]] },
		sub { ['upds', [ $id, 1, '0.5', pick(@BAD_STATES) ]] },
		sub { ['updb', [ $id, 1, [ 'lr/1', undef ], undef, undef, 'scored' ]] },
		sub { ['updb', [ $id, 1, undef, [ 'dep/1', '' ], undef, 'scored' ]] },
		sub { ['updb', [ $id, 1, [ 'T' x 1025 ], undef, undef, 'scored' ]] },
		sub { ['updb', [ $id, 1, undef, '{{x},{y}}', undef, 'scored' ]] },
		sub { ['updb', [ $id, 1, undef, undef, pick('NaN', '1.5', '-1'), 'scored' ]] },
		sub { ['updb', [ $id, undef, undef, undef, undef, 'scored' ]] },
		sub { ['updb', [ $id, $INT_MAX, undef, undef, undef, 'failed' ]] },
		sub { ['prim', [ $id, 0, 1, 'failed' ]] },
		sub { ['prim', [ $id, 1, -1, 'failed' ]] },
		sub { ['prim', [ $id, 1, 2, 'finished' ]] },
		sub { ['create', [ undef, $q, 'created', [], [], '0', 1 ]] },
		sub { ['create', [ $new_id, undef, 'created', [], [], '0', 1 ]] },
		sub { ['create', [ $new_id, $q, undef, [], [], '0', 1 ]] },
		sub { ['create', [ $new_id, $q, 'created', undef, [], '0', 1 ]] },
		sub { ['create', [ $new_id, $q, 'created', [], undef, '0', 1 ]] },
		sub { ['create', [ $new_id, $q, 'created', [], [], undef, 1 ]] },
		sub { ['create', [ $new_id, $q, 'created', [], [], '0', undef ]] },
		sub { ['create', [ '', $q, 'created', [], [], '0', 1 ]] },
		sub { ['create', [ $new_id, '', 'created', [], [], '0', 1 ]] },
		sub { ['create', [ $new_id, $too_long, 'created', [], [], '0', 1 ]] },
		sub { ['create', [ $too_long, $q, 'created', [], [], '0', 1 ]] },
		sub { ['create', [ $new_id, $q, pick(@BAD_STATES), [], [], '0', 1 ]] },
		sub { ['create', [ $new_id, $q, 'created', [ 'a', undef ], [], '0', 1 ]] },
		sub { ['create', [ $new_id, $q, 'created', [], [ '', 'b' ], '0', 1 ]] },
		sub { ['create', [ $new_id, $q, 'created', '{{a},{b}}', [], '0', 1 ]] },
		sub { ['create', [ $new_id, $q, 'created', [], '{{x,y},{z,w}}', '0', 1 ]] },
		sub { ['create', [ $new_id, $q, 'created', [], [], pick('NaN', '1.5', '-1', 'Infinity'), 1 ]] },
		sub { ['create', [ $new_id, $q, 'created', [], [], '0', pick(0, -1, -$INT_MAX) ]] },
		# a taken id with a bad state: the argument error wins
		sub { ['create', [ $id, $q, 'Failed', [], [], '0', 1 ]] },
		sub { ['get', [undef]] },
		sub { ['get', ['']] },
		sub { ['get', ['never/' . $i]] },
		sub { ['ensure', [undef]] },
		sub { ['ensure', ['']] },
		sub { ['ensure', ['never/' . $i]] },
		sub { ['list', [ undef, ['created'] ]] },
		sub { ['list', [ '', ['created'] ]] },
		sub { ['list', [ $q, undef ]] },
		sub { ['list', [ $q, [ 'created', undef ] ]] },
		sub { ['list', [ $q, [ 'scored', pick(@BAD_STATES) ] ]] },
		sub { ['list', [ $q, [ '', 'created' ] ]] },
		sub { ['list', [ $q, '{{created},{scored}}' ]] },
		sub { ['list', [ 'no such queue', ['created'] ]] },
		sub { ['active', [undef]] },
		sub { ['active', ['']] },
		sub { ['verify', ['']] },
		sub { ['verify', [$too_long]] },
		sub { ['reconcile', ['']] },
	);
	return pick(@cases)->();
}

# ============================================================================
# The model
# ============================================================================

# The SQLSTATE an argument check must raise, or undef when every argument is
# valid.  Arguments are checked in order; each one NULL first, then value.
sub arg_error {
	my ($op, $a) = @_;
	my $key = sub {
		my ($v) = @_;
		return '22004' unless defined $v;
		return '22023' if $v eq '' || byte_len($v) > 1024;
		return undef;
	};
	my $state = sub {
		my ($v) = @_;
		return '22004' unless defined $v;
		return $VALID{$v} ? undef : '22023';
	};
	my $array = sub {
		my ($v, $of_states) = @_;
		return '22004' unless defined $v;
		return '22023' unless ref $v;    # a multi-dimensional literal
		return '22004' if grep { !defined } @$v;
		return '22023' if grep { $_ eq '' } @$v;
		return '22023' if !$of_states && grep { byte_len($_) > 1024 } @$v;
		return '22023' if $of_states && grep { !$VALID{$_} } @$v;
		return undef;
	};
	my $version = sub {
		my ($v) = @_;
		return '22004' unless defined $v;
		return $v < 1 ? '22023' : undef;
	};
	my $score = sub {
		my ($v) = @_;
		return '22004' unless defined $v;
		return '22023' if $v !~ /^-?[0-9.]+(e-?[0-9]+)?$/;    # NaN, Infinity
		return ($v < 0 || $v > 1) ? '22023' : undef;
	};
	my @checks;
	if ($op eq 'create') {
		@checks = ($key->($a->[0]), $key->($a->[1]), $state->($a->[2]), $array->($a->[3]),
			$array->($a->[4]), $score->($a->[5]), $version->($a->[6]));
	}
	elsif ($op eq 'create_d') { @checks = ($key->($a->[0]), $key->($a->[1])) }
	elsif ($op eq 'upd')  { @checks = ($key->($a->[0]), $version->($a->[1]), $state->($a->[2])) }
	elsif ($op eq 'upds') {
		@checks = ($key->($a->[0]), $version->($a->[1]), $score->($a->[2]), $state->($a->[3]));
	}
	elsif ($op eq 'updb') {
		@checks = ((grep { !defined $a->[$_] } 0, 1, 5) ? '22004' : undef,
			$key->($a->[0]), $version->($a->[1]), $state->($a->[5]),
			defined $a->[2] ? $array->($a->[2]) : undef,
			defined $a->[3] ? $array->($a->[3]) : undef,
			defined $a->[4] ? $score->($a->[4]) : undef);
	}
	elsif ($op eq 'prim') {
		@checks = ($key->($a->[0]), $version->($a->[1]), $version->($a->[2]), $state->($a->[3]));
	}
	elsif ($op eq 'get' || $op eq 'ensure' || $op eq 'active') { @checks = ($key->($a->[0])) }
	elsif ($op eq 'list') { @checks = ($key->($a->[0]), $array->($a->[1], 1)) }
	elsif ($op eq 'verify' || $op eq 'reconcile') { @checks = (defined $a->[0] ? $key->($a->[0]) : undef) }
	for (@checks) { return $_ if defined }
	return '22003' if ($op eq 'upd' || $op eq 'upds' || $op eq 'updb') && $a->[1] == $INT_MAX;
	return undef;
}

# --- the checks --------------------------------------------------------------

my %DROPPED;    # id -> drop records that deleted a row
my @CHECK_ORDER;
my %VIOLATIONS;
my ($PASSED, $FAILED) = (0, 0);

sub declare { for (@_) { push @CHECK_ORDER, $_; $VIOLATIONS{$_} = [] } }

sub violation {
	my ($check, $msg) = @_;
	die "unknown check $check\n" unless $VIOLATIONS{$check};
	push @{ $VIOLATIONS{$check} }, $msg;
}

sub report_checks {
	for my $name (@CHECK_ORDER) {
		my $v = $VIOLATIONS{$name};
		if (ok(!@$v, $name)) {
			$PASSED++;
			next;
		}
		$FAILED++;
		my $show = $VERBOSE ? @$v : (@$v < 5 ? @$v : 5);
		diag(Encode::encode('UTF-8', scalar(@$v) . " violations:\n" . join("\n", @$v[ 0 .. $show - 1 ])));
		diag('... (STRESS_VERBOSE=1 shows all)') if $show < @$v;
	}
}

sub show_rec {
	my ($r) = @_;
	my %copy = %$r;
	delete $copy{m};
	my $s = $JSON->encode(\%copy);
	utf8::decode($s);
	$s = substr($s, 0, 300) . '...' if length $s > 300;
	return $s . (defined $r->{m} ? " [$r->{m}]" : '');
}

declare(
	'the checks themselves ran to the end',
	'every client ran to the end',
	'no SQLSTATE outside the documented ones (no deadlock, no serialization failure, no timeout)',
	'every argument error raised its exact SQLSTATE',
	'valid calls got only outcomes their contract allows',
	'a missing batch always raised P0002',
	'create_batch returned exactly the row it was given',
	'each id was created at most once, and every 23505 names an id that exists',
	'committed compare-and-set wins on a batch used each version exactly once, from its create on',
	'every successful update_state/update_score_and_state/update_batch was a legal move',
	'every 55000 was an illegal move from the state at that version',
	'a false result never came from a batch known to be at that version',
	'every batch_get and list row matches the model at its version',
	'reads of one client never go back in time',
	'list_batches/list_active return only the queue and states asked, each batch once, in byte order',
	'ensure_membership filed a row only for a batch whose row the drift injection deleted',
	'verify during the load showed only primitive leftovers and rows the drift injection deleted',
	'reconcile during the load added at most the dropped rows and removed at most the primitive leftovers',
	'final batch rows equal the model (ids, queue, state, version, score, contains, dependencies)',
	'final membership before the sweep = a row per non-terminal batch (but rows dropped at the final version) + primitive leftovers',
	'verify() before the sweep reports exactly the drift in the tables (stale leftovers, missing rows)',
	'a list_batches sweep over all states returns every live batch with a row, at its final version',
	'after the sweep, reconcile() adds exactly the missing rows and removes nothing',
	'after the sweep and reconcile: verify() is empty (all queues and per queue)',
	'after the sweep and reconcile: exactly one membership row per non-terminal batch, under its state',
	'after the sweep and reconcile: list_active, list_batches per state and membership_list_ids match the model',
	'after the sweep and reconcile: reconcile() finds nothing more to do',
	'dependents_of and batches_containing equal a scan of the batch rows',
);

# ============================================================================
# Main
# ============================================================================

# run(NODE, DB): the load, then every check, against database DB of NODE
sub run {
	($NODE, $DB) = @_;
	binmode STDOUT, ':encoding(UTF-8)';
	binmode STDERR, ':encoding(UTF-8)';
	my $logdir = $ENV{STRESS_LOGDIR} || PostgreSQL::Test::Utils::tempdir;
	note(sprintf "stress: seed %d, %d clients x %d operations (STRESS_SEED, STRESS_CLIENTS, STRESS_OPS)",
	  $SEED, $CLIENTS, $OPS);

	my $t0 = time;
	my %child;
	for my $n (1 .. $CLIENTS) {
		my $pid = fork // die "fork: $!\n";
		if ($pid == 0) {
			my $ok = eval { client_main($n, "$logdir/client$n.jsonl"); 1 };
			print STDERR "stress: client $n: $@" unless $ok;
			STDERR->flush;
			STDOUT->flush;
			_exit($ok ? 0 : 2);
		}
		$child{$pid} = $n;
	}
	my %status;
	my $deadline = time + $TIME_LIMIT;
	while (%child) {
		my $pid = waitpid(-1, POSIX::WNOHANG());
		if ($pid > 0) {
			$status{ $child{$pid} } = $?;
			delete $child{$pid};
			next;
		}
		if (time > $deadline) {
			for my $p (keys %child) {
				kill 'KILL', $p;
				waitpid($p, 0);
				$status{ $child{$p} } = 'killed after the time limit';
				delete $child{$p};
			}
			last;
		}
		select(undef, undef, undef, 0.05);
	}
	note(sprintf "stress: load finished in %.1f s", time - $t0);

	my @recs;
	for my $n (1 .. $CLIENTS) {
		my $st = $status{$n} // 'lost';
		violation('every client ran to the end', "client $n exited with status $st") if $st ne '0';
		my $file = "$logdir/client$n.jsonl";
		next unless -e $file;
		open my $fh, '<', $file or die "$file: $!\n";
		my @mine;
		while (my $line = <$fh>) {
			my $rec = eval { $JSON->decode($line) };
			push @mine, $rec if $rec;
		}
		close $fh;
		violation('every client ran to the end', "client $n logged " . scalar(@mine) . " of $OPS operations")
		  if @mine != $OPS;
		push @recs, @mine;
	}

	my $dbh = connect_db();
	sabotage_db($dbh) if %SABOTAGE;
	sabotage_logs(\@recs) if %SABOTAGE;
	eval { check_all($dbh, \@recs); 1 }
	  or violation('the checks themselves ran to the end', "the checker died: $@");
	$dbh->disconnect;
	report_checks();
	note(sprintf "stress: %d operations checked in %.1f s", scalar(@recs), time - $t0);
	return $FAILED == 0;
}

# ============================================================================

sub count_outcomes {
	my ($recs) = @_;
	my %by;
	for my $r (@$recs) {
		my $o = $r->{e} // ($r->{r} // 'rows');
		$by{"$r->{op}:$o"}++;
	}
	my @parts = map { "$_=$by{$_}" } sort keys %by;
	my $line = '';
	print "stress: outcomes:\n";
	for (@parts) {
		if (length($line) + length($_) > 100) { print "  $line\n"; $line = '' }
		$line .= ($line ? ' ' : '') . $_;
	}
	print "  $line\n" if $line;
}

sub check_all {
	my ($dbh, $recs) = @_;
	count_outcomes($recs);
	my (%by_batch, $txn, $rolled);
	for my $r (@$recs) {
		next unless $IS_CAS{ $r->{op} } && ($r->{r} // '') eq 't';
		$txn++ if $r->{txn};
		if (($r->{txn} // '') eq 'rollback') { $rolled++; next }
		$by_batch{ $r->{a}[0] }{ $r->{c} } = 1;
	}
	printf "stress: %d batches won by compare-and-set, %d of them by two or more clients;"
	  . " %d wins inside slow transactions, %d of them rolled back\n",
	  scalar(keys %by_batch), scalar(grep { keys %$_ > 1 } values %by_batch), $txn // 0, $rolled // 0;

	# --- creates, and the chain of every batch -------------------------------
	my %creator;      # id -> the successful create record
	my %chain;        # id -> { v0, st => {v => state}, sc => {v => score}, final, q, wins => [...] }
	for my $r (@$recs) {
		next unless ($r->{op} eq 'create' || $r->{op} eq 'create_d') && !defined $r->{e};
		my $id = $r->{a}[0];
		if ($creator{$id}) {
			violation('each id was created at most once, and every 23505 names an id that exists',
				"two successful creates of \"$id\": " . show_rec($creator{$id}) . ' and ' . show_rec($r));
			next;
		}
		$creator{$id} = $r;
	}
	my %wins;    # id -> [records of successful CAS]
	for my $r (@$recs) {
		next unless $IS_CAS{ $r->{op} } && !defined $r->{e} && $r->{r} eq 't';
		next if ($r->{txn} // '') eq 'rollback' || defined $r->{ce};    # never committed
		push @{ $wins{ $r->{a}[0] } }, $r;
	}
	for my $id (sort keys %creator) {
		my $c = $creator{$id};
		my ($q, $st, $contains, $deps, $score, $v0) =
		  $c->{op} eq 'create_d' ? ($c->{a}[1], 'created', [], [], 0, 1) : @{ $c->{a} }[ 1 .. 6 ];
		my $ch = { v0 => $v0, q => $q, ct => { $v0 => $contains }, dp => { $v0 => $deps },
			st => { $v0 => $st }, sc => { $v0 => $score }, final => $v0, ok => 1 };
		my @w = sort { $a->{a}[1] <=> $b->{a}[1] } @{ $wins{$id} // [] };
		my $expect = $v0;
		for my $w (@w) {
			my ($v, $new) = ($w->{a}[1], $w->{a}[-1]);
			my $newv = $w->{op} eq 'prim' ? $w->{a}[2] : $v + 1;
			if ($v != $expect || $newv != $v + 1) {
				violation('committed compare-and-set wins on a batch used each version exactly once, from its create on',
					"\"$id\" (created at v$v0): expected a win at v$expect, got " . show_rec($w));
				$ch->{ok} = 0;
				last;
			}
			$ch->{st}{ $v + 1 } = $new;
			$ch->{sc}{ $v + 1 } = $w->{op} eq 'upds' ? $w->{a}[2]
			  : $w->{op} eq 'updb' && defined $w->{a}[4] ? $w->{a}[4] : $ch->{sc}{$v};
			$ch->{ct}{ $v + 1 } = $w->{op} eq 'updb' && defined $w->{a}[2] ? $w->{a}[2] : $ch->{ct}{$v};
			$ch->{dp}{ $v + 1 } = $w->{op} eq 'updb' && defined $w->{a}[3] ? $w->{a}[3] : $ch->{dp}{$v};
			$ch->{final} = $v + 1;
			$ch->{prim_from}{ $ch->{st}{$v} } = 1 if $w->{op} eq 'prim' && !$TERMINAL{ $ch->{st}{$v} };
			$expect = $v + 1;
			if ($w->{op} ne 'prim' && !legal_move($ch->{st}{$v}, $new)) {
				violation('every successful update_state/update_score_and_state/update_batch was a legal move',
					"\"$id\" moved $ch->{st}{$v} -> $new at v$v: " . show_rec($w));
			}
		}
		$chain{$id} = $ch;
	}
	for my $id (sort keys %wins) {
		next if $creator{$id};
		violation('committed compare-and-set wins on a batch used each version exactly once, from its create on',
			"\"$id\" was never created but won a compare-and-set: " . show_rec($wins{$id}[0]));
	}

	# --- the drift the drops made ---------------------------------------------
	%DROPPED = ();
	for my $r (@$recs) {
		next unless $r->{op} eq 'drop' && !defined $r->{e} && ($r->{r} // '') =~ /^[1-9]/;
		push @{ $DROPPED{ $r->{a}[0] } }, $r;
	}

	# --- every record, client by client, in order ----------------------------
	my %lb;    # "client\0id" -> lowest version the client may still see
	for my $r (sort { $a->{c} <=> $b->{c} || $a->{i} <=> $b->{i} } @$recs) {
		check_record($r, \%creator, \%chain, \%lb);
	}

	# --- the final tables ---------------------------------------------------
	check_final($dbh, \%chain);
}

sub check_record {
	my ($r, $creator, $chain, $lb) = @_;
	my ($op, $a, $e) = ($r->{op}, $r->{a}, $r->{e});
	my $id = $TAKES_ID{$op} || $op =~ /^create/ ? $a->[0] : undef;
	my $lbkey = defined $id ? "$r->{c}\0$id" : undef;

	if (defined $r->{ce}) {
		violation('no SQLSTATE outside the documented ones (no deadlock, no serialization failure, no timeout)',
			"the transaction's pg_sleep or COMMIT failed with $r->{ce}: " . show_rec($r));
		return;
	}
	if (defined $e && !$ALLOWED_SQLSTATE{$e}) {
		violation('no SQLSTATE outside the documented ones (no deadlock, no serialization failure, no timeout)',
			show_rec($r));
		return;
	}
	my $want = arg_error($op, $a);
	if (defined $want) {
		violation('every argument error raised its exact SQLSTATE', "expected $want: " . show_rec($r))
		  if ($e // '') ne $want;
		return;
	}
	if ($op eq 'drop') {
		my $ch = $chain->{ $a->[0] };
		if (defined $e) {
			violation('valid calls got only outcomes their contract allows', 'the drift injection failed: ' . show_rec($r));
		}
		elsif ($r->{r} eq 'none') {
			violation('valid calls got only outcomes their contract allows',
				"a batch the client had seen was gone: " . show_rec($r))
			  if defined $lb->{"$r->{c}\0$a->[0]"};
		}
		elsif (!$ch) {
			violation('every batch_get and list row matches the model at its version',
				'the drift injection found a batch never created: ' . show_rec($r));
		}
		elsif ($ch->{ok} && (($ch->{st}{ $r->{v} } // '') ne $r->{st} || $ch->{q} ne $r->{q})) {
			violation('every batch_get and list row matches the model at its version',
				"the drift injection read ($r->{q}, $r->{st}, v$r->{v}), model: ("
				  . "$ch->{q}, " . ($ch->{st}{ $r->{v} } // 'no such version') . ') in ' . show_rec($r));
		}
		return;
	}
	if (defined $e && $e =~ /^22/) {
		violation('valid calls got only outcomes their contract allows', "valid call raised $e: " . show_rec($r));
		return;
	}

	# the id is missing for good: P0002, always
	if ($TAKES_ID{$op} && !$creator->{$id}) {
		violation('a missing batch always raised P0002', show_rec($r)) if ($e // '') ne 'P0002';
		return;
	}

	my $ch = defined $id ? $chain->{$id} : undef;
	my $seen = defined $lbkey ? $lb->{$lbkey} : undef;
	my $allowed = sub {
		my %ok = map { $_ => 1 } @_;
		my $o = $e // ($r->{r} // 'rows');
		return 1 if $ok{$o};
		violation('valid calls got only outcomes their contract allows', show_rec($r));
		return 0;
	};
	my $read_row = sub {    # a row read by this client: [id, queue, score, state, version]
		my ($row) = @_;
		my ($rid, $rq, $rsc, $rst, $rv) = @$row;
		my $rch = $chain->{$rid};
		if (!$rch) {
			violation('every batch_get and list row matches the model at its version',
				"read a batch never created: \"$rid\" in " . show_rec($r));
			return;
		}
		my $key = "$r->{c}\0$rid";
		if ($rch->{ok}) {
			if (!defined $rch->{st}{$rv} || $rch->{st}{$rv} ne $rst || $rch->{q} ne $rq
				|| $rch->{sc}{$rv} != $rsc)
			{
				violation('every batch_get and list row matches the model at its version',
					"\"$rid\" read as ($rq, $rst, v$rv, score $rsc), model at v$rv: ("
					  . "$rch->{q}, " . ($rch->{st}{$rv} // 'no such version') . ', '
					  . ($rch->{sc}{$rv} // '-') . ") in " . show_rec($r));
			}
		}
		if (defined $lb->{$key} && $rv < $lb->{$key}) {
			violation('reads of one client never go back in time',
				"client $r->{c} had seen \"$rid\" at v$lb->{$key}, then read v$rv: " . show_rec($r));
		}
		$lb->{$key} = $rv if !defined $lb->{$key} || $rv > $lb->{$key};
	};

	if ($op eq 'create' || $op eq 'create_d') {
		return unless $allowed->('rows', '23505');
		if (defined $e) {
			violation('each id was created at most once, and every 23505 names an id that exists',
				'23505 for an id nobody created: ' . show_rec($r))
			  unless $creator->{$id};
			return;
		}
		my $got = $r->{rows}[0] // [];
		my @want = $op eq 'create_d'
		  ? ($id, $a->[1], [], [], 0, 'created', 1)
		  : ($id, @$a[ 1, 3, 4, 5, 2, 6 ]);    # the row's column order
		my $same = @$got == 7 && ref $got->[2] eq 'ARRAY' && ref $got->[3] eq 'ARRAY'
		  && $got->[0] eq $want[0] && $got->[1] eq $want[1]
		  && join("\0", @{ $got->[2] }) eq join("\0", @{ $want[2] })
		  && join("\0", @{ $got->[3] }) eq join("\0", @{ $want[3] })
		  && $got->[4] == $want[4] && $got->[5] eq $want[5] && $got->[6] == $want[6];
		violation('create_batch returned exactly the row it was given', show_rec($r)) unless $same;
		$lb->{$lbkey} = $want[6];
		return;
	}

	if ($IS_CAS{$op}) {
		my $v = $a->[1];
		my $new = $a->[-1];
		return unless $allowed->($op eq 'prim' ? qw(t f P0002) : qw(t f P0002 55000));
		if (($e // '') eq 'P0002') {
			violation('valid calls got only outcomes their contract allows',
				"P0002 after client $r->{c} had seen the batch: " . show_rec($r))
			  if defined $seen;
			return;
		}
		if (!defined $e && $r->{r} eq 't') {
			violation('reads of one client never go back in time',
				"client $r->{c} had seen \"$id\" at v$seen, then won at v$v: " . show_rec($r))
			  if defined $seen && $v < $seen;
			if (($r->{txn} // '') eq 'rollback') {    # it saw v; its win is gone
				$lb->{$lbkey} = $v if !defined $seen || $v > $seen;
				return;
			}
			$lb->{$lbkey} = $v + 1;
			return;
		}
		if (!defined $e) {    # false
			if ($ch->{ok} && defined $seen && $seen == $ch->{final} && $v == $seen) {
				violation('a false result never came from a batch known to be at that version',
					"client $r->{c} had seen \"$id\" at its final v$seen: " . show_rec($r));
			}
			return;
		}
		# 55000: the batch was at version v, and the move is illegal from there
		return unless $ch->{ok};
		if (!defined $ch->{st}{$v}) {
			violation('every 55000 was an illegal move from the state at that version',
				"\"$id\" never had version $v (v$ch->{v0}..v$ch->{final}): " . show_rec($r));
		}
		elsif (legal_move($ch->{st}{$v}, $new)) {
			violation('every 55000 was an illegal move from the state at that version',
				"\"$id\" at v$v is $ch->{st}{$v}; $ch->{st}{$v} -> $new is legal: " . show_rec($r));
		}
		violation('reads of one client never go back in time',
			"client $r->{c} had seen \"$id\" at v$seen, then got 55000 at v$v: " . show_rec($r))
		  if defined $seen && $v < $seen;
		$lb->{$lbkey} = $v if !defined $seen || $v > $seen;
		return;
	}

	if ($op eq 'get') {
		return unless $allowed->('rows', 'P0002');
		if (defined $e) {
			violation('valid calls got only outcomes their contract allows',
				"P0002 after client $r->{c} had seen the batch: " . show_rec($r))
			  if defined $seen;
			return;
		}
		my $row = $r->{rows}[0];
		if (@{ $r->{rows} } != 1 || $row->[0] ne $id) {
			violation('every batch_get and list row matches the model at its version',
				'batch_get did not return the one batch asked for: ' . show_rec($r));
			return;
		}
		$read_row->($row);
		return;
	}

	if ($op eq 'list' || $op eq 'active') {
		return unless $allowed->('rows');
		my $q = $a->[0];
		my %want = $op eq 'active' ? map { $_ => 1 } @NON_TERMINAL : map { $_ => 1 } @{ $a->[1] };
		my $prev;
		for my $row (@{ $r->{rows} }) {
			my ($rid, $rq, undef, $rst) = @$row;
			if ($rq ne $q || !$want{$rst}) {
				violation('list_batches/list_active return only the queue and states asked, each batch once, in byte order',
					"row (\"$rid\", $rq, $rst) in " . show_rec($r));
			}
			if (defined $prev && !(bytes_of($prev) lt bytes_of($rid))) {
				violation('list_batches/list_active return only the queue and states asked, each batch once, in byte order',
					"\"$rid\" after \"$prev\" in " . show_rec($r));
			}
			$prev = $rid;
			$read_row->($row);
		}
		return;
	}

	if ($op eq 'ensure') {
		return unless $allowed->(qw(t f P0002));
		if (($e // '') eq 'P0002') {
			violation('valid calls got only outcomes their contract allows',
				"P0002 after client $r->{c} had seen the batch: " . show_rec($r))
			  if defined $seen;
			return;
		}
		violation('ensure_membership filed a row only for a batch whose row the drift injection deleted',
			show_rec($r)) if $r->{r} eq 't' && !$DROPPED{$id};
		return;
	}

	if ($op eq 'verify') {
		return unless $allowed->('rows');
		for my $row (@{ $r->{rows} }) {
			my ($problem, $q, $st, $bid) = @$row;
			my $bch = $chain->{$bid};
			next if $problem eq 'stale' && $bch && $bch->{q} eq $q && $bch->{prim_from}{$st}
			  && (!defined $a->[0] || $a->[0] eq $q);
			next if $problem eq 'missing' && $bch && $bch->{q} eq $q
			  && grep { $_->{st} eq $st } @{ $DROPPED{$bid} // [] };
			violation('verify during the load showed only primitive leftovers and rows the drift injection deleted',
				"($problem, $q, $st, \"$bid\") in " . show_rec($r));
		}
		return;
	}

	if ($op eq 'reconcile') {
		return unless $allowed->('rows');
		my $row = $r->{rows}[0];
		my $nprim = 0;
		for my $ch (values %$chain) { $nprim += keys %{ $ch->{prim_from} // {} } }
		my $ndrop = 0;
		$ndrop += @$_ for values %DROPPED;
		if (@{ $r->{rows} } != 1 || $row->[0] > $ndrop || $row->[1] > $nprim) {
			violation('reconcile during the load added at most the dropped rows and removed at most the primitive leftovers',
				"$ndrop rows dropped, $nprim leftovers in all: " . show_rec($r));
		}
		return;
	}
	die "no check for operation $op\n";
}

sub fetch_rows {
	my ($dbh, $sql, @args) = @_;
	my $rows = $dbh->selectall_arrayref($sql, undef, @args);
	die "$sql: " . $dbh->errstr . "\n" unless $rows;
	return $rows;
}

sub check_final {
	my ($dbh, $chain) = @_;
	my @ids = sort { bytes_of($a) cmp bytes_of($b) } keys %$chain;
	my %live;    # "queue\0state\0id" of every non-terminal batch
	my %leftover;
	for my $id (@ids) {
		my $ch = $chain->{$id};
		my $st = $ch->{st}{ $ch->{final} };
		$live{"$ch->{q}\0$st\0$id"} = 1 unless $TERMINAL{$st};
		$leftover{"$ch->{q}\0$_\0$id"} = 1 for keys %{ $ch->{prim_from} // {} };
	}

	# the batch table
	my $name = 'final batch rows equal the model (ids, queue, state, version, score, contains, dependencies)';
	my %db;
	for my $row (@{ fetch_rows($dbh, 'SELECT id, queue, contains, dependencies, score, state, version FROM batchstate.batch') }) {
		$db{ $row->[0] } = $row;
	}
	for my $id (@ids) {
		my $ch = $chain->{$id};
		my $row = delete $db{$id};
		if (!$row) { violation($name, "\"$id\" is missing from batchstate.batch"); next }
		next unless $ch->{ok};
		my $f = $ch->{final};
		my @want = ($ch->{q}, join(',', @{ $ch->{ct}{$f} }), join(',', @{ $ch->{dp}{$f} }),
			$ch->{sc}{$f}, $ch->{st}{$f}, $f);
		my @got = ($row->[1], join(',', @{ $row->[2] }), join(',', @{ $row->[3] }), $row->[4], $row->[5], $row->[6]);
		if ($want[0] ne $got[0] || $want[1] ne $got[1] || $want[2] ne $got[2] || $want[3] != $got[3]
			|| $want[4] ne $got[4] || $want[5] != $got[5])
		{
			violation($name, "\"$id\": model (@want), table (@got)");
		}
	}
	violation($name, "\"$_\" is in batchstate.batch but no create succeeded") for sort keys %db;

	# membership and verify before the sweep.  A live batch may lack its row
	# only when the drift injection deleted it at the batch's final version
	# (and nothing filed it again since).
	my %rows = map { join("\0", @$_) => 1 }
	  @{ fetch_rows($dbh, 'SELECT queue, state, batch_id FROM batchstate.batch_state_membership') };
	$name = 'final membership before the sweep = a row per non-terminal batch (but rows dropped at the final version) + primitive leftovers';
	my %absent;
	for my $k (sort keys %live) {
		next if $rows{$k};
		my ($q, $st, $id) = split /\0/, $k;
		$absent{$k} = 1;
		violation($name, "no row ($q, $st, $id), and none was dropped at v$chain->{$id}{final}")
		  unless grep { $_->{v} == $chain->{$id}{final} } @{ $DROPPED{$id} // [] };
	}
	for my $k (sort keys %rows) {
		violation($name, 'unexpected row (' . join(', ', split /\0/, $k) . ')') unless $live{$k} || $leftover{$k};
	}
	$name = 'verify() before the sweep reports exactly the drift in the tables (stale leftovers, missing rows)';
	my %drift = map { ("stale\0$_" => 1) } grep { $leftover{$_} && !$live{$_} } keys %rows;
	$drift{"missing\0$_"} = 1 for keys %absent;
	for my $row (@{ fetch_rows($dbh, 'SELECT problem, queue, state, batch_id FROM batchstate.verify()') }) {
		my $k = join("\0", @$row);
		violation($name, 'unexpected (' . join(', ', @$row) . ')') unless delete $drift{$k};
	}
	violation($name, 'not reported: (' . join(', ', split /\0/) . ')') for sort keys %drift;

	# the sweep: lists prune the leftovers (a batch without its row is not listed)
	$name = 'a list_batches sweep over all states returns every live batch with a row, at its final version';
	for my $q (@QUEUES) {
		my $got = fetch_rows($dbh, $SQL{list}, $q, [@STATES]);
		my @want = map { [ $_, $chain->{$_}{final} ] } grep {
			my $c = $chain->{$_};
			my $st = $c->{st}{ $c->{final} };
			$c->{q} eq $q && !$TERMINAL{$st} && !$absent{"$q\0$st\0$_"}
		} @ids;
		my $g = join(' ', map { "$_->[0]\@v$_->[4]" } @$got);
		my $w = join(' ', map { "$_->[0]\@v$_->[1]" } @want);
		violation($name, "queue $q: got [$g], model [$w]") if $g ne $w;
	}
	$name = 'after the sweep, reconcile() adds exactly the missing rows and removes nothing';
	my $rec = fetch_rows($dbh, $SQL{reconcile}, undef);
	my $nabsent = keys %absent;
	violation($name, 'reconcile() returned ' . join(' | ', map { join(',', @$_) } @$rec) . ", expected $nabsent,0")
	  unless @$rec == 1 && $rec->[0][0] == $nabsent && $rec->[0][1] == 0;

	$name = 'after the sweep and reconcile: verify() is empty (all queues and per queue)';
	for my $q (undef, @QUEUES) {
		for my $row (@{ fetch_rows($dbh, $SQL{verify}, $q) }) {
			violation($name, 'verify(' . ($q // 'NULL') . '): (' . join(', ', @$row) . ')');
		}
	}

	$name = 'after the sweep and reconcile: exactly one membership row per non-terminal batch, under its state';
	%rows = map { join("\0", @$_) => 1 }
	  @{ fetch_rows($dbh, 'SELECT queue, state, batch_id FROM batchstate.batch_state_membership') };
	for my $k (sort keys %live) {
		violation($name, 'no row (' . join(', ', split /\0/, $k) . ')') unless $rows{$k};
	}
	for my $k (sort keys %rows) {
		violation($name, 'unexpected row (' . join(', ', split /\0/, $k) . ')') unless $live{$k};
	}

	$name = 'after the sweep and reconcile: list_active, list_batches per state and membership_list_ids match the model';
	for my $q (@QUEUES) {
		my @mine = grep { $chain->{$_}{q} eq $q } @ids;
		my $fmt = sub { join(' ', map { "$_->[0]\@$_->[3]\@v$_->[4]" } @{ $_[0] }) };
		my $model = sub {
			my %want = map { $_ => 1 } grep { !$TERMINAL{$_} } @_;    # terminal: no rows, never listed
			join(' ', map { my $c = $chain->{$_}; "$_\@$c->{st}{$c->{final}}\@v$c->{final}" }
				  grep { $want{ $chain->{$_}{st}{ $chain->{$_}{final} } } } @mine);
		};
		my $g = $fmt->(fetch_rows($dbh, $SQL{active}, $q));
		my $w = $model->(@NON_TERMINAL);
		violation($name, "list_active($q): got [$g], model [$w]") if $g ne $w;
		for my $st (@STATES) {
			$g = $fmt->(fetch_rows($dbh, $SQL{list}, $q, [$st]));
			$w = $model->($st);
			violation($name, "list_batches($q, $st): got [$g], model [$w]") if $g ne $w;
			$g = join(' ', map { $_->[0] } @{ fetch_rows($dbh,
				'SELECT * FROM batchstate.membership_list_ids($1::text, $2::text)', $q, $st) });
			$w = join(' ', $TERMINAL{$st} ? () : grep { $live{"$q\0$st\0$_"} } @mine);
			violation($name, "membership_list_ids($q, $st): got [$g], model [$w]") if $g ne $w;
		}
	}

	$name = 'after the sweep and reconcile: reconcile() finds nothing more to do';
	$rec = fetch_rows($dbh, $SQL{reconcile}, undef);
	violation($name, 'reconcile() returned ' . join(' | ', map { join(',', @$_) } @$rec))
	  unless @$rec == 1 && $rec->[0][0] == 0 && $rec->[0][1] == 0;

	# the reverse lookups read the batch rows, so after everything the load
	# did (update_batch races, the primitives, the drift) they equal a scan:
	# for every element any batch of a queue holds, and one none holds
	$name = 'dependents_of and batches_containing equal a scan of the batch rows';
	for my $look (['dependents_of', 'dependencies'], ['batches_containing', 'contains']) {
		my ($fn, $col) = @$look;
		for my $bad (@{ fetch_rows($dbh, qq{
			SELECT k.q, k.x, t.f
			FROM (SELECT DISTINCT b.queue AS q, x FROM batchstate.batch b, unnest(b.$col) AS x
			      UNION SELECT q, 'none/at/all' FROM unnest(\$1::text[]) AS q) AS k,
			     (VALUES (true), (false)) AS t(f)
			WHERE ARRAY(SELECT id FROM batchstate.$fn(k.q, k.x, t.f))
			      IS DISTINCT FROM
			      ARRAY(SELECT id FROM batchstate.batch
			            WHERE queue = k.q AND k.x = ANY ($col)
			              AND (t.f OR NOT batchstate.is_terminal(state))
			            ORDER BY id COLLATE "C")}, \@QUEUES) })
		{
			violation($name, "$fn(" . join(', ', @$bad) . ') differs from a scan of the batch rows');
		}
	}
}

# --- sabotage: prove the checks can fail ---------------------------------------

sub sabotage_db {
	my ($dbh) = @_;
	my $one = sub { my $r = $dbh->selectrow_arrayref($_[0]); $r ? $r->[0] : undef };
	my $do = sub { $dbh->do(@_) or die $dbh->errstr };
	if ($SABOTAGE{db_version}) {    # a version the chain cannot explain
		my $id = $one->("SELECT id FROM batchstate.batch WHERE version > 2 ORDER BY id LIMIT 1");
		$do->('UPDATE batchstate.batch SET version = version + 1 WHERE id = $1', undef, $id);
		note(Encode::encode("UTF-8", "stress: SABOTAGE db_version: bumped the version of \"$id\""));
	}
	if ($SABOTAGE{db_state}) {    # a state changed behind the extension's back
		my $id = $one->("SELECT id FROM batchstate.batch WHERE state = 'created' ORDER BY id LIMIT 1");
		$do->("UPDATE batchstate.batch SET state = 'scored' WHERE id = \$1", undef, $id);
		note(Encode::encode("UTF-8", "stress: SABOTAGE db_state: \"$id\" created -> scored without its row"));
	}
	if ($SABOTAGE{db_member}) {    # a live batch loses its row
		my $id = $one->("SELECT batch_id FROM batchstate.batch_state_membership m JOIN batchstate.batch b"
			  . " ON b.id = m.batch_id AND b.state = m.state ORDER BY 1 LIMIT 1");
		$do->('DELETE FROM batchstate.batch_state_membership WHERE batch_id = $1', undef, $id);
		note(Encode::encode("UTF-8", "stress: SABOTAGE db_member: deleted the membership of \"$id\""));
	}
	if ($SABOTAGE{db_extra}) {    # a row under a state the batch is not in
		my $id = $one->("SELECT id FROM batchstate.batch WHERE state = 'scored' ORDER BY id LIMIT 1");
		$do->("INSERT INTO batchstate.batch_state_membership SELECT queue, 'merging', id"
			  . ' FROM batchstate.batch WHERE id = $1', undef, $id);
		note(Encode::encode("UTF-8", "stress: SABOTAGE db_extra: filed \"$id\" under merging too"));
	}
}

sub sabotage_logs {
	my ($recs) = @_;
	my $first = sub { my ($f) = @_; for (@$recs) { return $_ if $f->($_) } undef };
	if ($SABOTAGE{log_cas}) {    # hide one win
		my $r = $first->(sub { $IS_CAS{ $_[0]{op} } && ($_[0]{r} // '') eq 't' });
		$r->{r} = 'f';
		note(Encode::encode("UTF-8", "stress: SABOTAGE log_cas: " . show_rec($r) . " now says false"));
	}
	if ($SABOTAGE{log_55000}) {    # pretend a legal move was refused
		my $r = $first->(sub { $_[0]{op} eq 'upd' && ($_[0]{r} // '') eq 'f' });
		$r->{r} = undef;
		$r->{e} = '55000';
		note(Encode::encode("UTF-8", "stress: SABOTAGE log_55000: " . show_rec($r)));
	}
	if ($SABOTAGE{log_list}) {    # a list returns a row of another queue
		my $r = $first->(sub { $_[0]{op} eq 'active' && $_[0]{rows} && @{ $_[0]{rows} } });
		$r->{a}[0] = $r->{a}[0] eq 'q1' ? 'Q2' : 'q1';
		note(Encode::encode("UTF-8", "stress: SABOTAGE log_list: " . show_rec($r)));
	}
	if ($SABOTAGE{log_sqlstate}) {    # a deadlock
		my $r = $first->(sub { defined $_[0]{e} });
		$r->{e} = '40P01';
		note(Encode::encode("UTF-8", "stress: SABOTAGE log_sqlstate: " . show_rec($r)));
	}
	if ($SABOTAGE{log_argerror}) {    # a wrong SQLSTATE for a bad argument
		my $r = $first->(sub { ($_[0]{e} // '') eq '22004' });
		$r->{e} = '22023';
		note(Encode::encode("UTF-8", "stress: SABOTAGE log_argerror: " . show_rec($r)));
	}
	if ($SABOTAGE{log_create}) {    # a second winner for one id
		my $r = $first->(sub { ($_[0]{e} // '') eq '23505' });
		delete $r->{e};
		$r->{rows} = [[ @{ $r->{a} }[ 0, 1, 3, 4, 5, 2, 6 ] ]];
		note(Encode::encode("UTF-8", "stress: SABOTAGE log_create: " . show_rec($r)));
	}
	if ($SABOTAGE{log_read}) {    # two reads of one client, swapped: time goes back
		my %seen;
		for my $r (@$recs) {
			next unless $r->{op} eq 'get' && $r->{rows} && @{ $r->{rows} };
			my $k = "$r->{c}\0$r->{rows}[0][0]";
			if ($seen{$k} && $r->{rows}[0][4] > $seen{$k}{rows}[0][4]) {
				($r->{rows}, $seen{$k}{rows}) = ($seen{$k}{rows}, $r->{rows});
				note(Encode::encode("UTF-8", "stress: SABOTAGE log_read: " . show_rec($seen{$k}) . ' then ' . show_rec($r)));
				last;
			}
			$seen{$k} = $r;
		}
	}
}

1;
