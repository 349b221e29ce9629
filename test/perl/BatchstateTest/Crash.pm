# test/perl/BatchstateTest/Crash.pm: kill the server in the middle of a
# concurrent load, restart it, and check that exactly the acknowledged work
# survived.  Run by test/t/015_crash.pl: BatchstateTest::Crash::run(NODE,
# DB) on a node with fsync and synchronous_commit on, DB holding batchstate
# and amcheck; one Test::More check per property below and round.
#
# Each round: N client processes (one connection each) run batch lifecycles
# on batches only they touch (ids r<round>/c<client>/<k>, in a few shared
# queues), in explicit transactions of 1-3 steps (create_batch,
# update_state, update_score_and_state; legal moves, right versions),
# sometimes pausing inside the transaction and sometimes rolling it back.
# Each client appends to its own log, fsync'd line by line:
#   B T                 transaction T begins
#   O T op id queue state version score   a step returned success (uncommitted)
#   P T                 COMMIT is about to be sent
#   C T                 COMMIT returned: acknowledged
#   R T                 rolled back on purpose
#   E T sqlstate time message   a call failed
# After a seeded delay the server is stopped with `pg_ctl stop -m
# immediate` (in round 2 after a CHECKPOINT taken under the load), the
# clients fail and exit, the server is restarted (crash recovery) and the
# database is checked against a model built from the logs:
#   - every acknowledged commit (C) is there: each batch exactly at the
#     state, version and score of its last acknowledged step;
#   - nothing else is: no step of a transaction that never reached P, none
#     rolled back (R), no batch that was never acknowledged;
#   - a transaction whose COMMIT was in flight (P without C) is either
#     wholly there or wholly absent;
#   - verify() is empty, there is exactly one membership row per
#     non-terminal batch, list_active matches the model, and amcheck finds
#     the indexes intact.
# The next round continues the surviving lifecycles (each client re-reads
# its batches from the database) and adds new ones.
#
# Environment (all optional): CRASH_SEED (1), CRASH_CLIENTS (4),
# CRASH_ROUNDS (3), CRASH_VERBOSE=1, CRASH_LOGDIR (keep the clients' logs
# there), CRASH_SABOTAGE=mode (lose_commit: drop an acknowledged batch
# after recovery; extra: write an unacknowledged step; both show that the
# checks can fail).
package BatchstateTest::Crash;

use strict;
use warnings;

use BatchstateTest;
use DBI;
use IO::Handle;
use POSIX qw(_exit WNOHANG);
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my ($NODE, $DB);    # set by run
my $SEED = $ENV{CRASH_SEED} // 1;
my $CLIENTS = $ENV{CRASH_CLIENTS} // 4;
my $ROUNDS = $ENV{CRASH_ROUNDS} // 3;
my $VERBOSE = $ENV{CRASH_VERBOSE} // 0;
my $SABOTAGE = $ENV{CRASH_SABOTAGE} // '';
for ($SEED, $CLIENTS, $ROUNDS) {
	/^\d+$/ && $_ >= 1 or die "CRASH_SEED, CRASH_CLIENTS and CRASH_ROUNDS must be positive integers\n";
}

my @QUEUES = qw(cq1 cq2 cq3);
my @STATES = qw(created scored speculating merging cancelling succeeded failed cancelled);
my %TERMINAL = map { $_ => 1 } qw(succeeded failed cancelled);
my @NON_TERMINAL = grep { !$TERMINAL{$_} } @STATES;
my %MOVES = (
	created     => [qw(scored speculating cancelling failed)],
	scored      => [qw(speculating cancelling failed)],
	speculating => [qw(merging cancelling failed)],
	merging     => [qw(succeeded failed cancelling)],
	cancelling  => [qw(cancelled succeeded failed)],
);

sub pick { return $_[ int rand @_ ] }

sub connect_db {
	return dbi_connect($NODE, $DB);
}

# ============================================================================
# A client
# ============================================================================

sub client_main {
	my ($n, $round, $logfile, $readyfile) = @_;
	srand($SEED * 1000003 + $round * 1009 + $n * 7919);
	my $dbh = connect_db() or die "client $n: cannot connect: $DBI::errstr\n";
	$dbh->do("SET statement_timeout = '60s'") or die $dbh->errstr;

	open my $log, '>>', $logfile or die "$logfile: $!\n";
	my $say = sub {
		my $line = join("\t", @_) . "\n";
		syswrite($log, $line) == length $line or die "$logfile: $!\n";
		$log->sync or die "$logfile: fsync: $!\n";
	};

	# this client's live batches, as the database has them now
	my %mine;
	my $rows = $dbh->selectall_arrayref(
		'SELECT id, queue, state, version FROM batchstate.batch WHERE id ~ $1 ORDER BY id',
		undef, "^r[0-9]+/c$n/") or die $dbh->errstr;
	for (@$rows) {
		my ($id, $q, $st, $v) = @$_;
		$mine{$id} = { q => $q, st => $st, v => $v } unless $TERMINAL{$st};
	}

	my $create = $dbh->prepare('SELECT version FROM batchstate.create_batch($1, $2, $3, score => $4::float8)');
	my $upd = $dbh->prepare('SELECT batchstate.update_state($1, $2, $3)');
	my $upds = $dbh->prepare('SELECT batchstate.update_score_and_state($1, $2, $3::float8, $4)');
	open my $ready, '>', $readyfile or die "$readyfile: $!\n";
	close $ready;

	my ($seq, $k) = (0, 0);
	while (1) {
		my $T = "r$round.c$n." . ++$seq;
		$say->('B', $T);
		my $fail = sub {
			my ($h) = @_;
			$say->('E', $T, $h->state || 'none', sprintf('%.6f', time), ($h->errstr // '') =~ s/\s+/ /gr);
		};
		# Explicit BEGIN/COMMIT statements, not DBI's begin_work/commit:
		# DBD::Pg 3.16's commit() returns true when the connection died
		# before the COMMIT reached the server (nothing was committed).
		$dbh->do('BEGIN') or do { $fail->($dbh); last };
		my (%touched, %after);
		my $ok = 1;
		for (1 .. 1 + int(rand 3)) {
			my @live = grep { !$touched{$_} } sort keys %mine;
			if (@live && rand(100) < 70) {
				my $id = pick(@live);
				my $b = $mine{$id};
				my $to = rand(100) < 10 ? $b->{st} : pick(@{ $MOVES{ $b->{st} } });
				my ($sth, @args, $score);
				if (rand(100) < 40) {
					$score = sprintf('%.4f', rand);
					($sth, @args) = ($upds, $id, $b->{v}, $score, $to);
				}
				else {
					($sth, @args) = ($upd, $id, $b->{v}, $to);
				}
				if (!$sth->execute(@args)) { $fail->($sth); $ok = 0; last }
				my ($won) = $sth->fetchrow_array;
				if (!$won) {
					$say->('E', $T, 'false', sprintf('%.6f', time), "update of $id at v$b->{v} returned false");
					$ok = 0;
					last;
				}
				$touched{$id} = 1;
				$after{$id} = { q => $b->{q}, st => $to, v => $b->{v} + 1 };
				$say->('O', $T, $sth == $upd ? 'upd' : 'upds', $id, $b->{q}, $to, $b->{v} + 1, $score // '-');
			}
			else {
				my $id = "r$round/c$n/" . $k++;
				my $q = pick(@QUEUES);
				my $st = rand(100) < 85 ? 'created' : pick(@NON_TERMINAL);
				my $score = sprintf('%.4f', rand);
				if (!$create->execute($id, $q, $st, $score)) { $fail->($create); $ok = 0; last }
				$create->fetchrow_array;
				$touched{$id} = 1;
				$after{$id} = { q => $q, st => $st, v => 1 };
				$say->('O', $T, 'create', $id, $q, $st, 1, $score);
			}
		}
		if ($ok && rand(100) < 30) {
			$dbh->do('SELECT pg_sleep(?)', undef, rand(0.02)) or do { $fail->($dbh); $ok = 0 };
		}
		if (!$ok) {
			$dbh->do('ROLLBACK');
			last unless $dbh->ping;
			next;
		}
		if (rand(100) < 10) {
			$dbh->do('ROLLBACK') or do { $fail->($dbh); last };
			$say->('R', $T);
			next;
		}
		my ($xid) = $dbh->selectrow_array('SELECT txid_current()');
		if (!defined $xid) { $fail->($dbh); last }
		$say->('P', $T, $xid, sprintf('%.6f', time));
		if (!$dbh->do('COMMIT')) { $fail->($dbh); last }
		$say->('C', $T, sprintf('%.6f', time));
		for my $id (keys %after) {
			if ($TERMINAL{ $after{$id}{st} }) { delete $mine{$id} }
			else { $mine{$id} = $after{$id} }
		}
	}
	close $log;
}

# ============================================================================
# The checks
# ============================================================================

my @CHECK_ORDER;
my %VIOLATIONS;
my ($PASSED, $FAILED) = (0, 0);

sub declare {
	my ($name) = @_;
	push @CHECK_ORDER, $name unless $VIOLATIONS{$name};
	$VIOLATIONS{$name} //= [];
	return $name;
}

sub violation { push @{ $VIOLATIONS{ $_[0] } }, $_[1] }

sub report_checks {
	for my $name (@CHECK_ORDER) {
		my $v = $VIOLATIONS{$name};
		if (ok(!@$v, $name)) { $PASSED++; next }
		$FAILED++;
		my $show = $VERBOSE ? @$v : (@$v < 6 ? @$v : 6);
		diag(scalar(@$v) . " violations:\n" . join("\n", @$v[ 0 .. $show - 1 ]));
		diag('... (CRASH_VERBOSE=1 shows all)') if $show < @$v;
	}
	@CHECK_ORDER = ();
}

# Parse one client's log of one round into transactions, in order.
sub read_log {
	my ($file) = @_;
	my (@txns, %by);
	open my $fh, '<', $file or return [];
	while (my $line = <$fh>) {
		chomp $line;
		my ($tag, $T, @rest) = split /\t/, $line;
		next unless defined $T;
		if ($tag eq 'B') {
			$by{$T} = { T => $T, ops => [], status => 'open' };
			push @txns, $by{$T};
			next;
		}
		my $t = $by{$T} or next;
		if ($tag eq 'O') {
			my ($op, $id, $q, $st, $v, $score) = @rest;
			push @{ $t->{ops} }, { op => $op, id => $id, q => $q, st => $st, v => $v, score => $score };
		}
		elsif ($tag eq 'P') { $t->{status} = 'pending'; $t->{xid} = $rest[0] }
		elsif ($tag eq 'C') { $t->{status} = 'committed' }
		elsif ($tag eq 'R') { $t->{status} = 'rolledback' }
		elsif ($tag eq 'E') { push @{ $t->{errors} }, { state => $rest[0], time => $rest[1], msg => $rest[2] } }
	}
	close $fh;
	return \@txns;
}

sub apply_txn {
	my ($model, $t) = @_;
	for my $op (@{ $t->{ops} }) {
		my $b = $model->{ $op->{id} };
		my $score = $op->{score} ne '-' ? $op->{score} : $b->{score};
		$model->{ $op->{id} } = { q => $op->{q}, st => $op->{st}, v => $op->{v}, score => $score };
	}
}

# Does the database show transaction t applied (1), not applied (0), or a
# mix (-1)?  Judged on the last step of t on each batch.
sub txn_applied {
	my ($db, $model, $t) = @_;
	my %last;
	$last{ $_->{id} } = $_ for @{ $t->{ops} };
	my ($yes, $no) = (0, 0);
	for my $id (keys %last) {
		my $row = $db->{$id};
		my $op = $last{$id};
		if ($row && $row->{v} == $op->{v} && $row->{st} eq $op->{st}) { $yes++ }
		elsif ((!$row && !$model->{$id}) || ($row && $model->{$id} && $row->{v} == $model->{$id}{v})) { $no++ }
		else { return -1 }
	}
	return $yes && $no ? -1 : $yes ? 1 : 0;
}

sub fetch_db {
	my ($dbh) = @_;
	my $rows = $dbh->selectall_arrayref('SELECT id, queue, state, version, score FROM batchstate.batch')
	  or die $dbh->errstr;
	return { map { $_->[0] => { q => $_->[1], st => $_->[2], v => $_->[3], score => $_->[4] } } @$rows };
}

sub check_round {
	my ($round, $model, $logdir, $kill_t, $client_status) = @_;
	my $p = "round $round:";
	my $c_run = declare("$p every client ran until the crash and failed only after the server was stopped");
	my $c_mid = declare("$p the crash hit transactions in the middle (some open or committing)");
	my $c_up = declare("$p the server restarted and recovered");
	my $c_ack = declare("$p every acknowledged commit is there, exactly (state, version, score)");
	my $c_none = declare("$p nothing unacknowledged is there (no step of an uncommitted or rolled-back transaction)");
	my $c_atom = declare("$p a commit in flight at the crash is all there or not at all");
	my $c_xid = declare("$p txid_status() says committed for every acknowledged transaction");
	my $c_verify = declare("$p verify() is empty after recovery");
	my $c_member = declare("$p exactly one membership row per non-terminal batch after recovery");
	my $c_list = declare("$p list_active of every queue matches the model after recovery");
	my $c_amcheck = declare("$p amcheck finds the batchstate btree indexes intact after recovery");
	my $c_hash = declare("$p the hash index on batch ids finds every batch after recovery");

	# the logs
	my (%stats, @inflight, @acked);
	for my $n (1 .. $CLIENTS) {
		violation($c_run, "client $n: $client_status->{$n}") if $client_status->{$n} ne 'ok';
		my $txns = read_log("$logdir/r$round.c$n.log");
		violation($c_run, "client $n committed nothing") unless grep { $_->{status} eq 'committed' } @$txns;
		for my $t (@$txns) {
			for my $e (@{ $t->{errors} // [] }) {
				violation($c_run, "client $n, $t->{T}: $e->{state} at " . sprintf('%.3f', $e->{time} - $kill_t)
					  . " s from the kill: $e->{msg}") if $e->{time} < $kill_t;
			}
			$stats{ $t->{status} }++;
			if ($t->{status} eq 'committed') { apply_txn($model, $t); push @acked, $t }
			elsif ($t->{status} eq 'pending') { push @inflight, $t }
			elsif ($t->{status} eq 'open' && @{ $t->{ops} }) { $stats{'open with steps'}++ }
		}
		my $last = $txns->[-1];
		$stats{'hit by the crash'}++ if $last && ($last->{status} eq 'open' || $last->{status} eq 'pending');
	}
	violation($c_mid, 'every client was between transactions when the server stopped')
	  unless $stats{'hit by the crash'};

	# the restart
	if (!$NODE->start(fail_ok => 1)) {
		violation($c_up, 'pg_ctl start failed (see the server log)');
		return 0;
	}
	my $dbh;
	for (1 .. 50) { $dbh = connect_db() and last; sleep 0.1 }
	if (!$dbh) { violation($c_up, "cannot connect after the restart: $DBI::errstr"); return 0 }

	if ($SABOTAGE eq 'lose_commit' && $round == 1) {
		my ($id) = sort grep { $model->{$_} } keys %$model;
		$dbh->do('DELETE FROM batchstate.batch WHERE id = $1', undef, $id);
		note("crash: SABOTAGE lose_commit: deleted \"$id\"");
	}
	if ($SABOTAGE eq 'extra' && $round == 1) {
		my ($id) = sort grep { $model->{$_} && !$TERMINAL{ $model->{$_}{st} } } keys %$model;
		$dbh->do('UPDATE batchstate.batch SET version = version + 1 WHERE id = $1', undef, $id);
		note("crash: SABOTAGE extra: bumped \"$id\"");
	}

	# what the server says about a transaction: committed, aborted, or (an
	# xid whose records were all lost) an error "is in the future"
	my $xst = $dbh->prepare('SELECT txid_status($1::bigint)');
	my $xid_status = sub {
		my ($xid) = @_;
		return $xst->errstr =~ /in the future/ ? 'unknown (in the future)' : 'error: ' . $xst->errstr
		  unless $xst->execute($xid);
		my ($st) = $xst->fetchrow_array;
		$xst->finish;
		return $st // 'NULL';
	};
	for my $t (@acked) {
		my $st = $xid_status->($t->{xid});
		violation($c_xid, "$t->{T} (xid $t->{xid}): $st") if $st ne 'committed';
	}
	my %xid_status = map { $_->{T} => $xid_status->($_->{xid}) } @inflight;
	my $db = fetch_db($dbh);
	my %resolved = (applied => 0, lost => 0);
	for my $t (@inflight) {
		my $a = txn_applied($db, $model, $t);
		if ($a < 0) {
			violation($c_atom, "$t->{T}: " . join('; ', map {
				my $r = $db->{ $_->{id} };
				"$_->{op} $_->{id} -> $_->{st} v$_->{v}, database: "
				  . ($r ? "$r->{st} v$r->{v}" : 'absent') } @{ $t->{ops} }));
			next;
		}
		my $xs = $xid_status{ $t->{T} } // 'NULL';
		if ($a != ($xs eq 'committed' ? 1 : 0)) {
			violation($c_atom, "$t->{T}: the data says " . ($a ? 'committed' : 'not committed')
				  . ", txid_status($t->{xid}) says $xs");
		}
		if ($a) { apply_txn($model, $t); $resolved{applied}++ }
		else { $resolved{lost}++ }
	}
	note sprintf "crash: round %d: transactions: %s; commits in flight: %d there, %d not", $round,
	  join(', ', map { "$stats{$_} $_" } sort keys %stats), $resolved{applied}, $resolved{lost};

	for my $id (sort keys %{ { %$model, %$db } }) {
		my ($m, $r) = ($model->{$id}, $db->{$id});
		if ($m && !$r) { violation($c_ack, "\"$id\" (acknowledged: $m->{st} v$m->{v}) is missing"); next }
		if (!$m && $r) { violation($c_none, "\"$id\" ($r->{st} v$r->{v}) was never acknowledged"); next }
		next if $m->{v} == $r->{v} && $m->{st} eq $r->{st} && $m->{score} == $r->{score} && $m->{q} eq $r->{q};
		my $msg = "\"$id\": acknowledged ($m->{q}, $m->{st}, v$m->{v}, score $m->{score}),"
		  . " database ($r->{q}, $r->{st}, v$r->{v}, score $r->{score})";
		violation($r->{v} > $m->{v} ? $c_none : $c_ack, $msg);
	}
	# from here on the database is the truth (a failure is reported once)
	%$model = %$db;

	for my $row (@{ $dbh->selectall_arrayref('SELECT * FROM batchstate.verify()') // [] }) {
		violation($c_verify, '(' . join(', ', @$row) . ')');
	}
	my %rows = map { join("\0", @$_) => 1 }
	  @{ $dbh->selectall_arrayref('SELECT queue, state, batch_id FROM batchstate.batch_state_membership') };
	for my $id (sort keys %$model) {
		my $m = $model->{$id};
		next if $TERMINAL{ $m->{st} };
		violation($c_member, "no row ($m->{q}, $m->{st}, $id)") unless delete $rows{"$m->{q}\0$m->{st}\0$id"};
	}
	violation($c_member, 'unexpected row (' . join(', ', split /\0/) . ')') for sort keys %rows;
	for my $q (@QUEUES) {
		my $got = join(' ', map { "$_->[0]\@$_->[1]v$_->[2]" }
			  @{ $dbh->selectall_arrayref('SELECT id, state, version FROM batchstate.list_active($1)', undef, $q) });
		my $want = join(' ', map { "$_\@$model->{$_}{st}v$model->{$_}{v}" }
			  sort grep { $model->{$_}{q} eq $q && !$TERMINAL{ $model->{$_}{st} } } keys %$model);
		violation($c_list, "list_active($q): got [$got], model [$want]") if $got ne $want;
	}
	my $idx = $dbh->selectall_arrayref(q{
		SELECT c.relname, bt_index_check(c.oid, true) IS NULL
		  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		  JOIN pg_namespace n ON n.oid = c.relnamespace
		  JOIN pg_am a ON a.oid = c.relam
		 WHERE n.nspname = 'batchstate' AND a.amname = 'btree'});
	if (!$idx) { violation($c_amcheck, 'amcheck: ' . $dbh->errstr) }
	elsif (@$idx < 2) { violation($c_amcheck, 'found ' . scalar(@$idx) . ' btree indexes, expected 2') }

	# amcheck has no check for hash indexes: look every batch up through it
	# (a nested loop whose inner side must be the hash index, checked in the
	# plan) and expect to find each one
	$dbh->do("SET $_ = off") for qw(enable_seqscan enable_bitmapscan enable_hashjoin enable_mergejoin);
	my $probe = q{SELECT count(*) FROM batchstate.batch b
		WHERE NOT EXISTS (SELECT 1 FROM batchstate.batch h WHERE h.id = b.id)};
	my $plan = $dbh->selectall_arrayref("EXPLAIN $probe");
	if (!$plan) { violation($c_hash, 'EXPLAIN: ' . $dbh->errstr) }
	elsif (!grep { $_->[0] =~ /Index Scan using batch_id_hash on batch h/ } @$plan) {
		violation($c_hash, 'the lookup does not use batch_id_hash: ' . join(' / ', map { $_->[0] } @$plan));
	}
	else {
		my ($missing) = $dbh->selectrow_array($probe);
		if (!defined $missing) { violation($c_hash, 'lookup: ' . $dbh->errstr) }
		elsif ($missing != 0) { violation($c_hash, "$missing batches not found through batch_id_hash") }
	}
	$dbh->disconnect;
	return 1;
}

# ============================================================================
# Main
# ============================================================================

# run(NODE, DB): CRASH_ROUNDS rounds of load, crash, recovery and checks
sub run {
	($NODE, $DB) = @_;
	my $logdir = $ENV{CRASH_LOGDIR} || PostgreSQL::Test::Utils::tempdir;
	srand($SEED);
	my @delays = map { 0.6 + rand(1.6) } 1 .. $ROUNDS;
	note sprintf "crash: seed %d, %d clients, %d rounds (CRASH_SEED, CRASH_CLIENTS, CRASH_ROUNDS)",
	  $SEED, $CLIENTS, $ROUNDS;
	my %model;    # id -> { q, st, v, score }: what must be in the database

	for my $round (1 .. $ROUNDS) {
		my $delay = $delays[ $round - 1 ];
		my %child;
		for my $n (1 .. $CLIENTS) {
			my $pid = fork // die "fork: $!\n";
			if ($pid == 0) {
				my $ok = eval { client_main($n, $round, "$logdir/r$round.c$n.log", "$logdir/r$round.c$n.ready"); 1 };
				print STDERR "crash: client $n: $@" unless $ok;
				STDERR->flush;
				STDOUT->flush;
				_exit($ok ? 0 : 2);
			}
			$child{$pid} = $n;
		}
		my $t_ready = time + 30;
		sleep 0.02 while time < $t_ready && grep { !-e "$logdir/r$round.c$_.ready" } 1 .. $CLIENTS;
		if ($round == 2) {    # a checkpoint under the load: recovery starts from it
			sleep $delay / 2;
			my $dbh = connect_db();
			$dbh->do('CHECKPOINT') if $dbh;
			$dbh->disconnect if $dbh;
			sleep $delay / 2;
		}
		else {
			sleep $delay;
		}
		note sprintf "crash: round %d: stopping the server (immediate) %.2f s into the load%s", $round, $delay,
		  $round == 2 ? ', after a CHECKPOINT' : '';
		my $kill_t = time;
		my $stopped = $NODE->stop('immediate', fail_ok => 1);

		my %status;
		my $deadline = time + 60;
		while (%child) {
			my $pid = waitpid(-1, WNOHANG);
			if ($pid > 0) {
				$status{ $child{$pid} } = $? == 0 ? 'ok' : "exited with status $?";
				delete $child{$pid};
				next;
			}
			if (time > $deadline) {
				for my $p (keys %child) {
					kill 'KILL', $p;
					waitpid($p, 0);
					$status{ $child{$p} } = 'still running 60 s after the crash';
					delete $child{$p};
				}
				last;
			}
			sleep 0.02;
		}
		my $c_stop = declare("round $round: pg_ctl stop -m immediate worked");
		violation($c_stop, 'pg_ctl stop failed') unless $stopped;
		my $up = check_round($round, \%model, $logdir, $kill_t, \%status);
		report_checks();
		last unless $up;
	}
	return $FAILED == 0;
}

1;
