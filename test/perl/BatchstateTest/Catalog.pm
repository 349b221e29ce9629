# test/perl/BatchstateTest/Catalog.pm: what the upgrade and dump tests
# compare between databases: the extension's catalog, object by object
# (test/upgrade/catalog.sql), and the rows of both tables with verify().
#
#   catalog(NODE, DB, BEFORE)        catalog.sql's output (BEFORE: SQL run first)
#   catalog_diff(A, B, LA, LB)       ([object, [differences]], ...) for every object
#   catalog_checks(A, B, LA, LB)     one check per object
#   snapshot(NODE, DB, BASE)         { batch, membership, verify, version }
#   workload(NODE, DB, SEED, SCALE)  test/upgrade/workload.sql (1.0 API only)
package BatchstateTest::Catalog;

use strict;
use warnings;

use BatchstateTest;
use Exporter 'import';
use Test::More;

our @EXPORT = qw(catalog catalog_diff catalog_checks snapshot base_columns workload);

my $DIR = repo_path('test/upgrade');

sub catalog
{
	my ($node, $db, $before) = @_;
	my ($out, $err) = psql_out($node, $db,
		"SET client_min_messages = warning;\n" . ($before // '') . "\\i $DIR/catalog.sql\n",
		on_error_stop => 1);
	die "catalog.sql on $db: $err\n" if $err ne '' || $out eq '';
	return $out;
}

# object -> property -> [values], from catalog.sql's "object<TAB>property<TAB>value" lines
sub load
{
	my ($text) = @_;
	my %obj;
	for my $line (split /\n/, $text)
	{
		next if $line eq '';
		my ($o, $prop, $val) = split /\t/, $line, 3;
		push @{ $obj{$o}{$prop} }, $val // '';
	}
	return \%obj;
}

sub catalog_diff
{
	my ($text_a, $text_b, $la, $lb) = @_;
	my ($a, $b) = (load($text_a), load($text_b));
	my @result;
	for my $o (sort keys %{ { %$a, %$b } })
	{
		my @diff;
		if (!$a->{$o}) { push @diff, "only in $lb" }
		elsif (!$b->{$o}) { push @diff, "only in $la" }
		else
		{
			for my $p (sort keys %{ { %{ $a->{$o} }, %{ $b->{$o} } } })
			{
				my $va = join ' | ', @{ $a->{$o}{$p} // ['<absent>'] };
				my $vb = join ' | ', @{ $b->{$o}{$p} // ['<absent>'] };
				push @diff, "$p:", "  $la: $va", "  $lb: $vb" if $va ne $vb;
			}
		}
		push @result, [ $o, \@diff ];
	}
	return @result;
}

sub catalog_checks
{
	my ($text_a, $text_b, $la, $lb) = @_;
	for (catalog_diff($text_a, $text_b, $la, $lb))
	{
		my ($o, $diff) = @$_;
		ok(!@$diff, "$la = $lb: $o") or diag(join("\n", @$diff));
	}
	return;
}

# snapshot(NODE, DB, BASE): both tables and verify(), each in a fixed
# order, and the extension's version.  With BASE, only the columns of the
# oldest release: what its API wrote, to compare across versions that add
# columns of their own (1.3 files membership rows with the time, "since").
sub snapshot
{
	my ($node, $db, $base) = @_;
	my $copy = sub { $node->safe_psql($db, "COPY ($_[0]) TO STDOUT") };
	my ($batch, $membership) = $base ? base_columns() : ('*', '*');
	return {
		batch => $copy->("SELECT $batch FROM batchstate.batch ORDER BY id COLLATE \"C\""),
		membership => $copy->("SELECT $membership FROM batchstate.batch_state_membership
			ORDER BY queue COLLATE \"C\", state COLLATE \"C\", batch_id COLLATE \"C\""),
		verify => $copy->('SELECT * FROM batchstate.verify()'),
		version => $node->safe_psql($db,
			"SELECT extversion FROM pg_extension WHERE extname = 'batchstate'") };
}

# base_columns(): the columns of batch and of batch_state_membership in 1.0
sub base_columns
{
	return ('id, queue, contains, dependencies, score, state, version', 'queue, state, batch_id');
}

# workload.sql with a seed (an integer, made a float in 0..1) and a scale
sub workload
{
	my ($node, $db, $seed, $scale) = @_;
	my $float = sprintf '%.6f', ($seed % 1000000) / 1000000;
	my ($out, $err, $rc) = psql_out($node, $db, '',
		env => { PGOPTIONS => '-c client_min_messages=warning' },
		args => [ '-v', "seed=$float", '-v', "scale=$scale", '-f', "$DIR/workload.sql" ],
		on_error_stop => 1);
	die "workload.sql on $db: $err\n" if $rc;
	return;
}

1;
