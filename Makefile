# The two commands of the README: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup demo test sanity units compat lint molecule integration bench clean

setup:
	@scripts/setup

demo: setup
	@scripts/demo

test: setup
	@scripts/test

# single stages of `make test`
sanity units compat lint molecule integration: setup
	@scripts/test $@

# bench_compare.py: the table of docs/performance.md (it runs bench_build's measurement itself)
bench: setup
	@.venv/bin/python tests/bench/bench_compare.py
	@for b in tests/bench/bench_*.py; do case "$$b" in *bench_compare.py|*bench_build.py) continue;; esac; \
	  .venv/bin/python "$$b" || exit 1; done

clean:
	@tests/lab/lab down >/dev/null 2>&1 || true
	rm -rf .ansible tests/output .pytest_cache
