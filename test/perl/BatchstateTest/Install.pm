# test/perl/BatchstateTest/Install.pm: private copies of the PostgreSQL
# installation, for a node to run (Cluster.pm's install_path), and the
# released install scripts of batchstate, read from git history.
#
#   my $inst = private_install(DIR);   # { path, bin, lib, ext }
#   release_install(DIR);              # a private copy for the upgrade path
#   released_versions(CONTROL);        # ([version, commit], ...), oldest first
#   released_file(COMMIT, FILE);       # FILE (a path in the checkout) as of COMMIT
#   git(ARGS...), git_ok(ARGS...)      # git in the checkout
#
# The upgrade and dump tests install the oldest release from git history,
# not from the checkout or the installation: a release's full install
# script leaves the tree once newer versions ship only upgrade steps.
package BatchstateTest::Install;

use strict;
use warnings;

use BatchstateTest;
use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(make_path);
use IPC::Run;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(pg_config private_install release_install released_versions
  released_file git git_ok);

# pg_config(OPTION): the answer of the pg_config on PATH (the installation
# under test; make prove_installcheck puts its bindir first)
sub pg_config
{
	my ($stdout, $stderr) = run_command([ 'pg_config', @_ ]);
	die "pg_config @_: $stderr\n" if $stdout eq '';
	return $stdout;
}

# private_install(DIR): a copy of the installation under DIR.  PostgreSQL
# finds its lib and share directories relative to its own executable,
# symlinks resolved, so bin/ is copied; lib/ and share/ are directories of
# symlinks to each file, without batchstate's own files, for the caller
# to put others there.  Returns { path => the install_path for Cluster.pm
# (the parent of bin/ and lib/), bin, lib (pkglibdir), ext (extension
# directory) }.
sub private_install
{
	my ($dir) = @_;
	my %real = map { $_ => pg_config("--$_") } qw(bindir pkglibdir sharedir);
	my %inst = (bin => "$dir$real{bindir}", lib => "$dir$real{pkglibdir}",
		ext => "$dir$real{sharedir}/extension");
	make_path(dirname($inst{bin}), $inst{lib}, dirname("$dir$real{sharedir}"));
	system_or_bail('cp', '-a', $real{bindir}, $inst{bin});
	system_or_bail('cp', '-as', $real{sharedir}, "$dir$real{sharedir}");
	opendir my $dh, $real{pkglibdir} or die "$real{pkglibdir}: $!\n";
	for (grep { !/^\.\.?$/ } readdir $dh)
	{
		symlink "$real{pkglibdir}/$_", "$inst{lib}/$_" or die "symlink $_: $!\n";
	}
	closedir $dh;
	unlink "$inst{lib}/batchstate.so", glob("$inst{ext}/batchstate[.-]*");
	($inst{path} = $inst{bin}) =~ s{/bin$}{};
	die "$real{bindir} is not a bin/ directory\n" if $inst{path} eq $inst{bin};
	return \%inst;
}

# release_install(DIR): a private installation with the installed
# batchstate.so, whose extension directory holds batchstate's control file
# and the current version's install script as installed, every upgrade
# step of the checkout, and the full install script of every earlier
# release as that release shipped it.
sub release_install
{
	my ($dir) = @_;
	my $inst = private_install($dir);
	my $sharedir = pg_config('--sharedir');
	symlink(pg_config('--pkglibdir') . '/batchstate.so', "$inst->{lib}/batchstate.so")
	  or die "symlink batchstate.so: $!\n";
	my $current = control_version();
	for my $f ('batchstate.control', "batchstate--$current.sql")
	{
		system_or_bail('cp', "$sharedir/extension/$f", "$inst->{ext}/$f");
	}
	system_or_bail('cp', glob(repo_path('batchstate--*--*.sql')), $inst->{ext});
	for (released_versions())
	{
		my ($version, $commit) = @$_;
		append_to_file("$inst->{ext}/batchstate--$version.sql",
			released_file($commit, "batchstate--$version.sql"));
	}
	return $inst;
}

# git(ARGS...): git's output in the checkout, die on failure; git_ok(ARGS):
# whether git succeeds.  The checkout may belong to another user (root,
# with the tests run as postgres): safe.directory lets git read it anyway.
sub git_ok
{
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'git', '-c', 'safe.directory=*', '-C', repo_path(), @_ ],
		'>', \$out, '2>', \$err);
	return wantarray ? ($ok, $out, $err) : $ok;
}

sub git
{
	my ($ok, $out, $err) = git_ok(@_);
	die "git @_: $err\n" unless $ok;
	return $out;
}

# released_versions(CONTROL): [version, commit] of every version that was
# the default_version of CONTROL (default batchstate.control; a path in
# the checkout) before the current one, oldest first; commit is the
# release, the last commit whose control file still named it (the parent
# of the commit that moved default_version on).
sub released_versions
{
	my ($control) = @_;
	$control //= 'batchstate.control';
	my (@released, $previous);
	for my $commit (reverse split /\n/,
		git('log', '--format=%H', 'HEAD', '--', $control))
	{
		my ($v) = git('show', "$commit:$control") =~
		  /^default_version\s*=\s*'([^']+)'/m;
		next unless defined $v;
		push @released, [ $previous, git('rev-parse', "$commit^") =~ s/\s+\z//r ]
		  if defined $previous && $previous ne $v;
		$previous = $v;
	}
	return @released;
}

# released_file(COMMIT, FILE): FILE, a path in the checkout, as of COMMIT
sub released_file
{
	my ($commit, $file) = @_;
	return git('show', "$commit:$file");
}

1;
