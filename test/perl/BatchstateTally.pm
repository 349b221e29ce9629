# test/perl/BatchstateTally.pm: prove's console formatter that also writes
# TAP::Harness's own counts, one line per test file, for scripts/test.sh.
#
#   BATCHSTATE_TALLY=FILE prove --formatter BatchstateTally ...   (pg_prove too)
#
# appends to FILE "name<TAB>passed<TAB>failed<TAB>skipped<TAB>reason" per
# file, name being the file's base name without extension, reason why the
# whole file was skipped (skip_all), if it was.  failed counts the failed
# assertions, plus those a plan announced but the file never ran, and at
# least 1 for a file with any other problem (a non-zero exit, a parse error).
package BatchstateTally;

use strict;
use warnings;

use File::Basename qw(basename);
use parent 'TAP::Formatter::Console';

sub summary
{
	my ($self, $aggregate, $interrupted) = @_;
	$self->SUPER::summary($aggregate, $interrupted);
	my $file = $ENV{BATCHSTATE_TALLY} or return;
	open my $out, '>>', $file or die "$file: $!\n";
	for my $test ($aggregate->descriptions)
	{
		my ($parser) = $aggregate->parsers($test);
		my $failed = scalar $parser->failed;
		my $unrun = ($parser->tests_planned // 0) - $parser->tests_run;
		$failed += $unrun if $unrun > 0;
		$failed ||= 1 if $parser->has_problems;
		my $skipped = scalar $parser->skipped;
		my $passed = scalar($parser->passed) - $skipped;
		print $out join("\t", basename($test) =~ s/\.[^.]*$//r,
			$passed, $failed, $skipped, ($parser->skip_all || '') =~ s/\s+/ /gr), "\n";
	}
	close $out or die "$file: $!\n";
	return;
}

1;
