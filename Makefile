# batchstate: PGXS build.  `make && make install`, then `make installcheck`
# against a running server (PGHOST/PGPORT/PGUSER select it).

EXTENSION = batchstate
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = batchstate
OBJS = src/batchstate.o src/app.o src/store.o src/guard.o src/policy.o src/router.o

# The install script of the current version is made from sql/batchstate.sql;
# the upgrade steps of released versions stay as they were written.
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(wildcard $(EXTENSION)--*--*.sql)

REGRESS = policy store app controller errors churn
REGRESS_OPTS = --inputdir=test --load-extension=batchstate

ISOLATION = cas_race create_race list_vs_transition cancel_vs_merge \
	reconcile_vs_update prune_vs_transition list_no_wait \
	update_batch_race dependents_vs_end
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=batchstate

# TAP tests: test/t/*.pl on PostgreSQL::Test::Cluster, each starting the
# clusters it needs from the installation PG_CONFIG names.  Run them with
# `make prove_installcheck` (PROVE_TESTS=test/t/010_stress.pl: one file).
TAP_TESTS = 1
PROVE_TESTS ?= test/t/*.pl

# make clean removes the record of the server the objects were built for
# (.pg-version, below) with them
EXTRA_CLEAN = .pg-version

# The server's headers are system headers: -Wextra applies to our code only.
PG_CPPFLAGS = -isystem $(includedir_server)

# A missing or too old pg_config, said plainly rather than as a failed include.
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifeq ($(PGXS),)
$(error cannot run "$(PG_CONFIG)" (no pg_config on PATH?): install PostgreSQL's server development files (Debian: postgresql-server-dev-15) or name one with make PG_CONFIG=/path/to/pg_config)
endif
PG_MAJOR := $(shell $(PG_CONFIG) --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
ifneq ($(shell test "0$(PG_MAJOR)" -ge 15 && echo ok),ok)
$(error batchstate needs PostgreSQL 15 or later; $(PG_CONFIG) is $(shell $(PG_CONFIG) --version))
endif
include $(PGXS)

# Building needs the C compiler PostgreSQL was built with (installcheck and
# the TAP files do not: they run against what is installed).
ifneq ($(filter-out installcheck check-server-version prove_installcheck clean distclean dist deb,$(or $(MAKECMDGOALS),all)),)
ifeq ($(shell command -v $(firstword $(CC)) 2>/dev/null),)
$(error the C compiler "$(firstword $(CC))" that $(PG_CONFIG) names is not installed: install it and make (Debian: apt-get install build-essential))
endif
endif

$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql $(EXTENSION).control
	cp $< $@

# The objects remember the server they were compiled for: .pg-version holds
# the version and header directory that PGXS's Makefile.global names, and
# changes when make runs with another PG_CONFIG, so that one tree built for
# 15 and then for 18 recompiles instead of installing objects made with
# another server's headers.
PG_BUILT_FOR := $(VERSION) $(includedir_server)
.pg-version: FORCE
	@echo '$(PG_BUILT_FOR)' | cmp -s - $@ || echo '$(PG_BUILT_FOR)' > $@
$(OBJS) $(OBJS:.o=.bc): .pg-version
FORCE:
.PHONY: FORCE

# installcheck runs against the server PGHOST/PGPORT/PGUSER name: it must be
# the PostgreSQL major version this build is for, or it cannot load it.
installcheck: check-server-version
check-server-version:
	@v=$$($(bindir)/psql -X -At -d postgres -c 'SHOW server_version_num' 2>&1) || \
		{ echo "batchstate: cannot connect to the server for installcheck: $$v" >&2; exit 1; }; \
	if [ "$$(( v / 10000 ))" != "$(PG_MAJOR)" ]; then \
		echo "batchstate: the server runs PostgreSQL $$(( v / 10000 )), but this build is for $(PG_MAJOR) ($(PG_CONFIG)); run make with that server's pg_config (make PG_CONFIG=...)" >&2; \
		exit 1; \
	fi
.PHONY: check-server-version

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

# Debian packages (postgresql-N-batchstate, postgresql-N-batchstate-router)
# in debs/, built as Debian builds extensions: README.md, Installing from Debian packages
deb:
	bash scripts/package.sh build debs
.PHONY: deb
