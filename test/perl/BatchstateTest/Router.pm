# test/perl/BatchstateTest/Router.pm: the router and two shards of
# test/t/055_router.pl, and what its checks share: SQL on each node, the
# plan of queues and batches (table public.plan on the router) and checks
# of the data against it.
#
#   my @nodes = setup(router_install => DIR)
#                           # (router, shard 0, shard 1), databases made;
#                           # the router on that installation if given
#   rq(SQL, ALL), sq(N, SQL, ALL), rq_as(ROLE, SQL)
#                           # SQL on the router / on shard N: its output (and
#                           # errors with ALL); on the router as ROLE
#   err(SQL)                # on the router: 'SQLSTATE message | hint | detail' or 'no error'
#   part(N), conninfo(N)    # shard N as a partition names it; a node's database
package BatchstateTest::Router;

use strict;
use warnings;

use BatchstateTest;
use Exporter 'import';
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(setup rq sq rq_as err part conninfo lit make_plan run_workload
  per_queue check_plan check_placement verify_everywhere);

our $RDB = 'batchstate_router';
our $SDB = 'batchstate_router_shard';
my @NODES;

sub setup
{
	my (%opt) = @_;
	@NODES = map { start_node($_, $_ eq 'router' && $opt{router_install} ? (install_path => $opt{router_install}) : ()) }
	  qw(router shard0 shard1);
	create_db($NODES[$_], $SDB, extension => 0) for 1, 2;
	create_db($NODES[0], $RDB, extension => 0);
	# err(sql) runs sql and returns 'SQLSTATE message | hint | detail', or 'no error'
	rq(q{CREATE FUNCTION public.err(sql text) RETURNS text LANGUAGE plpgsql AS $f$
		DECLARE s text; m text; h text; d text;
		BEGIN
		    EXECUTE sql;
		    RETURN 'no error';
		EXCEPTION WHEN OTHERS THEN
		    GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT, h = PG_EXCEPTION_HINT,
		        d = PG_EXCEPTION_DETAIL;
		    RETURN s || ' ' || m || ' | ' || h || ' | ' || d;
		END $f$});
	return @NODES;
}

# on(N, SQL, ALL, ROLE): psql on node N's test database (as ROLE): its
# output, and with ALL its errors too
sub on
{
	my ($n, $sql, $all, $role) = @_;
	my ($out, $err) = psql_out($NODES[$n], $n ? $SDB : $RDB, $sql,
		env => { PGOPTIONS => '-c client_min_messages=warning' },
		args => [ $role ? ('-U', $role) : () ]);
	return $all && $err ne '' ? join("\n", grep { $_ ne '' } $out, $err) : $out;
}
sub rq { return on(0, @_) }
sub sq { my ($n, @rest) = @_; return on($n + 1, @rest) }
sub rq_as { my ($role, $sql) = @_; return on(0, $sql, 1, $role) }
sub err { return rq("SELECT public.err(\$e\$$_[0]\$e\$)") }
sub lit { return "\$\$$_[0]\$\$" }

sub conninfo
{
	my ($n) = @_;
	return 'host=' . $NODES[$n]->host . ' port=' . $NODES[$n]->port . ' dbname=' . ($n ? $SDB : $RDB);
}

# shard N (0 or 1) as the router's partitions name it: no user, so that
# PL/Proxy connects as the calling role
sub part { return conninfo($_[0] + 1) }

# The plan: queues with ids of every shape the router must parse (a queue
# may contain "/" and even "/batch/<n>"), 2 to 5 batches each, each batch
# on one of nine lifecycle paths; final, version and score: what the batch
# must end as.
sub make_plan
{
	my ($queues, $seed) = @_;
	rq("CREATE TABLE public.plan (queue text, id text, path text[], final text, version integer, score float8);
	SELECT setseed(1.0 / ($seed + 2));
	WITH paths(k, path) AS (VALUES
	    (0, '{}'::text[]), (1, '{scored}'), (2, '{scored,speculating}'),
	    (3, '{scored,speculating,merging}'), (4, '{scored,speculating,merging,succeeded}'),
	    (5, '{speculating,merging,failed}'), (6, '{cancelling,cancelled}'),
	    (7, '{scored,cancelling,succeeded}'), (8, '{scored,scored,speculating,merging,cancelling}')),
	queues AS (
	    SELECT CASE i % 4 WHEN 0 THEN 'q' || i WHEN 1 THEN 'org' || i || '/repo'
	                      WHEN 2 THEN 'mono/batch/' || i ELSE 'team ' || i || '/batch/x' END AS queue,
	           2 + floor(random() * 4)::int AS nb
	      FROM generate_series(1, $queues) i),
	batches AS (
	    SELECT q.queue, q.queue || '/batch/' || b AS id, floor(random() * 9)::int AS k,
	           round(random()::numeric, 3)::float8 AS s
	      FROM queues q, generate_series(1, q.nb) b)
	INSERT INTO public.plan
	SELECT b.queue, b.id, p.path, coalesce(p.path[cardinality(p.path)], 'created'),
	       1 + cardinality(p.path), CASE WHEN 'scored' = ANY (p.path) THEN b.s ELSE 0 END
	  FROM batches b JOIN paths p USING (k)");
	return;
}

# run_workload(): every planned lifecycle through the router, a stale
# version tried after each; '' or the error
sub run_workload
{
	return on(0, <<'EOF', 1);
DO $w$
DECLARE
    r record; v integer; st text; ok boolean; row batchstate.batch;
BEGIN
    FOR r IN SELECT * FROM public.plan ORDER BY queue, id LOOP
        row := batchstate.create_batch(r.id, r.queue);
        ASSERT row.id = r.id AND row.queue = r.queue AND row.state = 'created' AND row.version = 1,
               format('create_batch(%L) returned %s', r.id, row);
        v := 1;
        FOREACH st IN ARRAY r.path LOOP
            IF st = 'scored' THEN
                ok := batchstate.update_score_and_state(r.id, v, r.score, st);
            ELSE
                ok := batchstate.update_state(r.id, v, st);
            END IF;
            ASSERT ok, format('moving %s to %s at version %s returned false', r.id, st, v);
            v := v + 1;
        END LOOP;
        ok := batchstate.update_state(r.id, v + 1, 'failed');
        ASSERT NOT ok, format('a stale version moved %s', r.id);
    END LOOP;
END
$w$
EOF
}

# per_queue(WANT, GOT): "N of M queues differ" between the planned ids of
# each queue q (WANT: a condition on plan p) and the ids GOT (a FROM item
# with a column x, for queue q.queue) yields, in byte order
sub per_queue
{
	my ($want, $got) = @_;
	return on(0, "SELECT count(*) FILTER (WHERE e.ids IS DISTINCT FROM g.ids) || ' of ' || count(*) || ' queues differ'
	  FROM (SELECT DISTINCT queue FROM public.plan) q
	  CROSS JOIN LATERAL (SELECT string_agg(p.id, ',' ORDER BY p.id COLLATE \"C\") AS ids FROM public.plan p
	                       WHERE p.queue = q.queue AND $want) e
	  CROSS JOIN LATERAL (SELECT string_agg(x, ',') AS ids FROM $got) g", 1);
}

# check_plan(NAME): every planned batch reads back through the router as planned
sub check_plan
{
	my ($name) = @_;
	is(on(0, "SELECT count(*) || ' batches, ' || count(*) FILTER (WHERE
	        (b.id, b.queue, b.state, b.version, b.score) IS DISTINCT FROM (p.id, p.queue, p.final, p.version, p.score))
	        || ' differ' FROM public.plan p LEFT JOIN LATERAL batchstate.batch_get(p.id) b ON true", 1),
		rq('SELECT count(*) FROM public.plan') . ' batches, 0 differ', $name);
	return;
}

# check_placement(NAME): each queue on one shard, the one its partition names
sub check_placement
{
	my ($name) = @_;
	my $on = 'SELECT queue FROM batchstate.batch UNION SELECT queue FROM batchstate.batch_state_membership';
	my %shards;
	push @{ $shards{$_} }, 0 for split /\n/, sq(0, $on);
	push @{ $shards{$_} }, 1 for split /\n/, sq(1, $on);
	my @dup = grep { @{ $shards{$_} } > 1 } sort keys %shards;
	my $missing = rq('SELECT count(DISTINCT queue) FROM public.plan') - keys %shards;
	my $values = join(', ', map { '(' . lit($_) . ", $shards{$_}[0])" } sort keys %shards);
	my $wrong = on(0, "SELECT count(*) FROM (VALUES $values) pl(queue, shard)
	    JOIN batchstate_router.partitions() p ON p.partition = batchstate_router.partition_of(pl.queue)
	    WHERE p.connstr <> CASE pl.shard WHEN 0 THEN '" . part(0) . "' ELSE '" . part(1) . "' END", 1);
	ok(!@dup && $missing == 0 && $wrong eq '0', $name)
	  or diag('queues on both shards: ' . (join(' ', @dup[ 0 .. ($#dup < 2 ? $#dup : 2) ]) || 'none')
		  . "\nplanned queues on no shard: $missing\nqueues on another shard than their partition's: $wrong");
	return;
}

# verify() through the router and on each shard: "router|shard 0|shard 1" counts
sub verify_everywhere
{
	my $v = 'SELECT count(*) FROM batchstate.verify()';
	return join('|', on(0, $v, 1), on(1, $v, 1), on(2, $v, 1));
}

1;
