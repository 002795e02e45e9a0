# Entry points for developers and CI. Every target is a thin wrapper over a script in scripts/ (see there).
SHELL := /bin/bash

.PHONY: bootstrap lint sanity unit integration molecule e2e docs test demo demo-clean bench clean build release-notes matrix

# Debian packages + .venv and .venv-pyroute2-0.7 (fast when already done)
bootstrap:
	scripts/bootstrap.sh

# ruff, shellcheck, ansible-lint, antsibull-changelog lint
lint: bootstrap
	scripts/lint.sh

# ansible-test sanity --venv --python 3.11 on a copy in build/ansible_collections/kvmnet/bridge
sanity: bootstrap
	scripts/sanity.sh

# pytest tests/unit against the copy (no tests collected = failure)
unit: bootstrap
	scripts/unit.sh

# ansible-test integration --local, once per pyroute2 virtualenv, each inside a throwaway network namespace
integration: bootstrap
	scripts/integration.sh

# every molecule scenario (roles/*/molecule/*, tests/molecule/*) on namespace machines, two at a time
molecule: bootstrap
	scripts/molecule.sh

# the seed scenario end to end: a libvirt/QEMU guest gets its DHCP lease through kvmbr0 (tests/e2e/run.sh)
e2e: bootstrap
	tests/e2e/run.sh

# the documentation site (antsibull-docs + Sphinx) in build/docs-site/build/html/; fails on any warning
docs: bootstrap
	scripts/docs.sh

# the release tarball: ansible-galaxy collection build -> build/dist/kvmnet-bridge-<version>.tar.gz
build: bootstrap
	scripts/build.sh

# preview of the release notes (antsibull-changelog): CHANGELOG.md/.rst into build/release-notes/ (docs/install.md)
release-notes: bootstrap
	scripts/release-notes.sh

# the version matrix: sanity on the oldest/newest ansible-core, the smoke from the installed tarball on every series
matrix: bootstrap
	scripts/matrix.sh

# bootstrap + lint + sanity + unit + integration + e2e, with a summary of results and timings; non-zero on any failure
test:
	scripts/test.sh

# the built-in lab (docs/lab.md): build it, run the fleet playbook against its laptop, observe, draw, remove it;
# `make demo KEEP=1` keeps the lab to look around, `make demo-clean` removes it then
demo:
	KEEP="$(KEEP)" scripts/demo.sh

demo-clean:
	scripts/demo.sh clean

# the benchmarks (scripts maintained with the modules)

bench:
	scripts/bench.sh

clean:
	rm -rf build tests/output
