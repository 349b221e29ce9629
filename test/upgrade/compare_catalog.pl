#!/usr/bin/perl
# test/upgrade/compare_catalog.pl A B LABEL_A LABEL_B
# Compares two outputs of test/upgrade/catalog.sql object by object: one
# "ok -" or "FAIL -" line per object, and for a difference the properties
# that differ.  Exit status: the number of differing objects (capped at 100).
use strict;
use warnings;

my ($file_a, $file_b, $label_a, $label_b) = @ARGV;
die "usage: $0 A B LABEL_A LABEL_B\n" unless defined $label_b;

sub load
{
	my ($file) = @_;
	my %obj;
	open my $fh, '<', $file or die "cannot read $file: $!\n";
	while (my $line = <$fh>)
	{
		chomp $line;
		next if $line eq '';
		my ($o, $prop, $val) = split /\t/, $line, 3;
		$val //= '';
		push @{ $obj{$o}{$prop} }, $val;
	}
	return \%obj;
}

my $a = load($file_a);
my $b = load($file_b);
die "no objects in $file_a\n" unless %$a;
die "no objects in $file_b\n" unless %$b;

my %all = map { $_ => 1 } keys %$a, keys %$b;
my $differing = 0;
for my $o (sort keys %all)
{
	my @diff;
	if (!$a->{$o}) { push @diff, "only in $label_b" }
	elsif (!$b->{$o}) { push @diff, "only in $label_a" }
	else
	{
		my %props = map { $_ => 1 } keys %{ $a->{$o} }, keys %{ $b->{$o} };
		for my $p (sort keys %props)
		{
			my $va = join ' | ', @{ $a->{$o}{$p} // ['<absent>'] };
			my $vb = join ' | ', @{ $b->{$o}{$p} // ['<absent>'] };
			push @diff, "$p:", "  $label_a: $va", "  $label_b: $vb" if $va ne $vb;
		}
	}
	if (@diff)
	{
		$differing++;
		print "FAIL - $label_a = $label_b: $o\n";
		print "    $_\n" for @diff;
	}
	else
	{
		print "ok - $label_a = $label_b: $o\n";
	}
}
exit($differing > 100 ? 100 : $differing);
