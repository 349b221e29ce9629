#!/usr/bin/perl
# cases.pl: run a file of single-call cases against the database and check
# each outcome.
#
#   perl cases.pl CASEFILE
#
# CASEFILE has one case a line, tab-separated:
#   label  role  mode  expect  sql
# role   - (the session user) or a role name to SET ROLE to for the call
# mode   rw (autocommit) or ro (inside BEGIN READ ONLY ... ROLLBACK)
# expect ok | SQLSTATE | SQLSTATE:text (the message must contain text)
# sql    one statement, run at top level (no subtransaction around it)
#
# Every case runs in one psql session, in order, with the fixture
# (hostile.reset()) in place.  After a failing call the md5 of both tables
# (hostile.md5()) must equal the fixture's: nothing was written.  After a
# successful one the fixture is laid again.  XX000 fails whatever the case
# expects.  If the connection is lost (a backend crash) the case in flight
# fails, the script waits for the server and goes on with the next case.
# The session's backend pid is printed at the start and the end: the same
# pid means no backend of the cluster crashed meanwhile (a crash restarts
# them all).
#
# Prints "ok - ..." / "not ok - ..." lines and, last,
#   cases: N passed, M failed
use strict;
use warnings;

my $file = shift or die "usage: cases.pl CASEFILE\n";
my $pg_bin = $ENV{PG_BIN} // "/usr/lib/postgresql/15/bin";
my $psql = "$pg_bin/psql";
my $db = $ENV{HOSTILE_DB} or die "HOSTILE_DB is not set\n";
my $log = $ENV{HOSTILE_LOG} // '/dev/null';
my $prefix = ($ENV{HOSTILE_LABEL} // '') ne '' ? "$ENV{HOSTILE_LABEL} " : '';

my @cases;
open my $in, '<', $file or die "$file: $!\n";
while (my $line = <$in>)
{
	chomp $line;
	next if $line =~ /^\s*(#|$)/;
	my ($label, $role, $mode, $expect, $sql) = split /\t/, $line, 5;
	die "$file:$.: need 5 tab-separated fields\n" unless defined $sql;
	die "$file:$.: mode must be rw or ro\n" unless $mode =~ /^(rw|ro)$/;
	push @cases, { label => $label, role => $role, mode => $mode,
				   expect => $expect, sql => $sql };
}
close $in;

my ($passed, $failed) = (0, 0);
sub pass { $passed++; print "ok - $_[0]\n"; }
sub fail { $failed++; print "not ok - $_[0]\n"; }

# psql script for cases $from .. $#cases
sub script
{
	my ($from) = @_;
	my $s = <<'EOF';
\set ON_ERROR_STOP 0
\o /dev/null
SET client_min_messages = warning;
SELECT hostile.reset();
SELECT hostile.md5() AS fixture, pg_backend_pid() AS pid \gset
\echo START|:pid|:fixture
EOF
	for my $i ($from .. $#cases)
	{
		my $c = $cases[$i];
		$s .= "SET ROLE \"$c->{role}\";\n" if $c->{role} ne '-';
		$s .= "BEGIN READ ONLY;\n" if $c->{mode} eq 'ro';
		$s .= "$c->{sql};\n";
		$s .= "\\echo RESULT|$i|:SQLSTATE|:LAST_ERROR_MESSAGE\n";
		$s .= "\\set failed :ERROR\n";
		$s .= "ROLLBACK;\n" if $c->{mode} eq 'ro';
		$s .= "RESET ROLE;\n";
		$s .= "\\if :failed\n";
		$s .= "SELECT hostile.md5() AS now \\gset\n";
		$s .= "\\echo SAME|$i|:now\n";
		$s .= "\\else\n";
		$s .= "SELECT hostile.reset();\n";
		$s .= "\\endif\n";
	}
	$s .= "SELECT pg_backend_pid() AS pid \\gset\n\\echo END|:pid\n";
	return $s;
}

sub wait_for_server
{
	for (1 .. 120)
	{
		return if system("$pg_bin/pg_isready -q -d \Q$db\E") == 0;
		sleep 1;
	}
	die "server did not come back\n";
}

my $from = 0;
while ($from <= $#cases)
{
	my $tmp = "/tmp/hostile-cases-$$.sql";
	open my $out, '>', $tmp or die "$tmp: $!\n";
	print $out script($from);
	close $out;
	my @lines = `"$psql" -X -q -d "$db" -f "$tmp" 2>>"$log"`;
	my $rc = $? >> 8;
	unlink $tmp;

	my ($fixture, $pid_start, $pid_end, %result, %same);
	for (@lines)
	{
		chomp;
		if (/^START\|(\d+)\|(\w+)$/) { ($pid_start, $fixture) = ($1, $2); }
		elsif (/^END\|(\d+)$/) { $pid_end = $1; }
		elsif (/^RESULT\|(\d+)\|(\w+)\|(.*)$/) { $result{$1} = [$2, $3]; }
		elsif (/^SAME\|(\d+)\|(\w*)$/) { $same{$1} = $2; }
	}
	die "psql did not start (rc $rc); see $log\n" unless defined $fixture;

	my $last = $from - 1;
	for my $i ($from .. $#cases)
	{
		last unless exists $result{$i};
		$last = $i;
		my $c = $cases[$i];
		my ($code, $msg) = @{ $result{$i} };
		my $what = "$prefix$c->{label} [$c->{role} $c->{mode}]";
		my ($want_code, $want_text) = split /:/, $c->{expect}, 2;
		$want_code = '00000' if $want_code eq 'ok';
		my @why;
		push @why, "internal error XX000: $msg" if $code eq 'XX000';
		if ($code ne $want_code)
		{
			push @why, "got $code" . ($code eq '00000' ? '' : " ($msg)")
			  . ", expected $want_code";
		}
		elsif (defined $want_text && $code ne '00000' && index($msg, $want_text) < 0)
		{
			push @why, "message \"$msg\" lacks \"$want_text\"";
		}
		if ($code ne '00000')
		{
			if (!defined $same{$i}) { push @why, "no table fingerprint after the error"; }
			elsif ($same{$i} ne $fixture) { push @why, "the failed call changed the tables"; }
		}
		if (@why) { fail("$what: " . join('; ', @why) . "\n#   $c->{sql}"); }
		else { pass("$what: " . ($code eq '00000' ? 'ok' : $code)); }
	}

	if (defined $pid_end)
	{
		if ($pid_end eq $pid_start) { pass("one backend ($pid_start) served every case: no crash"); }
		else { fail("backend pid changed from $pid_start to $pid_end"); }
		last;
	}
	# psql ended early: the case after the last answered one lost the connection
	my $i = $last + 1;
	last if $i > $#cases;
	fail("$prefix$cases[$i]{label}: connection lost (backend crash?), psql rc $rc\n#   $cases[$i]{sql}");
	wait_for_server();
	$from = $i + 1;
}

print "cases: $passed passed, $failed failed\n";
exit($failed == 0 ? 0 : 1);
