# test/perl/BatchstateTest/Cases.pm: run single-call cases against a
# database and check each outcome; used by BatchstateTest::Hostile.
#
#   my @cases = read_cases(FILE);        # or a list built in Perl
#   run_cases(NODE, DB, \@cases, label => 'notify', pgoptions => '-c ...');
#
# A case is { label, role, mode, expect, sql }; a case file has one per
# line, tab-separated in that order (# comments and blank lines skipped):
# role   - (the session user) or a role name to SET ROLE to for the call
# mode   rw (autocommit) or ro (inside BEGIN READ ONLY ... ROLLBACK)
# expect ok | SQLSTATE | SQLSTATE:text (the message must contain text)
# sql    one statement, run at top level (no subtransaction around it)
#
# Every case runs in one psql session, in order, with the fixture
# (hostile.reset()) in place, and is one Test::More check.  After a failing
# call the md5 of both tables (hostile.md5()) must equal the fixture's:
# nothing was written.  After a successful one the fixture is laid again.
# XX000 fails whatever the case expects.  If the connection is lost (a
# backend crash) the case in flight fails, the run waits for the server
# and goes on with the next case.  The session's backend pid is compared at
# the start and the end (one more check): the same pid means no backend of
# the cluster crashed meanwhile (a crash restarts them all).
package BatchstateTest::Cases;

use strict;
use warnings;

use BatchstateTest;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(read_cases run_cases);

sub read_cases
{
	my ($file, $text) = @_;
	$text //= slurp_file($file);
	my @cases;
	my $n = 0;
	for my $line (split /\n/, $text)
	{
		$n++;
		next if $line =~ /^\s*(#|$)/;
		my ($label, $role, $mode, $expect, $sql) = split /\t/, $line, 5;
		die "$file:$n: need 5 tab-separated fields\n" unless defined $sql;
		die "$file:$n: mode must be rw or ro\n" unless $mode =~ /^(rw|ro)$/;
		push @cases,
		  { label => $label, role => $role, mode => $mode,
			expect => $expect, sql => $sql };
	}
	return @cases;
}

# the psql script for cases $from .. $#cases
sub script
{
	my ($cases, $from) = @_;
	my $s = <<'EOF';
\set ON_ERROR_STOP 0
\o /dev/null
SET client_min_messages = warning;
SELECT hostile.reset();
SELECT hostile.md5() AS fixture, pg_backend_pid() AS pid \gset
\echo START|:pid|:fixture
EOF
	for my $i ($from .. $#$cases)
	{
		my $c = $cases->[$i];
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

# one check per case, and one for the backend pid
sub run_cases
{
	my ($node, $db, $cases, %opt) = @_;
	my $prefix = $opt{label} ? "[$opt{label}] " : '';
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGOPTIONS} = $opt{pgoptions} // '';
	my $psql = bin_of($node, 'psql');
	my $from = 0;
	while ($from <= $#$cases)
	{
		# psql's errors (1 MB values among them) go to the test's log
		my ($out, $err) = ('', '');
		IPC::Run::run([ $psql, '-X', '-q', '-d', $db, '-f', '-' ],
			'<', \script($cases, $from), '>', \$out, '2>', \$err);
		my $rc = $? >> 8;
		print length($err) > 100_000 ? substr($err, 0, 100_000) . "...\n" : $err;

		my ($fixture, $pid_start, $pid_end, %result, %same);
		for (split /\n/, $out)
		{
			if (/^START\|(\d+)\|(\w+)$/) { ($pid_start, $fixture) = ($1, $2); }
			elsif (/^END\|(\d+)$/) { $pid_end = $1; }
			elsif (/^RESULT\|(\d+)\|(\w+)\|(.*)$/) { $result{$1} = [ $2, $3 ]; }
			elsif (/^SAME\|(\d+)\|(\w*)$/) { $same{$1} = $2; }
		}
		die "psql did not start (rc $rc): $err\n" unless defined $fixture;

		my $last = $from - 1;
		for my $i ($from .. $#$cases)
		{
			last unless exists $result{$i};
			$last = $i;
			check_case($cases->[$i], $prefix, @{ $result{$i} }, $same{$i}, $fixture);
		}

		if (defined $pid_end)
		{
			is($pid_end, $pid_start,
				"${prefix}one backend ($pid_start) served every case: no crash");
			last;
		}
		# psql ended early: the case after the last answered one lost the connection
		my $i = $last + 1;
		last if $i > $#$cases;
		ok(0, "$prefix$cases->[$i]{label}: connection lost (backend crash?), psql rc $rc")
		  or diag($cases->[$i]{sql});
		wait_for_server($node, $db);
		$from = $i + 1;
	}
	return;
}

sub check_case
{
	my ($c, $prefix, $code, $msg, $same, $fixture) = @_;
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
		if (!defined $same) { push @why, "no table fingerprint after the error"; }
		elsif ($same ne $fixture) { push @why, "the failed call changed the tables"; }
	}
	ok(!@why, "$what: " . ($code eq '00000' ? 'ok' : $want_code))
	  or diag(join('; ', @why) . "\n$c->{sql}");
	return;
}

sub wait_for_server
{
	my ($node, $db) = @_;
	for (1 .. 120)
	{
		return if IPC::Run::run([ bin_of($node, 'pg_isready'), '-q', '-d', $db ]);
		sleep 1;
	}
	die "the server did not come back\n";
}

1;
