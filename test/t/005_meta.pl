# test/t/005_meta.pl: META.json is a valid PGXN distribution description.
#
# Checks it against the PGXN Meta Spec 1.0.0 (https://pgxn.org/spec/): the
# required keys and their types, semantic versions (x.y.z) wherever the spec
# asks for one, a license the spec knows, the prerequisite phases and
# relationships it defines with version ranges it can parse, and that the
# distribution and the file it provides match batchstate.control.  Needs
# no server.
use strict;
use warnings;

use File::Basename qw(dirname);
use JSON::PP;
use Test::More;

my $repo = dirname(__FILE__) . '/../..';
my $SEMVER = qr/^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+)?$/;
# a version range: a version, or comparisons separated by commas
my $RANGE = qr/^\s*((<=|>=|<|>|==|!=)\s*)?[0-9]+(\.[0-9]+){0,2}(-[0-9A-Za-z-]+)?\s*
	(,\s*(<=|>=|<|>|==|!=)\s*[0-9]+(\.[0-9]+){0,2}(-[0-9A-Za-z-]+)?\s*)*$/x;
my %LICENSES = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2
  bsd freebsd gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0
  mozilla_1_1 openssl perl_5 postgresql qpl_1_0 ssleay sun zlib open_source
  restricted unrestricted unknown);

open my $fh, '<:raw', "$repo/META.json" or die "META.json: $!";
my $meta = eval { JSON::PP->new->utf8->decode(do { local $/; <$fh> }) };
ok($meta && ref $meta eq 'HASH', 'META.json parses as a JSON object') or BAIL_OUT($@);

for my $key (qw(name abstract maintainer version license provides meta-spec))
{
	ok(exists $meta->{$key}, "required key \"$key\" is present");
}
like($meta->{name}, qr/^[^\/\\\s]+$/, 'name has no slash, backslash or space');
ok(!ref $meta->{abstract} && length $meta->{abstract}, 'abstract is a non-empty string');
my @maintainers = ref $meta->{maintainer} ? @{ $meta->{maintainer} } : ($meta->{maintainer});
ok(@maintainers && !grep({ ref || !length } @maintainers), 'maintainer is a string or a list of strings');
like($meta->{version}, $SEMVER, 'version is a semantic version');
ok((!ref $meta->{license} && $LICENSES{ $meta->{license} })
	  || (ref $meta->{license} eq 'HASH' && %{ $meta->{license} }),
	'license is one the spec names, or a map of names to URLs');
is($meta->{'meta-spec'}{version}, '1.0.0', 'meta-spec version 1.0.0');
like($meta->{'meta-spec'}{url} // '', qr{^https?://}, 'meta-spec url is a URL');

is(ref $meta->{provides}, 'HASH', 'provides is a map');
for my $ext (sort keys %{ $meta->{provides} // {} })
{
	my $p = $meta->{provides}{$ext};
	ok(defined $p->{file} && !ref $p->{file}, "provides $ext: file is a path");
	like($p->{version}, $SEMVER, "provides $ext: version is a semantic version");
}

my %PHASES = map { $_ => 1 } qw(configure build test runtime develop);
my %RELATIONS = map { $_ => 1 } qw(requires recommends suggests conflicts);
for my $phase (sort keys %{ $meta->{prereqs} // {} })
{
	ok($PHASES{$phase}, "prereqs phase \"$phase\" is one the spec defines");
	for my $rel (sort keys %{ $meta->{prereqs}{$phase} })
	{
		ok($RELATIONS{$rel}, "prereqs $phase: relationship \"$rel\" is one the spec defines");
		while (my ($dep, $range) = each %{ $meta->{prereqs}{$phase}{$rel} })
		{
			like($range, $RANGE, "prereqs $phase $rel $dep: \"$range\" is a version range");
		}
	}
}
if (exists $meta->{release_status})
{
	like($meta->{release_status}, qr/^(stable|testing|unstable)$/, 'release_status is stable, testing or unstable');
}
if (exists $meta->{tags})
{
	ok(ref $meta->{tags} eq 'ARRAY' && !grep({ ref || !length || length > 255 } @{ $meta->{tags} }),
		'tags are strings of 1 to 255 characters');
}
if (exists $meta->{resources})
{
	for my $r (qw(homepage))
	{
		like($meta->{resources}{$r}, qr{^https?://}, "resources $r is a URL") if exists $meta->{resources}{$r};
	}
	like($meta->{resources}{repository}{type} // 'git', qr/^\w+$/, 'resources repository type is a word');
}

# the distribution is batchstate.control's version
open my $ctl, '<', "$repo/batchstate.control" or die "batchstate.control: $!";
my ($control) = map { /^default_version\s*=\s*'([^']+)'/ ? $1 : () } <$ctl>;
my $semver = join('.', (split(/\./, $control), 0, 0)[0 .. 2]);
is($meta->{version}, $semver, "version is batchstate.control's $control as a semantic version");
is($meta->{provides}{batchstate}{version}, $semver, 'provides batchstate at that version');
is($meta->{provides}{batchstate}{file}, 'sql/batchstate.sql', 'provides batchstate from sql/batchstate.sql, the source of its install script');
ok(-f "$repo/$meta->{provides}{batchstate}{file}", 'the file it provides is in the tree');

done_testing();
