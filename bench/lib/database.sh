# shellcheck shell=bash
# bench/lib/database.sh: the benchmark's database (the extension, the PL/pgSQL
# twin and the baselines' copies of its tables) and env.txt, what a run ran on.

# write_env FILE: the machine, the server's settings, the commit and the load now
write_env() {
	local file=$1 commit dirty='' load
	load=$(loadavg)
	# (safe.directory: a checkout of another user's, when not run as root)
	commit=$(git -c safe.directory='*' -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	[ -z "$(git -c safe.directory='*' -C "$REPO" status --porcelain -- src Makefile ./*.sql ./*.control 2>/dev/null)" ] ||
		dirty=' + uncommitted changes in src/'
	{
		echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "commit: $commit$dirty"
		echo "extension: batchstate $(qdb -c "SELECT extversion FROM pg_extension WHERE extname = 'batchstate'")"
		echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores"
		echo "memory: $(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)"
		echo "kernel: $(uname -sr)"
		echo "server: $(qdb -c 'SHOW server_version')"
		echo "settings: $(qdb -F ' ' -c "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ', ' ORDER BY name)
			FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'shared_buffers', 'wal_level',
				'max_wal_size', 'autovacuum', 'jit', 'full_page_writes', 'checkpoint_timeout', 'work_mem')")"
		echo "collation: $(qdb -c "SELECT datcollate FROM pg_database WHERE datname = current_database()")"
		echo "pgbench: -M prepared -c $CLIENTS -j $CLIENTS, $SECONDS_RUN s per run, $ROUNDS rounds, warm-up $WARMUP s"
		echo "load average at start: $load"
	} >"$file"
}

# setup_bench_db: a fresh database with the extension, the PL/pgSQL twin
# (bench/plpgsql_api.sql) and the tables of the fused floors (one without
# the GIN index too) and the round trips
setup_bench_db() {
	q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
	qdb -c 'CREATE EXTENSION batchstate'
	qdb -f "$BENCH/plpgsql_api.sql" >/dev/null
	# copies of the extension's tables (LIKE ... INCLUDING ALL) for the two
	# fused-SQL floors, the second floor without the GIN index of contains
	# and dependencies (what that index costs: the instruction counts of the
	# shape) and the round trips; every copy (and the PL/pgSQL tables) gets
	# the storage parameters of the extension's tables and primary keys, and
	# the PL/pgSQL tables the extension's other indexes (the copies have them
	# from LIKE)
	qdb <<-'SQL'
		SET client_min_messages = warning;
		DO $$
		DECLARE
		    s text;
		    t text;
		    opts text[];
		    idx regclass;
		    def text;
		BEGIN
		    FOREACH s IN ARRAY ARRAY['bench_plpgsql', 'bench_fused', 'bench_idem', 'bench_idem_nogin', 'bench_rt'] LOOP
		        IF s <> 'bench_plpgsql' THEN
		            EXECUTE format('CREATE SCHEMA %I', s);
		        END IF;
		        FOREACH t IN ARRAY ARRAY['batch', 'batch_state_membership'] LOOP
		            IF s <> 'bench_plpgsql' THEN
		                EXECUTE format('CREATE TABLE %I.%I (LIKE batchstate.%I INCLUDING ALL)', s, t, t);
		            END IF;
		            SELECT c.reloptions INTO opts FROM pg_class c
		            WHERE c.oid = format('batchstate.%I', t)::regclass;
		            IF opts IS NOT NULL THEN
		                EXECUTE format('ALTER TABLE %I.%I SET (%s)', s, t, array_to_string(opts, ', '));
		            END IF;
		            SELECT c.reloptions INTO opts FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		            WHERE i.indrelid = format('batchstate.%I', t)::regclass AND i.indisprimary;
		            IF opts IS NOT NULL THEN
		                SELECT i.indexrelid INTO idx FROM pg_index i
		                WHERE i.indrelid = format('%I.%I', s, t)::regclass AND i.indisprimary;
		                EXECUTE format('ALTER INDEX %s SET (%s)', idx, array_to_string(opts, ', '));
		            END IF;
		            CONTINUE WHEN s <> 'bench_plpgsql';
		            FOR def IN SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
		                       WHERE i.indrelid = format('batchstate.%I', t)::regclass AND NOT i.indisprimary LOOP
		                EXECUTE replace(def, ' ON batchstate.', format(' ON %I.', s));
		            END LOOP;
		        END LOOP;
		    END LOOP;
		    FOR idx IN SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		               JOIN pg_am a ON a.oid = c.relam
		               WHERE i.indrelid = 'bench_idem_nogin.batch'::regclass AND a.amname = 'gin' LOOP
		        EXECUTE format('DROP INDEX %s', idx);
		    END LOOP;
		END
		$$;
	SQL
}
