# batchstate: PGXS build.  `make && make install`, then `make installcheck`
# against a running server (PGHOST/PGPORT/PGUSER select it).

EXTENSION = batchstate
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = batchstate
OBJS = src/batchstate.o src/app.o src/store.o src/policy.o

# every released install script stays, with each upgrade step
DATA = $(wildcard $(EXTENSION)--*.sql)

REGRESS = policy store app errors churn
REGRESS_OPTS = --load-extension=batchstate

ISOLATION = cas_race create_race list_vs_transition cancel_vs_merge \
	reconcile_vs_update prune_vs_transition list_no_wait
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=batchstate

# TAP tests: test/t/*.pl on PostgreSQL::Test::Cluster, each starting the
# clusters it needs from the installation PG_CONFIG names.  Run them with
# `make prove_installcheck` (PROVE_TESTS=test/t/010_stress.pl: one file).
TAP_TESTS = 1
PROVE_TESTS ?= test/t/*.pl

# The server's headers are system headers: -Wextra applies to our code only.
PG_CPPFLAGS = -isystem $(includedir_server)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the modules the TAP files share, beside PostgreSQL's own
PG_PROVE_FLAGS += -I test/perl

# PGXS has the prove recipe but no target: this one, with the clusters and
# logs under TAP_DIR/tmp_check (scripts/test.sh points TAP_DIR at a
# directory the postgres user owns).  PostgreSQL 15 reads TESTDIR, 16 and
# later TESTDATADIR and TESTLOGDIR; setting all three serves every version.
TAP_DIR ?= $(CURDIR)
prove_installcheck:
	rm -rf '$(TAP_DIR)/tmp_check'
	$(MKDIR_P) '$(TAP_DIR)/tmp_check'
	cd $(srcdir) && TESTDIR='$(TAP_DIR)' TESTDATADIR='$(TAP_DIR)/tmp_check' \
		TESTLOGDIR='$(TAP_DIR)/tmp_check/log' PATH="$(bindir):$$PATH" \
		PG_REGRESS='$(top_builddir)/src/test/regress/pg_regress' \
		$(PROVE) $(PG_PROVE_FLAGS) $(PROVE_FLAGS) $(PROVE_TESTS)
.PHONY: prove_installcheck

# the PGXN upload: a zip of HEAD named for the control file's version
dist:
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ \
		-o $(EXTENSION)-$(EXTVERSION).zip HEAD
.PHONY: dist
