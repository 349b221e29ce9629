#!/usr/bin/perl
# payloads.pl: check the notifications printed by psql for sql/payloads.sql
# (on standard input).  Prints "payloads N", then "good K" or "bad K: why"
# for each of the six expected notifications, in order.
use strict;
use warnings;
use Encode ();
use JSON::PP ();

my (%ids, @got);
while (my $line = <STDIN>)
{
	chomp $line;
	if ($line =~ /^ID\|(\d+)\|(\w+)\|(\w+)$/) { $ids{$1} = [$2, $3]; next; }
	push @got, $1
	  if $line =~ /^Asynchronous notification "hostile_payloads" with payload "(.*)" received from server process/;
}

# [id number, queue in the payload?, previous_state, state, version]
my @want = (
	[0, 1, undef, 'created', 1], [0, 1, 'created', 'scored', 2],
	[1, 0, undef, 'created', 1], [1, 0, 'created', 'failed', 2],
	[2, 1, undef, 'merging', 1], [2, 1, 'merging', 'succeeded', 2],
);
sub hex_of { unpack 'H*', Encode::encode('UTF-8', $_[0] // '') }

print 'payloads ', scalar(@got), "\n";
for my $i (0 .. $#want)
{
	my ($n, $with_queue, $prev, $state, $version) = @{ $want[$i] };
	my $payload = $got[$i] // '';
	my $v = eval { JSON::PP->new->decode(Encode::decode('UTF-8', $payload)) };
	my @why;
	if (!$v) { push @why, "not JSON ($@)"; }
	else
	{
		push @why, 'id differs' unless hex_of($v->{id}) eq ($ids{$n}[0] // '-');
		if ($with_queue) { push @why, 'queue differs' unless hex_of($v->{queue}) eq ($ids{$n}[1] // '-'); }
		else { push @why, 'queue present' if exists $v->{queue}; }
		push @why, 'previous_state differs' unless ($v->{previous_state} // 'null') eq ($prev // 'null');
		push @why, 'state differs' unless ($v->{state} // '') eq $state;
		push @why, 'version differs' unless ($v->{version} // 0) == $version;
	}
	push @why, 'payload of ' . length($payload) . ' bytes' if length($payload) >= 8000;
	print @why ? "bad $i: " . join(', ', @why) . "\n" : "good $i\n";
}
