# oemhost: the two commands a new user runs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
HOST_PACKAGES := systemd-container debootstrap btrfs-progs iproute2 openssh-client git \
                 chromium fonts-noto-cjk rsync bind9-dnsutils iputils-ping bind9-utils \
                 mariadb-client postgresql-client postgresql mariadb-server
# Debian packages pip needs to build the venv (libvirt-python compiles against libvirt-dev)
BUILD_PACKAGES := libvirt-dev pkg-config gcc
BENCH_PACKAGES := monitoring-plugins-basic monitoring-plugins-standard

help:
	@echo "make demo   - set up everything, boot the lab, converge it, serve the panels"
	@echo "make test   - the whole test suite (lint, unit, lab, molecule, browser)"
	@echo "make bench  - benchmarks (print figures)"

# Debian packages the lab and the tests need on the host (root, Debian/Ubuntu).
host-deps:
	@scripts/host-deps $(HOST_PACKAGES)

venv: $(VENV)/.stamp
$(VENV)/.stamp: pyproject.toml requirements.yml
	@scripts/host-deps $(BUILD_PACKAGES)
	@test -x $(PY) || $$(scripts/find-python) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	$(PY) scripts/check_collections.py
	$(PY) -m webui.i18n
	@touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --profile production -q
	@for p in playbooks/*.yml; do $(BIN)/ansible-playbook -i inventories/example --syntax-check $$p >/dev/null || exit 1; done; echo "syntax-check ok"

unit: venv
	$(BIN)/pytest -n 2 --dist loadfile -m "not lab and not browser" tests

labtests: venv host-deps
	$(BIN)/pytest -n 2 --dist loadfile -m "lab or browser" tests

molecule: venv host-deps
	@for s in molecule/*/; do s=$$(basename $$s); [ -f molecule/$$s/molecule.yml ] || continue; \
	  echo "== molecule test -s $$s"; $(BIN)/molecule test -s $$s || exit 1; done

test: lint unit labtests molecule

bench: venv host-deps
	@scripts/host-deps $(BENCH_PACKAGES)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

demo: venv host-deps
	@scripts/demo

.PHONY: help host-deps venv lint unit labtests molecule test bench demo
