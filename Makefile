# batchstate: PGXS build.  `make && make install`, then `make installcheck`
# against a running server (PGHOST/PGPORT/PGUSER select it).

EXTENSION = batchstate
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = batchstate
OBJS = src/batchstate.o src/app.o src/store.o src/guard.o src/policy.o

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

# The server's headers are system headers: -Wextra applies to our code only.
PG_CPPFLAGS = -isystem $(includedir_server)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: sql/$(EXTENSION).sql $(EXTENSION).control
	cp $< $@

# the PGXN upload: a zip of HEAD named for the control file's version
dist:
	git archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ \
		-o $(EXTENSION)-$(EXTVERSION).zip HEAD
.PHONY: dist

# Debian packages (postgresql-N-batchstate, postgresql-N-batchstate-router)
# in debs/, built as Debian builds extensions: doc/packaging.md
deb:
	bash scripts/package.sh build debs
.PHONY: deb
